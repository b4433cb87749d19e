"""`python -m lmteach` end to end on a tiny corpus: train -> sample, train -> fill-mask, and the errors."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--steps", "4", "--batch-size", "4", "--seq-len", "32", "--layers", "1", "--hidden", "32", "--heads", "2",
        "--eval-batches", "2", "--no-progress", "--device", "cpu"]


def lmteach(*args, timeout=120):
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1")
    env.pop("WORLD_SIZE", None)
    return subprocess.run([sys.executable, "-m", "lmteach", *map(str, args)], env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    path = tmp_path_factory.mktemp("corpus") / "play.txt"
    lines = ["ROMEO:\nBut soft, what light through yonder window breaks?",
             "JULIET:\nTo be or not to be, that is the question.",
             "HAMLET:\nWhether tis nobler in the mind to suffer the slings and arrows."]
    path.write_text("\n\n".join(lines[i % 3] + f" Scene {i}." for i in range(40)))
    return path


@pytest.mark.slow
def test_train_then_sample(tmp_path, corpus):
    out = tmp_path / "gpt2"
    trained = lmteach("train", "--model", "gpt2", "--tokenizer", "char", "--corpus", corpus, *TINY, "--out", out)
    assert trained.returncode == 0, trained.stderr
    assert (out / "model.safetensors").exists() and (out / "config.json").exists()
    sampled = lmteach("sample", out, "--prompt", "ROMEO:", "--tokens", "20", "--temperature", "0.8",
                      "--top-k", "5", "--seed", "0")
    assert sampled.returncode == 0, sampled.stderr
    assert sampled.stdout.startswith("ROMEO:") and len(sampled.stdout.strip()) >= len("ROMEO:") + 10
    again = lmteach("sample", out, "--prompt", "ROMEO:", "--tokens", "20", "--top-k", "5", "--seed", "0")
    assert again.stdout == sampled.stdout  # same seed, same text

    too_long = lmteach("sample", out, "--prompt", "x" * 200)  # the tiny preset has 128 positions
    assert too_long.returncode != 0 and "200 tokens" in too_long.stderr and "128 positions" in too_long.stderr
    not_mlm = lmteach("fill-mask", out, "To be [MASK]")
    assert not_mlm.returncode != 0 and "masked-LM head" in not_mlm.stderr


@pytest.mark.slow
def test_train_bert_then_fill_mask(tmp_path, corpus):
    out = tmp_path / "bert"
    trained = lmteach("train", "--model", "bert", "--vocab-size", "200", "--corpus", corpus, *TINY, "--out", out)
    assert trained.returncode == 0, trained.stderr
    filled = lmteach("fill-mask", out, "To be or not to [MASK]", "--top-k", "3")
    assert filled.returncode == 0, filled.stderr
    lines = filled.stdout.strip().splitlines()
    assert lines[0] == "[MASK] 1:" and len(lines) == 4


def test_missing_checkpoint_and_wrong_objective(tmp_path):
    missing = lmteach("sample", tmp_path / "nothing")
    assert missing.returncode != 0 and "no checkpoint at" in missing.stderr
    wrong = lmteach("train", "--model", "gpt2", "--objective", "mlm", "--out", tmp_path / "x")
    assert wrong.returncode != 0 and "does not fit a gpt2 model" in wrong.stderr
