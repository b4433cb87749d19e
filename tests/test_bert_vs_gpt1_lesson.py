"""Lesson 03 (BERT vs GPT-1): the papers' table, matched configs and compute, the masked-middle-word probe,
fine-tuning both models through the same ids, the shipped checkpoints and the exercises."""

import json
from pathlib import Path

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.analysis import comparison as cmp
from lmteach.analysis.compute import training_flops
from lmteach.analysis.finetuning import encode_examples, task_inputs
from lmteach.analysis.mlm_experiments import task_batches as bert_task_batches
from lmteach.data.tasks import load_task
from lmteach.data.tokenization import load_default

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data" / "checkpoints"


@pytest.fixture(scope="module")
def tok():
    return load_default("wordpiece")


@pytest.fixture(scope="module")
def small_pair(tok):
    """A very small random GPT-1 and BERT of the same shape (fast enough for tests)."""
    torch.manual_seed(0)
    gpt_cfg, bert_cfg = cmp.matched_configs(tok.vocab_size, 48, hidden_size=32, num_layers=2, num_heads=2,
                                            ffn_size=64)
    return lt.build(gpt_cfg).eval(), lt.build(bert_cfg).eval()


def test_paper_table_has_the_papers_figures():
    table = cmp.text_table(cmp.paper_rows(), cmp.PAPER_COLUMNS)
    for figure in ("800M", "2,500M", "32,000", "128,000", "5e-5", "1M", "[CLS]"):
        assert figure in table
    lines = table.splitlines()
    assert len(lines) == 2 + len(cmp.PAPER_ROWS) and set(lines[1]) <= {"-", " "}
    numbers = cmp.paper_figures()
    assert numbers["bert_batch_words"] / numbers["gpt1_batch_words"] == 4
    assert numbers["bert_words"] == 3.3e9


def test_matched_configs_differ_only_where_the_papers_differ(tok):
    gpt_cfg, bert_cfg = cmp.matched_configs(tok.vocab_size)
    differences = set(lt.configs.diff(gpt_cfg, bert_cfg))
    assert differences <= {"family", "causal", "activation", "segment_vocab_size", "embedding_norm", "pooler",
                           "pair_task", "layer_norm_eps"}
    assert gpt_cfg.causal and not bert_cfg.causal
    for name in ("hidden_size", "num_layers", "num_heads", "ffn_size", "vocab_size", "max_positions"):
        assert getattr(gpt_cfg, name) == getattr(bert_cfg, name)
    # BERT's extras (segment table, embedding norm, pooler) are a few percent of the body.
    gpt_count, bert_count = lt.count_params(gpt_cfg), lt.count_params(bert_cfg)
    assert gpt_count < bert_count < 1.05 * gpt_count


def test_same_compute_gives_bert_slightly_fewer_steps(tok):
    budget = cmp.same_compute_steps(500, 16, 64, tok.vocab_size)
    gpt_cfg, bert_cfg = cmp.matched_configs(tok.vocab_size, 64)
    assert budget["flops"] == training_flops(gpt_cfg, 500, 16, 64)
    assert budget["bert_flops"] <= budget["flops"] < training_flops(bert_cfg, budget["bert_steps"] + 1, 16, 64)
    assert 450 < budget["bert_steps"] < 500


def test_middle_word_examples_hide_one_whole_word(tok):
    texts = ["to be or not to be that is the question", "o",
             "the quality of mercy is not strained at all today",   # middle token 'stra' is a piece of a word
             "i do not know what you mean by that word sir"]
    examples = cmp.middle_word_examples(tok, texts)
    assert [tok.id_to_token(e["ids"][e["position"]]) for e in examples] == ["be", "you"]
    for example in examples:
        ids, m = example["ids"], example["position"]
        assert m == len(ids) // 2
        assert tok.id_to_token(ids[m]).isalpha()
        assert tok.word_starts(ids)[m + 1]


def test_batched_ranks_match_one_sentence_at_a_time(tok, small_pair):
    gpt, bert = small_pair
    examples = cmp.middle_word_examples(tok, cmp.held_out_sentences())[:12]
    ranks = cmp.middle_word_ranks(gpt, bert, tok, examples, batch_size=5)
    for i, example in enumerate(examples):
        ids, m = example["ids"], example["position"]
        bert_scores = bert(input_ids=torch.tensor([[tok.cls_id, *ids[:m], tok.mask_id, *ids[m + 1:],
                                                     tok.sep_id]])).prediction_logits[0, m + 1]
        gpt_scores = gpt(input_ids=torch.tensor([ids[:m]])).logits[0, -1]
        assert int(ranks["bert"][i]) == int((bert_scores > bert_scores[ids[m]]).sum())
        assert int(ranks["gpt1"][i]) == int((gpt_scores > gpt_scores[ids[m]]).sum())


def test_gpt_cannot_see_the_right_context_but_bert_can(tok, small_pair):
    gpt, bert = small_pair
    left, word = tok.encode("i pray you tell me"), tok.encode("now")
    one = [{"ids": left + word + tok.encode("what is the hour of the day"), "position": len(left)}]
    other = [{"ids": left + word + tok.encode("for love of god and country"), "position": len(left)}]
    first, second = cmp.middle_word_ranks(gpt, bert, tok, one), cmp.middle_word_ranks(gpt, bert, tok, other)
    assert int(first["gpt1"][0]) == int(second["gpt1"][0])
    assert int(first["bert"][0]) != int(second["bert"][0])


def test_probe_rows_split_examples_into_disjoint_sets(tok, small_pair):
    gpt, bert = small_pair
    examples = cmp.middle_word_examples(tok, cmp.held_out_sentences())[:30]
    rows = cmp.middle_word_probe(gpt, bert, tok, examples, n_sets=3)
    assert [r["set"] for r in rows] == [0, 1, 2] and sum(r["examples"] for r in rows) == 30
    for row in rows:
        assert 0 <= row["bert_top1"] <= row["bert_top5"] <= 1 and 0 <= row["gpt1_top1"] <= row["gpt1_top5"] <= 1
        assert 0 < row["bert_moved_by_right"] <= 1   # even a random BERT reads the right side
    assert cmp.probe_png(rows)[:4] == b"\x89PNG"


def test_both_models_fine_tune_on_the_same_ids(tok):
    examples = load_task("genre", "train")[:4]
    view = cmp.Gpt1View(tok)
    gpt_ids = task_inputs(view, "genre", encode_examples(view, "genre", examples), max_len=64)["input_ids"]
    bert_ids = bert_task_batches(tok, examples, 64)[0]["input_ids"]
    assert torch.equal(gpt_ids, bert_ids)
    assert (gpt_ids[:, 0] == tok.cls_id).all()


def test_finetune_both_reports_accuracy(tok, small_pair):
    gpt, bert = small_pair
    rows = cmp.finetune_both(gpt, bert, tok, "genre", steps=2, batch_size=4, seq_len=48, max_eval=12)
    assert [r["model"] for r in rows] == ["GPT-1", "BERT"]
    for row in rows:
        assert 0 <= row["accuracy"] <= 1 and row["baseline"] == pytest.approx(1 / 3, abs=0.01)
    with pytest.raises(ValueError, match="single-text"):
        cmp.finetune_both(gpt, bert, tok, "reply", steps=1)


def test_attention_pair_picture(tok, small_pair):
    gpt, bert = small_pair
    assert cmp.attention_pair_png(gpt, bert, tok, "to be or not to be")[:4] == b"\x89PNG"


@pytest.mark.parametrize("family", ["gpt1", "bert"])
def test_shipped_checkpoints_are_small_matched_and_documented(family, tok):
    folder = CHECKPOINTS / f"compare-{family}"
    assert (folder / "model.safetensors").stat().st_size < 3.2e6
    assert (folder / "README.md").exists()
    info = json.loads((folder / "config.json").read_text())
    extra = info["extra"]
    gpt_cfg, bert_cfg = cmp.matched_configs(tok.vocab_size, extra["seq_len"], dropout=extra["dropout"],
                                            attention_dropout=extra["dropout"])
    cfg = gpt_cfg if family == "gpt1" else bert_cfg
    assert info["config"] == cfg.to_dict()
    budget = cmp.same_compute_steps(json.loads((CHECKPOINTS / "compare-gpt1" / "config.json").read_text())
                                    ["extra"]["steps"], extra["batch_size"], extra["seq_len"], tok.vocab_size)
    assert extra["steps"] == budget["gpt1_steps" if family == "gpt1" else "bert_steps"]
    assert extra["flops"] == budget["flops"]


def test_exercises_accept_right_and_reject_wrong_answers():
    assert exercises.check("03.1", 4) and not exercises.check("03.1", 0.25)
    assert exercises.check("03.2", 128_000 * 1e6 / 3.3e9) and not exercises.check("03.2", 160)
    assert exercises.check("03.3", 55) and not exercises.check("03.3", 100)
    assert exercises.check("03.4", "Last") and not exercises.check("03.4", "first")
