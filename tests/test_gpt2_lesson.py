"""Lesson 04 (GPT-2): gradient and activation norms, zero-shot scoring, the LayerNorm lab widget, exercises."""

import math

import pytest
import torch
from torch import nn

import lmteach as lt
from lmteach import exercises
from lmteach.data.bpe import readable
from lmteach.lessons import gpt2 as lesson
from lmteach.models.transformer import ModelOutput
from lmteach.training import causal_lm_batches
from lmteach.widgets.layernorm_lab import LayerNormLab, placement_config

torch.set_num_threads(1)


def small_cfg(**overrides):
    values = dict(vocab_size=64, num_layers=2, hidden_size=32, ffn_size=64, num_heads=2, max_positions=32)
    values.update(overrides)
    return lt.configs.gpt2("tiny", **values)


def random_batches(seq_len=16, batch_size=4, vocab=64):
    ids = torch.randint(0, vocab, (2000,), generator=torch.Generator().manual_seed(0))
    return causal_lm_batches(ids, seq_len, batch_size)


def test_output_to_input_ratio_compares_the_two_ends():
    assert lesson.output_to_input_ratio({0: 1.0, 1: 5.0, 2: 5.0, 3: 3.0}) == pytest.approx(3.0)
    assert lesson.output_to_input_ratio({0: 2.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 2.0, 5: 4.0, 6: 6.0, 7: 2.0},
                                       fraction=0.25) == pytest.approx(4.0 / 1.5)


def test_gradient_norms_have_one_positive_value_per_layer_and_depend_on_placement():
    batches = random_batches()
    post = lesson.gradient_norms_at_init(small_cfg(num_layers=6, norm_placement="post", final_norm=False,
                                                  init_std=32 ** -0.5), batches, num_batches=2, seeds=(0, 1))
    pre = lesson.gradient_norms_at_init(small_cfg(num_layers=6, init_std=32 ** -0.5), batches, num_batches=2,
                                       seeds=(0, 1))
    assert sorted(post) == list(range(6)) and all(v > 0 for v in post.values())
    # The shape of Xiong et al. Figure 3: post-LN's gradients lean toward the output far more than pre-LN's.
    assert lesson.output_to_input_ratio(post) > 1.5 * lesson.output_to_input_ratio(pre)


def test_gradient_norms_match_a_direct_backward_pass():
    cfg = small_cfg(dropout=0.0, attention_dropout=0.0)
    batches = random_batches()
    measured = lesson.gradient_norms_at_init(cfg, batches, num_batches=1, seeds=(3,),
                                            weights=("feed_forward.down.weight",))
    torch.manual_seed(3)
    model = lt.build(cfg, head="causal_lm")
    model(**batches(0)).loss.backward()
    expected = float(model.body.layers[1].feed_forward.down.weight.grad.norm())
    assert measured[1] == pytest.approx(expected, rel=1e-5)


def test_activation_norms_show_residual_growth_and_the_final_norm():
    ids = torch.randint(0, 64, (2, 16), generator=torch.Generator().manual_seed(1))
    deep = dict(num_layers=12)
    torch.manual_seed(0)
    unscaled = lesson.activation_norms(lt.build(small_cfg(scale_residual_init=False, **deep)), ids)
    torch.manual_seed(0)
    scaled = lesson.activation_norms(lt.build(small_cfg(scale_residual_init=True, **deep)), ids)
    assert list(unscaled)[:2] == ["embeddings", 0] and 11 in unscaled
    assert unscaled[11] > 1.3 * unscaled[0]         # pre-LN stream grows with depth
    assert scaled[11] / scaled[0] < unscaled[11] / unscaled[0]  # GPT-2's 1/sqrt(2L) slows it
    assert unscaled["final_norm"] == pytest.approx(math.sqrt(32), rel=0.05)  # LayerNorm output: norm sqrt(H)
    post = lesson.activation_norms(lt.build(small_cfg(norm_placement="post", final_norm=False)), ids)
    assert "final_norm" not in post


def test_activation_norms_keep_the_last_block_output_not_the_final_norm():
    ids = torch.randint(0, 64, (2, 8))
    model = lt.build(small_cfg()).eval()
    measured = lesson.activation_norms(model, ids)
    with torch.no_grad():
        out = model.body(ids, output_hidden_states=True)
    assert measured["final_norm"] == pytest.approx(float(out.hidden_states[-1].norm(dim=-1).mean()), rel=1e-5)
    assert measured[1] != pytest.approx(measured["final_norm"], rel=0.05)


class WordTokenizer:
    """Each character is a token id (its code point modulo 64): enough to test scoring."""

    def encode(self, text):
        return [ord(c) % 64 for c in text]


class FavoursToken(nn.Module):
    """A stand-in LM whose next-token distribution always prefers one token id."""

    def __init__(self, token, max_positions=32):
        super().__init__()
        self.cfg = small_cfg(max_positions=max_positions)
        self.token = token

    def forward(self, input_ids):
        logits = torch.zeros(*input_ids.shape, 64)
        logits[..., self.token] = 5.0
        return ModelOutput(logits=logits)


def test_continuation_scores_are_mean_log_probabilities_of_the_continuation_only():
    model = lt.build(small_cfg()).eval()
    tok = WordTokenizer()
    scores = lesson.continuation_scores(model, tok, "ab", ["cd", "efg"], separator="")
    ids = torch.tensor([tok.encode("abefg")])
    with torch.no_grad():
        log_probs = model(ids).logits.log_softmax(-1)[0]
    expected = (log_probs[1, ids[0, 2]] + log_probs[2, ids[0, 3]] + log_probs[3, ids[0, 4]]) / 3
    assert scores[1] == pytest.approx(float(expected), abs=1e-5)
    assert len(scores) == 2


def test_continuation_scores_cut_long_context_from_the_left():
    model = FavoursToken(token=ord("x") % 64, max_positions=16)
    scores = lesson.continuation_scores(model, WordTokenizer(), "y" * 40, ["xx", "zz"], separator="")
    assert scores[0] > scores[1]


def test_multiple_choice_zero_shot_picks_the_likeliest_choice():
    model = FavoursToken(token=ord("x") % 64)
    examples = [{"context": "q", "choices": ["zz", "xx", "zy"], "label": 1},
                {"context": "q", "choices": ["xxx", "zzz", "yyy"], "label": 2}]
    result = lesson.multiple_choice_zero_shot(model, WordTokenizer(), examples)
    assert result["predictions"] == [1, 0]
    assert result["accuracy"] == 0.5 and result["chance"] == pytest.approx(1 / 3)
    pmi = lesson.multiple_choice_zero_shot(model, WordTokenizer(), examples, method="pmi")
    assert len(pmi["predictions"]) == 2
    with pytest.raises(ValueError):
        lesson.multiple_choice_zero_shot(model, WordTokenizer(), examples, method="sum")


def test_binomial_margin():
    assert lesson.binomial_margin(0.25, 500) == pytest.approx(2 * math.sqrt(0.25 * 0.75 / 500))


def test_short_run_losses_and_final_loss():
    losses = lesson.short_run_losses(small_cfg(), random_batches(), lr=3e-3, warmup_steps=0, steps=12, seed=0)
    assert len(losses) == 12 and all(math.isfinite(x) for x in losses)
    assert lesson.final_loss(losses, last=3) < losses[0]
    assert lesson.final_loss([1.0, float("nan")]) == math.inf


def test_placement_config_adds_the_final_norm_only_to_pre_ln():
    base = small_cfg()
    assert placement_config(base, "post", 3).final_norm is False
    pre = placement_config(base, "pre", 5)
    assert pre.final_norm is True and pre.norm_placement == "pre" and pre.num_layers == 5


def test_layernorm_lab_trains_both_models_and_redraws():
    lab = LayerNormLab(small_cfg(), random_batches(), num_layers=2, steps=10, redraw_seconds=0.0)
    assert "lmteach-layernorm-lab" in lab.widget._dom_classes
    first_image, first_redraws = lab.image.value, lab.redraws
    lab.depth.value = 3
    lab.steps.value = 10
    lab.warmup.value = 5
    lab.run()
    assert set(lab.losses) == {"post", "pre"}
    assert all(len(v) == 10 for v in lab.losses.values())
    assert lab.trainers["pre"].model.cfg.num_layers == 3 and lab.trainers["pre"].warmup_steps == 5
    assert lab.redraws > first_redraws and lab.image.value != first_image
    assert "post-LN" in lab.status.value and "pre-LN" in lab.status.value
    assert not lab.run_button.disabled and lab.stop_button.disabled


def test_layernorm_lab_controls_choose_the_runs():
    lab = LayerNormLab(small_cfg(), random_batches(), num_layers=1, steps=10)
    lab.use_pre.value = False
    lab.lr.value = 1e-3
    lab.run()
    assert set(lab.losses) == {"post"}
    assert lab.trainers["post"].lr == pytest.approx(1e-3)
    lab.use_post.value = False
    lab.start()
    assert "at least one" in lab.status.value


def test_layernorm_lab_run_button_and_stop():
    lab = LayerNormLab(small_cfg(), random_batches(), num_layers=1, steps=2000)
    lab.run_button.click()
    assert lab.run_button.disabled
    lab.stop_button.click()
    lab.wait()
    assert 0 < len(lab.losses["post"]) < 2000 and not lab.run_button.disabled


def test_with_foreign_contexts_gives_each_example_another_ones_context():
    examples = [{"context": f"context {i}", "choices": [f"a{i}", f"b{i}"], "label": i % 2} for i in range(5)]
    original = [dict(e) for e in examples]
    foreign = lesson.with_foreign_contexts(examples)
    assert [e["context"] for e in foreign] == ["context 1", "context 2", "context 3", "context 4", "context 0"]
    assert [(e["choices"], e["label"]) for e in foreign] == [(e["choices"], e["label"]) for e in examples]
    assert examples == original  # the examples themselves are left alone
    shifted = lesson.with_foreign_contexts(examples, shift=2)
    assert all(f["context"] != e["context"] for f, e in zip(shifted, examples))
    assert shifted[4]["context"] == "context 1"


def test_foreign_contexts_undo_a_zero_shot_win_that_reads_the_context():
    # A stand-in LM that repeats the last character it saw: it picks the choice that continues its context.
    class Echo(nn.Module):
        cfg = small_cfg()

        def forward(self, input_ids):
            return ModelOutput(logits=5.0 * torch.nn.functional.one_hot(input_ids, 64).float())

    examples = [{"context": c, "choices": ["xx", "yy", "zz"], "label": "xyz".index(c)} for c in "xyzxyz"]
    assert lesson.multiple_choice_zero_shot(Echo(), WordTokenizer(), examples, separator="")["accuracy"] == 1.0
    foreign = lesson.with_foreign_contexts(examples)
    assert lesson.multiple_choice_zero_shot(Echo(), WordTokenizer(), foreign, separator="")["accuracy"] == 0.0


DOGS = "the dog. the dog! the dog? the dog, my dog. a dog! " * 30


def test_punctuation_variants_appear_only_without_gpt2s_rule():
    from lmteach.data.bpe import train_bpe

    glued = lesson.punctuation_variants(train_bpe(DOGS, 40, rule="whitespace"))
    # Splitting at spaces only, BPE spends merges on "dog." "dog!" "dog?" (GPT-2 §2.2's own example).
    assert {" dog.", " dog!", " dog?", " dog,"} <= set(glued)
    assert all(any(c.isalpha() for c in t) and any(not c.isalnum() and not c.isspace() for c in t) for t in glued)
    # GPT-2's rule never merges across letters and punctuation: " dog" is learned once, the marks apart.
    gpt2 = train_bpe(DOGS, 40, rule="gpt2")
    assert lesson.punctuation_variants(gpt2) == []
    assert " dog" in {readable(left + right) for left, right in gpt2.merges}


def test_punctuation_variants_on_shakespeare_are_only_contractions_under_gpt2s_rule():
    from lmteach.data.bpe import train_bpe
    from lmteach.data.corpus import load_corpus

    text = load_corpus().text[:40000]
    glued = lesson.punctuation_variants(train_bpe(text, 300, rule="whitespace"))
    kept = lesson.punctuation_variants(train_bpe(text, 300, rule="gpt2"))
    # GPT-2's regex keeps English contractions ('s 't 're 've 'm 'll 'd) as words of their own: the only
    # letter-and-punctuation tokens it can make.
    assert set(kept) <= {"'s", "'t", "'re", "'ve", "'m", "'ll", "'d"}
    assert len(glued) > 3 * len(kept)
    assert any(t.endswith((",", ".", ";", ":")) and t not in kept for t in glued)  # e.g. "e," or "s."


@pytest.mark.parametrize("id, right, wrong", [("04.1", 0.02 / math.sqrt(24), 0.02), ("04.2", "post", "pre"),
                                              ("04.3", 4, 1), ("04.4", 0.25, 0.5)])
def test_exercises(id, right, wrong):
    assert exercises.check(id, right)
    assert not exercises.check(id, wrong)
