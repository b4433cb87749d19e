"""The shared transformer: parameter counts against Hugging Face and the ALBERT paper, the switches' effects,
and clear errors for bad input."""

import math

import pytest
import torch

import lmteach as lt
from lmteach.models.params import ALBERT_PAPER_PARAMS, albert_paper_count

C = lt.configs

# Hugging Face's base-model parameter counts (model.num_parameters() of GPT2Model, BertModel, ...).
HF_COUNTS = [
    (C.gpt1, (), 116_534_784),
    (C.gpt2, ("small",), 124_439_808),
    (C.gpt2, ("medium",), 354_823_168),
    (C.gpt2, ("large",), 774_030_080),
    (C.gpt2, ("xl",), 1_557_611_200),
    (C.bert, ("base",), 109_482_240),
    (C.bert, ("large",), 335_141_888),
    (C.albert, ("base",), 11_683_584),
    (C.albert, ("large",), 17_683_968),
    (C.albert, ("xlarge",), 58_724_864),
    (C.albert, ("xxlarge",), 222_595_584),
    (C.electra, ("small",), 13_483_008),
    (C.electra, ("base",), 108_891_648),
]


@pytest.mark.parametrize("preset,args,expected", HF_COUNTS,
                         ids=[f"{p.__name__}-{a[0] if a else 'base'}" for p, a, _ in HF_COUNTS])
def test_count_params_matches_hugging_face(preset, args, expected):
    assert lt.count_params(preset(*args), heads=False) == expected


def test_count_params_with_heads_matches_bert_for_pretraining():
    # BertForPreTraining: the tied decoder adds only its bias, the transform, and the NSP layer.
    assert lt.count_params(C.bert("base"), heads=True) == 110_106_428


@pytest.mark.parametrize("embedding_size,sharing", list(ALBERT_PAPER_PARAMS))
def test_albert_paper_tables_3_and_4(embedding_size, sharing):
    cfg = C.albert("base", embedding_size=embedding_size, sharing=sharing)
    millions = albert_paper_count(cfg) / 1e6
    assert abs(millions - ALBERT_PAPER_PARAMS[(embedding_size, sharing)]) < 1.0


def test_breakdown_shows_factorization_and_sharing():
    unfactored = lt.param_breakdown(C.albert("base", embedding_size=768, sharing="none"))
    factored = lt.param_breakdown(C.albert("base", embedding_size=128, sharing="none"))
    shared = lt.param_breakdown(C.albert("base", embedding_size=128, sharing="all"))
    # V*E + E*H instead of V*H: the embedding part shrinks ~6x, the rest is untouched.
    assert factored["embeddings"] * 5 < unfactored["embeddings"]
    assert factored["attention"] == unfactored["attention"]
    # All-shared: one layer's attention and FFN instead of twelve.
    assert shared["attention"] * 12 == factored["attention"]
    assert shared["feed_forward"] * 12 == factored["feed_forward"]


def tiny(family, **kw):
    return C.preset(family, "tiny", vocab_size=101, dropout=0.0, attention_dropout=0.0, **kw)


@pytest.mark.parametrize("family", ["gpt1", "gpt2", "bert", "albert", "electra"])
def test_fused_and_explicit_attention_agree(family):
    torch.manual_seed(0)
    model = lt.build(tiny(family), head="base").eval()
    ids = torch.randint(0, 101, (2, 20))
    mask = torch.ones_like(ids)
    mask[1, 15:] = 0
    fused = model(ids, attention_mask=mask).last_hidden_state
    explicit = model(ids, attention_mask=mask, output_attentions=True)
    assert torch.allclose(fused, explicit.last_hidden_state, atol=1e-5)
    weights = explicit.attentions[0]
    assert weights.shape == (2, 4, 20, 20)
    assert torch.allclose(weights.sum(-1), torch.ones(2, 4, 20), atol=1e-5)
    assert weights[1, :, :, 15:].abs().max() < 1e-6  # nobody attends to padding


@pytest.mark.parametrize("family,causal", [("gpt1", True), ("gpt2", True), ("bert", False), ("electra", False)])
def test_causal_switch_hides_the_future(family, causal):
    torch.manual_seed(0)
    model = lt.build(tiny(family), head="base").eval()
    ids = torch.randint(0, 101, (1, 12))
    changed = ids.clone()
    changed[0, 8] = (ids[0, 8] + 1) % 101
    before = model(ids).last_hidden_state[0, :8]
    after = model(changed).last_hidden_state[0, :8]
    # GPT: a later token cannot change earlier states. BERT: every state sees every token.
    assert torch.allclose(before, after, atol=1e-6) == causal
    attention = model(ids, output_attentions=True).attentions[0][0, 0]
    assert (attention.triu(1).abs().max() < 1e-7) == causal


def test_padding_does_not_change_real_positions():
    torch.manual_seed(0)
    model = lt.build(tiny("bert"), head="base").eval()
    ids = torch.randint(5, 101, (1, 10))
    padded = torch.cat([ids, torch.zeros(1, 6, dtype=torch.long)], 1)
    mask = torch.cat([torch.ones(1, 10), torch.zeros(1, 6)], 1).long()
    alone = model(ids).last_hidden_state
    with_padding = model(padded, attention_mask=mask).last_hidden_state[:, :10]
    assert torch.allclose(alone, with_padding, atol=1e-5)


def test_pre_ln_has_final_norm_and_hidden_states_layout():
    torch.manual_seed(0)
    model = lt.build(tiny("gpt2"), head="base").eval()
    out = model(torch.randint(0, 101, (2, 7)), output_hidden_states=True)
    assert len(out.hidden_states) == 5  # input of each of 4 blocks + final output
    last = out.hidden_states[-1]
    # GPT-2's final LayerNorm: the last state is normalised (mean 0, std 1 per token before the affine, which
    # starts as the identity).
    assert torch.allclose(last.mean(-1), torch.zeros(2, 7), atol=1e-5)
    assert torch.allclose(last, out.last_hidden_state)


def test_albert_sharing_reuses_modules_and_trains_once():
    model = lt.build(tiny("albert", sharing="all"))
    layers = model.body.layers
    assert all(layer is layers[0] for layer in layers)
    attention_only = lt.build(tiny("albert", sharing="attention")).body.layers
    assert attention_only[0].attention is attention_only[3].attention
    assert attention_only[0].feed_forward is not attention_only[3].feed_forward
    ffn_only = lt.build(tiny("albert", sharing="ffn")).body.layers
    assert ffn_only[0].feed_forward is ffn_only[2].feed_forward
    # Groups: 4 layers in 2 groups of shared weights, as Hugging Face's num_hidden_groups.
    grouped = lt.build(tiny("albert", sharing="all", num_groups=2)).body.layers
    assert grouped[0] is grouped[1] and grouped[2] is grouped[3] and grouped[0] is not grouped[2]


def test_initialisation_follows_the_papers():
    torch.manual_seed(0)
    cfg = C.gpt2("tiny", num_layers=8, hidden_size=256, ffn_size=1024)
    model = lt.build(cfg)
    query_std = model.body.layers[0].attention.query.weight.std().item()
    residual_std = model.body.layers[0].feed_forward.down.weight.std().item()
    assert query_std == pytest.approx(0.02, rel=0.05)
    assert residual_std == pytest.approx(0.02 / math.sqrt(2 * 8), rel=0.05)  # GPT-2 §2.3
    assert model.lm_head.weight is model.body.embeddings.token.weight  # tied
    bert = lt.build(C.bert("tiny"))
    assert bert.body.layers[0].feed_forward.down.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_electra_generator_shares_embeddings_and_is_smaller():
    model = lt.build(tiny("electra"))
    assert model.generator.body.embeddings is model.discriminator.body.embeddings
    assert model.generator.cfg.hidden_size == model.cfg.hidden_size // 4
    assert model.generator.lm_head.decoder.weight is model.discriminator.body.embeddings.token.weight


@pytest.mark.parametrize("task,shape,logits", [
    ("classification", (3, 9), (3, 2)),
    ("entailment", (3, 9), (3, 2)),
    ("similarity", (3, 2, 9), (3, 2)),
    ("multiple_choice", (3, 4, 9), (3, 4)),
])
def test_gpt1_task_heads_read_the_extract_position(task, shape, logits):
    torch.manual_seed(0)
    model = lt.build(tiny("gpt1"), head="gpt1_task", task=task).eval()
    ids = torch.randint(0, 101, shape)
    out = model(ids, labels=torch.zeros(3, dtype=torch.long))
    assert out.logits.shape == logits and torch.isfinite(out.loss)
    # Changing a token after the Extract position (padding) must not change the prediction.
    mask = torch.ones_like(ids)
    mask[..., -2:] = 0
    a = model(ids, attention_mask=mask).logits
    ids2 = ids.clone()
    ids2[..., -1] = (ids2[..., -1] + 1) % 101
    assert torch.allclose(a, model(ids2, attention_mask=mask).logits, atol=1e-6)


def test_losses_follow_hugging_face_semantics():
    torch.manual_seed(0)
    model = lt.build(tiny("gpt2")).eval()
    ids = torch.randint(0, 101, (2, 10))
    out = model(ids, labels=ids)
    manual = torch.nn.functional.cross_entropy(out.logits[:, :-1].reshape(-1, 101), ids[:, 1:].reshape(-1))
    assert torch.allclose(out.loss, manual)
    labels = ids.clone()
    labels[:, :5] = -100
    partial = model(ids, labels=labels).loss
    manual = torch.nn.functional.cross_entropy(out.logits[:, 4:-1].reshape(-1, 101), ids[:, 5:].reshape(-1))
    assert torch.allclose(partial, manual)


# ----- bad input gets a clear error ------------------------------------------------------------------------------

def test_token_id_out_of_range_names_id_and_vocab():
    model = lt.build(tiny("bert"))
    with pytest.raises(ValueError, match=r"token id 101 is out of range for vocab_size 101"):
        model(torch.tensor([[1, 2, 101]]))
    with pytest.raises(ValueError, match=r"token id -1"):
        model(torch.tensor([[1, -1]]))


def test_sequence_longer_than_positions():
    model = lt.build(tiny("gpt2", max_positions=16))
    with pytest.raises(ValueError, match=r"sequence length 17 is longer than the model's 16 positions"):
        model(torch.zeros(1, 17, dtype=torch.long))


def test_float_ids_and_wrong_rank():
    model = lt.build(tiny("gpt2"))
    with pytest.raises(TypeError, match="integer tensor"):
        model(torch.zeros(1, 4))
    with pytest.raises(ValueError, match=r"\[batch, seq\]"):
        model(torch.zeros(4, dtype=torch.long))


def test_config_errors_say_what_is_allowed():
    with pytest.raises(ValueError, match=r"hidden_size 100 is not divisible by num_heads 3"):
        C.bert("tiny", hidden_size=100, num_heads=3)
    with pytest.raises(ValueError, match=r"sharing='some'.*\['none', 'attention', 'ffn', 'all'\]"):
        C.albert("tiny", sharing="some")
    with pytest.raises(ValueError, match=r"unknown gpt2 size 'huge'.*small"):
        C.gpt2("huge")
    with pytest.raises(ValueError, match=r"unknown model family"):
        C.preset("t5")
    with pytest.raises(ValueError, match=r"norm_placement"):
        C.gpt2("tiny", norm_placement="middle")
    with pytest.raises(ValueError, match=r"unknown head"):
        lt.build(C.gpt2("tiny"), head="seq2seq")


def test_gpt_has_no_segment_embeddings():
    model = lt.build(tiny("gpt2"))
    with pytest.raises(ValueError, match="no segment"):
        model(torch.zeros(1, 4, dtype=torch.long), token_type_ids=torch.zeros(1, 4, dtype=torch.long))


def test_config_round_trip_and_diff():
    cfg = C.albert("tiny", vocab_size=500)
    assert lt.ModelConfig.from_dict(cfg.to_dict()) == cfg
    changes = C.diff(C.gpt1("tiny"), C.gpt2("tiny"))
    assert changes["norm_placement"] == ("post", "pre") and changes["final_norm"] == (False, True)
    with pytest.raises(ValueError, match="unknown config fields"):
        lt.ModelConfig.from_dict({**cfg.to_dict(), "depth": 3})


# ----- meta device and torch.compile (issue 12, defect 7) ---------------------------------------------------------

@pytest.mark.parametrize("family", ["gpt2", "bert", "electra"])
def test_a_model_on_the_meta_device_runs_a_forward(family):
    with torch.device("meta"):
        model = lt.build(tiny(family))
        ids = torch.randint(0, 101, (2, 12))
        out = model(input_ids=ids, attention_mask=torch.ones_like(ids))
    logits = out.logits if out.logits is not None else out.prediction_logits
    assert logits.is_meta and logits.shape[:2] == (2, 12)
    # The value checks still guard real tensors.
    with pytest.raises(ValueError, match=r"token id 101 is out of range for vocab_size 101"):
        lt.build(tiny(family))(torch.tensor([[1, 2, 101]]))


def test_compiling_the_model_needs_no_graph_break():
    torch.manual_seed(0)
    model = lt.build(tiny("bert", num_layers=1, hidden_size=32, num_heads=2, ffn_size=64)).eval()
    ids = torch.randint(0, 101, (2, 8))
    compiled = torch.compile(model, backend="eager", fullgraph=True)  # fullgraph: a graph break is an error
    assert torch.allclose(compiled(input_ids=ids).prediction_logits, model(input_ids=ids).prediction_logits)


# ----- ELECTRA's projection, one argument order, one initialisation (issue 12, defect 8) --------------------------

def test_no_projection_when_the_embedding_is_as_wide_as_the_body():
    cfg = C.electra("tiny")
    assert cfg.token_embedding_size == cfg.hidden_size
    model = lt.build(cfg)
    assert model.discriminator.body.embedding_projection is None
    assert model.generator.body.embedding_projection is not None  # E=128 still projects to the generator's 32
    assert C.electra("tiny", embedding_size=64).embedding_size == 64  # E < H keeps its projection
    assert lt.build(C.electra("tiny", embedding_size=64), head="base").embedding_projection is not None
    # ELECTRA-small (E=128 < H=256) is unchanged, as is ALBERT, whose E->H mapping Hugging Face always builds.
    assert lt.count_params(C.electra("small")) == 13_483_008
    assert lt.build(C.albert("tiny", embedding_size=128), head="base").embedding_projection is not None


FORWARD_ORDER = ["input_ids", "attention_mask", "token_type_ids", "labels"]


@pytest.mark.parametrize("head", ["causal_lm", "masked_lm", "mlm_pair", "discriminator", "classifier", "gpt1_task"])
def test_every_head_takes_its_arguments_in_one_order(head):
    import inspect

    cls = lt.models.transformer.HEADS[head]
    assert list(inspect.signature(cls.forward).parameters)[1:5] == FORWARD_ORDER
    # Positionally too: (ids, mask, segments, labels) means the same thing to every head.
    family = {"causal_lm": "gpt2", "gpt1_task": "gpt1"}.get(head, "bert")
    torch.manual_seed(0)
    model = lt.build(tiny(family, num_layers=1), head=head).eval()
    ids = torch.randint(5, 101, (2, 8))
    mask = torch.ones_like(ids)
    labels = {"classifier": torch.tensor([0, 1]), "gpt1_task": torch.tensor([0, 1]),
              "discriminator": torch.randint(0, 2, ids.shape)}.get(head, ids)
    segments = None if family.startswith("gpt") else torch.zeros_like(ids)
    assert torch.equal(model(ids, mask, segments, labels).loss,
                       model(input_ids=ids, attention_mask=mask, token_type_ids=segments, labels=labels).loss)


def init_counts(model) -> dict:
    """How often model.init_weights() draws or sets each parameter (by identity)."""
    counts = {}
    originals = {name: getattr(torch.nn.init, name) for name in ("normal_", "ones_", "zeros_")}

    def counting(original):
        def init(tensor, *args, **kwargs):
            counts[id(tensor)] = counts.get(id(tensor), 0) + 1
            return original(tensor, *args, **kwargs)
        return init

    try:
        for name, original in originals.items():
            setattr(torch.nn.init, name, counting(original))
        model.init_weights()
    finally:
        for name, original in originals.items():
            setattr(torch.nn.init, name, original)
    return {name: counts.get(id(p), 0) for name, p in model.named_parameters()}


@pytest.mark.parametrize("family,head", [("gpt2", "causal_lm"), ("gpt1", "gpt1_task"), ("bert", "mlm_pair"),
                                         ("albert", "mlm_pair"), ("electra", "electra"), ("bert", "masked_lm"),
                                         ("electra", "discriminator"), ("albert", "classifier")])
def test_initialisation_sets_every_parameter_exactly_once(family, head):
    model = lt.build(tiny(family, num_layers=2), head=head)
    counts = init_counts(model)
    assert set(counts.values()) == {1}, {name: n for name, n in counts.items() if n != 1}


def test_the_generator_does_not_redraw_the_embeddings_it_shares():
    cfg = tiny("electra", num_layers=2)
    torch.manual_seed(0)
    alone = lt.build(cfg, head="discriminator")
    torch.manual_seed(0)
    electra = lt.build(cfg)
    for (name, a), b in zip(alone.state_dict().items(), electra.discriminator.state_dict().values()):
        assert torch.equal(a, b), name
