"""The lesson toolkit: dashboard, attention explorer, tokenizer widgets, exercises and claims, driven the way a
student's clicks drive them (by setting control values), with no browser."""

import time

import numpy as np
import pytest
import torch

import lmteach as lt
from lmteach.analysis.attention import attention_links_svg, attention_maps, head_roles, mask_png
from lmteach.data.tokenization import load_default
from lmteach.lesson import ClaimFailed, claim, definition, pick
from lmteach.training.batches import causal_lm_batches
from lmteach.training.trainer import Trainer
from lmteach.widgets import AttentionExplorer, BPEStepper, TokenizerComparison, TrainingDashboard

PNG = b"\x89PNG"


def tiny_trainer(steps=30, **kw):
    torch.manual_seed(0)
    cfg = lt.configs.gpt2("tiny", vocab_size=50, hidden_size=32, num_heads=2, ffn_size=64, num_layers=2,
                          max_positions=16)
    model = lt.build(cfg)
    data = torch.randint(0, 50, (2000,))
    return Trainer(model, causal_lm_batches(data, 16, 4), total_steps=steps, lr=3e-3, progress=False,
                   device="cpu", **kw)


def test_dashboard_updates_plots_progress_and_preview():
    trainer = tiny_trainer(steps=20, eval_batches=causal_lm_batches(torch.randint(0, 50, (500,)), 16, 4, seed=1),
                           eval_every=10, eval_steps=2)
    previews = []

    def preview(model):
        previews.append(model.training)
        return f"<pre>step {trainer.step_count}</pre>"

    dash = TrainingDashboard(trainer, preview=preview, preview_every=5, redraw_every_steps=4)
    first_png = bytes(dash.loss_image.value)
    assert first_png.startswith(PNG)
    dash.run()
    assert trainer.step_count == 20 and dash.progress.value == 20
    assert bytes(dash.loss_image.value).startswith(PNG) and bytes(dash.loss_image.value) != first_png
    assert dash.live_redraws == 5                  # redrawn while training, not only at the end
    assert "step 20" in dash.preview.value
    assert previews and not any(previews)          # previews run the model in eval mode
    assert trainer.model.training                  # ... and put it back in training mode
    assert "validation loss" in dash.status.value and "tokens/s" in dash.status.value
    assert dash.start_button.description == "Continue" and not dash.start_button.disabled


def test_dashboard_pause_resume_and_stop_mid_run():
    trainer = tiny_trainer(steps=400)
    dash = TrainingDashboard(trainer)
    dash.start_button.click()                      # returns at once: training runs in the background
    deadline = time.time() + 20
    while trainer.step_count < 3 and time.time() < deadline:
        time.sleep(0.01)
    dash.pause_button.click()
    time.sleep(0.3)
    paused_at = trainer.step_count
    time.sleep(0.3)
    assert trainer.state == "paused" and trainer.step_count == paused_at
    assert dash.pause_button.description == "Resume"
    dash.pause_button.click()
    while trainer.step_count < paused_at + 3 and time.time() < deadline:
        time.sleep(0.01)
    assert trainer.step_count > paused_at
    dash.stop_button.click()
    dash.wait()
    assert trainer.state == "stopped" and trainer.step_count < 400


@pytest.fixture(scope="module")
def bert_and_tokenizer():
    torch.manual_seed(0)
    tokenizer = load_default("wordpiece")
    model = lt.build(lt.configs.bert("tiny", vocab_size=tokenizer.vocab_size))
    return model, tokenizer


def test_attention_maps_and_views(bert_and_tokenizer):
    model, tokenizer = bert_and_tokenizer
    maps = attention_maps(model, tokenizer, "to be or not to be")
    assert maps.tokens[0] == "[CLS]" and maps.tokens[-1] == "[SEP]"
    assert maps.weights.shape == (4, 4, 8, 8)
    assert np.allclose(maps.weights.sum(-1), 1.0, atol=1e-5)
    assert not maps.causal
    assert len(maps.as_bertviz()) == 4 and maps.as_bertviz()[0].shape == (1, 4, 8, 8)
    svg = attention_links_svg(maps.tokens, maps.weights[0, 0], min_weight=0.0)
    assert svg.startswith("<svg") and svg.count("<line") == 64
    # A head that only looks at the previous token is labelled as such.
    fake = maps.weights.copy()
    fake[0, 0] = np.eye(8, k=-1)
    fake[0, 0, 0, 0] = 1.0
    roles = head_roles(type(maps)(maps.tokens, fake, False))
    assert roles[0]["role"] == "previous" and roles[0]["previous"] == pytest.approx(7 / 8)
    assert mask_png(5).startswith(PNG)


def test_attention_explorer_controls_change_the_view(bert_and_tokenizer):
    model, tokenizer = bert_and_tokenizer
    gpt = lt.build(lt.configs.gpt2("tiny", vocab_size=tokenizer.vocab_size, num_layers=2))
    explorer = AttentionExplorer({"bert": (model, tokenizer), "gpt": (gpt, tokenizer)}, text="to be or not")
    assert explorer.layer.max == 3 and "bidirectional" in explorer.info.value
    heatmap = explorer.output.value
    assert heatmap.startswith("<img")
    explorer.layer.value = 2
    assert explorer.output.value != heatmap
    explorer.view.value = "links"
    assert explorer.output.value.startswith("<svg")
    explorer.head.value = 1
    one_head = explorer.output.value
    assert 'stroke="#ff7f0e"' in one_head and 'stroke="#1f77b4"' not in one_head
    explorer.model_choice.value = "gpt"
    assert explorer.layer.max == 1 and explorer.layer.value == 1 and "causal" in explorer.info.value
    explorer.text.value = "the king"
    assert explorer.maps.tokens == ["[CLS]", "the", "king", "[SEP]"]
    with pytest.raises(ValueError, match="at least one model"):
        AttentionExplorer({})


def test_tokenizer_comparison_shows_unknowns_and_round_trips():
    widget = TokenizerComparison("hello 사랑")
    assert widget.results["byte_bpe"]["unknown_count"] == 0
    assert widget.results["byte_bpe"]["decoded"] == "hello 사랑"
    assert widget.results["wordpiece"]["unknown_count"] >= 1
    assert "unknown" in widget.rows["wordpiece"].value and "round trip exact" in widget.rows["byte_bpe"].value
    widget.text.value = "plain words"
    assert widget.results["wordpiece"]["unknown_count"] == 0
    assert "unknown" not in widget.rows["wordpiece"].value
    # A Korean syllable is 3 bytes; byte-level pieces that split it are shown as raw bytes.
    assert any(p.startswith("<") for p in TokenizerComparison("사").results["byte_bpe"]["pieces"])


def test_bpe_stepper_slider_merges_the_sample():
    text = "the king and the kingdom; the king is king of the kingdom. " * 20
    stepper = BPEStepper(text, num_merges=30, sample="the kingdom")
    start = list(stepper.pieces)
    assert "".join(start) == "the kingdom" and len(start) == len("the kingdom")
    last = stepper.merges.max  # this short text runs out of pairs before 30 merges
    assert 10 < last <= 30
    stepper.merges.value = last
    assert len(stepper.pieces) < len(start) and "".join(stepper.pieces) == "the kingdom"
    assert f"Merge {last}:" in stepper.view.value
    stepper.merges.value = 1
    assert "Merge 1:" in stepper.view.value


def test_claims_and_quick_mode(monkeypatch, capsys):
    claim(True, "loss fell", 2.5, 1.2)
    assert "✔ loss fell  (2.5, 1.2)" in capsys.readouterr().out
    with pytest.raises(ClaimFailed, match="loss fell.*2.5"):
        claim(False, "loss fell", 2.5, 2.6)
    monkeypatch.setenv("LMTEACH_QUICK", "1")
    assert pick(full=100, quick=10) == 10
    monkeypatch.setenv("LMTEACH_QUICK", "0")
    assert pick(full=100, quick=10) == 100


def test_claims_name_their_control_and_definitions_say_they_hold_by_construction(capsys):
    claim(True, "the pretrained model beats the control", 0.81, 0.52, control="the same network from scratch")
    assert "✔ the pretrained model beats the control  (0.81, 0.52; control: the same network from scratch)" \
        in capsys.readouterr().out
    claim(True, "it beats chance", control="always guessing the commonest label")
    assert "(control: always guessing the commonest label)" in capsys.readouterr().out
    with pytest.raises(ClaimFailed, match="beats the control.*0.5.*control: from scratch"):
        claim(False, "the pretrained model beats the control", 0.5, 0.52, control="from scratch")
    definition(True, "the causal mask hides the future", 0)
    printed = capsys.readouterr().out
    assert "≡ by construction: the causal mask hides the future  (0)" in printed and "✔" not in printed
    with pytest.raises(ClaimFailed, match="by construction, .LayerNorm.*should hold.*5.6"):
        definition(False, "LayerNorm's output has length sqrt(H)", 5.6)


def test_exercise_registry_checks_answers(capsys):
    from lmteach import exercises
    exercises.exercise("99.1", "2 + 2?", exercises.close_to(4.0), hint="add", explanation="four")
    assert exercises.check("99.1", 4.0) and not exercises.check("99.1", 5)
    assert not exercises.check("99.1", "not a number")
    out = capsys.readouterr().out
    assert "✔ Exercise 99.1" in out and "✘ Exercise 99.1: not yet. add" in out
    with pytest.raises(KeyError, match="no exercise"):
        exercises.check("00.404", 1)
