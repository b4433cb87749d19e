"""BERT vs GPT-1: the papers' comparison as data, and the same comparison at classroom scale.

    paper_rows()                                   # BERT Appendix A.4's list of differences, with figures
    gpt, bert = matched_configs(tok.vocab_size)    # same size; only the mask, the norms and the heads differ
    examples = middle_word_examples(tok, held_out_sentences())
    probe = middle_word_probe(gpt, bert, tok, examples)    # hide a middle word: both sides vs left only
    rows = finetune_both(gpt, bert, tok, "genre", steps=100)

The two small models are pretrained ahead (about 12 minutes each on one thread of a busy 2-core CPU) on the same
text, with the same WordPiece tokenizer and the same training compute counted by `lmteach.analysis.compute`
(the defaults are the shipped checkpoints' settings: 1,400 GPT-1 steps of 16 x 64 tokens, lr 1e-3, no dropout):

    python -m lmteach.analysis.comparison pretrain gpt1 --out data/checkpoints/compare-gpt1
    python -m lmteach.analysis.comparison pretrain bert --out data/checkpoints/compare-bert
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

import torch

from .compute import steps_for_budget, training_flops

# --- the papers' comparison (BERT §5 and Appendix A.4 "Comparison of BERT, ELMo, and OpenAI GPT") ------------

PAPER_ROWS = [
    # (aspect, GPT-1, BERT, where it is written)
    ("attention", "left to right (causal mask)", "bidirectional (MLM)", "BERT §3, Figure 3; GPT-1 §3.1"),
    ("pretraining data", "BooksCorpus (800M words)", "BooksCorpus (800M) + Wikipedia (2,500M words)",
     "BERT A.4; GPT-1 §4.1"),
    ("[SEP], [CLS], segment A/B", "introduced only at fine-tuning", "learned during pretraining",
     "BERT A.4; GPT-1 §3.3"),
    ("batch size", "32,000 words", "128,000 words", "BERT A.4"),
    ("training steps", "1M", "1M", "BERT A.4"),
    ("fine-tuning learning rate", "5e-5 for every task", "chosen per task on the dev set", "BERT A.4"),
]
PAPER_COLUMNS = ("", "GPT-1", "BERT", "source")


def paper_rows() -> list[tuple[str, str, str, str]]:
    """The papers' comparison, one row per difference: (aspect, GPT-1, BERT, source)."""
    return list(PAPER_ROWS)


def paper_figures() -> dict:
    """The numeric entries of the comparison (words, words per batch, steps), for exercises and arithmetic."""
    return {"gpt1_words": 800e6, "bert_words": 800e6 + 2500e6, "gpt1_batch_words": 32_000,
            "bert_batch_words": 128_000, "steps": 1_000_000, "gpt1_finetune_lr": 5e-5}


def text_table(rows, columns) -> str:
    """Rows as a fixed-width text table (deterministic, so a notebook can compare it)."""
    rows = [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows])


# --- two models of the same size ------------------------------------------------------------------------------

def matched_configs(vocab_size: int, seq_len: int = 64, **overrides):
    """A tiny GPT-1 and a tiny BERT with the same shape (layers, width, heads, FFN, vocabulary, positions).

    What still differs is what the papers differ in: the causal mask, BERT's segment embeddings, embedding
    LayerNorm and pooler, and the pretraining heads. Returns (gpt_cfg, bert_cfg)."""
    from ..configs import bert, gpt1
    shared = dict(vocab_size=vocab_size, max_positions=seq_len, **overrides)
    # GPT-1 §3.1 is a causal LM; BERT §3.1 pretrains MLM + NSP (the pooler reads [CLS] for NSP).
    return gpt1("tiny", **shared), bert("tiny", **shared)


def pretraining_documents(tokenizer, corpus):
    """The corpus as documents of token-id segments (speeches), and the same tokens as one stream.

    BERT draws its sentence pairs from the documents; GPT reads the stream left to right: the same text."""
    from .mlm_experiments import tokenized_documents
    documents = tokenized_documents(tokenizer, corpus)
    stream = torch.tensor([i for document in documents for segment in document for i in segment])
    return documents, stream


def pretraining_batches(family: str, tokenizer, documents, stream, seq_len: int, batch_size: int, seed: int = 0):
    """GPT-1: windows of the stream (every token is a target). BERT: [CLS] A [SEP] B [SEP] pairs, 15% masked."""
    from ..training.batches import causal_lm_batches, masked_lm_batches
    if family == "gpt1":
        return causal_lm_batches(stream, seq_len, batch_size, seed=seed)
    return masked_lm_batches(tokenizer, seq_len, batch_size, documents=documents, pair_task="nsp", seed=seed)


def same_compute_steps(gpt_steps: int, batch_size: int, seq_len: int, vocab_size: int) -> dict:
    """The compute budget of `gpt_steps` GPT-1 steps, and how many BERT steps it buys (BERT's pooler and
    segment embeddings make its step a little dearer). BERT's pairs are padded to the batch's longest, so it
    uses at most this budget."""
    gpt_cfg, bert_cfg = matched_configs(vocab_size, seq_len)
    budget = training_flops(gpt_cfg, gpt_steps, batch_size, seq_len)
    bert_steps = steps_for_budget(bert_cfg, budget, batch_size, seq_len)
    return {"flops": budget, "gpt1_steps": gpt_steps, "bert_steps": bert_steps,
            "bert_flops": training_flops(bert_cfg, bert_steps, batch_size, seq_len)}


def pretrain(family: str, out, *, gpt_steps: int = 1400, batch_size: int = 16, seq_len: int = 64,
             lr: float = 1e-3, dropout: float = 0.0, seed: int = 0, log=print) -> Path:
    """Pretrain one of the pair on the corpus's training split and ship it (fp16) to `out`."""
    from ..data.corpus import load_corpus
    from ..data.tokenization import load_default
    from ..models import build
    from ..training import Trainer, save_checkpoint

    tokenizer = load_default("wordpiece")
    train_corpus, _ = load_corpus().split()
    documents, stream = pretraining_documents(tokenizer, train_corpus)
    budget = same_compute_steps(gpt_steps, batch_size, seq_len, tokenizer.vocab_size)
    steps = budget["gpt1_steps" if family == "gpt1" else "bert_steps"]
    # A short run on a small corpus learns faster without dropout (it has no time to overfit).
    cfg = matched_configs(tokenizer.vocab_size, seq_len, dropout=dropout,
                          attention_dropout=dropout)[0 if family == "gpt1" else 1]
    torch.manual_seed(seed)
    model = build(cfg)
    trainer = Trainer(model, pretraining_batches(family, tokenizer, documents, stream, seq_len, batch_size, seed),
                      lr=lr, warmup_steps=max(1, steps // 10), total_steps=steps, device="cpu", seed=seed,
                      progress=False)
    started = time.perf_counter()
    trainer.on("step", lambda e: e["step"] % 25 == 0 and log(
        f"{family} step {e['step']}/{steps} loss {e['loss']:.3f} {time.perf_counter() - started:.0f} s"))
    trainer.run()
    seconds = time.perf_counter() - started
    history = {"events": [{"event": "step", "step": s, "loss": round(l, 4)}
                          for s, l in zip(trainer.history.steps, trainer.history.losses)]}
    extra = {"family": family, "steps": steps, "dropout": dropout, "flops": budget["flops"],
             "batch_size": batch_size, "seq_len": seq_len, "lr": lr, "seed": seed, "seconds": round(seconds),
             "dtype": "float16",
             "command": f"python -m lmteach.analysis.comparison pretrain {family} --out {out} --gpt-steps "
                        f"{gpt_steps} --batch-size {batch_size} --seq-len {seq_len} --lr {lr} --dropout {dropout} "
                        f"--seed {seed}"}
    # save_checkpoint replaces the whole folder; the folder also holds a README, so write beside it and copy.
    staging = Path(tempfile.mkdtemp()) / "checkpoint"
    save_checkpoint(staging, model.half(), tokenizer=tokenizer, step=steps, history=history, extra=extra)
    Path(out).mkdir(parents=True, exist_ok=True)
    for file in staging.iterdir():
        shutil.copy(file, Path(out) / file.name)
    shutil.rmtree(staging.parent)
    log(f"saved {family} to {out} after {seconds:.0f} s")
    return Path(out)


# --- the masked-middle-word probe -----------------------------------------------------------------------------

def middle_word_examples(tokenizer, texts, min_tokens: int = 9, max_tokens: int = 40) -> list[dict]:
    """Held-out sentences with one whole word in the middle to hide.

    Keeps texts of min_tokens..max_tokens WordPiece tokens whose middle token is a complete alphabetic word
    (it starts a word and the next token starts a new one), so one [MASK] hides exactly one word.
    Returns [{"ids": [...], "position": m}] with ids without [CLS]/[SEP]."""
    examples = []
    for ids in tokenizer.encode_batch(list(texts)):
        if not min_tokens <= len(ids) <= max_tokens:
            continue
        middle = len(ids) // 2
        starts = tokenizer.word_starts(ids)
        word = tokenizer.id_to_token(ids[middle]) or ""
        if starts[middle] and starts[middle + 1] and word.isalpha():
            examples.append({"ids": ids, "position": middle})
    return examples


def held_out_sentences(corpus=None) -> list[str]:
    """Sentences of the validation split's speeches (scenes never seen in pretraining)."""
    from ..data.corpus import load_corpus, sentences
    corpus = corpus or load_corpus()
    _, validation = corpus.split()
    return [sentence for document in validation.documents for segment in document for sentence in sentences(segment)]


@torch.no_grad()
def middle_word_ranks(gpt, bert, tokenizer, examples, batch_size: int = 256) -> dict[str, torch.Tensor]:
    """For each example, the rank (0 = top-1) of the hidden word in each reader's prediction [n_examples].

    "bert": BERT reads [CLS] left [MASK] right [SEP] and predicts at [MASK] (BERT §3.1).
    "bert_wrong_right": the same BERT with another sentence's right side, [CLS] left [MASK] other [SEP]: the
        same shape of input, but the right side carries no information about this word. The gap to "bert" is what
        BERT learned to take from the right.
    "gpt1": GPT-1 reads the left context and predicts the next token (GPT-1 §3.1): all it can see.
    Rows are right-padded; the padding is masked for BERT and lies after the read position for GPT."""
    ranks = {"gpt1": [], "bert": [], "bert_wrong_right": []}
    gpt.eval(), bert.eval()
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        rows_by_reader = {name: [] for name in ranks}
        for row, e in enumerate(chunk):
            left, right = e["ids"][:e["position"]], e["ids"][e["position"] + 1:]
            other = chunk[(row + 1) % len(chunk)]   # the next sentence's right side (itself if alone)
            wrong = other["ids"][other["position"] + 1:]
            rows_by_reader["bert"].append([tokenizer.cls_id, *left, tokenizer.mask_id, *right, tokenizer.sep_id])
            rows_by_reader["bert_wrong_right"].append([tokenizer.cls_id, *left, tokenizer.mask_id, *wrong,
                                                       tokenizer.sep_id])
            rows_by_reader["gpt1"].append(left)
        ids = {}
        for name, lists in rows_by_reader.items():
            ids[name] = torch.full((len(chunk), max(len(t) for t in lists)), tokenizer.pad_id)
            for row, tokens in enumerate(lists):
                ids[name][row, :len(tokens)] = torch.tensor(tokens, dtype=torch.long)
        rows = torch.arange(len(chunk))
        positions = torch.tensor([e["position"] for e in chunk])
        targets = torch.tensor([e["ids"][e["position"]] for e in chunk])
        # Run the bodies on whole rows, but the output layers only where a word is predicted (much cheaper).
        scores = {}
        for name in ("bert", "bert_wrong_right"):
            states = bert.body(ids[name], (ids[name] != tokenizer.pad_id).long()).last_hidden_state
            scores[name] = bert.lm_head(states[rows, positions + 1])                      # +1 for [CLS]
        scores["gpt1"] = gpt.lm_head(gpt.body(ids["gpt1"]).last_hidden_state[rows, positions - 1])
        for name, s in scores.items():
            ranks[name].append((s > s[rows, targets][:, None]).sum(-1))
    return {name: torch.cat(values) for name, values in ranks.items()}


def middle_word_probe(gpt, bert, tokenizer, examples, n_sets: int = 3, top_k: int = 5) -> list[dict]:
    """Top-1 and top-k accuracy of each reader on `n_sets` disjoint sets of examples (every n_sets-th one).
    Returns one row per set: {"set", "examples", "bert_top1", "bert_wrong_right_top1", "gpt1_top1", "bert_top5", ...,
    "bert_moved_by_right"}."""
    ranks = middle_word_ranks(gpt, bert, tokenizer, examples)
    rows = []
    for s in range(n_sets):
        part = {name: r[s::n_sets] for name, r in ranks.items()}
        rows.append({"set": s, "examples": len(part["bert"]),
                     **{f"{name}_top1": float((r == 0).float().mean()) for name, r in part.items()},
                     **{f"{name}_top{top_k}": float((r < top_k).float().mean()) for name, r in part.items()},
                     # Share of sentences where swapping the right side moves the true word's rank in BERT's
                     # guess (GPT-1 never reads the right side, so for it this is 0 by construction).
                     "bert_moved_by_right": float((part["bert"] != part["bert_wrong_right"]).float().mean())})
    return rows


# --- fine-tuning both on the same task ------------------------------------------------------------------------

class Gpt1View:
    """The WordPiece tokenizer as GPT-1's fine-tuning code sees it (`lmteach.analysis.finetuning`).

    GPT-1 §3.3 adds Start/Delim/Extract tokens at fine-tuning. Our GPT-1 pretrained on plain text, so [CLS],
    [MASK] and [SEP] are tokens it has never read: they play Start, Delim and Extract. A single text is then
    `[CLS] text [SEP]`, the very ids BERT reads; GPT-1 classifies from the last token, BERT from the first."""

    def __init__(self, tokenizer):
        self.tokenizer = tokenizer
        self.start_id, self.delim_id, self.extract_id = tokenizer.cls_id, tokenizer.mask_id, tokenizer.sep_id
        self.pad_id = tokenizer.pad_id

    def __getattr__(self, name):
        return getattr(self.tokenizer, name)


def finetune_both(gpt, bert, tokenizer, task: str = "genre", *, steps: int = 150, batch_size: int = 16,
                  seq_len: int = 64, lr: float = 5e-4, seed: int = 0, max_eval: int | None = None) -> list[dict]:
    """Fine-tune a copy of each pretrained model on `task` with the same steps, batch, length and learning rate.

    GPT-1: a linear layer on the Extract state, LM loss kept with λ = 0.5 (GPT-1 §3.2; lesson 01's `finetune`).
    BERT: a linear layer on the pooled [CLS] state (BERT §4.1; lesson 02's `finetune_classifier`).
    Returns [{"model", "task", "accuracy", "baseline"}] (validation split)."""
    from ..data.tasks import task_info
    from .finetuning import finetune
    from .mlm_experiments import finetune_classifier

    if task_info(task)["kind"] != "single":
        raise ValueError(f"finetune_both handles single-text tasks (like 'genre'); {task!r} is "
                         f"{task_info(task)['kind']}")
    baseline = task_info(task)["splits"]["validation"]["majority_baseline"]
    gpt_result = finetune(gpt, Gpt1View(tokenizer), task, lm_weight=0.5, lr=lr, steps=steps,
                          batch_size=batch_size, max_len=seq_len, warmup_steps=max(1, steps // 10), seed=seed,
                          eval_limit=max_eval)
    bert_result = finetune_classifier(bert, tokenizer, task, steps=steps, batch_size=batch_size, seq_len=seq_len,
                                      lr=lr, seed=seed, max_eval=max_eval)
    return [{"model": "GPT-1", "task": task, "accuracy": gpt_result.accuracy, "baseline": baseline},
            {"model": "BERT", "task": task, "accuracy": bert_result["accuracy"], "baseline": baseline}]


# --- pictures -------------------------------------------------------------------------------------------------

def attention_pair_png(gpt, bert, tokenizer, text: str, layer: int = 0) -> bytes:
    """One layer's attention, averaged over heads, of both models on the same `[CLS] text [SEP]`."""
    from .attention import attention_maps
    from .plots import attention_heatmap, figure_png, new_figure
    maps = {"GPT-1": attention_maps(gpt, tokenizer, text), "BERT": attention_maps(bert, tokenizer, text)}
    n = len(maps["BERT"].tokens)
    figure, axes = new_figure(2.0 + 0.5 * n, 1.4 + 0.26 * n, ncols=2)
    for ax, (name, found) in zip(axes, maps.items()):
        attention_heatmap(ax, found.weights[layer].mean(0), found.tokens,
                          title=f"{name}: layer {layer}, mean of {found.num_heads} heads")
    return figure_png(figure)


def probe_png(rows: list[dict]) -> bytes:
    """Bars: top-1 and top-5 accuracy of both models on each held-out set (and BERT's with a wrong right side)."""
    from .plots import COLORS, figure_png, new_figure
    figure, ax = new_figure(6.4, 2.9)
    bars = (("gpt1_top1", "GPT-1 top-1", COLORS["gpt"], 1.0), ("gpt1_top5", "GPT-1 top-5", COLORS["gpt"], 0.45),
            ("bert_top1", "BERT top-1", COLORS["bert"], 1.0), ("bert_top5", "BERT top-5", COLORS["bert"], 0.45),
            ("bert_wrong_right_top5", "BERT top-5, wrong right side", "#7f7f7f", 0.6))
    width = 0.16
    for j, (key, label, color, alpha) in enumerate(bars):
        ax.bar([r["set"] + (j - 2) * width for r in rows], [r[key] for r in rows], width, color=color, alpha=alpha,
               label=label)
    ax.set_xticks([r["set"] for r in rows], [f"held-out set {r['set']}" for r in rows])
    ax.set_ylabel("hidden middle word found")
    ax.set_ylim(0, 1.45 * max(0.01, *(r[key] for r in rows for key, *_ in bars)))  # room for the legend
    ax.legend(fontsize=7, ncols=2)
    return figure_png(figure)


# --- command line ---------------------------------------------------------------------------------------------

def main(argv=None):
    parser = argparse.ArgumentParser(prog="python -m lmteach.analysis.comparison")
    commands = parser.add_subparsers(dest="command", required=True)
    train = commands.add_parser("pretrain", help="pretrain the tiny GPT-1 or BERT of the comparison")
    train.add_argument("family", choices=("gpt1", "bert"))
    train.add_argument("--out", required=True)
    train.add_argument("--gpt-steps", type=int, default=1400, help="the budget: this many GPT-1 steps")
    train.add_argument("--batch-size", type=int, default=16)
    train.add_argument("--seq-len", type=int, default=64)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--dropout", type=float, default=0.0)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    pretrain(args.family, args.out, gpt_steps=args.gpt_steps, batch_size=args.batch_size, seq_len=args.seq_len,
             lr=args.lr, dropout=args.dropout, seed=args.seed,
             log=lambda line: print(line, file=sys.stderr, flush=True))


if __name__ == "__main__":
    main()
