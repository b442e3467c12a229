"""LeNet-5 from the book's parts (conv2d, pool2d, matrix products) against the nn.Module's logits."""

import pytest
import torch
import torch.nn.functional as F

from cnnbook import load_mnist
from cnnbook.models import LeNet5, LeNet5Classic, lenet5_from_parts

torch.set_num_threads(1)


def _normalised(images: torch.Tensor, mean: float, std: float) -> torch.Tensor:
    return (images.float() / 255 - mean) / std


@pytest.fixture(scope="module")
def digits():
    train = load_mnist(split="train", download=False, verbose=False)
    test = load_mnist(split="test", download=False, verbose=False)
    mean, std = train.mean[0], train.std[0]
    return (_normalised(train.images[:2000], mean, std), train.labels[:2000],
            _normalised(test.images[:1000], mean, std), test.labels[:1000])


@pytest.mark.parametrize("activation, pool", [("relu", "max"), ("tanh", "avg")])
def test_trained_lenet5_from_parts_matches_the_module_on_1000_test_digits(digits, activation, pool):
    x_train, y_train, x_test, y_test = digits
    torch.manual_seed(0)
    model = LeNet5(activation=activation, pool=pool)
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for step in range(30):  # a few steps, so the weights are no longer the initial ones
        batch = slice(64 * step % 1936, 64 * step % 1936 + 64)
        loss = F.cross_entropy(model(x_train[batch]), y_train[batch])
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        expected = model(x_test)
        got = lenet5_from_parts(model, x_test)
    assert got.shape == (1000, 10)
    assert (got - expected).abs().max() < 1e-5
    # the training did something: better than chance on the test digits
    assert (expected.argmax(1) == y_test).float().mean() > 0.3


def test_from_parts_gradients_flow_like_the_module():
    torch.manual_seed(1)
    model, x = LeNet5(), torch.randn(4, 1, 28, 28)
    g_ref = torch.autograd.grad(model(x).square().sum(), model.features[0].weight)[0]
    g_ours = torch.autograd.grad(lenet5_from_parts(model, x).square().sum(), model.features[0].weight)[0]
    torch.testing.assert_close(g_ours, g_ref, rtol=1e-4, atol=1e-5)


def test_from_parts_refuses_other_models_and_shapes():
    with pytest.raises(TypeError, match="model"):
        lenet5_from_parts(LeNet5Classic(), torch.zeros(1, 1, 32, 32))
    with pytest.raises(ValueError, match="x must have shape"):
        lenet5_from_parts(LeNet5(), torch.zeros(1, 1, 32, 32))
    with pytest.raises(TypeError, match="x"):
        lenet5_from_parts(LeNet5(), [[0.0]])
