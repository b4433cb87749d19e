"""Checkpoints: round trips, atomic writes, clear errors for mismatched weights, exact resumption."""

import json
import os

import pytest
import torch

import lmteach as lt
from lmteach.training import (CheckpointMismatch, Trainer, causal_lm_batches, load_checkpoint, load_weights,
                              save_checkpoint)
from lmteach.training import checkpoint as checkpoint_module

VOCAB = 40


def tiny_cfg(family="gpt2", **overrides):
    small = dict(vocab_size=VOCAB, num_layers=2, hidden_size=32, num_heads=2, ffn_size=64, max_positions=32,
                 dropout=0.0, attention_dropout=0.0)
    return lt.configs.preset(family, "tiny", **{**small, **overrides})


@pytest.mark.parametrize("family", ["gpt2", "bert", "albert", "electra"])
def test_round_trip_gives_the_same_outputs(tmp_path, family):
    cfg = tiny_cfg(family, **({"embedding_size": 16} if family in ("albert", "electra") else {}))
    torch.manual_seed(0)
    model = lt.build(cfg).eval()
    save_checkpoint(tmp_path / "run", model, cfg, step=7, history={"events": []})
    loaded, info = load_checkpoint(tmp_path / "run")
    ids = torch.randint(5, VOCAB, (2, 12))
    out = model(input_ids=ids)
    again = loaded(input_ids=ids)
    for field in ("logits", "prediction_logits"):
        if getattr(out, field) is not None:
            assert torch.equal(getattr(out, field), getattr(again, field))
    assert info["step"] == 7 and info["cfg"] == cfg and info["lmteach_version"] == lt.__version__
    if family == "albert":  # one block object shared by every layer survives the trip
        assert loaded.body.layers[0] is loaded.body.layers[1]
    if family == "electra":  # the generator still reads the discriminator's embeddings
        assert loaded.generator.body.embeddings is loaded.discriminator.body.embeddings


def test_round_trip_keeps_the_tokenizer(tmp_path):
    from lmteach.data.tokenization import train_tokenizer

    tok = train_tokenizer("char", "to be or not to be")
    model = lt.build(tiny_cfg(vocab_size=tok.vocab_size))
    save_checkpoint(tmp_path / "run", model, tokenizer=tok)
    _, info = load_checkpoint(tmp_path / "run")
    assert info["tokenizer_obj"].encode("be or") == tok.encode("be or")


def test_interrupted_save_keeps_the_previous_checkpoint(tmp_path, monkeypatch):
    model = lt.build(tiny_cfg())
    target = tmp_path / "run"
    save_checkpoint(target, model, step=1)
    before = (target / "model.safetensors").read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, "save_file", crash)  # dies half-way, after the weights were written
    optimizer = torch.optim.AdamW(model.parameters())
    with torch.no_grad():
        model.body.embeddings.token.weight.add_(1.0)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, model, step=2, optimizer=optimizer)
    assert sorted(os.listdir(tmp_path)) == ["run"]  # no half-written folder left behind
    assert (target / "model.safetensors").read_bytes() == before
    assert json.loads((target / "config.json").read_text())["step"] == 1


def test_overwrite_replaces_the_checkpoint(tmp_path):
    model = lt.build(tiny_cfg())
    save_checkpoint(tmp_path / "run", model, step=1)
    save_checkpoint(tmp_path / "run", model, step=2)
    assert sorted(os.listdir(tmp_path)) == ["run"]
    assert load_checkpoint(tmp_path / "run")[1]["step"] == 2


def test_loading_into_a_different_config_names_tensor_shapes_and_fields(tmp_path):
    save_checkpoint(tmp_path / "run", lt.build(tiny_cfg()))
    other = lt.build(tiny_cfg(hidden_size=48, ffn_size=64))
    with pytest.raises(CheckpointMismatch) as info:
        load_weights(other, tmp_path / "run")
    message = str(info.value)
    assert "body.embeddings.token.weight" in message and "[40, 32]" in message and "[40, 48]" in message
    assert "hidden_size: 32 vs 48" in message


def test_missing_checkpoint_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="no checkpoint at"):
        load_checkpoint(tmp_path / "nothing")


def make_trainer(seed=0):
    torch.manual_seed(0)
    model = lt.build(tiny_cfg())
    ids = torch.randint(VOCAB, (3000,), generator=torch.Generator().manual_seed(1))
    return Trainer(model, causal_lm_batches(ids, 16, 4, seed=seed), lr=3e-3, warmup_steps=2, total_steps=6,
                   progress=False, device="cpu")


def test_trainer_save_and_resume_from_continue_exactly(tmp_path):
    straight = make_trainer()
    straight.run()

    first = make_trainer()
    first.run(3)
    first.save(tmp_path / "run")
    assert (tmp_path / "run" / "optimizer.safetensors").exists()

    second = make_trainer()  # a fresh process would start like this
    second.resume_from(tmp_path / "run")
    assert second.step_count == 3 and second.history.losses == straight.history.losses[:3]
    second.run()
    assert second.history.losses == pytest.approx(straight.history.losses, abs=0, rel=0)
    for name, value in straight.model.state_dict().items():
        assert torch.equal(value, second.model.state_dict()[name]), name
