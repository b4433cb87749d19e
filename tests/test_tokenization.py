"""The three tokenizers: round trips, special tokens, word starts, saving, and clear errors."""

import json

import pytest
import torch

from lmteach.data.corpus import load_corpus
from lmteach.data.tokenization import (
    KINDS, ByteBPETokenizer, CharTokenizer, Tokenizer, WordPieceTokenizer, data_dir,
    load_default, load_tokenizer, train_tokenizer,
)

KOREAN_AND_EMOJI = "안녕하세요 😀"


@pytest.fixture(scope="module")
def corpus_text():
    return load_corpus().text


@pytest.fixture(scope="module")
def sample(corpus_text):
    # 20 KB from the middle of the corpus.
    middle = len(corpus_text) // 2
    return corpus_text[middle: middle + 20_000]


@pytest.fixture(scope="module")
def shipped():
    return {kind: load_default(kind) for kind in KINDS}


def test_shipped_tokenizers_have_the_expected_shape(shipped, corpus_text):
    char, bpe, wordpiece = shipped["char"], shipped["byte_bpe"], shipped["wordpiece"]
    assert isinstance(char, CharTokenizer) and char.kind == "char"
    assert isinstance(bpe, ByteBPETokenizer) and bpe.kind == "byte_bpe"
    assert isinstance(wordpiece, WordPieceTokenizer) and wordpiece.kind == "wordpiece"
    assert char.vocab_size == len(set(corpus_text)) + 3  # every character, plus PAD UNK MASK
    assert bpe.vocab_size == 4096 and wordpiece.vocab_size == 4096
    assert len(bpe) == 4096


# --- round trips ----------------------------------------------------------------------
def test_char_round_trip_is_exact(shipped, sample):
    char = shipped["char"]
    ids = char.encode(sample)
    assert len(ids) == len(sample) and char.unk_id not in ids
    assert char.decode(ids) == sample


def test_byte_bpe_round_trip_is_exact_and_compresses(shipped, sample):
    bpe = shipped["byte_bpe"]
    ids = bpe.encode(sample)
    assert bpe.decode(ids) == sample
    assert len(ids) < len(sample) / 2.5  # Shakespeare: about 3 characters per token


def test_wordpiece_round_trip_up_to_case_and_spacing(shipped, sample):
    # WordPiece forgets case (and accents) and how words were spaced: "lord ," comes back
    # as "lord,", and "o'er" as "o ' er".  Everything else must survive.
    wordpiece = shipped["wordpiece"]
    ids = wordpiece.encode(sample)
    assert wordpiece.unk_id not in ids
    decoded = wordpiece.decode(ids)
    assert "".join(decoded.split()) == "".join(sample.lower().split())
    assert decoded == decoded.lower()


@pytest.mark.parametrize("kind", KINDS)
def test_tokenize_shows_the_encoded_tokens(shipped, kind):
    tokenizer = shipped[kind]
    text = "O Romeo, Romeo! wherefore art thou Romeo?\n"
    assert tokenizer.tokenize(text) == [tokenizer.id_to_token(i) for i in tokenizer.encode(text)]
    assert all(tokenizer.token_to_id(t) == i for t, i in zip(tokenizer.tokenize(text), tokenizer.encode(text)))


def test_decode_accepts_tensors(shipped):
    bpe = shipped["byte_bpe"]
    ids = bpe.encode("My lord, the king.")
    assert bpe.decode(torch.tensor(ids)) == "My lord, the king."


# --- special tokens ---------------------------------------------------------------------
def test_special_tokens_are_never_split(shipped):
    bpe, wordpiece, char = shipped["byte_bpe"], shipped["wordpiece"], shipped["char"]
    ids = bpe.encode("the end<|endoftext|>A new play")
    assert ids.count(bpe.eos_id) == 1
    assert "<|endoftext|>" in bpe.tokenize("the end<|endoftext|>A new play")

    ids = wordpiece.encode("To [MASK] or not [MASK]. [SEP] [CLS]")
    assert ids.count(wordpiece.mask_id) == 2
    assert ids.count(wordpiece.sep_id) == 1 and ids.count(wordpiece.cls_id) == 1

    assert char.encode("a[MASK]b") == [char.token_to_id("a"), char.mask_id, char.token_to_id("b")]


def test_special_ids_per_family(shipped):
    char, bpe, wordpiece = shipped["char"], shipped["byte_bpe"], shipped["wordpiece"]
    assert (wordpiece.pad_id, wordpiece.unk_id, wordpiece.cls_id, wordpiece.sep_id,
            wordpiece.mask_id) == (0, 1, 2, 3, 4)
    assert wordpiece.special_ids == {0, 1, 2, 3, 4}
    assert wordpiece.bos_id is None and wordpiece.start_id is None

    assert bpe.unk_id is None and bpe.mask_id is None and bpe.cls_id is None
    assert bpe.bos_id == bpe.eos_id == bpe.pad_id == bpe.token_to_id("<|endoftext|>")
    assert bpe.special_ids == {bpe.eos_id}
    assert bpe.start_id is None

    assert (char.pad_id, char.unk_id, char.mask_id) == (0, 1, 2)
    assert char.special_ids == {0, 1, 2}


def test_add_special_tokens_frames_the_text(shipped):
    bpe, wordpiece = shipped["byte_bpe"], shipped["wordpiece"]
    text = "Good morrow"
    assert wordpiece.encode(text, add_special_tokens=True) == [
        wordpiece.cls_id, *wordpiece.encode(text), wordpiece.sep_id]
    assert bpe.encode(text, add_special_tokens=True) == [*bpe.encode(text), bpe.eos_id]
    gpt1 = bpe.with_gpt1_specials()
    assert gpt1.encode(text, add_special_tokens=True) == [
        gpt1.start_id, *bpe.encode(text), gpt1.extract_id]
    assert wordpiece.encode_batch([text, "Farewell"], add_special_tokens=True) == [
        wordpiece.encode(text, True), wordpiece.encode("Farewell", True)]


def test_bert_pair_encoding(shipped):
    wordpiece = shipped["wordpiece"]
    a, b = "Where is the king?", "He is gone to France."
    ids, segments = wordpiece.encode_pair(a, b)
    ids_a, ids_b = wordpiece.encode(a), wordpiece.encode(b)
    assert ids == [wordpiece.cls_id, *ids_a, wordpiece.sep_id, *ids_b, wordpiece.sep_id]
    assert segments == [0] * (len(ids_a) + 2) + [1] * (len(ids_b) + 1)


def test_gpt1_specials_are_single_new_ids(shipped):
    plain = shipped["byte_bpe"]
    gpt1 = load_default("byte_bpe", gpt1_specials=True)
    assert gpt1.has_gpt1_specials and not plain.has_gpt1_specials
    assert (gpt1.start_id, gpt1.delim_id, gpt1.extract_id) == (4096, 4097, 4098)
    assert gpt1.vocab_size == 4099
    assert gpt1.encode("<start>") == [gpt1.start_id]
    assert gpt1.encode("Yes<delim>No") == [*plain.encode("Yes"), gpt1.delim_id, *plain.encode("No")]
    assert gpt1.special_ids == {gpt1.eos_id, 4096, 4097, 4098}
    text = "Is this a dagger which I see before me?"
    assert gpt1.encode(text) == plain.encode(text)  # the rest of the vocabulary is unchanged

    ids, segments = gpt1.encode_pair("a dagger", "a sword")
    assert ids[0] == gpt1.start_id and ids[-1] == gpt1.extract_id and ids.count(gpt1.delim_id) == 1
    assert segments[ids.index(gpt1.delim_id)] == 0 and segments[-1] == 1
    with pytest.raises(NotImplementedError, match="with_gpt1_specials"):
        plain.encode_pair("a", "b")


# --- word starts --------------------------------------------------------------------------
def _words_from_starts(tokenizer, ids, join):
    words = []
    for token_id, starts in zip(ids, tokenizer.word_starts(ids)):
        piece = join(tokenizer.id_to_token(token_id))
        if starts:
            words.append(piece)
        else:
            words[-1] += piece
    return words


def test_word_starts_byte_bpe_follow_spaces(shipped):
    bpe = shipped["byte_bpe"]
    text = "Honorificabilitudinitatibus, my lord!\nGo  thou,sweet <|endoftext|>Exit."
    ids = bpe.encode(text)
    words = _words_from_starts(bpe, ids, join=lambda tok: bpe.decode([bpe.token_to_id(tok)]))
    # Grouping tokens by word_starts gives back the whitespace-separated words.
    assert [w.strip() for w in words if w.strip()] == [
        "Honorificabilitudinitatibus,", "my", "lord!", "Go", "thou,sweet", "<|endoftext|>", "Exit."]
    assert bpe.word_starts(ids)[0] is True


def test_word_starts_wordpiece_follow_double_hash(shipped):
    wordpiece = shipped["wordpiece"]
    ids = wordpiece.encode("Honorificabilitudinitatibus, my lord!", add_special_tokens=True)
    tokens = [wordpiece.id_to_token(i) for i in ids]
    assert len(tokens) > 7  # the long word is cut into several pieces
    assert wordpiece.word_starts(ids) == [not t.startswith("##") for t in tokens]
    words = _words_from_starts(wordpiece, ids, join=lambda tok: tok.removeprefix("##"))
    assert words == ["[CLS]", "honorificabilitudinitatibus", ",", "my", "lord", "!", "[SEP]"]


def test_word_starts_char(shipped):
    char = shipped["char"]
    ids = char.encode("to be[MASK]")
    assert char.word_starts(ids) == [True, False, True, True, False, True]


# --- text outside the training data -------------------------------------------------------
def test_korean_and_emoji(shipped):
    bpe, wordpiece, char = shipped["byte_bpe"], shipped["wordpiece"], shipped["char"]
    assert bpe.unk_id is None
    assert bpe.decode(bpe.encode(KOREAN_AND_EMOJI)) == KOREAN_AND_EMOJI  # bytes: nothing is unknown
    assert wordpiece.encode(KOREAN_AND_EMOJI) == [wordpiece.unk_id, wordpiece.unk_id]
    assert wordpiece.encode("안녕 king") == [wordpiece.unk_id, wordpiece.token_to_id("king")]
    assert set(char.encode("안😀")) == {char.unk_id}


# --- saving and loading ---------------------------------------------------------------------
@pytest.mark.parametrize("kind", KINDS)
def test_save_load_and_dict_round_trips(shipped, kind, tmp_path, sample):
    tokenizer = shipped[kind]
    text = sample[:3000] + " [MASK] <|endoftext|> " + KOREAN_AND_EMOJI
    expected = tokenizer.encode(text)

    data = json.loads(json.dumps(tokenizer.to_dict()))  # must survive JSON, e.g. in a checkpoint
    rebuilt = Tokenizer.from_dict(data)
    assert type(rebuilt) is type(tokenizer) and rebuilt.encode(text) == expected

    loaded = load_tokenizer(tokenizer.save(tmp_path / "sub" / f"{kind}.json"))
    assert loaded.encode(text) == expected
    assert loaded.special_ids == tokenizer.special_ids and loaded.vocab_size == tokenizer.vocab_size


def test_gpt1_variant_survives_saving(shipped, tmp_path):
    gpt1 = shipped["byte_bpe"].with_gpt1_specials()
    loaded = Tokenizer.load(gpt1.save(tmp_path / "gpt1.json"))
    assert (loaded.start_id, loaded.delim_id, loaded.extract_id) == (4096, 4097, 4098)


# --- training -------------------------------------------------------------------------------
def test_training_small_tokenizers(sample):
    bpe = train_tokenizer("byte_bpe", sample, 300)
    assert bpe.vocab_size == 300 and bpe.decode(bpe.encode(sample)) == sample
    wordpiece = train_tokenizer("wordpiece", [sample[:10_000], sample[10_000:]], 400, lowercase=False)
    assert wordpiece.vocab_size == 400
    pieces = wordpiece.tokenize("Meeting")  # a word of the sample, capitalised: case is kept
    assert "".join(p.removeprefix("##") for p in pieces) == "Meeting"
    char = train_tokenizer("char", "aaab", vocab_size=4)
    assert char.vocab_size == 4 and char.encode("ab") == [char.token_to_id("a"), char.unk_id]


def test_char_tokenizer_is_built_from_characters():
    char = train_tokenizer("char", "hello")
    assert char.vocab_size == 3 + 4
    assert [char.id_to_token(i) for i in range(3, 7)] == ["e", "h", "l", "o"]
    assert char.id_to_token(99) is None and char.token_to_id("z") is None


# --- errors ---------------------------------------------------------------------------------
def shipped_dict_header(kind):
    return {key: value for key, value in load_default(kind).to_dict().items()
            if key in ("format", "version", "kind")}


def test_clear_errors(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="empty"):
        train_tokenizer("byte_bpe", "")
    with pytest.raises(ValueError, match="empty"):
        train_tokenizer("wordpiece", ["", "   \n"])
    with pytest.raises(ValueError, match="char, byte_bpe, wordpiece"):
        train_tokenizer("sentencepiece", "some text")
    with pytest.raises(ValueError, match="choose one of"):
        load_default("gpt2")

    not_json = tmp_path / "notes.txt"
    not_json.write_text("just some notes")
    with pytest.raises(ValueError, match="not an lmteach tokenizer"):
        load_tokenizer(not_json)
    other_json = tmp_path / "config.json"
    other_json.write_text(json.dumps({"d_model": 128}))
    with pytest.raises(ValueError, match="not an lmteach tokenizer"):
        load_tokenizer(other_json)
    with pytest.raises(ValueError, match="not an lmteach tokenizer"):
        Tokenizer.from_dict(["a", "b"])

    broken = {**shipped_dict_header("byte_bpe"), "hf_tokenizer": {"model": "nonsense"}}
    with pytest.raises(ValueError, match="broken byte_bpe tokenizer"):
        Tokenizer.from_dict(broken)
    with pytest.raises(ValueError, match="only exist for the byte_bpe"):
        load_default("wordpiece", gpt1_specials=True)

    monkeypatch.setenv("LMTEACH_DATA", str(tmp_path))
    assert data_dir() == tmp_path
    with pytest.raises(FileNotFoundError, match="build_tokenizers.py"):
        load_default("wordpiece")
