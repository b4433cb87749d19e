"""Parameter accounting without allocating any weights (PyTorch's meta device), and the one rule for which
layer a parameter belongs to.

    >>> lt.count_params(lt.configs.bert("base"))          # 109,482,240, as Hugging Face's BertModel
    >>> lt.param_breakdown(lt.configs.albert("base"))      # {'embeddings': ..., 'attention': ..., ...}
    >>> depth_of("body.layers.3.attention.query.weight")   # 3
"""

from __future__ import annotations

import torch
from torch import nn

from ..configs import ModelConfig

PARTS = ("embeddings", "attention", "feed_forward", "norms", "pooler", "heads")


def depth_of(name: str) -> int | str:
    """Which depth of the network a parameter belongs to, from its name: the block index i for
    "...layers.{i}...", "embeddings" for the embedding tables, their LayerNorm and ALBERT's E->H projection
    (part of the factorized embedding, ALBERT §3.1), else "head" (final norm, pooler, output heads).

    The one rule behind every per-layer view: gradient norms per layer, layer-wise learning rates, the
    parameter breakdown, how far fine-tuning moved each layer."""
    words = name.split(".")
    for word, index in zip(words, words[1:]):
        if word == "layers" and index.isdigit():
            return int(index)
    if "embeddings" in words or "embedding_projection" in words:
        return "embeddings"
    return "head"


def part_of(name: str) -> str:
    """What kind of parameter this is, for `param_breakdown`: embeddings, attention, feed_forward, norms (the
    body's LayerNorms), pooler or heads. Which depth it belongs to is `depth_of`'s call."""
    depth, words = depth_of(name), name.split(".")
    module = words[-2] if len(words) > 1 else ""
    if module.endswith("norm") and (depth != "head" or module == "final_norm"):
        return "norms"
    if depth == "embeddings":
        return "embeddings"
    if depth != "head":
        return "attention" if "attention" in words else "feed_forward"
    return "pooler" if "pooler" in words else "heads"


def _meta_model(cfg: ModelConfig, heads: bool) -> nn.Module:
    from .transformer import build  # imported here: transformer.py needs objectives that need depth_of

    with torch.device("meta"):
        # heads=False counts what Hugging Face's base class counts; for ELECTRA that is the discriminator's body.
        return build(cfg, head="pretraining" if heads else "base")


def param_breakdown(cfg_or_model: ModelConfig | nn.Module, heads: bool = False) -> dict[str, int]:
    """Parameters per part: embeddings (incl. ALBERT's E->H projection), attention, feed_forward, norms,
    pooler, heads. Shared parameters (ALBERT, tied decoders) are counted once."""
    model = _meta_model(cfg_or_model, heads) if isinstance(cfg_or_model, ModelConfig) else cfg_or_model
    counts = dict.fromkeys(PARTS, 0)
    for name, parameter in model.named_parameters():  # named_parameters() yields a shared tensor once
        counts[part_of(name)] += parameter.numel()
    return counts


def count_params(cfg_or_model: ModelConfig | nn.Module, heads: bool = False) -> int:
    """Exact number of parameters. For a config, heads=False counts the body as Hugging Face's base model
    class does (BertModel, GPT2Model, AlbertModel, ElectraModel); heads=True the whole pretraining model."""
    return sum(param_breakdown(cfg_or_model, heads).values())


# ALBERT (Lan et al. 2020) Table 3 (E and all-shared vs not-shared) and Table 4 (what is shared), ALBERT-base,
# in millions, as printed in the paper.
ALBERT_PAPER_PARAMS = {
    # (embedding_size, sharing): millions
    (64, "none"): 87, (128, "none"): 89, (256, "none"): 93, (768, "none"): 108,
    (64, "all"): 10, (128, "all"): 12, (256, "all"): 16, (768, "all"): 31,
    (768, "attention"): 83, (768, "ffn"): 57, (128, "attention"): 64, (128, "ffn"): 38,
}


def albert_paper_count(cfg: ModelConfig) -> int:
    """Parameters as the ALBERT paper's Tables 3-4 count them: the body without the pooler, and with no E->H
    projection when E == H (then none is needed; Hugging Face still builds one). Within 1M of every entry."""
    parts = param_breakdown(cfg, heads=False)
    count = sum(parts.values()) - parts["pooler"]
    if cfg.embedding_size == cfg.hidden_size:
        count -= cfg.embedding_size * cfg.hidden_size + cfg.hidden_size
    return count
