"""The 2-D convolution from scratch: cut the input into windows, then one matrix product.

Taught in the book's first chapter, *Convolution* (``book/convolution.ipynb``).

:func:`conv2d` does what ``torch.nn.functional.conv2d`` does, plus the ``padding_mode`` of
``nn.Conv2d``, in three steps:

1. pad the input with :func:`cnnbook.padding.pad2d` (zeros, reflect, replicate or circular);
2. cut it into windows with two ``Tensor.unfold`` calls (a strided view; dilation keeps every
   ``d``-th tap of a wider window);
3. lay every window out as a row and multiply by the kernels, one row each: a single batched
   matrix product, batched over the groups.

Like PyTorch's own layers it computes a *cross-correlation*: the kernel is not flipped.
"""

from __future__ import annotations

from typing import Union

import torch
from torch import Tensor

from ._checks import check_int, int_pair
from .padding import pad2d

__all__ = ["PADDING_MODES", "conv2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # those of nn.Conv2d
IntPair = Union[int, tuple[int, int]]


def _check_tensors(x: object, weight: object, bias: object) -> None:
    """Types, dimensions and dtypes of the three tensors (shapes against each other come later)."""
    for name, t in (("x", x), ("weight", weight)):
        if not isinstance(t, Tensor):
            raise TypeError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    assert isinstance(x, Tensor) and isinstance(weight, Tensor)
    if x.dim() not in (3, 4):
        raise ValueError(f"x must be 4-D (N, C, H, W) or 3-D (C, H, W), got {x.dim()}-D with "
                         f"shape {tuple(x.shape)}")
    if weight.dim() != 4:
        raise ValueError(f"weight must be 4-D (out_channels, in_channels // groups, kH, kW), got "
                         f"{weight.dim()}-D with shape {tuple(weight.shape)}")
    if x.dtype == torch.bool:
        raise TypeError("x must hold numbers, got torch.bool; convert it with x.float()")
    if weight.dtype != x.dtype:
        raise TypeError(f"weight must have the dtype of x ({x.dtype}), got {weight.dtype}")
    if bias is not None:
        if not isinstance(bias, Tensor):
            raise TypeError(f"bias must be a torch.Tensor or None, got {type(bias).__name__}")
        if bias.dtype != x.dtype:
            raise TypeError(f"bias must have the dtype of x ({x.dtype}), got {bias.dtype}")
        if bias.dim() != 1 or bias.shape[0] != weight.shape[0]:
            raise ValueError(f"bias must have shape (out_channels,) = ({weight.shape[0]},), got "
                             f"{tuple(bias.shape)}")


def _check_shapes(x: Tensor, weight: Tensor, groups: int) -> None:
    """Channels of x, weight and groups must fit together; kernels must have at least one tap."""
    c_in, (c_out, c_group, kh, kw) = x.shape[-3], weight.shape
    if kh < 1 or kw < 1 or c_out < 1:
        raise ValueError(f"weight must have at least one output channel and a kernel of at least "
                         f"1x1, got shape {tuple(weight.shape)}")
    batch = 1 if x.dim() == 3 else x.shape[0]
    if 0 in x.shape[-2:] and batch and c_in:
        raise ValueError(f"x must have a height and a width of at least 1 (as in PyTorch, only "
                         f"an empty batch or no channels may be empty), got shape {tuple(x.shape)}")
    if c_in % groups or c_out % groups:
        raise ValueError(f"groups={groups} must divide both the input channels ({c_in}) and the "
                         f"output channels ({c_out})")
    if c_group * groups != c_in:
        raise ValueError(f"weight must have in_channels // groups = {c_in // groups} channels in "
                         f"dim 1 (x has {c_in} channels, groups={groups}), got shape "
                         f"{tuple(weight.shape)}")


def _pair(name: str, value: object, low: int) -> tuple[int, int]:
    """An int, a pair of ints, or (as PyTorch allows) a 1-tuple ``(v,)`` meaning ``(v, v)``."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return int_pair(name, value, low=low)


def _sides(padding: object, kernel: tuple[int, int], stride: tuple[int, int],
           dilation: tuple[int, int]) -> tuple[int, int, int, int]:
    """``padding`` as (left, right, top, bottom), the order of ``pad2d``; "same" as PyTorch splits it."""
    if isinstance(padding, str):
        if padding == "valid":
            return (0, 0, 0, 0)
        if padding != "same":
            raise ValueError(f"padding must be an int, a pair of ints, 'same' or 'valid', got "
                             f"{padding!r}")
        if stride != (1, 1):
            raise ValueError(f"padding='same' needs stride=1 (PyTorch refuses strided 'same' "
                             f"convolutions), got stride={stride}")
        # the window spans d(k-1)+1 pixels: d(k-1) of padding keep the size, the odd one goes after
        (th, tw) = (d * (k - 1) for d, k in zip(dilation, kernel))
        return (tw // 2, tw - tw // 2, th // 2, th - th // 2)
    ph, pw = _pair("padding", padding, 0)
    return (pw, pw, ph, ph)


def conv2d(x: Tensor, weight: Tensor, bias: Tensor | None = None, stride: IntPair = 1,
           padding: IntPair | str = 0, dilation: IntPair = 1, groups: int = 1,
           padding_mode: str = "zeros") -> Tensor:
    """A 2-D convolution (cross-correlation, as in PyTorch): windows and one matrix product.

    Shapes: ``x`` is (N, C_in, H, W) or (C_in, H, W); ``weight`` is
    (C_out, C_in / groups, kH, kW); ``bias`` is (C_out,) or None. The output is
    (N, C_out, H_out, W_out) (no N for a 3-D ``x``) with, per axis,

        ``H_out = floor((H + top + bottom - dilation * (kH - 1) - 1) / stride) + 1``

    where ``top = bottom = padding`` for a number (see :func:`cnnbook.conv_output_size`).
    Output channel ``o`` at position ``(i, j)`` is

        ``bias[o] + sum_{c, u, v} w[o, c, u, v] * x_padded[g*C_in/groups + c, i*sH + u*dH, j*sW + v*dW]``

    with ``g`` the group of ``o``: each group of ``C_out / groups`` output channels sees only its own
    ``C_in / groups`` input channels (``groups = C_in`` is a depthwise convolution).

    Args:
        stride, dilation: an int or a (height, width) pair of ints >= 1.
        padding: an int or a pair >= 0 added on each side (``(p,)`` means ``(p, p)``); ``"valid"`` (none) or ``"same"``
            (stride 1 only: ``dilation * (k - 1)`` in total per axis, the odd pixel after, as PyTorch).
        groups: an int >= 1 dividing both channel counts.
        padding_mode: what fills the border, as in ``nn.Conv2d``: ``"zeros"``, ``"reflect"``,
            ``"replicate"`` or ``"circular"``.

    Returns the values and gradients (for ``x``, ``weight`` and ``bias``) of
    ``F.conv2d(x, weight, bias, stride, padding, dilation, groups)`` (for ``padding_mode`` other
    than zeros, of ``nn.Conv2d``: ``F.pad`` in that mode, then no padding), up to rounding.

    Raises:
        TypeError naming the parameter: a non-tensor, a bool ``x``, dtypes that differ, a size
        that is not an int or a pair of ints.
        ValueError naming the parameter: wrong dimensions, channels that do not fit ``groups``, a
        stride, dilation or group count below 1, negative padding, an unknown padding word or
        mode, ``"same"`` with a stride, a window larger than the padded input, or more reflect
        (circular) padding than the input allows.
    """
    _check_tensors(x, weight, bias)
    groups = check_int("groups", groups, low=1)
    _check_shapes(x, weight, groups)
    sh, sw = _pair("stride", stride, 1)
    dh, dw = _pair("dilation", dilation, 1)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    kh, kw = weight.shape[2:]
    left, right, top, bottom = _sides(padding, (kh, kw), (sh, sw), (dh, dw))

    unbatched = x.dim() == 3
    x4 = x.unsqueeze(0) if unbatched else x
    span_h, span_w = dh * (kh - 1) + 1, dw * (kw - 1) + 1  # pixels one window covers
    padded_h, padded_w = x4.shape[2] + top + bottom, x4.shape[3] + left + right
    if span_h > padded_h or span_w > padded_w:
        raise ValueError(f"weight: the kernel window covers {span_h}x{span_w} pixels "
                         f"(dilation * (k - 1) + 1), more than the padded input has "
                         f"({padded_h}x{padded_w})")
    if left or right or top or bottom:
        x4 = pad2d(x4, (left, right, top, bottom), padding_mode)

    out = _windows_times_kernels(x4, weight, (sh, sw), (dh, dw), groups)
    if bias is not None:
        out = out + bias.view(1, -1, 1, 1)
    return out.squeeze(0) if unbatched else out


def _windows_times_kernels(x: Tensor, weight: Tensor, stride: tuple[int, int],
                           dilation: tuple[int, int], groups: int) -> Tensor:
    """Convolve an already padded (N, C, H, W) ``x``: windows, one matmul."""
    (sh, sw), (dh, dw) = stride, dilation
    c_out, c_group, kh, kw = weight.shape
    # (N, C, H_out, W_out, kH, kW): every window, taps spaced by the dilation
    windows = (x.unfold(2, dh * (kh - 1) + 1, sh)
               .unfold(3, dw * (kw - 1) + 1, sw)[..., ::dh, ::dw])
    n, _, h_out, w_out = windows.shape[:4]
    # one row per (group, output position): the window over the group's channels
    rows = (windows.reshape(n, groups, c_group, h_out, w_out, kh, kw)
            .permute(0, 1, 3, 4, 2, 5, 6)
            .reshape(n, groups, h_out * w_out, c_group * kh * kw))
    # one column per output channel: its kernel, laid out like the rows
    kernels = weight.reshape(groups, c_out // groups, c_group * kh * kw)
    out = rows @ kernels.transpose(1, 2)  # (N, groups, H_out * W_out, C_out/g)
    return out.transpose(2, 3).reshape(n, c_out, h_out, w_out)
