"""Checkpoints: one folder per model, safe to share, never unpickled.

    runs/gpt2-tiny/
        model.safetensors       the weights (safetensors: plain tensors, no code runs when loading)
        config.json             config, head, tokenizer, step, training history, lmteach version
        optimizer.safetensors   optimizer tensors (Adam's moments), if saved
        optimizer.json          the rest of the optimizer state (learning rates, betas, ...)

Writes are atomic: everything goes into a temporary folder beside the target, is flushed to disk, and only
then renamed into place. A save interrupted half-way (Ctrl-C, full disk, power cut) leaves the previous
checkpoint as it was.
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


def save_checkpoint(path, model: torch.nn.Module, cfg: ModelConfig | None = None, tokenizer=None, step: int = 0,
                    history=None, optimizer: torch.optim.Optimizer | None = None, head: str | None = None,
                    extra: dict | None = None) -> Path:
    """Write a checkpoint folder at `path` atomically; returns the path.

    cfg defaults to model.cfg; head to the model's own head name ("pretraining" also accepted).
    history: a `History` or a dict; extra: any JSON-serialisable dict kept in config.json.
    """
    from .. import __version__

    model = getattr(model, "module", model)
    cfg = cfg if cfg is not None else model.cfg
    head = head_name(model) if head in (None, "pretraining") else head
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
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
    }
    temporary = path.parent / f".{path.name}.tmp-{uuid.uuid4().hex[:8]}"
    temporary.mkdir()
    try:
        # save_model (not save_file) copes with tensors shared between layers (ALBERT) or tied (embeddings).
        save_model(model, str(temporary / WEIGHTS))
        if optimizer is not None:
            tensors, rest = _optimizer_parts(optimizer)
            save_file(tensors, str(temporary / OPTIMIZER_TENSORS))
            (temporary / OPTIMIZER_JSON).write_text(json.dumps(rest))
        (temporary / CONFIG).write_text(json.dumps(info, indent=1))
        for file in temporary.iterdir():
            _fsync_file(file)
        _fsync_dir(temporary)
        # A folder cannot replace a non-empty folder in one rename, so the old one steps aside first; until
        # the new one is in place the old one still exists on disk (load_checkpoint knows where to look).
        previous = None
        if path.exists():
            previous = path.parent / f".{path.name}.old-{uuid.uuid4().hex[:8]}"
            os.replace(path, previous)
        os.replace(temporary, path)
        _fsync_dir(path.parent)
        if previous is not None:
            shutil.rmtree(previous, ignore_errors=True)
    except BaseException:
        shutil.rmtree(temporary, ignore_errors=True)
        raise
    return path


def _find_checkpoint(path: Path) -> Path:
    if (path / CONFIG).exists():
        return path
    # Interrupted in the instant between the two renames: the previous checkpoint waits beside it.
    previous = sorted(path.parent.glob(f".{path.name}.old-*"))
    if previous and (previous[-1] / CONFIG).exists():
        return previous[-1]
    if path.exists():
        raise FileNotFoundError(f"{path} is not an lmteach checkpoint (no {CONFIG} in it)")
    raise FileNotFoundError(f"no checkpoint at {path}; train one first, e.g. "
                            f"python -m lmteach train --model <family> --out {path}")


def read_info(path) -> dict:
    """The config.json of a checkpoint, as a dict."""
    folder = _find_checkpoint(Path(path))
    info = json.loads((folder / CONFIG).read_text())
    if info.get("format") != FORMAT:
        raise ValueError(f"{folder / CONFIG} is not an lmteach checkpoint config")
    return info


def load_weights(model: torch.nn.Module, path, checkpoint_cfg: ModelConfig | None = None, device="cpu"):
    """Load model.safetensors from a checkpoint folder (or the file itself) into `model`, strictly.

    Raises CheckpointMismatch naming the tensors whose shapes differ (or are missing / unexpected) and,
    when both configs are known, the config fields that differ.
    """
    model = getattr(model, "module", model)
    file = Path(path)
    if file.is_dir():
        folder = _find_checkpoint(file)
        file = folder / WEIGHTS
        if checkpoint_cfg is None:
            checkpoint_cfg = ModelConfig.from_dict(read_info(folder)["config"])
    expected = model.state_dict()
    problems = []
    with safe_open(str(file), framework="pt") as f:
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
    """Load the optimizer state saved beside a checkpoint; returns False if none was saved."""
    folder = _find_checkpoint(Path(path))
    if not (folder / OPTIMIZER_TENSORS).exists():
        return False
    tensors = load_file(str(folder / OPTIMIZER_TENSORS), device=str(device))
    rest = json.loads((folder / OPTIMIZER_JSON).read_text())
    optimizer.load_state_dict(_optimizer_state_dict(tensors, rest))
    return True


def load_checkpoint(path, device="cpu") -> tuple[torch.nn.Module, dict]:
    """Rebuild a model from a checkpoint folder: (model in eval mode on `device`, info).

    info: the config.json dict plus "cfg" (a ModelConfig) and "tokenizer_obj" (a Tokenizer, or None).
    """
    folder = _find_checkpoint(Path(path))
    info = read_info(folder)
    cfg = ModelConfig.from_dict(info["config"])
    head = info.get("head") or PRETRAINING_HEAD[cfg.family]
    model = build(cfg, head=head, **info.get("head_options", {}))
    load_weights(model, folder, checkpoint_cfg=cfg, device="cpu")
    model.to(device).eval()
    info["cfg"] = cfg
    info["tokenizer_obj"] = None
    if info.get("tokenizer") is not None:
        from ..data.tokenization import Tokenizer
        info["tokenizer_obj"] = Tokenizer.from_dict(info["tokenizer"])
    return model, info
