"""Previews a dashboard refreshes while a model trains: generated text from a causal LM.
(Fill-mask previews for BERT-style models are in `fill_mask.py`.)"""

from __future__ import annotations

import html

from ..training.generate import sample


def sample_html(model, tokenizer, prompt: str = "ROMEO:", max_new_tokens: int = 60, temperature: float = 0.8,
                top_k: int | None = 40, seed: int = 0) -> str:
    """Generated text as HTML: the prompt in bold, the continuation after it. Same seed, same draw, so
    successive previews differ only because the model changed."""
    text = sample(model, tokenizer, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                  seed=seed)
    continuation = text[len(prompt):] if text.startswith(prompt) else text
    return (f'<pre class="lmteach-sample" style="white-space:pre-wrap;margin:0"><b>{html.escape(prompt)}</b>'
            f"{html.escape(continuation)}</pre>")


def sampling_preview(tokenizer, prompt: str = "ROMEO:", **options):
    """A `preview` function for `TrainingDashboard`: `preview=sampling_preview(tok, "JULIET:")`."""
    return lambda model: sample_html(model, tokenizer, prompt, **options)
