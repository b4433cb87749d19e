"""The CUDA path in one short run: what a lab machine with a GPU does differently, checked and timed.

    python benchmarks/gpu_check.py            # on a machine with CUDA; on a CPU it runs the same steps in fp32

For each family's tiny preset it trains a few steps through the real Trainer (device="auto": CUDA when present,
bf16 autocast, fused AdamW), checks the loss is finite and falls, and prints tokens/s. It then compares one GPT-2
forward in bf16 autocast with fp32 (the difference a student would see), runs ELECTRA's objective with its CPU
random generator on the GPU tensors, and, where torch.compile works, times a compiled model against the eager one.
Every figure is printed side by side; nothing is asserted about speed.
"""

from __future__ import annotations

import argparse
import time

import torch

import lmteach as lt
from lmteach.data.tokenization import load_default
from lmteach.training import Trainer, causal_lm_batches, electra_loss_fn, masked_lm_batches


def train_briefly(model, batches, loss_fn=None, steps=30, compile=False):
    trainer = Trainer(model, batches, loss_fn, lr=1e-3, warmup_steps=3, total_steps=steps, progress=False,
                      compile=compile)
    started = time.perf_counter()
    trainer.run()
    seconds = time.perf_counter() - started
    losses = trainer.history.losses
    return trainer, seconds, losses


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    device = "cuda" if torch.cuda.is_available() else "cpu"
    print(f"torch {torch.__version__}, device {device}"
          + (f" ({torch.cuda.get_device_name(0)})" if device == "cuda" else " (no CUDA: CPU fp32 path)"))

    wordpiece, byte_bpe = load_default("wordpiece"), load_default("byte_bpe")
    corpus = lt.load_corpus()
    text = corpus.text[:300_000]
    gpt_ids = torch.tensor(byte_bpe.encode(text))
    bert_ids = torch.tensor(wordpiece.encode(text))

    runs = {
        "gpt1": (lt.configs.gpt1("tiny", vocab_size=byte_bpe.vocab_size), causal_lm_batches(gpt_ids, 128, 32), None),
        "gpt2": (lt.configs.gpt2("tiny", vocab_size=byte_bpe.vocab_size), causal_lm_batches(gpt_ids, 128, 32), None),
        "bert": (lt.configs.bert("tiny", vocab_size=wordpiece.vocab_size),
                 masked_lm_batches(wordpiece, 128, 32, token_ids=bert_ids), None),
        "albert": (lt.configs.albert("tiny", vocab_size=wordpiece.vocab_size),
                   masked_lm_batches(wordpiece, 128, 32, token_ids=bert_ids), None),
        "electra": (lt.configs.electra("tiny", vocab_size=wordpiece.vocab_size),
                    masked_lm_batches(wordpiece, 128, 32, token_ids=bert_ids),
                    electra_loss_fn(wordpiece.mask_id, wordpiece.vocab_size, wordpiece.special_ids)),
    }
    print(f"\n{'family':8s} {'precision':10s} {'first loss':>10s} {'last loss':>10s} {'tokens/s':>12s}")
    for family, (cfg, batches, loss_fn) in runs.items():
        # BERT and ALBERT train their masked LM here (pair tasks need documents; the lessons cover them).
        head = "masked_lm" if family in ("bert", "albert") else "pretraining"
        torch.manual_seed(0)
        model = lt.build(cfg, head=head)
        trainer, seconds, losses = train_briefly(model, batches, loss_fn, steps=args.steps)
        tokens = args.steps * 32 * 128
        precision = str(trainer.autocast_dtype).replace("torch.", "") if trainer.autocast_dtype else "float32"
        ok = all(torch.isfinite(torch.tensor(losses))) and sum(losses[-5:]) / 5 < losses[0]
        print(f"{family:8s} {precision:10s} {losses[0]:10.3f} {sum(losses[-5:]) / 5:10.3f} {tokens / seconds:12,.0f}"
              + ("" if ok else "   <-- loss did not fall or was not finite"))

    # bf16 vs fp32 on the same weights: how far apart the logits are.
    torch.manual_seed(0)
    model = lt.build(lt.configs.gpt2("tiny", vocab_size=byte_bpe.vocab_size, dropout=0.0)).to(device).eval()
    ids = gpt_ids[:128][None].to(device)
    with torch.no_grad():
        fp32 = model(ids).logits.float()
        with torch.autocast(device_type=device, dtype=torch.bfloat16, enabled=device == "cuda"):
            low = model(ids).logits.float()
    print(f"\nGPT-2 tiny logits, bf16 autocast vs fp32: max |diff| {float((fp32 - low).abs().max()):.3e} "
          f"(0 on CPU, where autocast is off)")

    # torch.compile, where it works here.
    try:
        torch.manual_seed(0)
        eager = lt.build(lt.configs.gpt2("tiny", vocab_size=byte_bpe.vocab_size))
        _, eager_s, _ = train_briefly(eager, causal_lm_batches(gpt_ids, 128, 32), steps=args.steps)
        torch.manual_seed(0)
        compiled = lt.build(lt.configs.gpt2("tiny", vocab_size=byte_bpe.vocab_size))
        _, compiled_s, compiled_losses = train_briefly(compiled, causal_lm_batches(gpt_ids, 128, 32),
                                                        steps=args.steps, compile=True)
        print(f"torch.compile GPT-2 tiny: {args.steps} steps eager {eager_s:.2f} s, compiled {compiled_s:.2f} s "
              f"(compile time included), final loss {compiled_losses[-1]:.3f}")
    except Exception as error:  # compile needs a C++/Triton toolchain; say so instead of failing the whole check
        print(f"torch.compile unavailable here: {type(error).__name__}: {str(error)[:200]}")


if __name__ == "__main__":
    main()
