"""Lesson 05 (ALBERT): the sharing lab widget and the sharing measurements behind it (parameters by part, layer
transitions at initialisation and after training, compare_sharing_modes)."""

from __future__ import annotations

import random
import time

import pytest
import torch

import lmteach as lt
from lmteach.analysis import layer_similarity as ls
from lmteach.training import Trainer, masked_lm_batches
from lmteach.widgets.sharing_lab import NO_FACTORIZATION, SharingLab

torch.set_num_threads(1)

V, H, P, FFN, L = 64, 32, 16, 64, 4


class Tok:
    """The ids masked_lm_batches needs."""
    pad_id, cls_id, sep_id, mask_id, vocab_size = 0, 1, 2, 3, V
    special_ids = {0, 1, 2, 3}


def base_cfg(**overrides):
    values = dict(vocab_size=V, max_positions=P, hidden_size=H, num_heads=2, ffn_size=FFN, num_layers=L)
    values.update(overrides)
    return lt.configs.albert("tiny", **values)


def mlm_batches(seed=0):
    ids = torch.randint(4, V, (3000,), generator=torch.Generator().manual_seed(1))
    return masked_lm_batches(Tok(), P, 4, token_ids=ids, seed=seed)


def probe():
    return ls.text_probe(Tok(), torch.randint(4, V, (200,), generator=torch.Generator().manual_seed(2)), rows=4,
                         seq_len=P)


def lab(**options):
    options = {"steps": 10, "embedding_size": 16, "probe": probe(), **options}
    return SharingLab(base_cfg(), mlm_batches(), **options)


# --- parameter accounting --------------------------------------------------------------------------------------

def mlm_head_by_hand(width):
    """ALBERT's MLM head: dense H -> E (+ bias), LayerNorm(E), decoder bias V (its weight is the tied table)."""
    return H * width + width + 2 * width + V


@pytest.mark.parametrize("sharing", ["none", "attention", "ffn", "all"])
@pytest.mark.parametrize("embedding_size", [16, None])
def test_breakdown_matches_hand_arithmetic_and_count_params(sharing, embedding_size):
    cfg = ls.sharing_config(base_cfg(), sharing, embedding_size)
    parts = ls.sharing_breakdown(cfg)
    assert tuple(parts) == ls.SHARING_PARTS
    E = embedding_size or H
    assert parts["embeddings"] == V * E + P * E + 2 * E                    # token, position, segment tables
    assert parts["projection"] == (E * H + H if embedding_size else 0)     # the E->H projection, or none
    attention, ffn, norms = 4 * (H * H + H), H * FFN + FFN + FFN * H + H, 2 * 2 * H
    shared_attention = sharing in ("attention", "all")
    shared_ffn = sharing in ("ffn", "all")
    assert parts["attention"] == attention * (1 if shared_attention else L)
    assert parts["feed_forward"] == ffn * (1 if shared_ffn else L)
    assert parts["norms"] == 2 * E + norms * (1 if sharing == "all" else L)  # + the embeddings' LayerNorm
    assert parts["heads"] == mlm_head_by_hand(E)
    # an independent count: the library's body count (no pooler for MLM alone) plus the head
    assert sum(parts.values()) == lt.count_params(cfg) + mlm_head_by_hand(E)
    # and the projection is what the model really builds
    model = lt.build(cfg, head="masked_lm")
    built = model.body.embedding_projection
    assert parts["projection"] == (sum(p.numel() for p in built.parameters()) if built is not None else 0)
    assert sum(parts.values()) == sum(p.numel() for p in model.parameters())


def test_breakdown_with_sop_counts_the_whole_pretraining_model():
    cfg = ls.sharing_config(base_cfg(), "all", 16, pair_task="sop")
    parts = ls.sharing_breakdown(cfg)
    assert sum(parts.values()) == lt.count_params(cfg, heads=True)
    assert parts["heads"] == mlm_head_by_hand(16) + (H * H + H) + (2 * H + 2)  # + pooler + SOP head


def test_all_shared_has_one_layer_of_layer_parameters():
    none, shared = (ls.layer_params(ls.sharing_config(base_cfg(), mode, 16)) for mode in ("none", "all"))
    assert none == L * shared
    assert shared == 4 * (H * H + H) + H * FFN + FFN + FFN * H + H + 4 * H


def test_transition_means_skip_the_first_layer():
    t = {"l2": [9.0, 1.0, 2.0, 3.0], "cosine": [0.5, 0.9, 0.8, 0.7]}
    assert ls.transition_means(t) == pytest.approx({"l2": 2.0, "cosine": 0.8})
    assert ls.transition_means(t, skip_first=False) == pytest.approx({"l2": 3.75, "cosine": 0.725})


def test_text_probe_frames_held_out_windows():
    batch = ls.text_probe(Tok(), list(range(10, 40)), rows=2, seq_len=8)
    assert batch["input_ids"].tolist() == [[1, *range(10, 16), 2], [1, *range(16, 22), 2]]
    assert batch["attention_mask"].all() and not batch["token_type_ids"].any()
    with pytest.raises(ValueError, match="needs"):
        ls.text_probe(Tok(), list(range(10)), rows=2, seq_len=8)


# --- the widget's controls -------------------------------------------------------------------------------------

def test_lab_starts_with_bars_for_the_chosen_modes():
    sharing_lab = lab()
    assert "lmteach-sharing-lab" in sharing_lab.widget._dom_classes
    assert sharing_lab.modes == ["none", "all"]
    assert sharing_lab.params_image.value[:4] == b"\x89PNG" and sharing_lab.param_redraws == 1
    counts = sharing_lab.breakdowns()
    for mode in ("none", "all"):
        assert f"{sum(counts[mode].values()):,}" in sharing_lab.param_summary.value
    assert "press Train" in sharing_lab.status.value


def test_toggling_modes_and_moving_e_recount_and_redraw_the_bars():
    sharing_lab = lab()
    picture, redraws = sharing_lab.params_image.value, sharing_lab.param_redraws
    sharing_lab.mode_boxes["ffn"].value = True
    assert sharing_lab.modes == ["none", "ffn", "all"] and sharing_lab.param_redraws == redraws + 1
    assert sharing_lab.params_image.value != picture
    ffn = sharing_lab.breakdowns()["ffn"]
    assert f"{sum(ffn.values()):,}" in sharing_lab.param_summary.value

    picture = sharing_lab.params_image.value
    sharing_lab.embedding_size.value = 32
    counts = sharing_lab.breakdowns()
    assert counts["all"]["embeddings"] == V * 32 + P * 32 + 2 * 32 and counts["all"]["projection"] == 32 * H + H
    assert sharing_lab.params_image.value != picture
    assert f"{sum(counts['none'].values()):,}" in sharing_lab.param_summary.value

    sharing_lab.embedding_size.value = NO_FACTORIZATION  # E = H: no projection at all
    counts = sharing_lab.breakdowns()
    assert all(parts["projection"] == 0 for parts in counts.values())
    assert all(cfg.embedding_size is None for cfg in sharing_lab.configs().values())
    assert "E=H=32" in sharing_lab.param_summary.value

    # depth costs the unshared model parameters, the all-shared one none
    before = sharing_lab.breakdowns()
    sharing_lab.depth.value = 2 * L
    after = sharing_lab.breakdowns()
    assert after["all"] == before["all"]
    assert after["none"]["attention"] == 2 * before["none"]["attention"]

    sharing_lab.mode_boxes["none"].value = False
    assert "× none" not in sharing_lab.param_summary.value  # no unshared reference to divide by


def test_train_needs_a_mode():
    sharing_lab = lab()
    for box in sharing_lab.mode_boxes.values():
        box.value = False
    sharing_lab.start()
    assert "at least one" in sharing_lab.status.value and not sharing_lab.runs


# --- training ---------------------------------------------------------------------------------------------------

def test_train_redraws_live_and_reports_results():
    sharing_lab = lab(redraw_every_steps=2, probe_every=3)
    loss_picture, transitions_picture = sharing_lab.loss_image.value, sharing_lab.transitions_image.value
    sharing_lab.train_button.click()
    sharing_lab.wait()
    assert sharing_lab.live_redraws >= 4  # steps 2, 4, 6, 8 while training, then the final frame
    assert sharing_lab.loss_image.value != loss_picture
    assert sharing_lab.transitions_image.value != transitions_picture
    assert not sharing_lab.train_button.disabled and sharing_lab.stop_button.disabled
    assert not sharing_lab.embedding_size.disabled
    results = sharing_lab.results
    assert set(results) == {"none", "all"}
    for mode, result in results.items():
        assert result["steps"] == 10 and len(result["losses"]) == 10
        assert result["final_loss"] == pytest.approx(sum(result["losses"]) / 10)  # final_window 10
        assert len(result["transitions"]["l2"]) == len(result["transitions_init"]["cosine"]) == L
        assert result["measured_at"] == 10
        assert result["transitions"] != result["transitions_init"]
        assert result["params"] == ls.sharing_breakdown(result["config"])
        assert result["non_embedding_params"] == (result["total_params"] - result["params"]["embeddings"]
                                                  - result["params"]["projection"])
        assert result["mean_l2"] == pytest.approx(sum(result["transitions"]["l2"][1:]) / (L - 1))
    assert results["none"]["layer_params"] == L * results["all"]["layer_params"]
    assert "step 10 of 10" in sharing_lab.status.value


def test_lab_trains_exactly_what_a_hand_built_trainer_trains():
    """Independent reference: the same config, seed, data and schedule, built and trained by hand."""
    sharing_lab = lab(steps=6, seed=3, lr=1e-3)
    sharing_lab.mode_boxes["none"].value = False
    sharing_lab.run()
    cfg = sharing_lab.results["all"]["config"]
    torch.manual_seed(3)
    model = lt.build(cfg, head="masked_lm")
    before = ls.layer_transitions(model, probe())
    trainer = Trainer(model, mlm_batches(), lr=1e-3, warmup_steps=0, schedule="constant", total_steps=6, seed=3,
                      device="cpu", progress=False)
    trainer.run()
    after = ls.layer_transitions(model, probe())
    result = sharing_lab.results["all"]
    assert result["losses"] == pytest.approx(trainer.history.losses, rel=1e-5)
    assert result["transitions_init"]["l2"] == pytest.approx(before["l2"].tolist(), rel=1e-5)
    assert result["transitions"]["cosine"] == pytest.approx(after["cosine"].tolist(), rel=1e-5)


def test_every_mode_sees_the_same_data():
    seen = {}

    def batches(step):
        batch = mlm_batches()(step)
        seen.setdefault(step, []).append(batch["input_ids"].clone())
        return batch

    sharing_lab = SharingLab(base_cfg(), batches, steps=3, embedding_size=16, probe=probe())
    sharing_lab.mode_boxes["attention"].value = True
    seen.clear()  # the lab peeked at batch 0 to see whether it carries pair labels
    sharing_lab.run()
    for step in range(3):
        assert len(seen[step]) == 3 and all(torch.equal(seen[step][0], ids) for ids in seen[step])


def wait_for(condition, timeout=60.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_pause_resume_and_stop():
    sharing_lab = lab(steps=2000)
    sharing_lab.train_button.click()
    assert sharing_lab.train_button.disabled and sharing_lab.embedding_size.disabled
    wait_for(lambda: sharing_lab.runs and sharing_lab.runs["all"].trainer.step_count >= 2)
    sharing_lab.pause_button.click()
    assert sharing_lab.paused and sharing_lab.pause_button.description == "Resume"
    time.sleep(0.3)
    held = sharing_lab.runs["all"].trainer.step_count
    time.sleep(0.3)
    assert sharing_lab.runs["all"].trainer.step_count == held  # nothing trains while paused
    assert "paused" in sharing_lab.status.value
    sharing_lab.pause_button.click()
    assert not sharing_lab.paused and sharing_lab.pause_button.description == "Pause"
    wait_for(lambda: sharing_lab.runs["all"].trainer.step_count > held)
    sharing_lab.pause_button.click()   # stop works from a pause too
    sharing_lab.stop_button.click()
    sharing_lab.wait()
    steps = {mode: result["steps"] for mode, result in sharing_lab.results.items()}
    assert 0 < steps["all"] < 2000 and abs(steps["all"] - steps["none"]) <= 1
    assert not sharing_lab.train_button.disabled and sharing_lab.stop_button.disabled
    assert sharing_lab.pause_button.description == "Pause"


def test_sop_batches_train_mlm_plus_sop():
    rng = random.Random(0)
    docs = [[[rng.randrange(4, V) for _ in range(rng.randrange(2, 6))] for _ in range(4)] for _ in range(6)]
    batches = masked_lm_batches(Tok(), P, 4, documents=docs, pair_task="sop")
    sharing_lab = SharingLab(base_cfg(), batches, steps=3, embedding_size=16)  # default probe: from the batches
    assert sharing_lab.pair_task == "sop"
    sharing_lab.run()
    result = sharing_lab.results["all"]
    assert result["config"].pair_task == "sop" and result["config"].pooler
    assert result["total_params"] == lt.count_params(result["config"], heads=True)
    assert sharing_lab.runs["all"].model.__class__.__name__ == "MaskedLMWithPairHead"


# --- compare_sharing_modes: what the lesson asserts over seeds ---------------------------------------------------

def test_compare_sharing_modes_is_reproducible_and_counts_by_seed():
    common = dict(modes=("none", "all"), embedding_size=16, steps=4, seeds=(0, 1), lr=1e-3, final_window=2)
    first = ls.compare_sharing_modes(base_cfg(), mlm_batches, probe(), **common)
    again = ls.compare_sharing_modes(base_cfg(), mlm_batches, probe(), **common)
    assert set(first) == {"none", "all"} and set(first["none"]) == {0, 1}
    for mode in ("none", "all"):
        for seed in (0, 1):
            result = first[mode][seed]
            assert result["steps"] == 4
            assert result["final_loss"] == pytest.approx(sum(result["losses"][-2:]) / 2)
            assert result["final_loss"] == again[mode][seed]["final_loss"]
            assert result["mean_l2_init"] == again[mode][seed]["mean_l2_init"]
    assert first["none"][0]["losses"] != first["none"][1]["losses"]  # another seed, other weights and data
    assert first["none"][0]["layer_params"] == L * first["all"][0]["layer_params"]
    ratio = first["all"][0]["non_embedding_params"] / first["none"][0]["non_embedding_params"]
    assert 1 / L < ratio < 1.5 / L  # about 1/L: the heads are not shared
