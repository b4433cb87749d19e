"""Lesson 06 (ELECTRA): compute counting, detection measurements, the walk-through widget, the exercises."""

import itertools
from pathlib import Path

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.analysis import electra_experiments as ex
from lmteach.data.tokenization import load_default
from lmteach.widgets.electra_walkthrough import ElectraWalkthrough, walk_through

CHECKPOINTS = Path(__file__).resolve().parents[1] / "data" / "checkpoints"


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
def windows(tok):
    ids = torch.randint(5, tok.vocab_size, (4000,), generator=torch.Generator().manual_seed(0))
    return ex.held_out_windows(tok, ids, count=8, seq_len=24)


# --- counting compute --------------------------------------------------------------------------------------------

def test_training_flops_include_the_generator_and_come_from_the_one_counter(tok):
    """The numbers themselves are checked against PyTorch's FlopCounterMode in tests/test_compute.py."""
    from lmteach.analysis import compute

    cfg = tiny_cfg(tok)
    steps, batch, seq = 10, 4, 16
    parts = ex.flops_per_step(cfg, batch, seq)
    assert parts == compute.flops_by_network(cfg, batch, seq, "electra")
    assert set(parts) == {"generator", "discriminator"}
    assert ex.training_flops(cfg, steps, batch, seq) == pytest.approx(steps * sum(parts.values()))
    # The MLM competitor is the same body with an MLM head; a bigger generator costs more.
    assert set(ex.flops_per_step(ex.mlm_config(cfg), batch, seq)) == {"masked LM"}
    bigger = cfg.replace(generator_fraction=1.0)
    assert ex.training_flops(bigger, steps, batch, seq) > ex.training_flops(cfg, steps, batch, seq)


def test_steps_for_flops_matches_the_compute(tok):
    cfg = tiny_cfg(tok)
    flops = ex.training_flops(cfg, 300, 16, 32)
    steps = ex.steps_for_flops(flops, ex.mlm_config(cfg), 16, 32, "mlm")
    per_step = ex.training_flops(ex.mlm_config(cfg), 1, 16, 32, "mlm")
    assert abs(steps * per_step - flops) <= per_step / 2
    with pytest.raises(ValueError, match="rtd"):
        ex.training_flops(ex.mlm_config(cfg), 1, 1, 1, "rtd")
    with pytest.raises(ValueError, match="objective"):
        ex.training_flops(cfg, 1, 1, 1, "gan")


# --- measuring ---------------------------------------------------------------------------------------------------

def test_roc_auc_agrees_with_counting_pairs():
    assert ex.roc_auc(torch.tensor([0.1, 0.2, 0.8, 0.9]), torch.tensor([0, 0, 1, 1])) == 1.0
    assert ex.roc_auc(torch.tensor([0.9, 0.8, 0.2, 0.1]), torch.tensor([0, 0, 1, 1])) == 0.0
    assert ex.roc_auc(torch.zeros(6), torch.tensor([0, 1, 0, 1, 0, 1])) == 0.5
    scores = torch.randint(0, 5, (40,), generator=torch.Generator().manual_seed(1)).float()
    labels = torch.arange(40) % 3 == 0
    pairs = [(1.0 if p > n else 0.5 if p == n else 0.0)
             for p, n in itertools.product(scores[labels].tolist(), scores[~labels].tolist())]
    assert ex.roc_auc(scores, labels) == pytest.approx(sum(pairs) / len(pairs))


def test_detection_report_numbers_are_consistent(tok, small_electra, windows):
    report = ex.detection_report(small_electra, tok, windows, seed=3)
    for key in ("generator_accuracy", "replaced_fraction", "discriminator_accuracy", "all_original_accuracy",
                "auc"):
        assert 0.0 <= report[key] <= 1.0
    # ~15% of the tokens are masked and an untrained generator replaces almost all of them.
    assert 0.75 < report["all_original_accuracy"] < 0.95
    assert report["replaced_fraction"] > 0.9
    assert ex.detection_report(small_electra, tok, windows, seed=3) == report  # seeded
    assert ex.mean_report([report, report]) == pytest.approx(report)


def test_no_gradient_reaches_the_generator_from_the_discriminator_loss(tok, small_electra, windows):
    reach = ex.gradient_reach(small_electra, tok, windows)
    assert reach["generator weights with a gradient"] == 0
    assert reach["generator (own weights)"] == 0.0
    assert reach["discriminator (own weights)"] > 0 and reach["shared embeddings"] > 0
    assert all(p.grad is None for p in small_electra.parameters())  # cleaned up afterwards


def test_with_generator_size_keeps_the_discriminator(tok, small_electra):
    bigger = ex.with_generator_size(small_electra, 1.0)
    assert bigger.generator.cfg.hidden_size == small_electra.cfg.hidden_size
    assert small_electra.generator.cfg.hidden_size < small_electra.cfg.hidden_size
    for (name, a), (_, b) in zip(small_electra.discriminator.state_dict().items(),
                                 bigger.discriminator.state_dict().items()):
        assert torch.equal(a, b), name
    # the new generator reads the same (copied) embeddings
    assert bigger.generator.body.embeddings is bigger.discriminator.body.embeddings


def test_pretrain_runs_both_objectives_on_the_same_text(tok):
    ids = torch.randint(5, tok.vocab_size, (2000,), generator=torch.Generator().manual_seed(0))
    cfg = tiny_cfg(tok)
    for objective, head in (("rtd", "Electra"), ("mlm", "MaskedLM")):
        trainer = ex.pretrain(cfg if objective == "rtd" else ex.mlm_config(cfg), tok, ids, steps=2,
                              batch_size=2, seq_len=16)
        assert type(trainer.model).__name__ == head
        assert len(trainer.history.losses) == 2 and all(l == l for l in trainer.history.losses)


def test_compare_finetuning_rows_and_table(tok, small_electra):
    mlm = lt.build(ex.mlm_config(small_electra.cfg), head="masked_lm")
    rows = ex.compare_finetuning({"ELECTRA": small_electra.discriminator, "MLM": mlm}, tok, "genre", seeds=(0, 1),
                                 steps=2, batch_size=4, seq_len=16, max_eval=12)
    assert [(r["model"], r["seed"]) for r in rows] == [("ELECTRA", 0), ("ELECTRA", 1), ("MLM", 0), ("MLM", 1)]
    summary = ex.summarise(rows)
    assert summary["MLM"]["min"] <= summary["MLM"]["mean"] <= summary["MLM"]["max"]
    table = ex.comparison_html(rows, flops={"ELECTRA": 1e12, "MLM": 1e12})
    assert "ELECTRA" in table and "seed 1" in table and "1e+12" in table
    assert ex.sweep_png([{"fraction": f, "generator_accuracy": 0.1, "replaced_fraction": 0.9, "auc": 0.7}
                         for f in (0.25, 0.5)]).startswith(b"\x89PNG")


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


# --- the shipped checkpoints -------------------------------------------------------------------------------------

@pytest.mark.skipif(not (CHECKPOINTS / "electra-tiny").exists(), reason="electra-tiny not shipped")
def test_shipped_checkpoints_fit_the_lesson():
    from lmteach.training import load_checkpoint, read_info
    electra, info = load_checkpoint(CHECKPOINTS / "electra-tiny")
    assert type(electra).__name__ == "Electra" and info["cfg"].generator_fraction == 0.25
    mlm_info = read_info(CHECKPOINTS / "electra-mlm-same-compute")
    assert mlm_info["head"] == "masked_lm"
    # same body; the same compute up to one step
    assert lt.configs.diff(info["cfg"], lt.configs.ModelConfig.from_dict(mlm_info["config"])) == {
        "generator_fraction": (0.25, None)}
    electra_flops = ex.training_flops(info["cfg"], info["step"], 16, 32)
    per_step = ex.training_flops(ex.mlm_config(info["cfg"]), 1, 16, 32, "mlm")
    assert abs(mlm_info["extra"]["flops"] - electra_flops) <= per_step
    for path in CHECKPOINTS.glob("electra-*/**/model.safetensors"):
        assert path.stat().st_size < 3.2e6, path
