"""What a network is made of: a table of its layers with output shapes, parameters and multiply-adds.

Multiply-adds (MACs) are measured, not computed from formulas: each layer is run under
:class:`torch.utils.flop_counter.FlopCounterMode`, which counts the floating-point operations of
convolutions and matrix products (2 per multiply-add). Elementwise work -- activations, pooling,
normalisation -- is not counted; it is small next to the convolutions and linear layers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ._checks import check_model, eval_mode, model_device

__all__ = ["LayerRow", "count_params", "count_macs", "layer_table", "layer_cells", "format_table"]


@dataclass
class LayerRow:
    """One layer call: its name in the model, its class, its output shape (batch dimension left
    out), its parameters and the multiply-adds for one example."""

    name: str
    kind: str
    output_shape: tuple[int, ...]
    params: int
    macs: int


def _example(model: nn.Module, input_shape: tuple[int, ...]) -> torch.Tensor:
    """A batch of one random example of shape (1, *input_shape) on the model's device."""
    if isinstance(input_shape, torch.Size):
        input_shape = tuple(input_shape)
    if (not isinstance(input_shape, (tuple, list)) or not input_shape
            or not all(isinstance(n, int) and n >= 1 for n in input_shape)):
        raise ValueError(
            f"input_shape must be the shape of one example without the batch dimension, "
            f"e.g. (1, 28, 28), got {input_shape!r}"
        )
    param = next(iter(model.parameters()), None)
    dev = model_device(model)
    dtype = param.dtype if param is not None and param.is_floating_point() else torch.float32
    return torch.randn(1, *input_shape, device=dev, dtype=dtype)


def count_params(model: nn.Module, trainable_only: bool = True) -> int:
    """The number of parameters of ``model`` (only those with ``requires_grad`` by default)."""
    check_model(model)
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def count_macs(model: nn.Module, input_shape: tuple[int, ...]) -> int:
    """Multiply-adds of one forward pass of one example of shape ``input_shape`` (e.g. (1, 28, 28)).

    Measured with FlopCounterMode (convolutions and matrix products; FLOPs / 2), in eval mode.
    """
    check_model(model)
    x = _example(model, input_shape)
    with eval_mode(model), torch.no_grad(), FlopCounterMode(display=False) as counter:
        model(x)
    return counter.get_total_flops() // 2


def layer_table(model: nn.Module, input_shape: tuple[int, ...]) -> list[LayerRow]:
    """One :class:`LayerRow` per call of a leaf module (a module without children), in call order.

    ``input_shape`` is one example's shape without the batch dimension, e.g. (1, 28, 28); the
    model runs once, in eval mode and without gradients, on a random batch of one. A module called
    twice gives two rows; its parameters are counted on the first. Parameters that belong to
    non-leaf modules themselves, and work done outside leaf modules (e.g. ``torch.flatten`` in
    ``forward``), have no row.
    """
    check_model(model)
    x = _example(model, input_shape)
    rows: list[LayerRow] = []
    seen: set[int] = set()
    names = {id(m): name for name, m in model.named_modules()}

    def hook(module: nn.Module, args: tuple, kwargs: dict, output: object) -> None:
        # Run the layer again on the same input, alone, to count its operations.
        with FlopCounterMode(display=False) as counter:
            module.forward(*args, **kwargs)
        params = 0 if id(module) in seen else count_params(module)
        seen.add(id(module))
        shape = tuple(output.shape[1:]) if isinstance(output, torch.Tensor) else ()
        rows.append(LayerRow(names[id(module)], type(module).__name__, shape, params,
                             counter.get_total_flops() // 2))

    leaves = [m for m in model.modules() if not list(m.children())]
    handles = [m.register_forward_hook(hook, with_kwargs=True) for m in leaves]
    try:
        with eval_mode(model), torch.no_grad():
            model(x)
    finally:
        for h in handles:
            h.remove()
    return rows


def _shape(shape: tuple[int, ...]) -> str:
    return " x ".join(str(n) for n in shape) if shape else "-"


Line = tuple[str, str, str, str, str]


def layer_cells(rows: Sequence[LayerRow]) -> tuple[Line, list[Line], Line]:
    """The header, one line per row and the total line of a table of ``rows``, as strings (numbers
    with thousands separators): what :func:`format_table` and :func:`cnnbook.layers_table` show."""
    if not all(isinstance(r, LayerRow) for r in rows):
        raise TypeError("rows must be a list of LayerRow, as returned by layer_table")
    header = ("layer", "type", "output", "parameters", "multiply-adds")
    body = [(r.name, r.kind, _shape(r.output_shape), f"{r.params:,}", f"{r.macs:,}") for r in rows]
    total = ("total", "", "", f"{sum(r.params for r in rows):,}", f"{sum(r.macs for r in rows):,}")
    return header, body, total


def format_table(rows: list[LayerRow]) -> str:
    """The rows as a plain-text table with a total line, numbers with thousands separators."""
    header, body, total = layer_cells(rows)
    widths = [max(len(line[i]) for line in [header, *body, total]) for i in range(5)]

    def fmt(line: tuple[str, ...]) -> str:
        left = [line[i].ljust(widths[i]) for i in range(3)]
        right = [line[i].rjust(widths[i]) for i in range(3, 5)]
        return "  ".join(left + right).rstrip()

    rule = "-" * (sum(widths) + 2 * 4)
    return "\n".join([fmt(header), rule, *map(fmt, body), rule, fmt(total)])
