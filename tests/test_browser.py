"""Every notebook runs top to bottom in real JupyterLab (headless Chromium) without errors, and its
widgets render. Notebook-specific UI checks belong in other test files, using `lab_page`."""

from __future__ import annotations

import pytest

import browser_helpers as bh

NOTEBOOKS = bh.list_notebooks()

pytestmark = pytest.mark.browser


@pytest.mark.slow
@pytest.mark.parametrize(
    "notebook",
    NOTEBOOKS
    or [pytest.param(None, marks=pytest.mark.skip(reason=f"no notebooks in {bh.notebook_dir()}"))],
)
def test_notebook_runs_in_jupyterlab(lab_page, jupyter_lab, notebook):
    log_start = jupyter_lab.log_size()
    page = lab_page(notebook)
    shot = bh.screenshot(page, notebook)
    problems = bh.notebook_problems(page)
    # Errors raised in widget callbacks / comm handlers may only reach the server's log.
    log = jupyter_lab.log_since(log_start)
    if "Traceback (most recent call last)" in log and "Exception in comm" in log:
        problems.append("kernel log shows an exception in a widget callback:\n" + log[-2000:])
    assert not problems, f"{notebook} (screenshot {shot}):\n" + "\n\n".join(problems)
    assert page.lmteach_run_ok, f"Run All reported failure for {notebook} (screenshot {shot})"
