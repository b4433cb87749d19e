"""lmteach models loaded from Hugging Face weights compute what the Hugging Face models compute.

Every HF model here gets random weights (LayerNorms and biases included, so a swapped LayerNorm or a
misplaced bias would show), is converted with `lt.from_hf`, and both run the same padded batch in eval mode.
Logits, hidden states and attentions must agree to 1e-5 on real (non-padding) positions.
"""

from __future__ import annotations

import json
import os

import pytest
import torch

os.environ["HF_HUB_OFFLINE"] = "1"
transformers = pytest.importorskip("transformers")

import lmteach as lt  # noqa: E402
from lmteach.models.interop import config_from_hf  # noqa: E402

TOLERANCE = 1e-5
VOCAB, POSITIONS = 61, 20


def gpt1_config(**changes):
    settings = dict(vocab_size=VOCAB, n_positions=POSITIONS, n_embd=60, n_layer=2, n_head=5)
    return transformers.OpenAIGPTConfig(**{**settings, **changes})


def gpt2_config(**changes):
    settings = dict(vocab_size=VOCAB, n_positions=POSITIONS, n_embd=60, n_layer=2, n_head=3, bos_token_id=0,
                    eos_token_id=0)
    return transformers.GPT2Config(**{**settings, **changes})


def bert_config(**changes):
    settings = dict(vocab_size=VOCAB, max_position_embeddings=POSITIONS, hidden_size=60, num_hidden_layers=2,
                    num_attention_heads=5, intermediate_size=70)
    return transformers.BertConfig(**{**settings, **changes})


def albert_config(**changes):
    settings = dict(vocab_size=VOCAB, max_position_embeddings=POSITIONS, hidden_size=60, embedding_size=24,
                    num_hidden_layers=6, num_hidden_groups=3, num_attention_heads=3, intermediate_size=70)
    return transformers.AlbertConfig(**{**settings, **changes})


def electra_config(**changes):
    settings = dict(vocab_size=VOCAB, max_position_embeddings=POSITIONS, hidden_size=60, embedding_size=24,
                    num_hidden_layers=2, num_attention_heads=5, intermediate_size=70)
    return transformers.ElectraConfig(**{**settings, **changes})


T = transformers
CASES = {
    # name: (config, HF classes to convert)
    "gpt1": (gpt1_config(), [T.OpenAIGPTLMHeadModel, T.OpenAIGPTModel]),
    "gpt1-relu": (gpt1_config(afn="relu"), [T.OpenAIGPTLMHeadModel]),
    "gpt1-swish": (gpt1_config(afn="swish"), [T.OpenAIGPTModel]),
    "gpt2": (gpt2_config(), [T.GPT2LMHeadModel, T.GPT2Model]),
    "gpt2-pytorch-tanh-ffn": (gpt2_config(activation_function="gelu_pytorch_tanh", n_inner=50), [T.GPT2LMHeadModel]),
    "gpt2-gelu-fast": (gpt2_config(activation_function="gelu_fast"), [T.GPT2Model]),
    "gpt2-erf-gelu-untied": (gpt2_config(activation_function="gelu", tie_word_embeddings=False),
                             [T.GPT2LMHeadModel]),
    "bert": (bert_config(), [T.BertForPreTraining, T.BertForMaskedLM, T.BertModel]),
    "bert-relu-3-segments": (bert_config(hidden_act="relu", type_vocab_size=3), [T.BertForPreTraining]),
    "bert-silu": (bert_config(hidden_act="silu", num_attention_heads=3), [T.BertForMaskedLM]),
    "bert-gelu-new": (bert_config(hidden_act="gelu_new"), [T.BertModel]),
    "albert-E<H-6-layers-3-groups": (albert_config(), [T.AlbertForPreTraining, T.AlbertModel]),
    "albert-E=H-1-group": (albert_config(embedding_size=60, num_hidden_layers=3, num_hidden_groups=1),
                           [T.AlbertForPreTraining]),
    "albert-5-layers-2-groups-erf-gelu": (albert_config(num_hidden_layers=5, num_hidden_groups=2, hidden_act="gelu",
                                                        hidden_dropout_prob=0.1), [T.AlbertForPreTraining]),
    "electra-E<H": (electra_config(), [T.ElectraForPreTraining, T.ElectraForMaskedLM, T.ElectraModel]),
    "electra-E=H-gelu-new": (electra_config(embedding_size=60, hidden_act="gelu_new"),
                             [T.ElectraForPreTraining, T.ElectraForMaskedLM]),
    "electra-relu": (electra_config(hidden_act="relu", num_attention_heads=3), [T.ElectraForPreTraining]),
}
MODELS = [pytest.param(name, cls, id=f"{name}:{cls.__name__}") for name, (_, classes) in CASES.items()
          for cls in classes]


def random_hf_model(cls, config, seed=0):
    """An HF model with every parameter random (not HF's init, where LayerNorms are 1 and biases 0)."""
    config._attn_implementation = "eager"  # so HF returns attention weights
    torch.manual_seed(seed)
    model = cls(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.3)
    return model


def padded_batch(vocab=VOCAB, lengths=(11, 7, 9), seed=1):
    """Right-padded ids with a mask and segments: rows are real for their first `length` tokens."""
    generator = torch.Generator().manual_seed(seed)
    seq = max(lengths)
    ids = torch.randint(1, vocab, (len(lengths), seq), generator=generator)
    mask = (torch.arange(seq)[None, :] < torch.tensor(lengths)[:, None]).long()
    segments = (torch.arange(seq)[None, :] >= torch.tensor(lengths)[:, None] // 2).long() * mask
    return ids.masked_fill(mask == 0, 0), mask, segments


def max_differences(hf_out, our_out, mask) -> dict:
    """Largest |HF - lmteach| per output, over real tokens only (padding rows/positions are not compared)."""
    real = mask.bool()
    lengths = mask.sum(1).tolist()
    differences = {}
    for name in ("logits", "prediction_logits", "last_hidden_state"):
        if getattr(hf_out, name, None) is not None:
            differences[name] = (hf_out[name][real] - our_out[name][real]).abs().max().item()
    for name in ("seq_relationship_logits", "sop_logits", "pooler_output"):  # read [CLS], always real
        if getattr(hf_out, name, None) is not None:
            differences[name] = (hf_out[name] - our_out[name]).abs().max().item()
    assert len(hf_out.hidden_states) == len(our_out.hidden_states)
    differences["hidden_states"] = max((a[real] - b[real]).abs().max().item()
                                       for a, b in zip(hf_out.hidden_states, our_out.hidden_states))
    assert len(hf_out.attentions) == len(our_out.attentions)
    differences["attentions"] = max((a[row, :, :n, :n] - b[row, :, :n, :n]).abs().max().item()
                                    for a, b in zip(hf_out.attentions, our_out.attentions)
                                    for row, n in enumerate(lengths))
    return differences


def run_both(hf_model, our_model, with_segments):
    ids, mask, segments = padded_batch()
    segment_args = {"token_type_ids": segments} if with_segments else {}
    with torch.no_grad():
        hf_out = hf_model(input_ids=ids, attention_mask=mask, output_hidden_states=True, output_attentions=True,
                          **segment_args)
        our_out = our_model(ids, attention_mask=mask, output_hidden_states=True, output_attentions=True,
                            **segment_args)
    return hf_out, our_out, mask


@pytest.mark.parametrize("case, cls", MODELS)
def test_from_hf_matches_hugging_face(case, cls):
    hf_model = random_hf_model(cls, CASES[case][0])
    ours = lt.from_hf(hf_model)
    assert not ours.training  # the converted model keeps HF's train/eval mode
    hf_out, our_out, mask = run_both(hf_model, ours, with_segments=not case.startswith("gpt"))
    differences = max_differences(hf_out, our_out, mask)
    assert max(differences.values()) < TOLERANCE, differences
    # Every HF output this class has was compared.
    expected = {"BertForPreTraining": "seq_relationship_logits", "AlbertForPreTraining": "sop_logits",
                "BertModel": "pooler_output", "AlbertModel": "pooler_output"}.get(cls.__name__)
    assert expected is None or expected in differences


def test_from_hf_keeps_parameter_counts_and_sharing():
    albert = random_hf_model(T.AlbertForPreTraining, albert_config())
    ours = lt.from_hf(albert)
    # Same number of distinct parameters: ALBERT's shared groups and the tied decoder are counted once.
    assert sum(p.numel() for p in ours.parameters()) == sum(p.numel() for p in albert.parameters())
    layers = ours.body.layers
    assert layers[0] is layers[1] and layers[2] is layers[3] and layers[0] is not layers[2]
    assert ours.lm_head.decoder.weight is ours.body.embeddings.token.weight


def test_config_from_hf_fields():
    cfg = config_from_hf(albert_config(num_hidden_groups=3))
    assert (cfg.family, cfg.embedding_size, cfg.sharing, cfg.num_groups, cfg.activation) == \
        ("albert", 24, "all", 3, "gelu_tanh")
    assert config_from_hf(albert_config(embedding_size=60)).embedding_size == 60  # E == H still projects
    assert config_from_hf(electra_config(embedding_size=60)).embedding_size is None  # no embeddings_project
    assert config_from_hf(gpt1_config()).activation == "gelu_tanh"  # OpenAI GPT's "gelu" is the tanh form
    assert config_from_hf(bert_config(hidden_act="gelu")).activation == "gelu"
    gpt2 = config_from_hf(gpt2_config(resid_pdrop=0.2, attn_pdrop=0.05, layer_norm_epsilon=1e-6))
    assert (gpt2.dropout, gpt2.attention_dropout, gpt2.layer_norm_eps, gpt2.ffn_size) == (0.2, 0.05, 1e-6, 240)
    assert (gpt2.norm_placement, gpt2.final_norm, gpt2.causal) == ("pre", True, True)


def test_config_from_hf_rejects_what_lmteach_cannot_compute():
    with pytest.raises(ValueError, match="inner_group_num"):
        config_from_hf(albert_config(inner_group_num=2))
    with pytest.raises(ValueError, match="quick_gelu"):
        config_from_hf(bert_config(hidden_act="quick_gelu"))
    with pytest.raises(ValueError, match="scale_attn_by_inverse_layer_idx"):
        config_from_hf(gpt2_config(scale_attn_by_inverse_layer_idx=True))
    with pytest.raises(ValueError, match="unsupported Hugging Face model_type 't5'"):
        config_from_hf({"model_type": "t5"})


def test_from_hf_rejects_unsupported_classes():
    model = T.BertForSequenceClassification(bert_config())
    with pytest.raises(TypeError, match="BertForSequenceClassification is not supported.*BertForMaskedLM"):
        lt.from_hf(model)


# ----------------------------------------------------------------------------------------------------------------
# from_pretrained: local folders written by save_pretrained
# ----------------------------------------------------------------------------------------------------------------

PRETRAINED = [("gpt2", T.GPT2LMHeadModel), ("gpt1", T.OpenAIGPTLMHeadModel), ("bert", T.BertForPreTraining),
              ("bert", T.BertForMaskedLM), ("albert-E<H-6-layers-3-groups", T.AlbertForPreTraining),
              ("electra-E<H", T.ElectraForMaskedLM), ("electra-E<H", T.ElectraModel)]


@pytest.mark.parametrize("weights", ["safetensors", "bin"])
@pytest.mark.parametrize("case, cls", PRETRAINED, ids=[f"{c}:{k.__name__}" for c, k in PRETRAINED])
def test_from_pretrained_round_trip(tmp_path, case, cls, weights):
    hf_model = random_hf_model(cls, CASES[case][0])
    hf_model.save_pretrained(tmp_path)
    if weights == "bin":
        (tmp_path / "model.safetensors").unlink()
        torch.save(hf_model.state_dict(), tmp_path / "pytorch_model.bin")
    ours = lt.from_pretrained(tmp_path)
    assert type(ours).__name__ == {"causal_lm": "CausalLM", "mlm_pair": "MaskedLMWithPairHead",
                                   "masked_lm": "MaskedLM", "base": "Transformer"}[
        lt.models.interop.HF_CLASSES[cls.__name__]]
    assert not ours.training
    hf_out, our_out, mask = run_both(hf_model, ours, with_segments=not case.startswith("gpt"))
    differences = max_differences(hf_out, our_out, mask)
    assert max(differences.values()) < TOLERANCE, differences


def test_from_pretrained_head_base_loads_the_body_of_a_pretraining_checkpoint(tmp_path):
    hf_model = random_hf_model(T.BertForPreTraining, bert_config())
    hf_model.save_pretrained(tmp_path)
    body = lt.from_pretrained(tmp_path, head="base")
    ids, mask, segments = padded_batch()
    with torch.no_grad():
        expected = hf_model.bert(input_ids=ids, attention_mask=mask, token_type_ids=segments)
        got = body(ids, attention_mask=mask, token_type_ids=segments)
    real = mask.bool()
    assert (expected.last_hidden_state[real] - got.last_hidden_state[real]).abs().max() < TOLERANCE
    assert (expected.pooler_output - got.pooler_output).abs().max() < TOLERANCE


def test_from_pretrained_reads_unprefixed_sentence_transformers_layout(tmp_path):
    # sentence-transformers save a bare BertModel: no "bert." prefix, maybe without "architectures".
    hf_model = random_hf_model(T.BertModel, bert_config())
    hf_model.save_pretrained(tmp_path)
    config = json.loads((tmp_path / "config.json").read_text())
    del config["architectures"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    ours = lt.from_pretrained(tmp_path)
    assert ours.pooler is not None
    hf_out, our_out, mask = run_both(hf_model, ours, with_segments=True)
    assert max(max_differences(hf_out, our_out, mask).values()) < TOLERANCE


def save(tmp_path, model):
    model.save_pretrained(tmp_path)
    return tmp_path


def test_from_pretrained_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="not a directory"):
        lt.from_pretrained(tmp_path / "nowhere")
    with pytest.raises(FileNotFoundError, match="no config.json"):
        lt.from_pretrained(tmp_path)

    folder = save(tmp_path / "unsupported", T.BertForSequenceClassification(bert_config()))
    with pytest.raises(ValueError, match="BertForSequenceClassification is not supported"):
        lt.from_pretrained(folder)

    # ... unless only the body is asked for.
    assert lt.from_pretrained(folder, head="base").pooler is not None

    folder = save(tmp_path / "t5", T.BertModel(bert_config()))
    (folder / "config.json").write_text(json.dumps({"model_type": "t5"}))
    with pytest.raises(ValueError, match="unsupported Hugging Face model_type 't5'"):
        lt.from_pretrained(folder)

    folder = save(tmp_path / "no-weights", T.BertModel(bert_config()))
    (folder / "model.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="no weights"):
        lt.from_pretrained(folder)


def test_from_pretrained_shape_mismatch_names_the_tensor(tmp_path):
    folder = save(tmp_path, T.BertForMaskedLM(bert_config()))
    config = json.loads((folder / "config.json").read_text())
    config["intermediate_size"] = 80  # the weights were saved with 70
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match=r"body\.layers\.0\.feed_forward\.up\.bias \(from "
                                         r"bert\.encoder\.layer\.0\.intermediate\.dense\.bias\).*\(70,\).*\(80,\)"):
        lt.from_pretrained(folder)


def test_from_pretrained_missing_and_unexpected_weights(tmp_path):
    from safetensors.torch import load_file, save_file
    folder = save(tmp_path, T.BertForMaskedLM(bert_config()))
    weights = load_file(folder / "model.safetensors")
    del weights["bert.encoder.layer.1.output.LayerNorm.bias"]
    weights["bert.encoder.layer.1.output.extra.weight"] = torch.zeros(3)
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(ValueError, match=r"missing.*body\.layers\.1\.ffn_norm\.bias(.|\n)*unexpected.*"
                                         r"bert\.encoder\.layer\.1\.output\.extra\.weight"):
        lt.from_pretrained(folder)


def test_from_pretrained_checkpoint_and_head_must_agree(tmp_path):
    # A BertModel checkpoint has no MLM head weights: asking for the pretraining head is an error, not random init.
    folder = save(tmp_path, T.BertModel(bert_config()))
    with pytest.raises(ValueError, match=r"missing.*lm_head\.transform\.weight"):
        lt.from_pretrained(folder, head="mlm_pair")
