"""Draw a digit for LeNet-5: the network's forward pass runs in the reader's browser (``digit.js``).

The weights of a trained :class:`cnnbook.LeNet5` travel inside the HTML as float32 base64
(44,426 numbers, about 237 kB of text), with a few test digits to load without drawing.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_int
from ..data import ImageDataset, load_mnist
from ..models import LeNet5
from .html import Explorer, b64_bytes, b64_floats

# the exported arrays, in the order of LeNet5's modules: (name in the JS, module path)
_LAYERS = (("c1", "features.0"), ("c3", "features.3"), ("f5", "classifier.0"),
           ("f6", "classifier.2"), ("out", "classifier.4"))
_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_POOLS = {nn.MaxPool2d: "max", nn.AvgPool2d: "avg"}


def _weights(model: LeNet5) -> tuple[str, dict[str, list[int]], str, str]:
    """All weights and biases as one float32 base64 string, where each lies in it, act, pool."""
    modules = dict(model.named_modules())
    tensors, layout, offset = [], {}, 0
    for short, path in _LAYERS:
        for kind, t in (("w", modules[path].weight), ("b", modules[path].bias)):
            layout[short + kind] = [offset, t.numel()]
            offset += t.numel()
            tensors.append(t.detach().flatten())
    activation = _ACTIVATIONS[type(model.features[1])]
    pool = _POOLS[type(model.features[2])]
    return b64_floats(torch.cat(tensors)), layout, activation, pool


def digit_explorer(model: LeNet5, digits: ImageDataset | None = None, *, examples: int = 20) -> Explorer:
    """A canvas to draw a digit on, and ``model``'s prediction, running in the browser.

    Taught in the LeNet-5 chapter. The drawing is preprocessed as MNIST's digits were (the ink
    scaled into a 20 x 20 box, then placed in 28 x 28 by its centre of mass), normalised with
    the mean and standard deviation of ``digits`` , and
    sent through the same layers as ``LeNet5.forward``. The page shows the prediction, the
    probability of every class and the C1, S2 and C3 feature maps.

    Args:
        model: a :class:`cnnbook.LeNet5` (any activation, max or average pooling); its weights
            are copied, so training it further does not change the explorer.
        digits: an MNIST :class:`cnnbook.ImageDataset` (uint8, 1 x 28 x 28) whose first
            ``examples`` images the reader can load with a button; also gives mean, std and the
            class names. None: ``cb.load_mnist(split="test")``.
        examples: how many digits to embed (1 to 100).

    Returns:
        an :class:`~cnnbook.explorers.html.Explorer`; the last line of a cell displays it.
    """
    if not isinstance(model, LeNet5):
        raise TypeError(f"model must be a cnnbook.LeNet5, got {type(model).__name__}")
    n = check_int("examples", examples, low=1, high=100)
    if digits is None:
        digits = load_mnist(split="test")
    if not isinstance(digits, ImageDataset):
        raise TypeError(f"digits must be a cnnbook.ImageDataset (e.g. cb.load_mnist(split='test')), "
                        f"got {type(digits).__name__}")
    if digits.images.dtype.is_floating_point or tuple(digits.images.shape[1:]) != (1, 28, 28):
        raise ValueError("digits must hold uint8 images of shape (1, 28, 28), like MNIST's, got "
                         f"{digits.images.dtype} {tuple(digits.images.shape[1:])}")
    classes = list(digits.classes)
    if len(classes) != model.classifier[-1].out_features:
        raise ValueError(f"digits has {len(classes)} classes but model has "
                         f"{model.classifier[-1].out_features} outputs")
    weights, layout, activation, pool = _weights(model)
    mean, std = digits.mean[0], digits.std[0]
    data = {"weights": weights, "layout": layout, "activation": activation, "pool": pool,
            "mean": mean, "std": std, "classes": classes,
            "examples": b64_bytes(digits.images[:n, 0]), "labels": digits.labels[:n].tolist()}
    return Explorer("digit", data, "Draw a digit for LeNet-5 (runs in your browser)")

