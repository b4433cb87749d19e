"""Matplotlib figures the lessons and widgets share. Widgets show them as PNG bytes, which works offline, from
a training thread, and in every Jupyter front end.

Figures are made with `matplotlib.figure.Figure` directly (not pyplot), so drawing from a background thread
neither needs a GUI backend nor leaks figures.
"""

from __future__ import annotations

import io
import math
from functools import lru_cache
from pathlib import Path

from matplotlib.figure import Figure

from ..training.smoothing import moving_average

# One palette for the whole course, so a colour means the same thing in every lesson.
COLORS = {"train": "#1f77b4", "val": "#d62728", "lr": "#2ca02c", "pre": "#9467bd", "post": "#ff7f0e",
          "bert": "#1f77b4", "gpt": "#ff7f0e", "albert": "#2ca02c", "electra": "#d62728"}


# Hangul in plots (Korean axis labels, Korean tokens) needs a CJK font; Debian's fonts-noto-cjk has these.
CJK_FONTS = ("Noto Sans CJK KR", "Noto Sans CJK JP")
_font_setup: str | None = None     # the CJK font the rcParams were last set for (None: matplotlib's own)
_saved_fonts: tuple | None = None  # matplotlib's own font.family and font.sans-serif


@lru_cache(maxsize=None)
def cjk_font() -> str | None:
    """The name of an installed CJK font matplotlib can use, or None. Fonts installed after matplotlib built
    its font cache are found and added too."""
    from matplotlib import font_manager

    def known():
        names = {f.name for f in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    if known() is None:
        for path in font_manager.findSystemFonts():
            if "notosanscjk" in Path(path).name.lower().replace("-", ""):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    pass
    return known()


def use_language_font() -> None:
    """Korean (see `lmteach.i18n`): draw text with the CJK font, which has Latin letters and digits too, so
    Korean axis labels and numbers both read. English, or no CJK font installed: matplotlib's own settings."""
    global _font_setup, _saved_fonts
    from matplotlib import rcParams

    from ..i18n import current_language
    font = cjk_font() if current_language() == "ko" else None
    if _font_setup == font:
        return
    if _saved_fonts is None:
        _saved_fonts = (list(rcParams["font.family"]), list(rcParams["font.sans-serif"]))
    family, sans_serif = _saved_fonts
    if font is None:
        rcParams["font.family"], rcParams["font.sans-serif"] = family, sans_serif
    else:
        rcParams["font.family"] = ["sans-serif"]
        rcParams["font.sans-serif"] = [font, *(name for name in sans_serif if name != font)]
    _font_setup = font


def new_figure(width=6.0, height=3.2, ncols=1, nrows=1, layout="constrained"):
    """A figure and its axes (a single Axes when there is one). layout=None skips the automatic layout,
    which halves drawing time for plots redrawn live."""
    use_language_font()
    figure = Figure(figsize=(width, height), dpi=90, layout=layout)
    axes = figure.subplots(nrows, ncols)
    return figure, axes


def figure_png(figure) -> bytes:
    """The figure as PNG bytes (for `ipywidgets.Image(value=...)` or `IPython.display.Image`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def plot_losses(ax, steps, losses, val_steps=(), val_losses=(), label="", color=None, window=20):
    """Training loss (raw, faint; smoothed, solid) and validation loss (dots) on one axis."""
    color = color or COLORS["train"]
    if steps:
        ax.plot(steps, losses, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(steps, moving_average(list(losses), window), color=color, label=f"{label} train".strip())
    if val_steps:
        ax.plot(val_steps, val_losses, "o--", color=COLORS["val"] if not label else color, markersize=3,
                label=f"{label} validation".strip())
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(alpha=0.3)
    if steps or val_steps:
        ax.legend(loc="upper right", fontsize=8)


def plot_lr(ax, steps, lrs):
    ax.plot(steps, lrs, color=COLORS["lr"])
    ax.set_xlabel("step")
    ax.set_ylabel("learning rate")
    ax.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
    ax.grid(alpha=0.3)


def plot_layer_values(ax, values_by_layer: dict, ylabel="gradient norm", label=None, color=None, log=False):
    """A bar/line chart of one number per layer: {"embeddings": v, 0: v, 1: v, ..., "head": v}."""
    names = [k for k in values_by_layer if k == "embeddings"] + sorted(
        k for k in values_by_layer if isinstance(k, int)) + [k for k in values_by_layer if k == "head"]
    heights = [values_by_layer[k] for k in names]
    ax.plot(range(len(names)), heights, "o-", color=color, label=label)
    ax.set_xticks(range(len(names)), [("emb" if k == "embeddings" else str(k)) for k in names], fontsize=8)
    ax.set_xlabel("layer")
    ax.set_ylabel(ylabel)
    if log and all(h > 0 for h in heights):
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    if label:
        ax.legend(fontsize=8)


def attention_heatmap(ax, weights, tokens, title=""):
    """One head's attention [query, key] as a heatmap: row i shows where token i looks."""
    n = len(tokens)
    ax.imshow(weights[:n, :n], cmap="viridis", vmin=0.0, vmax=float(max(1e-9, weights[:n, :n].max())))
    size = 8 if n <= 24 else 6
    ax.set_xticks(range(n), tokens, rotation=90, fontsize=size)
    ax.set_yticks(range(n), tokens, fontsize=size)
    ax.set_xlabel("key (attended to)")
    ax.set_ylabel("query (attending)")
    if title:
        ax.set_title(title, fontsize=10)


def grid_shape(count: int, max_cols: int = 4):
    cols = min(count, max_cols)
    return math.ceil(count / cols), cols
