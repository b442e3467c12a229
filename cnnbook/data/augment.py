"""Augmentations of a whole float batch (B, C, H, W) at once, on its device."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import torch
from torch import Tensor

from .._checks import check_float, check_int
from .dataset import describe

__all__ = ["Augmentation", "random_shift", "random_crop", "random_flip", "compose", "translate"]


class Augmentation:
    """A random transformation of a whole float batch (B, C, H, W) -> (B, C, H, W), computed on the
    batch's device with one random draw per image. ``generator`` (optional) makes it repeatable."""

    def __init__(self, name: str, fn: Callable[..., Tensor], generator: torch.Generator | None = None,
                 **params: Any) -> None:
        self.name, self.fn, self.generator, self.params = name, fn, generator, params

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
            raise ValueError(f"x must be a float batch of shape (B, C, H, W), got {describe(x)}")
        return self.fn(x, generator=self.generator, **self.params)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


def _rand(shape: Sequence[int], x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform [0, 1) numbers on x's device (drawn where the generator lives)."""
    where = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=where).to(x.device, non_blocking=True)


def translate(x: Tensor, dx: Tensor, dy: Tensor, fill: float = 0.0) -> Tensor:
    """Move image b of x (B, C, H, W) by dx[b] whole pixels right and dy[b] down (negative: left,
    up); pixels that leave the frame are dropped and the uncovered ones get ``fill``. dx, dy: int
    tensors (B,). The shift behind :func:`random_shift` and :func:`cnnbook.robustness.shift_images`
    (LeNet-5 chapter)."""
    b, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h) - dy.view(b, 1)  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, w) - dx.view(b, 1)
    out = x.gather(2, rows.clamp(0, h - 1).view(b, 1, h, 1).expand(b, c, h, w))
    out = out.gather(3, cols.clamp(0, w - 1).view(b, 1, 1, w).expand(b, c, h, w))
    valid = ((rows >= 0) & (rows < h)).view(b, 1, h, 1) & ((cols >= 0) & (cols < w)).view(b, 1, 1, w)
    return torch.where(valid, out, fill)


def _random_translate(x: Tensor, *, generator: torch.Generator | None, max_shift: int, fill: float) -> Tensor:
    if max_shift == 0:
        return x
    shifts = (_rand((2, x.shape[0]), x, generator) * (2 * max_shift + 1)).long() - max_shift
    return translate(x, shifts[0], shifts[1], fill)


def _random_crop(x: Tensor, *, generator: torch.Generator | None, padding: int, fill: float) -> Tensor:
    return _random_translate(x, generator=generator, max_shift=padding, fill=fill)


def _random_flip(x: Tensor, *, generator: torch.Generator | None, p: float) -> Tensor:
    flip = _rand((x.shape[0],), x, generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def random_shift(max_shift: int, *, fill: float = 0.0, generator: torch.Generator | None = None) -> Augmentation:
    """Shift each image by its own random whole number of pixels, -max_shift..max_shift in x and in
    y; the uncovered border gets ``fill`` (0: black, the background of MNIST digits). Batch
    (B, C, H, W) -> (B, C, H, W). The same operation as :func:`random_crop` with padding=max_shift,
    under the name used for digits."""
    check_int("max_shift", max_shift, low=0)
    return Augmentation("random_shift", _random_translate, generator, max_shift=max_shift, fill=float(fill))


def random_crop(padding: int, *, fill: float = 0.0, generator: torch.Generator | None = None) -> Augmentation:
    """Pad each image by ``padding`` pixels of ``fill`` on every side, then crop it back to H x W at
    a random offset -- the CIFAR-10 recipe (padding=4). Batch (B, C, H, W) -> (B, C, H, W), done by
    index arithmetic on the whole batch (no padded copy, no loop over images)."""
    check_int("padding", padding, low=0)
    return Augmentation("random_crop", _random_crop, generator, padding=padding, fill=float(fill))


def random_flip(p: float = 0.5, *, generator: torch.Generator | None = None) -> Augmentation:
    """Mirror each image left-right with probability ``p``. Batch (B, C, H, W) -> (B, C, H, W)."""
    check_float("p", p, low=0, high=1)
    return Augmentation("random_flip", _random_flip, generator, p=float(p))


class compose:  # noqa: N801 -- reads like the functions it combines
    """Apply augmentations one after another: ``compose(random_crop(4), random_flip())``.
    Batch (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, *augs: Callable[[Tensor], Tensor]) -> None:
        for i, aug in enumerate(augs):
            if not callable(aug):
                raise TypeError(f"augs[{i}] must be callable on a batch (B, C, H, W), got {type(aug).__name__}")
        self.augs = augs

    def __call__(self, x: Tensor) -> Tensor:
        for aug in self.augs:
            x = aug(x)
        return x

    def __repr__(self) -> str:
        return f"compose({', '.join(map(repr, self.augs))})"
