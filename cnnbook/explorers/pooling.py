"""The pooling and padding explorer: pick an image and a setting, see the windows and the output.

It runs in the reader's browser (``pooling.js``), pooling exactly as :func:`cnnbook.pool2d` does,
after :func:`cnnbook.pad2d` for the explicit padding modes.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch

from .._checks import check_flag, check_int
from ..padding import PAD_MODES
from ..pooling import MODES
from .html import Explorer, b64_floats

MAX_SIDE = 128  # the explorer draws every pixel: larger images belong in a figure
PAD_CHOICES = ("pool", *PAD_MODES)


def _grey(name: object, image: object) -> dict[str, object]:
    """One image as the explorer's JSON: name, height, width and float32 values."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"images: every name must be a non-empty string, got {name!r}")
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"images[{name!r}] must be a torch.Tensor, got {type(image).__name__}")
    if image.dim() == 3 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 2:
        raise ValueError(f"images[{name!r}] must be one grey image, (H, W) or (1, H, W), "
                         f"got shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"images[{name!r}] must be a floating-point tensor, got {image.dtype}; "
                        "convert it with x.float() / 255")
    h, w = image.shape
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ValueError(f"images[{name!r}] must be at most {MAX_SIDE} x {MAX_SIDE}, got {h} x {w}")
    if not torch.isfinite(image).all():
        raise ValueError(f"images[{name!r}] must hold finite numbers (no nan or inf)")
    return {"name": name, "h": h, "w": w, "values": b64_floats(image)}


def pooling_explorer(images: Mapping[str, torch.Tensor], *, kernel_size: int = 2, stride: int = 2,
                     padding: int = 0, mode: str = "max", pad_mode: str = "pool",
                     ceil_mode: bool = False) -> Explorer:
    """A pooling and padding explorer that runs in the browser, with ``images`` embedded.

    Taught in the pooling chapter. The reader picks an image, the mode (max, avg, min), the window
    (1 to 8), the stride (1 to 8), the padding (0 to 4), the padding mode and ``ceil_mode``, and
    sees the padded input with the chosen window, the output, its shape by the rule of
    :func:`cnnbook.conv_output_size`, and the call of :func:`cnnbook.pool2d` that computes it. A
    setting that ``cb.pool2d`` (or ``cb.pad2d``) refuses shows its error message.

    Args:
        images: name -> one grey float image, (H, W) or (1, H, W), at most 128 x 128.
        kernel_size, stride, padding, mode, ceil_mode: the setting shown first.
        pad_mode: ``"pool"`` (the pool's own padding: -inf for max, +inf for min, 0 for average,
            as ``cb.pool2d``) or a mode of ``cb.pad2d`` applied first: ``"zeros"``,
            ``"reflect"``, ``"replicate"``, ``"circular"``.

    Returns:
        an :class:`~cnnbook.explorers.html.Explorer`; the last line of a cell displays it.
    """
    if not isinstance(images, Mapping) or not images:
        raise TypeError("images must be a non-empty dict of name -> image tensor, "
                        f"got {type(images).__name__}")
    if len(images) > 8:
        raise ValueError(f"images: at most 8 images, got {len(images)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if pad_mode not in PAD_CHOICES:
        raise ValueError(f"pad_mode must be one of {PAD_CHOICES}, got {pad_mode!r}")
    check_flag("ceil_mode", ceil_mode)
    settings = {"image": 0, "mode": mode, "padMode": pad_mode, "ceil": ceil_mode,
                "kernel": check_int("kernel_size", kernel_size, low=1, high=8),
                "stride": check_int("stride", stride, low=1, high=8),
                "padding": check_int("padding", padding, low=0, high=4)}
    data = {"images": [_grey(name, image) for name, image in images.items()], "settings": settings}
    return Explorer("pooling", data, "Pooling and padding explorer (runs in your browser)")
