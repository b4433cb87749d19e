"""Training: the loop (Trainer), learning-rate schedules, batch samplers, checkpoints, DDP, generation.

    from lmteach.training import Trainer, causal_lm_batches, save_checkpoint, load_checkpoint
"""
from .batches import (causal_lm_batches, electra_loss_fn, masked_lm_batches, plain_batches, step_generator,
                      step_seed, tokenized_documents)
from .checkpoint import (CheckpointMismatch, load_checkpoint, load_optimizer_state, load_weights, read_info,
                         save_checkpoint)
from .schedules import SCHEDULES, lr_at, lr_curve, lr_multiplier
from .trainer import History, Trainer, TrainingDiverged, layer_of, pick_device, weight_decay_groups

__all__ = ["Trainer", "History", "TrainingDiverged", "causal_lm_batches", "masked_lm_batches", "plain_batches",
           "tokenized_documents", "electra_loss_fn", "step_seed", "step_generator", "save_checkpoint", "load_checkpoint", "load_weights",
           "load_optimizer_state", "read_info", "CheckpointMismatch", "lr_at", "lr_multiplier", "lr_curve",
           "SCHEDULES", "layer_of", "pick_device", "weight_decay_groups", "sample", "fill_mask"]


def __getattr__(name):
    if name in ("sample", "fill_mask"):
        from . import generate
        return getattr(generate, name)
    raise AttributeError(f"module 'lmteach.training' has no attribute {name!r}")
