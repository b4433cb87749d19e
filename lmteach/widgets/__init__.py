"""Widgets for the lessons (ipywidgets 8; they draw offline). Each is a class with a `.widget` to display
and plain attributes for its controls, so a test can set a value and check what changed."""
from .attention_explorer import AttentionExplorer
from .dashboard import TrainingDashboard
from .tokenizers import BPEStepper, TokenizerComparison
