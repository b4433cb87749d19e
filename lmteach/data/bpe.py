"""Byte-pair encoding, trained step by step so a lesson can show every merge.

BPE starts from single symbols (here GPT-2's 256 byte symbols) and repeatedly
glues together the most frequent neighbouring pair.  The ordered list of merges
*is* the tokenizer.  This trainer learns exactly the merges of the ``tokenizers``
library's BPE trainer (byte-level, no prefix space, all 256 bytes, no specials):

* Pre-tokenization: the text is first cut into "words" with GPT-2's regex
  (``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+``)
  and each word's UTF-8 bytes are shown as printable characters (a space is
  ``Ġ``, a newline ``Ċ``).  We borrow that exact step from ``tokenizers`` so
  this file is only about merging.  Merges never cross word boundaries.
* Ties: when two pairs are equally frequent, the pair whose token ids are
  smaller wins (compare the left id first, then the right id).  Ids are given
  to the alphabet in code-point order, and to each new token in creation order.
"""

from __future__ import annotations

import heapq
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from tokenizers import Regex, decoders, pre_tokenizers

_BYTE_DECODER = decoders.ByteLevel()
# How text is cut into words before merging. GPT-2 §2.2: BPE "to merge across character categories" wastes the
# vocabulary on variants like "dog." "dog!" "dog?", so its regex separates letters, digits and punctuation;
# "whitespace" only splits at spaces (each word keeps its punctuation), to show what that rule prevents.
_PRE_TOKENIZERS = {
    "gpt2": pre_tokenizers.ByteLevel(add_prefix_space=False),
    "whitespace": pre_tokenizers.Sequence([pre_tokenizers.Split(Regex(r"\s*\S+|\s+"), behavior="isolated"),
                                           pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)]),
}


def pre_tokenize(text: str, rule: str = "gpt2") -> list[str]:
    """Split text into byte-level words: by GPT-2's regex (as ``tokenizers`` does), or at spaces only."""
    if rule not in _PRE_TOKENIZERS:
        raise ValueError(f"unknown pre-tokenization rule {rule!r}; choose one of {list(_PRE_TOKENIZERS)}")
    return [word for word, _offsets in _PRE_TOKENIZERS[rule].pre_tokenize_str(text)]


def readable(token: str) -> str:
    """Turn a byte-level token such as ``'Ġthe'`` back into plain text (``' the'``)."""
    return _BYTE_DECODER.decode([token])


@dataclass
class BPEStep:
    """One merge: which pair was glued, how often it occurred, and its rivals."""
    rank: int  # 0 for the first merge
    pair: tuple[str, str]
    new_token: str
    count: int
    top_pairs: list[tuple[tuple[str, str], int]]  # most frequent pairs just before this merge


@dataclass
class BPEResult:
    """The outcome of :func:`train_bpe`: merges in order, the vocabulary, and every step."""
    alphabet: list[str]
    merges: list[tuple[str, str]]
    vocab: dict[str, int]
    steps: list[BPEStep] = field(default_factory=list)
    rule: str = "gpt2"  # the pre-tokenization it was trained with (and segments with)

    def segment(self, text: str, k: int | None = None) -> list[str]:
        """Tokens of ``text`` when only the first ``k`` merges are known (all if None)."""
        k = len(self.merges) if k is None else max(0, min(k, len(self.merges)))
        rank_of = {pair: rank for rank, pair in enumerate(self.merges[:k])}
        tokens: list[str] = []
        for word in pre_tokenize(text, self.rule):
            tokens.extend(_apply_merges(list(word), rank_of))
        return tokens

    def pair_counts(self, k: int) -> list[tuple[tuple[str, str], int]]:
        """The most frequent pairs just before merge number ``k`` (0-based)."""
        return self.steps[k].top_pairs


def _apply_merges(symbols: list[str], rank_of: dict[tuple[str, str], int]) -> list[str]:
    # Replaying merges in training order: always apply the earliest-learned pair present.
    while len(symbols) > 1:
        ranked = [(rank_of[p], p) for p in zip(symbols, symbols[1:]) if p in rank_of]
        if not ranked:
            break
        _, (left, right) = min(ranked)
        symbols = _merge_pair(symbols, left, right, left + right)
    return symbols


def _merge_pair(symbols: list, left, right, merged) -> list:
    """Replace every ``left right`` neighbour pair by ``merged``, scanning left to right."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and symbols[i] == left and symbols[i + 1] == right:
            out.append(merged)
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return out


def train_bpe(text: str, num_merges: int, min_frequency: int = 0,
              full_byte_alphabet: bool = True, top_k: int = 10, rule: str = "gpt2") -> BPEResult:
    """Learn up to ``num_merges`` merges from ``text``.

    Stops early when no pair occurs at least ``max(1, min_frequency)`` times.
    ``full_byte_alphabet`` puts all 256 byte symbols in the vocabulary (as GPT-2
    does) instead of only those seen.  ``top_k`` pairs are recorded per step.
    ``rule``: how words are cut before merging (``pre_tokenize``): "gpt2" or "whitespace".
    """
    word_counts = Counter(pre_tokenize(text, rule))
    if not word_counts:
        raise ValueError("cannot train BPE on empty text")
    seen = {ch for word in word_counts for ch in word}
    alphabet = sorted(seen | set(pre_tokenizers.ByteLevel.alphabet()) if full_byte_alphabet else seen)
    id_to_token = list(alphabet)
    token_to_id = {tok: i for i, tok in enumerate(id_to_token)}

    # Work on ids, because ties are broken by id.  Each distinct word is stored once with its count.
    words = [[token_to_id[ch] for ch in word] for word in word_counts]
    counts = list(word_counts.values())
    pair_counts: Counter = Counter()
    words_with_pair: dict[tuple[int, int], set[int]] = defaultdict(set)
    for w, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += counts[w]
            words_with_pair[pair].add(w)

    def priority(pair):  # most frequent first; on a tie, smaller ids first
        return (pair_counts[pair], -pair[0], -pair[1])

    merges, steps = [], []
    while len(merges) < num_merges and pair_counts:
        top = heapq.nlargest(top_k, pair_counts, key=priority)
        best = top[0]
        count = pair_counts[best]
        if count < max(1, min_frequency):
            break
        left, right = id_to_token[best[0]], id_to_token[best[1]]
        top_pairs = [((id_to_token[a], id_to_token[b]), pair_counts[(a, b)]) for a, b in top]
        new_token = left + right
        # Two different pairs can spell the same string (a+bc, ab+c): they share one id.
        if new_token not in token_to_id:
            token_to_id[new_token] = len(id_to_token)
            id_to_token.append(new_token)
        new_id = token_to_id[new_token]

        for w in words_with_pair.pop(best):
            old = words[w]
            new = _merge_pair(old, best[0], best[1], new_id)
            if len(new) == len(old):  # stale entry: this word no longer holds the pair
                continue
            for pair in zip(old, old[1:]):
                pair_counts[pair] -= counts[w]
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
            for pair in zip(new, new[1:]):
                pair_counts[pair] += counts[w]
                words_with_pair[pair].add(w)
            words[w] = new

        merges.append((left, right))
        steps.append(BPEStep(rank=len(steps), pair=(left, right), new_token=new_token,
                             count=count, top_pairs=top_pairs))
    return BPEResult(alphabet=alphabet, merges=merges, vocab=token_to_id, steps=steps, rule=rule)
