"""The padding explorer: an input row, its padding, every window of the kernel and the output size.

It runs in the reader's browser (``padding.js``), but every number the page states comes from this
package, computed when the explorer is rendered: for every setting the controls offer,
:func:`cnnbook.conv_output_size` gives the output size or its error message, word for word, and
:func:`cnnbook.padding.conv_axes` the padding before and after the input; the padded positions each
window covers are listed here. The page only looks these up and draws.
"""

from __future__ import annotations

import functools
from typing import Any

from .._checks import check_int
from ..padding import PADDING_WORDS, conv_axes, conv_output_size
from .html import Explorer

# The settings the controls offer; the page builds its controls from these.
SIZES, KERNELS, STRIDES, DILATIONS = range(1, 13), range(1, 8), range(1, 5), range(1, 4)
PAD_SIZES = range(0, 5)
PADDINGS: tuple[int | str, ...] = ("valid", "same", *PAD_SIZES)
KEYS = ("n", "kernel", "stride", "padding", "dilation")  # the order of the outcome table, last fastest

# cb.conv_output_size's rule with the setting's numbers filled in: the page substitutes them and the
# output size it looked up, and computes nothing. {pad} is PAD_TEXT["equal"] when before == after.
FORMULA = "output size = floor(({n} + {pad} - {dilation}*({kernel}-1) - 1) / {stride}) + 1 = {out}"
PAD_TEXT = {"equal": "2*{before}", "unequal": "({before}+{after})"}
RESULT = "a {n}-wide input gives {out} outputs (padding {before} before, {after} after)"

# What the page asks the reader to try: a size this package computes for a 7-wide input.
PROMPT = ("Try: make a 7-wide input give {target} outputs with a kernel of 3, then keep all 7 with "
          "dilation 2, then find a setting cb.conv_output_size refuses.")


def settings_grid() -> list[dict[str, Any]]:
    """Every setting the explorer offers, in the order of its outcome table (``KEYS``, the last fastest)."""
    return [{"n": n, "kernel": k, "stride": s, "padding": p, "dilation": d}
            for n in SIZES for k in KERNELS for s in STRIDES for p in PADDINGS for d in DILATIONS]


def outcome(setting: dict[str, Any]) -> tuple[int, int, int] | str:
    """``(out, before, after)`` for one explorer setting, or the message cb.conv_output_size raises."""
    args = [setting[key] for key in KEYS]
    try:
        out = conv_output_size(*args)
    except ValueError as err:
        return str(err)
    axis = conv_axes(*args)[0]
    assert axis.out == out  # one rule: the sides come from the function that sized the output
    return out, axis.before, axis.after


@functools.cache
def windows(kernel: int, stride: int, dilation: int, out: int) -> tuple[tuple[int, ...], ...]:
    """The padded positions each of the ``out`` windows covers (0: the first padded position)."""
    return tuple(tuple(o * stride + dilation * j for j in range(kernel)) for o in range(out))


def rules() -> dict[str, Any]:
    """Everything the page needs, JSON-ready: per setting [out, before, after, windows] or a message index."""
    messages: list[str] = []
    table: list[Any] = []
    shapes: list[tuple[tuple[int, ...], ...]] = []
    for st in settings_grid():
        result = outcome(st)
        if isinstance(result, str):
            if result not in messages:
                messages.append(result)
            table.append(messages.index(result))
            continue
        taps = windows(st["kernel"], st["stride"], st["dilation"], result[0])
        if taps not in shapes:
            shapes.append(taps)
        table.append([*result, shapes.index(taps)])
    return {"grid": {"n": list(SIZES), "kernel": list(KERNELS), "stride": list(STRIDES),
                     "padding": list(PADDINGS), "dilation": list(DILATIONS)},
            "outcomes": table, "messages": messages, "windows": [[list(w) for w in taps] for taps in shapes],
            "formula": FORMULA, "padText": PAD_TEXT, "result": RESULT}


def prompt() -> str:
    """The one-line task the page shows, with a target size cnnbook computed (stride 2, padding 1)."""
    return PROMPT.format(target=conv_output_size(7, 3, 2, 1))


def padding_explorer(n: int = 5, kernel_size: int = 3, stride: int = 1, padding: int | str = 1,
                     dilation: int = 1) -> Explorer:
    """The padding calculator as an explorer that runs in the browser (Jupyter, Colab, the site).

    Taught in the chapter *Padding and stride*. The reader sets the input size n (1 to 12), the
    kernel size (1 to 7), the stride (1 to 4), the padding (``"valid"``, ``"same"`` or 0 to 4) and
    the dilation (1 to 3), and sees one row of the input with its padding, every window of the
    kernel (one per output), the padding no window reaches, and the formula of
    :func:`cnnbook.conv_output_size` with the numbers filled in. A setting it refuses shows its
    error message. Sizes and messages are computed here, by that function, for every setting the
    controls offer (about 7,000, in a fraction of a second), so the page cannot disagree with it.
    The arguments are the setting shown first.

    Returns:
        an :class:`~cnnbook.explorers.html.Explorer`; the last line of a cell displays it.
    """
    if isinstance(padding, str):
        if padding not in PADDING_WORDS:
            raise ValueError(f"padding must be one of {PADDINGS}, got {padding!r}")
    else:
        check_int("padding", padding, low=PAD_SIZES[0], high=PAD_SIZES[-1])
    settings = {"n": check_int("n", n, low=SIZES[0], high=SIZES[-1]),
                "kernel": check_int("kernel_size", kernel_size, low=KERNELS[0], high=KERNELS[-1]),
                "stride": check_int("stride", stride, low=STRIDES[0], high=STRIDES[-1]),
                "padding": padding,
                "dilation": check_int("dilation", dilation, low=DILATIONS[0], high=DILATIONS[-1])}
    data = {"settings": settings, "rules": rules(), "prompt": prompt()}
    return Explorer("padding", data, "Padding calculator (runs in your browser)")
