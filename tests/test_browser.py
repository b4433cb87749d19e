"""Every notebook runs top to bottom in real JupyterLab (headless Chromium, no network) without errors, its
widgets render, live dashboards redraw while they train, and a lesson's controls change what it shows."""

from __future__ import annotations

import pytest

import browser_helpers as bh

NOTEBOOKS = bh.list_notebooks()

pytestmark = pytest.mark.browser

DASHBOARD_IMAGES = ".lmteach-dashboard img"


def run_all_watching(page, selector: str, timeout: float = bh.NOTEBOOK_TIMEOUT):
    """Run All, and while the cells run collect every distinct `src` of the images matching `selector`
    (a live plot that redraws during training shows several)."""
    page.evaluate(
        """() => { window.__lmteachRun = null;
          window.jupyterapp.commands.execute('notebook:run-all-cells').then(
            ok => { window.__lmteachRun = {ok: !!ok}; },
            err => { window.__lmteachRun = {ok: false, error: String(err)}; }); }"""
    )
    seen: set[str] = set()
    for _ in range(int(timeout / 0.25)):
        seen.update(src for src in bh.image_sources(page, selector) if src)
        if page.evaluate("() => window.__lmteachRun !== null"):
            break
        page.wait_for_timeout(250)
    bh.wait_kernel_idle(page, timeout=60, settle=1.0)
    try:
        bh.wait_widgets_rendered(page)
    except Exception:  # reported by notebook_problems()
        pass
    seen.update(src for src in bh.image_sources(page, selector) if src)
    return bool(page.evaluate("() => window.__lmteachRun && window.__lmteachRun.ok")), seen


def check_bpe_slider(page):
    """Lesson 00: moving the BPE merges slider re-cuts the sample text."""
    before = bh.text_of(page, ".lmteach-bpe-view")
    bh.set_slider(page, "merges", 40)
    after = bh.text_of(page, ".lmteach-bpe-view")
    assert "After 40 merges" in after and after != before, f"BPE view did not follow the slider:\n{after[:300]}"


def check_attention_view(page):
    """Lesson 07: the attention explorer draws (PNG heatmaps, then SVG links) with the network blocked."""
    heatmap = page.locator(".lmteach-attention-view img")
    assert heatmap.count() >= 1 and (heatmap.first.get_attribute("src") or "").startswith("data:image/png")
    page.locator(".widget-toggle-button").filter(has_text="links").first.click()
    page.wait_for_timeout(300)
    bh.wait_kernel_idle(page, timeout=60, settle=1.0)
    lines = page.locator(".lmteach-attention-view svg line").count()
    assert lines > 10, f"the links view drew {lines} lines"


LESSON_CHECKS = {"00_start_here.ipynb": [check_bpe_slider], "07_attention.ipynb": [check_attention_view]}


@pytest.mark.slow
@pytest.mark.parametrize(
    "notebook",
    NOTEBOOKS
    or [pytest.param(None, marks=pytest.mark.skip(reason=f"no notebooks in {bh.notebook_dir()}"))],
)
def test_notebook_runs_in_jupyterlab(lab_page, jupyter_lab, notebook):
    log_start = jupyter_lab.log_size()
    page = lab_page(notebook, run_all=False)
    ok, dashboard_frames = run_all_watching(page, DASHBOARD_IMAGES)
    shot = bh.screenshot(page, notebook)
    problems = bh.notebook_problems(page)
    # Errors raised in widget callbacks / comm handlers may only reach the server's log.
    log = jupyter_lab.log_since(log_start)
    if "Traceback (most recent call last)" in log and "Exception in comm" in log:
        problems.append("kernel log shows an exception in a widget callback:\n" + log[-2000:])
    assert not problems, f"{notebook} (screenshot {shot}):\n" + "\n\n".join(problems)
    assert ok, f"Run All reported failure for {notebook} (screenshot {shot})"
    dashboards = page.locator(".lmteach-dashboard").count()
    if dashboards:
        # Each dashboard shows 2 plots; a start frame, redraws while training and a final frame: > 2 per plot.
        assert len(dashboard_frames) > 2 * 2 * dashboards, (
            f"{notebook}: the dashboard plots did not update during training "
            f"({len(dashboard_frames)} distinct frames for {dashboards} dashboard(s))")
    for check in LESSON_CHECKS.get(notebook, []):
        check(page)
    assert not bh.notebook_problems(page), f"{notebook}: a control broke the lesson"
