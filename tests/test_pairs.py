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
    pack_segments,
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


# --- packing speeches into spans (BERT §3: segments are spans of text, not sentences) ----------------------------

def test_pack_segments_is_greedy_in_order_and_loses_nothing():
    rng = random.Random(0)
    # Segment i holds tokens 100 * i + k, so a span tells which segments it is made of.
    segments = [[100 * i + k for k in range(rng.choice([0, 1, 3, 5, 9, 14]))] for i in range(60)]
    for max_tokens in (1, 4, 10, 16, 40):
        spans = pack_segments(segments, max_tokens)
        assert [t for span in spans for t in span] == [t for seg in segments for t in seg]  # in order, all kept
        assert all(span for span in spans)  # empty segments leave no empty span
        members = [sorted({t // 100 for t in span}) for span in spans]
        for span, ids in zip(spans, members):
            # whole segments only, and only a lone over-long segment exceeds the limit
            assert len(span) == sum(len(segments[i]) for i in ids)
            assert len(span) <= max_tokens or len(ids) == 1
        for span, following in zip(spans, members[1:]):
            # greedy: the next span's first segment did not fit into this one
            assert len(span) + len(segments[following[0]]) > max_tokens


def test_pack_segments_small_cases():
    assert pack_segments([[1, 2], [3], [], [4, 5, 6], [7]], 3) == [[1, 2, 3], [4, 5, 6], [7]]
    assert pack_segments([[1, 2, 3, 4, 5], [6]], 2) == [[1, 2, 3, 4, 5], [6]]
    assert pack_segments([], 5) == [] and pack_segments([[], []], 5) == []
    with pytest.raises(ValueError, match="positive"):
        pack_segments([[1]], 0)


# --- cutting at random ends (BERT's create_pretraining_data.py) ----------------------------------------------------

def is_slice(part, whole):
    return any(whole[i:i + len(part)] == part for i in range(len(whole) - len(part) + 1))


def test_truncate_pair_with_rng_cuts_both_ends_and_keeps_the_total():
    a, b = list(range(100, 130)), list(range(200, 212))
    front_cuts_a, b_cut_at = [], set()
    for seed in range(40):
        cut_a, cut_b = truncate_pair(a, b, 20, random.Random(seed))
        assert len(cut_a) + len(cut_b) == 20
        assert is_slice(cut_a, a) and is_slice(cut_b, b)  # contiguous text, in its order
        assert len(cut_a) == len(cut_b) == 10               # still longest-first
        front_cuts_a.append(a.index(cut_a[0]))              # tokens A lost at its front (of the 20 it lost)
        b_cut_at.add("front" if cut_b[0] != b[0] else "back" if cut_b[-1] != b[-1] else "both")
    # Each token goes from either end with probability 1/2: about 10 of A's 20 from the front, varying.
    assert 7 < sum(front_cuts_a) / 40 < 13 and len(set(front_cuts_a)) > 4
    assert {"front", "back"} <= b_cut_at
    assert truncate_pair(a, b, 20, random.Random(3)) == truncate_pair(a, b, 20, random.Random(3))
    # Without rng only the ends go: each segment keeps its beginning.
    cut_a, cut_b = truncate_pair(a, b, 20)
    assert cut_a == a[:10] and cut_b == b[:10]
    # Nothing to cut: unchanged, and the rng is not consulted.
    rng = random.Random(5)
    assert truncate_pair([1, 2], [3], 8, rng) == ([1, 2], [3]) and rng.random() == random.Random(5).random()


@pytest.mark.parametrize("make_batch", [make_nsp_batch, make_sop_batch])
def test_random_truncation_in_batches(make_batch):
    documents = [[list(range(1000 * (d + 1) + 100 * s, 1000 * (d + 1) + 100 * s + 40)) for s in range(3)]
                 for d in range(4)]
    whole = {tuple(seg) for doc in documents for seg in doc}

    def pieces(random_truncation):
        batch = make_batch(documents, 64, random.Random(7), max_len=24, cls_id=CLS, sep_id=SEP, pad_id=PAD,
                           random_truncation=random_truncation)
        for row in batch["input_ids"].tolist():
            a, b = split_pair(row)
            assert len(a) + len(b) == 21
            yield a, b

    for a, b in pieces(False):  # the ends are cut: each piece is the start of its segment
        assert any(list(seg[:len(a)]) == a for seg in whole) and any(list(seg[:len(b)]) == b for seg in whole)
    starts_cut = 0
    for a, b in pieces(True):
        assert any(is_slice(a, list(seg)) for seg in whole) and any(is_slice(b, list(seg)) for seg in whole)
        starts_cut += a[0] % 100 != 0
    assert starts_cut > 10


# --- NotNext from another group (another play) ---------------------------------------------------------------------

def test_groups_make_notnext_come_from_another_group():
    groups = ["A", "A", "A", "B", "B", "B"]  # documents 0-2 are one play, 3-5 another
    batch = make_nsp_batch(DOCUMENTS, 600, random.Random(8), max_len=64, cls_id=CLS, sep_id=SEP, pad_id=PAD,
                           groups=groups)
    not_next = 0
    for row, label in enumerate(batch["labels"].tolist()):
        length = int(batch["attention_mask"][row].sum())
        a, b = split_pair(batch["input_ids"][row, :length].tolist())
        if label == 1:
            not_next += 1
            assert groups[origin(b[0])[0]] != groups[origin(a[0])[0]]
    assert not_next > 200
    # Without groups, another document of the same group is allowed (and, by chance, drawn).
    plain = make_nsp_batch(DOCUMENTS, 600, random.Random(8), max_len=64, cls_id=CLS, sep_id=SEP, pad_id=PAD)
    same_group = 0
    for row, label in enumerate(plain["labels"].tolist()):
        length = int(plain["attention_mask"][row].sum())
        a, b = split_pair(plain["input_ids"][row, :length].tolist())
        same_group += label == 1 and groups[origin(b[0])[0]] == groups[origin(a[0])[0]]
    assert same_group > 0
    # One group only: there is nowhere to draw NotNext from.
    with pytest.raises(ValueError, match="different groups"):
        for seed in range(20):
            make_nsp_example(DOCUMENTS, 0, 0, random.Random(seed), max_len=32, cls_id=CLS, sep_id=SEP,
                             groups=["A"] * 6)
    # SOP takes groups too (unused: both segments come from one document).
    sop = make_sop_batch(DOCUMENTS, 8, random.Random(1), max_len=64, cls_id=CLS, sep_id=SEP, pad_id=PAD,
                         groups=groups)
    assert torch.equal(sop["input_ids"], make_sop_batch(DOCUMENTS, 8, random.Random(1), max_len=64, cls_id=CLS,
                                                        sep_id=SEP, pad_id=PAD)["input_ids"])
