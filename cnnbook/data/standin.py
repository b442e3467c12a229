"""A generated, learnable stand-in for CIFAR-10 (it is *not* CIFAR-10), for offline smoke tests."""

from __future__ import annotations

import functools
import math

import torch
from torch import Tensor

from .dataset import SPLITS, STAND_IN_CLASSES, ImageDataset

__all__ = ["cifar10_stand_in"]

# measured on the stand-in's own training split (tests check them against the data)
_STAND_IN_MEAN, _STAND_IN_STD = (0.4989, 0.5004, 0.5019), (0.3011, 0.3022, 0.3025)
_STAND_IN_SIZE = {"train": 10_000, "test": 2_000}
_STAND_IN_SEED = {"train": 0, "test": 1}


def cifar10_stand_in(split: str = "train") -> ImageDataset:
    """A generated, learnable stand-in for CIFAR-10 (it is *not* CIFAR-10): 10 classes of 3x32x32
    uint8 images -- gratings, textures and shapes (:data:`STAND_IN_CLASSES`) at random positions,
    sizes, angles and colours, on shaded backgrounds with noise. Deterministic: 10,000 train and
    2,000 test images, every class equally often. images (N, 3, 32, 32), labels (N,).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images, labels = _generate_stand_in(_STAND_IN_SIZE[split], _STAND_IN_SEED[split])
    return ImageDataset(images.clone(), labels.clone(), STAND_IN_CLASSES, "CIFAR-10 stand-in (generated)", "stand-in",
                        _STAND_IN_MEAN, _STAND_IN_STD)


@functools.lru_cache(maxsize=2)  # generated once per process and split; callers get copies
def _generate_stand_in(n: int, seed: int, size: int = 32) -> tuple[Tensor, Tensor]:
    """``n`` images (n, 3, size, size) uint8 and labels (n,): a mask per image (which pixels show
    the pattern, softly) blends a foreground colour over a shaded background, then noise."""
    g = torch.Generator().manual_seed(seed)

    def uniform(lo: float, hi: float, *shape: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=g)]
    grid = (torch.arange(size) + 0.5) * (2 / size) - 1  # pixel centres in [-1, 1]
    y, x = grid.view(1, -1, 1), grid.view(1, 1, -1)
    sharp = size / 2 / 0.6  # soft edges about half a pixel wide

    def inside(distance: Tensor) -> Tensor:  # signed distance to the edge (> 0 inside) -> mask
        return torch.sigmoid(distance * sharp)

    mask = torch.empty(n, size, size)
    for c in range(10):  # each class at random positions, sizes, angles, frequencies
        idx = (labels == c).nonzero().squeeze(1)
        m = len(idx)
        tilt = 0.25 if c <= 2 else 0.4  # radians; small for the gratings, whose angle is their class
        dx, dy = x - uniform(-0.35, 0.35, m, 1, 1), y - uniform(-0.35, 0.35, m, 1, 1)
        angle = uniform(-tilt, tilt, m, 1, 1)
        s, k = uniform(0.45, 0.8, m, 1, 1), math.pi * uniform(2.2, 4.0, m, 1, 1)
        phase = uniform(0, 2 * math.pi, m, 1, 1)
        cos, sin = angle.cos(), angle.sin()
        u, v = dx * cos + dy * sin, dy * cos - dx * sin  # coordinates along and across the pattern
        if c <= 4:  # textures, in a soft disc
            window = inside(s + 0.2 - torch.hypot(u, v))
            if c == 0:
                wave = torch.sin(k * v + phase).mul_(0.5).add_(0.5)
            elif c == 1:
                wave = torch.sin(k * u + phase).mul_(0.5).add_(0.5)
            elif c == 2:  # either diagonal, so that a mirrored image stays in its class
                sign = torch.where(torch.rand(m, 1, 1, generator=g) < 0.5, 1.0, -1.0)
                wave = torch.sin(k * (u + sign * v) / math.sqrt(2) + phase).mul_(0.5).add_(0.5)
            elif c == 3:
                wave = inside(0.12 * torch.sin(k * u) * torch.sin(k * v))
            else:
                wave = inside(0.25 * (torch.cos(k * u) * torch.cos(k * v) - 0.4))
            mask[idx] = window * wave
        elif c == 5:
            mask[idx] = inside(s - torch.hypot(u, v))
        elif c == 6:
            mask[idx] = inside(0.09 + 0.06 * s - (torch.hypot(u, v) - 0.8 * s).abs())
        elif c == 7:
            mask[idx] = inside(0.85 * s - torch.maximum(u.abs(), v.abs()))
        elif c == 8:
            arm, au, av = 0.2 * s, u.abs(), v.abs()
            mask[idx] = inside(torch.maximum(torch.minimum(arm - au, s - av), torch.minimum(arm - av, s - au)))
        else:  # an upright triangle: apex at v = -s, base at v = 0.7 s
            mask[idx] = inside(torch.minimum(0.7 * s - v, (v + s) / 1.7 - u.abs()))
    return _colour(mask, x, y, g), labels


def _colour(mask: Tensor, x: Tensor, y: Tensor, g: torch.Generator) -> Tensor:
    """uint8 images (n, 3, size, size) from masks (n, size, size): colours in 0..255 (+0.5, so that
    truncating to uint8 rounds), a shaded background and a foreground colour at a random distance
    from it, blended by the mask, plus grey noise. Draws from ``g`` after the masks."""
    n, size = mask.shape[0], mask.shape[-1]

    def uniform(lo: float, hi: float, *shape: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    background = torch.rand(n, 3, 1, 1, generator=g) * 255 + 0.5
    lighter = torch.where(torch.rand(n, 1, 1, 1, generator=g) < 0.5, 1.0, -1.0)  # lighter or darker
    direction = torch.nn.functional.normalize(torch.randn(n, 3, 1, 1, generator=g) + lighter, dim=1)
    foreground = (background + direction * uniform(0.45 * 255, 0.8 * 255, n, 1, 1, 1)).clamp(0.5, 255.5)
    shading = uniform(-38, 38, n, 1, 1, 1) * x + uniform(-38, 38, n, 1, 1, 1) * y
    img = torch.lerp(background + shading, foreground, mask.unsqueeze(1))
    img += uniform(0.02 * 255, 0.07 * 255, n, 1, 1, 1) * torch.randn(n, 1, size, size, generator=g)
    return img.clamp_(0, 255).to(torch.uint8)

