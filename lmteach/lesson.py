"""What every lesson notebook shares: quick mode, the setup check, and asserting the lesson's claims.

Quick mode (`LMTEACH_QUICK=1`, set by the test command) shrinks training so a notebook runs in well under
90 s on a 2-core CPU; the narration and the claims stay the same.

    from lmteach.lesson import quick_mode, pick, claim
    steps = pick(full=1500, quick=150)
    claim(post_ln_loss > pre_ln_loss + 0.2, "post-LN without warmup ends worse than pre-LN", post_ln_loss, pre_ln_loss)
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


def claim(holds: bool, statement: str, *evidence) -> None:
    """Assert one claim a lesson makes, and say it out loud. Raises ClaimFailed (so CI fails the day a lesson
    stops showing what it says), naming the claim and the numbers that contradicted it."""
    from .i18n import _
    numbers = ", ".join(f"{e:.4g}" if isinstance(e, float) else str(e) for e in evidence)
    statement = _(statement)  # the catalogue may hold a lesson's claims in the lesson's language
    if not holds:
        raise ClaimFailed(_("the lesson claims: {statement!r}, but this run did not show it ({numbers})")
                          .format(statement=statement, numbers=numbers))
    print((_("✔ {statement}  ({numbers})") if numbers else _("✔ {statement}"))
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
