"""ELECTRA's replaced-token detection (Clark et al. 2020, §2, Figure 2).

1. Mask ~15% of the tokens (all picked positions become [MASK]).
2. A small *generator* (a masked LM) predicts the masked tokens; we *sample*
   a token from its softmax at every masked position.
3. The sampled tokens are put back: this is the corrupted input.
4. The *discriminator* sees the corrupted input and says, for **every**
   position, "original" or "replaced" (Eq. 1). Learning from all positions
   instead of 15% is why ELECTRA is so sample-efficient (§3.5).

Loss (§2, end): ``L_MLM(generator) + λ · L_Disc``, λ = 50, because the
discriminator's per-token binary loss is much smaller than the generator's
cross-entropy over the vocabulary.

Not a GAN: the generator is trained by maximum likelihood only. Sampling is
discrete, so no gradient could flow from the discriminator back into the
generator anyway, and ELECTRA does not try to (no REINFORCE, §2 and §3.2).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .masking import mask_tokens

DISCRIMINATOR_WEIGHT = 50.0
"""λ of ELECTRA §2."""


@dataclass
class ElectraStep:
    """Everything one replaced-token-detection step produced.

    Scalars: ``loss``, ``generator_loss``, ``discriminator_loss``.
    ``[batch, seq]``: ``original_ids``, ``masked_ids`` (generator input),
    ``corrupted_ids`` (discriminator input), ``is_replaced`` (bool target),
    ``masked_positions`` (bool), ``discriminator_logits``, ``attention_mask``.
    ``generator_logits``: ``[n_masked, vocab]``, the generator's logits at the masked positions only.
    """

    loss: torch.Tensor
    generator_loss: torch.Tensor
    discriminator_loss: torch.Tensor
    original_ids: torch.Tensor
    masked_ids: torch.Tensor
    corrupted_ids: torch.Tensor
    is_replaced: torch.Tensor
    generator_logits: torch.Tensor
    discriminator_logits: torch.Tensor
    masked_positions: torch.Tensor
    attention_mask: torch.Tensor

    @torch.no_grad()
    def discriminator_predictions(self) -> torch.Tensor:
        """Bool ``[batch, seq]``: where the discriminator says "replaced" (logit > 0)."""
        return self.discriminator_logits > 0

    @torch.no_grad()
    def discriminator_accuracy(self) -> float:
        """Fraction of non-padding positions the discriminator labels correctly."""
        real = self.attention_mask.bool()
        correct = self.discriminator_predictions() == self.is_replaced
        return correct[real].float().mean().item()

    @torch.no_grad()
    def replaced_recall(self) -> float:
        """Fraction of replaced tokens the discriminator catches (NaN if none were replaced)."""
        replaced = self.is_replaced & self.attention_mask.bool()
        if not replaced.any():
            return float("nan")
        return self.discriminator_predictions()[replaced].float().mean().item()

    @torch.no_grad()
    def generator_accuracy(self) -> float:
        """Fraction of masked positions where the generator's top guess is the original token."""
        guesses = self.generator_logits.argmax(dim=-1)
        return (guesses == self.original_ids[self.masked_positions]).float().mean().item()

    @torch.no_grad()
    def replaced_fraction(self) -> float:
        """Fraction of masked positions whose sample differs from the original."""
        return self.is_replaced[self.masked_positions].float().mean().item()


def replaced_token_detection(
    generator: nn.Module,
    discriminator: nn.Module,
    input_ids: torch.Tensor,
    *,
    mask_id: int,
    vocab_size: int,
    special_ids: Iterable[int] | torch.Tensor,
    attention_mask: torch.Tensor | None = None,
    token_type_ids: torch.Tensor | None = None,
    rate: float = 0.15,
    disc_weight: float = DISCRIMINATOR_WEIGHT,
    temperature: float = 1.0,
    rng: torch.Generator | None = None,
) -> ElectraStep:
    """One ELECTRA pretraining step's forward pass and loss for ``input_ids [batch, seq]``.

    generator(input_ids=, attention_mask=, token_type_ids=, labels=) must return
    an object with ``.logits [batch, seq, vocab]`` (or, as lmteach's MaskedLM does in training,
    ``.picked_logits [n_masked, vocab]`` only) and ``.loss`` (the MLM loss;
    if ``.loss`` is None it is computed here from the logits).
    discriminator(input_ids=, attention_mask=, token_type_ids=) must return an
    object with ``.logits [batch, seq]``.
    rng: ``torch.Generator`` for the masking and the sampling (named ``rng``
    because ``generator`` is the generator network).

    Every sequence with at least one real token gets at least one [MASK]
    (see :func:`mask_tokens`); a batch with no real tokens at all has a NaN
    generator loss.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if disc_weight < 0:
        raise ValueError(f"disc_weight must be >= 0, got {disc_weight}")
    input_ids = input_ids.long()
    if attention_mask is None:
        attention_mask = torch.ones_like(input_ids)

    # 1. ELECTRA replaces every picked token by [MASK] (no 10% random / 10% kept).
    masked = mask_tokens(
        input_ids,
        mask_id=mask_id,
        vocab_size=vocab_size,
        special_ids=special_ids,
        rate=rate,
        mask_fraction=1.0,
        random_fraction=0.0,
        attention_mask=attention_mask,
        generator=rng,
    )
    masked_positions = masked.selected

    # 2. The generator is an ordinary masked LM, trained by maximum likelihood.
    generator_out = generator(
        input_ids=masked.input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids, labels=masked.labels
    )
    generator_logits = getattr(generator_out, "picked_logits", None)
    if generator_logits is None:
        generator_logits = generator_out.logits[masked_positions]  # [n_masked, vocab]
    generator_loss = getattr(generator_out, "loss", None)
    if generator_loss is None:
        generator_loss = F.cross_entropy(generator_logits.float(), masked.labels[masked_positions])

    # 3. Sample replacements without gradient: the generator is NOT trained to
    #    fool the discriminator (this is not a GAN, §2); it only gets the MLM loss.
    with torch.no_grad():
        probs = F.softmax(generator_logits.float() / temperature, dim=-1)
        if rng is not None and rng.device != probs.device:  # a CPU generator drives GPU sampling via the CPU
            sampled = torch.multinomial(probs.cpu(), num_samples=1, generator=rng).squeeze(1).to(probs.device)
        else:
            sampled = torch.multinomial(probs, num_samples=1, generator=rng).squeeze(1)
    corrupted_ids = input_ids.clone()
    corrupted_ids[masked_positions] = sampled

    # A sample that happens to equal the original counts as "original" (§2):
    # the discriminator cannot possibly tell, so it would be an unfair target.
    is_replaced = masked_positions & (corrupted_ids != input_ids)

    # 4. The discriminator classifies every position.
    discriminator_logits = discriminator(
        input_ids=corrupted_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
    ).logits
    if discriminator_logits.dim() == 3 and discriminator_logits.shape[-1] == 1:
        discriminator_logits = discriminator_logits.squeeze(-1)
    real = attention_mask.bool()
    discriminator_loss = F.binary_cross_entropy_with_logits(
        discriminator_logits[real], is_replaced[real].to(discriminator_logits.dtype)
    )

    loss = generator_loss + disc_weight * discriminator_loss
    return ElectraStep(
        loss=loss,
        generator_loss=generator_loss,
        discriminator_loss=discriminator_loss,
        original_ids=input_ids,
        masked_ids=masked.input_ids,
        corrupted_ids=corrupted_ids,
        is_replaced=is_replaced,
        generator_logits=generator_logits,
        discriminator_logits=discriminator_logits,
        masked_positions=masked_positions,
        attention_mask=attention_mask,
    )
