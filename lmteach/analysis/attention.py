"""Reading attention out of a model, and drawing it with no network: head heatmaps (PNG) and a
token-to-token link view (SVG). bertviz's views are better looking but load their scripts from a CDN, so in a
closed classroom they draw nothing; these always work.

    maps = attention_maps(model, tokenizer, "the cat sat on the mat")
    maps.weights.shape        # [layers, heads, seq, seq]
    svg = attention_links_svg(maps.tokens, maps.weights[2, 0])
    attention_on_later_tokens(maps.weights)   # 0.0 for a causal (GPT) model: the mask, measured
    found = extract_attention(classifier, tokenizer, "Is this a comedy?")   # GPT-1: where Extract looks
    found["weights"].shape    # [layers, heads, seq]
"""

from __future__ import annotations

import base64
import html
from dataclasses import dataclass

import numpy as np
import torch

from ..i18n import _
from ..models.transformer import Gpt1ForTask
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


def encode_for_attention(tokenizer, text, text_pair=None, model=None):
    """ids [1, seq], segment ids [1, seq] or None, and the token strings, with the model family's special tokens
    where it has them: BERT's [CLS] ... [SEP]; for a GPT-1 task model (`Gpt1ForTask`) GPT-1's fine-tuning frame
    `Start text Extract` or `Start a Delim b Extract` (GPT-1 §3.3), cut as the task transforms cut it."""
    if isinstance(model, Gpt1ForTask):
        from ..objectives.gpt1 import classification_inputs, entailment_inputs
        special = dict(start_id=tokenizer.start_id, extract_id=tokenizer.extract_id, pad_id=tokenizer.pad_id,
                       max_len=model.cfg.max_positions)
        if None in special.values():
            raise ValueError("a GPT-1 task model reads Start ... Extract; this tokenizer has no GPT-1 special "
                             "tokens (load it with load_default('byte_bpe', gpt1_specials=True))")
        if text_pair is None:
            ids = classification_inputs([tokenizer.encode(text)], **special)["input_ids"]
        else:
            ids = entailment_inputs([tokenizer.encode(text)], [tokenizer.encode(text_pair)],
                                    delim_id=tokenizer.delim_id, **special)["input_ids"]
        return ids, None, [tokenizer.id_to_token(i) for i in ids[0].tolist()]
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
    input_ids, segments, tokens = encode_for_attention(tokenizer, text, text_pair, model)
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    kwargs = {"output_attentions": True}
    cfg = getattr(model, "cfg", None)
    # Segment ids only for models with segment embeddings (BERT); GPT marks the parts with its special tokens.
    if segments is not None and getattr(cfg, "segment_vocab_size", 1):
        kwargs["token_type_ids"] = segments.to(device)
    try:
        out = model(input_ids.to(device), **kwargs)
    finally:
        model.train(was_training)
    weights = torch.stack([a[0] for a in out.attentions]).float().cpu().numpy()
    return AttentionMaps(tokens=tokens, weights=weights, causal=bool(getattr(cfg, "causal", False)))


def attention_on_later_tokens(weights: np.ndarray) -> float:
    """The share of attention that goes to later tokens (above the diagonal), averaged over the query rows of
    weights [..., seq, seq]. A causal mask makes it exactly 0 (GPT-1 §3.1); a bidirectional model spends part of
    its attention on the right (BERT §3)."""
    weights = np.asarray(weights)
    return float(np.triu(weights, k=1).sum(-1).mean())


@torch.no_grad()
def extract_attention(model, tokenizer, text: str, text_pair: str | None = None) -> dict:
    """Where a GPT-1 task model's Extract token, the query the classifier reads (GPT-1 §3.3), attends.

    The input is framed as the task transforms frame it: `Start text Extract`, or with `text_pair`
    `Start text Delim text_pair Extract` (entailment; one order of a similarity pair; one answer of a multiple
    choice). Extract is the last token, so the causal mask lets it see every token.
    Returns {"tokens": [seq], "weights": [layers, heads, seq] (the Extract row of every layer's and head's
    attention; each sums to 1 over the tokens), "extract_position": seq - 1, "probabilities": the classifier's
    softmax over the labels (classification and entailment models; else None)}."""
    if not isinstance(model, Gpt1ForTask):
        raise ValueError(f"extract_attention needs a GPT-1 task model (Gpt1ForTask, e.g. from "
                         f"lmteach.training.finetune.finetune(...).model), got {type(model).__name__}")
    maps = attention_maps(model, tokenizer, text, text_pair)
    probabilities = None
    if model.task in ("classification", "entailment"):
        input_ids = encode_for_attention(tokenizer, text, text_pair, model)[0]
        was_training = model.training
        model.eval()
        try:
            logits = model(input_ids.to(next(model.parameters()).device)).logits
        finally:
            model.train(was_training)
        probabilities = logits[0].float().softmax(-1).cpu().tolist()
    position = len(maps.tokens) - 1
    return {"tokens": maps.tokens, "weights": maps.weights[:, :, position, :], "extract_position": position,
            "probabilities": probabilities}


def extract_attention_png(found: dict, head=-1, title: str = "") -> bytes:
    """Heat rows of `extract_attention`'s weights: one row per layer and head (head=-1), per layer for one head
    (head=h) or per layer averaged over heads (head="mean"); one column per input token."""
    weights = found["weights"]                                  # [layers, heads, seq]
    layers, heads, n = weights.shape
    if head == -1:
        rows = weights.reshape(layers * heads, n)
        labels = [_("layer {layer} head {head}").format(layer=l, head=h) for l in range(layers) for h in range(heads)]
    elif head == "mean":
        rows = weights.mean(1)
        labels = [_("layer {layer}, mean").format(layer=l) for l in range(layers)]
    else:
        rows = weights[:, head]
        labels = [_("layer {layer} head {head}").format(layer=l, head=head) for l in range(layers)]
    figure, ax = new_figure(2.6 + 0.32 * n, 1.3 + 0.24 * len(rows))
    ax.imshow(rows, cmap="viridis", vmin=0.0, vmax=float(max(1e-9, rows.max())), aspect="auto")
    ax.set_xticks(range(n), found["tokens"], rotation=90, fontsize=8)
    ax.set_yticks(range(len(rows)), labels, fontsize=7)
    if head == -1:
        for boundary in range(heads, layers * heads, heads):    # a line between layers
            ax.axhline(boundary - 0.5, color="white", linewidth=1.5)
    ax.set_xlabel(_("token the Extract query attends to"))
    ax.set_title(title or _("where Extract looks (each row sums to 1)"), fontsize=10)
    return figure_png(figure)


def heads_png(weights: np.ndarray, tokens: list[str], title: str = "", heads=None, max_cols: int = 4) -> bytes:
    """Heatmaps of several heads of one layer, weights [heads, seq, seq], at most max_cols side by side."""
    heads = list(range(weights.shape[0])) if heads is None else list(heads)
    rows, cols = grid_shape(len(heads), max_cols)
    size = 2.6 + 0.12 * len(tokens)
    figure, axes = new_figure(size * cols, size * rows, ncols=cols, nrows=rows)
    axes = np.atleast_1d(axes).ravel()
    for ax, head in zip(axes, heads):
        attention_heatmap(ax, weights[head], tokens, title=_("head {head}").format(head=head))
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


def _masks_png(panels, tokens) -> bytes:
    """Side by side: for each (allowed [n, n], title), which tokens (columns) each token (row) may read."""
    n = len(tokens)
    figure, axes = new_figure((1.2 + 0.5 * n) * len(panels), 1.6 + 0.25 * n, ncols=len(panels))
    for ax, (allowed, title) in zip(np.atleast_1d(axes), panels):
        ax.imshow(allowed, cmap="Greens", vmin=0, vmax=1.3)
        ax.set_xticks(range(n), tokens, rotation=90, fontsize=8)
        ax.set_yticks(range(n), tokens, fontsize=8)
        ax.set_xlabel("may attend to (key)")
        ax.set_title(title, fontsize=9)
    np.atleast_1d(axes)[0].set_ylabel("token (query)")
    return figure_png(figure)


def mask_png(seq_len: int = 8, tokens=None) -> bytes:
    """GPT's causal mask next to BERT's bidirectional one: who may attend to whom."""
    tokens = tokens or [f"t{i}" for i in range(seq_len)]
    n = len(tokens)
    return _masks_png([(np.tril(np.ones((n, n))), "GPT: causal (left only)"),
                       (np.ones((n, n)), "BERT: bidirectional")], tokens)


def direction_masks_png(tokens) -> bytes:
    """ELMo's "shallow" bidirectionality next to BERT's deep one (BERT §1, §3, Figure 3): ELMo runs a
    left-to-right and a right-to-left LSTM and concatenates their outputs, so inside each network a position reads
    one side only, and the two sides meet only at the very end; in BERT every layer reads both sides."""
    n = len(tokens)
    return _masks_png([(np.tril(np.ones((n, n))), "ELMo forward LSTM (and GPT):\nleft side only"),
                       (np.triu(np.ones((n, n))), "ELMo backward LSTM:\nright side only"),
                       (np.ones((n, n)), "BERT: both sides,\nin every layer")], tokens)


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


def head_role_shares(model, tokenizer, sentences) -> dict[str, np.ndarray]:
    """`head_roles` averaged over several sentences: {"previous" | "self" | "special" | "same_word": [heads]},
    one share per head (layer-major), for claims about what a model's heads do."""
    per_sentence = [head_roles(attention_maps(model, tokenizer, s)) for s in sentences]
    return {role: np.mean([[head[role] for head in heads] for heads in per_sentence], axis=0)
            for role in ("previous", "self", "special", "same_word")}


def _word_index(tokens, i):
    """Index of the word a token belongs to (WordPiece continuations '##x' join the word before)."""
    word = -1
    for j in range(i + 1):
        if not tokens[j].startswith("##"):
            word += 1
    return word
