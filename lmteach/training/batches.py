"""Batch samplers: `batch(step) -> dict of tensors`, the same dict every time for the same (seed, step).

Because a batch depends only on (seed, step), training can be paused, resumed from a checkpoint or split
across processes (each keeps its rows of the same global batch) and still see exactly the same data.

    causal_lm_batches(ids, seq_len=64, batch_size=12)        GPT-1 / GPT-2: random windows of the text
    masked_lm_batches(tok, 128, 16, token_ids=ids)            BERT MLM on [CLS] window [SEP]
    docs, plays = tokenized_documents(tok, corpus, span_tokens=62)       scenes -> packed spans of token ids
    masked_lm_batches(tok, 128, 16, documents=docs, groups=plays, pair_task="nsp")   BERT MLM + NSP ("sop": ALBERT)
    electra_loss_fn(tok.mask_id, tok.vocab_size, tok.special_ids)      ELECTRA's loss, for Trainer(loss_fn=...)
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Sequence

import torch

from ..objectives import make_nsp_batch, make_sop_batch, mask_tokens, pack_segments, replaced_token_detection


def step_seed(seed: int, step: int, *extra) -> int:
    """A 63-bit seed mixed from (seed, step, ...): nearby steps get unrelated random streams."""
    key = ":".join(str(part) for part in (seed, step, *extra)).encode()
    return int.from_bytes(hashlib.blake2b(key, digest_size=8).digest(), "little") >> 1


def step_generator(seed: int, step: int, *extra) -> torch.Generator:
    """A CPU torch.Generator for one step's data draws."""
    return torch.Generator().manual_seed(step_seed(seed, step, *extra))


def causal_lm_batches(token_ids: torch.Tensor, seq_len: int, batch_size: int, seed: int = 0):
    """Random windows of a token stream (nanoGPT's get_batch).

    token_ids: 1-D tensor of the whole training text. batch(step) -> {"input_ids", "labels"}, both
    [batch_size, seq_len] and equal: lmteach's CausalLM shifts inside (position t predicts token t+1),
    so each window scores seq_len - 1 predictions.
    """
    token_ids = torch.as_tensor(token_ids, dtype=torch.long).flatten()
    if len(token_ids) <= seq_len:
        raise ValueError(f"the text has {len(token_ids)} tokens, fewer than one window of seq_len={seq_len}; "
                         "use more text or a shorter seq_len")
    offsets = torch.arange(seq_len)

    def batch(step: int) -> dict:
        starts = torch.randint(len(token_ids) - seq_len + 1, (batch_size,), generator=step_generator(seed, step))
        windows = token_ids[starts[:, None] + offsets]  # [batch, seq_len]
        return {"input_ids": windows, "labels": windows}

    return batch


CUTS = ("speeches", "anywhere")


def tokenized_documents(tokenizer, corpus, *, span_tokens: int | None = None, cut: str = "speeches",
                        speakers: bool = False, min_segments: int = 2,
                        max_documents: int | None = None) -> tuple[list, list]:
    """(documents, groups): each document (a scene) as a list of segments of token ids, and each document's
    work (its play), the inputs of the sentence-pair objectives.

    span_tokens: the length of a segment. BERT's segments are "an arbitrary span of contiguous text, rather than
    an actual linguistic sentence" (§3, "Input/Output Representations"); two ways to cut them:
      cut="speeches": whole speeches packed into spans of up to span_tokens (`pack_segments`); two consecutive
          segments meet where one speech ends and the next begins;
      cut="anywhere": the scene's text cut every span_tokens tokens, wherever that falls; two consecutive
          segments then meet in mid-sentence, so whether B continues A can be read at the seam.
    span_tokens=None keeps one speech per segment. speakers=True writes each speech as the edition prints it,
    "SPEAKER: speech" (as `Corpus.text` does for the causal LMs). Documents with fewer than `min_segments`
    segments are dropped (no pair fits in them)."""
    if cut not in CUTS:
        raise ValueError(f"cut must be one of {CUTS}, got {cut!r}")
    if cut == "anywhere" and span_tokens is None:
        raise ValueError("cut='anywhere' needs span_tokens, the length of each piece")
    documents, groups = [], []
    texts = corpus.documents
    if speakers and corpus.speeches is not None:
        texts = [[f"{s.speaker}: {s.text}" if s.speaker else s.text for s in scene]
                 for scene in corpus.speeches_by_document()]
    chosen = list(zip(texts, corpus.document_works))[:max_documents]
    for document, work in chosen:
        segments = [ids for ids in tokenizer.encode_batch(document) if ids]
        if cut == "anywhere":
            stream = [token for segment in segments for token in segment]
            segments = [stream[i:i + span_tokens] for i in range(0, len(stream), span_tokens)]
            segments = [piece for piece in segments if len(piece) >= min(8, span_tokens)]
        elif span_tokens is not None:
            segments = pack_segments(segments, span_tokens)
        if len(segments) >= min_segments:
            documents.append(segments)
            groups.append(work)
    return documents, groups


def _check_bert_tokenizer(tokenizer):
    missing = [name for name in ("mask_id", "cls_id", "sep_id", "pad_id") if getattr(tokenizer, name, None) is None]
    if missing:
        raise ValueError(f"masked-LM batches need a tokenizer with [MASK], [CLS], [SEP] and [PAD] "
                         f"(e.g. wordpiece); this one has no {', '.join(missing)}")


def masked_lm_batches(tokenizer, seq_len: int, batch_size: int, *, token_ids=None,
                      documents: Sequence[Sequence[Sequence[int]]] | None = None, pair_task: str | None = None,
                      groups: Sequence | None = None, seed: int = 0, rate: float = 0.15,
                      mix: tuple[float, float, float] = (0.8, 0.1, 0.1), random_truncation: bool = True):
    """BERT-style masked-LM batches (§3.1: 15% picked; of those 80% [MASK], 10% random, 10% kept).

    tokenizer: gives mask_id, cls_id, sep_id, pad_id, vocab_size and special_ids.
    pair_task=None: windows of `token_ids` (1-D) framed as [CLS] window [SEP], seq_len tokens in all.
    pair_task="nsp" / "sop": [CLS] A [SEP] B [SEP] pairs from `documents` (lists of segments of token ids),
        padded to the longest pair in the batch (at most seq_len), with pair_labels for the pair head.
        groups: each document's play, so NSP's NotNext segments come from another play; random_truncation:
        cut over-long pairs at random ends, as BERT's data script does (`lmteach.objectives.truncate_pair`).
    rate, mix: the share of tokens picked, and the ([MASK], random, kept) split of the picked ones (Table 8).
    batch(step) -> {"input_ids", "token_type_ids", "attention_mask", "labels" (-100 = not predicted),
                    and "pair_labels" [batch] for pair tasks}, the arguments of MaskedLMWithPairHead.forward.
    """
    _check_bert_tokenizer(tokenizer)
    if pair_task not in (None, "nsp", "sop"):
        raise ValueError(f"pair_task must be None, 'nsp' or 'sop', got {pair_task!r}")
    special_ids = sorted(tokenizer.special_ids)
    if pair_task is None:
        if token_ids is None:
            raise ValueError("masked_lm_batches without a pair task needs token_ids (a 1-D tensor of the text)")
        windows = causal_lm_batches(token_ids, seq_len - 2, batch_size, seed)
    elif documents is None:
        raise ValueError(f"pair_task={pair_task!r} needs documents: lists of segments of token ids")
    make_pairs = make_nsp_batch if pair_task == "nsp" else make_sop_batch

    def batch(step: int) -> dict:
        if pair_task is None:
            body = windows(step)["input_ids"]
            ids = torch.cat([torch.full((batch_size, 1), tokenizer.cls_id), body,
                             torch.full((batch_size, 1), tokenizer.sep_id)], dim=1)
            pairs = {"input_ids": ids, "token_type_ids": torch.zeros_like(ids), "attention_mask": torch.ones_like(ids)}
        else:
            rng = random.Random(step_seed(seed, step, "pairs"))
            pairs = make_pairs(documents, batch_size, rng, max_len=seq_len, cls_id=tokenizer.cls_id,
                               sep_id=tokenizer.sep_id, pad_id=tokenizer.pad_id, groups=groups,
                               random_truncation=random_truncation)
        masked = mask_tokens(pairs["input_ids"], mask_id=tokenizer.mask_id, vocab_size=tokenizer.vocab_size,
                             special_ids=special_ids, rate=rate, mask_fraction=mix[0], random_fraction=mix[1],
                             attention_mask=pairs["attention_mask"], generator=step_generator(seed, step, "mask"))
        out = {"input_ids": masked.input_ids, "token_type_ids": pairs["token_type_ids"],
               "attention_mask": pairs["attention_mask"], "labels": masked.labels}
        if pair_task is not None:
            out["pair_labels"] = pairs["labels"]
        return out

    return batch


def plain_batches(tokenizer, seq_len: int, batch_size: int, token_ids, seed: int = 0):
    """Unmasked [CLS] window [SEP] batches (ELECTRA masks inside its loss): {"input_ids", "attention_mask"}."""
    _check_bert_tokenizer(tokenizer)
    windows = causal_lm_batches(token_ids, seq_len - 2, batch_size, seed)

    def batch(step: int) -> dict:
        body = windows(step)["input_ids"]
        ids = torch.cat([torch.full((batch_size, 1), tokenizer.cls_id), body,
                         torch.full((batch_size, 1), tokenizer.sep_id)], dim=1)
        return {"input_ids": ids, "attention_mask": torch.ones_like(ids)}

    return batch


def segment_batches(tokenizer, documents, seq_len: int, batch_size: int, seed: int = 0):
    """Unmasked [CLS] segment [SEP] batches of whole segments (e.g. speeches, from `tokenized_documents`) drawn
    uniformly, cut to seq_len and padded to the longest: {"input_ids", "attention_mask"}. Short speeches are many,
    so this reads a lot of short, formulaic exchanges: an easy start for a masked LM (see recipes.short_then_long)."""
    _check_bert_tokenizer(tokenizer)
    segments = [segment for document in documents for segment in document]
    if not segments:
        raise ValueError("segment_batches needs at least one non-empty segment")

    def batch(step: int) -> dict:
        rng = random.Random(step_seed(seed, step, "segments"))
        rows = [[tokenizer.cls_id, *rng.choice(segments)[:seq_len - 2], tokenizer.sep_id] for _ in range(batch_size)]
        width = max(len(row) for row in rows)
        ids = torch.full((batch_size, width), tokenizer.pad_id, dtype=torch.long)
        mask = torch.zeros((batch_size, width), dtype=torch.long)
        for i, row in enumerate(rows):
            ids[i, :len(row)] = torch.tensor(row)
            mask[i, :len(row)] = 1
        return {"input_ids": ids, "attention_mask": mask}

    return batch


def masked(tokenizer, batches, seed: int = 0, rate: float = 0.15, mix=(0.8, 0.1, 0.1)):
    """Unmasked batches (`segment_batches`, `plain_batches`) with BERT's masking applied: adds "labels"
    (-100 where not picked) and corrupts "input_ids", drawn from (seed, step) like `masked_lm_batches`."""
    special_ids = sorted(tokenizer.special_ids)

    def batch(step: int) -> dict:
        plain = batches(step)
        out = mask_tokens(plain["input_ids"], mask_id=tokenizer.mask_id, vocab_size=tokenizer.vocab_size,
                          special_ids=special_ids, rate=rate, mask_fraction=mix[0], random_fraction=mix[1],
                          attention_mask=plain["attention_mask"], generator=step_generator(seed, step, "mask"))
        return {**plain, "input_ids": out.input_ids, "labels": out.labels}

    return batch


class _OnDevice:
    """Calls a network on its own device but hands back CPU logits and loss.

    The objectives' masking draws its random numbers on the CPU, so on a GPU the masking and sampling happen
    on the CPU and only the networks run on the GPU (autograd follows tensors across devices)."""

    def __init__(self, network, device):
        self.network, self.device = network, device

    def __call__(self, **inputs):
        out = self.network(**{k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()})
        for name in ("logits", "picked_logits", "loss"):
            value = getattr(out, name, None)
            if value is not None:
                setattr(out, name, value.cpu())
        return out


def electra_loss_fn(mask_id: int, vocab_size: int, special_ids, disc_weight: float = 50.0, rate: float = 0.15,
                    temperature: float = 1.0):
    """A Trainer loss_fn for lmteach's `Electra` model: ELECTRA's replaced-token detection (§2),
    L_MLM(generator) + disc_weight * L_Disc. Returns the objectives' ElectraStep (it has .loss).
    temperature: the generator's samples are drawn from softmax(logits / temperature) (the paper: 1).

    The masking and sampling draw from a generator seeded from torch's global RNG, which the Trainer reseeds
    from (seed, step) before every step: the same step always masks the same tokens.
    """
    special_ids = sorted(special_ids)

    def loss_fn(model, batch):
        model = getattr(model, "module", model)  # unwrap DistributedDataParallel if present
        rng = torch.Generator().manual_seed(int(torch.randint(0, 2**62, (1,))))
        input_ids = batch["input_ids"]
        generator, discriminator = model.generator, model.discriminator
        if input_ids.device.type != "cpu":
            device = input_ids.device
            generator, discriminator = _OnDevice(generator, device), _OnDevice(discriminator, device)
            batch = {k: v.cpu() if isinstance(v, torch.Tensor) else v for k, v in batch.items()}
        return replaced_token_detection(generator, discriminator, batch["input_ids"], mask_id=mask_id,
                                        vocab_size=vocab_size, special_ids=special_ids,
                                        attention_mask=batch.get("attention_mask"),
                                        token_type_ids=batch.get("token_type_ids"), rate=rate,
                                        disc_weight=disc_weight, temperature=temperature, rng=rng)

    return loss_fn
