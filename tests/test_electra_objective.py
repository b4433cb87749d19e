"""Tests for ELECTRA's replaced-token detection (lmteach.objectives.electra)."""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmteach.objectives import DISCRIMINATOR_WEIGHT, replaced_token_detection

PAD, CLS, SEP, MASK = 0, 1, 2, 3
SPECIAL = {PAD, CLS, SEP, MASK}
VOCAB = 20


class TinyGenerator(nn.Module):
    """Embedding + linear masked LM with the Hugging Face calling convention."""

    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8)
        self.out = nn.Linear(8, VOCAB)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        logits = self.out(self.embed(input_ids))
        loss = F.cross_entropy(logits.reshape(-1, VOCAB), labels.reshape(-1), ignore_index=-100)
        return SimpleNamespace(logits=logits, loss=loss)


class TinyDiscriminator(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, 8)
        self.out = nn.Linear(8, 1)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        return SimpleNamespace(logits=self.out(self.embed(input_ids)).squeeze(-1))


class FixedGenerator(nn.Module):
    """Always (almost surely) samples ``token`` — to control what gets replaced."""

    def __init__(self, token: int):
        super().__init__()
        self.token = token
        self.scale = nn.Parameter(torch.tensor(1.0))

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None):
        logits = torch.full((*input_ids.shape, VOCAB), -1e4)
        logits[..., self.token] = 0.0
        return SimpleNamespace(logits=logits * self.scale, loss=self.scale * 2.0)


def make_batch():
    ids = torch.tensor(
        [
            [CLS, 5, 6, 7, 8, 9, 10, 11, SEP, PAD, PAD, PAD],
            [CLS, 12, 13, 14, 15, 16, 17, 18, 19, 5, 6, SEP],
        ]
    )
    return ids, (ids != PAD).long()


def run(generator, discriminator, rate=0.3, seed=0, **kwargs):
    ids, attention_mask = make_batch()
    return replaced_token_detection(
        generator,
        discriminator,
        ids,
        mask_id=MASK,
        vocab_size=VOCAB,
        special_ids=SPECIAL,
        attention_mask=attention_mask,
        rate=rate,
        rng=torch.Generator().manual_seed(seed),
        **kwargs,
    )


def test_masking_and_corruption_shapes():
    torch.manual_seed(0)
    step = run(TinyGenerator(), TinyDiscriminator())
    ids, attention_mask = make_batch()
    masked = step.masked_positions
    # ELECTRA masks every picked position with [MASK]: no random/kept cases.
    assert (step.masked_ids[masked] == MASK).all()
    assert torch.equal(step.masked_ids[~masked], ids[~masked])
    assert masked.sum(dim=1).tolist() == [2, 3]  # round(0.3 * 7), round(0.3 * 10)
    assert not masked[attention_mask == 0].any()
    # The corrupted input differs from the original only at masked positions.
    assert torch.equal(step.corrupted_ids[~masked], ids[~masked])
    assert torch.equal(step.is_replaced, masked & (step.corrupted_ids != ids))
    assert step.generator_logits.shape == (int(masked.sum()), VOCAB)  # only the masked positions
    assert step.discriminator_logits.shape == (2, 12)


def test_sample_equal_to_original_is_not_replaced():
    # Token 5 appears once in each row; the generator always samples 5.
    step = run(FixedGenerator(token=5), TinyDiscriminator(), rate=1.0)
    ids, _ = make_batch()
    assert (step.corrupted_ids[step.masked_positions] == 5).all()
    originally_five = step.masked_positions & (ids == 5)
    assert originally_five.sum() == 2
    assert not step.is_replaced[originally_five].any()
    assert step.is_replaced[step.masked_positions & (ids != 5)].all()
    assert step.replaced_fraction() == pytest.approx(1 - 2 / 17)


def test_no_gradient_from_discriminator_into_generator():
    torch.manual_seed(0)
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    step = run(generator, discriminator)
    step.discriminator_loss.backward()
    assert all(p.grad is None for p in generator.parameters())
    assert all(p.grad is not None for p in discriminator.parameters())

    # The total loss gives the generator exactly the gradient of its own MLM loss.
    generator.zero_grad()
    step = run(generator, discriminator)
    step.loss.backward()
    total_grad = [p.grad.clone() for p in generator.parameters()]
    generator.zero_grad()
    step = run(generator, discriminator)
    step.generator_loss.backward()
    for from_total, from_mlm in zip(total_grad, (p.grad for p in generator.parameters())):
        assert torch.allclose(from_total, from_mlm)


def test_loss_weighting_and_padding_ignored():
    torch.manual_seed(0)
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    step = run(generator, discriminator)
    assert DISCRIMINATOR_WEIGHT == 50.0
    assert step.loss.item() == pytest.approx(step.generator_loss.item() + 50.0 * step.discriminator_loss.item())
    step_10 = run(generator, discriminator, disc_weight=10.0)
    assert step_10.loss.item() == pytest.approx(step_10.generator_loss.item() + 10.0 * step_10.discriminator_loss.item())

    real = step.attention_mask.bool()
    by_hand = F.binary_cross_entropy_with_logits(step.discriminator_logits[real], step.is_replaced[real].float())
    assert step.discriminator_loss.item() == pytest.approx(by_hand.item())
    # Changing the discriminator's output at padding positions does not change the loss.
    class PaddingSensitive(TinyDiscriminator):
        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            out = super().forward(input_ids)
            return SimpleNamespace(logits=out.logits + 100.0 * (attention_mask == 0))
    shifted = PaddingSensitive()
    shifted.load_state_dict(discriminator.state_dict())
    step_shifted = run(generator, shifted)
    assert step_shifted.discriminator_loss.item() == pytest.approx(step.discriminator_loss.item())


def test_accuracy_helpers():
    # Generator always samples 4 (never in the text): every masked token is replaced.
    step = run(FixedGenerator(token=4), TinyDiscriminator(), rate=0.3)
    assert step.replaced_fraction() == 1.0
    assert step.generator_accuracy() == 0.0
    assert 0.0 <= step.discriminator_accuracy() <= 1.0
    predictions = torch.where(step.is_replaced, 5.0, -5.0)
    step.discriminator_logits = predictions
    assert step.discriminator_accuracy() == 1.0
    assert step.replaced_recall() == 1.0


def test_fixed_seed_reproducible():
    torch.manual_seed(0)
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    a = run(generator, discriminator, seed=3)
    b = run(generator, discriminator, seed=3)
    assert torch.equal(a.corrupted_ids, b.corrupted_ids)
    assert a.loss.item() == b.loss.item()


def test_bad_temperature():
    with pytest.raises(ValueError, match="temperature"):
        run(TinyGenerator(), TinyDiscriminator(), temperature=0.0)


def test_temperature_reshapes_the_generator_samples():
    """softmax(logits / T): a tiny T samples the generator's top guess, a huge one samples near uniformly."""
    torch.manual_seed(0)
    generator, discriminator = TinyGenerator(), TinyDiscriminator()
    ids, _ = make_batch()
    with torch.no_grad():
        top_guess = generator.out(generator.embed(torch.full_like(ids, MASK))).argmax(-1)  # every [MASK] alike
    cold = [run(generator, discriminator, rate=0.5, seed=s, temperature=1e-3) for s in range(20)]
    for step in cold:
        assert torch.equal(step.corrupted_ids[step.masked_positions], top_guess[step.masked_positions])
    hot = [run(generator, discriminator, rate=0.5, seed=s, temperature=1e3) for s in range(20)]
    drawn = torch.cat([step.corrupted_ids[step.masked_positions] for step in hot])
    # Near uniform over the 20 ids: far more distinct tokens than the one a cold generator draws.
    assert len(set(drawn.tolist())) >= 15
