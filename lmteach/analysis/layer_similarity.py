"""Cross-layer parameter sharing, measured: how much each layer changes its input, and what sharing costs.
Used by lesson 05 and the sharing lab (lmteach.widgets.sharing_lab).

    transitions = layer_transitions(model, batch)        # {"l2": [L], "cosine": [L]}: ALBERT's Figure 1
    wobble(transitions["l2"])                            # how irregular the curve is across layers
    sharing_breakdown(cfg)                               # parameters by part, the E->H projection on its own
    compare_sharing_modes(cfg, batches_for_seed, probe, modes=("none", "all"), steps=40, seeds=(0, 1, 2))

ALBERT (Lan et al. 2020) §3.1 / Figure 1: with all parameters shared, "the transitions from layer to layer are
much smoother for ALBERT than for BERT": the L2 distance and the cosine similarity between a layer's input and
output embeddings oscillate less across depth. (NSP vs SOP, Table 5: lmteach.lessons.albert.)
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from ..configs import ModelConfig
from ..models import build
from ..models.params import param_breakdown
from ..training.smoothing import final_loss

# ---------------------------------------------------------------------------------------------------------------
# Layer-to-layer transitions (ALBERT Figure 1)
# ---------------------------------------------------------------------------------------------------------------


@torch.no_grad()
def layer_transitions(model, batch: dict) -> dict[str, torch.Tensor]:
    """For every layer, how far its output embedding is from its input embedding, averaged over real tokens.

    batch: input_ids [b, s] (and optionally attention_mask, token_type_ids). Works for any lmteach model.
    Returns {"l2": [L] mean ||out - in||, "cosine": [L] mean cos(in, out), "degrees": [L] that angle}."""
    was_training = model.training
    model.eval()  # no dropout: the same text always gives the same numbers
    inputs = {k: batch[k] for k in ("input_ids", "attention_mask", "token_type_ids") if batch.get(k) is not None}
    body = getattr(model, "body", model)
    states = body(**inputs, output_hidden_states=True).hidden_states  # L + 1 tensors [b, s, H]
    model.train(was_training)
    mask = inputs.get("attention_mask", torch.ones_like(inputs["input_ids"])).bool()  # [b, s]
    l2, cosine = [], []
    for before, after in zip(states[:-1], states[1:]):
        l2.append((after - before).norm(dim=-1)[mask].mean())
        cosine.append(F.cosine_similarity(before, after, dim=-1)[mask].mean())
    cosine = torch.stack(cosine)
    return {"l2": torch.stack(l2), "cosine": cosine, "degrees": torch.rad2deg(torch.acos(cosine.clamp(-1, 1)))}


def wobble(values: Sequence[float] | torch.Tensor, skip_first: bool = True) -> float:
    """How irregular a per-layer curve is: the standard deviation, across layers, of the factor by which each
    layer's change differs from the previous layer's (std of log(v[i+1] / v[i])).

    A curve that shrinks (or grows) by a steady factor, a smooth geometric curve, has wobble 0; one that zigzags
    has a large wobble. The factor ignores scale, so models whose embeddings differ in size compare fairly.
    skip_first: leave out layer 1, whose input in ALBERT is the E->H projection of the embeddings (not yet
    normalised to the hidden states' scale), so layer 1 moves it by a different kind of step."""
    values = torch.as_tensor(values, dtype=torch.float64)
    if skip_first:
        values = values[1:]
    if len(values) < 3:
        raise ValueError("need at least three layers (after skipping the first) to measure how a curve wobbles")
    if (values <= 0).any():
        raise ValueError("wobble needs positive values (L2 distances or angles, not cosines near 1)")
    return float((values[1:] / values[:-1]).log().std())


def plot_transitions(axes, transitions_by_model: dict[str, dict], colors: dict[str, str] | None = None):
    """Two panels as in ALBERT's Figure 1: L2 distance (left) and cosine similarity (right) against the layer."""
    for name, transitions in transitions_by_model.items():
        color = (colors or {}).get(name)
        for ax, key, label in ((axes[0], "l2", "L2 distance"), (axes[1], "cosine", "cosine similarity")):
            values = transitions[key].tolist()
            ax.plot(range(1, len(values) + 1), values, "o-", color=color, label=name)
            ax.set_xlabel("layer")
            ax.set_ylabel(f"{label}, input vs output")
            ax.set_xticks(range(1, len(values) + 1))
            ax.grid(alpha=0.3)
            ax.legend(fontsize=8)


def transition_means(transitions: dict, skip_first: bool = True) -> dict[str, float]:
    """One number per curve: the mean over layers of the L2 distance and of the cosine similarity.
    skip_first: leave out layer 1, as `wobble` does (its input is the E->H projection, on another scale)."""
    start = 1 if skip_first else 0
    return {key: float(torch.as_tensor(transitions[key], dtype=torch.float64)[start:].mean())
            for key in ("l2", "cosine")}


def text_probe(tokenizer, token_ids, rows: int = 16, seq_len: int = 64) -> dict:
    """A fixed, unmasked probe batch for `layer_transitions`: `rows` windows of `token_ids` (held-out text),
    each framed as [CLS] window [SEP], seq_len tokens in all. {input_ids, attention_mask, token_type_ids}."""
    token_ids = torch.as_tensor(token_ids, dtype=torch.long).flatten()
    body = seq_len - 2
    if len(token_ids) < rows * body:
        raise ValueError(f"a probe of {rows} rows of {body} tokens needs {rows * body} tokens; got {len(token_ids)}")
    ids = torch.cat([torch.full((rows, 1), tokenizer.cls_id), token_ids[:rows * body].view(rows, body),
                     torch.full((rows, 1), tokenizer.sep_id)], dim=1)
    return {"input_ids": ids, "attention_mask": torch.ones_like(ids), "token_type_ids": torch.zeros_like(ids)}


def plot_transitions_with_control(axes, current: dict[str, dict], at_init: dict[str, dict],
                                  colors: dict[str, str] | None = None, labels: dict[str, str] | None = None,
                                  skip_first: bool = False):
    """`plot_transitions` with the same models at initialisation as dashed lines (the control): L2 distance on
    axes[0], cosine similarity on axes[1], against the layer. skip_first: start at layer 2, as the means do
    (layer 1's input is the E->H projection, whose jump would flatten the other layers' curve)."""
    from ..i18n import _

    start = 1 if skip_first else 0
    for name in current:
        color = (colors or {}).get(name)
        label = (labels or {}).get(name, name)
        for ax, key in ((axes[0], "l2"), (axes[1], "cosine")):
            if name in at_init:
                values = [float(v) for v in at_init[name][key]][start:]
                ax.plot(range(start + 1, start + len(values) + 1), values, "--", color=color, alpha=0.6,
                        linewidth=1)
            values = [float(v) for v in current[name][key]][start:]
            ax.plot(range(start + 1, start + len(values) + 1), values, "o-", color=color, markersize=3,
                    label=label)
    for ax, ylabel in ((axes[0], _("L2 distance, input vs output")), (axes[1], _("cosine similarity"))):
        ax.xaxis.get_major_locator().set_params(integer=True)
        ax.set_xlabel(_("layer"))
        ax.set_ylabel(ylabel)
        ax.grid(alpha=0.3)
        if current:
            ax.legend(fontsize=7)


# ---------------------------------------------------------------------------------------------------------------
# Cross-layer parameter sharing (ALBERT §3.1, Tables 3-4, Figure 1): what it saves, what it costs, what it smooths
# ---------------------------------------------------------------------------------------------------------------

SHARING_PARTS = ("embeddings", "projection", "attention", "feed_forward", "norms", "heads")


def sharing_config(base_cfg: ModelConfig, sharing: str, embedding_size: int | None,
                   num_layers: int | None = None, pair_task: str | None = None) -> ModelConfig:
    """`base_cfg` with ALBERT's two switches set: the sharing mode and the embedding size E (None: E = H, no
    E->H projection). pair_task None trains the masked LM alone, so no pooler or pair head is built (nothing
    would train them); "sop" / "nsp" builds both."""
    return base_cfg.replace(sharing=sharing, embedding_size=embedding_size,
                            num_layers=num_layers or base_cfg.num_layers, pair_task=pair_task,
                            pooler=pair_task is not None, num_groups=1)


def sharing_head(cfg: ModelConfig) -> str:
    """The model `sharing_config`'s config trains: MLM alone, or MLM with the config's pair head."""
    return "mlm_pair" if cfg.pair_task is not None else "masked_lm"


def projection_params(cfg: ModelConfig) -> int:
    """Parameters of ALBERT's E->H projection: an E x H matrix and H biases (0 when E = H: none is built)."""
    return cfg.embedding_size * cfg.hidden_size + cfg.hidden_size if cfg.embedding_size is not None else 0


def sharing_breakdown(cfg: ModelConfig) -> dict[str, int]:
    """Parameters of the model `sharing_head(cfg)` builds, by part (SHARING_PARTS), counted without allocating
    weights. `param_breakdown`'s parts, with the E->H projection taken out of its "embeddings" (embeddings is then
    the token, position and segment tables: V x E + P x E + 2 x E) and the pooler counted with the heads."""
    with torch.device("meta"):
        model = build(cfg, head=sharing_head(cfg))
    parts = param_breakdown(model)
    projection = projection_params(cfg)
    return {"embeddings": parts["embeddings"] - projection, "projection": projection,
            "attention": parts["attention"], "feed_forward": parts["feed_forward"], "norms": parts["norms"],
            "heads": parts["heads"] + parts["pooler"]}


def non_embedding_params(parts: dict[str, int]) -> int:
    """Everything but the embedding tables and the E->H projection (blocks, norms, heads), from a
    `sharing_breakdown`: what cross-layer sharing divides by about L (the heads are not shared)."""
    return sum(parts.values()) - parts["embeddings"] - parts["projection"]


def layer_params(cfg: ModelConfig) -> int:
    """Parameters of the transformer blocks alone (attention, FFN and their norms; shared ones counted once):
    L blocks' worth without sharing, exactly one block's with sharing="all"."""
    with torch.device("meta"):
        body = build(cfg, head="base")
    return sum(p.numel() for p in body.layers.parameters())  # a shared tensor is yielded once


class SharingRun:
    """One model of a sharing comparison: built from `seed`, its layer transitions measured on a fixed probe at
    initialisation (the control) and again by `measure()`, trained one `step()` at a time by a Trainer.
    `compare_sharing_modes` runs these one after another; the SharingLab widget steps several side by side."""

    def __init__(self, cfg: ModelConfig, batches: Callable[[int], dict], probe: dict, *, steps: int, lr: float,
                 warmup_steps: int, seed: int = 0, schedule: str = "constant", device: str = "cpu"):
        from ..training import Trainer

        self.cfg, self.probe, self.seed = cfg, probe, seed
        torch.manual_seed(seed)  # same seed, same draws: the runs of one comparison differ only by the config
        self.model = build(cfg, head=sharing_head(cfg))
        self.params = sharing_breakdown(cfg)
        self.layer_params = layer_params(cfg)
        self.trainer = Trainer(self.model, batches, lr=lr, warmup_steps=warmup_steps, schedule=schedule,
                               total_steps=steps, device=device, seed=seed, progress=False)
        self.transitions_init = self._transitions()
        self.transitions = self.transitions_init
        self.measured_at = 0  # the step of `transitions`
        self.diverged_at: int | None = None

    def _transitions(self) -> dict[str, list[float]]:
        device = next(self.model.parameters()).device
        probe = {k: v.to(device) for k, v in self.probe.items() if isinstance(v, torch.Tensor)}
        return {key: values.tolist() for key, values in layer_transitions(self.model, probe).items()}

    @property
    def losses(self) -> list[float]:
        return list(self.trainer.history.losses)

    @property
    def done(self) -> bool:
        return self.diverged_at is not None or self.trainer.step_count >= self.trainer.total_steps

    def step(self):
        """One training step (a run that diverged stays where it was)."""
        from ..training import TrainingDiverged

        if self.done:
            return
        try:
            self.trainer.step()
        except TrainingDiverged:
            self.diverged_at = self.trainer.step_count

    def measure(self):
        """Measure the layer transitions of the model as it is now, on the fixed probe."""
        self.transitions = self._transitions()
        self.measured_at = self.trainer.step_count

    def summary(self, final_window: int = 10) -> dict:
        """The numbers a lesson asserts over: parameters, final loss, transitions at init and now."""
        total = sum(self.params.values())
        init, now = transition_means(self.transitions_init), transition_means(self.transitions)
        return {
            "config": self.cfg, "params": dict(self.params), "total_params": total,
            "non_embedding_params": non_embedding_params(self.params),
            "layer_params": self.layer_params, "steps": self.trainer.step_count, "losses": self.losses,
            "final_loss": final_loss(self.losses, final_window) if self.losses else math.nan,
            "diverged_at": self.diverged_at,
            "transitions_init": self.transitions_init, "transitions": self.transitions,
            "measured_at": self.measured_at,
            "mean_l2_init": init["l2"], "mean_cosine_init": init["cosine"],
            "mean_l2": now["l2"], "mean_cosine": now["cosine"],
            "wobble_l2_init": _wobble_or_nan(self.transitions_init["l2"]),
            "wobble_l2": _wobble_or_nan(self.transitions["l2"]),
            "wobble_degrees_init": _wobble_or_nan(self.transitions_init["degrees"]),
            "wobble_degrees": _wobble_or_nan(self.transitions["degrees"]),
        }


def _wobble_or_nan(values) -> float:
    try:
        return wobble(values)
    except ValueError:  # too few layers, or a zero distance
        return math.nan


def compare_sharing_modes(base_cfg: ModelConfig, batches_for_seed: Callable[[int], Callable[[int], dict]],
                          probe: dict, *, modes: Sequence[str] = ("none", "all"), embedding_size: int | None = 32,
                          num_layers: int | None = None, steps: int = 40, seeds: Sequence[int] = (0, 1, 2),
                          lr: float = 3e-3, warmup_steps: int | None = None, schedule: str = "constant",
                          final_window: int = 10) -> dict[str, dict[int, dict]]:
    """Train one model per sharing mode and seed, same data and steps for every mode of a seed, and measure what
    ALBERT §3.1 claims sharing changes. {mode: {seed: SharingRun.summary()}}: parameters (non-embedding and
    layer-only counts), the final loss (mean of the last `final_window` steps), and the layer-to-layer mean L2
    distance, cosine similarity and wobble on `probe` at initialisation (the control) and after training.

    batches_for_seed(seed) -> batch(step): the data of one seed (e.g. masked_lm_batches(..., seed=seed)); if its
    batches carry pair_labels the models train MLM + SOP (base_cfg.pair_task, default "sop"), else MLM alone."""
    results: dict[str, dict[int, dict]] = {mode: {} for mode in modes}
    for seed in seeds:
        batches = batches_for_seed(seed)
        pair_task = (base_cfg.pair_task or "sop") if "pair_labels" in batches(0) else None
        for mode in modes:
            cfg = sharing_config(base_cfg, mode, embedding_size, num_layers, pair_task)
            run = SharingRun(cfg, batches, probe, steps=steps, lr=lr, schedule=schedule, seed=seed,
                             warmup_steps=steps // 10 if warmup_steps is None else warmup_steps)
            while not run.done:
                run.step()
            run.measure()
            results[mode][seed] = run.summary(final_window)
    return results
