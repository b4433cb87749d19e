"""Tokenizers for the course: characters, GPT-2 byte-level BPE, and BERT WordPiece.

All three share one small interface (:class:`Tokenizer`), so a model, a masking
objective or a widget never needs to know which one it was given.

* :class:`CharTokenizer` - one id per character; plain Python, nothing hidden.
* :class:`ByteBPETokenizer` - GPT-2 style: text is turned into UTF-8 bytes
  first, so *any* text can be encoded and there is no unknown token.
* :class:`WordPieceTokenizer` - BERT style: lowercased words split into pieces,
  continuation pieces start with ``##``; text it cannot spell becomes ``[UNK]``.

The two subword tokenizers are backed by the Hugging Face ``tokenizers``
library (written in Rust), because training and encoding a whole corpus in
pure Python would be too slow for a class on laptops.  To watch BPE learn merge
by merge, see :mod:`lmteach.data.bpe`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path
from typing import Iterable, Sequence

from tokenizers import AddedToken, decoders, models, normalizers, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from .corpus import data_dir

KINDS = ("char", "byte_bpe", "wordpiece")
FILE_FORMAT = "lmteach-tokenizer"
FILE_VERSION = 1
DEFAULT_VOCAB_SIZES = {"byte_bpe": 4096, "wordpiece": 4096}

END_OF_TEXT = "<|endoftext|>"  # GPT-2's only special token
GPT1_SPECIALS = ("<start>", "<delim>", "<extract>")  # GPT-1's fine-tuning markers
BERT_SPECIALS = ("[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]")
CHAR_SPECIALS = ("[PAD]", "[UNK]", "[MASK]")


def tokenizer_dir() -> Path:
    """Where the shipped, pre-trained tokenizers live."""
    return data_dir() / "tokenizers"


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise ValueError(f"unknown tokenizer kind {kind!r}; choose one of: {', '.join(KINDS)}")


def _as_int_list(ids) -> list[int]:
    # Accept lists, tuples, numpy arrays and torch tensors alike.
    if hasattr(ids, "tolist"):
        ids = ids.tolist()
    return [int(i) for i in ids]


class Tokenizer:
    """What every lmteach tokenizer offers.

    Ids of special tokens are attributes; those a family does not have are None:
    ``pad_id``, ``unk_id``, ``cls_id``, ``sep_id``, ``mask_id`` (BERT),
    ``bos_id``/``eos_id`` (GPT-2's ``<|endoftext|>``), and GPT-1's
    ``start_id``, ``delim_id``, ``extract_id``.
    """

    kind: str = ""
    # Which special-token string fills which attribute, per family.
    special_tokens_by_role: dict[str, str] = {}

    pad_id: int | None = None
    unk_id: int | None = None
    cls_id: int | None = None
    sep_id: int | None = None
    mask_id: int | None = None
    bos_id: int | None = None
    eos_id: int | None = None
    start_id: int | None = None
    delim_id: int | None = None
    extract_id: int | None = None

    def _find_special_ids(self) -> None:
        """Fill the ``*_id`` attributes from the vocabulary."""
        for role, token in self.special_tokens_by_role.items():
            setattr(self, f"{role}_id", self.token_to_id(token))
        self._special_ids = frozenset(self.token_to_id(t) for t in self.special_tokens)

    # --- the interface; subclasses fill these in ---------------------------------
    @property
    def vocab_size(self) -> int:
        raise NotImplementedError

    @property
    def special_tokens(self) -> list[str]:
        """The special token strings this tokenizer knows (never split, never masked)."""
        raise NotImplementedError

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        raise NotImplementedError

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        raise NotImplementedError

    def tokenize(self, text: str) -> list[str]:
        """The token strings of ``text``, for display."""
        raise NotImplementedError

    def token_to_id(self, token: str) -> int | None:
        """Id of ``token``, or None if it is not in the vocabulary."""
        raise NotImplementedError

    def id_to_token(self, token_id: int) -> str | None:
        """Token string of ``token_id``, or None if there is no such id."""
        raise NotImplementedError

    def word_starts(self, ids: Sequence[int]) -> list[bool]:
        """True where a token begins a new word (whole-word masking masks a word's tokens together)."""
        raise NotImplementedError

    def to_dict(self) -> dict:
        """A JSON-serialisable description, e.g. to embed in a checkpoint."""
        raise NotImplementedError

    # --- shared behaviour ----------------------------------------------------------
    @property
    def special_ids(self) -> frozenset[int]:
        """Ids that masking must never touch."""
        return self._special_ids

    def encode_batch(self, texts: Iterable[str], add_special_tokens: bool = False) -> list[list[int]]:
        return [self.encode(t, add_special_tokens) for t in texts]

    def encode_pair(self, a: str, b: str) -> tuple[list[int], list[int]]:
        """Ids and segment ids for a pair of texts (only families that define a pair format)."""
        raise NotImplementedError(f"{type(self).__name__} has no pair format")

    def __len__(self) -> int:
        return self.vocab_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(vocab_size={self.vocab_size}, specials={self.special_tokens})"

    @staticmethod
    def from_dict(data: dict) -> "Tokenizer":
        """Rebuild any lmteach tokenizer from :meth:`to_dict` output."""
        if not isinstance(data, dict) or data.get("format") != FILE_FORMAT:
            raise ValueError("not an lmteach tokenizer: expected a dict with format "
                             f"{FILE_FORMAT!r} (as written by Tokenizer.to_dict)")
        if data.get("version", FILE_VERSION) > FILE_VERSION:
            raise ValueError("this tokenizer was saved by a newer lmteach; please upgrade")
        kind = data.get("kind")
        _check_kind(kind)
        try:
            return _CLASS_BY_KIND[kind]._from_dict(data)
        except Exception as err:  # the Rust side raises plain Exception on bad JSON
            raise ValueError(f"broken {kind} tokenizer data: {err!r}") from err

    def save(self, path: str | Path) -> Path:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(self.to_dict(), ensure_ascii=False), encoding="utf-8")
        return path

    @staticmethod
    def load(path: str | Path) -> "Tokenizer":
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise ValueError(f"{path} is not an lmteach tokenizer file (not JSON: {err})") from None
        try:
            return Tokenizer.from_dict(data)
        except ValueError as err:
            raise ValueError(f"{path}: {err}") from None

    def _header(self) -> dict:
        return {"format": FILE_FORMAT, "version": FILE_VERSION, "kind": self.kind}


# ======================================================================================
class CharTokenizer(Tokenizer):
    """One token per character, built from the characters of a training text.

    Ids 0, 1, 2 are ``[PAD]``, ``[UNK]`` and ``[MASK]`` (the mask makes character-level
    masked language modelling possible).  A character that was not in the training
    text is encoded as ``[UNK]``, so such text does not round-trip.  The special
    token strings, written in the text, are read as one token each.
    """

    kind = "char"
    special_tokens_by_role = {"pad": "[PAD]", "unk": "[UNK]", "mask": "[MASK]"}

    def __init__(self, characters: Iterable[str]):
        chars = sorted(set(characters) - set(CHAR_SPECIALS))
        if any(len(c) != 1 for c in chars):
            raise ValueError("CharTokenizer needs single characters")
        self._id_to_token = list(CHAR_SPECIALS) + chars
        self._token_to_id = {tok: i for i, tok in enumerate(self._id_to_token)}
        self._special_pattern = re.compile("(" + "|".join(map(re.escape, CHAR_SPECIALS)) + ")")
        self._find_special_ids()

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int | None = None) -> "CharTokenizer":
        """All characters of ``texts``, or the most frequent ones if ``vocab_size`` is given."""
        counts = Counter()
        for text in texts:
            counts.update(text)
        if vocab_size is None:
            return cls(counts)
        room = vocab_size - len(CHAR_SPECIALS)
        if room < 1:
            raise ValueError(f"vocab_size must be more than {len(CHAR_SPECIALS)} (the special tokens)")
        return cls(ch for ch, _ in counts.most_common(room))

    @property
    def vocab_size(self) -> int:
        return len(self._id_to_token)

    @property
    def special_tokens(self) -> list[str]:
        return list(CHAR_SPECIALS)

    def tokenize(self, text: str) -> list[str]:
        tokens = []
        # re.split with a group keeps the special tokens, at odd positions.
        for i, part in enumerate(self._special_pattern.split(text)):
            tokens.extend([part] if i % 2 else part)
        return tokens

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        """Character ids; ``add_special_tokens`` has no effect (the family has no framing tokens)."""
        return [self._token_to_id.get(tok, self.unk_id) for tok in self.tokenize(text)]

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        ids = _as_int_list(ids)
        if skip_special_tokens:
            ids = [i for i in ids if i not in self.special_ids]
        return "".join(self._id_to_token[i] for i in ids)

    def token_to_id(self, token: str) -> int | None:
        return self._token_to_id.get(token)

    def id_to_token(self, token_id: int) -> str | None:
        return self._id_to_token[token_id] if 0 <= token_id < len(self._id_to_token) else None

    def word_starts(self, ids: Sequence[int]) -> list[bool]:
        """A word is a run of non-space characters; each space and special token stands alone."""
        ids = _as_int_list(ids)
        specials = self.special_ids
        starts = []
        for i, token_id in enumerate(ids):
            if i == 0 or token_id in specials or ids[i - 1] in specials:
                starts.append(True)
                continue
            this, before = self._id_to_token[token_id], self._id_to_token[ids[i - 1]]
            starts.append(this.isspace() or before.isspace())
        return starts

    def to_dict(self) -> dict:
        return {**self._header(), "tokens": self._id_to_token}

    @classmethod
    def _from_dict(cls, data: dict) -> "CharTokenizer":
        tokens = data["tokens"]
        if tokens[: len(CHAR_SPECIALS)] != list(CHAR_SPECIALS):
            raise ValueError("char tokenizer data must start with " + ", ".join(CHAR_SPECIALS))
        tokenizer = cls(tokens[len(CHAR_SPECIALS):])
        if tokenizer._id_to_token != tokens:
            raise ValueError("char tokenizer data is not in the expected (sorted) order")
        return tokenizer


# ======================================================================================
class _HuggingFaceBacked(Tokenizer):
    """Shared plumbing for the tokenizers that wrap a ``tokenizers.Tokenizer``."""

    def __init__(self, hf_tokenizer: HFTokenizer):
        self.hf = hf_tokenizer  # the underlying Hugging Face object, for the curious
        self._find_special_ids()

    @property
    def vocab_size(self) -> int:
        return self.hf.get_vocab_size(with_added_tokens=True)

    @property
    def special_tokens(self) -> list[str]:
        return [t.content for t in self.hf.get_added_tokens_decoder().values() if t.special]

    def _framed(self, ids: list[int]) -> list[int]:
        return ids

    def encode(self, text: str, add_special_tokens: bool = False) -> list[int]:
        return self.encode_batch([text], add_special_tokens)[0]

    def encode_batch(self, texts: Iterable[str], add_special_tokens: bool = False) -> list[list[int]]:
        # The Rust side encodes a batch on all cores.  The "fast" variant skips the
        # character offsets, which we never use: about twice as fast on the whole corpus.
        encode = getattr(self.hf, "encode_batch_fast", self.hf.encode_batch)
        batch = [e.ids for e in encode(list(texts), add_special_tokens=False)]
        return [self._framed(ids) for ids in batch] if add_special_tokens else batch

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return self.hf.decode(_as_int_list(ids), skip_special_tokens=skip_special_tokens)

    def tokenize(self, text: str) -> list[str]:
        return self.hf.encode(text, add_special_tokens=False).tokens

    def token_to_id(self, token: str) -> int | None:
        return self.hf.token_to_id(token)

    def id_to_token(self, token_id: int) -> str | None:
        return self.hf.id_to_token(int(token_id))

    def to_dict(self) -> dict:
        return {**self._header(), "hf_tokenizer": json.loads(self.hf.to_str())}

    @classmethod
    def _from_dict(cls, data: dict):
        return cls(HFTokenizer.from_str(json.dumps(data["hf_tokenizer"])))


class ByteBPETokenizer(_HuggingFaceBacked):
    """GPT-2 style byte-level BPE.

    Text becomes UTF-8 bytes before merging and all 256 bytes are in the
    vocabulary, so every string (Korean, emoji, ...) encodes and decodes exactly:
    there is no ``[UNK]``.  A leading space is part of the token and shown as
    ``Ġ`` (``" the"`` -> ``"Ġthe"``); a newline is shown as ``Ċ``.

    Specials: ``<|endoftext|>`` is both ``bos_id`` and ``eos_id``, and also
    ``pad_id`` (GPT-2 has no padding token; padded positions are ignored by the
    loss anyway).  :meth:`with_gpt1_specials` adds GPT-1's ``<start>``,
    ``<delim>``, ``<extract>`` at the end of the vocabulary, leaving all other
    ids unchanged.

    ``encode(text, add_special_tokens=True)`` gives ``text <|endoftext|>``, or,
    with GPT-1 specials, GPT-1's fine-tuning layout ``<start> text <extract>``.
    """

    kind = "byte_bpe"
    special_tokens_by_role = {"bos": END_OF_TEXT, "eos": END_OF_TEXT, "pad": END_OF_TEXT,
                              "start": "<start>", "delim": "<delim>", "extract": "<extract>"}

    def __init__(self, hf_tokenizer: HFTokenizer):
        super().__init__(hf_tokenizer)
        self._space_start, self._space_end = self._whitespace_edges()

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4096, min_frequency: int = 2,
              gpt1_specials: bool = False) -> "ByteBPETokenizer":
        hf = HFTokenizer(models.BPE())
        hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        hf.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size, min_frequency=min_frequency, show_progress=False,
            special_tokens=[END_OF_TEXT],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),  # all 256 bytes: no UNK ever
        )
        hf.train_from_iterator(texts, trainer)
        tokenizer = cls(hf)
        return tokenizer.with_gpt1_specials() if gpt1_specials else tokenizer

    @property
    def has_gpt1_specials(self) -> bool:
        return self.start_id is not None

    def with_gpt1_specials(self) -> "ByteBPETokenizer":
        """A copy that also knows ``<start>``, ``<delim>`` and ``<extract>`` (new ids at the end)."""
        hf = HFTokenizer.from_str(self.hf.to_str())
        hf.add_special_tokens([AddedToken(t, special=True) for t in GPT1_SPECIALS])
        return ByteBPETokenizer(hf)

    def _framed(self, ids: list[int]) -> list[int]:
        if self.has_gpt1_specials:
            return [self.start_id, *ids, self.extract_id]
        return [*ids, self.eos_id]

    def encode_pair(self, a: str, b: str) -> tuple[list[int], list[int]]:
        """GPT-1's pair layout ``<start> a <delim> b <extract>``, segments 0 then 1."""
        if not self.has_gpt1_specials:
            raise NotImplementedError("GPT-2 has no pair format; use with_gpt1_specials() for GPT-1's")
        first = [self.start_id, *self.encode(a), self.delim_id]
        second = [*self.encode(b), self.extract_id]
        return first + second, [0] * len(first) + [1] * len(second)

    def _whitespace_edges(self) -> tuple[list[bool], list[bool]]:
        """For every id: does the token start / end with a whitespace byte?"""
        # Bytes 0..32 are drawn as chr(256 + byte) in GPT-2's byte alphabet: " " -> "Ġ", "\n" -> "Ċ".
        markers = {chr(256 + b) for b in b" \t\n\r\x0b\x0c"}
        starts, ends = [], []
        for i in range(self.vocab_size):
            token = self.id_to_token(i) or ""
            starts.append(token[:1] in markers)
            ends.append(token[-1:] in markers)
        return starts, ends

    def word_starts(self, ids: Sequence[int]) -> list[bool]:
        """A word starts at a token beginning with a space (``Ġ``) or other whitespace,
        after whitespace, and at the start.  Punctuation glued to a word (``"lord,"``)
        belongs to that word.  Special tokens stand alone."""
        ids = _as_int_list(ids)
        specials = self.special_ids
        starts = []
        for i, token_id in enumerate(ids):
            if i == 0 or token_id in specials or ids[i - 1] in specials:
                starts.append(True)
            else:
                starts.append(self._space_start[token_id] or self._space_end[ids[i - 1]])
        return starts


class WordPieceTokenizer(_HuggingFaceBacked):
    """BERT style WordPiece.

    Text is cleaned (control characters dropped, any whitespace becomes a space),
    lowercased with accents stripped (if ``lowercase``), and split at spaces and
    punctuation; each word is then cut into the longest pieces in the vocabulary,
    pieces after the first starting with ``##``.  A word containing a character
    the vocabulary lacks (e.g. Korean, if the training text had none) becomes a
    single ``[UNK]``.  So ``decode(encode(text))`` gives back the text only up to
    lowercasing, accents and spacing around punctuation.

    Ids: ``[PAD]`` 0, ``[UNK]`` 1, ``[CLS]`` 2, ``[SEP]`` 3, ``[MASK]`` 4.
    ``encode(text, add_special_tokens=True)`` gives ``[CLS] text [SEP]``.
    """

    kind = "wordpiece"
    special_tokens_by_role = {"pad": "[PAD]", "unk": "[UNK]", "cls": "[CLS]",
                              "sep": "[SEP]", "mask": "[MASK]"}

    @classmethod
    def train(cls, texts: Iterable[str], vocab_size: int = 4096, lowercase: bool = True,
              min_frequency: int = 2) -> "WordPieceTokenizer":
        hf = HFTokenizer(models.WordPiece(unk_token="[UNK]"))
        # strip_accents=None means: strip them exactly when lowercasing (BERT's rule).
        hf.normalizer = normalizers.BertNormalizer(clean_text=True, handle_chinese_chars=True,
                                                   strip_accents=None, lowercase=lowercase)
        hf.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        hf.decoder = decoders.WordPiece(prefix="##")
        trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, min_frequency=min_frequency,
                                            special_tokens=list(BERT_SPECIALS), show_progress=False,
                                            continuing_subword_prefix="##")
        hf.train_from_iterator(texts, trainer)
        hf.model = models.WordPiece(vocab=_stable_wordpiece_ids(hf.get_vocab()), unk_token="[UNK]")
        return cls(hf)

    def normalize(self, text: str) -> str:
        """The text as the tokenizer sees it (cleaned, maybe lowercased)."""
        return self.hf.normalizer.normalize_str(text) if self.hf.normalizer else text

    def _framed(self, ids: list[int]) -> list[int]:
        return [self.cls_id, *ids, self.sep_id]

    def encode_pair(self, a: str, b: str) -> tuple[list[int], list[int]]:
        """``[CLS] a [SEP] b [SEP]`` and token type ids (0 for the first part, 1 for the second)."""
        first = [self.cls_id, *self.encode(a), self.sep_id]
        second = [*self.encode(b), self.sep_id]
        return first + second, [0] * len(first) + [1] * len(second)

    def word_starts(self, ids: Sequence[int]) -> list[bool]:
        """Every token except ``##`` continuations starts a word (punctuation is its own word)."""
        return [not (self.id_to_token(i) or "").startswith("##") for i in _as_int_list(ids)]


def _stable_wordpiece_ids(vocab: dict[str, int]) -> dict[str, int]:
    """Renumber a freshly trained WordPiece vocabulary so the same text gives the same ids.

    The trainer numbers pieces partly in hash-map order, which changes from run
    to run (the set of pieces does not).  WordPiece encodes by longest match, so
    ids carry no meaning beyond identity: we keep the specials at 0-4, then list
    word-initial pieces alphabetically, then ``##`` continuation pieces.
    """
    def sort_key(token: str):
        if token in BERT_SPECIALS:
            return (0, vocab[token], "")
        return (2, 0, token) if token.startswith("##") else (1, 0, token)

    return {token: i for i, token in enumerate(sorted(vocab, key=sort_key))}


_CLASS_BY_KIND = {"char": CharTokenizer, "byte_bpe": ByteBPETokenizer, "wordpiece": WordPieceTokenizer}


# ======================================================================================
def train_tokenizer(kind: str, texts_or_text: str | Iterable[str], vocab_size: int | None = None,
                    **options) -> Tokenizer:
    """Train a tokenizer of ``kind`` ("char", "byte_bpe" or "wordpiece") on some text.

    ``vocab_size`` defaults to every character for "char" and 4096 otherwise.
    Options: ``min_frequency`` (subword kinds), ``lowercase`` (wordpiece),
    ``gpt1_specials`` (byte_bpe).
    """
    _check_kind(kind)
    texts = [texts_or_text] if isinstance(texts_or_text, str) else list(texts_or_text)
    if not any(isinstance(t, str) and t.strip() for t in texts):
        raise ValueError("cannot train a tokenizer on empty text")
    if kind == "char":
        return CharTokenizer.train(texts, vocab_size, **options)
    vocab_size = vocab_size or DEFAULT_VOCAB_SIZES[kind]
    # Feeding lines rather than one huge string lets the Rust trainer use several cores.
    lines = [line for text in texts for line in text.splitlines(keepends=True)]
    return _CLASS_BY_KIND[kind].train(lines, vocab_size, **options)


def load_default(kind: str, gpt1_specials: bool = False) -> Tokenizer:
    """The tokenizer of ``kind`` pre-trained on the course corpus (see scripts/build_tokenizers.py).

    ``gpt1_specials=True`` (byte_bpe only) adds ``<start>``, ``<delim>``, ``<extract>``.
    """
    _check_kind(kind)
    path = tokenizer_dir() / f"{kind}.json"
    if not path.exists():
        raise FileNotFoundError(f"no shipped {kind} tokenizer at {path}; "
                                "build it with: python scripts/build_tokenizers.py")
    tokenizer = Tokenizer.load(path)
    if gpt1_specials:
        if not isinstance(tokenizer, ByteBPETokenizer):
            raise ValueError("GPT-1 special tokens only exist for the byte_bpe tokenizer")
        tokenizer = tokenizer.with_gpt1_specials()
    return tokenizer


load_tokenizer = Tokenizer.load
