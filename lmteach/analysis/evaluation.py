"""Held-out measurements of a pretrained model, the same for the recipes that build the shipped checkpoints,
the lessons that use them and the tests that check them.

Every number here is measured on the held-out plays (`lmteach.data.corpus.PLAY_SPLIT`), which pretraining
never sees, with fixed seeds, so two models are always graded on the same masks, pairs and replacements.

    causal_lm_figures(model, tok, parts)            GPT: held-out loss vs a unigram and a bigram model
    masked_lm_figures(model, tok, docs, plays)      BERT/ALBERT: top-1 behind [MASK] (and per fate)
    pair_accuracy(model, tok, docs, plays, "nsp")   NSP or SOP accuracy of a pair head
    detection_figures(electra, tok, windows)        ELECTRA: generator top-1, discriminator AUC and recall
"""

from __future__ import annotations

import math
import random
from collections import Counter

import torch

from ..objectives import IGNORE_INDEX, make_nsp_batch, make_sop_batch, mask_tokens, replaced_token_detection
from ..training.batches import masked_lm_batches, step_generator

PAIR_BATCHES = {"nsp": make_nsp_batch, "sop": make_sop_batch}


class _EvalMode:
    """`with _EvalMode(model):` dropout off inside, the model's own mode restored after."""

    def __init__(self, model):
        self.model, self.was_training = model, model.training

    def __enter__(self):
        self.model.eval()
        return self.model

    def __exit__(self, *exc):
        self.model.train(self.was_training)


# --- counting baselines ---------------------------------------------------------------------------------------

def unigram_loss(train_ids, eval_ids, vocab_size: int) -> float:
    """Nats per token of a unigram model (add-one smoothed counts of the training tokens) on `eval_ids`,
    scoring every token but the first (as a causal LM does)."""
    counts = Counter(torch.as_tensor(train_ids).tolist())
    total = sum(counts.values()) + vocab_size
    tokens = torch.as_tensor(eval_ids).tolist()[1:]
    return -sum(math.log((counts[t] + 1) / total) for t in tokens) / len(tokens)


def bigram_loss(train_ids, eval_ids, vocab_size: int, unigram_weight: float = 0.3) -> float:
    """Nats per token of a bigram model (counts of training pairs, mixed with the add-one unigram so unseen pairs
    keep some probability) on `eval_ids`: what "predict from the previous token only" reaches."""
    train = torch.as_tensor(train_ids).tolist()
    pairs = Counter(zip(train, train[1:]))
    firsts = Counter(train[:-1])
    unigram = Counter(train)
    total = len(train) + vocab_size
    tokens = torch.as_tensor(eval_ids).tolist()
    loss = 0.0
    for previous, token in zip(tokens, tokens[1:]):
        p_unigram = (unigram[token] + 1) / total
        p_bigram = pairs[(previous, token)] / firsts[previous] if firsts[previous] else p_unigram
        loss -= math.log((1 - unigram_weight) * p_bigram + unigram_weight * p_unigram)
    return loss / (len(tokens) - 1)


# --- causal language models (GPT-1, GPT-2) --------------------------------------------------------------------

@torch.no_grad()
def causal_lm_loss(model, token_ids, seq_len: int = 128, max_windows: int = 400) -> float:
    """Mean nats per predicted token over consecutive windows of `token_ids` (each window predicts its own
    tokens 2..seq_len from the ones before)."""
    token_ids = torch.as_tensor(token_ids, dtype=torch.long)
    starts = list(range(0, len(token_ids) - seq_len, seq_len))[:max_windows]
    device = next(model.parameters()).device
    total = count = 0.0
    with _EvalMode(model):
        for i in range(0, len(starts), 32):
            windows = torch.stack([token_ids[s:s + seq_len] for s in starts[i:i + 32]]).to(device)
            loss = model(input_ids=windows, labels=windows).loss.item()
            predicted = windows.shape[0] * (seq_len - 1)
            total, count = total + loss * predicted, count + predicted
    return total / count


def causal_lm_figures(model, tokenizer, parts: dict, *, seq_len: int = 128, max_windows: int = 400) -> dict:
    """Held-out loss of a causal LM on the test plays, beside a unigram and a bigram model counted on the
    training plays' tokens. parts: `corpus.split_by_play()`."""
    train_ids = tokenizer.encode(parts["train"].text)
    test_ids = tokenizer.encode(parts["test"].text)
    scored = test_ids[:max_windows * seq_len + 1]
    loss = causal_lm_loss(model, test_ids, seq_len, max_windows)
    unigram = unigram_loss(train_ids, scored, tokenizer.vocab_size)
    bigram = bigram_loss(train_ids, scored, tokenizer.vocab_size)
    return {"test_loss": loss, "unigram_loss": unigram, "bigram_loss": bigram, "below_unigram": unigram - loss,
            "test_tokens": min(len(test_ids), max_windows * seq_len)}


# --- masked language models (BERT, ALBERT, ELECTRA's generator) ---------------------------------------------

def mlm_logits(model, batch) -> torch.Tensor:
    """[b, s, V] masked-LM logits of a BERT/ALBERT pretraining model, a MaskedLM, or an Electra's generator."""
    network = getattr(model, "generator", model)
    out = network(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                  token_type_ids=batch["token_type_ids"])
    return out.prediction_logits if out.prediction_logits is not None else out.logits


@torch.no_grad()
def masked_lm_figures(model, tokenizer, documents=None, groups=None, *, token_ids=None, seq_len: int = 128,
                      batches: int = 8, batch_size: int = 64, seed: int = 1234, rate: float = 0.15,
                      mix=(0.8, 0.1, 0.1)) -> dict:
    """Held-out masked-LM numbers with the same masks for every model (same seed, rate and mix), on
    [CLS] A [SEP] B [SEP] inputs of `documents`, or [CLS] window [SEP] inputs of a 1-D `token_ids` stream
    (give held-out ones).

    masked_accuracy: top-1 behind [MASK], the headline number. accuracy / loss: over every picked position.
    kept_accuracy: at picked-but-unchanged positions (the answer is in plain view). copy_accuracy: on clean
    input (no [MASK] anywhere, what fine-tuning feeds the model), how often the top guess at a token is that
    token. unigram_accuracy: always guessing the commonest token, at the same [MASK] positions."""
    if (documents is None) == (token_ids is None):
        raise ValueError("give either documents (sentence pairs) or token_ids (windows of text)")
    make = masked_lm_batches(tokenizer, seq_len, batch_size, documents=documents, groups=groups, token_ids=token_ids,
                             pair_task="nsp" if documents is not None else None, seed=seed, rate=rate, mix=mix)
    special = torch.tensor(sorted(tokenizer.special_ids))
    hits, counts, total_loss = Counter(), Counter(), 0.0
    answers = Counter()
    device = next(model.parameters()).device
    with _EvalMode(model):
        for step in range(batches):
            batch = {k: v.to(device) for k, v in make(step).items()}
            labels, corrupted = batch["labels"], batch["input_ids"]
            picked = labels != IGNORE_INDEX
            behind_mask = picked & (corrupted == tokenizer.mask_id)
            kept = picked & (corrupted == labels)
            logits = mlm_logits(model, batch).float()
            correct = (logits.argmax(-1) == labels) & picked
            total_loss += torch.nn.functional.cross_entropy(logits[picked], labels[picked], reduction="sum").item()
            for name, where in (("all", picked), ("masked", behind_mask), ("kept", kept)):
                hits[name] += int((correct & where).sum())
                counts[name] += int(where.sum())
            answers.update(labels[behind_mask].tolist())
            clean = torch.where(picked, labels, corrupted)
            real = batch["attention_mask"].bool() & ~torch.isin(clean, special.to(device))
            copy_guess = mlm_logits(model, {**batch, "input_ids": clean}).argmax(-1)
            hits["copy"] += int(((copy_guess == clean) & real).sum())
            counts["copy"] += int(real.sum())
    result = {"masked_accuracy": hits["masked"] / max(1, counts["masked"]),
              "accuracy": hits["all"] / max(1, counts["all"]), "loss": total_loss / max(1, counts["all"]),
              "kept_accuracy": hits["kept"] / max(1, counts["kept"]),
              "copy_accuracy": hits["copy"] / max(1, counts["copy"]),
              "unigram_accuracy": answers.most_common(1)[0][1] / counts["masked"] if answers else float("nan"),
              "masked_tokens": counts["masked"]}
    return result


@torch.no_grad()
def pair_accuracy(model, tokenizer, documents, groups=None, task: str = "nsp", *, pairs: int = 512,
                  seq_len: int = 128, seed: int = 99) -> float:
    """Accuracy of a model's pair head (NSP or SOP, whichever it has) on `pairs` held-out pairs of `task`.

    Both heads answer 0 for the natural pair (IsNext / in order) and 1 for the other (NotNext / swapped), so
    a head can be graded on the other task too, as ALBERT's Table 5 does: an NSP head asked about order
    answers at chance if it only learned topic."""
    if task not in PAIR_BATCHES:
        raise ValueError(f"task must be 'nsp' or 'sop', got {task!r}")
    rng = random.Random(seed)
    device = next(model.parameters()).device
    correct = done = 0
    with _EvalMode(model):
        while done < pairs:
            size = min(64, pairs - done)
            batch = PAIR_BATCHES[task](documents, size, rng, max_len=seq_len, cls_id=tokenizer.cls_id,
                                       sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id, groups=groups,
                                       random_truncation=True)
            out = model(input_ids=batch["input_ids"].to(device), attention_mask=batch["attention_mask"].to(device),
                        token_type_ids=batch["token_type_ids"].to(device))
            logits = out.seq_relationship_logits if out.seq_relationship_logits is not None else out.sop_logits
            correct += int((logits.argmax(-1).cpu() == batch["labels"]).sum())
            done += size
    return correct / pairs


# --- ELECTRA ------------------------------------------------------------------------------------------------

def roc_auc(scores: torch.Tensor, positive: torch.Tensor) -> float:
    """Probability that a random positive scores higher than a random negative (ties count half): 0.5 is
    chance, 1.0 a perfect ranking. Unlike accuracy at a threshold, it does not care how rare positives are."""
    scores, positive = scores.flatten().float().cpu(), positive.flatten().bool().cpu()
    order = scores.argsort()
    ranks = torch.empty_like(scores)
    ranks[order] = torch.arange(1, len(scores) + 1, dtype=scores.dtype)
    values, inverse, counts = scores.unique(return_inverse=True, return_counts=True)
    if (counts > 1).any():  # average the ranks of tied scores
        rank_sums = torch.zeros_like(values).index_add_(0, inverse, ranks)
        ranks = (rank_sums / counts)[inverse]
    n_pos, n_neg = int(positive.sum()), int((~positive).sum())
    if n_pos == 0 or n_neg == 0:
        return float("nan")
    return float((ranks[positive].sum() - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg))


def text_windows(tokenizer, token_ids, count: int = 128, seq_len: int = 128, seed: int = 123) -> torch.Tensor:
    """`count` windows [CLS] text [SEP] of a 1-D token stream, [count, seq_len], drawn reproducibly."""
    token_ids = torch.as_tensor(token_ids, dtype=torch.long)
    starts = torch.randint(len(token_ids) - seq_len, (count,), generator=step_generator(seed, 0, "windows"))
    body = token_ids[starts[:, None] + torch.arange(seq_len - 2)]
    return torch.cat([torch.full((count, 1), tokenizer.cls_id), body, torch.full((count, 1), tokenizer.sep_id)], 1)


@torch.no_grad()
def detection_figures(model, tokenizer, windows: torch.Tensor, *, seed: int = 0, rate: float = 0.15,
                      temperature: float = 1.0) -> dict:
    """Replaced-token detection of an `Electra` model on held-out `windows` [n, seq], two ways:

    own: the model's generator fills 15% masks, sampling from softmax(logits / temperature) (pass the
        temperature it trained with, to grade it on what it trained on). generator_accuracy: its top guess is the
        original; replaced_fraction: samples that differ from the original.
    random: the same positions get uniformly random ordinary tokens instead (a control the generator cannot
        shape: a discriminator that learned "frequent token = replaced" fails it).
    For each: ROC AUC, recall of replaced tokens at probability 0.5, and precision there."""
    special = sorted(tokenizer.special_ids)
    device = next(model.parameters()).device
    windows = windows.to(device)
    figures = {}
    with _EvalMode(model):
        own = replaced_token_detection(model.generator, model.discriminator, windows, mask_id=tokenizer.mask_id,
                                       vocab_size=tokenizer.vocab_size, special_ids=special, rate=rate,
                                       temperature=temperature, rng=torch.Generator().manual_seed(seed))
        figures["generator_accuracy"] = own.generator_accuracy()
        figures["replaced_fraction"] = own.replaced_fraction()
        # The control: the same masked positions, filled with random tokens.
        random_fill = mask_tokens(windows, mask_id=tokenizer.mask_id, vocab_size=tokenizer.vocab_size,
                                  special_ids=special, rate=rate, mask_fraction=0.0, random_fraction=1.0,
                                  generator=torch.Generator().manual_seed(seed))
        corrupted = random_fill.input_ids
        replaced = corrupted != windows
        random_logits = model.discriminator(input_ids=corrupted, attention_mask=torch.ones_like(corrupted)).logits
        real = ~torch.isin(windows, torch.tensor(special, device=device))
        for name, logits, target in (("own", own.discriminator_logits, own.is_replaced),
                                     ("random", random_logits, replaced)):
            logits, target = logits[real], target[real]
            said = logits > 0
            figures[f"auc_{name}"] = roc_auc(logits, target)
            figures[f"recall_{name}"] = float(said[target].float().mean()) if target.any() else float("nan")
            figures[f"precision_{name}"] = float(target[said].float().mean()) if said.any() else float("nan")
    return figures


def mean_figures(reports: list[dict]) -> dict:
    """The mean of each number over several reports (e.g. several seeds)."""
    return {key: sum(r[key] for r in reports) / len(reports) for key in reports[0]}

