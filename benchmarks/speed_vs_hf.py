"""Training speed of lmteach vs Hugging Face transformers, same weights, same data, same optimizer.

    python benchmarks/speed_vs_hf.py                 # both benchmarks, 2 torch threads
    python benchmarks/speed_vs_hf.py --steps 20 --only gpt2

For each model the HF one is built with random weights, lmteach's copy comes from `lt.from_hf`, and both
train with AdamW at the same learning rate on the same fixed batches, in train mode (dropout as configured).
The two take turns step by step (who goes first alternates), so a slow patch of the machine hurts both
alike; the first --warmup steps are not timed. Prints tokens/s for each and the ratio lmteach / HF.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")

import torch  # noqa: E402
import transformers  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
import lmteach as lt  # noqa: E402

MASK_ID = 4  # any id works as [MASK] for random-weight models


def gpt2_setup(generator):
    config = transformers.GPT2Config(vocab_size=8192, n_positions=128, n_embd=384, n_layer=6, n_head=6,
                                     bos_token_id=0, eos_token_id=0)
    hf_model = transformers.GPT2LMHeadModel(config)  # default attention implementation (sdpa)
    batch, seq = 8, 128
    ids = torch.randint(0, 8192, (batch, seq), generator=generator)
    return hf_model, {"input_ids": ids, "labels": ids}, batch * seq


def bert_setup(generator):
    config = transformers.BertConfig(vocab_size=8192, max_position_embeddings=128, hidden_size=256,
                                     num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024)
    hf_model = transformers.BertForMaskedLM(config)
    batch, seq = 16, 128
    ids = torch.randint(5, 8192, (batch, seq), generator=generator)
    # BERT §3.1: predict 15% of the tokens; here they are simply replaced by [MASK].
    chosen = torch.rand(batch, seq, generator=generator) < 0.15
    labels = ids.masked_fill(~chosen, -100)
    return hf_model, {"input_ids": ids.masked_fill(chosen, MASK_ID), "labels": labels}, batch * seq


BENCHMARKS = {
    "gpt2": ("GPT-2 causal LM: 6 layers, width 384, 6 heads, seq 128, batch 8, vocab 8192", gpt2_setup),
    "bert": ("BERT masked LM: 4 layers, width 256, 4 heads, seq 128, batch 16, vocab 8192", bert_setup),
}


def loss_of(model, batch):
    return model(input_ids=batch["input_ids"], labels=batch["labels"]).loss


def train_step(model, optimizer, batch):
    """One AdamW step; returns (wall seconds, CPU seconds of this process)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    optimizer.zero_grad(set_to_none=True)
    loss_of(model, batch).backward()
    optimizer.step()
    return time.perf_counter() - start, time.process_time() - start_cpu


def run(name, steps, warmup, lr):
    title, setup = BENCHMARKS[name]
    generator = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    hf_model, batch, tokens = setup(generator)
    ours = lt.from_hf(hf_model)
    print(f"\n{title}")
    print(f"  HF attention implementation: {hf_model.config._attn_implementation}")

    # Step 0 without dropout: the same weights must give the same loss.
    hf_model.eval(), ours.eval()
    with torch.no_grad():
        hf_loss, our_loss = loss_of(hf_model, batch).item(), loss_of(ours, batch).item()
    print(f"  step-0 loss (eval, no dropout): HF {hf_loss:.6f}  lmteach {our_loss:.6f}  "
          f"|diff| {abs(hf_loss - our_loss):.2e}")

    hf_model.train(), ours.train()
    contestants = {"HF": (hf_model, torch.optim.AdamW(hf_model.parameters(), lr=lr)),
                   "lmteach": (ours, torch.optim.AdamW(ours.parameters(), lr=lr))}
    times = {key: [] for key in contestants}
    for step in range(warmup + steps):
        order = list(contestants) if step % 2 == 0 else list(reversed(contestants))
        for key in order:
            model, optimizer = contestants[key]
            seconds = train_step(model, optimizer, batch)
            if step >= warmup:
                times[key].append(seconds)
    # Median wall time is the headline; on a shared machine the fastest step and the CPU time a step
    # consumed are steadier, so they are printed too.
    wall = {key: [w for w, _ in values] for key, values in times.items()}
    cpu = {key: [c for _, c in values] for key, values in times.items()}
    speed = {key: tokens / statistics.median(wall[key]) for key in contestants}
    best = {key: tokens / min(wall[key]) for key in contestants}
    for key in contestants:
        print(f"  {key:8s} {speed[key]:8.0f} tokens/s median, {best[key]:8.0f} best   ({steps} steps: median "
              f"{statistics.median(wall[key]) * 1000:.0f} ms, min {min(wall[key]) * 1000:.0f} ms, CPU "
              f"{statistics.median(cpu[key]) * 1000:.0f} ms/step)")
    with torch.no_grad():
        hf_model.eval(), ours.eval()
        print(f"  loss after {warmup + steps} steps (eval): HF {loss_of(hf_model, batch).item():.4f}  "
              f"lmteach {loss_of(ours, batch).item():.4f}  (dropout masks differ, so these drift apart a little)")
    print(f"  ratio lmteach / HF: {speed['lmteach'] / speed['HF']:.3f} (median wall), "
          f"{best['lmteach'] / best['HF']:.3f} (best wall), "
          f"{statistics.median(cpu['HF']) / statistics.median(cpu['lmteach']):.3f} (CPU time)")
    return speed["lmteach"] / speed["HF"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--steps", type=int, default=12, help="timed steps per model")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first")
    parser.add_argument("--threads", type=int, default=2, help="torch.set_num_threads")
    parser.add_argument("--lr", type=float, default=1e-4)
    parser.add_argument("--only", choices=list(BENCHMARKS), help="run one benchmark")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {args.threads} threads, "
          f"{os.cpu_count()} CPUs")
    for name in [args.only] if args.only else list(BENCHMARKS):
        run(name, args.steps, args.warmup, args.lr)


if __name__ == "__main__":
    main()
