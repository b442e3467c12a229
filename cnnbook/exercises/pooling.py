"""The checks of the Pooling chapter's exercises (book/pooling.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`.

Both exercises pool an (N, C, H, W) tensor with a window ``kernel_size = (kH, kW)`` moved in steps
of ``stride = (sH, sW)`` (``None``: the window's size, PyTorch's default), without padding:

- :func:`check_pool2d` checks ``fn(x, kernel_size, stride=None, mode="max")`` (mode ``"max"`` or
  ``"avg"``) against ``F.max_pool2d`` and ``F.avg_pool2d``, values and gradients (float64);
- :func:`check_max_pool_indices` checks ``fn(x, kernel_size, stride=None)`` returning
  ``(values, indices)`` against ``F.max_pool2d(..., return_indices=True)``: each index is the
  winner's position in its own channel's flattened H x W plane, ``row * W + column``. On a tie
  PyTorch's kernels keep the first maximum in reading order (row by row, left to right inside the
  window), as ``Tensor.max(dim)`` and ``argmax`` do; the last case checks that rule.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .verdict import Verdict, describe, require_function, run_cases, tensor_problem

__all__ = ["check_pool2d", "check_max_pool_indices"]

Pair = tuple[int, int]


@dataclass(frozen=True)
class _Case:
    shape: tuple[int, int, int, int]
    kernel_size: Pair
    stride: Pair | None = None
    mode: str = "max"
    ties: bool = False  # small integers, so that windows hold equal maxima

    @property
    def step(self) -> Pair:
        return self.kernel_size if self.stride is None else self.stride

    def input(self, seed: int) -> Tensor:
        gen = torch.Generator().manual_seed(seed)
        if self.ties:
            return torch.randint(0, 3, self.shape, generator=gen).double()
        return torch.randn(self.shape, generator=gen, dtype=torch.float64)

    def call(self, name: str, *, with_mode: bool = True) -> str:
        stride = "" if self.stride is None else f", stride={self.stride}"
        mode = f", mode={self.mode!r}" if with_mode else ""
        ties = " (values 0, 1, 2: windows hold ties)" if self.ties else ""
        return f"{name}(x of shape {self.shape}, kernel_size={self.kernel_size}{stride}{mode}){ties}"


# In order: the simplest case first, then average pooling, overlapping windows, rectangular windows,
# strides that differ from the window, sizes the windows do not divide (the floor), a global window.
_POOL_CASES = [
    _Case((1, 1, 4, 4), (2, 2)),
    _Case((2, 3, 6, 6), (2, 2), mode="avg"),
    _Case((2, 3, 7, 7), (3, 3), (2, 2)),
    _Case((1, 2, 8, 9), (2, 3)),
    _Case((2, 2, 9, 8), (3, 2), (2, 3), mode="avg"),
    _Case((1, 3, 10, 11), (3, 3)),
    _Case((2, 1, 7, 10), (2, 4), (1, 2), mode="avg"),
    _Case((2, 2, 11, 9), (4, 3), (3, 2)),
    _Case((3, 2, 5, 5), (5, 5), mode="avg"),
]
_INDEX_CASES = [
    _Case((1, 1, 4, 4), (2, 2)),
    _Case((2, 3, 6, 6), (2, 2)),
    _Case((2, 3, 7, 7), (3, 3), (2, 2)),
    _Case((1, 2, 8, 9), (2, 3)),
    _Case((2, 2, 9, 8), (3, 2), (2, 3)),
    _Case((1, 3, 10, 11), (3, 3), (1, 1)),
    _Case((2, 2, 6, 7), (2, 2), (1, 1), ties=True),
]


def _reference(x: Tensor, case: _Case) -> Tensor:
    pool = F.max_pool2d if case.mode == "max" else F.avg_pool2d
    return pool(x, case.kernel_size, case.step)


def _call(fn: Callable[..., object], x: Tensor, case: _Case, **mode: str) -> object:
    """The reader's function on ``x`` with the case's settings; stride left out when it is the
    default, so that the default is checked too."""
    if case.stride is None:
        return fn(x, case.kernel_size, **mode)
    return fn(x, case.kernel_size, stride=case.stride, **mode)


def _side(n: int, k: int, s: int) -> int:
    return (n - k) // s + 1


def _shape_hint(got: tuple[int, ...], case: _Case) -> str:
    """Why an output could have the shape ``got``: the usual slips in the output-size formula."""
    (h, w), (kh, kw), (sh, sw) = case.shape[-2:], case.kernel_size, case.step
    lead = case.shape[:2]

    def shape(fh: Callable[[int, int, int], int], fw: Callable[[int, int, int], int]) -> tuple[int, ...]:
        return (*lead, fh(h, kh, sh), fw(w, kw, sw))

    slips = [
        ((*lead, _side(h, kh, kh), _side(w, kw, kw)), "the shape a stride equal to the window gives: "
         "does your function use `stride`?"),
        ((*lead, _side(w, kw, sw), _side(h, kh, sh)), "height and width swapped: kernel_size and "
         "stride are (rows, columns)"),
        ((*lead, _side(h, kw, sw), _side(w, kh, sh)), "kH and kW swapped: kernel_size is (rows, columns)"),
        (shape(lambda n, k, s: (n - k) // s, lambda n, k, s: (n - k) // s),
         "one window short on each side: n_out = floor((n - k) / s) + 1 counts the first window too"),
        (shape(lambda n, k, s: math.ceil((n - k) / s) + 1, lambda n, k, s: math.ceil((n - k) / s) + 1),
         "the last window hangs over the border: round (n - k) / s down, not up"),
        (shape(lambda n, k, s: n // s, lambda n, k, s: n // s),
         "n // s ignores the window's size: n_out = floor((n - k) / s) + 1"),
    ]
    hints = [hint for expected, hint in slips if tuple(got) == expected]
    return f"\nhint: {hints[0]}" if hints else ""


def _same(got: Tensor, expected: Tensor) -> bool:
    return got.shape == expected.shape and bool(torch.allclose(got.detach().double(), expected, atol=1e-9))


def _value_hint(got: Tensor, x: Tensor, case: _Case) -> str:
    """Why the values could be wrong: another reduction than the mode asks for."""
    k, s = case.kernel_size, case.step
    others = {"the averages of the windows": F.avg_pool2d(x, k, s),
              "the maxima of the windows": F.max_pool2d(x, k, s),
              "the minima of the windows": -F.max_pool2d(-x, k, s),
              "the sums of the windows": F.avg_pool2d(x, k, s) * (k[0] * k[1])}
    wanted = "the largest value of each window" if case.mode == "max" else "the mean of each window"
    for name, values in others.items():
        if _same(got, values):
            return f"\nhint: these are {name}; mode={case.mode!r} asks for {wanted}"
    return ""


_NO_GRADIENT = ("your result carries no gradient: compute it from x with torch operations "
                "(no .detach(), .item(), .tolist() or torch.tensor(...))")


def _pool_problem(fn: Callable[..., object], case: _Case, seed: int) -> str | None:
    x = case.input(seed).requires_grad_(True)
    expected = _reference(x, case)
    got = _call(fn, x, case, mode=case.mode)
    problem = tensor_problem(got, expected.detach(), atol=1e-9, rtol=1e-9)
    if problem:
        if isinstance(got, Tensor):
            shape_wrong = tuple(got.shape) != tuple(expected.shape)
            problem += _shape_hint(tuple(got.shape), case) if shape_wrong else _value_hint(got, x.detach(), case)
        return problem
    assert isinstance(got, Tensor)
    if not got.requires_grad:
        return _NO_GRADIENT
    upstream = torch.randn(expected.shape, dtype=torch.float64,
                           generator=torch.Generator().manual_seed(seed + 1))
    (want,) = torch.autograd.grad(expected, x, upstream)
    (grad,) = torch.autograd.grad(got, x, upstream, allow_unused=True)
    if grad is None:
        return _NO_GRADIENT
    return tensor_problem(grad, want, what="the gradient with respect to x", atol=1e-9, rtol=1e-9)


def check_pool2d(fn: Callable[..., object]) -> Verdict:
    """Check ``fn(x, kernel_size, stride=None, mode="max")``, max and average pooling without
    padding, against ``F.max_pool2d`` and ``F.avg_pool2d`` (the Pooling chapter's exercise).

    ``x`` is (N, C, H, W) float64; ``kernel_size`` a pair (kH, kW); ``stride`` a pair (sH, sW), or
    left out to mean the window's size; ``mode`` ``"max"`` or ``"avg"``. The cases include
    rectangular windows, strides that differ from the window (overlapping windows too) and sizes
    the windows do not divide. Each compares the result's shape and values, then the gradient
    with respect to ``x`` for a random upstream gradient (random inputs: no ties)."""
    require_function(fn)
    name = getattr(fn, "__name__", "your function")
    cases = [(case, seed) for seed, case in enumerate(_POOL_CASES)]
    return run_cases(name, "F.max_pool2d / F.avg_pool2d", cases,
                     lambda c: _pool_problem(fn, *c),
                     describe_case=lambda c: c[0].call(name))


def _index_hint(got: Tensor, expected: Tensor, x: Tensor, case: _Case) -> str:
    """Why indices could be wrong: counted inside the window, over more than one plane, by column,
    or the last maximum kept on a tie."""
    (kh, kw), (sh, sw) = case.kernel_size, case.step
    n, c, h, w = case.shape
    windows = x.unfold(2, kh, sh).unfold(3, kw, sw).flatten(-2)  # (N, C, H_out, W_out, kH * kW)
    local = windows.argmax(dim=-1)
    last = windows.shape[-1] - 1 - windows.flip(-1).argmax(dim=-1)
    rows_out = torch.arange(local.shape[-2])[:, None] * sh
    cols_out = torch.arange(local.shape[-1]) * sw

    def plane(loc: Tensor) -> Tensor:
        return (rows_out + loc // kw) * w + cols_out + loc % kw

    row, col = expected // w, expected % w
    planes = torch.arange(n * c).view(n, c, 1, 1) * (h * w)
    slips = [
        (local, "these are positions inside each window (0 to kH * kW - 1); PyTorch gives the "
                "winner's position in its channel's H x W plane: row * W + column"),
        (expected + planes, "these count over the whole batch and all channels; each channel's "
                            "H x W plane starts again at 0"),
        (expected + planes % (c * h * w), "these count over all the channels of an image; each "
                                          "channel's H x W plane starts again at 0"),
        (col * h + row, "these count column by column; PyTorch counts row by row: row * W + column"),
        (row * h + col, "row * H + column; a row holds W entries: row * W + column"),
        (plane(last), "on a tie PyTorch keeps the first maximum in reading order (row by row, "
                      "left to right); yours keeps the last"),
    ]
    for values, hint in slips:
        if got.shape == values.shape and torch.equal(got.long(), values):
            return f"\nhint: {hint}"
    return ""


def _indices_problem(fn: Callable[..., object], case: _Case, seed: int) -> str | None:
    x = case.input(seed)
    values, indices = F.max_pool2d(x, case.kernel_size, case.step, return_indices=True)
    got = _call(fn, x, case)
    if not (isinstance(got, (tuple, list)) and len(got) == 2):
        return f"your function should return a pair (values, indices), got {describe(got)}"
    got_values, got_indices = got
    problem = tensor_problem(got_values, values, what="the first result (values)", atol=1e-9, rtol=1e-9)
    if problem:
        if isinstance(got_values, Tensor) and tuple(got_values.shape) != tuple(values.shape):
            problem += _shape_hint(tuple(got_values.shape), case)
        return problem
    if isinstance(got_indices, Tensor) and got_indices.dtype != torch.int64:
        return (f"the indices should be int64, as F.max_pool2d returns them (F.max_unpool2d needs "
                f"that), got {str(got_indices.dtype).removeprefix('torch.')}")
    problem = tensor_problem(got_indices, indices, what="the second result (indices)", atol=0, rtol=0)
    if problem and isinstance(got_indices, Tensor) and got_indices.shape == indices.shape:
        problem += _index_hint(got_indices, indices, x, case)
    return problem


def check_max_pool_indices(fn: Callable[..., object]) -> Verdict:
    """Check ``fn(x, kernel_size, stride=None)``, returning ``(values, indices)`` like
    ``F.max_pool2d(x, kernel_size, stride, return_indices=True)`` (the Pooling chapter's exercise).

    ``x`` is (N, C, H, W) float64, ``kernel_size`` and ``stride`` pairs as in :func:`check_pool2d`
    (no padding). ``indices`` is int64, of the values' shape: the winner's position in its own
    channel's flattened H x W plane, ``row * W + column``. The last case holds ties, where PyTorch
    keeps the first maximum in reading order (``Tensor.max(dim=-1)`` does the same)."""
    require_function(fn)
    name = getattr(fn, "__name__", "your function")
    cases = [(case, seed) for seed, case in enumerate(_INDEX_CASES)]
    return run_cases(name, "F.max_pool2d(..., return_indices=True)", cases,
                     lambda c: _indices_problem(fn, *c),
                     describe_case=lambda c: c[0].call(name, with_mode=False))
