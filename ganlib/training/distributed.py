"""Data-parallel training on several processes, one per GPU, launched by torchrun.

::

    torchrun --nproc_per_node 4 -m ganlib train dcgan --dataset cifar10 --out runs/dcgan

Each of the N processes holds a full copy of every network and trains on its own shard of the data
(``images[rank::N]``) with its own noise stream; after every backward pass the gradients are averaged
over the processes before the optimiser steps, so the replicas stay identical and one step equals a
single process's step on the N shards' batches concatenated. ``--batch-size`` stays the *global*
batch (each process draws ``batch_size / N``), so a run means the same thing on one GPU or eight:
same learning rates, same EMA half-life in images, same ProGAN schedule, only faster.

:func:`ganlib.training.fit` does all of this; tasks do not see it. What it does when
``torch.distributed`` is initialised:

- parameters and buffers are broadcast from rank 0 at the start (the replicas begin equal);
- batch norm becomes ``nn.SyncBatchNorm`` on CUDA, so statistics are those of the global batch
  (PyTorch's SyncBatchNorm runs on GPUs only: on CPU each process normalises over its own shard);
  buffers (running statistics, StyleGAN's average w) are broadcast from rank 0 after every step;
- an optimiser step pre-hook averages the gradients (:func:`average_gradients`): one flat all-reduce
  per optimiser step;
- logged metrics are averaged over the processes, so every process sees the same numbers and stops
  together on a non-finite loss;
- rank 0 alone shows progress and writes checkpoints, which hold every process's random state,
  batch position and task state, so ``--resume`` continues exactly, with the same number of processes.

Why not ``nn.parallel.DistributedDataParallel``: its reducer assumes one forward and one backward
per step with every parameter used. A GAN step calls D on reals and fakes, calls a frozen D inside
G's phase, and back-propagates twice through D for gradient penalties and R1; averaging the
gradients at the optimiser step (as StyleGAN2-ADA's training loop does) is exact for all of these.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Iterable

import torch
import torch.distributed as dist
from torch import nn

from ganlib.config import get_device

__all__ = ["World", "current", "init_from_env", "shutdown", "shard", "local_batch_size", "rank_generator",
           "average_gradients", "broadcast", "mean_over_processes", "gather_objects", "sync_batchnorm"]

#: Seeds of different processes are ``seed + rank * RANK_SEED_STRIDE``: apart for any seed below 2**32.
RANK_SEED_STRIDE = 2 ** 32


@dataclass(frozen=True)
class World:
    """This process's place among the training processes."""

    rank: int = 0  # 0 .. size - 1; rank 0 writes files and shows progress
    size: int = 1  # number of processes
    local_rank: int = 0  # index of this process on its machine: its GPU

    @property
    def main(self) -> bool:
        """True in the process that writes checkpoints, logs and samples."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def current() -> World:
    """The running process group as a :class:`World` (one process when torch.distributed is not initialised)."""
    if not (dist.is_available() and dist.is_initialized()):
        return World()
    return World(dist.get_rank(), dist.get_world_size(), int(os.environ.get("LOCAL_RANK", 0)))


def init_from_env(device: str | torch.device = "auto") -> tuple[World, torch.device]:
    """Join the process group torchrun describes in the environment (RANK, WORLD_SIZE, MASTER_ADDR ...).

    Without those variables (a plain ``python -m ganlib ...``) nothing happens: one process, ``device``
    as resolved by :func:`ganlib.config.get_device`. Under torchrun, each process takes the GPU
    ``cuda:LOCAL_RANK`` and the NCCL backend when CUDA is used, else the CPU and gloo.

    Returns:
        ``(world, device)``.

    Raises:
        ValueError: the environment asks for several processes but names no rendezvous, or asks for
            several processes on one machine's single GPU.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    device = get_device(device)
    if size <= 1:
        return World(), device
    if dist.is_initialized():
        world = current()
    else:
        if "MASTER_ADDR" not in os.environ:
            raise ValueError("WORLD_SIZE > 1 but no MASTER_ADDR: start several processes with torchrun "
                             "(torchrun --nproc_per_node N -m ganlib train ...), not by setting WORLD_SIZE by hand")
        local_rank = int(os.environ.get("LOCAL_RANK", "0"))
        if device.type == "cuda":
            if local_rank >= torch.cuda.device_count():
                raise ValueError(f"process {local_rank} on this machine has no GPU of its own "
                                 f"({torch.cuda.device_count()} visible): use --nproc_per_node at most that many")
            torch.cuda.set_device(local_rank)
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        world = current()
    if device.type == "cuda":
        device = torch.device("cuda", world.local_rank)
    elif device.type != "cpu":
        raise ValueError(f"several processes train on CUDA (NCCL) or the CPU (gloo), not on {device.type}")
    return world, device


def shutdown(*, wait: bool = True) -> None:
    """Leave the process group, if one was joined (the end of a torchrun run).

    With ``wait`` every process first waits for the others to arrive: a process that tears down its gloo or NCCL
    connections while another still finishes its work (rank 0 writing samples) can abort the run at exit. A
    process leaving on an error passes ``wait=False``, since its peers may never arrive (torchrun stops them).
    """
    if dist.is_available() and dist.is_initialized():
        if wait:
            dist.barrier()
        dist.destroy_process_group()


def shard(data: torch.Tensor, world: World | None = None) -> torch.Tensor:
    """This process's share of a data set: items ``rank, rank + N, rank + 2N, ...``, (N_items / N, ...)."""
    world = world or current()
    return data[world.rank::world.size] if world.distributed else data


def local_batch_size(batch_size: int, world: World | None = None) -> int:
    """The batch each process draws so that the processes together draw ``batch_size``.

    Raises:
        ValueError: ``batch_size`` is not a multiple of the number of processes.
    """
    world = world or current()
    if batch_size % world.size:
        raise ValueError(f"the batch size {batch_size} is split over {world.size} processes and must be a multiple "
                         f"of {world.size}; choose --batch-size {max(world.size, batch_size - batch_size % world.size)}")
    return batch_size // world.size


def rank_generator(generator: torch.Generator, seed: int, world: World | None = None) -> torch.Generator:
    """``generator`` itself in rank 0 (a one-process run is unchanged), a generator of its own in every other rank."""
    world = world or current()
    return generator if world.rank == 0 else torch.Generator().manual_seed(seed + world.rank * RANK_SEED_STRIDE)


def _coalesced(tensors: list[torch.Tensor], op) -> None:
    """Apply ``op`` (an in-place collective on one flat tensor) to many tensors, one call per dtype and device."""
    groups: dict[tuple, list[torch.Tensor]] = {}
    for t in tensors:
        groups.setdefault((t.dtype, t.device), []).append(t)
    for group in groups.values():
        flat = torch.cat([t.reshape(-1) for t in group])
        op(flat)
        for t, part in zip(group, flat.split([t.numel() for t in group])):
            t.copy_(part.view_as(t))


@torch.no_grad()
def average_gradients(params: Iterable[torch.Tensor], world: World | None = None) -> None:
    """Replace each parameter's gradient by its mean over the processes (one all-reduce per dtype).

    Parameters without a gradient are skipped; the same code runs in every process, so they are the
    same ones everywhere.
    """
    world = world or current()
    if not world.distributed:
        return
    grads = [p.grad for p in params if p.grad is not None]
    if grads:
        _coalesced(grads, lambda flat: (dist.all_reduce(flat), flat.div_(world.size)))


@torch.no_grad()
def broadcast(tensors: Iterable[torch.Tensor], src: int = 0) -> None:
    """Overwrite the tensors in every process with rank ``src``'s (e.g. parameters and buffers)."""
    if current().distributed:
        _coalesced(list(tensors), lambda flat: dist.broadcast(flat, src))


def mean_over_processes(values: dict[str, float]) -> dict[str, float]:
    """The mean of each named value over the processes (every process calls this with the same names)."""
    world = current()
    if not world.distributed or not values:
        return values
    flat = torch.tensor(list(values.values()), dtype=torch.float64)
    if dist.get_backend() == "nccl":
        flat = flat.cuda()
    dist.all_reduce(flat)
    return dict(zip(values, (flat / world.size).tolist()))


def gather_objects(obj) -> list:
    """Every process's ``obj`` (picklable), in rank order; a list of one outside distributed training."""
    world = current()
    if not world.distributed:
        return [obj]
    out = [None] * world.size
    dist.all_gather_object(out, obj)
    return out


def sync_batchnorm(module: nn.Module) -> nn.Module:
    """``module`` with its batch norms turned into ``nn.SyncBatchNorm`` (same parameters, same state dict keys)."""
    if isinstance(module, nn.modules.batchnorm._BatchNorm):
        raise TypeError("sync_batchnorm converts the batch norms inside a network, not a bare batch norm layer")
    return nn.SyncBatchNorm.convert_sync_batchnorm(module)  # replaces children in place, keeps the Parameters
