"""Fine-tune GPT-1 with your own λ and layer-wise learning-rate decay, and see what moved.

    FinetuneLab(pretrained_lm, tokenizer, task="genre", steps=150)

Sliders: λ, the weight of the auxiliary language-model loss (GPT-1 §3.2 used 0.5), and the layer-wise decay
of the learning rate (1 = one rate for every layer, as GPT-1 did; 0.5 halves it at every layer down).
Each press of "Fine-tune" trains a fresh copy of the pretrained model and adds a line to the plot of how far
each layer's weights moved, with the validation accuracy against the majority-class baseline.
"""

from __future__ import annotations

import html

import ipywidgets as W

from ..i18n import _, ngettext
from ..lessons.gpt1 import movement_png
from ..training.finetune import finetune


class FinetuneLab:
    def __init__(self, pretrained, tokenizer, task: str = "genre", steps: int = 150, lr: float = 1e-3,
                 batch_size: int = 16, max_len: int = 64, eval_limit: int | None = 300, seed: int = 0):
        self.pretrained, self.tokenizer, self.task = pretrained, tokenizer, task
        self.options = dict(lr=lr, batch_size=batch_size, max_len=max_len, eval_limit=eval_limit)
        self.results = []
        self.lm_weight_slider = W.FloatSlider(value=0.5, min=0.0, max=2.0, step=0.25, description=_("λ (LM loss)"),
                                              continuous_update=False)
        self.decay_slider = W.FloatSlider(value=1.0, min=0.3, max=1.0, step=0.1, description=_("layer decay"),
                                          continuous_update=False)
        self.steps_box = W.BoundedIntText(value=steps, min=1, max=5000, description=_("steps"))
        self.seed_box = W.BoundedIntText(value=seed, min=0, max=10**6, description=_("seed"))
        self.run_button = W.Button(description=_("Fine-tune"), icon="play", button_style="success")
        self.clear_button = W.Button(description=_("Clear runs"), icon="trash")
        self.progress = W.IntProgress(value=0, min=0, max=steps, layout=W.Layout(width="300px"))
        self.status = W.HTML("<i>" + _("press Fine-tune: each run starts again from the pretrained model") + "</i>")
        self.plot = W.Image(format="png", layout=W.Layout(width="560px"))
        self.run_button.on_click(lambda _: self.run())
        self.clear_button.on_click(lambda _: self.clear())
        self.widget = W.VBox([
            W.HBox([self.lm_weight_slider, self.decay_slider]),
            W.HBox([self.steps_box, self.seed_box]),
            W.HBox([self.run_button, self.clear_button, self.progress]),
            self.status, self.plot])
        self.widget.add_class("lmteach-finetune-lab")

    def run(self):
        """Fine-tune once with the controls' settings; adds the result to the plot and the table."""
        steps = self.steps_box.value
        self.progress.max, self.progress.value = steps, 0
        self.run_button.disabled = True
        doing = ngettext("fine-tuning on {task} for {steps} step…", "fine-tuning on {task} for {steps} steps…",
                         steps)
        self.status.value = "<i>" + doing.format(task=f"<code>{html.escape(self.task)}</code>", steps=steps) + "</i>"
        try:
            result = finetune(self.pretrained, self.tokenizer, self.task, lm_weight=self.lm_weight_slider.value,
                              layer_decay=self.decay_slider.value, steps=steps, seed=self.seed_box.value,
                              on_step=lambda event: setattr(self.progress, "value", event["step"] + 1),
                              **self.options)
        finally:
            self.run_button.disabled = False
        self.results.append(result)
        self.show()
        return result

    def clear(self):
        self.results = []
        self.plot.value = b""
        self.status.value = "<i>" + _("no runs yet") + "</i>"

    def show(self):
        rows = "".join(f"<tr><td>{i + 1}</td><td>{r.lm_weight:g}</td><td>{r.layer_decay:g}</td>"
                       f"<td>{r.accuracy:.3f}</td><td>{r.baseline:.3f}</td></tr>" for i, r in enumerate(self.results))
        head = "".join(f"<th>{html.escape(t)}</th>" for t in
                       (_("run"), "λ", _("decay"), _("validation accuracy"), _("majority baseline")))
        task = _("task {task}").format(task=f"<code>{html.escape(self.task)}</code>")
        self.status.value = (f"<table class='lmteach-finetune-runs'><tr>{head}</tr>{rows}</table>"
                             f"<small>{task}</small>")
        self.plot.value = movement_png(self.results, title=_("how far fine-tuning moved each layer"))

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
