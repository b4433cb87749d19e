"""The training loop: one class, driven step by step so a notebook widget can watch, pause and stop it.

    trainer = Trainer(model, causal_lm_batches(ids, 64, 12), lr=1e-3, warmup_steps=100, total_steps=2000)
    trainer.on("step", lambda e: print(e["step"], e["loss"]))
    trainer.run()                      # or trainer.run_in_background() in Jupyter, then pause()/resume()/stop()
    trainer.history.losses             # lmteach.analysis.plots draws them

What one step does (`step()`):
    1. reseed torch from (seed, step) and fetch batch(step)   so runs reproduce, even after pause or resume
    2. forward + loss (bf16 autocast on CUDA)
    3. backward, clip the gradient norm
    4. set this step's learning rate (warmup + decay), AdamW update
    5. emit a "step" event: loss, lr, gradient norms, tokens/s, ...
The loop knows nothing about widgets or plots: they subscribe to events.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterable

import torch

from ..models.params import depth_of as layer_of  # the one rule for which layer a parameter belongs to
from . import distributed
from .batches import step_seed
from .checkpoint import head_name, load_optimizer_state, load_weights, read_info, save_checkpoint
from .schedules import SCHEDULES, lr_multiplier
from .smoothing import moving_average

STATES = ("idle", "running", "paused", "stopped", "finished")
EVENTS = ("step", "eval", "end", "diverged")


class TrainingDiverged(RuntimeError):
    """The loss (or the gradient) became NaN or infinite."""

    def __init__(self, message: str, step: int, loss: float, lr: float):
        super().__init__(message)
        self.step, self.loss, self.lr = step, loss, lr


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """"auto": CUDA if present, then Apple's MPS, then the CPU. Anything else is taken as given."""
    if str(device) != "auto":
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def pick_precision(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or None for plain fp32. "auto": bf16 on CUDA (no loss scaling needed), else fp32."""
    if precision == "auto":
        return torch.bfloat16 if device.type == "cuda" else None
    choices = {"fp32": None, "float32": None, "bf16": torch.bfloat16, "bfloat16": torch.bfloat16}
    if precision not in choices:
        raise ValueError(f"precision must be 'auto', 'fp32' or 'bf16', got {precision!r} (fp16 would need loss "
                         "scaling; bf16 has fp32's range and does not)")
    return choices[precision]


def weight_decay_groups(model: torch.nn.Module, weight_decay: float) -> list[dict]:
    """AdamW groups: decay on matrices (dim >= 2: linear weights *and* embedding tables, as nanoGPT and
    GPT-1 §4.1 do), none on vectors (biases, LayerNorm gains and shifts): shrinking a LayerNorm gain towards
    0 would only fight the normalisation."""
    decay, no_decay = [], []
    for name, p in model.named_parameters():  # shared (ALBERT) and tied parameters are listed once
        if p.requires_grad:
            (decay if p.dim() >= 2 else no_decay).append((name, p))
    return [{"params": [p for _, p in decay], "weight_decay": weight_decay, "name": "decay (matrices)"},
            {"params": [p for _, p in no_decay], "weight_decay": 0.0, "name": "no decay (biases, norms)"}]


def default_loss_fn(model, batch):
    return model(**batch)


class History:
    """Every event a trainer emitted, with its columns as lists (lmteach.analysis.plots draws them)."""

    def __init__(self, events: list[dict] | None = None):
        self.events = list(events or [])

    def record(self, kind: str, event: dict):
        self.events.append({"event": kind, **event})

    def _column(self, kind: str, key: str) -> list:
        return [e[key] for e in self.events if e["event"] == kind and key in e]

    @property
    def steps(self) -> list[int]:
        return self._column("step", "step")

    @property
    def losses(self) -> list[float]:
        return self._column("step", "loss")

    @property
    def lrs(self) -> list[float]:
        return self._column("step", "lr")

    @property
    def val_steps(self) -> list[int]:
        return self._column("eval", "step")

    @property
    def val_losses(self) -> list[float]:
        return self._column("eval", "val_loss")

    def smoothed(self, window: int = 20) -> list[float]:
        """Training loss averaged over the last `window` steps (fewer at the start)."""
        return moving_average(self.losses, window)

    def as_dict(self) -> dict:
        """Plain lists (JSON-serialisable); `History.from_dict` reads it back."""
        return {"events": [{k: v for k, v in e.items() if k != "grad_norms_by_layer"} |
                           ({"grad_norms_by_layer": {str(k): v for k, v in e["grad_norms_by_layer"].items()}}
                            if "grad_norms_by_layer" in e else {}) for e in self.events],
                "steps": self.steps, "losses": self.losses, "lrs": self.lrs,
                "val_steps": self.val_steps, "val_losses": self.val_losses}

    @classmethod
    def from_dict(cls, data: dict | None) -> "History":
        return cls((data or {}).get("events", []))

    def __len__(self):
        return len(self.steps)

    def __repr__(self):
        last = f", last loss {self.losses[-1]:.3f}" if self.losses else ""
        return f"History({len(self.steps)} steps, {len(self.val_steps)} evaluations{last})"


class Trainer:
    """Trains a model with AdamW, warmup + decay, gradient clipping; reproducible, pausable, observable.

    batches: `batch(step) -> dict of tensors` (reproducible: see lmteach.training.batches) or an iterable.
    loss_fn(model, batch): a loss tensor or an output with `.loss`; default `model(**batch).loss`.
    param_groups: AdamW groups to use instead of the default decay/no-decay split (each group's "lr" is its
        base rate, e.g. GPT-1 layer-wise rates from lmteach.objectives.layerwise_lr_groups).
    eval_batches: callable or iterable of validation batches; evaluated every `eval_every` steps and at the end,
        averaging `eval_steps` batches (all of them for a list). metrics_fn(trainer) -> dict adds extra numbers
        to each "eval" event.
    """

    def __init__(self, model: torch.nn.Module, batches: Callable[[int], dict] | Iterable[dict],
                 loss_fn: Callable | None = None, *, lr: float = 1e-3, weight_decay: float = 0.01,
                 warmup_steps: int = 0, schedule: str = "cosine", total_steps: int, min_lr_ratio: float = 0.1,
                 grad_clip: float | None = 1.0, betas: tuple[float, float] = (0.9, 0.999),
                 param_groups: list[dict] | None = None, device: str | torch.device = "auto",
                 precision: str = "auto", compile: bool = False, seed: int = 0, eval_batches=None,
                 eval_every: int | None = None, eval_steps: int = 20, metrics_fn: Callable | None = None,
                 tokenizer=None, log_every: int = 1, progress: bool = True):
        if schedule not in SCHEDULES:
            raise ValueError(f"unknown schedule {schedule!r}; choose one of {list(SCHEDULES)}")
        if total_steps < 1:
            raise ValueError(f"total_steps must be at least 1, got {total_steps}")
        self.device = distributed.local_device() or pick_device(device)
        self.autocast_dtype = pick_precision(precision, self.device)
        self.seed = seed
        torch.manual_seed(seed)
        self.model = model.to(self.device)  # the real model: what gets saved
        self.loss_fn = loss_fn or default_loss_fn
        self.batches = batches
        self._batch_iterator = None if callable(batches) else iter(batches)
        self.lr, self.warmup_steps, self.schedule = lr, warmup_steps, schedule
        self.total_steps, self.min_lr_ratio, self.grad_clip = total_steps, min_lr_ratio, grad_clip
        self.eval_batches, self.eval_every, self.eval_steps = eval_batches, eval_every, eval_steps
        self.metrics_fn, self.tokenizer = metrics_fn, tokenizer
        self.log_every, self.progress = max(1, log_every), progress

        groups = param_groups if param_groups is not None else weight_decay_groups(model, weight_decay)
        groups = [dict(g) for g in groups]
        for g in groups:
            g.setdefault("lr", lr)
            g["base_lr"] = g["lr"]  # the schedule multiplies each group's own base rate
        # fused AdamW updates all parameters in one kernel on GPUs; the plain loop on CPUs.
        self.optimizer = torch.optim.AdamW(groups, lr=lr, betas=betas, weight_decay=weight_decay,
                                           fused=self.device.type == "cuda")

        # Under torchrun: DDP averages gradients in backward when the model's own forward is used; a custom
        # loss_fn may call submodules (ELECTRA), so then the gradients are averaged by hand after backward.
        self._ddp_by_hand = distributed.is_distributed() and loss_fn is not None
        self.forward_model = model
        if distributed.is_distributed() and not self._ddp_by_hand:
            self.forward_model = distributed.wrap(model, self.device)
        if compile:
            self.forward_model = torch.compile(self.forward_model)

        self.history = History()
        self.step_count = 0
        self.tokens_seen = 0
        self.elapsed_s = 0.0
        self._state = "idle"
        self._listeners: dict[str, list[Callable]] = {kind: [] for kind in EVENTS}
        self._pause_requested = threading.Event()
        self._stop_requested = threading.Event()
        self._thread: threading.Thread | None = None
        self._target_step: int | None = None
        self._resume_in_background = False
        self.error: BaseException | None = None
        self._bar = None

    # --- events ---------------------------------------------------------------------------------------------
    def on(self, kind: str, fn: Callable[[dict], None]):
        """Call fn(event_dict) after every `kind` event: "step", "eval", "end" or "diverged"."""
        if kind not in self._listeners:
            raise ValueError(f"unknown event {kind!r}; choose one of {list(EVENTS)}")
        self._listeners[kind].append(fn)
        return fn

    def off(self, kind: str, fn: Callable | None = None):
        """Remove one listener (or all listeners of `kind` when fn is None)."""
        if fn is None:
            self._listeners[kind].clear()
        elif fn in self._listeners[kind]:
            self._listeners[kind].remove(fn)

    def _emit(self, kind: str, event: dict):
        self.history.record(kind, event)
        for fn in list(self._listeners[kind]):
            fn(event)

    # --- state ----------------------------------------------------------------------------------------------
    @property
    def state(self) -> str:
        """"idle" (not started), "running", "paused", "stopped" (by stop() or divergence), "finished"."""
        return self._state

    @property
    def unwrapped_model(self) -> torch.nn.Module:
        return self.model

    def lr_at(self, step: int) -> float:
        """The base learning rate (of the first group) at `step`."""
        return self.optimizer.param_groups[0]["base_lr"] * self._multiplier(step)

    def _multiplier(self, step: int) -> float:
        return lr_multiplier(step, total_steps=self.total_steps, warmup_steps=self.warmup_steps,
                             schedule=self.schedule, min_lr_ratio=self.min_lr_ratio)

    # --- one step -------------------------------------------------------------------------------------------
    def _batch(self, step: int) -> dict:
        if self._batch_iterator is None:
            batch = self.batches(step)
        else:
            try:
                batch = next(self._batch_iterator)
            except StopIteration:
                raise RuntimeError(f"the batch iterable ran out at step {step}; give more batches, fewer "
                                   "steps, or a callable batch(step)") from None
        batch = distributed.shard(batch)  # this rank's rows (all of them in a single process)
        return {k: v.to(self.device, non_blocking=True) if isinstance(v, torch.Tensor) else v
                for k, v in batch.items()}

    def _loss(self, model, batch):
        with torch.autocast(self.device.type, dtype=self.autocast_dtype, enabled=self.autocast_dtype is not None):
            out = self.loss_fn(model, batch)
        loss = out if isinstance(out, torch.Tensor) else out.loss
        if loss is None:
            raise ValueError("the loss_fn's output has no loss: pass labels in the batch (e.g. labels=input_ids "
                             "for a causal LM) or give Trainer a loss_fn")
        return loss, out

    def _grad_norms(self) -> tuple[float, dict]:
        """Total gradient norm and the norm of each part ({layer index, "embeddings", "head": norm})."""
        names, grads = [], []
        for name, p in self.model.named_parameters():
            if p.grad is not None:
                names.append(name)
                grads.append(p.grad.detach())
        if not grads:
            return 0.0, {}
        norms = torch.stack([g.float().norm() for g in grads]).cpu().tolist()  # one device sync, not hundreds
        squares: dict = {}
        for name, norm in zip(names, norms):
            part = layer_of(name)
            squares[part] = squares.get(part, 0.0) + norm * norm
        by_layer = {part: math.sqrt(s) for part, s in squares.items()}
        return math.sqrt(sum(squares.values())), by_layer

    def step(self) -> dict:
        """One optimisation step; returns (and emits) the step event."""
        step = self.step_count
        started = time.perf_counter()
        # Dropout, masking and sampling draw from torch's global RNG: reseeding from (seed, step) makes each
        # step the same whether the run was paused, resumed from a checkpoint, or not. Ranks differ.
        torch.manual_seed(step_seed(self.seed, step, distributed.rank()))
        self.model.train()
        batch = self._batch(step)
        loss, out = self._loss(self.forward_model, batch)
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        if self._ddp_by_hand:
            distributed.average_gradients(self.model)

        multiplier = self._multiplier(step)
        for group in self.optimizer.param_groups:
            group["lr"] = group["base_lr"] * multiplier
        lr = self.optimizer.param_groups[0]["lr"]
        grad_norm, by_layer = self._grad_norms()
        loss_value = distributed.mean_across_ranks(loss.item(), self.device)
        if not (math.isfinite(loss_value) and math.isfinite(grad_norm)):
            self._diverged(step, loss_value, grad_norm, lr)
        if self.grad_clip and grad_norm > self.grad_clip:
            # Gradient clipping: rescale the whole gradient to length grad_clip (its direction is kept).
            # The norm is already known, so this is clip_grad_norm_ without computing it a second time.
            scale = self.grad_clip / (grad_norm + 1e-6)
            for p in self.model.parameters():
                if p.grad is not None:
                    p.grad.mul_(scale)
        self.optimizer.step()

        if self.device.type == "cuda":
            torch.cuda.synchronize()  # so the time below is the step's real time
        seconds = time.perf_counter() - started
        tokens = int(batch["input_ids"].numel()) * distributed.world_size() if "input_ids" in batch else 0
        self.step_count += 1
        self.tokens_seen += tokens
        self.elapsed_s += seconds
        event = {"step": step, "loss": loss_value, "lr": lr, "grad_norm": grad_norm,
                 "grad_norms_by_layer": by_layer, "tokens_per_s": tokens / seconds if seconds > 0 else 0.0,
                 "tokens_seen": self.tokens_seen, "elapsed_s": self.elapsed_s, "device": str(self.device)}
        event.update(self._loss_parts(out))
        self._emit("step", event)
        if self.eval_batches is not None and self.eval_every and self.step_count % self.eval_every == 0:
            self.evaluate()
        return event

    @staticmethod
    def _loss_parts(out) -> dict:
        """Scalar parts of a structured loss (ELECTRA: generator_loss, discriminator_loss)."""
        parts = {}
        for name in ("generator_loss", "discriminator_loss"):
            value = getattr(out, name, None)
            if isinstance(value, torch.Tensor) and value.dim() == 0:
                parts[name] = float(value.detach())
        return parts

    def _diverged(self, step: int, loss: float, grad_norm: float, lr: float):
        what = f"loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {grad_norm}"
        causes = f"the learning rate is probably too high (lr at this step = {lr:.3g}, base lr = {self.lr:.3g}"
        causes += ", and there is no warmup" if self.warmup_steps == 0 else f", warmup = {self.warmup_steps} steps"
        message = (f"training diverged at step {step}: {what}. Likely cause: {causes}). Try a 10x smaller lr, "
                   f"a warmup of ~{max(100, self.total_steps // 20)} steps, or gradient clipping (grad_clip=1.0).")
        self._state = "stopped"
        self._emit("diverged", {"step": step, "loss": loss, "grad_norm": grad_norm, "lr": lr, "message": message})
        self.optimizer.zero_grad(set_to_none=True)  # the bad gradient is never applied
        raise TrainingDiverged(message, step, loss, lr)

    # --- evaluation -----------------------------------------------------------------------------------------
    @torch.no_grad()
    def evaluate(self) -> dict:
        """Mean loss over the validation batches (model in eval mode, no dropout); emits an "eval" event."""
        if self.eval_batches is None:
            raise ValueError("no eval_batches were given to the Trainer")
        was_training = self.model.training
        self.model.eval()
        rng_state = torch.get_rng_state()
        if callable(self.eval_batches):
            batches = (self.eval_batches(i) for i in range(self.eval_steps))
        else:
            batches = iter(self.eval_batches)
        total, count = 0.0, 0
        for i, batch in enumerate(batches):
            torch.manual_seed(step_seed(self.seed, i, "eval"))  # the same masks every evaluation
            batch = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v
                     for k, v in distributed.shard(batch).items()}
            loss, _ = self._loss(self.model, batch)
            total += loss.item()
            count += 1
        torch.set_rng_state(rng_state)
        self.model.train(was_training)
        event = {"step": self.step_count, "val_loss": distributed.mean_across_ranks(total / max(count, 1),
                                                                                    self.device)}
        if self.metrics_fn is not None:
            event.update(self.metrics_fn(self))
        self._emit("eval", event)
        return event

    # --- running --------------------------------------------------------------------------------------------
    def run(self, steps: int | None = None) -> History:
        """Train `steps` more steps (default: until total_steps), unless paused or stopped first.

        Returns the history. Ends in state "finished" (total reached), "paused" (pause() or the requested
        number of steps done) or "stopped" (stop())."""
        target = self.total_steps if steps is None else min(self.total_steps, self.step_count + steps)
        self._target_step = target
        self._pause_requested.clear()
        self._stop_requested.clear()
        self._state = "running"
        main = distributed.is_main_process()
        if self.progress and main and self._bar is None:
            from tqdm.auto import tqdm
            self._bar = tqdm(total=self.total_steps, initial=self.step_count, desc="training", unit="step")
        try:
            while self.step_count < target:
                if self._stop_requested.is_set() or self._pause_requested.is_set():
                    break
                event = self.step()
                if self._bar is not None:
                    self._bar.update(1)
                    if event["step"] % self.log_every == 0:
                        self._bar.set_postfix(loss=f"{event['loss']:.3f}", lr=f"{event['lr']:.2e}")
        except BaseException:
            self._state = "stopped"
            self._close_bar()
            raise
        if self.step_count >= self.total_steps:
            self._state = "finished"
            if self.eval_batches is not None and not (self.history.val_steps and
                                                      self.history.val_steps[-1] == self.step_count):
                self.evaluate()
        elif self._stop_requested.is_set():
            self._state = "stopped"
        else:
            self._state = "paused"
        if self._state in ("finished", "stopped"):
            self._close_bar()
            self._emit("end", {"step": self.step_count, "state": self._state, "elapsed_s": self.elapsed_s,
                               "tokens_seen": self.tokens_seen})
        return self.history

    def _close_bar(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def run_in_background(self, steps: int | None = None) -> threading.Thread:
        """Start run(steps) in a thread and return at once (a Jupyter kernel stays responsive, so widgets can
        pause or stop). Exceptions are kept in `trainer.error` and raised again by wait()."""
        if self._thread is not None and self._thread.is_alive():
            raise RuntimeError("this trainer is already running in the background; pause(), stop() or wait() first")
        self.error = None
        self._resume_in_background = True
        # Mark running now, so a caller that checks `state` right after this call sees it.
        self._state = "running"

        def target():
            try:
                self.run(steps)
            except BaseException as error:  # kept for wait(); the thread itself must not die noisily
                self.error = error

        self._thread = threading.Thread(target=target, name="lmteach-trainer", daemon=True)
        self._thread.start()
        return self._thread

    def wait(self, timeout: float | None = None) -> History:
        """Block until the background run ends (or timeout seconds pass); re-raise its error, if any."""
        if self._thread is not None:
            self._thread.join(timeout)
        if self.error is not None:
            error, self.error = self.error, None
            raise error
        return self.history

    def pause(self):
        """Ask the loop to pause after the current step (it returns; state becomes "paused")."""
        self._pause_requested.set()

    def resume(self, steps: int | None = None):
        """Continue a paused run towards its target: in a background thread if it was started that way."""
        if self._state == "running":
            return None
        if self._thread is not None and self._thread.is_alive():
            self._thread.join()  # the old thread is finishing its last step
        remaining = steps if steps is not None else (
            None if self._target_step is None else max(0, self._target_step - self.step_count))
        if self._resume_in_background:
            return self.run_in_background(remaining)
        return self.run(remaining)

    def stop(self):
        """Ask the loop to stop after the current step (state becomes "stopped")."""
        self._stop_requested.set()
        if self._state in ("paused", "idle"):
            self._state = "stopped"
            self._close_bar()
            self._emit("end", {"step": self.step_count, "state": "stopped", "elapsed_s": self.elapsed_s,
                               "tokens_seen": self.tokens_seen})

    # --- checkpoints ----------------------------------------------------------------------------------------
    def save(self, path, extra: dict | None = None):
        """Write a checkpoint (weights, config, tokenizer, optimizer, history, step). Only rank 0 writes."""
        if distributed.is_main_process():
            save_checkpoint(path, self.model, tokenizer=self.tokenizer, step=self.step_count,
                            history=self.history, optimizer=self.optimizer, head=head_name(self.model), extra=extra)
        distributed.barrier()
        return path

    def resume_from(self, path):
        """Load weights, optimizer state, step and history from a checkpoint written by save(); the next
        step continues exactly where that run left off (the data and the lr depend only on the step)."""
        info = read_info(path)
        load_weights(self.model, path, device=self.device)
        load_optimizer_state(self.optimizer, path, device=self.device)
        self.step_count = int(info["step"])
        self.history = History.from_dict(info.get("history"))
        step_events = [e for e in self.history.events if e["event"] == "step"]
        if step_events:
            self.tokens_seen = step_events[-1].get("tokens_seen", 0)
            self.elapsed_s = step_events[-1].get("elapsed_s", 0.0)
        self._state = "finished" if self.step_count >= self.total_steps else "paused"
        return self
