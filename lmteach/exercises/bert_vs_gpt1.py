"""Lesson 03 (BERT vs GPT-1: the same idea, two directions) exercises."""

from . import close_to, exercise, one_of

exercise(
    "03.1",
    "BERT's Appendix A.4: GPT-1 trained on batches of 32,000 words, BERT on batches of 128,000 words, both "
    "for 1M steps. How many times more words did BERT read during pretraining? (a number)",
    close_to(4.0, tolerance=0.001),
    hint="Same number of steps, so the ratio of words read is the ratio of the batch sizes.",
    explanation="128,000 / 32,000 = 4: with the same step count BERT read four times as many words, one of the "
                "differences BERT §5.1's ablations had to rule out before crediting bidirectionality.",
    solution=4,
    worked="Same 1M steps, so the ratio is the batch sizes': 128,000 / 32,000 = 4.",
)

exercise(
    "03.2",
    "BERT read 128,000 words per step for 1M steps from BooksCorpus (800M words) + Wikipedia (2,500M words). "
    "About how many passes (epochs) over its data is that? (a number)",
    # 128e9 words read / 3.3e9 words = 38.8; BERT §A.2 rounds it to "approximately 40 epochs", so the tolerance
    # (±5%: 36.9 to 40.7) takes the paper's 40 as well as the exact quotient. Wikipedia alone (51) or the
    # BooksCorpus alone (160) are wrong.
    close_to(38.8, tolerance=0.05),
    hint="Words read = words per batch x steps; divide by the corpus size in words.",
    explanation="128e9 / 3.3e9 ≈ 39: BERT's Appendix A.2 says 'approximately 40 epochs over the 3.3 billion "
                "word corpus'.",
    solution=38.8,
    worked="Words read: 128,000 x 1,000,000 = 1.28e11. Corpus: 800M + 2,500M = 3.3e9 words. 1.28e11 / 3.3e9 ≈ 38.8, "
           "which BERT §A.2 calls 'approximately 40 epochs'.",
)

exercise(
    "03.3",
    "A sequence has 10 tokens. How many (query, key) pairs may attend to each other under GPT's causal mask "
    "(a token may attend to itself)? BERT allows all 100.",
    close_to(55.0, tolerance=0.0),
    hint="Token i may look at positions 0..i: that is i + 1 keys. Add them up for i = 0..9.",
    explanation="1 + 2 + ... + 10 = 55, the lower triangle with its diagonal: n(n+1)/2.",
    solution=55,
    worked="Token i sees i + 1 keys: 1 + 2 + ... + 10 = 10 x 11 / 2 = 55.",
)

exercise(
    "03.4",
    "GPT-1 fine-tunes on Start text Extract, BERT on [CLS] text [SEP]. GPT-1's classifier reads one "
    "position's hidden state: the 'first' or the 'last'?",
    one_of("last", "the last", "extract", "<extract>", "the extract token",
           "마지막", "마지막 위치", "마지막 토큰", "마지막 것", "맨 끝", "맨 마지막", "끝",
           "extract 토큰", "추출 토큰"),  # the Korean track's answers
    hint="Under the causal mask, which position is the only one that has seen every token of the text?",
    explanation="The last (GPT-1's Extract token): only it has attended to the whole text. BERT can read the first "
                "one, [CLS], because every position sees both sides.",
    solution="last",
    worked="The last: under the causal mask only the final position (GPT-1's Extract token) has seen the whole text.",
)
