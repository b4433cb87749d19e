"""Matplotlib figures the lessons and widgets share. Widgets show them as PNG bytes, which works offline, from
a training thread, and in every Jupyter front end.

Figures are made with `matplotlib.figure.Figure` directly (not pyplot), so drawing from a background thread
neither needs a GUI backend nor leaks figures.
"""

from __future__ import annotations

import io
import math

from matplotlib.figure import Figure

# One palette for the whole course, so a colour means the same thing in every lesson.
COLORS = {"train": "#1f77b4", "val": "#d62728", "lr": "#2ca02c", "pre": "#9467bd", "post": "#ff7f0e",
          "bert": "#1f77b4", "gpt": "#ff7f0e", "albert": "#2ca02c", "electra": "#d62728"}


def new_figure(width=6.0, height=3.2, ncols=1, nrows=1, layout="constrained"):
    """A figure and its axes (a single Axes when there is one). layout=None skips the automatic layout,
    which halves drawing time for plots redrawn live."""
    figure = Figure(figsize=(width, height), dpi=90, layout=layout)
    axes = figure.subplots(nrows, ncols)
    return figure, axes


def figure_png(figure) -> bytes:
    """The figure as PNG bytes (for `ipywidgets.Image(value=...)` or `IPython.display.Image`)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def smooth(values, window=20):
    """Trailing moving average, same length as the input (a noisy mini-batch loss made readable)."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def plot_losses(ax, steps, losses, val_steps=(), val_losses=(), label="", color=None, window=20):
    """Training loss (raw, faint; smoothed, solid) and validation loss (dots) on one axis."""
    color = color or COLORS["train"]
    if steps:
        ax.plot(steps, losses, color=color, alpha=0.25, linewidth=0.8)
        ax.plot(steps, smooth(list(losses), window), color=color, label=f"{label} train".strip())
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
