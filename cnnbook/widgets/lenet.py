"""The LeNet-5 explorer: one test digit, disturbed by noise and a shift, and what the network believes.

* :func:`digit_probabilities` computes the disturbed digit and the model's class probabilities;
* :func:`lenet_panel` draws one setting (the digit the network sees, its probabilities as bars);
* :func:`lenet_demo_grid` draws several settings side by side (the static figure of the site);
* :func:`lenet_demo` is the live ipywidgets explorer for Jupyter and Colab.
"""

from __future__ import annotations

from typing import Any, Sequence

import torch
from torch import nn

from .._checks import check_int, eval_mode, model_device
from ..data import ImageDataset
from ..robustness import add_noise, prepare, shift_images

# (noise std, shift right, shift down): one column of the static grid each
DEFAULT_SETTINGS: tuple[tuple[float, int, int], ...] = (
    (0.0, 0, 0),
    (0.3, 0, 0),
    (0.6, 0, 0),
    (0.0, 3, 0),
    (0.0, 6, 0),
    (0.0, -4, 4),
)


def _check_index(dataset: ImageDataset, index: int) -> None:
    check_int("index", index, low=0, high=len(dataset) - 1)


@torch.no_grad()
def digit_probabilities(model: nn.Module, dataset: ImageDataset, index: int, noise: float = 0.0, dx: int = 0,
                        dy: int = 0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Disturb test image ``index`` of ``dataset`` and classify it with ``model``.

    Args:
        model: a classifier taking normalised (N, C, H, W) images (padded to its ``input_size``).
        dataset: an ImageDataset (uint8 (N, C, h, w) images, its mean/std normalise them).
        index: which image; noise: Gaussian std in pixel units; dx, dy: shift right/down in pixels.
        seed: seeds the noise, so the same setting always shows the same noisy digit.

    Returns:
        (image, probabilities): the disturbed image as the model sees it before normalisation,
        float (C, H, W) in [0, 1] (CPU), and the softmax probabilities, float (K,) (CPU).
    """
    _check_index(dataset, index)
    dev = model_device(model)
    x = dataset.images[index : index + 1].to(dev).float() / 255  # (1, C, h, w)
    x = shift_images(x, int(dx), int(dy))
    x = add_noise(x, float(noise), torch.Generator(device=dev).manual_seed(seed))
    with eval_mode(model):
        probs = model(prepare(model, x, dataset.mean, dataset.std)).softmax(1)[0]
    return x[0].cpu(), probs.cpu()


def _class_names(dataset, k: int) -> tuple[str, ...]:
    """The dataset's class names if it names all ``k`` classes of the model, else "0".."k-1"."""
    names = tuple(getattr(dataset, "classes", ()))
    return names if len(names) == k else tuple(str(i) for i in range(k))


def _label(noise: float, dx: int, dy: int) -> str:
    parts = [f"noise {noise:.2g}" if noise else "", f"shift ({dx:+d}, {dy:+d})" if dx or dy else ""]
    return ", ".join(p for p in parts if p) or "original"


def lenet_panel(model: nn.Module, dataset: ImageDataset, index: int, noise: float = 0.0, dx: int = 0, dy: int = 0,
                axes: Sequence[Any] | None = None, seed: int = 0) -> torch.Tensor:
    """Draw the disturbed digit (top axis) and the model's probabilities as bars (bottom axis).

    The true class's bar is outlined; the predicted class's bar is green if right, red if wrong.

    Returns:
        the probabilities, float (K,).
    """
    import matplotlib.pyplot as plt

    image, probs = digit_probabilities(model, dataset, index, noise, dx, dy, seed)
    if axes is None:
        _, axes = plt.subplots(2, 1, figsize=(2.6, 4.2), gridspec_kw={"height_ratios": [3, 2]})
    names = _class_names(dataset, len(probs))
    true = int(dataset.labels[index])
    pred = int(probs.argmax())
    ax = axes[0]
    ax.imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax.set_title(f"{_label(noise, dx, dy)}\npredicted {names[pred]} ({100 * float(probs[pred]):.0f}%)",
                 fontsize=9, color="tab:green" if pred == true else "tab:red")
    ax.set_xticks([])
    ax.set_yticks([])
    ax = axes[1]
    colours = ["lightgray"] * len(probs)
    colours[pred] = "tab:green" if pred == true else "tab:red"
    bars = ax.bar(range(len(probs)), probs.numpy(), color=colours)
    bars[true].set_edgecolor("black")
    bars[true].set_linewidth(1.5)
    ax.set_ylim(0, 1)
    ax.set_xticks(range(len(probs)))
    ax.set_xticklabels(names, fontsize=7)
    ax.tick_params(axis="y", labelsize=7)
    return probs


def lenet_demo_grid(model: nn.Module, dataset: ImageDataset, index: int = 0,
                    settings: Sequence[tuple[float, int, int]] = DEFAULT_SETTINGS, seed: int = 0) -> Any:
    """A figure: one column per ``(noise, dx, dy)`` setting, the digit on top, the probabilities below.

    Args:
        model, dataset, index, seed: as for :func:`digit_probabilities`.
        settings: ``(noise std, shift right, shift down)`` tuples, one column each.

    Returns:
        a matplotlib Figure.
    """
    import matplotlib.pyplot as plt

    _check_index(dataset, index)
    if not settings:
        raise ValueError("settings must hold at least one (noise, dx, dy) tuple")
    n = len(settings)
    fig, axes = plt.subplots(2, n, figsize=(2.2 * n, 4.4), squeeze=False,
                             gridspec_kw={"height_ratios": [3, 2]})
    for col, (noise, dx, dy) in enumerate(settings):
        lenet_panel(model, dataset, index, noise, dx, dy, axes=list(axes[:, col]), seed=seed)
    fig.suptitle(f"test image #{index} (class {int(dataset.labels[index])}): "
                 f"what the network sees and the probabilities it gives", fontsize=10)
    fig.tight_layout()
    return fig


def lenet_demo(model: nn.Module, dataset: ImageDataset, *, index: int = 0, max_shift: int = 8) -> Any:
    """The live explorer: sliders pick a test digit, a noise level and a shift; the figure follows.

    Args:
        model: the trained classifier; dataset: the test ImageDataset.
        index: the digit shown first; max_shift: the shift sliders' range, -max_shift..max_shift.

    Returns:
        an ipywidgets.VBox (display it, or leave it as a cell's last expression).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import display

    _check_index(dataset, index)
    check_int("max_shift", max_shift, low=0)
    style = {"description_width": "90px"}
    digit = widgets.IntSlider(index, 0, len(dataset) - 1, description="test digit", style=style,
                              continuous_update=False)
    noise = widgets.FloatSlider(0.0, min=0.0, max=1.0, step=0.05, description="noise std", style=style)
    dx = widgets.IntSlider(0, -max_shift, max_shift, description="shift right", style=style)
    dy = widgets.IntSlider(0, -max_shift, max_shift, description="shift down", style=style)
    out = widgets.Output()

    def draw(*_: Any) -> None:
        with out:
            out.clear_output(wait=True)
            fig, axes = plt.subplots(1, 2, figsize=(7, 3), gridspec_kw={"width_ratios": [1, 1.6]})
            lenet_panel(model, dataset, digit.value, noise.value, dx.value, dy.value, axes=axes)
            axes[1].set_title("probabilities (true class outlined)", fontsize=9)
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    for w in (digit, noise, dx, dy):
        w.observe(draw, names="value")
    draw()
    return widgets.VBox([widgets.HBox([digit, noise]), widgets.HBox([dx, dy]), out])
