"""The training loop: schedules, reproducibility across pause/resume, events, divergence, samplers."""

import json
import math
from types import SimpleNamespace

import pytest
import torch

import lmteach as lt
from lmteach.training import (History, Trainer, TrainingDiverged, causal_lm_batches, electra_loss_fn, layer_of,
                              lr_at, masked_lm_batches, plain_batches, weight_decay_groups)

VOCAB = 40


def tiny_cfg(family="gpt2", **overrides):
    small = dict(vocab_size=VOCAB, num_layers=2, hidden_size=32, num_heads=2, ffn_size=64, max_positions=32,
                 dropout=0.0, attention_dropout=0.0)
    return lt.configs.preset(family, "tiny", **{**small, **overrides})


def make_trainer(total=8, seed=0, **kwargs):
    torch.manual_seed(0)
    model = lt.build(tiny_cfg())
    ids = torch.randint(VOCAB, (3000,), generator=torch.Generator().manual_seed(1))
    return Trainer(model, causal_lm_batches(ids, 16, 4, seed=seed), lr=3e-3, warmup_steps=2, total_steps=total,
                   progress=False, seed=seed, device="cpu", **kwargs)


# --- schedules ---------------------------------------------------------------------------------------------------

def test_warmup_climbs_linearly_to_base_lr():
    lrs = [lr_at(s, base_lr=1.0, total_steps=100, warmup_steps=4) for s in range(4)]
    assert lrs == [0.25, 0.5, 0.75, 1.0]


@pytest.mark.parametrize("schedule", ["cosine", "linear"])
def test_decay_ends_at_min_lr_and_is_monotonic(schedule):
    lrs = [lr_at(s, base_lr=1e-3, total_steps=50, warmup_steps=5, schedule=schedule, min_lr_ratio=0.1)
           for s in range(5, 60)]
    assert lrs[0] == pytest.approx(1e-3)
    assert all(a >= b for a, b in zip(lrs, lrs[1:]))
    assert lrs[-1] == pytest.approx(1e-4)  # stays at min_lr after total_steps


def test_cosine_and_linear_midpoints_and_constant():
    mid = dict(base_lr=1.0, total_steps=110, warmup_steps=10, min_lr_ratio=0.0)
    assert lr_at(60, schedule="cosine", **mid) == pytest.approx(0.5)
    assert lr_at(35, schedule="linear", **mid) == pytest.approx(0.75)
    assert lr_at(35, schedule="cosine", **mid) == pytest.approx(0.5 * (1 + math.cos(math.pi / 4)))
    assert lr_at(100, schedule="constant", **mid) == 1.0
    with pytest.raises(ValueError, match="unknown schedule"):
        lr_at(0, base_lr=1.0, total_steps=10, schedule="step")


def test_trainer_applies_schedule_to_every_param_group():
    torch.manual_seed(0)
    model = lt.build(tiny_cfg())
    decay, no_decay = weight_decay_groups(model, 0.1)
    groups = [{**decay, "lr": 1e-3}, {**no_decay, "lr": 1e-4}]
    ids = torch.randint(VOCAB, (500,))
    trainer = Trainer(model, causal_lm_batches(ids, 8, 2), param_groups=groups, warmup_steps=4, total_steps=10,
                      progress=False, device="cpu")
    event = trainer.step()
    assert event["lr"] == pytest.approx(1e-3 / 4)
    assert [g["lr"] for g in trainer.optimizer.param_groups] == pytest.approx([1e-3 / 4, 1e-4 / 4])


def test_weight_decay_only_on_matrices():
    model = lt.build(tiny_cfg())
    decay, no_decay = weight_decay_groups(model, 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert all(p.dim() >= 2 for p in decay["params"]) and all(p.dim() < 2 for p in no_decay["params"])
    assert any(p is model.body.embeddings.token.weight for p in decay["params"])  # embeddings are matrices
    assert len(decay["params"]) + len(no_decay["params"]) == len(list(model.parameters()))


# --- reproducibility ---------------------------------------------------------------------------------------------

def weights(trainer):
    return {k: v.clone() for k, v in trainer.model.state_dict().items()}


def test_pause_and_resume_reproduce_a_straight_run():
    straight = make_trainer()
    straight.run()
    assert straight.state == "finished" and straight.step_count == 8

    stepped = make_trainer()
    stepped.run(3)
    assert stepped.state == "paused" and stepped.step_count == 3
    stepped.run()
    assert stepped.history.losses == straight.history.losses
    for name, value in weights(straight).items():
        assert torch.equal(value, weights(stepped)[name]), name


def test_background_run_pauses_from_an_event_and_resumes():
    straight = make_trainer()
    straight.run()

    trainer = make_trainer()
    trainer.on("step", lambda e: trainer.pause() if e["step"] == 2 else None)
    trainer.run_in_background()
    trainer.wait(timeout=60)
    assert trainer.state == "paused" and trainer.step_count == 3
    trainer.resume()  # started in the background, so it continues there
    trainer.wait(timeout=60)
    assert trainer.state == "finished"
    assert trainer.history.losses == straight.history.losses


def test_stop_ends_the_run_and_fires_end():
    trainer = make_trainer()
    ends = []
    trainer.on("end", ends.append)
    trainer.on("step", lambda e: trainer.stop() if e["step"] == 1 else None)
    trainer.run()
    assert trainer.state == "stopped" and trainer.step_count == 2
    assert ends and ends[-1]["state"] == "stopped"


# --- events and history ------------------------------------------------------------------------------------------

def test_step_and_eval_events_carry_their_fields():
    ids = torch.randint(VOCAB, (3000,))
    trainer = make_trainer(total=4, eval_batches=causal_lm_batches(ids, 16, 4, seed=9), eval_every=2, eval_steps=3)
    steps, evals = [], []
    trainer.on("step", steps.append)
    trainer.on("eval", evals.append)
    trainer.run()
    event = steps[0]
    for key in ("step", "loss", "lr", "grad_norm", "grad_norms_by_layer", "tokens_per_s", "tokens_seen",
                "elapsed_s", "device"):
        assert key in event, key
    assert set(event["grad_norms_by_layer"]) == {0, 1, "embeddings", "head"}
    parts = event["grad_norms_by_layer"].values()
    assert event["grad_norm"] == pytest.approx(math.sqrt(sum(v * v for v in parts)))
    assert event["tokens_seen"] == 4 * 16 and event["device"] == "cpu" and event["tokens_per_s"] > 0
    assert [e["step"] for e in evals] == [2, 4] and all(e["val_loss"] > 0 for e in evals)
    history = trainer.history
    assert history.steps == [0, 1, 2, 3] and history.val_steps == [2, 4] and len(history.lrs) == 4
    json.dumps(history.as_dict())
    assert History.from_dict(json.loads(json.dumps(history.as_dict()))).losses == history.losses


def test_off_removes_a_listener_and_metrics_fn_adds_to_eval():
    ids = torch.randint(VOCAB, (3000,))
    trainer = make_trainer(total=2, eval_batches=[causal_lm_batches(ids, 16, 2)(0)], eval_every=2,
                           metrics_fn=lambda t: {"perplexity": math.exp(t.history.losses[-1])})
    seen = []
    trainer.on("step", seen.append)
    trainer.off("step", seen.append)
    trainer.run()
    evals = [e for e in trainer.history.events if e["event"] == "eval"]
    assert seen == [] and "perplexity" in evals[-1]


def test_smoothed_is_a_trailing_mean():
    history = History([{"event": "step", "step": i, "loss": float(v)} for i, v in enumerate([1, 3, 5, 7])])
    assert history.smoothed(2) == [1.0, 2.0, 4.0, 6.0]


def test_the_trainer_knows_nothing_of_plotting():
    """The loop emits events and keeps a history; plots live above it (lmteach.analysis) and subscribe."""
    import subprocess
    import sys

    code = ("import sys\n"
            "from lmteach.training.trainer import History\n"
            "history = History([{'event': 'step', 'step': i, 'loss': float(i)} for i in range(5)])\n"
            "assert history.smoothed(2) == [0.0, 0.5, 1.5, 2.5, 3.5]\n"
            "assert not hasattr(History, 'plot')\n"
            "loaded = sorted(m for m in sys.modules if m.startswith(('lmteach.analysis', 'lmteach.widgets', "
            "'matplotlib')))\n"
            "assert not loaded, loaded\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr


def test_layer_of_names():
    assert layer_of("body.layers.3.attention.query.weight") == 3
    assert layer_of("body.embeddings.token.weight") == "embeddings"
    assert layer_of("lm_head.decoder.bias") == "head"


# --- divergence --------------------------------------------------------------------------------------------------

def test_nan_loss_raises_training_diverged_naming_the_step():
    def loss_fn(model, batch):
        loss = model(**batch).loss
        return loss * float("nan") if trainer.step_count == 3 else loss

    trainer = make_trainer()
    trainer.loss_fn = loss_fn
    diverged = []
    trainer.on("diverged", diverged.append)
    with pytest.raises(TrainingDiverged, match="step 3") as info:
        trainer.run()
    assert "learning rate" in str(info.value) and "warmup = 2 steps" in str(info.value)
    assert info.value.step == 3 and trainer.state == "stopped" and diverged[0]["step"] == 3


def test_huge_learning_rate_diverges():
    torch.manual_seed(0)
    model = lt.build(tiny_cfg())
    ids = torch.randint(VOCAB, (3000,))
    trainer = Trainer(model, causal_lm_batches(ids, 16, 4), lr=1e6, total_steps=50, grad_clip=None,
                      schedule="constant", progress=False, device="cpu")
    with pytest.raises(TrainingDiverged, match="no warmup"):
        trainer.run()


# --- samplers ----------------------------------------------------------------------------------------------------

def bert_like_tokenizer():
    """A stand-in with the special ids the samplers need: 0 pad, 1 unk, 2 cls, 3 sep, 4 mask."""
    return SimpleNamespace(pad_id=0, unk_id=1, cls_id=2, sep_id=3, mask_id=4, vocab_size=VOCAB,
                           special_ids=frozenset({0, 1, 2, 3, 4}))


def test_causal_lm_batches_are_windows_and_reproducible():
    ids = torch.arange(1000)
    batches = causal_lm_batches(ids, 10, 3, seed=5)
    batch = batches(7)
    assert torch.equal(batch["input_ids"], batches(7)["input_ids"])
    assert not torch.equal(batch["input_ids"], batches(8)["input_ids"])
    assert torch.equal(batch["input_ids"][:, 1:] - batch["input_ids"][:, :-1], torch.ones(3, 9, dtype=torch.long))
    assert batch["labels"] is batch["input_ids"]


def test_masked_lm_windows_and_pairs():
    tok = bert_like_tokenizer()
    ids = torch.randint(5, VOCAB, (2000,))
    batch = masked_lm_batches(tok, 20, 4, token_ids=ids, seed=1)(0)
    assert batch["input_ids"].shape == (4, 20)
    assert (batch["input_ids"][:, 0] == tok.cls_id).all() and (batch["input_ids"][:, -1] == tok.sep_id).all()
    picked = batch["labels"] != -100
    assert picked.sum(1).tolist() == [3, 3, 3, 3]  # round(0.15 * 18)
    docs = [[list(range(5 + d, 12 + d)), list(range(20, 26)), list(range(30, 34))] for d in range(4)]
    pairs = masked_lm_batches(tok, 24, 6, documents=docs, pair_task="sop", seed=1)
    first = pairs(3)
    assert set(first) == {"input_ids", "token_type_ids", "attention_mask", "labels", "pair_labels"}
    assert torch.equal(first["input_ids"], pairs(3)["input_ids"])
    model = lt.build(tiny_cfg("albert", embedding_size=16))
    assert torch.isfinite(model(**first).loss)


def test_electra_loss_fn_trains_both_networks():
    tok = bert_like_tokenizer()
    model = lt.build(tiny_cfg("electra", embedding_size=32))
    ids = torch.randint(5, VOCAB, (2000,))
    trainer = Trainer(model, plain_batches(tok, 16, 4, ids), electra_loss_fn(tok.mask_id, VOCAB, tok.special_ids),
                      total_steps=2, progress=False, device="cpu")
    event = trainer.step()
    assert {"generator_loss", "discriminator_loss"} <= set(event)
    assert event["loss"] == pytest.approx(event["generator_loss"] + 50 * event["discriminator_loss"], rel=1e-4)
