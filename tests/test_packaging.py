"""lmteach as a user gets it from a wheel: the data (corpus, tasks, tokenizers, checkpoints) ships inside the
package, so `pip install .` without -e works outside a source checkout. `LMTEACH_DATA` still overrides."""

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lmteach.data import corpus, tokenization
from lmteach.data.corpus import data_dir

ROOT = Path(__file__).resolve().parents[1]


def test_data_dir_has_one_home_and_finds_the_shipped_data(monkeypatch, tmp_path):
    assert tokenization.data_dir is corpus.data_dir
    monkeypatch.delenv("LMTEACH_DATA", raising=False)
    for part in ("shakespeare/scenes.jsonl", "tasks/genre/info.json", "tokenizers/wordpiece.json",
                 "checkpoints/bert-tiny/config.json"):
        assert (data_dir() / part).is_file(), part
    monkeypatch.setenv("LMTEACH_DATA", str(tmp_path))
    assert data_dir() == tmp_path and tokenization.tokenizer_dir() == tmp_path / "tokenizers"


def test_every_package_is_in_the_wheel_list():
    """pyproject.toml lists the packages by name (lmteach._data is the top-level data/ folder, mapped in)."""
    tomllib = pytest.importorskip("tomllib")
    setuptools = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "lmteach").rglob("__init__.py")
             if "__pycache__" not in p.parts}
    assert found <= set(setuptools["packages"]), sorted(found - set(setuptools["packages"]))
    assert setuptools["package-dir"]["lmteach._data"] == "data"


SMOKE = """
import sys
from pathlib import Path

import lmteach
from lmteach.data.corpus import data_dir, load_corpus
from lmteach.data.tasks import load_task
from lmteach.data.tokenization import load_default
from lmteach.training import load_checkpoint

site = Path(sys.argv[1]).resolve()
assert Path(lmteach.__file__).resolve().is_relative_to(site), lmteach.__file__  # not the checkout's copy
assert data_dir().resolve().is_relative_to(site), data_dir()
print(load_corpus().describe())
assert len(load_task("genre")) > 100 and len(load_task("genre", "validation")) > 10
for kind in ("char", "byte_bpe", "wordpiece"):
    assert load_default(kind).vocab_size > 10, kind
assert load_default("byte_bpe", gpt1_specials=True).extract_id is not None
import lmteach.data.corpus as corpus
if hasattr(corpus, "load_korean"):  # lesson 00's Korean text
    print(corpus.load_korean().describe())
for name in ("gpt1-tiny", "gpt2-tiny", "bert-tiny", "electra-tiny", "sop-nsp/sop"):
    model, info = load_checkpoint(data_dir() / "checkpoints" / name)
    assert info["step"] > 0, name
print("smoke ok")
"""


def run(command, **kwargs):
    done = subprocess.run(command, capture_output=True, text=True, **kwargs)
    assert done.returncode == 0, f"{command}\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done


@pytest.mark.slow
def test_a_built_wheel_works_without_the_source_checkout(tmp_path):
    # Build from a copy, so the build leaves nothing (build/, *.egg-info) in the checkout.
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".ipynb_checkpoints")
    for name in ("lmteach", "data"):
        shutil.copytree(ROOT / name, source / name, ignore=ignore)
    # Without network: build with this environment's setuptools when it has one.
    isolation = ["--no-build-isolation"] if importlib.util.find_spec("setuptools") else []
    run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", *isolation, "-q", "-w", str(tmp_path)],
        timeout=180)
    wheel = next(tmp_path.glob("lmteach-*.whl"))
    site = tmp_path / "site"
    run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(site), str(wheel)],
        timeout=180)
    assert (site / "lmteach" / "_data" / "shakespeare" / "scenes.jsonl").is_file()
    # Every file of the package and of data/ made it (not only the Python modules).
    for name, installed in (("lmteach", site / "lmteach"), ("data", site / "lmteach" / "_data")):
        for file in (source / name).rglob("*"):
            if file.is_file() and file.suffix not in (".pyc",):
                assert (installed / file.relative_to(source / name)).is_file(), f"{file} is not in the wheel"

    # Run from a folder outside the checkout, with only the installed copy on the path (this environment's own
    # editable install comes after it, and the smoke script checks which copy it got).
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("LMTEACH_DATA", "PYTHONPATH", "WORLD_SIZE")}
    env.update(PYTHONPATH=str(site), OMP_NUM_THREADS="1", PYTHONNOUSERSITE="1")
    done = run([sys.executable, "-c", SMOKE, str(site)], cwd=elsewhere, env=env, timeout=180)
    assert "smoke ok" in done.stdout
    out = tmp_path / "x"
    run([sys.executable, "-m", "lmteach", "train", "--model", "bert", "--size", "tiny", "--steps", "20", "--out",
         str(out), "--batch-size", "8", "--seq-len", "64", "--eval-batches", "2", "--no-progress", "--device", "cpu"],
        cwd=elsewhere, env=env, timeout=300)
    assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
