"""Lesson 06 (ELECTRA): why it is not a GAN, and what the generator's size does.

    gradient_reach(electra, tok, windows)      # the discriminator's loss alone: where does its gradient arrive?
    with_generator_size(electra, 1.0)          # the trained discriminator with an untrained generator of another size
    generator_sweep(tok, train_ids, windows)   # §3.2 / Figure 3 at classroom scale, trained live

Replaced-token detection is measured by lmteach.analysis.evaluation.detection_figures, fine-tuning by
lmteach.training.finetune, training compute by lmteach.analysis.compute: what the recipes use too.
"""

from __future__ import annotations

import torch

from ..analysis.evaluation import detection_figures, mean_figures
from ..objectives import replaced_token_detection


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


SWEEP_OVERRIDES = dict(hidden_size=64, num_layers=2, num_heads=4, ffn_size=256, embedding_size=None,
                       dropout=0.0, attention_dropout=0.0)
"""The sweep's discriminator: smaller than "tiny", so several ELECTRAs train live in a few minutes."""


def generator_sweep(tokenizer, train_ids: torch.Tensor, windows: torch.Tensor, *, fractions=(0.25, 0.5, 1.0),
                    steps: int = 300, batch_size: int = 64, seq_len: int = 32, lr: float = 1e-3, seed: int = 0,
                    eval_seeds=(0, 1, 2), log=None) -> list[dict]:
    """ELECTRA §3.2 / Figure 3 at classroom scale: pretrain one small ELECTRA per generator size (same
    discriminator, same data, same steps) and measure each on held-out `windows` with its own generator.
    Returns one row per fraction: the `detection_figures` (mean over eval_seeds), the training FLOPs, and
    "model" (the trained Electra)."""
    from ..analysis.compute import training_flops
    from ..configs import electra
    from ..models import build
    from ..training import Trainer, electra_loss_fn, plain_batches

    rows = []
    for fraction in fractions:
        cfg = electra("tiny", vocab_size=tokenizer.vocab_size, generator_fraction=fraction,
                      max_positions=max(128, seq_len), **SWEEP_OVERRIDES)
        torch.manual_seed(seed)
        model = build(cfg)
        Trainer(model, plain_batches(tokenizer, seq_len, batch_size, train_ids, seed),
                electra_loss_fn(tokenizer.mask_id, tokenizer.vocab_size, tokenizer.special_ids), lr=lr,
                warmup_steps=max(1, steps // 10), total_steps=steps, device="cpu", seed=seed, progress=False).run()
        report = mean_figures([detection_figures(model, tokenizer, windows, seed=s) for s in eval_seeds])
        rows.append({"fraction": fraction, **report, "model": model,
                     "flops": training_flops(cfg, steps, batch_size, seq_len)})
        if log is not None:
            log(f"generator {fraction:g}: AUC on its own samples {report['auc_own']:.3f}")
    return rows


def sweep_png(rows: list[dict]) -> bytes:
    """Generator size sweep: generator accuracy and replaced share (left), detection AUC (right), against the
    generator's size as a fraction of the discriminator's."""
    from ..analysis.plots import COLORS, figure_png, new_figure

    figure, (left, right) = new_figure(8.0, 3.0, ncols=2)
    fractions = [r["fraction"] for r in rows]
    left.plot(fractions, [r["generator_accuracy"] for r in rows], "o-", label="generator top-1 accuracy")
    left.plot(fractions, [r["replaced_fraction"] for r in rows], "s-", label="masked tokens actually replaced")
    left.set_xlabel("generator size / discriminator size")
    left.set_xscale("log", base=2)
    left.set_ylim(0, 1)
    left.legend(fontsize=7)
    left.grid(alpha=0.3)
    right.plot(fractions, [r["auc_own"] for r in rows], "o-", color=COLORS["electra"],
               label="AUC on its own generator's samples")
    right.plot(fractions, [r["auc_random"] for r in rows], "s--", color=COLORS["electra"],
               label="AUC on random replacements")
    right.set_xlabel("generator size / discriminator size")
    right.set_xscale("log", base=2)
    right.legend(fontsize=7)
    right.grid(alpha=0.3)
    return figure_png(figure)
