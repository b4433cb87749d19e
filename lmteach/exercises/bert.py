"""Lesson 02 (BERT: masked LM and next sentence prediction) exercises."""

from . import close_to, exercise

exercise(
    "02.1",
    "A sequence has 200 real tokens (no special ones). With BERT's masking (15% picked; of those 80% [MASK], "
    "10% random, 10% kept), how many [MASK] tokens do you expect to see in the model's input?",
    close_to(24.0, tolerance=0.001),
    hint="First count the picked positions: round(0.15 * 200). Then take the [MASK] share of those.",
    explanation="30 positions are picked; 80% of 30 = 24 become [MASK] (3 random, 3 kept, on average).",
    solution=24,
    worked="15% of 200 = 30 positions are picked; 80% of those 30 become [MASK]: 24.",
)

exercise(
    "02.2",
    "In the packed pair [CLS] A [SEP] B [SEP], what token_type_id (segment id) does the *last* [SEP] get?",
    close_to(1.0, tolerance=0.0),
    hint="Segment A is [CLS], A's tokens and the first [SEP]; everything after belongs to B.",
    explanation="B's tokens and the final [SEP] are segment 1; the segment embedding adds E_B to each of them.",
    solution=1,
    worked="The final [SEP] closes segment B, and B's positions have token_type_id 1.",
)

exercise(
    "02.3",
    "With a 15% masking rate and the 80/10/10 mix, what fraction of *all* real tokens does the model see "
    "unchanged in its input but still has to predict? (a number between 0 and 1)",
    close_to(0.015, tolerance=0.001),
    hint="Picked share times the kept share.",
    explanation="0.15 x 0.1 = 0.015: 1.5% of tokens. They teach the model that an observed token is evidence "
                "for itself, which is the situation at fine-tuning time, where there is no [MASK].",
    solution=0.015,
    worked="15% are picked and 10% of the picked are left unchanged: 0.15 x 0.10 = 0.015 (1.5%).",
)

exercise(
    "02.4",
    "Each step, a model trained at masking rate r gets a loss signal from r x (real tokens) positions. "
    "At the same batch of 4096 real tokens, how many more predicted positions per step does a 40% model get "
    "than a 15% model? (a whole number)",
    close_to(1024.0, tolerance=0.001),
    hint="Count the predictions at each rate: 0.40 x 4096 and 0.15 x 4096, then subtract.",
    explanation="1638 - 614 = 1024 (rounded counts per sequence would shift this by a token or two): more "
                "signal per step, but each prediction sees less context.",
    solution=1024,
    worked="(0.40 - 0.15) x 4096 = 0.25 x 4096 = 1024 more predicted positions per step.",
)
