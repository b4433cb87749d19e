"""Lesson 03 (BERT vs GPT-1): the papers' comparison as data, and the same comparison at classroom scale.

    paper_rows()                  # BERT Appendix A.4's list of differences, with figures and sources
    text_table(rows, columns)     # a fixed-width table a notebook can compare
    finetune_both(models, "verse_prose", seeds=(0, 1, 2))    # both through lmteach.training.finetune

The middle-word probe is `lmteach.analysis.blanks.blank_accuracy`; the shipped models are `gpt1-tiny` and
`bert-tiny` (with its snapshot at gpt1-tiny's training compute), built by their recipes (`lmteach.recipes`).
"""

from __future__ import annotations

# --- the papers' comparison (BERT §5 and Appendix A.4 "Comparison of BERT, ELMo, and OpenAI GPT") ------------

PAPER_ROWS = [
    # (aspect, GPT-1, BERT, where it is written)
    ("attention", "left to right (causal mask)", "bidirectional (MLM)", "BERT §3, Figure 3; GPT-1 §3.1"),
    ("pretraining data", "BooksCorpus (800M words)", "BooksCorpus (800M) + Wikipedia (2,500M words)",
     "BERT A.4; GPT-1 §4.1"),
    ("[SEP], [CLS], segment A/B", "introduced only at fine-tuning", "learned during pretraining",
     "BERT A.4; GPT-1 §3.3"),
    ("batch size", "32,000 words", "128,000 words", "BERT A.4"),
    ("training steps", "1M", "1M", "BERT A.4"),
    ("fine-tuning learning rate", "one rate for every task (6.25e-5 in GPT-1 §4.1; BERT A.4 says 5e-5)",
     "chosen per task on the dev set (5e-5, 4e-5, 3e-5 or 2e-5)", "BERT A.4, §4 / A.3; GPT-1 §4.1"),
]
PAPER_COLUMNS = ("", "GPT-1", "BERT", "source")


def paper_rows() -> list[tuple[str, str, str, str]]:
    """The papers' comparison, one row per difference: (aspect, GPT-1, BERT, source)."""
    return list(PAPER_ROWS)


def paper_figures() -> dict:
    """The numeric entries of the comparison (words, words per batch, steps, learning rates)."""
    return {"gpt1_words": 800e6, "bert_words": 800e6 + 2500e6, "gpt1_batch_words": 32_000,
            "bert_batch_words": 128_000, "steps": 1_000_000, "gpt1_finetune_lr": 6.25e-5,
            "gpt1_finetune_lr_as_bert_quotes_it": 5e-5}


def text_table(rows, columns) -> str:
    """Rows as a fixed-width text table (deterministic, so a notebook can compare it)."""
    rows = [tuple(str(cell) for cell in row) for row in rows]
    widths = [max(len(str(c)) for c in column) for column in zip(columns, *rows)]
    line = lambda cells: "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()  # noqa: E731
    return "\n".join([line(columns), line(["-" * w for w in widths])] + [line(r) for r in rows])


def finetune_both(models: dict, task: str, *, seeds=(0, 1, 2), **settings) -> dict[str, list]:
    """Fine-tune each pretrained model ({name: (model, tokenizer)}) on `task` with the same settings and seeds,
    each the way its paper does (GPT-1 through Extract with the auxiliary LM loss, BERT through [CLS]).
    Returns {name: [FinetuneResult per seed]}."""
    from ..training.finetune import finetune

    return {name: [finetune(model, tokenizer, task, seed=seed, **settings) for seed in seeds]
            for name, (model, tokenizer) in models.items()}
