"""cnnbook.peer: tuomaso/train_mnist_fast's final recipe, as the bench's peer."""

import math

import pytest
import torch

import cnnbook as cb
from cnnbook.peer import PEER_RECIPE, PeerNet, peer_tensors, run_peer

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def digits():
    return cb.load_mnist(download=False, verbose=False).subset(2000).split(500, seed=0)  # 1,500 / 500


def test_the_network_is_the_published_one():
    net = PeerNet()
    assert net(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    shapes = {n: tuple(p.shape) for n, p in net.named_parameters() if n.endswith("weight")}
    assert shapes == {"conv1.weight": (24, 1, 5, 5), "conv2.weight": (32, 24, 3, 3),
                      "fc1.weight": (256, 800), "fc2.weight": (10, 256)}
    assert cb.count_params(net) == 215_194
    x = torch.randn(2, 1, 28, 28)  # pooling before the ReLU computes the same function
    pooled_last = torch.relu(net.conv1(x)).amax((-1, -2))
    assert torch.equal(torch.nn.functional.max_pool2d(torch.relu(net.conv1(x)), 24).flatten(2)[..., 0],
                       pooled_last)


def test_the_data_is_normalised_shuffled_once_and_on_the_device(digits):
    train, _ = digits
    x, y = peer_tensors(train, "cpu")
    assert x.dtype == torch.float32 and x.shape == (len(train), 1, 28, 28)
    raw = (train.images.float() / 255 - PEER_RECIPE["mean"]) / PEER_RECIPE["std"]
    assert not torch.equal(y, train.labels)  # shuffled ...
    x2, y2 = peer_tensors(train, "cpu")
    assert torch.equal(x, x2) and torch.equal(y, y2)  # ... the same way every time
    assert torch.allclose(x.sum(0), raw.sum(0), atol=1e-2)  # the same images
    x3, y3 = peer_tensors(train, "cpu", order_seed=None)
    assert torch.equal(y3, train.labels) and torch.allclose(x3, raw)
    with pytest.raises(ValueError, match="28x28"):
        peer_tensors(cb.pad_images(train, 2), "cpu")
    with pytest.raises(TypeError, match="ImageDataset"):
        peer_tensors((train.images, train.labels), "cpu")


def test_run_peer_trains_by_the_recipe_and_reports_like_fit(digits):
    train, test = digits
    h = run_peer(train, test, device="cpu", seed=0, epochs=4)
    assert len(h) == 4 and h.epochs_done == 4
    assert all(math.isnan(v) for v in h.train_loss)  # the peer does not measure them
    assert all(s > 0 for s in h.seconds) and h.images_per_s[0] == pytest.approx(len(train) / h.seconds[0])
    assert h.test_acc[-1] > 80, h.test_acc
    again = run_peer(train, test, device="cpu", seed=0, epochs=4)
    assert again.test_acc == h.test_acc  # a seed makes a run repeatable
    one = run_peer(train, test, device="cpu", seed=1)  # the published single epoch
    assert len(one) == 1 and one.fraction == [1.0]
    with pytest.raises(ValueError, match="epochs"):
        run_peer(train, test, epochs=0)
