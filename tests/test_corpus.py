"""The shipped Shakespeare corpus and loading your own text."""

import time

import pytest

from lmteach.data.corpus import Corpus, load_corpus, sentences


@pytest.fixture(scope="module")
def shakespeare() -> Corpus:
    return load_corpus()


def test_loads_fast():
    start = time.perf_counter()
    corpus = load_corpus()
    corpus.text
    assert time.perf_counter() - start < 2.0


def test_no_gutenberg_boilerplate_left(shakespeare):
    lowered = shakespeare.text.lower()
    for phrase in ("project gutenberg", "gutenberg", "small print", "copyright", "public domain"):
        assert phrase not in lowered
    assert "[" not in shakespeare.text  # stage directions were removed


def test_structure(shakespeare):
    stats = shakespeare.describe()
    assert stats["works"] == 42  # 37 plays and 5 poems
    assert 850 < stats["documents"] < 1000
    assert 25_000 < stats["speeches"] < 35_000
    assert 700_000 < stats["words"] < 1_000_000
    assert {"Hamlet", "Macbeth", "Sonnets", "King Lear"} <= set(shakespeare.works)
    assert len(shakespeare.speeches) == sum(len(d) for d in shakespeare.documents)


def test_speeches_in_order_with_speakers(shakespeare):
    hamlet = [s for s in shakespeare.speeches if s.work == "Hamlet"]
    assert (hamlet[0].act, hamlet[0].scene) == (1, "1")
    assert hamlet[0].speaker == "BER" and hamlet[0].text == "Who's there?"
    assert hamlet[1].text.startswith("Nay, answer me")
    assert hamlet[-1].act == 5
    acts = [s.act for s in hamlet]
    assert acts == sorted(acts)
    to_be = next(s for s in hamlet if s.text.startswith("To be, or not to be"))
    assert to_be.speaker == "HAM" and to_be.act == 3
    in_plays = [s for s in shakespeare.speeches if s.act is not None]
    with_speaker = sum(s.speaker is not None for s in in_plays)
    assert with_speaker / len(in_plays) > 0.99
    assert "\nMACBETH:\n" in shakespeare.text


def test_poems_are_stanzas_without_speakers(shakespeare):
    sonnets = [s for s in shakespeare.speeches if s.work == "Sonnets"]
    assert len(sonnets) == 154
    assert all(s.speaker is None for s in sonnets)
    assert any(s.text.startswith("Shall I compare thee to a summer's day?") for s in sonnets)


def test_split_is_deterministic_and_by_document(shakespeare):
    train, val = shakespeare.split(0.9, seed=0)
    again, _ = shakespeare.split(0.9, seed=0)
    assert train.documents == again.documents
    assert len(train.documents) + len(val.documents) == len(shakespeare.documents)
    assert abs(len(val.documents) / len(shakespeare.documents) - 0.1) < 0.01
    train_ids = {id(d) for d in train.documents}
    assert not any(id(d) in train_ids for d in val.documents)
    other, _ = shakespeare.split(0.9, seed=1)
    assert other.documents != train.documents
    assert shakespeare.val_text == val.text and len(shakespeare.train_text) > 5 * len(val.text)
    assert len(val.speeches) == sum(len(d) for d in val.documents)


def test_sentences():
    assert sentences("Who's there? Nay, answer me:\nstand. Long live the king!") == [
        "Who's there?", "Nay, answer me: stand.", "Long live the king!"]
    assert sentences("   ") == []


def test_user_file(tmp_path):
    path = tmp_path / "notes.txt"
    path.write_text("First paragraph. Two sentences.\n\nSecond\nparagraph.\n\n\nThird.\n")
    corpus = load_corpus(path)
    assert corpus.documents == [["First paragraph. Two sentences.", "Second\nparagraph.", "Third."]]
    assert corpus.speeches is None and corpus.works == ["notes"]
    assert "Second\nparagraph." in corpus.text
    train, val = corpus.split(0.5)
    assert train.documents == [["First paragraph. Two sentences.", "Second\nparagraph."]]
    assert val.documents == [["Third."]]


def test_user_folder(tmp_path):
    (tmp_path / "b.txt").write_text("Bee one.\n\nBee two.\n")
    (tmp_path / "a.txt").write_text("Ay one.\n")
    (tmp_path / "ignored.md").write_text("not text")
    corpus = load_corpus(tmp_path)
    assert corpus.works == ["a", "b"]
    assert corpus.documents == [["Ay one."], ["Bee one.", "Bee two."]]
    assert corpus.describe()["documents"] == 2


def test_clear_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no such file"):
        load_corpus(tmp_path / "missing.txt")
    with pytest.raises(ValueError, match="no .txt files"):
        load_corpus(tmp_path)
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n  \n")
    with pytest.raises(ValueError, match="no text found"):
        load_corpus(empty)


def test_env_var_overrides_data_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("LMTEACH_DATA", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="build_corpus.py"):
        load_corpus()
