"""Exercises of lesson 06 (ELECTRA): how much signal per token, the weighted loss, and counting compute."""

from __future__ import annotations

from . import close_to, exercise, one_of

exercise(
    "06.1",
    "A batch holds 4096 real tokens. BERT's masked LM gets a loss term from the 15% it picked; ELECTRA's "
    "discriminator gets one from every real token. How many times more positions teach the discriminator? "
    "(a number, e.g. 2.5)",
    close_to(6.667, tolerance=0.01),  # 4096 / 614.4 (= 1 / 0.15)
    hint="Count the positions with a loss term in each: 0.15 x 4096 for BERT, 4096 for the discriminator.",
    explanation="4096 / 614.4 = 6.67: the discriminator learns from all tokens, not 15% of them (ELECTRA §3.5 "
                "shows this is where most of the gain comes from: 'ELECTRA 15%', trained on the masked "
                "positions only, loses much of it).",
    solution=6.67,
    worked="BERT: 0.15 x 4096 = 614.4 positions; the discriminator: all 4096. 4096 / 614.4 ≈ 6.67.",
)

exercise(
    "06.2",
    "One ELECTRA step measured a generator loss of 4.0 and a discriminator loss of 0.3. With the paper's "
    "weight λ = 50, what is the total loss the step minimises?",
    close_to(19.0, tolerance=0.001),  # 4.0 + 50 x 0.3
    hint="L = L_MLM + λ · L_Disc (§2).",
    explanation="4.0 + 50 x 0.3 = 19.0. Without the weight the small binary loss would be drowned by the "
                "cross-entropy over the whole vocabulary; λ = 50 makes them comparable.",
    solution=19.0,
    worked="4.0 + 50 x 0.3 = 4.0 + 15.0 = 19.0.",
)

exercise(
    "06.3",
    "Training costs about 6 · N · T FLOPs (N parameters, T tokens: 2·N·T forward, 4·N·T backward). How many "
    "FLOPs does a 1.5-million-parameter network spend on 500 steps of 32 sequences of 64 tokens? "
    "(a number like 1.2e12)",
    close_to(9.216e12, tolerance=0.01),  # T = 500 x 32 x 64 = 1,024,000 tokens; 6 x 1.5e6 x 1.024e6
    hint="T = steps x batch x sequence length; then multiply by 6 and by N.",
    explanation="T = 1,024,000 tokens, so 6 x 1.5e6 x 1.024e6 = 9.2e12 FLOPs. ELECTRA pays this for the "
                "generator *and* the discriminator, which is why same-compute comparisons count both.",
    solution=9.216e12,
    worked="T = 500 x 32 x 64 = 1,024,000 tokens; 6 x 1.5e6 x 1.024e6 = 9.216e12 FLOPs.",
)

exercise(
    "06.4",
    "Can a gradient of the discriminator's loss reach the generator's own weights through the sampled tokens? "
    "(yes / no)",
    one_of("no", "n", "false",
           "아니요", "아니오", "아뇨", "아니", "아니다", "아닙니다", "불가능"),  # the Korean track's answers
    hint="Look at how the corrupted input is made: a token id drawn with torch.multinomial.",
    explanation="No: a sampled token id is discrete, so there is no derivative with respect to the generator's "
                "probabilities. ELECTRA trains the generator by maximum likelihood only; §3.2 tried adversarial "
                "training (with reinforcement learning) and it worked worse.",
    solution="no",
    worked="No: the corrupted token is sampled (a discrete id), and sampling has no gradient, so the generator only "
           "learns from its own masked-LM loss.",
)
