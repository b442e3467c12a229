"""Batches drawn on the training device: :class:`DeviceLoader`."""

from __future__ import annotations

from dataclasses import replace
from typing import Callable, Iterator

import torch
from torch import Tensor

from .._checks import as_device, check_int
from ..runtime import device as default_device
from .dataset import ImageDataset, as_dataset

__all__ = ["DeviceLoader"]


class DeviceLoader:
    """Batches ``(x, y)`` drawn on ``device``: x float32 (B, C, H, W) normalised, y int64 (B,).

    The dataset moves to the device once (uint8: a quarter of the float size). Each epoch draws a
    permutation on the device (``shuffle=True``; seeded by ``seed`` and the epoch, so runs repeat),
    and each batch is indexed on the device, converted to float in [0, 1], augmented as a whole
    batch by ``augment`` (padding therefore fills with black, 0), then normalised with the
    dataset's mean/std. Nothing in the loop waits for the device.

    Every iteration is a new epoch (a new order); :meth:`set_epoch` picks the epoch explicitly. With
    ``world_size > 1`` each ``rank`` takes every world_size-th sample of the same permutation, the
    order padded by repeating its start so that every rank gets the same number of batches (as
    torch's DistributedSampler). ``drop_last`` drops an incomplete last batch (and, across ranks,
    the samples that do not divide evenly). If the data does not fit into half the free GPU memory
    it stays in pinned host memory and each batch is copied over asynchronously; ``on_host=True``
    asks for that path whatever the sizes (``None``: decide by the free memory). LeNet-5 chapter.
    """

    def __init__(self, data: ImageDataset | tuple[Tensor, Tensor] | list[Tensor], batch_size: int, *,
                 shuffle: bool = False, augment: Callable[[Tensor], Tensor] | None = None,
                 device: torch.device | str | None = None, drop_last: bool = False, seed: int | None = None,
                 rank: int = 0, world_size: int = 1, on_host: bool | None = None) -> None:
        check_int("batch_size", batch_size, low=1)
        check_int("world_size", world_size, low=1)
        check_int("rank", rank, low=0, high=world_size - 1)
        if augment is not None and not callable(augment):
            raise TypeError("augment must be a callable on a float batch (B, C, H, W) or None, "
                            f"got {type(augment).__name__}")
        if seed is not None:
            check_int("seed", seed)
        dataset = as_dataset(data)
        self.device = as_device(device) if device is not None else default_device()
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.rank, self.world_size = rank, world_size
        # all ranks must draw the same permutation: without a seed they share seed 0
        self.seed = seed if seed is not None else 0 if world_size > 1 else int(torch.randint(2**31 - 1, ()))
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // world_size if drop_last else -(-n // world_size)  # per rank
        if len(self) == 0:
            raise ValueError(f"batch_size={batch_size} leaves no batch: {self.num_samples} samples per rank"
                             f"{' and drop_last=True' if drop_last else ''}")

        self._on_host = bool(on_host) if on_host is not None else _too_big_for(self.device, dataset.images)
        if self._on_host:
            self.dataset = replace(dataset, images=_pinned(dataset.images), labels=dataset.labels.to(self.device))
        else:
            self.dataset = dataset.to(self.device)
        self._index_device = torch.device("cpu") if self._on_host else self.device
        # permutations are drawn on CUDA (or the CPU); other devices get one copy per epoch from the CPU
        self._generator = torch.Generator(device=self._index_device if self._index_device.type == "cuda" else "cpu")
        channels = dataset.images.shape[1]
        mean = torch.tensor(dataset.mean, device=self.device).view(1, channels, 1, 1)
        std = torch.tensor(dataset.std, device=self.device).view(1, channels, 1, 1)
        self._scale, self._shift = 1 / std, -mean / std  # x_normalised = x * scale + shift
        self._uint8 = dataset.images.dtype == torch.uint8
        self._scale_pixels = self._scale / 255 if self._uint8 else self._scale  # uint8 0..255 straight in

    def __len__(self) -> int:
        """Batches per epoch (on this rank)."""
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __repr__(self) -> str:
        return (f"DeviceLoader({self.dataset.name!r}, {len(self.dataset):,} images, batch_size={self.batch_size}, "
                f"{len(self)} batches, shuffle={self.shuffle}, augment={self.augment!r}, device={self.device})")

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch``: its order depends only on (seed, epoch)."""
        check_int("epoch", epoch, low=0)
        self.epoch = epoch

    def order(self, epoch: int) -> Tensor:
        """The sample indices (num_samples,) this rank visits in ``epoch``, on the indexing device."""
        n = len(self.dataset)
        gen_device = self._generator.device
        if self.shuffle:
            self._generator.manual_seed((self.seed * 1_000_003 + epoch) % 2**63)
            perm = torch.randperm(n, generator=self._generator, device=gen_device)
        else:
            perm = torch.arange(n, device=gen_device)
        total = self.num_samples * self.world_size
        if total > n:  # pad by repeating the start, so every rank gets num_samples
            perm = perm.repeat(-(-total // n))
        perm = perm[:total][self.rank::self.world_size]
        perm = perm.to(self._index_device, non_blocking=True)
        return _pinned(perm) if self._on_host else perm  # pinned: batch indices copy asynchronously

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self.order(self.epoch)
        self.epoch += 1
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start:start + self.batch_size])

    def _batch(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        x = self.dataset.images.index_select(0, idx)
        if self._on_host:
            x = _pinned(x).to(self.device, non_blocking=True)
            idx = idx.to(self.device, non_blocking=True)
        y = self.dataset.labels.index_select(0, idx)
        x = x.float()
        if self.augment is None:  # one fused step: x / 255 * scale + shift
            return torch.addcmul(self._shift, x, self._scale_pixels), y
        if self._uint8:
            x = x.mul_(1 / 255)
        return torch.addcmul(self._shift, self.augment(x), self._scale), y


def _too_big_for(device: torch.device, images: Tensor) -> bool:
    """True if host ``images`` would take more than half of the GPU's free memory."""
    return device.type == "cuda" and images.device.type == "cpu" and \
        images.nbytes > 0.5 * torch.cuda.mem_get_info(device)[0]


def _pinned(t: Tensor) -> Tensor:
    """``t`` in page-locked host memory (copies to the GPU can then run asynchronously), if possible."""
    try:
        return t.pin_memory()
    except RuntimeError:
        return t

