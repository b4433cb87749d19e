"""GPT-1, GPT-2, BERT, ALBERT and ELECTRA in one file, read top to bottom.

All five are the same transformer block. What differs is a handful of switches in `ModelConfig`
(see `lmteach/configs.py`), each tagged here with the paper section it comes from:

    causal mask ............ GPT-1 §3.1, GPT-2            (BERT, ALBERT, ELECTRA: bidirectional)
    norm_placement="pre" ... GPT-2 §2.3                   (others: "post", as in the original Transformer)
    final_norm ............. GPT-2 §2.3
    segment embeddings ..... BERT §3 (A/B sentences)
    embedding_size (E) ..... ALBERT §3.1 factorized embedding, ELECTRA-small
    sharing ................ ALBERT §3.1 cross-layer parameter sharing
    pair_task nsp / sop .... BERT §3.1 Task #2 / ALBERT §3.1
    generator + detector ... ELECTRA §2

Shapes: b = batch, s = sequence, H = hidden size, E = embedding size, V = vocabulary, h = heads.
Outputs use Hugging Face's field names, so tools such as bertviz understand them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields

import torch
import torch.nn.functional as F
from torch import nn

from ..configs import ModelConfig
from ..objectives.gpt1 import gpt1_loss_parts


@dataclass
class ModelOutput:
    """What a forward pass returns; fields as in Hugging Face (unused ones stay None)."""
    loss: torch.Tensor | None = None
    logits: torch.Tensor | None = None                   # [b, s, V] LM / [b, s] detector / [b, labels] classifier
    prediction_logits: torch.Tensor | None = None        # [b, s, V] MLM of a pretraining model
    picked_logits: torch.Tensor | None = None            # [n, V] MLM at the n labelled positions (training)
    seq_relationship_logits: torch.Tensor | None = None  # [b, 2] NSP
    sop_logits: torch.Tensor | None = None               # [b, 2] SOP
    last_hidden_state: torch.Tensor | None = None        # [b, s, H]
    pooler_output: torch.Tensor | None = None            # [b, H]
    hidden_states: tuple | None = None                   # L+1 tensors [b, s, H]: block inputs, then final output
    attentions: tuple | None = None                      # L tensors [b, h, s(query), s(key)]

    def __getitem__(self, name: str):
        return getattr(self, name)

    def keys(self):
        return [f.name for f in fields(self) if getattr(self, f.name) is not None]


def make_activation(name: str) -> nn.Module:
    # "gelu_tanh" is the approximation GPT-1/GPT-2 used (Hugging Face calls it "gelu_new").
    return {"gelu": nn.GELU(), "gelu_tanh": nn.GELU(approximate="tanh"), "relu": nn.ReLU(), "silu": nn.SiLU()}[name]


# ---------------------------------------------------------------------------------------------------------------
# The pieces of the shared body
# ---------------------------------------------------------------------------------------------------------------

class Embeddings(nn.Module):
    """Token + learned position (+ segment) embeddings: ids [b, s] -> vectors [b, s, E]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        width = cfg.token_embedding_size
        self.token = nn.Embedding(cfg.vocab_size, width)
        self.position = nn.Embedding(cfg.max_positions, width)
        # BERT §3: a learned embedding says whether a token belongs to sentence A or B.
        self.segment = nn.Embedding(cfg.segment_vocab_size, width) if cfg.segment_vocab_size else None
        self.norm = nn.LayerNorm(width, eps=cfg.layer_norm_eps) if cfg.embedding_norm else None
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, input_ids, token_type_ids=None):
        x = self.token(input_ids)
        if self.segment is not None:
            x = x + self.segment(token_type_ids if token_type_ids is not None else torch.zeros_like(input_ids))
        elif token_type_ids is not None:
            raise ValueError("this model has no segment (token type) embeddings; GPT-style models mark "
                             "segments with special tokens instead. Pass token_type_ids=None.")
        x = x + self.position(torch.arange(input_ids.shape[1], device=input_ids.device))
        if self.norm is not None:
            x = self.norm(x)
        return self.dropout(x)


class SelfAttention(nn.Module):
    """Multi-head scaled dot-product self-attention (Vaswani et al. 2017, §3.2)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.num_heads = cfg.num_heads
        self.query = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.key = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.value = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.output = nn.Linear(cfg.hidden_size, cfg.hidden_size)
        self.attention_dropout = cfg.attention_dropout
        self.output_dropout = nn.Dropout(cfg.dropout)

    def forward(self, x, bias, is_causal, return_weights):
        """x [b, s, H]; bias [b or 1, 1, s, s] added to the scores (0 = may attend, very negative = may not)."""
        b, s, width = x.shape

        def split_heads(t):  # [b, s, H] -> [b, h, s, H/h]
            return t.view(b, s, self.num_heads, width // self.num_heads).transpose(1, 2)

        q, k, v = split_heads(self.query(x)), split_heads(self.key(x)), split_heads(self.value(x))
        dropout = self.attention_dropout if self.training else 0.0
        if return_weights:
            # The explicit computation, so the attention weights can be shown.
            scores = q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1])
            if bias is not None:
                scores = scores + bias
            weights = scores.softmax(dim=-1)
            context = F.dropout(weights, dropout, self.training) @ v
        else:
            # The same maths in PyTorch's fused kernel: faster, but it never materialises the weights.
            weights = None
            context = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, dropout_p=dropout,
                                                     is_causal=is_causal)
        context = context.transpose(1, 2).reshape(b, s, width)
        return self.output_dropout(self.output(context)), weights


class FeedForward(nn.Module):
    """Position-wise feed-forward network: H -> ffn_size -> H."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.up = nn.Linear(cfg.hidden_size, cfg.ffn_size)
        self.activation = make_activation(cfg.activation)
        self.down = nn.Linear(cfg.ffn_size, cfg.hidden_size)
        self.dropout = nn.Dropout(cfg.dropout)

    def forward(self, x):
        return self.dropout(self.down(self.activation(self.up(x))))


class Block(nn.Module):
    """One transformer layer, shared by all five families: attention, then feed-forward, each with a
    residual connection and a LayerNorm. Attention or FFN modules may be passed in to share them (ALBERT)."""

    def __init__(self, cfg: ModelConfig, attention: SelfAttention | None = None,
                 feed_forward: FeedForward | None = None):
        super().__init__()
        self.attention = attention or SelfAttention(cfg)
        self.attention_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.feed_forward = feed_forward or FeedForward(cfg)
        self.ffn_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps)
        self.pre_norm = cfg.norm_placement == "pre"

    def forward(self, x, bias=None, is_causal=False, return_weights=False):
        if self.pre_norm:
            # GPT-2 §2.3: normalise the input of each sub-block; the residual stream itself is never normalised,
            # so gradients reach early layers undamped (Xiong et al. 2020).
            attended, weights = self.attention(self.attention_norm(x), bias, is_causal, return_weights)
            x = x + attended
            x = x + self.feed_forward(self.ffn_norm(x))
        else:
            # GPT-1, BERT, ALBERT, ELECTRA: normalise after adding the residual ("post-LN").
            attended, weights = self.attention(x, bias, is_causal, return_weights)
            x = self.attention_norm(x + attended)
            x = self.ffn_norm(x + self.feed_forward(x))
        return x, weights


def build_layers(cfg: ModelConfig) -> nn.ModuleList:
    """The stack of `num_layers` blocks. ALBERT §3.1 shares parameters across layers: the same module object
    then appears at several depths (PyTorch counts and trains it once)."""
    n = cfg.num_layers
    if cfg.sharing == "all":
        # One block (or one per group, Hugging Face's num_hidden_groups) reused at every depth.
        groups = [Block(cfg) for _ in range(cfg.num_groups)]
        return nn.ModuleList(groups[i * cfg.num_groups // n] for i in range(n))
    shared_attention = SelfAttention(cfg) if cfg.sharing == "attention" else None
    shared_ffn = FeedForward(cfg) if cfg.sharing == "ffn" else None
    return nn.ModuleList(Block(cfg, shared_attention, shared_ffn) for _ in range(n))


def attention_bias(attention_mask, seq_len, causal, dtype, device):
    """Additive bias [b or 1, 1, s, s]: 0 where a query may attend to a key, the most negative float where not
    (not -inf, so a row with nothing to attend to gives uniform weights instead of NaN)."""
    allowed = torch.ones(1, 1, seq_len, seq_len, dtype=torch.bool, device=device)
    if attention_mask is not None:
        allowed = allowed & attention_mask[:, None, None, :].bool()      # padding keys are hidden
    if causal:
        allowed = allowed & allowed.new_ones(seq_len, seq_len).tril()    # GPT-1 §3.1: see only positions <= i
    return torch.zeros((), dtype=dtype, device=device).where(allowed, torch.finfo(dtype).min)


def check_input_ids(cfg: ModelConfig, input_ids, attention_mask=None):
    """Clear errors for the usual mistakes, before they become an index error deep inside PyTorch.
    The id range is checked only where the ids have values to read: not on the meta device (shapes only), and
    not while torch.compile traces the model (a branch on tensor values would break its graph)."""
    if not isinstance(input_ids, torch.Tensor) or input_ids.dtype not in (torch.int64, torch.int32, torch.int16,
                                                                          torch.uint8):
        raise TypeError(f"input_ids must be an integer tensor [batch, seq], got {type(input_ids).__name__}"
                        + (f" of dtype {input_ids.dtype}" if isinstance(input_ids, torch.Tensor) else ""))
    if input_ids.dim() != 2:
        raise ValueError(f"input_ids must have shape [batch, seq], got {tuple(input_ids.shape)}")
    if input_ids.shape[1] > cfg.max_positions:
        raise ValueError(f"sequence length {input_ids.shape[1]} is longer than the model's {cfg.max_positions} "
                         f"positions; truncate the input or use a config with max_positions >= "
                         f"{input_ids.shape[1]}")
    if input_ids.numel() and not (input_ids.is_meta or torch.compiler.is_compiling()):
        low, high = torch.aminmax(input_ids)
        if low < 0 or high >= cfg.vocab_size:
            bad = int(low) if low < 0 else int(high)
            raise ValueError(f"token id {bad} is out of range for vocab_size {cfg.vocab_size} (allowed ids are "
                             f"0..{cfg.vocab_size - 1}); was the text encoded with another tokenizer?")
    if attention_mask is not None and attention_mask.shape != input_ids.shape:
        raise ValueError(f"attention_mask has shape {tuple(attention_mask.shape)} but input_ids has "
                         f"{tuple(input_ids.shape)}; they must match (1 = real token, 0 = padding)")


class Transformer(nn.Module):
    """The body every family shares: embeddings, the block stack, and GPT-2's final norm or BERT's pooler.
    Hugging Face calls this `BertModel`, `GPT2Model`, `AlbertModel`, ..."""

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None):
        super().__init__()
        self.cfg = cfg
        self.embeddings = embeddings or Embeddings(cfg)
        self.borrowed_embeddings = embeddings is not None  # another network's, which initialises them
        # ALBERT §3.1: embeddings of size E << H are projected up, so V*E + E*H parameters replace V*H.
        # (E == H needs no projection; only ALBERT keeps one then, as Hugging Face's ALBERT always has it.)
        self.embedding_projection = (nn.Linear(cfg.embedding_size, cfg.hidden_size)
                                     if cfg.embedding_size is not None else None)
        self.layers = build_layers(cfg)
        self.final_norm = nn.LayerNorm(cfg.hidden_size, eps=cfg.layer_norm_eps) if cfg.final_norm else None
        self.pooler = nn.Linear(cfg.hidden_size, cfg.hidden_size) if cfg.pooler else None

    def forward(self, input_ids, attention_mask=None, token_type_ids=None,
                output_attentions=False, output_hidden_states=False) -> ModelOutput:
        check_input_ids(self.cfg, input_ids, attention_mask)
        x = self.embeddings(input_ids, token_type_ids)
        if self.embedding_projection is not None:
            x = self.embedding_projection(x)
        # With only the causal triangle to apply, the fused kernel builds it itself (is_causal).
        fused_causal = self.cfg.causal and attention_mask is None and not output_attentions
        bias = None if fused_causal or (attention_mask is None and not self.cfg.causal) else attention_bias(
            attention_mask, input_ids.shape[1], self.cfg.causal, x.dtype, x.device)
        states, attentions = [x], []
        for layer in self.layers:
            x, weights = layer(x, bias, fused_causal, output_attentions)
            states.append(x)
            attentions.append(weights)
        if self.final_norm is not None:
            x = states[-1] = self.final_norm(x)  # GPT-2 §2.3: one more LayerNorm after the last block
        pooled = torch.tanh(self.pooler(x[:, 0])) if self.pooler is not None else None  # BERT: the [CLS] vector
        return ModelOutput(last_hidden_state=x, pooler_output=pooled,
                           hidden_states=tuple(states) if output_hidden_states else None,
                           attentions=tuple(attentions) if output_attentions else None)


# ---------------------------------------------------------------------------------------------------------------
# Heads and the models of each family
# ---------------------------------------------------------------------------------------------------------------

class MaskedLMHead(nn.Module):
    """BERT's MLM head: dense + activation + LayerNorm, then a decoder tied to the token embeddings (+ bias).
    ALBERT and ELECTRA's generator transform down to E, the width of their embedding table."""

    def __init__(self, cfg: ModelConfig, activation: str | None = None):
        super().__init__()
        width = cfg.token_embedding_size
        self.transform = nn.Linear(cfg.hidden_size, width)
        self.activation = make_activation(activation or cfg.activation)
        self.norm = nn.LayerNorm(width, eps=cfg.layer_norm_eps)
        self.decoder = nn.Linear(width, cfg.vocab_size)

    def forward(self, x):
        return self.decoder(self.norm(self.activation(self.transform(x))))


def lm_loss(logits, labels, shift=False):
    """Cross-entropy over tokens, ignoring -100. shift=True predicts token t+1 from position t (causal LM)."""
    if shift:
        logits, labels = logits[:, :-1], labels[:, 1:]
    return F.cross_entropy(logits.reshape(-1, logits.shape[-1]).float(), labels.reshape(-1), ignore_index=-100)


def masked_lm_outputs(head, hidden, labels, training) -> tuple:
    """(full logits [b, s, V] or None, picked logits [n, V] or None, loss or None) of an MLM head.

    BERT §3.1 predicts only the ~15% picked tokens, so in training only those rows go through the head: the
    same loss, and the V-wide decoder costs 15% of what it would on every position (about half the step
    time of a tiny BERT). In evaluation every position gets logits, for fill-mask and the lessons' probes."""
    if labels is None or not training:
        logits = head(hidden)
        return logits, None, (lm_loss(logits, labels) if labels is not None else None)
    picked = labels != -100
    picked_logits = head(hidden[picked])
    return None, picked_logits, F.cross_entropy(picked_logits.float(), labels[picked])


def init_parameters(model: nn.Module, cfg: ModelConfig, skip=()):
    """The papers' initialisation, setting each parameter once (a tied or shared one too): weight matrices and
    embedding tables N(0, 0.02) (GPT-1 §4.1, BERT's initializer_range: cfg.init_std), biases 0, LayerNorms the
    identity. GPT-2 §2.3 starts the residual projections at init_std / sqrt(2 * layers): two residual adds per
    layer. skip: parameters another network owns and initialises."""
    residual = set()
    if cfg.scale_residual_init:
        residual = {id(projection) for block in model.modules() if isinstance(block, Block)
                    for projection in (block.attention.output, block.feed_forward.down)}
    done = {id(p) for p in skip}
    for module in model.modules():  # a module shared across layers (ALBERT) is listed once
        if not isinstance(module, (nn.Linear, nn.Embedding, nn.LayerNorm)):
            continue
        if id(module.weight) not in done:
            done.add(id(module.weight))
            if isinstance(module, nn.LayerNorm):
                nn.init.ones_(module.weight)
            else:
                std = cfg.init_std / math.sqrt(2 * cfg.num_layers) if id(module) in residual else cfg.init_std
                nn.init.normal_(module.weight, 0.0, std)
        bias = getattr(module, "bias", None)
        if bias is not None and id(bias) not in done:
            done.add(id(bias))
            nn.init.zeros_(bias)


class PretrainedModel(nn.Module):
    """Common plumbing: the config, weight init, tying the output decoder to the input embeddings."""

    def init_weights(self):
        """Initialise every parameter (see `init_parameters`), then tie the decoder to the embeddings. Embeddings
        borrowed from another network (ELECTRA's generator reads its discriminator's, §3.2) are left to it."""
        borrowed = self.body.embeddings.parameters() if self.body.borrowed_embeddings else ()
        init_parameters(self, self.cfg, skip=borrowed)
        self.tie_weights()

    def tie_weights(self):
        decoder = getattr(self, "lm_head", None)
        decoder = getattr(decoder, "decoder", decoder)
        if decoder is not None and self.cfg.tie_embeddings:
            decoder.weight = self.body.embeddings.token.weight


class CausalLM(PretrainedModel):
    """GPT-1 §3.1 and GPT-2: predict every next token; the output layer is the embedding matrix transposed."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.body = Transformer(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                output_attentions=False, output_hidden_states=False) -> ModelOutput:
        out = self.body(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        out.logits = self.lm_head(out.last_hidden_state)
        if labels is not None:  # Hugging Face semantics: labels = input_ids; the shift happens here
            out.loss = lm_loss(out.logits, labels, shift=True)
        return out


class MaskedLM(PretrainedModel):
    """BERT's masked LM alone (and ELECTRA's generator, which shares the discriminator's embeddings)."""

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None, head_activation: str | None = None):
        super().__init__()
        self.cfg = cfg
        self.body = Transformer(cfg, embeddings)
        self.lm_head = MaskedLMHead(cfg, head_activation)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                output_attentions=False, output_hidden_states=False) -> ModelOutput:
        out = self.body(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        out.logits, out.picked_logits, out.loss = masked_lm_outputs(self.lm_head, out.last_hidden_state, labels,
                                                                    self.training)
        return out


class MaskedLMWithPairHead(PretrainedModel):
    """BERT pretraining (MLM + next-sentence prediction, §3.1) and ALBERT's (MLM + sentence-order
    prediction, §3.1): the pair head reads the pooled [CLS] vector."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.pair_task is None or not cfg.pooler:
            raise ValueError("MaskedLMWithPairHead needs a config with pair_task ('nsp' or 'sop') and a pooler")
        self.cfg = cfg
        self.body = Transformer(cfg)
        self.lm_head = MaskedLMHead(cfg)
        self.pair_head = nn.Linear(cfg.hidden_size, 2)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, pair_labels=None,
                next_sentence_label=None, sentence_order_label=None,
                output_attentions=False, output_hidden_states=False) -> ModelOutput:
        out = self.body(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        out.prediction_logits, out.picked_logits, mlm_loss = masked_lm_outputs(
            self.lm_head, out.last_hidden_state, labels, self.training)
        pair_logits = self.pair_head(out.pooler_output)
        if self.cfg.pair_task == "nsp":
            out.seq_relationship_logits = pair_logits
        else:
            out.sop_logits = pair_logits
        # Hugging Face's names for the pair labels are accepted too: 0 = IsNext / in order.
        pair_labels = next(
            (t for t in (pair_labels, next_sentence_label, sentence_order_label) if t is not None), None)
        losses = [mlm_loss] if mlm_loss is not None else []
        if pair_labels is not None:
            losses.append(F.cross_entropy(pair_logits.float(), pair_labels.view(-1)))
        if losses:
            out.loss = sum(losses)
        return out


class ReplacedTokenDetector(PretrainedModel):
    """ELECTRA §2: the discriminator; for every token, a logit that it was replaced by the generator."""

    def __init__(self, cfg: ModelConfig, embeddings: Embeddings | None = None):
        super().__init__()
        self.cfg = cfg
        self.body = Transformer(cfg, embeddings)
        self.detector_head = nn.Sequential(nn.Linear(cfg.hidden_size, cfg.hidden_size),
                                           make_activation(cfg.activation), nn.Linear(cfg.hidden_size, 1))
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                output_attentions=False, output_hidden_states=False) -> ModelOutput:
        out = self.body(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        out.logits = self.detector_head(out.last_hidden_state).squeeze(-1)
        if labels is not None:  # labels: 1 = replaced, 0 = original; padding is not scored
            keep = attention_mask.bool() if attention_mask is not None else torch.ones_like(labels, dtype=torch.bool)
            out.loss = F.binary_cross_entropy_with_logits(out.logits[keep].float(), labels[keep].float())
        return out


class Electra(nn.Module):
    """ELECTRA §2-3: a small masked-LM generator and a discriminator that share their embeddings (§3.2).
    Train both with `lmteach.objectives.replaced_token_detection(model.generator, model.discriminator, ...)`."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.discriminator = ReplacedTokenDetector(cfg)
        # Hugging Face's ElectraGeneratorPredictions uses erf GELU whatever the config says.
        self.generator = MaskedLM(cfg.generator_config(), embeddings=self.discriminator.body.embeddings,
                                  head_activation="gelu")

    def init_weights(self):
        self.discriminator.init_weights()
        self.generator.init_weights()  # its own weights; the shared embeddings are the discriminator's

    def forward(self, *args, **kwargs) -> ModelOutput:
        return self.discriminator(*args, **kwargs)


class SequenceClassifier(PretrainedModel):
    """BERT §4.1: fine-tune the whole model with one linear layer on the [CLS] vector (pooled, if there is a
    pooler). Works for BERT, ALBERT and ELECTRA bodies."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.cfg = cfg
        self.body = Transformer(cfg)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.hidden_size, cfg.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None,
                output_attentions=False, output_hidden_states=False) -> ModelOutput:
        out = self.body(input_ids, attention_mask, token_type_ids, output_attentions, output_hidden_states)
        cls = out.pooler_output if out.pooler_output is not None else out.last_hidden_state[:, 0]
        out.logits = self.classifier(self.dropout(cls))
        if labels is not None:
            out.loss = F.cross_entropy(out.logits.float(), labels.view(-1))
        return out


GPT1_TASKS = ("classification", "entailment", "similarity", "multiple_choice")


class Gpt1ForTask(PretrainedModel):
    """GPT-1 §3.2-3.3 fine-tuning. Every task becomes token sequences `Start ... (Delim ...) Extract`; a linear
    layer reads the last block's state at the Extract token; the LM head stays on as an auxiliary loss.
      classification / entailment: input_ids [b, s]         -> logits [b, num_labels]
      similarity:                  input_ids [b, 2, s]      (both orderings) states added -> [b, num_labels]
      multiple_choice:             input_ids [b, choices, s] one score per choice -> [b, choices]"""

    def __init__(self, cfg: ModelConfig, task: str = "classification"):
        super().__init__()
        if task not in GPT1_TASKS:
            raise ValueError(f"unknown GPT-1 task kind {task!r}; choose one of {list(GPT1_TASKS)}")
        self.cfg, self.task = cfg, task
        self.body = Transformer(cfg)
        self.lm_head = nn.Linear(cfg.hidden_size, cfg.vocab_size, bias=False)
        self.dropout = nn.Dropout(cfg.dropout)
        self.classifier = nn.Linear(cfg.hidden_size, 1 if task == "multiple_choice" else cfg.num_labels)
        self.init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, labels=None, extract_positions=None,
                lm_weight=None, output_attentions=False, output_hidden_states=False) -> ModelOutput:
        """lm_weight: λ of the auxiliary LM loss, by default lmteach.objectives.gpt1.AUXILIARY_LM_WEIGHT (0.5).
        token_type_ids must stay None: GPT-1 marks its segments with the Delim token instead."""
        batch, seq = input_ids.shape[0], input_ids.shape[-1]
        flat_ids = input_ids.reshape(-1, seq)
        flat_mask = attention_mask.reshape(-1, seq) if attention_mask is not None else None
        flat_types = token_type_ids.reshape(-1, seq) if token_type_ids is not None else None
        out = self.body(flat_ids, flat_mask, flat_types, output_attentions, output_hidden_states)
        if extract_positions is None:  # the transforms put Extract last: the last real (non-padding) token
            extract_positions = (flat_mask.sum(-1) - 1 if flat_mask is not None
                                 else torch.full((flat_ids.shape[0],), seq - 1, device=flat_ids.device))
        rows = torch.arange(flat_ids.shape[0], device=flat_ids.device)
        extract = self.dropout(out.last_hidden_state[rows, extract_positions.reshape(-1)])  # [b*n, H]
        if self.task == "similarity":  # §3.3: no natural order, so both orderings' states are added
            out.logits = self.classifier(extract.view(batch, -1, extract.shape[-1]).sum(1))
        elif self.task == "multiple_choice":  # §3.3: one score per answer, softmax across answers
            out.logits = self.classifier(extract).view(batch, -1)
        else:
            out.logits = self.classifier(extract)
        out.prediction_logits = self.lm_head(out.last_hidden_state)  # [b*n, s, V]
        if labels is not None:  # §3.2: L3 = L2 + λ·L1, the LM objective kept as an auxiliary loss
            out.loss = gpt1_loss_parts(out.logits, labels, out.prediction_logits, flat_ids, flat_mask,
                                       lm_weight)["loss"]
        return out


HEADS = {
    "base": Transformer,
    "causal_lm": CausalLM,
    "masked_lm": MaskedLM,
    "mlm_pair": MaskedLMWithPairHead,
    "electra": Electra,
    "discriminator": ReplacedTokenDetector,
    "classifier": SequenceClassifier,
    "gpt1_task": Gpt1ForTask,
}
PRETRAINING_HEAD = {"gpt1": "causal_lm", "gpt2": "causal_lm", "bert": "mlm_pair", "albert": "mlm_pair",
                    "electra": "electra"}


def build(cfg: ModelConfig, head: str = "pretraining", **options) -> nn.Module:
    """The model for a config. head="pretraining" gives each family's pretraining model (GPT: causal LM;
    BERT: MLM+NSP; ALBERT: MLM+SOP; ELECTRA: generator + discriminator). Other heads: see HEADS."""
    if head == "pretraining":
        head = PRETRAINING_HEAD[cfg.family]
    if head not in HEADS:
        raise ValueError(f"unknown head {head!r}; choose 'pretraining' or one of {list(HEADS)}")
    model = HEADS[head](cfg, **options)
    if head == "base":  # a bare body still gets the papers' initialisation
        init_parameters(model, cfg)
    return model
