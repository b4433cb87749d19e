"""lmteach's message catalogues (gettext): extract the messages, update the .po files, compile the .mo files.

    python scripts/translations.py update    # add new messages to every lmteach/locale/*/LC_MESSAGES/lmteach.po
    python scripts/translations.py compile   # write lmteach.mo next to each .po (what the library reads)
    python scripts/translations.py check     # fail if a .mo is not the compiled .po, or a translated lesson's
                                             # message has no translation

Messages come from two places:
* the library: every literal passed to `_()`, `N_()`, `gettext()` or `ngettext()` under lmteach/;
* the lessons whose Korean version must be complete (TRANSLATED in scripts/build_korean_lessons.py): the statement
  of each `claim(...)` and `definition(...)` in their code cells, the `control=` of each claim, and their exercises'
  questions, hints and explanations. The code cells are shared by both tracks, so these are translated where they
  are printed (`lmteach.lesson.claim/definition`, `lmteach.exercises.show/check`). A statement or control that is
  not a string literal (an f-string, a variable) cannot be looked up in the catalogue: `check` lists it.

Uses Babel (installed with JupyterLab). Translate by editing the .po file (any PO editor works), then `compile`.
"""

from __future__ import annotations

import ast
import io
import sys
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from build_korean_lessons import TRANSLATED, english_lessons  # noqa: E402

LOCALE = ROOT / "lmteach" / "locale"
DOMAIN = "lmteach"
KEYWORDS = {"_": None, "N_": None, "gettext": None, "ngettext": (1, 2)}
# Library files whose every message must have a Korean translation (tests/test_korean_track.py). Messages of other
# files show in English until someone translates them; `check` lists them.
REQUIRED_SOURCES = ("lmteach/lesson.py", "lmteach/exercises/__init__.py", "lmteach/glossary.py",
                    "lmteach/widgets/dashboard.py", "lmteach/widgets/tokenizers.py",
                    "lmteach/widgets/masking_explorer.py")


def po_files() -> list[Path]:
    return sorted(LOCALE.glob(f"*/LC_MESSAGES/{DOMAIN}.po"))


LESSON_CALLS = {"claim": "a claim of the lesson", "definition": "a definition of the lesson (true by construction)"}
CONTROL_COMMENT = "the control of a claim of the lesson (what the claim is compared with)"


def lesson_messages(notebook: Path) -> tuple[list[tuple[str, int, str]], list[str]]:
    """The messages a lesson's code prints through the catalogue, and those it cannot: ([(text, cell index, comment)],
    [where a statement or control is not a string literal]). Collected: the statement (second argument) of every
    `claim(...)` and `definition(...)` call and the `control=` keyword of every claim."""
    import nbformat

    found, literal_only = [], []
    for i, cell in enumerate(nbformat.read(notebook, as_version=4).cells):
        if cell.cell_type != "code":
            continue
        source = "\n".join(line for line in cell.source.splitlines() if not line.lstrip().startswith(("%", "!")))
        for node in ast.walk(ast.parse(source)):
            name = getattr(node.func, "id", getattr(node.func, "attr", None)) if isinstance(node, ast.Call) else None
            if name not in LESSON_CALLS:
                continue
            texts = [(node.args[1] if len(node.args) >= 2 else None, LESSON_CALLS[name])]
            texts += [(kw.value, CONTROL_COMMENT) for kw in node.keywords if kw.arg == "control"]
            for value, comment in texts:
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    found.append((value.value, i, comment))
                elif value is not None and not (isinstance(value, ast.Constant) and value.value is None):
                    literal_only.append(f"notebooks/{notebook.name}, cell {i}: {name}(...) with a "
                                        f"{'control' if comment == CONTROL_COMMENT else 'statement'} that is not a "
                                        f"string literal cannot be translated: {ast.unparse(value)[:80]}")
    return found, literal_only


def claim_statements(notebook: Path) -> list[tuple[str, int]]:
    """(text, cell index) of every message of a lesson's claims and definitions (see `lesson_messages`)."""
    return [(text, cell) for text, cell, _comment in lesson_messages(notebook)[0]]


def exercise_texts(lesson: str) -> list[tuple[str, str]]:
    """(text, exercise id) of the lesson's exercises: question, hint and explanation."""
    from lmteach import exercises  # noqa: F401  (registers every lesson's exercises)

    texts = []
    for exercise_id in exercises.all_ids():
        if exercise_id.startswith(lesson + "."):
            ex = exercises.get(exercise_id)
            texts += [(text, exercise_id) for text in (ex.question, ex.hint, ex.explanation) if text]
    return texts


def exercise_module(lesson: str) -> str:
    """The file under lmteach/exercises/ that registers a lesson's exercises (by the lesson's position)."""
    from lmteach import exercises

    index = sorted(english_lessons()).index(lesson)
    return exercises._LESSON_MODULES[index] + ".py"


def template() -> Catalog:
    """Every message lmteach may show, with where it comes from."""
    catalog = Catalog(project="lmteach", domain=DOMAIN, fuzzy=False)
    for filename, lineno, message, comments, _context in extract_from_dir(
            str(ROOT / "lmteach"), method_map=[("**.py", "python")], keywords=KEYWORDS):
        catalog.add(message, locations=[(f"lmteach/{filename}", lineno)], auto_comments=comments)
    lessons = english_lessons()
    for lesson in TRANSLATED:
        notebook = lessons[lesson]
        for text, cell, comment in lesson_messages(notebook)[0]:
            known = catalog.get(text)
            if known is not None:  # the same text twice (a control shared by two claims): one message, every place
                known.locations.append((f"notebooks/{notebook.name}", cell))
                continue
            catalog.add(text, locations=[(f"notebooks/{notebook.name}", cell)], auto_comments=[comment])
        module = exercise_module(lesson)
        for text, exercise_id in exercise_texts(lesson):
            catalog.add(text, locations=[(f"lmteach/exercises/{module}", 0)], auto_comments=[f"exercise {exercise_id}"])
    return catalog


def read(path: Path) -> Catalog:
    with open(path, "rb") as f:
        return read_po(f, locale=path.parents[1].name, domain=DOMAIN)


def compiled(catalog: Catalog) -> bytes:
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    return buffer.getvalue()


def messages(mo_bytes: bytes) -> dict:
    """The translations a compiled catalogue holds, as gettext reads them (the header left out), so two .mo
    files compare by content whatever tool version wrote them."""
    import gettext

    table = dict(gettext.GNUTranslations(io.BytesIO(mo_bytes))._catalog)
    table.pop("", None)
    return table


def update() -> None:
    pot = template()
    for path in po_files():
        catalog = read(path)
        catalog.update(pot, no_fuzzy_matching=True)
        catalog.obsolete.clear()
        with open(path, "wb") as f:
            write_po(f, catalog, width=116, omit_header=False, sort_output=False, include_previous=False)
        missing = [m.id for m in catalog if m.id and not m.string]
        print(f"{path.relative_to(ROOT)}: {len(catalog)} messages, {len(missing)} to translate")


def compile_all() -> None:
    for path in po_files():
        mo = path.with_suffix(".mo")
        mo.write_bytes(compiled(read(path)))
        print(f"wrote {mo.relative_to(ROOT)}")


def required(message) -> bool:
    """Whether a message must be translated for the tests to pass: it comes from a source whose Korean is
    complete (REQUIRED_SOURCES), or from a lesson in TRANSLATED (its claims and exercises)."""
    return any(location.startswith("notebooks/") or location in REQUIRED_SOURCES
               or (location.startswith("lmteach/exercises/") and line == 0)  # a translated lesson's exercise
               for location, line in message.locations)


def problems() -> tuple[list[str], list[str]]:
    """(failures, notes). Failures: a stale or missing .mo; a required message (see `required`) that a catalogue
    lacks, leaves untranslated or marks fuzzy. Notes: other messages not translated yet (shown in English)."""
    failures, notes = [], []
    pot = template()
    lessons = english_lessons()
    for lesson in TRANSLATED:  # a message the catalogue cannot hold shows in English in the Korean lesson
        notes += lesson_messages(lessons[lesson])[1]
    for path in po_files():
        catalog = read(path)
        name = path.relative_to(ROOT)
        mo = path.with_suffix(".mo")
        if not mo.exists() or messages(mo.read_bytes()) != messages(compiled(catalog)):
            failures.append(f"{mo.relative_to(ROOT)} is not the compiled {name}: "
                            "run python scripts/translations.py compile")
        for message in pot:
            if not message.id:
                continue
            entry = catalog.get(message.id)
            where = ", ".join(location for location, _line in message.locations)
            if entry is None:
                problem = (f"{name} lacks {message.id!r} ({where}): run python scripts/translations.py update, "
                           "then translate it")
            elif not entry.string or (isinstance(entry.string, tuple) and not all(entry.string)):
                problem = f"{name} has no translation for {message.id!r} ({where})"
            elif entry.fuzzy:
                problem = f"{name}: the translation of {message.id!r} is marked fuzzy; check it, remove the flag"
            else:
                continue
            (failures if required(message) else notes).append(problem)
        for entry in catalog:  # a translation must fill the same {fields}, or str.format fails where it is shown
            ids = entry.id if isinstance(entry.id, tuple) else (entry.id,)
            strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
            for string in (s for s in strings if s):
                if entry.id and fields(string) != fields(ids[0]):
                    failures.append(f"{name}: the translation of {ids[0]!r} has the fields {sorted(fields(string))}, "
                                    f"not {sorted(fields(ids[0]))}")
    return failures, notes


def fields(text: str) -> set:
    """The names of the str.format fields of a message ({n}, {loss:.3f} -> {'n', 'loss'})."""
    import string

    try:
        return {name for _lit, name, _spec, _conv in string.Formatter().parse(text) if name is not None}
    except ValueError:
        return {"<not a format string>"}


def main(argv=None) -> int:
    command = (argv or sys.argv[1:] or ["check"])[0]
    if command == "update":
        update()
    elif command == "compile":
        compile_all()
    elif command == "check":
        failures, notes = problems()
        for note in notes:
            print("note:", note)
        for failure in failures:
            print("FAIL", failure, file=sys.stderr)
        print(f"{len(po_files())} catalogue(s) checked: {len(failures)} problem(s), "
              f"{len(notes)} other message(s) still shown in English")
        return 1 if failures else 0
    else:
        sys.exit(__doc__)
    return 0


if __name__ == "__main__":
    sys.exit(main())
