"""Every lesson notebook keeps the lesson contract: JupyterLab can open it without asking for a kernel, it says
what it teaches and which papers it follows, it asserts its claims, ends with exercises a student can check, keeps
library code out of its cells, and every output nbval compares has a stored reference."""

from pathlib import Path

import nbformat
import pytest

from lmteach import exercises

NOTEBOOKS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb"))
MARK = "# NBVAL_CHECK_OUTPUT"


@pytest.fixture(params=NOTEBOOKS, ids=lambda p: p.name)
def notebook(request):
    return nbformat.read(request.param, as_version=4)


def code_cells(nb):
    return [c for c in nb.cells if c.cell_type == "code"]


def test_all_lessons_are_present():
    assert [p.name[:2] for p in NOTEBOOKS] == ["00", "01", "02", "03", "04", "05", "06", "07"]


def test_kernelspec_lets_jupyterlab_open_it_directly(notebook):
    assert notebook.metadata["kernelspec"]["name"] == "python3"


def test_opens_with_what_is_learned_and_the_papers(notebook):
    first = notebook.cells[0]
    assert first.cell_type == "markdown"
    text = first.source.lower()
    assert ("learn" in text or "you will" in text) and ("paper" in text or "et al" in text), first.source[:300]


def _calls(source: str, name: str):
    import ast
    lines = [line for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    for node in ast.walk(ast.parse("\n".join(lines))):
        if isinstance(node, ast.Call) and getattr(node.func, "id", getattr(node.func, "attr", None)) == name:
            yield node


def test_every_claim_names_its_control(notebook):
    """An empirical claim is compared with a control computed beside it (untrained weights, a foreign context, the
    other objective) that would fail it; identities and implementation details are `definition(...)` instead."""
    for cell in code_cells(notebook):
        for call in _calls(cell.source, "claim"):
            keywords = {k.arg for k in call.keywords}
            assert "control" in keywords, f"claim without control=...:\n{cell.source[:500]}"


def test_asserts_claims_and_ends_with_checked_exercises(notebook):
    source = "\n".join(c.source for c in code_cells(notebook))
    assert "claim(" in source, "a lesson asserts what it shows"
    assert "exercises.check(" in source
    assert any("try this" in c.source.lower() for c in notebook.cells if c.cell_type == "markdown")


def test_exercises_it_mentions_exist():
    ids = exercises.all_ids()
    for lesson in ("00", "01", "02", "03", "04", "05", "06", "07"):
        assert sum(i.startswith(lesson + ".") for i in ids) >= 2, f"lesson {lesson} needs exercises"


def test_no_library_code_pasted_into_cells(notebook):
    for cell in code_cells(notebook):
        definitions = [line for line in cell.source.splitlines() if line.lstrip().startswith(("def ", "class "))]
        assert not definitions, f"library code belongs in lmteach/, not in a cell:\n{cell.source[:400]}"


def test_checked_outputs_have_a_stored_reference(notebook):
    for cell in code_cells(notebook):
        if cell.source.lstrip().startswith(MARK):
            assert cell.outputs, ("a '# NBVAL_CHECK_OUTPUT' cell without stored output is never compared; run "
                                  "scripts/store_checked_outputs.py on the notebook")
