"""Reading attention out of a model, and drawing it with no network: head heatmaps (PNG) and a
token-to-token link view (SVG). bertviz's views are better looking but load their scripts from a CDN, so in a
closed classroom they draw nothing; these always work.

    maps = attention_maps(model, tokenizer, "the cat sat on the mat")
    maps.weights.shape        # [layers, heads, seq, seq]
    svg = attention_links_svg(maps.tokens, maps.weights[2, 0])
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import numpy as np
import torch

from .plots import attention_heatmap, figure_png, grid_shape, new_figure

HEAD_COLORS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
               "#bcbd22", "#17becf", "#393b79", "#637939"]


@dataclass
class AttentionMaps:
    tokens: list[str]
    weights: np.ndarray           # [layers, heads, seq(query), seq(key)]
    causal: bool

    @property
    def num_layers(self):
        return self.weights.shape[0]

    @property
    def num_heads(self):
        return self.weights.shape[1]

    def as_bertviz(self):
        """The attentions as bertviz expects them: a tuple of per-layer [1, heads, seq, seq] tensors."""
        return tuple(torch.from_numpy(layer)[None] for layer in self.weights)


def encode_for_attention(tokenizer, text, text_pair=None):
    """ids [1, seq] and their token strings, with the model family's special tokens where it has them."""
    if text_pair is not None:
        ids, segments = tokenizer.encode_pair(text, text_pair)
        return torch.tensor([ids]), torch.tensor([segments]), [tokenizer.id_to_token(i) for i in ids]
    cls_id, sep_id = getattr(tokenizer, "cls_id", None), getattr(tokenizer, "sep_id", None)
    ids = tokenizer.encode(text)
    if cls_id is not None and sep_id is not None:
        ids = [cls_id] + ids + [sep_id]
    return torch.tensor([ids]), None, [tokenizer.id_to_token(i) for i in ids]


@torch.no_grad()
def attention_maps(model, tokenizer, text: str, text_pair: str | None = None) -> AttentionMaps:
    """Run `text` through the model and return every layer's and head's attention weights."""
    input_ids, segments, tokens = encode_for_attention(tokenizer, text, text_pair)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    kwargs = {"output_attentions": True}
    if segments is not None:
        kwargs["token_type_ids"] = segments.to(device)
    try:
        out = model(input_ids.to(device), **kwargs)
    finally:
        model.train(was_training)
    weights = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()
    cfg = getattr(model, "cfg", None)
    return AttentionMaps(tokens=tokens, weights=weights, causal=bool(getattr(cfg, "causal", False)))


def heads_png(weights: np.ndarray, tokens: list[str], title: str = "", heads=None) -> bytes:
    """Heatmaps of several heads of one layer, weights [heads, seq, seq]."""
    heads = list(range(weights.shape[0])) if heads is None else list(heads)
    rows, cols = grid_shape(len(heads))
    size = 2.6 + 0.12 * len(tokens)
    figure, axes = new_figure(size * cols, size * rows, ncols=cols, nrows=rows)
    axes = np.atleast_1d(axes).ravel()
    for ax, head in zip(axes, heads):
        attention_heatmap(ax, weights[head], tokens, title=f"head {head}")
    for ax in axes[len(heads):]:
        ax.set_visible(False)
    if title:
        figure.suptitle(title)
    return figure_png(figure)


def png_html(png: bytes, width: int | None = None) -> str:
    style = f' style="max-width:{width}px"' if width else ' style="max-width:100%"'
    return f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}"{style}/>'


def attention_links_svg(tokens: list[str], weights: np.ndarray, heads=None, min_weight: float = 0.02,
                        row_height: int = 20, width: int = 360) -> str:
    """A link view: tokens on the left attend to tokens on the right; a line's opacity is the weight.
    weights is one head [seq, seq] or several [heads, seq, seq] (one colour per head)."""
    weights = np.asarray(weights)
    if weights.ndim == 2:
        weights = weights[None]
    heads = list(range(weights.shape[0])) if heads is None else list(heads)
    n = len(tokens)
    height = row_height * n + 30
    left_x, right_x = 110, width - 110
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'class="lmteach-attention-links" font-family="monospace" font-size="12">']
    parts.append(f'<text x="{left_x}" y="12" text-anchor="end" fill="#555">query</text>'
                 f'<text x="{right_x}" y="12" fill="#555">key</text>')
    for index, head in enumerate(heads):
        color = HEAD_COLORS[head % len(HEAD_COLORS)]
        for i in range(n):
            for j in range(n):
                w = float(weights[index if len(heads) == weights.shape[0] else head, i, j])
                if w < min_weight:
                    continue
                y1, y2 = 26 + i * row_height, 26 + j * row_height
                parts.append(f'<line x1="{left_x + 4}" y1="{y1}" x2="{right_x - 4}" y2="{y2}" stroke="{color}" '
                             f'stroke-opacity="{min(1.0, w):.3f}" stroke-width="{1 + 3 * w:.2f}"/>')
    for i, token in enumerate(tokens):
        y = 30 + i * row_height
        label = html.escape(token)
        parts.append(f'<text x="{left_x}" y="{y}" text-anchor="end">{label}</text>')
        parts.append(f'<text x="{right_x}" y="{y}">{label}</text>')
    parts.append("</svg>")
    return "".join(parts)


def mask_png(seq_len: int = 8, tokens=None) -> bytes:
    """GPT's causal mask next to BERT's bidirectional one: who may attend to whom."""
    tokens = tokens or [f"t{i}" for i in range(seq_len)]
    n = len(tokens)
    figure, (gpt_ax, bert_ax) = new_figure(2.4 + 0.5 * n, 1.6 + 0.25 * n, ncols=2)
    for ax, allowed, title in ((gpt_ax, np.tril(np.ones((n, n))), "GPT: causal (left only)"),
                               (bert_ax, np.ones((n, n)), "BERT: bidirectional")):
        ax.imshow(allowed, cmap="Greens", vmin=0, vmax=1.3)
        ax.set_xticks(range(n), tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(n), tokens, fontsize=8)
        ax.set_xlabel("may attend to (key)")
        ax.set_title(title, fontsize=10)
    gpt_ax.set_ylabel("token (query)")
    return figure_png(figure)


def head_roles(maps: AttentionMaps, special_tokens=("[CLS]", "[SEP]")) -> list[dict]:
    """For every head, the average share of attention that goes to: the previous token, the token itself,
    the special tokens, and other pieces of the same word (WordPiece '##'). The heads Clark et al. (2019)
    describe ("What does BERT look at?") show up as rows where one share dominates."""
    tokens = maps.tokens
    n = len(tokens)
    previous = np.eye(n, k=-1)
    self_ = np.eye(n)
    special = np.zeros((n, n))
    special[:, [j for j, t in enumerate(tokens) if t in special_tokens]] = 1
    word = np.array([_word_index(tokens, i) for i in range(n)])
    same_word = (word[:, None] == word[None, :]).astype(float) - self_
    rows = []
    for layer in range(maps.num_layers):
        for head in range(maps.num_heads):
            w = maps.weights[layer, head]
            share = {name: float((w * pattern).sum() / n) for name, pattern in
                     (("previous", previous), ("self", self_), ("special", special), ("same_word", same_word))}
            rows.append({"layer": layer, "head": head, **share, "role": max(share, key=share.get)})
    return rows


def _word_index(tokens, i):
    """Index of the word a token belongs to (WordPiece continuations '##x' join the word before)."""
    word = -1
    for j in range(i + 1):
        if not tokens[j].startswith("##"):
            word += 1
    return word
