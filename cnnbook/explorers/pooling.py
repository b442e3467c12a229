"""The pooling and padding explorer: pick an image and a setting, see the windows and the output.

It runs in the reader's browser (``pooling.js``), but every rule the page states comes from this
package, computed when the explorer is rendered: for every setting the controls offer, on every
image's shape, :func:`cnnbook.pad2d` and :func:`cnnbook.pool2d` are called on a tensor of zeros and
the page receives the output shape or the exact error message; which input pixel each padded
position copies comes from ``cb.pad2d`` too. The page only looks these up, draws, and takes the
max, min or mean of each window.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from typing import Any

import torch

from .._checks import check_flag, check_int
from ..padding import PAD_MODES, pad2d
from ..pooling import MODES, pool2d
from .html import Explorer, b64_floats

MAX_SIDE = 128  # the explorer draws every pixel: larger images belong in a figure
# "pool": the pool's own padding; else a mode of cb.pad2d applied first ("constant" is "zeros" here)
PAD_CHOICES = ("pool", *(m for m in PAD_MODES if m != "constant"))

# The settings the controls offer; the page builds its sliders from these ranges.
KERNELS, STRIDES, PADDINGS = range(1, 9), range(1, 9), range(0, 5)
CEIL = (False, True)

# cb.conv_output_size's rule (dilation 1), shown with the setting's numbers filled in: the page
# substitutes them and the output size it looked up, and computes nothing.
FORMULAS = {
    "floor": "floor(({n} + 2*{padding} - {kernel_size}) / {stride}) + 1 = {out}",
    "ceil": "ceil(({n} + 2*{padding} - {kernel_size}) / {stride}) + 1, less 1 if the last window would start "
            "{beyond}: {out}",
    "beyond": {"pool": "in the right padding", "explicit": "past the padded input"},
}

# What the page asks the reader to try, in one line: a target size reached by the first of these
# settings (kernel_size, stride) that works on the first image, then a refusal to find.
TARGETS = ((3, 3), (2, 1), (1, 2))
PROMPT = "Try: make the {image} image ({h} x {w}) give a {oh} x {ow} output, then find a setting cb.pool2d refuses."


def _grey(name: object, image: object) -> dict[str, object]:
    """One image as the explorer's JSON: name, height, width and float32 values."""
    if not isinstance(name, str) or not name:
        raise TypeError(f"images: every name must be a non-empty string, got {name!r}")
    if not isinstance(image, torch.Tensor):
        raise TypeError(f"images[{name!r}] must be a torch.Tensor, got {type(image).__name__}")
    if image.dim() == 3 and image.shape[0] == 1:
        image = image[0]
    if image.dim() != 2:
        raise ValueError(f"images[{name!r}] must be one grey image, (H, W) or (1, H, W), "
                         f"got shape {tuple(image.shape)}")
    if not image.is_floating_point():
        raise TypeError(f"images[{name!r}] must be a floating-point tensor, got {image.dtype}; "
                        "convert it with x.float() / 255")
    h, w = image.shape
    if not (1 <= h <= MAX_SIDE and 1 <= w <= MAX_SIDE):
        raise ValueError(f"images[{name!r}] must be at most {MAX_SIDE} x {MAX_SIDE}, got {h} x {w}")
    if not torch.isfinite(image).all():
        raise ValueError(f"images[{name!r}] must hold finite numbers (no nan or inf)")
    return {"name": name, "h": h, "w": w, "values": b64_floats(image)}


def settings_grid() -> list[dict[str, Any]]:
    """Every setting the explorer offers, in the order of its outcome tables (the mode aside).

    The page finds a setting's place in a table from the ``grid`` it receives: pad mode, then
    ``ceil_mode``, kernel size, stride and padding, the last varying fastest.
    """
    return [{"padMode": m, "ceil": c, "kernel": k, "stride": s, "padding": p}
            for m in PAD_CHOICES for c in CEIL for k in KERNELS for s in STRIDES for p in PADDINGS]


@functools.cache
def _padded(h: int, w: int, padding: int, pad_mode: str) -> tuple[int, int] | str:
    """The shape cb.pad2d gives an h x w input, or its error message (an empty batch: no pixels to copy)."""
    try:
        out = pad2d(torch.zeros(0, h, w), padding, pad_mode)
    except ValueError as err:
        return str(err)
    return int(out.shape[-2]), int(out.shape[-1])


@functools.cache
def _pooled(h: int, w: int, kernel: int, stride: int, padding: int, ceil: bool, mode: str) -> tuple[int, int] | str:
    """The output shape cb.pool2d gives an h x w input, or its error message."""
    try:
        out = pool2d(torch.zeros(0, h, w), kernel, stride, padding, mode=mode, ceil_mode=ceil)
    except ValueError as err:
        return str(err)
    assert isinstance(out, torch.Tensor)  # no return_indices: one tensor
    return int(out.shape[-2]), int(out.shape[-1])


def outcome(h: int, w: int, setting: Mapping[str, Any], mode: str = "max") -> tuple[int, int] | tuple[str, str]:
    """What cnnbook computes for one explorer setting on an ``h x w`` image.

    Returns ``(H_out, W_out)``, or ``(function, message)``: the name of the function that refused
    (``"cb.pad2d"`` or ``"cb.pool2d"``) and its error message, word for word. Both functions run
    on an empty batch of that shape, so the answer costs no pixels; each answer is kept, as the
    same shapes come back for every setting and every explorer.
    """
    own = setting["padding"]
    if setting["padMode"] != "pool":  # cb.pad2d first; then the pool pads nothing itself
        padded = _padded(h, w, setting["padding"], setting["padMode"])
        if isinstance(padded, str):
            return "cb.pad2d", padded
        (h, w), own = padded, 0
    pooled = _pooled(h, w, setting["kernel"], setting["stride"], own, setting["ceil"], mode)
    return ("cb.pool2d", pooled) if isinstance(pooled, str) else pooled


def _outcomes(shapes: list[tuple[int, int]]) -> tuple[dict[str, list[Any]], list[list[str]]]:
    """Per image shape ``"HxW"``, one entry per setting: [H_out, W_out], or an index into messages."""
    messages: list[list[str]] = []
    tables: dict[str, list[Any]] = {}
    grid = settings_grid()
    for h, w in shapes:
        table: list[Any] = []
        for setting in grid:
            result = outcome(h, w, setting)
            if isinstance(result[0], int):
                table.append(list(result))
                continue
            refusal = [str(part) for part in result]
            if refusal not in messages:
                messages.append(refusal)
            table.append(messages.index(refusal))
        tables[f"{h}x{w}"] = table
    return tables, messages


def _source_rows(sides: set[int]) -> dict[str, dict[str, list[list[int] | None]]]:
    """Per side n and pad mode, per padding p: the input pixel each padded position copies (-1: a constant).

    Read off ``cb.pad2d`` itself, applied to the positions 1..n (0 marks its constant border);
    ``None`` where ``cb.pad2d`` refuses that padding.
    """
    out: dict[str, dict[str, list[list[int] | None]]] = {}
    for n in sorted(sides):
        positions = torch.arange(1, n + 1, dtype=torch.float64)[None]  # one row of n pixels
        per_mode: dict[str, list[list[int] | None]] = {}
        for mode in PAD_CHOICES[1:]:
            rows: list[list[int] | None] = []
            for p in PADDINGS:
                try:
                    rows.append([int(v) - 1 for v in pad2d(positions, (p, p, 0, 0), mode)[0].tolist()])
                except ValueError:
                    rows.append(None)
            per_mode[mode] = rows
        out[str(n)] = per_mode
    return out


def _prompt(image: Mapping[str, Any]) -> str:
    """The one-line task the page shows, with a target size cnnbook computed for the first image."""
    for kernel, stride in TARGETS:
        result = outcome(image["h"], image["w"], {"padMode": "pool", "ceil": False, "kernel": kernel,
                                                  "stride": stride, "padding": 0})
        if isinstance(result[0], int):
            break
    return PROMPT.format(image=image["name"], h=image["h"], w=image["w"], oh=result[0], ow=result[1])


def rules(shapes: list[tuple[int, int]]) -> dict[str, Any]:
    """Everything the page needs to know about cnnbook's rules for images of these shapes (JSON-ready)."""
    tables, messages = _outcomes(shapes)
    return {"grid": {"padMode": list(PAD_CHOICES), "ceil": list(CEIL), "kernel": list(KERNELS),
                     "stride": list(STRIDES), "padding": list(PADDINGS), "mode": list(MODES)},
            "outcomes": tables, "messages": messages,
            "sources": _source_rows({n for shape in shapes for n in shape}),
            "formulas": FORMULAS}


def _first_setting(kernel_size: int, stride: int, padding: int, mode: str, pad_mode: str,
                   ceil_mode: bool) -> dict[str, Any]:
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    if pad_mode not in PAD_CHOICES:
        raise ValueError(f"pad_mode must be one of {PAD_CHOICES}, got {pad_mode!r}")
    check_flag("ceil_mode", ceil_mode)
    return {"image": 0, "mode": mode, "padMode": pad_mode, "ceil": ceil_mode,
            "kernel": check_int("kernel_size", kernel_size, low=KERNELS[0], high=KERNELS[-1]),
            "stride": check_int("stride", stride, low=STRIDES[0], high=STRIDES[-1]),
            "padding": check_int("padding", padding, low=PADDINGS[0], high=PADDINGS[-1])}


def pooling_explorer(images: Mapping[str, torch.Tensor], *, kernel_size: int = 2, stride: int = 2,
                     padding: int = 0, mode: str = "max", pad_mode: str = "pool",
                     ceil_mode: bool = False) -> Explorer:
    """A pooling and padding explorer that runs in the browser, with ``images`` embedded.

    Taught in the pooling chapter. The reader picks an image, the mode (max, avg, min), the window
    (1 to 8), the stride (1 to 8), the padding (0 to 4), the padding mode and ``ceil_mode``, and
    sees the padded input with the chosen window, the output, its shape by the rule of
    :func:`cnnbook.conv_output_size`, and the call of :func:`cnnbook.pool2d` that computes it. A
    setting that ``cb.pool2d`` (or ``cb.pad2d``) refuses shows its error message. Shapes and
    messages are computed here, by those functions, for every setting on every image's shape
    (on empty batches: a fraction of a second per distinct shape), so the page cannot disagree
    with them.

    Args:
        images: name -> one grey float image, (H, W) or (1, H, W), at most 128 x 128.
        kernel_size, stride, padding, mode, ceil_mode: the setting shown first.
        pad_mode: ``"pool"`` (the pool's own padding: -inf for max, +inf for min, 0 for average,
            as ``cb.pool2d``) or a mode of ``cb.pad2d`` applied first: ``"zeros"``,
            ``"reflect"``, ``"replicate"``, ``"circular"``.

    Returns:
        an :class:`~cnnbook.explorers.html.Explorer`; the last line of a cell displays it.
    """
    if not isinstance(images, Mapping) or not images:
        raise TypeError("images must be a non-empty dict of name -> image tensor, "
                        f"got {type(images).__name__}")
    if len(images) > 8:
        raise ValueError(f"images: at most 8 images, got {len(images)}")
    settings = _first_setting(kernel_size, stride, padding, mode, pad_mode, ceil_mode)
    grey = [_grey(name, image) for name, image in images.items()]
    shapes = list(dict.fromkeys((int(im["h"]), int(im["w"])) for im in grey))  # type: ignore[call-overload]
    data = {"images": grey, "settings": settings, "rules": rules(shapes), "prompt": _prompt(grey[0])}
    return Explorer("pooling", data, "Pooling and padding explorer (runs in your browser)")
