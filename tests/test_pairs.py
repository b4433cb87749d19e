"""Tests for NSP and SOP pair construction (lmteach.objectives.pairs)."""

import random

import pytest
import torch

from lmteach.objectives import (
    build_pair,
    make_nsp_batch,
    make_nsp_example,
    make_sop_batch,
    make_sop_example,
    truncate_pair,
)

PAD, CLS, SEP = 0, 1, 2

# Every token id encodes (document, segment): 1000 * (doc + 1) + 10 * seg + k,
# so a test can tell where any token came from.
DOCUMENTS = [
    [[1000 * (d + 1) + 10 * s + k for k in range(2 + (d + s) % 4)] for s in range(3 + d % 3)]
    for d in range(6)
]


def origin(token: int) -> tuple[int, int]:
    return token // 1000 - 1, (token % 1000) // 10


def split_pair(input_ids: list[int]) -> tuple[list[int], list[int]]:
    assert input_ids[0] == CLS
    first_sep = input_ids.index(SEP)
    assert input_ids[-1] == SEP
    return input_ids[1:first_sep], input_ids[first_sep + 1 : -1]


def test_build_pair_layout():
    pair = build_pair([10, 11, 12], [20, 21], max_len=16, cls_id=CLS, sep_id=SEP)
    assert pair["input_ids"] == [CLS, 10, 11, 12, SEP, 20, 21, SEP]
    assert pair["token_type_ids"] == [0, 0, 0, 0, 0, 1, 1, 1]


def test_truncation_cuts_the_longer_side_first():
    a, b = truncate_pair(list(range(10)), [50, 51, 52], 8)
    assert a == [0, 1, 2, 3, 4] and b == [50, 51, 52]
    a, b = truncate_pair(list(range(6)), [50, 51, 52, 53, 54, 55], 6)  # tie: B is cut, then A
    assert a == [0, 1, 2] and b == [50, 51, 52]
    pair = build_pair(list(range(10, 30)), [40, 41], max_len=9, cls_id=CLS, sep_id=SEP)
    assert pair["input_ids"] == [CLS, 10, 11, 12, 13, SEP, 40, 41, SEP]
    assert len(pair["token_type_ids"]) == 9


def test_nsp_example_fixed_seed():
    example = make_nsp_example(DOCUMENTS, 0, 1, random.Random(0), max_len=32, cls_id=CLS, sep_id=SEP)
    # random.Random(0).random() = 0.844 >= 0.5, so this one is NotNext.
    assert example["labels"] == 1
    a, b = split_pair(example["input_ids"])
    assert a == DOCUMENTS[0][1]
    assert origin(b[0])[0] != 0


def test_nsp_labels_balanced_and_correct():
    rng = random.Random(1)
    batch = make_nsp_batch(DOCUMENTS, 4000, rng, max_len=64, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    labels = batch["labels"]
    assert abs(labels.float().mean().item() - 0.5) < 0.03
    for row in range(0, 4000, 7):
        length = int(batch["attention_mask"][row].sum())
        a, b = split_pair(batch["input_ids"][row, :length].tolist())
        (doc_a, seg_a), (doc_b, seg_b) = origin(a[0]), origin(b[0])
        if labels[row] == 0:  # IsNext: B is the following segment of the same document
            assert (doc_b, seg_b) == (doc_a, seg_a + 1)
            assert b == DOCUMENTS[doc_a][seg_a + 1]
        else:  # NotNext: B comes from another document
            assert doc_b != doc_a


def test_sop_labels_balanced_and_correct():
    rng = random.Random(2)
    batch = make_sop_batch(DOCUMENTS, 4000, rng, max_len=64, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    labels = batch["labels"]
    assert abs(labels.float().mean().item() - 0.5) < 0.03
    for row in range(0, 4000, 7):
        length = int(batch["attention_mask"][row].sum())
        a, b = split_pair(batch["input_ids"][row, :length].tolist())
        (doc_a, seg_a), (doc_b, seg_b) = origin(a[0]), origin(b[0])
        assert doc_a == doc_b  # always the same document
        if labels[row] == 0:
            assert seg_b == seg_a + 1
        else:
            assert seg_a == seg_b + 1


def test_sop_swapped_example():
    rng = random.Random(0)  # first draw 0.844: swapped
    example = make_sop_example(DOCUMENTS, 2, 0, rng, max_len=32, cls_id=CLS, sep_id=SEP)
    assert example["labels"] == 1
    second, first = DOCUMENTS[2][1], DOCUMENTS[2][0]
    assert example["input_ids"] == [CLS, *second, SEP, *first, SEP]
    assert example["token_type_ids"] == [0] * (len(second) + 2) + [1] * (len(first) + 1)


def test_batch_padding_segments_and_truncation():
    long_documents = [[list(range(100, 140)), list(range(200, 230))], [list(range(300, 310))]]
    batch = make_sop_batch(long_documents, 16, random.Random(3), max_len=20, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    assert batch["input_ids"].shape == (16, 20)
    for row in range(16):
        ids = batch["input_ids"][row].tolist()
        assert (ids.count(CLS), ids.count(SEP)) == (1, 2)
        a, b = split_pair(ids)
        assert len(a) + len(b) == 17
        assert abs(len(a) - len(b)) <= 1  # longest-first leaves them (nearly) equal

    short = make_nsp_batch(DOCUMENTS, 32, random.Random(4), max_len=64, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    mask = short["attention_mask"]
    assert mask.shape == short["input_ids"].shape == short["token_type_ids"].shape
    assert (short["input_ids"][mask == 0] == PAD).all()
    assert (short["token_type_ids"][mask == 0] == 0).all()
    assert mask.sum(dim=1).max() == mask.shape[1]  # padded to the longest example
    lengths = mask.sum(dim=1)
    for row in range(32):
        types = short["token_type_ids"][row, : lengths[row]].tolist()
        ids = short["input_ids"][row, : lengths[row]].tolist()
        first_sep = ids.index(SEP)
        assert types == [0] * (first_sep + 1) + [1] * (len(ids) - first_sep - 1)
    assert short["labels"].dtype == torch.long


def test_bad_arguments():
    rng = random.Random(0)
    with pytest.raises(ValueError, match="seg_index"):
        make_nsp_example(DOCUMENTS, 0, len(DOCUMENTS[0]) - 1, rng, max_len=32, cls_id=CLS, sep_id=SEP)
    with pytest.raises(ValueError, match="max_len must be >= 5"):
        build_pair([10], [11], max_len=4, cls_id=CLS, sep_id=SEP)
    with pytest.raises(ValueError, match="two non-empty documents"):
        for _ in range(20):  # NotNext needs another document
            make_nsp_example([[[10], [11]]], 0, 0, rng, max_len=32, cls_id=CLS, sep_id=SEP)
    with pytest.raises(ValueError, match="consecutive segments"):
        make_sop_batch([[[10]], [[11]]], 4, rng, max_len=32, cls_id=CLS, sep_id=SEP, pad_id=PAD)
