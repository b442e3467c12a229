"""Pooling from scratch: max, min and average pooling as one vectorised function.

The whole idea fits in three steps:

1. pad the input with a value that can never win (``-inf`` for max, ``+inf`` for min, ``0`` for
   average, exactly as PyTorch does);
2. cut it into windows with two ``Tensor.unfold`` calls -- a strided *view*, no copy, no loop;
3. reduce every window to one number.

:func:`receptive_field` adds the bookkeeping that says how much of the input one unit of a
conv/pool stack can see.
"""

from __future__ import annotations

import numbers
from dataclasses import dataclass
from typing import Iterable, Sequence, Union

import torch
from torch import Tensor, nn

from .padding import conv_output_size

MODES = ("max", "min", "avg")

IntPair = Union[int, tuple[int, int]]


def _pair(value: IntPair, name: str) -> tuple[int, int]:
    """``value`` as a (height, width) pair of Python ints; TypeError names ``name`` otherwise."""
    if isinstance(value, (tuple, list)):
        if len(value) != 2:
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        pair = tuple(value)
    else:
        pair = (value, value)
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, numbers.Integral):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    return int(pair[0]), int(pair[1])


def pool2d(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    mode: str = "max",
) -> Tensor:
    """Max, min or average pooling over windows of ``x``, built from ``Tensor.unfold``.

    Args:
        x: float tensor (N, C, H, W) or (C, H, W). Every channel is pooled on its own.
        kernel_size: window size k, an int or a pair (kH, kW), each >= 1.
        stride: step between windows, int or pair, each >= 1. Default: the window size, so
            windows tile the input without overlap.
        padding: border added on every side, int or pair, each between 0 and half the window
            (``2 * padding <= kernel_size``), as in PyTorch.
        mode: ``"max"``, ``"min"`` or ``"avg"``.

    Returns:
        (N, C, H_out, W_out), or (C, H_out, W_out) for a 3-D input, where
        ``H_out = (H + 2 * padding - kH) // stride + 1`` (and the same for W).

    Padding follows PyTorch: max pooling pads with -inf and min pooling with +inf, so padding
    never wins; average pooling pads with zeros and divides by the full window size
    (``count_include_pad=True``, the default of ``F.avg_pool2d``). The results and the gradients
    equal ``F.max_pool2d``, ``-F.max_pool2d(-x)`` and ``F.avg_pool2d``; when several entries of a
    window tie for the maximum (minimum), the gradient goes to the first in row-major order,
    as in PyTorch's CPU kernel.

    Raises:
        TypeError: ``x`` is not a floating-point tensor (convert integer images with
            ``x.float()``), or a size argument is not an int / pair of ints.
        ValueError: ``x`` is not 3-D or 4-D; a window or stride below 1; padding below 0 or
            above half the window; a window larger than the padded input; an unknown ``mode``.
    """
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() not in (3, 4):
        raise ValueError(
            f"x must be 3-D (C, H, W) or 4-D (N, C, H, W), got {x.dim()}-D with shape {tuple(x.shape)}"
        )
    if not x.is_floating_point():
        raise TypeError(f"x must be a floating-point tensor, got {x.dtype}; convert it with x.float()")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    kh, kw = _pair(kernel_size, "kernel_size")
    sh, sw = _pair(kernel_size if stride is None else stride, "stride")
    ph, pw = _pair(padding, "padding")
    if kh < 1 or kw < 1:
        raise ValueError(f"kernel_size must be >= 1, got {kernel_size!r}")
    if sh < 1 or sw < 1:
        raise ValueError(f"stride must be >= 1, got {stride!r}")
    if ph < 0 or pw < 0:
        raise ValueError(f"padding must be >= 0, got {padding!r}")
    if 2 * ph > kh or 2 * pw > kw:
        raise ValueError(
            f"padding must be at most half of kernel_size ({kh // 2}, {kw // 2}), got {padding!r}"
        )
    h, w = x.shape[-2:]
    if kh > h + 2 * ph or kw > w + 2 * pw:
        raise ValueError(
            f"kernel_size {(kh, kw)} is larger than the padded input {(h + 2 * ph, w + 2 * pw)}; "
            f"kernel_size must be at most H + 2*padding and W + 2*padding"
        )

    squeeze = x.dim() == 3
    if squeeze:
        x = x.unsqueeze(0)
    if ph or pw:
        fill = {"max": float("-inf"), "min": float("inf"), "avg": 0.0}[mode]
        x = torch.nn.functional.pad(x, (pw, pw, ph, ph), value=fill)
    # (N, C, H_out, W_out, kH, kW): a view of x, every window laid out in the last two dims.
    windows = x.unfold(2, kh, sh).unfold(3, kw, sw)
    if mode == "avg":
        out = windows.mean(dim=(-2, -1))
    else:
        flat = windows.flatten(-2)  # row-major inside the window: first index wins a tie
        out = flat.max(dim=-1).values if mode == "max" else flat.min(dim=-1).values
    return out.squeeze(0) if squeeze else out


@dataclass(frozen=True)
class RFRow:
    """One line of a receptive-field table (see :func:`receptive_field`)."""

    layer: str
    kernel_size: int
    stride: int
    padding: int
    receptive_field: int  # side, in input pixels, of the patch one unit of this layer sees
    jump: int  # input pixels between two neighbouring units of this layer
    output_size: int | None  # side of this layer's output, if an input size was given


LayerSpec = Union[tuple[str, int, int], tuple[str, int, int, int]]


def _square(value: IntPair, name: str) -> int:
    h, w = _pair(value, name)
    if h != w:
        raise ValueError(f"{name} must be square for receptive_field, got {value!r}")
    return h


def _layer_specs(model: nn.Module) -> list[tuple[str, int, int, int]]:
    """(name, kernel, stride, padding) of every conv and pooling layer of ``model``, in order."""
    specs = []
    for name, m in model.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        label = f"{type(m).__name__} ({name})" if name else type(m).__name__
        if _square(getattr(m, "dilation", 1), "dilation") != 1:
            raise ValueError(f"layer {label}: dilation must be 1 for receptive_field, got {m.dilation}")
        if isinstance(m.padding, str):
            raise ValueError(f"layer {label}: padding must be a number for receptive_field, got {m.padding!r}")
        stride = m.kernel_size if m.stride is None else m.stride
        specs.append((label, _square(m.kernel_size, "kernel_size"), _square(stride, "stride"),
                      _square(m.padding, "padding")))
    return specs


def receptive_field(
    layers: nn.Module | Iterable[LayerSpec], input_size: int | None = None
) -> list[RFRow]:
    """The receptive field of every layer of a conv/pool stack, computed from its settings.

    Args:
        layers: an ``nn.Module`` (its ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` layers are read
            in order; activations are ignored because they do not change what a unit sees), or
            tuples ``(name, kernel_size, stride)`` / ``(name, kernel_size, stride, padding)``.
            Square windows only.
        input_size: side of the (square) input image, to fill in each layer's ``output_size``
            (computed with :func:`cnnbook.conv_output_size`).

    Returns:
        One :class:`RFRow` per layer. With ``r`` the receptive field and ``j`` the jump (product
        of the strides so far), a layer with window k and stride s gives
        ``r_out = r_in + (k - 1) * j_in`` and ``j_out = j_in * s``, starting from r = j = 1.
    """
    if input_size is not None and (isinstance(input_size, bool) or not isinstance(input_size, int)
                                   or input_size < 1):
        raise ValueError(f"input_size must be an int >= 1 or None, got {input_size!r}")
    specs = _layer_specs(layers) if isinstance(layers, nn.Module) else list(layers)
    rows: list[RFRow] = []
    r, j, n = 1, 1, input_size
    for spec in specs:
        if len(spec) not in (3, 4):
            raise ValueError(f"layers must hold (name, kernel_size, stride[, padding]) tuples, got {spec!r}")
        name, k, s, p = (*spec, 0) if len(spec) == 3 else spec
        k, s, p = _square(k, "kernel_size"), _square(s, "stride"), _square(p, "padding")
        if k < 1 or s < 1 or p < 0:
            raise ValueError(f"layer {name}: kernel_size and stride must be >= 1 and padding >= 0, got {spec!r}")
        r, j = r + (k - 1) * j, j * s
        if n is not None:
            try:
                n = conv_output_size(n, k, s, p)
            except ValueError as err:
                raise ValueError(f"input_size {input_size} is too small: layer {name} gets a "
                                 f"{n}x{n} input ({err})") from err
        rows.append(RFRow(str(name), k, s, p, r, j, n))
    return rows


def format_rf_table(rows: Sequence[RFRow]) -> str:
    """``rows`` from :func:`receptive_field` as an aligned plain-text table."""
    head = ("layer", "window", "stride", "output", "jump", "receptive field")
    body = [(r.layer, f"{r.kernel_size}x{r.kernel_size}", str(r.stride),
             "-" if r.output_size is None else f"{r.output_size}x{r.output_size}",
             str(r.jump), f"{r.receptive_field}x{r.receptive_field}") for r in rows]
    widths = [max(len(c) for c in col) for col in zip(head, *body)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip() for line in (head, *body)]
    return "\n".join(lines)
