"""pool2d must equal PyTorch's pooling in values and gradients; receptive_field must match autograd."""

from __future__ import annotations

import random

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.pooling import RFRow, format_rf_table, pool2d, receptive_field


def reference(x: torch.Tensor, k, s, p, mode: str) -> torch.Tensor:
    if mode == "max":
        return F.max_pool2d(x, k, s, p)
    if mode == "min":
        return -F.max_pool2d(-x, k, s, p)
    return F.avg_pool2d(x, k, s, p)  # count_include_pad=True


def random_setting(rng: random.Random):
    """A random valid (shape, kernel_size, stride, padding): ints or pairs, stride maybe None."""
    square = rng.random() < 0.5
    kh = rng.randint(1, 5)
    kw = kh if square else rng.randint(1, 5)
    ph = rng.randint(0, kh // 2)
    pw = ph if square else rng.randint(0, kw // 2)
    sh, sw = rng.randint(1, 4), rng.randint(1, 4)
    if square:
        sw = sh
    h = rng.randint(max(1, kh - 2 * ph), 12)
    w = rng.randint(max(1, kw - 2 * pw), 12)
    shape = (rng.randint(1, 3), rng.randint(1, 4), h, w)
    if rng.random() < 0.3:
        shape = shape[1:]  # (C, H, W)
    k, s, p = ((kh, sh, ph) if square else ((kh, kw), (sh, sw), (ph, pw)))
    if rng.random() < 0.25:
        s = None
    return shape, k, s, p


@pytest.mark.parametrize("mode", ["max", "min", "avg"])
@pytest.mark.parametrize("ties", [False, True])
def test_pool2d_matches_torch_values_and_gradients(mode, ties):
    rng = random.Random(1 if ties else 0)
    gen = torch.Generator().manual_seed(2)
    for _ in range(80):
        shape, k, s, p = random_setting(rng)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        if ties:  # few distinct values and many zeros, like a ReLU map: ties inside windows
            x = torch.relu(torch.round(x * 2))
        x.requires_grad_(True)
        ours = pool2d(x, k, s, p, mode=mode)
        ref = reference(x, k, s if s is not None else k, p, mode)
        assert ours.shape == ref.shape, (shape, k, s, p)
        torch.testing.assert_close(ours, ref, rtol=0, atol=1e-12, msg=f"{shape=} {k=} {s=} {p=}")
        upstream = torch.randn(ref.shape, generator=gen, dtype=torch.float64)
        (g_ours,) = torch.autograd.grad(ours, x, upstream)
        (g_ref,) = torch.autograd.grad(ref, x, upstream)
        torch.testing.assert_close(g_ours, g_ref, rtol=0, atol=1e-12, msg=f"grad {shape=} {k=} {s=} {p=}")


def test_pool2d_gradcheck():
    x = torch.randn(1, 2, 7, 6, dtype=torch.float64, requires_grad=True)
    for mode in ("max", "min", "avg"):
        assert torch.autograd.gradcheck(lambda t: pool2d(t, 3, 2, 1, mode=mode), (x,))


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
    with pytest.raises(ValueError, match="dilation"):
        receptive_field(nn.Conv2d(1, 1, 3, dilation=2))
    with pytest.raises(ValueError, match="padding"):
        receptive_field(nn.Conv2d(1, 1, 3, padding="same"))


# ----------------------------------------------------------------------------- widgets/pooling.py

from cnnbook.widgets import pooling as wp  # noqa: E402


def test_sample_photo_shapes_and_range():
    grey, colour = wp.sample_photo(32), wp.sample_photo(20, gray=False)
    assert grey.shape == (1, 32, 32) and colour.shape == (3, 20, 20)
    assert grey.dtype == torch.float32 and 0 <= grey.min() < grey.max() <= 1
    with pytest.raises(ValueError, match="size"):
        wp.sample_photo(0)


def test_sample_digit_uses_load_mnist(monkeypatch):
    import cnnbook.data

    class Fake:
        images = torch.full((3, 1, 28, 28), 255, dtype=torch.uint8)

        def __len__(self):
            return 3

    calls = []
    monkeypatch.setattr(cnnbook.data, "load_mnist", lambda **kw: calls.append(kw) or Fake())
    d = wp.sample_digit(2)
    assert calls and calls[0]["split"] == "test"
    assert d.shape == (1, 28, 28) and d.dtype == torch.float32 and torch.all(d == 1)
    with pytest.raises(ValueError, match="index"):
        wp.sample_digit(3)


def test_pooling_grid_draws_one_panel_per_setting():
    import matplotlib.pyplot as plt

    images = {"a": torch.rand(1, 12, 12), "b": torch.rand(3, 9, 9)}
    settings = [(2, 2, 0, "max"), (3, 1, 1, "avg"), (3, 2, 1, "min")]
    fig = wp.pooling_grid(images, settings)
    axes = fig.get_axes()
    assert len(axes) == 2 * (1 + len(settings))
    assert "(1, 6, 6)" in axes[1].get_title() and "(3, 5, 5)" in axes[7].get_title()
    plt.close(fig)
    with pytest.raises(ValueError, match="images"):
        wp.pooling_grid({"bad": torch.rand(2, 5, 5)})
    with pytest.raises(ValueError, match="settings"):
        wp.pooling_grid(torch.rand(1, 5, 5), [])
    with pytest.raises(ValueError, match="padding"):
        wp.pooling_grid(torch.rand(1, 5, 5), [(2, 2, 2, "max")])


def test_pooling_panel_returns_pool2d_output():
    import matplotlib.pyplot as plt

    img = torch.rand(1, 10, 10)
    out = wp.pooling_panel(img, 3, 2, 1, "avg")
    torch.testing.assert_close(out, pool2d(img, 3, 2, 1, mode="avg"))
    assert len(plt.gcf().axes[0].patches) == 2  # the first two windows are outlined
    plt.close("all")


def test_pooling_demo_updates_and_reports_bad_settings(capsys):
    import ipywidgets
    import matplotlib.pyplot as plt

    demo = wp.pooling_demo({"small": torch.rand(1, 12, 12)})
    assert isinstance(demo, ipywidgets.Widget)
    kernel, stride, padding = demo.children[1].children
    kernel.value = 3
    stride.value = 3
    assert "-> output (1, 4, 4)" in capsys.readouterr().out
    padding.value = 2  # more than half of a 3x3 window
    assert "not a valid setting: padding" in capsys.readouterr().out
    plt.close("all")
