"""Lesson 05 (ALBERT): NSP vs SOP, ALBERT's Table 5 at classroom scale.

    results = cross_evaluate({"NSP-trained": nsp, "SOP-trained": sop}, tok, docs, plays)   # each head on both tasks
    cross_table_html(results, paper=ALBERT_TABLE5)

The sharing and factorized-embedding measurements live in lmteach.analysis.layer_similarity (the sharing lab
uses them too).
"""

from __future__ import annotations

from ..analysis.evaluation import pair_accuracy

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
