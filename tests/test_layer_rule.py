"""One rule for "which layer is this parameter" (`lmteach.models.params.depth_of`), and every per-layer view
agrees with it: gradient norms per layer (the trainer), layer-wise learning rates (GPT-1 fine-tuning), the
parameter breakdown, and how far fine-tuning moved each layer."""

import pytest
import torch

import lmteach as lt
from lmteach.training.finetune import relative_change_by_layer, weight_snapshot
from lmteach.models.params import depth_of, part_of
from lmteach.objectives import layerwise_lr_groups
from lmteach.training import layer_of

SMALL = dict(vocab_size=50, hidden_size=32, num_layers=3, num_heads=2, ffn_size=64, max_positions=16)
MODELS = [("gpt1", "pretraining", {}), ("gpt2", "pretraining", {}), ("bert", "pretraining", {}),
          ("albert", "pretraining", {"embedding_size": 16, "sharing": "none"}),
          ("albert", "classifier", {"embedding_size": 16, "sharing": "none"}),
          ("electra", "pretraining", {"embedding_size": 16}), ("gpt1", "gpt1_task", {})]


def test_the_rule():
    assert depth_of("body.layers.3.attention.query.weight") == 3
    assert depth_of("layers.0.ffn_norm.bias") == 0  # a bare body (head="base") has no "body." prefix
    for name in ("body.embeddings.token.weight", "body.embeddings.norm.weight", "embeddings.position.weight",
                 "body.embedding_projection.weight"):  # ALBERT §3.1: the E->H projection is part of the embedding
        assert depth_of(name) == "embeddings", name
    for name in ("lm_head.decoder.bias", "body.final_norm.weight", "body.pooler.weight", "classifier.weight",
                 "pair_head.bias", "discriminator.detector_head.0.weight"):
        assert depth_of(name) == "head", name


@pytest.mark.parametrize("family,head,overrides", MODELS, ids=[f"{f}-{h}" for f, h, _ in MODELS])
def test_every_per_layer_view_uses_the_same_rule(family, head, overrides):
    cfg = lt.configs.preset(family, "tiny", **{**SMALL, **overrides})
    model = lt.build(cfg, head=head)
    names = [name for name, _ in model.named_parameters()]
    # gradient norms per layer
    assert all(layer_of(name) == depth_of(name) for name in names)
    # layer-wise learning rates: a group per depth, named after it
    for group in layerwise_lr_groups(model, base_lr=1.0, decay=0.5):
        for name in group["param_names"]:
            depth = depth_of(name)
            assert group["name"].split(" (")[0] == (f"layers.{depth}" if isinstance(depth, int) else depth), name
    # parameter breakdown: embeddings are exactly the embedding depth (its LayerNorm counted with the norms)
    for name in names:
        assert (part_of(name) == "embeddings") == (depth_of(name) == "embeddings" and part_of(name) != "norms")
        if isinstance(depth_of(name), int):
            assert part_of(name) in ("attention", "feed_forward", "norms"), name
    # fine-tuning movement
    before = weight_snapshot(model)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(1.0)
    moved = relative_change_by_layer(before, model)
    assert set(moved) == {depth_of(name) for name in before}


def test_albert_projection_is_with_the_embeddings_everywhere():
    cfg = lt.configs.albert("tiny", **SMALL, embedding_size=16)
    model = lt.build(cfg, head="classifier")
    name = "body.embedding_projection.weight"
    assert layer_of(name) == "embeddings"
    assert lt.param_breakdown(cfg)["embeddings"] == sum(
        p.numel() for n, p in lt.build(cfg, head="base").named_parameters() if part_of(n) == "embeddings")
    groups = {g["name"]: g for g in layerwise_lr_groups(model, base_lr=1.0, decay=0.5)}
    assert name in groups["embeddings"]["param_names"]
    assert groups["embeddings"]["lr"] == min(g["lr"] for g in groups.values())
