"""Small labelled tasks made from the Shakespeare corpus, for fine-tuning lessons.

    from lmteach.data.tasks import load_task, task_info, TASK_NAMES
    train = load_task("genre", "train")       # [{"text": ..., "label": 0, "play": ...}, ...]
    task_info("genre")["label_names"]         # ['comedy', 'history', 'tragedy']

Tasks (see data/README.md for how they were made):
    genre        single text  -> comedy / history / tragedy
    verse_prose  single text  -> prose / verse (written in verse or in prose? the line breaks are removed)
    reply        premise + hypothesis -> reply / same_scene / other_play
    same_play    text_a + text_b (symmetric) -> different_play / same_play
    next_speech  context + 4 choices -> index of the speech that follows
"""

from __future__ import annotations

import json
from functools import lru_cache

from .corpus import data_dir

__all__ = ["TASK_NAMES", "SPLITS", "load_task", "task_info"]

TASK_NAMES = ("genre", "verse_prose", "reply", "same_play", "next_speech")
SPLITS = ("train", "validation", "test")


def _task_folder(name: str):
    if name not in TASK_NAMES:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(TASK_NAMES)}")
    folder = data_dir() / "tasks" / name
    if not folder.exists():
        raise FileNotFoundError(f"task data not found at {folder}; rebuild with "
                                "`python scripts/build_tasks.py`")
    return folder


def load_task(name: str, split: str = "train") -> list[dict]:
    """The examples of one split of a task, as a list of dicts (a fresh copy each call)."""
    if split not in SPLITS:
        raise ValueError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    path = _task_folder(name) / f"{split}.jsonl"
    # Copy, so a lesson that edits examples cannot change the cached ones.
    return [{key: list(value) if isinstance(value, list) else value for key, value in example.items()}
            for example in _read(str(path))]


@lru_cache(maxsize=None)
def _read(path: str) -> tuple[dict, ...]:
    with open(path, encoding="utf-8") as lines:
        return tuple(json.loads(line) for line in lines if line.strip())


def task_info(name: str) -> dict:
    """What the task is: kind, fields, label names, and per split its size,
    label counts and majority-class baseline (the accuracy of always
    guessing the most common label: the number a model has to beat)."""
    info = json.loads((_task_folder(name) / "info.json").read_text(encoding="utf-8"))
    info["chance"] = 1.0 / len(info["label_names"])
    return info
