"""Lesson 02 (BERT): the pretraining data (scenes as segments, masked-LM batches with any rate and mix), the
lesson's measurements (accuracy by mask rate, the mlm-sweep results, the 80/10/10 ablation), the three widgets and
the exercises. The held-out figures themselves are tested in tests/test_evaluation.py, fine-tuning in
tests/test_finetune.py, the mlm-sweep recipe's build in tests/test_recipes.py."""

import json

import pytest
import torch
from torch import nn

import lmteach as lt
from lmteach import exercises
from lmteach.analysis.evaluation import pair_accuracy
from lmteach.data.corpus import load_corpus
from lmteach.data.tokenization import load_default
from lmteach.lessons import bert as lesson
from lmteach.models.transformer import ModelOutput
from lmteach.objectives import IGNORE_INDEX, Fate
from lmteach.training import masked_lm_batches, tokenized_documents
from lmteach.widgets.fill_mask import FillMask, fill_mask_html
from lmteach.widgets.masking_explorer import MaskingExplorer, corrupt_text
from lmteach.widgets.pair_builder import PairBuilder, drawn_pair


@pytest.fixture(scope="module")
def tok():
    return load_default("wordpiece")


@pytest.fixture(scope="module")
def parts():
    return load_corpus().split_by_play()


def a_few_scenes_per_play(documents, plays, per_play):
    chosen = [i for i in range(len(documents)) if plays[:i].count(plays[i]) < per_play]
    return [documents[i] for i in chosen], [plays[i] for i in chosen]


@pytest.fixture(scope="module")
def docs(tok, parts):
    """(documents, plays) to continue training on (validation plays) and held out (test plays): a few scenes of
    each play, so NotNext segments can come from another play."""
    return (a_few_scenes_per_play(*tokenized_documents(tok, parts["validation"]), per_play=2),
            a_few_scenes_per_play(*tokenized_documents(tok, parts["test"]), per_play=2))


@pytest.fixture(scope="module")
def small_bert(tok):
    torch.manual_seed(0)
    cfg = lt.configs.preset("bert", "tiny", vocab_size=tok.vocab_size, hidden_size=32, num_heads=2, ffn_size=64,
                            num_layers=1)
    return lt.build(cfg).eval()


# --- the pretraining data -----------------------------------------------------------------------------------------

def _speeches(corpus, speakers=False):
    return [[f"{s.speaker}: {s.text}" if speakers and s.speaker else s.text for s in scene]
            for scene in corpus.speeches_by_document()]


def test_tokenized_documents_keep_one_speech_per_segment_and_the_play(tok, parts):
    corpus = parts["test"]
    documents, plays = tokenized_documents(tok, corpus, max_documents=8)
    # By hand: each scene's speeches, encoded, empty ones dropped; scenes with fewer than two dropped.
    expected = [[ids for ids in (tok.encode(text) for text in scene) if ids] for scene in _speeches(corpus)[:8]]
    kept = [i for i, scene in enumerate(expected) if len(scene) >= 2]
    assert 0 < len(kept) < 8  # the first scenes include one-speech prologues, which are dropped
    assert documents == [expected[i] for i in kept]
    assert plays == [corpus.document_works[i] for i in kept]
    named, _ = tokenized_documents(tok, corpus, max_documents=3, speakers=True)
    expected = [[ids for ids in (tok.encode(text) for text in scene) if ids]
                for scene in _speeches(corpus, speakers=True)[:3]]
    assert named == [scene for scene in expected if len(scene) >= 2]
    # the speaker's name leads each speech, as the edition prints it
    scene = next(scene for scene in corpus.speeches_by_document()[:3] if len(scene) >= 2)
    prefix = tok.encode(f"{scene[0].speaker}:")
    assert named[0][0][:len(prefix)] == prefix and documents[0][0][:len(prefix)] != prefix


def test_tokenized_documents_pack_speeches_or_cut_anywhere(tok, parts):
    corpus = parts["test"]
    every = dict(max_documents=6, min_segments=1)  # keep every scene, so the three line up
    speeches, _ = tokenized_documents(tok, corpus, **every)
    packed, _ = tokenized_documents(tok, corpus, span_tokens=40, **every)
    cut, _ = tokenized_documents(tok, corpus, span_tokens=40, cut="anywhere", **every)
    assert len(speeches) == len(packed) == len(cut) == 6
    for whole, spans, pieces in zip(speeches, packed, cut):
        stream = [t for speech in whole for t in speech]
        assert [t for span in spans for t in span] == stream  # whole speeches, in order, none lost
        assert len(spans) <= len(whole)
        # a span is up to 40 tokens, unless a single speech is longer
        lengths = {len(s) for s in whole}
        assert all(len(span) <= 40 or len(span) in lengths for span in spans)
        # cut anywhere: 40-token pieces of the same stream (a short last piece is dropped)
        assert all(len(piece) == 40 for piece in pieces[:-1]) and min(8, len(stream)) <= len(pieces[-1]) <= 40
        assert [t for piece in pieces for t in piece] == stream[:sum(map(len, pieces))]
    with pytest.raises(ValueError, match="cut"):
        tokenized_documents(tok, corpus, cut="sentences")
    with pytest.raises(ValueError, match="span_tokens"):
        tokenized_documents(tok, corpus, cut="anywhere")
    few, _ = tokenized_documents(tok, corpus, max_documents=6, span_tokens=100_000)
    assert few == []  # a whole scene in one span: no pair fits, so the scene is dropped


@pytest.mark.parametrize("mix", [lesson.BERT_MIX, lesson.MASK_ONLY_MIX])
def test_masked_lm_batches_follow_the_rate_and_mix(tok, docs, mix):
    train_docs, train_plays = docs[0]
    make = masked_lm_batches(tok, 64, 32, documents=train_docs, groups=train_plays, pair_task="nsp", seed=3,
                             rate=0.4, mix=mix)
    batch = make(0)
    picked = batch["labels"] != IGNORE_INDEX
    real = batch["attention_mask"].bool() & ~torch.isin(batch["labels"].where(picked, batch["input_ids"]),
                                                        torch.tensor(sorted(tok.special_ids)))
    assert abs(picked.sum().item() / real.sum().item() - 0.4) < 0.03
    masked_share = (batch["input_ids"][picked] == tok.mask_id).float().mean().item()
    if mix == lesson.MASK_ONLY_MIX:
        assert masked_share == 1.0
    else:
        assert 0.7 < masked_share < 0.9
    assert set(batch["pair_labels"].tolist()) <= {0, 1}
    assert torch.equal(make(0)["input_ids"], batch["input_ids"])  # reproducible from (seed, step)


def test_masked_lm_batches_cut_long_pairs_at_random_ends(tok):
    long_docs = [[list(range(1000 + 100 * s, 1060 + 100 * s)) for s in range(3)] for _ in range(2)]

    def first_tokens(random_truncation):
        batch = masked_lm_batches(tok, 32, 16, documents=long_docs, groups=["a", "b"], pair_task="sop", seed=0,
                                  rate=0.01, random_truncation=random_truncation)(0)
        clean = torch.where(batch["labels"] != IGNORE_INDEX, batch["labels"], batch["input_ids"])
        return {int(t) % 100 for t in clean[:, 1]}  # where segment A starts, inside its segment

    assert first_tokens(False) == {0}
    assert len(first_tokens(True)) > 3


def test_nsp_accuracy_of_an_untrained_model_is_near_chance(tok, docs, small_bert):
    held_out, plays = docs[1]
    assert 0.25 < pair_accuracy(small_bert, tok, held_out, plays, "nsp", pairs=128) < 0.75


# --- lesson 02's measurements -------------------------------------------------------------------------------------

class CopyLeft(nn.Module):
    """A masked LM that guesses each token is the one on its left: right wherever the left neighbour is shown and
    repeats the token, so it loses exactly the positions whose left neighbour was hidden too."""

    def __init__(self, vocab_size):
        super().__init__()
        self.anchor = nn.Parameter(torch.zeros(1))
        self.vocab_size = vocab_size

    def forward(self, input_ids, attention_mask=None, token_type_ids=None):
        left = torch.cat([input_ids[:, :1], input_ids[:, :-1]], dim=1)
        return ModelOutput(prediction_logits=nn.functional.one_hot(left, self.vocab_size).float())


def test_accuracy_by_mask_rate_falls_as_less_context_is_left(tok):
    # Segments of one repeated token: a guess from the left neighbour is right unless that neighbour is masked.
    documents = [[[200 + 10 * d + s] * 30 for s in range(4)] for d in range(4)]
    by_rate = lesson.accuracy_by_mask_rate(CopyLeft(tok.vocab_size), tok, documents, ["a", "a", "b", "b"],
                                           rates=(0.05, 0.3, 0.6), batches=2)
    assert list(by_rate) == [0.05, 0.3, 0.6]
    for rate, accuracy in by_rate.items():  # left neighbour shown: about 1 - rate (minus the segment starts)
        assert accuracy == pytest.approx((1 - rate) * 29 / 30, abs=0.05)
    assert by_rate[0.05] > by_rate[0.3] > by_rate[0.6]


def _sweep():
    """A small hand-made sweep in the format of the mlm-sweep recipe's results.json."""
    runs = []
    for seed, bonus in ((0, 0.0), (1, 0.02)):
        runs.append({"rate": 0.15, "seed": seed, "curve": [[10, 0.05 + bonus], [20, 0.20 + bonus]]})
        runs.append({"rate": 0.8, "seed": seed, "curve": [[10, 0.04 + bonus], [20, 0.10 + bonus]]})
    return {"settings": {"rates": [0.15, 0.8], "seeds": [0, 1]}, "runs": runs}


def test_sweep_results_read_back_by_rate_seed_and_step(tmp_path):
    path = tmp_path / "results.json"
    path.write_text(json.dumps(_sweep()))
    sweep = lesson.load_sweep(path)
    curves = lesson.sweep_curves(sweep)
    assert list(curves) == [0.15, 0.8]
    assert curves[0.15] == {"steps": [10, 20], "by_seed": {0: [0.05, 0.20], 1: [0.07, 0.22]}}
    assert lesson.accuracy_at(sweep, 0.8) == pytest.approx([0.10, 0.12])
    assert lesson.accuracy_at(sweep, 0.15, step=10) == pytest.approx([0.05, 0.07])
    assert lesson.sweep_png(sweep)[:4] == b"\x89PNG"


def test_mix_ablation_trains_copies_with_each_mix(tok, docs, small_bert):
    (train_docs, train_plays), (eval_docs, eval_plays) = docs
    before = {k: v.clone() for k, v in small_bert.state_dict().items()}
    rows = lesson.mix_ablation(small_bert, tok, train_docs, eval_docs, train_plays, eval_plays, steps=2, seeds=(0,),
                               batch_size=4, seq_len=32, eval_batches=1)
    assert [(r["mix"], r["seed"]) for r in rows] == [("start", None), ("80/10/10", 0), ("[MASK] only", 0)]
    for row in rows:
        assert all(0.0 <= row[k] <= 1.0 for k in ("masked_accuracy", "kept_accuracy", "copy_accuracy"))
    assert rows[1] != rows[2]  # the two mixes trained differently
    assert all(torch.equal(v, before[k]) for k, v in small_bert.state_dict().items())  # copies were trained


# --- widgets -------------------------------------------------------------------------------------------------------

def test_corrupt_text_counts_match_the_fates(tok):
    result = corrupt_text(tok, "now is the winter of our discontent made glorious summer by this sun of york",
                          rate=0.4, seed=1)
    fates = result["fates"]
    assert fates[0] == Fate.SPECIAL and fates[-1] == Fate.SPECIAL
    assert result["counts"]["selected"] == result["expected"]["selected"] == round(0.4 * (len(fates) - 2))
    assert result["counts"]["masked"] == sum(a == "[MASK]" for a in result["after"])


def test_masking_explorer_redraws_on_every_control(tok):
    explorer = MaskingExplorer(tok, seed=0)
    assert explorer.widget._dom_classes == ("lmteach-masking-explorer",)
    first = explorer.sentence.value
    explorer.seed.value = 1
    assert explorer.sentence.value != first
    explorer.rate.value = 0.6
    assert explorer.result["counts"]["selected"] == explorer.result["expected"]["selected"]
    assert f"<td style='text-align:right;padding:0 6px'>{explorer.result['counts']['selected']}</td>" in \
        explorer.counts.value
    explorer.mask_fraction.value, explorer.random_fraction.value = 1.0, 0.0
    assert explorer.result["counts"]["random"] == explorer.result["counts"]["kept"] == 0
    assert "kept share 0.00" in explorer.mix_note.value
    explorer.random_fraction.value = 0.5  # cannot exceed 1 - [MASK] share: capped, and said so
    assert "capped" in explorer.mix_note.value
    explorer.mask_fraction.value, explorer.random_fraction.value = 0.0, 0.0
    assert explorer.result["counts"]["kept"] == explorer.result["counts"]["selected"]
    assert "lmteach-fate-kept" in explorer.sentence.value
    explorer.whole_word.value = True
    explorer.text.value = "unsex me here"  # 'unse ##x': whole-word masking picks both pieces or neither
    fates = explorer.result["fates"][1:3]
    assert (fates[0] == Fate.NOT_SELECTED) == (fates[1] == Fate.NOT_SELECTED)
    explorer.text.value = "  "
    assert "type a sentence" in explorer.sentence.value


def test_drawn_pair_has_the_asked_label_and_segments(tok, docs):
    for label in (0, 1):
        example = drawn_pair(tok, docs[1][0], label, seed=5)
        assert example["labels"] == label
        ids, types = example["input_ids"], example["token_type_ids"]
        assert ids[0] == tok.cls_id and ids[-1] == tok.sep_id and ids.count(tok.sep_id) == 2
        first_sep = ids.index(tok.sep_id)
        assert set(types[:first_sep + 1]) == {0} and set(types[first_sep + 1:]) == {1}


def test_pair_builder_draws_and_packs_typed_text(tok, docs, small_bert):
    builder = PairBuilder(tok, docs[1][0], model=small_bert)
    assert builder.widget._dom_classes == ("lmteach-pair-builder",)
    assert "IsNext" in builder.output.value and "P(IsNext)" in builder.verdict.value
    builder.label.value = 1
    assert "NotNext" in builder.output.value and builder.example["labels"] == 1
    before = builder.text_a.value
    builder.seed.value = 7
    assert builder.text_a.value != before
    builder.text_a.value = "to be or not to be"
    assert "your own pair" in builder.output.value
    assert builder.example["input_ids"][:8] == [tok.cls_id] + tok.encode("to be or not to be") + [tok.sep_id]
    assert builder.output.value.count("lmteach-segment-a") == 8  # [CLS] + 6 tokens + [SEP]


def test_fill_mask_widget_updates_and_explains_errors(tok, small_bert):
    widget = FillMask(small_bert, tok, text="the [MASK] of denmark", top_k=3)
    assert widget.widget._dom_classes == ("lmteach-fill-mask",)
    assert len(widget.guesses) == 1 and len(widget.guesses[0]) == 3
    widget.top_k.value = 7
    assert len(widget.guesses[0]) == 7 and widget.output.value.count("<tr><td") == 7
    widget.text.value = "[MASK] is the [MASK]"
    assert len(widget.guesses) == 2 and "[MASK] 2" in widget.output.value
    widget.text.value = "no mask here"
    assert widget.guesses == [] and "no [MASK]" in widget.output.value
    assert "lmteach-fill-mask-guesses" in fill_mask_html(small_bert, tok, "a [MASK]")


# --- exercises ------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("id, right, wrong", [("02.1", 24, 30), ("02.2", 1, 0), ("02.3", 0.015, 0.15),
                                              ("02.4", 1024, 614)])
def test_exercises_accept_the_answer_and_reject_a_wrong_one(id, right, wrong):
    assert exercises.check(id, right)
    assert not exercises.check(id, wrong)
    assert not exercises.check(id, "not a number")
