"""Tests for BERT's masked-LM corruption (lmteach.objectives.masking)."""

import pytest
import torch

from lmteach.objectives import IGNORE_INDEX, Fate, expected_counts, mask_tokens, number_to_select

PAD, CLS, SEP, MASK, UNK = 0, 1, 2, 3, 4
SPECIAL = {PAD, CLS, SEP, MASK, UNK}
VOCAB = 50


def make_batch(batch: int, seq: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """[CLS] tokens [SEP] [PAD]...: random real lengths, ids drawn from the ordinary range."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(5, VOCAB, (batch, seq), generator=g)
    lengths = torch.randint(seq // 2, seq + 1, (batch,), generator=g)
    positions = torch.arange(seq)[None, :]
    attention_mask = (positions < lengths[:, None]).long()
    ids[:, 0] = CLS
    ids[torch.arange(batch), lengths - 1] = SEP
    ids[attention_mask == 0] = PAD
    return ids, attention_mask


@pytest.fixture(scope="module")
def big_draw():
    ids, attention_mask = make_batch(1200, 256)
    out = mask_tokens(
        ids,
        mask_id=MASK,
        vocab_size=VOCAB,
        special_ids=SPECIAL,
        attention_mask=attention_mask,
        generator=torch.Generator().manual_seed(1),
    )
    return ids, attention_mask, out


def test_selected_fraction_and_80_10_10_split(big_draw):
    ids, attention_mask, out = big_draw
    eligible = out.eligible
    assert eligible.sum() > 200_000
    selected = out.selected
    assert abs(selected.sum() / eligible.sum() - 0.15) < 0.015
    n_selected = selected.sum().item()
    for fate, fraction in ((Fate.MASKED, 0.8), (Fate.RANDOM, 0.1), (Fate.KEPT, 0.1)):
        share = (out.fate == fate).sum().item() / n_selected
        assert abs(share - fraction) < 0.015, (fate.name, share)
    # Selection is uniform over positions: early and late tokens are picked
    # at the same rate (a biased sort would favour one end).
    early = eligible & (torch.arange(256)[None, :] < 64)
    late = eligible & (torch.arange(256)[None, :] >= 128)
    assert abs(selected[early].float().mean() - 0.15) < 0.015
    assert abs(selected[late].float().mean() - 0.15) < 0.015


def test_exact_count_per_sequence(big_draw):
    _, _, out = big_draw
    per_row = out.selected.sum(dim=1).tolist()
    expected = [number_to_select(n, 0.15) for n in out.eligible.sum(dim=1).tolist()]
    assert per_row == expected


def test_specials_and_padding_never_selected(big_draw):
    ids, attention_mask, out = big_draw
    not_eligible = torch.isin(ids, torch.tensor(sorted(SPECIAL))) | (attention_mask == 0)
    assert torch.equal(out.eligible, ~not_eligible)
    assert (out.fate[not_eligible] == Fate.SPECIAL).all()
    assert (out.labels[not_eligible] == IGNORE_INDEX).all()
    assert torch.equal(out.input_ids[not_eligible], ids[not_eligible])


def test_labels_and_corruption_consistent(big_draw):
    ids, _, out = big_draw
    selected = out.selected
    assert torch.equal(out.labels[selected], ids[selected])
    assert (out.labels[~selected] == IGNORE_INDEX).all()
    assert torch.equal(out.input_ids[~selected], ids[~selected])
    assert (out.input_ids[out.fate == Fate.MASKED] == MASK).all()
    kept = out.fate == Fate.KEPT
    assert torch.equal(out.input_ids[kept], ids[kept])
    random_tokens = out.input_ids[out.fate == Fate.RANDOM]
    assert not torch.isin(random_tokens, torch.tensor(sorted(SPECIAL))).any()
    # Every ordinary id shows up as a random replacement (uniform over 45 ids).
    assert set(random_tokens.tolist()) == set(range(5, VOCAB))


def test_at_least_one_selected_when_anything_is_eligible():
    ids = torch.tensor([[CLS, 7, SEP, PAD, PAD], [CLS, 7, 8, 9, SEP], [CLS, SEP, PAD, PAD, PAD]])
    for seed in range(20):
        out = mask_tokens(ids, mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL, generator=torch.Generator().manual_seed(seed))
        assert out.selected.sum(dim=1).tolist() == [1, 1, 0]


def test_fixed_seed_exact_output():
    # Seed 7 happens to show all three fates: 8 eligible tokens, 4 picked.
    ids = torch.tensor([[CLS, 10, 11, 12, 13, 14, 15, 16, 17, SEP, PAD, PAD]])
    out = mask_tokens(
        ids,
        mask_id=MASK,
        vocab_size=VOCAB,
        special_ids=SPECIAL,
        rate=0.5,
        attention_mask=(ids != PAD).long(),
        generator=torch.Generator().manual_seed(7),
    )
    assert out.input_ids.tolist() == EXPECTED_IDS
    assert out.labels.tolist() == EXPECTED_LABELS
    assert out.fate.tolist() == EXPECTED_FATE


EXPECTED_IDS = [[CLS, MASK, 11, 12, MASK, 14, 15, 16, 26, SEP, PAD, PAD]]
EXPECTED_LABELS = [[-100, 10, -100, -100, 13, -100, 15, -100, 17, -100, -100, -100]]
#               SPECIAL MASKED  .  .  MASKED  .  KEPT  .  RANDOM  SPECIAL ...
EXPECTED_FATE = [[-1, 1, 0, 0, 1, 0, 3, 0, 2, -1, -1, -1]]


def test_same_seed_same_result_different_seed_differs():
    ids, attention_mask = make_batch(8, 64)
    kwargs = dict(mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL, attention_mask=attention_mask)
    a = mask_tokens(ids, generator=torch.Generator().manual_seed(5), **kwargs)
    b = mask_tokens(ids, generator=torch.Generator().manual_seed(5), **kwargs)
    c = mask_tokens(ids, generator=torch.Generator().manual_seed(6), **kwargs)
    assert torch.equal(a.input_ids, b.input_ids) and torch.equal(a.fate, b.fate)
    assert not torch.equal(a.fate, c.fate)


def test_whole_word_masking_takes_every_piece():
    g = torch.Generator().manual_seed(3)
    ids, attention_mask = make_batch(300, 64, seed=3)
    # About one word start in three positions: words of 1-5 pieces.
    word_starts = torch.rand(ids.shape, generator=g) < 0.35
    out = mask_tokens(
        ids,
        mask_id=MASK,
        vocab_size=VOCAB,
        special_ids=SPECIAL,
        word_starts=word_starts,
        attention_mask=attention_mask,
        generator=g,
    )
    selected = out.selected
    eligible = out.eligible
    # A continuation piece is selected exactly when the piece before it is.
    continuation = eligible[:, 1:] & ~word_starts[:, 1:] & eligible[:, :-1]
    assert torch.equal(selected[:, 1:][continuation], selected[:, :-1][continuation])
    assert not selected[~eligible].any()
    assert (selected.sum(dim=1) >= 1).all()
    assert abs(selected.sum() / eligible.sum() - 0.15) < 0.03


def test_whole_word_single_long_word_is_still_masked():
    # One 6-piece word; budget round(0.15 * 6) = 1 piece, but the word cannot be split.
    ids = torch.tensor([[CLS, 10, 11, 12, 13, 14, 15, SEP]])
    word_starts = torch.tensor([[True, True, False, False, False, False, False, True]])
    out = mask_tokens(ids, mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL, word_starts=word_starts, mask_fraction=1.0, random_fraction=0.0)
    assert out.input_ids.tolist() == [[CLS, MASK, MASK, MASK, MASK, MASK, MASK, SEP]]


def test_expected_counts():
    counts = expected_counts(20, 0.15, 0.8, 0.1)
    assert counts["selected"] == 3
    assert counts["masked"] == pytest.approx(2.4)
    assert counts["random"] == pytest.approx(0.3)
    assert counts["kept"] == pytest.approx(0.3)
    assert counts["not_selected"] == 17
    assert expected_counts(3)["selected"] == 1  # at least one
    assert expected_counts(0)["selected"] == 0


@pytest.mark.parametrize(
    "kwargs, message",
    [
        (dict(rate=0.0), r"rate must be in \(0, 1\]"),
        (dict(rate=1.5), r"rate must be in \(0, 1\]"),
        (dict(mask_fraction=-0.1), r"mask_fraction must be in \[0, 1\]"),
        (dict(random_fraction=1.2), r"random_fraction must be in \[0, 1\]"),
        (dict(mask_fraction=0.8, random_fraction=0.3), r"must be <= 1"),
        (dict(mask_id=VOCAB), r"mask_id must be in"),
    ],
)
def test_bad_arguments(kwargs, message):
    ids = torch.tensor([[CLS, 10, 11, SEP]])
    arguments = dict(mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL) | kwargs
    with pytest.raises(ValueError, match=message):
        mask_tokens(ids, **arguments)


def test_bad_shape():
    with pytest.raises(ValueError, match=r"\[batch, seq\]"):
        mask_tokens(torch.tensor([CLS, 10, SEP]), mask_id=MASK, vocab_size=VOCAB, special_ids=SPECIAL)
