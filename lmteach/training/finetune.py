"""Fine-tuning a pretrained model on a shipped task: one API for GPT-1 and for BERT-style encoders.

    result = finetune(pretrained, tokenizer, "verse_prose", steps=150, lr=1e-3)
    result.accuracy, result.baseline         # held-out accuracy vs always guessing the commonest label
    result.movement                          # how far each layer's weights moved: {"embeddings": r, 0: r, ...}
    finetune(..., from_scratch=True)         # the control: the same network from random weights
    finetune(..., freeze_body=True)          # ELMo-style features: the body stays fixed, a small network learns

How each family reads a task:
    GPT-1 (causal)   §3.3 input transforms: Start text (Delim text) Extract; a linear layer on the final state of
                     Extract; the LM loss stays on as an auxiliary term, L3 = L2 + λ·L1 (§3.2); optional
                     layer-wise learning rates (`layer_decay` < 1: ULMFiT's discriminative fine-tuning).
    BERT, ALBERT,    §4.1: [CLS] text [SEP] (or [CLS] a [SEP] b [SEP]); a linear layer on the (pooled) [CLS]
    ELECTRA          vector; the whole model trains.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from ..data.tasks import load_task, task_info
from ..models.params import depth_of
from ..models.transformer import Gpt1ForTask
from ..objectives import build_pair, collate_pairs
from ..objectives.gpt1 import (classification_inputs, entailment_inputs, layerwise_lr_groups,
                               multiple_choice_inputs, similarity_inputs)
from .batches import step_generator
from .trainer import Trainer, weight_decay_groups

# The shipped tasks (data/tasks/*/info.json "kind") and the GPT-1 input transform each one uses (§3.3).
GPT1_KIND_OF_TASK = {"single": "classification", "pair": "entailment", "similarity": "similarity",
                     "multiple_choice": "multiple_choice"}


def gpt1_task_kind(task: str) -> str:
    """Which of GPT-1's four input transforms a shipped task uses: "classification", "entailment", ..."""
    return GPT1_KIND_OF_TASK[task_info(task)["kind"]]


# --- GPT-1: the input transforms (§3.3) -----------------------------------------------------------------------

def _gpt1_special_ids(tokenizer) -> dict:
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


def gpt1_inputs(tokenizer, task: str, encoded: list[dict], max_len: int = 96) -> dict:
    """GPT-1's input transform for a list of encoded examples (from `encode_examples`), plus `labels` [batch].

    classification / entailment: input_ids [b, s]; similarity: [b, 2, s] (both orders); multiple choice:
    [b, choices, s]. Also attention_mask (same shape) and extract_positions."""
    ids = dict(_gpt1_special_ids(tokenizer), max_len=max_len)
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


# --- BERT: [CLS] text [SEP] (§4.1) ---------------------------------------------------------------------------

def encoder_inputs(tokenizer, task: str, encoded: list[dict], max_len: int = 96) -> dict:
    """[CLS] text [SEP], or [CLS] a [SEP] b [SEP] for two-text tasks, padded: input_ids, token_type_ids,
    attention_mask [b, s] and labels [b]."""
    kind = task_info(task)["kind"]
    if kind == "multiple_choice":
        raise ValueError(f"{task} is a multiple-choice task; fine-tuning an encoder on it is not supported here "
                         "(GPT-1's transform is: finetune a GPT-1 model)")
    fields = task_info(task)["fields"]
    rows = []
    for example in encoded:
        if len(fields) == 1:
            body = (example[fields[0]] or [tokenizer.unk_id])[:max_len - 2]
            row = {"input_ids": [tokenizer.cls_id, *body, tokenizer.sep_id], "token_type_ids": [0] * (len(body) + 2)}
        else:
            row = build_pair(example[fields[0]] or [tokenizer.unk_id], example[fields[1]] or [tokenizer.unk_id],
                             max_len=max_len, cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id)
        rows.append({**row, "labels": example["label"]})
    return collate_pairs(rows, tokenizer.pad_id)


def is_gpt1(model) -> bool:
    """GPT-1-style models (causal) fine-tune through the Extract token; encoders through [CLS]."""
    return bool(model.cfg.causal)


def task_batches(tokenizer, task: str, gpt1: bool, split: str = "train", batch_size: int = 16, max_len: int = 96,
                 seed: int = 0, limit: int | None = None):
    """`batch(step) -> dict` for the Trainer: epochs over the split, shuffled anew each epoch from (seed, epoch),
    so the same step always gives the same batch. `limit` keeps only the first examples."""
    encoded = encode_examples(tokenizer, task, load_task(task, split)[:limit])
    batches_per_epoch = max(1, len(encoded) // batch_size)
    make = gpt1_inputs if gpt1 else encoder_inputs

    def batch(step: int) -> dict:
        epoch, index = divmod(step, batches_per_epoch)
        order = torch.randperm(len(encoded), generator=step_generator(seed, epoch, "epoch"))
        rows = order[index * batch_size:(index + 1) * batch_size].tolist()
        return make(tokenizer, task, [encoded[i] for i in rows], max_len)

    batch.batches_per_epoch = batches_per_epoch
    return batch


# --- the task model ---------------------------------------------------------------------------------------

def task_model(pretrained, task: str, *, from_scratch: bool = False) -> nn.Module:
    """The task model of a pretrained network (a model or a checkpoint path): GPT-1's `Gpt1ForTask` (body and LM
    head copied, a new linear layer on Extract) or a `SequenceClassifier` (body and pooler copied, a new linear
    layer on [CLS]). from_scratch=True: the same architecture with fresh random weights (the control)."""
    from ..models import build

    if isinstance(pretrained, (str, Path)):
        from .checkpoint import load_checkpoint
        pretrained, _ = load_checkpoint(pretrained)
    network = getattr(pretrained, "discriminator", pretrained)  # ELECTRA: the discriminator is the encoder
    cfg = network.cfg.replace(num_labels=len(task_info(task)["label_names"]))
    if is_gpt1(network):
        model = Gpt1ForTask(cfg, task=gpt1_task_kind(task))
    else:
        model = build(cfg.replace(generator_fraction=None), head="classifier")
    if not from_scratch:
        missing, unexpected = model.load_state_dict(network.state_dict(), strict=False)
        not_loaded = [name for name in missing if not name.startswith("classifier.")]
        if not_loaded:
            raise ValueError(f"the pretrained weights lack {not_loaded[:4]}: is it the same architecture?")
    return model.float()


@torch.no_grad()
def accuracy(model, tokenizer, task: str, split: str = "validation", max_len: int = 96, batch_size: int = 100,
             limit: int | None = None) -> float:
    """Share of examples whose highest logit is the right label (dropout off)."""
    encoded = encode_examples(tokenizer, task, load_task(task, split)[:limit])
    make = gpt1_inputs if isinstance(model, Gpt1ForTask) else encoder_inputs
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    correct = 0
    for start in range(0, len(encoded), batch_size):
        inputs = make(tokenizer, task, encoded[start:start + batch_size], max_len)
        labels = inputs.pop("labels")
        logits = model(**{k: v.to(device) for k, v in inputs.items()}).logits
        correct += int((logits.argmax(-1).cpu() == labels).sum())
    model.train(was_training)
    return correct / len(encoded)


def majority_baseline(task: str, split: str = "validation", limit: int | None = None) -> float:
    """Accuracy of always guessing the commonest label of the examples evaluated."""
    labels = Counter(e["label"] for e in load_task(task, split)[:limit])
    return max(labels.values()) / sum(labels.values())


def weight_snapshot(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every weight matrix (dim >= 2), to compare with after training."""
    return {name: p.detach().float().cpu().clone() for name, p in model.named_parameters() if p.dim() >= 2}


def relative_change_by_layer(before: dict[str, torch.Tensor], model: nn.Module) -> dict:
    """How far each part's weight matrices moved: ||W_after - W_before|| / ||W_before||, all matrices of a part
    taken together. Parts (`depth_of`): "embeddings", 0 .. L-1 (the blocks), "head"."""
    moved, size = {}, {}
    for name, p in model.named_parameters():
        if name not in before:
            continue
        part = depth_of(name)
        moved[part] = moved.get(part, 0.0) + float((p.detach().float().cpu() - before[name]).pow(2).sum())
        size[part] = size.get(part, 0.0) + float(before[name].pow(2).sum())
    parts = ["embeddings"] + sorted(k for k in moved if isinstance(k, int)) + ["head"]
    return {part: math.sqrt(moved[part] / size[part]) for part in parts if part in moved and size[part] > 0}


@dataclass
class FinetuneResult:
    """One fine-tuning run: held-out accuracy against the majority baseline, how far each layer moved, the
    settings and the loss history."""
    task: str
    accuracy: float
    baseline: float
    movement: dict
    settings: dict
    history: object = field(repr=False)
    model: nn.Module = field(repr=False)

    @property
    def lm_weight(self):
        return self.settings.get("lm_weight")

    @property
    def layer_decay(self):
        return self.settings["layer_decay"]


def finetune(pretrained, tokenizer, task: str, *, steps: int = 200, lr: float = 1e-3, batch_size: int = 16,
             max_len: int = 96, warmup_steps: int | None = None, seed: int = 0, lm_weight: float | None = None,
             layer_decay: float = 1.0, from_scratch: bool = False, freeze_body: bool = False,
             eval_split: str = "validation", eval_limit: int | None = None, train_limit: int | None = None,
             device: str = "cpu", on_step=None) -> FinetuneResult:
    """Fine-tune a copy of `pretrained` (a model or a checkpoint path; it is left untouched) on a shipped task
    and measure accuracy on `eval_split`.

    lm_weight: GPT-1's λ (§3.2; None = the objective's 0.5); ignored for encoders.
    layer_decay < 1: layer i from the top trains at lr · decay^i (the embeddings one step further down).
    from_scratch: the control, the same architecture from random weights.
    freeze_body: ELMo's feature-based use: the pretrained body stays fixed and a small task network (two layers)
        learns on top of its features; the alternative BERT argued against (§1, §5.3).
    on_step(event) is called after every step (a progress bar, a live plot)."""
    torch.manual_seed(seed)  # the new layer's initialisation (and the whole network's, from scratch)
    model = task_model(pretrained, task, from_scratch=from_scratch)
    gpt1 = isinstance(model, Gpt1ForTask)
    if freeze_body:
        for parameter in model.parameters():
            parameter.requires_grad_(False)
        width = model.cfg.hidden_size
        model.classifier = nn.Sequential(nn.Linear(width, width), nn.GELU(), model.classifier)
        model.classifier.requires_grad_(True)
    before = weight_snapshot(model)
    if layer_decay != 1.0:
        groups = layerwise_lr_groups(model, base_lr=lr, decay=layer_decay)
    else:
        groups = weight_decay_groups(model, 0.01)
    loss_fn = (lambda m, batch: m(**batch, lm_weight=lm_weight)) if gpt1 else None
    trainer = Trainer(model, task_batches(tokenizer, task, gpt1, "train", batch_size, max_len, seed, train_limit),
                      loss_fn=loss_fn, param_groups=groups, lr=lr,
                      warmup_steps=warmup_steps if warmup_steps is not None else max(1, steps // 10),
                      total_steps=steps, schedule="linear", device=device, seed=seed, progress=False)
    if on_step is not None:
        trainer.on("step", on_step)
    trainer.run()
    settings = dict(steps=steps, lr=lr, batch_size=batch_size, max_len=max_len, seed=seed, layer_decay=layer_decay,
                    from_scratch=from_scratch, freeze_body=freeze_body)
    if gpt1:
        from ..objectives.gpt1 import auxiliary_lm_weight
        settings["lm_weight"] = auxiliary_lm_weight if lm_weight is None else lm_weight
    return FinetuneResult(task=task, accuracy=accuracy(model, tokenizer, task, eval_split, max_len, limit=eval_limit),
                          baseline=majority_baseline(task, eval_split, eval_limit),
                          movement=relative_change_by_layer(before, model), settings=settings,
                          history=trainer.history, model=model)


def seeds_table(results: dict[str, list[FinetuneResult]]) -> str:
    """A small HTML table: one row per setting, the accuracy of each seed, min and mean, and the baseline."""
    rows = []
    for name, runs in results.items():
        accuracies = [r.accuracy for r in runs]
        cells = "".join(f"<td>{a:.3f}</td>" for a in accuracies)
        rows.append(f"<tr><td>{name}</td>{cells}<td><b>{min(accuracies):.3f}</b></td>"
                    f"<td>{sum(accuracies) / len(accuracies):.3f}</td><td>{runs[0].baseline:.3f}</td></tr>")
    seeds = max(len(runs) for runs in results.values())
    head = "".join(f"<th>seed {r.settings['seed']}</th>" for r in next(iter(results.values()))[:seeds])
    return ("<table><tr><th>setting</th>" + head + "<th>min</th><th>mean</th><th>majority baseline</th></tr>"
            + "".join(rows) + "</table>")

