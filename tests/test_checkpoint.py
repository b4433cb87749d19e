"""Checkpoints: round trips, atomic writes, clear errors for mismatched weights, exact resumption."""

import json
import os

import pytest
import torch

import lmteach as lt
from lmteach.training import (CheckpointMismatch, Trainer, causal_lm_batches, load_checkpoint, load_optimizer_state,
                              load_weights, save_checkpoint)
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


# --- saving into a folder that holds other files (issue 12, defect 1) ---------------------------------------------

def folder_with_notes(path):
    """A checkpoint folder as shipped in data/checkpoints/: a README and a script beside the weights."""
    (path / "notes").mkdir(parents=True)
    files = {"README.md": "# how this checkpoint was made\n", "pretrain.py": "print('the recipe')\n",
             "notes/log.txt": "step 1: loss 6.2\n"}
    for name, text in files.items():
        (path / name).write_text(text)
    return files


def changed(model):
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.5)
    return model


def test_saving_keeps_every_other_file_in_the_folder(tmp_path):
    target = tmp_path / "bert-tiny"
    files = folder_with_notes(target)
    model = lt.build(tiny_cfg("bert"))
    save_checkpoint(target, model, step=1, optimizer=torch.optim.AdamW(model.parameters()))
    save_checkpoint(target, changed(model), step=2)  # over an existing checkpoint too
    for name, text in files.items():
        assert (target / name).read_text() == text, name
    assert sorted(os.listdir(target)) == ["README.md", "config.json", "model.safetensors", "notes", "pretrain.py"]
    assert sorted(os.listdir(tmp_path)) == ["bert-tiny"]
    loaded, info = load_checkpoint(target)
    assert info["step"] == 2
    assert all(torch.equal(a, b) for a, b in zip(loaded.state_dict().values(), model.state_dict().values()))


@pytest.mark.parametrize("crash_in", ["save_model", "save_file", "_fsync_file"])
def test_a_save_that_fails_half_way_leaves_the_old_checkpoint_and_the_folder_as_they_were(tmp_path, monkeypatch,
                                                                                            crash_in):
    target = tmp_path / "run"
    files = folder_with_notes(target)
    model = lt.build(tiny_cfg())
    save_checkpoint(target, model, step=1)
    before = {name: (target / name).read_bytes() for name in os.listdir(target) if (target / name).is_file()}
    original = getattr(checkpoint_module, crash_in)

    def crash(*args, **kwargs):
        if crash_in == "_fsync_file":
            original(*args, **kwargs)  # writes went through; the crash comes while flushing them
        raise OSError("disk full")

    monkeypatch.setattr(checkpoint_module, crash_in, crash)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(target, changed(model), step=2, optimizer=torch.optim.AdamW(model.parameters()))
    monkeypatch.undo()
    after = {name: (target / name).read_bytes() for name in os.listdir(target) if (target / name).is_file()}
    assert after == before and sorted(os.listdir(target)) == sorted([*before, "notes"])
    assert (target / "notes" / "log.txt").read_text() == files["notes/log.txt"]
    assert load_checkpoint(target)[1]["step"] == 1


def test_an_interrupted_commit_loads_the_old_or_the_new_checkpoint_never_a_mix(tmp_path, monkeypatch):
    """A power cut can stop a save between any two renames; whatever is on disk then must load as one save."""
    def states(model):
        return [v.clone() for v in model.state_dict().values()]

    torch.manual_seed(0)
    old_model = lt.build(tiny_cfg())
    new_model = changed(lt.build(tiny_cfg()))
    old, new = states(old_model), states(new_model)
    renames = 0
    real_replace = os.replace
    for stop_at in range(1, 12):
        target = tmp_path / f"run{stop_at}"
        folder_with_notes(target)
        save_checkpoint(target, old_model, step=1, optimizer=torch.optim.AdamW(old_model.parameters()))
        calls = 0

        def replace(src, dst):
            nonlocal calls
            calls += 1
            if calls == stop_at:
                raise KeyboardInterrupt("power cut")
            real_replace(src, dst)

        monkeypatch.setattr(os, "replace", replace)
        try:
            save_checkpoint(target, new_model, step=2)
            finished = True
        except KeyboardInterrupt:
            finished = False
        monkeypatch.setattr(os, "replace", real_replace)
        loaded, info = load_checkpoint(target)
        got = states(loaded)
        if info["step"] == 1:
            assert all(torch.equal(a, b) for a, b in zip(got, old)), stop_at
        else:
            assert info["step"] == 2 and all(torch.equal(a, b) for a, b in zip(got, new)), stop_at
            assert not load_optimizer_state(torch.optim.AdamW(loaded.parameters()), target), stop_at
        assert (target / "README.md").exists() and (target / "notes" / "log.txt").exists()
        if finished:
            renames = calls
            break
    assert renames, "the save never finished"
    # The next save tidies up whatever an interrupted one left behind.
    for target in tmp_path.iterdir():
        save_checkpoint(target, old_model, step=3)
        assert sorted(os.listdir(target)) == ["README.md", "config.json", "model.safetensors", "notes",
                                              "pretrain.py"], target.name
        assert load_checkpoint(target)[1]["step"] == 3


def test_weights_and_config_of_different_saves_are_refused(tmp_path):
    model = lt.build(tiny_cfg())
    save_checkpoint(tmp_path / "a", model, step=1)
    save_checkpoint(tmp_path / "b", changed(model), step=2)
    (tmp_path / "a" / "config.json").write_bytes((tmp_path / "b" / "config.json").read_bytes())
    with pytest.raises(CheckpointMismatch, match="different saves"):
        load_checkpoint(tmp_path / "a")


def test_a_stale_optimizer_state_is_never_paired_with_new_weights(tmp_path):
    model = lt.build(tiny_cfg())
    optimizer = torch.optim.AdamW(model.parameters())
    model(input_ids=torch.randint(VOCAB, (2, 8)), labels=torch.randint(VOCAB, (2, 8))).loss.backward()
    optimizer.step()
    save_checkpoint(tmp_path / "run", model, step=1, optimizer=optimizer)
    save_checkpoint(tmp_path / "run", changed(model), step=2)  # no optimizer this time
    assert not (tmp_path / "run" / "optimizer.safetensors").exists()
    assert not load_optimizer_state(torch.optim.AdamW(model.parameters()), tmp_path / "run")


def test_shipped_checkpoints_written_before_save_ids_still_load():
    from lmteach.data.corpus import data_dir

    for name in ("gpt2-tiny", "bert-tiny", "electra-tiny"):
        model, info = load_checkpoint(data_dir() / "checkpoints" / name)
        assert info["step"] > 0 and sum(p.numel() for p in model.parameters()) > 0
