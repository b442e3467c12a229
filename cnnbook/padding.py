"""Padding from scratch, and the size of what a convolution or a pool gives back.

Taught in the chapter *Padding and stride* (``book/padding.ipynb``).

* :func:`pad2d` adds a border around images in four modes -- ``"constant"`` (``"zeros"`` is its
  alias with value 0), ``"reflect"``, ``"replicate"``, ``"circular"`` -- by indexing, and matches
  ``torch.nn.functional.pad``, negative padding (cropping) included.
* :func:`conv_output_size` predicts the output size of a convolution (or a pool) exactly as
  PyTorch computes it: ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` (pools: optionally ``ceil``).
* :func:`conv_axes` checks a setting and returns, per axis, the numbers the formula uses;
  :func:`layers_output_size` applies the formula to every convolution and pool of a network.
* :func:`same_padding` says how PyTorch splits ``padding="same"`` between the two sides, and
  :func:`pixel_coverage` counts how many windows see each input pixel.
"""

from __future__ import annotations

import math
from typing import NamedTuple, Union

import torch
from torch import nn

from ._checks import SIZE_MAX, check_flag, check_float, check_int, check_nbytes, check_tensor, int_pair

PAD_MODES = ("constant", "zeros", "reflect", "replicate", "circular")
PADDING_WORDS = ("same", "valid")

Size = Union[int, tuple[int, int]]


# --------------------------------------------------------------------------------------------
# pad2d
# --------------------------------------------------------------------------------------------


def _pad_sides(padding: int | tuple[int, ...]) -> tuple[int, int, int, int]:
    """``padding`` as ``(left, right, top, bottom)``, the order ``F.pad`` uses (may be < 0)."""
    sides: tuple[object, ...]
    if isinstance(padding, (tuple, list)):
        if len(padding) == 2:
            ph, pw = padding
            sides = (pw, pw, ph, ph)
        elif len(padding) == 4:
            sides = tuple(padding)
        else:
            raise ValueError(
                "padding must be an int, a (pad_h, pad_w) pair or a (left, right, top, bottom) "
                f"tuple, got {len(padding)} numbers: {tuple(padding)}"
            )
    elif isinstance(padding, bool) or not isinstance(padding, int):
        raise TypeError(
            "padding must be an int, a (pad_h, pad_w) pair or a (left, right, top, bottom) "
            f"tuple, got {type(padding).__name__}"
        )
    else:
        sides = (padding,) * 4
    names = ("left", "right", "top", "bottom")
    return tuple(check_int(f"padding ({s})", p, low=-SIZE_MAX, high=SIZE_MAX)  # type: ignore
                 for s, p in zip(names, sides))


def _check_axis(mode: str, n: int, before: int, after: int, axis: str, sides: str) -> None:
    """Refuse what ``F.pad`` refuses on one axis (``n`` pixels, ``before``/``after`` padding)."""
    crop = max(-before, 0) + max(-after, 0)
    kept, out = n - crop, n + before + after
    where = f"padding ({sides}) on an input of {axis}={n}"
    if mode == "replicate" and n == 0 and (before or after):
        raise ValueError(f"{where}: replicate padding needs a non-empty input")
    if mode in ("constant", "circular") and kept < 0:
        raise ValueError(f"{where}: cannot crop {crop} pixels from {n}")
    if mode == "reflect" and max(before, after) >= n:
        raise ValueError(f"{where}: reflect padding must be < the input {axis} (the mirror "
                         "image of the input is only n - 1 pixels long)")
    if mode == "circular" and max(before, after) > kept:
        raise ValueError(f"{where}: circular padding must be <= the {axis} left after cropping "
                         f"({kept}); the input may wrap around only once")
    if mode == "replicate" and out < 1:
        raise ValueError(f"{where}: replicate padding must leave an output of at least 1 pixel, "
                         f"got {out}")
    if out < 0:
        raise ValueError(f"{where}: the output would have {out} pixels")


def _source_index(n: int, before: int, after: int, mode: str, device: torch.device) -> torch.Tensor:
    """For each of the ``before + n + after`` output positions, the input position it copies.

    Positions ``-before .. -1`` lie before the input, ``n .. n + after - 1`` after it; a negative
    ``before`` (``after``) starts (ends) inside the input, which crops it.
    """
    if mode == "circular":  # crop first, then wrap the rest around, like a torus: b c d | a b c d | a b c
        lo, kept = max(-before, 0), n - max(-before, 0) - max(-after, 0)
        i = torch.arange(-max(before, 0), kept + max(after, 0), device=device)
        return i.remainder(max(kept, 1)) + lo
    i = torch.arange(-before, n + after, device=device)
    if mode == "replicate":  # the nearest edge pixel:      a a a | a b c d | d d d
        return i.clamp(0, n - 1)
    # reflect about the edge pixel, which is not repeated:  d c b | a b c d | c b a
    i = i.abs()
    return torch.where(i > n - 1, 2 * (n - 1) - i, i)


def _fill_value(value: object, mode: str, dtype: torch.dtype) -> float:
    """``value`` as ``F.pad`` takes it: a number (NaN and infinities too) or None for 0, that
    ``dtype`` can hold, and 0 outside constant mode; ValueError or TypeError naming ``value``."""
    value = 0.0 if value is None else check_float("value", value, nan=True)
    if value != 0 and mode != "constant":  # "zeros" means 0, as its name says
        raise ValueError(f"value must be 0 in {mode} mode (only constant padding fills with a "
                         f"value), got {value}")
    if dtype == torch.bool:  # F.pad turns any number into True or False
        return value
    if dtype.is_floating_point or dtype.is_complex:  # F.pad's rule, measured in the tests
        top = torch.finfo(dtype).max
        fits, span = math.isinf(value) or math.isnan(value) or -top <= value <= top, f"[{-top}, {top}], +-inf or nan"
    else:  # an integer dtype keeps the integer part, so [low, high + 1) fits
        low, high = torch.iinfo(dtype).min, torch.iinfo(dtype).max
        fits, span = float(low) <= value < float(high) + 1, f"[{low}, {high + 1})"
    if not fits:
        raise ValueError(f"value must be in {span} to pad a tensor of {dtype}, got {value}")
    return value


def _pad_constant(x: torch.Tensor, sides: tuple[int, int, int, int], value: float) -> torch.Tensor:
    """Crop the negative sides, then put the rest into a tensor filled with ``value``."""
    left, right, top, bottom = sides
    H, W = x.shape[-2:]
    x = x[..., max(-top, 0): H - max(-bottom, 0), max(-left, 0): W - max(-right, 0)]
    h, w = x.shape[-2:]
    t, le = max(top, 0), max(left, 0)
    out = x.new_full((*x.shape[:-2], t + h + max(bottom, 0), le + w + max(right, 0)), value)
    out[..., t: t + h, le: le + w] = x
    return out


def pad2d(x: torch.Tensor, padding: int | tuple[int, ...], mode: str = "constant",
          value: float | None = 0.0) -> torch.Tensor:
    """Pad (or crop) the last two dimensions of ``x`` (height and width), by indexing alone.

    Taught in the chapter *Padding and stride*.

    Args:
        x: images of shape ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``.
        padding: ``p`` for every side, ``(pad_h, pad_w)`` for top/bottom and left/right, or
            ``(left, right, top, bottom)`` in the order of ``torch.nn.functional.pad``.
            A negative number crops that many pixels from that side, as in ``F.pad``. Each side
            lies in [-(2**31 - 1), 2**31 - 1] and the result within torch's 2**63 - 1 bytes.
        mode: what goes into the border:

            * ``"constant"``  -- ``value`` everywhere (``"zeros"`` is the same with value 0);
            * ``"reflect"``   -- the mirror image, edge pixel not repeated (needs pad < size);
            * ``"replicate"`` -- the edge pixel, repeated;
            * ``"circular"``  -- the opposite side of the image, wrapped around (needs pad <=
              the size left after cropping).
        value: the fill of ``"constant"`` mode (only that mode takes a value other than 0), any
            number ``x.dtype`` can hold, infinities and NaN included, or None for 0, as in ``F.pad``.

    Returns:
        a tensor of shape ``(..., top + H + bottom, left + W + right)``, equal to
        ``F.pad(x, (left, right, top, bottom), mode, value)``, gradients included. Where a
        circular crop leaves nothing to wrap, PyTorch returns uninitialised memory; this
        function raises instead, and wherever a circular pad is larger than what the crop keeps
        (PyTorch 2.x answers those inconsistently: several wraps, uninitialised memory or an
        error).

    Example:
        >>> pad2d(torch.tensor([[1., 2., 3.]]), (0, 2), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 2., 1.]])
    """
    x = check_tensor("x", x, {4: "(N, C, H, W)", 3: "(C, H, W)", 2: "(H, W)"})
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    value = _fill_value(value, mode, x.dtype)
    left, right, top, bottom = _pad_sides(padding)
    H, W = x.shape[-2:]
    mode = "constant" if mode == "zeros" else mode
    _check_axis(mode, W, left, right, "width W", "left, right")
    _check_axis(mode, H, top, bottom, "height H", "top, bottom")
    sides = f"padding (left, right, top, bottom) = {(left, right, top, bottom)}"
    if mode == "reflect" and H + top + bottom < 1 and W + left + right < 1:  # F.pad's own rule
        raise ValueError(f"{sides}: reflect padding must leave at least one row or one column")
    check_nbytes(sides, (*x.shape[:-2], H + top + bottom, W + left + right), x.dtype)
    if mode == "constant":
        return _pad_constant(x, (left, right, top, bottom), value)
    rows = _source_index(H, top, bottom, mode, x.device)
    cols = _source_index(W, left, right, mode, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


# --------------------------------------------------------------------------------------------
# output sizes
# --------------------------------------------------------------------------------------------


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """The padding ``(before, after)`` that PyTorch adds on one axis for ``padding="same"``.

    The window spans ``dilation * (kernel_size - 1) + 1`` pixels, so keeping the size needs
    ``dilation * (kernel_size - 1)`` padding in total; PyTorch puts the odd pixel, if any, *after*
    (on the right or at the bottom). Example: ``same_padding(4) == (1, 2)``. Taught in the
    chapter *Padding and stride*.
    """
    k = check_int("kernel_size", kernel_size, low=1, high=SIZE_MAX)
    d = check_int("dilation", dilation, low=1, high=SIZE_MAX)
    total = d * (k - 1)
    return total // 2, total - total // 2


class ConvAxis(NamedTuple):
    """One axis of a convolution or pooling setting, as :func:`conv_axes` returns it."""

    n: int  # input size
    kernel_size: int
    stride: int
    before: int  # padding before (top or left)
    after: int  # padding after (bottom or right)
    dilation: int
    out: int  # output size


def _padding_sides(padding: object, ks: tuple[int, int], ss: tuple[int, int],
                   ds: tuple[int, int], stride: object) -> list[tuple[int, int]]:
    if not isinstance(padding, str):
        return [(p, p) for p in int_pair("padding", padding, low=0, high=SIZE_MAX)]
    if padding not in PADDING_WORDS:
        raise ValueError(f"padding must be an int >= 0, {PADDING_WORDS[0]!r} or "
                         f"{PADDING_WORDS[1]!r}, got {padding!r}")
    if padding == "same" and ss != (1, 1):
        raise ValueError(f"padding='same' needs stride=1 (PyTorch refuses strided 'same' "
                         f"convolutions), got stride={stride!r}")
    return [same_padding(k, d) for k, d in zip(ks, ds)] if padding == "same" else [(0, 0)] * 2


def any_pair(*settings: object) -> bool:
    """Whether any of the settings was given as an (H, W) pair rather than one number for both."""
    return any(isinstance(v, (tuple, list)) for v in settings)


def conv_axes(n: Size, kernel_size: Size, stride: Size = 1, padding: Size | str = 0,
              dilation: Size = 1, ceil_mode: bool = False, *,
              kernel_name: str = "kernel_size") -> tuple[ConvAxis, ConvAxis]:
    """Check a setting and return its (height, width) :class:`ConvAxis`, output size included.

    Arguments as in :func:`conv_output_size`; ``kernel_name`` is the parameter a window larger
    than the padded input is blamed on (``conv2d`` reads its kernel size from ``weight``).
    Taught in the chapter *Padding and stride*.
    """
    check_flag("ceil_mode", ceil_mode)
    ns = int_pair("n", n, low=0, high=SIZE_MAX)
    ks = int_pair("kernel_size", kernel_size, low=1, high=SIZE_MAX)
    ss = int_pair("stride", stride, low=1, high=SIZE_MAX)
    ds = int_pair("dilation", dilation, low=1, high=SIZE_MAX)
    sides = _padding_sides(padding, ks, ss, ds, stride)
    pairs = any_pair(n, kernel_size, stride, padding, dilation)
    axes = []
    for axis, n_, k, s, (lo, hi), d in zip("HW", ns, ks, ss, sides, ds):
        span = n_ + lo + hi - d * (k - 1) - 1  # how far the window's first tap can travel
        out = (span + (s - 1 if ceil_mode else 0)) // s + 1
        if ceil_mode and (out - 1) * s >= n_ + lo:  # the last window must start in the input
            out -= 1
        too_big = out < 1 if ceil_mode else span < 0
        if too_big:
            raise ValueError(
                f"{kernel_name}: the window covers dilation*(kernel_size-1)+1 = {d * (k - 1) + 1} "
                f"pixels, more than the padded input has ({n_ + lo + hi} = n {n_} + padding "
                f"{lo + hi}" + (f", axis {axis}" if pairs else "") + ")"
            )
        axes.append(ConvAxis(n_, k, s, lo, hi, d, out))
    return axes[0], axes[1]


def conv_output_size(n: Size, kernel_size: Size, stride: Size = 1,
                     padding: Size | str = 0, dilation: Size = 1, ceil_mode: bool = False) -> Size:
    """The output size of a convolution or a pool, exactly as PyTorch computes it.

    Taught in the chapter *Padding and stride* (and used in *Pooling*):

    ``out = floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``,

    where ``padding`` is added on *each* side. ``padding="valid"`` means 0; ``padding="same"``
    keeps ``out == n`` (stride 1 only; even windows get one more pixel after than before, see
    :func:`same_padding`).

    Pooling layers use the same formula (``max_pool2d`` also has ``dilation``; ``avg_pool2d`` has
    none, so use 1). A pool's stride defaults to its kernel size, not 1, and PyTorch allows no
    ``"same"`` for pools and at most ``kernel_size // 2`` padding. With ``ceil_mode=True`` (pools
    only) the division rounds up, ``ceil(...)`` instead of ``floor(...)``, and then the last
    window is dropped if it would start beyond the input and the left (top) padding, i.e. if
    ``(out - 1) * stride >= n + padding`` -- PyTorch's rule.

    Args:
        n: input height = width, or an ``(H, W)`` pair. Each of ``kernel_size``, ``stride``,
            ``padding`` and ``dilation`` is an int or an ``(H, W)`` pair too. Every number is
            at most ``2**31 - 1`` (``cnnbook._checks.SIZE_MAX``; PyTorch's pools take no more).
            ``n = 0`` (an empty input, which ``F.conv2d`` takes in an empty batch) leaves only
            the padding.
    Returns:
        an int, or an ``(H_out, W_out)`` pair if any argument was a pair.
    Raises:
        TypeError naming the parameter for a non-int size; ValueError naming it, with the
        allowed range, for a negative size or padding, a kernel size, stride or dilation below
        1, any number above 2**31 - 1, an unknown padding word, ``"same"`` with a stride above
        1, or a window larger than the padded input (with ``ceil_mode``: an output below 1).
    """
    h, w = conv_axes(n, kernel_size, stride, padding, dilation, ceil_mode)
    pairs = any_pair(n, kernel_size, stride, padding, dilation)
    return (h.out, w.out) if pairs else h.out


def layers_output_size(layers: nn.Module, n: Size) -> tuple[int, int]:
    """The (H, W) that the ``Conv2d``, ``MaxPool2d`` and ``AvgPool2d`` layers of ``layers`` leave
    of an n x n (or (H, W)) input, taken in order through :func:`conv_output_size`.

    Taught with :func:`conv_output_size` in the chapter *Padding and stride*; the models of the
    LeNet-5 and AlexNet chapters size their first fully connected layer with it. Raises a
    ValueError naming ``n`` and the layer when some layer's window does not fit its input.
    """
    size = int_pair("n", n, low=1, high=SIZE_MAX)
    for name, m in layers.named_modules():
        if not isinstance(m, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            continue
        try:
            size = conv_output_size(size, m.kernel_size, m.stride, m.padding,  # type: ignore[arg-type, assignment]
                                    getattr(m, "dilation", 1), getattr(m, "ceil_mode", False))
        except ValueError as err:
            layer = f"{type(m).__name__} ({name})" if name else type(m).__name__
            raise ValueError(f"n = {n!r} is too small: layer {layer} gets an input of "
                             f"{size[0]}x{size[1]} ({err})") from err
    return size


def pixel_coverage(n: Size, kernel_size: Size, stride: Size = 1,
                   padding: Size | str = 0, dilation: Size = 1) -> torch.Tensor:
    """How many window positions see each input pixel (the padding itself is not counted).

    Same arguments as :func:`conv_output_size`. Returns an int64 tensor of shape ``(H, W)``.
    A window is a grid of rows times columns, so the 2-D count is the outer product of one
    count per axis. Taught in the chapter *Padding and stride*.
    """
    counts = []
    for a in conv_axes(n, kernel_size, stride, padding, dilation):
        starts = torch.arange(a.out) * a.stride - a.before  # first tap, in input coordinates
        taps = (starts[:, None] + a.dilation * torch.arange(a.kernel_size)[None, :]).flatten()
        taps = taps[(taps >= 0) & (taps < a.n)]  # taps on the padding see no input pixel
        counts.append(torch.bincount(taps, minlength=a.n))
    return counts[0][:, None] * counts[1][None, :]
