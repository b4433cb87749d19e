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
    numbers = ", ".join(f"{e:.4g}" if isinstance(e, float) else str(e) for e in evidence)
    if not holds:
        raise ClaimFailed(f"the lesson claims: {statement!r}, but this run did not show it ({numbers})")
    print(f"✔ {statement}" + (f"  ({numbers})" if numbers else ""))


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
