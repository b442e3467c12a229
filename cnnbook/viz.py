"""Figures for the chapters: image grids, feature maps, confusion matrices, learning curves, pooling, sliding windows.

matplotlib is imported inside the functions, so ``import cnnbook`` works without it. Every
plotting function returns its matplotlib Figure (created with pyplot, so Jupyter shows it once the
cell ends; assign the result or end the line with ``;`` to keep it from being shown twice).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import torch

from ._checks import check_int
from .padding import conv_axes
from .pooling import pool2d

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "show_images",
    "plot_feature_maps",
    "confusion_matrix",
    "plot_confusion_matrix",
    "plot_curves",
    "plot_pooling",
    "sample_photo",
    "sliding_window_figure",
]


def _plt():
    import matplotlib.pyplot as plt

    return plt


def _as_tensor(x: Any, name: str) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x.detach().cpu()
    try:
        return torch.as_tensor(x).cpu()
    except (TypeError, ValueError, RuntimeError) as err:
        raise TypeError(
            f"{name} must be a tensor, array or list of numbers, got {type(x).__name__}"
        ) from err


def _as_labels(x: Any, name: str, n: int | None = None) -> torch.Tensor:
    """Integer labels (N,); (N, K) scores become their argmax."""
    t = _as_tensor(x, name)
    if t.dim() == 2 and t.is_floating_point():
        t = t.argmax(dim=1)
    if t.dim() != 1:
        raise ValueError(f"{name} must have shape (N,) (or (N, K) scores), got {tuple(t.shape)}")
    if t.is_floating_point() or t.is_complex() or t.dtype == torch.bool:
        raise TypeError(f"{name} must hold integer class indices, got dtype {t.dtype}")
    if n is not None and len(t) != n:
        raise ValueError(f"{name} must have {n} entries, one per image, got {len(t)}")
    return t.long()


def _to_display(images: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) or (N, H, W), uint8 or float -> float (N, H, W, C) in [0, 1]."""
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if images.dim() != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            "images must have shape (N, C, H, W) with C = 1 or 3, or (N, H, W), "
            f"got {tuple(images.shape)}"
        )
    if images.dtype == torch.uint8:
        x = images.float() / 255
    elif images.is_floating_point():
        x = images.float()
        if x.numel() and (x.min() < 0 or x.max() > 1):  # normalised: stretch each image to [0, 1]
            lo = x.amin(dim=(1, 2, 3), keepdim=True)
            hi = x.amax(dim=(1, 2, 3), keepdim=True)
            x = (x - lo) / (hi - lo).clamp_min(1e-12)
    else:
        raise TypeError(f"images must be uint8 or floating point, got dtype {images.dtype}")
    return x.permute(0, 2, 3, 1)


def _name(i: int, classes: Sequence[str] | None) -> str:
    if classes is None:
        return str(i)
    if not 0 <= i < len(classes):
        raise ValueError(f"label {i} has no entry in classes (length {len(classes)})")
    return str(classes[i])


def show_images(
    images: torch.Tensor,
    labels: torch.Tensor | Sequence[int] | None = None,
    predictions: torch.Tensor | Sequence[int] | None = None,
    *,
    classes: Sequence[str] | None = None,
    ncols: int = 8,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
    cmap: str = "gray",
) -> "Figure":
    """A grid of images, each titled with its label and/or prediction.

    ``images``: (N, C, H, W) with C = 1 or 3, or (N, H, W); uint8 (0..255) or float. Float images
    outside [0, 1] (normalised ones) are stretched to [0, 1] each on its own. ``labels`` and
    ``predictions``: (N,) class indices (predictions may be (N, K) scores); with both, each title
    is the prediction, green when right and red (with the true label) when wrong. ``classes``
    maps indices to names.
    """
    x = _to_display(_as_tensor(images, "images"))
    n = len(x)
    if n == 0:
        raise ValueError("images must hold at least one image, got 0")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be an int >= 1, got {ncols!r}")
    y = None if labels is None else _as_labels(labels, "labels", n)
    p = None if predictions is None else _as_labels(predictions, "predictions", n)

    plt = _plt()
    ncols = min(ncols, n)
    nrows = math.ceil(n / ncols)
    titled = y is not None or p is not None
    if figsize is None:
        figsize = (1.3 * ncols, (1.3 + 0.35 * titled) * nrows + 0.4 * (title is not None))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i >= n:
            continue
        img = x[i]
        if img.shape[-1] == 1:
            ax.imshow(img[..., 0].numpy(), cmap=cmap, vmin=0, vmax=1)
        else:
            ax.imshow(img.numpy())
        if p is not None and y is not None:
            right = bool(p[i] == y[i])
            text = _name(int(p[i]), classes) + ("" if right else f"\n(true {_name(int(y[i]), classes)})")
            ax.set_title(text, fontsize=9, color="tab:green" if right else "tab:red")
        elif p is not None:
            ax.set_title(_name(int(p[i]), classes), fontsize=9)
        elif y is not None:
            ax.set_title(_name(int(y[i]), classes), fontsize=9)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_feature_maps(
    maps: torch.Tensor,
    *,
    ncols: int = 8,
    title: str | None = None,
    cmap: str = "viridis",
    figsize: tuple[float, float] | None = None,
) -> "Figure":
    """Each channel of ``maps`` (C, H, W) -- or (1, C, H, W), one example -- as its own small image.

    Each map gets its own colour scale, so the figure shows where a map responds, not how strongly
    compared with the others.
    """
    m = _as_tensor(maps, "maps")
    if m.dim() == 4 and m.shape[0] == 1:
        m = m[0]
    if m.dim() != 3:
        raise ValueError(f"maps must have shape (C, H, W) or (1, C, H, W), got {tuple(m.shape)}")
    if m.shape[0] == 0:
        raise ValueError("maps must hold at least one channel, got 0")
    if not isinstance(ncols, int) or ncols < 1:
        raise ValueError(f"ncols must be an int >= 1, got {ncols!r}")
    m = m.float()
    plt = _plt()
    c = m.shape[0]
    ncols = min(ncols, c)
    nrows = math.ceil(c / ncols)
    if figsize is None:
        figsize = (1.4 * ncols, 1.5 * nrows + 0.4 * (title is not None))
    fig, axes = plt.subplots(nrows, ncols, figsize=figsize, squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < c:
            ax.imshow(m[i].numpy(), cmap=cmap)
            ax.set_title(str(i), fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def confusion_matrix(y_true: torch.Tensor, y_pred: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts (K, K) int64: entry [i, j] is how many examples of class i were predicted as j.

    ``y_true``: (N,) class indices; ``y_pred``: (N,) class indices or (N, K) scores (their argmax
    is taken). Computed with one ``bincount`` on the CPU.
    """
    check_int("num_classes", num_classes, low=1)
    t = _as_labels(y_true, "y_true")
    p = _as_labels(y_pred, "y_pred", len(t))
    for name, v in (("y_true", t), ("y_pred", p)):
        if len(v) and (v.min() < 0 or v.max() >= num_classes):
            raise ValueError(
                f"{name} must hold class indices in 0..{num_classes - 1}, "
                f"got values in {int(v.min())}..{int(v.max())}"
            )
    counts = torch.bincount(t * num_classes + p, minlength=num_classes * num_classes)
    return counts.view(num_classes, num_classes)


def plot_confusion_matrix(
    cm: torch.Tensor,
    classes: Sequence[str] | None = None,
    *,
    normalize: bool = False,
    ax: "Axes | None" = None,
    figsize: tuple[float, float] | None = None,
    title: str | None = None,
    cmap: str = "Blues",
) -> "Figure":
    """Draw a confusion matrix (K, K) (rows: true class, columns: predicted class).

    ``normalize=True`` shows each row as percentages of that true class. Cells are annotated
    when K <= 20. Draws into ``ax`` if given, else into a new figure; returns the figure.
    """
    c = _as_tensor(cm, "cm")
    if c.dim() != 2 or c.shape[0] != c.shape[1] or c.shape[0] == 0:
        raise ValueError(f"cm must be a square matrix (K, K), got shape {tuple(c.shape)}")
    k = c.shape[0]
    if classes is not None and len(classes) != k:
        raise ValueError(f"classes must have {k} names, one per row of cm, got {len(classes)}")
    names = [str(s) for s in classes] if classes is not None else [str(i) for i in range(k)]
    values = c.double()
    if normalize:
        values = 100 * values / values.sum(dim=1, keepdim=True).clamp_min(1)
    plt = _plt()
    own_figure = ax is None
    if ax is None:
        side = max(3.5, 0.45 * k + 1.5)
        fig, ax = plt.subplots(figsize=figsize or (side + 0.8, side))
    else:
        fig = ax.figure
    image = ax.imshow(values.numpy(), cmap=cmap)
    label = "% of true class" if normalize else "count"
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label=label)
    long_names = max(map(len, names)) > 2
    ax.set_xticks(range(k), names, rotation=45 if long_names else 0,
                  ha="right" if long_names else "center")
    ax.set_yticks(range(k), names)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    if k <= 20:
        top = float(values.max()) if values.numel() else 0.0
        for i in range(k):
            for j in range(k):
                v = float(values[i, j])
                text = f"{v:.0f}" if not normalize else f"{v:.1f}"
                ax.text(j, i, text, ha="center", va="center", fontsize=7,
                        color="white" if top and v > 0.6 * top else "black")
    if title:
        ax.set_title(title)
    if own_figure:
        fig.tight_layout()
    return fig


def plot_curves(
    curves: Mapping[str, Sequence[float]],
    *,
    xlabel: str = "epoch",
    ylabel: str | None = None,
    title: str | None = None,
    ax: "Axes | None" = None,
    logy: bool = False,
    figsize: tuple[float, float] = (5.0, 3.5),
) -> "Figure":
    """Learning curves: one line per ``name -> values`` entry, x running 1, 2, ... (epochs).

    Example: ``plot_curves({"train": h.train_loss, "test": h.test_loss}, ylabel="loss")``.
    Draws into ``ax`` if given, else into a new figure; returns the figure.
    """
    if not isinstance(curves, Mapping) or not curves:
        raise ValueError("curves must be a non-empty dict of name -> list of numbers")
    series = {}
    for name, values in curves.items():
        v = _as_tensor(values, f"curves[{name!r}]")
        if v.dim() != 1 or len(v) == 0:
            raise ValueError(
                f"curves[{name!r}] must be a non-empty 1-D list of numbers, got shape {tuple(v.shape)}"
            )
        series[str(name)] = v.double()
    plt = _plt()
    own_figure = ax is None
    if ax is None:
        fig, ax = plt.subplots(figsize=figsize)
    else:
        fig = ax.figure
    for name, v in series.items():
        ax.plot(range(1, len(v) + 1), v.numpy(), marker="o" if len(v) <= 30 else None, ms=3, label=name)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    if own_figure:
        fig.tight_layout()
    return fig


# ---------------------------------------------------------------------------------- pooling


def sample_photo(size: int = 64, gray: bool = True) -> torch.Tensor:
    """Grace Hopper's portrait from matplotlib's sample data, centre-cropped to a square.

    Used in the chapter *Pooling* (the photograph its figures and explorer pool).

    Returns:
        float tensor in [0, 1] of shape (1, size, size), or (3, size, size) if ``gray=False``.
    """
    size = check_int("size", size, low=1)
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg
    import torch.nn.functional as F

    rgb = mpimg.imread(cbook.get_sample_data("grace_hopper.jpg", asfileobj=False))
    x = torch.from_numpy(rgb.copy()).permute(2, 0, 1).float() / 255  # (3, 600, 512)
    h, w = x.shape[1:]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    x = x[:, top : top + side, left : left + side]
    x = F.interpolate(x[None], size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]
    x = x.clamp(0, 1)
    if gray:
        x = (0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2])[None]  # ITU-R 601 luma
    return x


def _show_fixed(ax: "Axes", img: torch.Tensor, title: str, vmin: float, vmax: float) -> None:
    """Draw a (C, H, W) image on ``ax`` with sharp pixel edges and the grey levels vmin..vmax."""
    arr = img.detach().cpu()
    if arr.shape[0] == 1:
        ax.imshow(arr[0].numpy(), cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(((arr - vmin) / max(vmax - vmin, 1e-12)).clamp(0, 1).permute(1, 2, 0).numpy(),
                  interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_pooling(images: torch.Tensor | Mapping[str, torch.Tensor],
                 settings: Sequence[tuple[int, int, int, str]]) -> "Figure":
    """A figure: one row per image, the image then its :func:`cnnbook.pool2d` output per setting.

    Used in the chapter *Pooling* (max, average and min side by side; the colour photograph).

    Args:
        images: one float (C, H, W) image, or a mapping name -> image (C = 1 or 3).
        settings: ``(kernel_size, stride, padding, mode)`` tuples, one column each.

    Returns:
        a matplotlib Figure. Each output is drawn with the same grey levels as its input, so a
        brighter max-pooled image and a darker min-pooled one are real differences. Settings
        that ``cb.pool2d`` refuses raise its error.
    """
    if isinstance(images, torch.Tensor):
        images = {"input": images}
    if not isinstance(images, Mapping) or not images:
        raise ValueError("images must hold at least one (C, H, W) image")
    if not settings:
        raise ValueError("settings must hold at least one (kernel_size, stride, padding, mode) tuple")
    for name, img in images.items():
        if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] not in (1, 3):
            raise ValueError(f"images[{name!r}] must be a (C, H, W) tensor with C = 1 or 3, "
                             f"got {getattr(img, 'shape', type(img).__name__)}")
    ncols = 1 + len(settings)
    fig, axes = _plt().subplots(len(images), ncols, figsize=(2.1 * ncols, 2.7 * len(images)), squeeze=False)
    for row, (name, img) in zip(axes, images.items()):
        vmin, vmax = float(img.min()), float(img.max())
        _show_fixed(row[0], img, f"{name}\n{tuple(img.shape)}", vmin, vmax)
        for ax, (k, s, p, mode) in zip(row[1:], settings):
            out = pool2d(img, k, s, p, mode=mode)
            assert isinstance(out, torch.Tensor)  # no return_indices: one tensor
            pad = f", pad {p}" if p else ""
            _show_fixed(ax, out, f"{mode} {k}x{k}, stride {s}{pad}\n-> {tuple(out.shape)}", vmin, vmax)
    fig.tight_layout()
    return fig


# sliding_window_figure's colours: input pixels, padding, the window and the output pixel it fills
_WINDOW_COLOURS = {"input": "#d6e6f5", "pad": "#ececec", "window": "#f28e2b"}


def sliding_window_figure(n: int = 5, kernel_size: int = 3, stride: int = 2,
                          padding: int = 1) -> "Figure":
    """A static figure: one panel per window position on an ``n x n`` input, in reading order.

    Each panel shows the input (blue), the padding ring (grey zeros), the window at that
    position (orange) and, on the right, the output pixel it fills. Taught in the chapter
    *Padding and stride*. Returns the matplotlib figure.
    """
    from matplotlib.patches import Rectangle

    plt = _plt()

    ah = conv_axes(n, kernel_size, stride, padding)[0]
    out, size = ah.out, n + 2 * padding
    fig, axes = plt.subplots(out, out, figsize=(3.2 * out, 2.9 * out), squeeze=False)
    for (i, j), ax in zip([(i, j) for i in range(out) for j in range(out)], axes.flat):
        for r in range(size):
            for c in range(size):
                inside = padding <= r < padding + n and padding <= c < padding + n
                ax.add_patch(Rectangle((c, r), 1, 1, ec="white",
                                       fc=_WINDOW_COLOURS["input" if inside else "pad"]))
                if not inside:
                    ax.text(c + 0.5, r + 0.5, "0", ha="center", va="center", fontsize=7,
                            color="#888")
        ax.add_patch(Rectangle((j * stride, i * stride), kernel_size, kernel_size, fill=False,
                               ec=_WINDOW_COLOURS["window"], lw=2.5))
        for oi in range(out):  # the output grid, to the right; the pixel being filled in orange
            for oj in range(out):
                fc = _WINDOW_COLOURS["window"] if (oi, oj) == (i, j) else "#dddddd"
                ax.add_patch(Rectangle((size + 1 + oj, oi), 1, 1, ec="white", fc=fc))
        ax.set_xlim(0, size + 1 + out)
        ax.set_ylim(size, 0)
        ax.set_aspect("equal")
        ax.axis("off")
        r0, c0 = i * stride - padding, j * stride - padding
        ax.set_title(f"output ({i}, {j})\ninput rows {r0} to {r0 + kernel_size - 1}, "
                     f"columns {c0} to {c0 + kernel_size - 1}", fontsize=11)
    fig.suptitle(f"{n}x{n} input, {kernel_size}x{kernel_size} window, stride {stride}, "
                 f"padding {padding} -> {out}x{out} output", fontsize=13)
    fig.tight_layout()
    return fig
