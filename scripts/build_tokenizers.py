"""Rebuild the shipped tokenizers in data/tokenizers/ from the shipped corpus.

    python scripts/build_tokenizers.py            # char, byte_bpe, wordpiece
    python scripts/build_tokenizers.py --check    # only report what the shipped files hold

All three are trained on the whole Shakespeare corpus (training and validation
scenes alike: a tokenizer only decides how text is cut, and every character of
the validation text must be known to the char tokenizer).  Training is
deterministic, so rerunning gives the same files.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from lmteach.data.corpus import load_corpus  # noqa: E402
from lmteach.data.tokenization import (  # noqa: E402
    DEFAULT_VOCAB_SIZES, KINDS, load_default, tokenizer_dir, train_tokenizer,
)


def describe(tokenizer, sample: str) -> str:
    ids = tokenizer.encode(sample)
    return (f"{tokenizer.kind:10s} vocab {tokenizer.vocab_size:5d}  "
            f"{len(sample) / len(ids):.2f} chars/token on the sample")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="load and describe, do not rebuild")
    args = parser.parse_args()

    text = load_corpus().text
    sample = text[:20_000]
    for kind in KINDS:
        if args.check:
            tokenizer = load_default(kind)
        else:
            tokenizer = train_tokenizer(kind, text, DEFAULT_VOCAB_SIZES.get(kind))
            path = tokenizer.save(tokenizer_dir() / f"{kind}.json")
            print(f"wrote {path} ({path.stat().st_size / 1024:.0f} KiB)")
        print("  " + describe(tokenizer, sample))


if __name__ == "__main__":
    main()
