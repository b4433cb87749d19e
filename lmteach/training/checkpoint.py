"""Checkpoints: one folder per model, safe to share, never unpickled.

    runs/gpt2-tiny/
        model.safetensors       the weights (safetensors: plain tensors, no code runs when loading)
        config.json             config, head, tokenizer, step, training history, lmteach version, and which
                                files belong to this save
        optimizer.safetensors   optimizer tensors (Adam's moments), if saved
        optimizer.json          the rest of the optimizer state (learning rates, betas, ...)
        README.md, pretrain.py  anything else in the folder is yours: saving never touches it

Saving is atomic, file by file and as a whole:
    1. Every file is written into a staging folder inside the checkpoint folder, `.saving-<id>/`, and flushed to
       disk. A crash (Ctrl-C, full disk, power cut) here leaves the previous checkpoint as it was; the next save
       deletes the half-written staging folder.
    2. Commit: the staging folder is renamed `.saved-<id>/`. A rename is atomic, so from this instant the new save
       exists, complete, on disk.
    3. Each file moves into place with one rename (os.replace), config.json last; files of the previous save that
       this one does not have (an optimizer state) are deleted; the empty staging folder goes.
A crash during step 3 leaves some files moved and the rest in `.saved-<id>/`: loading then reads the new save from
both (config.json is still in there, naming the save's files), and the next save finishes the move first. Every
file records the save's id (safetensors metadata, a JSON field), and loading refuses weights and a config.json
from different saves, so a checkpoint can never load as a mix of two.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, load_model, save_file, save_model

from ..configs import ModelConfig, diff
from ..models.transformer import HEADS, PRETRAINING_HEAD, build

WEIGHTS = "model.safetensors"
CONFIG = "config.json"
OPTIMIZER_TENSORS = "optimizer.safetensors"
OPTIMIZER_JSON = "optimizer.json"
CHECKPOINT_FILES = (WEIGHTS, OPTIMIZER_TENSORS, OPTIMIZER_JSON, CONFIG)  # a save replaces these, nothing else
FORMAT = "lmteach-checkpoint"


class CheckpointMismatch(ValueError):
    """Weights in a checkpoint do not fit the model they are loaded into."""


def head_name(model: torch.nn.Module) -> str:
    """The `lt.build` head name of a model, e.g. "causal_lm" for a CausalLM."""
    model = getattr(model, "module", model)  # DistributedDataParallel wraps the real model
    for name, cls in HEADS.items():
        if type(model) is cls:
            return name
    raise ValueError(f"{type(model).__name__} is not an lmteach model; build one with lt.build(cfg, head=...)")


def _fsync_file(path: Path):
    with open(path, "rb") as f:
        os.fsync(f.fileno())


def _fsync_dir(path: Path):
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:  # some systems (Windows) cannot open folders; rename is still atomic there
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _optimizer_parts(optimizer: torch.optim.Optimizer) -> tuple[dict, dict]:
    """Split an optimizer state_dict into tensors (for safetensors) and JSON (the rest)."""
    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for index, values in state["state"].items():
        for key, value in values.items():
            if isinstance(value, torch.Tensor):
                tensors[f"{index}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{index}.{key}"] = value
    return tensors, {"param_groups": state["param_groups"], "scalars": scalars}


def _optimizer_state_dict(tensors: dict, info: dict) -> dict:
    state: dict = {}
    for name, value in list(tensors.items()) + list(info["scalars"].items()):
        index, key = name.split(".", 1)
        state.setdefault(int(index), {})[key] = value
    return {"state": state, "param_groups": info["param_groups"]}


def _move_into_place(staged: Path, folder: Path):
    """Step 3 of a save: move the committed files from `staged` into `folder`, config.json last; delete the files
    of an earlier save that this one does not have; remove the empty staging folder."""
    for name in sorted(os.listdir(staged), key=lambda name: name == CONFIG):
        os.replace(staged / name, folder / name)
    files = json.loads((folder / CONFIG).read_text())["files"]  # this save's own config.json, now in place
    for name in CHECKPOINT_FILES:
        if name not in files and (folder / name).exists():
            (folder / name).unlink()
    _fsync_dir(folder)
    staged.rmdir()


def _tidy(folder: Path):
    """Before a save: finish a save that was interrupted after its commit, and delete uncommitted ones."""
    for staged in sorted(folder.glob(".saved-*")):
        _move_into_place(staged, folder)
    for partial in folder.glob(".saving-*"):
        shutil.rmtree(partial, ignore_errors=True)


def save_checkpoint(path, model: torch.nn.Module, cfg: ModelConfig | None = None, tokenizer=None, step: int = 0,
                    history=None, optimizer: torch.optim.Optimizer | None = None, head: str | None = None,
                    extra: dict | None = None) -> Path:
    """Write a checkpoint into the folder `path` (created if needed), atomically, replacing only the
    checkpoint's own files (see the module's docstring); returns the path.

    cfg defaults to model.cfg; head to the model's own head name ("pretraining" also accepted).
    history: a `History` or a dict; extra: any JSON-serialisable dict kept in config.json.
    """
    from .. import __version__

    model = getattr(model, "module", model)
    cfg = cfg if cfg is not None else model.cfg
    head = head_name(model) if head in (None, "pretraining") else head
    folder = Path(path)
    folder.mkdir(parents=True, exist_ok=True)
    _tidy(folder)
    save_id = uuid.uuid4().hex
    files = [WEIGHTS] + ([OPTIMIZER_TENSORS, OPTIMIZER_JSON] if optimizer is not None else []) + [CONFIG]
    info = {
        "format": FORMAT,
        "lmteach_version": __version__,
        "config": cfg.to_dict(),
        "head": head,
        "head_options": {"task": model.task} if head == "gpt1_task" else {},
        "tokenizer": tokenizer.to_dict() if tokenizer is not None else None,
        "step": int(step),
        "history": history.as_dict() if hasattr(history, "as_dict") else history,
        "extra": extra or {},
        "save_id": save_id,
        "files": files,
    }
    staging = folder / f".saving-{save_id}"
    staging.mkdir()
    try:  # 1. write and flush
        # save_model (not save_file) copes with tensors shared between layers (ALBERT) or tied (embeddings).
        save_model(model, str(staging / WEIGHTS), metadata={"save_id": save_id})
        if optimizer is not None:
            tensors, rest = _optimizer_parts(optimizer)
            save_file(tensors, str(staging / OPTIMIZER_TENSORS), metadata={"save_id": save_id})
            (staging / OPTIMIZER_JSON).write_text(json.dumps({**rest, "save_id": save_id}))
        (staging / CONFIG).write_text(json.dumps(info, indent=1))
        for name in files:
            _fsync_file(staging / name)
        _fsync_dir(staging)
        committed = folder / f".saved-{save_id}"
        os.replace(staging, committed)  # 2. commit
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(folder)
    _move_into_place(committed, folder)  # 3. (interrupted, loading reads the new save from both places)
    return folder


def _checkpoint_files(path: Path) -> dict[str, Path]:
    """Where each file of the checkpoint at `path` is: in the folder, or for a save interrupted while its files
    were moving into place, still in its staging folder."""
    if path.is_dir():
        for staged in sorted(path.glob(".saved-*")):
            if (staged / CONFIG).exists():
                names = json.loads((staged / CONFIG).read_text())["files"]
                return {name: staged / name if (staged / name).exists() else path / name for name in names}
    if (path / CONFIG).exists():
        names = json.loads((path / CONFIG).read_text()).get("files")
        if names is None:  # written before saves recorded their files
            names = [name for name in CHECKPOINT_FILES if (path / name).exists()]
        return {name: path / name for name in names}
    if path.exists():
        raise FileNotFoundError(f"{path} is not an lmteach checkpoint (no {CONFIG} in it)")
    raise FileNotFoundError(f"no checkpoint at {path}; train one first, e.g. "
                            f"python -m lmteach train --model <family> --out {path}")


def _check_same_save(file: Path, info: dict, save_id: str | None):
    """Refuse a file written by another save than the config.json beside it."""
    if info.get("save_id") is not None and save_id != info["save_id"]:
        raise CheckpointMismatch(
            f"{file} and the config.json beside it come from different saves (save ids {save_id} and "
            f"{info['save_id']}): the folder holds a mix of two checkpoints, e.g. files copied by hand. Save the "
            "checkpoint again, or copy all of model.safetensors, config.json and optimizer.* together.")


def read_info(path) -> dict:
    """The config.json of a checkpoint, as a dict."""
    file = _checkpoint_files(Path(path))[CONFIG]
    info = json.loads(file.read_text())
    if info.get("format") != FORMAT:
        raise ValueError(f"{file} is not an lmteach checkpoint config")
    return info


def load_weights(model: torch.nn.Module, path, checkpoint_cfg: ModelConfig | None = None, device="cpu"):
    """Load model.safetensors from a checkpoint folder (or the file itself) into `model`, strictly.

    Raises CheckpointMismatch naming the tensors whose shapes differ (or are missing / unexpected) and,
    when both configs are known, the config fields that differ.
    """
    model = getattr(model, "module", model)
    file, info = Path(path), None
    if file.is_dir():
        info = read_info(file)
        file = _checkpoint_files(file)[WEIGHTS]
        if checkpoint_cfg is None:
            checkpoint_cfg = ModelConfig.from_dict(info["config"])
    expected = model.state_dict()
    problems = []
    with safe_open(str(file), framework="pt") as f:
        if info is not None:
            _check_same_save(file, info, (f.metadata() or {}).get("save_id"))
        for name in f.keys():
            shape = list(f.get_slice(name).get_shape())
            if name not in expected:
                problems.append(f"tensor {name!r} {shape} is in the checkpoint but not in the model")
            elif list(expected[name].shape) != shape:
                problems.append(f"tensor {name!r} is {shape} in the checkpoint but "
                                f"{list(expected[name].shape)} in the model")
    if not problems:
        missing, unexpected = load_model(model, str(file), strict=False, device=str(device))
        problems += [f"tensor {name!r} is in the model but not in the checkpoint" for name in missing]
        problems += [f"tensor {name!r} is in the checkpoint but not in the model" for name in unexpected]
    if problems:
        message = [f"the weights in {file} do not fit this model:"] + [f"  {p}" for p in problems[:8]]
        if len(problems) > 8:
            message.append(f"  ... and {len(problems) - 8} more")
        model_cfg = getattr(model, "cfg", None)
        if checkpoint_cfg is not None and model_cfg is not None:
            changed = diff(checkpoint_cfg, model_cfg)
            if changed:
                message.append("config fields that differ (checkpoint vs model): " + ", ".join(
                    f"{k}: {a!r} vs {b!r}" for k, (a, b) in changed.items()))
        message.append("Build the model from the checkpoint's own config: lmteach.training.load_checkpoint(path)")
        raise CheckpointMismatch("\n".join(message))
    return model


def load_optimizer_state(optimizer: torch.optim.Optimizer, path, device="cpu") -> bool:
    """Load the optimizer state saved with a checkpoint; returns False if that save had none."""
    files, info = _checkpoint_files(Path(path)), read_info(path)
    if OPTIMIZER_TENSORS not in files or not files[OPTIMIZER_TENSORS].exists():
        return False
    with safe_open(str(files[OPTIMIZER_TENSORS]), framework="pt") as f:
        _check_same_save(files[OPTIMIZER_TENSORS], info, (f.metadata() or {}).get("save_id"))
    rest = json.loads(files[OPTIMIZER_JSON].read_text())
    _check_same_save(files[OPTIMIZER_JSON], info, rest.get("save_id"))
    tensors = load_file(str(files[OPTIMIZER_TENSORS]), device=str(device))
    optimizer.load_state_dict(_optimizer_state_dict(tensors, rest))
    return True


def load_checkpoint(path, device="cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a model from a checkpoint folder: (model in eval mode on `device`, info).

    info: the config.json dict plus "cfg" (a ModelConfig) and "tokenizer_obj" (a Tokenizer, or None).
    """
    info = read_info(path)
    cfg = ModelConfig.from_dict(info["config"])
    head = info.get("head") or PRETRAINING_HEAD[cfg.family]
    model = build(cfg, head=head, **info.get("head_options", {}))
    load_weights(model, path, checkpoint_cfg=cfg, device="cpu")
    model.to(device).eval()
    info["cfg"] = cfg
    info["tokenizer_obj"] = None
    if info.get("tokenizer") is not None:
        from ..data.tokenization import Tokenizer
        info["tokenizer_obj"] = Tokenizer.from_dict(info["tokenizer"])
    return model, info
