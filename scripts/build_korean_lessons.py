"""Build the Korean lessons, notebooks/ko/XX_*.ipynb, from the English lessons and the Korean narration.

One source of truth for code: a Korean lesson is the English lesson, cell for cell, with every Markdown cell
replaced by its Korean translation from notebooks/ko/narration/XX_*.md, plus one code cell (tagged
`lmteach-language`, right after the title) that switches lmteach to Korean. Code cells, their stored outputs and
their order are copied from the English lesson, never edited by hand.

A narration file is Markdown: one entry per English Markdown cell, in order, each opened by a marker line that
records a short hash of the English text it translates:

    <!-- en:3fa9c2d1 -->
    # 00 · 시작하기: ...

When an English Markdown cell changes, its hash no longer matches and the build names the cell to retranslate;
a new English cell without translation is reported too. `--stub` writes the entries still to do (with the English
text to translate) into the narration file, keeping every translation that still matches.

    python scripts/build_korean_lessons.py             # (re)build every lesson that has a narration file
    python scripts/build_korean_lessons.py --check     # build in memory; fail if a Korean lesson is stale or
                                                       # a lesson in TRANSLATED is incomplete
    python scripts/build_korean_lessons.py --stub 01   # start or update lesson 01's narration file

A lesson in TRANSLATED must be complete (tests/test_korean_track.py checks it). Any other lesson may be built
while it is being translated: cells not yet translated keep their English text.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
KOREAN = NOTEBOOKS / "ko"
NARRATION = KOREAN / "narration"

# Lessons whose Korean version must be complete (every Markdown cell translated, claims and exercises in the
# message catalogue). Add a lesson here once its narration file is done.
TRANSLATED = ("00", "01", "02", "03", "04", "05", "06", "07")

LANGUAGE_CELL_TAG = "lmteach-language"  # = lmteach.i18n.LANGUAGE_CELL_TAG
LANGUAGE_CELL = """\
# 이 레슨은 한국어로 진행합니다: 위젯, 주장 확인(claim), 연습문제 피드백이 한국어로 나옵니다.
# 코드 셀은 영어 레슨과 똑같습니다. 영어로 보려면 language("en").
from lmteach.lesson import language

language("ko");"""
MARKER = re.compile(r"^<!-- en:([0-9a-f]{8}) -->[ \t]*$", re.M)
TODO = "<!-- TODO: translate -->"


def english_hash(source: str) -> str:
    """Short hash of an English Markdown cell (surrounding whitespace ignored)."""
    return hashlib.sha256(source.strip().encode("utf-8")).hexdigest()[:8]


def english_lessons() -> dict[str, Path]:
    """{"00": notebooks/00_start_here.ipynb, ...}"""
    return {p.name[:2]: p for p in sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))}


def narration_path(english: Path) -> Path:
    return NARRATION / (english.stem + ".md")


@dataclass
class Entry:
    hash: str
    text: str

    @property
    def translated(self) -> bool:
        return bool(self.text.strip()) and TODO not in self.text


def read_narration(path: Path) -> list[Entry]:
    """The entries of a narration file, in order (text before the first marker is a comment)."""
    if not path.exists():
        return []
    text = path.read_text(encoding="utf-8")
    parts = MARKER.split(text)
    return [Entry(parts[i], parts[i + 1].strip("\n")) for i in range(1, len(parts), 2)]


@dataclass
class Pairing:
    """Which narration entry translates which English Markdown cell, and what is wrong."""

    lesson: str
    english: Path
    translations: dict[int, str] = field(default_factory=dict)  # English cell index -> Korean Markdown
    missing: list[tuple[int, str]] = field(default_factory=list)  # (cell index, English text): no counterpart
    changed: list[tuple[int, str, str]] = field(default_factory=list)  # (cell, English text, old hash)
    untranslated: list[tuple[int, str]] = field(default_factory=list)  # entry present, still TODO
    orphans: list[Entry] = field(default_factory=list)  # entries no English cell needs any more
    previous: dict[int, str] = field(default_factory=dict)  # changed cell -> its old translation

    @property
    def complete(self) -> bool:
        return not (self.missing or self.changed or self.untranslated or self.orphans)

    def problems(self) -> list[str]:
        name = self.english.name
        out = []
        for cell, text, old in self.changed:
            out.append(f"{name}: Markdown cell {cell} changed since it was translated (entry en:{old} in "
                       f"{shown(narration_path(self.english))}); retranslate it. It now reads: "
                       f"{_first_line(text)!r}")
        for cell, text in self.missing:
            out.append(f"{name}: Markdown cell {cell} has no Korean counterpart: {_first_line(text)!r}")
        for cell, text in self.untranslated:
            out.append(f"{name}: Markdown cell {cell} is not translated yet: {_first_line(text)!r}")
        for entry in self.orphans:
            out.append(f"{name}: narration entry en:{entry.hash} matches no English cell; delete it "
                       f"({_first_line(entry.text)!r})")
        return out


def shown(path: Path) -> str:
    """A path as the maintainer types it: relative to the repository when inside it."""
    try:
        return str(path.relative_to(ROOT))
    except ValueError:
        return str(path)


def _first_line(text: str) -> str:
    line = next((line for line in text.strip().splitlines() if line.strip()), "")
    return line[:100]


def pair(lesson: str, english: Path) -> Pairing:
    """Pair the lesson's English Markdown cells with its narration entries: by hash first; then an English cell
    that matches no entry takes an unused entry lying between its neighbours' entries (its English changed since
    it was translated). English cells left over have no counterpart; entries left over are orphans."""
    notebook = nbformat.read(english, as_version=4)
    cells = [(i, c.source) for i, c in enumerate(notebook.cells) if c.cell_type == "markdown"]
    entries = read_narration(narration_path(english))
    result = Pairing(lesson, english)
    matched: list[int | None] = []  # entry index of each English Markdown cell, in order
    used: set[int] = set()
    for _i, source in cells:
        k = next((k for k, e in enumerate(entries) if e.hash == english_hash(source) and k not in used), None)
        matched.append(k)
        if k is not None:
            used.add(k)
    for p, (i, source) in enumerate(cells):
        k = matched[p]
        if k is None:
            lower = max((m for m in matched[:p] if m is not None), default=-1)
            upper = min((m for m in matched[p + 1:] if m is not None), default=len(entries))
            free = [j for j in range(lower + 1, upper) if j not in used]
            if free:
                used.add(free[0])
                matched[p] = free[0]
                result.changed.append((i, source, entries[free[0]].hash))
                result.previous[i] = entries[free[0]].text
            else:
                result.missing.append((i, source))
        elif entries[k].translated:
            result.translations[i] = entries[k].text
        else:
            result.untranslated.append((i, source))
    result.orphans = [entries[k] for k in range(len(entries)) if k not in used]
    return result


def build(lesson: str, english: Path) -> tuple[nbformat.NotebookNode, Pairing]:
    """The Korean notebook for one lesson (cells not translated yet keep their English text)."""
    pairing = pair(lesson, english)
    source = nbformat.read(english, as_version=4)
    notebook = copy.deepcopy(source)
    cells = []
    for i, cell in enumerate(source.cells):
        cell = copy.deepcopy(cell)
        if cell.cell_type == "markdown" and i in pairing.translations:
            cell.source = pairing.translations[i]
        cells.append(cell)
        if i == 0:
            cells.append(language_cell())
    notebook.cells = cells
    notebook.metadata["lmteach"] = {"language": "ko", "built_from": f"../{english.name}",
                                    "narration": f"narration/{narration_path(english).name}",
                                    "built_by": "scripts/build_korean_lessons.py (do not edit by hand)"}
    return notebook, pairing


def language_cell() -> nbformat.NotebookNode:
    cell = nbformat.v4.new_code_cell(LANGUAGE_CELL)
    cell.id = LANGUAGE_CELL_TAG
    cell.metadata["tags"] = [LANGUAGE_CELL_TAG]
    return cell


def structure_problems(english, korean) -> list[str]:
    """How a Korean notebook departs from its English lesson, beyond the translated Markdown: it must have exactly
    one language cell (code, tagged LANGUAGE_CELL_TAG), then the English cells in the same order and of the same
    kinds, every code cell identical (source and stored outputs)."""
    language = [c for c in korean.cells if LANGUAGE_CELL_TAG in c.get("metadata", {}).get("tags", [])]
    problems = []
    if len(language) != 1 or language[0].cell_type != "code" or 'language("ko")' not in language[0].source:
        problems.append(f"expected exactly one code cell tagged {LANGUAGE_CELL_TAG!r} that calls language(\"ko\"), "
                        f"found {len(language)}")
    cells = [c for c in korean.cells if LANGUAGE_CELL_TAG not in c.get("metadata", {}).get("tags", [])]
    if [c.cell_type for c in cells] != [c.cell_type for c in english.cells]:
        problems.append(f"the cells are not the English lesson's: {len(cells)} cells "
                        f"({sum(c.cell_type == 'code' for c in cells)} code) against {len(english.cells)} "
                        f"({sum(c.cell_type == 'code' for c in english.cells)} code)")
        return problems
    for i, (en, ko) in enumerate(zip(english.cells, cells)):
        if en.cell_type != "code":
            continue
        if en.source != ko.source:
            problems.append(f"code cell {i} differs from the English lesson's: {_first_line(ko.source)!r}")
        elif en.get("outputs", []) != ko.get("outputs", []):
            problems.append(f"code cell {i} stores other outputs than the English lesson's")
    return problems


def relative_paths(english) -> list[str]:
    """Code that reaches files through '../': it breaks in the Korean lesson, which runs one folder deeper
    (notebooks/ko/). Use lmteach.data.corpus.data_dir() instead."""
    return [f"code cell {i} uses a path relative to notebooks/: {line.strip()[:80]!r}"
            for i, cell in enumerate(english.cells) if cell.cell_type == "code"
            for line in cell.source.splitlines() if re.search(r"""["']\.\./""", line)]


def korean_path(english: Path) -> Path:
    return KOREAN / english.name


def stub(lesson: str, english: Path) -> Path:
    """Write the narration file with every entry still to translate (English text under a TODO marker), keeping
    the translations that still match."""
    pairing = pair(lesson, english)
    notebook = nbformat.read(english, as_version=4)
    changed = {i for i, _t, _h in pairing.changed}
    parts = [f"<!-- Korean narration of notebooks/{english.name}: one entry per English Markdown cell, in order.\n"
             "     Build with: python scripts/build_korean_lessons.py -->\n"]
    for i, cell in enumerate(notebook.cells):
        if cell.cell_type != "markdown":
            continue
        parts.append(f"<!-- en:{english_hash(cell.source)} -->")
        if i in pairing.translations:
            parts.append(pairing.translations[i] + "\n")
        elif i in changed:
            old = pairing.previous[i].replace(TODO, "").strip()
            english_now = cell.source.strip().replace("--", "- -")
            parts.append(f"{TODO} (the English changed: update the old translation below to match it)\n"
                         f"<!-- the English now reads:\n{english_now}\n-->\n{old}\n")
        else:
            parts.append(f"{TODO}\n{cell.source.strip()}\n")
    path = narration_path(english)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path


def same_notebook(a, b) -> bool:
    return nbformat.writes(a) == nbformat.writes(b)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--check", action="store_true", help="build in memory and compare; write nothing")
    parser.add_argument("--stub", metavar="LESSON", help="write or update that lesson's narration file")
    parser.add_argument("lessons", nargs="*", help="lesson numbers (default: every lesson with a narration file)")
    args = parser.parse_args(argv)
    lessons = english_lessons()
    if args.stub:
        print(f"wrote {shown(stub(args.stub, lessons[args.stub]))}")
        return 0
    chosen = args.lessons or [n for n, p in lessons.items() if narration_path(p).exists() or n in TRANSLATED]
    failures = []
    for lesson in chosen:
        english = lessons[lesson]
        notebook, pairing = build(lesson, english)
        problems = pairing.problems() + [f"{english.name}: {p}" for p in
                                         relative_paths(nbformat.read(english, as_version=4))]
        if lesson in TRANSLATED:
            failures += problems
        else:
            for problem in problems:
                print(f"  (in progress) {problem}")
        target = korean_path(english)
        if args.check and target.exists():
            failures += [f"{shown(target)}: {problem}" for problem in
                         structure_problems(nbformat.read(english, as_version=4), nbformat.read(target, as_version=4))]
        if args.check:
            if not target.exists() and lesson not in TRANSLATED:
                print(f"  {shown(target)}: not built yet (lesson {lesson} is not translated yet)")
            elif not target.exists() or not same_notebook(nbformat.read(target, as_version=4), notebook):
                failures.append(f"{shown(target)} is not what the English lesson and the narration "
                                "build; run python scripts/build_korean_lessons.py")
        else:
            target.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(notebook, target)
            done = len(pairing.translations)
            total = done + len(pairing.missing) + len(pairing.changed) + len(pairing.untranslated)
            print(f"{shown(target)}: {done}/{total} Markdown cells in Korean")
    for failure in failures:
        print("FAIL", failure, file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
