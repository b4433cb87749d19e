"""The LayerNorm lab: train a post-LN and a pre-LN model side by side, live, and watch their losses.

Same seed, same initial weights (up to the placement), same batches: the only difference between the curves
is where the LayerNorm sits (GPT-2 §2.3; Xiong et al. 2020). Turn the warmup off and the learning rate up
to see which one suffers.

    lab = LayerNormLab(lt.configs.gpt2("tiny", vocab_size=tok.vocab_size), causal_lm_batches(ids, 64, 8))
    lab             # shows it; press Run
    lab.run()       # start and wait (what a tested notebook cell does)
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W

from ..analysis.plots import COLORS, figure_png, new_figure, plot_losses
from ..i18n import _
from ..models import build
from .background import BackgroundLab

PLACEMENTS = ("post", "pre")


def placement_config(base_cfg, placement: str, num_layers: int):
    """The base config with LayerNorm `placement`; pre-LN also gets GPT-2's final LayerNorm (§2.3), which a
    pre-LN stack needs (nothing else normalises its output), post-LN does not (its last block ends in one)."""
    return base_cfg.replace(norm_placement=placement, final_norm=placement == "pre", num_layers=num_layers)


class LayerNormLab(BackgroundLab):
    """Two trainers (post-LN, pre-LN) stepped alternately in one background thread; one plot of both losses.

    base_cfg: a causal-LM config (its norm_placement and num_layers are set by the controls).
    batches: `batch(step) -> dict` shared by both models, so both see exactly the same data.
    """

    def __init__(self, base_cfg, batches, *, num_layers: int = 6, lr: float = 3e-3, warmup_steps: int = 0,
                 steps: int = 100, seed: int = 0, redraw_seconds: float = 0.5):
        super().__init__()
        self.base_cfg, self.batches, self.seed = base_cfg, batches, seed
        self.redraw_seconds = redraw_seconds
        self.trainers: dict = {}
        self.diverged: dict[str, int] = {}  # placement -> step at which its loss became NaN/inf
        self.redraws = 0
        self._lock = threading.Lock()

        self.use_post = W.Checkbox(value=True, description=_("post-LN (GPT-1, BERT)"), indent=False)
        self.use_pre = W.Checkbox(value=True, description=_("pre-LN (GPT-2)"), indent=False)
        self.depth = W.IntSlider(value=num_layers, min=1, max=24, description=_("layers"))
        self.lr = W.FloatLogSlider(value=lr, base=10, min=-4, max=-1, step=0.25, description=_("learning rate"),
                                   readout_format=".1e", style={"description_width": "initial"})
        self.warmup = W.IntSlider(value=warmup_steps, min=0, max=500, step=10, description=_("warmup steps"),
                                  style={"description_width": "initial"})
        self.steps = W.IntSlider(value=steps, min=10, max=2000, step=10, description=_("steps"))
        self.run_button = W.Button(description=_("Run"), icon="play", button_style="success")
        self.stop_button = W.Button(description=_("Stop"), icon="stop", button_style="danger", disabled=True)
        self.status = W.HTML("<i>" + html.escape(_("set the controls and press Run")) + "</i>")
        self.image = W.Image(format="png", layout=W.Layout(width="560px"))
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = W.VBox([
            W.HTML("<b>" + html.escape(_("LayerNorm lab: post-LN vs pre-LN, same seed, same data")) + "</b>"),
            W.HBox([self.use_post, self.use_pre]),
            W.HBox([self.depth, self.steps]),
            W.HBox([self.lr, self.warmup]),
            W.HBox([self.run_button, self.stop_button]),
            self.status,
            self.image,
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-layernorm-lab")
        self.draw()

    # --- what the controls ask for --------------------------------------------------------------------------
    @property
    def placements(self) -> list[str]:
        return [p for p, box in zip(PLACEMENTS, (self.use_post, self.use_pre)) if box.value]

    def configs(self) -> dict:
        """{placement: ModelConfig} for the current controls."""
        return {p: placement_config(self.base_cfg, p, self.depth.value) for p in self.placements}

    @property
    def losses(self) -> dict[str, list[float]]:
        return {p: list(t.history.losses) for p, t in self.trainers.items()}

    # --- running --------------------------------------------------------------------------------------------
    def _make_trainers(self):
        from ..training import Trainer

        self.trainers, self.diverged = {}, {}
        for placement, cfg in self.configs().items():
            model = build(cfg, head="causal_lm")
            # The same seed for both: same batches, and the same random draws for everything but the norms.
            self.trainers[placement] = Trainer(model, self.batches, lr=self.lr.value,
                                               warmup_steps=self.warmup.value, schedule="constant",
                                               total_steps=self.steps.value, device="cpu", seed=self.seed,
                                               progress=False)

    def start(self, block: bool = False):
        """Build fresh models from the controls and train them in a background thread."""
        if self._thread is not None and self._thread.is_alive():
            return self
        if not self.placements:
            self.status.value = "<b>" + html.escape(_("tick at least one placement")) + "</b>"
            return self
        self._make_trainers()
        self._stop.clear()
        self.error = None
        self.run_button.disabled, self.stop_button.disabled = True, False
        self.status.value = html.escape(_("running ..."))
        return self._launch(block)

    def _loop(self):
        from ..training import TrainingDiverged

        last_draw = 0.0
        try:
            for step in range(self.steps.value):
                if self._stop.is_set():
                    break
                for placement, trainer in self.trainers.items():
                    if placement in self.diverged:
                        continue
                    try:
                        trainer.step()
                    except TrainingDiverged:
                        self.diverged[placement] = step
                if len(self.diverged) == len(self.trainers):
                    break
                if time.monotonic() - last_draw >= self.redraw_seconds:
                    self.draw()
                    last_draw = time.monotonic()
        except BaseException as error:  # kept for wait(); a dying thread must not be silent
            self.error = error
        finally:
            self.run_button.disabled, self.stop_button.disabled = False, True
            self.draw()

    # --- drawing --------------------------------------------------------------------------------------------
    def _status_html(self) -> str:
        parts = []
        for placement, losses in self.losses.items():
            if placement in self.diverged:
                parts.append(f"<b>{placement}-LN</b> "
                             + html.escape(_("diverged at step {step}").format(step=self.diverged[placement])))
            elif losses:
                parts.append(f"<b>{placement}-LN</b> "
                             + html.escape(_("step {step}, loss {loss:.3f}").format(step=len(losses),
                                                                                     loss=losses[-1])))
        settings = _("{layers} layers, lr {lr:.1e}, warmup {warmup}, {steps} steps").format(
            layers=self.depth.value, lr=self.lr.value, warmup=self.warmup.value, steps=self.steps.value)
        return html.escape(settings) + (" &nbsp;|&nbsp; " + " &nbsp;|&nbsp; ".join(parts) if parts else "")

    def draw(self):
        """Redraw both loss curves on one plot."""
        with self._lock:
            figure, ax = new_figure(6.2, 3.2)
            finite = []
            for placement, losses in self.losses.items():
                steps = [i for i, x in enumerate(losses) if x == x]  # NaN != NaN: a diverged step is skipped
                values = [losses[i] for i in steps]
                finite += values
                plot_losses(ax, steps, values, label=f"{placement}-LN", color=COLORS[placement], window=10)
            if finite:
                ax.set_ylim(min(finite) - 0.2, min(max(finite), min(finite) + 6) + 0.2)
            ax.set_xlabel(_("step"))
            ax.set_ylabel(_("loss"))
            ax.set_title(_("training loss"), fontsize=10)
            self.image.value = figure_png(figure)
            self.status.value = self._status_html()
            self.redraws += 1

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
