"""BERT's masked language model corruption (Devlin et al. 2019, §3.1, Appendix C.2).

Pick about 15% of the real (non-special, non-padding) tokens of each sequence.
The model must predict the original token at each picked position. Of the picked
positions, 80% are replaced by [MASK], 10% by a random token and 10% are left
unchanged (Table 8 of the paper studies other mixes). The random and unchanged
cases exist because [MASK] never appears at fine-tuning time: the model must
keep a good representation of *every* input token, not only of [MASK].

How many positions are picked
-----------------------------
We pick exactly ``max(1, round(rate * n_eligible))`` positions per sequence, as
the original BERT data script does (``create_pretraining_data.py``:
``num_to_predict = max(1, int(round(len(tokens) * masked_lm_prob))``). Hugging
Face's collator instead flips a coin per position (Bernoulli); with an exact
count a student sees the same number of picks every time, and no sequence ends
up with zero picks. Zero picks would matter: the loss is an average over picked
positions, and an average over nothing is NaN. So whenever a sequence has at
least one eligible token, at least one position is picked.

What happens to a picked position (mask / random / keep) is decided by an
independent draw per position, again as in the original script.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass

import torch

IGNORE_INDEX = -100
"""Label value that PyTorch's cross-entropy (and Hugging Face) skip."""


class Fate(enum.IntEnum):
    """What happened to each position; stored in ``MaskedBatch.fate``.

    A widget can colour a position by ``Fate(value).name``.
    """

    SPECIAL = -1  # [CLS], [SEP], padding ...: never eligible for selection
    NOT_SELECTED = 0  # a real token that was not picked this time
    MASKED = 1  # picked, replaced by [MASK]
    RANDOM = 2  # picked, replaced by a random (non-special) token
    KEPT = 3  # picked, left unchanged (but still predicted)


@dataclass
class MaskedBatch:
    """Result of :func:`mask_tokens`. All tensors are ``[batch, seq]``.

    input_ids: the corrupted ids to feed to the model.
    labels:    original id at picked positions, ``-100`` elsewhere.
    fate:      a :class:`Fate` value per position.
    """

    input_ids: torch.Tensor
    labels: torch.Tensor
    fate: torch.Tensor

    @property
    def selected(self) -> torch.Tensor:
        """Bool ``[batch, seq]``: positions the model is asked to predict."""
        return self.labels != IGNORE_INDEX

    @property
    def eligible(self) -> torch.Tensor:
        """Bool ``[batch, seq]``: positions that could have been picked."""
        return self.fate != Fate.SPECIAL


def _as_id_tensor(ids: Iterable[int] | torch.Tensor | None) -> torch.Tensor:
    if ids is None:
        return torch.empty(0, dtype=torch.long)
    if isinstance(ids, torch.Tensor):
        return ids.flatten().long().cpu()
    return torch.tensor(sorted(set(int(i) for i in ids)), dtype=torch.long)


def _check_fractions(rate: float, mask_fraction: float, random_fraction: float) -> None:
    if not 0.0 < rate <= 1.0:
        raise ValueError(f"rate must be in (0, 1], got {rate}")
    for name, value in (("mask_fraction", mask_fraction), ("random_fraction", random_fraction)):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    if mask_fraction + random_fraction > 1.0 + 1e-9:
        raise ValueError(
            "mask_fraction + random_fraction must be <= 1 (the rest is kept unchanged), "
            f"got {mask_fraction} + {random_fraction} = {mask_fraction + random_fraction}"
        )


def number_to_select(n_eligible: int, rate: float) -> int:
    """How many positions :func:`mask_tokens` picks in a sequence with ``n_eligible`` real tokens.

    ``max(1, round(rate * n_eligible))`` (Python's round: halves go to the even number).
    """
    if n_eligible <= 0:
        return 0
    return min(n_eligible, max(1, round(rate * n_eligible)))


def expected_counts(
    n_eligible: int, rate: float = 0.15, mask_fraction: float = 0.8, random_fraction: float = 0.1
) -> dict[str, float]:
    """Expected number of positions of each fate in one sequence.

    ``selected`` is exact (see the module docstring); the split of the picked
    positions into masked / random / kept is an expectation. With whole-word
    masking the number of picked pieces is only approximately ``selected``.
    """
    _check_fractions(rate, mask_fraction, random_fraction)
    if n_eligible < 0:
        raise ValueError(f"n_eligible must be >= 0, got {n_eligible}")
    selected = number_to_select(n_eligible, rate)
    keep_fraction = max(0.0, 1.0 - mask_fraction - random_fraction)
    return {
        "eligible": float(n_eligible),
        "selected": float(selected),
        "masked": selected * mask_fraction,
        "random": selected * random_fraction,
        "kept": selected * keep_fraction,
        "not_selected": float(n_eligible - selected),
    }


def _select_tokens(eligible: torch.Tensor, rate: float, generator: torch.Generator | None) -> torch.Tensor:
    """Pick exactly ``number_to_select`` eligible positions per row. Bool ``[batch, seq]``."""
    # Give every eligible position a random key in [0, 1) and ineligible ones 2.0,
    # then take the k smallest keys of each row: a uniform random k-subset.
    keys = torch.rand(eligible.shape, generator=generator)
    keys = keys.masked_fill(~eligible, 2.0)
    rank = keys.argsort(dim=1).argsort(dim=1)  # rank[b, i] = position of i in sorted order
    n_eligible = eligible.sum(dim=1)
    k = torch.tensor([number_to_select(n, rate) for n in n_eligible.tolist()])
    return (rank < k[:, None]) & eligible


def _select_whole_words(
    eligible: torch.Tensor, word_starts: torch.Tensor, rate: float, generator: torch.Generator | None
) -> torch.Tensor:
    """Whole-word masking: pick random words until about ``rate`` of the pieces are picked.

    A word is an eligible position with ``word_starts`` True followed by the
    eligible positions with ``word_starts`` False (its "##" pieces). Like the
    original BERT script, a word that would overshoot the budget is skipped,
    except that the first word is always taken so no sequence has zero picks.
    """
    selected = torch.zeros_like(eligible)
    eligible_rows, start_rows = eligible.tolist(), word_starts.tolist()  # plain lists: fast to loop over
    for row, (is_eligible, is_start) in enumerate(zip(eligible_rows, start_rows)):
        words: list[list[int]] = []
        for pos, ok in enumerate(is_eligible):
            if not ok:
                continue
            continues_word = pos > 0 and not is_start[pos] and is_eligible[pos - 1]
            if continues_word:
                words[-1].append(pos)
            else:
                words.append([pos])
        budget = number_to_select(sum(is_eligible), rate)
        picked = 0
        for word_index in torch.randperm(len(words), generator=generator).tolist():
            word = words[word_index]
            if picked == 0 or picked + len(word) <= budget:
                selected[row, word] = True
                picked += len(word)
            if picked >= budget:
                break
    return selected


def mask_tokens(
    input_ids: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Iterable[int] | torch.Tensor,
    rate: float = 0.15,
    mask_fraction: float = 0.8,
    random_fraction: float = 0.1,
    word_starts: torch.Tensor | None = None,
    attention_mask: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> MaskedBatch:
    """Corrupt ``input_ids [batch, seq]`` for BERT's masked-LM objective.

    special_ids: ids never picked (and never used as random replacements),
        e.g. [CLS], [SEP], [PAD], [MASK], [UNK]. ``mask_id`` is never used as a
        random replacement even if it is missing here.
    word_starts: optional bool ``[batch, seq]``; True where a word begins. If
        given, whole words are picked and all their pieces are masked together.
    attention_mask: optional ``[batch, seq]``, 0 at padding (never picked).
    generator: a ``torch.Generator`` for reproducible draws.

    A random replacement may by chance equal the original token; its fate is
    still ``Fate.RANDOM``.
    """
    _check_fractions(rate, mask_fraction, random_fraction)
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must be [batch, seq], got shape {tuple(input_ids.shape)}")
    if vocab_size <= 0:
        raise ValueError(f"vocab_size must be positive, got {vocab_size}")
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id must be in [0, vocab_size={vocab_size}), got {mask_id}")
    # Draws come from a CPU generator, so the same seed gives the same masks on every device; the result goes
    # back to the input's device (masking is cheap next to the model).
    device = input_ids.device
    input_ids = input_ids.long().cpu()
    attention_mask = attention_mask.cpu() if attention_mask is not None else None
    word_starts = word_starts.cpu() if word_starts is not None else None
    special = _as_id_tensor(special_ids)

    eligible = ~torch.isin(input_ids, special)
    if attention_mask is not None:
        if attention_mask.shape != input_ids.shape:
            raise ValueError("attention_mask must have the same shape as input_ids")
        eligible &= attention_mask.bool()

    if word_starts is None:
        selected = _select_tokens(eligible, rate, generator)
    else:
        if word_starts.shape != input_ids.shape:
            raise ValueError("word_starts must have the same shape as input_ids")
        selected = _select_whole_words(eligible, word_starts.bool(), rate, generator)

    # One independent draw per picked position decides its fate (Appendix C.2).
    draw = torch.rand(input_ids.shape, generator=generator)
    to_mask = selected & (draw < mask_fraction)
    to_random = selected & (draw >= mask_fraction) & (draw < mask_fraction + random_fraction)
    to_keep = selected & ~to_mask & ~to_random

    # Random replacements come only from ordinary tokens: a random [CLS] or [PAD]
    # in the middle of a sentence would teach the model nothing useful.
    allowed = torch.ones(vocab_size, dtype=torch.bool)
    allowed[special[(special >= 0) & (special < vocab_size)]] = False
    allowed[mask_id] = False
    ordinary_ids = allowed.nonzero().squeeze(1)
    if random_fraction > 0 and len(ordinary_ids) == 0:
        raise ValueError("random_fraction > 0 but every id in the vocabulary is special")
    if len(ordinary_ids) > 0:
        random_index = torch.randint(len(ordinary_ids), input_ids.shape, generator=generator)
        random_tokens = ordinary_ids[random_index]
    else:
        random_tokens = input_ids

    corrupted = input_ids.clone()
    corrupted[to_mask] = mask_id
    corrupted[to_random] = random_tokens[to_random]

    labels = torch.where(selected, input_ids, torch.full_like(input_ids, IGNORE_INDEX))

    fate = torch.full_like(input_ids, int(Fate.SPECIAL))
    fate[eligible] = int(Fate.NOT_SELECTED)
    fate[to_mask] = int(Fate.MASKED)
    fate[to_random] = int(Fate.RANDOM)
    fate[to_keep] = int(Fate.KEPT)
    return MaskedBatch(input_ids=corrupted.to(device), labels=labels.to(device), fate=fate.to(device))
