"""LeNet-5 run with the book's own parts: its forward pass without a single ``nn`` layer call.

The LeNet-5 chapter closes its loop with :func:`lenet5_from_parts`: the trained weights of a
:class:`~cnnbook.models.LeNet5` go through :func:`cnnbook.conv2d` (the convolution chapter),
:func:`cnnbook.pool2d` (the pooling chapter), elementwise activations and matrix products, and
give the module's own logits back.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .._checks import check_tensor
from ..conv import conv2d
from ..pooling import pool2d
from .lenet import LeNet5

__all__ = ["lenet5_from_parts"]

_ACTIVATIONS = {nn.ReLU: lambda t: t.clamp_min(0), nn.Sigmoid: torch.sigmoid, nn.Tanh: torch.tanh}


def _pool_parts(layer: nn.Module) -> tuple[int, int, int, str]:
    """(kernel, stride, padding, mode) of a plain max or average pool; ValueError for options."""
    mode = "max" if isinstance(layer, nn.MaxPool2d) else "avg"
    extras = ({"dilation": layer.dilation, "ceil_mode": layer.ceil_mode}
              if isinstance(layer, nn.MaxPool2d)
              else {"ceil_mode": layer.ceil_mode, "count_include_pad": not layer.count_include_pad,
                    "divisor_override": layer.divisor_override})
    if any(v not in (None, False, 1, (1, 1)) for v in extras.values()):
        raise ValueError(f"model: pool2d has no option of {layer!r}")
    return layer.kernel_size, layer.stride, layer.padding, mode  # type: ignore[return-value]


def _apply(layer: nn.Module, x: Tensor) -> Tensor:
    """One layer of the network, from the book's parts."""
    if isinstance(layer, nn.Conv2d):
        return conv2d(x, layer.weight, layer.bias, layer.stride, layer.padding,  # type: ignore[arg-type]
                      layer.dilation, layer.groups, layer.padding_mode)  # type: ignore[arg-type]
    if isinstance(layer, (nn.MaxPool2d, nn.AvgPool2d)):
        k, s, p, mode = _pool_parts(layer)
        return pool2d(x, k, s, p, mode=mode)  # type: ignore[return-value]  # a tensor without indices
    if isinstance(layer, nn.Linear):
        out = x @ layer.weight.t()
        return out if layer.bias is None else out + layer.bias
    if isinstance(layer, nn.Flatten):
        return x.flatten(layer.start_dim, layer.end_dim)
    if type(layer) in _ACTIVATIONS:
        return _ACTIVATIONS[type(layer)](x)
    raise ValueError(f"model: no part of the book computes a {type(layer).__name__} layer")


def lenet5_from_parts(model: LeNet5, x: Tensor) -> Tensor:
    """The logits of ``model(x)``, computed with ``cb.conv2d``, ``cb.pool2d`` and matrix products.

    Taught in the LeNet-5 chapter; the convolution and pooling chapters build the parts.

    Args:
        model: a :class:`~cnnbook.models.LeNet5` (any activation, max or average pooling), trained
            or not; its layers are read, never called.
        x: (N, 1, 28, 28) images on the model's device, normalised as for the model.

    Returns:
        (N, num_classes) logits, equal to ``model(x)`` up to rounding (the two compute the same
        sums in a different order). Gradients flow as through the module.
    """
    if not isinstance(model, LeNet5):
        raise TypeError(f"model must be a cnnbook LeNet5, got {type(model).__name__}")
    check_tensor("x", x, shape=(None, *model.input_size))
    for layer in model.features:
        x = _apply(layer, x)
    x = x.flatten(1)
    for layer in model.classifier:
        x = _apply(layer, x)
    return x
