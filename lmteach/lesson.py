"""What every lesson notebook shares: quick mode, the setup check, and asserting the lesson's claims.

Quick mode (`LMTEACH_QUICK=1`, set by the test command) shrinks training so a notebook runs in well under
90 s on a 2-core CPU; the narration and the claims stay the same.

    from lmteach.lesson import quick_mode, pick, claim, definition
    steps = pick(full=1500, quick=150)
    claim(post_ln_loss > pre_ln_loss + 0.2, "post-LN without warmup ends worse than pre-LN", post_ln_loss,
          pre_ln_loss, control="the same model with pre-LN")
    definition(mask.triu(1).eq(0).all(), "the causal mask hides every later token")
"""

from __future__ import annotations

import os
import platform


def quick_mode() -> bool:
    """True under the test command (LMTEACH_QUICK=1): train less, check the same claims."""
    return os.environ.get("LMTEACH_QUICK", "0") not in ("", "0", "false", "False")


def pick(full, quick):
    """`full` normally, `quick` in quick mode: `steps = pick(full=2000, quick=200)`."""
    return quick if quick_mode() else full


class ClaimFailed(AssertionError):
    """A lesson said something its own experiment did not show."""


def _numbers(evidence) -> str:
    return ", ".join(f"{e:.4g}" if isinstance(e, float) else str(e) for e in evidence)


def claim(holds: bool, statement: str, *evidence, control: str | None = None) -> None:
    """Assert one empirical claim a lesson makes, and say it out loud. Raises ClaimFailed (so CI fails the day a
    lesson stops showing what it says), naming the claim and the numbers that contradicted it.

    control: what the same measurement was compared with, computed in the same cell, that must fail the claim:
    untrained weights, a shuffled or foreign context, the other objective, ... Its number belongs among the
    evidence, so the reader sees both. Every lesson claim names one (tests/test_lesson_contract.py checks)."""
    from .i18n import _
    numbers = _numbers(evidence)
    statement = _(statement)  # the catalogue may hold a lesson's claims in the lesson's language
    if control:
        numbers = (_("{numbers}; control: {control}") if numbers else _("control: {control}")).format(
            numbers=numbers, control=_(control))
    if not holds:
        raise ClaimFailed(_("the lesson claims: {statement!r}, but this run did not show it ({numbers})")
                          .format(statement=statement, numbers=numbers))
    print((_("✔ {statement}  ({numbers})") if numbers else _("✔ {statement}"))
          .format(statement=statement, numbers=numbers))


def definition(holds: bool, statement: str, *evidence) -> None:
    """Check something true by construction (an identity, an implementation detail: "the causal mask hides the
    future", "LayerNorm's output has length sqrt(H)"), labelled as such so it is not mistaken for an experimental
    result. Raises ClaimFailed if the code stopped doing what the lesson says it does."""
    from .i18n import _
    numbers = _numbers(evidence)
    statement = _(statement)
    if not holds:
        raise ClaimFailed(_("by construction, {statement!r} should hold, but it does not ({numbers})")
                          .format(statement=statement, numbers=numbers))
    print((_("≡ by construction: {statement}  ({numbers})") if numbers else _("≡ by construction: {statement}"))
          .format(statement=statement, numbers=numbers))


def language(lang: str | None = None) -> str:
    """The language lmteach shows ('en' or 'ko'): `language("ko")` switches widgets, claims and exercise
    feedback to Korean from the next thing drawn or printed; with no argument, says which is in use
    (the default comes from the environment variable LMTEACH_LANG). See `lmteach.i18n`."""
    from . import i18n
    if lang is None:
        return i18n.current_language()
    chosen = i18n.set_language(lang)
    from .analysis.plots import use_language_font
    use_language_font()  # a CJK font for Korean labels, also in a lesson's own pyplot figures
    return chosen


def environment() -> dict:
    """Versions and the device a lesson will train on."""
    import torch

    from . import __version__
    info = {"python": platform.python_version(), "torch": torch.__version__, "lmteach": __version__,
            "cpu threads": torch.get_num_threads(), "cuda": torch.cuda.is_available(),
            "mps": bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()),
            "quick mode": quick_mode()}
    if info["cuda"]:
        info["gpu"] = torch.cuda.get_device_name(0)
    for name in ("ipywidgets", "matplotlib", "tokenizers", "bertviz"):
        try:
            module = __import__(name)
            info[name] = getattr(module, "__version__", "installed")
        except ImportError:
            info[name] = "MISSING"
    info["device"] = "cuda" if info["cuda"] else ("mps" if info["mps"] else "cpu")
    return info
