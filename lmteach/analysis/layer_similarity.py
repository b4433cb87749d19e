"""Lesson 05 (ALBERT) measurements: how much each layer changes its input, and NSP vs SOP cross-evaluation.

    transitions = layer_transitions(model, batch)        # {"l2": [L], "cosine": [L]}: ALBERT's Figure 1
    wobble(transitions["l2"])                            # how irregular the curve is across layers
    docs = tokenized_documents(held_out.documents, tokenizer)
    nsp_set = pair_eval_set(docs, tokenizer, "nsp")      # fixed NSP / SOP batches from held-out scenes
    cross_evaluate({"NSP-trained": a, "SOP-trained": b}, {"NSP": nsp_set, "SOP": sop_set})   # ALBERT Table 5

ALBERT (Lan et al. 2020) §3.1 / Figure 1: with all parameters shared, "the transitions from layer to layer are
much smoother for ALBERT than for BERT": the L2 distance and the cosine similarity between a layer's input and
output embeddings oscillate less across depth. §3.1 and §4.6 / Table 5: a model trained on next-sentence prediction
(NSP) scores near chance on sentence-order prediction (SOP), while an SOP-trained model also does well on NSP.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from ..objectives import make_nsp_batch, make_sop_batch

# ---------------------------------------------------------------------------------------------------------------
# Layer-to-layer transitions (ALBERT Figure 1)
# ---------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def layer_transitions(model, batch: dict) -> dict[str, torch.Tensor]:
    """For every layer, how far its output embedding is from its input embedding, averaged over real tokens.

    batch: input_ids [b, s] (and optionally attention_mask, token_type_ids). Works for any lmteach model.
    Returns {"l2": [L] mean ||out - in||, "cosine": [L] mean cos(in, out), "degrees": [L] that angle}."""
    was_training = model.training
    model.eval()  # no dropout: the same text always gives the same numbers
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if batch.get(k) is not None}
    body = getattr(model, "body", model)
    states = body(**inputs, output_hidden_states=True).hidden_states  # L + 1 tensors [b, s, H]
    model.train(was_training)
    mask = inputs.get("attention_mask", torch.ones_like(inputs["input_ids"])).bool()  # [b, s]
    l2, cosine = [], []
    for before, after in zip(states[:-1], states[1:]):
        l2.append((after - before).norm(dim=-1)[mask].mean())
        cosine.append(F.cosine_similarity(before, after, dim=-1)[mask].mean())
    cosine = torch.stack(cosine)
    return {"l2": torch.stack(l2), "cosine": cosine, "degrees": torch.rad2deg(torch.acos(cosine.clamp(-1, 1)))}


def wobble(values: Sequence[float] | torch.Tensor, skip_first: bool = True) -> float:
    """How irregular a per-layer curve is: the standard deviation, across layers, of the factor by which each
    layer's change differs from the previous layer's (std of log(v[i+1] / v[i])).

    A curve that shrinks (or grows) by a steady factor, a smooth geometric curve, has wobble 0; one that zigzags
    has a large wobble. The factor ignores scale, so models whose embeddings differ in size compare fairly.
    skip_first: leave out layer 1, whose input in ALBERT is the E->H projection of the embeddings (not yet
    normalised to the hidden states' scale), so layer 1 moves it by a different kind of step."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if skip_first:
        values = values[1:]
    if len(values) < 3:
        raise ValueError("need at least three layers (after skipping the first) to measure how a curve wobbles")
    if (values <= 0).any():
        raise ValueError("wobble needs positive values (L2 distances or angles, not cosines near 1)")
    return float((values[1:] / values[:-1]).log().std())


def plot_transitions(axes, transitions_by_model: dict[str, dict], colors: dict[str, str] | None = None):
    """Two panels as in ALBERT's Figure 1: L2 distance (left) and cosine similarity (right) against the layer."""
    for name, transitions in transitions_by_model.items():
        color = (colors or {}).get(name)
        for ax, key, label in ((axes[0], "l2", "L2 distance"), (axes[1], "cosine", "cosine similarity")):
            values = transitions[key].tolist()
            ax.plot(range(1, len(values) + 1), values, "o-", color=color, label=name)
            ax.set_xlabel("layer")
            ax.set_ylabel(f"{label}, input vs output")
            ax.set_xticks(range(1, len(values) + 1))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)


# ---------------------------------------------------------------------------------------------------------------
# NSP vs SOP (ALBERT Table 5)
# ---------------------------------------------------------------------------------------------------------------


def tokenized_documents(documents: Sequence[Sequence[str]], tokenizer, max_segment_tokens: int = 60,
                        ) -> list[list[list[int]]]:
    """Text documents (lists of segments: speeches) as lists of token-id segments, ready for NSP/SOP pairs.
    Empty segments are dropped, long ones cut to `max_segment_tokens`; documents with < 2 segments are dropped."""
    out = []
    for document in documents:
        segments = [ids[:max_segment_tokens] for ids in (tokenizer.encode(text) for text in document) if ids]
        if len(segments) >= 2:
            out.append(segments)
    return out


def pair_eval_set(documents, tokenizer, task: str, size: int = 256, batch_size: int = 64, max_len: int = 64,
                  seed: int = 0) -> list[dict]:
    """A fixed evaluation set of `size` NSP or SOP pairs (half of each label on average), as padded batches
    {input_ids, token_type_ids, attention_mask, labels}. Use held-out documents: the model never saw them."""
    if task not in ("nsp", "sop"):
        raise ValueError(f"task must be 'nsp' or 'sop', got {task!r}")
    make = make_nsp_batch if task == "nsp" else make_sop_batch
    rng = random.Random(seed)
    batches = []
    for start in range(0, size, batch_size):
        batches.append(make(documents, min(batch_size, size - start), rng, max_len=max_len, cls_id=tokenizer.cls_id,
                            sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id))
    return batches


@torch.no_grad()
def pair_accuracy(model, batches: Sequence[dict]) -> float:
    """Accuracy of a MaskedLMWithPairHead's pair head (NSP or SOP, whichever it was trained on) on `batches`.
    Label 0 means IsNext for NSP and in-order for SOP, so a head trained on one task can be scored on the other."""
    was_training = model.training
    model.eval()
    right = total = 0
    for batch in batches:
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"])
        logits = out.sop_logits if out.sop_logits is not None else out.seq_relationship_logits
        right += int((logits.argmax(-1) == batch["labels"]).sum())
        total += len(batch["labels"])
    model.train(was_training)
    return right / total


def cross_evaluate(models: dict, eval_sets: dict) -> dict[str, dict[str, float]]:
    """Every model's pair-head accuracy on every evaluation set: {model name: {set name: accuracy}}.
    ALBERT's Table 5 at classroom scale: the NSP-trained and SOP-trained heads, each scored zero-shot on both."""
    return {name: {task: pair_accuracy(model, batches) for task, batches in eval_sets.items()}
            for name, model in models.items()}


def cross_table_html(results: dict[str, dict[str, float]], paper: dict[str, dict[str, float]] | None = None) -> str:
    """The cross-evaluation as an HTML table (accuracy in %), with the paper's numbers beside it if given."""
    tasks = list(next(iter(results.values())))
    head = "".join(f"<th>{t} accuracy</th>" + (f"<th>paper {t}</th>" if paper else "") for t in tasks)
    rows = []
    for name, scores in results.items():
        cells = "".join(f"<td>{100 * scores[t]:.1f}</td>" + (f"<td>{paper[name][t]:.1f}</td>" if paper else "")
                        for t in tasks)
        rows.append(f"<tr><th>{name}</th>{cells}</tr>")
    return f"<table class='lmteach-cross-eval'><tr><th>trained on</th>{head}</tr>{''.join(rows)}</table>"


# ALBERT Table 5 (ALBERT-base, intrinsic accuracy in %, trained on the row's task, scored on the column's).
ALBERT_TABLE5 = {"NSP-trained": {"NSP": 90.5, "SOP": 52.0}, "SOP-trained": {"NSP": 78.9, "SOP": 86.5}}
