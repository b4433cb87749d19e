"""Lesson 03's fill-the-blank: type a sentence with one blank and see, side by side, GPT-1's guesses from the words
before the blank and BERT's from both sides, with their probabilities.

    FillBlank((gpt, gpt_tokenizer), (bert, bert_tokenizer), text="the ___ of denmark is dead")

The guesses update while the student types (the text box sends every keystroke; a tiny model answers in
milliseconds, so no debounce is needed). The numbers come from `lmteach.analysis.blanks`:
`guess_blank_left_to_right` (GPT-1's next-token distribution after the left side: first pieces of a word, see
there why) and `guess_blank_both_sides` (BERT's distribution at [MASK]).
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..analysis.blanks import guess_blank_both_sides, guess_blank_left_to_right, split_blank
from ..i18n import _
from .fill_mask import guess_table_html

GPT_COLOR, BERT_COLOR = "#ff7f0e", "#1f77b4"  # analysis.plots.COLORS["gpt"], ["bert"]


def shown_piece(text: str) -> str:
    """A token as the lessons show it: a space as a visible dot (·king starts a new word), a newline as ⏎."""
    return text.replace(" ", "·").replace("\n", "⏎")


def _chips(tokens: list[str], highlight: int, color: str) -> str:
    cells = []
    for i, token in enumerate(tokens):
        style = (f"background:{color};color:white" if i == highlight else "background:#eef2f7")
        cells.append(f"<span style='{style};font-family:monospace;padding:0 3px;margin:1px;border-radius:3px;"
                     f"display:inline-block'>{html.escape(shown_piece(token))}</span>")
    return "".join(cells)


def left_to_right_html(guess, name: str = "GPT-1", tokenizer_kind: str = "") -> str:
    """GPT-1's column: what it reads (the left side; the rest struck out, unread), and its guesses."""
    unseen = (f"<span class='lmteach-unseen' style='color:#9ca3af;text-decoration:line-through'>"
              f"___{html.escape(guess.unseen)}</span>")
    reads = _("from the left only")
    note = _("Its distribution over the token after the highlighted one: its first guess for the blank.")
    if tokenizer_kind == "byte_bpe":
        note += " " + _("Byte-level BPE keeps a word's space in its first piece, so ·king starts a new word; a long "
                        "word continues in later tokens, which GPT-1 has not chosen yet.")
    return (f"<div><b>{html.escape(name)}</b>: {html.escape(reads)}</div>"
            f"<div style='margin:4px 0'>{_chips(guess.read, guess.position, GPT_COLOR)} {unseen}</div>"
            + guess_table_html(_("{name}'s guesses").format(name=html.escape(name)), guess.guesses, shown_piece,
                               GPT_COLOR)
            + f"<div style='color:#555;font-size:90%'>{note}</div>")


def both_sides_html(guess, name: str = "BERT") -> str:
    """BERT's column: what it reads ([CLS] left [MASK] right [SEP]) and its guesses at [MASK]."""
    reads = _("from both sides")
    note = _("Its distribution at [MASK], which reads both sides: one WordPiece token (##x continues a word).")
    return (f"<div><b>{html.escape(name)}</b>: {html.escape(reads)}</div>"
            f"<div style='margin:4px 0'>{_chips(guess.read, guess.position, BERT_COLOR)}</div>"
            + guess_table_html(_("{name}'s guesses").format(name=html.escape(name)), guess.guesses, shown_piece,
                               BERT_COLOR)
            + f"<div style='color:#555;font-size:90%'>{note}</div>")


def _error_html(error: Exception) -> str:
    return f"<span class='lmteach-blank-error' style='color:#b91c1c'>{html.escape(str(error))}</span>"


class FillBlank:
    """A text box with one blank (`___` or `[MASK]`), a top-k slider, and two columns that update as you type:
    GPT-1's guesses from the left, BERT's from both sides.

    gpt, bert: (model, tokenizer) each; the tokenizers may differ. After every change, `self.gpt_guess` and
    `self.bert_guess` hold the `analysis.blanks.BlankGuess` shown (None where that side could not guess, e.g. no
    word before the blank for GPT-1)."""

    def __init__(self, gpt, bert, text: str = "the ___ of denmark is dead.", top_k: int = 5,
                 names: tuple[str, str] = ("GPT-1", "BERT")):
        (self.gpt, self.gpt_tokenizer), (self.bert, self.bert_tokenizer) = gpt, bert
        self.names = names
        self.text = W.Text(value=text, description=_("sentence"), continuous_update=True,
                           placeholder=_("a sentence with one blank: ___ or [MASK]"),
                           layout=W.Layout(width="640px"))
        self.top_k = W.IntSlider(value=top_k, min=1, max=20, description=_("top k"), continuous_update=False)
        self.gpt_view, self.bert_view = W.HTML(), W.HTML()
        self.gpt_view.add_class("lmteach-blank-gpt")
        self.bert_view.add_class("lmteach-blank-bert")
        self.text.observe(lambda _change: self.update(), names="value")
        self.top_k.observe(lambda _change: self.update(), names="value")
        columns = W.HBox([W.Box([self.gpt_view], layout=W.Layout(width="50%", padding="0 8px 0 0")),
                          W.Box([self.bert_view], layout=W.Layout(width="50%"))])
        self.widget = W.VBox([self.text, self.top_k, columns],
                             layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-fill-blank")
        self.gpt_guess = self.bert_guess = None
        self.update()

    def update(self):
        text, k = self.text.value, self.top_k.value
        self.gpt_guess = self.bert_guess = None
        try:
            split_blank(text)
        except ValueError as error:
            self.gpt_view.value = self.bert_view.value = _error_html(error)
            return
        try:
            self.gpt_guess = guess_blank_left_to_right(self.gpt, self.gpt_tokenizer, text, k)
            self.gpt_view.value = left_to_right_html(self.gpt_guess, self.names[0],
                                                     getattr(self.gpt_tokenizer, "kind", ""))
        except ValueError as error:  # e.g. nothing left of the blank
            self.gpt_view.value = _error_html(error)
        try:
            self.bert_guess = guess_blank_both_sides(self.bert, self.bert_tokenizer, text, k)
            self.bert_view.value = both_sides_html(self.bert_guess, self.names[1])
        except ValueError as error:  # e.g. longer than the model's positions
            self.bert_view.value = _error_html(error)

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
