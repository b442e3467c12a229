"""An architecture diagram drawn from the model itself: :func:`cnnbook.layer_table` -> a figure.

The LeNet-5 chapter draws LeNet-5 with it and the AlexNet chapter AlexNet; any ``nn.Module`` works.
Each layer that changes the data (a convolution, a pooling layer, a linear layer...) becomes one
block: a stack of sheets for feature maps (C, H, W) -- the sheet's side is proportional to H, so
that 32x32 maps look six times as wide as 5x5 ones, and the number of sheets grows with log2(C) --
and a bar for a vector (F,). A layer that keeps the number of values
and has no multiply-adds (an activation, dropout, flatten, an adaptive pool that changes nothing)
is written under the block before it instead of getting its own. matplotlib is imported when a
diagram is drawn, so ``import cnnbook`` works without it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from torch import nn

from .summary import LayerRow, layer_table

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["Block", "architecture_blocks", "plot_architecture"]


@dataclass
class Block:
    """One block of the diagram: a layer that changes the data, with the light layers after it.

    ``name`` and ``kind`` are the main layer's (``"input"`` for the input); ``extra`` the kinds of
    the layers folded into it (e.g. ``["ReLU"]``); ``params`` counts them all.
    """

    name: str
    kind: str
    shape: tuple[int, ...]
    params: int = 0
    extra: list[str] = field(default_factory=list)


def _numel(shape: tuple[int, ...]) -> int:
    return math.prod(shape) if shape else 0


def _light(row: LayerRow, previous: tuple[int, ...]) -> bool:
    """A layer drawn as a note under the block before it: same number of values, no multiply-adds."""
    return row.macs == 0 and _numel(row.output_shape) == _numel(previous)


def architecture_blocks(model: nn.Module, input_shape: tuple[int, ...]) -> list[Block]:
    """The blocks :func:`plot_architecture` draws, the input first (LeNet-5 chapter).

    ``input_shape`` is one example's shape without the batch dimension, e.g. (1, 28, 28), as for
    :func:`cnnbook.layer_table`, which runs the model once to find the layers and their shapes.
    """
    rows = layer_table(model, input_shape)
    blocks = [Block("input", "input", tuple(input_shape))]
    for row in rows:
        if not row.output_shape:
            continue  # a layer that returned no tensor: nothing to draw
        if _light(row, blocks[-1].shape):
            blocks[-1].extra.append(row.kind)
            blocks[-1].params += row.params
            blocks[-1].shape = row.output_shape
        else:
            blocks.append(Block(row.name, row.kind, row.output_shape, row.params))
    return blocks


def _short(name: str) -> str:
    """'features.C1' -> 'C1'; 'features.0' stays (a bare index says nothing alone)."""
    last = name.rsplit(".", 1)[-1]
    return name if last.isdigit() else last


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return f"{shape[0]}@{shape[1]}x{shape[2]}"
    return " x ".join(str(n) for n in shape)


_SLOT = 1.5  # the least room a block takes along the row, so that labels do not collide
_STEP = 0.06  # offset between the sheets of a stack
_BAR = 0.16  # width of the bar of a vector
_INCH = 0.65  # inches per data unit of a new figure: a slot is about an inch wide


def _sheets(block: Block) -> int:
    return min(8, 1 + round(math.log2(max(block.shape[0], 1))))


_MAX_SIDE = 1.6  # drawn side of the largest maps, in data units
_MIN_SIDE = 0.05  # the least drawn side, so that 1x1 maps stay visible


def _side(block: Block, max_side: int) -> float:
    """The drawn side of a sheet of feature maps, proportional to H: the largest maps get 1.6 units."""
    return max(_MIN_SIDE, _MAX_SIDE * block.shape[1] / max_side)


def _width(block: Block, max_side: int) -> float:
    if len(block.shape) == 3:
        return _side(block, max_side) + (_sheets(block) - 1) * _STEP
    return _BAR


def _draw_block(ax: Axes, left: float, block: Block, max_side: int, max_len: int) -> None:
    """Draw one block with its left edge at ``left``."""
    from matplotlib.patches import Rectangle

    shape = block.shape
    colour = "#dde8f5" if block.kind == "input" else ("#f5e3c8" if len(shape) == 3 else "#d9ecd9")
    if len(shape) == 3:
        side = _side(block, max_side)
        for i in reversed(range(_sheets(block))):
            ax.add_patch(Rectangle((left + i * _STEP, i * _STEP), side, side * shape[2] / shape[1],
                                   facecolor=colour, edgecolor="0.3", linewidth=0.7))
    else:
        height = 0.35 + 1.25 * math.log(1 + _numel(shape)) / math.log(1 + max_len)
        ax.add_patch(Rectangle((left, 0), _BAR, height, facecolor=colour, edgecolor="0.3",
                               linewidth=0.7))


_WEIGHTED = {"Conv2d": "conv", "PartialConv2d": "conv", "Linear": "fc"}


def _numbered(blocks: list[Block]) -> list[str]:
    """AlexNet's way to name layers: the layers with weights numbered in order (conv1..conv5,
    fc6..fc8), a pooling layer by the number of the layer before it (pool1, pool2, pool5)."""
    names, number = [], 0
    for block in blocks[1:]:
        if block.kind in _WEIGHTED:
            number += 1
            names.append(f"{_WEIGHTED[block.kind]}{number}")
        elif "Pool" in block.kind or block.kind == "Subsampling":
            names.append(f"pool{number}")
        else:
            names.append(_short(block.name))
    return names


def _block_names(blocks: list[Block], names: Sequence[str] | str | None) -> list[str]:
    """The label of every block after the input: the layers' own names, or ``names``."""
    if names is None:
        return [_short(b.name) for b in blocks[1:]]
    if isinstance(names, str):
        if names != "numbered":
            raise ValueError(f"names must be 'numbered', a list of {len(blocks) - 1} labels or "
                             f"None, got {names!r}")
        return _numbered(blocks)
    listed = list(names)
    if len(listed) != len(blocks) - 1 or not all(isinstance(n, str) for n in listed):
        raise ValueError(f"names must hold one string per block after the input, "
                         f"{len(blocks) - 1} here ({', '.join(_short(b.name) for b in blocks[1:])}), "
                         f"got {len(listed)}: {listed!r}")
    return listed


def _label(block: Block, name: str) -> str:
    if block.kind == "input":
        return f"input\n{_shape_text(block.shape)}"
    lines = [name, block.kind, *(f"+ {k}" for k in block.extra),
             _shape_text(block.shape), f"{block.params:,} params"]
    return "\n".join(lines)


def plot_architecture(model: nn.Module, input_shape: tuple[int, ...], ax: Axes | None = None,
                      *, title: str | None = None,
                      names: Sequence[str] | str | None = None) -> Figure:
    """The model as a row of blocks, input on the left, each labelled with its layer (LeNet-5 chapter).

    Under each block: the layer's name and type, the layers folded into it (``+ ReLU``), its
    output shape (``6@28x28`` is 6 maps of 28x28) and its parameters. A sheet's side is
    proportional to the maps' height. ``ax``: draw into these axes (default: a new figure sized to
    the model). ``names``: the first line of each block's label after the input -- None for the
    layer's own name (``C1``; ``features.0`` for an unnamed one), ``"numbered"`` for AlexNet's
    style (``conv1`` ... ``conv5``, ``pool1``, ``fc6`` ... ``fc8``: layers with weights numbered in
    order, a pooling layer after the one before it), or a list of one label per block
    (ValueError, naming the blocks, if the count differs). Returns the figure.
    """
    blocks = architecture_blocks(model, input_shape)
    labels = ["input", *_block_names(blocks, names)]
    max_side = max([b.shape[1] for b in blocks if len(b.shape) == 3] or [1])
    max_len = max([_numel(b.shape) for b in blocks if len(b.shape) != 3] or [1])
    widths = [_width(b, max_side) for b in blocks]
    slots = [max(w, _SLOT) for w in widths]
    size = 7.0 if len(blocks) <= 9 else 6.0  # label font size, points
    lines = max(4 + len(b.extra) for b in blocks)
    bottom = -0.15 - lines * size / 72 * 1.3 / _INCH  # room for the labels, in data units
    right = sum(slots) + 0.1 * len(slots)
    if ax is None:
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots(figsize=((right + 0.1) * _INCH, (2.2 - bottom) * _INCH))
    else:
        fig = ax.figure  # type: ignore[assignment]
    x = 0.0
    for block, name, width, slot in zip(blocks, labels, widths, slots):
        centre = x + slot / 2
        _draw_block(ax, centre - width / 2, block, max_side, max_len)
        ax.text(centre, -0.12, _label(block, name), ha="center", va="top", fontsize=size)
        x += slot + 0.1
    ax.set_xlim(-0.1, right)
    ax.set_ylim(bottom, 2.1)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title, fontsize=10)
    return fig
