"""Parameter accounting without allocating any weights (PyTorch's meta device).

    >>> lt.count_params(lt.configs.bert("base"))          # 109,482,240, as Hugging Face's BertModel
    >>> lt.param_breakdown(lt.configs.albert("base"))      # {'embeddings': ..., 'attention': ..., ...}
"""

from __future__ import annotations

import torch
from torch import nn

from ..configs import ModelConfig
from .transformer import build

PARTS = ("embeddings", "attention", "feed_forward", "norms", "pooler", "heads")


def _meta_model(cfg: ModelConfig, heads: bool) -> nn.Module:
    with torch.device("meta"):
        # heads=False counts what Hugging Face's base class counts; for ELECTRA that is the discriminator's body.
        return build(cfg, head="pretraining" if heads else "base")


def _part_of(name: str) -> str:
    """Which part of the model a parameter belongs to, from its name."""
    if "norm" in name and (".layers." in f".{name}" or name.startswith(("body.final_norm", "final_norm"))
                           or "embeddings.norm" in name):
        return "norms"
    if "embeddings." in name or "embedding_projection" in name:
        return "embeddings"
    if ".attention." in f".{name}":
        return "attention"
    if ".feed_forward." in f".{name}":
        return "feed_forward"
    if "pooler" in name:
        return "pooler"
    return "heads"


def param_breakdown(cfg_or_model: ModelConfig | nn.Module, heads: bool = False) -> dict[str, int]:
    """Parameters per part: embeddings (incl. ALBERT's E->H projection), attention, feed_forward, norms,
    pooler, heads. Shared parameters (ALBERT, tied decoders) are counted once."""
    model = _meta_model(cfg_or_model, heads) if isinstance(cfg_or_model, ModelConfig) else cfg_or_model
    counts = dict.fromkeys(PARTS, 0)
    for name, parameter in model.named_parameters():  # named_parameters() yields a shared tensor once
        counts[_part_of(name)] += parameter.numel()
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
