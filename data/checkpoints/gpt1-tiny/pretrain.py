"""Pretrain the tiny GPT-1 that lesson 01 fine-tunes, and write it to data/checkpoints/gpt1-tiny/.

    python data/checkpoints/gpt1-tiny/pretrain.py --steps 1200 --threads 1

GPT-1 §3.1: a causal language model (post-LN, GELU) trained on contiguous text; byte-level BPE with GPT-1's
three fine-tuning tokens <start>, <delim>, <extract> added (they stay untrained until fine-tuning, §3.3).
Weights are stored in fp16 so the checkpoint stays under 3 MB; load_checkpoint casts them back to fp32.
"""

import argparse
import shutil
import tempfile
import time
from pathlib import Path

import torch

import lmteach as lt
from lmteach.data.corpus import load_corpus
from lmteach.data.tokenization import load_default
from lmteach.training import Trainer, causal_lm_batches, save_checkpoint

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1200)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tokenizer = load_default("byte_bpe", gpt1_specials=True)
    corpus = load_corpus()
    train_ids = torch.tensor(tokenizer.encode(corpus.train_text))
    val_ids = torch.tensor(tokenizer.encode(corpus.val_text))
    cfg = lt.configs.gpt1("tiny", vocab_size=tokenizer.vocab_size, max_positions=args.seq_len)
    model = lt.build(cfg)
    trainer = Trainer(model, causal_lm_batches(train_ids, args.seq_len, args.batch_size, seed=args.seed),
                      lr=args.lr, warmup_steps=args.warmup, total_steps=args.steps, device="cpu", seed=args.seed,
                      eval_batches=causal_lm_batches(val_ids, args.seq_len, args.batch_size, seed=args.seed + 1),
                      eval_every=200, eval_steps=10, progress=False)
    started = time.perf_counter()
    trainer.on("eval", lambda e: print(f"step {e['step']:5d}  val loss {e['val_loss']:.3f}  "
                                       f"{time.perf_counter() - started:6.0f} s", flush=True))
    trainer.run()
    seconds = time.perf_counter() - started
    # Keep only the numbers a lesson plots (per-step gradient norms would make config.json large).
    steps, losses = trainer.history.steps, trainer.history.losses
    history = {"events": [{"event": "step", "step": s, "loss": round(l, 4)} for s, l in zip(steps, losses)]
               + [{"event": "eval", "step": s, "val_loss": round(v, 4)}
                  for s, v in zip(trainer.history.val_steps, trainer.history.val_losses)]}
    # save_checkpoint replaces a whole folder; this one also holds this script and its README, so the
    # checkpoint is written beside it and its files copied in.
    staging = Path(tempfile.mkdtemp()) / "gpt1-tiny"
    save_checkpoint(staging, model.half(), tokenizer=tokenizer, step=trainer.step_count, history=history,
                    extra={"seconds": round(seconds), "threads": args.threads, "batch_size": args.batch_size,
                           "seq_len": args.seq_len, "lr": args.lr, "warmup": args.warmup, "seed": args.seed,
                           "final_val_loss": round(trainer.history.val_losses[-1], 4),
                           "command": "python data/checkpoints/gpt1-tiny/pretrain.py " + " ".join(
                               f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k != "out")})
    Path(args.out).mkdir(parents=True, exist_ok=True)
    for file in staging.iterdir():
        shutil.copy(file, Path(args.out) / file.name)
    shutil.rmtree(staging.parent)
    print(f"saved to {args.out} after {seconds:.0f} s; final validation loss {trainer.history.val_losses[-1]:.3f}")


if __name__ == "__main__":
    main()
