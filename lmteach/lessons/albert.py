"""Lesson 05 (ALBERT): NSP vs SOP, ALBERT's Table 5 at classroom scale.

    results = cross_evaluate({"NSP-trained": nsp, "SOP-trained": sop}, tok, docs, plays)   # each head on both tasks
    cross_table_html(results, paper=ALBERT_TABLE5)

Where the tiny networks' pair heads do not start, two count models show what each task rewards (§3.1):

    count_readers_table(train_docs, train_plays, test_docs, test_plays)   # topic reader and seam reader, both tasks

The sharing and factorized-embedding measurements live in lmteach.analysis.layer_similarity (the sharing lab
uses them too).
"""

from __future__ import annotations

import math
import random
from collections import Counter

from ..analysis.evaluation import pair_accuracy
from ..objectives.pairs import make_nsp_example, make_sop_example, starting_points

# ALBERT Table 5 (ALBERT-base, intrinsic accuracy in %, trained on the row's task, scored on the column's).
ALBERT_TABLE5 = {"NSP-trained": {"NSP": 90.5, "SOP": 52.0}, "SOP-trained": {"NSP": 78.9, "SOP": 86.5}}


def cross_evaluate(models: dict, tokenizer, documents, groups, *, pairs: int = 512, seq_len: int = 128,
                   seed: int = 99) -> dict[str, dict[str, float]]:
    """Every model's pair-head accuracy on held-out NSP and SOP pairs: {model name: {"NSP": acc, "SOP": acc}}.
    Both tasks' pairs come from the same held-out documents with the same seed for every model. Label 0 means
    IsNext for NSP and in order for SOP, so a head trained on one task is scored on the other as it is."""
    return {name: {task.upper(): pair_accuracy(model, tokenizer, documents, groups, task, pairs=pairs,
                                               seq_len=seq_len, seed=seed)
                   for task in ("nsp", "sop")}
            for name, model in models.items()}


def cross_table_html(results: dict[str, dict[str, float]], paper: dict[str, dict[str, float]] | None = None) -> str:
    """The cross-evaluation as an HTML table (accuracy in %), with the paper's numbers beside it if given."""
    tasks = list(next(iter(results.values())))
    head = "".join(f"<th>{t} accuracy</th>" + (f"<th>paper {t}</th>" if paper else "") for t in tasks)
    rows = []
    for name, scores in results.items():
        cells = "".join(f"<td>{100 * scores[t]:.1f}</td>" + (f"<td>{paper[name][t]:.1f}</td>" if paper else "")
                        for t in tasks)
        rows.append(f"<tr><th>{name}</th>{cells}</tr>")
    return f"<table class='lmteach-cross-eval'><tr><th>trained on</th>{head}</tr>{''.join(rows)}</table>"


# --- Table 5's argument with two readers you can read ------------------------------------------------------------
# ALBERT §3.1: NSP "conflates topic prediction and coherence prediction", and topic is the easier. Two count models,
# each looking at one thing only, make that concrete where a tiny network's pair head does not start: one reads the
# topic of A and B, the other reads the seam where B meets A. Each is scored on both tasks, like Table 5.

class TopicReader:
    """Reads topic only: the share of rare word pieces that A and B have in common (Jaccard), where "rare" means
    outside the `common` commonest pieces of the training text. A NotNext B comes from another play, with other
    names and words, so the share is low. The score is the same for (A, B) and (B, A): it cannot see order."""

    name = "topic reader (rare pieces shared by A and B)"

    def __init__(self, documents, common: int = 300):
        counts = Counter(token for document in documents for segment in document for token in segment)
        self.common = {token for token, _ in counts.most_common(common)}

    def score(self, a, b) -> float:
        rare_a, rare_b = set(a) - self.common, set(b) - self.common
        return len(rare_a & rare_b) / max(1, len(rare_a | rare_b))


class SeamReader:
    """Reads the seam only: how much more often the first piece of B follows the last piece of A in the training text
    than chance would give (pointwise mutual information of that bigram, add-one smoothed). Two halves in order meet
    mid-sentence, as the text ran; swapped halves, or B from another play, meet where the text never ran."""

    name = "seam reader (does B continue A where they meet?)"

    def __init__(self, documents):
        self.unigrams, self.bigrams = Counter(), Counter()
        for document in documents:
            stream = [token for segment in document for token in segment]
            self.unigrams.update(stream)
            self.bigrams.update(zip(stream, stream[1:]))
        self.total = sum(self.unigrams.values())
        self.vocab = len(self.unigrams) + 1

    def score(self, a, b) -> float:
        left, right = a[-1], b[0]
        joint = (self.bigrams[left, right] + 1) / (self.unigrams[left] + self.vocab)
        alone = (self.unigrams[right] + 1) / (self.total + self.vocab)
        return math.log(joint / alone)


def pair_examples(documents, groups, task: str, *, pairs: int = 512, seed: int = 99) -> list[tuple[list, list, int]]:
    """`pairs` (A, B, label) of the task drawn as the objectives draw them (label 0: IsNext / in order)."""
    make = {"nsp": make_nsp_example, "sop": make_sop_example}[task]
    points = starting_points(documents)
    rng = random.Random(seed)
    examples = []
    for _ in range(pairs):
        doc_index, seg_index = rng.choice(points)
        example = make(documents, doc_index, seg_index, rng, max_len=10**6, cls_id=-1, sep_id=-2, groups=groups)
        ids, types = example["input_ids"], example["token_type_ids"]
        a = [t for t, k in zip(ids, types) if k == 0 and t >= 0]
        b = [t for t, k in zip(ids, types) if k == 1 and t >= 0]
        examples.append((a, b, example["labels"]))
    return examples


def fit_threshold(reader, examples) -> float:
    """The score above which the reader answers "natural pair" (label 0) that is most accurate on `examples`."""
    scored = sorted((reader.score(a, b), label) for a, b, label in examples)
    correct = sum(label == 0 for _, label in scored)   # threshold below every score: all called natural
    best_correct, best = correct, scored[0][0] - 1.0
    for index, (score, label) in enumerate(scored):   # raise the threshold to this score: the pair is now "not natural"
        correct += 1 if label == 1 else -1
        tied_with_next = index + 1 < len(scored) and scored[index + 1][0] == score
        if not tied_with_next and correct > best_correct:   # pairs with equal scores get the same answer
            best_correct, best = correct, score
    return best


def reader_accuracy(reader, threshold: float, examples) -> float:
    return sum((reader.score(a, b) > threshold) == (label == 0) for a, b, label in examples) / len(examples)


def count_readers_table(train_documents, train_groups, test_documents, test_groups, *, pairs: int = 512,
                        seed: int = 99, common: int = 300) -> dict[str, dict[str, float]]:
    """Table 5 for the two readers: each is fitted (its threshold) on the training plays' pairs of the task it
    stands for (topic: NSP; seam: SOP) and scored on held-out NSP and SOP pairs. {reader name: {"NSP", "SOP"}}.
    common: how many of the commonest pieces the topic reader ignores."""
    readers = {TopicReader(train_documents, common): "nsp", SeamReader(train_documents): "sop"}
    table = {}
    for reader, own_task in readers.items():
        threshold = fit_threshold(reader, pair_examples(train_documents, train_groups, own_task, pairs=2 * pairs,
                                                        seed=seed + 1))
        table[reader.name] = {task.upper(): reader_accuracy(reader, threshold, pair_examples(
            test_documents, test_groups, task, pairs=pairs, seed=seed)) for task in ("nsp", "sop")}
    return table
