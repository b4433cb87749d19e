"""Lesson 04 (GPT-2): what LayerNorm placement does, and scoring a language model zero-shot.

    gradient_norms_at_init(cfg, batches)      Xiong et al. (2020) Figure 3: |dL/dW| of each layer's FFN at init
    activation_norms(model, input_ids)        size of the residual stream after every block (GPT-2 §2.3)
    short_run_losses(cfg, batches, lr=...)    a short training run's losses, for the warmup experiment
    continuation_scores(model, tok, ...)      GPT-2 §3: zero-shot by scoring continuations with the LM
    multiple_choice_zero_shot(model, tok, examples)   accuracy on a multiple-choice task, no fine-tuning

Shapes: b = batch, s = sequence, H = hidden size, V = vocabulary.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..configs import ModelConfig
from ..models import build
from ..training.smoothing import final_loss  # noqa: F401  (the lesson reads it from here too)

FFN_WEIGHTS = ("feed_forward.up.weight", "feed_forward.down.weight")


def gradient_norms_at_init(cfg: ModelConfig, batches, num_batches: int = 4, seeds=(0,),
                           weights: tuple[str, ...] = FFN_WEIGHTS) -> dict[int, float]:
    """Gradient norm of each layer's FFN weight matrices at initialization: {layer index: norm}.

    Xiong et al. (2020) §3.3 and Figure 3: for post-LN the expected gradient of the last layers' FFN weights
    is large (it grows toward the output), for pre-LN it does not grow with depth.
    batches: `batch(step) -> {"input_ids", "labels"}` (e.g. causal_lm_batches). For each seed in `seeds` a
    fresh model is built; the norm of the gradient of the loss is averaged over `num_batches` batches and over
    the seeds (one small model is noisy). Dropout is off so only the architecture speaks. Several weight
    names are combined as sqrt(sum of squares).
    """
    totals = [0.0] * cfg.num_layers
    runs = len(seeds) * num_batches
    for seed in seeds:
        torch.manual_seed(seed)
        model = build(cfg.replace(dropout=0.0, attention_dropout=0.0), head="causal_lm")
        for step in range(num_batches):
            model.zero_grad(set_to_none=True)
            model(**batches(step)).loss.backward()
            for i, layer in enumerate(model.body.layers):
                parameters = dict(layer.named_parameters())
                squares = sum(float(parameters[name].grad.norm()) ** 2 for name in weights)
                totals[i] += math.sqrt(squares) / runs
    return dict(enumerate(totals))


def output_to_input_ratio(norms_by_layer: dict[int, float], fraction: float = 0.25) -> float:
    """Mean of the last `fraction` of layers over the mean of the first `fraction` (1 = flat; > 1: the
    numbers grow toward the output). Averaging a quarter of the layers at each end steadies a noisy curve."""
    values = [norms_by_layer[k] for k in sorted(norms_by_layer)]
    k = max(1, round(len(values) * fraction))
    return (sum(values[-k:]) / k) / (sum(values[:k]) / k)


@torch.no_grad()
def activation_norms(model, input_ids: torch.Tensor) -> dict:
    """Mean per-token L2 norm of the residual stream, [b, s, H] -> one number per depth.

    Returns {"embeddings": norm, 0: norm after block 0, ..., L-1: ..., "final_norm": norm after GPT-2's final
    LayerNorm (only if the model has one)}. Read with forward hooks, because the model's `hidden_states`
    replace the last block's output by the final norm's.
    """
    body = model.body
    captured = {}
    hooks = [layer.register_forward_hook(lambda module, inputs, output, i=i: captured.__setitem__(i, output[0]))
             for i, layer in enumerate(body.layers)]
    hooks.append(body.embeddings.register_forward_hook(
        lambda module, inputs, output: captured.__setitem__("embeddings", output)))
    was_training = model.training
    model.eval()
    try:
        out = body(input_ids)
    finally:
        model.train(was_training)
        for hook in hooks:
            hook.remove()
    # Shared layers (ALBERT) run several times; the hook keeps the last call, so read depths from the order.
    norms = {"embeddings": float(captured["embeddings"].norm(dim=-1).mean())}
    for i in range(len(body.layers)):
        norms[i] = float(captured[i].norm(dim=-1).mean())
    if body.final_norm is not None:
        norms["final_norm"] = float(out.last_hidden_state.norm(dim=-1).mean())
    return norms


def short_run_losses(cfg: ModelConfig, batches, *, lr: float, warmup_steps: int, steps: int, seed: int = 0,
                     schedule: str = "constant") -> list[float]:
    """Train a fresh causal LM for `steps` steps and return its training losses (NaN from divergence on).

    For the warmup experiment (Xiong et al. 2020 §3): the same seed gives the same initial weights and the
    same batches to every config, so two runs differ only in what the config changes.
    """
    from ..training import Trainer, TrainingDiverged

    torch.manual_seed(seed)
    model = build(cfg, head="causal_lm")
    trainer = Trainer(model, batches, lr=lr, warmup_steps=warmup_steps, schedule=schedule, total_steps=steps,
                      device="cpu", seed=seed, progress=False)
    try:
        trainer.run()
    except TrainingDiverged:
        pass
    losses = list(trainer.history.losses)
    return losses + [math.nan] * (steps - len(losses))


# ---------------------------------------------------------------------------------------------------------------
# Zero-shot (GPT-2 §3): no fine-tuning, the task is posed as text and the LM's own probabilities decide.
# ---------------------------------------------------------------------------------------------------------------

def _window(context_ids: list[int], continuation_ids: list[int], max_positions: int,
            max_continuation: int) -> tuple[list[int], int]:
    """context + continuation, cut to fit the model: the continuation keeps its start, the context its end."""
    continuation_ids = continuation_ids[:max_continuation]
    context_ids = context_ids[-(max_positions - len(continuation_ids)):]
    return context_ids + continuation_ids, len(context_ids)


@torch.no_grad()
def continuation_scores(model, tokenizer, context: str, continuations: list[str], separator: str = "\n\n",
                        max_continuation: int = 48) -> list[float]:
    """Mean log-probability per token of each continuation given the context: one float per continuation.

    GPT-2 §3 scores answers by the LM's probability of them; the mean (not the sum) over tokens keeps long
    and short answers comparable. Only the continuation's tokens are scored, never the context's.
    """
    max_positions = model.cfg.max_positions
    context_ids = tokenizer.encode(context + separator)
    rows, starts = [], []
    for continuation in continuations:
        ids, start = _window(context_ids, tokenizer.encode(continuation), max_positions, max_continuation)
        rows.append(ids)
        starts.append(start)
    width = max(len(r) for r in rows)
    # Right padding is harmless: with a causal mask no real position ever attends to a later pad.
    input_ids = torch.tensor([r + [0] * (width - len(r)) for r in rows])
    was_training = model.training
    model.eval()
    try:
        logits = model(input_ids).logits.float()  # [choices, s, V]
    finally:
        model.train(was_training)
    log_probs = F.log_softmax(logits[:, :-1], dim=-1)  # position t predicts token t+1
    picked = log_probs.gather(-1, input_ids[:, 1:, None]).squeeze(-1)  # [choices, s-1]
    scores = []
    for row, (ids, start) in enumerate(zip(rows, starts)):
        # tokens start .. len(ids)-1 are the continuation; token t is predicted at position t-1
        scores.append(float(picked[row, start - 1:len(ids) - 1].mean()))
    return scores


def multiple_choice_zero_shot(model, tokenizer, examples: list[dict], method: str = "mean",
                              separator: str = "\n\n", neutral_context: str = "") -> dict:
    """Zero-shot accuracy on a multiple-choice task ({"context", "choices", "label"} examples).

    method "mean": pick the choice with the highest mean log-probability given the context.
    method "pmi":  subtract each choice's score under a neutral context (an empty prompt), so a choice that is
                   merely likely text everywhere does not win (pointwise mutual information with the context).
    Returns {"accuracy", "predictions", "labels", "chance"}.
    """
    if method not in ("mean", "pmi"):
        raise ValueError(f"method must be 'mean' or 'pmi', got {method!r}")
    predictions, labels = [], []
    for example in examples:
        scores = continuation_scores(model, tokenizer, example["context"], example["choices"], separator)
        if method == "pmi":
            alone = continuation_scores(model, tokenizer, neutral_context, example["choices"], separator)
            scores = [s - a for s, a in zip(scores, alone)]
        predictions.append(max(range(len(scores)), key=scores.__getitem__))
        labels.append(int(example["label"]))
    correct = sum(p == y for p, y in zip(predictions, labels))
    chance = sum(1 / len(e["choices"]) for e in examples) / max(1, len(examples))
    return {"accuracy": correct / max(1, len(examples)), "predictions": predictions, "labels": labels,
            "chance": chance}


def binomial_margin(chance: float, n: int, sigmas: float = 2.0) -> float:
    """How far above chance an accuracy over n examples must be to not be luck: sigmas * sqrt(p(1-p)/n)."""
    return sigmas * math.sqrt(chance * (1 - chance) / max(1, n))


# ---------------------------------------------------------------------------------------------------------------
# GPT-2's byte-level BPE rule (§2.2): no merges across character categories.
# ---------------------------------------------------------------------------------------------------------------

def punctuation_variants(result) -> list[str]:
    """The merged tokens of a trained BPE (`lmteach.data.bpe.train_bpe`) that glue letters to punctuation, such
    as " lord," or " lord." (shown readable): vocabulary spent on variants of one word, which GPT-2's rule of
    never merging across character categories prevents (§2.2: "dog." "dog!" "dog?")."""
    import unicodedata

    from ..data.bpe import readable

    def categories(text):
        return {unicodedata.category(ch)[0] for ch in text if not ch.isspace()}

    variants = []
    for left, right in result.merges:
        token = readable(left + right)
        kinds = categories(token)
        if "L" in kinds and "P" in kinds:
            variants.append(token)
    return variants


def with_foreign_contexts(examples: list[dict], shift: int = 1) -> list[dict]:
    """The same multiple-choice examples, each given the context of another example (the control of a
    zero-shot claim: if the model really reads the context, a context that belongs elsewhere must not help)."""
    n = len(examples)
    return [{**example, "context": examples[(i + shift) % n]["context"]} for i, example in enumerate(examples)]


# ---------------------------------------------------------------------------------------------------------------
# Why WebText was curated (§2.1): the same compute spent on text with web boilerplate mixed in.
# ---------------------------------------------------------------------------------------------------------------

WEB_JUNK = ("Click here to subscribe to our newsletter!", "Copyright 2019 All rights reserved. Privacy Policy | Terms",
            "Share on Facebook Share on Twitter Share by Email", "http://www.example.com/index.php?page=2&id=8841",
            "Cookies help us deliver our services. By using our services, you agree to our use of cookies.",
            "Home | About | Contact | Sitemap | Login | Register", "Posted by admin at 10:42 AM 0 comments",
            "Loading... Please enable JavaScript to view the comments.")


def with_web_junk(text: str, share: float = 0.5, seed: int = 0) -> str:
    """`text` with `share` of its lines replaced by web boilerplate (menus, cookie notices, share buttons, URLs):
    a caricature of an unfiltered web crawl, the "significant data quality issues" GPT-2 §2.1 avoided by building
    WebText from links people had found worth sharing."""
    import random

    if not 0 <= share < 1:
        raise ValueError(f"share must be in [0, 1), got {share}")
    rng = random.Random(seed)
    lines = text.split("\n")
    return "\n".join(rng.choice(WEB_JUNK) if line and rng.random() < share else line for line in lines)


def train_causal_lm(cfg: ModelConfig, token_ids, *, steps: int, seq_len: int = 64, batch_size: int = 16,
                    lr: float = 2e-3, seed: int = 0):
    """A fresh causal LM trained `steps` steps on random windows of `token_ids` (warmup 10%, cosine); returns it."""
    from ..training import Trainer, causal_lm_batches

    torch.manual_seed(seed)
    model = build(cfg, head="causal_lm")
    Trainer(model, causal_lm_batches(token_ids, seq_len, batch_size, seed), lr=lr, warmup_steps=max(1, steps // 10),
            total_steps=steps, device="cpu", seed=seed, progress=False).run()
    return model.eval()
