"""Pretraining and fine-tuning objectives, as pure functions on token ids and tensors.

* :mod:`.masking` — BERT's masked LM (80/10/10, whole-word masking)
* :mod:`.pairs`   — BERT's next sentence prediction, ALBERT's sentence order prediction
* :mod:`.gpt1`    — GPT-1's task input transforms, auxiliary LM loss, layer-wise learning rates
* :mod:`.electra` — ELECTRA's replaced-token detection
"""

from .electra import DISCRIMINATOR_WEIGHT, ElectraStep, replaced_token_detection
from .gpt1 import (
    AUXILIARY_LM_WEIGHT,
    auxiliary_lm_weight,
    causal_lm_loss,
    classification_inputs,
    entailment_inputs,
    extract_positions,
    gpt1_loss_parts,
    gpt1_task_loss,
    layerwise_lr_groups,
    multiple_choice_inputs,
    similarity_inputs,
)
from .masking import IGNORE_INDEX, Fate, MaskedBatch, expected_counts, mask_tokens, number_to_select
from .pairs import (
    NSP_IS_NEXT,
    NSP_NOT_NEXT,
    SOP_IN_ORDER,
    SOP_SWAPPED,
    build_pair,
    collate_pairs,
    make_nsp_batch,
    make_nsp_example,
    make_sop_batch,
    make_sop_example,
    pack_segments,
    truncate_pair,
)

__all__ = [
    "AUXILIARY_LM_WEIGHT",
    "DISCRIMINATOR_WEIGHT",
    "IGNORE_INDEX",
    "NSP_IS_NEXT",
    "NSP_NOT_NEXT",
    "SOP_IN_ORDER",
    "SOP_SWAPPED",
    "ElectraStep",
    "Fate",
    "MaskedBatch",
    "auxiliary_lm_weight",
    "build_pair",
    "causal_lm_loss",
    "classification_inputs",
    "collate_pairs",
    "entailment_inputs",
    "expected_counts",
    "extract_positions",
    "gpt1_loss_parts",
    "gpt1_task_loss",
    "layerwise_lr_groups",
    "make_nsp_batch",
    "make_nsp_example",
    "make_sop_batch",
    "make_sop_example",
    "mask_tokens",
    "multiple_choice_inputs",
    "number_to_select",
    "pack_segments",
    "replaced_token_detection",
    "similarity_inputs",
    "truncate_pair",
]
