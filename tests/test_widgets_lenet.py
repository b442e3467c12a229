"""cnnbook.widgets.lenet: the LeNet-5 explorer computes what it shows and builds its widget."""
import pytest
import torch

from cnnbook.data import as_dataset
from cnnbook.models import LeNet5, LeNet5Classic
from cnnbook.widgets.lenet import digit_probabilities, lenet_demo, lenet_demo_grid


@pytest.fixture(scope="module")
def digits():
    g = torch.Generator().manual_seed(0)
    images = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    images[:, :, 8:20, 12:16] = 255  # a bar, roughly a "1"
    images = (images.float() * torch.rand(4, 1, 28, 28, generator=g)).to(torch.uint8)
    return as_dataset((images, torch.tensor([1, 1, 7, 7])))


def test_probabilities_sum_to_one_and_the_image_is_disturbed(digits):
    torch.manual_seed(0)
    model = LeNet5()
    image, probs = digit_probabilities(model, digits, 0)
    assert image.shape == (1, 28, 28) and probs.shape == (10,)
    assert torch.isclose(probs.sum(), torch.tensor(1.0)) and (probs >= 0).all()
    assert torch.equal(image, digits.images[0].float() / 255)
    shifted, _ = digit_probabilities(model, digits, 0, dx=3)
    assert torch.equal(shifted[..., 3:], image[..., :-3]) and (shifted[..., :3] == 0).all()
    noisy, _ = digit_probabilities(model, digits, 0, noise=0.5, seed=1)
    again, _ = digit_probabilities(model, digits, 0, noise=0.5, seed=1)
    assert torch.equal(noisy, again) and not torch.equal(noisy, image)
    assert model.training  # the mode is restored


def test_classic_model_gets_padded_digits(digits):
    model = LeNet5Classic()
    seen = []
    model.register_forward_pre_hook(lambda m, args: seen.append(args[0]))
    _, probs = digit_probabilities(model, digits, 2)  # 28x28 digit -> 32x32 input
    assert probs.shape == (10,)
    (x,) = seen
    mean, std = digits.mean[0], digits.std[0]
    assert x.shape == (1, 1, 32, 32)
    inner = (digits.images[2:3].float() / 255 - mean) / std
    assert torch.allclose(x[:, :, 2:-2, 2:-2], inner, atol=1e-6)
    border = torch.ones(32, 32, dtype=torch.bool)
    border[2:-2, 2:-2] = False
    assert torch.allclose(x[0, 0][border], torch.tensor(-mean / std))  # background, 2 pixels a side


def test_bad_index_names_the_parameter(digits):
    with pytest.raises(ValueError, match="index"):
        digit_probabilities(LeNet5(), digits, 4)


def test_grid_has_a_digit_and_bars_per_setting(digits):
    import matplotlib.pyplot as plt

    fig = lenet_demo_grid(LeNet5(), digits, index=1, settings=[(0, 0, 0), (0.3, 2, -1)])
    assert len(fig.axes) == 4
    assert len(fig.axes[1].patches) == 0 and len(fig.axes[2].patches) == 10  # row 0: images, row 1: bars
    plt.close(fig)
    with pytest.raises(ValueError, match="settings"):
        lenet_demo_grid(LeNet5(), digits, settings=[])


def test_demo_builds_sliders_that_redraw(digits):
    pytest.importorskip("ipywidgets")
    import matplotlib.pyplot as plt

    demo = lenet_demo(LeNet5(), digits, index=2, max_shift=5)
    sliders = [w for box in demo.children[:2] for w in box.children]
    assert [s.description for s in sliders] == ["test digit", "noise std", "shift right", "shift down"]
    assert sliders[0].max == len(digits) - 1 and sliders[2].min == -5
    sliders[2].value = 3  # moving a slider redraws without error
    plt.close("all")
