"""Attention where the masks are taught: GPT-1 and BERT side by side with one set of controls (lesson 03), and
where a GPT-1 classifier's Extract token looks (lesson 01). Driven by setting control values, checked against
a recomputation of attention from the model's own weights."""

import math

import numpy as np
import pytest
import torch

import lmteach as lt
from lmteach.analysis.attention import (attention_maps, attention_on_later_tokens, encode_for_attention,
                                        extract_attention, extract_attention_png)
from lmteach.training.finetune import task_model
from lmteach.data.tokenization import load_default
from lmteach.models.transformer import Gpt1ForTask
from lmteach.widgets import AttentionCompare, AttentionExplorer, ExtractAttention

PNG = b"\x89PNG"


@pytest.fixture(scope="module")
def gpt():
    torch.manual_seed(0)
    tokenizer = load_default("byte_bpe", gpt1_specials=True)
    cfg = lt.configs.gpt1("tiny", vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=2, num_heads=2,
                          ffn_size=64, max_positions=48)
    return lt.build(cfg).eval(), tokenizer


@pytest.fixture(scope="module")
def bert():
    torch.manual_seed(1)
    tokenizer = load_default("wordpiece")
    cfg = lt.configs.bert("tiny", vocab_size=tokenizer.vocab_size, hidden_size=32, num_layers=3, num_heads=2,
                          ffn_size=64, max_positions=48)
    return lt.build(cfg).eval(), tokenizer


@pytest.fixture(scope="module")
def classifier(gpt):
    """A GPT-1 task model built from the GPT the way lesson 01 builds it (a new linear head on Extract)."""
    torch.manual_seed(2)
    return task_model(gpt[0], "genre").eval()


def test_attention_on_later_tokens_is_the_upper_triangle():
    n = 4
    uniform = np.full((n, n), 1 / n)
    assert attention_on_later_tokens(uniform) == pytest.approx(np.mean([(n - 1 - i) / n for i in range(n)]))
    assert attention_on_later_tokens(np.tril(np.ones((n, n))) / np.arange(1, n + 1)[:, None]) == 0.0
    assert attention_on_later_tokens(np.stack([uniform, np.eye(n)])) == pytest.approx(0.375 / 2)


def test_attention_compare_one_set_of_controls_drives_both_sides(gpt, bert):
    compare = AttentionCompare({"GPT-1": gpt, "BERT": bert}, text="the king is dead, long live the king")
    gpt_maps, bert_maps = compare.maps["GPT-1"], compare.maps["BERT"]
    # Each side reads the sentence with its own tokenizer.
    assert gpt_maps.tokens[:2] == ["the", "Ġking"] and bert_maps.tokens[:3] == ["[CLS]", "the", "king"]
    # GPT-1's attention is lower-triangular in every layer and head (the causal mask); BERT's is not.
    assert np.triu(gpt_maps.weights, k=1).max() == 0.0
    assert np.triu(bert_maps.weights, k=1).max() > 0.01
    assert "causal" in compare.infos["GPT-1"].value and "bidirectional" in compare.infos["BERT"].value
    assert "attention on later tokens: <b>0.0%</b>" in compare.infos["GPT-1"].value
    assert attention_on_later_tokens(bert_maps.weights) > 0.1
    assert compare.layer.max == 1                          # the shallower model's last layer (GPT 2, BERT 3)
    assert [value for _, value in compare.head.options] == [-1, 0, 1]

    def views():
        return compare.outputs["GPT-1"].value, compare.outputs["BERT"].value

    first = views()
    assert all(v.startswith("<img") for v in first)
    compare.layer.value = 1                                # one slider moves both sides
    second = views()
    assert second[0] != first[0] and second[1] != first[1]
    compare.head.value = 1
    third = views()
    assert third[0] != second[0] and third[1] != second[1]
    compare.view.value = "links"
    links = views()
    assert all(v.startswith("<svg") and 'stroke="#ff7f0e"' in v and 'stroke="#1f77b4"' not in v for v in links)
    compare.text.value = "to be or not to be"
    assert compare.maps["GPT-1"].tokens == ["to", "Ġbe", "Ġor", "Ġnot", "Ġto", "Ġbe"]
    assert compare.maps["BERT"].tokens == ["[CLS]", "to", "be", "or", "not", "to", "be", "[SEP]"]
    assert views() != links and compare.layer.value == 1 and compare.head.value == 1
    with pytest.raises(ValueError, match="models to compare"):
        AttentionCompare({})


def test_attention_compare_shows_the_weights_it_computed(gpt, bert):
    compare = AttentionCompare({"GPT-1": gpt, "BERT": bert}, text="good my lord")
    for name, (model, tokenizer) in {"GPT-1": gpt, "BERT": bert}.items():
        direct = attention_maps(model, tokenizer, "good my lord")
        assert np.array_equal(compare.maps[name].weights, direct.weights)


def test_attention_maps_frame_a_gpt1_task_model_as_its_classifier_reads(classifier, gpt):
    _, tok = gpt
    ids, segments, tokens = encode_for_attention(tok, "to be or not", model=classifier)
    assert tokens[0] == "<start>" and tokens[-1] == "<extract>" and segments is None
    assert ids[0].tolist() == [tok.start_id, *tok.encode("to be or not"), tok.extract_id]
    _, _, pair_tokens = encode_for_attention(tok, "to be", "or not", model=classifier)
    assert pair_tokens == ["<start>", "to", "Ġbe", "<delim>", "or", "Ġnot", "<extract>"]
    # The existing explorer shows the causal mask of the lesson's models, the pretrained LM and the classifier.
    explorer = AttentionExplorer({"pretrained": gpt, "classifier": (classifier, tok)}, text="to be or not")
    assert "causal" in explorer.info.value and explorer.maps.tokens[0] == "to"
    explorer.model_choice.value = "classifier"
    assert explorer.maps.tokens[0] == "<start>" and np.triu(explorer.maps.weights, k=1).max() == 0.0
    explorer.text_pair.value = "that is the question"       # GPT pairs use Delim, not segment embeddings
    assert "<delim>" in explorer.maps.tokens


@torch.no_grad()
def test_extract_attention_is_the_extract_row_and_matches_a_manual_softmax(classifier, gpt):
    _, tok = gpt
    text = "Good my lord, what news from the court?"
    found = extract_attention(classifier, tok, text)
    n = len(found["tokens"])
    assert found["tokens"][0] == "<start>" and found["tokens"][-1] == "<extract>"
    assert found["extract_position"] == n - 1
    assert found["weights"].shape == (2, 2, n)
    # Each (layer, head) row is a distribution over the tokens up to Extract, which is all of them.
    assert np.allclose(found["weights"].sum(-1), 1.0, atol=1e-5) and (found["weights"] >= 0).all()
    maps = attention_maps(classifier, tok, text)
    assert np.array_equal(found["weights"], maps.weights[:, :, -1, :])

    # Recompute softmax(q k^T / sqrt(d)) for the Extract query from the model's own weights and hidden states.
    ids = encode_for_attention(tok, text, model=classifier)[0]
    states = classifier(ids, output_hidden_states=True).hidden_states      # block inputs
    for layer, head in ((0, 1), (1, 0)):
        block = classifier.body.layers[layer]
        x = block.attention_norm(states[layer]) if block.pre_norm else states[layer]
        width = classifier.cfg.hidden_size // classifier.cfg.num_heads
        part = slice(head * width, (head + 1) * width)
        q = block.attention.query(x)[0, -1, part]
        k = block.attention.key(x)[0, :, part]
        manual = (k @ q / math.sqrt(width)).softmax(-1)
        assert np.allclose(found["weights"][layer, head], manual.numpy(), atol=1e-5)

    # The classifier's answer, read from the same framed input.
    logits = classifier(ids).logits[0]
    assert found["probabilities"] == pytest.approx(logits.softmax(-1).tolist(), abs=1e-6)
    assert len(found["probabilities"]) == classifier.cfg.num_labels

    pair = extract_attention(classifier, tok, "to be", "or not")
    assert pair["tokens"][3] == "<delim>" and np.allclose(pair["weights"].sum(-1), 1.0, atol=1e-5)
    with pytest.raises(ValueError, match="GPT-1 task model"):
        extract_attention(gpt[0], tok, text)
    for head in (-1, "mean", 1):
        assert extract_attention_png(found, head).startswith(PNG)


def test_extract_attention_widget_controls(classifier, gpt):
    _, tok = gpt
    labels = lt.data.tasks.task_info("genre")["label_names"]
    widget = ExtractAttention(classifier, tok, text="Good my lord, what news?", label_names=labels)
    assert widget.text_pair.layout.display == "none"            # a classifier reads one text
    assert any(name in widget.decision.value for name in labels)
    first = widget.output.value
    assert first.startswith("<img")
    widget.head.value = "mean"
    mean_view = widget.output.value
    assert mean_view != first
    widget.head.value = 0
    assert widget.output.value not in (first, mean_view)
    tokens_before = widget.found["tokens"]
    widget.text.value = "Alas, poor Yorick!"
    assert widget.found["tokens"] != tokens_before and widget.found["tokens"][-1] == "<extract>"
    assert widget.output.value.startswith("<img")
    entailment = Gpt1ForTask(classifier.cfg, task="entailment").eval()
    two = ExtractAttention(entailment, tok, text="Where is the king?", text_pair="He is in the hall.")
    assert two.text_pair.layout.display != "none" and "<delim>" in two.found["tokens"]
