"""How a trained classifier holds up when its test images are disturbed: noise and shifts.

* :func:`shift_images` moves images by whole pixels, filling the uncovered border with background;
* :func:`add_noise` adds Gaussian pixel noise and clips back to the valid range [0, 1];
* :func:`accuracy_vs_noise` and :func:`accuracy_vs_shift` measure test accuracy (percent) at each
  level; every forward pass holds all levels of a chunk of images, vectorised.

Images are handled in pixel units (floats in [0, 1], background 0, as in MNIST) and normalised with
the dataset's mean and std just before the model sees them, exactly as :class:`cnnbook.DeviceLoader`
does during training. Images smaller than the model's ``input_size`` (28x28 digits for the 32x32
``LeNet5Classic``) are zero-padded on every side, after the disturbance, as the 1998 paper did,
and keep the dataset's mean/std: exactly the inputs :func:`cnnbook.pad_images` gives ``fit``.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ._checks import as_device, check_float, check_int, eval_mode, model_device
from .data import as_dataset, translate

__all__ = ["shift_images", "add_noise", "prepare", "accuracy_vs_noise", "accuracy_vs_shift"]

_AXES = ("x", "y", "xy")


def shift_images(x: torch.Tensor, dx: int = 0, dy: int = 0) -> torch.Tensor:
    """Move every image ``dx`` pixels right and ``dy`` pixels down (negative: left, up).

    Pixels that leave the frame are dropped; the uncovered border is filled with 0 (background).

    Args:
        x: float (N, C, H, W) or (C, H, W).
        dx, dy: integer shifts; a shift as large as the image leaves only background.

    Returns:
        a tensor of the same shape, dtype and device as ``x``.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4):
        raise ValueError(f"x must have shape (N, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    dx, dy = check_int("dx", dx), check_int("dy", dy)
    batch = x if x.dim() == 4 else x.unsqueeze(0)
    n = batch.shape[0]
    # torch.full builds the shifts on the device: no host-to-device copy, no wait on the GPU
    shift_x, shift_y = (torch.full((n,), v, device=x.device) for v in (dx, dy))
    out = translate(batch, shift_x, shift_y, fill=0.0)  # the shift random_shift draws from
    return out if x.dim() == 4 else out[0]


def add_noise(x: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """``clip(x + sigma * z, 0, 1)`` with z standard normal, drawn on ``x``'s device.

    Args:
        x: float images in [0, 1], any shape.
        sigma: noise standard deviation in pixel units (0 = unchanged, 1 = as large as the range).
        generator: a torch.Generator on ``x``'s device for reproducible noise (optional).

    Returns:
        a tensor of the same shape as ``x``, in [0, 1].
    """
    sigma = check_float("sigma", sigma, low=0)
    if sigma == 0:
        return x
    z = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
    return (x + sigma * z).clamp_(0, 1)


def prepare(model: nn.Module, x: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> torch.Tensor:
    """Pixel images (N, C, h, w) in [0, 1] -> what ``model`` takes: normalised, padded to its input size.

    If the model has an ``input_size`` (C, H, W) larger than (h, w), the images are padded with
    background (0) equally on every side before normalising, e.g. 28x28 -> 32x32 for LeNet5Classic.
    """
    size = getattr(model, "input_size", None)
    if size is not None:
        ph, pw = size[-2] - x.shape[-2], size[-1] - x.shape[-1]
        if ph > 0 or pw > 0:
            ph, pw = max(ph, 0), max(pw, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
    m = torch.as_tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.as_tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s


@torch.no_grad()
def _accuracy_under(model: nn.Module, data: object, disturb: Callable[[torch.Tensor, int], torch.Tensor],
                    n_settings: int, batch_size: int, device: torch.device | str | None) -> list[float]:
    """Accuracy (%) for each of ``n_settings`` disturbances ``disturb(x, i)`` of pixel batches x.

    Each forward pass holds all settings of a chunk of about ``batch_size / n_settings`` images,
    so a pass sees about ``batch_size`` images whatever the number of settings.
    """
    check_int("batch_size", batch_size, low=1)
    ds = as_dataset(data, name="data")
    images, labels = ds.images, ds.labels
    device = model_device(model) if device is None else as_device(device)
    chunk = max(1, batch_size // n_settings)
    correct = torch.zeros(n_settings, dtype=torch.long, device=device)
    with eval_mode(model):
        for start in range(0, len(images), chunk):
            xb = images[start : start + chunk].to(device, non_blocking=True)
            xb = xb.float() / 255 if not xb.is_floating_point() else xb.float()
            yb = labels[start : start + chunk].to(device, non_blocking=True)
            xs = torch.cat([disturb(xb, i) for i in range(n_settings)])  # (n_settings * B, C, H, W)
            pred = model(prepare(model, xs, ds.mean, ds.std)).argmax(1).view(n_settings, -1)
            correct += (pred == yb).sum(1)
    return (correct.double() * 100 / len(images)).tolist()  # one host sync


def accuracy_vs_noise(model: nn.Module, data: object, levels: Sequence[float], *, batch_size: int = 1024,
                      device: torch.device | str | None = None, seed: int = 0) -> list[float]:
    """Test accuracy (percent) of ``model`` on ``data`` with Gaussian pixel noise of each std in ``levels``.

    Args:
        model: a classifier, (N, C, H, W) normalised images -> (N, K) logits.
        data: an ImageDataset (its mean/std normalise the images) or an (images, labels) pair,
            converted as :func:`cnnbook.fit` converts it (:func:`cnnbook.as_dataset`: uint8
            images are normalised with their own mean/std, float images are used as they are).
        levels: noise standard deviations in pixel units (0..1 range), e.g. [0, 0.1, 0.2].
        seed: the noise is drawn reproducibly from this seed, the same draw for every model.

    Returns:
        a list of ``len(levels)`` accuracies in percent.
    """
    levels = [float(s) for s in levels]
    if not levels:
        raise ValueError("levels must hold at least one noise level")
    if min(levels) < 0:
        raise ValueError(f"levels must all be >= 0, got {min(levels)}")
    dev = model_device(model) if device is None else as_device(device)
    gen = torch.Generator(device=dev).manual_seed(seed)
    return _accuracy_under(model, data, lambda x, i: add_noise(x, levels[i], gen), len(levels),
                           batch_size, dev)


def accuracy_vs_shift(model: nn.Module, data: object, shifts: Sequence[int], *, axis: str = "x",
                      batch_size: int = 1024, device: torch.device | str | None = None) -> list[float]:
    """Test accuracy (percent) of ``model`` on ``data`` with every image moved by each of ``shifts`` pixels.

    Args:
        model, data: as for :func:`accuracy_vs_noise`.
        shifts: integer shifts in pixels, e.g. range(-6, 7); positive moves right (and/or down).
        axis: "x" (horizontal), "y" (vertical) or "xy" (diagonal, both by the same amount).

    Returns:
        a list of ``len(shifts)`` accuracies in percent.
    """
    if axis not in _AXES:
        raise ValueError(f"axis must be one of {_AXES}, got {axis!r}")
    shifts = list(shifts)
    if not shifts:
        raise ValueError("shifts must hold at least one shift")
    for s in shifts:
        check_int("shifts", s)
    fx, fy = int("x" in axis), int("y" in axis)
    return _accuracy_under(model, data, lambda x, i: shift_images(x, fx * shifts[i], fy * shifts[i]),
                           len(shifts), batch_size, device)
