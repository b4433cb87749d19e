"""The live training dashboard: Start / Pause / Stop, live loss, learning rate and per-layer gradient norms,
tokens/s, device, a progress bar, and samples or masked predictions refreshed every N steps.

It only subscribes to the trainer's events; the training loop knows nothing about it. Training runs in a
background thread, so the notebook stays responsive: Pause and Stop work mid-run and other widgets respond.

    dash = lt.widgets.TrainingDashboard(trainer, preview=lambda model: lt.widgets.sample_html(model, tok, "ROMEO:"))
    dash            # shows it; press Start (or call dash.start())
    dash.run()      # start and wait until done (what a tested lesson does)
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W
import torch

from ..analysis.plots import figure_png, new_figure, plot_layer_values, plot_losses, plot_lr
from ..i18n import N_, _, ngettext

# The trainer's states, shown in the lesson's language.
STATES = {"idle": N_("idle"), "running": N_("running"), "paused": N_("paused"), "stopped": N_("stopped"),
          "finished": N_("finished")}


class TrainingDashboard:
    """A widget over a `lmteach.training.Trainer`. `preview(model) -> str` returns HTML shown every
    `preview_every` steps (e.g. generated text, or fill-mask predictions)."""

    def __init__(self, trainer, steps: int | None = None, preview=None, preview_every: int = 50,
                 redraw_seconds: float = 0.5, redraw_every_steps: int | None = None, title: str | None = None):
        self.trainer = trainer
        self.steps = steps
        self.preview_fn = preview
        self.preview_every = max(1, preview_every)
        self.redraw_seconds = redraw_seconds
        self.redraw_every_steps = redraw_every_steps  # fixed cadence instead of the time-based one
        self.redraws = 0            # how many times the plots were redrawn
        self.live_redraws = 0       # ... of which while training (tests and the browser test check it)
        self._last_draw = 0.0
        self._draw_seconds = 0.0    # how long the last redraw took
        self._lock = threading.Lock()
        self._last_event: dict = {}

        total = steps or getattr(trainer, "total_steps", None) or 1
        self.start_button = W.Button(description=_("Start"), icon="play", button_style="success")
        self.pause_button = W.Button(description=_("Pause"), icon="pause", disabled=True)
        self.stop_button = W.Button(description=_("Stop"), icon="stop", button_style="danger", disabled=True)
        self.progress = W.IntProgress(value=0, min=0, max=total, description=self._steps_label(0),
                                      layout=W.Layout(width="340px"))
        self.status = W.HTML(self._status_html({}))
        self.loss_image = W.Image(format="png", layout=W.Layout(width="480px"))
        self.detail_image = W.Image(format="png", layout=W.Layout(width="480px"))
        self.preview = W.HTML("<i>" + _("samples appear here while training") + "</i>" if preview else "")
        self.start_button.on_click(lambda _: self.start())
        self.pause_button.on_click(lambda _: self.toggle_pause())
        self.stop_button.on_click(lambda _: self.stop())
        self.widget = W.VBox([
            W.HTML("<b>" + html.escape(title if title is not None else _("Training")) + "</b>"),
            W.HBox([self.start_button, self.pause_button, self.stop_button, self.progress]),
            self.status,
            W.HBox([self.loss_image, self.detail_image]),
            self.preview,
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-dashboard")
        trainer.on("step", self._on_step)
        trainer.on("eval", self._on_eval)
        trainer.on("end", self._on_end)
        self.draw()

    # --- controls -------------------------------------------------------------------------------------------
    def start(self, block: bool = False):
        """Train in the background for `steps` (or the trainer's remaining steps)."""
        if self.trainer.state == "paused":
            self.trainer.resume()
        elif self.trainer.state != "running":
            self.trainer.run_in_background(self.steps)
        self.start_button.disabled = True
        self.pause_button.disabled = False
        self.stop_button.disabled = False
        if block:
            self.wait()
        return self

    def run(self):
        """Start and wait until training ends (what a tested lesson cell does)."""
        return self.start(block=True)

    def wait(self):
        self.trainer.wait()
        self.draw()
        return self

    def toggle_pause(self):
        if self.trainer.state == "paused":
            self.trainer.resume()
            self.pause_button.description, self.pause_button.icon = _("Pause"), "pause"
        else:
            self.trainer.pause()
            self.pause_button.description, self.pause_button.icon = _("Resume"), "play"
        self.status.value = self._status_html(self._last_event)

    def stop(self):
        self.trainer.stop()
        self.pause_button.disabled = True
        self.stop_button.disabled = True

    # --- event handlers (called from the training thread) --------------------------------------------------
    def _on_step(self, event: dict):
        self._last_event = event
        done = event["step"] + 1  # events number steps from 0
        self.progress.value = min(done, self.progress.max)
        self.progress.description = self._steps_label(done)
        self.status.value = self._status_html(event)
        if self.preview_fn is not None and done % self.preview_every == 0:
            self.refresh_preview()
        # Drawing costs time the training could use: redraw at most every redraw_seconds, and never spend more
        # than about a sixth of the wall time on plots (a slow laptop draws less often instead of training less).
        if self.redraw_every_steps:
            due = done % self.redraw_every_steps == 0
        else:
            due = time.monotonic() - self._last_draw >= max(self.redraw_seconds, 5 * self._draw_seconds)
        if due:
            self.live_redraws += 1
            self.draw()

    def _on_eval(self, event: dict):
        self.draw()

    def _on_end(self, event: dict):
        self.start_button.disabled = False
        self.start_button.description = _("Continue")
        self.pause_button.disabled = True
        self.stop_button.disabled = True
        self.status.value = self._status_html(self._last_event)
        if self.preview_fn is not None:
            self.refresh_preview()
        self.draw()

    def refresh_preview(self):
        model = self.trainer.model
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                self.preview.value = self.preview_fn(model)
        finally:
            model.train(was_training)

    # --- drawing ---------------------------------------------------------------------------------------------
    @staticmethod
    def _steps_label(done: int) -> str:
        return ngettext("{n} step", "{n} steps", done).format(n=done)

    def _status_html(self, event: dict) -> str:
        state = getattr(self.trainer, "state", "idle")
        parts = [f"<b>{_(STATES.get(state, state))}</b>",
                 _("device {device}").format(device=f"<code>{getattr(self.trainer, 'device', '?')}</code>")]
        if event:
            parts += [_("step {step}").format(step=event["step"] + 1), _("loss {loss:.3f}").format(loss=event["loss"]),
                      _("lr {lr:.2e}").format(lr=event["lr"]),
                      _("{rate:,.0f} tokens/s").format(rate=event.get("tokens_per_s", 0)),
                      _("{seconds:.0f} s").format(seconds=event.get("elapsed_s", 0))]
        history = getattr(self.trainer, "history", None)
        if history is not None and getattr(history, "val_losses", None):
            parts.append(_("validation loss {loss:.3f}").format(loss=history.val_losses[-1]))
        return " &nbsp;|&nbsp; ".join(parts)

    def draw(self):
        """Redraw both plots from the trainer's history."""
        with self._lock:
            started = time.monotonic()
            history = self.trainer.history
            figure, ax = new_figure(5.2, 3.0, layout=None)
            figure.subplots_adjust(left=0.13, right=0.97, bottom=0.16, top=0.9)
            plot_losses(ax, list(history.steps), list(history.losses), list(history.val_steps),
                        list(history.val_losses))
            ax.set_title(_("loss"), fontsize=10)
            self.loss_image.value = figure_png(figure)

            figure, (lr_ax, grad_ax) = new_figure(5.2, 3.0, ncols=2, layout=None)
            figure.subplots_adjust(left=0.13, right=0.97, bottom=0.16, top=0.9, wspace=0.45)
            plot_lr(lr_ax, list(history.steps), list(history.lrs))
            lr_ax.set_title(_("learning rate"), fontsize=10)
            norms = self._last_event.get("grad_norms_by_layer") or {}
            if norms:
                plot_layer_values(grad_ax, norms, ylabel=_("gradient norm"))
            grad_ax.set_title(_("gradient norm per layer"), fontsize=10)
            self.detail_image.value = figure_png(figure)
            self.redraws += 1
            self._last_draw = time.monotonic()
            self._draw_seconds = self._last_draw - started

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
