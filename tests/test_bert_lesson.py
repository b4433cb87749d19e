"""Lesson 02 (BERT): the experiment functions, the three widgets and the exercises."""

import random

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.analysis import mlm_experiments as mx
from lmteach.data.corpus import load_corpus
from lmteach.data.tokenization import load_default
from lmteach.objectives import IGNORE_INDEX, Fate
from lmteach.widgets.fill_mask import FillMask, fill_mask_html
from lmteach.widgets.masking_explorer import MaskingExplorer, corrupt_text
from lmteach.widgets.pair_builder import PairBuilder, drawn_pair


@pytest.fixture(scope="module")
def tok():
    return load_default("wordpiece")


@pytest.fixture(scope="module")
def docs(tok):
    train, val = load_corpus().split(0.9, seed=0)
    return mx.tokenized_documents(tok, train, max_documents=12), mx.tokenized_documents(tok, val, max_documents=6)


@pytest.fixture(scope="module")
def small_bert(tok):
    torch.manual_seed(0)
    cfg = lt.configs.preset("bert", "tiny", vocab_size=tok.vocab_size, hidden_size=32, num_heads=2, ffn_size=64,
                            num_layers=1)
    return lt.build(cfg).eval()


# --- experiments -------------------------------------------------------------------------------------------------

def test_tokenized_documents_keep_only_documents_with_a_pair(tok, docs):
    train_docs, _ = docs
    assert all(len(doc) >= 2 and all(seg for seg in doc) for doc in train_docs)
    assert all(isinstance(t, int) for t in train_docs[0][0])


@pytest.mark.parametrize("mix", [mx.BERT_MIX, mx.MASK_ONLY_MIX])
def test_pretraining_batches_follow_the_rate_and_mix(tok, docs, mix):
    batch = mx.pretraining_batches(tok, docs[0], 64, 32, seed=3, rate=0.4, mix=mix)(0)
    picked = batch["labels"] != IGNORE_INDEX
    real = batch["attention_mask"].bool() & ~torch.isin(batch["labels"].where(picked, batch["input_ids"]),
                                                        torch.tensor(sorted(tok.special_ids)))
    assert abs(picked.sum().item() / real.sum().item() - 0.4) < 0.03
    masked_share = (batch["input_ids"][picked] == tok.mask_id).float().mean().item()
    if mix == mx.MASK_ONLY_MIX:
        assert masked_share == 1.0
    else:
        assert 0.7 < masked_share < 0.9
    assert set(batch["pair_labels"].tolist()) <= {0, 1}
    # reproducible from (seed, step)
    again = mx.pretraining_batches(tok, docs[0], 64, 32, seed=3, rate=0.4, mix=mix)(0)
    assert torch.equal(again["input_ids"], batch["input_ids"])


def test_evaluate_mlm_scores_a_copying_oracle_and_a_random_model(tok, docs, small_bert):
    class Oracle(torch.nn.Module):
        """Knows the answers: predicts the original token everywhere (labels are looked up by position)."""

        def __init__(self, answers):
            super().__init__()
            self.answers = answers

        def forward(self, input_ids, **_):
            answer = self.answers[tuple(input_ids.shape)]
            logits = torch.nn.functional.one_hot(answer, tok.vocab_size).float()
            return type("Out", (), {"prediction_logits": logits})()

    make = mx.pretraining_batches(tok, docs[1], 64, 8, seed=1234)
    batch = make(0)
    clean = torch.where(batch["labels"] != IGNORE_INDEX, batch["labels"], batch["input_ids"])
    oracle = Oracle({tuple(clean.shape): clean})
    perfect = mx.evaluate_mlm(oracle, tok, docs[1], batches=1, batch_size=8)
    assert perfect["accuracy"] == 1.0 and perfect["copy_accuracy"] == 1.0 and perfect["masked_accuracy"] == 1.0
    untrained = mx.evaluate_mlm(small_bert, tok, docs[1], batches=1, batch_size=8)
    assert untrained["accuracy"] < 0.05
    assert untrained["loss"] > 7.0  # about ln(4096) = 8.3 for a model that knows nothing
    assert untrained["predicted_tokens"] == perfect["predicted_tokens"] > 0


def test_unigram_baseline_is_the_share_of_the_commonest_token(tok, docs):
    baseline = mx.unigram_accuracy(docs[0], docs[1], tok)
    commonest = tok.token_to_id(baseline["token"])
    tokens = [t for doc in docs[1] for seg in doc for t in seg if t not in tok.special_ids]
    assert baseline["accuracy"] == pytest.approx(tokens.count(commonest) / len(tokens))
    assert 0.01 < baseline["accuracy"] < 0.2


def test_nsp_accuracy_of_an_untrained_model_is_near_chance(tok, docs, small_bert):
    accuracy = mx.nsp_accuracy(small_bert, tok, docs[1], pairs=128)
    assert 0.25 < accuracy < 0.75


def test_nsp_accuracy_is_perfect_for_a_model_that_knows_the_labels(tok, docs):
    # A fake model that answers with the labels of the same draw (same rng seed): accuracy must be 1.0.
    rng = random.Random(99)
    from lmteach.objectives import make_nsp_batch
    labels = make_nsp_batch(docs[1], 64, rng, max_len=64, cls_id=tok.cls_id, sep_id=tok.sep_id,
                            pad_id=tok.pad_id)["labels"]

    class Replay(torch.nn.Module):
        def forward(self, input_ids, **_):
            logits = torch.nn.functional.one_hot(labels[:len(input_ids)], 2).float()
            return type("Out", (), {"seq_relationship_logits": logits})()

    assert mx.nsp_accuracy(Replay(), tok, docs[1], pairs=64) == 1.0


def test_task_batches_pack_single_and_pair_tasks(tok):
    from lmteach.data.tasks import load_task

    single = mx.task_batches(tok, load_task("genre", "validation")[:10], 32)
    assert single[0]["input_ids"][:, 0].eq(tok.cls_id).all() and single[0]["token_type_ids"].max() == 0
    pair = mx.task_batches(tok, load_task("reply", "validation")[:10], 48)[0]
    assert pair["token_type_ids"].max() == 1 and pair["input_ids"].shape[1] <= 48
    assert (pair["input_ids"] == tok.sep_id).sum(dim=1).eq(2).all()
    drawn = mx.task_batches(tok, load_task("genre", "train")[:50], 32, batch_size=4, seed=1)
    assert torch.equal(drawn(5)["input_ids"], drawn(5)["input_ids"]) and drawn(5)["labels"].shape == (4,)


def test_classifier_from_pretrained_copies_the_body(tok, small_bert):
    classifier = mx.classifier_from_pretrained(small_bert, num_labels=3)
    assert torch.equal(classifier.body.layers[0].attention.query.weight, small_bert.body.layers[0].attention.query.weight)
    assert torch.equal(classifier.body.pooler.weight, small_bert.body.pooler.weight)
    assert classifier.classifier.out_features == 3
    classifier.body.pooler.weight.data.add_(1.0)  # a copy: the pretrained model is untouched
    assert not torch.equal(classifier.body.pooler.weight, small_bert.body.pooler.weight)


def test_finetune_classifier_learns_and_reports_the_baseline(tok, small_bert):
    result = mx.finetune_classifier(small_bert, tok, "genre", steps=3, batch_size=8, seq_len=32, max_train=200,
                                    max_eval=64)
    assert 0.0 <= result["accuracy"] <= 1.0
    assert result["majority_baseline"] >= 1 / 3
    assert len(result["history"].losses) == 3


def test_sweep_json_round_trip(tmp_path):
    path = tmp_path / "r.json"
    path.write_text('{"settings": {"steps": 1}, "results": [{"rate": 0.15, "accuracy": 0.2}]}')
    assert mx.load_sweep(path)["results"][0]["rate"] == 0.15


def test_ship_checkpoint_halves_the_weights_and_drops_the_optimizer(tmp_path, tok, small_bert):
    from lmteach.training import load_checkpoint, save_checkpoint

    optimizer = torch.optim.AdamW(small_bert.parameters())
    small_bert(input_ids=torch.tensor([[2, 50, 3]]), labels=torch.tensor([[-100, 50, -100]])).loss.backward()
    optimizer.step()
    save_checkpoint(tmp_path / "full", small_bert, tokenizer=tok, optimizer=optimizer)
    mx.ship_checkpoint(tmp_path / "full", tmp_path / "small")
    assert not (tmp_path / "small" / "optimizer.safetensors").exists()
    full_size = (tmp_path / "full" / "model.safetensors").stat().st_size
    assert (tmp_path / "small" / "model.safetensors").stat().st_size < 0.6 * full_size
    model, info = load_checkpoint(tmp_path / "small")
    assert info["tokenizer_obj"].vocab_size == tok.vocab_size
    weight = model.body.layers[0].feed_forward.up.weight
    assert weight.dtype == torch.float32
    assert torch.allclose(weight, small_bert.body.layers[0].feed_forward.up.weight, atol=1e-3)
    small_bert.float()


# --- widgets -------------------------------------------------------------------------------------------------------

def test_corrupt_text_counts_match_the_fates(tok):
    result = corrupt_text(tok, "now is the winter of our discontent made glorious summer by this sun of york",
                          rate=0.4, seed=1)
    fates = result["fates"]
    assert fates[0] == Fate.SPECIAL and fates[-1] == Fate.SPECIAL
    assert result["counts"]["selected"] == result["expected"]["selected"] == round(0.4 * (len(fates) - 2))
    assert result["counts"]["masked"] == sum(a == "[MASK]" for a in result["after"])


def test_masking_explorer_redraws_on_every_control(tok):
    explorer = MaskingExplorer(tok, seed=0)
    assert explorer.widget._dom_classes == ("lmteach-masking-explorer",)
    first = explorer.sentence.value
    explorer.seed.value = 1
    assert explorer.sentence.value != first
    explorer.rate.value = 0.6
    assert explorer.result["counts"]["selected"] == explorer.result["expected"]["selected"]
    assert f"<td style='text-align:right;padding:0 6px'>{explorer.result['counts']['selected']}</td>" in \
        explorer.counts.value
    explorer.mask_fraction.value, explorer.random_fraction.value = 1.0, 0.0
    assert explorer.result["counts"]["random"] == explorer.result["counts"]["kept"] == 0
    assert "kept share 0.00" in explorer.mix_note.value
    explorer.random_fraction.value = 0.5  # cannot exceed 1 - [MASK] share: capped, and said so
    assert "capped" in explorer.mix_note.value
    explorer.mask_fraction.value, explorer.random_fraction.value = 0.0, 0.0
    assert explorer.result["counts"]["kept"] == explorer.result["counts"]["selected"]
    assert "lmteach-fate-kept" in explorer.sentence.value
    explorer.whole_word.value = True
    explorer.text.value = "unsex me here"  # 'unse ##x': whole-word masking picks both pieces or neither
    fates = explorer.result["fates"][1:3]
    assert (fates[0] == Fate.NOT_SELECTED) == (fates[1] == Fate.NOT_SELECTED)
    explorer.text.value = "  "
    assert "type a sentence" in explorer.sentence.value


def test_drawn_pair_has_the_asked_label_and_segments(tok, docs):
    for label in (0, 1):
        example = drawn_pair(tok, docs[1], label, seed=5)
        assert example["labels"] == label
        ids, types = example["input_ids"], example["token_type_ids"]
        assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and ids.count(tok.sep_id) == 2
        first_sep = ids.index(tok.sep_id)
        assert set(types[:first_sep + 1]) == {0} and set(types[first_sep + 1:]) == {1}


def test_pair_builder_draws_and_packs_typed_text(tok, docs, small_bert):
    builder = PairBuilder(tok, docs[1], model=small_bert)
    assert builder.widget._dom_classes == ("lmteach-pair-builder",)
    assert "IsNext" in builder.output.value and "P(IsNext)" in builder.verdict.value
    builder.label.value = 1
    assert "NotNext" in builder.output.value and builder.example["labels"] == 1
    before = builder.text_a.value
    builder.seed.value = 7
    assert builder.text_a.value != before
    builder.text_a.value = "to be or not to be"
    assert "your own pair" in builder.output.value
    assert builder.example["input_ids"][:8] == [tok.cls_id] + tok.encode("to be or not to be") + [tok.sep_id]
    assert builder.output.value.count("lmteach-segment-a") == 8  # [CLS] + 6 tokens + [SEP]


def test_fill_mask_widget_updates_and_explains_errors(tok, small_bert):
    widget = FillMask(small_bert, tok, text="the [MASK] of denmark", top_k=3)
    assert widget.widget._dom_classes == ("lmteach-fill-mask",)
    assert len(widget.guesses) == 1 and len(widget.guesses[0]) == 3
    widget.top_k.value = 7
    assert len(widget.guesses[0]) == 7 and widget.output.value.count("<tr><td") == 7
    widget.text.value = "[MASK] is the [MASK]"
    assert len(widget.guesses) == 2 and "[MASK] 2" in widget.output.value
    widget.text.value = "no mask here"
    assert widget.guesses == [] and "no [MASK]" in widget.output.value
    assert "lmteach-fill-mask-guesses" in fill_mask_html(small_bert, tok, "a [MASK]")


# --- exercises ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("id, right, wrong", [("02.1", 24, 30), ("02.2", 1, 0), ("02.3", 0.015, 0.15),
                                              ("02.4", 1024, 614)])
def test_exercises_accept_the_answer_and_reject_a_wrong_one(id, right, wrong):
    assert exercises.check(id, right)
    assert not exercises.check(id, wrong)
    assert not exercises.check(id, "not a number")
