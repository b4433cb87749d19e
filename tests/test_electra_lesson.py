"""Lesson 06 (ELECTRA): where the discriminator's gradient arrives, swapping the generator, the generator-size
sweep, the walk-through widget and the exercises.

Replaced-token detection itself (`detection_figures`, `roc_auc`) is tested in tests/test_evaluation.py, the FLOP
counter against PyTorch's in tests/test_compute.py, fine-tuning in tests/test_finetune.py and the shipped
checkpoints in tests/test_shipped_checkpoints.py."""

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.analysis.compute import training_flops
from lmteach.analysis.evaluation import text_windows
from lmteach.data.tokenization import load_default
from lmteach.lessons import electra as lesson
from lmteach.widgets.electra_walkthrough import ElectraWalkthrough, walk_through


@pytest.fixture(scope="module")
def tok():
    return load_default("wordpiece")


def tiny_cfg(tok, **overrides):
    return lt.configs.electra("tiny", vocab_size=tok.vocab_size, hidden_size=32, num_layers=1, num_heads=2,
                              ffn_size=64, embedding_size=16, max_positions=64, **overrides)


@pytest.fixture(scope="module")
def small_electra(tok):
    torch.manual_seed(0)
    return lt.build(tiny_cfg(tok)).eval()


@pytest.fixture(scope="module")
def stream(tok):
    return torch.randint(5, tok.vocab_size, (4000,), generator=torch.Generator().manual_seed(0))


@pytest.fixture(scope="module")
def windows(tok, stream):
    return text_windows(tok, stream, count=8, seq_len=24)


# --- not a GAN (§2) -----------------------------------------------------------------------------------------------

def test_no_gradient_reaches_the_generator_from_the_discriminator_loss(tok, small_electra, windows):
    reach = lesson.gradient_reach(small_electra, tok, windows)
    assert reach["generator weights with a gradient"] == 0
    assert reach["generator (own weights)"] == 0.0
    assert reach["discriminator (own weights)"] > 0 and reach["shared embeddings"] > 0
    assert all(p.grad is None for p in small_electra.parameters())  # cleaned up afterwards


def test_gradient_reach_counts_what_a_backward_pass_leaves(tok, small_electra, windows):
    """The control: the generator's *own* (MLM) loss does reach the generator; the measurement sees it."""
    from lmteach.objectives import replaced_token_detection

    step = replaced_token_detection(small_electra.generator, small_electra.discriminator, windows,
                                    mask_id=tok.mask_id, vocab_size=tok.vocab_size,
                                    special_ids=sorted(tok.special_ids), rng=torch.Generator().manual_seed(0))
    step.generator_loss.backward()
    shared = {id(p) for p in small_electra.discriminator.body.embeddings.parameters()}
    own = [p for p in small_electra.generator.parameters() if id(p) not in shared]
    assert sum(p.grad is not None for p in own) > 0
    small_electra.zero_grad(set_to_none=True)
    # and gradient_reach's norm is the norm of the discriminator-loss gradient, computed by hand
    reach = lesson.gradient_reach(small_electra, tok, windows, seed=4)
    again = replaced_token_detection(small_electra.generator, small_electra.discriminator, windows,
                                     mask_id=tok.mask_id, vocab_size=tok.vocab_size,
                                     special_ids=sorted(tok.special_ids), rng=torch.Generator().manual_seed(4))
    again.discriminator_loss.backward()
    by_hand = sum(float(p.grad.pow(2).sum()) for p in small_electra.discriminator.body.embeddings.parameters()
                  if p.grad is not None) ** 0.5
    small_electra.zero_grad(set_to_none=True)
    assert reach["shared embeddings"] == pytest.approx(by_hand, rel=1e-5)


# --- the generator's size (§3.2) ----------------------------------------------------------------------------------

def test_with_generator_size_keeps_the_discriminator(tok, small_electra):
    before = {k: v.clone() for k, v in small_electra.state_dict().items()}
    bigger = lesson.with_generator_size(small_electra, 1.0)
    assert bigger.generator.cfg.hidden_size == small_electra.cfg.hidden_size
    assert small_electra.generator.cfg.hidden_size < small_electra.cfg.hidden_size
    for (name, a), (_, b) in zip(small_electra.discriminator.state_dict().items(),
                                 bigger.discriminator.state_dict().items()):
        assert torch.equal(a, b), name
    # the new generator reads the same (copied) embeddings, and the original model is unchanged
    assert bigger.generator.body.embeddings is bigger.discriminator.body.embeddings
    assert all(torch.equal(v, before[k]) for k, v in small_electra.state_dict().items())
    assert bigger.training == small_electra.training


def test_generator_sweep_trains_one_electra_per_size(tok, stream, windows):
    rows = lesson.generator_sweep(tok, stream, windows, fractions=(0.25, 1.0), steps=2, batch_size=4, seq_len=16,
                                  eval_seeds=(0,))
    assert [r["fraction"] for r in rows] == [0.25, 1.0]
    for row in rows:
        assert type(row["model"]).__name__ == "Electra"
        assert row["model"].generator.cfg.hidden_size == int(row["fraction"] * row["model"].cfg.hidden_size)
        assert row["flops"] == training_flops(row["model"].cfg, 2, 4, 16)  # the one counter, the run's settings
        assert 0.0 <= row["auc_own"] <= 1.0 and 0.0 <= row["generator_accuracy"] <= 1.0
    assert rows[1]["flops"] > rows[0]["flops"]  # a bigger generator costs more per step
    assert lesson.sweep_png(rows)[:4] == b"\x89PNG"


# --- the walk-through widget -------------------------------------------------------------------------------------

def test_walk_through_stages_line_up(tok, small_electra):
    result = walk_through(small_electra, tok, "To be, or not to be", rate=0.3, seed=1)
    n = len(result["original"])
    assert all(len(result[k]) == n for k in ("masked", "sampled", "is_masked", "is_replaced", "p_replaced"))
    for i in range(n):
        assert (result["masked"][i] == "[MASK]") == result["is_masked"][i]
        assert result["is_replaced"][i] == (result["sampled"][i] != result["original"][i])
    assert result["loss"] == pytest.approx(result["generator_loss"] + 50 * result["discriminator_loss"], rel=1e-5)


def test_walkthrough_controls_redraw(tok, small_electra):
    w = ElectraWalkthrough({0.25: small_electra}, tok, text="Now is the winter of our discontent made glorious "
                           "summer by this sun of York")
    assert "lmteach-electra-walkthrough" in w.widget._dom_classes
    masked_before = sum(w.result["is_masked"])
    w.rate.value = 0.6
    assert sum(w.result["is_masked"]) > masked_before
    before = w.losses.value
    w.disc_weight.value = 1.0
    assert w.losses.value != before and "λ = 1" in w.losses.value
    assert w.result["loss"] == pytest.approx(w.result["generator_loss"] + w.result["discriminator_loss"], rel=1e-5)
    strips = w.strips.value
    w.seed.value = 7
    assert w.strips.value != strips
    assert "not trained" not in w.note.value
    w.generator_size.value = 1.0
    assert "not trained" in w.note.value
    assert w.models[1.0].generator.cfg.hidden_size == small_electra.cfg.hidden_size
    w.text.value = "  "
    assert "type a sentence" in w.strips.value


# --- exercises ---------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("exercise_id, right, wrong", [
    ("06.1", 1 / 0.15, 0.15), ("06.2", 19.0, 4.3), ("06.3", 9.216e12, 1.536e12), ("06.4", "no", "yes")])
def test_exercises_accept_right_and_reject_wrong_answers(exercise_id, right, wrong):
    assert exercises.check(exercise_id, right)
    assert not exercises.check(exercise_id, wrong)


def test_walkthrough_temperature_changes_the_samples(tok, small_electra):
    w = ElectraWalkthrough({0.25: small_electra}, tok, text="Now is the winter of our discontent made glorious "
                           "summer by this sun of York", rate=0.6)
    assert w.temperature.value == 1.0
    samples = []
    for temperature in (0.5, 5.0):
        w.temperature.value = temperature
        samples.append(w.result["sampled"])
    # The same seed masks the same positions; the samples drawn there differ with the temperature.
    assert samples[0] != samples[1]
    assert w.result == walk_through(small_electra, tok, w.text.value, 0.6, 50.0, 0, temperature=5.0)
