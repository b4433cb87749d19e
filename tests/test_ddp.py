"""Two CPU processes under torchrun (gloo) train exactly like one process on the same global batch."""

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from lmteach.training import read_info

ROOT = Path(__file__).resolve().parents[1]
TINY = ["--model", "gpt2", "--tokenizer", "char", "--steps", "3", "--batch-size", "4", "--seq-len", "16",
        "--layers", "1", "--hidden", "32", "--heads", "2", "--dropout", "0", "--eval-batches", "2",
        "--no-progress", "--device", "cpu"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def environment():
    env = dict(os.environ, PYTHONPATH=str(ROOT), OMP_NUM_THREADS="1", GLOO_SOCKET_IFNAME="lo")
    env.pop("WORLD_SIZE", None)
    return env


@pytest.mark.slow
def test_two_gloo_processes_match_one_process(tmp_path):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n\n".join(f"Speech {i}: to be, or not to be, that is the question {i}." for i in range(60)))
    common = TINY + ["--corpus", str(corpus)]
    single = subprocess.run([sys.executable, "-m", "lmteach", "train", *common, "--out", str(tmp_path / "one")],
                            env=environment(), capture_output=True, text=True, timeout=120)
    assert single.returncode == 0, single.stderr
    ddp = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                          "--master-addr", "127.0.0.1", "--master-port", str(free_port()),
                          "-m", "lmteach", "train", *common, "--out", str(tmp_path / "two")],
                         env=environment(), capture_output=True, text=True, timeout=180)
    assert ddp.returncode == 0, ddp.stderr[-3000:]
    assert "x2" in ddp.stderr  # the run really had two processes

    one, two = load_file(tmp_path / "one" / "model.safetensors"), load_file(tmp_path / "two" / "model.safetensors")
    assert one.keys() == two.keys()
    for name in one:
        torch.testing.assert_close(two[name], one[name], atol=1e-5, rtol=1e-5, msg=name)
    losses_one = read_info(tmp_path / "one")["history"]["losses"]
    losses_two = read_info(tmp_path / "two")["history"]["losses"]
    assert losses_two == pytest.approx(losses_one, abs=1e-5)
