"""Lesson 01 (GPT-1): what fine-tuning a pretrained GPT-1 buys, and how far each layer moves.

    runs = compare_starts(pretrained, tok, "verse_prose", seeds=(0, 1, 2), steps=150)   # pretrained vs scratch
    movement_png([uniform, decayed])                                                  # ||ΔW|| / ||W|| per layer
"""

from __future__ import annotations

from ..training.finetune import FinetuneResult, finetune


def compare_starts(pretrained, tokenizer, task: str, *, seeds=(0, 1, 2), **settings) -> dict[str, list]:
    """Fine-tune the pretrained model and the same architecture from random weights (the control), with the same
    settings, data order and seeds. Returns {"pretrained": [FinetuneResult per seed], "from scratch": [...]}."""
    return {name: [finetune(pretrained, tokenizer, task, seed=seed, from_scratch=scratch, **settings)
                   for seed in seeds]
            for name, scratch in (("pretrained", False), ("from scratch", True))}


def movement_png(results: list[FinetuneResult], title: str = "how far fine-tuning moved each layer") -> bytes:
    """One line per run: relative weight change per part (log scale), labelled with λ and the decay."""
    from ..analysis.plots import figure_png, new_figure, plot_layer_values

    figure, ax = new_figure(5.6, 3.2)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for i, result in enumerate(results):
        plot_layer_values(ax, result.movement, ylabel="||ΔW|| / ||W||", color=palette[i % len(palette)], log=True,
                          label=f"λ={result.lm_weight:g}, decay={result.layer_decay:g}: acc {result.accuracy:.2f}")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=7)
    return figure_png(figure)
