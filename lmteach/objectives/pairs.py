"""Sentence-pair pretraining objectives: BERT's NSP and ALBERT's SOP.

Both build ``[CLS] A [SEP] B [SEP]`` and ask the model a yes/no question about
the pair, read off the [CLS] position.

* Next sentence prediction (Devlin et al. 2019, §3.1 "Task #2"): half the time
  B is the segment that really follows A (IsNext, label 0), half the time B is
  a random segment from another document (NotNext, label 1). Labels follow
  Hugging Face's ``next_sentence_label``.
* Sentence order prediction (Lan et al. 2020, ALBERT §3.1): A and B are always
  two consecutive segments of the same document; half the time in order
  (label 0), half the time swapped (label 1). ALBERT's argument: NotNext pairs
  can be spotted by *topic* alone (the two documents are about different
  things), so NSP is too easy; SOP forces the model to learn coherence.

Documents are lists of segments; a segment is a list of token ids. BERT's segments are "spans of
contiguous text" packed up to the sequence length, not single sentences (§3.1, Appendix A.2): a one-line
speech says little about topic or order. `pack_segments` packs a scene's speeches into such spans.
"""

from __future__ import annotations

import random
from collections.abc import Sequence

import torch

Document = Sequence[Sequence[int]]

NSP_IS_NEXT, NSP_NOT_NEXT = 0, 1
SOP_IN_ORDER, SOP_SWAPPED = 0, 1


def truncate_pair(a: Sequence[int], b: Sequence[int], max_tokens: int,
                  rng: random.Random | None = None) -> tuple[list[int], list[int]]:
    """Drop tokens from the longer segment until ``len(a) + len(b) <= max_tokens``.

    Longest-first, like BERT's ``truncate_seq_pair``; on a tie B is cut (as in
    Hugging Face's "longest_first"). Both keep at least one token if max_tokens >= 2.
    Without ``rng`` tokens go from the end; with it each one goes from the front or the end at random, as in
    BERT's ``create_pretraining_data.py`` ("to add more randomness and avoid biases"): always cutting the end
    would leave a clue to the order of the two segments.
    """
    a, b = list(a), list(b)
    while len(a) + len(b) > max_tokens:
        longer = a if len(a) > len(b) else b
        if rng is not None and rng.random() < 0.5:
            del longer[0]
        else:
            longer.pop()
    return a, b


def pack_segments(segments: Sequence[Sequence[int]], max_tokens: int) -> list[list[int]]:
    """Join consecutive segments (speeches) into spans of up to ``max_tokens`` tokens, in order.

    Greedy: a span takes whole segments while they fit; a segment longer than ``max_tokens`` is a span of its
    own (``build_pair`` truncates it). Empty segments are skipped."""
    if max_tokens < 1:
        raise ValueError(f"max_tokens must be positive, got {max_tokens}")
    spans: list[list[int]] = []
    current: list[int] = []
    for segment in segments:
        if not segment:
            continue
        if current and len(current) + len(segment) > max_tokens:
            spans.append(current)
            current = []
        current = current + list(segment)
    if current:
        spans.append(current)
    return spans


def build_pair(a: Sequence[int], b: Sequence[int], *, max_len: int, cls_id: int, sep_id: int,
               rng: random.Random | None = None) -> dict[str, list[int]]:
    """``[CLS] A [SEP] B [SEP]`` with segment ids 0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``.
    Too long a pair is cut by `truncate_pair` (at random ends if ``rng`` is given)."""
    if max_len < 5:
        raise ValueError(f"max_len must be >= 5 ([CLS], [SEP], [SEP] and one token per segment), got {max_len}")
    if len(a) == 0 or len(b) == 0:
        raise ValueError("both segments of a pair must be non-empty")
    a, b = truncate_pair(a, b, max_len - 3, rng)
    input_ids = [cls_id, *a, sep_id, *b, sep_id]
    token_type_ids = [0] * (len(a) + 2) + [1] * (len(b) + 1)
    return {"input_ids": input_ids, "token_type_ids": token_type_ids}


def _check_has_next(documents: Sequence[Document], doc_index: int, seg_index: int) -> None:
    document = documents[doc_index]
    if not 0 <= seg_index < len(document) - 1:
        raise ValueError(
            f"seg_index must be in [0, {len(document) - 1}) for document {doc_index} "
            f"({len(document)} segments): segment seg_index + 1 must exist"
        )


def make_nsp_example(
    documents: Sequence[Document],
    doc_index: int,
    seg_index: int,
    rng: random.Random,
    max_len: int,
    cls_id: int,
    sep_id: int,
    groups: Sequence | None = None,
    random_truncation: bool = False,
) -> dict:
    """One NSP example with A = ``documents[doc_index][seg_index]``.

    Returns lists ``input_ids``, ``token_type_ids`` and the int ``labels``
    (0 = IsNext, 1 = NotNext, each with probability 1/2).
    groups: one label per document (e.g. its play); NotNext segments then come from another group, as BERT
    drew them from another document (a scene of the same play would share its characters and topic).
    random_truncation: cut over-long pairs at random ends (`truncate_pair`).
    """
    _check_has_next(documents, doc_index, seg_index)
    first = documents[doc_index][seg_index]
    if rng.random() < 0.5:
        second, label = documents[doc_index][seg_index + 1], NSP_IS_NEXT
    else:
        # A random segment of a *different* document (uniform over documents,
        # then over that document's segments).
        others = [i for i, doc in enumerate(documents) if i != doc_index and len(doc) > 0
                  and (groups is None or groups[i] != groups[doc_index])]
        if not others:
            raise ValueError("NSP needs at least two non-empty documents (of different groups, if groups are "
                             "given) to draw NotNext segments from")
        other = documents[rng.choice(others)]
        second, label = other[rng.randrange(len(other))], NSP_NOT_NEXT
    example = build_pair(first, second, max_len=max_len, cls_id=cls_id, sep_id=sep_id,
                         rng=rng if random_truncation else None)
    example["labels"] = label
    return example


def make_sop_example(
    documents: Sequence[Document],
    doc_index: int,
    seg_index: int,
    rng: random.Random,
    max_len: int,
    cls_id: int,
    sep_id: int,
    groups: Sequence | None = None,
    random_truncation: bool = False,
) -> dict:
    """One SOP example from segments ``seg_index`` and ``seg_index + 1`` of one document.

    Returns lists ``input_ids``, ``token_type_ids`` and the int ``labels``
    (0 = in order, 1 = swapped, each with probability 1/2). ``groups`` is unused (both segments come from
    one document); it is accepted so NSP and SOP take the same arguments.
    """
    _check_has_next(documents, doc_index, seg_index)
    first = documents[doc_index][seg_index]
    second = documents[doc_index][seg_index + 1]
    cut = rng if random_truncation else None
    if rng.random() < 0.5:
        example, label = build_pair(first, second, max_len=max_len, cls_id=cls_id, sep_id=sep_id, rng=cut), \
            SOP_IN_ORDER
    else:
        example, label = build_pair(second, first, max_len=max_len, cls_id=cls_id, sep_id=sep_id, rng=cut), \
            SOP_SWAPPED
    example["labels"] = label
    return example


def collate_pairs(examples: Sequence[dict], pad_id: int) -> dict[str, torch.Tensor]:
    """Pad examples on the right to the longest one.

    Returns ``input_ids``, ``token_type_ids``, ``attention_mask`` (all
    ``[batch, seq]``, 0 at padding) and ``labels [batch]``.
    """
    if len(examples) == 0:
        raise ValueError("cannot collate an empty list of examples")
    seq_len = max(len(ex["input_ids"]) for ex in examples)
    batch = len(examples)
    input_ids = torch.full((batch, seq_len), pad_id, dtype=torch.long)
    token_type_ids = torch.zeros((batch, seq_len), dtype=torch.long)
    attention_mask = torch.zeros((batch, seq_len), dtype=torch.long)
    for row, ex in enumerate(examples):
        n = len(ex["input_ids"])
        input_ids[row, :n] = torch.tensor(ex["input_ids"])
        token_type_ids[row, :n] = torch.tensor(ex["token_type_ids"])
        attention_mask[row, :n] = 1
    labels = torch.tensor([ex["labels"] for ex in examples], dtype=torch.long)
    return {"input_ids": input_ids, "token_type_ids": token_type_ids, "attention_mask": attention_mask, "labels": labels}


def starting_points(documents: Sequence[Document]) -> list[tuple[int, int]]:
    """All (doc_index, seg_index) pairs whose segment has a successor."""
    points = [(d, s) for d, doc in enumerate(documents) for s in range(len(doc) - 1)]
    if not points:
        raise ValueError("no document has two consecutive segments")
    return points


def _pair_batch(make_example, documents, batch_size, rng, max_len, cls_id, sep_id, pad_id, groups=None,
                random_truncation=False):
    """``batch_size`` examples from ``make_example``, each starting at a segment that has a successor."""
    points = starting_points(documents)
    examples = []
    for _ in range(batch_size):
        doc_index, seg_index = rng.choice(points)
        examples.append(make_example(documents, doc_index, seg_index, rng, max_len, cls_id, sep_id, groups,
                                     random_truncation))
    return collate_pairs(examples, pad_id)


def make_nsp_batch(
    documents: Sequence[Document],
    batch_size: int,
    rng: random.Random,
    *,
    max_len: int,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    groups: Sequence | None = None,
    random_truncation: bool = False,
) -> dict[str, torch.Tensor]:
    """``batch_size`` NSP examples; A drawn uniformly from all segments that have a successor."""
    return _pair_batch(make_nsp_example, documents, batch_size, rng, max_len, cls_id, sep_id, pad_id, groups,
                       random_truncation)


def make_sop_batch(
    documents: Sequence[Document],
    batch_size: int,
    rng: random.Random,
    *,
    max_len: int,
    cls_id: int,
    sep_id: int,
    pad_id: int,
    groups: Sequence | None = None,
    random_truncation: bool = False,
) -> dict[str, torch.Tensor]:
    """``batch_size`` SOP examples; the pair drawn uniformly from all consecutive segment pairs."""
    return _pair_batch(make_sop_example, documents, batch_size, rng, max_len, cls_id, sep_id, pad_id, groups,
                       random_truncation)
