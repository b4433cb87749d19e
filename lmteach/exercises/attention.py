"""Lesson 07's exercises: reading attention."""
from . import close_to, exercise, one_of

exercise("07.1", "MiniLM has 6 layers of 12 heads. For a 10-token input, how many attention weights does ONE "
         "layer compute (all heads)?", close_to(1200, 0),
         hint="Each head scores every (query, key) pair of tokens.",
         explanation="12 heads × 10 queries × 10 keys = 1,200 weights; each row of 10 sums to 1.",
         solution=1200,
         worked="Each of the 12 heads scores 10 x 10 (query, key) pairs: 12 x 100 = 1,200.")
exercise("07.2", "In a GPT model, what is the attention weight from token 3 to token 7 (0-based)?", close_to(0.0, 0),
         hint="Which positions may a token see under the causal mask?",
         explanation="Token 3 may only attend to positions 0..3, so its weight on token 7 is exactly 0.",
         solution=0,
         worked="Token 7 comes after token 3: the causal mask pushes that score to the lowest float, so the "
                "softmax gives it exactly 0.")
exercise("07.3", "A head whose every row puts nearly all weight just left of the diagonal attends to which token: "
         "'previous', 'next', 'self' or 'special'?",
         one_of("previous", "previous token",
                "이전", "이전 토큰", "앞", "앞 토큰", "바로 앞", "바로 앞 토큰", "직전", "직전 토큰"),  # in Korean
         hint="Row i is the query i; the column just left of the diagonal is key i-1.",
         explanation="That is a previous-token head, like MiniLM's layer 0 head 2.",
         solution="previous",
         worked="Row i's weight is on column i - 1, the token just before the query: a previous-token head.")
