"""Load Hugging Face GPT-1, GPT-2, BERT, ALBERT and ELECTRA weights into lmteach models.

    >>> import lmteach as lt
    >>> model = lt.from_pretrained("path/to/all-MiniLM-L6-v2")   # a local folder: config.json + weights
    >>> model = lt.from_hf(transformers_model)                  # a model already built by transformers

Both go through the same two steps, over plain dictionaries, so `transformers` is never needed at run time:

    config.json  --config_from_hf-->    ModelConfig
    HF weights   --convert_state_dict--> lmteach weights (renamed; GPT's fused q/k/v split, Conv1D transposed)

Loading is strict, like `load_state_dict(strict=True)`: every lmteach parameter must be filled and every
Hugging Face weight used, or you get an error that lists what is missing and what is left over.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import torch
from torch import nn

from ..configs import ModelConfig
from .transformer import build

# Hugging Face class name -> the lmteach head with the same layers.
HF_CLASSES = {
    "OpenAIGPTLMHeadModel": "causal_lm", "OpenAIGPTModel": "base",
    "GPT2LMHeadModel": "causal_lm", "GPT2Model": "base",
    "BertForPreTraining": "mlm_pair", "BertForMaskedLM": "masked_lm", "BertModel": "base",
    "AlbertForPreTraining": "mlm_pair", "AlbertModel": "base",
    "ElectraForPreTraining": "discriminator", "ElectraForMaskedLM": "masked_lm", "ElectraModel": "base",
}
MODEL_TYPES = {"openai-gpt": "gpt1", "gpt2": "gpt2", "bert": "bert", "albert": "albert", "electra": "electra"}

# Hugging Face's activation names. OpenAI GPT is the exception: its "gelu" is the tanh form (handled below).
ACTIVATIONS = {"gelu": "gelu", "gelu_python": "gelu", "gelu_new": "gelu_tanh", "gelu_pytorch_tanh": "gelu_tanh",
               "gelu_fast": "gelu_tanh", "relu": "relu", "silu": "silu", "swish": "silu"}

# Defaults of each Hugging Face config class: config.json files leave out values equal to the default.
HF_DEFAULTS = {
    "openai-gpt": dict(vocab_size=40478, n_positions=512, n_embd=768, n_layer=12, n_head=12, afn="gelu",
                       resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1, layer_norm_epsilon=1e-5,
                       initializer_range=0.02),
    "gpt2": dict(vocab_size=50257, n_positions=1024, n_embd=768, n_layer=12, n_head=12, n_inner=None,
                 activation_function="gelu_new", resid_pdrop=0.1, embd_pdrop=0.1, attn_pdrop=0.1,
                 layer_norm_epsilon=1e-5, initializer_range=0.02, scale_attn_weights=True,
                 scale_attn_by_inverse_layer_idx=False, add_cross_attention=False),
    "bert": dict(vocab_size=30522, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                 intermediate_size=3072, hidden_act="gelu", hidden_dropout_prob=0.1,
                 attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                 initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0),
    "albert": dict(vocab_size=30000, embedding_size=128, hidden_size=4096, num_hidden_layers=12,
                   num_hidden_groups=1, num_attention_heads=64, intermediate_size=16384, inner_group_num=1,
                   hidden_act="gelu_new", hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0,
                   max_position_embeddings=512, type_vocab_size=2, initializer_range=0.02, layer_norm_eps=1e-12,
                   pad_token_id=0),
    "electra": dict(vocab_size=30522, embedding_size=128, hidden_size=256, num_hidden_layers=12,
                    num_attention_heads=4, intermediate_size=1024, hidden_act="gelu", hidden_dropout_prob=0.1,
                    attention_probs_dropout_prob=0.1, max_position_embeddings=512, type_vocab_size=2,
                    initializer_range=0.02, layer_norm_eps=1e-12, pad_token_id=0),
}


# ---------------------------------------------------------------------------------------------------------------
# Configs
# ---------------------------------------------------------------------------------------------------------------

def _as_dict(hf_config) -> dict:
    """A transformers config object or a config.json dictionary, as a plain dictionary."""
    values = hf_config.to_dict() if hasattr(hf_config, "to_dict") else dict(hf_config)
    model_type = values.get("model_type")
    if model_type not in MODEL_TYPES:
        raise ValueError(f"unsupported Hugging Face model_type {model_type!r}; lmteach can load "
                         f"{sorted(MODEL_TYPES)}")
    # The class defaults first, so a config.json that only lists non-default values still reads right.
    return {**HF_DEFAULTS[model_type], **{k: v for k, v in values.items() if v is not None or k == "n_inner"}}


def _activation(name, model_type) -> str:
    if model_type == "openai-gpt" and name == "gelu":
        return "gelu_tanh"  # OpenAI GPT's ACT_FNS maps "gelu" to gelu_new, the tanh approximation
    if name not in ACTIVATIONS:
        raise ValueError(f"activation {name!r} has no lmteach equivalent; supported: {sorted(ACTIVATIONS)}")
    return ACTIVATIONS[name]


def _pad_id(values) -> int:
    pad = values.get("pad_token_id")
    # GPT configs have no padding token; any valid id will do, padding is masked anyway.
    return pad if isinstance(pad, int) and 0 <= pad < values["vocab_size"] else 0


def config_from_hf(hf_config) -> ModelConfig:
    """The lmteach ModelConfig of a Hugging Face config (object or config.json dictionary) for OpenAI GPT,
    GPT-2, BERT, ALBERT or ELECTRA. Head-dependent fields (pooler, pair_task) are those of the family's
    pretraining model; `from_hf`/`from_pretrained` adjust them to the checkpoint's head."""
    v = _as_dict(hf_config)
    model_type = v["model_type"]
    tied = v.get("tie_word_embeddings", True)
    if model_type in ("openai-gpt", "gpt2"):
        if model_type == "gpt2":
            if not v["scale_attn_weights"] or v["scale_attn_by_inverse_layer_idx"]:
                raise ValueError("GPT-2 configs with scale_attn_weights=False or scale_attn_by_inverse_layer_idx="
                                 "True change the attention scaling; lmteach always divides by sqrt(head size)")
            if v["add_cross_attention"]:
                raise ValueError("GPT-2 with cross-attention (an encoder-decoder) is not supported")
        activation = v["afn"] if model_type == "openai-gpt" else v["activation_function"]
        extra = {}
        if v["embd_pdrop"] != v["resid_pdrop"]:
            # lmteach has one dropout for embeddings and residual branches; keep HF's value for the record.
            extra["hf_embd_pdrop"] = v["embd_pdrop"]
        return ModelConfig(
            family=MODEL_TYPES[model_type], vocab_size=v["vocab_size"], max_positions=v["n_positions"],
            hidden_size=v["n_embd"], num_layers=v["n_layer"], num_heads=v["n_head"],
            ffn_size=v.get("n_inner") or 4 * v["n_embd"], activation=_activation(activation, model_type),
            causal=True, norm_placement="pre" if model_type == "gpt2" else "post",
            final_norm=model_type == "gpt2", scale_residual_init=model_type == "gpt2",
            dropout=v["resid_pdrop"], attention_dropout=v["attn_pdrop"], layer_norm_eps=v["layer_norm_epsilon"],
            init_std=v["initializer_range"], pad_token_id=_pad_id(v), tie_embeddings=tied, extra=extra)

    # BERT, ALBERT, ELECTRA: the BERT encoder.
    if v.get("position_embedding_type", "absolute") != "absolute":
        raise ValueError(f"position_embedding_type={v['position_embedding_type']!r} is not supported; lmteach "
                         f"has learned absolute positions only")
    if v.get("is_decoder") or v.get("add_cross_attention"):
        raise ValueError("decoder / cross-attention configs are not supported; lmteach loads encoders only")
    common = dict(
        family=MODEL_TYPES[model_type], vocab_size=v["vocab_size"], max_positions=v["max_position_embeddings"],
        hidden_size=v["hidden_size"], num_layers=v["num_hidden_layers"], num_heads=v["num_attention_heads"],
        ffn_size=v["intermediate_size"], activation=_activation(v["hidden_act"], model_type),
        segment_vocab_size=v["type_vocab_size"], embedding_norm=True, dropout=v["hidden_dropout_prob"],
        attention_dropout=v["attention_probs_dropout_prob"], layer_norm_eps=v["layer_norm_eps"],
        init_std=v["initializer_range"], pad_token_id=_pad_id(v), tie_embeddings=tied)
    if model_type == "bert":
        return ModelConfig(pooler=True, pair_task="nsp", **common)
    if model_type == "albert":
        if v["inner_group_num"] != 1:
            raise ValueError(f"ALBERT inner_group_num={v['inner_group_num']} is not supported: lmteach shares "
                             f"one block per group (inner_group_num=1, as in every released ALBERT)")
        # HF ALBERT always has embedding_hidden_mapping_in, even when embedding_size == hidden_size.
        return ModelConfig(embedding_size=v["embedding_size"], sharing="all", num_groups=v["num_hidden_groups"],
                           pooler=True, pair_task="sop", **common)
    # ELECTRA only has embeddings_project when E != H.
    embedding = v["embedding_size"] if v["embedding_size"] != v["hidden_size"] else None
    return ModelConfig(embedding_size=embedding, **common)


# ---------------------------------------------------------------------------------------------------------------
# Weight names: Hugging Face -> lmteach
# ---------------------------------------------------------------------------------------------------------------
# Each rule maps a Hugging Face module path to an lmteach one; ".weight"/".bias" carry over. {i} is a layer,
# {g} an ALBERT layer group. "conv1d": GPT's Conv1D stores weights [in, out], nn.Linear wants [out, in].
# "qkv": GPT's c_attn packs query, key and value in one Conv1D; it is split into three.

_BERT_EMBEDDINGS = [
    ("embeddings.word_embeddings", "embeddings.token"),
    ("embeddings.position_embeddings", "embeddings.position"),
    ("embeddings.token_type_embeddings", "embeddings.segment"),
    ("embeddings.LayerNorm", "embeddings.norm"),
]
_BERT_BODY = _BERT_EMBEDDINGS + [
    ("embeddings_project", "embedding_projection"),  # ELECTRA with E != H
    ("encoder.layer.{i}.attention.self.query", "layers.{i}.attention.query"),
    ("encoder.layer.{i}.attention.self.key", "layers.{i}.attention.key"),
    ("encoder.layer.{i}.attention.self.value", "layers.{i}.attention.value"),
    ("encoder.layer.{i}.attention.output.dense", "layers.{i}.attention.output"),
    ("encoder.layer.{i}.attention.output.LayerNorm", "layers.{i}.attention_norm"),
    ("encoder.layer.{i}.intermediate.dense", "layers.{i}.feed_forward.up"),
    ("encoder.layer.{i}.output.dense", "layers.{i}.feed_forward.down"),
    ("encoder.layer.{i}.output.LayerNorm", "layers.{i}.ffn_norm"),
    ("pooler.dense", "pooler"),
]
_ALBERT_LAYER = "encoder.albert_layer_groups.{g}.albert_layers.0."
_ALBERT_BODY = _BERT_EMBEDDINGS + [
    ("encoder.embedding_hidden_mapping_in", "embedding_projection"),
    (_ALBERT_LAYER + "attention.query", "layers.{g}.attention.query"),
    (_ALBERT_LAYER + "attention.key", "layers.{g}.attention.key"),
    (_ALBERT_LAYER + "attention.value", "layers.{g}.attention.value"),
    (_ALBERT_LAYER + "attention.dense", "layers.{g}.attention.output"),
    (_ALBERT_LAYER + "attention.LayerNorm", "layers.{g}.attention_norm"),
    (_ALBERT_LAYER + "ffn", "layers.{g}.feed_forward.up"),
    (_ALBERT_LAYER + "ffn_output", "layers.{g}.feed_forward.down"),
    (_ALBERT_LAYER + "full_layer_layer_norm", "layers.{g}.ffn_norm"),
    ("pooler", "pooler"),
]
_GPT_BODY = [
    ("tokens_embed", "embeddings.token"), ("positions_embed", "embeddings.position"),  # GPT-1
    ("wte", "embeddings.token"), ("wpe", "embeddings.position"),                         # GPT-2
    ("h.{i}.attn.c_attn", "layers.{i}.attention.{qkv}", "qkv"),
    ("h.{i}.attn.c_proj", "layers.{i}.attention.output", "conv1d"),
    ("h.{i}.mlp.c_fc", "layers.{i}.feed_forward.up", "conv1d"),
    ("h.{i}.mlp.c_proj", "layers.{i}.feed_forward.down", "conv1d"),
    # GPT-1 normalises after each sub-block, GPT-2 before it; either way ln_1 belongs to attention.
    ("h.{i}.ln_1", "layers.{i}.attention_norm"),
    ("h.{i}.ln_2", "layers.{i}.ffn_norm"),
    ("ln_f", "final_norm"),
]
BODY_RULES = {"gpt1": _GPT_BODY, "gpt2": _GPT_BODY, "bert": _BERT_BODY, "albert": _ALBERT_BODY,
              "electra": _BERT_BODY}
# Head weights sit outside the body prefix (cls., predictions., lm_head, ...).
HEAD_RULES = [
    ("lm_head", "lm_head"),                                            # GPT-1/2
    ("cls.predictions.transform.dense", "lm_head.transform"),         # BERT
    ("cls.predictions.transform.LayerNorm", "lm_head.norm"),
    ("cls.predictions.decoder", "lm_head.decoder"),
    ("cls.predictions", "lm_head.decoder"),                           # cls.predictions.bias, the decoder's bias
    ("cls.seq_relationship", "pair_head"),
    ("predictions.dense", "lm_head.transform"),                       # ALBERT
    ("predictions.LayerNorm", "lm_head.norm"),
    ("predictions.decoder", "lm_head.decoder"),
    ("predictions", "lm_head.decoder"),
    ("sop_classifier.classifier", "pair_head"),
    ("generator_predictions.dense", "lm_head.transform"),             # ELECTRA generator
    ("generator_predictions.LayerNorm", "lm_head.norm"),
    ("generator_lm_head", "lm_head.decoder"),
    ("discriminator_predictions.dense", "detector_head.0"),           # ELECTRA discriminator
    ("discriminator_predictions.dense_prediction", "detector_head.2"),
]
BODY_PREFIXES = ("bert.", "albert.", "electra.", "transformer.", "auto_model.")
# Buffers Hugging Face keeps in some checkpoints that carry no learned weights.
IGNORED = re.compile(r"(^|\.)(position_ids|token_type_ids|attn\.bias|attn\.masked_bias)$")


def _compile(rules):
    compiled = []
    for hf, ours, *kind in rules:
        pattern = re.escape(hf).replace(r"\{i\}", r"(?P<i>\d+)").replace(r"\{g\}", r"(?P<g>\d+)")
        compiled.append((re.compile(pattern + r"\.(?P<leaf>weight|bias)$"), ours, kind[0] if kind else None))
    return compiled


_BODY = {family: _compile(rules) for family, rules in BODY_RULES.items()}
_HEAD = _compile(HEAD_RULES)


def _first_layer_of_group(cfg: ModelConfig, group: int) -> int:
    """ALBERT: the first depth that uses layer group `group` (the same formula as `build_layers`)."""
    for i in range(cfg.num_layers):
        if i * cfg.num_groups // cfg.num_layers == group:
            return i
    raise ValueError(f"ALBERT layer group {group} does not exist with num_groups={cfg.num_groups}")


def _apply(match, ours, kind, tensor, cfg):
    """The lmteach (name, tensor) pairs for one matched Hugging Face weight."""
    fields = match.groupdict()
    layer = fields.get("i") or (str(_first_layer_of_group(cfg, int(fields["g"]))) if fields.get("g") else None)
    leaf = fields["leaf"]
    if kind == "qkv":
        if tensor.shape[-1] % 3:
            raise ValueError(f"c_attn has {tensor.shape[-1]} outputs, not a multiple of 3 (query, key, value)")
        parts = tensor.chunk(3, dim=-1)  # [in, 3H] -> three [in, H] (bias: [3H] -> three [H])
        return [(ours.format(i=layer, qkv=name) + "." + leaf, part.t() if leaf == "weight" else part)
                for name, part in zip(("query", "key", "value"), parts)]
    if kind == "conv1d" and leaf == "weight":
        tensor = tensor.t()
    return [(ours.format(i=layer, g=layer) + "." + leaf, tensor)]


def convert_state_dict(hf_state: dict, cfg: ModelConfig, body_prefix: str = "body.",
                       skip_heads: bool = False) -> tuple[dict, dict, list]:
    """Hugging Face weights -> lmteach names. Returns ({lmteach name: tensor}, {lmteach name: HF name},
    [HF names with no rule]).
    body_prefix is where the Transformer sits in the lmteach model ("" for a bare body, head="base").
    Names given by two HF weights (tied copies) must hold equal tensors."""
    converted, sources, unused = {}, {}, []
    prefixed = any(name.startswith(BODY_PREFIXES) for name in hf_state)
    for hf_name, tensor in hf_state.items():
        if IGNORED.search(hf_name):
            continue
        pairs = None
        for pattern, ours, kind in _HEAD:
            match = pattern.fullmatch(hf_name)
            if match:
                pairs = [] if skip_heads else _apply(match, ours, kind, tensor, cfg)
                break
        if pairs is None:
            inner = next((hf_name[len(p):] for p in BODY_PREFIXES if hf_name.startswith(p)), hf_name)
            for pattern, ours, kind in _BODY[cfg.family]:
                match = pattern.fullmatch(inner)
                if match:
                    pairs = [(body_prefix + name, t) for name, t in _apply(match, ours, kind, tensor, cfg)]
                    break
        if pairs is None:
            # Loading just the body: any head outside the body prefix (a classifier, say) is left behind.
            if not (skip_heads and prefixed and not hf_name.startswith(BODY_PREFIXES)):
                unused.append(hf_name)
            continue
        for name, value in pairs:
            if name in converted and not torch.equal(converted[name], value):
                raise ValueError(f"{sources[name]} and {hf_name} both give lmteach's {name} but differ")
            converted[name], sources[name] = value, hf_name
    return converted, sources, unused


def load_converted(model: nn.Module, converted: dict, sources: dict | None = None, unused=()) -> nn.Module:
    """Copy converted weights into `model`, strictly. Shared parameters (ALBERT's layers, a decoder tied to
    the embeddings) appear under several names; each is filled once, and copies given twice must agree."""
    parameters = dict(model.named_parameters(remove_duplicate=False))
    canonical, first_name = {}, {}
    for name, parameter in parameters.items():
        canonical[name] = first_name.setdefault(id(parameter), name)
    filled, unexpected = {}, list(unused)
    for name, tensor in converted.items():
        if name not in parameters:
            unexpected.append(f"{name} (no such parameter in this {type(model).__name__})")
            continue
        target = canonical[name]
        if target in filled and not torch.equal(filled[target], tensor):
            raise ValueError(f"{name} and {target} are one shared parameter in lmteach, but the checkpoint "
                             f"gives them different values (the config ties or shares them; the weights do not)")
        if tuple(tensor.shape) != tuple(parameters[target].shape):
            source = f" (from {sources[name]})" if sources and name in sources else ""
            raise ValueError(f"shape mismatch for {name}{source}: the checkpoint has {tuple(tensor.shape)}, "
                             f"the model built from the config has {tuple(parameters[target].shape)}; were these "
                             f"weights saved with another config?")
        filled[target] = tensor
    missing = sorted(set(first_name.values()) - set(filled))
    if missing or unexpected:
        raise ValueError("the weights do not fit the model:\n"
                         f"  missing (lmteach parameters with no weight): {missing}\n"
                         f"  unexpected (weights with no place in the model): {sorted(unexpected)}")
    with torch.no_grad():
        for name, tensor in filled.items():
            parameters[name].copy_(tensor)
    return model


# ---------------------------------------------------------------------------------------------------------------
# Choosing the head, building, loading
# ---------------------------------------------------------------------------------------------------------------

def _has(state: dict, *fragments) -> bool:
    return any(any(fragment in name for fragment in fragments) for name in state)


def _guess_head(state: dict) -> str:
    """The head of a checkpoint with no `architectures` entry, from its weight names."""
    if _has(state, "seq_relationship", "sop_classifier"):
        return "mlm_pair"
    if _has(state, "discriminator_predictions"):
        return "discriminator"
    if _has(state, "cls.predictions", "generator_lm_head") or any(n.startswith("predictions.") for n in state):
        return "masked_lm"
    if any(n.startswith(("lm_head.", "transformer.")) for n in state):
        return "causal_lm"  # a tied GPT head saves no lm_head weight, only the "transformer." prefix
    return "base"


def _config_for_head(cfg: ModelConfig, head: str, state: dict) -> ModelConfig:
    """The family config, adjusted to the layers this checkpoint's head really has."""
    if head == "mlm_pair":
        return cfg
    # BertModel/AlbertModel have a pooler unless built with add_pooling_layer=False; the weights tell.
    has_pooler = head == "base" and _has(state, "pooler.")
    return cfg.replace(pooler=has_pooler, pair_task=None)


def build_from_hf_state(hf_config, hf_state: dict, head: str | None = None, architecture: str | None = None):
    """Build the lmteach model for a Hugging Face config + state dict and load the weights (strict).
    head: an lmteach head ("base", "causal_lm", "masked_lm", "mlm_pair", "discriminator"); default from the
    architecture name, else guessed from the weight names. head="base" loads the body of any checkpoint."""
    cfg = config_from_hf(hf_config)
    chosen = head or HF_CLASSES.get(architecture) or _guess_head(hf_state)
    supported = ("base", "causal_lm", "masked_lm", "mlm_pair", "discriminator")
    if chosen not in supported:
        raise ValueError(f"head {chosen!r} cannot be loaded from Hugging Face weights; choose one of {supported}")
    cfg = _config_for_head(cfg, chosen, hf_state)
    # ElectraForMaskedLM's head uses erf GELU whatever the config says (ElectraGeneratorPredictions).
    options = {"head_activation": "gelu"} if cfg.family == "electra" and chosen == "masked_lm" else {}
    model = build(cfg, head=chosen, **options)
    converted, sources, unused = convert_state_dict(hf_state, cfg, body_prefix="" if chosen == "base" else "body.",
                                           skip_heads=chosen == "base" and head == "base")
    return load_converted(model, converted, sources, unused)


def from_hf(hf_model) -> nn.Module:
    """The lmteach model with the same layers and weights as a transformers model (see HF_CLASSES)."""
    name = type(hf_model).__name__
    if name not in HF_CLASSES:
        raise TypeError(f"{name} is not supported; from_hf converts {sorted(HF_CLASSES)}")
    model = build_from_hf_state(hf_model.config, hf_model.state_dict(), architecture=name)
    return model.train(hf_model.training)


def _read_weights(folder: Path) -> dict:
    """The state dict of a Hugging Face folder: safetensors (single or sharded) or a pytorch_model.bin."""
    single, index = folder / "model.safetensors", folder / "model.safetensors.index.json"
    if single.exists() or index.exists():
        from safetensors.torch import load_file
        if single.exists():
            return load_file(single)
        shards = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        return {k: v for shard in shards for k, v in load_file(folder / shard).items()}
    binary = folder / "pytorch_model.bin"
    if binary.exists():
        # weights_only: a .bin is a pickle, and unpickling anything else could run arbitrary code.
        return torch.load(binary, map_location="cpu", weights_only=True)
    raise FileNotFoundError(f"no weights in {folder}: expected model.safetensors, model.safetensors.index.json "
                            f"or pytorch_model.bin")


def _model_folder(path: Path) -> Path:
    """The folder holding config.json; for older sentence-transformers layouts, its Transformer module's."""
    if not path.is_dir():
        raise FileNotFoundError(f"{path} is not a directory; from_pretrained needs a local Hugging Face folder "
                                f"(config.json + model.safetensors), never a hub name")
    if (path / "config.json").exists():
        return path
    modules = path / "modules.json"
    if modules.exists():
        for module in json.loads(modules.read_text()):
            if module.get("type", "").endswith("Transformer") and (path / module["path"] / "config.json").exists():
                return path / module["path"]
    raise FileNotFoundError(f"{path} has no config.json")


def from_pretrained(path, head: str | None = None) -> nn.Module:
    """Load a local Hugging Face folder (config.json + model.safetensors or pytorch_model.bin) as an lmteach
    model, in eval mode. head overrides the checkpoint's own; head="base" loads only the transformer body."""
    folder = _model_folder(Path(path))
    config = json.loads((folder / "config.json").read_text())
    architecture = (config.get("architectures") or [None])[0]
    if head is None and architecture is not None and architecture not in HF_CLASSES \
            and config.get("model_type") in MODEL_TYPES:
        raise ValueError(f"architecture {architecture} is not supported; from_pretrained loads "
                         f"{sorted(HF_CLASSES)} (or pass head='base' to load just the body)")
    model = build_from_hf_state(config, _read_weights(folder), head=head, architecture=architecture)
    return model.eval()
