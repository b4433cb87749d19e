"""Lesson 05 (ALBERT): the embedding calculator, layer-transition measurements, NSP/SOP cross-evaluation
(Table 5), the pair builder in SOP mode and the exercises. The shipped NSP/SOP checkpoints are checked in
tests/test_shipped_checkpoints.py; pair accuracy against an oracle in tests/test_evaluation.py."""

from __future__ import annotations

import math

import pytest
import torch

import lmteach as lt
from lmteach import exercises
from lmteach.analysis import layer_similarity as ls
from lmteach.widgets.embedding_calculator import EmbeddingCalculator, embedding_params

class TinyTokenizer:
    """Just the ids the pair builders need, and a whitespace encoder."""
    pad_id, cls_id, sep_id, mask_id, vocab_size = 0, 1, 2, 3, 50

    def encode(self, text):
        return [4 + (sum(map(ord, word)) % 46) for word in text.split()]


def tiny_albert(pair_task="sop", layers=3):
    torch.manual_seed(0)
    cfg = lt.configs.albert("tiny", vocab_size=50, max_positions=32, hidden_size=32, num_heads=2, ffn_size=64,
                            embedding_size=16, num_layers=layers, pair_task=pair_task)
    return lt.build(cfg)


# --- factorized embedding calculator ---------------------------------------------------------------------------

def test_embedding_params_albert_base():
    counts = embedding_params(30000, 128, 768)
    assert counts["untied"] == 23_040_000
    assert counts["factorized"] == 3_840_000 + 98_304
    assert counts["saved"] == counts["untied"] - counts["factorized"]
    assert counts["ratio"] == pytest.approx(23_040_000 / 3_938_304)


def test_calculator_sliders_redraw_and_recount():
    calc = EmbeddingCalculator()
    picture, text = calc.chart.value, calc.summary.value
    assert picture[:4] == b"\x89PNG" and "23,040,000" in text
    calc.hidden_size.value = 4096
    assert calc.counts["untied"] == 30000 * 4096
    assert calc.chart.value != picture and "122,880,000" in calc.summary.value
    calc.embedding_size.value = 64
    assert calc.counts["factorized"] == 30000 * 64 + 64 * 4096
    calc.vocab_size.value = 50000
    assert calc.counts["table"] == 50000 * 64
    assert "fewer" in calc.summary.value


def test_calculator_says_when_factorizing_costs_more():
    calc = EmbeddingCalculator(embedding_size=768, hidden_size=768)
    assert calc.counts["saved"] < 0
    assert "more parameters" in calc.summary.value
    assert "lmteach-embedding-calculator" in calc.widget._dom_classes


# --- layer transitions (Figure 1) ------------------------------------------------------------------------------

def test_wobble_is_zero_for_a_geometric_curve_and_grows_with_zigzag():
    geometric = [9.0, 4.0, 2.0, 1.0, 0.5, 0.25]
    assert ls.wobble(geometric) == pytest.approx(0.0, abs=1e-12)
    zigzag = [9.0, 4.0, 2.0, 2.2, 1.0, 1.1]
    assert ls.wobble(zigzag) > 0.3
    # the first layer is skipped by default: a different first step does not count
    assert ls.wobble([100.0, 4.0, 2.0, 1.0]) == pytest.approx(0.0, abs=1e-12)
    assert ls.wobble([100.0, 4.0, 2.0, 1.0], skip_first=False) > 0.5


def test_wobble_rejects_too_short_or_non_positive_curves():
    with pytest.raises(ValueError, match="three layers"):
        ls.wobble([1.0, 0.5, 0.25])
    with pytest.raises(ValueError, match="positive"):
        ls.wobble([1.0, 0.5, 0.0, 0.25])


def test_layer_transitions_match_a_hand_computation():
    model = tiny_albert(layers=3)
    ids = torch.randint(4, 50, (2, 7))
    mask = torch.ones_like(ids)
    mask[1, 5:] = 0
    batch = {"input_ids": ids, "attention_mask": mask, "token_type_ids": torch.zeros_like(ids)}
    result = ls.layer_transitions(model, batch)
    assert result["l2"].shape == result["cosine"].shape == (3,)
    model.eval()
    with torch.no_grad():
        states = model.body(ids, mask, torch.zeros_like(ids), output_hidden_states=True).hidden_states
    real = mask.bool()
    expected_l2 = (states[2] - states[1]).norm(dim=-1)[real].mean()
    expected_cos = torch.nn.functional.cosine_similarity(states[2], states[1], dim=-1)[real].mean()
    assert result["l2"][1] == pytest.approx(float(expected_l2), rel=1e-5)
    assert result["cosine"][1] == pytest.approx(float(expected_cos), rel=1e-5)
    assert result["degrees"][1] == pytest.approx(math.degrees(math.acos(float(expected_cos))), rel=1e-4)


def test_plot_transitions_draws_both_panels():
    from lmteach.analysis.plots import new_figure
    figure, axes = new_figure(ncols=2)
    t = {"l2": torch.tensor([3.0, 2.0, 1.0]), "cosine": torch.tensor([0.9, 0.95, 0.99])}
    ls.plot_transitions(axes, {"albert": t, "bert": t})
    assert len(axes[0].lines) == 2 and len(axes[1].lines) == 2
    assert list(axes[1].lines[0].get_ydata()) == pytest.approx([0.9, 0.95, 0.99])


# --- NSP vs SOP (Table 5) --------------------------------------------------------------------------------------

DOCS_TEXT = [["to be or not", "that is the question", "whether tis nobler", ""],
             ["now is the winter", "of our discontent"],
             ["alone"],
             ["friends romans countrymen", "lend me your ears", "i come to bury caesar"]]


def token_documents(tokenizer):
    """DOCS_TEXT as documents of token ids (empty speeches dropped, documents without a pair dropped) and plays."""
    docs = [[tokenizer.encode(s) for s in doc if s] for doc in DOCS_TEXT]
    kept = [i for i, doc in enumerate(docs) if len(doc) >= 2]
    return [docs[i] for i in kept], [f"play {i}" for i in kept]


def constant_head(model, answer):
    """Make the pair head always answer `answer` (0 = IsNext / in order, 1 = NotNext / swapped)."""
    with torch.no_grad():
        model.pair_head.weight.zero_()
        model.pair_head.bias.copy_(torch.tensor([1.0, 0.0] if answer == 0 else [0.0, 1.0]))
    return model


def test_cross_evaluate_grades_every_head_on_both_tasks_with_the_same_pairs():
    from lmteach.lessons.albert import cross_evaluate

    docs, plays = token_documents(TinyTokenizer())
    models = {"NSP-trained": constant_head(tiny_albert("nsp"), 0), "SOP-trained": constant_head(tiny_albert("sop"), 0),
              "says swapped": constant_head(tiny_albert("sop"), 1)}
    results = cross_evaluate(models, TinyTokenizer(), docs, plays, pairs=64, seq_len=12)
    assert set(results) == set(models) and all(set(row) == {"NSP", "SOP"} for row in results.values())
    # An NSP head and an SOP head that both always say 0 score the same: the pairs do not depend on the model.
    assert results["NSP-trained"] == results["SOP-trained"]
    # Always 0 and always 1 split the pairs between them: the label shares, about half each.
    for task in ("NSP", "SOP"):
        assert results["SOP-trained"][task] + results["says swapped"][task] == pytest.approx(1.0)
        assert 0.3 < results["SOP-trained"][task] < 0.7


def test_cross_table_shows_ours_beside_the_papers():
    from lmteach.lessons.albert import ALBERT_TABLE5, cross_table_html

    results = {"NSP-trained": {"NSP": 0.912, "SOP": 0.5}, "SOP-trained": {"NSP": 0.75, "SOP": 0.871}}
    table = cross_table_html(results, paper=ALBERT_TABLE5)
    for number in ("91.2", "50.0", "75.0", "87.1", "90.5", "52.0", "78.9", "86.5"):
        assert f"<td>{number}</td>" in table
    assert table.index("91.2") < table.index("90.5") < table.index("50.0")  # ours, then the paper's, per task
    plain = cross_table_html(results)
    assert "paper" not in plain and "<td>87.1</td>" in plain


# --- exercises -------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("exercise_id, right, wrong", [
    ("05.1", 30000 * 128 + 128 * 4096, 30000 * 4096),
    ("05.2", 748, 749),
    ("05.3", 1.0, 4.0),
    ("05.4", "topic", "order"),
])
def test_exercises_accept_right_and_reject_wrong(exercise_id, right, wrong):
    assert exercises.check(exercise_id, right) is True
    assert exercises.check(exercise_id, wrong) is False


def test_exercise_05_3_matches_the_library():
    twelve = lt.count_params(lt.configs.albert("base"))
    assert lt.count_params(lt.configs.albert("base", num_layers=48)) == twelve
    assert exercises.check("05.3", lt.count_params(lt.configs.albert("base", num_layers=48)) / twelve)


def test_exercise_05_2_bound():
    V, H = 30000, 768
    assert 748 * (V + H) < V * H <= 749 * (V + H)


# --- the pair builder in SOP mode (ALBERT §3.1: the same two segments, in order or swapped) --------------------

def _segments(example):
    """(A, B) token ids of a packed [CLS] A [SEP] B [SEP] example."""
    ids, types = example["input_ids"], example["token_type_ids"]
    return [i for i, t in zip(ids, types) if t == 0][1:-1], [i for i, t in zip(ids, types) if t == 1][:-1]


@pytest.fixture(scope="module")
def wordpiece():
    from lmteach.data.tokenization import load_default
    return load_default("wordpiece")


def test_drawn_sop_pair_is_two_consecutive_segments_in_order_or_swapped(wordpiece):
    from lmteach.objectives import SOP_IN_ORDER, SOP_SWAPPED
    from lmteach.widgets.pair_builder import drawn_pair

    docs, _ = token_documents(wordpiece)
    consecutive = {(tuple(doc[i]), tuple(doc[i + 1])) for doc in docs for i in range(len(doc) - 1)}
    for seed in range(6):
        in_order = drawn_pair(wordpiece, docs, SOP_IN_ORDER, seed, task="sop")
        swapped = drawn_pair(wordpiece, docs, SOP_SWAPPED, seed, task="sop")
        assert (in_order["labels"], swapped["labels"]) == (0, 1)
        a, b = _segments(in_order)
        assert (tuple(a), tuple(b)) in consecutive          # A really comes before B in one document
        assert _segments(swapped) == (b, a)                 # the same two segments, swapped
    with pytest.raises(ValueError, match="task"):
        drawn_pair(wordpiece, docs, 0, 0, task="mlm")


def test_pair_builder_sop_mode_swaps_segments_flips_label_and_shows_the_sop_head(wordpiece):
    from lmteach.widgets.pair_builder import PairBuilder

    docs, _ = token_documents(wordpiece)
    torch.manual_seed(0)
    cfg = lt.configs.albert("tiny", vocab_size=wordpiece.vocab_size, max_positions=64, hidden_size=32, num_heads=2,
                            ffn_size=64, embedding_size=16, num_layers=2, pair_task="sop")
    model = lt.build(cfg).eval()
    builder = PairBuilder(wordpiece, docs, model=model)
    assert builder.task.value == "nsp" and "IsNext" in builder.output.value
    builder.task.value = "sop"
    assert [name for name, _ in builder.label.options] == ["in order", "swapped"]
    assert builder.example["labels"] == 0 and "in order" in builder.output.value
    a_text, b_text = builder.text_a.value, builder.text_b.value
    a_ids, b_ids = _segments(builder.example)
    builder.label.value = 1
    assert builder.example["labels"] == 1 and "swapped" in builder.output.value
    assert "B comes first" in builder.output.value
    assert (builder.text_a.value, builder.text_b.value) == (b_text, a_text)
    assert _segments(builder.example) == (b_ids, a_ids)
    assert builder.example["input_ids"] == [wordpiece.cls_id, *b_ids, wordpiece.sep_id, *a_ids, wordpiece.sep_id]
    # the verdict is the model's SOP head on exactly this input
    with torch.no_grad():
        out = model(input_ids=torch.tensor([builder.example["input_ids"]]),
                    token_type_ids=torch.tensor([builder.example["token_type_ids"]]))
    assert f"P(in order) = <b>{float(out.sop_logits.softmax(-1)[0, 0]):.2f}</b>" in builder.verdict.value
    # back to NSP: the labels are NSP's again, the choice (label 1) is kept
    builder.task.value = "nsp"
    assert [name for name, _ in builder.label.options] == ["IsNext", "NotNext"]
    assert builder.example["labels"] == 1 and "NotNext" in builder.output.value
    with pytest.raises(ValueError, match="task"):
        PairBuilder(wordpiece, docs, task="order")


# --- Table 5's argument with two count readers ------------------------------------------------------------------

def _synthetic_scenes():
    """Two "plays", each of scenes whose text runs through a play's own cycle of four pieces: 10, 11, 12, 13, 10, ...
    (play 0) and 30..33 (play 1). Cut into segments of 5, consecutive segments share their pieces (one topic per
    play), and a B that continues A starts with the piece that follows A's last one; a swapped B starts with the
    piece before, a bigram the text never runs through."""
    documents, groups = [], []
    for play, base in enumerate((10, 30)):
        for scene in range(6):
            stream = [base + (scene + i) % 4 for i in range(60)]
            documents.append([stream[k:k + 5] for k in range(0, 60, 5)])
            groups.append(play)
    return documents, groups


def test_topic_reader_is_blind_to_order_and_sees_topic():
    from lmteach.lessons.albert import TopicReader
    reader = TopicReader([[[1, 1, 1, 2, 2, 3], [10, 11, 12]]], common=3)      # pieces 1, 2, 3 are the common ones
    same_play, other_play = [10, 11, 1, 12], [12, 13, 2]
    assert reader.score(same_play, other_play) == reader.score(other_play, same_play)
    assert reader.score([10, 11, 12], [11, 12, 13]) == pytest.approx(2 / 4)    # {11, 12} of {10, 11, 12, 13}
    assert reader.score([10, 11, 12], [30, 31, 1]) == 0.0                      # only a common piece in common


def test_seam_reader_prefers_the_bigram_the_text_ran_through():
    from lmteach.lessons.albert import SeamReader
    documents, _ = _synthetic_scenes()
    reader = SeamReader(documents)
    assert reader.score([5, 12], [13, 6]) > 0 > reader.score([5, 13], [12, 6])   # 12 -> 13 occurs, 13 -> 12 never


def test_fit_threshold_finds_the_best_cut_and_treats_ties_alike():
    from lmteach.lessons.albert import fit_threshold, reader_accuracy

    class ScoreIsA:
        def score(self, a, b):
            return a[0]

    examples = [([s], [0], label) for s, label in [(1, 1), (2, 1), (3, 0), (3, 1), (4, 0), (5, 0)]]
    reader = ScoreIsA()
    threshold = fit_threshold(reader, examples)
    assert reader_accuracy(reader, threshold, examples) == pytest.approx(5 / 6)
    assert 2 <= threshold < 3           # the tie at 3 cannot be split: both get the same answer
    everything_natural = [([1], [0], 0), ([2], [0], 0)]
    assert reader_accuracy(reader, fit_threshold(reader, everything_natural), everything_natural) == 1.0


def test_readers_reproduce_table_5s_shape_on_synthetic_plays():
    """Topic: NSP well above chance, SOP at chance; seam: both above chance."""
    from lmteach.lessons.albert import count_readers_table, pair_examples
    documents, groups = _synthetic_scenes()
    table = count_readers_table(documents, groups, documents, groups, pairs=400, seed=3, common=0)
    topic, seam = table.values()
    assert topic["NSP"] > 0.9 and abs(topic["SOP"] - 0.5) < 0.1
    assert seam["SOP"] > 0.9 and seam["NSP"] > 0.9
    for a, b, label in pair_examples(documents, groups, "sop", pairs=50, seed=1):
        assert len(a) == len(b) == 5 and label in (0, 1)
