"""Lesson 02 (BERT): how much to mask, why 80/10/10, measured.

    accuracy_by_mask_rate(bert, tok, docs, plays)       too many masks: less context, worse guesses (live)
    sweep = load_sweep(path); sweep_png(sweep)           too few masks: little signal per step (the mlm-sweep recipe)
    mix_ablation(bert, tok, train_docs, ...)             80/10/10 vs [MASK] only, where it matters: unmasked input
"""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path

import torch

from ..analysis.evaluation import masked_lm_figures

# BERT Table 8's mixes we compare: the ([MASK], random, kept) fractions of the picked tokens.
BERT_MIX = (0.8, 0.1, 0.1)
MASK_ONLY_MIX = (1.0, 0.0, 0.0)
SWEEP_RATES = (0.05, 0.15, 0.4, 0.8)


def accuracy_by_mask_rate(model, tokenizer, documents, groups=None, *, rates=(0.05, 0.15, 0.3, 0.5, 0.8),
                          batches: int = 4, seed: int = 1234) -> dict[float, float]:
    """Top-1 behind [MASK] when `rate` of the tokens are hidden (all as [MASK]), for each rate: the more is
    hidden, the less context is left to guess from. The same pretrained model, the same held-out text."""
    return {rate: masked_lm_figures(model, tokenizer, documents, groups, batches=batches, seed=seed, rate=rate,
                                    mix=MASK_ONLY_MIX)["masked_accuracy"] for rate in rates}


# --- the mask-rate sweep (trained ahead by `python -m lmteach recipe build mlm-sweep`) ------------------------

def mask_rate_sweep(*, rates=SWEEP_RATES, seeds=(0, 1, 2), steps: int = 1500, eval_every: int = 150,
                    num_layers: int = 2, batch_size: int = 64, seq_len: int = 32, lr: float = 1e-3,
                    log=print) -> dict:
    """Train one small BERT (masked LM only) per masking rate and seed, from scratch, the same steps, batch and
    data for all; every `eval_every` steps measure top-1 behind [MASK] on held-out text *at 15%*, the same
    masks for every model (a model trained at 80% is not graded on an 80%-masked test). Returns a JSON-ready
    dict: settings, and per run the curve [(step, accuracy)] and its predictions per step."""
    from ..configs import preset
    from ..data.corpus import load_corpus
    from ..data.tokenization import load_default
    from ..models import build
    from ..training import Trainer, masked_lm_batches

    tokenizer = load_default("wordpiece")
    parts = load_corpus().split_by_play()
    train_ids = torch.tensor(tokenizer.encode(parts["train"].text))
    test_ids = torch.tensor(tokenizer.encode(parts["test"].text))
    cfg = preset("bert", "tiny", vocab_size=tokenizer.vocab_size, num_layers=num_layers, pair_task=None,
                 pooler=False, dropout=0.0, attention_dropout=0.0)
    runs = []
    for seed in seeds:
        for rate in rates:
            started = time.perf_counter()
            torch.manual_seed(seed)
            model = build(cfg, head="masked_lm")
            trainer = Trainer(model, masked_lm_batches(tokenizer, seq_len, batch_size, token_ids=train_ids, seed=seed,
                                                       rate=rate), lr=lr, warmup_steps=100, total_steps=steps,
                              device="cpu", seed=seed, progress=False)
            curve = []
            while trainer.step_count < steps:
                trainer.run(eval_every)
                figures = masked_lm_figures(model, tokenizer, token_ids=test_ids, seq_len=seq_len, batches=4,
                                            batch_size=128, rate=0.15)
                curve.append((trainer.step_count, figures["masked_accuracy"]))
            predicted = [e for e in trainer.history.events if e["event"] == "step"]
            run = {"rate": rate, "seed": seed, "curve": curve, "seconds": round(time.perf_counter() - started, 1),
                   "predictions_per_step": round(rate * batch_size * (seq_len - 2)),
                   "final_train_loss": sum(e["loss"] for e in predicted[-50:]) / 50}
            log(json.dumps(run))
            runs.append(run)
    return {"settings": {"rates": list(rates), "seeds": list(seeds), "steps": steps, "eval_every": eval_every,
                         "num_layers": num_layers, "batch_size": batch_size, "seq_len": seq_len, "lr": lr,
                         "eval": "top-1 behind [MASK] at 15% masking (BERT's 80/10/10 mix), test plays, "
                                 "4 x 128 windows, masking seed 1234"},
            "runs": runs}


def load_sweep(path) -> dict:
    """The results of the mlm-sweep recipe (data/checkpoints/mlm-sweep/results.json)."""
    return json.loads(Path(path).read_text())


def sweep_curves(sweep: dict) -> dict[float, dict]:
    """Per rate: the steps, and per step the accuracy of every seed (lists), from a sweep's runs."""
    curves: dict[float, dict] = {}
    for run in sweep["runs"]:
        entry = curves.setdefault(run["rate"], {"steps": [s for s, _ in run["curve"]], "by_seed": {}})
        entry["by_seed"][run["seed"]] = [a for _, a in run["curve"]]
    return dict(sorted(curves.items()))


def sweep_png(sweep: dict) -> bytes:
    """Left: held-out top-1 (at 15%) against training steps, one line per training rate (mean of the seeds,
    the band their range). Right: the final accuracy of every seed against the rate. PNG bytes."""
    from ..analysis.plots import figure_png, new_figure

    curves = sweep_curves(sweep)
    figure, (left, right) = new_figure(9.0, 3.2, ncols=2)
    colors = ["#9ecae1", "#3182bd", "#e6550d", "#756bb1", "#31a354"]
    for (rate, curve), color in zip(curves.items(), colors):
        runs = list(curve["by_seed"].values())
        mean = [sum(values) / len(values) for values in zip(*runs)]
        low = [min(values) for values in zip(*runs)]
        high = [max(values) for values in zip(*runs)]
        left.plot(curve["steps"], [100 * m for m in mean], color=color, label=f"trained at {rate:.0%}")
        left.fill_between(curve["steps"], [100 * v for v in low], [100 * v for v in high], color=color, alpha=0.2)
        right.scatter([100 * rate] * len(runs), [100 * r[-1] for r in runs], color=color)
    left.set_xlabel("training step")
    left.set_ylabel("held-out top-1 at 15% (%)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.set_xlabel("masking rate in training (%)")
    right.set_ylabel("final top-1 at 15% (%)")
    right.set_xscale("log")
    right.set_xticks([100 * r for r in curves], [f"{100 * r:g}" for r in curves])
    right.grid(alpha=0.3)
    return figure_png(figure)


def accuracy_at(sweep: dict, rate: float, step: int | None = None) -> list[float]:
    """The held-out accuracy of every seed trained at `rate`, at `step` (default: the last)."""
    curve = sweep_curves(sweep)[rate]
    index = -1 if step is None else curve["steps"].index(step)
    return [values[index] for values in curve["by_seed"].values()]


# --- 80/10/10 vs [MASK] only (BERT Appendix C.2, Table 8) -------------------------------------------------

def mix_ablation(pretrained, tokenizer, train_documents, eval_documents, train_groups=None, eval_groups=None, *,
                 steps: int = 100, seeds=(0, 1, 2), batch_size: int = 32, seq_len: int = 128, lr: float = 3e-4,
                 eval_batches: int = 2) -> list[dict]:
    """Continue training copies of a pretrained BERT for `steps` steps with BERT's mix and with [MASK] only (the
    same batches otherwise), then measure on held-out text: top-1 behind [MASK], at picked-but-kept tokens, and
    the copy accuracy on clean input (no [MASK] anywhere: what fine-tuning feeds it). Returns one row per
    (mix, seed), plus the starting point as mix "start"."""
    from ..training import Trainer, masked_lm_batches

    def measure(model):
        figures = masked_lm_figures(model, tokenizer, eval_documents, eval_groups, batches=eval_batches)
        return {k: figures[k] for k in ("masked_accuracy", "kept_accuracy", "copy_accuracy")}

    rows = [{"mix": "start", "seed": None, **measure(pretrained)}]
    for seed in seeds:
        for name, mix in (("80/10/10", BERT_MIX), ("[MASK] only", MASK_ONLY_MIX)):
            model = copy.deepcopy(pretrained).float().train()
            batches = masked_lm_batches(tokenizer, seq_len, batch_size, documents=train_documents, groups=train_groups,
                                        pair_task=model.cfg.pair_task, seed=seed, mix=mix)
            Trainer(model, batches, lr=lr, warmup_steps=max(1, steps // 10), total_steps=steps, device="cpu",
                    seed=seed, progress=False).run()
            rows.append({"mix": name, "seed": seed, **measure(model.eval())})
    return rows
