"""Rebuild a shipped checkpoint from scratch by its recipe, in a scratch folder, and print its figures beside the
shipped ones: does `python -m lmteach recipe build NAME` reproduce what data/checkpoints/ holds?

    python scripts/check_rebuild.py gpt2-tiny              # the rebuild goes to runs/rebuild/gpt2-tiny
    python scripts/check_rebuild.py gpt2-tiny --threads 2

Nothing in data/ is touched. Run it on an otherwise idle machine (a recipe takes 15-60 minutes on 2 cores); it
resumes if interrupted. The same seed on the same machine and thread count gives the same numbers; another thread
count or machine changes the order of floating-point sums, so expect figures within noise, not identical.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from lmteach.data.corpus import data_dir  # noqa: E402
from lmteach.recipes import RECIPES, build_recipe  # noqa: E402
from lmteach.training import read_info  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("recipe", choices=[n for n, r in RECIPES.items() if r.kind != "mask_sweep"])
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--folder", default=None, help="scratch folder (default runs/rebuild/<recipe>)")
    args = parser.parse_args(argv)
    recipe = RECIPES[args.recipe]
    shipped = read_info(data_dir() / "checkpoints" / recipe.folder)["extra"]
    scratch = Path(args.folder or ROOT / "runs" / "rebuild" / args.recipe)
    rebuilt = build_recipe(args.recipe, out=scratch / "shipped", work=scratch / "work", threads=args.threads)
    print(f"\n{args.recipe}: shipped (built {shipped['built']}, {shipped['machine']}) vs rebuilt now "
          f"({rebuilt['machine']})")
    print(f"{'figure':22s} {'shipped':>10s} {'rebuilt':>10s} {'difference':>11s}")
    for name, value in shipped["figures"].items():
        again = rebuilt["figures"].get(name)
        if isinstance(value, float) and isinstance(again, float):
            print(f"{name:22s} {value:10.4f} {again:10.4f} {again - value:+11.4f}")
    print(f"training time: shipped {shipped['seconds'] / 60:.1f} min, rebuilt {rebuilt['seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
