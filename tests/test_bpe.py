"""lmteach's own BPE trainer must learn exactly what the `tokenizers` library learns."""

import json
import time
from collections import Counter

import pytest
from tokenizers import Tokenizer, models, pre_tokenizers, trainers

from lmteach.data.bpe import pre_tokenize, readable, train_bpe
from lmteach.data.corpus import load_corpus


@pytest.fixture(scope="module")
def corpus_text():
    return load_corpus().text


@pytest.fixture(scope="module")
def paragraph(corpus_text):
    # About 20 KB from the middle of the corpus: real verse, speaker names, punctuation.
    middle = len(corpus_text) // 2
    return corpus_text[middle: middle + 20_000]


def train_with_tokenizers_library(text, num_merges, min_frequency=0):
    """The reference: `tokenizers`' BPE trainer with the settings train_bpe mirrors."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    trainer = trainers.BpeTrainer(vocab_size=256 + num_merges, min_frequency=min_frequency,
                                  show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tokenizer.train_from_iterator([text], trainer)
    merges = json.loads(tokenizer.to_str())["model"]["merges"]
    # Older versions store "a b" strings, newer ones [a, b] lists.
    return tokenizer, [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in merges]


def test_same_merges_as_tokenizers_library(paragraph):
    ours = train_bpe(paragraph, 200)
    _, theirs = train_with_tokenizers_library(paragraph, 200)
    assert len(ours.merges) == 200
    first_difference = next((i for i, (a, b) in enumerate(zip(ours.merges, theirs)) if a != b), None)
    assert first_difference is None, (
        f"merge {first_difference}: ours {ours.merges[first_difference]}, "
        f"tokenizers {theirs[first_difference]}")
    assert ours.merges == theirs[:200]


def test_same_merges_with_min_frequency_and_early_stop(paragraph):
    # min_frequency=5 stops before 5000 merges; both must stop at the same place.
    ours = train_bpe(paragraph[:5000], 5000, min_frequency=5)
    _, theirs = train_with_tokenizers_library(paragraph[:5000], 5000, min_frequency=5)
    assert 0 < len(ours.merges) < 5000
    assert ours.merges == theirs
    assert ours.steps[-1].count >= 5


def test_segment_with_all_merges_matches_tokenizers_encoding(paragraph):
    ours = train_bpe(paragraph, 200)
    reference, _ = train_with_tokenizers_library(paragraph, 200)
    sample = "Now is the winter of our discontent\nMade glorious summer by this sun of York;"
    assert ours.segment(sample) == reference.encode(sample).tokens


def test_segment_grows_coarser_and_always_spells_the_text(paragraph):
    result = train_bpe(paragraph, 100)
    sample = "To be, or not to be, that is the question:"
    lengths = []
    for k in (0, 1, 10, 50, 100):
        tokens = result.segment(sample, k)
        assert "".join(readable(t) for t in tokens) == sample
        lengths.append(len(tokens))
    assert lengths[0] == len(sample.encode("utf-8"))  # no merges yet: one token per byte
    assert lengths == sorted(lengths, reverse=True) and lengths[-1] < lengths[0]


def test_steps_record_the_winning_pair_and_its_rivals(paragraph):
    result = train_bpe(paragraph, 50, top_k=5)
    counts = [step.count for step in result.steps]
    # A merge can only create pairs rarer than itself, so the winning count never rises.
    assert counts == sorted(counts, reverse=True)
    for step in result.steps:
        assert step.top_pairs[0] == (step.pair, step.count)
        assert len(step.top_pairs) == 5
        assert step.new_token == step.pair[0] + step.pair[1]
        assert result.vocab[step.new_token] >= 256


def test_recorded_pair_counts_match_a_recount(paragraph):
    result = train_bpe(paragraph, 30)
    k = 20
    words = Counter(pre_tokenize(paragraph))
    recount = Counter()
    for word, n in words.items():
        symbols = _segment_word(result, word, k)
        for pair in zip(symbols, symbols[1:]):
            recount[pair] += n
    for pair, count in result.pair_counts(k):
        assert recount[pair] == count


def _segment_word(result, word, k):
    # Replay the first k merges naively on one byte-level word.
    symbols = list(word)
    for left, right in result.merges[:k]:
        out, i = [], 0
        while i < len(symbols):
            if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == (left, right):
                out.append(left + right)
                i += 2
            else:
                out.append(symbols[i])
                i += 1
        symbols = out
    return symbols


def test_alphabet_is_all_bytes_by_default():
    result = train_bpe("ab ab ab", 1)
    assert len(result.alphabet) == 256
    assert result.merges == [("a", "b")]
    only_seen = train_bpe("ab ab ab", 1, full_byte_alphabet=False)
    assert only_seen.alphabet == sorted({"a", "b", "Ġ"})


def test_readable_turns_byte_symbols_back_into_text():
    assert readable("Ġthe") == " the"
    assert readable("Ċ") == "\n"


def test_empty_text_is_an_error():
    with pytest.raises(ValueError, match="empty"):
        train_bpe("", 10)


def test_fast_enough_for_a_live_lesson(corpus_text):
    start = time.perf_counter()
    result = train_bpe(corpus_text[:50_000], 300)
    assert len(result.merges) == 300
    assert time.perf_counter() - start < 5.0
