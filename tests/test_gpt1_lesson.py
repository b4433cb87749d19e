"""Lesson 01 (GPT-1): fine-tuning helpers, weight movement, the input-transform widget, the fine-tuning lab,
the shipped checkpoint and the exercises."""

from pathlib import Path

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.lessons.gpt1 import movement_png
from lmteach.training.finetune import (accuracy, encode_examples, finetune, gpt1_inputs, gpt1_task_kind,
                                       relative_change_by_layer, task_batches, task_model, weight_snapshot)
from lmteach.data.tasks import load_task
from lmteach.data.tokenization import load_default
from lmteach.widgets.finetune_lab import FinetuneLab
from lmteach.widgets.gpt1_inputs import Gpt1InputsExplorer, token_roles

CHECKPOINT = Path(__file__).resolve().parents[1] / "data" / "checkpoints" / "gpt1-tiny"


@pytest.fixture(scope="module")
def tok():
    return load_default("byte_bpe", gpt1_specials=True)


@pytest.fixture(scope="module")
def small_lm(tok):
    """A very small randomly initialised GPT-1 (fast enough to fine-tune in a test)."""
    torch.manual_seed(0)
    cfg = lt.configs.gpt1("tiny", vocab_size=tok.vocab_size, hidden_size=32, num_layers=3, num_heads=2,
                          ffn_size=64, max_positions=64)
    return lt.build(cfg)


@pytest.mark.parametrize("task, kind, sequences", [("genre", "classification", None), ("reply", "entailment", None),
                                                   ("same_play", "similarity", 2), ("next_speech", "multiple_choice", 4)])
def test_task_inputs_frame_every_sequence_with_gpt1_tokens(tok, task, kind, sequences):
    assert gpt1_task_kind(task) == kind
    examples = load_task(task, "train")[:5]
    inputs = gpt1_inputs(tok, task, encode_examples(tok, task, examples), max_len=48)
    ids, mask = inputs["input_ids"], inputs["attention_mask"]
    assert inputs["labels"].tolist() == [e["label"] for e in examples]
    if sequences is None:
        assert ids.dim() == 2
    else:
        assert ids.shape[:2] == (5, sequences)
    flat_ids, flat_mask = ids.reshape(-1, ids.shape[-1]), mask.reshape(-1, ids.shape[-1])
    positions = inputs["extract_positions"].reshape(-1)
    assert flat_ids.shape[-1] <= 48
    for row, position in zip(range(len(flat_ids)), positions.tolist()):
        real = flat_ids[row][flat_mask[row].bool()].tolist()
        assert real[0] == tok.start_id and real[-1] == tok.extract_id
        assert position == len(real) - 1          # Extract is the last real token: it has seen everything
        assert real.count(tok.delim_id) == (0 if kind == "classification" else 1)


def test_similarity_holds_both_orders(tok):
    example = load_task("same_play", "train")[0]
    inputs = gpt1_inputs(tok, "same_play", encode_examples(tok, "same_play", [example]), max_len=96)
    a, b = tok.encode(example["text_a"]), tok.encode(example["text_b"])
    first, second = inputs["input_ids"][0]
    assert first[:len(a) + len(b) + 3].tolist() == [tok.start_id, *a, tok.delim_id, *b, tok.extract_id]
    assert second[:len(a) + len(b) + 3].tolist() == [tok.start_id, *b, tok.delim_id, *a, tok.extract_id]


def test_task_batches_are_reproducible_epochs(tok):
    batch = task_batches(tok, "genre", True, batch_size=8, max_len=32, seed=3, limit=40)
    assert batch.batches_per_epoch == 5
    assert torch.equal(batch(2)["input_ids"], batch(2)["input_ids"])
    seen = torch.cat([batch(step)["input_ids"][:, 1] for step in range(5)])  # first text token of each example
    labels = torch.cat([batch(step)["labels"] for step in range(5)])
    assert len(labels) == 40
    expected = sorted(e["label"] for e in load_task("genre", "train")[:40])
    assert sorted(labels.tolist()) == expected   # one epoch: every example exactly once
    next_epoch = torch.cat([batch(step)["input_ids"][:, 1] for step in range(5, 10)])
    assert sorted(next_epoch.tolist()) == sorted(seen.tolist()) and not torch.equal(next_epoch, seen)  # reshuffled


def test_task_model_starts_from_the_pretrained_weights(small_lm):
    model = task_model(small_lm, "genre")
    assert model.classifier.out_features == 3 and model.task == "classification"
    pretrained = small_lm.state_dict()
    for name, value in model.state_dict().items():
        if not name.startswith("classifier."):
            assert torch.equal(value, pretrained[name]), name
    assert task_model(small_lm, "next_speech").classifier.out_features == 1


def test_relative_change_by_layer(small_lm):
    model = task_model(small_lm, "genre")
    before = weight_snapshot(model)
    assert all(v == 0 for v in relative_change_by_layer(before, model).values())
    with torch.no_grad():
        weight = model.body.layers[1].feed_forward.up.weight
        weight.mul_(1.5)   # this matrix moves by half its norm
    moved = relative_change_by_layer(before, model)
    assert list(moved) == ["embeddings", 0, 1, 2, "head"]
    layer = model.body.layers[1]
    norms = [before[f"body.layers.1.{n}"].norm() ** 2 for n in
             ("attention.query.weight", "attention.key.weight", "attention.value.weight", "attention.output.weight",
              "feed_forward.up.weight", "feed_forward.down.weight")]
    expected = 0.5 * float(layer.feed_forward.up.weight.detach().norm() / 1.5) / float(sum(norms) ** 0.5)
    assert moved[1] == pytest.approx(expected, rel=1e-4)
    assert moved[0] == moved[2] == moved["embeddings"] == moved["head"] == 0


def test_accuracy_matches_a_manual_count(tok, small_lm):
    model = task_model(small_lm, "genre").eval()
    examples = load_task("genre", "validation")[:30]
    inputs = gpt1_inputs(tok, "genre", encode_examples(tok, "genre", examples), max_len=32)
    labels = inputs.pop("labels")
    with torch.no_grad():
        manual = float((model(**inputs).logits.argmax(-1) == labels).float().mean())
    assert accuracy(model, tok, "genre", max_len=32, batch_size=7, limit=30) == pytest.approx(manual)


def test_finetune_uses_lambda_and_layer_decay(tok, small_lm):
    runs = {lm_weight: finetune(small_lm, tok, "genre", lm_weight=lm_weight, layer_decay=0.3, steps=3, batch_size=4,
                                max_len=32, warmup_steps=0, eval_limit=10)
            for lm_weight in (0.0, 1.0)}
    # Same seed, same first batch: the only difference in the first loss is λ · (the LM loss, about ln V).
    gap = runs[1.0].history.losses[0] - runs[0.0].history.losses[0]
    assert 5.0 < gap < 10.0
    movement = runs[0.0].movement
    assert movement["embeddings"] < movement[0] < movement[1] < movement[2] < movement["head"]
    # The pretrained model itself is untouched: every run starts from the same weights.
    assert torch.equal(task_model(small_lm, "genre").body.layers[0].attention.query.weight,
                       small_lm.body.layers[0].attention.query.weight)
    labels = [e["label"] for e in load_task("genre", "validation")[:10]]
    assert runs[0.0].baseline == max(labels.count(k) for k in set(labels)) / 10  # of the examples evaluated


def test_inputs_explorer_follows_its_controls(tok):
    explorer = Gpt1InputsExplorer(tok)
    assert "lmteach-gpt1-inputs" in explorer.widget._dom_classes
    genre_view = explorer.view.value
    assert genre_view.count("lmteach-read-here\"") == 1 and "classification" in genre_view
    explorer.index_slider.value = 7
    assert explorer.view.value != genre_view
    for task, extracts, delims in (("reply", 1, 1), ("same_play", 2, 2), ("next_speech", 4, 4)):
        explorer.task_dropdown.value = task
        view = explorer.view.value
        assert view.count("lmteach-read-here\"") == extracts, task
        assert view.count("lmteach-role-delim\"") == delims, task
        assert explorer.index_slider.max == len(load_task(task, "train")) - 1
    assert "(the right one)" in explorer.view.value


def test_token_roles(tok):
    ids, _ = tok.encode_pair("To be", "or not")
    roles = token_roles(ids, tok)
    assert roles[0] == "start" and roles[-1] == "extract" and roles.count("delim") == 1
    split = roles.index("delim")
    assert set(roles[1:split]) == {"first"} and set(roles[split + 1:-1]) == {"second"}


def test_finetune_lab_runs_with_its_slider_values(tok, small_lm):
    lab = FinetuneLab(small_lm, tok, task="genre", steps=2, batch_size=4, max_len=32, eval_limit=10)
    assert "lmteach-finetune-lab" in lab.widget._dom_classes
    lab.lm_weight_slider.value = 1.5
    lab.decay_slider.value = 0.5
    lab.run_button.click()
    assert len(lab.results) == 1
    assert (lab.results[0].lm_weight, lab.results[0].layer_decay) == (1.5, 0.5)
    assert lab.plot.value[:4] == b"\x89PNG" and "1.5" in lab.status.value
    assert lab.progress.value == 2
    first_plot = lab.plot.value
    lab.decay_slider.value = 1.0
    lab.run()
    assert len(lab.results) == 2 and lab.plot.value != first_plot
    lab.clear_button.click()
    assert lab.results == [] and lab.plot.value == b""


def test_shipped_checkpoint():
    from lmteach.training import load_checkpoint
    assert (CHECKPOINT / "README.md").exists()
    size = sum(f.stat().st_size for f in CHECKPOINT.iterdir() if f.is_file())
    assert size < 3.2e6
    model, info = load_checkpoint(CHECKPOINT)
    cfg = info["cfg"]
    assert cfg.family == "gpt1" and cfg.causal and cfg.norm_placement == "post" and not cfg.final_norm
    tokenizer = info["tokenizer_obj"]
    assert tokenizer.has_gpt1_specials and cfg.vocab_size == tokenizer.vocab_size
    val_losses = [e["val_loss"] for e in info["history"]["events"] if e["event"] == "eval"]
    assert val_losses[-1] < 5.5   # on the validation plays; well below ln(4099) = 8.3 of an untrained model


def test_exercises_accept_right_and_reject_wrong_answers():
    from lmteach.exercises.gpt1 import same_play_extract_positions
    first, second = same_play_extract_positions(0)
    assert first == second
    assert exercises.check("01.1", first) and not exercises.check("01.1", first - 1)
    assert exercises.check("01.2", 3.125e-5) and not exercises.check("01.2", 1e-3 * 0.5 ** 4)
    assert exercises.check("01.3", "Extract") and exercises.check("01.3", "<extract>")
    assert not exercises.check("01.3", "start") and not exercises.check("01.3", "delim")
    assert {"01.1", "01.2", "01.3"} <= set(exercises.all_ids())
