"""Exercises at the end of each lesson, with answers a student can check from the notebook:

    lt.exercises.show("02.1")                 # the question
    lt.exercises.check("02.1", 24)            # ✔ or a hint; returns whether the answer is right
    lt.exercises.solution("02.1")             # for instructors: prints the worked answer, returns it (24)

Questions, hints and explanations are written in English; `show` and `check` print them in the lesson's
language when the message catalogue translates them (see `lmteach.i18n`).

Each lesson's exercises live in their own module here (`gpt1.py`, `bert.py`, ...) and register themselves
with `exercise(...)`. An answer is checked by a function, so answers can be numbers with a tolerance, a set of
choices, or a property of a model the student built.

Every exercise carries its worked solution (`solution=`, the value a student would give, and `worked=`, how to get
it), written out literally where the exercise is registered, never computed by the checker's formula or by the
library function the lesson answers with: tests/test_exercises.py checks each checker against its solution, so a
checker that restated the lesson's own computation could not catch a wrong one.

Numeric checkers read the number out of a string too (`number_in`): "about 40 epochs", "1,024", "1.5%" and
"1/4" are answers a student types, and the papers write.
"""

from __future__ import annotations

import importlib
import math
import re
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
    solution: Any = None   # the answer a student would give (a number or a string), written out literally
    worked: str = ""       # how to get it, in a sentence or two (shown by `solution`)


def exercise(id: str, question: str, is_correct: Callable[[Any], bool], hint: str = "", explanation: str = "",
             solution: Any = None, worked: str = ""):
    """Register an exercise (called by the lesson modules at import). `solution` is the worked answer's value and
    `worked` how to reach it; tests/test_exercises.py checks `is_correct(solution)` for every exercise."""
    _REGISTRY[id] = Exercise(id, question, is_correct, hint, explanation, solution, worked)
    return _REGISTRY[id]


# A number as people type it: optional sign, digits with optional thousands commas (1,024), decimals, exponent.
# It must not be glued to a word on its left, so "GPT-2" or "L2" are not read as numbers.
_NUMBER = r"[-+\u2212]?(?:(?:\d{1,3}(?:,\d{3})+|\d+)(?:\.\d+)?|\.\d+)(?:[eE][-+\u2212]?\d+)?"
_FIRST_NUMBER = re.compile(rf"(?<![\w.\-])(?P<number>{_NUMBER})"
                           rf"(?:\s*/\s*(?P<denominator>{_NUMBER}))?(?P<percent>\s*%)?")


def _to_float(text: str) -> float:
    return float(text.replace(",", "").replace("\u2212", "-"))


def number_in(answer) -> float:
    """The number an answer gives: a number as it is (int, float, a numpy or one-element torch scalar), or the first
    number written in a string, so "about 40 epochs" -> 40.0, "1,024 positions" -> 1024.0, "3.1e-5" -> 3.1e-05.
    A fraction right after it divides ("1/4" -> 0.25) and a percent sign scales it ("1.5%" -> 0.015).
    Raises ValueError when a string has no number, TypeError for booleans and other non-numbers."""
    if isinstance(answer, bool):
        raise TypeError("True/False is not a number answer")
    if isinstance(answer, str):
        match = _FIRST_NUMBER.search(answer)
        if match is None:
            raise ValueError(f"no number in {answer!r}")
        value = _to_float(match.group("number"))
        if match.group("denominator"):
            value /= _to_float(match.group("denominator"))  # ZeroDivisionError: check() counts it wrong
        if match.group("percent"):
            value /= 100
        return value
    value = float(answer)
    if math.isnan(value):
        raise ValueError("NaN is not an answer")
    return value


def close_to(expected: float, tolerance: float = 0.01) -> Callable[[Any], bool]:
    """Checker: a number within `tolerance` of `expected`, relative to it (absolute when expected is 0);
    tolerance 0 asks for the exact value. The answer may be a string with a number in it (`number_in`)."""
    scale = abs(expected) if expected else 1.0
    return lambda answer: abs(number_in(answer) - expected) <= tolerance * scale


def _normal_text(answer) -> str:
    """A string answer compared loosely: case, surrounding spaces, quotes and a final full stop ignored."""
    return " ".join(str(answer).split()).strip("'\"`").rstrip(".").strip().lower()


def one_of(*accepted) -> Callable[[Any], bool]:
    """Checker: a string answer among `accepted` (case, surrounding spaces and quotes ignored)."""
    normal = {_normal_text(a) for a in accepted}
    return lambda answer: _normal_text(answer) in normal


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
    except (TypeError, ValueError, ArithmeticError, AttributeError, IndexError, RuntimeError):
        right = False  # an answer of the wrong kind (a word for a number, a list, ...) is a wrong answer
    if right:
        print(_("✔ Exercise {id}: correct. {explanation}").format(id=id, explanation=_(ex.explanation)).rstrip())
    else:
        print(_("✘ Exercise {id}: not yet. {hint}").format(id=id, hint=_(ex.hint)).rstrip())
    return right


def _shown(value) -> str:
    """A solution's value as printed: whole floats without '.0', others with up to 6 significant digits."""
    if isinstance(value, float):
        return str(int(value)) if value.is_integer() and abs(value) < 1e6 else f"{value:.6g}"
    return str(value)


def solution(id: str):
    """For instructors: print exercise `id`'s worked answer (the value, then how to get it) and return the value."""
    ex = get(id)
    if ex.solution is None:
        raise LookupError(f"exercise {id!r} has no worked solution yet")
    print(_("Solution {id}: {answer}").format(id=ex.id, answer=_shown(ex.solution)))
    worked = _(ex.worked) if ex.worked else _(ex.explanation)
    if worked:
        print(worked)
    return ex.solution


def all_ids() -> list[str]:
    _load_all()
    return sorted(_REGISTRY)
