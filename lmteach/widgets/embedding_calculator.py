"""Lesson 05's factorized-embedding calculator: how many parameters ALBERT saves by giving tokens E < H dims.

    lt.widgets.EmbeddingCalculator()          # sliders for V, E, H; a bar chart and the saving

ALBERT (Lan et al. 2020) §3.1 "Factorized embedding parameterization": BERT's token table is V x H; ALBERT's is
V x E followed by an E x H projection, "O(V x H) to O(V x E + E x H)", a large saving when H >> E.
"""

from __future__ import annotations

import ipywidgets as W

from ..analysis.plots import COLORS, figure_png, new_figure
from ..i18n import _


def embedding_params(vocab_size: int, embedding_size: int, hidden_size: int) -> dict[str, float]:
    """Token-embedding parameters (weights only, no biases) with and without ALBERT's factorization."""
    untied = vocab_size * hidden_size                                    # BERT: one V x H table
    factorized = vocab_size * embedding_size + embedding_size * hidden_size  # ALBERT: V x E, then E x H
    return {"untied": untied, "factorized": factorized, "table": vocab_size * embedding_size,
            "projection": embedding_size * hidden_size, "saved": untied - factorized, "ratio": untied / factorized}


def embedding_bars_png(counts: dict, vocab_size: int, embedding_size: int, hidden_size: int) -> bytes:
    """Two bars: V x H, and V x E stacked with E x H."""
    figure, ax = new_figure(5.2, 2.6)
    millions = 1e6
    ax.barh(["BERT: V×H"], [counts["untied"] / millions], color=COLORS["bert"])
    ax.barh(["ALBERT: V×E + E×H"], [counts["table"] / millions], color=COLORS["albert"], label=_("V×E table"))
    ax.barh(["ALBERT: V×E + E×H"], [counts["projection"] / millions], left=[counts["table"] / millions],
            color="#98df8a", label=_("E×H projection"))
    ax.set_xlabel(_("parameters (millions)"))
    ax.set_title(f"V={vocab_size:,}  E={embedding_size}  H={hidden_size}", fontsize=9)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    return figure_png(figure)


class EmbeddingCalculator:
    """Sliders for the vocabulary V, the embedding size E and the hidden size H; shows both parameter counts as
    bars, the saving as a number and as a ratio. Every control is a plain widget whose `.value` a test can set."""

    def __init__(self, vocab_size: int = 30000, embedding_size: int = 128, hidden_size: int = 768):
        self.vocab_size = W.IntSlider(value=vocab_size, min=1000, max=100000, step=1000,
                                      description=_("V (vocab)"), continuous_update=False)
        self.embedding_size = W.IntSlider(value=embedding_size, min=16, max=4096, step=16,
                                          description=_("E (embed)"), continuous_update=False)
        self.hidden_size = W.IntSlider(value=hidden_size, min=64, max=4096, step=64,
                                       description=_("H (hidden)"), continuous_update=False)
        self.chart = W.Image(format="png")
        self.summary = W.HTML()
        for control in (self.vocab_size, self.embedding_size, self.hidden_size):
            control.observe(lambda _: self.update(), names="value")
        self.widget = W.VBox([W.HBox([self.vocab_size, self.embedding_size, self.hidden_size]),
                              W.HBox([self.chart, self.summary])],
                             layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-embedding-calculator")
        self.counts: dict = {}
        self.update()

    def update(self):
        """Recount and redraw from the sliders (called on every change)."""
        V, E, H = self.vocab_size.value, self.embedding_size.value, self.hidden_size.value
        self.counts = embedding_params(V, E, H)
        self.chart.value = embedding_bars_png(self.counts, V, E, H)
        c = self.counts
        if c["saved"] >= 0:
            verdict = _("Factorizing saves <b>{saved}</b> parameters: <b>{ratio}×</b> fewer.").format(
                saved=f"{c['saved']:,}", ratio=f"{c['ratio']:.1f}")
        else:
            # With E >= H the projection only adds parameters: factorizing pays only when E is well below H.
            verdict = _("Factorizing costs <b>{extra}</b> more parameters (E is not smaller than H).").format(
                extra=f"{-c['saved']:,}")
        self.summary.value = (
            f"<div class='lmteach-embedding-summary' style='padding-left:12px'>"
            f"V×H = {V:,} × {H:,} = <b>{c['untied']:,}</b><br>"
            f"V×E + E×H = {V:,} × {E:,} + {E:,} × {H:,} = <b>{c['factorized']:,}</b><br>"
            f"{verdict}</div>")

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
