"""Benchmark: nanoGPT's shakespeare_char CPU recipe, trained with lmteach's Trainer.

nanoGPT (README, "I only have a macbook"):
    python train.py config/train_shakespeare_char.py --device=cpu --compile=False --eval_iters=20
        --log_interval=1 --block_size=64 --batch_size=12 --n_layer=4 --n_head=4 --n_embd=128
        --max_iters=2000 --lr_decay_iters=2000 --dropout=0.0
reports a validation loss of 1.88 after about 3 minutes on a laptop CPU. The rest of that config:
lr 1e-3 with cosine decay to 1e-4 (min_lr), 100 warmup iterations, AdamW betas (0.9, 0.99),
weight decay 0.1, gradient clipping at 1.0.

Here: the same model shape as a GPT-2-style lmteach model (pre-LN, final norm, tied embeddings; unlike
nanoGPT it keeps biases), characters of the lmteach Shakespeare corpus, a 90/10 split by whole scenes.
The loss is nanoGPT's: 64 characters of context, 64 next-character predictions per window.

    OMP_NUM_THREADS=2 python benchmarks/nanogpt_shakespeare_char.py [--steps 2000] [--threads 2]
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

import lmteach as lt
from lmteach.data.corpus import load_corpus
from lmteach.data.tokenization import train_tokenizer
from lmteach.training import Trainer, causal_lm_batches

NANOGPT_VAL_LOSS = 1.88
NANOGPT_SECONDS = 180


def next_char_loss(model, batch):
    """nanoGPT's loss: windows of block_size + 1 characters; inputs are the first block_size, targets the
    last block_size, so every one of the block_size positions is scored."""
    window = batch["input_ids"]
    logits = model(input_ids=window[:, :-1]).logits
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), window[:, 1:].reshape(-1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--eval-batches", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1337)
    parser.add_argument("--profile", action="store_true", help="profile 20 steps and print the top ops")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    corpus = load_corpus()
    train_corpus, val_corpus = corpus.split(0.9)
    tokenizer = train_tokenizer("char", corpus.text)
    train_ids = torch.tensor(tokenizer.encode(train_corpus.text))
    val_ids = torch.tensor(tokenizer.encode(val_corpus.text))
    block_size, batch_size = 64, 12
    cfg = lt.configs.gpt2("tiny", vocab_size=tokenizer.vocab_size, max_positions=block_size, num_layers=4,
                          num_heads=4, hidden_size=128, ffn_size=512, dropout=0.0, attention_dropout=0.0)
    torch.manual_seed(args.seed)
    model = lt.build(cfg)
    trainer = Trainer(model, causal_lm_batches(train_ids, block_size + 1, batch_size, seed=args.seed),
                      next_char_loss, lr=1e-3, min_lr_ratio=0.1, warmup_steps=100, schedule="cosine",
                      total_steps=args.steps, betas=(0.9, 0.99), weight_decay=0.1, grad_clip=1.0,
                      device="cpu", seed=args.seed, progress=False)
    print(f"corpus: lmteach Shakespeare ({len(corpus.text):,} chars, {tokenizer.vocab_size} symbols incl. "
          f"specials); nanoGPT used Karpathy's tinyshakespeare (1.1M chars, 65 symbols): same author, "
          f"different cut, so the numbers compare only roughly")
    print(f"train {len(train_ids):,} chars, val {len(val_ids):,} chars; model "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.2f}M parameters; {torch.get_num_threads()} threads")

    if args.profile:
        from torch.profiler import ProfilerActivity, profile
        for _ in range(5):
            trainer.step()
        with profile(activities=[ProfilerActivity.CPU]) as prof:
            for _ in range(20):
                trainer.step()
        print(prof.key_averages().table(sort_by="self_cpu_time_total", row_limit=25))
        return

    every = max(1, args.steps // 10)
    trainer.on("step", lambda e: print(f"step {e['step']:5d}  loss {e['loss']:.4f}  lr {e['lr']:.2e}  "
                                       f"{e['tokens_per_s']:,.0f} tok/s") if e["step"] % every == 0 else None)
    started, cpu_started = time.perf_counter(), time.process_time()
    trainer.run()
    train_seconds = time.perf_counter() - started
    cpu_seconds = time.process_time() - cpu_started  # shows what a busy (shared) machine hides

    val_batches = causal_lm_batches(val_ids, block_size + 1, batch_size, seed=args.seed + 1)
    model.eval()
    with torch.no_grad():
        val_loss = sum(next_char_loss(model, val_batches(i)).item()
                       for i in range(args.eval_batches)) / args.eval_batches
    smoothed = trainer.history.smoothed(100)[-1]
    print(f"\ntrain loss (last 100 steps) {smoothed:.4f}")
    print(f"val loss (mean of {args.eval_batches} batches of {batch_size}x{block_size}) {val_loss:.4f}")
    print(f"training wall time {train_seconds:.1f} s for {args.steps} steps "
          f"({train_seconds / args.steps * 1000:.1f} ms/step); CPU time {cpu_seconds:.1f} s "
          f"(= {cpu_seconds / torch.get_num_threads():.1f} s of wall time on {torch.get_num_threads()} idle cores)")
    ok = val_loss <= NANOGPT_VAL_LOSS and train_seconds <= NANOGPT_SECONDS
    print(f"bar (nanoGPT): val loss <= {NANOGPT_VAL_LOSS} in <= {NANOGPT_SECONDS} s -> "
          f"{'MET' if ok else 'MISSED'}")


if __name__ == "__main__":
    main()
