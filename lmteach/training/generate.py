"""Using a trained model: sample text from a causal LM, fill in [MASK] with a masked LM.

    sample(model, tokenizer, "ROMEO:", max_new_tokens=100, temperature=0.8, top_k=40, seed=0)
    fill_mask(model, tokenizer, "To be or not to [MASK]", top_k=5)
"""

from __future__ import annotations

import torch

from ..models.transformer import CausalLM, Electra, Gpt1ForTask, MaskedLM, MaskedLMWithPairHead

MASK_TEXT = "[MASK]"


def _device_of(model) -> torch.device:
    return next(model.parameters()).device


@torch.no_grad()
def sample(model, tokenizer, prompt: str, max_new_tokens: int = 100, temperature: float = 1.0,
           top_k: int | None = None, seed: int | None = 0) -> str:
    """Continue `prompt` one token at a time: softmax(logits / temperature), keep the top_k most likely,
    draw one. Returns the prompt plus the new text. Once the text is longer than the model's positions,
    only the last max_positions tokens are fed back (as nanoGPT does)."""
    if not isinstance(model, (CausalLM, Gpt1ForTask)):
        raise ValueError(f"sampling needs a causal (GPT-style) language model, got {type(model).__name__}; "
                         "for BERT-style models use fill_mask")
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature} (use a small value like 0.1 for near-greedy)")
    ids = tokenizer.encode(prompt)
    if not ids:
        start = getattr(tokenizer, "bos_id", None)
        if start is None:
            raise ValueError("the prompt is empty; give at least one character to start from")
        ids = [start]
    max_positions = model.cfg.max_positions
    if len(ids) > max_positions:
        raise ValueError(f"the prompt is {len(ids)} tokens but the model has only {max_positions} positions; "
                         "shorten the prompt")
    generator = torch.Generator(device=_device_of(model))
    if seed is not None:
        generator.manual_seed(seed)
    was_training = model.training
    model.eval()
    tokens = torch.tensor([ids], device=_device_of(model))
    # Never sample padding, [MASK], [UNK] and the like; GPT-2's end-of-text token may be sampled.
    banned = sorted(set(getattr(tokenizer, "special_ids", ())) - {getattr(tokenizer, "eos_id", None)})
    for _ in range(max_new_tokens):
        context = tokens[:, -max_positions:]
        logits = model(input_ids=context).prediction_logits if isinstance(model, Gpt1ForTask) else \
            model(input_ids=context).logits
        logits = logits[0, -1].float() / temperature
        logits[banned] = float("-inf")
        if top_k is not None and top_k < logits.shape[-1]:
            kth_best = torch.topk(logits, top_k).values[-1]
            logits = logits.masked_fill(logits < kth_best, float("-inf"))
        next_id = torch.multinomial(logits.softmax(-1), 1, generator=generator)
        tokens = torch.cat([tokens, next_id[None]], dim=1)
    model.train(was_training)
    return tokenizer.decode(tokens[0].tolist())


def _mlm_logits(model, input_ids):
    """Vocabulary logits [1, s, V] from any model with a masked-LM head."""
    if isinstance(model, MaskedLMWithPairHead):
        return model(input_ids=input_ids).prediction_logits
    if isinstance(model, MaskedLM):
        return model(input_ids=input_ids).logits
    if isinstance(model, Electra):  # the generator is ELECTRA's masked LM
        return model.generator(input_ids=input_ids).logits
    raise ValueError(f"fill-mask needs a model with a masked-LM head (BERT, ALBERT, ELECTRA's generator); "
                     f"got {type(model).__name__}" + (" - a causal LM: use sample instead"
                                                     if isinstance(model, CausalLM) else ""))


@torch.no_grad()
def fill_mask(model, tokenizer, text: str, top_k: int = 5) -> list[list[tuple[str, float]]]:
    """For every [MASK] in `text`, the top_k (token, probability) guesses, most likely first."""
    if getattr(tokenizer, "mask_id", None) is None:
        raise ValueError("this tokenizer has no [MASK] token")
    if MASK_TEXT not in text:
        raise ValueError(f"the text has no {MASK_TEXT}; write e.g. 'To be or not to {MASK_TEXT}'")
    if not isinstance(model, (MaskedLMWithPairHead, MaskedLM, Electra)):
        _mlm_logits(model, None)  # raises the explanation
    # Encode the pieces between the masks, so the tokenizer never has to parse "[MASK]" itself.
    ids = [] if getattr(tokenizer, "cls_id", None) is None else [tokenizer.cls_id]
    pieces = text.split(MASK_TEXT)
    for i, piece in enumerate(pieces):
        if piece.strip():
            ids += tokenizer.encode(piece.strip())
        if i < len(pieces) - 1:
            ids.append(tokenizer.mask_id)
    if getattr(tokenizer, "sep_id", None) is not None:
        ids.append(tokenizer.sep_id)
    if len(ids) > model.cfg.max_positions:
        raise ValueError(f"the text is {len(ids)} tokens but the model has only {model.cfg.max_positions} "
                         "positions; shorten it")
    was_training = model.training
    model.eval()
    input_ids = torch.tensor([ids], device=_device_of(model))
    probs = _mlm_logits(model, input_ids)[0].float().softmax(-1)
    model.train(was_training)
    answers = []
    for position in (input_ids[0] == tokenizer.mask_id).nonzero().flatten().tolist():
        best = torch.topk(probs[position], top_k)
        answers.append([(tokenizer.id_to_token(int(i)) or tokenizer.decode([int(i)]), float(p))
                        for p, i in zip(best.values, best.indices)])
    return answers
