"""cnnbook.robustness: shifts and noise do what they say, and the accuracy curves measure them."""
import pytest
import torch
from torch import nn

from cnnbook.robustness import accuracy_vs_noise, accuracy_vs_shift, add_noise, prepare, shift_images


class CentreOfMass(nn.Module):
    """A fixed 'classifier' on 8x8 images: class 1 if the bright pixel is in the left half, else 0."""

    input_size = (1, 8, 8)

    def __init__(self):
        super().__init__()
        self.dummy = nn.Parameter(torch.zeros(()))

    def forward(self, x):
        assert x.shape[1:] == self.input_size
        left = x[..., :4].sum((1, 2, 3))
        right = x[..., 4:].sum((1, 2, 3))
        return torch.stack([right, left], 1) + 0 * self.dummy


def dots(n=20):
    """uint8 (n, 1, 8, 8) images with one bright pixel at column 2 (label 1) or 5 (label 0)."""
    x = torch.zeros(n, 1, 8, 8, dtype=torch.uint8)
    labels = torch.arange(n) % 2
    cols = torch.where(labels == 1, 2, 5)
    x[torch.arange(n), 0, 3, cols] = 255
    return x, labels


def test_shift_moves_pixels_and_fills_with_background():
    x = torch.arange(16.0).view(1, 1, 4, 4) + 1
    right = shift_images(x, dx=1)
    assert torch.equal(right[..., 1:], x[..., :-1]) and (right[..., 0] == 0).all()
    up = shift_images(x, dy=-2)
    assert torch.equal(up[..., :2, :], x[..., 2:, :]) and (up[..., 2:, :] == 0).all()
    assert torch.equal(shift_images(x, 0, 0), x)
    assert (shift_images(x, dx=4) == 0).all() and shift_images(x[0], 1, 1).shape == (1, 4, 4)


def test_shift_rejects_bad_arguments():
    with pytest.raises(TypeError, match="dx"):
        shift_images(torch.zeros(1, 1, 4, 4), dx=1.5)
    with pytest.raises(ValueError, match="x must have shape"):
        shift_images(torch.zeros(4, 4), dx=1)


def test_noise_is_clipped_reproducible_and_zero_level_is_identity():
    x = torch.rand(2, 1, 6, 6)
    assert add_noise(x, 0) is x
    a = add_noise(x, 0.5, torch.Generator().manual_seed(1))
    b = add_noise(x, 0.5, torch.Generator().manual_seed(1))
    assert torch.equal(a, b) and a.min() >= 0 and a.max() <= 1 and not torch.equal(a, x)
    with pytest.raises(ValueError, match="sigma"):
        add_noise(x, -0.1)


def test_prepare_pads_to_the_model_input_size_and_normalises():
    model = CentreOfMass()
    out = prepare(model, torch.ones(3, 1, 6, 6), mean=(0.5,), std=(0.25,))
    assert out.shape == (3, 1, 8, 8)
    assert out[0, 0, 0, 0] == -2 and out[0, 0, 4, 4] == 2  # padded background 0 -> (0 - .5)/.25


def test_accuracy_vs_shift_falls_when_the_dot_crosses_the_midline():
    model = CentreOfMass()
    data = dots()
    acc = accuracy_vs_shift(model, data, [0, 1, 3, -2], batch_size=7)
    assert acc[0] == 100 and acc[1] == 100  # 2->3 stays left, 5->6 stays right
    assert acc[2] == 50 and acc[3] == 50  # one class crosses to the other side each way
    assert accuracy_vs_shift(model, data, [1], axis="y") == [100.0]
    with pytest.raises(ValueError, match="axis"):
        accuracy_vs_shift(model, data, [1], axis="z")
    with pytest.raises(TypeError, match="shifts"):
        accuracy_vs_shift(model, data, [0.5])


def test_accuracy_vs_noise_is_perfect_without_noise_and_drops_with_it():
    model = CentreOfMass()
    x, y = dots(200)
    acc = accuracy_vs_noise(model, (x, y), [0.0, 3.0], seed=0)
    assert acc[0] == 100 and acc[1] < 90
    assert acc == accuracy_vs_noise(model, (x, y), [0.0, 3.0], seed=0)  # same draw, same numbers
    assert model.training  # the mode is restored
    with pytest.raises(ValueError, match="levels"):
        accuracy_vs_noise(model, (x, y), [])
    with pytest.raises(TypeError, match="data"):
        accuracy_vs_noise(model, x, [0.1])


class _Recorder(torch.nn.Module):
    """A 32x32 classifier that records the inputs it is given."""

    input_size = (1, 32, 32)

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.zeros(1))
        self.seen = []

    def forward(self, x):
        self.seen.append(x.detach().clone())
        return x.flatten(1)[:, :10] * self.w


def test_command_line_and_robustness_feed_lenet5_classic_the_same_tensors():
    """One padding rule: cb.pad_images (the command line's and the chapter's) + the loader, and the
    robustness curves' prepare give identical 32x32 inputs."""
    import cnnbook as cb
    from cnnbook.robustness import accuracy_vs_shift, prepare

    digits = cb.load_mnist(download=False, verbose=False).subset(8)
    padded = cb.pad_images(digits, 2)
    loader_x, _ = next(iter(cb.DeviceLoader(padded, 8, device="cpu")))  # what fit trains on
    model = _Recorder()
    prepared = prepare(model, digits.images.float() / 255, digits.mean, digits.std)
    accuracy_vs_shift(model, digits, [0])
    assert loader_x.shape == (8, 1, 32, 32)
    assert torch.allclose(prepared, loader_x, atol=1e-6)
    assert torch.allclose(model.seen[0], loader_x, atol=1e-6)  # accuracy_vs_shift
    background = -digits.mean[0] / digits.std[0]
    assert torch.allclose(loader_x[:, :, :2], torch.tensor(background))  # the 28x28 statistics kept
