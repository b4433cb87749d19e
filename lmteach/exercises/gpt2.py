"""Exercises of lesson 04 (GPT-2: LayerNorm placement, the final LayerNorm, byte-level BPE, zero-shot)."""

from __future__ import annotations

from . import close_to, exercise, number_in, one_of

exercise(
    "04.1",
    "GPT-2 small has 12 layers and init_std 0.02. With GPT-2's residual scaling (§2.3), what standard deviation "
    "do the residual projections (attention output, FFN down) start with?",
    # 0.02 / sqrt(24) = 0.02 / 4.899 = 0.0040825, written out: the lesson computes it with the same formula.
    close_to(0.0040825, tolerance=0.02),
    hint="Each layer adds to the residual stream twice (attention, then FFN): scale 0.02 by 1/sqrt(2 * layers).",
    explanation="0.02 / sqrt(24) ≈ 0.0041: 24 residual additions of variance-shrunk updates keep the stream's "
                "size at init roughly independent of depth.",
    solution=0.0041,
    worked="12 layers add to the residual stream 24 times: 0.02 / sqrt(24) = 0.02 / 4.90 ≈ 0.0041.")

exercise(
    "04.2",
    "At initialization, in which LayerNorm placement do the last layers get much larger gradients than the "
    "first ones? Answer 'post' or 'pre'.",
    one_of("post", "post-ln", "postln",
           "포스트", "포스트 ln", "사후", "사후 층 정규화", "post ln"),  # the Korean track's answers
    hint="Look at the gradient-norm plot: which curve rises toward the output layer?",
    explanation="Post-LN (Xiong et al. 2020, §3.3): every LayerNorm on the residual path rescales the gradient on "
                "its way down, so layers near the output get the largest gradients, and a big learning rate at "
                "the start hits them hardest; warmup is the usual cure.",
    solution="post",
    worked="Post-LN: its gradient norms grow toward the output layers at initialization, while pre-LN's stay "
           "about flat across depth.")


def _byte_count(answer) -> bool:
    # '🌹' is U+1F339, above U+FFFF, which UTF-8 writes in 4 bytes (F0 9F 8C B9); written out, not measured with
    # len(...encode()), the hint's own formula.
    return number_in(answer) == 4


exercise(
    "04.3",
    "Byte-level BPE starts from the bytes of the UTF-8 text. How many base symbols (bytes) is the rose emoji "
    "'🌹' made of, before any merge?",
    _byte_count,
    hint="len(text.encode('utf-8')) counts the bytes of a string.",
    explanation="4 bytes: every emoji and every Korean syllable is a few bytes, and all 256 bytes are in the "
                "vocabulary, so byte-level BPE never needs an [UNK] token (GPT-2 §2.2).",
    solution=4,
    worked="'🌹' is U+1F339, beyond U+FFFF, so UTF-8 writes it in 4 bytes (F0 9F 8C B9): 4 base symbols.")

exercise(
    "04.4",
    "next_speech has 4 choices per example. What accuracy does guessing at random get, the number a zero-shot "
    "model must beat? (a fraction, e.g. 0.5)",
    close_to(0.25, 0.01),
    hint="One of the choices is right.",
    explanation="1/4 = 0.25. With 500 test examples, an accuracy must be about 0.04 above it (two standard "
                "errors) before it is more than luck.",
    solution=0.25,
    worked="A random guess picks the right choice 1 time in 4: 0.25.")
