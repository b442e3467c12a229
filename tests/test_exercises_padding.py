"""The Padding chapter's exercise checks: a correct solution passes, and each planted mistake
fails with a verdict that names it."""

import math

import pytest
import torch

import cnnbook as cb
from cnnbook.exercises.padding import pad_cases, size_cases

# -------------------------------------------------------------------------------- output size


def right_size(n, k, stride=1, padding=0, dilation=1):
    span = n + 2 * padding - dilation * (k - 1) - 1
    if span < 0:
        raise ValueError("the window is larger than the padded input")
    return span // stride + 1


def ceil_size(n, k, stride=1, padding=0, dilation=1):
    right_size(n, k, stride, padding, dilation)  # refuses what it should
    return math.ceil((n + 2 * padding - dilation * (k - 1) - 1) / stride) + 1


def no_dilation(n, k, stride=1, padding=0, dilation=1):
    return right_size(n, k, stride, padding, 1)


def padding_once(n, k, stride=1, padding=0, dilation=1):
    right_size(n, k, stride, padding, dilation)
    return (n + padding - dilation * (k - 1) - 1) // stride + 1


def never_refuses(n, k, stride=1, padding=0, dilation=1):
    return (n + 2 * padding - dilation * (k - 1) - 1) // stride + 1


def float_size(n, k, stride=1, padding=0, dilation=1):
    return float(right_size(n, k, stride, padding, dilation))


def test_the_right_output_size_passes():
    verdict = cb.check_output_size(right_size)
    assert verdict and verdict.total == 60 and "all 60 cases agree with F.conv2d" in str(verdict)


@pytest.mark.parametrize("wrong, says", [
    (ceil_size, "rounds down (floor)"),
    (no_dilation, "without dilation"),
    (padding_once, "padding is added on each side"),
    (never_refuses, "should raise ValueError, but your function returned -1"),
    (float_size, "should be an int, got 5.0 (use // for the floor)"),
])
def test_each_wrong_output_size_fails_and_is_named(wrong, says):
    verdict = cb.check_output_size(wrong)
    assert not verdict
    assert says in str(verdict), str(verdict)
    assert f"{wrong.__name__}(" in str(verdict)  # the failing call, as the reader would write it


def test_the_size_cases_are_what_conv2d_does_and_include_refusals():
    cases = size_cases()
    refused = [c for c in cases if c.out is None]
    assert 3 <= len(refused) < len(cases) // 2
    assert {c.dilation for c in cases} == {1, 2, 3} and {c.stride for c in cases} == {1, 2, 3, 4}
    for c in cases:
        assert c.out == (None if c.n + 2 * c.padding < c.dilation * (c.k - 1) + 1
                         else cb.conv_output_size(c.n, c.k, c.stride, c.padding, c.dilation))


def test_an_exception_is_reported_not_raised():
    def broken(n, k, stride=1, padding=0, dilation=1):
        return n // 0

    assert "raised ZeroDivisionError" in str(cb.check_output_size(broken))


# -------------------------------------------------------------------------------- pad2d


def right_pad(x, pad, mode):
    return cb.pad2d(x, pad, mode)


def index_pad(x, pad, mode, rule):
    """Pad by an index rule per axis: rule(n, before, after) gives the source positions."""
    if mode == "constant":
        return cb.pad2d(x, pad, mode)
    left, right, top, bottom = pad
    H, W = x.shape[-2:]
    return x[..., rule(H, top, bottom), :][..., rule(W, left, right)]


def repeats_edge(x, pad, mode):
    def rule(n, before, after):
        if max(before, after) >= n:
            raise ValueError("too far")
        return torch.cat([torch.arange(before - 1, -1, -1), torch.arange(n),
                          torch.arange(n - 1, n - 1 - after, -1)])
    return index_pad(x, pad, mode, rule) if mode == "reflect" else cb.pad2d(x, pad, mode)


def mixes_up(x, pad, mode):
    swap = {"replicate": "circular", "circular": "replicate"}
    return cb.pad2d(x, pad, swap.get(mode, mode))


def reflects_too_far(x, pad, mode):
    def rule(n, before, after):  # folds back again instead of refusing
        period = max(2 * (n - 1), 1)
        i = torch.arange(-before, n + after).remainder(period)
        return torch.where(i > n - 1, period - i, i)
    return index_pad(x, pad, mode, rule) if mode == "reflect" else cb.pad2d(x, pad, mode)


def swaps_axes(x, pad, mode):
    left, right, top, bottom = pad
    return cb.pad2d(x, (top, bottom, left, right), mode)


def changes_input(x, pad, mode):
    out = cb.pad2d(x, pad, mode)
    x.zero_()
    return out


def test_the_right_padding_passes_in_every_mode_and_each_mode_alone():
    verdict = cb.check_pad2d(right_pad)
    assert verdict and "all 40 cases agree with F.pad" in str(verdict)
    for mode in ("constant", "reflect", "replicate", "circular"):
        assert cb.check_pad2d(right_pad, modes=[mode])


@pytest.mark.parametrize("wrong, modes, says", [
    (repeats_edge, None, "your reflect repeats the edge pixel"),
    (mixes_up, None, "your 'replicate' padding gives what 'circular' padding gives"),
    (mixes_up, ["circular"], "your 'circular' padding gives what 'replicate' padding gives"),
    (reflects_too_far, None, "reflect padding of n or more on a side of an n-pixel axis "
                             "(F.pad refuses it) should raise ValueError"),
    (swaps_axes, None, "pad is (left, right, top, bottom)"),
    (changes_input, None, "changed its input x"),
])
def test_each_wrong_padding_fails_and_is_named(wrong, modes, says):
    verdict = cb.check_pad2d(wrong) if modes is None else cb.check_pad2d(wrong, modes=modes)
    assert not verdict
    assert says in str(verdict), str(verdict)


def test_the_pad_cases_are_uneven_mixed_in_shape_and_include_refusals():
    cases = pad_cases()
    assert {c.x.dim() for c in cases} == {2, 4}
    assert all(c.pad[0] != c.pad[1] for c in cases[:4])  # uneven from the first case on
    refused = {c.mode for c in cases if c.refused}
    assert refused == {"reflect", "circular"}
    for c in cases:
        if c.refused:
            with pytest.raises((RuntimeError, ValueError)):
                torch.nn.functional.pad(c.x if c.x.dim() == 4 else c.x[None], c.pad, mode=c.mode)


def test_check_pad2d_refuses_an_unknown_mode():
    with pytest.raises(ValueError, match="modes must be one or more of"):
        cb.check_pad2d(right_pad, modes=["mirror"])
