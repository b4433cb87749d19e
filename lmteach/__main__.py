"""Command line: train a small model, then sample from it or fill in masks.

    python -m lmteach train --model gpt2 --size tiny --steps 200 --out runs/gpt2-tiny
    python -m lmteach sample runs/gpt2-tiny --prompt "ROMEO:" --tokens 100 --temperature 0.8 --top-k 40
    python -m lmteach train --model bert --steps 200 --out runs/bert-tiny
    python -m lmteach fill-mask runs/bert-tiny "To be or not to [MASK]"

Every shipped checkpoint is built by a named recipe (lmteach/recipes.py):
    python -m lmteach recipe list
    python -m lmteach recipe build bert-tiny

Under torchrun the same `train` command trains with DistributedDataParallel:
    torchrun --nproc_per_node 2 -m lmteach train --model gpt2 --batch-size 24 --out runs/gpt2-ddp
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

# Each family's pretraining objective and tokenizer, as in its paper.
DEFAULT_OBJECTIVE = {"gpt1": "clm", "gpt2": "clm", "bert": "mlm+nsp", "albert": "mlm+sop", "electra": "rtd"}
DEFAULT_TOKENIZER = {"gpt1": "byte_bpe", "gpt2": "byte_bpe", "bert": "wordpiece", "albert": "wordpiece",
                     "electra": "wordpiece"}
OBJECTIVES = ("clm", "mlm", "mlm+nsp", "mlm+sop", "rtd")
# Which objective fits which model head.
OBJECTIVE_FAMILIES = {"clm": ("gpt1", "gpt2"), "mlm": ("bert", "albert"), "mlm+nsp": ("bert", "albert"),
                      "mlm+sop": ("bert", "albert"), "rtd": ("electra",)}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m lmteach", description="Train and use small language models.")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("recipe", help="list or build the recipes of the shipped checkpoints "
                                       "(python -m lmteach recipe --help)")

    train = commands.add_parser("train", help="train a model and write a checkpoint folder")
    train.add_argument("--model", required=True, choices=list(DEFAULT_OBJECTIVE), help="model family")
    train.add_argument("--size", default="tiny", help="preset size (default tiny)")
    train.add_argument("--objective", choices=OBJECTIVES, help="default: the family's own (clm, mlm+nsp, ...)")
    train.add_argument("--corpus", help="a .txt file or folder of .txt files (default: the shipped Shakespeare)")
    train.add_argument("--tokenizer", choices=("char", "byte_bpe", "wordpiece"), help="default by family")
    train.add_argument("--vocab-size", type=int, help="train a tokenizer of this size instead of the shipped one")
    train.add_argument("--steps", type=int, default=200)
    train.add_argument("--batch-size", type=int, default=16, help="global batch size (split across processes)")
    train.add_argument("--seq-len", type=int, default=128)
    train.add_argument("--lr", type=float, default=1e-3)
    train.add_argument("--warmup", type=int, help="warmup steps (default 5%% of steps)")
    train.add_argument("--schedule", default="cosine", choices=("cosine", "linear", "constant"))
    train.add_argument("--weight-decay", type=float, default=0.01)
    train.add_argument("--seed", type=int, default=0)
    train.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, mps")
    train.add_argument("--precision", default="auto", help="auto (bf16 on CUDA), fp32 or bf16")
    train.add_argument("--compile", action="store_true", help="torch.compile the model")
    train.add_argument("--layers", type=int, help="override num_layers")
    train.add_argument("--hidden", type=int, help="override hidden_size")
    train.add_argument("--heads", type=int, help="override num_heads")
    train.add_argument("--ffn", type=int, help="override ffn_size (default 4 x hidden when --hidden is given)")
    train.add_argument("--dropout", type=float, help="override dropout and attention dropout")
    train.add_argument("--eval-every", type=int, help="evaluate every N steps (default steps / 5)")
    train.add_argument("--eval-batches", type=int, default=10)
    train.add_argument("--out", required=True, help="checkpoint folder to write")
    train.add_argument("--no-progress", action="store_true")

    sample = commands.add_parser("sample", help="generate text from a causal LM checkpoint")
    sample.add_argument("checkpoint")
    sample.add_argument("--prompt", default="\n")
    sample.add_argument("--tokens", type=int, default=100)
    sample.add_argument("--temperature", type=float, default=0.8)
    sample.add_argument("--top-k", type=int, default=40)
    sample.add_argument("--seed", type=int, default=0)
    sample.add_argument("--device", default="cpu")

    fill = commands.add_parser("fill-mask", help="guess the [MASK] tokens with a masked LM checkpoint")
    fill.add_argument("checkpoint")
    fill.add_argument("text")
    fill.add_argument("--top-k", type=int, default=5)
    fill.add_argument("--device", default="cpu")
    return parser


def _tokenizer(kind: str, text: str, vocab_size: int | None, shipped_corpus: bool):
    from lmteach.data.tokenization import load_default, train_tokenizer

    if shipped_corpus and vocab_size is None:
        try:
            return load_default(kind)
        except FileNotFoundError:
            pass  # not built yet: train one below
    return train_tokenizer(kind, text, vocab_size)


def train(args) -> Path:
    import torch

    import lmteach as lt
    from lmteach.data.corpus import load_corpus
    from lmteach.training import (Trainer, causal_lm_batches, distributed, electra_loss_fn, masked_lm_batches,
                                  plain_batches, tokenized_documents)

    distributed.setup()
    family = args.model
    objective = args.objective or DEFAULT_OBJECTIVE[family]
    if family not in OBJECTIVE_FAMILIES[objective]:
        raise SystemExit(f"objective {objective!r} does not fit a {family} model; "
                         f"{family} trains with {DEFAULT_OBJECTIVE[family]!r}")
    kind = args.tokenizer or DEFAULT_TOKENIZER[family]
    if objective != "clm" and kind != "wordpiece":
        raise SystemExit(f"objective {objective!r} needs [MASK]/[CLS]/[SEP] tokens: use --tokenizer wordpiece")

    corpus = load_corpus(args.corpus)
    # Whole plays (or documents of your own text) to one side only, the same split for every seed: the test
    # plays the lessons grade on are never trained on.
    parts = corpus.split_by_play()
    train_corpus, val_corpus = parts["train"], parts["validation"]
    tokenizer = _tokenizer(kind, train_corpus.text, args.vocab_size, shipped_corpus=args.corpus is None)

    overrides = {"vocab_size": tokenizer.vocab_size}
    if args.layers:
        overrides["num_layers"] = args.layers
    if args.hidden:
        overrides["hidden_size"] = args.hidden
        overrides["ffn_size"] = 4 * args.hidden
    if args.heads:
        overrides["num_heads"] = args.heads
    if args.ffn:
        overrides["ffn_size"] = args.ffn
    if args.dropout is not None:
        overrides["dropout"] = overrides["attention_dropout"] = args.dropout
    cfg = lt.configs.preset(family, args.size, **overrides)
    if args.seq_len > cfg.max_positions:
        cfg = cfg.replace(max_positions=args.seq_len)
    torch.manual_seed(args.seed)
    model = lt.build(cfg)

    def ids_of(text):
        return torch.tensor(tokenizer.encode(text), dtype=torch.long)

    def documents_of(part):
        # Speeches (paragraphs of your own text) packed into spans of half a sequence (BERT §3), by document.
        docs, groups = tokenized_documents(tokenizer, part, span_tokens=(args.seq_len - 3) // 2, speakers=True)
        if len(docs) < 2:
            # One text file is one document, but NSP needs others to draw "NotNext" segments from:
            # cut it into chunks of up to 8 spans.
            whole, _ = tokenized_documents(tokenizer, part, span_tokens=(args.seq_len - 3) // 2, min_segments=1)
            size = max(2, min(8, len(whole[0]) // 2)) if whole else 2
            docs = [chunk for d in whole for chunk in (d[i:i + size] for i in range(0, len(d), size))
                    if len(chunk) >= 2]
            groups = list(range(len(docs)))
        if len(docs) < 2:
            raise SystemExit(f"the {part.name} text has too few paragraphs for sentence-pair training; "
                             "use more text (paragraphs separated by blank lines) or --objective mlm")
        return docs, groups

    loss_fn = None
    if objective == "clm":
        make = lambda part, seed: causal_lm_batches(ids_of(part.text), args.seq_len, args.batch_size, seed)  # noqa
    elif objective == "mlm":
        make = lambda part, seed: masked_lm_batches(tokenizer, args.seq_len, args.batch_size,  # noqa
                                                    token_ids=ids_of(part.text), seed=seed)
    elif objective in ("mlm+nsp", "mlm+sop"):
        task = objective.split("+")[1]
        if cfg.pair_task != task:
            cfg = cfg.replace(pair_task=task)
            model = lt.build(cfg)
        def make(part, seed):
            docs, groups = documents_of(part)
            return masked_lm_batches(tokenizer, args.seq_len, args.batch_size, documents=docs, groups=groups,
                                     pair_task=task, seed=seed)
    else:
        make = lambda part, seed: plain_batches(tokenizer, args.seq_len, args.batch_size,  # noqa
                                                ids_of(part.text), seed)
        loss_fn = electra_loss_fn(tokenizer.mask_id, tokenizer.vocab_size, tokenizer.special_ids)
    if objective == "mlm" and cfg.pair_task is not None:
        model = lt.build(cfg, head="masked_lm")

    main = distributed.is_main_process()
    trainer = Trainer(model, make(train_corpus, args.seed), loss_fn, lr=args.lr, weight_decay=args.weight_decay,
                      warmup_steps=args.warmup if args.warmup is not None else max(1, args.steps // 20),
                      schedule=args.schedule, total_steps=args.steps, device=args.device, precision=args.precision,
                      compile=args.compile, seed=args.seed, eval_batches=make(val_corpus, args.seed + 1),
                      eval_every=args.eval_every or max(1, args.steps // 5), eval_steps=args.eval_batches,
                      tokenizer=tokenizer, progress=main and not args.no_progress)
    if main:
        trainer.on("eval", lambda e: print(f"step {e['step']}: val loss {e['val_loss']:.4f}", file=sys.stderr))
        print(f"training {family}-{args.size} ({objective}, {kind} tokenizer, vocab {tokenizer.vocab_size}) on "
              f"{trainer.device} x{distributed.world_size()}: {sum(p.numel() for p in model.parameters()):,} "
              f"parameters, {args.steps} steps", file=sys.stderr)
    trainer.run()
    trainer.save(args.out, extra={"objective": objective, "corpus": args.corpus or "shakespeare"})
    if main:
        print(f"saved {args.out} (train loss {trainer.history.losses[-1]:.4f}, "
              f"val loss {trainer.history.val_losses[-1]:.4f})")
    distributed.cleanup()
    return Path(args.out)


def _load(path: str, device: str):
    from lmteach.training import load_checkpoint

    try:
        model, info = load_checkpoint(path, device=device)
    except FileNotFoundError as error:
        raise SystemExit(f"error: {error}") from None
    if info["tokenizer_obj"] is None:
        raise SystemExit(f"error: the checkpoint {path} has no tokenizer saved with it")
    return model, info["tokenizer_obj"]


def sample(args):
    from lmteach.training.generate import sample as generate

    model, tokenizer = _load(args.checkpoint, args.device)
    try:
        text = generate(model, tokenizer, args.prompt, args.tokens, args.temperature, args.top_k, args.seed)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    print(text)


def fill_mask(args):
    from lmteach.training.generate import fill_mask as fill

    model, tokenizer = _load(args.checkpoint, args.device)
    try:
        answers = fill(model, tokenizer, args.text, args.top_k)
    except ValueError as error:
        raise SystemExit(f"error: {error}") from None
    for number, guesses in enumerate(answers, 1):
        print(f"[MASK] {number}:")
        for token, probability in guesses:
            print(f"  {token!r:>16}  {probability:.3f}")


def main(argv=None):
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["recipe"]:  # its own parser: python -m lmteach recipe list|build NAME
        from lmteach.recipes import main as recipe_main
        return recipe_main(argv[1:])
    args = _parser().parse_args(argv)
    {"train": train, "sample": sample, "fill-mask": fill_mask}[args.command](args)


if __name__ == "__main__":
    main()
