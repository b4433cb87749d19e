"""lmteach: build, train, poke and compare small GPT-1, BERT, GPT-2, ALBERT and ELECTRA models.

    import lmteach as lt
    cfg = lt.configs.gpt2("tiny", vocab_size=4096)
    model = lt.build(cfg)
"""
from . import configs, exercises
from .configs import ModelConfig
from .models import build

__version__ = "0.1.0"


def __getattr__(name):
    # Heavier parts load on first use, so `import lmteach` stays fast in a classroom.
    lazy = {"from_hf": ".models.interop", "from_pretrained": ".models.interop", "count_params": ".models.params",
            "param_breakdown": ".models.params", "load_minilm": ".models.pretrained",
            "Trainer": ".training.trainer", "load_checkpoint": ".training.checkpoint",
            "save_checkpoint": ".training.checkpoint", "load_corpus": ".data.corpus", "load_task": ".data.tasks",
            "task_info": ".data.tasks", "load_tokenizer": ".data.tokenization"}
    modules = {"widgets": ".widgets", "objectives": ".objectives", "training": ".training", "data": ".data",
               "analysis": ".analysis", "lesson": ".lesson", "models": ".models"}
    if name in modules:
        import importlib
        return importlib.import_module(modules[name], __name__)
    if name in lazy:
        import importlib
        return getattr(importlib.import_module(lazy[name], __name__), name)
    raise AttributeError(f"module 'lmteach' has no attribute {name!r}")
