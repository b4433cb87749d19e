"""Lesson 05 (ALBERT: factorized embeddings, cross-layer sharing, sentence-order prediction) exercises."""

from . import close_to, exercise, one_of

exercise(
    "05.1",
    "ALBERT-xxlarge has V = 30,000 tokens, E = 128 and H = 4096. How many token-embedding weights does the "
    "factorized embedding need (V x E + E x H, no biases)?",
    close_to(4_364_288, tolerance=0.0),  # 3,840,000 (30,000 x 128) + 524,288 (128 x 4096)
    hint="Two matrices: the V x E table, then the E x H projection. Multiply each out and add.",
    explanation="3,840,000 + 524,288 = 4,364,288, instead of V x H = 122,880,000: 28x fewer.",
    solution=4_364_288,
    worked="V x E = 30,000 x 128 = 3,840,000 and E x H = 128 x 4096 = 524,288; together 4,364,288.",
)

exercise(
    "05.2",
    "With V = 30,000 and H = 768, below which embedding size E does factorizing save parameters at all? "
    "Give the largest whole E for which V x E + E x H < V x H.",
    close_to(748.0, tolerance=0.0),  # 23,040,000 / 30,768 = 748.8: 748 x 30,768 = 23,014,464 < 23,040,000
    hint="Solve E x (V + H) < V x H for E, then take the largest whole number below the bound.",
    explanation="E x (V + H) < V x H gives E < 23,040,000 / 30,768 ≈ 748.8, so E = 748. ALBERT's E = 128 is far "
                "below that bound; at E = 768 = H the projection only adds parameters.",
    solution=748,
    worked="E x (30,000 + 768) < 30,000 x 768 gives E < 23,040,000 / 30,768 ≈ 748.8, so the largest whole E is 748.",
)

exercise(
    "05.3",
    "An ALBERT body with all parameters shared (sharing='all') is made 4x deeper (num_layers 12 -> 48). "
    "By roughly what factor does its parameter count grow? (a number)",
    close_to(1.0, tolerance=0.05),  # one shared block whatever the depth: the count does not change
    hint="With sharing='all', how many distinct layers' weights are there, whatever num_layers is?",
    explanation="1x: one block is reused at every depth, so depth costs compute, not parameters "
                "(lt.count_params(lt.configs.albert('base', num_layers=48)) equals the 12-layer count).",
    solution=1,
    worked="With sharing='all' there is one block's weights however many times it is applied: the count stays the "
           "same, a factor of 1.",
)

exercise(
    "05.4",
    "A NotNext pair in NSP takes B from another scene. Which signal lets a model solve NSP without learning "
    "coherence, the reason ALBERT §3.1 replaced it by SOP? Answer 'topic' or 'order'.",
    one_of("topic", "topic prediction",
           "주제", "주제 예측", "화제", "토픽"),  # the Korean track's answers
    hint="Two speeches from different plays differ in names, places and vocabulary, whatever their order.",
    explanation="Topic: NotNext pairs mix two scenes, so topic alone gives them away. SOP pairs always come from "
                "one scene, so only the order (coherence) can tell them apart.",
    solution="topic",
    worked="Topic: B of a NotNext pair comes from another scene, so different names and vocabulary give it away "
           "without any sense of coherence.",
)
