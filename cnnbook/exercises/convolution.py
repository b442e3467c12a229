"""The checks of the Convolution chapter's exercises (``book/convolution.ipynb``): each runs the
reader's code on random cases against PyTorch and returns a
:class:`~cnnbook.exercises.verdict.Verdict`.

- :func:`check_corr2d`: a single-channel cross-correlation written with loops;
- :func:`check_conv2d`: a batched, multi-channel convolution with bias, stride and padding,
  values and gradients, against ``F.conv2d``;
- :func:`check_conv_input_grad`: the gradient of a convolution with respect to its input, written
  as a convolution of the upstream gradient with the flipped kernel.

Where a wrong answer matches a common mistake (a flipped kernel, a missing bias, a stride or a
padding ignored, an output one row too short), the verdict names that mistake.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .verdict import Verdict, require_function, run_cases, tensor_problem

__all__ = ["check_corr2d", "check_conv2d", "check_conv_input_grad"]

_SEED = 0


def _matches(got: object, expected: Tensor) -> bool:
    """Whether ``got`` is a tensor of ``expected``'s shape with close values."""
    return tensor_problem(got, expected) is None


def _shape(t: Tensor) -> tuple[int, ...]:
    return tuple(t.shape)


def _mistake(got: object, mistakes: list[tuple[Tensor, str]]) -> str | None:
    """The message of the first known mistake whose result ``got`` reproduces, if any."""
    for wrong, message in mistakes:
        if _matches(got, wrong):
            return message
    return None


# ---------------------------------------------------------------- corr2d: loops, one channel

@dataclass(frozen=True)
class _Corr2dCase:
    x: Tensor
    k: Tensor


def _corr2d_cases() -> list[_Corr2dCase]:
    g = torch.Generator().manual_seed(_SEED)
    sizes = [((5, 5), (3, 3)), ((6, 4), (2, 2)), ((7, 6), (2, 3)), ((5, 8), (3, 1)),
             ((4, 4), (1, 1)), ((4, 5), (4, 5)), ((9, 7), (4, 2))]
    return [_Corr2dCase(torch.randn(*xs, generator=g, dtype=torch.float64),
                        torch.randn(*ks, generator=g, dtype=torch.float64))
            for xs, ks in sizes]


def _corr2d(x: Tensor, k: Tensor) -> Tensor:
    return F.conv2d(x[None, None], k[None, None])[0, 0]


def check_corr2d(fn: Callable[..., object]) -> Verdict:
    """Check ``fn(x, k)``, the cross-correlation of an (H, W) image with a (kH, kW) kernel (no
    padding, stride 1), against ``F.conv2d``: the result must have shape
    (H - kH + 1, W - kW + 1); square and rectangular kernels, from 1x1 to the image's size.
    The Convolution chapter's Exercise 1."""
    require_function(fn)

    def check_one(case: _Corr2dCase) -> str | None:
        got = fn(case.x.clone(), case.k.clone())
        expected = _corr2d(case.x, case.k)
        problem = tensor_problem(got, expected)
        if problem is None:
            return None
        (h, w), (kh, kw) = case.x.shape, case.k.shape
        known = _mistake(got, [(_corr2d(case.x, case.k.flip(0, 1)),
                                "your result is the true convolution: the kernel is flipped. "
                                "Slide it as it is (cross-correlation), as F.conv2d does")])
        if known:
            return known
        if "shape" in problem:
            problem += (f"\nthe kernel fits at H - kH + 1 = {h - kh + 1} rows and "
                        f"W - kW + 1 = {w - kw + 1} columns")
        return problem

    return run_cases("corr2d", "F.conv2d", _corr2d_cases(), check_one,
                     describe_case=lambda c: f"fn(x of shape {_shape(c.x)}, k of shape "
                                             f"{_shape(c.k)})")


# ---------------------------------------------------------------- conv2d: channels, bias, stride

@dataclass(frozen=True)
class _Conv2dCase:
    x: Tensor
    weight: Tensor
    bias: Tensor | None
    stride: int
    padding: int
    grad: bool  # whether x and weight require grad (gradients are then compared)


def _conv2d_cases() -> list[_Conv2dCase]:
    g = torch.Generator().manual_seed(_SEED)
    # (n, c_in, c_out, (h, w), (kh, kw), bias, stride, padding, grad): easy cases first
    plan = [(1, 1, 1, (5, 5), (3, 3), False, 1, 0, False),
            (2, 1, 1, (6, 5), (2, 3), False, 1, 0, False),
            (1, 3, 1, (5, 6), (3, 3), False, 1, 0, False),
            (2, 3, 4, (6, 5), (3, 2), False, 1, 0, False),
            (2, 2, 3, (5, 5), (3, 3), True, 1, 0, False),
            (1, 2, 2, (7, 8), (3, 3), False, 2, 0, False),
            (2, 1, 2, (5, 4), (3, 2), False, 1, 1, False),
            (2, 3, 2, (9, 7), (3, 2), True, 2, 1, False),
            (1, 2, 3, (8, 9), (2, 3), True, 3, 2, False),
            (2, 2, 3, (6, 7), (3, 3), True, 1, 1, True),
            (2, 3, 2, (7, 6), (2, 3), True, 2, 1, True)]
    cases = []
    for n, c_in, c_out, (h, w), (kh, kw), bias, stride, padding, grad in plan:
        x = torch.randn(n, c_in, h, w, generator=g, dtype=torch.float64)
        weight = torch.randn(c_out, c_in, kh, kw, generator=g, dtype=torch.float64)
        b = torch.randn(c_out, generator=g, dtype=torch.float64) if bias else None
        cases.append(_Conv2dCase(x, weight, b, stride, padding, grad))
    return cases


def _conv2d_mistakes(case: _Conv2dCase) -> list[tuple[Tensor, str]]:
    x, w, b, s, p = case.x, case.weight, case.bias, case.stride, case.padding
    mistakes = [(F.conv2d(x, w.flip(2, 3), b, s, p),
                 "your result is the true convolution: the kernel is flipped. F.conv2d "
                 "slides it as it is (cross-correlation)")]
    if b is not None:
        mistakes.append((F.conv2d(x, w, None, s, p),
                         "the bias is missing: add bias[o] to every value of output channel o"))
    if s != 1:
        mistakes.append((F.conv2d(x, w, b, 1, p),
                         f"your output is the one for stride 1: with stride={s} the window "
                         f"moves {s} pixels at a time"))
    if p != 0:
        mistakes.append((F.conv2d(x, w, b, s, 0),
                         f"your output is the one for padding 0: first pad x with {p} zeros "
                         "on every side"))
    if x.shape[1] > 1:
        mistakes.append((F.conv2d(x[:, :1], w[:, :1], b, s, p),
                         "only the first input channel counts in your result: output channel o "
                         "sums the cross-correlations of every input channel c with "
                         "weight[o, c]"))
    return mistakes


def _conv2d_hint(case: _Conv2dCase, problem: str) -> str:
    """The value or shape problem, with the rule that was probably broken."""
    n, _, h, w = case.x.shape
    c_out, c_in, kh, kw = case.weight.shape
    s, p = case.stride, case.padding
    if "shape" in problem:
        h_out, w_out = (h + 2 * p - kh) // s + 1, (w + 2 * p - kw) // s + 1
        return (problem + f"\nthe output is (N, C_out, H_out, W_out), with\n"
                f"H_out = (H + 2*padding - kH) // stride + 1 = {h_out} and W_out = {w_out}")
    if c_in > 1:
        return (problem + "\noutput channel o is bias[o] plus the sum over all input channels c"
                "\nof x[:, c] cross-correlated with weight[o, c]")
    return problem


def _grad_problem(got: Tensor, case: _Conv2dCase) -> str | None:
    """Compare the gradients for x and weight of ``got`` (built from the case's leaves) with
    F.conv2d's, under the same random upstream gradient."""
    x, w = case.x.clone().requires_grad_(), case.weight.clone().requires_grad_()
    expected = F.conv2d(x, w, case.bias, case.stride, case.padding)
    up = torch.randn(expected.shape, generator=torch.Generator().manual_seed(_SEED + 1),
                     dtype=expected.dtype)
    want = torch.autograd.grad((expected * up).sum(), (x, w))
    have = torch.autograd.grad((got * up).sum(), (case.x, case.weight), allow_unused=True)
    for name, h, e in zip(("x", "weight"), have, want):
        if h is None:
            return (f"the result does not depend on {name} through autograd: compute it "
                    f"from {name} with torch operations")
        problem = tensor_problem(h, e, what=f"the gradient for {name}")
        if problem:
            return problem
    return None


def check_conv2d(fn: Callable[..., object]) -> Verdict:
    """Check ``fn(x, weight, bias=None, stride=1, padding=0)`` against ``F.conv2d``: ``x`` is
    (N, C_in, H, W), ``weight`` (C_out, C_in, kH, kW), ``bias`` (C_out,) or None, ``stride`` and
    ``padding`` ints. Cases grow from one channel to several, with a bias, a stride, zero
    padding, rectangular inputs and kernels; in the last cases ``x`` and ``weight`` require
    grad and, when the result does too, the gradients for both are compared. Nothing is
    refused: every case is a valid convolution. The Convolution chapter's Exercise 3."""
    require_function(fn)

    def check_one(case: _Conv2dCase) -> str | None:
        x = case.x.clone().requires_grad_(case.grad)
        w = case.weight.clone().requires_grad_(case.grad)
        leaf = _Conv2dCase(x, w, case.bias, case.stride, case.padding, case.grad)
        bias = None if case.bias is None else case.bias.clone()
        got = fn(x, w, bias, stride=case.stride, padding=case.padding)
        problem = tensor_problem(got, F.conv2d(case.x, case.weight, case.bias, case.stride,
                                               case.padding))
        if problem:
            return _mistake(got, _conv2d_mistakes(case)) or _conv2d_hint(case, problem)
        if case.grad and isinstance(got, Tensor) and got.requires_grad:
            return _grad_problem(got, leaf)
        return None

    def describe_case(c: _Conv2dCase) -> str:
        bias = "None" if c.bias is None else f"of shape {_shape(c.bias)}"
        return (f"fn(x of shape {_shape(c.x)}, weight of shape {_shape(c.weight)},\n"
                f"              bias {bias}, stride={c.stride}, padding={c.padding})")

    return run_cases("conv2d", "F.conv2d", _conv2d_cases(), check_one, describe_case=describe_case)


# ---------------------------------------------------------------- the backward pass for the input

@dataclass(frozen=True)
class _GradCase:
    grad_out: Tensor
    weight: Tensor


def _grad_cases() -> list[_GradCase]:
    g = torch.Generator().manual_seed(_SEED)
    # (n, c_in, c_out, (h_out, w_out), (kh, kw))
    plan = [(1, 1, 1, (3, 3), (3, 3)), (2, 1, 1, (4, 3), (2, 3)), (1, 2, 1, (3, 4), (3, 3)),
            (2, 1, 3, (4, 4), (3, 2)), (2, 3, 2, (5, 3), (2, 3)), (1, 2, 4, (2, 2), (4, 4))]
    return [_GradCase(torch.randn(n, co, ho, wo, generator=g, dtype=torch.float64),
                      torch.randn(co, ci, kh, kw, generator=g, dtype=torch.float64))
            for n, ci, co, (ho, wo), (kh, kw) in plan]


def _input_grad(grad_out: Tensor, weight: Tensor) -> Tensor:
    """The gradient for x of ``(F.conv2d(x, weight) * grad_out).sum()``, by autograd."""
    n, _, ho, wo = grad_out.shape
    _, c_in, kh, kw = weight.shape
    x = torch.zeros(n, c_in, ho + kh - 1, wo + kw - 1, dtype=grad_out.dtype, requires_grad=True)
    (gx,) = torch.autograd.grad((F.conv2d(x, weight) * grad_out).sum(), x)
    return gx


def check_conv_input_grad(fn: Callable[..., object]) -> Verdict:
    """Check ``fn(grad_out, weight)``, the gradient of a convolution (stride 1, no padding, no
    bias) with respect to its input ``x``: ``grad_out`` is (N, C_out, H_out, W_out), ``weight``
    (C_out, C_in, kH, kW), and the answer, of shape (N, C_in, H_out + kH - 1, W_out + kW - 1),
    is compared with what autograd computes through ``F.conv2d``. The Convolution chapter's
    Exercise 6 (the backward pass: the reader scatters; the chapter gathers with the flipped
    kernel)."""
    require_function(fn)

    def check_one(case: _GradCase) -> str | None:
        got = fn(case.grad_out.clone(), case.weight.clone())
        expected = _input_grad(case.grad_out, case.weight)
        problem = tensor_problem(got, expected)
        if problem is None:
            return None
        kh, kw = case.weight.shape[2:]
        mistakes = [(_input_grad(case.grad_out, case.weight.flip(2, 3)),
                     "the kernel is not flipped: the gradient for the input cross-correlates "
                     "the padded upstream gradient with the kernel turned by 180 degrees")]
        known = _mistake(got, mistakes)
        if known:
            return known
        if "shape" in problem:
            return (problem + f"\npad grad_out with kH - 1 = {kh - 1} rows and kW - 1 = "
                    f"{kw - 1} columns\non every side, so that the answer has x's shape")
        if case.weight.shape[0] > 1 or case.weight.shape[1] > 1:
            return (problem + "\ninput channel c gathers from every output channel o through "
                    "weight[o, c]:\nswap the weight's first two dimensions")
        return problem

    def describe_case(c: _GradCase) -> str:
        return (f"fn(grad_out of shape {_shape(c.grad_out)}, weight of shape "
                f"{_shape(c.weight)})")

    return run_cases("conv_input_grad", "autograd through F.conv2d", _grad_cases(), check_one,
                     describe_case=describe_case)
