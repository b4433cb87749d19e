"""Pretrain the two tiny ALBERTs that lesson 05 cross-evaluates (ALBERT Table 5), into data/checkpoints/sop-nsp/.

    python data/checkpoints/sop-nsp/pretrain.py --task nsp --steps 300 --threads 1
    python data/checkpoints/sop-nsp/pretrain.py --task sop --steps 300 --threads 1

Both are the same tiny ALBERT (all layers shared, E=64, post-LN) trained the same way on the training scenes of
the Shakespeare corpus: masked LM plus one sentence-pair task on [CLS] A [SEP] B [SEP], where A and B are
speeches. NSP (BERT §3.1): B follows A, or is a speech from another scene. SOP (ALBERT §3.1, "inter-sentence
coherence loss"): A and B are two consecutive speeches, in order or swapped. Each run writes <out>/<task>/ with
fp16 weights (well under 3 MB) and prints the pair-head accuracy on both tasks, on held-out scenes, as it goes.
"""

import argparse
import time
from pathlib import Path

import torch

import lmteach as lt
from lmteach.analysis.layer_similarity import cross_evaluate, pair_eval_set, tokenized_documents
from lmteach.data.corpus import load_corpus
from lmteach.data.tokenization import load_default
from lmteach.training import Trainer, save_checkpoint
from lmteach.training.batches import masked_lm_batches

HERE = Path(__file__).resolve().parent


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", choices=("nsp", "sop"), required=True)
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--batch-size", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=48)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--warmup", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--eval-every", type=int, default=250)
    parser.add_argument("--out", default=str(HERE))
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    tokenizer = load_default("wordpiece")
    train, held_out = load_corpus().split()  # whole scenes: the evaluation scenes are never trained on
    train_docs = tokenized_documents(train.documents, tokenizer)
    held_out_docs = tokenized_documents(held_out.documents, tokenizer)
    eval_sets = {"NSP": pair_eval_set(held_out_docs, tokenizer, "nsp", size=512, max_len=args.seq_len),
                 "SOP": pair_eval_set(held_out_docs, tokenizer, "sop", size=512, max_len=args.seq_len)}

    cfg = lt.configs.albert("tiny", vocab_size=tokenizer.vocab_size, max_positions=args.seq_len,
                            pair_task=args.task)
    model = lt.build(cfg)  # MaskedLMWithPairHead: MLM + the pair head on the pooled [CLS]
    batches = masked_lm_batches(tokenizer, args.seq_len, args.batch_size, documents=train_docs,
                                pair_task=args.task, seed=args.seed)
    trainer = Trainer(model, batches, lr=args.lr, warmup_steps=args.warmup, total_steps=args.steps, device="cpu",
                      seed=args.seed, progress=False)
    started = time.perf_counter()
    accuracies = {}

    def report(event):
        if event["step"] % args.eval_every == args.eval_every - 1 or event["step"] == args.steps - 1:
            accuracies.update(cross_evaluate({"model": model}, eval_sets)["model"])
            print(f"step {event['step'] + 1:5d}  loss {event['loss']:.3f}  held-out NSP acc {accuracies['NSP']:.3f}"
                  f"  SOP acc {accuracies['SOP']:.3f}  {time.perf_counter() - started:6.0f} s", flush=True)

    trainer.on("step", report)
    trainer.run()
    seconds = time.perf_counter() - started
    history = {"events": [{"event": "step", "step": s, "loss": round(l, 4)}
                          for s, l in zip(trainer.history.steps, trainer.history.losses)]}
    command = "python data/checkpoints/sop-nsp/pretrain.py " + " ".join(
        f"--{k.replace('_', '-')} {v}" for k, v in vars(args).items() if k not in ("out", "eval_every"))
    out = Path(args.out) / args.task
    save_checkpoint(out, model.half(), tokenizer=tokenizer, step=trainer.step_count, history=history,
                    extra={"seconds": round(seconds), "threads": args.threads, "batch_size": args.batch_size,
                           "seq_len": args.seq_len, "lr": args.lr, "warmup": args.warmup, "seed": args.seed,
                           "held_out_accuracy": {k: round(v, 4) for k, v in accuracies.items()},
                           "command": command})
    print(f"saved to {out} after {seconds:.0f} s")


if __name__ == "__main__":
    main()
