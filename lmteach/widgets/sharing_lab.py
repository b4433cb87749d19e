"""The ALBERT sharing lab: tiny models with different cross-layer sharing train side by side, live.

Pick the sharing modes (none / attention / ffn / all) and the embedding size E, press Train: one model per mode,
same seed, same batches, same steps. Three pictures, redrawn while they train:

- each model's parameters by part (embeddings V x E, the E->H projection, attention, FFN, norms, heads), with the
  total; it follows the controls at once, before any training (ALBERT §3.1, Tables 3-4);
- the training losses;
- the layer-to-layer L2 distance and cosine similarity between each layer's input and output on a fixed probe
  batch (ALBERT Figure 1), with the same model at initialisation dashed (the control).

    cfg = lt.configs.albert("tiny", vocab_size=tok.vocab_size, max_positions=64, hidden_size=64, num_heads=4,
                            ffn_size=256, num_layers=6)
    lab = SharingLab(cfg, masked_lm_batches(tok, 64, 16, token_ids=ids), probe=ls.text_probe(tok, held_out_ids),
                     embedding_size=32, steps=40, lr=3e-3)
    lab             # shows it; press Train
    lab.run()       # start and wait (what a tested notebook cell does)
    lab.results["all"]["non_embedding_params"], lab.results["all"]["final_loss"], lab.results["all"]["mean_l2"]

The numbers come from `lmteach.analysis.layer_similarity` (`SharingRun`, `sharing_breakdown`), the same code
`compare_sharing_modes` uses to check the lesson's claims over seeds.
"""

from __future__ import annotations

import html
import threading
import time

import ipywidgets as W

from ..analysis.layer_similarity import (SHARING_PARTS, SharingRun, non_embedding_params,
                                         plot_transitions_with_control, sharing_breakdown, sharing_config)
from ..analysis.plots import figure_png, new_figure, plot_losses
from ..configs import SHARING_MODES
from ..i18n import _
from .background import BackgroundLab

MODE_COLORS = {"none": "#1f77b4", "attention": "#9467bd", "ffn": "#ff7f0e", "all": "#2ca02c"}
PART_COLORS = {"embeddings": "#aec7e8", "projection": "#1f77b4", "attention": "#ff7f0e",
               "feed_forward": "#2ca02c", "norms": "#9467bd", "heads": "#8c564b"}
EMBEDDING_SIZES = (16, 32, 64, 128)
LEARNING_RATES = (1e-4, 3e-4, 1e-3, 2e-3, 3e-3, 1e-2)
NO_FACTORIZATION = 0  # the E control's value for "E = H": no E->H projection (embedding_size=None)


def mode_label(mode: str) -> str:
    return {"none": _("none (BERT)"), "attention": _("attention"), "ffn": _("FFN"),
            "all": _("all (ALBERT)")}[mode]


def part_label(part: str) -> str:
    return {"embeddings": _("embeddings (V×E, positions)"), "projection": _("E→H projection"),
            "attention": _("attention"), "feed_forward": _("FFN"), "norms": _("norms"), "heads": _("heads")}[part]


class SharingLab(BackgroundLab):
    """One model per ticked sharing mode, stepped in turn in one background thread; Train, Pause, Stop.

    base_cfg: an ALBERT-style config (its sharing, embedding size and depth are set by the controls).
    batches: `batch(step) -> dict` shared by every model, so all see exactly the same data. If its batches carry
        pair_labels (masked_lm_batches(..., pair_task="sop")) the models train MLM + SOP, else MLM alone.
    probe: a fixed batch for the layer transitions (e.g. `layer_similarity.text_probe` of held-out text);
        default: the inputs of one batch the training never draws, `batches(10**9)`.
    probe_every: measure the transitions every this many steps (and at the end).
    final_window: `results[mode]["final_loss"]` is the mean loss of this many last steps.
    redraw_seconds / redraw_every_steps: redraw the live plots at most every redraw_seconds (and never spend
        more than about a sixth of the time drawing), or at a fixed cadence of steps instead.
    """

    def __init__(self, base_cfg, batches, *, modes=("none", "all"), embedding_size: int | None = 32,
                 num_layers: int | None = None, steps: int = 40, lr: float = 3e-3, warmup_steps: int | None = None,
                 seed: int = 0, probe: dict | None = None, probe_every: int = 5, final_window: int = 10,
                 redraw_seconds: float = 0.5, redraw_every_steps: int | None = None, device: str = "cpu"):
        super().__init__()
        self.base_cfg, self.batches, self.seed, self.device = base_cfg, batches, seed, device
        self.probe = probe if probe is not None else {
            k: v for k, v in batches(10 ** 9).items() if k in ("input_ids", "attention_mask", "token_type_ids")}
        self.pair_task = (base_cfg.pair_task or "sop") if "pair_labels" in batches(0) else None
        self.warmup_steps, self.probe_every = warmup_steps, max(1, probe_every)
        self.final_window, self.redraw_seconds = final_window, redraw_seconds
        self.redraw_every_steps = redraw_every_steps
        self.runs: dict[str, SharingRun] = {}
        self.redraws = 0         # live plots (losses, transitions) drawn
        self.live_redraws = 0    # ... of which while training
        self.param_redraws = 0   # parameter bars drawn
        self._unpaused = threading.Event()
        self._unpaused.set()
        self._lock = threading.Lock()

        self.mode_boxes = {mode: W.Checkbox(value=mode in modes, description=mode_label(mode), indent=False,
                                            layout=W.Layout(width="130px"))
                           for mode in SHARING_MODES}
        e_options = [(str(size), size) for size in EMBEDDING_SIZES]
        e_options.append((_("E = H (no factorization)"), NO_FACTORIZATION))
        e_value = NO_FACTORIZATION if embedding_size is None else embedding_size
        if e_value not in dict(e_options).values():
            e_options.insert(0, (str(e_value), e_value))
        self.embedding_size = W.Dropdown(options=e_options, value=e_value, description=_("E (embedding)"),
                                         style={"description_width": "initial"})
        depth = num_layers or base_cfg.num_layers
        self.depth = W.IntSlider(value=depth, min=2, max=max(24, depth), description=_("layers"))
        self.steps = W.IntSlider(value=steps, min=1, max=max(2000, steps), description=_("steps"))
        # A list, not a log slider: the rate trained is exactly the one given (a slider would snap it to its grid).
        rates = sorted({*LEARNING_RATES, lr})
        self.lr = W.Dropdown(options=[(f"{rate:g}", rate) for rate in rates], value=lr,
                             description=_("learning rate"), style={"description_width": "initial"},
                             layout=W.Layout(width="220px"))
        self.train_button = W.Button(description=_("Train"), icon="play", button_style="success")
        self.pause_button = W.Button(description=_("Pause"), icon="pause", disabled=True)
        self.stop_button = W.Button(description=_("Stop"), icon="stop", button_style="danger", disabled=True)
        self.status = W.HTML()
        self.param_summary = W.HTML()
        self.params_image = W.Image(format="png", layout=W.Layout(width="560px"))
        self.loss_image = W.Image(format="png", layout=W.Layout(width="360px"))
        self.transitions_image = W.Image(format="png", layout=W.Layout(width="560px"))
        self.params_image.add_class("lmteach-sharing-params")
        self.loss_image.add_class("lmteach-sharing-live")
        self.transitions_image.add_class("lmteach-sharing-live")
        self.train_button.on_click(lambda _button: self.start())
        self.pause_button.on_click(lambda _button: self.toggle_pause())
        self.stop_button.on_click(lambda _button: self.stop())
        for control in (*self.mode_boxes.values(), self.embedding_size, self.depth):
            control.observe(lambda _change: self.draw_params(), names="value")
        self.widget = W.VBox([
            W.HTML("<b>" + html.escape(_("ALBERT sharing lab: cross-layer sharing and the embedding size, "
                                         "same seed, same data")) + "</b>"),
            W.HBox([W.HTML(html.escape(_("share across layers:")) + "&nbsp;"), *self.mode_boxes.values()]),
            W.HBox([self.embedding_size, self.depth]),
            W.HBox([self.steps, self.lr]),
            W.HBox([self.train_button, self.pause_button, self.stop_button]),
            self.status,
            W.HBox([self.params_image, self.param_summary], layout=W.Layout(flex_flow="row wrap")),
            W.HBox([self.loss_image, self.transitions_image], layout=W.Layout(flex_flow="row wrap")),
            W.HTML("<small>" + html.escape(_(
                "Layer plots: for each layer, how far its output is from its input (L2 distance) and how close in "
                "direction (cosine similarity), on a fixed probe batch; dashed: the same model at initialisation. "
                "Layer 1 is left out: its input is the E→H projection of the embeddings, on another scale.")) +
                "</small>"),
        ], layout=W.Layout(border="1px solid #ddd", padding="6px"))
        self.widget.add_class("lmteach-sharing-lab")
        self.draw_params()
        self.draw()

    # --- what the controls ask for --------------------------------------------------------------------------
    @property
    def modes(self) -> list[str]:
        return [mode for mode, box in self.mode_boxes.items() if box.value]

    def configs(self) -> dict:
        """{mode: ModelConfig} for the current controls."""
        e = self.embedding_size.value
        return {mode: sharing_config(self.base_cfg, mode, None if e == NO_FACTORIZATION else e, self.depth.value,
                                     self.pair_task) for mode in self.modes}

    def breakdowns(self) -> dict[str, dict[str, int]]:
        """{mode: parameters by part} of the models the controls describe (counted, nothing allocated)."""
        return {mode: sharing_breakdown(cfg) for mode, cfg in self.configs().items()}

    @property
    def losses(self) -> dict[str, list[float]]:
        return {mode: run.losses for mode, run in self.runs.items()}

    @property
    def results(self) -> dict[str, dict]:
        """{mode: numbers} of the models of the last Train: params (by part), total_params, non_embedding_params,
        layer_params, steps, losses, final_loss, transitions_init / transitions ({"l2", "cosine", "degrees"}:
        one value per layer), mean_l2(_init), mean_cosine(_init), wobble_l2(_init), wobble_degrees(_init)."""
        return {mode: run.summary(self.final_window) for mode, run in self.runs.items()}

    # --- running --------------------------------------------------------------------------------------------
    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self, block: bool = False):
        """Build fresh models from the controls and train them in a background thread."""
        if self.running:
            return self
        if not self.modes:
            self.status.value = "<b>" + html.escape(_("tick at least one sharing mode")) + "</b>"
            return self
        steps = self.steps.value
        warmup = steps // 10 if self.warmup_steps is None else self.warmup_steps
        self.runs = {mode: SharingRun(cfg, self.batches, self.probe, steps=steps, lr=self.lr.value,
                                      warmup_steps=warmup, seed=self.seed, device=self.device)
                     for mode, cfg in self.configs().items()}
        self._stop.clear()
        self._unpaused.set()
        self.error = None
        self._set_running(True)
        self.draw()
        return self._launch(block)

    def stop(self):
        super().stop()
        self._unpaused.set()  # a paused run wakes up to stop

    def pause(self):
        if self.running:
            self._unpaused.clear()
            self.pause_button.description, self.pause_button.icon = _("Resume"), "play"
            self.status.value = self._status_html()

    def resume(self):
        self._unpaused.set()
        self.pause_button.description, self.pause_button.icon = _("Pause"), "pause"

    def toggle_pause(self):
        self.resume() if not self._unpaused.is_set() else self.pause()

    @property
    def paused(self) -> bool:
        return self.running and not self._unpaused.is_set()

    def _set_running(self, running: bool):
        self.train_button.disabled = running
        self.pause_button.disabled = self.stop_button.disabled = not running
        for control in (*self.mode_boxes.values(), self.embedding_size, self.depth, self.steps, self.lr):
            control.disabled = running  # the bars always describe what the controls say

    def _loop(self):
        last_draw = time.monotonic()
        draw_seconds = 0.0
        try:
            for step in range(1, self.steps.value + 1):
                self._unpaused.wait()
                if self._stop.is_set():
                    break
                for run in self.runs.values():
                    run.step()
                if step % self.probe_every == 0:
                    for run in self.runs.values():
                        run.measure()
                if all(run.done for run in self.runs.values()):
                    break
                if self.redraw_every_steps:
                    due = step % self.redraw_every_steps == 0
                else:  # drawing costs time the training could use: at most about a sixth of the wall time
                    due = time.monotonic() - last_draw >= max(self.redraw_seconds, 5 * draw_seconds)
                if due:
                    started = time.monotonic()
                    self.draw(live=True)
                    last_draw = time.monotonic()
                    draw_seconds = last_draw - started
                else:
                    self.status.value = self._status_html()
            for run in self.runs.values():
                run.measure()
        except BaseException as error:  # kept for wait(); a dying thread must not be silent
            self.error = error
        finally:
            self._set_running(False)
            self.resume()
            self.draw()

    # --- drawing --------------------------------------------------------------------------------------------
    def draw_params(self):
        """Redraw the parameter bars for the current controls (no training needed)."""
        breakdowns = self.breakdowns()
        with self._lock:
            figure, ax = new_figure(7.0, 0.9 + 0.45 * max(1, len(breakdowns)))
            names = list(breakdowns)[::-1]  # the first mode on top
            totals = {mode: sum(parts.values()) for mode, parts in breakdowns.items()}
            for part in SHARING_PARTS:
                lefts = [sum(breakdowns[m][p] for p in SHARING_PARTS[:SHARING_PARTS.index(part)]) for m in names]
                ax.barh([mode_label(m) for m in names], [breakdowns[m][part] for m in names], left=lefts,
                        color=PART_COLORS[part], label=part_label(part))
            widest = max(totals.values(), default=1)
            for m in names:
                ax.text(totals[m] + widest * 0.01, mode_label(m), f"{totals[m]:,}", va="center", fontsize=8)
            ax.set_xlim(0, widest * 1.18)
            ax.set_xlabel(_("parameters"))
            if breakdowns:
                ax.legend(fontsize=7, ncols=3, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
            ax.grid(axis="x", alpha=0.3)
            self.params_image.value = figure_png(figure)
            self.param_summary.value = self._params_html(breakdowns)
            self.param_redraws += 1

    def _params_html(self, breakdowns: dict) -> str:
        if not breakdowns:
            return "<i>" + html.escape(_("tick a sharing mode")) + "</i>"
        cfg = next(iter(self.configs().values()))
        e = cfg.embedding_size
        rows = []
        reference = non_embedding_params(breakdowns["none"]) if "none" in breakdowns else None
        for mode, parts in breakdowns.items():
            non_embedding = non_embedding_params(parts)
            ratio = f"{non_embedding / reference:.2f}" if reference else ""
            rows.append(f"<tr><td>{html.escape(mode_label(mode))}</td><td align='right'>{sum(parts.values()):,}</td>"
                        f"<td align='right'>{non_embedding:,}</td><td align='right'>{ratio}</td></tr>")
        shape = (f"V={cfg.vocab_size:,} E={e} H={cfg.hidden_size} L={cfg.num_layers}" if e is not None else
                 f"V={cfg.vocab_size:,} E=H={cfg.hidden_size} L={cfg.num_layers}")
        head = "".join(f"<th>{html.escape(t)}</th>" for t in
                       (_("sharing"), _("total"), _("non-embedding"), _("× none") if reference else ""))
        return (f"<div style='font-size:12px'>{html.escape(shape)}<table class='lmteach-sharing-counts'>"
                f"<tr>{head}</tr>{''.join(rows)}</table></div>")

    def _status_html(self) -> str:
        if not self.runs:
            return "<i>" + html.escape(_("choose the modes and E, then press Train")) + "</i>"
        parts = []
        for mode, run in self.runs.items():
            losses = run.losses
            if run.diverged_at is not None:
                parts.append(f"<b>{html.escape(mode_label(mode))}</b> "
                             + html.escape(_("diverged at step {step}").format(step=run.diverged_at)))
            elif losses:
                parts.append(f"<b>{html.escape(mode_label(mode))}</b> "
                             + html.escape(_("loss {loss:.3f}").format(loss=losses[-1])))
        done = max((run.trainer.step_count for run in self.runs.values()), default=0)
        total = next(iter(self.runs.values())).trainer.total_steps
        head = _("step {done} of {total}").format(done=done, total=total)
        if self.paused:
            head += " · " + _("paused")
        return html.escape(head) + (" &nbsp;|&nbsp; " + " &nbsp;|&nbsp; ".join(parts) if parts else "")

    def draw(self, live: bool = False):
        """Redraw the loss curves and the layer transitions (now solid, at initialisation dashed)."""
        with self._lock:
            # Fixed margins instead of the automatic layout: half the drawing time, and frames that line up.
            figure, ax = new_figure(4.6, 3.2, layout=None)
            figure.subplots_adjust(left=0.15, right=0.97, bottom=0.15, top=0.9)
            for mode, losses in self.losses.items():
                steps = [i for i, x in enumerate(losses) if x == x]  # NaN != NaN: a diverged step is skipped
                plot_losses(ax, steps, [losses[i] for i in steps], label=mode_label(mode), color=MODE_COLORS[mode],
                            window=5)
            ax.set_title(_("training loss"), fontsize=10)
            ax.set_xlabel(_("step"))
            ax.set_ylabel(_("loss"))
            self.loss_image.value = figure_png(figure)

            figure, axes = new_figure(7.0, 3.2, ncols=2, layout=None)
            figure.subplots_adjust(left=0.1, right=0.98, bottom=0.15, top=0.88, wspace=0.35)
            plot_transitions_with_control(
                axes, {mode: run.transitions for mode, run in self.runs.items()},
                {mode: run.transitions_init for mode, run in self.runs.items()}, colors=MODE_COLORS,
                labels={mode: mode_label(mode) for mode in self.runs}, skip_first=True)
            measured = max((run.measured_at for run in self.runs.values()), default=0)
            figure.suptitle(_("layer to layer at step {step} (dashed: at initialisation)").format(step=measured),
                            fontsize=10)
            self.transitions_image.value = figure_png(figure)
            self.status.value = self._status_html()
            self.redraws += 1
            self.live_redraws += live

    def _ipython_display_(self):
        from IPython.display import display
        display(self.widget)
