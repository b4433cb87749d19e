"""Learning-rate schedules as pure functions of the step: easy to plot, test and resume.

    lr_at(step, base_lr=1e-3, total_steps=2000, warmup_steps=100, schedule="cosine", min_lr_ratio=0.1)

Warmup: the lr climbs linearly from base_lr / warmup_steps to base_lr over the first `warmup_steps` steps
(Adam's early moment estimates are noisy; big steps then can blow a fresh transformer up).
After warmup it decays to `min_lr_ratio * base_lr` at `total_steps`:
    "cosine"   half a cosine wave (nanoGPT, GPT-3)
    "linear"   a straight line (BERT, GPT-1's fine-tuning)
    "constant" stays at base_lr
"""

from __future__ import annotations

import math

SCHEDULES = ("cosine", "linear", "constant")


def lr_multiplier(step: int, *, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine",
                  min_lr_ratio: float = 0.1) -> float:
    """The factor in (0, 1] that multiplies the base learning rate at `step` (0-based)."""
    if schedule not in SCHEDULES:
        raise ValueError(f"unknown schedule {schedule!r}; choose one of {list(SCHEDULES)}")
    if warmup_steps < 0 or total_steps < 1:
        raise ValueError(f"need warmup_steps >= 0 and total_steps >= 1, got {warmup_steps} and {total_steps}")
    if not 0.0 <= min_lr_ratio <= 1.0:
        raise ValueError(f"min_lr_ratio must be in [0, 1], got {min_lr_ratio}")
    if step < warmup_steps:
        return (step + 1) / warmup_steps
    if schedule == "constant":
        return 1.0
    decay_steps = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / decay_steps)  # 0 right after warmup, 1 at total_steps
    if schedule == "linear":
        shape = 1.0 - progress
    else:
        shape = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_lr_ratio + (1.0 - min_lr_ratio) * shape


def lr_at(step: int, *, base_lr: float, total_steps: int, warmup_steps: int = 0, schedule: str = "cosine",
          min_lr_ratio: float = 0.1) -> float:
    """The learning rate at `step` (0-based): base_lr times `lr_multiplier`."""
    return base_lr * lr_multiplier(step, total_steps=total_steps, warmup_steps=warmup_steps, schedule=schedule,
                                   min_lr_ratio=min_lr_ratio)


def lr_curve(total_steps: int, **kwargs) -> list[float]:
    """lr_at for every step, e.g. to plot a schedule before training."""
    return [lr_at(step, total_steps=total_steps, **kwargs) for step in range(total_steps)]
