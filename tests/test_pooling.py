"""pool2d and unpool2d must equal PyTorch's pooling in values, indices and gradients;
receptive_field must match autograd."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.pooling import RFRow, format_rf_table, pool2d, receptive_field, unpool2d

torch.set_num_threads(1)


def reference(x: torch.Tensor, mode: str, **kw):
    """PyTorch's answer for ``pool2d(x, mode=mode, **kw)``, or the RuntimeError it raises."""
    kw = dict(kw)
    if mode == "avg":
        kw.pop("dilation")
        kw.pop("return_indices")
        return F.avg_pool2d(x, **kw)
    kw.pop("count_include_pad")
    kw.pop("divisor_override")
    if mode == "max":
        return F.max_pool2d(x, **kw)
    out = F.max_pool2d(-x, **kw)
    return (-out[0], out[1]) if kw["return_indices"] else -out


def random_setting(rng: random.Random, mode: str) -> tuple[tuple[int, ...], dict]:
    """A random shape and pool2d keywords: ints or pairs, every option drawn, maybe invalid."""
    square = rng.random() < 0.5
    kh = rng.randint(1, 4)
    kw = kh if square else rng.randint(1, 4)
    ph = rng.randint(0, kh // 2)
    pw = ph if square else rng.randint(0, kw // 2)
    sh, sw = rng.randint(1, 4), rng.randint(1, 4)
    dh, dw = (1, 1) if mode == "avg" else (rng.randint(1, 3), rng.randint(1, 3))
    if square:
        sw, dw = sh, dh
    shape: tuple[int, ...] = (rng.randint(1, 2), rng.randint(1, 3), rng.randint(1, 9), rng.randint(1, 9))
    if rng.random() < 0.3:
        shape = shape[1:]  # (C, H, W)
    pair = (lambda a, b: a) if square else (lambda a, b: (a, b))
    kwargs = dict(kernel_size=pair(kh, kw), stride=pair(sh, sw), padding=pair(ph, pw),
                  dilation=pair(dh, dw), ceil_mode=rng.random() < 0.5,
                  count_include_pad=mode != "avg" or rng.random() < 0.5,
                  divisor_override=rng.choice([None, None, 1, 3]) if mode == "avg" else None,
                  return_indices=mode != "avg" and rng.random() < 0.5)
    if rng.random() < 0.2:
        kwargs["stride"] = None
    return shape, kwargs


@pytest.mark.parametrize("mode", ["max", "min", "avg"])
@pytest.mark.parametrize("ties", [False, True])
def test_pool2d_matches_torch_values_indices_and_gradients(mode, ties):
    """~500 random settings per case: where PyTorch accepts, the same output, indices and
    gradient; where it refuses, a ValueError."""
    rng = random.Random(2 * ["max", "min", "avg"].index(mode) + ties)
    gen = torch.Generator().manual_seed(2)
    compared = 0
    for _ in range(500):
        shape, kw = random_setting(rng, mode)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        if ties:  # few distinct values and many zeros, like a ReLU map: ties inside windows
            x = torch.relu(torch.round(x * 2))
        x.requires_grad_(True)
        try:
            ref = reference(x, mode, **kw)
        except RuntimeError:
            with pytest.raises(ValueError, match="kernel_size"):
                pool2d(x, mode=mode, **kw)
            continue
        ours = pool2d(x, mode=mode, **kw)
        if kw["return_indices"]:
            (ours, idx), (ref, ref_idx) = ours, ref
            assert torch.equal(idx, ref_idx), (shape, kw)
        assert ours.shape == ref.shape, (shape, kw)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12, msg=f"{shape=} {kw=}")
        upstream = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
        if ref.isinf().any():  # a window only padding reaches: PyTorch's gradient goes astray
            continue
        (g_ours,) = torch.autograd.grad(ours, x, upstream)
        (g_ref,) = torch.autograd.grad(ref, x, upstream)
        torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=1e-12, msg=f"grad {shape=} {kw=}")
        compared += 1
    assert compared > 300  # most draws are valid settings, so the comparison really ran


def test_pool2d_ceil_mode_rule_and_border_divisor():
    x = torch.arange(16.0).view(1, 1, 4, 4)
    # floor: windows at 0 and 3 of the padded 6 -> 2; ceil adds a window at 6, which starts in
    # the right padding, so PyTorch drops it again
    assert pool2d(x, 2, 3, 1, ceil_mode=True).shape[-1] == 2
    # ceil keeps a last window that starts inside the input: 5 -> 3 instead of 2
    y = torch.ones(1, 1, 5, 5)
    out = pool2d(y, 2, mode="avg", ceil_mode=True)
    assert out.shape[-1] == 3 and torch.equal(out, torch.ones(1, 1, 3, 3))  # cut window: /1, /2
    torch.testing.assert_close(pool2d(y, 3, 1, 1, mode="avg")[0, 0, 0, 0], torch.tensor(4 / 9))
    torch.testing.assert_close(pool2d(y, 3, 1, 1, mode="avg", count_include_pad=False),
                               torch.ones(1, 1, 5, 5))
    torch.testing.assert_close(pool2d(y, 2, mode="avg", divisor_override=1)[0, 0, 0, 0],
                               torch.tensor(4.0))


def test_unpool2d_matches_max_unpool2d_values_and_gradients():
    rng = random.Random(3)
    compared = 0
    for trial in range(300):
        k, s = rng.randint(1, 4), rng.randint(1, 4)
        p = rng.randint(0, k // 2)
        shape = (rng.randint(1, 2), rng.randint(1, 3), rng.randint(k, 9), rng.randint(k, 9))
        x = torch.randn(shape, dtype=torch.float64, generator=torch.Generator().manual_seed(trial))
        try:
            pooled, idx = F.max_pool2d(x, k, s, p, return_indices=True)
        except RuntimeError:
            continue
        default = [(n - 1) * s - 2 * p + k for n in pooled.shape[-2:]]
        size = None
        if rng.random() < 0.5:  # any size PyTorch accepts: strictly within a stride of the default
            size = [n + rng.randint(-s + 1, s - 1) for n in default]
            if min(size) < 1:
                continue
        h, w = size or default
        if min(h, w) < 1:
            with pytest.raises(ValueError, match="output of"):
                unpool2d(pooled, idx, k, s, p, output_size=size)
            continue
        if idx.max() >= h * w:  # the pool dropped rows: indices beyond the unpooled plane
            with pytest.raises(ValueError, match="indices must lie in"):
                unpool2d(pooled, idx, k, s, p, output_size=size)
            continue
        pooled.requires_grad_(True)
        ref = F.max_unpool2d(pooled, idx, k, s, p, output_size=size)
        ours = unpool2d(pooled, idx, k, s, p, output_size=size)
        assert torch.equal(ours, ref), (shape, k, s, p, size)
        up = torch.randn(ref.shape, dtype=torch.float64)
        (g_ours,) = torch.autograd.grad(ours, pooled, up)
        (g_ref,) = torch.autograd.grad(ref, pooled, up)
        assert torch.equal(g_ours, g_ref)
        compared += 1
    assert compared > 120


def test_unpool2d_of_pool2d_marks_the_switches():
    x = torch.tensor([[[1.0, 5.0, 2.0, 0.0], [3.0, 4.0, 7.0, 1.0]]])
    out, idx = pool2d(x, 2, return_indices=True)
    assert out.tolist() == [[[5.0, 7.0]]] and idx.tolist() == [[[1, 6]]]
    back = unpool2d(out, idx, 2)
    assert back.tolist() == [[[0.0, 5.0, 0.0, 0.0], [0.0, 0.0, 7.0, 0.0]]]
    # the gradient of max pooling is this unpooling of the upstream gradient
    x.requires_grad_(True)
    (g,) = torch.autograd.grad(pool2d(x, 2), x, torch.ones(1, 1, 2))
    assert torch.equal(g, unpool2d(torch.ones(1, 1, 2), idx, 2))


@pytest.mark.parametrize(
    "kwargs, error, pattern",
    [
        (dict(indices=torch.zeros(1, 2, 2)), TypeError, "indices must be an int64 tensor"),
        (dict(indices=torch.zeros(1, 2, 3, dtype=torch.int64)), ValueError, "indices must have"),
        (dict(indices=torch.full((1, 2, 2), 99)), ValueError, r"indices must lie in \[0, 16\)"),
        (dict(output_size=(9, 4)), ValueError, "output_size must be"),
        (dict(output_size=(4, 4.0)), TypeError, "output_size must be an int"),
        (dict(kernel_size=0), ValueError, r"kernel_size must be in \[1, 2147483647\], got 0"),
    ],
)
def test_unpool2d_bad_arguments(kwargs, error, pattern):
    args = dict(x=torch.ones(1, 2, 2), indices=torch.zeros(1, 2, 2, dtype=torch.int64),
                kernel_size=2)
    with pytest.raises(error, match=pattern):
        unpool2d(**{**args, **kwargs})


def test_pool2d_gradcheck():
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    for mode in ("max", "min", "avg"):
        assert torch.autograd.gradcheck(lambda t, m=mode: pool2d(t, 3, 2, 1, mode=m), (x,))
    assert torch.autograd.gradcheck(
        lambda t: pool2d(t, 3, 2, 1, mode="avg", ceil_mode=True, count_include_pad=False), (x,))


def test_pool2d_3d_input_and_defaults():
    x = torch.randn(3, 8, 10)
    out = pool2d(x, 2)
    assert out.shape == (3, 4, 5)  # stride defaults to the window
    torch.testing.assert_close(out, pool2d(x.unsqueeze(0), 2, 2).squeeze(0))
    torch.testing.assert_close(pool2d(x, (2, 5), mode="avg"), F.avg_pool2d(x.unsqueeze(0), (2, 5)).squeeze(0))


def test_pool2d_is_per_channel_and_min_is_minus_max():
    x = torch.randn(2, 3, 9, 9)
    per_channel = torch.cat([pool2d(x[:, c : c + 1], 3, 2, 1) for c in range(3)], dim=1)
    torch.testing.assert_close(pool2d(x, 3, 2, 1), per_channel)
    torch.testing.assert_close(pool2d(x, 3, 2, 1, mode="min"), -pool2d(-x, 3, 2, 1, mode="max"))


def test_pool2d_global_pooling_equals_mean_and_amax():
    x = torch.randn(2, 4, 7, 5)
    torch.testing.assert_close(pool2d(x, (7, 5), mode="avg").flatten(1), x.mean(dim=(2, 3)))
    torch.testing.assert_close(pool2d(x, (7, 5)).flatten(1), x.amax(dim=(2, 3)))


def test_pool2d_channels_last_and_numpy_ints():
    import numpy as np

    x = torch.randn(2, 3, 9, 9).to(memory_format=torch.channels_last)
    torch.testing.assert_close(pool2d(x, np.int64(3), stride=(2, np.int32(1)), padding=1),
                               F.max_pool2d(x, 3, (2, 1), 1))


def test_pool2d_float16_and_float32():
    x = torch.randn(1, 2, 6, 6)
    torch.testing.assert_close(pool2d(x.half(), 2), F.max_pool2d(x, 2).half())
    torch.testing.assert_close(pool2d(x, 3, 1, 1, mode="avg"), F.avg_pool2d(x, 3, 1, 1))


@pytest.mark.parametrize(
    "kwargs, name",
    [
        (dict(kernel_size=0), "kernel_size"),
        (dict(kernel_size=(2, 0)), "kernel_size"),
        (dict(kernel_size=2, stride=0), "stride"),
        (dict(kernel_size=2, stride=(1, -1)), "stride"),
        (dict(kernel_size=3, padding=-1), "padding"),
        (dict(kernel_size=3, padding=2), "padding"),  # above half the window
        (dict(kernel_size=(4, 2), padding=(1, 2)), "padding"),
        (dict(kernel_size=9), "kernel_size"),  # larger than the padded 6x6 input
        (dict(kernel_size=(2, 9), padding=(0, 1)), "kernel_size"),  # 9 > 6 + 2
        (dict(kernel_size=2, mode="median"), "mode"),
        (dict(kernel_size=(2, 2, 2)), "kernel_size"),
        (dict(kernel_size=2, mode="avg", dilation=2), "dilation"),
        (dict(kernel_size=2, mode="avg", return_indices=True), "return_indices"),
        (dict(kernel_size=2, divisor_override=2), "divisor_override"),
        (dict(kernel_size=2, mode="avg", divisor_override=0), "divisor_override"),
        (dict(kernel_size=2, count_include_pad=False), "count_include_pad"),
        (dict(kernel_size=3, dilation=4), "kernel_size"),  # 9 taps wide > 6
    ],
)
def test_pool2d_bad_arguments_raise_value_error_naming_parameter(kwargs, name):
    x = torch.randn(1, 1, 6, 6)
    with pytest.raises(ValueError, match=name):
        pool2d(x, **kwargs)


def test_pool2d_largest_valid_settings_are_accepted():
    x = torch.randn(1, 1, 6, 6)
    assert pool2d(x, 6).shape == (1, 1, 1, 1)  # window == input
    assert pool2d(x, 8, padding=1).shape == (1, 1, 1, 1)  # window == padded input
    assert pool2d(x, 3, padding=1, stride=1).shape == (1, 1, 6, 6)


@pytest.mark.parametrize("shape", [(6,), (6, 6), (1, 1, 1, 6, 6)])
def test_pool2d_rejects_wrong_rank(shape):
    with pytest.raises(ValueError, match="x must be 3-D .* or 4-D"):
        pool2d(torch.randn(shape), 2)


def test_pool2d_type_errors():
    with pytest.raises(TypeError, match="floating-point"):
        pool2d(torch.zeros(1, 1, 4, 4, dtype=torch.uint8), 2)
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        pool2d([[[1.0]]], 1)
    with pytest.raises(TypeError, match="kernel_size"):
        pool2d(torch.randn(1, 4, 4), 2.0)
    with pytest.raises(TypeError, match="stride"):
        pool2d(torch.randn(1, 4, 4), 2, stride="2")
    with pytest.raises(TypeError, match="ceil_mode must be True or False"):
        pool2d(torch.randn(1, 4, 4), 2, ceil_mode=1)
    with pytest.raises(TypeError, match="divisor_override must be an int"):
        pool2d(torch.randn(1, 4, 4), 2, mode="avg", divisor_override=2.0)


BIG = 2**31 - 1  # the largest size any argument may have (cnnbook._checks.SIZE_MAX)


def test_pytorchs_own_opinfo_samples_agree():
    """Every sample of PyTorch's OpInfos for avg_pool2d, max_pool2d and max_unpool2d: pool2d and
    unpool2d give the same values and indices, or refuse where PyTorch refuses; and they refuse
    every error input of those OpInfos. Run in a child process (see pooling_op_db.py)."""
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, str(root / "tests" / "pooling_op_db.py")], env=env,
                          capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout)
    assert set(report) >= {"avg_pool2d", "max_pool2d", "max_unpool2d"}, report.keys()
    for name, r in report.items():
        assert r["disagree"] == 0 and not r["accepted"], (name, r)
    # the comparison really ran: PyTorch 2.x has thousands of max_pool2d samples, and the avg ones
    # hold the one-element tuples and the negative divisor that pool2d used to refuse
    assert report["max_pool2d"]["samples"] > 1000 and report["avg_pool2d"]["samples"] >= 5
    assert report["max_unpool2d"]["samples"] > 100 and report["max_pool2d"]["error_inputs"] > 3


def test_pool2d_takes_one_element_tuples_and_an_empty_stride_as_pytorch_does():
    x = torch.randn(2, 3, 9, 9)
    torch.testing.assert_close(pool2d(x, (3,), (2,), (1,), mode="avg"), F.avg_pool2d(x, (3,), (2,), (1,)))
    torch.testing.assert_close(pool2d(x, (3,), (2,), (1,), (2,)), F.max_pool2d(x, (3,), (2,), (1,), (2,)))
    torch.testing.assert_close(pool2d(x, 2, stride=()), F.max_pool2d(x, 2, stride=()))  # () = the window
    out, idx = pool2d(x[..., :8, :8], (2,), return_indices=True)
    assert torch.equal(unpool2d(out, idx, (2,), (2,), (0,)), F.max_unpool2d(out, idx, 2))
    with pytest.raises(ValueError, match=r"padding must be an int or a pair of ints, got \(\)"):
        pool2d(x, 2, padding=())


def test_pool2d_divisor_override_is_any_nonzero_int_as_in_pytorch():
    x = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    for d in (-2, 1, 7, 2**63 - 1, -(2**63)):
        torch.testing.assert_close(pool2d(x, 2, mode="avg", divisor_override=d),
                                   F.avg_pool2d(x, 2, divisor_override=d))
    with pytest.raises(ValueError, match="divisor_override must not be 0"):
        pool2d(x, 2, mode="avg", divisor_override=0)
    with pytest.raises(ValueError, match=r"divisor_override must be an int in \[-9223372036854775808, "
                                         r"9223372036854775807\], got 9223372036854775808"):
        pool2d(x, 2, mode="avg", divisor_override=2**63)


@pytest.mark.parametrize("name, low", [("kernel_size", 1), ("stride", 1), ("padding", 0), ("dilation", 1)])
def test_pool2d_size_arguments_are_bounded_by_2_to_the_31(name, low):
    """Just outside [low, 2**31 - 1] (and 2**64, which used to fail inside torch) is a ValueError
    naming the parameter and the range; 2**31 - 1 passes that check."""
    x = torch.randn(1, 1, 4, 4)
    base = {"kernel_size": 2, "padding": 0} | ({"kernel_size": 1} if name == "dilation" else {})
    for bad in (low - 1, BIG + 1, 2**64, (1, BIG + 1)):
        with pytest.raises(ValueError, match=rf"{name} must be in \[{low}, 2147483647\], got"):
            pool2d(x, **(base | {name: bad}))
    if name in ("stride", "dilation"):  # the largest value works, as in F.max_pool2d
        torch.testing.assert_close(pool2d(x, **(base | {name: BIG})), F.max_pool2d(x, **(base | {name: BIG})))
    else:  # the largest value passes the range check; the window rules refuse it, as PyTorch does
        rule = "kernel_size: the window covers" if name == "kernel_size" else "padding must be at most half"
        with pytest.raises(ValueError, match=rule):
            pool2d(x, **(base | {name: BIG}))


def test_pool2d_refuses_an_empty_plane_naming_x():
    with pytest.raises(ValueError, match=r"x must have a height and a width of at least 1, got shape \(1, 0, 4\)"):
        pool2d(torch.zeros(1, 0, 4), 1)
    assert pool2d(torch.zeros(0, 1, 4, 4), 2).shape == (0, 1, 2, 2)  # an empty batch is fine


def test_unpool2d_output_size_may_be_one_int():
    x = torch.randn(1, 2, 7, 7)
    out, idx = pool2d(x, 2, return_indices=True)
    ours = unpool2d(out, idx, 2, output_size=7)
    assert ours.shape == (1, 2, 7, 7)
    assert torch.equal(ours, F.max_unpool2d(out, idx, 2, output_size=(7, 7)))
    with pytest.raises(ValueError, match=r"output_size must be \(H, W\) strictly between"):
        unpool2d(out, idx, 2, output_size=8)
    with pytest.raises(TypeError, match="output_size must be an int"):
        unpool2d(out, idx, 2, output_size=7.0)


def test_unpool2d_sizes_are_bounded():
    x, idx = torch.ones(1, 1, 1, 1), torch.zeros(1, 1, 1, 1, dtype=torch.int64)
    for name in ("kernel_size", "stride"):
        with pytest.raises(ValueError, match=rf"{name} must be in \[1, 2147483647\], got 1099511627776"):
            unpool2d(x, idx, **({"kernel_size": 1} | {name: 2**40}))
    assert unpool2d(x, idx, 1, stride=BIG).shape == (1, 1, 1, 1)  # a stride past the input is harmless
    with pytest.raises(ValueError, match=r"output_size must be an int in \[1, 2147483647\]"):
        unpool2d(x, idx, 1, output_size=(1, 2**31))
    # inside every bound, but the output would not fit in a tensor: refused before allocating
    many = torch.ones(2, 2, 3, 3)
    with pytest.raises(ValueError, match=r"kernel_size, stride, padding and output_size would give an "
                                         r"output of shape .* more than a tensor can hold"):
        unpool2d(many, torch.zeros_like(many, dtype=torch.int64), BIG, BIG)


def test_receptive_field_formula():
    rows = receptive_field([("conv1", 3, 1, 1), ("pool1", 2, 2), ("conv2", 3, 1, 1), ("pool2", 2, 2)], 28)
    assert [r.receptive_field for r in rows] == [3, 4, 8, 10]
    assert [r.jump for r in rows] == [1, 2, 2, 4]
    assert [r.output_size for r in rows] == [28, 14, 14, 7]
    assert isinstance(rows[0], RFRow)
    table = format_rf_table(rows)
    assert "10x10" in table and "pool2" in table


def test_receptive_field_from_module_matches_autograd():
    """The patch of input pixels that can change one output unit has the side the table predicts."""
    torch.manual_seed(0)
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1), nn.AvgPool2d(2), nn.Conv2d(2, 2, 5, stride=2, padding=2),
        nn.ReLU(), nn.AvgPool2d(3, stride=1), nn.Conv2d(2, 1, 3),
    )
    for m in net:
        if isinstance(m, nn.Conv2d):
            nn.init.uniform_(m.weight, 0.1, 1.0)  # positive weights: no cancellation
            nn.init.constant_(m.bias, 1.0)  # keeps the ReLU open
    rows = receptive_field(net, input_size=64)
    x = torch.rand(1, 1, 64, 64, requires_grad=True)
    y = net(x)
    assert y.shape[-1] == rows[-1].output_size
    c = y.shape[-1] // 2
    (g,) = torch.autograd.grad(y[0, 0, c, c], x)
    rows_hit = g[0, 0].abs().sum(1).nonzero()
    cols_hit = g[0, 0].abs().sum(0).nonzero()
    assert rows_hit.max() - rows_hit.min() + 1 == rows[-1].receptive_field
    assert cols_hit.max() - cols_hit.min() + 1 == rows[-1].receptive_field


def test_receptive_field_bad_input():
    with pytest.raises(ValueError, match="input_size"):
        receptive_field([("p", 2, 2)] * 4, input_size=8)
    with pytest.raises(ValueError, match="kernel_size"):
        receptive_field([("p", 0, 1)])
    with pytest.raises(ValueError, match="kernel_size"):
        receptive_field(nn.Conv2d(1, 1, (3, 5)))
    with pytest.raises(ValueError, match="input_size"):
        receptive_field([("p", 2, 2)], input_size=0)
    with pytest.raises(ValueError, match=r"input_size must be an int in \[1, 2147483647\], got 2147483648"):
        receptive_field([("p", 2, 2)], input_size=2**31)  # not "too small", as it used to say
    with pytest.raises(TypeError, match="input_size must be an int"):
        receptive_field([("p", 2, 2)], input_size=28.0)
    with pytest.raises(ValueError, match=r"kernel_size must be <= 2147483647"):
        receptive_field([("p", 2**40, 1)], input_size=8)
    assert receptive_field([("p", 1, 2**31 - 1)], input_size=2**31 - 1)[0].output_size == 1
    with pytest.raises(ValueError, match="dilation"):
        receptive_field(nn.Conv2d(1, 1, 3, dilation=2))
    with pytest.raises(ValueError, match="padding"):
        receptive_field(nn.Conv2d(1, 1, 3, padding="same"))
