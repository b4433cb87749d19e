"""Fill the blank with two models: GPT-1 guesses from the words before the blank, BERT from both sides
(BERT §3.1 and Figure 3; GPT-1 §3.1), and a measurement of how much BERT's guess needs the words after it.

    guess_blank_left_to_right(gpt, gpt_tok, "the king is ___, long live the king", k=5).guesses
    guess_blank_both_sides(bert, bert_tok, "the king is ___, long live the king", k=5).guesses
    blank_accuracy(gpt, gpt_tok, bert, bert_tok, n=300, seed=0)   # held-out plays: true vs another right side

The blank is written `___` (two or more underscores) or `[MASK]`. The two models may use different tokenizers
(GPT-1 byte-level BPE, BERT WordPiece): each reads the sentence in its own tokens.

What a guess is, for each model:
  GPT-1 reads the tokens left of the blank and gives its next-token distribution there. With byte-level BPE a word
  may need several tokens and the space before a word belongs to the word's first token, so GPT-1's guesses are
  *first pieces*: " king" (shown as ·king) starts a new word, "king" without the space would glue onto the last
  word, and a long word continues in tokens GPT-1 has not chosen yet. We show these raw first-piece probabilities
  rather than scoring whole candidate words: they are exactly the model's softmax at one position (what it
  computes, nothing added), there is no list of candidate words to choose, and BERT's side is the same kind of
  thing (one WordPiece token at [MASK]), so the two columns compare like with like.
  BERT reads `[CLS] left [MASK] right [SEP]` and gives its distribution at [MASK] (`training.generate.fill_mask`).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field

import torch

from ..i18n import _
from ..models.transformer import CausalLM, Electra, Gpt1ForTask, MaskedLM, MaskedLMWithPairHead
from ..training.generate import MASK_TEXT, _mlm_logits, fill_mask

BLANK = re.compile(r"\[MASK\]|_{2,}")


def split_blank(text: str) -> tuple[str, str]:
    """The text before and after its one blank (`___` or `[MASK]`). Raises ValueError without exactly one."""
    found = BLANK.findall(text)
    if not found:
        raise ValueError(_("write ___ (or [MASK]) where the missing word goes"))
    if len(found) > 1:
        raise ValueError(_("one blank only, please: this text has {count}").format(count=len(found)))
    left, right = BLANK.split(text)
    return left, right


def token_text(tokenizer, token_id: int) -> str:
    """The text one token stands for: byte-level BPE decodes it (" king", with its space); WordPiece shows the
    vocabulary entry ("king", "##s" for a piece that continues a word)."""
    if getattr(tokenizer, "kind", "") == "byte_bpe":
        return tokenizer.decode([int(token_id)])
    return tokenizer.id_to_token(int(token_id)) or tokenizer.decode([int(token_id)])


@dataclass
class BlankGuess:
    """What one model reads and guesses. `read`: its input tokens; `position`: the index in `read` whose output
    is the guess (GPT-1: the last token before the blank; BERT: the [MASK]); `guesses`: top-k (token, probability),
    most likely first; `unseen`: text the model does not read (GPT-1: everything after the blank)."""
    read: list[str]
    position: int
    guesses: list[tuple[str, float]]
    unseen: str = ""


def _causal_logits(model, input_ids):
    """Next-token logits [b, s, V] of a causal LM (a plain GPT or a GPT-1 task model's LM head)."""
    if isinstance(model, Gpt1ForTask):
        return model(input_ids=input_ids).prediction_logits
    if isinstance(model, CausalLM):
        return model(input_ids=input_ids).logits
    raise ValueError(f"guessing from the left needs a causal (GPT-style) language model, got {type(model).__name__}")


def _left_ids(tokenizer, left: str, max_positions: int) -> list[int]:
    """The tokens before the blank. The trailing space is left out: in byte-level BPE it belongs to the next
    word's first token (" king"), which is what GPT-1 is asked to guess."""
    ids = tokenizer.encode(left.rstrip())
    if not ids:
        raise ValueError(_("GPT-1 reads only the words before the blank, and there are none: write at least one "
                           "word before it"))
    return ids[-max_positions:]  # a very long left side: the last max_positions tokens, as sampling does


@torch.no_grad()
def next_token_probabilities(model, ids: list[int]) -> torch.Tensor:
    """A causal LM's distribution over the token after `ids`: softmax of the logits at the last position [V]."""
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    try:
        logits = _causal_logits(model, torch.tensor([ids], device=device))
    finally:
        model.train(was_training)
    return logits[0, -1].float().softmax(-1).cpu()


def guess_blank_left_to_right(model, tokenizer, text: str, k: int = 5) -> BlankGuess:
    """GPT-1's top-k guesses for the blank from the left context only (its next-token distribution there).
    The words after the blank are not read at all, so changing them never changes these guesses."""
    left, right = split_blank(text)
    ids = _left_ids(tokenizer, left, model.cfg.max_positions)
    probs = next_token_probabilities(model, ids)
    best = torch.topk(probs, min(k, probs.shape[0]))
    return BlankGuess(read=[token_text(tokenizer, i) for i in ids], position=len(ids) - 1,
                      guesses=[(token_text(tokenizer, int(i)), float(p)) for p, i in zip(best.values, best.indices)],
                      unseen=right)


def _both_sides_ids(tokenizer, left: str, right: str) -> list[int]:
    """[CLS] left [MASK] right [SEP], encoded the way `fill_mask` encodes it (each side on its own)."""
    ids = [tokenizer.cls_id] if getattr(tokenizer, "cls_id", None) is not None else []
    ids += tokenizer.encode(left.strip()) if left.strip() else []
    ids.append(tokenizer.mask_id)
    ids += tokenizer.encode(right.strip()) if right.strip() else []
    if getattr(tokenizer, "sep_id", None) is not None:
        ids.append(tokenizer.sep_id)
    return ids


def guess_blank_both_sides(model, tokenizer, text: str, k: int = 5) -> BlankGuess:
    """BERT's top-k guesses for the blank from both sides: its masked-LM distribution at [MASK]
    (`training.generate.fill_mask` on `left [MASK] right`)."""
    left, right = split_blank(text)
    if getattr(tokenizer, "mask_id", None) is None:
        raise ValueError("this tokenizer has no [MASK] token; guessing from both sides needs a masked LM's")
    guesses = fill_mask(model, tokenizer, f"{left.strip()} {MASK_TEXT} {right.strip()}", top_k=k)[0]
    ids = _both_sides_ids(tokenizer, left, right)
    return BlankGuess(read=[token_text(tokenizer, i) for i in ids], position=ids.index(tokenizer.mask_id),
                      guesses=guesses)


# --- does BERT's guess need its right side? -------------------------------------------------------------------

@dataclass
class Blank:
    """One held-out sentence with one word hidden: text == left + " " + word + right."""
    text: str
    left: str
    word: str
    right: str
    ids: dict = field(default_factory=dict, repr=False)  # per tokenizer: (left ids, word id, right ids)


def held_out_play_sentences(split: str = "test", corpus=None) -> list[str]:
    """Every sentence of the held-out plays (`Corpus.split_by_play()`; no shipped checkpoint pretrained on them).

    Cut with the corpus's sentence rule, but keeping the line breaks of verse: GPT-style models read them in
    pretraining (a verse line ends in a newline token), so a sentence flattened to one line would be text unlike
    anything they saw. WordPiece ignores whitespace, so BERT reads the same either way."""
    from ..data.corpus import _SENTENCE_END, load_corpus
    part = (corpus or load_corpus()).split_by_play()[split]
    return [sentence.strip() for document in part.documents for segment in document
            for sentence in _SENTENCE_END.split(segment.strip()) if sentence.strip()]


_WORD = re.compile(r"(?<= )[a-z]+(?=[\s,.;:!?])")


def _one_token_word(tokenizer, left: str, word: str):
    """The word's id when `left + " " + word` is `left`'s tokens plus exactly one token, else None."""
    before = tokenizer.encode(left)
    after = tokenizer.encode(f"{left} {word}")
    if len(after) == len(before) + 1 and after[:len(before)] == before:
        return after[-1]
    return None


def blank_examples(texts, tokenizers: dict, n: int = 300, seed: int = 0, max_tokens: int = 40,
                   min_words: int = 8, min_side: int = 3, near_middle: int = 2) -> list[Blank]:
    """Up to `n` blanks from `texts` (shuffled with `seed`): one lowercase word per sentence, at most
    `near_middle` words from the sentence's middle and with at least `min_side` words on each side.

    The hidden word must be exactly one token for every tokenizer in `tokenizers` ({name: tokenizer}), so that
    each model guesses one token and the accuracies compare directly; sentences longer than `max_tokens` for any
    tokenizer are skipped. `Blank.ids[name]` holds (left ids, word id, right ids)."""
    order = list(texts)
    random.Random(seed).shuffle(order)
    blanks = []
    for text in order:
        if len(blanks) == n:
            break
        words = text.split()
        if len(words) < min_words or any(len(t.encode(text)) > max_tokens for t in tokenizers.values()):
            continue
        middle = len(words) // 2
        starts = [m.start() for m in re.finditer(r"\S+", text)]
        candidates = sorted((abs(i - middle), i) for i in range(min_side, len(words) - min_side)
                            if abs(i - middle) <= near_middle)
        for _distance, i in candidates:
            found = _WORD.match(text, starts[i])
            if not found:
                continue
            left, word, right = text[:found.start() - 1], found.group(), text[found.end():]  # one space before
            if left != left.rstrip():
                continue
            ids = {name: _one_token_word(t, left, word) for name, t in tokenizers.items()}
            if None in ids.values():
                continue
            blanks.append(Blank(text, left, word, right, {name: (t.encode(left), ids[name], t.encode(right.strip()))
                                                          for name, t in tokenizers.items()}))
            break
    return blanks


def _pad(rows: list[list[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    ids = torch.full((len(rows), max(len(r) for r in rows)), pad_id, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(rows):
        ids[i, :len(row)] = torch.tensor(row, dtype=torch.long)
        mask[i, :len(row)] = 1
    return ids, mask


def _scores(logits, targets) -> dict:
    """log-probability and rank (0 = top-1) of each target in logits [n, V]."""
    logits = logits.float()
    rows = torch.arange(len(targets))
    chosen = logits[rows, targets]
    return {"logprob": logits.log_softmax(-1)[rows, targets], "rank": (logits > chosen[:, None]).sum(-1)}


def _logits_at(model, input_ids, attention_mask, positions):
    """The output logits [b, V] at one position per row. Runs the body on whole rows but the V-wide output layer
    only where a word is guessed (the same numbers as the full forward pass, for a fraction of the cost)."""
    lm = model.generator if isinstance(model, Electra) else model  # ELECTRA's generator is its masked LM
    if not isinstance(lm, (CausalLM, Gpt1ForTask, MaskedLM, MaskedLMWithPairHead)):
        _mlm_logits(model, None)  # raises the explanation
    states = lm.body(input_ids, attention_mask).last_hidden_state
    return lm.lm_head(states[torch.arange(len(positions)), positions]).float().cpu()


@torch.no_grad()
def blank_scores(gpt, gpt_tok, bert, bert_tok, blanks: list[Blank], batch_size: int = 100) -> dict:
    """For every blank, each reader's log-probability and rank of the hidden word: {reader: {"logprob": [n],
    "rank": [n]}}. `blanks` must come from `blank_examples(..., {"gpt1": gpt_tok, "bert": bert_tok})`.

    "gpt1": GPT-1 reads the left side and predicts the next token (GPT-1 §3.1).
    "bert": BERT reads [CLS] left [MASK] right [SEP] and predicts at [MASK] (BERT §3.1).
    "bert_other_right": the control: the same BERT with the next blank's right side instead of its own,
        [CLS] left [MASK] other-right [SEP]: an input of the same shape whose right side tells nothing about this
        word. (The other right side is cut at its end if it would not fit the model's positions.)"""
    if not gpt.cfg.causal or bert.cfg.causal:
        raise ValueError("blank_scores(gpt, gpt_tok, bert, bert_tok, ...): the first model must be causal "
                         "(GPT-style), the second bidirectional (BERT-style)")
    readers = {"gpt1": [], "bert": [], "bert_other_right": []}
    models = (gpt, bert)
    was_training = [m.training for m in models]
    for m in models:
        m.eval()
    gpt_device, bert_device = next(gpt.parameters()).device, next(bert.parameters()).device
    try:
        for start in range(0, len(blanks), batch_size):
            chunk = range(start, min(start + batch_size, len(blanks)))
            gpt_rows = [blanks[i].ids["gpt1"][0][-gpt.cfg.max_positions:] for i in chunk]
            # Right padding, no mask needed: the causal mask keeps it out of every position we read.
            ids, _no_mask = _pad(gpt_rows, gpt_tok.pad_id if gpt_tok.pad_id is not None else 0)
            positions = torch.tensor([len(row) - 1 for row in gpt_rows])
            logits = _logits_at(gpt, ids.to(gpt_device), None, positions.to(gpt_device))
            readers["gpt1"].append(_scores(logits, torch.tensor([blanks[i].ids["gpt1"][1] for i in chunk])))
            targets = torch.tensor([blanks[i].ids["bert"][1] for i in chunk])
            for reader in ("bert", "bert_other_right"):
                bert_rows = []
                for i in chunk:
                    left, _word, right = blanks[i].ids["bert"]
                    if reader == "bert_other_right":
                        right = blanks[(i + 1) % len(blanks)].ids["bert"][2]
                    room = bert.cfg.max_positions - len(left) - 3
                    bert_rows.append([bert_tok.cls_id, *left, bert_tok.mask_id, *right[:room], bert_tok.sep_id])
                ids, mask = _pad(bert_rows, bert_tok.pad_id)
                positions = torch.tensor([row.index(bert_tok.mask_id) for row in bert_rows])
                logits = _logits_at(bert, ids.to(bert_device), mask.to(bert_device), positions.to(bert_device))
                readers[reader].append(_scores(logits, targets))
    finally:
        for m, training in zip(models, was_training):
            m.train(training)
    return {reader: {key: torch.cat([part[key] for part in parts]) for key in ("logprob", "rank")}
            for reader, parts in readers.items()}


def blank_accuracy(gpt, gpt_tok, bert, bert_tok, texts=None, n: int = 300, seed: int = 0, top_k: int = 5) -> dict:
    """The lesson's claim in numbers: on held-out text (default: the test plays), hide one middle word per
    sentence and ask GPT-1 from the left, BERT from both sides, and BERT with another sentence's right side.

    Returns {"blanks": n, "seed": seed, "gpt1" | "bert" | "bert_other_right": {"top1", f"top{top_k}",
    "mean_logprob"}, "right_side_gain": BERT's mean log-prob with its own right side minus with the other one}.
    A positive gain means BERT uses what comes after the blank; the control is the other right side."""
    texts = held_out_play_sentences("test") if texts is None else texts
    blanks = blank_examples(texts, {"gpt1": gpt_tok, "bert": bert_tok}, n=n, seed=seed,
                            max_tokens=min(gpt.cfg.max_positions, bert.cfg.max_positions - 2))
    if not blanks:
        raise ValueError("no sentence had a one-token middle word for both tokenizers")
    scores = blank_scores(gpt, gpt_tok, bert, bert_tok, blanks)
    result = {"blanks": len(blanks), "seed": seed}
    for reader, s in scores.items():
        result[reader] = {"top1": float((s["rank"] == 0).float().mean()),
                          f"top{top_k}": float((s["rank"] < top_k).float().mean()),
                          "mean_logprob": float(s["logprob"].mean())}
    result["right_side_gain"] = result["bert"]["mean_logprob"] - result["bert_other_right"]["mean_logprob"]
    return result
