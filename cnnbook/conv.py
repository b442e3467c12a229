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

from torch import Tensor

from ._checks import SIZE_MAX, check_int, check_tensor, size_pair
from .padding import conv_axes, pad2d

__all__ = ["PADDING_MODES", "conv2d"]

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")  # those of nn.Conv2d
IntPair = Union[int, tuple[int, int]]


def _check_tensors(x: object, weight: object, bias: object) -> None:
    """Types, dimensions and dtypes of the three tensors (shapes against each other come later)."""
    x = check_tensor("x", x, {4: "(N, C, H, W)", 3: "(C, H, W)"}, dtype="number")
    weight = check_tensor("weight", weight, {4: "(out_channels, in_channels // groups, kH, kW)"})
    if weight.dtype != x.dtype:
        raise TypeError(f"weight must have the dtype of x ({x.dtype}), got {weight.dtype}")
    if bias is not None:
        bias = check_tensor("bias", bias)
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
            (stride 1 only: ``dilation * (k - 1)`` in total per axis, the odd pixel after, as PyTorch:
            :func:`cnnbook.padding.same_padding`).
        groups: an int >= 1 dividing both channel counts.
        padding_mode: what fills the border, as in ``nn.Conv2d``: ``"zeros"``, ``"reflect"``,
            ``"replicate"`` or ``"circular"``.

    Every size argument is at most 2**31 - 1 (PyTorch's pools take no more; no image comes near).

    Returns the values and gradients (for ``x``, ``weight`` and ``bias``) of
    ``F.conv2d(x, weight, bias, stride, padding, dilation, groups)`` (for ``padding_mode`` other
    than zeros, of ``nn.Conv2d``: ``F.pad`` in that mode, then no padding), up to rounding.

    Raises:
        TypeError naming the parameter: a non-tensor, a bool ``x``, dtypes that differ, a size
        that is not an int or a pair of ints.
        ValueError naming the parameter: wrong dimensions, channels that do not fit ``groups``, a
        stride, dilation or group count below 1, negative padding, a size above 2**31 - 1, an
        unknown padding word or mode, ``"same"`` with a stride, a window larger than the padded
        input (named ``weight``), or more reflect (circular) padding than the input allows.
    """
    _check_tensors(x, weight, bias)
    groups = check_int("groups", groups, low=1, high=SIZE_MAX)
    _check_shapes(x, weight, groups)
    stride, dilation = size_pair("stride", stride, 1), size_pair("dilation", dilation, 1)
    if not isinstance(padding, str):
        padding = size_pair("padding", padding, 0)
    if not isinstance(padding_mode, str) or padding_mode not in PADDING_MODES:
        raise ValueError(f"padding_mode must be one of {PADDING_MODES}, got {padding_mode!r}")
    # the padding per side ("same" split as PyTorch does) and the check that the window fits
    ah, aw = conv_axes((x.shape[-2], x.shape[-1]), (weight.shape[2], weight.shape[3]), stride,
                       padding, dilation, kernel_name="weight")

    unbatched = x.dim() == 3
    x4 = x.unsqueeze(0) if unbatched else x
    if ah.before or ah.after or aw.before or aw.after:
        x4 = pad2d(x4, (aw.before, aw.after, ah.before, ah.after), padding_mode)

    out = _windows_times_kernels(x4, weight, stride, dilation, groups)
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
