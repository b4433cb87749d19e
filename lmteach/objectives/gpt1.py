"""GPT-1 fine-tuning (Radford et al. 2018, §3.2, §3.3 and Figure 1).

GPT-1 never changes the model's architecture for a new task. Instead it turns
every task's input into *one token sequence* ("traversal-style" input
transforms, §3.3), framed by learned special tokens:

* classification: ``Start text Extract``
* entailment:     ``Start premise Delim hypothesis Extract``
* similarity:     both orders, ``Start A Delim B Extract`` and ``Start B Delim A Extract``;
                  the two Extract hidden states are added (no natural order)
* multiple choice: ``Start context Delim answer_k Extract`` for each answer k;
                  one score per sequence, softmax over the answers

The hidden state at the Extract token feeds a new linear head. Fine-tuning also
keeps the language-modelling loss as an auxiliary term with weight λ = 0.5
(§3.2, Eq. 5): it "improves generalization" and speeds convergence.

Truncation rule used here: when a sequence is too long, the *longer* part is cut
one token at a time, from its left (its start), so the text right next to
Delim/Extract survives. The Start, Delim and Extract tokens are never cut.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..models.params import depth_of

AUXILIARY_LM_WEIGHT = 0.5
"""λ of GPT-1 §3.2: L3 = L2(task) + λ · L1(language model)."""
auxiliary_lm_weight = AUXILIARY_LM_WEIGHT  # lower-case alias used in the course notes

Tokens = Sequence[int]


# --------------------------------------------------------------------------
# Input transforms (§3.3, Figure 1 right)
# --------------------------------------------------------------------------


def _check_content(parts: Sequence[Tokens], reserved: dict[str, int]) -> None:
    for part in parts:
        for name, token_id in reserved.items():
            if token_id in part:
                raise ValueError(f"a text already contains the {name} token (id {token_id}); it is added by the transform")


def _truncate_left_longest_first(first: Tokens, second: Tokens, max_tokens: int) -> tuple[list[int], list[int]]:
    """Cut the start of the longer part until both fit in ``max_tokens`` (ties: cut ``first``)."""
    first, second = list(first), list(second)
    while len(first) + len(second) > max_tokens:
        if len(first) >= len(second):
            first.pop(0)
        else:
            second.pop(0)
    return first, second


def _single_sequence(text: Tokens, *, start_id: int, extract_id: int, max_len: int) -> list[int]:
    if max_len < 3:
        raise ValueError(f"max_len must be >= 3 (Start, Extract and one token), got {max_len}")
    text = list(text)[-(max_len - 2):] if len(text) > max_len - 2 else list(text)
    return [start_id, *text, extract_id]


def _pair_sequence(
    first: Tokens, second: Tokens, *, start_id: int, delim_id: int, extract_id: int, max_len: int
) -> list[int]:
    if max_len < 5:
        raise ValueError(f"max_len must be >= 5 (Start, Delim, Extract and one token per part), got {max_len}")
    first, second = _truncate_left_longest_first(first, second, max_len - 3)
    return [start_id, *first, delim_id, *second, extract_id]


def _pad(sequences: Sequence[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-pad to the longest; returns ``input_ids`` and ``attention_mask``, both ``[n, seq]``."""
    seq_len = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), seq_len), pad_id, dtype=torch.long)
    attention_mask = torch.zeros((len(sequences), seq_len), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)] = torch.tensor(sequence, dtype=torch.long)
        attention_mask[row, : len(sequence)] = 1
    return input_ids, attention_mask


def _finish(sequences: list[list[int]], group_shape: tuple[int, ...], pad_id: int, extract_id: int) -> dict[str, torch.Tensor]:
    if pad_id == extract_id:
        raise ValueError("pad_id must differ from extract_id, or the Extract position is ambiguous")
    if not sequences:
        raise ValueError("empty batch")
    input_ids, attention_mask = _pad(sequences, pad_id)
    seq_len = input_ids.shape[-1]
    input_ids = input_ids.view(*group_shape, seq_len)
    attention_mask = attention_mask.view(*group_shape, seq_len)
    return {
        "input_ids": input_ids,
        "attention_mask": attention_mask,
        "extract_positions": extract_positions(input_ids, extract_id),
    }


def classification_inputs(
    texts: Sequence[Tokens], *, start_id: int, extract_id: int, pad_id: int, max_len: int
) -> dict[str, torch.Tensor]:
    """``Start text Extract`` per text. ``input_ids``/``attention_mask`` ``[batch, seq]``, ``extract_positions [batch]``."""
    _check_content(texts, {"Start": start_id, "Extract": extract_id})
    sequences = [_single_sequence(t, start_id=start_id, extract_id=extract_id, max_len=max_len) for t in texts]
    return _finish(sequences, (len(sequences),), pad_id, extract_id)


def entailment_inputs(
    premises: Sequence[Tokens],
    hypotheses: Sequence[Tokens],
    *,
    start_id: int,
    delim_id: int,
    extract_id: int,
    pad_id: int,
    max_len: int,
) -> dict[str, torch.Tensor]:
    """``Start premise Delim hypothesis Extract``. Tensors ``[batch, seq]``, ``extract_positions [batch]``."""
    if len(premises) != len(hypotheses):
        raise ValueError(f"{len(premises)} premises but {len(hypotheses)} hypotheses")
    reserved = {"Start": start_id, "Delim": delim_id, "Extract": extract_id}
    _check_content([*premises, *hypotheses], reserved)
    sequences = [
        _pair_sequence(p, h, start_id=start_id, delim_id=delim_id, extract_id=extract_id, max_len=max_len)
        for p, h in zip(premises, hypotheses)
    ]
    return _finish(sequences, (len(sequences),), pad_id, extract_id)


def similarity_inputs(
    texts_a: Sequence[Tokens],
    texts_b: Sequence[Tokens],
    *,
    start_id: int,
    delim_id: int,
    extract_id: int,
    pad_id: int,
    max_len: int,
) -> dict[str, torch.Tensor]:
    """Both orders: ``[:, 0]`` is ``Start A Delim B Extract``, ``[:, 1]`` is ``Start B Delim A Extract``.

    Tensors ``[batch, 2, seq]``, ``extract_positions [batch, 2]``. The model adds
    the two Extract hidden states before its head, because similarity has no
    inherent order (§3.3 "Similarity"). Both orders hold the same truncated text.
    """
    if len(texts_a) != len(texts_b):
        raise ValueError(f"{len(texts_a)} texts_a but {len(texts_b)} texts_b")
    reserved = {"Start": start_id, "Delim": delim_id, "Extract": extract_id}
    _check_content([*texts_a, *texts_b], reserved)
    if max_len < 5:
        raise ValueError(f"max_len must be >= 5 (Start, Delim, Extract and one token per part), got {max_len}")
    sequences = []
    for a, b in zip(texts_a, texts_b):
        a, b = _truncate_left_longest_first(a, b, max_len - 3)
        sequences.append([start_id, *a, delim_id, *b, extract_id])
        sequences.append([start_id, *b, delim_id, *a, extract_id])
    return _finish(sequences, (len(texts_a), 2), pad_id, extract_id)


def multiple_choice_inputs(
    contexts: Sequence[Tokens],
    choices: Sequence[Sequence[Tokens]],
    *,
    start_id: int,
    delim_id: int,
    extract_id: int,
    pad_id: int,
    max_len: int,
) -> dict[str, torch.Tensor]:
    """``Start context Delim answer_k Extract`` for every answer k.

    ``choices[i]`` holds the answers for ``contexts[i]``; every question must
    have the same number of answers. Tensors ``[batch, n_choices, seq]``,
    ``extract_positions [batch, n_choices]``. The model scores each sequence
    and takes a softmax over the answers (§3.3 "Multiple Choice").
    """
    if len(contexts) != len(choices):
        raise ValueError(f"{len(contexts)} contexts but {len(choices)} lists of choices")
    n_choices = {len(c) for c in choices}
    if len(n_choices) != 1 or 0 in n_choices:
        raise ValueError(f"every question needs the same, non-zero number of choices, got {sorted(n_choices)}")
    reserved = {"Start": start_id, "Delim": delim_id, "Extract": extract_id}
    _check_content([*contexts, *(answer for c in choices for answer in c)], reserved)
    sequences = [
        _pair_sequence(context, answer, start_id=start_id, delim_id=delim_id, extract_id=extract_id, max_len=max_len)
        for context, answers in zip(contexts, choices)
        for answer in answers
    ]
    return _finish(sequences, (len(contexts), n_choices.pop()), pad_id, extract_id)


def extract_positions(input_ids: torch.Tensor, extract_id: int) -> torch.Tensor:
    """Index of the single Extract token in each sequence: ``[..., seq] -> [...]``.

    Raises ValueError if a sequence has no Extract token or more than one.
    """
    is_extract = input_ids == extract_id
    counts = is_extract.sum(dim=-1)
    if (counts != 1).any():
        bad = (counts != 1).nonzero().tolist()
        raise ValueError(
            f"every sequence needs exactly one Extract token (id {extract_id}); "
            f"sequences at {bad[:5]} have {[int(counts[tuple(i)]) for i in bad[:5]]}"
        )
    return is_extract.long().argmax(dim=-1)


# --------------------------------------------------------------------------
# Layer-wise learning rates
# --------------------------------------------------------------------------

def layerwise_lr_groups(
    model: nn.Module,
    base_lr: float,
    decay: float = 0.8,
    weight_decay: float = 0.01,
    num_layers: int | None = None,
) -> list[dict]:
    """Optimizer parameter groups with a learning rate that shrinks towards the input.

    head (output heads, pooler, final norm): ``base_lr``; layer i (0 = bottom):
    ``base_lr * decay ** (num_layers - i)``; embeddings (with ALBERT's E->H projection):
    ``base_lr * decay ** (num_layers + 1)``. Which depth a parameter has is
    :func:`lmteach.models.params.depth_of`, the rule every per-layer view uses.

    Why: the lower layers hold general features learned in pretraining; moving
    them less keeps that knowledge (ULMFiT's "discriminative fine-tuning",
    Howard & Ruder 2018 §3.2; ELECTRA uses decay 0.8 for its Base model,
    Clark et al. 2020 Appendix A). GPT-1 itself used one learning rate.

    Weight decay goes only on matrices (``dim >= 2``), not on biases or
    LayerNorm gains, following GPT-1 §4.1 ("all non bias or gain weights").
    Parameters with ``requires_grad=False`` are left out. A parameter shared by
    several layers (ALBERT) appears once, under the name ``named_parameters()``
    gives it, so layer-wise decay means little for ALBERT.

    Each group has ``params``, ``lr``, ``weight_decay`` and, for display,
    ``name`` (e.g. ``"layers.3"``), ``depth`` (steps of decay from the top:
    head 0, layer i ``num_layers - i``, embeddings ``num_layers + 1``) and
    ``param_names``. Groups are ordered from the top down.
    """
    if base_lr <= 0:
        raise ValueError(f"base_lr must be positive, got {base_lr}")
    if not 0 < decay <= 1:
        raise ValueError(f"decay must be in (0, 1], got {decay}")
    named = [(name, p) for name, p in model.named_parameters() if p.requires_grad]
    depths = {name: depth_of(name) for name, _ in named}
    layer_indices = [d for d in depths.values() if isinstance(d, int)]
    if num_layers is None:
        num_layers = max(layer_indices) + 1 if layer_indices else 0
    elif layer_indices and max(layer_indices) >= num_layers:
        raise ValueError(f"found parameters of layer {max(layer_indices)} but num_layers={num_layers}")

    def depth_number(depth: str | int) -> int:
        if depth == "head":
            return 0
        if depth == "embeddings":
            return num_layers + 1
        return num_layers - depth

    groups: dict[tuple[int, bool], dict] = {}
    for name, param in named:
        depth = depths[name]
        steps = depth_number(depth)
        decays = param.dim() >= 2
        key = (steps, decays)
        if key not in groups:
            label = f"layers.{depth}" if isinstance(depth, int) else depth
            groups[key] = {
                "params": [],
                "param_names": [],
                "lr": base_lr * decay**steps,
                "weight_decay": weight_decay if decays else 0.0,
                "name": label if decays else f"{label} (no decay)",
                "depth": steps,
            }
        groups[key]["params"].append(param)
        groups[key]["param_names"].append(name)
    return [groups[key] for key in sorted(groups, key=lambda k: (k[0], not k[1]))]


# --------------------------------------------------------------------------
# Fine-tuning loss (§3.2, Eq. 5)
# --------------------------------------------------------------------------


def causal_lm_loss(lm_logits: torch.Tensor, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
    """Next-token cross-entropy: position t predicts token t+1; padding is not a target.

    lm_logits ``[..., seq, vocab]``, input_ids and attention_mask ``[..., seq]``.
    """
    vocab = lm_logits.shape[-1]
    predictions = lm_logits[..., :-1, :].reshape(-1, vocab).float()
    targets = input_ids[..., 1:].reshape(-1).long()
    if attention_mask is not None:
        keep = attention_mask[..., 1:].reshape(-1).bool()
        targets = targets.masked_fill(~keep, -100)
    return F.cross_entropy(predictions, targets, ignore_index=-100)


def gpt1_loss_parts(
    task_logits: torch.Tensor,
    labels: torch.Tensor,
    lm_logits: torch.Tensor | None,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    lm_weight: float | None = None,
) -> dict[str, torch.Tensor]:
    """``{"loss", "task_loss", "lm_loss"}`` where loss = task CE + λ · causal-LM loss (§3.2, Eq. 5).

    task_logits ``[batch, n_classes]`` (for multiple choice: ``[batch, n_choices]``),
    labels ``[batch]`` (-100 ignored), lm_logits ``[..., seq, vocab]`` matching
    input_ids ``[..., seq]`` (e.g. ``[batch, 2, seq]`` for similarity).
    λ is ``lm_weight``, by default :data:`AUXILIARY_LM_WEIGHT` (0.5, as in the paper).
    With ``lm_logits=None`` or λ = 0 only the task loss is used.
    This is the loss `lmteach.models.Gpt1ForTask` computes when given labels.
    """
    lm_weight = AUXILIARY_LM_WEIGHT if lm_weight is None else lm_weight
    task_loss = F.cross_entropy(task_logits.float(), labels.reshape(-1).long(), ignore_index=-100)
    if lm_logits is None or lm_weight == 0:
        lm_loss = task_loss.new_zeros(())
    else:
        lm_loss = causal_lm_loss(lm_logits, input_ids, attention_mask)
    return {"loss": task_loss + lm_weight * lm_loss, "task_loss": task_loss, "lm_loss": lm_loss}


def gpt1_task_loss(
    task_logits: torch.Tensor,
    labels: torch.Tensor,
    lm_logits: torch.Tensor | None,
    input_ids: torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    lm_weight: float | None = None,
) -> torch.Tensor:
    """GPT-1's fine-tuning objective L3 = L2 + λ·L1 (§3.2, Eq. 5) as one scalar; see :func:`gpt1_loss_parts`."""
    return gpt1_loss_parts(task_logits, labels, lm_logits, input_ids, attention_mask, lm_weight)["loss"]
