"""The models: one shared transformer (transformer.py), weight interop with Hugging Face (interop.py) and
parameter accounting (params.py)."""
from .transformer import (CausalLM, Electra, Embeddings, Gpt1ForTask, MaskedLM, MaskedLMWithPairHead, ModelOutput,
                          ReplacedTokenDetector, SequenceClassifier, Transformer, build)
from .pretrained import load_minilm
