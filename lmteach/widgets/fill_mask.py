"""Lesson 02's fill-mask widget: type a sentence with [MASK] and see a masked LM's top guesses.

    lt.widgets.FillMask(model, tokenizer)                 # a text box and a top-k slider
    fill_mask_html(model, tokenizer, "the [MASK] of denmark")   # the same table, e.g. as a dashboard preview

The guessing is `lmteach.training.generate.fill_mask` (softmax over the vocabulary at each [MASK]).
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..i18n import _
from ..training.generate import fill_mask


def guess_table_html(title: str, options: list[tuple[str, float]], shown=str, color: str = "#60a5fa") -> str:
    """One small table of guesses: token (as `shown(token)` displays it), probability and a bar."""
    rows = "".join(
        f"<tr><td style='font-family:monospace;padding:0 6px'>{html.escape(shown(token))}</td>"
        f"<td style='text-align:right;padding:0 6px'>{p:.1%}</td>"
        f"<td><div style='background:{color};height:10px;width:{max(1, round(p * 160))}px'></div></td></tr>"
        for token, p in options)
    return (f"<table class='lmteach-fill-mask-guesses' style='display:inline-block;vertical-align:top;"
            f"margin-right:12px'><tr><th colspan=3>{title}</th></tr>{rows}</table>")


def guesses_html(text: str, guesses: list[list[tuple[str, float]]]) -> str:
    """One small table per [MASK]: token, probability and a bar."""
    tables = [guess_table_html(f"[MASK] {number}", options) for number, options in enumerate(guesses, start=1)]
    return f"<div><code>{html.escape(text)}</code></div>" + "".join(tables)


def fill_mask_html(model, tokenizer, text: str, top_k: int = 5) -> str:
    """The top-k guesses for every [MASK] in `text`, as HTML (usable as a TrainingDashboard preview)."""
    return guesses_html(text, fill_mask(model, tokenizer, text, top_k=top_k))


def previews_html(model, tokenizer, texts: list[str], top_k: int = 3) -> str:
    """fill_mask_html for several sentences, one under the other."""
    return "".join(fill_mask_html(model, tokenizer, text, top_k) for text in texts)


class FillMask:
    """A text box (write [MASK] where a word should go) and a top-k slider; the table updates on change."""

    def __init__(self, model, tokenizer, text: str = "to be, or not to [MASK], that is the question.",
                 top_k: int = 5):
        self.model, self.tokenizer = model, tokenizer
        self.text = W.Text(value=text, description=_("text"), continuous_update=False,
                           layout=W.Layout(width="640px"))
        self.top_k = W.IntSlider(value=top_k, min=1, max=20, description=_("top k"), continuous_update=False)
        self.output = W.HTML()
        self.text.observe(lambda _: self.update(), names="value")
        self.top_k.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([self.text, self.top_k, self.output],
                             layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-fill-mask")
        self.guesses: list = []
        self.update()

    def update(self):
        try:
            self.guesses = fill_mask(self.model, self.tokenizer, self.text.value, top_k=self.top_k.value)
        except ValueError as error:  # no [MASK] in the text, or too long: say so instead of failing
            self.guesses = []
            self.output.value = f"<span style='color:#b91c1c'>{html.escape(str(error))}</span>"
            return
        self.output.value = guesses_html(self.text.value, self.guesses)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
