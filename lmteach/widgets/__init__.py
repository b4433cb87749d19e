"""Widgets for the lessons (ipywidgets 8; they draw offline). Each is a class with a `.widget` to display
and plain attributes for its controls, so a test can set a value and check what changed."""
from .attention_explorer import AttentionCompare, AttentionExplorer, ExtractAttention
from .dashboard import TrainingDashboard
from .electra_walkthrough import ElectraWalkthrough
from .embedding_calculator import EmbeddingCalculator
from .fill_blank import FillBlank
from .fill_mask import FillMask, fill_mask_html
from .finetune_lab import FinetuneLab
from .gpt1_inputs import Gpt1InputsExplorer
from .layernorm_lab import LayerNormLab
from .masking_explorer import MaskingExplorer
from .pair_builder import PairBuilder
from .previews import sample_html, sampling_preview
from .sharing_lab import SharingLab
from .tokenizers import BPEStepper, TokenizerComparison
