"""The pooling explorer: an image, a pooling setting, and what comes out.

* :func:`sample_images` gives the chapter's two images: an MNIST digit and a photograph;
* :func:`pooling_panel` draws one setting (input with its first windows, output, shape);
* :func:`pooling_grid` draws a figure of several settings side by side (the static site);
* :func:`pooling_demo` is the live ipywidgets explorer for Jupyter and Colab.
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import torch
import torch.nn.functional as F

from ..pooling import pool2d

# (kernel_size, stride, padding, mode): one setting per column of the static grid
DEFAULT_SETTINGS: tuple[tuple[int, int, int, str], ...] = (
    (2, 2, 0, "max"),  # the classic: halves height and width
    (2, 1, 0, "max"),  # stride 1: windows overlap, the size barely shrinks
    (3, 2, 1, "max"),  # overlapping 3x3 windows with stride 2, as in AlexNet
    (3, 1, 1, "min"),  # stride 1 and padding 1 keep the size; min thins bright strokes
    (3, 3, 1, "avg"),  # padding 1: the border averages include padded zeros
    (5, 2, 2, "avg"),  # a large window blurs
)


def sample_photo(size: int = 64, gray: bool = True) -> torch.Tensor:
    """Grace Hopper's portrait from matplotlib's sample data, centre-cropped to a square.

    Returns:
        float tensor in [0, 1] of shape (1, size, size), or (3, size, size) if ``gray=False``.
    """
    if isinstance(size, bool) or not isinstance(size, int) or size < 1:
        raise ValueError(f"size must be an int >= 1, got {size!r}")
    import matplotlib.cbook as cbook
    import matplotlib.image as mpimg

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


def sample_digit(index: int = 0) -> torch.Tensor:
    """Digit number ``index`` of the MNIST test split (``cb.load_mnist``), as float (1, 28, 28) in [0, 1]."""
    from ..data import load_mnist

    test = load_mnist(split="test", verbose=False)
    if not 0 <= index < len(test):
        raise ValueError(f"index must be between 0 and {len(test) - 1}, got {index}")
    return test.images[index].float() / 255


def sample_images(size: int = 64) -> dict[str, torch.Tensor]:
    """``{"MNIST digit": (1, 28, 28), "photograph": (1, size, size)}``, float images in [0, 1]."""
    return {"MNIST digit": sample_digit(0), "photograph": sample_photo(size)}


def _label(kernel_size: int, stride: int, padding: int, mode: str) -> str:
    pad = f", pad {padding}" if padding else ""
    return f"{mode} {kernel_size}x{kernel_size}, stride {stride}{pad}"


def _show(ax: Any, img: torch.Tensor, title: str, vmin: float, vmax: float) -> None:
    """Draw a (C, H, W) image on ``ax`` with pixel edges sharp and fixed grey levels."""
    arr = img.detach().cpu()
    if arr.shape[0] == 1:
        ax.imshow(arr[0].numpy(), cmap="gray", vmin=vmin, vmax=vmax, interpolation="nearest")
    else:
        ax.imshow(((arr - vmin) / max(vmax - vmin, 1e-12)).clamp(0, 1).permute(1, 2, 0).numpy(),
                  interpolation="nearest")
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def pooling_panel(image: torch.Tensor, kernel_size: int, stride: int, padding: int = 0,
                  mode: str = "max", axes: Sequence[Any] | None = None) -> torch.Tensor:
    """Draw ``image`` with its first two windows outlined, and its pooled output beside it.

    Args:
        image: float (C, H, W) with C = 1 (grey) or 3 (colour).
        kernel_size, stride, padding, mode: as for :func:`cnnbook.pool2d` (ints here).
        axes: two matplotlib axes (input, output); a new figure if None.

    Returns:
        the pooled image, (C, H_out, W_out). Raises :func:`cnnbook.pool2d`'s errors unchanged.
    """
    import matplotlib.patches as patches
    import matplotlib.pyplot as plt

    out = pool2d(image, kernel_size, stride, padding, mode=mode)
    assert isinstance(out, torch.Tensor)  # no return_indices: one tensor
    if axes is None:
        _, axes = plt.subplots(1, 2, figsize=(7, 3.6))
    vmin, vmax = float(image.min()), float(image.max())
    _show(axes[0], image, f"input {tuple(image.shape)}", vmin, vmax)
    for i, colour in enumerate(("#e8412c", "#f2b701")):  # window 1 and the window one stride on
        if i * stride + kernel_size - padding > image.shape[-1] + padding:
            break
        axes[0].add_patch(patches.Rectangle((i * stride - padding - 0.5, -padding - 0.5), kernel_size,
                                            kernel_size, fill=False, edgecolor=colour, lw=2, clip_on=False))
    _show(axes[1], out, f"{_label(kernel_size, stride, padding, mode)}\noutput {tuple(out.shape)}", vmin, vmax)
    return out


def pooling_grid(images: torch.Tensor | Mapping[str, torch.Tensor],
                 settings: Sequence[tuple[int, int, int, str]] = DEFAULT_SETTINGS) -> Any:
    """A figure: one row per image, its input then one pooled output per setting.

    Args:
        images: one float (C, H, W) image, or a mapping name -> image (C = 1 or 3).
        settings: ``(kernel_size, stride, padding, mode)`` tuples, one column each.

    Returns:
        a matplotlib Figure. Each output is drawn with the same grey levels as its input, so a
        brighter max-pooled image and a darker min-pooled one are real differences.
    """
    import matplotlib.pyplot as plt

    if isinstance(images, torch.Tensor):
        images = {"input": images}
    if not images:
        raise ValueError("images must hold at least one (C, H, W) image")
    if not settings:
        raise ValueError("settings must hold at least one (kernel_size, stride, padding, mode) tuple")
    for name, img in images.items():
        if not isinstance(img, torch.Tensor) or img.dim() != 3 or img.shape[0] not in (1, 3):
            raise ValueError(f"images[{name!r}] must be a (C, H, W) tensor with C = 1 or 3, "
                             f"got {getattr(img, 'shape', type(img).__name__)}")
    ncols = 1 + len(settings)
    fig, axes = plt.subplots(len(images), ncols, figsize=(2.1 * ncols, 2.7 * len(images)), squeeze=False)
    for row, (name, img) in zip(axes, images.items()):
        vmin, vmax = float(img.min()), float(img.max())
        _show(row[0], img, f"{name}\n{tuple(img.shape)}", vmin, vmax)
        for ax, (k, s, p, mode) in zip(row[1:], settings):
            out = pool2d(img, k, s, p, mode=mode)
            assert isinstance(out, torch.Tensor)  # no return_indices: one tensor
            _show(ax, out, f"{_label(k, s, p, mode)}\n-> {tuple(out.shape)}", vmin, vmax)
    fig.tight_layout()
    return fig


def pooling_demo(images: Mapping[str, torch.Tensor] | None = None) -> Any:
    """The live explorer: choose image, mode, window, stride and padding; returns a widget.

    Display it in Jupyter or Colab (the last expression of a cell). Each change redraws
    :func:`pooling_panel` and prints the output shape; a setting :func:`cnnbook.pool2d` refuses
    prints its error message instead, which names the parameter to fix.

    Args:
        images: name -> float (C, H, W) image; default :func:`sample_images`.
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt

    images = dict(sample_images() if images is None else images)
    if not images:
        raise ValueError("images must hold at least one (C, H, W) image")

    def slider(name: str, lo: int, hi: int, value: int) -> Any:
        return widgets.IntSlider(value=value, min=lo, max=hi, description=name, continuous_update=False)

    controls = {
        "name": widgets.Dropdown(options=list(images), description="image"),
        "mode": widgets.ToggleButtons(options=["max", "avg", "min"], description="mode"),
        "kernel_size": slider("window", 1, 8, 2),
        "stride": slider("stride", 1, 8, 2),
        "padding": slider("padding", 0, 4, 0),
    }

    def draw(name: str, mode: str, kernel_size: int, stride: int, padding: int) -> None:
        image = images[name]
        try:
            fig, axes = plt.subplots(1, 2, figsize=(7, 3.6))
            out = pooling_panel(image, kernel_size, stride, padding, mode, axes=axes)
        except ValueError as err:
            plt.close(fig)
            print(f"not a valid setting: {err}")
            return
        print(f"input {tuple(image.shape)} -> output {tuple(out.shape)}")
        plt.show()

    out = widgets.interactive_output(draw, controls)
    return widgets.VBox([widgets.HBox([controls["name"], controls["mode"]]),
                         widgets.HBox([controls["kernel_size"], controls["stride"], controls["padding"]]),
                         out])
