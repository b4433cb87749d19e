"""Lessons run top to bottom in real JupyterLab (headless Chromium, no network) without errors, their widgets
render, live dashboards redraw while they train, and a lesson's controls change what it shows.

By default the browser runs lesson 00 (the BPE slider), 01 (attention on GPT-1 and where Extract looks), 02 (a live
training dashboard and the masking widgets), 03 (GPT-1 and BERT attention side by side) and 07 (the attention
explorer): every lesson already runs under nbval in the same kind of kernel, and running all of them a
second time in the browser would double the CI's notebook time. `LMTEACH_BROWSER_ALL=1 pytest tests/test_browser.py`
runs every lesson in the browser."""

from __future__ import annotations

import os

import pytest

import browser_helpers as bh

BROWSER_LESSONS = {"00_start_here.ipynb", "01_gpt1.ipynb", "02_bert.ipynb", "03_bert_vs_gpt1.ipynb", "07_attention.ipynb"}
NOTEBOOKS = [name for name in bh.list_notebooks() if os.environ.get("LMTEACH_BROWSER_ALL") or name in BROWSER_LESSONS]

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
    bh.click_button(page, "links")
    lines = page.locator(".lmteach-attention-view svg line").count()
    assert lines > 10, f"the links view drew {lines} lines"


def _image_src(widget, selector: str = ".lmteach-attention-view img") -> str:
    image = widget.locator(selector)
    assert image.count() >= 1, f"no {selector} in the widget"
    return image.first.get_attribute("src") or ""


def _type_into(page, box, text: str):
    """Replace the text of an ipywidgets Text box and press Enter (the lesson's boxes update on Enter)."""
    box.scroll_into_view_if_needed()
    box.click()
    page.keyboard.press("Control+A")
    page.keyboard.type(text, delay=10)
    page.keyboard.press("Enter")
    page.wait_for_timeout(300)
    bh.wait_kernel_idle(page, timeout=60, settle=1.0)


def check_gpt1_attention(page):
    """Lesson 01: the attention explorer on the lesson's own GPT-1 redraws for another layer, and the Extract view
    shows the fine-tuned classifier's answer and where Extract looks, and follows a new text."""
    explorer = page.locator(".lmteach-attention-explorer").first
    explorer.scroll_into_view_if_needed()   # JupyterLab may not lay out cells far from the view
    page.wait_for_timeout(500)
    before = _image_src(explorer)
    assert before.startswith("data:image/png"), "the GPT-1 explorer drew no heatmap"
    bh.set_slider(page, "layer", 1, within=explorer)
    assert _image_src(explorer) != before, "the GPT-1 heatmap did not change with the layer slider"

    extract = page.locator(".lmteach-extract-attention").first
    extract.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    decision = lambda: extract.locator(".widget-html").first.inner_text()  # noqa: E731
    image_before, decision_before = _image_src(extract, ".lmteach-extract-view img"), decision()
    assert "Extract" in decision_before and "%" in decision_before, f"no decision shown: {decision_before!r}"
    _type_into(page, extract.locator("input[type='text']").first,
               "But soft, what light through yonder window breaks? It is the east, and Juliet is the sun.")
    assert _image_src(extract, ".lmteach-extract-view img") != image_before, "the Extract view ignored the new text"


def check_attention_compare(page):
    """Lesson 03: GPT-1 and BERT side by side, both redrawn by the one view control (heatmaps, then links)."""
    compare = page.locator(".lmteach-attention-compare").first
    compare.scroll_into_view_if_needed()
    page.wait_for_timeout(500)
    sides = compare.locator(".lmteach-attention-side")
    assert sides.count() == 2, f"{sides.count()} sides in the comparison"
    for i in range(2):
        assert _image_src(sides.nth(i)).startswith("data:image/png"), f"side {i} drew no heatmap"
    bh.click_button(page, "links", within=compare)
    lines = [sides.nth(i).locator("svg line").count() for i in range(2)]
    assert min(lines) > 10, f"the links view drew {lines} lines (GPT-1, BERT)"


def check_pair_builder(page):
    """Lesson 02: the pair builder switched to SOP (ALBERT) shows one seed's two segments in order, then swapped,
    and the shipped BERT's NSP head gives its verdict on each."""
    builder = page.locator(".lmteach-pair-builder").first
    builder.scroll_into_view_if_needed()
    page.wait_for_timeout(500)

    def segments():
        return [builder.locator("input[type='text']").nth(i).input_value() for i in range(2)]

    bh.click_button(page, "SOP (ALBERT)", within=builder)
    bh.click_button(page, "in order", within=builder)
    in_order = segments()
    assert "A comes first in the text" in builder.inner_text(), builder.inner_text()[:500]
    bh.click_button(page, "swapped", within=builder)
    assert segments() == in_order[::-1], f"swapping did not swap A and B: {in_order} -> {segments()}"
    assert "B comes first in the text" in builder.inner_text()
    assert "NSP head: P(IsNext)" in builder.inner_text(), "no verdict of the model's NSP head"


LESSON_CHECKS = {"00_start_here.ipynb": [check_bpe_slider], "01_gpt1.ipynb": [check_gpt1_attention],
                 "02_bert.ipynb": [check_pair_builder],
                 "03_bert_vs_gpt1.ipynb": [check_attention_compare], "07_attention.ipynb": [check_attention_view]}


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


# --- the fill-the-blank widget (lesson 03) updates while the student types --------------------------------------
# Not in a lesson yet, so the test writes a two-cell notebook that builds it from the shipped checkpoints and serves
# it from a folder of its own (a notebook left under tests/ or notebooks/ would be collected by nbval).

FILL_BLANK_CHECKPOINTS = ("gpt1-tiny", "bert-tiny")
FILL_BLANK_CELLS = [
    "from lmteach.data.corpus import data_dir\n"
    "from lmteach.training import load_checkpoint\n"
    "from lmteach.widgets import FillBlank\n"
    "gpt, gpt_info = load_checkpoint(data_dir() / 'checkpoints' / {gpt!r})\n"
    "bert, bert_info = load_checkpoint(data_dir() / 'checkpoints' / {bert!r})",
    "FillBlank((gpt, gpt_info['tokenizer_obj']), (bert, bert_info['tokenizer_obj']),\n"
    "          text='the ___ of denmark is dead.', top_k=5)",
]


@pytest.fixture
def fill_blank_lab(tmp_path, browser):
    """A JupyterLab serving only the fill-the-blank notebook, and a page with it open and run."""
    import nbformat
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    gpt, bert = FILL_BLANK_CHECKPOINTS
    notebook.cells = [nbformat.v4.new_code_cell(source.format(gpt=gpt, bert=bert)) for source in FILL_BLANK_CELLS]
    nbformat.write(notebook, tmp_path / "fill_blank.ipynb")
    server = bh.JupyterLabServer(tmp_path, log_path=bh.ARTIFACTS / "jupyterlab-fill-blank.log").start()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        bh.block_outside_requests(context)
        page = bh.open_notebook(context, server, "fill_blank.ipynb")
        assert bh.run_all(page, timeout=300), "the fill-the-blank notebook did not run"
        yield page
    finally:
        context.close()
        server.stop()


def _expected_guesses(text: str, k: int = 5):
    """The guesses the widget should show, computed here from the same checkpoints."""
    from lmteach.analysis.blanks import guess_blank_both_sides, guess_blank_left_to_right
    from lmteach.data.corpus import data_dir
    from lmteach.training import load_checkpoint
    (gpt, gpt_info), (bert, bert_info) = (load_checkpoint(data_dir() / "checkpoints" / name)
                                          for name in FILL_BLANK_CHECKPOINTS)
    return (guess_blank_left_to_right(gpt, gpt_info["tokenizer_obj"], text, k),
            guess_blank_both_sides(bert, bert_info["tokenizer_obj"], text, k))


def test_fill_blank_updates_while_typing(fill_blank_lab):
    page = fill_blank_lab
    assert not bh.notebook_problems(page)
    columns = ".lmteach-fill-blank .lmteach-blank-gpt", ".lmteach-fill-blank .lmteach-blank-bert"
    before = [bh.text_of(page, c) for c in columns]
    assert all("%" in text for text in before), f"no guesses shown: {before}"

    def type_text(text: str):
        box = page.locator(".lmteach-fill-blank input[type='text']").first
        box.click()
        page.keyboard.press("Control+A")
        page.keyboard.type(text, delay=20)         # no Enter: the widget must follow the keystrokes themselves
        page.wait_for_timeout(300)
        bh.wait_kernel_idle(page, timeout=60, settle=1.0)
        return [bh.text_of(page, c) for c in columns]

    typed = "my good ___, what news from the court?"
    after = type_text(typed)
    assert after[0] != before[0] and after[1] != before[1], "the guesses did not follow the typing"
    gpt_guess, bert_guess = _expected_guesses(typed)
    for text, guess in zip(after, (gpt_guess, bert_guess)):
        token, p = guess.guesses[0]
        shown = token.replace(" ", "·").replace("\n", "⏎")
        assert shown in text and f"{p:.1%}" in text, f"expected top guess {shown} {p:.1%} in:\n{text}"

    # Only the right side changes: GPT-1, which reads the left only, shows the same guesses; BERT's change.
    right_changed = type_text("my good ___, what news from the camp?")
    gpt_table = lambda text: text[text.index("guesses"):]  # noqa: E731 (the struck-out right side differs)
    assert gpt_table(right_changed[0]) == gpt_table(after[0])
    assert right_changed[1] != after[1]
    bh.screenshot(page, "fill_blank")
    assert not bh.notebook_problems(page), "typing broke the widget"


# --- the Korean track: a Korean lesson runs, speaks Korean, and its Hangul renders (no tofu boxes) ---------------
KOREAN_LESSON = "ko/00_start_here.ipynb"


@pytest.mark.slow
def test_korean_lesson_runs_and_hangul_renders(lab_page, jupyter_lab):
    if not (jupyter_lab.root_dir / KOREAN_LESSON).exists():
        pytest.skip(f"{KOREAN_LESSON} is not in {jupyter_lab.root_dir}")
    page = lab_page(KOREAN_LESSON)
    shot = bh.screenshot(page, "ko_00_start_here")
    problems = bh.notebook_problems(page)
    assert not problems, f"{KOREAN_LESSON} (screenshot {shot}):\n" + "\n".join(problems)
    assert page.lmteach_run_ok, f"Run All reported failure for {KOREAN_LESSON} (screenshot {shot})"

    # Widgets and claims speak Korean (set by the lesson's language cell).
    assert "배우는 곳" in bh.text_of(page, ".lmteach-glossary")
    assert "토큰" in bh.text_of(page, ".lmteach-tokenizers")
    outputs = bh.text_of(page, ".jp-OutputArea-output")
    assert "≡ 구성상 참: 한국어 텍스트의 한글 음절은 모두 UTF-8로 3바이트입니다" in outputs   # a definition
    assert "✔ 확인: " in outputs and "대조군" in outputs   # an empirical claim, with its control, in Korean
    bh.set_slider(page, "병합", 40)
    assert "병합 40번 뒤" in bh.text_of(page, ".lmteach-bpe-view")

    # Hangul renders: in the heading's own font, three different syllables draw three different glyphs, none the
    # missing-glyph box. With no Korean font, all three would be that same box (the control: the reference is
    # drawn, so a box would show up as ink identical to it).
    drawing = bh.hangul_rendering(page)
    *syllables, missing = drawing["glyphs"]
    assert missing["ink"] > 0, f"control: the missing-glyph box should be visible ({drawing['font']})"
    assert all(g["ink"] > 0 for g in syllables), "a Hangul syllable drew nothing"
    distinct_glyphs = len({g["alpha"] for g in syllables})
    assert distinct_glyphs == len(syllables), (
        f"Hangul syllables {[g['text'] for g in syllables]} drew identical glyphs: tofu? font {drawing['font']}")
    drawn_as_missing = [g["text"] for g in syllables if g["alpha"] == missing["alpha"]]
    assert not drawn_as_missing, f"{drawn_as_missing} drew as the missing glyph ({drawing['font']})"
    fonts = bh.platform_fonts(page, ".jp-RenderedMarkdown h1")  # what Chromium drew the Korean title with
    korean_fonts = [f["familyName"] for f in fonts if f["glyphCount"] > 0
                    and any(k in f["familyName"] for k in ("CJK", "Nanum", "Gothic", "Hangul", "Un "))]
    assert korean_fonts, f"the Korean title was drawn with {fonts}: no Korean font (apt-get install fonts-noto-cjk)"
    assert not bh.notebook_problems(page), "the slider broke the Korean lesson"


# --- the ALBERT sharing lab (lesson 05): its curves redraw while it trains ----------------------------------------
# Not in the lesson yet: like the fill-the-blank test, the test writes a notebook that builds the lab on the shipped
# corpus and serves it from a folder of its own; the student's clicks (a mode, then Train) happen in the browser.

SHARING_LAB_STEPS = 60
SHARING_LAB_CELLS = [
    "import torch\n"
    "torch.set_num_threads(1)\n"
    "import lmteach as lt\n"
    "from lmteach.analysis import layer_similarity as ls\n"
    "from lmteach.data.corpus import load_corpus\n"
    "from lmteach.data.tokenization import load_default\n"
    "from lmteach.training import masked_lm_batches\n"
    "from lmteach.widgets import SharingLab\n"
    "tok = load_default('wordpiece')\n"
    "plays = load_corpus().split_by_play()\n"
    "ids = torch.tensor(tok.encode(plays['train'].text[:100_000]))\n"
    "probe = ls.text_probe(tok, tok.encode(plays['validation'].text[:20_000]), rows=8, seq_len=32)\n"
    "cfg = lt.configs.albert('tiny', vocab_size=tok.vocab_size, max_positions=32, hidden_size=32, num_heads=2,\n"
    "                        ffn_size=64, num_layers=4)",
    "lab = SharingLab(cfg, masked_lm_batches(tok, 32, 8, token_ids=ids), steps={steps}, embedding_size=16,\n"
    "                 probe=probe, redraw_every_steps=5)\n"
    "lab",
]


@pytest.fixture
def sharing_lab_page(tmp_path, browser):
    """A JupyterLab serving only the sharing-lab notebook, and a page with it open and run (nothing trained yet)."""
    import nbformat
    notebook = nbformat.v4.new_notebook(metadata={"kernelspec": {"name": "python3", "display_name": "Python 3",
                                                                  "language": "python"}})
    notebook.cells = [nbformat.v4.new_code_cell(source.format(steps=SHARING_LAB_STEPS))
                      for source in SHARING_LAB_CELLS]
    nbformat.write(notebook, tmp_path / "sharing_lab.ipynb")
    server = bh.JupyterLabServer(tmp_path, log_path=bh.ARTIFACTS / "jupyterlab-sharing-lab.log").start()
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        bh.block_outside_requests(context)
        page = bh.open_notebook(context, server, "sharing_lab.ipynb")
        assert bh.run_all(page, timeout=300), "the sharing-lab notebook did not run"
        yield page
    finally:
        context.close()
        server.stop()


def test_sharing_lab_curves_redraw_while_it_trains(sharing_lab_page):
    page = sharing_lab_page
    assert not bh.notebook_problems(page)
    lab = ".lmteach-sharing-lab"
    params = f"{lab} img.lmteach-sharing-params"
    live = f"{lab} img.lmteach-sharing-live"  # the loss curves and the layer transitions
    assert page.locator(live).count() == 2 and page.locator(params).count() == 1

    # Ticking a mode recounts and redraws the parameter bars at once, before any training.
    bars = bh.image_sources(page, params)
    page.locator(f"{lab} .widget-checkbox").filter(has_text="FFN").locator("input").click()
    page.wait_for_timeout(300)
    bh.wait_kernel_idle(page, timeout=60, settle=1.0)
    assert bh.image_sources(page, params) != bars, "the parameter bars did not follow the FFN checkbox"
    assert "FFN" in bh.text_of(page, f"{lab} .lmteach-sharing-counts")

    # Train: the kernel stays free (training runs in a thread) while both live plots change frame after frame.
    frames: list[set[str]] = [set(), set()]
    bh.click_button(page, "Train", timeout=60)
    finished = f"step {SHARING_LAB_STEPS} of {SHARING_LAB_STEPS}"
    for _ in range(int(240 / 0.1)):
        for seen, src in zip(frames, bh.image_sources(page, live)):
            seen.add(src)
        status = bh.text_of(page, lab)
        if finished in status and page.locator(f"{lab} button").filter(has_text="Train").first.is_enabled():
            break
        page.wait_for_timeout(100)
    for seen, src in zip(frames, bh.image_sources(page, live)):
        seen.add(src)
    shot = bh.screenshot(page, "sharing_lab")
    assert finished in bh.text_of(page, lab), f"training did not finish (screenshot {shot})"
    # the frame before Train, at least two while training (every 5 of 60 steps), and the last one
    assert all(len(seen) >= 4 for seen in frames), (
        f"the sharing lab's plots did not redraw while it trained: {[len(s) for s in frames]} distinct frames "
        f"(screenshot {shot})")
    assert not bh.notebook_problems(page), "training broke the sharing lab"
