"""Draw a digit for LeNet-5: the network's forward pass runs in the reader's browser (``digit.js``).

The page runs the layers this module gives it: the model's own layers in order, each with its
kind, sizes and output shape measured by running the model on a blank image, and its weights as
float32 base64 (44,426 numbers, about 237 kB of text), with a few test digits to load without
drawing. The feature maps it shows are labelled here from those shapes.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from .._checks import check_int, eval_mode
from ..data import ImageDataset, load_mnist
from ..models import LeNet5
from .html import Explorer, b64_bytes, b64_floats

INPUT = (1, 28, 28)  # MNIST's digits: what the drawing becomes
BOX = 20  # MNIST scaled each digit's ink to fit a 20 x 20 box before centring it in 28 x 28
_ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh"}
_POOLS = {nn.MaxPool2d: "max", nn.AvgPool2d: "avg"}
PROMPT = "Try: draw a 1, then slant it more and more: at what angle does the network change its mind?"


def _pair(v: Any) -> list[int]:
    """A module's size setting, an int or an (H, W) tuple, as [H, W]."""
    return [int(v), int(v)] if isinstance(v, int) else [int(a) for a in v]


def _describe(module: nn.Module, shape: list[int]) -> dict[str, Any]:
    """One layer as the page runs it: its kind and sizes, and the shape of its output."""
    if isinstance(module, nn.Conv2d):
        return {"op": "conv", "kernel": _pair(module.kernel_size), "stride": _pair(module.stride),
                "padding": _pair(module.padding), "shape": shape}
    if isinstance(module, nn.Linear):
        return {"op": "linear", "shape": shape}
    if type(module) in _POOLS:
        return {"op": "pool", "mode": _POOLS[type(module)], "kernel": _pair(module.kernel_size),
                "stride": _pair(module.stride), "shape": shape}
    if type(module) in _ACTIVATIONS:
        return {"op": _ACTIVATIONS[type(module)], "shape": shape}
    raise TypeError(f"model: the page cannot run a {type(module).__name__} layer")  # LeNet5 has none


@torch.no_grad()
def _layers(model: LeNet5) -> tuple[list[dict[str, Any]], str, dict[str, list[int]]]:
    """The model's layers in forward order, the weights as float32 base64, and where each lies in them.

    The output shapes are measured by running the model on a blank image, so they are the
    model's own, whatever its sizes.
    """
    modules = [*model.features, nn.Flatten(), *model.classifier]
    x, offset = torch.zeros(1, *INPUT), 0
    layers: list[dict[str, Any]] = []
    tensors: list[torch.Tensor] = []
    layout: dict[str, list[int]] = {}
    with eval_mode(model):
        for i, module in enumerate(modules):
            x = module(x)
            shape = list(x.shape[1:])
            layer = {"op": "flatten", "shape": shape} if isinstance(module, nn.Flatten) else _describe(module, shape)
            if isinstance(module, (nn.Conv2d, nn.Linear)):
                for kind in ("weight", "bias"):
                    t, name = getattr(module, kind), f"{i}.{kind}"
                    layer[kind] = name
                    layout[name] = [offset, t.numel()]
                    offset += t.numel()
                    tensors.append(t.detach().flatten())
            layers.append(layer)
        if not torch.equal(x, model(torch.zeros(1, *INPUT))):
            raise ValueError("model: its forward pass is not its layers in order; the page would run another network")
    return layers, b64_floats(torch.cat(tensors)), layout


def _maps(layers: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The feature maps the page shows: after each convolution's activation and each pooling,
    named as LeCun et al. named them (C for convolutions, S for subsampling), numbered by layer."""
    maps, number = [], 0
    for i, layer in enumerate(layers):
        if layer["op"] in ("conv", "pool"):
            number += 1
        after_conv = i > 0 and layers[i - 1]["op"] == "conv" and layer["op"] in ("relu", "sigmoid", "tanh")
        if len(layer["shape"]) == 3 and (after_conv or layer["op"] == "pool"):
            c, h, w = layer["shape"]
            what = (f"{layer['mode']} pooling {layer['kernel'][0]}x{layer['kernel'][1]}" if layer["op"] == "pool"
                    else f"a {layers[i - 1]['kernel'][0]}x{layers[i - 1]['kernel'][1]} convolution and {layer['op']}")
            name = "S" if layer["op"] == "pool" else "C"
            maps.append({"label": f"{name}{number}: {c} maps of {h} x {w}, after {what}", "layer": i,
                         "shape": layer["shape"]})
    return maps


def _check_model(model: object) -> LeNet5:
    if not isinstance(model, LeNet5):
        raise TypeError(f"model must be a cnnbook.LeNet5, got {type(model).__name__}")
    if tuple(model.input_size) != INPUT:
        raise ValueError(f"model must take {INPUT[0]} x {INPUT[1]} x {INPUT[2]} images (MNIST's digits, what "
                         f"the drawing becomes), got a LeNet5 for {' x '.join(map(str, model.input_size))}; "
                         "build it with cb.LeNet5() (in_channels=1, size=28)")
    return model


def digit_explorer(model: LeNet5, digits: ImageDataset | None = None, *, examples: int = 20) -> Explorer:
    """A canvas to draw a digit on, and ``model``'s prediction, running in the browser.

    Taught in the LeNet-5 chapter. The drawing is preprocessed as MNIST's digits were (the ink
    scaled into a 20 x 20 box, then placed in 28 x 28 by its centre of mass), normalised with
    the mean and standard deviation of ``digits``, and sent through ``model``'s layers, in order,
    with the shapes measured on ``model``. The page shows the prediction, the probability of
    every class and the feature maps after each convolution and each pooling.

    Args:
        model: a :class:`cnnbook.LeNet5` for 1 x 28 x 28 images (any activation, max or average
            pooling); its weights are copied, so training it further does not change the explorer.
        digits: an MNIST :class:`cnnbook.ImageDataset` (uint8, 1 x 28 x 28) whose first
            ``examples`` images the reader can load with a button; also gives mean, std and the
            class names. None: ``cb.load_mnist(split="test")``.
        examples: how many digits to embed (1 to 100).

    Returns:
        an :class:`~cnnbook.explorers.html.Explorer`; the last line of a cell displays it.

    Raises:
        ValueError: ``model`` takes another input than 1 x 28 x 28 (``cb.LeNet5(size=32)``), or
            its classes do not match those of ``digits``.
    """
    model = _check_model(model)
    n = check_int("examples", examples, low=1, high=100)
    if digits is None:
        digits = load_mnist(split="test")
    if not isinstance(digits, ImageDataset):
        raise TypeError(f"digits must be a cnnbook.ImageDataset (e.g. cb.load_mnist(split='test')), "
                        f"got {type(digits).__name__}")
    if digits.images.dtype.is_floating_point or tuple(digits.images.shape[1:]) != INPUT:
        raise ValueError("digits must hold uint8 images of shape (1, 28, 28), like MNIST's, got "
                         f"{digits.images.dtype} {tuple(digits.images.shape[1:])}")
    classes = list(digits.classes)
    if len(classes) != model.classifier[-1].out_features:
        raise ValueError(f"digits has {len(classes)} classes but model has "
                         f"{model.classifier[-1].out_features} outputs")
    layers, weights, layout = _layers(model)
    data = {"input": list(INPUT), "box": BOX, "layers": layers, "maps": _maps(layers), "weights": weights,
            "layout": layout, "mean": digits.mean[0], "std": digits.std[0], "classes": classes,
            "examples": b64_bytes(digits.images[:n, 0]), "labels": digits.labels[:n].tolist(), "prompt": PROMPT}
    return Explorer("digit", data, "Draw a digit for LeNet-5 (runs in your browser)")
