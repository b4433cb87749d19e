"""A trailing moving average: a noisy mini-batch loss made readable. Used by `History.smoothed` and the plots."""

from __future__ import annotations

import math


def moving_average(values, window: int = 20) -> list[float]:
    """The mean of the last `window` values at each position (fewer at the start); same length as the input."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def final_loss(losses: list[float], last: int = 10) -> float:
    """Mean of the last `last` losses (inf if the run diverged): one number for "where did it end up"."""
    tail = losses[-last:]
    if not tail or any(not math.isfinite(x) for x in tail):
        return math.inf
    return sum(tail) / len(tail)
