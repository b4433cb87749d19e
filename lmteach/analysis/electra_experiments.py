"""ELECTRA's experiments at classroom scale (Clark et al. 2020): count compute, pretrain at equal compute,
measure replaced-token detection, sweep the generator size.

    training_flops(cfg, steps=300, batch=16, seq=32)                 # ELECTRA: generator + discriminator
    training_flops(mlm_config(cfg), 300, 16, 32, objective="mlm")    # a BERT-style MLM of the discriminator's size
    steps_for_flops(flops, mlm_config(cfg), 16, 32, objective="mlm") # steps that spend the same compute
    detection_report(model, tokenizer, windows, seed=0)              # held-out replaced-token detection
    gradient_reach(model, tokenizer, windows)                        # why it is not a GAN

Pretraining runs ahead of the lesson and ships small checkpoints (data/checkpoints/electra-*/):

    python -m lmteach train --model electra --size tiny --steps 300 --batch-size 16 --seq-len 32 ...
    python -m lmteach.analysis.electra_experiments mlm --electra-steps 300 --batch-size 16 --seq-len 32 --out ...

The generator-size sweep (`generator_sweep`) trains three small ELECTRAs live in the lesson.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import torch

from ..configs import ModelConfig
from ..objectives import replaced_token_detection
from ..training.batches import step_generator
from . import compute


def _objective(cfg: ModelConfig, objective: str | None) -> str:
    if objective is None:
        objective = "rtd" if cfg.family == "electra" and cfg.generator_fraction is not None else "mlm"
    if objective not in ("rtd", "mlm"):
        raise ValueError(f"objective must be 'rtd' (ELECTRA) or 'mlm' (BERT-style), got {objective!r}")
    if objective == "rtd" and cfg.generator_fraction is None:
        raise ValueError("objective 'rtd' needs an ELECTRA config with generator_fraction set")
    return objective


def flops_per_step(cfg: ModelConfig, batch: int, seq: int, objective: str | None = None) -> dict[str, float]:
    """Training FLOPs of one step, per network, from the one counter (`lmteach.analysis.compute`):
    {"generator": ..., "discriminator": ...} for ELECTRA ("rtd"), {"masked LM": ...} for a BERT-style masked LM
    of the same config ("mlm")."""
    if _objective(cfg, objective) == "rtd":
        return compute.flops_by_network(cfg, batch, seq, "electra")
    return {"masked LM": compute.training_flops(cfg, 1, batch, seq, "masked_lm")}


def training_flops(cfg: ModelConfig, steps: int, batch: int, seq: int, objective: str | None = None) -> float:
    """Total training compute of every network trained (ELECTRA: generator included), by
    `lmteach.analysis.compute`. objective: "rtd" (default for an ELECTRA config) or "mlm" (the same body
    trained as a masked LM)."""
    return steps * sum(flops_per_step(cfg, batch, seq, objective).values())


def steps_for_flops(flops: float, cfg: ModelConfig, batch: int, seq: int, objective: str | None = None) -> int:
    """The number of steps that spends `flops` (rounded to the nearest step)."""
    return max(1, round(flops / training_flops(cfg, 1, batch, seq, objective)))


def mlm_config(electra_cfg: ModelConfig) -> ModelConfig:
    """The BERT-style competitor of ELECTRA §3.5: the discriminator's very body, trained as a masked LM."""
    return electra_cfg.replace(generator_fraction=None)


# --- pretraining ----------------------------------------------------------------------------------------------

def pretrain(cfg: ModelConfig, tokenizer, token_ids: torch.Tensor, *, objective: str | None = None, steps: int,
             batch_size: int = 32, seq_len: int = 64, lr: float = 1e-3, seed: int = 0, log=None):
    """Pretrain with the settings of `python -m lmteach train` (AdamW, weight decay 0.01, 5% warmup, cosine):
    ELECTRA ("rtd", generator + discriminator) or a masked LM ("mlm", BERT's 15% with 80/10/10).
    token_ids: 1-D training text. Both read the same windows of text at the same seed. Returns the Trainer."""
    from ..models import build
    from ..training import Trainer, electra_loss_fn, masked_lm_batches, plain_batches

    objective = _objective(cfg, objective)
    torch.manual_seed(seed)
    if objective == "rtd":
        model = build(cfg, head="electra")
        batches = plain_batches(tokenizer, seq_len, batch_size, token_ids, seed)
        loss_fn = electra_loss_fn(tokenizer.mask_id, tokenizer.vocab_size, tokenizer.special_ids)
    else:
        model = build(cfg, head="masked_lm")
        batches = masked_lm_batches(tokenizer, seq_len, batch_size, token_ids=token_ids, seed=seed)
        loss_fn = None
    trainer = Trainer(model, batches, loss_fn, lr=lr, weight_decay=0.01, warmup_steps=max(1, steps // 20),
                      schedule="cosine", total_steps=steps, device="cpu", seed=seed, progress=False)
    if log is not None:
        trainer.on("step", lambda e: e["step"] % 50 == 49 and log(f"step {e['step'] + 1}: loss {e['loss']:.3f}"))
    trainer.run()
    return trainer


def training_token_ids(tokenizer, seed: int = 0, max_chars: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, held-out) text as 1-D token ids, split exactly as `python -m lmteach train --seed seed` does.
    max_chars: keep only the start of each text (quicker to encode, for short runs)."""
    from ..data.corpus import load_corpus

    train, held_out = load_corpus().split(0.9, seed=seed)
    return (torch.tensor(tokenizer.encode(train.text[:max_chars]), dtype=torch.long),
            torch.tensor(tokenizer.encode(held_out.text[:max_chars]), dtype=torch.long))


def held_out_token_ids(tokenizer, seed: int = 0) -> torch.Tensor:
    """Only the held-out text of that split (10% of the corpus, never trained on), as 1-D token ids."""
    from ..data.corpus import load_corpus

    _, held_out = load_corpus().split(0.9, seed=seed)
    return torch.tensor(tokenizer.encode(held_out.text), dtype=torch.long)


# --- measuring replaced-token detection -----------------------------------------------------------------------

def held_out_windows(tokenizer, token_ids: torch.Tensor, count: int = 64, seq_len: int = 64, seed: int = 123):
    """`count` windows [CLS] text [SEP] of held-out text, [count, seq_len], drawn reproducibly."""
    starts = torch.randint(len(token_ids) - seq_len, (count,), generator=step_generator(seed, 0, "windows"))
    body = token_ids[starts[:, None] + torch.arange(seq_len - 2)]
    return torch.cat([torch.full((count, 1), tokenizer.cls_id), body, torch.full((count, 1), tokenizer.sep_id)], 1)


def roc_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Probability that a random replaced token scores higher than a random original one (ties count half)."""
    scores, positive = scores.flatten().float(), positive.flatten().bool()
    ranks = torch.empty_like(scores)
    order = scores.argsort()
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    for value in scores[order].unique_consecutive():  # average the ranks of tied scores
        tied = scores == value
        if int(tied.sum()) > 1:
            ranks[tied] = ranks[tied].mean()
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


@torch.no_grad()
def detection_report(model, tokenizer, windows: torch.Tensor, *, seed: int = 0, rate: float = 0.15) -> dict:
    """One replaced-token-detection pass of an `Electra` model over `windows` [n, seq] (dropout off).

    Returns generator accuracy (top guess = original, on masked positions), the share of masked positions
    whose sample differs from the original, the discriminator's accuracy on every token, the accuracy of
    always answering "original" (the baseline to beat), its recall of replaced tokens, and ROC AUC."""
    was_training = model.training
    model.eval()
    out = replaced_token_detection(model.generator, model.discriminator, windows, mask_id=tokenizer.mask_id,
                                   vocab_size=tokenizer.vocab_size, special_ids=sorted(tokenizer.special_ids),
                                   rate=rate, rng=torch.Generator().manual_seed(seed))
    model.train(was_training)
    return {"generator_accuracy": out.generator_accuracy(), "replaced_fraction": out.replaced_fraction(),
            "discriminator_accuracy": out.discriminator_accuracy(),
            "all_original_accuracy": 1.0 - out.is_replaced.float().mean().item(),
            "replaced_recall": out.replaced_recall(),
            "auc": roc_auc(out.discriminator_logits, out.is_replaced),
            "discriminator_loss": out.discriminator_loss.item(), "generator_loss": out.generator_loss.item()}


def gradient_reach(model, tokenizer, windows: torch.Tensor, *, seed: int = 0) -> dict[str, float]:
    """Why ELECTRA is not a GAN (§2): backpropagate the discriminator loss *alone* and measure the gradient
    that arrives in each part. Returns the gradient norm of the generator's own weights (its body and MLM
    head: None counts as 0), of the shared embeddings, and of the discriminator's own weights."""
    model.zero_grad(set_to_none=True)
    out = replaced_token_detection(model.generator, model.discriminator, windows, mask_id=tokenizer.mask_id,
                                   vocab_size=tokenizer.vocab_size, special_ids=sorted(tokenizer.special_ids),
                                   rng=torch.Generator().manual_seed(seed))
    out.discriminator_loss.backward()
    shared = {id(p) for p in model.discriminator.body.embeddings.parameters()}

    def norm(parameters):
        squares = [float(p.grad.pow(2).sum()) for p in parameters if p.grad is not None]
        return sum(squares) ** 0.5

    generator_own = [p for p in model.generator.parameters() if id(p) not in shared]
    discriminator_own = [p for p in model.discriminator.parameters() if id(p) not in shared]
    reach = {"generator (own weights)": norm(generator_own),
             "shared embeddings": norm(model.discriminator.body.embeddings.parameters()),
             "discriminator (own weights)": norm(discriminator_own),
             "generator weights with a gradient": sum(p.grad is not None for p in generator_own)}
    model.zero_grad(set_to_none=True)
    return reach


def with_generator_size(model, fraction: float):
    """A new `Electra` with the trained discriminator (and its embeddings) of `model` and a freshly built,
    untrained generator of another size (`generator_fraction`). `model` is left unchanged."""
    from ..models import build

    fresh = build(model.cfg.replace(generator_fraction=fraction), head="electra")
    # Loading the discriminator also fills the embeddings, which the new generator shares (§3.2).
    fresh.discriminator.load_state_dict(model.discriminator.state_dict())
    return fresh.to(next(model.parameters()).device).train(model.training)


def mean_report(reports: list[dict]) -> dict:
    """The mean of each number over several reports (e.g. several masking seeds)."""
    return {key: sum(r[key] for r in reports) / len(reports) for key in reports[0]}


def compare_finetuning(bodies: dict, tokenizer, task: str = "genre", *, seeds=(0, 1, 2), steps: int = 200,
                       batch_size: int = 32, seq_len: int = 64, lr: float = 1e-3, max_eval: int | None = None) -> list:
    """Fine-tune each pretrained body (BERT §4.1: the whole model plus one layer on [CLS]) on `task` once per
    seed, all with the same data order per seed. bodies: {name: a model with a `.cfg` and `body.*` weights,
    e.g. an ELECTRA discriminator or a masked LM}. Returns rows {"model", "seed", "accuracy", "baseline"}."""
    from .mlm_experiments import finetune_classifier

    rows = []
    for name, body in bodies.items():
        for seed in seeds:
            result = finetune_classifier(body, tokenizer, task, steps=steps, batch_size=batch_size, seq_len=seq_len,
                                         lr=lr, seed=seed, max_eval=max_eval)
            rows.append({"model": name, "seed": seed, "accuracy": result["accuracy"],
                         "baseline": result["majority_baseline"]})
    return rows


def summarise(rows: list[dict]) -> dict[str, dict]:
    """Per model: mean, min and max accuracy over its seeds, and the majority baseline."""
    out = {}
    for row in rows:
        entry = out.setdefault(row["model"], {"accuracies": [], "baseline": row["baseline"]})
        entry["accuracies"].append(row["accuracy"])
    for entry in out.values():
        values = entry["accuracies"]
        entry.update(mean=sum(values) / len(values), min=min(values), max=max(values))
    return out


def comparison_html(rows: list[dict], flops: dict[str, float] | None = None) -> str:
    """A table: one row per model, one column per seed, then the mean (and the pretraining FLOPs if given)."""
    import html

    summary = summarise(rows)
    seeds = sorted({row["seed"] for row in rows})
    head = "".join(f"<th>seed {s}</th>" for s in seeds)
    body = []
    for name, entry in summary.items():
        by_seed = {row["seed"]: row["accuracy"] for row in rows if row["model"] == name}
        cells = "".join(f"<td>{by_seed[s]:.3f}</td>" for s in seeds)
        compute = f"<td>{flops[name]:.3g}</td>" if flops and name in flops else ("<td></td>" if flops else "")
        body.append(f"<tr><td>{html.escape(name)}</td>{compute}{cells}<td><b>{entry['mean']:.3f}</b></td></tr>")
    baseline = next(iter(summary.values()))["baseline"]
    return ("<table class='lmteach-electra-comparison'><tr><th>pretrained body</th>"
            + ("<th>pretraining FLOPs</th>" if flops else "") + head + "<th>mean</th></tr>" + "".join(body)
            + f"</table><small>validation accuracy; majority baseline {baseline:.3f}</small>")


def sweep_png(rows: list[dict]) -> bytes:
    """Generator size sweep: generator accuracy and replaced share (left), detection AUC and downstream
    accuracy if measured (right), against the generator's size as a fraction of the discriminator's."""
    from .plots import COLORS, figure_png, new_figure

    figure, (left, right) = new_figure(8.0, 3.0, ncols=2)
    fractions = [r["fraction"] for r in rows]
    left.plot(fractions, [r["generator_accuracy"] for r in rows], "o-", label="generator top-1 accuracy")
    left.plot(fractions, [r["replaced_fraction"] for r in rows], "s-", label="masked tokens actually replaced")
    left.set_xlabel("generator size / discriminator size")
    left.set_xscale("log", base=2)
    left.set_ylim(0, 1)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    right.plot(fractions, [r["auc"] for r in rows], "o-", color=COLORS["electra"], label="detection ROC AUC")
    if all("downstream_accuracy" in r for r in rows):
        right.plot(fractions, [r["downstream_accuracy"] for r in rows], "s-", label="genre accuracy")
    right.set_xlabel("generator size / discriminator size")
    right.set_xscale("log", base=2)
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    return figure_png(figure)


SWEEP_OVERRIDES = dict(hidden_size=64, num_layers=2, num_heads=4, ffn_size=256, embedding_size=64)
"""The sweep's discriminator: smaller than "tiny", so three ELECTRAs train live in a few minutes."""


def generator_sweep(tokenizer, train_ids: torch.Tensor, windows: torch.Tensor, *, fractions=(0.25, 0.5, 1.0),
                    steps: int = 200, batch_size: int = 32, seq_len: int = 64, seeds=(0,), eval_seeds=(0, 1, 2),
                    overrides: dict | None = None, log=None) -> list[dict]:
    """ELECTRA §3.2 / Figure 3 at classroom scale: pretrain one small ELECTRA per generator size (same
    discriminator, same data, same steps) and measure each on held-out `windows` with its own generator.
    Returns one row per (fraction, seed): the `detection_report` numbers (mean over eval_seeds), the training
    FLOPs, and "model" (the trained Electra)."""
    from ..configs import electra

    rows = []
    for fraction in fractions:
        cfg = electra("tiny", vocab_size=tokenizer.vocab_size, generator_fraction=fraction,
                      **(SWEEP_OVERRIDES if overrides is None else overrides))
        for seed in seeds:
            model = pretrain(cfg, tokenizer, train_ids, steps=steps, batch_size=batch_size, seq_len=seq_len,
                             seed=seed).model
            report = mean_report([detection_report(model, tokenizer, windows, seed=s) for s in eval_seeds])
            rows.append({"fraction": fraction, "seed": seed, **report, "model": model,
                         "flops": training_flops(cfg, steps, batch_size, seq_len)})
            if log is not None:
                log(f"generator {fraction:g}, seed {seed}: AUC {report['auc']:.3f}")
    return rows


# --- the run that produces the shipped masked LM ----------------------------------------------------------------

def main(argv=None):
    import shutil

    from ..analysis.mlm_experiments import ship_checkpoint
    from ..configs import electra
    from ..data.tokenization import load_default
    from ..training import save_checkpoint

    parser = argparse.ArgumentParser(prog="python -m lmteach.analysis.electra_experiments")
    commands = parser.add_subparsers(dest="command", required=True)
    mlm = commands.add_parser("mlm", help="a masked LM of the discriminator's size, at the compute of an ELECTRA")
    mlm.add_argument("--electra-steps", type=int, required=True,
                     help="match the compute of `python -m lmteach train --model electra --size tiny` run this long")
    mlm.add_argument("--out", required=True)
    mlm.add_argument("--batch-size", type=int, default=32)
    mlm.add_argument("--seq-len", type=int, default=64)
    mlm.add_argument("--seed", type=int, default=0)
    ship = commands.add_parser("ship", help="fp16 copy of a checkpoint without optimizer state")
    ship.add_argument("source")
    ship.add_argument("target")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "ship":
        ship_checkpoint(args.source, args.target)
        return
    log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
    command = "python -m lmteach.analysis.electra_experiments " + " ".join(sys.argv[1:] if argv is None else argv)
    tokenizer = load_default("wordpiece")
    train_ids, _ = training_token_ids(tokenizer, args.seed)
    electra_cfg = electra("tiny", vocab_size=tokenizer.vocab_size)  # what the CLI builds
    flops = training_flops(electra_cfg, args.electra_steps, args.batch_size, args.seq_len)
    cfg = mlm_config(electra_cfg)
    steps = steps_for_flops(flops, cfg, args.batch_size, args.seq_len, "mlm")
    log(f"ELECTRA: {args.electra_steps} steps = {flops:.3g} FLOPs; the masked LM gets {steps} steps")
    started = time.perf_counter()
    trainer = pretrain(cfg, tokenizer, train_ids, objective="mlm", steps=steps, batch_size=args.batch_size,
                       seq_len=args.seq_len, seed=args.seed, log=log)
    seconds = time.perf_counter() - started
    flops = training_flops(cfg, steps, args.batch_size, args.seq_len, "mlm")
    history = {"events": [{"event": "step", "step": s, "loss": round(l, 4)}
                          for s, l in zip(trainer.history.steps, trainer.history.losses)]}
    out = Path(args.out)
    temporary = out.parent / f".{out.name}-fp32"
    save_checkpoint(temporary, trainer.model, tokenizer=tokenizer, step=steps, history=history,
                    extra={"objective": "mlm", "flops": flops, "seconds": round(seconds),
                           "batch_size": args.batch_size, "seq_len": args.seq_len, "seed": args.seed,
                           "command": command})
    ship_checkpoint(temporary, out)  # fp16, no optimizer state
    shutil.rmtree(temporary)
    log(f"saved {out}: {steps} steps, {flops:.3g} FLOPs, {seconds:.0f} s")


if __name__ == "__main__":
    main()
