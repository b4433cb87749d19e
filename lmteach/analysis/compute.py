"""Counting training compute, so two models can be compared "at the same compute" (ELECTRA §3.3, and the
BERT vs GPT-1 lesson). One counter for every family and head: `training_flops`.

It counts what PyTorch's own counter (`torch.utils.flop_counter.FlopCounterMode`) counts in a training step,
the matrix multiplies. An input of n rows times an [a, b] weight costs 2·n·a·b FLOPs forward (a multiply and an
add each) and twice that backward (the gradients of the input and of the weight): 6·n·a·b per step, the
"C ≈ 6·N·tokens" of Kaplan et al. (2020, §2.1). Attention adds its two products per layer, QKᵀ and the weighted
sum of V: 4·s·H per token forward, 12·s·H with backward (the fused GPU kernels recompute QKᵀ in backward, one
product more). Embedding lookups, biases, LayerNorms, activations and softmax are not counted.

How many rows each part sees:
    every token ............ the body (ALBERT's E->H projection, the L blocks), a causal LM's output layer,
                             ELECTRA's detector head
    picked positions ....... a masked LM's head (dense H->E and the V-wide decoder): in training lmteach scores
                             only the `mlm_fraction` of positions that were masked (BERT §3.1: 15%)
    one per sequence ....... the pooler, the NSP/SOP head, a classifier
ELECTRA runs both networks every step (§3.3): the generator (a masked LM, on its picked positions) and the
discriminator (on every token).
"""

from __future__ import annotations

from ..configs import ModelConfig
from ..models.transformer import HEADS, PRETRAINING_HEAD

MLM_FRACTION = 0.15
"""BERT §3.1: the share of positions a masked LM predicts, so the share its head is run on in training."""


def _body(cfg: ModelConfig, seq_len: int) -> float:
    """Forward FLOPs per token of the shared body."""
    h = cfg.hidden_size
    projection = 2 * cfg.embedding_size * h if cfg.embedding_size is not None else 0
    weights = 2 * (4 * h * h + 2 * h * cfg.ffn_size)  # query, key, value, output; FFN up and down
    attention = 4 * seq_len * h                         # QKᵀ and the weighted sum of V
    return projection + cfg.num_layers * (weights + attention)


def _mlm_head(cfg: ModelConfig) -> float:
    """Forward FLOPs per scored position of a masked-LM head: dense H->E, then the decoder E->V."""
    e = cfg.token_embedding_size
    return 2 * (cfg.hidden_size * e + e * cfg.vocab_size)


def flops_by_network(cfg: ModelConfig, batch_size: int, seq_len: int, head: str = "pretraining", *,
                     mlm_fraction: float = MLM_FRACTION) -> dict[str, float]:
    """Training FLOPs (forward + backward) of one step of `batch_size` sequences of `seq_len` tokens, per network:
    {"generator": ..., "discriminator": ...} for ELECTRA, {head: ...} otherwise.

    head: an `lt.build` head name ("pretraining" = the family's own); mlm_fraction: the share of positions a
    masked-LM head scores (BERT's 15% by default; ELECTRA's generator likewise)."""
    head = PRETRAINING_HEAD[cfg.family] if head == "pretraining" else head
    if head not in HEADS or head == "base":
        raise ValueError(f"unknown head {head!r} for counting training FLOPs; choose 'pretraining' or one of "
                         f"{[name for name in HEADS if name != 'base']}")
    h, v, sequences = cfg.hidden_size, cfg.vocab_size, batch_size
    tokens = batch_size * seq_len
    picked = mlm_fraction * tokens
    if head == "electra":
        generator = cfg.generator_config()
        return {"generator": 3 * (tokens * _body(generator, seq_len) + picked * _mlm_head(generator)),
                "discriminator": flops_by_network(cfg, batch_size, seq_len, "discriminator")["discriminator"]}
    trained = tokens * _body(cfg, seq_len)
    pooler = sequences * 2 * h * h if cfg.pooler else 0.0
    if head == "causal_lm":
        trained += tokens * 2 * h * v
    elif head == "masked_lm":
        trained += picked * _mlm_head(cfg)
    elif head == "mlm_pair":
        trained += picked * _mlm_head(cfg) + pooler + sequences * 2 * h * 2
        pooler = 0.0
    elif head == "discriminator":
        trained += tokens * 2 * (h * h + h)
    elif head == "classifier":
        trained += pooler + sequences * 2 * h * cfg.num_labels
        pooler = 0.0
    elif head == "gpt1_task":  # the auxiliary LM loss keeps the output layer on every token (GPT-1 §3.2)
        trained += tokens * 2 * h * v + sequences * 2 * h * cfg.num_labels
    # A pooler that no head reads still runs forward, but gets no backward pass.
    return {head: 3 * trained + pooler}


def training_flops(cfg: ModelConfig, steps: int, batch_size: int, seq_len: int, head: str = "pretraining", *,
                   mlm_fraction: float = MLM_FRACTION) -> float:
    """Total training FLOPs of `steps` steps of `batch_size` sequences of `seq_len` tokens (for ELECTRA the
    generator included); see `flops_by_network` for head and mlm_fraction."""
    return steps * sum(flops_by_network(cfg, batch_size, seq_len, head, mlm_fraction=mlm_fraction).values())


def steps_for_budget(cfg: ModelConfig, flops: float, batch_size: int, seq_len: int, head: str = "pretraining", *,
                     mlm_fraction: float = MLM_FRACTION) -> int:
    """How many training steps of this config fit in a FLOP budget (at least 1)."""
    one_step = training_flops(cfg, 1, batch_size, seq_len, head, mlm_fraction=mlm_fraction)
    return max(1, int(flops // one_step))
