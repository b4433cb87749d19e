"""Counting training compute, so two models can be compared "at the same compute" (ELECTRA §3.3, and the
BERT vs GPT-1 lesson).

Forward + backward of a transformer costs about 6 FLOPs per parameter per token (Kaplan et al. 2020, §2.1:
C ≈ 6·N·tokens, N = non-embedding parameters), plus attention's own score and mix products, 6·L·s·H per token
(forward 2·L·s·H for QKᵀ and the weighted sum, times 3 for backward). Embedding lookups are free; the output
layer (H×V) is a real matrix multiply and is counted.
"""

from __future__ import annotations

from ..configs import ModelConfig
from ..models.params import param_breakdown


def flops_per_token(cfg: ModelConfig, seq_len: int, output_layer: bool = True) -> float:
    """Training FLOPs (forward + backward) per token for one network of this config."""
    parts = param_breakdown(cfg, heads=False)
    matmul_params = sum(parts.values()) - parts["embeddings"] - parts["norms"]
    if cfg.embedding_size is not None:   # ALBERT/ELECTRA-small: the E->H projection is a real matmul
        matmul_params += cfg.embedding_size * cfg.hidden_size
    if output_layer:                     # the (tied) decoder H x V is a real matmul too
        matmul_params += cfg.token_embedding_size * cfg.vocab_size
    attention = 2 * cfg.num_layers * seq_len * cfg.hidden_size
    return 3 * (2 * matmul_params + attention)


def training_flops(cfg: ModelConfig, steps: int, batch_size: int, seq_len: int) -> float:
    """Total training FLOPs: steps × batch × seq tokens. For ELECTRA (cfg.family == "electra" with a
    generator_fraction), the generator's cost is added: both networks run on every step (ELECTRA §3.3)."""
    per_token = flops_per_token(cfg, seq_len, output_layer=cfg.family != "electra")
    if cfg.family == "electra" and cfg.generator_fraction is not None:
        per_token += flops_per_token(cfg.generator_config(), seq_len, output_layer=True)
    return per_token * steps * batch_size * seq_len


def steps_for_budget(cfg: ModelConfig, flops: float, batch_size: int, seq_len: int) -> int:
    """How many training steps of this config fit in a FLOP budget (at least 1)."""
    return max(1, int(flops // training_flops(cfg, 1, batch_size, seq_len)))
