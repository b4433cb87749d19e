"""Exercises at the end of each lesson, with answers a student can check from the notebook:

    lt.exercises.show("02.1")                 # the question
    lt.exercises.check("02.1", 0.12)          # ✔ or a hint

Questions, hints and explanations are written in English; `show` and `check` print them in the lesson's
language when the message catalogue translates them (see `lmteach.i18n`).

Each lesson's exercises live in their own module here (`gpt1.py`, `bert.py`, ...) and register themselves
with `exercise(...)`. An answer is checked by a function, so answers can be numbers with a tolerance, a set of
choices, or a property of a model the student built.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Callable

from ..i18n import _

_REGISTRY: dict[str, "Exercise"] = {}
_LESSON_MODULES = ("start", "gpt1", "bert", "bert_vs_gpt1", "gpt2", "albert", "electra", "attention")


@dataclass
class Exercise:
    id: str
    question: str
    is_correct: Callable[[Any], bool]
    hint: str = ""
    explanation: str = ""


def exercise(id: str, question: str, is_correct: Callable[[Any], bool], hint: str = "", explanation: str = ""):
    """Register an exercise (called by the lesson modules at import)."""
    _REGISTRY[id] = Exercise(id, question, is_correct, hint, explanation)
    return _REGISTRY[id]


def close_to(expected: float, tolerance: float = 0.01) -> Callable[[Any], bool]:
    """Checker: a number within `tolerance` of `expected`, relative to it (absolute when expected is 0);
    tolerance 0 asks for the exact value."""
    scale = abs(expected) if expected else 1.0
    return lambda answer: abs(float(answer) - expected) <= tolerance * scale


def one_of(*accepted) -> Callable[[Any], bool]:
    """Checker: a string answer among `accepted` (case and surrounding spaces ignored)."""
    normal = {str(a).strip().lower() for a in accepted}
    return lambda answer: str(answer).strip().lower() in normal


def _load_all():
    for name in _LESSON_MODULES:
        try:
            importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise


def get(id: str) -> Exercise:
    _load_all()
    if id not in _REGISTRY:
        raise KeyError(f"no exercise {id!r}; exercises are: {sorted(_REGISTRY)}")
    return _REGISTRY[id]


def show(id: str) -> str:
    """Print the question (in the lesson's language where the catalogue translates it) and return it."""
    ex = get(id)
    question = _(ex.question)
    print(_("Exercise {id}: {question}").format(id=ex.id, question=question))
    return question


def check(id: str, answer) -> bool:
    """Check an answer: prints ✔ with the explanation, or ✘ with the hint. Returns whether it was right."""
    ex = get(id)
    try:
        right = bool(ex.is_correct(answer))
    except (TypeError, ValueError):
        right = False
    if right:
        print(_("✔ Exercise {id}: correct. {explanation}").format(id=id, explanation=_(ex.explanation)).rstrip())
    else:
        print(_("✘ Exercise {id}: not yet. {hint}").format(id=id, hint=_(ex.hint)).rstrip())
    return right


def all_ids() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)
