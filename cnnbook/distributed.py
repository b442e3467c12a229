"""Data-parallel training with torch.distributed: the same loop on N processes.

Launched with ``torchrun --nproc_per_node=N -m cnnbook train ...``, every process runs the same
script. torchrun sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``; :func:`setup` reads them, joins
the process group (gloo on CPU, NCCL on CUDA GPUs) and says which device this process uses. Each
process then trains on its own share of every batch; ``DistributedDataParallel`` averages the
gradients, so all copies of the model stay equal. Only rank 0 prints and writes files.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import Iterator

import torch
import torch.distributed as dist

__all__ = ["World", "world", "setup", "cleanup", "joined", "all_reduce_sum", "requested"]


@dataclass(frozen=True)
class World:
    """Where this process stands: ``rank`` of ``size`` processes, ``local_rank`` on this machine."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0

    @property
    def is_main(self) -> bool:
        """True on the process that prints and writes files (rank 0)."""
        return self.rank == 0

    @property
    def active(self) -> bool:
        """True when training is spread over more than one process."""
        return self.size > 1


def _env_int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError as err:
        raise ValueError(f"environment variable {name} must be an integer, got {value!r}") from err


def requested() -> bool:
    """True if this process was started by torchrun (or similar) with ``WORLD_SIZE`` > 1."""
    return _env_int("WORLD_SIZE", 1) > 1


def world() -> World:
    """This process's place: from the initialised process group, else from torchrun's environment."""
    if dist.is_available() and dist.is_initialized():
        return World(dist.get_rank(), dist.get_world_size(), _env_int("LOCAL_RANK", 0))
    return World(_env_int("RANK", 0), _env_int("WORLD_SIZE", 1), _env_int("LOCAL_RANK", 0))


def setup(device: torch.device | str | None = None) -> tuple[World, bool]:
    """Join the process group if torchrun asked for one and it is not joined yet.

    Backend: NCCL when ``device`` is a CUDA device (each process then uses ``cuda:LOCAL_RANK``),
    gloo otherwise. Returns ``(world, created)``: ``created`` is True if this call made the group,
    and the caller should then :func:`cleanup` it at the end. Without torchrun it does nothing.
    """
    if not requested() or (dist.is_available() and dist.is_initialized()):
        return world(), False
    if not dist.is_available():
        raise RuntimeError("WORLD_SIZE > 1 but this torch build has no torch.distributed")
    cuda = device is not None and torch.device(device).type == "cuda"
    if cuda:
        torch.cuda.set_device(_env_int("LOCAL_RANK", 0))
    dist.init_process_group(backend="nccl" if cuda else "gloo")
    return world(), True


def cleanup() -> None:
    """Leave the process group (a no-op if none is joined)."""
    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def joined(device: torch.device) -> Iterator[tuple[torch.device, World]]:
    """For the ``with`` block: the device this process computes on (``cuda:LOCAL_RANK`` under
    torchrun on CUDA, else ``device``) and its :class:`World`, in the process group that
    :func:`setup` joins if torchrun asked for one; a group joined here is left at the end. What
    :func:`cnnbook.fit` and ``python -m cnnbook train`` do before anything else."""
    world_, created = setup(device)
    if world_.active and device.type == "cuda":
        device = torch.device("cuda", world_.local_rank)
    try:
        yield device, world_
    finally:
        if created:
            cleanup()


def all_reduce_sum(t: torch.Tensor) -> torch.Tensor:
    """Sum ``t`` (any shape) over all processes, in place; returned as is without a process group."""
    if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
        dist.all_reduce(t, op=dist.ReduceOp.SUM)
    return t
