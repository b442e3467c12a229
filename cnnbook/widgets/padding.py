"""The padding calculator: an input grid, its padding ring and every position of the kernel.

* :func:`padding_diagram` draws one setting with matplotlib (used by the static site);
* :func:`padding_grid` draws a figure of several settings side by side;
* :func:`formula_text` puts the numbers into the output-size formula, as text;
* :func:`padding_demo` is the live ipywidgets calculator for Jupyter and Colab.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..padding import any_pair, conv_axes, conv_output_size

# input pixels, padding, padding no window reaches, the first window, window centres
_COLOURS = {"input": "#d6e6f5", "pad": "#ececec", "unused": "#f6d5d0", "window": "#f28e2b",
            "centre": "#1f4e79"}

DEFAULT_SETTINGS: tuple[tuple[Any, ...], ...] = (
    # (n, kernel_size, stride, padding, dilation)
    (5, 3, 1, 0, 1),  # valid: 5 -> 3
    (5, 3, 1, 1, 1),  # same: 5 -> 5
    (6, 3, 2, 1, 1),  # stride 2: the floor leaves the last padded column unused
    (5, 4, 1, "same", 1),  # even kernel: one more pixel of padding after than before
    (7, 3, 1, 2, 2),  # dilation 2 needs padding 2 to keep the size
    (5, 3, 1, 2, 1),  # padding 2 with a 3x3 kernel: the output grows to 7
)


def formula_text(n: int, kernel_size: int, stride: int = 1, padding: int | str = 0,
             dilation: int = 1) -> str:
    """The output-size formula with these numbers filled in, or the error PyTorch would meet."""
    try:
        if any_pair(n, kernel_size, stride, padding, dilation):
            raise TypeError("formula_text works on square settings: pass ints, not (H, W) pairs")
        n_, k, s, lo, hi, d, out = conv_axes(n, kernel_size, stride, padding, dilation)[0]
    except (ValueError, TypeError) as err:
        return f"not a valid setting: {err}"
    pad = f"2*{lo}" if lo == hi else f"({lo}+{hi})"
    return (f"output size = floor(({n_} + {pad} - {d}*({k}-1) - 1) / {s}) + 1 = {out}"
            f"   ->   a {n_}x{n_} input gives a {out}x{out} output")


def padding_diagram(n: int, kernel_size: int, stride: int = 1, padding: int | str = 0,
                    dilation: int = 1, ax: Any = None, *, numbers: bool = True) -> Any:
    """Draw an ``n x n`` input, its padding ring and the kernel's positions on a matplotlib axis.

    Blue cells are the input (outlined), grey cells the padding (zeros), red cells input or
    padding that no window ever reaches (the floor in the formula drops them). The orange squares are the taps of the
    first window; a dark dot marks the centre of every window position, so there are as many
    dots as output pixels (``conv_output_size(...) ** 2``). Arguments as in
    :func:`cnnbook.conv_output_size` (ints only). Returns the axis.
    """
    import matplotlib.pyplot as plt
    from matplotlib.collections import PatchCollection
    from matplotlib.patches import Rectangle

    if any_pair(n, kernel_size, stride, padding, dilation):
        raise TypeError("padding_diagram draws square settings: n, kernel_size, stride, padding "
                        "and dilation must be ints (or a padding word)")
    n_, k, s, lo, hi, d, out = conv_axes(n, kernel_size, stride, padding, dilation)[0]
    if ax is None:
        _, ax = plt.subplots(figsize=(3.2, 3.4))
    size = lo + n_ + hi
    reached = {start * s + d * j for start in range(out) for j in range(k)}  # padded coordinates

    cells, colours = [], []
    for r in range(size):
        for c in range(size):
            inside = lo <= r < lo + n_ and lo <= c < lo + n_
            seen = r in reached and c in reached
            kind = ("input" if inside else "pad") if seen else "unused"
            cells.append(Rectangle((c, r), 1, 1))
            colours.append(_COLOURS[kind])
            if numbers and not inside and size <= 14:
                ax.text(c + 0.5, r + 0.5, "0", ha="center", va="center", fontsize=7, color="#888")
    ax.add_collection(PatchCollection(cells, facecolors=colours, edgecolors="white", linewidths=1))
    # the input's outline, then the first window's taps
    ax.add_patch(Rectangle((lo, lo), n_, n_, fill=False, edgecolor="#1f4e79", linewidth=1.5))
    for i in range(k):
        for j in range(k):
            ax.add_patch(Rectangle((d * j + 0.1, d * i + 0.1), 0.8, 0.8, alpha=0.8,
                                   facecolor="none", edgecolor=_COLOURS["window"], linewidth=2))
    centres = [(s * cj + d * (k - 1) / 2 + 0.5, s * ci + d * (k - 1) / 2 + 0.5)
               for ci in range(out) for cj in range(out)]
    xs, ys = zip(*centres)
    ax.scatter(xs, ys, s=14, color=_COLOURS["centre"], zorder=3, label="window centres")
    ax.set_xlim(0, size)
    ax.set_ylim(size, 0)
    ax.set_aspect("equal")
    ax.axis("off")
    p = f"'{padding}'" if isinstance(padding, str) else padding
    ax.set_title(f"n={n_}, k={k}, s={s}, p={p}, d={d}\noutput {out}x{out}", fontsize=9)
    return ax


def padding_grid(settings: Sequence[tuple[Any, ...]] = DEFAULT_SETTINGS, ncols: int = 3) -> Any:
    """A matplotlib figure with one :func:`padding_diagram` per ``(n, k, s, p, d)`` setting."""
    import matplotlib.pyplot as plt

    if not settings:
        raise ValueError("settings must hold at least one (n, kernel_size, stride, padding, "
                         "dilation) tuple")
    if ncols < 1:
        raise ValueError(f"ncols must be >= 1, got {ncols}")
    nrows = -(-len(settings) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 3.7 * nrows), squeeze=False)
    for ax, setting in zip(axes.flat, settings):
        padding_diagram(*setting, ax=ax)  # type: ignore[misc]  # settings are 5-tuples at most
    for ax in list(axes.flat)[len(settings):]:
        ax.remove()
    fig.tight_layout()
    return fig


def padding_demo() -> Any:
    """The live calculator: sliders for n, kernel, stride, padding, dilation; returns a widget.

    Display it in Jupyter or Colab (the last expression of a cell). It redraws
    :func:`padding_diagram` and prints :func:`formula_text` on every change; a setting PyTorch
    would refuse prints the reason instead.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    def slider(name: str, lo: int, hi: int, value: int) -> Any:
        return widgets.IntSlider(value=value, min=lo, max=hi, description=name,
                                 continuous_update=False)

    controls = {
        "n": slider("n", 1, 12, 5),
        "kernel_size": slider("kernel", 1, 7, 3),
        "stride": slider("stride", 1, 4, 1),
        "padding": widgets.Dropdown(options=["valid", "same", 0, 1, 2, 3, 4], value=1,
                                    description="padding"),
        "dilation": slider("dilation", 1, 3, 1),
    }

    def draw(n: int, kernel_size: int, stride: int, padding: Any, dilation: int) -> None:
        print(formula_text(n, kernel_size, stride, padding, dilation))
        try:
            conv_output_size(n, kernel_size, stride, padding, dilation)
        except ValueError:
            return
        fig, ax = plt.subplots(figsize=(4.5, 4.7))
        padding_diagram(n, kernel_size, stride, padding, dilation, ax=ax)
        plt.show()

    out = widgets.interactive_output(draw, controls)
    return widgets.VBox([widgets.HBox(list(controls.values())[:3]),
                         widgets.HBox(list(controls.values())[3:]), out])


def sliding_window_figure(n: int = 5, kernel_size: int = 3, stride: int = 2,
                          padding: int = 1) -> Any:
    """A static figure: one panel per window position on an ``n x n`` input, in reading order.

    Each panel shows the input (blue), the padding ring (grey zeros), the window at that
    position (orange) and, on the right, the output pixel it fills. Taught in the chapter
    *Padding and stride*. Returns the matplotlib figure.
    """
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    ah = conv_axes(n, kernel_size, stride, padding)[0]
    out, size = ah.out, n + 2 * padding
    fig, axes = plt.subplots(out, out, figsize=(2.6 * out, 2.6 * out), squeeze=False)
    for (i, j), ax in zip([(i, j) for i in range(out) for j in range(out)], axes.flat):
        for r in range(size):
            for c in range(size):
                inside = padding <= r < padding + n and padding <= c < padding + n
                ax.add_patch(Rectangle((c, r), 1, 1, ec="white",
                                       fc=_COLOURS["input" if inside else "pad"]))
                if not inside:
                    ax.text(c + 0.5, r + 0.5, "0", ha="center", va="center", fontsize=7,
                            color="#888")
        ax.add_patch(Rectangle((j * stride, i * stride), kernel_size, kernel_size, fill=False,
                               ec=_COLOURS["window"], lw=2.5))
        for oi in range(out):  # the output grid, to the right; the pixel being filled in orange
            for oj in range(out):
                fc = _COLOURS["window"] if (oi, oj) == (i, j) else "#dddddd"
                ax.add_patch(Rectangle((size + 1 + oj, oi), 1, 1, ec="white", fc=fc))
        ax.set_xlim(0, size + 1 + out)
        ax.set_ylim(size, 0)
        ax.set_aspect("equal")
        ax.axis("off")
        r0, c0 = i * stride - padding, j * stride - padding
        ax.set_title(f"output ({i}, {j}): input rows {r0}..{r0 + kernel_size - 1}, "
                     f"cols {c0}..{c0 + kernel_size - 1}", fontsize=7)
    fig.suptitle(f"{n}x{n} input, {kernel_size}x{kernel_size} window, stride {stride}, "
                 f"padding {padding} -> {out}x{out} output", fontsize=10)
    fig.tight_layout()
    return fig
