"""Lesson 03 (BERT vs GPT-1): the papers' comparison as data, fine-tuning both models each the way its paper does,
and the exercises. The fill-the-blank probe is tested in tests/test_blanks.py, the shipped gpt1-tiny and bert-tiny
(and its equal-compute snapshot) in tests/test_shipped_checkpoints.py and tests/test_recipes.py."""

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.data.tokenization import load_default
from lmteach.lessons import bert_vs_gpt1 as lesson
from lmteach.models.transformer import Gpt1ForTask, SequenceClassifier
from lmteach.training.finetune import FinetuneResult


def test_paper_table_has_the_papers_figures():
    table = lesson.text_table(lesson.paper_rows(), lesson.PAPER_COLUMNS)
    for figure in ("800M", "2,500M", "32,000", "128,000", "5e-5", "6.25e-5", "1M", "[CLS]"):
        assert figure in table
    lines = table.splitlines()
    assert len(lines) == 2 + len(lesson.PAPER_ROWS) and set(lines[1]) <= {"-", " "}
    # Fixed width: every row's "source" cell starts where the header's does.
    column = lines[0].index("source")
    for line, row in zip(lines[2:], lesson.paper_rows()):
        assert line[column:] == row[3]
    assert lesson.paper_rows() == lesson.PAPER_ROWS and lesson.paper_rows() is not lesson.PAPER_ROWS


def test_paper_figures_match_the_rows():
    numbers = lesson.paper_figures()
    assert numbers["bert_batch_words"] / numbers["gpt1_batch_words"] == 4
    assert numbers["bert_words"] == 3.3e9 and numbers["gpt1_words"] == 800e6
    rows = {aspect: (gpt1, bert) for aspect, gpt1, bert, _ in lesson.paper_rows()}
    assert f"{numbers['gpt1_batch_words']:,}" in rows["batch size"][0]
    assert f"{numbers['bert_batch_words']:,}" in rows["batch size"][1]
    assert numbers["gpt1_finetune_lr"] == 6.25e-5 and "6.25e-5" in rows["fine-tuning learning rate"][0]
    assert numbers["gpt1_finetune_lr_as_bert_quotes_it"] == 5e-5 and "5e-5" in rows["fine-tuning learning rate"][0]
    # exercises 03.1 and 03.2 are the same figures worked through
    assert exercises.check("03.1", numbers["bert_batch_words"] / numbers["gpt1_batch_words"])
    assert exercises.check("03.2", numbers["bert_batch_words"] * numbers["steps"] / numbers["bert_words"])


def test_text_table_is_deterministic_and_pads_to_the_widest_cell():
    table = lesson.text_table([("a", "bb"), ("ccc", "d")], ("x", "y"))
    assert table == "x    y\n---  --\na    bb\nccc  d"
    assert lesson.text_table([("a", "bb"), ("ccc", "d")], ("x", "y")) == table


@pytest.fixture(scope="module")
def models():
    """A tiny random GPT-1 (byte-level BPE with GPT-1's tokens) and BERT (WordPiece), as the lesson pairs them."""
    gpt_tok, bert_tok = load_default("byte_bpe", gpt1_specials=True), load_default("wordpiece")
    small = dict(num_layers=1, hidden_size=32, num_heads=2, ffn_size=64, max_positions=64)
    torch.manual_seed(0)
    gpt1 = lt.build(lt.configs.gpt1("tiny", vocab_size=gpt_tok.vocab_size, **small))
    bert = lt.build(lt.configs.bert("tiny", vocab_size=bert_tok.vocab_size, **small))
    return {"GPT-1": (gpt1, gpt_tok), "BERT": (bert, bert_tok)}


def test_finetune_both_takes_each_papers_route_with_the_same_settings(models):
    before = {name: {k: v.clone() for k, v in model.state_dict().items()} for name, (model, _) in models.items()}
    results = lesson.finetune_both(models, "genre", seeds=(0, 1), steps=2, batch_size=4, max_len=32,
                                   train_limit=40, eval_limit=12)
    assert list(results) == ["GPT-1", "BERT"]
    for name, runs in results.items():
        assert [r.settings["seed"] for r in runs] == [0, 1]
        assert all(isinstance(r, FinetuneResult) and 0 <= r.accuracy <= 1 for r in runs)
        assert runs[0].baseline == runs[1].baseline  # the same evaluated examples
        assert {k: runs[0].settings[k] for k in ("steps", "batch_size", "max_len")} == {
            "steps": 2, "batch_size": 4, "max_len": 32}
    # GPT-1 through its Extract token with the auxiliary LM loss (§3.2-3.3), BERT through [CLS] (§4.1)
    assert all(isinstance(r.model, Gpt1ForTask) and r.lm_weight == 0.5 for r in results["GPT-1"])
    assert all(isinstance(r.model, SequenceClassifier) and r.lm_weight is None for r in results["BERT"])
    assert results["GPT-1"][0].baseline == results["BERT"][0].baseline  # graded on the same examples
    for name, (model, _) in models.items():  # copies were fine-tuned
        assert all(torch.equal(v, before[name][k]) for k, v in model.state_dict().items()), name


def test_exercises_accept_right_and_reject_wrong_answers():
    assert exercises.check("03.1", 4) and not exercises.check("03.1", 0.25)
    assert exercises.check("03.2", 128_000 * 1e6 / 3.3e9) and not exercises.check("03.2", 160)
    assert exercises.check("03.3", 55) and not exercises.check("03.3", 100)
    assert exercises.check("03.4", "Last") and not exercises.check("03.4", "first")
