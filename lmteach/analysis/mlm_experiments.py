"""BERT's experiments at classroom scale (Devlin et al. 2019): measure a masked LM, its NSP head, and fine-tuning.

    docs = tokenized_documents(tok, val_corpus)                      # scenes -> speeches -> token ids
    evaluate_mlm(model, tok, docs)                                   # held-out accuracy at 15% masking, per fate
    unigram_accuracy(train_docs, docs, tok)                          # the "always guess the commonest token" bar
    nsp_accuracy(model, tok, docs)                                   # IsNext / NotNext on held-out pairs
    finetune_classifier(model, tok, "genre", steps=200)              # §4.1: whole model + a layer on [CLS]

The mask-rate sweep and the 80/10/10 ablation train several small models, so they run ahead of the lesson:

    python -m lmteach.analysis.mlm_experiments sweep --out data/checkpoints/mlm-sweep/results.json

and the lesson reads the JSON (`load_sweep`).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from ..objectives import IGNORE_INDEX, Fate, make_nsp_batch, mask_tokens
from ..training.batches import step_generator, step_seed

# The mixes of BERT's Table 8 (Appendix C.2) we compare: (MASK, random, kept) fractions of the picked tokens.
BERT_MIX = (0.8, 0.1, 0.1)
MASK_ONLY_MIX = (1.0, 0.0, 0.0)


# --- data ------------------------------------------------------------------------------------------------------

def tokenized_documents(tokenizer, corpus, max_documents: int | None = None, min_segments: int = 2):
    """A corpus as lists of segments of token ids (scene -> speeches), the input NSP pairs are drawn from.

    Documents with fewer than `min_segments` non-empty segments are dropped (no IsNext pair fits in them)."""
    documents = corpus.documents if max_documents is None else corpus.documents[:max_documents]
    out = []
    for document in documents:
        segments = [ids for ids in tokenizer.encode_batch(document) if ids]
        if len(segments) >= min_segments:
            out.append(segments)
    return out


def pretraining_batches(tokenizer, documents, seq_len: int, batch_size: int, *, seed: int = 0,
                        rate: float = 0.15, mix: tuple[float, float, float] = BERT_MIX):
    """MLM + NSP batches like `lmteach.training.masked_lm_batches`, but with any masking `rate` and any
    [MASK]/random/kept `mix` (for the sweep and the Table 8 ablation). batch(step) -> model inputs."""
    mask_fraction, random_fraction, _ = mix
    special_ids = sorted(tokenizer.special_ids)

    def batch(step: int) -> dict:
        pairs = make_nsp_batch(documents, batch_size, random.Random(step_seed(seed, step, "pairs")),
                               max_len=seq_len, cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id,
                               pad_id=tokenizer.pad_id)
        masked = mask_tokens(pairs["input_ids"], mask_id=tokenizer.mask_id, vocab_size=tokenizer.vocab_size,
                             special_ids=special_ids, rate=rate, mask_fraction=mask_fraction,
                             random_fraction=random_fraction, attention_mask=pairs["attention_mask"],
                             generator=step_generator(seed, step, "mask"))
        return {"input_ids": masked.input_ids, "token_type_ids": pairs["token_type_ids"],
                "attention_mask": pairs["attention_mask"], "labels": masked.labels,
                "pair_labels": pairs["labels"]}

    return batch


# --- measuring a pretrained model ------------------------------------------------------------------------------

def _mlm_logits(model, batch):
    out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                token_type_ids=batch["token_type_ids"])
    return out.prediction_logits if getattr(out, "prediction_logits", None) is not None else out.logits


@torch.no_grad()
def evaluate_mlm(model, tokenizer, documents, *, rate: float = 0.15, mix=BERT_MIX, batches: int = 8,
                 batch_size: int = 32, seq_len: int = 64, seed: int = 1234) -> dict:
    """Held-out masked-LM numbers with the same masks for every model (same seed, rate and mix).

    Returns accuracy and loss (nats) over all picked positions, the accuracy at each fate (masked, random,
    kept: for a kept token the right answer is the token the model *sees*), and `copy_accuracy`: on clean,
    unmasked input, how often the model's top guess at a real token is that very token (what fine-tuning
    input looks like: no [MASK] anywhere, BERT Appendix C.2)."""
    was_training = model.training
    model.eval()
    make = pretraining_batches(tokenizer, documents, seq_len, batch_size, seed=seed, rate=rate, mix=mix)
    hits, total_loss, counts = Counter(), 0.0, Counter()
    for step in range(batches):
        batch = make(step)
        # The clean input is the corrupted one with the picked positions put back.
        labels = batch["labels"]
        picked = labels != IGNORE_INDEX
        clean = torch.where(picked, labels, batch["input_ids"])
        fate = torch.full_like(labels, int(Fate.NOT_SELECTED))
        fate[picked & (batch["input_ids"] == tokenizer.mask_id)] = int(Fate.MASKED)
        fate[picked & (batch["input_ids"] != tokenizer.mask_id) & (batch["input_ids"] != labels)] = int(Fate.RANDOM)
        fate[picked & (batch["input_ids"] == labels)] = int(Fate.KEPT)  # (a random draw of the same token counts as kept)

        logits = _mlm_logits(model, batch).float()
        guess = logits.argmax(-1)
        total_loss += torch.nn.functional.cross_entropy(logits[picked], labels[picked], reduction="sum").item()
        correct = (guess == labels) & picked
        hits["all"] += int(correct.sum())
        counts["all"] += int(picked.sum())
        for name in ("MASKED", "RANDOM", "KEPT"):
            where = fate == int(Fate[name])
            hits[name.lower()] += int((correct & where).sum())
            counts[name.lower()] += int(where.sum())

        real = (batch["attention_mask"].bool()) & ~torch.isin(clean, torch.tensor(sorted(tokenizer.special_ids)))
        clean_guess = _mlm_logits(model, {**batch, "input_ids": clean}).argmax(-1)
        hits["copy"] += int(((clean_guess == clean) & real).sum())
        counts["copy"] += int(real.sum())
    model.train(was_training)
    result = {"accuracy": hits["all"] / max(1, counts["all"]), "loss": total_loss / max(1, counts["all"]),
              "copy_accuracy": hits["copy"] / max(1, counts["copy"]), "predicted_tokens": counts["all"]}
    for name in ("masked", "random", "kept"):
        result[f"{name}_accuracy"] = hits[name] / counts[name] if counts[name] else float("nan")
    return result


def unigram_accuracy(train_documents, eval_documents, tokenizer) -> dict:
    """The baseline a masked LM must beat: always guess the commonest training token, whatever the context.

    Returns that token and the fraction of real tokens of `eval_documents` equal to it (the accuracy of the
    guess at uniformly picked positions)."""
    special = set(tokenizer.special_ids)
    counts = Counter(t for doc in train_documents for seg in doc for t in seg if t not in special)
    commonest, _ = counts.most_common(1)[0]
    eval_tokens = [t for doc in eval_documents for seg in doc for t in seg if t not in special]
    return {"token": tokenizer.id_to_token(commonest), "accuracy": eval_tokens.count(commonest) / len(eval_tokens)}


@torch.no_grad()
def nsp_accuracy(model, tokenizer, documents, *, pairs: int = 256, seq_len: int = 64, seed: int = 99) -> float:
    """Next-sentence-prediction accuracy on `pairs` fresh IsNext/NotNext pairs (half each, in expectation)
    from `documents` (use held-out scenes). The pair head reads the pooled [CLS] vector (§3.1, Task #2)."""
    was_training = model.training
    model.eval()
    rng = random.Random(seed)
    correct, done = 0, 0
    while done < pairs:
        size = min(64, pairs - done)
        batch = make_nsp_batch(documents, size, rng, max_len=seq_len, cls_id=tokenizer.cls_id,
                               sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id)
        out = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                    token_type_ids=batch["token_type_ids"])
        correct += int((out.seq_relationship_logits.argmax(-1) == batch["labels"]).sum())
        done += size
    model.train(was_training)
    return correct / pairs


# --- fine-tuning on a shipped task (§4.1) ---------------------------------------------------------------------

def task_batches(tokenizer, examples, seq_len: int, batch_size: int | None = None, seed: int = 0):
    """[CLS] text [SEP] (or [CLS] a [SEP] b [SEP] for pair tasks) classification batches.

    batch_size=None: a list of every example in order, in batches of 64 (for evaluation); otherwise
    batch(step) draws a random batch, reproducibly from (seed, step)."""
    from ..objectives import build_pair, collate_pairs

    fields = [k for k in ("text", "premise", "hypothesis", "text_a", "text_b") if k in examples[0]]
    # encode_batch runs in the tokenizers library's Rust code: much faster than one encode per text.
    texts = [tokenizer.encode_batch([e[field] for e in examples]) for field in fields]
    unknown = [tokenizer.token_to_id("[UNK]")]  # an empty text still needs one token
    encoded = []
    for i, example in enumerate(examples):
        if len(fields) == 1:
            ids = texts[0][i][:seq_len - 2]
            item = {"input_ids": [tokenizer.cls_id, *ids, tokenizer.sep_id], "token_type_ids": [0] * (len(ids) + 2)}
        else:
            item = build_pair(texts[0][i] or unknown, texts[1][i] or unknown, max_len=seq_len,
                              cls_id=tokenizer.cls_id, sep_id=tokenizer.sep_id)
        encoded.append({**item, "labels": example["label"]})
    if batch_size is None:
        return [collate_pairs(encoded[i:i + 64], tokenizer.pad_id) for i in range(0, len(encoded), 64)]

    def batch(step: int) -> dict:
        rng = random.Random(step_seed(seed, step, "task"))
        return collate_pairs([encoded[rng.randrange(len(encoded))] for _ in range(batch_size)], tokenizer.pad_id)

    return batch


@torch.no_grad()
def classifier_accuracy(model, batches) -> float:
    """Accuracy of a SequenceClassifier over a list of batches."""
    was_training = model.training
    model.eval()
    correct = total = 0
    for batch in batches:
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                       token_type_ids=batch["token_type_ids"]).logits
        correct += int((logits.argmax(-1) == batch["labels"]).sum())
        total += len(batch["labels"])
    model.train(was_training)
    return correct / total


def classifier_from_pretrained(pretrained, num_labels: int):
    """BERT §4.1: a `classifier` model whose body (embeddings, layers, pooler) is the pretrained one; only
    the new output layer starts from scratch. Returns the new model."""
    from ..models import build

    cfg = pretrained.cfg.replace(num_labels=num_labels)
    model = build(cfg, head="classifier")
    missing, unexpected = model.load_state_dict(pretrained.state_dict(), strict=False)
    not_loaded = [name for name in missing if not name.startswith("classifier.")]
    if not_loaded:
        raise ValueError(f"the pretrained weights lack {not_loaded[:4]}...: is it the same architecture?")
    return model


def finetune_classifier(pretrained, tokenizer, task: str = "genre", *, steps: int = 200, batch_size: int = 32,
                        seq_len: int = 64, lr: float = 1e-3, seed: int = 0, eval_split: str = "validation",
                        max_train: int | None = None, max_eval: int | None = None, progress: bool = False) -> dict:
    """Fine-tune the whole model on a shipped task through [CLS] and measure accuracy on `eval_split`.

    pretrained: a model with a BERT body; its weights are copied, the original is untouched. (For the
    "no pretraining" control, pass a freshly built model.)
    max_train / max_eval: use only the first examples (for quick tests).
    Returns {"accuracy", "majority_baseline" (of the examples evaluated), "model", "history"}."""
    from ..data.tasks import load_task, task_info
    from ..training import Trainer

    info = task_info(task)
    num_labels = len(info["label_names"])
    torch.manual_seed(seed)
    model = classifier_from_pretrained(pretrained, num_labels)
    train_examples = load_task(task, "train")[:max_train]
    trainer = Trainer(model, task_batches(tokenizer, train_examples, seq_len, batch_size, seed),
                      lr=lr, warmup_steps=max(1, steps // 10), schedule="linear", total_steps=steps, device="cpu",
                      seed=seed, progress=progress)
    trainer.run()
    examples = load_task(task, eval_split)[:max_eval]
    accuracy = classifier_accuracy(model, task_batches(tokenizer, examples, seq_len))
    labels = Counter(e["label"] for e in examples)
    return {"accuracy": accuracy, "majority_baseline": max(labels.values()) / len(examples),
            "model": model, "history": trainer.history}


# --- the mask-rate sweep and the Table 8 ablation (trained ahead; see the module docstring) -------------------

def train_small_bert(tokenizer, train_documents, *, rate: float, mix=BERT_MIX, steps: int, seq_len: int = 64,
                     batch_size: int = 32, lr: float = 1e-3, seed: int = 0, init_from=None, **config_overrides):
    """Pretrain a tiny BERT (MLM + NSP) with one masking rate and mix; returns (model, trainer).

    init_from: a checkpoint folder to continue from (its config is used) instead of random weights."""
    from ..configs import preset
    from ..models import build
    from ..training import Trainer, load_checkpoint

    torch.manual_seed(seed)
    if init_from is not None:
        model, _ = load_checkpoint(init_from)
    else:
        cfg = preset("bert", "tiny", vocab_size=tokenizer.vocab_size, dropout=0.0, attention_dropout=0.0,
                     **config_overrides)
        model = build(cfg)
    trainer = Trainer(model, pretraining_batches(tokenizer, train_documents, seq_len, batch_size, seed=seed,
                                                 rate=rate, mix=mix),
                      lr=lr, warmup_steps=max(1, steps // 10), total_steps=steps, device="cpu", seed=seed,
                      progress=False)
    trainer.run()
    return model, trainer


def run_sweep(rates=(0.05, 0.15, 0.4, 0.6, 0.8), *, steps: int = 400, seeds=(0,), eval_batches: int = 16,
              num_layers: int = 2, batch_size: int = 32, lr: float = 1e-3, init_from=None,
              max_documents: int | None = None, log=print) -> dict:
    """Train one small BERT per masking rate (BERT's mix) and one at 15% with [MASK] only (Table 8's
    100/0/0 row), the same steps and batch for all; evaluate every model with the *same* 15% masks of
    held-out scenes, so the numbers compare. Returns a JSON-ready dict.

    init_from: continue every run from this checkpoint (e.g. the shipped bert-tiny) instead of random
    weights: a from-scratch tiny BERT needs many steps to get past guessing the commonest tokens."""
    from ..data.corpus import load_corpus
    from ..data.tokenization import load_default

    tokenizer = load_default("wordpiece")
    train_corpus, val_corpus = load_corpus().split(0.9, seed=0)
    train_docs = tokenized_documents(tokenizer, train_corpus, max_documents)
    val_docs = tokenized_documents(tokenizer, val_corpus)
    start = None
    if init_from is not None:  # where every run starts from
        from ..training import load_checkpoint
        start = evaluate_mlm(load_checkpoint(init_from)[0], tokenizer, val_docs, batches=eval_batches)
        log(json.dumps({"start": start}))
    runs = [{"rate": r, "mix": list(BERT_MIX)} for r in rates] + [{"rate": 0.15, "mix": list(MASK_ONLY_MIX)}]
    results = []
    for seed in seeds:
        for run in runs:
            started = time.perf_counter()
            model, trainer = train_small_bert(tokenizer, train_docs, rate=run["rate"], mix=tuple(run["mix"]),
                                              steps=steps, seed=seed, batch_size=batch_size, lr=lr,
                                              init_from=init_from, num_layers=num_layers)
            numbers = evaluate_mlm(model, tokenizer, val_docs, batches=eval_batches)
            numbers.update(run, seed=seed, train_seconds=round(time.perf_counter() - started, 1),
                           final_train_loss=sum(trainer.history.losses[-20:]) / 20,
                           nsp_accuracy=nsp_accuracy(model, tokenizer, val_docs))
            log(json.dumps(numbers))
            results.append(numbers)
    return {"settings": {"steps": steps, "seq_len": 64, "batch_size": batch_size, "lr": lr,
                         "num_layers": num_layers if init_from is None else None,
                         "init_from": None if init_from is None else str(init_from),
                         "start": start,
                         "eval": "15% masking, BERT mix, held-out scenes, seed 1234", "seeds": list(seeds),
                         "unigram_baseline": unigram_accuracy(train_docs, val_docs, tokenizer)},
            "results": results}


def continue_pretraining(source, target, *, steps: int, batch_size: int = 32, lr: float = 1e-3, seed: int = 1,
                         seq_len: int = 64) -> Path:
    """More MLM + NSP steps for a checkpoint (a fresh warmup and cosine decay), on the training scenes of the
    same split as `python -m lmteach train`; writes a new checkpoint whose history has both runs' losses."""
    from ..data.corpus import load_corpus
    from ..training import read_info, save_checkpoint

    train_corpus, _ = load_corpus().split(0.9, seed=0)
    info = read_info(source)
    from ..data.tokenization import Tokenizer
    tokenizer = Tokenizer.from_dict(info["tokenizer"])
    model, trainer = train_small_bert(tokenizer, tokenized_documents(tokenizer, train_corpus), rate=0.15,
                                      steps=steps, batch_size=batch_size, lr=lr, seed=seed, seq_len=seq_len,
                                      init_from=source)
    before = (info.get("history") or {}).get("events", [])
    offset = int(info["step"])
    events = before + [{**e, "step": e["step"] + offset} for e in trainer.history.as_dict()["events"]]
    return save_checkpoint(target, model, tokenizer=tokenizer, step=offset + steps, history={"events": events},
                           extra={**info.get("extra", {}), "continued_from": str(source),
                                  "continued": {"steps": steps, "batch_size": batch_size, "lr": lr, "seed": seed}})


def load_sweep(path) -> dict:
    """Read a JSON written by `python -m lmteach.analysis.mlm_experiments sweep`."""
    return json.loads(Path(path).read_text())


def sweep_rows(sweep: dict) -> list[dict]:
    """The sweep's BERT-mix runs, one row per training rate (averaged over seeds), sorted by rate:
    rate, held-out accuracy and loss at 15% masking, and predicted positions per step (the training signal)."""
    settings = sweep["settings"]
    tokens_per_step = settings["batch_size"] * settings["seq_len"]  # an upper bound: pairs are padded
    by_rate: dict = {}
    for run in sweep["results"]:
        if tuple(run["mix"]) == BERT_MIX:
            by_rate.setdefault(run["rate"], []).append(run)
    rows = []
    for rate, runs in sorted(by_rate.items()):
        rows.append({"rate": rate, "accuracy": sum(r["accuracy"] for r in runs) / len(runs),
                     "loss": sum(r["loss"] for r in runs) / len(runs),
                     "predicted_per_step": round(rate * tokens_per_step), "seeds": len(runs)})
    return rows


def sweep_png(sweep: dict) -> bytes:
    """Held-out MLM accuracy (all evaluated at 15% masking) against the rate each model trained with,
    beside the unigram baseline; PNG bytes."""
    from .plots import COLORS, figure_png, new_figure

    rows = sweep_rows(sweep)
    figure, (left, right) = new_figure(8.0, 3.0, ncols=2)
    rates = [100 * r["rate"] for r in rows]
    left.plot(rates, [100 * r["accuracy"] for r in rows], "o-", color=COLORS["bert"], label="BERT mix (80/10/10)")
    baseline = sweep["settings"]["unigram_baseline"]
    left.axhline(100 * baseline["accuracy"], color="#888", linestyle=":", label=f"always '{baseline['token']}'")
    left.set_xlabel("masking rate used in training (%)")
    left.set_ylabel("held-out accuracy at 15% (%)")
    left.legend(fontsize=8)
    left.grid(alpha=0.3)
    right.bar([str(round(r)) for r in rates], [r["predicted_per_step"] for r in rows], color=COLORS["bert"])
    right.set_xlabel("masking rate (%)")
    right.set_ylabel("predictions per step")
    right.set_title("training signal per step (same compute)", fontsize=9)
    return figure_png(figure)


def ship_checkpoint(source, target) -> Path:
    """Copy a checkpoint without its optimizer state and with fp16 weights, small enough to ship in the
    repository (~2.7 MB for bert-tiny). Loading it gives fp32 weights again (rounded to fp16 precision)."""
    from ..training import load_checkpoint, save_checkpoint
    from ..training.checkpoint import read_info

    model, info = load_checkpoint(source)
    history = info.get("history") or {}
    # Keep the loss curve, not every event (with per-layer gradient norms) of the run.
    slim = {"events": [{k: e[k] for k in ("event", "step", "loss", "val_loss") if k in e}
                       for e in history.get("events", [])]}
    return save_checkpoint(target, model.half(), cfg=info["cfg"], tokenizer=info["tokenizer_obj"],
                           step=info["step"], history=slim, extra={**read_info(source).get("extra", {}),
                                                                    "shipped_from": str(source), "dtype": "float16"})


def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lmteach.analysis.mlm_experiments")
    commands = parser.add_subparsers(dest="command", required=True)
    sweep = commands.add_parser("sweep", help="mask-rate sweep + 80/10/10 vs [MASK]-only ablation")
    sweep.add_argument("--out", required=True)
    sweep.add_argument("--steps", type=int, default=400)
    sweep.add_argument("--seeds", type=int, nargs="+", default=[0])
    sweep.add_argument("--rates", type=float, nargs="+", default=[0.05, 0.15, 0.4, 0.6, 0.8])
    sweep.add_argument("--layers", type=int, default=2)
    sweep.add_argument("--batch-size", type=int, default=32)
    sweep.add_argument("--lr", type=float, default=1e-3)
    sweep.add_argument("--init-from", help="continue every run from this checkpoint folder")
    more = commands.add_parser("continue", help="continue MLM + NSP pretraining of a checkpoint (BERT's 15%, 80/10/10)")
    more.add_argument("source")
    more.add_argument("target")
    more.add_argument("--steps", type=int, default=500)
    more.add_argument("--batch-size", type=int, default=32)
    more.add_argument("--lr", type=float, default=1e-3)
    more.add_argument("--seed", type=int, default=1)
    ship = commands.add_parser("ship", help="fp16 copy of a checkpoint without optimizer state")
    ship.add_argument("source")
    ship.add_argument("target")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.command == "sweep":
        log = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731
        result = run_sweep(tuple(args.rates), steps=args.steps, seeds=tuple(args.seeds), num_layers=args.layers,
                           batch_size=args.batch_size, lr=args.lr, init_from=args.init_from, log=log)
        result["command"] = "python -m lmteach.analysis.mlm_experiments " + " ".join(sys.argv[1:] if argv is None
                                                                                      else argv)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=1))
    elif args.command == "continue":
        continue_pretraining(args.source, args.target, steps=args.steps, batch_size=args.batch_size, lr=args.lr,
                             seed=args.seed)
    else:
        ship_checkpoint(args.source, args.target)


if __name__ == "__main__":
    main()
