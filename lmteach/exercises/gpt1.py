"""Exercises of lesson 01 (GPT-1): input transforms, the Extract position, layer-wise learning rates."""

from __future__ import annotations

from functools import lru_cache

from . import close_to, exercise, number_in, one_of


@lru_cache(maxsize=None)
def same_play_extract_positions(index: int = 0) -> tuple[int, int]:
    """Where the Extract token sits in both orderings of `same_play` train example `index` (max_len 96)."""
    from ..training.finetune import encode_examples, gpt1_inputs
    from ..data.tasks import load_task
    from ..data.tokenization import load_default
    tokenizer = load_default("byte_bpe", gpt1_specials=True)
    example = load_task("same_play", "train")[index]
    inputs = gpt1_inputs(tokenizer, "same_play", encode_examples(tokenizer, "same_play", [example]), max_len=96)
    first, second = inputs["extract_positions"][0].tolist()
    return first, second


# 01.1's answer, written out rather than computed by gpt1_inputs (what the lesson answers with, so a checker
# built on it would pass whatever gpt1_inputs did). The first `same_play` train example has A = 41 and B = 20
# byte-BPE tokens ("Health to you, valiant sir, ..." / "God comfort thy capacity! ..."), so Extract sits at
# 1 (Start) + 41 + 1 (Delim) + 20 = 63. tests/test_exercises.py recounts it from the tokenizer alone.
EXTRACT_POSITION = 63


def _is_extract_position(answer) -> bool:
    return number_in(answer) == EXTRACT_POSITION  # a whole position: 63.5 is wrong


exercise(
    "01.1",
    "Take the first training example of the `same_play` task (similarity). GPT-1 builds two sequences from it, "
    "`Start A Delim B Extract` and `Start B Delim A Extract`. At which position (counting from 0) is the Extract "
    "token of the first sequence? Count it from the token lengths of A and B, then check with the widget.",
    _is_extract_position,
    hint="Start takes position 0, then come len(A) tokens, one Delim, len(B) tokens; Extract is right after.",
    explanation="Extract sits at 1 + len(A) + 1 + len(B); both orderings have the same length, so it is at the "
                "same position in the second sequence too.",
    solution=EXTRACT_POSITION,
    worked="A is 41 tokens and B is 20: Start (position 0), A (1..41), Delim (42), B (43..62), so Extract is at "
           "1 + 41 + 1 + 20 = 63.",
)

exercise(
    "01.2",
    "With `layerwise_lr_groups(model, base_lr=1e-3, decay=0.5)` on the 4-layer tiny GPT-1, what learning rate do "
    "the embeddings get?",
    close_to(3.125e-5, tolerance=0.01),  # 1e-3 halved five times: classifier -> layers 3, 2, 1, 0 -> embeddings
    hint="The top (classifier) gets base_lr; each step down multiplies by the decay: layer 3 once, layer 0 four "
         "times, the embeddings one more time.",
    explanation="1e-3 · 0.5^5 = 3.1e-5: the embeddings move about 32 times more slowly than the new classifier.",
    solution=3.125e-5,
    worked="Five halvings below the classifier's 1e-3 (layers 3, 2, 1, 0, then the embeddings): 1e-3 / 32 = 3.125e-5.",
)

exercise(
    "01.3",
    "The classifier of a fine-tuned GPT-1 reads the last layer's hidden state at one token. Which token, and why "
    "that one? (answer with the token's name)",
    one_of("extract", "<extract>", "the extract token", "extract token",
           "extract 토큰", "<extract> 토큰", "추출", "추출 토큰"),  # the Korean track's answers
    hint="With a causal mask, only the last token of the sequence has attended to every other token.",
    explanation="The Extract token comes last, so under the causal mask its state has attended to the whole input.",
    solution="extract",
    worked="The Extract token: it is the last position, the only one whose causal attention covers the whole input.",
)
