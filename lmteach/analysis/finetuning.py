"""Fine-tuning a pretrained GPT-1 on the course's tasks, and measuring what fine-tuning changed
(Radford et al. 2018, §3.2-3.3).

    model = gpt1_task_model(lm, "genre")                                # pretrained body + a new linear head
    result = finetune(lm, tokenizer, "genre", lm_weight=0.5, layer_decay=0.5, steps=200)
    result.accuracy, result.baseline                                    # validation accuracy vs majority class
    result.movement                                                     # {"embeddings": r, 0: r, ..., "head": r}

Every task becomes token sequences framed by GPT-1's special tokens (`lmteach.objectives.gpt1`); the model reads
the final hidden state at the Extract token. The language-model loss stays on as an auxiliary term weighted by
λ (`lm_weight`, §3.2); `layer_decay` < 1 gives lower layers smaller learning rates (`layerwise_lr_groups`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data.tasks import load_task, task_info
from ..models.transformer import Gpt1ForTask
from ..objectives.gpt1 import (classification_inputs, entailment_inputs, layerwise_lr_groups,
                               multiple_choice_inputs, similarity_inputs)
from ..training.batches import step_generator
from ..training.trainer import Trainer, layer_of

# The shipped tasks (data/tasks/*/info.json "kind") and the GPT-1 input transform each one uses (§3.3).
GPT1_KIND_OF_TASK = {"single": "classification", "pair": "entailment", "similarity": "similarity",
                     "multiple_choice": "multiple_choice"}


def gpt1_task_kind(task: str) -> str:
    """Which of GPT-1's four input transforms a shipped task uses: "classification", "entailment", ..."""
    return GPT1_KIND_OF_TASK[task_info(task)["kind"]]


def _special_ids(tokenizer) -> dict:
    if getattr(tokenizer, "extract_id", None) is None:
        raise ValueError("this tokenizer has no GPT-1 special tokens; load it with "
                         "load_default('byte_bpe', gpt1_specials=True)")
    return {"start_id": tokenizer.start_id, "delim_id": tokenizer.delim_id, "extract_id": tokenizer.extract_id,
            "pad_id": tokenizer.pad_id}


def encode_examples(tokenizer, task: str, examples: list[dict]) -> list[dict]:
    """Each example's text fields as token ids (the transforms add the special tokens later)."""
    fields = task_info(task)["fields"]
    encoded = []
    for example in examples:
        item = {"label": int(example["label"])}
        for name in fields:
            value = example[name]
            item[name] = [tokenizer.encode(v) for v in value] if isinstance(value, list) else tokenizer.encode(value)
        encoded.append(item)
    return encoded


def task_inputs(tokenizer, task: str, encoded: list[dict], max_len: int = 96) -> dict:
    """GPT-1's input transform for a list of encoded examples (from `encode_examples`), plus `labels` [batch].

    classification: input_ids [b, s]; entailment: [b, s]; similarity: [b, 2, s] (both orders);
    multiple choice: [b, choices, s]. Also attention_mask (same shape) and extract_positions."""
    ids = dict(_special_ids(tokenizer), max_len=max_len)
    kind = gpt1_task_kind(task)
    fields = task_info(task)["fields"]
    first, second = fields[0], fields[-1]
    if kind == "classification":
        ids.pop("delim_id")
        inputs = classification_inputs([e[first] for e in encoded], **ids)
    elif kind == "entailment":
        inputs = entailment_inputs([e[first] for e in encoded], [e[second] for e in encoded], **ids)
    elif kind == "similarity":
        inputs = similarity_inputs([e[first] for e in encoded], [e[second] for e in encoded], **ids)
    else:
        inputs = multiple_choice_inputs([e[first] for e in encoded], [e[second] for e in encoded], **ids)
    inputs["labels"] = torch.tensor([e["label"] for e in encoded])
    return inputs


def task_batches(tokenizer, task: str, split: str = "train", batch_size: int = 16, max_len: int = 96,
                 seed: int = 0, limit: int | None = None):
    """`batch(step) -> dict` for the Trainer: epochs over the split, shuffled anew each epoch from (seed, epoch),
    so the same step always gives the same batch. `limit` keeps only the first examples."""
    encoded = encode_examples(tokenizer, task, load_task(task, split)[:limit])
    batches_per_epoch = max(1, len(encoded) // batch_size)

    def batch(step: int) -> dict:
        epoch, index = divmod(step, batches_per_epoch)
        order = torch.randperm(len(encoded), generator=step_generator(seed, epoch, "epoch"))
        rows = order[index * batch_size:(index + 1) * batch_size].tolist()
        return task_inputs(tokenizer, task, [encoded[i] for i in rows], max_len)

    batch.batches_per_epoch = batches_per_epoch
    return batch


def gpt1_task_model(pretrained, task: str) -> Gpt1ForTask:
    """A GPT-1 task model whose body and LM head start from a pretrained causal LM (a model, or the path of a
    checkpoint); only the linear classifier on the Extract state is new (§3.2)."""
    if isinstance(pretrained, (str, Path)):
        from ..training.checkpoint import load_checkpoint
        pretrained, _ = load_checkpoint(pretrained)
    info = task_info(task)
    cfg = pretrained.cfg.replace(num_labels=len(info["label_names"]))
    model = Gpt1ForTask(cfg, task=gpt1_task_kind(task))
    missing, unexpected = model.load_state_dict(pretrained.state_dict(), strict=False)
    if unexpected or any(not name.startswith("classifier.") for name in missing):
        raise ValueError(f"the pretrained weights do not fit a GPT-1 task model: missing {missing}, "
                         f"unexpected {unexpected}")
    return model.float()


@torch.no_grad()
def accuracy(model: Gpt1ForTask, tokenizer, task: str, split: str = "validation", max_len: int = 96,
             batch_size: int = 100, limit: int | None = None) -> float:
    """Share of examples whose highest logit is the right label (dropout off)."""
    encoded = encode_examples(tokenizer, task, load_task(task, split)[:limit])
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(encoded), batch_size):
        inputs = task_inputs(tokenizer, task, encoded[start:start + batch_size], max_len)
        labels = inputs.pop("labels")
        logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
        correct += int((logits.argmax(-1).cpu() == labels).sum())
    model.train(was_training)
    return correct / len(encoded)


def weight_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every weight matrix (dim >= 2), to compare with after training."""
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters() if p.dim() >= 2}


def relative_change_by_layer(before: dict[str, torch.Tensor], model: nn.Module) -> dict:
    """How far each part's weight matrices moved: ||W_after - W_before|| / ||W_before||, with all matrices of a
    part taken together. Parts: "embeddings", 0 .. L-1 (the blocks), "head" (the new classifier)."""
    moved, size = {}, {}
    for name, p in model.named_parameters():
        if name not in before:
            continue
        part = layer_of(name)
        moved[part] = moved.get(part, 0.0) + float((p.detach().float().cpu() - before[name]).pow(2).sum())
        size[part] = size.get(part, 0.0) + float(before[name].pow(2).sum())
    parts = ["embeddings"] + sorted(k for k in moved if isinstance(k, int)) + ["head"]
    return {part: math.sqrt(moved[part] / size[part]) for part in parts if part in moved}


@dataclass
class FinetuneResult:
    """What one fine-tuning run gives: accuracy (validation) against the majority-class baseline, the loss
    history, and the relative movement of each part's weights."""
    task: str
    accuracy: float
    baseline: float
    movement: dict
    lm_weight: float
    layer_decay: float
    history: object = field(repr=False)
    model: Gpt1ForTask = field(repr=False)


def finetune(pretrained, tokenizer, task: str, *, lm_weight: float = 0.5, layer_decay: float = 1.0,
             lr: float = 1e-3, steps: int = 200, batch_size: int = 16, max_len: int = 96, warmup_steps: int = 20,
             seed: int = 0, eval_limit: int | None = None, train_limit: int | None = None,
             device: str = "cpu", on_step=None) -> FinetuneResult:
    """Fine-tune a copy of `pretrained` (a CausalLM or a checkpoint path) on `task` with GPT-1's objective
    L3 = L2 + λ·L1 (§3.2) and layer-wise learning rates `lr · layer_decay^(steps from the top)`.
    `on_step(event)` is called after every step (e.g. to draw a progress bar)."""
    torch.manual_seed(seed)  # the new classifier's initialisation
    model = gpt1_task_model(pretrained, task)
    before = weight_snapshot(model)
    groups = layerwise_lr_groups(model, base_lr=lr, decay=layer_decay)
    trainer = Trainer(model, task_batches(tokenizer, task, "train", batch_size, max_len, seed, train_limit),
                      loss_fn=lambda m, batch: m(**batch, lm_weight=lm_weight), param_groups=groups, lr=lr,
                      warmup_steps=warmup_steps, total_steps=steps, schedule="linear", device=device, seed=seed,
                      progress=False)
    if on_step is not None:
        trainer.on("step", on_step)
    trainer.run()
    return FinetuneResult(task=task, accuracy=accuracy(model, tokenizer, task, "validation", max_len,
                                                       limit=eval_limit),
                          baseline=task_info(task)["splits"]["validation"]["majority_baseline"],
                          movement=relative_change_by_layer(before, model), lm_weight=lm_weight,
                          layer_decay=layer_decay, history=trainer.history, model=model)


def movement_png(results: list[FinetuneResult], title: str = "how far fine-tuning moved each layer") -> bytes:
    """One line per run: relative weight change per part (log scale), labelled with λ and the decay."""
    from .plots import figure_png, new_figure, plot_layer_values
    figure, ax = new_figure(5.6, 3.2)
    palette = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b"]
    for i, result in enumerate(results):
        plot_layer_values(ax, result.movement, ylabel="||ΔW|| / ||W||", color=palette[i % len(palette)], log=True,
                          label=f"λ={result.lm_weight:g}, decay={result.layer_decay:g}: acc {result.accuracy:.2f}")
    ax.set_title(title, fontsize=10)
    return figure_png(figure)
