"""Model configurations: one dataclass, and the presets of the five papers in one place.

Every paper's idea is one field of `ModelConfig`, so two presets can be diffed to see what changed:

    >>> import lmteach as lt
    >>> lt.configs.diff(lt.configs.gpt1(), lt.configs.gpt2("small"))

Every preset also has a classroom size, "tiny", that trains in minutes on a laptop CPU.
Any field can be overridden by keyword: `lt.configs.bert("tiny", num_layers=2)`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

FAMILIES = ("gpt1", "gpt2", "bert", "albert", "electra")
NORM_PLACEMENTS = ("post", "pre")
SHARING_MODES = ("none", "attention", "ffn", "all")
ACTIVATIONS = ("gelu", "gelu_tanh", "relu", "silu")


@dataclass
class ModelConfig:
    family: str
    vocab_size: int
    max_positions: int
    hidden_size: int
    num_layers: int
    num_heads: int
    ffn_size: int
    activation: str = "gelu"
    # BERT §3 "Input/Output Representations": learned segment A/B embeddings (0 = none, as in GPT).
    segment_vocab_size: int = 0
    # BERT puts a LayerNorm on the summed embeddings; GPT-1 and GPT-2 do not.
    embedding_norm: bool = False
    # ALBERT §3.1 factorized embedding: tokens live in E dims, projected to H (None = E is H, no projection).
    embedding_size: int | None = None
    # GPT-1/BERT use a causal or a bidirectional mask: GPT-1 §3.1 "masked self-attention" vs BERT §3.
    causal: bool = False
    # GPT-2 §2.3: "Layer normalization was moved to the input of each sub-block" ("pre"); others "post".
    norm_placement: str = "post"
    # GPT-2 §2.3: "an additional layer normalization was added after the final self-attention block".
    final_norm: bool = False
    # ALBERT §3.1 cross-layer parameter sharing: "none", "attention", "ffn" or "all".
    sharing: str = "none"
    # Hugging Face's num_hidden_groups: with sharing="all", layers are split into groups of shared weights.
    num_groups: int = 1
    # BERT's pooler (dense + tanh on [CLS]) feeds NSP/SOP and sentence classifiers.
    pooler: bool = False
    # Output decoder reuses the input embedding matrix (all five papers do).
    tie_embeddings: bool = True
    # GPT-2 §2.3: "scale the weights of residual layers at initialization by a factor of 1/sqrt(N)".
    scale_residual_init: bool = False
    # Sentence-pair head of the pretraining model: "nsp" (BERT), "sop" (ALBERT §3.1) or None.
    pair_task: str | None = None
    # ELECTRA §3.2 / Table 6: the generator's width, heads and FFN as a fraction of the discriminator's.
    generator_fraction: float | None = None
    dropout: float = 0.1
    attention_dropout: float = 0.1
    layer_norm_eps: float = 1e-12
    init_std: float = 0.02
    pad_token_id: int = 0
    num_labels: int = 2
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        self.validate()

    @property
    def head_size(self) -> int:
        return self.hidden_size // self.num_heads

    @property
    def token_embedding_size(self) -> int:
        """Width of the token embedding table: E for ALBERT/ELECTRA-small, else H."""
        return self.embedding_size or self.hidden_size

    def replace(self, **changes) -> "ModelConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "ModelConfig":
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise ValueError(f"unknown config fields {unknown}; known fields: {sorted(known)}")
        return cls(**values)

    def validate(self):
        def allowed(name, value, choices):
            if value not in choices:
                raise ValueError(f"{name}={value!r} is not allowed; choose one of {list(choices)}")

        allowed("family", self.family, FAMILIES)
        allowed("norm_placement", self.norm_placement, NORM_PLACEMENTS)
        allowed("sharing", self.sharing, SHARING_MODES)
        allowed("activation", self.activation, ACTIVATIONS)
        allowed("pair_task", self.pair_task, (None, "nsp", "sop"))
        for name in ("vocab_size", "max_positions", "hidden_size", "num_layers", "num_heads", "ffn_size"):
            if int(getattr(self, name)) < 1:
                raise ValueError(f"{name} must be a positive integer, got {getattr(self, name)}")
        if self.hidden_size % self.num_heads:
            raise ValueError(
                f"hidden_size {self.hidden_size} is not divisible by num_heads {self.num_heads}: "
                f"each head gets hidden_size / num_heads dimensions; try num_heads in "
                f"{[h for h in range(1, 33) if self.hidden_size % h == 0]}")
        if not 1 <= self.num_groups <= self.num_layers:
            raise ValueError(f"num_groups must be between 1 and num_layers ({self.num_layers}), got {self.num_groups}")
        if self.num_groups > 1 and self.sharing != "all":
            raise ValueError("num_groups > 1 only makes sense with sharing='all' (ALBERT layer groups)")
        if self.embedding_size is not None and self.embedding_size < 1:
            raise ValueError(f"embedding_size must be positive or None, got {self.embedding_size}")
        if self.generator_fraction is not None and not 0 < self.generator_fraction <= 1:
            raise ValueError(f"generator_fraction must be in (0, 1], got {self.generator_fraction}")
        if not 0 <= self.pad_token_id < self.vocab_size:
            raise ValueError(f"pad_token_id {self.pad_token_id} is outside the vocabulary [0, {self.vocab_size})")

    def generator_config(self) -> "ModelConfig":
        """ELECTRA's generator: a narrower masked LM; width, heads and FFN scaled by generator_fraction."""
        if self.family != "electra" or self.generator_fraction is None:
            raise ValueError("generator_config() needs an ELECTRA config with generator_fraction set")
        f = self.generator_fraction
        heads = max(1, round(self.num_heads * f))
        hidden = max(heads, round(self.hidden_size * f / heads) * heads)
        # The generator reads the discriminator's embeddings (§3.2), so it projects E to its own width.
        embedding = self.token_embedding_size
        return self.replace(hidden_size=hidden, num_heads=heads, ffn_size=max(1, round(self.ffn_size * f)),
                            embedding_size=None if embedding == hidden else embedding, generator_fraction=None)


def _make(family: str, switches: dict, dims: dict, overrides: dict) -> ModelConfig:
    """A preset: the family's switches, then the size's dimensions, then the user's overrides (which win)."""
    return ModelConfig(**{"family": family, **switches, **dims, **overrides})


def _pick(family: str, size: str, table: dict) -> dict:
    if size not in table:
        raise ValueError(f"unknown {family} size {size!r}; choose one of {list(table)}")
    return dict(table[size])


# The classroom size: 4 layers of width 128 train in minutes on a 2-core CPU.
_TINY = dict(hidden_size=128, num_layers=4, num_heads=4, ffn_size=512, max_positions=128, vocab_size=4096)


def gpt1(size: str = "base", **overrides) -> ModelConfig:
    """GPT-1 (Radford et al. 2018, §4.1): 12-layer decoder, 768 wide, 12 heads, 3072 FFN, 512 positions,
    40,478 BPE tokens, post-LN, GELU."""
    dims = _pick("gpt1", size, {
        "tiny": _TINY,
        "base": dict(hidden_size=768, num_layers=12, num_heads=12, ffn_size=3072, max_positions=512, vocab_size=40478),
    })
    # Hugging Face's OpenAI GPT calls its activation "gelu" but computes the tanh approximation.
    return _make("gpt1", dict(activation="gelu_tanh", causal=True, norm_placement="post", layer_norm_eps=1e-5),
                 dims, overrides)


def gpt2(size: str = "small", **overrides) -> ModelConfig:
    """GPT-2 (Radford et al. 2019, Table 2): 12/24/36/48 layers of width 768/1024/1280/1600,
    1024 positions, 50,257 byte-level BPE tokens, pre-LN with a final LayerNorm."""
    widths = {"small": (768, 12, 12), "medium": (1024, 24, 16), "large": (1280, 36, 20), "xl": (1600, 48, 25)}
    table = {"tiny": _TINY}
    for name, (width, layers, heads) in widths.items():
        table[name] = dict(hidden_size=width, num_layers=layers, num_heads=heads, ffn_size=4 * width,
                           max_positions=1024, vocab_size=50257)
    return _make("gpt2", dict(activation="gelu_tanh", causal=True, norm_placement="pre", final_norm=True,
                              scale_residual_init=True, layer_norm_eps=1e-5), _pick("gpt2", size, table), overrides)


def bert(size: str = "base", **overrides) -> ModelConfig:
    """BERT (Devlin et al. 2019, §3): base L=12 H=768 A=12, large L=24 H=1024 A=16; 30,522 WordPiece tokens,
    segment A/B embeddings, bidirectional, post-LN, pretraining with MLM + NSP."""
    dims = _pick("bert", size, {
        "tiny": _TINY,
        "base": dict(hidden_size=768, num_layers=12, num_heads=12, ffn_size=3072, max_positions=512, vocab_size=30522),
        "large": dict(hidden_size=1024, num_layers=24, num_heads=16, ffn_size=4096, max_positions=512,
                      vocab_size=30522),
    })
    return _make("bert", dict(segment_vocab_size=2, embedding_norm=True, pooler=True, pair_task="nsp"),
                 dims, overrides)


def albert(size: str = "base", embedding_size: int | None = None, sharing: str = "all", **overrides) -> ModelConfig:
    """ALBERT (Lan et al. 2020, Table 1): BERT's shape with a factorized embedding (E=128; 64 for tiny) and all
    parameters shared across layers; sentence-order prediction instead of NSP (§3.1)."""
    dims = _pick("albert", size, {
        "tiny": _TINY,
        "base": dict(hidden_size=768, num_layers=12, num_heads=12, ffn_size=3072),
        "large": dict(hidden_size=1024, num_layers=24, num_heads=16, ffn_size=4096),
        "xlarge": dict(hidden_size=2048, num_layers=24, num_heads=16, ffn_size=8192),
        "xxlarge": dict(hidden_size=4096, num_layers=12, num_heads=64, ffn_size=16384),
    })
    defaults = dict(max_positions=512, vocab_size=30000, embedding_size=64 if size == "tiny" else 128,
                    dropout=0.0, attention_dropout=0.0)  # ALBERT v2 trains without dropout
    if embedding_size is not None:
        overrides["embedding_size"] = embedding_size
    return _make("albert", dict(activation="gelu_tanh", segment_vocab_size=2, embedding_norm=True,
                                sharing=sharing, pooler=True, pair_task="sop", **defaults), dims, overrides)


def electra(size: str = "small", **overrides) -> ModelConfig:
    """ELECTRA (Clark et al. 2020, Table 6): the discriminator's shape; the generator is
    `generator_fraction` of it (1/4 for small and large, 1/3 for base) and shares its embeddings."""
    dims = _pick("electra", size, {
        "tiny": {**_TINY, "generator_fraction": 0.25},
        "small": dict(hidden_size=256, num_layers=12, num_heads=4, ffn_size=1024, embedding_size=128,
                      generator_fraction=0.25),
        "base": dict(hidden_size=768, num_layers=12, num_heads=12, ffn_size=3072, generator_fraction=1 / 3),
        "large": dict(hidden_size=1024, num_layers=24, num_heads=16, ffn_size=4096, generator_fraction=0.25),
    })
    defaults = dict(max_positions=512, vocab_size=30522)
    cfg = _make("electra", dict(segment_vocab_size=2, embedding_norm=True, **defaults), dims, overrides)
    # Like Hugging Face's ElectraModel, project the embeddings only when E != H (tiny: E = H = 128).
    return cfg.replace(embedding_size=None) if cfg.embedding_size == cfg.hidden_size else cfg


PRESETS = {"gpt1": gpt1, "gpt2": gpt2, "bert": bert, "albert": albert, "electra": electra}


def preset(family: str, size: str = "tiny", **overrides) -> ModelConfig:
    """Any family's preset by name, e.g. `preset("bert", "tiny", vocab_size=tok.vocab_size)`."""
    if family not in PRESETS:
        raise ValueError(f"unknown model family {family!r}; choose one of {list(PRESETS)}")
    return PRESETS[family](size, **overrides)


def diff(a: ModelConfig, b: ModelConfig) -> dict:
    """The fields where two configs differ: {field: (a's value, b's value)}."""
    return {f.name: (getattr(a, f.name), getattr(b, f.name)) for f in dataclasses.fields(ModelConfig)
            if getattr(a, f.name) != getattr(b, f.name)}
