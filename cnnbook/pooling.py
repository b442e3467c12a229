"""Pooling from scratch: max, min and average pooling as one vectorised function, and unpooling.

Taught in the chapter *Pooling* (``book/pooling.ipynb``). The whole idea fits in three steps:

1. pad the input with a value that can never win (``-inf`` for max, ``+inf`` for min, ``0`` for
   average, exactly as PyTorch does);
2. cut it into windows with two ``Tensor.unfold`` calls -- a strided *view*, no copy, no loop;
3. reduce every window to one number.

:func:`unpool2d` sends values back to the positions max pooling chose (the "switches"), and
:func:`receptive_field` adds the bookkeeping that says how much of the input one unit of a
conv/pool stack can see.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Union

import torch
from torch import Tensor, nn

from ._checks import SIZE_MAX, check_flag, check_int, check_nbytes, check_tensor, int_pair, size_pair
from .padding import ConvAxis, conv_axes, conv_output_size

MODES = ("max", "min", "avg")
LAYOUTS = {3: "(C, H, W)", 4: "(N, C, H, W)"}  # the shapes pool2d and unpool2d take

IntPair = Union[int, tuple[int, int]]


def _check_divisor(value: object) -> int | None:
    """divisor_override as F.avg_pool2d takes it: None, or any non-zero 64-bit int."""
    if value is None:
        return None
    divisor = check_int("divisor_override", value, low=-(2**63), high=2**63 - 1)
    if divisor == 0:
        raise ValueError("divisor_override must not be 0 (None divides by the window's size)")
    return divisor


def _window_args(kernel_size: IntPair, stride: IntPair | None,
                 padding: IntPair) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """kernel_size, stride (the kernel size when None or empty, as in PyTorch) and padding as checked (H, W) pairs."""
    k = size_pair("kernel_size", kernel_size, 1)
    empty = isinstance(stride, (tuple, list)) and not stride
    s = size_pair("stride", k if stride is None or empty else stride, 1)
    return k, s, size_pair("padding", padding, 0)


def _pool_axes(x: Tensor, kernel_size: IntPair, stride: IntPair | None, padding: IntPair,
               dilation: IntPair, ceil_mode: bool) -> tuple[ConvAxis, ConvAxis]:
    """Check the window arguments as PyTorch's pools do; per axis, the numbers of the formula."""
    k, s, p = _window_args(kernel_size, stride, padding)
    d = size_pair("dilation", dilation, 1)
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"padding must be at most half of kernel_size ({k[0] // 2}, "
                         f"{k[1] // 2}), got {padding!r}")
    return conv_axes(tuple(x.shape[-2:]), k, s, p, d, ceil_mode)  # type: ignore[arg-type]


def _windows(x: Tensor, axes: tuple[ConvAxis, ConvAxis], fill: float) -> Tensor:
    """(N, C, H_out, W_out, kH, kW): every window of ``x`` padded with ``fill``, a strided view.

    The bottom/right padding is whatever the last window needs: ``padding`` in floor mode, more
    under ``ceil_mode`` when the last window hangs over the border.
    """
    ah, aw = axes
    extra = [max(a.before, (a.out - 1) * a.stride + a.dilation * (a.kernel_size - 1) + 1
                 - a.n - a.before) for a in axes]
    x = torch.nn.functional.pad(x, (aw.before, extra[1], ah.before, extra[0]), value=fill)
    span_h, span_w = ((a.kernel_size - 1) * a.dilation + 1 for a in axes)
    win = x.unfold(2, span_h, ah.stride).unfold(3, span_w, aw.stride)
    return win[:, :, : ah.out, : aw.out, :: ah.dilation, :: aw.dilation]


def _avg_divisor(axes: tuple[ConvAxis, ConvAxis], count_include_pad: bool, like: Tensor) -> Tensor:
    """(H_out, W_out): what each window's sum is divided by, exactly as ``F.avg_pool2d`` does.

    A window counts its padding cells if ``count_include_pad``, but never the cells beyond the
    padding that ``ceil_mode`` can add.
    """
    sizes = []
    for a in axes:
        start = torch.arange(a.out, device=like.device) * a.stride - a.before
        end = torch.clamp(start + a.kernel_size, max=a.n + a.after)
        if not count_include_pad:
            start, end = start.clamp(min=0), end.clamp(max=a.n)
        sizes.append((end - start).to(like.dtype))
    return sizes[0][:, None] * sizes[1][None, :]


def _first_tap(a: ConvAxis, device: torch.device) -> tuple[Tensor, Tensor]:
    """Per window on this axis: its first tap and its first tap at or after 0 (input coords)."""
    start = torch.arange(a.out, device=device) * a.stride - a.before
    skip = torch.div(start.clamp(max=0).neg() + a.dilation - 1, a.dilation, rounding_mode="floor")
    return start, start + skip * a.dilation


def _argmax_indices(arg: Tensor, lost: Tensor, axes: tuple[ConvAxis, ConvAxis]) -> Tensor:
    """Window-local argmax -> position in the flattened (H * W) input plane, as PyTorch returns.

    Where no input value beat the padding (``lost``), PyTorch keeps its starting guess, the
    window's first tap at or after row 0 and column 0; so does this function.
    """
    ah, aw = axes
    (row0, row_in), (col0, col_in) = _first_tap(ah, arg.device), _first_tap(aw, arg.device)
    rows = row0[:, None] + ah.dilation * torch.div(arg, aw.kernel_size, rounding_mode="floor")
    cols = col0[None, :] + aw.dilation * (arg % aw.kernel_size)
    guess = row_in[:, None] * aw.n + col_in[None, :]
    return torch.where(lost, guess.expand_as(arg), rows * aw.n + cols)


def pool2d(
    x: Tensor,
    kernel_size: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    ceil_mode: bool = False,
    mode: str = "max",
    count_include_pad: bool = True,
    divisor_override: int | None = None,
    return_indices: bool = False,
) -> Tensor | tuple[Tensor, Tensor]:
    """Max, min or average pooling over windows of ``x``, built from ``Tensor.unfold``.

    Taught in the chapter *Pooling*. Equal, in values, indices and gradients, to
    ``F.max_pool2d`` (``mode="max"``), ``-F.max_pool2d(-x)`` (``"min"``) and ``F.avg_pool2d``
    (``"avg"``) called with the same arguments.

    Args:
        x: float tensor (N, C, H, W) or (C, H, W). Every channel is pooled on its own.
        kernel_size: window size k, an int or a pair (kH, kW), each >= 1. Every size
            argument is at most 2**31 - 1, as in PyTorch's pools, and a one-element ``(v,)``
            means ``(v, v)``, as there.
        stride: step s between windows, int or pair, each >= 1. Default (None or ``()``): the
            window size, so windows tile the input without overlap.
        padding: border p added on every side, int or pair, each between 0 and ``k // 2``.
        dilation: gap d between the window's taps (max and min only; ``F.avg_pool2d`` has none).
        ceil_mode: round the output size up instead of down, keeping a last window that
            hangs over the border -- but only if it starts inside the input or the left (top)
            padding.
        mode: ``"max"``, ``"min"`` or ``"avg"``.
        count_include_pad: (avg) divide by the window's size including its padding cells
            (True, PyTorch's default) or by the number of input pixels it covers.
        divisor_override: (avg) divide every window's sum by this non-zero int instead.
        return_indices: (max, min) also return, for each output, the position of the winner
            in its flattened H * W input plane: the "switches" :func:`unpool2d` uses.

    Returns:
        (N, C, H_out, W_out), or (C, H_out, W_out) for a 3-D input, with
        ``H_out = floor((H + 2p - d(k - 1) - 1) / s) + 1`` (``ceil`` with ``ceil_mode``, minus one
        if that last window would start at or beyond ``H + p``), the same for W; with
        ``return_indices``, the pair (output, int64 indices of the same shape).

    Padding never wins: max pooling pads with -inf and min pooling with +inf. Average pooling
    pads with zeros; cells that only ``ceil_mode`` adds beyond the padding are never counted.
    When several entries of a window tie, the first in row-major order wins (and gets the
    gradient), as in PyTorch's kernels. (Inputs are assumed free of NaN. A window that only
    padding reaches -- possible with dilation -- gives -inf (+inf for min) and PyTorch's
    placeholder index; its gradient is dropped, where PyTorch's CPU kernel writes it to that
    placeholder position.)

    Raises:
        TypeError: ``x`` is not a floating-point tensor (convert integer images with
            ``x.float()``), a size argument is not an int / pair of ints, a flag not a bool.
        ValueError: ``x`` is not 3-D or 4-D, or has no rows or columns; a window, stride or
            dilation below 1; padding below 0 or above half the window; a size above 2**31 - 1;
            no window fits; an unknown ``mode``; a divisor of 0; an option given to a mode that
            has none (dilation or indices with avg, divisor with max).
    """
    x = check_tensor("x", x, LAYOUTS, dtype="float")
    if 0 in x.shape[-2:]:  # as in PyTorch's pools, only the batch may be empty
        raise ValueError(f"x must have a height and a width of at least 1, got shape {tuple(x.shape)}")
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    ceil_mode = check_flag("ceil_mode", ceil_mode)
    count_include_pad = check_flag("count_include_pad", count_include_pad)
    return_indices = check_flag("return_indices", return_indices)
    divisor_override = _check_divisor(divisor_override)
    if mode == "avg" and (size_pair("dilation", dilation, 1) != (1, 1) or return_indices):
        raise ValueError("dilation and return_indices are for max and min pooling; "
                         "F.avg_pool2d has neither (use dilation=1, return_indices=False)")
    if mode != "avg" and (divisor_override is not None or not count_include_pad):
        raise ValueError("divisor_override and count_include_pad are for mode='avg' only")
    axes = _pool_axes(x, kernel_size, stride, padding, dilation, ceil_mode)

    squeeze = x.dim() == 3
    x4 = x.unsqueeze(0) if squeeze else x
    fill = {"max": float("-inf"), "min": float("inf"), "avg": 0.0}[mode]
    windows = _windows(x4, axes, fill)
    idx = None
    if mode == "avg":
        total = windows.sum(dim=(-2, -1))
        out = total / (divisor_override or _avg_divisor(axes, count_include_pad, total))
    else:
        flat = windows.flatten(-2)  # row-major inside the window: the first index wins a tie
        out, arg = flat.max(dim=-1) if mode == "max" else flat.min(dim=-1)
        idx = _argmax_indices(arg, out == fill, axes) if return_indices else None
    if squeeze:
        out = out.squeeze(0)
        idx = None if idx is None else idx.squeeze(0)
    return (out, idx) if idx is not None else out


def _unpool_size(output_size: int | Sequence[int] | None, default: list[int],
                 stride: tuple[int, int]) -> list[int]:
    """``output_size`` (an int for both sides, (H, W) or a shape ending in them) as [H, W], or
    ``default`` if None; each side strictly within a stride of the default, as in PyTorch."""
    if output_size is None:
        return default
    sides = list(output_size)[-2:] if isinstance(output_size, Sequence) else [output_size] * 2
    size = [check_int("output_size", v, low=1, high=SIZE_MAX) for v in sides]
    if len(size) != 2 or not all(d - s < v < d + s for v, d, s in zip(size, default, stride)):
        raise ValueError(f"output_size must be (H, W) strictly between {default} - stride "
                         f"and {default} + stride, got {output_size!r}")
    return size


def unpool2d(x: Tensor, indices: Tensor, kernel_size: IntPair, stride: IntPair | None = None,
             padding: IntPair = 0, output_size: int | Sequence[int] | None = None) -> Tensor:
    """Put each value of ``x`` back where max pooling found it; zeros everywhere else.

    Taught in the chapter *Pooling*: this is where max pooling sends its gradient (the
    "switches"). Equal to ``F.max_unpool2d``. ``indices`` comes from
    ``pool2d(..., return_indices=True)`` (or ``F.max_pool2d``); the output is
    ``H_out = (H - 1) * s - 2p + k`` by default, or ``output_size`` ((H, W), a shape ending in
    them, or one int for both) if given, which must lie strictly within ``s`` of that default,
    as in PyTorch. Sizes are checked as in :func:`pool2d` (at most 2**31 - 1, ``(v,)`` means
    ``(v, v)``), and the output must fit in torch's 2**63 - 1 bytes. When windows overlap, one
    input position can be chosen twice; it receives the same value.
    """
    x = check_tensor("x", x, LAYOUTS, dtype="float")
    if not isinstance(indices, Tensor) or indices.dtype != torch.int64:
        raise TypeError("indices must be an int64 tensor, as pool2d(..., return_indices=True) "
                        f"returns, got {getattr(indices, 'dtype', type(indices).__name__)}")
    if indices.shape != x.shape:
        raise ValueError(f"indices must have the shape of x {tuple(x.shape)}, got "
                         f"{tuple(indices.shape)}")
    k, s, p = _window_args(kernel_size, stride, padding)
    default = [(n - 1) * s_ - 2 * p_ + k_ for n, s_, p_, k_ in zip(x.shape[-2:], s, p, k)]
    size = _unpool_size(output_size, default, s)
    if min(size) < 1:
        raise ValueError(f"kernel_size, stride and padding give an output of {size}; it must be >= 1")
    check_nbytes("kernel_size, stride, padding and output_size", (*x.shape[:-2], *size), x.dtype)
    plane = size[0] * size[1]
    if indices.numel() and (indices.min() < 0 or indices.max() >= plane):
        raise ValueError(f"indices must lie in [0, {plane}) for an output of {size}")
    flat_x, flat_i = x.flatten(-2), indices.flatten(-2)
    out = flat_x.new_zeros(*flat_x.shape[:-1], plane).scatter(-1, flat_i, flat_x)
    return out.view(*x.shape[:-2], *size)


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


def _square(value: object, name: str) -> int:
    h, w = int_pair(name, value, high=SIZE_MAX)
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
    """The receptive field of every layer of a conv/pool stack, computed from its settings
    Taught in the chapter *Convolution*; the chapter *Pooling* uses it too.

    Args:
        layers: an ``nn.Module`` (its ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` layers are read
            in order; activations are ignored because they do not change what a unit sees), or
            tuples ``(name, kernel_size, stride)`` / ``(name, kernel_size, stride, padding)``.
            Square windows only; every size at most 2**31 - 1.
        input_size: side of the (square) input image, an int in [1, 2**31 - 1], to fill in each
            layer's ``output_size`` (computed with :func:`cnnbook.conv_output_size`).

    Returns:
        One :class:`RFRow` per layer. With ``r`` the receptive field and ``j`` the jump (product
        of the strides so far), a layer with window k and stride s gives
        ``r_out = r_in + (k - 1) * j_in`` and ``j_out = j_in * s``, starting from r = j = 1.
    """
    if input_size is not None:
        input_size = check_int("input_size", input_size, low=1, high=SIZE_MAX)
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
                n = int(conv_output_size(n, k, s, p))  # type: ignore[arg-type]
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
