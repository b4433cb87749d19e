"""Fixtures for tests in tests/.

Browser fixtures (tests marked `browser`; all skip cleanly without Playwright or Chromium):

    jupyter_lab   session: a JupyterLab server (this venv's Python, LMTEACH_QUICK=1, private
                  settings, token auth) serving LMTEACH_NOTEBOOK_DIR (default notebooks/)
    browser       session: headless Debian Chromium (/usr/bin/chromium) via Playwright
    lab_page      factory: lab_page("01_gpt1.ipynb") -> Playwright Page with that notebook open,
                  after Run All finished (run_all=False to skip). Kernels/pages are closed after the
                  test. Use the helpers in browser_helpers (set_slider, text_of, ...) on the page.

Example:

    import pytest
    from browser_helpers import set_slider, text_of, notebook_problems

    @pytest.mark.browser
    def test_slider_changes_lesson(lab_page):
        page = lab_page("02_attention.ipynb")
        before = text_of(page, ".widget-html-content")
        set_slider(page, "temperature", 2.0)
        assert text_of(page, ".widget-html-content") != before
        assert notebook_problems(page) == []
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

import browser_helpers as bh


def _browser_skip_reason() -> str | None:
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright is not installed (pip install -e '.[test]')"
    if not os.path.exists(bh.CHROMIUM):
        return f"{bh.CHROMIUM} is missing (apt-get install chromium)"
    return None


@pytest.fixture(scope="session")
def jupyter_lab():
    reason = _browser_skip_reason()
    if reason:
        pytest.skip(reason)
    server = bh.JupyterLabServer(bh.notebook_dir()).start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser(jupyter_lab):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=bh.CHROMIUM, headless=True, args=bh.CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def lab_page(request, jupyter_lab, browser):
    contexts = []

    def open_(notebook: str, run_all: bool = True, timeout: float = bh.NOTEBOOK_TIMEOUT):
        if not (Path(jupyter_lab.root_dir) / notebook).exists():
            raise FileNotFoundError(f"{notebook} not in {jupyter_lab.root_dir}")
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(ctx)
        bh.block_outside_requests(ctx)
        page = bh.open_notebook(ctx, jupyter_lab, notebook)
        if run_all:
            page.lmteach_run_ok = bh.run_all(page, timeout=timeout)
        return page

    yield open_
    for ctx in contexts:
        # Leave a picture behind on failure too (the passing path is screenshotted by the test).
        if getattr(request.node, "rep_call", None) is not None and request.node.rep_call.failed:
            for i, pg in enumerate(ctx.pages):
                try:
                    bh.screenshot(pg, f"FAILED-{request.node.name}-{i}")
                except Exception:
                    pass
        ctx.close()
    jupyter_lab.shutdown_kernels()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_makereport(item, call):
    rep = yield
    setattr(item, "rep_" + rep.when, rep)
    return rep
