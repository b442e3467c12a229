"""Padding from scratch, and the size of what a convolution or a pool gives back.

* :func:`pad2d` adds a border around images in four modes -- ``"zeros"``, ``"reflect"``,
  ``"replicate"``, ``"circular"`` -- by indexing, and matches ``torch.nn.functional.pad``.
* :func:`conv_output_size` predicts the output size of a convolution (or a pool) exactly as
  PyTorch computes it: ``floor((n + 2p - d(k - 1) - 1) / s) + 1``.
* :func:`same_padding` says how PyTorch splits ``padding="same"`` between the two sides, and
  :func:`pixel_coverage` counts how many windows see each input pixel.
"""

from __future__ import annotations

from typing import Union

import torch

PAD_MODES = ("zeros", "reflect", "replicate", "circular")
PADDING_WORDS = ("same", "valid")

Size = Union[int, tuple[int, int]]


# --------------------------------------------------------------------------------------------
# pad2d
# --------------------------------------------------------------------------------------------


def _pad_sides(padding: int | tuple[int, ...]) -> tuple[int, int, int, int]:
    """``padding`` as ``(left, right, top, bottom)``, the order ``F.pad`` uses."""
    if isinstance(padding, bool) or not isinstance(padding, (int, tuple, list)):
        raise TypeError(
            "padding must be an int, a (pad_h, pad_w) pair or a (left, right, top, bottom) "
            f"tuple, got {type(padding).__name__}"
        )
    if isinstance(padding, int):
        sides = (padding,) * 4
    elif len(padding) == 2:
        ph, pw = padding
        sides = (pw, pw, ph, ph)
    elif len(padding) == 4:
        sides = tuple(padding)
    else:
        raise ValueError(
            "padding must be an int, a (pad_h, pad_w) pair or a (left, right, top, bottom) "
            f"tuple, got {len(padding)} numbers: {tuple(padding)}"
        )
    for name, p in zip(("left", "right", "top", "bottom"), sides):
        if isinstance(p, bool) or not isinstance(p, int):
            raise TypeError(f"padding ({name}) must be an int, got {type(p).__name__}")
        if p < 0:
            raise ValueError(f"padding ({name}) must be >= 0, got {p}")
    return sides  # type: ignore[return-value]


def _source_index(n: int, before: int, after: int, mode: str, device: torch.device) -> torch.Tensor:
    """For each of the ``before + n + after`` padded positions, the input position it copies.

    Positions ``-before .. -1`` lie before the input, ``n .. n + after - 1`` after it.
    """
    i = torch.arange(-before, n + after, device=device)
    if mode == "replicate":  # the nearest edge pixel:      a a a | a b c d | d d d
        return i.clamp(0, n - 1)
    if mode == "circular":  # wrap around, like a torus:    b c d | a b c d | a b c
        return i.remainder(n)
    # reflect about the edge pixel, which is not repeated:  d c b | a b c d | c b a
    i = i.abs()
    return torch.where(i > n - 1, 2 * (n - 1) - i, i)


def pad2d(x: torch.Tensor, padding: int | tuple[int, ...], mode: str = "zeros") -> torch.Tensor:
    """Pad the last two dimensions of ``x`` (height and width), built from indexing alone.

    Args:
        x: images of shape ``(N, C, H, W)``, ``(C, H, W)`` or ``(H, W)``.
        padding: ``p`` for every side, ``(pad_h, pad_w)`` for top/bottom and left/right, or
            ``(left, right, top, bottom)`` in the order of ``torch.nn.functional.pad``.
            Every number must be >= 0.
        mode: what goes into the border:

            * ``"zeros"``     -- zeros (``F.pad``'s ``"constant"`` mode with value 0);
            * ``"reflect"``   -- the mirror image, edge pixel not repeated (needs pad < size);
            * ``"replicate"`` -- the edge pixel, repeated;
            * ``"circular"``  -- the opposite side of the image, wrapped around (needs pad <= size).

    Returns:
        a tensor of shape ``(..., top + H + bottom, left + W + right)``, equal to
        ``F.pad(x, (left, right, top, bottom), mode)``, gradients included.

    Example:
        >>> pad2d(torch.tensor([[1., 2., 3.]]), (0, 2), mode="reflect")
        tensor([[3., 2., 1., 2., 3., 2., 1.]])
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim not in (2, 3, 4):
        raise ValueError(
            f"x must have shape (N, C, H, W), (C, H, W) or (H, W), got {x.ndim} dimensions "
            f"with shape {tuple(x.shape)}"
        )
    if not isinstance(mode, str) or mode not in PAD_MODES:
        raise ValueError(f"mode must be one of {PAD_MODES}, got {mode!r}")
    left, right, top, bottom = _pad_sides(padding)
    H, W = x.shape[-2:]

    if mode == "zeros":
        out = x.new_zeros(*x.shape[:-2], top + H + bottom, left + W + right)
        out[..., top : top + H, left : left + W] = x
        return out

    limits = {"reflect": ("<", lambda p, n: p < n), "circular": ("<=", lambda p, n: p <= n),
              "replicate": ("<=", lambda p, n: n > 0 or p == 0)}
    word, ok = limits[mode]
    for side, p, dim, n in (("left", left, "width W", W), ("right", right, "width W", W),
                            ("top", top, "height H", H), ("bottom", bottom, "height H", H)):
        if not ok(p, n):
            if mode == "replicate":
                raise ValueError(f"padding ({side}): replicate padding needs a non-empty input, "
                                 f"got {dim}=0")
            raise ValueError(
                f"padding ({side}) must be {word} the input {dim}={n} in {mode} mode, got {p}"
                + (" (the mirror image of the input is only n - 1 pixels long)"
                   if mode == "reflect" else " (the input may wrap around only once)")
            )
    rows = _source_index(H, top, bottom, mode, x.device)
    cols = _source_index(W, left, right, mode, x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


# --------------------------------------------------------------------------------------------
# output sizes
# --------------------------------------------------------------------------------------------


def _pair(name: str, value: object, minimum: int) -> tuple[int, int]:
    """``value`` (an int or an (H, W) pair of ints) as a checked pair."""
    values = value if isinstance(value, (tuple, list)) else (value,) * 2
    if len(values) != 2:
        raise ValueError(f"{name} must be an int or an (H, W) pair, got {value!r}")
    for v in values:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int or an (H, W) pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{name} must be >= {minimum}, got {value!r}")
    return tuple(values)  # type: ignore[return-value]


def same_padding(kernel_size: int, dilation: int = 1) -> tuple[int, int]:
    """The padding ``(before, after)`` that PyTorch adds on one axis for ``padding="same"``.

    The window spans ``dilation * (kernel_size - 1) + 1`` pixels, so keeping the size needs
    ``dilation * (kernel_size - 1)`` padding in total; PyTorch puts the odd pixel, if any, *after*
    (on the right or at the bottom). Example: ``same_padding(4) == (1, 2)``.
    """
    if isinstance(kernel_size, (tuple, list)) or isinstance(dilation, (tuple, list)):
        raise TypeError("same_padding works on one axis: kernel_size and dilation must be ints")
    (k, _), (d, _) = _pair("kernel_size", kernel_size, 1), _pair("dilation", dilation, 1)
    total = d * (k - 1)
    return total // 2, total - total // 2


def _axis_sides(n: object, kernel_size: object, stride: object, padding: object,
                dilation: object) -> tuple[bool, list[tuple[int, int, int, int, int, int]]]:
    """Check the arguments; per axis (H, W): (n, k, s, before, after, d). Also: were pairs given?"""
    pairs = any(isinstance(v, (tuple, list)) for v in (n, kernel_size, stride, padding, dilation))
    ns = _pair("n", n, 1)
    ks = _pair("kernel_size", kernel_size, 1)
    ss = _pair("stride", stride, 1)
    ds = _pair("dilation", dilation, 1)
    if isinstance(padding, str):
        if padding not in PADDING_WORDS:
            raise ValueError(f"padding must be an int >= 0, {PADDING_WORDS[0]!r} or "
                             f"{PADDING_WORDS[1]!r}, got {padding!r}")
        if padding == "same" and ss != (1, 1):
            raise ValueError(f"padding='same' needs stride=1 (PyTorch refuses strided 'same' "
                             f"convolutions), got stride={stride!r}")
        sides = ([same_padding(k, d) for k, d in zip(ks, ds)] if padding == "same"
                 else [(0, 0), (0, 0)])
    else:
        sides = [(p, p) for p in _pair("padding", padding, 0)]
    axes = []
    for axis, n_, k, s, (lo, hi), d in zip("HW", ns, ks, ss, sides, ds):
        window = d * (k - 1) + 1
        if window > n_ + lo + hi:
            raise ValueError(
                f"kernel_size: the window covers dilation*(kernel_size-1)+1 = {window} pixels, "
                f"more than the padded input has ({n_ + lo + hi} = n {n_} + padding {lo + hi}"
                + (f", axis {axis}" if pairs else "") + ")"
            )
        axes.append((n_, k, s, lo, hi, d))
    return pairs, axes


def conv_output_size(n: Size, kernel_size: Size, stride: Size = 1,
                     padding: Size | str = 0, dilation: Size = 1) -> Size:
    """The output size of a convolution, exactly as ``torch.nn.functional.conv2d`` computes it.

    ``out = floor((n + 2 * padding - dilation * (kernel_size - 1) - 1) / stride) + 1``, where
    ``padding`` is added on *each* side. ``padding="valid"`` means 0; ``padding="same"`` keeps
    ``out == n`` (stride 1 only; even windows get one more pixel after than before, see
    :func:`same_padding`).

    Pooling layers use the same formula (``max_pool2d`` also has ``dilation``; ``avg_pool2d`` has
    none, so use 1). Two differences: a pool's stride defaults to its kernel size, not 1, and
    PyTorch allows no ``"same"`` for pools and at most ``kernel_size // 2`` padding. With
    ``ceil_mode=True`` a pool rounds up instead of down.

    Args:
        n: input height = width, or an ``(H, W)`` pair. Each of ``kernel_size``, ``stride``,
            ``padding`` and ``dilation`` is an int or an ``(H, W)`` pair too.
    Returns:
        an int, or an ``(H_out, W_out)`` pair if any argument was a pair.
    Raises:
        ValueError naming the parameter: a size, kernel size, stride or dilation below 1,
        a negative padding, an unknown padding word, ``"same"`` with a stride above 1, or a
        window larger than the padded input.
    """
    pairs, axes = _axis_sides(n, kernel_size, stride, padding, dilation)
    out = tuple((n_ + lo + hi - d * (k - 1) - 1) // s + 1 for n_, k, s, lo, hi, d in axes)
    return out if pairs else out[0]  # type: ignore[return-value]


def pixel_coverage(n: Size, kernel_size: Size, stride: Size = 1,
                   padding: Size | str = 0, dilation: Size = 1) -> torch.Tensor:
    """How many window positions see each input pixel (the padding itself is not counted).

    Same arguments as :func:`conv_output_size`. Returns an int64 tensor of shape ``(H, W)``.
    A window is a grid of rows times columns, so the 2-D count is the outer product of one
    count per axis.
    """
    _, axes = _axis_sides(n, kernel_size, stride, padding, dilation)
    counts = []
    for n_, k, s, lo, hi, d in axes:
        out = (n_ + lo + hi - d * (k - 1) - 1) // s + 1
        starts = torch.arange(out) * s - lo  # first tap of each window, in input coordinates
        taps = (starts[:, None] + d * torch.arange(k)[None, :]).flatten()
        taps = taps[(taps >= 0) & (taps < n_)]  # taps on the padding see no input pixel
        counts.append(torch.bincount(taps, minlength=n_))
    return counts[0][:, None] * counts[1][None, :]
