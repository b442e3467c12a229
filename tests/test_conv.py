"""conv2d against PyTorch itself: F.conv2d and nn.Conv2d, values and gradients, and what both refuse."""
from __future__ import annotations

import random
import warnings

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.conv import PADDING_MODES, conv2d

torch.set_num_threads(1)
TORCH_ERRORS = (RuntimeError, ValueError, NotImplementedError, TypeError)


def _random_setting(rng: random.Random) -> dict:
    """A random convolution: small shapes, every padding form and mode, some settings invalid."""
    groups = rng.choice([1, 1, 2, 3])
    c_in, c_out = groups * rng.randint(1, 2), groups * rng.randint(1, 2)
    kh = rng.randint(1, 4)
    kw = rng.choice([kh, rng.randint(1, 4)])
    form = rng.choice(["int", "int", "pair", "one", "same", "valid"])
    p = rng.randint(0, 3)
    padding = {"int": p, "pair": (p, rng.randint(0, 3)), "one": (p,), "same": "same",
               "valid": "valid"}[form]

    def size() -> int | tuple[int, int]:
        a = rng.choice([1, 1, 1, 2, 3])
        choices: list[int | tuple[int, int]] = [a, a, (a, rng.choice([1, 1, 2, 3]))]
        return rng.choice(choices)

    return {"n": rng.choice([1, 2]), "c_in": c_in, "c_out": c_out, "h": rng.randint(1, 9),
                "w": rng.randint(3, 9), "kernel": (kh, kw), "stride": size(), "dilation": size(),
                "padding": padding, "groups": groups, "mode": rng.choice(PADDING_MODES),
                "bias": rng.random() < 0.7, "unbatched": rng.random() < 0.15}


def _tensors(s: dict, seed: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    g = torch.Generator().manual_seed(seed)
    shape = (s["c_in"], s["h"], s["w"]) if s["unbatched"] else (s["n"], s["c_in"], s["h"], s["w"])
    x = torch.randn(shape, generator=g, dtype=torch.float64, requires_grad=True)
    w = torch.randn(s["c_out"], s["c_in"] // s["groups"], *s["kernel"], generator=g,
                    dtype=torch.float64, requires_grad=True)
    b = torch.randn(s["c_out"], generator=g, dtype=torch.float64, requires_grad=True) if s["bias"] else None
    return x, w, b


def _reference(s: dict, x, w, b):
    """PyTorch's answer: F.conv2d for zeros, the nn.Conv2d module itself for the other modes."""
    args = {"stride": s["stride"], "padding": s["padding"], "dilation": s["dilation"], "groups": s["groups"]}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # 'same' with an even kernel: PyTorch warns of a copy
        if s["mode"] == "zeros":
            return F.conv2d(x, w, b, **args)
        if isinstance(args["padding"], tuple) and len(args["padding"]) == 1:
            # nn.Conv2d would pad only the width here (F.pad reads (p,) as left/right); F.conv2d
            # and conv2d read (p,) as (p, p)
            args["padding"] = args["padding"] * 2
        layer = nn.Conv2d(s["c_in"], s["c_out"], s["kernel"], bias=s["bias"], padding_mode=s["mode"],
                          dtype=torch.float64, **args)
        params = {"weight": w} if b is None else {"weight": w, "bias": b}
        return torch.func.functional_call(layer, params, (x,))


def _ours(s: dict, x, w, b):
    return conv2d(x, w, b, stride=s["stride"], padding=s["padding"], dilation=s["dilation"],
                  groups=s["groups"], padding_mode=s["mode"])


@pytest.mark.parametrize("part", range(4))
def test_values_and_gradients_match_pytorch_on_random_settings(part):
    rng = random.Random(100 + part)
    compared = refused = 0
    for trial in range(750):
        s = _random_setting(rng)
        x, w, b = _tensors(s, seed=trial)
        try:
            expected = _reference(s, x, w, b)
        except TORCH_ERRORS:
            with pytest.raises((TypeError, ValueError)):
                _ours(s, x, w, b)
            refused += 1
            continue
        got = _ours(s, x, w, b)
        assert got.shape == expected.shape, s
        torch.testing.assert_close(got, expected, msg=lambda m, s=s: f"{s}: {m}")
        inputs = [t for t in (x, w, b) if t is not None]
        upstream = torch.randn_like(expected)
        g_ref = torch.autograd.grad((expected * upstream).sum(), inputs)
        g_ours = torch.autograd.grad((got * upstream).sum(), inputs)
        for name, a, e in zip("xwb", g_ours, g_ref):
            torch.testing.assert_close(a, e, msg=lambda m, s=s, name=name: f"grad {name}, {s}: {m}")
        compared += 1
    # the random settings exercise both sides: most are valid, some are refused
    assert compared > 450 and refused > 100, (compared, refused)


def test_the_random_settings_cover_every_form_and_mode():
    rng = random.Random(100)
    settings = [_random_setting(rng) for _ in range(750)]
    assert {s["mode"] for s in settings} == set(PADDING_MODES)
    assert {"same", "valid"} <= {s["padding"] for s in settings if isinstance(s["padding"], str)}
    assert any(isinstance(s["padding"], tuple) and len(s["padding"]) == 2 for s in settings)
    assert {1, 2, 3} <= {s["groups"] for s in settings}
    assert any(s["dilation"] not in (1, (1, 1)) for s in settings)
    assert any(s["stride"] not in (1, (1, 1)) for s in settings)
    assert any(s["unbatched"] for s in settings) and not all(s["bias"] for s in settings)


def test_depthwise_float32_and_a_larger_image():
    torch.manual_seed(0)
    x = torch.randn(2, 8, 33, 30)
    w, b = torch.randn(16, 1, 5, 5), torch.randn(16)
    for kw in ({"groups": 8}, {"groups": 8, "stride": 2, "padding": 2}, {"padding": "same", "dilation": 3}):
        weight = w if "groups" in kw else torch.randn(16, 8, 5, 5)
        torch.testing.assert_close(conv2d(x, weight, b, **kw), F.conv2d(x, weight, b, **kw),
                                   rtol=1e-5, atol=1e-4)


def test_same_padding_is_asymmetric_for_even_windows():
    x, w = torch.randn(1, 1, 7, 7, dtype=torch.float64), torch.randn(1, 1, 4, 4, dtype=torch.float64)
    same = conv2d(x, w, padding="same")
    assert same.shape == x.shape
    # one before, two after, as PyTorch does; not the other way round
    torch.testing.assert_close(same, F.conv2d(F.pad(x, (1, 2, 1, 2)), w))
    assert not torch.allclose(same, F.conv2d(F.pad(x, (2, 1, 2, 1)), w))


def test_integer_tensors_and_empty_batches_like_pytorch():
    x = torch.randint(0, 9, (2, 3, 6, 5))
    w = torch.randint(-3, 4, (4, 3, 3, 2))
    assert torch.equal(conv2d(x, w, stride=(1, 2), padding=1), F.conv2d(x, w, stride=(1, 2), padding=1))
    empty = torch.randn(0, 3, 6, 5)
    assert conv2d(empty, w.float()).shape == F.conv2d(empty, w.float()).shape == (0, 4, 4, 4)


def test_the_kernel_is_not_flipped():
    # cross-correlation: a kernel with one 1 in its top-left corner reads the top-left pixel
    x = torch.arange(9.0).view(1, 1, 3, 3)
    w = torch.zeros(1, 1, 2, 2)
    w[0, 0, 0, 0] = 1
    assert torch.equal(conv2d(x, w)[0, 0], x[0, 0, :2, :2])


@pytest.mark.parametrize("kwargs, error, word", [
    ({"x": [[1.0]]}, TypeError, "x"),
    ({"x": torch.ones(5, 5)}, ValueError, "x"),
    ({"x": torch.ones(1, 2, 5, 5, dtype=torch.bool)}, TypeError, "x"),
    ({"x": torch.ones(1, 2, 0, 5)}, ValueError, "x"),
    ({"weight": torch.ones(4, 2, 3)}, ValueError, "weight"),
    ({"weight": torch.ones(4, 2, 3, 3, dtype=torch.float64)}, TypeError, "weight"),
    ({"weight": torch.ones(4, 3, 3, 3)}, ValueError, "weight"),
    ({"weight": torch.ones(0, 2, 3, 3)}, ValueError, "weight"),
    ({"weight": torch.ones(4, 2, 0, 3)}, ValueError, "weight"),
    ({"weight": torch.ones(4, 2, 7, 3)}, ValueError, "weight"),
    ({"bias": torch.ones(3)}, ValueError, "bias"),
    ({"bias": torch.ones(4, 1)}, ValueError, "bias"),
    ({"bias": torch.ones(4, dtype=torch.float64)}, TypeError, "bias"),
    ({"bias": [0.0] * 4}, TypeError, "bias"),
    ({"stride": 0}, ValueError, "stride"),
    ({"stride": 1.5}, TypeError, "stride"),
    ({"stride": (1, 1, 1)}, ValueError, "stride"),
    ({"dilation": 0}, ValueError, "dilation"),
    ({"padding": -1}, ValueError, "padding"),
    ({"padding": True}, TypeError, "padding"),
    ({"padding": "full"}, ValueError, "padding"),
    ({"padding": (1, 1, 1, 1)}, ValueError, "padding"),
    ({"padding": "same", "stride": 2}, ValueError, "padding"),
    ({"groups": 0}, ValueError, "groups"),
    ({"groups": 2.0}, TypeError, "groups"),
    ({"groups": 3}, ValueError, "groups"),
    ({"weight": torch.ones(4, 1, 3, 3), "groups": 2, "padding_mode": "constant"}, ValueError, "padding_mode"),
    ({"padding": 5, "padding_mode": "reflect"}, ValueError, "padding"),
    ({"padding": 6, "padding_mode": "circular"}, ValueError, "padding"),
])
def test_refusals_name_the_parameter(kwargs, error, word):
    args = {"x": torch.ones(1, 2, 5, 5), "weight": torch.ones(4, 2, 3, 3), "bias": None}
    args.update(kwargs)
    with pytest.raises(error, match=word):
        conv2d(**args)
    # PyTorch refuses them too (padding_mode is nn.Conv2d's: checked in the random test)
    if "padding_mode" not in kwargs and isinstance(args["x"], torch.Tensor):
        with pytest.raises(TORCH_ERRORS):
            F.conv2d(**{("input" if k == "x" else k): v for k, v in args.items()})


BIG = 2**31 - 1  # the largest size any argument may have (cnnbook._checks.SIZE_MAX)


@pytest.mark.parametrize("name, low", [("stride", 1), ("dilation", 1), ("padding", 0), ("groups", 1)])
def test_size_arguments_are_bounded_by_2_to_the_31(name, low):
    """Just outside [low, 2**31 - 1] (and 2**64, which used to overflow inside torch) is a
    ValueError naming the parameter and the range."""
    x, w = torch.ones(1, 1, 5, 5), torch.ones(1, 1, 1, 1)
    for bad in (low - 1, BIG + 1, 2**64):
        with pytest.raises(ValueError, match=rf"{name} must be (an int )?in \[{low}, 2147483647\], got {bad}"):
            conv2d(x, w, **{name: bad})
    if name != "groups":
        with pytest.raises(ValueError, match=rf"{name} must be in \[{low}, 2147483647\]"):
            conv2d(x, w, **{name: (1, BIG + 1)})


def test_the_largest_sizes_work_like_pytorch():
    x, w = torch.randn(1, 1, 5, 5), torch.randn(1, 1, 2, 2)
    torch.testing.assert_close(conv2d(x, w, stride=BIG), F.conv2d(x, w, stride=BIG))
    torch.testing.assert_close(conv2d(x, w[..., :1, :1], dilation=BIG), F.conv2d(x, w[..., :1, :1], dilation=BIG))
    torch.testing.assert_close(conv2d(x, w, stride=(BIG, 1), dilation=(1, 2)),
                               F.conv2d(x, w, stride=(BIG, 1), dilation=(1, 2)))
    empty = torch.zeros(0, 1, 1, 1)  # an empty batch holds any padding
    assert conv2d(empty, w, padding=(1, BIG)).shape == F.conv2d(empty, w, padding=(1, BIG)).shape
    with pytest.raises(ValueError, match="groups=2147483647 must divide"):
        conv2d(x, w, groups=BIG)
    # inside every bound, but more than torch can lay out: refused before allocating, naming padding
    with pytest.raises(ValueError, match=r"padding \(left, right, top, bottom\) = .* more than a tensor can hold"):
        conv2d(x, w, padding=2**30)


def test_the_window_check_and_same_split_come_from_the_padding_helpers():
    """conv2d reads "same" and the window check from cnnbook.padding (conv_axes, same_padding):
    the same numbers and the same words, with weight named as the kernel's source."""
    from cnnbook.padding import conv_axes, same_padding

    x = torch.randn(1, 1, 6, 7, dtype=torch.float64)
    for k, d in [(4, 1), (3, 2), (2, 3)]:
        w = torch.randn(1, 1, k, k, dtype=torch.float64)
        lo, hi = same_padding(k, d)
        torch.testing.assert_close(conv2d(x, w, padding="same", dilation=d),
                                   F.conv2d(F.pad(x, (lo, hi, lo, hi)), w, dilation=d))
    w = torch.ones(1, 1, 3, 10, dtype=torch.float64)
    with pytest.raises(ValueError) as ours:
        conv2d(x, w, padding=(0, 1))
    with pytest.raises(ValueError) as helper:
        conv_axes((6, 7), (3, 10), 1, (0, 1), 1, kernel_name="weight")
    assert str(ours.value) == str(helper.value)
    assert str(ours.value).startswith("weight: the window covers dilation*(kernel_size-1)+1 = 10 pixels")
