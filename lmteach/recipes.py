"""Recipes: every shipped checkpoint is built by one named command, and its README says how and what it reached.

    python -m lmteach recipe list                     # every recipe, its folder and its last figures
    python -m lmteach recipe build bert-tiny          # train, measure on the held-out plays, ship
    python -m lmteach recipe build bert-tiny --out runs/my-bert --steps 500   # a trial elsewhere

A build trains in `runs/recipes/<name>/`, writing a checkpoint there every few minutes: if it is interrupted,
the same command resumes from the last one (and the result is the same as an uninterrupted build: the data and
the learning rate depend only on the step). At the end it measures the model on the held-out test plays
(`lmteach.analysis.evaluation`), writes the weights in fp16 with `save_checkpoint` (which replaces only the
checkpoint's own files) and writes the folder's README.md: the command, the settings, the seed, the wall time,
the machine and the figures, beside the targets the lessons rely on.

Run recipes one after another on an otherwise idle machine: two PyTorch jobs on two cores slow each other far
more than twice (OpenMP threads spin-wait for each other).

Every model trains on the training plays only (`corpus.split_by_play()["train"]`); the validation plays give
the loss curve and the test plays the figures, so no lesson ever grades a model on text it was trained on.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

WORK_ROOT = Path("runs") / "recipes"
SAVE_EVERY_SECONDS = 180  # how often an interrupted build loses at most


@dataclass(frozen=True)
class Recipe:
    """How one shipped checkpoint is made.

    kind: what is trained: "causal_lm" (GPT), "mlm_pair" (BERT/ALBERT: masked LM + NSP or SOP), "masked_lm"
    (masked LM alone), "electra", or "mask_sweep" (results, no model).
    model: the preset ({"family", "size"}) and config overrides. training: the Trainer's settings and the data's.
    targets: {figure: (">=" or "<=", value)}: what the lessons and issue targets need of it (checked, reported).
    equal_compute_to: train as many steps as spend the training FLOPs of that recipe (ELECTRA §3.5's
    comparison), instead of training["steps"].
    snapshot_at_compute_of: also ship the model as it was at the step where it had spent that recipe's training
    FLOPs, in the subfolder `equal-compute/` (a comparison at equal compute without a second training run)."""

    name: str
    folder: str
    summary: str
    lessons: tuple[str, ...]
    kind: str
    model: dict
    training: dict
    targets: dict = field(default_factory=dict)
    equal_compute_to: str | None = None
    snapshot_at_compute_of: str | None = None

    def settings(self, **overrides) -> dict:
        return {**self.training, **{k: v for k, v in overrides.items() if v is not None}}


# One table of every shipped model. The settings were chosen by measuring: tiny masked LMs need a few thousand steps
# of 4,096 tokens, and short sequences first, to leave the "unigram plateau" where they always guess the commonest
# token (`short_then_long`); the pair tasks need segments long enough to carry topic (NSP) or a seam (SOP).
_SMALL_LM = dict(batch_size=32, seq_len=128, lr=1e-3, warmup=200, schedule="cosine", weight_decay=0.01, seed=0)

RECIPES = {r.name: r for r in (
    Recipe("gpt1-tiny", "gpt1-tiny", "GPT-1 (post-LN causal LM) with byte-level BPE and GPT-1's <start>, <delim> and "
           "<extract> tokens (untrained until fine-tuning, GPT-1 §3.3)", ("01", "03"), "causal_lm",
           dict(family="gpt1", size="tiny", tokenizer="byte_bpe", gpt1_specials=True),
           dict(_SMALL_LM, steps=2500, batch_size=16, dropout=0.1),
           targets={"below_unigram": (">=", 1.5)}),
    Recipe("gpt2-tiny", "gpt2-tiny", "GPT-2 (pre-LN with a final LayerNorm and 1/sqrt(2L) residual init) with "
           "byte-level BPE", ("04",), "causal_lm",
           dict(family="gpt2", size="tiny", tokenizer="byte_bpe"),
           dict(_SMALL_LM, steps=2500, batch_size=16, dropout=0.1),
           targets={"below_unigram": (">=", 1.5)}),
    Recipe("bert-tiny", "bert-tiny", "BERT (post-LN) pretrained with masked LM (15%, 80/10/10) and next sentence "
           "prediction on packed speeches as printed (speaker names included), NotNext from another play", ("02", "03", "05"), "mlm_pair",
           dict(family="bert", size="tiny", tokenizer="wordpiece", pair_task="nsp"),
           dict(_SMALL_LM, steps=14000, short_steps=1500, short_seq_len=32, span_tokens=62, cut="speeches",
                speakers=True, rate=0.15, dropout=0.0),
           targets={"masked_accuracy": (">=", 0.30), "nsp_accuracy": (">=", 0.75)},
           # Lesson 03 also compares gpt1-tiny with this model as it was when it had spent gpt1-tiny's compute.
           snapshot_at_compute_of="gpt1-tiny"),
    Recipe("albert-nsp", "sop-nsp/nsp", "ALBERT (E=64, all layers shared) pretrained with masked LM and BERT's "
           "next sentence prediction on 62-token pieces cut anywhere: one half of ALBERT's Table 5", ("05",), "mlm_pair",
           dict(family="albert", size="tiny", tokenizer="wordpiece", pair_task="nsp"),
           dict(_SMALL_LM, steps=4000, short_steps=1500, short_seq_len=32, span_tokens=62, cut="anywhere",
                speakers=True, short_cut="speeches", short_pair_task=False, rate=0.15, dropout=0.0),
           targets={"nsp_accuracy": (">=", 0.70), "sop_accuracy": ("<=", 0.60)}),
    Recipe("albert-sop", "sop-nsp/sop", "ALBERT (E=64, all layers shared) pretrained with masked LM and sentence "
           "order prediction (ALBERT §3.1) on the same pieces: the other half of Table 5", ("05",), "mlm_pair",
           dict(family="albert", size="tiny", tokenizer="wordpiece", pair_task="sop"),
           dict(_SMALL_LM, steps=4000, short_steps=1500, short_seq_len=32, span_tokens=62, cut="anywhere",
                speakers=True, short_cut="speeches", short_pair_task=False, rate=0.15, dropout=0.0),
           targets={"sop_accuracy": (">=", 0.65), "nsp_accuracy": (">=", 0.55)}),
    # ELECTRA samples its generator at temperature 1. At this scale that failed: after 3,000 steps the generator's
    # samples were nearly as plausible as the text (its top-1 0.158 vs 0.222 for a full-width masked LM), and the
    # discriminator learned almost nothing from them (AUC 0.55 on its own samples, 0.66 on random replacements).
    # Sampling at temperature 3 makes a weaker generator (§3.2: too strong a generator leaves the discriminator too
    # hard a task), without a narrower one that would stay on the unigram plateau; the compute is unchanged.
    Recipe("electra-tiny", "electra-tiny", "ELECTRA: a generator (a masked LM of half the width) fills 15% masks, "
           "sampled at temperature 3 (a weaker generator than the paper's temperature 1, see the recipe), and a "
           "discriminator learns replaced-token detection; they share the embeddings (§3.2)", ("06",),
           "electra", dict(family="electra", size="tiny", tokenizer="wordpiece", generator_fraction=0.5),
           dict(_SMALL_LM, steps=3000, short_steps=1500, short_seq_len=32, short_cut="speeches", rate=0.15,
                dropout=0.0, temperature=3.0),
           targets={"auc_own": (">=", 0.85), "auc_random": (">=", 0.85), "recall_random": (">=", 0.5)}),
    Recipe("mlm-sweep", "mlm-sweep", "Results (no model): small BERTs trained from scratch at masking rates 5%, 15%, "
           "40% and 80%, 3 seeds each, graded on the same held-out 15% masks every 150 steps", ("02",), "mask_sweep",
           dict(family="bert", size="tiny", tokenizer="wordpiece", num_layers=2),
           dict(rates=(0.05, 0.15, 0.4, 0.8), seeds=(0, 1, 2), steps=1500, eval_every=150, num_layers=2,
                batch_size=64, seq_len=32, lr=1e-3)),
    Recipe("electra-mlm", "electra-mlm-same-compute", "A BERT-style masked LM of the ELECTRA discriminator's size, "
           "trained for the same training FLOPs as electra-tiny (ELECTRA §3.5's comparison)", ("06",),
           "masked_lm", dict(family="electra", size="tiny", tokenizer="wordpiece", generator_fraction=None),
           dict(_SMALL_LM, steps=None, short_steps=1500, short_seq_len=32, short_cut="speeches", rate=0.15,
                dropout=0.0),
           equal_compute_to="electra-tiny"),
)}


# --- what each kind trains on -------------------------------------------------------------------------------------

def _tokenizer(model: dict):
    from .data.tokenization import load_default

    if model["tokenizer"] == "byte_bpe":
        return load_default("byte_bpe", gpt1_specials=model.get("gpt1_specials", False))
    return load_default(model["tokenizer"])


def model_config(recipe: Recipe, vocab_size: int, settings: dict):
    """The recipe's ModelConfig (the preset, sized to the vocabulary and sequence length, the overrides)."""
    from .configs import preset

    overrides = {k: v for k, v in recipe.model.items() if k not in ("family", "size", "tokenizer", "gpt1_specials")}
    dropout = settings.get("dropout")
    if dropout is not None:
        overrides.update(dropout=dropout, attention_dropout=dropout)
    return preset(recipe.model["family"], recipe.model["size"], vocab_size=vocab_size,
                  max_positions=max(128, settings["seq_len"]), **overrides)


@dataclass
class Plan:
    """What a build trains: the model, its batches (and validation batches) and its loss."""
    model: torch.nn.Module
    tokenizer: object
    batches: object
    eval_batches: object
    loss_fn: object = None


def short_then_long(short, long, short_steps: int):
    """One batch function from two: `short` sequences for the first `short_steps` steps, then `long` ones.

    BERT (Appendix A.2) trained 90% of its steps at length 128 and only then at 512: short sequences are cheaper,
    and here they also get a tiny masked LM off the "unigram plateau" many times sooner. With 32 tokens the
    neighbours of a [MASK] are a large share of what attention averages over at the start, so the signal to
    look at them is strong; with 128 it is diluted four times (measured: off the plateau after ~500 steps at
    length 32, still on it after 1,500 at length 128, pre-LN or post-LN)."""
    return lambda step: short(step) if step < short_steps else long(step)


def masked_lm_only(batches):
    """The same batches without their pair labels: the pair head gets no loss, only the masked LM trains.

    Used for the short phase of the ALBERT recipes, which read single short speeches there ("short_cut") and only
    in the long phase the 62-token pieces cut anywhere that their pair task needs. Measured: a tiny factorized
    (E=64) model on 14-token pieces cut anywhere was still on the unigram plateau after 500-2,000 steps, while short
    speeches (many short, formulaic replies: an easy curriculum) got a tiny BERT off it in about 500."""
    return lambda step: {k: v for k, v in batches(step).items() if k != "pair_labels"}


def _plan(recipe: Recipe, settings: dict) -> Plan:
    from .data.corpus import load_corpus
    from .models import build
    from .training import (causal_lm_batches, electra_loss_fn, masked_lm_batches, plain_batches,
                           tokenized_documents)
    from .training.batches import masked, segment_batches

    tokenizer = _tokenizer(recipe.model)
    parts = load_corpus().split_by_play()
    cfg = model_config(recipe, tokenizer.vocab_size, settings)
    torch.manual_seed(settings["seed"])
    seq, batch, seed = settings["seq_len"], settings["batch_size"], settings["seed"]
    short_steps, short_seq = settings.get("short_steps", 0), settings.get("short_seq_len", seq)
    short_batch = batch * seq // short_seq  # the same number of tokens per step

    def two_phase(make):  # make(seq_len, batch_size, seed) -> batch function
        train = make(seq, batch, seed)
        if short_steps:
            short = make(short_seq, short_batch, seed + 2)
            if not settings.get("short_pair_task", True):
                short = masked_lm_only(short)
            train = short_then_long(short, train, short_steps)
        return train, make(seq, batch, seed + 1)

    if recipe.kind == "mlm_pair":
        documents = {}

        def make_pairs(part):
            def make(seq_len, batch_size, part_seed):
                long = seq_len == seq
                span = settings["span_tokens"] if long else (seq_len - 3) // 2
                cut = settings.get("cut", "speeches") if long else settings.get("short_cut", settings.get("cut"))
                if (part, span, cut) not in documents:
                    documents[part, span, cut] = tokenized_documents(tokenizer, parts[part], span_tokens=span,
                                                                     cut=cut or "speeches",
                                                                     speakers=settings.get("speakers", False))
                docs, plays = documents[part, span, cut]
                return masked_lm_batches(tokenizer, seq_len, batch_size, documents=docs, groups=plays,
                                         pair_task=cfg.pair_task, seed=part_seed, rate=settings["rate"])
            return make
        train, _ = two_phase(make_pairs("train"))
        return Plan(build(cfg), tokenizer, train, make_pairs("validation")(seq, batch, seed + 1))
    ids = {part: torch.tensor(tokenizer.encode(parts[part].text)) for part in ("train", "validation")}
    if recipe.kind == "causal_lm":
        return Plan(build(cfg), tokenizer, causal_lm_batches(ids["train"], seq, batch, seed),
                    causal_lm_batches(ids["validation"], seq, batch, seed + 1))
    speeches = None
    if settings.get("short_cut") == "speeches":  # the short phase reads whole short speeches
        speeches, _ = tokenized_documents(tokenizer, parts["train"], span_tokens=short_seq - 2, speakers=True,
                                          min_segments=1)
    if recipe.kind == "masked_lm":
        def make(n, b, s):
            if n != seq and speeches is not None:
                return masked(tokenizer, segment_batches(tokenizer, speeches, n, b, s), s, settings["rate"])
            return masked_lm_batches(tokenizer, n, b, token_ids=ids["train"], seed=s, rate=settings["rate"])
        train, _ = two_phase(make)
        return Plan(build(cfg, head="masked_lm"), tokenizer, train,
                    masked_lm_batches(tokenizer, seq, batch, token_ids=ids["validation"], seed=seed + 1))
    if recipe.kind == "electra":
        loss_fn = electra_loss_fn(tokenizer.mask_id, tokenizer.vocab_size, tokenizer.special_ids,
                                  rate=settings["rate"], temperature=settings.get("temperature", 1.0))

        def make(n, b, s):  # the short phase reads whole short speeches (settings "short_cut"), then windows
            if n != seq and speeches is not None:
                return segment_batches(tokenizer, speeches, n, b, s)
            return plain_batches(tokenizer, n, b, ids["train"], s)
        train, _ = two_phase(make)
        return Plan(build(cfg), tokenizer, train, plain_batches(tokenizer, seq, batch, ids["validation"], seed + 1),
                    loss_fn)
    raise ValueError(f"unknown recipe kind {recipe.kind!r}")


def measure(recipe: Recipe, model, tokenizer, *, quick: bool = False) -> dict:
    """The recipe's figures on the held-out test plays (smaller samples with quick=True, for tests)."""
    from .analysis import evaluation
    from .data.corpus import load_corpus
    from .training import tokenized_documents

    parts = load_corpus().split_by_play()
    if recipe.kind == "causal_lm":
        return evaluation.causal_lm_figures(model, tokenizer, parts, max_windows=60 if quick else 400)
    if recipe.kind in ("mlm_pair", "masked_lm"):
        docs, plays = tokenized_documents(tokenizer, parts["test"], span_tokens=62,
                                          cut=recipe.training.get("cut", "speeches"),
                                          speakers=recipe.training.get("speakers", False))
        figures = evaluation.masked_lm_figures(model, tokenizer, docs, plays, batches=2 if quick else 8)
        if recipe.kind == "mlm_pair":
            for task in ("nsp", "sop"):
                figures[f"{task}_accuracy"] = evaluation.pair_accuracy(model, tokenizer, docs, plays, task,
                                                                       pairs=256 if quick else 1024)
        return figures
    if recipe.kind == "electra":
        windows = evaluation.text_windows(tokenizer, tokenizer.encode(parts["test"].text),
                                          count=32 if quick else 256)
        temperature = recipe.training.get("temperature", 1.0)
        figures = evaluation.detection_figures(model, tokenizer, windows, temperature=temperature)
        if temperature != 1.0:  # also graded on the paper's samples (temperature 1), which are harder to spot
            paper = evaluation.detection_figures(model, tokenizer, windows)
            figures.update({f"{key}_t1": paper[key] for key in ("replaced_fraction", "auc_own", "recall_own")})
        return figures
    raise ValueError(f"unknown recipe kind {recipe.kind!r}")


def meets_targets(recipe: Recipe, figures: dict) -> dict[str, bool]:
    """{figure: whether it meets its target}."""
    return {name: (figures[name] >= value if op == ">=" else figures[name] <= value)
            for name, (op, value) in recipe.targets.items()}


def training_flops_of(recipe: Recipe, settings: dict, vocab_size: int) -> float:
    """Training FLOPs of a recipe's settings (both sequence lengths, if it has a short phase), as
    lmteach.analysis.compute counts them."""
    from .analysis.compute import training_flops

    cfg = model_config(recipe, vocab_size, settings)
    head = "masked_lm" if recipe.kind == "masked_lm" else "pretraining"
    steps, seq, batch = settings["steps"], settings["seq_len"], settings["batch_size"]
    short_steps, short_seq = min(settings.get("short_steps", 0), steps), settings.get("short_seq_len", seq)
    rate = settings.get("rate", 0.15)
    return (training_flops(cfg, short_steps, batch * seq // short_seq, short_seq, head, mlm_fraction=rate)
            + training_flops(cfg, steps - short_steps, batch, seq, head, mlm_fraction=rate))


def _steps(recipe: Recipe, settings: dict, vocab_size: int, compute_of: str | None = None) -> int:
    """The recipe's number of steps; for an equal-compute recipe (or `compute_of` another recipe), the most
    steps within the other's training FLOPs."""
    compute_of = compute_of or recipe.equal_compute_to
    if compute_of is None or (settings.get("steps") and compute_of == recipe.equal_compute_to):
        return int(settings["steps"])
    other = RECIPES[compute_of]
    budget = training_flops_of(other, other.settings(), _tokenizer(other.model).vocab_size)
    steps = 1
    if training_flops_of(recipe, {**settings, "steps": 1}, vocab_size) > budget:
        raise ValueError(f"one step of {recipe.name} costs more than all of {compute_of}")
    while training_flops_of(recipe, {**settings, "steps": steps * 2}, vocab_size) <= budget:
        steps *= 2
    low, high = steps, steps * 2  # the budget lies between: bisect
    while high - low > 1:
        middle = (low + high) // 2
        fits = training_flops_of(recipe, {**settings, "steps": middle}, vocab_size) <= budget
        low, high = (middle, high) if fits else (low, middle)
    return low


# --- building ---------------------------------------------------------------------------------------------

def machine() -> str:
    """One line about where a build ran."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    device = torch.cuda.get_device_name(0) if torch.cuda.is_available() else f"{os.cpu_count()} CPU cores ({cpu})"
    return f"{device}, {torch.get_num_threads()} torch threads, torch {torch.__version__}, {platform.system()}"


def build_recipe(name: str, *, out=None, work=None, steps: int | None = None, threads: int | None = None,
                 device: str = "cpu", log=None) -> dict:
    """Build one recipe (resuming from `work` if a previous build of the same settings was interrupted) and
    ship it to `out` (default data/checkpoints/<folder>). Returns {"figures", "targets_met", "seconds", ...}."""
    from .data.corpus import data_dir
    from .training import Trainer, read_info

    log = log or (lambda message: print(message, file=sys.stderr, flush=True))
    if name not in RECIPES:
        raise ValueError(f"unknown recipe {name!r}; choose one of {list(RECIPES)}")
    recipe = RECIPES[name]
    if threads:
        torch.set_num_threads(threads)
    settings = recipe.settings(steps=steps)
    out = Path(out) if out is not None else data_dir() / "checkpoints" / recipe.folder
    if recipe.kind == "mask_sweep":
        return _build_sweep(recipe, settings, out, log)
    work = Path(work) if work is not None else WORK_ROOT / name
    plan = _plan(recipe, settings)
    settings["steps"] = total = _steps(recipe, settings, plan.tokenizer.vocab_size)
    trainer = Trainer(plan.model, plan.batches, plan.loss_fn, lr=settings["lr"],
                      weight_decay=settings["weight_decay"], warmup_steps=settings["warmup"],
                      schedule=settings["schedule"], total_steps=total, device=device, seed=settings["seed"],
                      eval_batches=plan.eval_batches, eval_every=max(1, total // 10), eval_steps=8,
                      tokenizer=plan.tokenizer, progress=False)
    if (work / "config.json").exists():
        before = read_info(work).get("extra", {}).get("settings")
        if before != settings:
            raise SystemExit(f"{work} holds an unfinished build of {name} with other settings ({before}); "
                             f"delete that folder to start again, or pass another --work folder")
        trainer.resume_from(work)
        log(f"{name}: resuming from step {trainer.step_count} of {total} ({work})")
    else:
        log(f"{name}: {sum(p.numel() for p in plan.model.parameters()):,} parameters, {total} steps; "
            f"checkpoints in {work}")
    started = time.perf_counter()
    last_save = time.perf_counter()
    snapshot = None
    if recipe.snapshot_at_compute_of:
        snapshot = _steps(recipe, {**settings, "steps": None}, plan.tokenizer.vocab_size,
                          compute_of=recipe.snapshot_at_compute_of)

    def report(event):
        nonlocal last_save
        step = event["step"] + 1
        if step == snapshot:
            _ship_snapshot(recipe, plan.model, plan.tokenizer, step, settings, out / "equal-compute")
            log(f"{name}: step {step}: shipped a snapshot at the compute of {recipe.snapshot_at_compute_of}")
        if step % 100 == 0 or step == total:
            done = step / total
            rate = (time.perf_counter() - started) / max(1, step - first_step)
            log(f"{name}: step {step}/{total}  loss {trainer.history.smoothed(50)[-1]:.3f}  "
                f"{rate:.2f} s/step, about {rate * (total - step) / 60:.0f} min left ({done:.0%})")
        if time.perf_counter() - last_save > SAVE_EVERY_SECONDS and step < total:
            trainer.save(work, extra={"settings": settings, "recipe": name})
            last_save = time.perf_counter()

    first_step = trainer.step_count
    trainer.on("step", report)
    trainer.on("eval", lambda e: log(f"{name}: step {e['step']}  validation loss {e['val_loss']:.3f}"))
    trainer.run()
    trainer.save(work, extra={"settings": settings, "recipe": name})
    log(f"{name}: measuring on the held-out test plays")
    plan.model.eval()
    figures = measure(recipe, plan.model.cpu(), plan.tokenizer)
    met = meets_targets(recipe, figures)
    result = {"recipe": name, "settings": settings, "figures": figures, "targets_met": met,
              "seconds": round(trainer.elapsed_s), "machine": machine(),
              "built": datetime.date.today().isoformat(), "command": f"python -m lmteach recipe build {name}"}
    ship(recipe, plan.model, plan.tokenizer, trainer, out, result)
    log(f"{name}: shipped to {out}; " + ", ".join(f"{k} {v:.3f}" for k, v in figures.items()
                                                   if isinstance(v, float)))
    for figure, ok in met.items():
        op, value = recipe.targets[figure]
        log(f"  target {figure} {op} {value}: {'met' if ok else 'NOT met'} ({figures[figure]:.3f})")
    return result


def _build_sweep(recipe: Recipe, settings: dict, out: Path, log) -> dict:
    """A results recipe: run lessons.bert.mask_rate_sweep and write results.json (atomically) and a README."""
    from .lessons.bert import mask_rate_sweep

    started = time.perf_counter()
    sweep = mask_rate_sweep(**settings, log=lambda line: log(f"{recipe.name}: {line}"))
    result = {"recipe": recipe.name, "settings": settings, "seconds": round(time.perf_counter() - started),
              "machine": machine(), "built": datetime.date.today().isoformat(),
              "command": f"python -m lmteach recipe build {recipe.name}"}
    sweep.update(result)
    out.mkdir(parents=True, exist_ok=True)
    temporary = out / ".results.json.tmp"
    temporary.write_text(json.dumps(sweep, indent=1))
    os.replace(temporary, out / "results.json")
    finals = {}
    for run in sweep["runs"]:
        finals.setdefault(run["rate"], []).append(run["curve"][-1][1])
    lines = [f"# {recipe.name}", "", f"{recipe.summary}. Used by lesson 02.", "", "## How it was made", "", "```bash",
             result["command"], "```", "", f"Built on {result['built']} in {result['seconds'] / 60:.1f} minutes on "
             f"{result['machine']}.", "", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in settings.items()]
    lines += ["", "## Final held-out top-1 behind [MASK] (graded at 15%), per seed", "", "| trained at | seeds | mean |",
              "|---|---|---|"]
    lines += [f"| {rate:.0%} | {', '.join(f'{a:.3f}' for a in accs)} | {sum(accs) / len(accs):.3f} |"
              for rate, accs in sorted(finals.items())]
    lines += ["", "The curves are in `results.json` (`runs[i].curve`: [step, accuracy]); lesson 02 plots them.", ""]
    (out / "README.md").write_text("\n".join(lines))
    log(f"{recipe.name}: wrote {out / 'results.json'}")
    return {**result, "figures": {f"final_{rate}": sum(a) / len(a) for rate, a in finals.items()}, "targets_met": {}}


def _ship_snapshot(recipe: Recipe, model, tokenizer, step: int, settings: dict, out: Path):
    """The model as it is now (mid-training), in fp16, with a note of what it is."""
    import copy

    from .training import save_checkpoint

    other = recipe.snapshot_at_compute_of
    flops = training_flops_of(recipe, {**settings, "steps": step}, tokenizer.vocab_size)
    note = {"recipe": recipe.name, "snapshot_of": recipe.name, "step": step, "flops": flops,
            "compute_of": other, "command": f"python -m lmteach recipe build {recipe.name}"}
    save_checkpoint(out, copy.deepcopy(model).half(), tokenizer=tokenizer, step=step, extra=note)
    (out / "README.md").write_text(
        f"# {recipe.name} at the compute of {other}\n\n{recipe.name} as it was after {step:,} of its "
        f"{settings['steps']:,} steps, when its training had cost {flops:.3g} FLOPs: the training FLOPs of "
        f"`{other}` (lmteach.analysis.compute). Written by the same build: `{note['command']}`.\n")


def ship(recipe: Recipe, model, tokenizer, trainer, out: Path, result: dict):
    """Write the fp16 weights and a slim history (the loss curves, not every event) with save_checkpoint,
    then the README. Other files in `out` are left alone."""
    from .training import save_checkpoint

    slim = {"events": [{k: (round(v, 4) if isinstance(v, float) else v) for k, v in e.items()
                        if k in ("event", "step", "loss", "val_loss", "generator_loss", "discriminator_loss")}
                       for e in trainer.history.events]}
    save_checkpoint(out, model.half(), tokenizer=tokenizer, step=trainer.step_count, history=slim,
                    extra={**result, "dtype": "float16"})
    model.float()
    (out / "README.md").write_text(readme(recipe, result))


def readme(recipe: Recipe, result: dict) -> str:
    """The README of a shipped checkpoint: what it is, the command, the settings, the figures."""
    from .data.corpus import PLAY_SPLIT

    settings, figures = result["settings"], result["figures"]
    lines = [f"# {recipe.name}", "", f"{recipe.summary}. Used by lesson{'s' if len(recipe.lessons) > 1 else ''} "
             f"{', '.join(recipe.lessons)}.", "", "## How it was made", "", "```bash", result["command"], "```", "",
             f"Built on {result['built']} in {result['seconds'] / 60:.1f} minutes of training on {result['machine']}.",
             "Trained on the training plays only; the validation plays give the loss curve (`history` in "
             "config.json), the test plays the figures below. Weights are stored in fp16 and load back as fp32.",
             "", "| setting | value |", "|---|---|"]
    lines += [f"| {key} | {value} |" for key, value in {**recipe.model, **settings}.items()]
    if recipe.equal_compute_to:
        lines += ["", f"`steps` was computed so that the training FLOPs equal those of `{recipe.equal_compute_to}` "
                      "(`lmteach.analysis.compute.training_flops`)."]
    lines += ["", f"## Figures on the held-out test plays ({', '.join(PLAY_SPLIT['test'])})", "",
              "| figure | value | target |", "|---|---|---|"]
    for name, value in figures.items():
        target = recipe.targets.get(name)
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        mark = "" if target is None else f"{target[0]} {target[1]} ({'met' if result['targets_met'][name] else 'NOT met'})"
        lines.append(f"| {name} | {shown} | {mark} |")
    if any(name.endswith("_t1") for name in figures):
        lines += ["", f"`_t1`: the same figure with the generator sampling at temperature 1, as in the paper, instead "
                      f"of the {settings.get('temperature')} it trained with."]
    lines += ["", "Measured by `lmteach.recipes.measure` (see `lmteach/analysis/evaluation.py` for what each "
                  "figure is); `tests/test_shipped_checkpoints.py` checks the targets on every test run.", ""]
    return "\n".join(lines)


def list_recipes() -> list[dict]:
    """One row per recipe: name, folder, lessons, and the figures of the shipped checkpoint (if built)."""
    from .data.corpus import data_dir
    from .training import read_info

    rows = []
    for recipe in RECIPES.values():
        folder = data_dir() / "checkpoints" / recipe.folder
        try:
            if recipe.kind == "mask_sweep":
                extra = json.loads((folder / "results.json").read_text())
                extra["figures"] = {}
            else:
                extra = read_info(folder).get("extra", {})
        except FileNotFoundError:
            extra = {}
        rows.append({"name": recipe.name, "folder": str(folder), "lessons": recipe.lessons,
                     "built": extra.get("built"), "figures": extra.get("figures", {}),
                     "targets_met": extra.get("targets_met", {})})
    return rows


def main(argv=None):
    import argparse

    parser = argparse.ArgumentParser(prog="python -m lmteach recipe", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("list", help="list every recipe and its shipped figures")
    build = commands.add_parser("build", help="train, measure and ship one recipe")
    build.add_argument("name", choices=list(RECIPES))
    build.add_argument("--out", help="folder to ship to (default data/checkpoints/<folder>)")
    build.add_argument("--work", help=f"folder for resumable training checkpoints (default {WORK_ROOT}/<name>)")
    build.add_argument("--steps", type=int, help="override the number of steps (a trial)")
    build.add_argument("--threads", type=int, help="torch threads (default: torch's choice)")
    build.add_argument("--device", default="cpu")
    rewrite = commands.add_parser("readme", help="rewrite a shipped checkpoint's README from what its build recorded "
                                                 "(after editing a recipe's summary; no training)")
    rewrite.add_argument("name", choices=[n for n, r in RECIPES.items() if r.kind != "mask_sweep"])
    args = parser.parse_args(argv)
    if args.command == "readme":
        from .data.corpus import data_dir
        from .training import read_info
        recipe = RECIPES[args.name]
        folder = data_dir() / "checkpoints" / recipe.folder
        (folder / "README.md").write_text(readme(recipe, read_info(folder)["extra"]))
        print(f"rewrote {folder / 'README.md'}")
        return
    if args.command == "list":
        for row in list_recipes():
            figures = ", ".join(f"{k} {v:.3f}" for k, v in row["figures"].items() if isinstance(v, float))
            print(f"{row['name']:14s} lessons {','.join(row['lessons']):6s} {row['folder']}")
            print(f"{'':14s} {'built ' + row['built'] if row['built'] else 'not built yet'}"
                  + (f": {figures}" if figures else ""))
        return
    result = build_recipe(args.name, out=args.out, work=args.work, steps=args.steps, threads=args.threads,
                          device=args.device)
    print(json.dumps({k: result[k] for k in ("recipe", "figures", "targets_met", "seconds")}, indent=1))
