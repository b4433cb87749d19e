"""The one FLOP counter (`lmteach.analysis.compute`) against an independent reference: PyTorch's own
`FlopCounterMode`, run over the forward and backward pass of a real training step of every family and head."""

import pytest
import torch
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

import lmteach as lt
from lmteach.analysis import compute
from lmteach.objectives import replaced_token_detection

VOCAB, BATCH, SEQ = 97, 4, 20
SMALL = dict(vocab_size=VOCAB, hidden_size=32, num_layers=2, num_heads=2, ffn_size=64, max_positions=32,
             dropout=0.0, attention_dropout=0.0)


def counted_by_pytorch(step) -> int:
    """FLOPs PyTorch counts for step() (which returns a loss) and the backward pass of that loss.

    Attention runs on PyTorch's math kernel here: FlopCounterMode counts its matrix products (as it does the
    fused GPU kernels'), but not those of the fused CPU kernel, which it would report as 0 FLOPs."""
    counter = FlopCounterMode(display=False)
    with counter, sdpa_kernel(SDPBackend.MATH):
        step().backward()
    return counter.get_total_flops()


def picked_labels(ids, per_row):
    """MLM labels with exactly `per_row` scored positions in each row (the rest -100)."""
    labels = torch.full_like(ids, -100)
    for row in range(ids.shape[0]):
        where = torch.randperm(ids.shape[1], generator=torch.Generator().manual_seed(row))[:per_row]
        labels[row, where] = ids[row, where]
    return labels


CASES = [  # family, head, config overrides
    ("gpt1", "causal_lm", {}),
    ("gpt2", "causal_lm", {}),
    ("bert", "mlm_pair", {}),                          # MLM + NSP
    ("albert", "mlm_pair", {"embedding_size": 16}),    # MLM + SOP, factorized embedding, all layers shared
    ("bert", "masked_lm", {}),
    ("electra", "masked_lm", {"embedding_size": 16, "generator_fraction": None}),  # ELECTRA's MLM competitor
    ("electra", "electra", {"embedding_size": 16}),    # generator + discriminator, E < H
    ("electra", "electra", {}),                        # E == H: no projection in the discriminator
    ("electra", "discriminator", {"embedding_size": 16}),
    ("bert", "classifier", {"num_labels": 3}),
    ("albert", "classifier", {"embedding_size": 16}),
    ("gpt1", "gpt1_task", {}),
]


@pytest.mark.parametrize("family,head,overrides", CASES,
                         ids=[f"{f}-{h}-{'E' if 'embedding_size' in o else 'H'}" for f, h, o in CASES])
def test_training_flops_match_pytorchs_flop_counter(family, head, overrides):
    torch.manual_seed(0)
    cfg = lt.configs.preset(family, "tiny", **{**SMALL, **overrides})
    model = lt.build(cfg, head=head).train()
    ids = torch.randint(5, VOCAB, (BATCH, SEQ))
    fraction = compute.MLM_FRACTION
    if head == "causal_lm":
        step = lambda: model(input_ids=ids, labels=ids).loss  # noqa: E731
    elif head in ("masked_lm", "mlm_pair"):
        per_row = 3
        fraction = per_row / SEQ
        labels = picked_labels(ids, per_row)
        extra = {"token_type_ids": torch.zeros_like(ids), "pair_labels": torch.zeros(BATCH, dtype=torch.long)} \
            if head == "mlm_pair" else {}
        step = lambda: model(input_ids=ids, labels=labels, **extra).loss  # noqa: E731
    elif head == "electra":
        out = {}

        def step():
            out["step"] = replaced_token_detection(model.generator, model.discriminator, ids, mask_id=4,
                                                   vocab_size=VOCAB, special_ids=[0, 1, 2, 3, 4],
                                                   rng=torch.Generator().manual_seed(0))
            return out["step"].loss
    elif head == "discriminator":
        step = lambda: model(input_ids=ids, labels=torch.randint(0, 2, ids.shape)).loss  # noqa: E731
    else:  # classifier, gpt1_task
        step = lambda: model(input_ids=ids, labels=torch.randint(0, 2, (BATCH,))).loss  # noqa: E731

    measured = counted_by_pytorch(step)
    if head == "electra":
        fraction = out["step"].masked_positions.float().mean().item()
    counted = compute.training_flops(cfg, 1, BATCH, SEQ, head, mlm_fraction=fraction)
    assert counted == pytest.approx(measured, rel=0.03)


def test_pretraining_is_the_default_head_and_steps_scale_linearly():
    cfg = lt.configs.bert("tiny", **SMALL)
    one = compute.training_flops(cfg, 1, BATCH, SEQ)
    assert one == compute.training_flops(cfg, 1, BATCH, SEQ, "mlm_pair")
    assert compute.training_flops(cfg, 10, BATCH, SEQ) == pytest.approx(10 * one)
    # Scoring every position costs more than scoring BERT's 15%.
    assert compute.training_flops(cfg, 1, BATCH, SEQ, mlm_fraction=1.0) > one
    assert compute.steps_for_budget(cfg, 10.5 * one, BATCH, SEQ) == 10
    with pytest.raises(ValueError, match="head"):
        compute.training_flops(cfg, 1, BATCH, SEQ, "seq2seq")


def test_electra_counts_both_networks():
    cfg = lt.configs.electra("tiny", **SMALL, embedding_size=16)
    parts = compute.flops_by_network(cfg, BATCH, SEQ)
    assert set(parts) == {"generator", "discriminator"}
    assert compute.training_flops(cfg, 3, BATCH, SEQ) == pytest.approx(3 * sum(parts.values()))
    bigger = cfg.replace(generator_fraction=1.0)
    assert compute.training_flops(bigger, 1, BATCH, SEQ) > compute.training_flops(cfg, 1, BATCH, SEQ)
    # The discriminator alone is what the "discriminator" head costs; ELECTRA's MLM competitor (the same body with
    # a masked-LM head) costs less per step than the pair, since it has no generator to run.
    assert parts["discriminator"] == compute.training_flops(cfg, 1, BATCH, SEQ, "discriminator")
    competitor = cfg.replace(generator_fraction=None)
    assert compute.training_flops(competitor, 1, BATCH, SEQ, "masked_lm") < sum(parts.values())


def test_there_is_one_flop_counter():
    """No module but analysis/compute.py counts FLOPs itself (recipes and lessons call it)."""
    import ast
    from pathlib import Path

    package = Path(lt.__file__).parent
    counters = {}
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.FunctionDef) and "flops" in node.name.lower():
                counters.setdefault(node.name, []).append(path.relative_to(package).as_posix())
    # recipes.training_flops_of is the counter summed over a recipe's two phases (tests/test_recipes.py checks it)
    assert counters == {"flops_by_network": ["analysis/compute.py"], "training_flops": ["analysis/compute.py"],
                        "training_flops_of": ["recipes.py"]}
