"""pad2d and conv_output_size against PyTorch itself: F.pad and a real F.conv2d."""

import random
import warnings

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.padding import (
    PAD_MODES,
    conv_output_size,
    layers_output_size,
    pad2d,
    pixel_coverage,
    same_padding,
)

torch.set_num_threads(1)
TORCH_MODE = {"constant": "constant", "zeros": "constant", "reflect": "reflect",
              "replicate": "replicate", "circular": "circular"}


def _random_padding(rng: random.Random, mode: str, H: int, W: int) -> tuple[int, int, int, int]:
    """A random (left, right, top, bottom) that F.pad accepts in ``mode``, never negative."""
    cap_w = {"reflect": W - 1, "circular": W}.get(mode, 5)
    cap_h = {"reflect": H - 1, "circular": H}.get(mode, 5)
    return (rng.randint(0, cap_w), rng.randint(0, cap_w), rng.randint(0, cap_h),
            rng.randint(0, cap_h))


def _torch_pad(x, sides, mode, value=0.0):
    """F.pad's answer, or None where it refuses or returns memory it never wrote."""
    flat = x.ndim == 2  # F.pad takes no 2-D input outside constant mode: give it a channel
    try:
        out = F.pad(x[None] if flat else x, sides, mode=TORCH_MODE[mode],
                    value=value if value else None)
        out = out[0] if flat else out
    except (RuntimeError, ValueError):
        return None
    if mode == "circular":  # PyTorch 2.x wraps a crop inconsistently where a pad exceeds what
        # the crop keeps: uninitialised memory, several wraps, or an error; pad2d refuses those
        for n, lo, hi in ((x.shape[-1], *sides[:2]), (x.shape[-2], *sides[2:])):
            if max(lo, hi) > n - max(-lo, 0) - max(-hi, 0):
                return None
    return out


# ---------------------------------------------------------------------------------- pad2d


@pytest.mark.parametrize("mode", PAD_MODES)
def test_pad2d_matches_F_pad_on_random_shapes_and_crops(mode):
    """Random sides in [-n-1, n+1] (crops included): equal where F.pad accepts, else ValueError."""
    rng = random.Random(PAD_MODES.index(mode))
    accepted = 0
    for trial in range(600):
        ndim = rng.choice([2, 3, 4])
        H, W = rng.randint(1, 6), rng.randint(1, 6)
        shape = (rng.randint(1, 2), rng.randint(1, 2), H, W)[4 - ndim:]
        x = torch.randn(shape, generator=torch.Generator().manual_seed(trial), dtype=torch.float64)
        sides = tuple(rng.randint(-n - 1, n + 1) for n in (W, W, H, H))
        value = rng.choice([0.0, -1.5, 3.0]) if mode == "constant" else 0.0
        expected = _torch_pad(x, sides, mode, value)
        if expected is None:
            with pytest.raises(ValueError, match=r"padding \("):
                pad2d(x, sides, mode, value)
            continue
        got = pad2d(x, sides, mode, value)
        assert got.shape == expected.shape and torch.equal(got, expected), (mode, shape, sides)
        accepted += 1
    assert accepted > 40  # the draw must exercise the accepted cases, not only the refusals


@pytest.mark.parametrize("mode", PAD_MODES)
def test_pad2d_gradients_match_F_pad(mode):
    rng = random.Random(10 + PAD_MODES.index(mode))
    checked = 0
    for _trial in range(40):
        H, W = rng.randint(2, 6), rng.randint(2, 6)
        sides = tuple(rng.randint(-n + 1, n - 1) for n in (W, W, H, H))
        x = torch.randn(2, 3, H, W, dtype=torch.float64, requires_grad=True)
        ref = _torch_pad(x, sides, mode)
        if ref is None:
            continue
        weights = torch.randn(ref.shape, dtype=torch.float64)
        (g_ref,) = torch.autograd.grad((ref * weights).sum(), x)
        (g_ours,) = torch.autograd.grad((pad2d(x, sides, mode=mode) * weights).sum(), x)
        torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=1e-12)
        checked += 1
    assert checked >= 20


def test_pad2d_positive_padding_has_no_other_limits_than_F_pad():
    rng = random.Random(7)
    for mode in PAD_MODES:
        for trial in range(20):
            H, W = rng.randint(1, 9), rng.randint(1, 9)
            x = torch.randn(1, 2, H, W, generator=torch.Generator().manual_seed(trial))
            sides = _random_padding(rng, mode, H, W)
            assert torch.equal(pad2d(x, sides, mode), F.pad(x, sides, mode=TORCH_MODE[mode]))


def test_pad2d_zeros_is_constant_zero_and_crop_is_slicing():
    x = torch.randn(2, 5, 6)
    assert torch.equal(pad2d(x, 2, "zeros"), pad2d(x, 2, "constant"))
    assert torch.equal(pad2d(x, 2), F.pad(x, (2, 2, 2, 2)))  # the default mode pads with 0
    assert torch.equal(pad2d(x, (-1, -2, -2, 0)), x[:, 2:, 1:4])
    assert torch.equal(pad2d(x, 1, value=7.0)[:, 0], torch.full((2, 8), 7.0))
    with pytest.raises(ValueError, match="value must be 0 in reflect mode"):
        pad2d(x, 1, "reflect", value=1.0)
    with pytest.raises(ValueError, match="value must be 0 in zeros mode"):
        pad2d(x, 1, "zeros", value=5.0)  # it used to fill with 5
    with pytest.raises(TypeError, match="value must be a number"):
        pad2d(x, 1, value="1")


def test_pad2d_padding_forms_and_2d_input():
    x = torch.arange(12.0).view(1, 3, 4)
    # an int pads every side; a pair is (pad_h, pad_w)
    assert torch.equal(pad2d(x, 1, "reflect"), F.pad(x, (1, 1, 1, 1), mode="reflect"))
    assert torch.equal(pad2d(x, (1, 2), "replicate"), F.pad(x, (2, 2, 1, 1), mode="replicate"))
    assert torch.equal(pad2d(x, [0, 3, 2, 1], "circular"), F.pad(x, (0, 3, 2, 1), mode="circular"))
    # (H, W) input: same values as the (1, H, W) version, shape without the channel
    got = pad2d(x[0], (2, 1, 1, 2), "reflect")
    assert torch.equal(got, F.pad(x, (2, 1, 1, 2), mode="reflect")[0])
    # the example from the docstring, worked by hand
    row = pad2d(torch.tensor([[1.0, 2.0, 3.0]]), (0, 2), "reflect")
    assert row.tolist() == [[3.0, 2.0, 1.0, 2.0, 3.0, 2.0, 1.0]]
    assert pad2d(torch.tensor([[1.0, 2.0, 3.0]]), (0, 2), "circular").tolist() == [
        [2.0, 3.0, 1.0, 2.0, 3.0, 1.0, 2.0]]


VALUE_DTYPES = [torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64,
                torch.uint8, torch.int8, torch.int32, torch.int64, torch.bool]
VALUES = [None, 0, 1.5, -1, -0.5, -1e-9, 127, 127.99, 128, -128, -128.01, 255, 255.5, 256, 65504.0, 65504.5,
          3.4028234663852886e38, 3.4028235e38, 1e300, -1e300, float("inf"), float("-inf"), float("nan"),
          2**31 - 0.5, 2**31, -(2**31), -(2**31) - 0.5, 2.0**63 - 1024, 2**63, -(2**63), -(2.0**63) - 2048, 2**70,
          np.float32(2.5), np.int64(-3)]


@pytest.mark.parametrize("dtype", VALUE_DTYPES, ids=str)
def test_pad2d_value_is_what_F_pad_accepts(dtype):
    """Every fill F.pad takes (NaN and infinities too, or None for 0), pad2d takes with the same
    result; every one it refuses for the dtype, pad2d refuses with a ValueError naming value."""
    x = torch.ones(1, 2, 2, dtype=dtype)
    accepted = 0
    for value in VALUES:
        try:
            theirs = F.pad(x, (1, 1, 1, 1), value=value)
        except RuntimeError as err:
            assert "cannot be converted" in str(err)
            with pytest.raises(ValueError, match=rf"value must be in .* to pad a tensor of {dtype}"):
                pad2d(x, 1, value=value)
            continue
        ours = pad2d(x, 1, value=value)
        assert ours.dtype == dtype
        torch.testing.assert_close(ours, theirs, rtol=0, atol=0, equal_nan=True, msg=f"{dtype} {value!r}")
        accepted += 1
    # both sides of each dtype's line are drawn
    assert accepted >= 8 and (accepted < len(VALUES) or dtype in (torch.float64, torch.bool))


def test_pad2d_value_nan_and_none_like_F_pad():
    x = torch.randn(1, 3, 3)
    out = pad2d(x, 1, value=float("nan"))
    assert out[:, 0].isnan().all() and torch.equal(out[:, 1:-1, 1:-1], x)
    assert torch.equal(pad2d(x, 1, value=None), F.pad(x, (1, 1, 1, 1), value=None))
    assert torch.equal(pad2d(x, 1, "reflect", value=None), F.pad(x, (1, 1, 1, 1), mode="reflect"))
    with pytest.raises(ValueError, match="value must be 0 in reflect mode"):  # as F.pad refuses it
        pad2d(x, 1, "reflect", value=float("nan"))
    with pytest.raises(TypeError, match="value must be a number, got True"):  # F.pad takes it; a bool
        pad2d(x, 1, value=True)  # is never a number in cnnbook


BIG = 2**31 - 1  # the largest size any argument may have (cnnbook._checks.SIZE_MAX)


def test_pad2d_padding_is_bounded_by_2_to_the_31():
    # just inside: works (an empty tensor holds it), as in F.pad
    empty = torch.zeros(0, 1, 1)
    assert pad2d(empty, (BIG, 0, 0, 0)).shape == F.pad(empty, (BIG, 0, 0, 0)).shape == (0, 1, BIG + 1)
    assert pad2d(torch.ones(1, 1, 2), (0, 0, -1, 0), "circular").shape == (1, 0, 2)
    # just outside, and far outside: a ValueError naming the side and the range
    for side, bad in [("left", BIG + 1), ("bottom", -BIG - 1), ("top", 2**62), ("right", 2**64)]:
        sides = {"left": 0, "right": 0, "top": 0, "bottom": 0} | {side: bad}
        with pytest.raises(ValueError, match=rf"padding \({side}\) must be an int in "
                                             rf"\[-2147483647, 2147483647\], got {bad}"):
            pad2d(torch.ones(1, 2, 2), tuple(sides.values()))
    # inside the range, but more than torch can lay out: refused before allocating (F.pad raises
    # "Storage size calculation overflowed")
    with pytest.raises(ValueError, match=r"padding \(left, right, top, bottom\) = .* more than a tensor can hold"):
        pad2d(torch.ones(1, 1, 6, 6), 2**30)
    with pytest.raises(RuntimeError, match="overflow"):
        F.pad(torch.ones(1, 1, 6, 6), (2**30,) * 4)


def test_pad2d_keeps_dtype_and_device():
    x = torch.randint(0, 255, (1, 2, 3, 3), dtype=torch.uint8)
    for mode in PAD_MODES:
        y = pad2d(x, 1, mode)
        assert y.dtype == torch.uint8 and y.device == x.device
        assert torch.equal(y, F.pad(x.float(), (1,) * 4, mode=TORCH_MODE[mode]).to(torch.uint8))


def test_pad2d_limits_match_F_pad():
    """reflect: pad < size; circular: pad <= size; F.pad draws the same lines."""
    x = torch.randn(1, 1, 3, 5)
    for mode, ok_w, bad_w in (("reflect", 4, 5), ("circular", 5, 6)):
        assert torch.equal(pad2d(x, (0, ok_w, 0, 0), mode),
                           F.pad(x, (0, ok_w, 0, 0), mode=TORCH_MODE[mode]))
        with pytest.raises(ValueError, match=r"padding \(left, right\).*width W=5"):
            pad2d(x, (0, bad_w, 0, 0), mode)
        with pytest.raises((RuntimeError, ValueError)):
            F.pad(x, (0, bad_w, 0, 0), mode=TORCH_MODE[mode])
    with pytest.raises(ValueError, match=r"padding \(top, bottom\).*height H=3"):
        pad2d(x, (0, 0, 3, 0), "reflect")
    with pytest.raises(ValueError, match=r"padding \(top, bottom\).*height H=3"):
        pad2d(x, (0, 0, 0, 4), "circular")
    # zeros and replicate have no upper limit
    for mode in ("zeros", "replicate"):
        assert pad2d(x, 9, mode).shape == (1, 1, 21, 23)


@pytest.mark.parametrize(
    "args, error, pattern",
    [
        ((torch.zeros(2, 2), -2), ValueError, r"padding \(left, right\).*cannot crop 4"),
        ((torch.zeros(2, 2), (0, 0, 0, -3)), ValueError, r"padding \(top, bottom\).*crop 3"),
        ((torch.zeros(2, 2), (1, 2, 3)), ValueError, r"padding must be an int, a \(pad_h"),
        ((torch.zeros(2, 2), 1.5), TypeError, r"padding must be an int"),
        ((torch.zeros(2, 2), (1.0, 1)), TypeError, r"padding \(top\) must be an int"),
        ((torch.zeros(2, 2), 1, "edge"), ValueError, r"mode must be one of \('constant', "
                                                      r"'zeros', 'reflect', 'replicate', "
                                                      r"'circular'\)"),
        ((torch.zeros(5), 1), ValueError, r"x must be 4-D \(N, C, H, W\), 3-D \(C, H, W\) or 2-D \(H, W\), got 1-D"),
        ((torch.zeros(1, 1, 1, 2, 2), 1), ValueError, r"x must be 4-D .* got 5-D with shape \(1, 1, 1, 2, 2\)"),
        (([[1.0, 2.0]], 1), TypeError, r"x must be a torch.Tensor"),
        ((torch.zeros(1, 0, 3), (0, 0, 1, 0), "replicate"), ValueError,
         r"padding \(top, bottom\).*H=0: replicate padding needs a non-empty input"),
    ],
)
def test_pad2d_bad_arguments_name_the_parameter(args, error, pattern):
    with pytest.raises(error, match=pattern):
        pad2d(*args)


# ----------------------------------------------------------------------- conv_output_size


def _real_conv_size(n, k, s, p, d):
    x = torch.zeros(1, 1, *((n, n) if isinstance(n, int) else n))
    w = torch.zeros(1, 1, *((k, k) if isinstance(k, int) else k))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "same" with an even kernel warns about an extra copy
        return tuple(F.conv2d(x, w, stride=s, padding=p, dilation=d).shape[-2:])


def test_conv_output_size_matches_conv2d_on_a_grid():
    checked = 0
    for n in range(1, 10):
        for k in range(1, 6):
            for s in range(1, 4):
                for d in (1, 2, 3):
                    for p in (0, 1, 2, 3, "valid", "same"):
                        if p == "same" and s > 1:
                            continue
                        pad = (p,) * 2 if isinstance(p, int) else (0, 0)
                        if p != "same" and d * (k - 1) + 1 > n + 2 * pad[0]:
                            with pytest.raises(ValueError, match="kernel_size"):
                                conv_output_size(n, k, s, p, d)
                            with pytest.raises(RuntimeError):
                                _real_conv_size(n, k, s, p, d)
                            continue
                        out = conv_output_size(n, k, s, p, d)
                        assert isinstance(out, int)
                        assert (out, out) == _real_conv_size(n, k, s, p, d), (n, k, s, p, d)
                        checked += 1
    assert checked > 1000


def test_conv_output_size_pairs_match_conv2d_on_random_settings():
    rng = random.Random(0)
    for _ in range(200):
        n = (rng.randint(1, 20), rng.randint(1, 20))
        k = (rng.randint(1, 5), rng.randint(1, 5))
        d = (rng.randint(1, 3), rng.randint(1, 3))
        same = rng.random() < 0.3
        s = (1, 1) if same else (rng.randint(1, 4), rng.randint(1, 4))
        p = "same" if same else (rng.randint(0, 3), rng.randint(0, 3))
        fits = same or all(dd * (kk - 1) + 1 <= nn + 2 * pp for nn, kk, dd, pp in zip(n, k, d, p))
        if not fits:
            with pytest.raises(ValueError, match="kernel_size"):
                conv_output_size(n, k, s, p, d)
            continue
        assert conv_output_size(n, k, s, p, d) == _real_conv_size(n, k, s, p, d)


def test_conv_output_size_return_kind_and_same():
    assert conv_output_size(224, 11, 4, 2) == 55  # AlexNet's first layer
    assert conv_output_size(32, 5) == 28  # LeNet-5's first layer
    assert conv_output_size((28, 30), 3, padding="same") == (28, 30)
    assert conv_output_size(28, (3, 5)) == (26, 24)
    assert conv_output_size(28, 4, padding="same", dilation=3) == 28
    assert conv_output_size(10, 3, padding="valid") == conv_output_size(10, 3, padding=0) == 8


def test_conv_output_size_for_pools():
    x = torch.zeros(1, 1, 13, 13)
    for k, s, p, d in [(2, 2, 0, 1), (3, 2, 1, 1), (3, 2, 0, 2), (3, 3, 1, 1), (5, 1, 2, 1)]:
        assert conv_output_size(13, k, s, p, d) == F.max_pool2d(x, k, s, p, d).shape[-1]
        if d == 1:
            assert conv_output_size(13, k, s, p) == F.avg_pool2d(x, k, s, p).shape[-1]


def test_conv_output_size_ceil_mode_matches_max_pool2d_on_random_settings():
    """Every pool setting PyTorch accepts (pad <= k // 2): same size, ceil_mode or not."""
    rng = random.Random(5)
    compared = 0
    for _ in range(1500):
        n, k, s, d = rng.randint(1, 12), rng.randint(1, 5), rng.randint(1, 5), rng.randint(1, 3)
        p, ceil = rng.randint(0, k // 2), rng.random() < 0.7
        try:
            ref = F.max_pool2d(torch.zeros(1, 1, n, n), k, s, p, d, ceil_mode=ceil).shape[-1]
        except RuntimeError:
            with pytest.raises(ValueError, match="kernel_size: the window covers"):
                conv_output_size(n, k, s, p, d, ceil_mode=ceil)
            continue
        assert conv_output_size(n, k, s, p, d, ceil_mode=ceil) == ref, (n, k, s, p, d, ceil)
        compared += 1
    assert compared > 800
    # the rule that drops a last window starting in the right padding: floor 2, ceil 3 -> 2
    assert conv_output_size(4, 2, 3, 1, ceil_mode=True) == 2
    assert F.max_pool2d(torch.zeros(1, 1, 4, 4), 2, 3, 1, ceil_mode=True).shape[-1] == 2
    with pytest.raises(TypeError, match="ceil_mode must be True or False"):
        conv_output_size(4, 2, ceil_mode=1)


BIG = 2**31 - 1  # the largest size any argument may have (cnnbook._checks.SIZE_MAX)


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(n=-1, kernel_size=3), ValueError, r"n must be in \[0, 2147483647\], got -1"),
        (dict(n=0, kernel_size=3), ValueError, r"kernel_size: the window covers .* 3 pixels, .* \(0 = n 0"),
        (dict(n=(5, 0), kernel_size=3), ValueError, r"kernel_size: the window covers .* axis W"),
        (dict(n=5, kernel_size=0), ValueError, r"kernel_size must be in \[1, 2147483647\], got 0"),
        (dict(n=5, kernel_size=3, stride=0), ValueError, r"stride must be in \[1, 2147483647\], got 0"),
        (dict(n=5, kernel_size=3, dilation=0), ValueError, r"dilation must be in \[1, 2147483647\], got 0"),
        (dict(n=5, kernel_size=3, padding=-1), ValueError, r"padding must be in \[0, 2147483647\], got -1"),
        (dict(n=5, kernel_size=3, padding="full"), ValueError, r"padding must be .*'same'.*'full'"),
        (dict(n=5, kernel_size=3, stride=2, padding="same"), ValueError,
         r"padding='same' needs stride=1.*stride=2"),
        (dict(n=5, kernel_size=7), ValueError, r"kernel_size: the window covers .* 7 pixels"),
        (dict(n=5, kernel_size=3, dilation=3), ValueError, r"kernel_size: the window covers"),
        (dict(n=5.0, kernel_size=3), TypeError, r"n must be an int"),
        (dict(n=5, kernel_size=True), TypeError, r"kernel_size must be an int"),
        (dict(n=(5, 5, 5), kernel_size=3), ValueError, r"n must be an int or a pair of ints"),
        # one past the largest size, for every argument (they used to overflow inside Python or torch)
        (dict(n=BIG + 1, kernel_size=1), ValueError, r"n must be in \[0, 2147483647\], got 2147483648"),
        (dict(n=(5, BIG + 1), kernel_size=1), ValueError, r"n must be in \[0, 2147483647\]"),
        (dict(n=5, kernel_size=BIG + 1), ValueError, r"kernel_size must be in \[1, 2147483647\]"),
        (dict(n=5, kernel_size=1, stride=2**64), ValueError, r"stride must be in \[1, 2147483647\]"),
        (dict(n=5, kernel_size=1, padding=2**62), ValueError, r"padding must be in \[0, 2147483647\]"),
        (dict(n=5, kernel_size=3, dilation=2**64), ValueError, r"dilation must be in \[1, 2147483647\]"),
        (dict(n=5, kernel_size=(1, 3), dilation=(1, BIG + 1)), ValueError, r"dilation must be in"),
    ],
)
def test_conv_output_size_bad_arguments_name_the_parameter(kwargs, error, pattern):
    with pytest.raises(error, match=pattern):
        conv_output_size(**kwargs)


def test_conv_output_size_takes_the_largest_sizes():
    """2**31 - 1 is accepted for every argument, and the formula still holds there."""
    assert conv_output_size(BIG, 1) == BIG
    assert conv_output_size(BIG, BIG) == 1
    assert conv_output_size(5, 1, stride=BIG) == 1
    assert conv_output_size(1, 1, padding=BIG) == 1 + 2 * BIG
    assert conv_output_size(5, 1, dilation=BIG) == 5  # a 1x1 window has no gaps to widen
    assert conv_output_size(BIG, 2, dilation=BIG - 1) == 1
    # an empty input (F.conv2d takes one in an empty batch) leaves only the padding
    for k, p in [(1, 1), (3, 2), (2, 1)]:
        empty = F.conv2d(torch.zeros(0, 1, 0, 5), torch.zeros(1, 1, k, k), padding=p)
        assert conv_output_size(0, k, padding=p) == empty.shape[-2]


def test_same_padding_is_what_conv2d_does():
    torch.manual_seed(0)
    x = torch.randn(1, 1, 9, 9)
    for k in range(1, 7):
        for d in (1, 2):
            lo, hi = same_padding(k, d)
            assert lo + hi == d * (k - 1) and hi - lo in (0, 1)
            w = torch.randn(1, 1, k, k)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                expected = F.conv2d(x, w, padding="same", dilation=d)
            got = F.conv2d(pad2d(x, (lo, hi, lo, hi)), w, dilation=d)
            torch.testing.assert_close(got, expected)
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        same_padding((3, 3))


def test_layers_output_size_is_what_the_layers_give():
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, (3, 5), padding=(1, 0)), nn.ReLU(), nn.MaxPool2d(3, 2, 1, ceil_mode=True),
        nn.Sequential(nn.Conv2d(2, 2, 2, stride=(1, 2), dilation=2), nn.AvgPool2d((2, 1))),
        nn.Conv2d(2, 2, 5, padding="same"), nn.Flatten(),
    )
    for n in [(9, 11), (12, 17), 16, 23]:
        h, w = (n, n) if isinstance(n, int) else n
        maps = net[:-1](torch.zeros(1, 1, h, w))
        assert layers_output_size(net, n) == tuple(maps.shape[-2:]), n
    with pytest.raises(ValueError, match=r"n = 5 is too small: layer Conv2d \(3.0\) gets an input of 3x1 "
                                         r"\(kernel_size: the window covers"):
        layers_output_size(net, 5)
    with pytest.raises(ValueError, match=r"n must be in \[1, 2147483647\], got 0"):
        layers_output_size(net, 0)


def test_pixel_coverage_counts_what_unfold_sees():
    rng = random.Random(1)
    for _ in range(40):
        n = (rng.randint(2, 9), rng.randint(2, 9))
        k, s, d = rng.randint(1, 4), rng.randint(1, 3), rng.randint(1, 2)
        p = rng.choice([0, 1, 2, "same"]) if s == 1 else rng.choice([0, 1, 2])
        try:
            cov = pixel_coverage(n, k, s, p, d)
        except ValueError:
            continue
        sides = (same_padding(k, d) * 2) if p == "same" else (p,) * 4
        ids = torch.arange(1, n[0] * n[1] + 1, dtype=torch.float64).view(1, 1, *n)
        cols = F.unfold(pad2d(ids, sides), k, dilation=d, stride=s)  # 0 = padding
        seen = torch.bincount(cols.flatten().long(), minlength=n[0] * n[1] + 1)[1:]
        assert torch.equal(cov, seen.view(*n)), (n, k, s, p, d)


# -------------------------------------------------------------------------------- figures


def test_sliding_window_figure_draws_one_panel_per_output_position():
    pytest.importorskip("matplotlib")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from cnnbook.viz import sliding_window_figure

    for n, k, s, p in [(5, 3, 2, 1), (4, 2, 1, 0)]:
        out = conv_output_size(n, k, s, p)
        fig = sliding_window_figure(n, k, s, p)
        assert len(fig.axes) == out * out
        assert f"-> {out}x{out} output" in fig._suptitle.get_text()
        assert fig.axes[-1].get_title().startswith(f"output ({out - 1}, {out - 1})")
        plt.close(fig)
    with pytest.raises(ValueError, match="kernel_size"):
        sliding_window_figure(2, 5, 1, 0)
