"""lmteach: build, train, poke and compare small GPT-1, BERT, GPT-2, ALBERT and ELECTRA models.

    import lmteach as lt
    cfg = lt.configs.gpt2("tiny", vocab_size=4096)
    model = lt.build(cfg)
"""
from . import configs
from .configs import ModelConfig
from .models import build

__version__ = "0.1.0"


def __getattr__(name):
    # Heavier parts load on first use, so `import lmteach` stays fast in a classroom.
    lazy = {"from_hf": ".models.interop", "from_pretrained": ".models.interop", "count_params": ".models.params",
            "param_breakdown": ".models.params"}
    if name in lazy:
        import importlib
        return getattr(importlib.import_module(lazy[name], __name__), name)
    raise AttributeError(f"module 'lmteach' has no attribute {name!r}")
