"""Data-parallel training across processes with DistributedDataParallel (DDP).

The same script runs alone or under `torchrun`:

    python -m lmteach train --model gpt2 ...                                    # one process
    torchrun --nproc_per_node 2 -m lmteach train --model gpt2 ...               # two processes

torchrun sets WORLD_SIZE, RANK, LOCAL_RANK, MASTER_ADDR and MASTER_PORT. `setup()` reads them and joins the
process group (gloo on CPU, NCCL on GPUs). Every rank builds the same *global* batch from (seed, step) and
keeps its own slice of rows (`shard`), so the ranks together see exactly what one process would. DDP then
averages the gradients across ranks during backward(), so every rank takes the same optimizer step.
Only rank 0 shows progress and writes checkpoints.
"""

from __future__ import annotations

import os

import torch
import torch.distributed as dist


def env_world_size() -> int:
    """WORLD_SIZE from the environment (1 when not launched by torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_distributed() -> bool:
    """True once a process group with more than one process is running."""
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def is_main_process() -> bool:
    """Rank 0 (or the only process): the one that logs and saves."""
    return rank() == 0


def setup(backend: str | None = None) -> bool:
    """Join the process group if torchrun started us with WORLD_SIZE > 1. Returns True if distributed.

    backend: "gloo" (CPU) or "nccl" (CUDA); default: nccl when CUDA is available, else gloo.
    On CUDA each process takes the GPU numbered LOCAL_RANK.
    """
    if env_world_size() <= 1:
        return False
    if is_distributed():
        return True
    if backend is None:
        backend = "nccl" if torch.cuda.is_available() else "gloo"
    if backend == "nccl":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
    dist.init_process_group(backend=backend)
    return True


def local_device() -> torch.device | None:
    """The device this rank should use: cuda:LOCAL_RANK under NCCL, else None (let the trainer choose)."""
    if is_distributed() and dist.get_backend() == "nccl":
        return torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
    return None


def cleanup():
    if is_distributed():
        dist.destroy_process_group()


def shard(batch: dict, rank_: int | None = None, world: int | None = None) -> dict:
    """This rank's rows of a global batch: rows [rank * b/W, (rank + 1) * b/W) of every tensor [b, ...].

    The global batch size must divide evenly, so every rank's loss is a mean over the same number of rows and
    the average of the ranks' gradients equals the gradient on the whole batch.
    """
    rank_ = rank() if rank_ is None else rank_
    world = world_size() if world is None else world
    if world == 1:
        return batch
    sizes = {v.shape[0] for v in batch.values() if isinstance(v, torch.Tensor) and v.dim() > 0}
    if len(sizes) != 1:
        raise ValueError(f"cannot shard a batch whose tensors have different first dimensions {sorted(sizes)}")
    (size,) = sizes
    if size % world:
        raise ValueError(f"global batch size {size} is not divisible by the {world} processes; "
                         f"pick a batch size that is a multiple of {world}")
    per_rank = size // world
    rows = slice(rank_ * per_rank, (rank_ + 1) * per_rank)
    return {k: v[rows] if isinstance(v, torch.Tensor) and v.dim() > 0 else v for k, v in batch.items()}


def wrap(model: torch.nn.Module, device: torch.device) -> torch.nn.Module:
    """Wrap a model in DistributedDataParallel (which averages gradients across ranks in backward)."""
    from torch.nn.parallel import DistributedDataParallel

    device_ids = [device.index] if device.type == "cuda" else None
    # Some parameters (e.g. ELECTRA's generator head on a discriminator-only batch) may get no gradient.
    return DistributedDataParallel(model, device_ids=device_ids, find_unused_parameters=False)


def mean_across_ranks(value: float, device: torch.device) -> float:
    """The average of a number over all ranks (the loss every rank should report)."""
    if not is_distributed():
        return value
    t = torch.tensor([value], dtype=torch.float64 if device.type == "cpu" else torch.float32, device=device)
    dist.all_reduce(t)
    return float(t.item()) / dist.get_world_size()


def barrier():
    if is_distributed():
        dist.barrier()


def average_gradients(model: torch.nn.Module):
    """All-reduce every gradient and divide by the number of ranks: what DDP does inside backward(), written
    out. Used when a custom loss_fn calls parts of the model (ELECTRA's generator and discriminator) instead of
    its forward, which DDP needs to see."""
    if not is_distributed():
        return
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])  # one message instead of one per tensor
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset:offset + g.numel()].view_as(g))
        offset += g.numel()
