"""The five labelled tasks built from the corpus."""

import re
from collections import Counter

import numpy as np
import pytest

from lmteach.data.tasks import SPLITS, TASK_NAMES, load_task, task_info

TEXT_FIELDS = {"genre": ["text"], "verse_prose": ["text"], "reply": ["premise", "hypothesis"],
               "same_play": ["text_a", "text_b"], "next_speech": ["context", "choices"]}


def texts_of(example, task):
    out = []
    for field in TEXT_FIELDS[task]:
        value = example[field]
        out.extend(value if isinstance(value, list) else [value])
    return out


@pytest.mark.parametrize("task", TASK_NAMES)
def test_sizes_and_recorded_baselines(task):
    info = task_info(task)
    assert info["kind"] in {"single", "pair", "similarity", "multiple_choice"}
    for split in SPLITS:
        examples = load_task(task, split)
        recorded = info["splits"][split]
        assert recorded["size"] == len(examples)
        # verse_prose is limited by how many speeches are clearly verse or clearly prose.
        smallest = {"train": 1400, "validation": 300, "test": 300} if task == "verse_prose" else \
            {"train": 1500, "validation": 450, "test": 450}
        assert smallest[split] <= len(examples) <= 3000
        counts = Counter(e["label"] for e in examples)
        assert [counts.get(i, 0) for i in range(len(info["label_names"]))] == recorded["label_counts"]
        majority = max(counts.values()) / len(examples)
        assert recorded["majority_baseline"] == pytest.approx(majority, abs=1e-4)
        assert majority < info["chance"] + 0.02  # balanced: the baseline is chance
        assert all(set(TEXT_FIELDS[task]) <= set(e) for e in examples)


@pytest.mark.parametrize("task", TASK_NAMES)
def test_splits_are_disjoint(task):
    seen = {split: {t for e in load_task(task, split) for t in texts_of(e, task)} for split in SPLITS}
    # A short stock line ("I will, my lord.") may recur in several plays; real leakage would be many.
    assert len(seen["train"] & seen["test"]) <= 3
    assert len(seen["train"] & seen["validation"]) <= 3
    assert len(seen["validation"] & seen["test"]) <= 3


@pytest.mark.parametrize("task", ["genre", "verse_prose"])
def test_single_text_tasks_split_by_play(task):
    plays = {split: {e["play"] for e in load_task(task, split)} for split in SPLITS}
    assert not plays["train"] & plays["test"] and not plays["train"] & plays["validation"]
    assert not plays["validation"] & plays["test"]
    assert plays["test"] == set(task_info("genre")["plays"]["test"])


def test_no_speaker_labels_or_stage_directions_in_text():
    speaker_line = re.compile(r"^[A-Z][A-Z ]+[.:]\s")
    for task in TASK_NAMES:
        for e in load_task(task, "validation"):
            for text in texts_of(e, task):
                assert not speaker_line.match(text) and "[" not in text and "\n" not in text


def test_reply_hypotheses_are_length_matched():
    examples = load_task("reply", "train")
    mean_words = [np.mean([len(e["hypothesis"].split()) for e in examples if e["label"] == k])
                  for k in range(3)]
    assert max(mean_words) - min(mean_words) < 2.0


def test_multiple_choice_has_one_answer_among_four():
    for split in SPLITS:
        examples = load_task("next_speech", split)
        for e in examples:
            assert len(e["choices"]) == 4 and len(set(e["choices"])) == 4
            assert 0 <= e["label"] < 4 and e["context"] not in e["choices"]
        # The answer is not simply the longest choice.
        longest = np.mean([np.argmax([len(c) for c in e["choices"]]) == e["label"] for e in examples])
        assert longest < 0.35


def test_same_play_is_symmetric_in_form():
    examples = load_task("same_play", "train")
    # Which speech comes first carries no signal about the label.
    longer_first = [len(e["text_a"]) > len(e["text_b"]) for e in examples]
    assert 0.4 < np.mean(longer_first) < 0.6


def _bag_of_words(texts, vocab):
    x = np.zeros((len(texts), len(vocab)), dtype=np.float32)
    for row, text in enumerate(texts):
        for word in re.findall(r"[a-z']+", text.lower()):
            column = vocab.get(word)
            if column is not None:
                x[row, column] = 1.0
    return x


def test_genre_is_learnable_from_content_words():
    train, test = load_task("genre", "train"), load_task("genre", "test")
    counts = Counter(w for e in train for w in set(re.findall(r"[a-z']+", e["text"].lower())))
    vocab = {w: i for i, w in enumerate(w for w, n in counts.items() if n >= 3)}
    x_train, x_test = _bag_of_words([e["text"] for e in train], vocab), _bag_of_words([e["text"] for e in test], vocab)
    y_train = np.array([e["label"] for e in train])
    y_test = np.array([e["label"] for e in test])
    # Softmax regression with L2, plain full-batch gradient descent.
    rng = np.random.default_rng(0)
    weights = rng.normal(0, 0.01, (len(vocab), 3)).astype(np.float32)
    bias = np.zeros(3, dtype=np.float32)
    onehot = np.eye(3, dtype=np.float32)[y_train]
    x_train_t = np.ascontiguousarray(x_train.T)
    for _ in range(100):
        logits = x_train @ weights + bias
        probs = np.exp(logits - logits.max(1, keepdims=True))
        probs /= probs.sum(1, keepdims=True)
        grad = (probs - onehot) / len(train)
        weights -= 1.0 * (x_train_t @ grad + 1e-3 * weights)
        bias -= 1.0 * grad.sum(0)
    accuracy = ((x_test @ weights + bias).argmax(1) == y_test).mean()
    majority = task_info("genre")["splits"]["test"]["majority_baseline"]
    assert accuracy > majority + 0.07, (accuracy, majority)


def test_unknown_names_give_clear_errors():
    with pytest.raises(ValueError, match="unknown task"):
        load_task("sentiment")
    with pytest.raises(ValueError, match="unknown split"):
        load_task("genre", "dev")


def test_verse_prose_labels_follow_the_line_layout_and_the_text_hides_it():
    """The label rule (read off the edition's line breaks) agrees with the corpus, and the examples' one-line
    text no longer shows the line breaks."""
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("build_tasks", Path(__file__).parents[1] / "scripts" / "build_tasks.py")
    build_tasks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(build_tasks)
    assert build_tasks.verse_or_prose("To be, or not to be:\nThat is the question:\nWhether 'tis nobler") == 1
    assert build_tasks.verse_or_prose("I have drunk but one cup\nto-night, and that was\ncraftily qualified") == 0
    assert build_tasks.verse_or_prose("One line only") is None
    from lmteach.data.corpus import load_corpus
    layout = {" ".join(s.text.split()): build_tasks.verse_or_prose(s.text) for s in load_corpus().speeches}
    for example in load_task("verse_prose", "test"):
        assert layout[example["text"]] == example["label"]
