"""The one fine-tuning API (`lmteach.training.finetune`) for GPT-1 (Extract token, auxiliary LM loss, layer-wise
learning rates) and BERT-family encoders ([CLS]): which route each model takes, checked by recomputing the
logits by hand from the body; the controls (from scratch, a frozen body); and that the pretrained model is
never touched. Tiny random models, a few steps, a few dozen examples."""

import math
from collections import Counter

import pytest
import torch

import lmteach as lt
from lmteach.data.tasks import load_task
from lmteach.data.tokenization import load_default
from lmteach.models.transformer import Gpt1ForTask, SequenceClassifier
from lmteach.training.finetune import (FinetuneResult, accuracy, encode_examples, encoder_inputs, finetune,
                                       gpt1_inputs, majority_baseline, seeds_table, task_batches, task_model)

QUICK = dict(steps=2, batch_size=4, max_len=32, train_limit=40, eval_limit=12)


@pytest.fixture(scope="module")
def wordpiece():
    return load_default("wordpiece")


@pytest.fixture(scope="module")
def byte_bpe():
    return load_default("byte_bpe", gpt1_specials=True)


@pytest.fixture(scope="module")
def bert(wordpiece):
    torch.manual_seed(0)
    return lt.build(lt.configs.bert("tiny", vocab_size=wordpiece.vocab_size, num_layers=2, hidden_size=32,
                                    num_heads=2, ffn_size=64, max_positions=64))


@pytest.fixture(scope="module")
def gpt1(byte_bpe):
    torch.manual_seed(0)
    return lt.build(lt.configs.gpt1("tiny", vocab_size=byte_bpe.vocab_size, num_layers=2, hidden_size=32,
                                    num_heads=2, ffn_size=64, max_positions=64))


def _state(model):
    return {name: value.detach().clone() for name, value in model.state_dict().items()}


def _body_matrices(model):
    return {name: p.detach() for name, p in model.named_parameters() if name.startswith("body.") and p.dim() >= 2}


# --- the two routes ---------------------------------------------------------------------------------------------

def test_gpt1_reads_the_state_at_its_extract_token(gpt1, byte_bpe):
    result = finetune(gpt1, byte_bpe, "genre", **QUICK)
    model = result.model.eval()
    assert isinstance(model, Gpt1ForTask) and model.task == "classification"
    assert result.settings["lm_weight"] == 0.5 == result.lm_weight  # GPT-1 §3.2's λ, the default
    examples = load_task("genre", "validation")[:6]
    inputs = gpt1_inputs(byte_bpe, "genre", encode_examples(byte_bpe, "genre", examples), max_len=32)
    with torch.no_grad():
        logits = model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"],
                       extract_positions=inputs["extract_positions"]).logits
        states = model.body(inputs["input_ids"], inputs["attention_mask"]).last_hidden_state
    # By hand: find the <extract> token in each row and put its final state through the linear layer.
    rows = [row.tolist().index(byte_bpe.extract_id) for row in inputs["input_ids"]]
    expected = model.classifier(states[torch.arange(6), rows])
    assert torch.allclose(logits, expected, atol=1e-5)


def test_encoders_read_the_cls_vector(bert, wordpiece):
    result = finetune(bert, wordpiece, "genre", **QUICK)
    model = result.model.eval()
    assert isinstance(model, SequenceClassifier) and model.classifier.out_features == 3
    assert "lm_weight" not in result.settings and result.lm_weight is None
    examples = load_task("genre", "validation")[:6]
    inputs = encoder_inputs(wordpiece, "genre", encode_examples(wordpiece, "genre", examples), max_len=32)
    assert (inputs["input_ids"][:, 0] == wordpiece.cls_id).all()
    labels = inputs.pop("labels")
    assert labels.tolist() == [e["label"] for e in examples]
    with torch.no_grad():
        logits = model(**inputs).logits
        states = model.body(inputs["input_ids"], inputs["attention_mask"],
                            inputs["token_type_ids"]).last_hidden_state
    # By hand (BERT §4.1): the pooled [CLS] vector, tanh(W h_[CLS] + b), through the linear layer.
    expected = model.classifier(torch.tanh(model.body.pooler(states[:, 0])))
    assert torch.allclose(logits, expected, atol=1e-5)


def test_encoder_inputs_frame_one_or_two_texts(wordpiece):
    single = encoder_inputs(wordpiece, "genre", encode_examples(wordpiece, "genre", load_task("genre", "train")[:5]),
                            max_len=24)
    for ids, mask in zip(single["input_ids"], single["attention_mask"]):
        real = ids[mask.bool()].tolist()
        assert real[0] == wordpiece.cls_id and real[-1] == wordpiece.sep_id and real.count(wordpiece.sep_id) == 1
        assert len(real) <= 24
    assert single["token_type_ids"].max() == 0
    examples = load_task("reply", "train")[:5]
    pair = encoder_inputs(wordpiece, "reply", encode_examples(wordpiece, "reply", examples), max_len=200)
    for row, example in enumerate(examples):
        a, b = wordpiece.encode(example["premise"]), wordpiece.encode(example["hypothesis"])
        length = int(pair["attention_mask"][row].sum())
        if len(a) + len(b) + 3 <= 200:  # not cut: exactly [CLS] a [SEP] b [SEP], segments 0 then 1
            assert pair["input_ids"][row, :length].tolist() == [wordpiece.cls_id, *a, wordpiece.sep_id, *b,
                                                                wordpiece.sep_id]
            assert pair["token_type_ids"][row, :length].tolist() == [0] * (len(a) + 2) + [1] * (len(b) + 1)
    with pytest.raises(ValueError, match="multiple-choice"):
        encoder_inputs(wordpiece, "next_speech", encode_examples(wordpiece, "next_speech",
                                                                 load_task("next_speech", "train")[:2]))


def test_encoder_task_batches_are_reproducible_epochs(wordpiece):
    batch = task_batches(wordpiece, "genre", False, batch_size=8, max_len=32, seed=3, limit=40)
    assert batch.batches_per_epoch == 5 and torch.equal(batch(2)["input_ids"], batch(2)["input_ids"])
    labels = torch.cat([batch(step)["labels"] for step in range(5)])
    assert sorted(labels.tolist()) == sorted(e["label"] for e in load_task("genre", "train")[:40])


def test_electra_fine_tunes_its_discriminator(wordpiece):
    torch.manual_seed(0)
    electra = lt.build(lt.configs.electra("tiny", vocab_size=wordpiece.vocab_size, num_layers=1, hidden_size=32,
                                          num_heads=2, ffn_size=64, embedding_size=16, max_positions=64))
    model = task_model(electra, "genre")
    assert isinstance(model, SequenceClassifier) and model.cfg.generator_fraction is None
    discriminator = electra.discriminator.state_dict()
    for name, value in model.state_dict().items():
        if name.startswith("body."):
            assert torch.equal(value, discriminator[name]), name


def test_gpt1_needs_its_special_tokens(gpt1):
    plain = load_default("byte_bpe")
    with pytest.raises(ValueError, match="gpt1_specials"):
        finetune(gpt1, plain, "genre", **QUICK)


# --- the controls and the pretrained model ------------------------------------------------------------------------

def test_finetuning_never_touches_the_pretrained_model(bert, wordpiece):
    before = _state(bert)
    result = finetune(bert, wordpiece, "genre", **QUICK)
    scratch = finetune(bert, wordpiece, "genre", from_scratch=True, **QUICK)
    for name, value in bert.state_dict().items():
        assert torch.equal(value, before[name]), name
    assert result.model is not bert and scratch.settings["from_scratch"] is True


def test_from_scratch_starts_from_other_weights(bert, wordpiece):
    pretrained = _body_matrices(bert)
    copy = _body_matrices(task_model(bert, "genre"))
    fresh = _body_matrices(task_model(bert, "genre", from_scratch=True))
    assert set(copy) == set(fresh) == set(pretrained)
    for name, weight in pretrained.items():
        assert torch.equal(copy[name], weight), name
        assert not torch.equal(fresh[name], weight), name

    # After a few steps the pretrained route is still near the pretrained weights; the control is not.
    def distance(result):
        trained = _body_matrices(result.model)
        return math.sqrt(sum(float((trained[n] - w).detach().pow(2).sum()) for n, w in pretrained.items())
                         / sum(float(w.pow(2).sum()) for w in pretrained.values()))

    near = distance(finetune(bert, wordpiece, "genre", **QUICK))
    far = distance(finetune(bert, wordpiece, "genre", from_scratch=True, **QUICK))
    assert near < 0.1 < far


@pytest.mark.parametrize("family", ["bert", "gpt1"])
def test_freeze_body_trains_only_the_small_network_on_top(family, bert, gpt1, wordpiece, byte_bpe):
    pretrained, tok = (bert, wordpiece) if family == "bert" else (gpt1, byte_bpe)
    result = finetune(pretrained, tok, "genre", freeze_body=True, lr=1e-2, **QUICK)
    model = result.model
    trainable = {name for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all(name.startswith("classifier.") for name in trainable)
    assert isinstance(model.classifier, torch.nn.Sequential)  # ELMo-style: a small network on fixed features
    weights = pretrained.state_dict()
    for name, value in model.state_dict().items():
        if not name.startswith("classifier."):
            assert torch.equal(value, weights[name]), name  # the body (and GPT-1's LM head) never moved
    assert result.movement["embeddings"] == 0.0
    assert all(result.movement[layer] == 0.0 for layer in range(pretrained.cfg.num_layers))
    assert result.movement["head"] > 0  # the classifier did
    assert result.settings["freeze_body"] is True


# --- what a result reports --------------------------------------------------------------------------------------

def test_result_reports_accuracy_against_the_majority_baseline(bert, wordpiece):
    result = finetune(bert, wordpiece, "genre", seed=1, **QUICK)
    assert isinstance(result, FinetuneResult) and result.task == "genre"
    assert len(result.history.losses) == QUICK["steps"]
    assert {k: result.settings[k] for k in ("steps", "batch_size", "max_len", "seed")} == {
        "steps": 2, "batch_size": 4, "max_len": 32, "seed": 1}
    # Accuracy counted by hand on the evaluated examples; the baseline is their commonest label's share.
    examples = load_task("genre", "validation")[:12]
    inputs = encoder_inputs(wordpiece, "genre", encode_examples(wordpiece, "genre", examples), max_len=32)
    labels = inputs.pop("labels")
    with torch.no_grad():
        predictions = result.model.eval()(**inputs).logits.argmax(-1)
    assert result.accuracy == pytest.approx(float((predictions == labels).float().mean()))
    counts = Counter(e["label"] for e in examples)
    assert result.baseline == majority_baseline("genre", limit=12) == max(counts.values()) / 12
    assert accuracy(result.model, wordpiece, "genre", max_len=32, batch_size=5, limit=12) == result.accuracy


def test_layer_decay_moves_the_lower_layers_less(bert, wordpiece):
    result = finetune(bert, wordpiece, "genre", layer_decay=0.3, warmup_steps=0, **{**QUICK, "steps": 3})
    movement = result.movement
    assert list(movement) == ["embeddings", 0, 1, "head"]
    assert movement["embeddings"] < movement[0] < movement[1] < movement["head"]
    assert result.layer_decay == 0.3


def test_finetune_accepts_a_checkpoint_folder(tmp_path, bert, wordpiece):
    from lmteach.training import save_checkpoint

    save_checkpoint(tmp_path / "bert", bert, tokenizer=wordpiece)
    model = task_model(tmp_path / "bert", "genre")
    for name, weight in _body_matrices(bert).items():
        assert torch.equal(_body_matrices(model)[name], weight), name
    assert 0.0 <= finetune(str(tmp_path / "bert"), wordpiece, "genre", **QUICK).accuracy <= 1.0


def test_seeds_table_shows_every_seed_the_min_and_the_mean():
    def run(accuracy, seed):
        return FinetuneResult(task="genre", accuracy=accuracy, baseline=1 / 3, movement={},
                              settings={"seed": seed, "layer_decay": 1.0}, history=None, model=None)

    table = seeds_table({"pretrained": [run(0.5, 0), run(0.7, 1)], "from scratch": [run(0.3, 0), run(0.4, 1)]})
    assert table.count("<tr>") == 3 and "seed 0" in table and "seed 1" in table
    assert "<td>pretrained</td><td>0.500</td><td>0.700</td><td><b>0.500</b></td><td>0.600</td><td>0.333</td>" in table
    assert "<td>from scratch</td><td>0.300</td><td>0.400</td><td><b>0.300</b></td><td>0.350</td>" in table
