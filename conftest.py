"""Repo-wide pytest setup, loaded before collection when `pytest` runs from the repo root.

* Notebooks run in "quick" mode (`LMTEACH_QUICK=1`): set here, at import, so every kernel
  that nbval (or the JupyterLab browser test) starts inherits it.
* Every `notebooks/*.ipynb`, and the Korean track's `notebooks/ko/*.ipynb` (pytest recurses into
  `notebooks/`), is collected by nbval in lax mode (`--nbval-lax`: only cells marked
  `# NBVAL_CHECK_OUTPUT` compare output; every cell must run without error), in a kernel that
  uses pytest's own Python (`--nbval-current-env`, so the venv's torch/lmteach are importable
  whatever kernelspecs the machine has), with a per-cell timeout.
  These are defaults: options given on the command line win (e.g. `pytest --nbval` for strict
  mode, `--nbval-cell-timeout=900`, `-p no:nbval` to skip notebooks).
* nbval starts each kernel with cwd = the notebook's own folder, i.e. `notebooks/` (`notebooks/ko/` for Korean).
"""

from __future__ import annotations

import os

os.environ.setdefault("LMTEACH_QUICK", "1")
# Tests and English lessons run in English whatever the developer's LMTEACH_LANG; a Korean lesson
# (notebooks/ko/) switches its own kernel to Korean in its first code cell.
os.environ.pop("LMTEACH_LANG", None)
# Do NOT set MPLBACKEND here: kernels inherit the environment and ipykernel only picks its
# inline backend when MPLBACKEND is unset. Library tests run headless anyway (no DISPLAY).

NBVAL_DEFAULT_CELL_TIMEOUT = 2000  # nbval's own default, in seconds
CELL_TIMEOUT = int(os.environ.get("LMTEACH_NBVAL_CELL_TIMEOUT", "300"))


def pytest_configure(config):
    opt = config.option
    if not hasattr(opt, "nbval_lax"):  # nbval not installed / disabled with -p no:nbval
        return
    if not (opt.nbval or opt.nbval_lax):
        opt.nbval_lax = True
    if not opt.nbval_kernel_name and not getattr(opt, "current_env", False):
        opt.nbval_current_env = True
    if int(opt.nbval_cell_timeout) == NBVAL_DEFAULT_CELL_TIMEOUT:
        opt.nbval_cell_timeout = CELL_TIMEOUT
    if int(opt.nbval_kernel_startup_timeout) == 60:
        opt.nbval_kernel_startup_timeout = 120  # 2 slow cores + torch import
