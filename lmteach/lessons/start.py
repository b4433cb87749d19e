"""Lesson 00 (start here): a tiny character-level GPT of Korean, trained in seconds on the shipped Korean text.

    lm = train_korean_char_lm(load_korean(), steps=300)   # trains on the Constitution, holds out the ten bills
    lm.held_out_loss(), lm.held_out_loss(lm.untrained)     # nats per character: trained vs the same model untrained
    sample(lm.model, lm.tokenizer, "대한민국의 주권은")        # continue a line of the Constitution

The tokenizer is a character vocabulary (every character of the training text, so Hangul syllables are whole
tokens); the model is lmteach's GPT-2 architecture at classroom width. The held-out text is the bills, which the
model never trains on; a character the Constitution never uses is `[UNK]` there, for both models alike.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import torch


@dataclass
class CharLM:
    """A trained character-level causal LM, what it trained on, and the same model before training (the control)."""

    model: torch.nn.Module
    untrained: torch.nn.Module
    tokenizer: object
    train_ids: torch.Tensor
    held_out_ids: torch.Tensor
    losses: list = field(default_factory=list)  # training loss per step
    seq_len: int = 64

    def held_out_loss(self, model: torch.nn.Module | None = None) -> float:
        """Mean nats per predicted character over the held-out text (every window of `seq_len` characters)."""
        from ..analysis.evaluation import causal_lm_loss

        return causal_lm_loss(self.model if model is None else model, self.held_out_ids, self.seq_len,
                              max_windows=10_000)


def korean_split(corpus, train_works=("constitution",)) -> tuple[str, str]:
    """(training text, held-out text) of the Korean corpus (`load_korean()`): the documents of `train_works`
    (the Constitution), and every other document (the ten bills), each paragraph on its own line."""
    parts = {True: [], False: []}
    for work, document in zip(corpus.document_works, corpus.documents):
        parts[work in train_works].append("\n".join(document))
    if not parts[True] or not parts[False]:
        raise ValueError(f"need documents both in and outside {train_works}; the corpus has {corpus.document_works}")
    return "\n\n".join(parts[True]), "\n\n".join(parts[False])


def train_char_lm(train_text: str, held_out_text: str, *, steps: int = 300, width: int = 64, layers: int = 2,
                  heads: int = 4, seq_len: int = 64, batch_size: int = 16, lr: float = 3e-3, dropout: float = 0.1,
                  seed: int = 0, device: str = "cpu") -> CharLM:
    """Train a GPT-2-style character-level LM (`width` wide, `layers` deep) on `train_text` for `steps` steps of
    random `seq_len`-character windows; keep a copy of its initial weights as the untrained control."""
    from ..configs import gpt2
    from ..data.tokenization import train_tokenizer
    from ..models.transformer import build
    from ..training.batches import causal_lm_batches
    from ..training.trainer import Trainer

    tokenizer = train_tokenizer("char", train_text)
    train_ids = torch.tensor(tokenizer.encode(train_text))
    held_out_ids = torch.tensor(tokenizer.encode(held_out_text))
    cfg = gpt2("tiny", vocab_size=tokenizer.vocab_size, hidden_size=width, num_layers=layers, num_heads=heads,
               ffn_size=4 * width, max_positions=seq_len, dropout=dropout, attention_dropout=0.0)
    torch.manual_seed(seed)
    model = build(cfg)
    untrained = copy.deepcopy(model).eval()
    trainer = Trainer(model, causal_lm_batches(train_ids, seq_len=seq_len, batch_size=batch_size, seed=seed), lr=lr,
                      warmup_steps=max(1, steps // 20), total_steps=steps, seed=seed, device=device, progress=False)
    trainer.run()
    model.eval()
    return CharLM(model, untrained, tokenizer, train_ids, held_out_ids, list(trainer.history.losses), seq_len)


def train_korean_char_lm(corpus, *, steps: int = 300, train_works=("constitution",), **options) -> CharLM:
    """`train_char_lm` on the Korean corpus: trained on the Constitution, held out on the ten bills."""
    train_text, held_out_text = korean_split(corpus, train_works)
    return train_char_lm(train_text, held_out_text, steps=steps, **options)
