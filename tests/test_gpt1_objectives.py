"""Tests for GPT-1's input transforms, layer-wise learning rates and loss (lmteach.objectives.gpt1)."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lmteach.objectives import (
    AUXILIARY_LM_WEIGHT,
    classification_inputs,
    entailment_inputs,
    extract_positions,
    gpt1_loss_parts,
    gpt1_task_loss,
    layerwise_lr_groups,
    multiple_choice_inputs,
    similarity_inputs,
)

PAD, START, DELIM, EXTRACT = 0, 1, 2, 3
IDS = dict(start_id=START, extract_id=EXTRACT, pad_id=PAD)
PAIR_IDS = dict(start_id=START, delim_id=DELIM, extract_id=EXTRACT, pad_id=PAD)


def test_classification_exact():
    out = classification_inputs([[10, 11, 12], [20]], max_len=16, **IDS)
    assert out["input_ids"].tolist() == [[START, 10, 11, 12, EXTRACT], [START, 20, EXTRACT, PAD, PAD]]
    assert out["attention_mask"].tolist() == [[1, 1, 1, 1, 1], [1, 1, 1, 0, 0]]
    assert out["extract_positions"].tolist() == [4, 2]


def test_classification_truncates_from_the_left_and_keeps_extract():
    out = classification_inputs([list(range(10, 20))], max_len=5, **IDS)
    assert out["input_ids"].tolist() == [[START, 17, 18, 19, EXTRACT]]
    assert out["extract_positions"].tolist() == [4]


def test_entailment_exact():
    out = entailment_inputs([[10, 11, 12], [13]], [[20], [21, 22]], max_len=16, **PAIR_IDS)
    assert out["input_ids"].tolist() == [
        [START, 10, 11, 12, DELIM, 20, EXTRACT],
        [START, 13, DELIM, 21, 22, EXTRACT, PAD],
    ]
    assert out["extract_positions"].tolist() == [6, 5]


def test_entailment_truncates_the_long_part_from_the_left():
    out = entailment_inputs([list(range(10, 30))], [[40, 41]], max_len=8, **PAIR_IDS)
    assert out["input_ids"].tolist() == [[START, 27, 28, 29, DELIM, 40, 41, EXTRACT]]
    assert out["input_ids"].shape[-1] == 8


def test_similarity_both_orders():
    out = similarity_inputs([[10, 11]], [[20]], max_len=16, **PAIR_IDS)
    assert out["input_ids"].shape == (1, 2, 6)
    assert out["input_ids"].tolist() == [[[START, 10, 11, DELIM, 20, EXTRACT], [START, 20, DELIM, 10, 11, EXTRACT]]]
    assert out["extract_positions"].tolist() == [[5, 5]]


def test_multiple_choice_exact():
    contexts = [[10, 11, 12], [13]]
    choices = [[[20], [21, 22]], [[23], [24]]]
    out = multiple_choice_inputs(contexts, choices, max_len=16, **PAIR_IDS)
    assert out["input_ids"].tolist() == [
        [[START, 10, 11, 12, DELIM, 20, EXTRACT, PAD], [START, 10, 11, 12, DELIM, 21, 22, EXTRACT]],
        [[START, 13, DELIM, 23, EXTRACT, PAD, PAD, PAD], [START, 13, DELIM, 24, EXTRACT, PAD, PAD, PAD]],
    ]
    assert out["attention_mask"][0, 0].tolist() == [1, 1, 1, 1, 1, 1, 1, 0]
    assert out["extract_positions"].tolist() == [[6, 7], [4, 4]]


def test_multiple_choice_long_context_keeps_its_end():
    out = multiple_choice_inputs([list(range(10, 60))], [[[70, 71], [72]]], max_len=10, **PAIR_IDS)
    assert out["input_ids"].tolist() == [
        [[START, 55, 56, 57, 58, 59, DELIM, 70, 71, EXTRACT], [START, 54, 55, 56, 57, 58, 59, DELIM, 72, EXTRACT]]
    ]


def test_extract_positions_errors():
    with pytest.raises(ValueError, match="exactly one Extract"):
        extract_positions(torch.tensor([[START, 10, PAD]]), EXTRACT)
    with pytest.raises(ValueError, match="exactly one Extract"):
        extract_positions(torch.tensor([[START, EXTRACT, EXTRACT]]), EXTRACT)
    assert extract_positions(torch.tensor([[[START, 7, EXTRACT, PAD]]]), EXTRACT).tolist() == [[2]]


def test_transform_argument_errors():
    with pytest.raises(ValueError, match="already contains the Extract"):
        classification_inputs([[10, EXTRACT]], max_len=8, **IDS)
    with pytest.raises(ValueError, match="max_len must be >= 5"):
        entailment_inputs([[10]], [[11]], max_len=4, **PAIR_IDS)
    with pytest.raises(ValueError, match="same, non-zero number of choices"):
        multiple_choice_inputs([[10], [11]], [[[1]], [[1], [2]]], max_len=8, **PAIR_IDS)
    with pytest.raises(ValueError, match="premises"):
        entailment_inputs([[10]], [], max_len=8, **PAIR_IDS)


# --------------------------------------------------------------------------
# layer-wise learning rates
# --------------------------------------------------------------------------


class TinyLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.attention = nn.Linear(4, 4)
        self.norm = nn.LayerNorm(4)


class TinyBody(nn.Module):
    """Follows lmteach's naming contract: ``embeddings.``, ``layers.{i}.``, everything else is the head."""

    def __init__(self, num_layers: int, shared: bool = False):
        super().__init__()
        self.embeddings = nn.Module()
        self.embeddings.token = nn.Embedding(10, 4)
        self.embeddings.norm = nn.LayerNorm(4)
        if shared:  # ALBERT: one layer object used at every depth
            layer = TinyLayer()
            self.layers = nn.ModuleList([layer] * num_layers)
        else:
            self.layers = nn.ModuleList([TinyLayer() for _ in range(num_layers)])
        self.final_norm = nn.LayerNorm(4)


class TinyModel(nn.Module):
    def __init__(self, num_layers: int = 3, shared: bool = False):
        super().__init__()
        self.body = TinyBody(num_layers, shared)
        self.head = nn.Linear(4, 2)


def test_layerwise_lr_groups_values():
    model = TinyModel(num_layers=3)
    groups = layerwise_lr_groups(model, base_lr=1.0, decay=0.5, weight_decay=0.01)
    by_name = {g["name"]: g for g in groups}
    assert set(by_name) == {
        "head", "head (no decay)",
        "layers.2", "layers.2 (no decay)", "layers.1", "layers.1 (no decay)", "layers.0", "layers.0 (no decay)",
        "embeddings", "embeddings (no decay)",
    }
    assert by_name["head"]["lr"] == 1.0 and by_name["head"]["depth"] == 0
    assert by_name["layers.2"]["lr"] == 0.5
    assert by_name["layers.0"]["lr"] == 0.125 and by_name["layers.0"]["depth"] == 3
    assert by_name["embeddings"]["lr"] == 0.0625 and by_name["embeddings"]["depth"] == 4
    # Weight decay only on matrices.
    assert by_name["layers.1"]["param_names"] == ["body.layers.1.attention.weight"]
    assert set(by_name["layers.1 (no decay)"]["param_names"]) == {
        "body.layers.1.attention.bias", "body.layers.1.norm.weight", "body.layers.1.norm.bias",
    }
    assert by_name["layers.1"]["weight_decay"] == 0.01 and by_name["layers.1 (no decay)"]["weight_decay"] == 0.0
    assert by_name["embeddings"]["param_names"] == ["body.embeddings.token.weight"]
    assert set(by_name["head (no decay)"]["param_names"]) == {"body.final_norm.weight", "body.final_norm.bias", "head.bias"}
    # Every parameter exactly once, and torch accepts the groups.
    all_params = [p for g in groups for p in g["params"]]
    assert len(all_params) == len(list(model.parameters()))
    assert len({id(p) for p in all_params}) == len(all_params)
    torch.optim.AdamW(groups)


def test_layerwise_lr_groups_shared_layers_visited_once():
    model = TinyModel(num_layers=4, shared=True)
    groups = layerwise_lr_groups(model, base_lr=1e-3, decay=0.8, num_layers=4)
    all_params = [p for g in groups for p in g["params"]]
    assert len(all_params) == len({id(p) for p in all_params}) == len(list(model.parameters()))
    shared = [g for g in groups if g["name"].startswith("layers.")]
    assert {g["name"] for g in shared} == {"layers.0", "layers.0 (no decay)"}
    assert shared[0]["lr"] == pytest.approx(1e-3 * 0.8**4)


def test_layerwise_lr_groups_errors():
    with pytest.raises(ValueError, match="num_layers=2"):
        layerwise_lr_groups(TinyModel(num_layers=3), base_lr=1.0, num_layers=2)
    with pytest.raises(ValueError, match=r"decay must be in \(0, 1\]"):
        layerwise_lr_groups(TinyModel(), base_lr=1.0, decay=1.5)


# --------------------------------------------------------------------------
# fine-tuning loss
# --------------------------------------------------------------------------


def test_gpt1_task_loss_matches_hand_computation():
    g = torch.Generator().manual_seed(0)
    task_logits = torch.randn(2, 3, generator=g)
    labels = torch.tensor([2, 0])
    input_ids = torch.tensor([[START, 5, 6, EXTRACT], [START, 7, EXTRACT, PAD]])
    attention_mask = (input_ids != PAD).long()
    lm_logits = torch.randn(2, 4, 8, generator=g)

    task = F.cross_entropy(task_logits, labels)
    # Targets: the next token at every non-padding position; the last row has 2 targets.
    predictions = torch.stack([lm_logits[0, 0], lm_logits[0, 1], lm_logits[0, 2], lm_logits[1, 0], lm_logits[1, 1]])
    targets = torch.tensor([5, 6, EXTRACT, 7, EXTRACT])
    lm = F.cross_entropy(predictions, targets)

    parts = gpt1_loss_parts(task_logits, labels, lm_logits, input_ids, attention_mask)
    assert parts["task_loss"].item() == pytest.approx(task.item())
    assert parts["lm_loss"].item() == pytest.approx(lm.item())
    loss = gpt1_task_loss(task_logits, labels, lm_logits, input_ids, attention_mask)
    assert AUXILIARY_LM_WEIGHT == 0.5
    assert loss.item() == pytest.approx(task.item() + 0.5 * lm.item())
    assert gpt1_task_loss(task_logits, labels, lm_logits, input_ids, attention_mask, lm_weight=0.0).item() == pytest.approx(task.item())


def test_gpt1_task_loss_multiple_choice_shapes():
    g = torch.Generator().manual_seed(1)
    batch = multiple_choice_inputs([[10, 11], [12]], [[[20], [21]], [[22], [23, 24]]], max_len=16, **PAIR_IDS)
    lm_logits = torch.randn(*batch["input_ids"].shape, 30, generator=g, requires_grad=True)
    choice_scores = torch.randn(2, 2, generator=g)
    loss = gpt1_task_loss(choice_scores, torch.tensor([1, 0]), lm_logits, batch["input_ids"], batch["attention_mask"])
    loss.backward()
    assert torch.isfinite(loss)
    # The Extract token (last real one) and the padding after it have no real
    # next token to predict, so their LM logits get no gradient; earlier ones do.
    last_real = batch["attention_mask"].sum(-1) - 1
    for b in range(2):
        for c in range(2):
            grad_per_position = lm_logits.grad[b, c].abs().sum(-1)
            assert (grad_per_position[last_real[b, c]:] == 0).all()
            assert (grad_per_position[: last_real[b, c]] > 0).all()


@pytest.mark.parametrize("task,shape", [("classification", (3, 9)), ("similarity", (3, 2, 9)),
                                        ("multiple_choice", (3, 4, 9))])
def test_the_gpt1_model_uses_this_loss_with_this_lambda(task, shape, monkeypatch):
    """One implementation of L3 = L2 + λ·L1: Gpt1ForTask's loss is gpt1_loss_parts with λ = AUXILIARY_LM_WEIGHT."""
    import lmteach as lt
    from lmteach.objectives import gpt1 as gpt1_objective

    torch.manual_seed(0)
    cfg = lt.configs.gpt1("tiny", vocab_size=50, hidden_size=32, num_layers=1, num_heads=2, ffn_size=64)
    model = lt.build(cfg, head="gpt1_task", task=task).eval()
    ids = torch.randint(5, 50, shape)
    mask = torch.ones_like(ids)
    mask[..., -2:] = 0
    labels = torch.tensor([1, 0, 1])
    out = model(input_ids=ids, attention_mask=mask, labels=labels)
    parts = gpt1_loss_parts(out.logits, labels, out.prediction_logits, ids.view(-1, shape[-1]),
                            mask.view(-1, shape[-1]))
    assert out.loss.item() == pytest.approx(parts["loss"].item())
    assert out.loss.item() == pytest.approx(parts["task_loss"].item() + AUXILIARY_LM_WEIGHT * parts["lm_loss"].item())
    # λ comes from the objective's constant, and a caller can still choose another.
    monkeypatch.setattr(gpt1_objective, "AUXILIARY_LM_WEIGHT", 2.0)
    again = model(input_ids=ids, attention_mask=mask, labels=labels).loss
    assert again.item() == pytest.approx(parts["task_loss"].item() + 2.0 * parts["lm_loss"].item())
    alone = model(input_ids=ids, attention_mask=mask, labels=labels, lm_weight=0.0).loss
    assert alone.item() == pytest.approx(parts["task_loss"].item())
