"""Train the shipped gpt2-tiny checkpoint (stand-in for `python -m lmteach train`, which is not in the tree yet).
Trains on the Shakespeare corpus minus the plays held out for the tasks' validation and test splits, so the
zero-shot evaluation on next_speech/test uses plays the model never read."""
import copy, sys, time, torch
import lmteach as lt
from lmteach.data.corpus import load_corpus
from lmteach.data.tasks import task_info
from lmteach.data.tokenization import load_default
from lmteach.training import Trainer, causal_lm_batches, save_checkpoint

torch.set_num_threads(int(sys.argv[2]) if len(sys.argv) > 2 else 1)
steps = int(sys.argv[1]) if len(sys.argv) > 1 else 1500
out = sys.argv[3] if len(sys.argv) > 3 else "/work/main/data/checkpoints/gpt2-tiny"
held_out = {p for plays in task_info("next_speech")["plays"].values() for p in plays}
corpus = load_corpus()
keep = [i for i, w in enumerate(corpus.document_works) if w not in held_out]
text = corpus._subset(keep, "train").text
tok = load_default("byte_bpe")
ids = torch.tensor(tok.encode(text))
print("training tokens", len(ids), "works", len({corpus.document_works[i] for i in keep}), flush=True)
cfg = lt.configs.gpt2("tiny", vocab_size=tok.vocab_size)
model = lt.build(cfg)
trainer = Trainer(model, causal_lm_batches(ids, 128, 16, seed=0), lr=1e-3, warmup_steps=100, total_steps=steps,
                  device="cpu", seed=0, progress=False, tokenizer=tok)
start = time.time()
def log(e):
    if e["step"] % 50 == 0:
        print(e["step"], round(e["loss"], 3), round(time.time() - start), flush=True)
    if e["step"] + 1 == 200:
        save_checkpoint(out + "-step200", copy.deepcopy(trainer.model).half(), tokenizer=tok, step=200)
trainer.on("step", log)
trainer.run()
print("seconds", round(time.time() - start), "final loss", sum(trainer.history.losses[-50:]) / 50, flush=True)
save_checkpoint(out, model.half(), tokenizer=tok, step=steps,
                extra={"seconds": round(time.time() - start), "train_loss_last50": sum(trainer.history.losses[-50:]) / 50})
