"""The training recipes: one place for the settings that the command line, the bench and the
chapters share (LeNet-5 and AlexNet chapters; ``python -m cnnbook train`` and ``bench``).

Each LeNet-5 recipe is a block of :func:`cnnbook.fit`'s keyword arguments plus ``shift`` (the
pixels of :func:`cnnbook.random_shift` augmentation, 0 for none), tuned on a 2-core CPU with
AdamW, a one-cycle schedule and label smoothing. :data:`RECIPES` says how the command line trains
each model; :func:`load_data` loads (train, test) for a run; :func:`choose_device` reads a
``--device`` option. Measured results of these recipes: ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import torch
import torch.nn as nn

from .data import ImageDataset, compose, load_cifar10, load_mnist, random_crop, random_flip, random_shift
from .models import AlexNetCIFAR, LeNet5, LeNet5Classic
from .runtime import device as default_device

__all__ = ["FAST", "LONG", "GPU_FAST", "SHORT_RUN", "Recipe", "RECIPES", "QUICK_SIZE", "load_data",
           "choose_device", "no_augment"]

# ----------------------------------------------------------------------------- LeNet-5 on MNIST
# epochs:          passes over the training set (fractional: the last pass is cut short)
# batch_size:      images per optimiser step (the global batch under torchrun)
# lr:              peak learning rate of the one-cycle schedule, AdamW
# label_smoothing: probability mass spread evenly over the classes in the loss target
# shift:           largest random shift in pixels, x and y, of every training image (0: none)

# FAST: a short run of small batches, without augmentation (it pays only in longer runs)
FAST = dict(epochs=2.5, batch_size=128, lr=5e-3, label_smoothing=0.1, shift=0)
# LONG: 10 epochs of larger batches with shifts of up to 2 pixels
LONG = dict(epochs=10, batch_size=256, lr=4e-3, label_smoothing=0.1, shift=2)
# GPU_FAST: large batches, fewer steps -- on a GPU the step count, not the image count, sets the time
GPU_FAST = dict(epochs=4, batch_size=512, lr=8e-3, label_smoothing=0.1, shift=0)

# runs of fewer epochs than this use FAST's batch size, learning rate and no augmentation
SHORT_RUN = 5
# --quick: (train, test) images of a small class-balanced subset per dataset
# (AlexNetCIFAR costs ~100x LeNet-5 per image)
QUICK_SIZE = {"mnist": (2000, 500), "cifar10": (256, 128)}


def no_augment() -> None:
    """No augmentation (a :attr:`Recipe.make_augment` that makes none)."""
    return None


def _mnist_shift() -> Callable[[torch.Tensor], torch.Tensor]:
    return random_shift(int(LONG["shift"]))


def _crop_flip() -> Callable[[torch.Tensor], torch.Tensor]:
    return compose(random_crop(4), random_flip())


@dataclass(frozen=True)
class Recipe:
    """How to train one model: a factory of the network, its data and fit's settings.

    ``make_model()`` returns a fresh network; ``make_augment()`` a fresh augmentation (or None);
    ``pad`` is the pixels of background added on every side of every image (2 for LeNet5Classic's
    32x32 input, with :func:`cnnbook.pad_images`); ``short`` overrides the settings of runs of
    fewer than :data:`SHORT_RUN` epochs.
    """

    make_model: Callable[[], nn.Module]
    dataset: str  # "mnist" | "cifar10"
    epochs: float
    batch_size: int
    lr: float
    label_smoothing: float = 0.0
    make_augment: Callable[[], Callable[[torch.Tensor], torch.Tensor] | None] = no_augment
    pad: int = 0
    short: Mapping[str, Any] = field(default_factory=dict)

    def settings(self, epochs: float) -> dict[str, Any]:
        """batch_size, lr, label_smoothing and make_augment for a run of ``epochs`` epochs."""
        s = {"batch_size": self.batch_size, "lr": self.lr, "label_smoothing": self.label_smoothing,
             "make_augment": self.make_augment}
        return {**s, **self.short} if epochs < SHORT_RUN else s


_MNIST: dict[str, Any] = {"epochs": LONG["epochs"], "batch_size": LONG["batch_size"], "lr": LONG["lr"],
                          "label_smoothing": LONG["label_smoothing"], "make_augment": _mnist_shift,
                          "short": {"batch_size": FAST["batch_size"], "lr": FAST["lr"],
                                    "make_augment": no_augment}}
RECIPES: dict[str, Recipe] = {
    "lenet5": Recipe(LeNet5, "mnist", **_MNIST),
    "lenet5-classic": Recipe(LeNet5Classic, "mnist", pad=2, **_MNIST),
    "alexnet-cifar": Recipe(AlexNetCIFAR, "cifar10", epochs=30, batch_size=256, lr=2e-3,
                            label_smoothing=0.1, make_augment=_crop_flip),
}


def load_data(dataset: str, root: str | None, *, quick: bool,
              verbose: bool = True) -> tuple[ImageDataset, ImageDataset]:
    """(train, test) ImageDatasets for ``dataset`` ("mnist" | "cifar10") from ``root``; ``quick``
    keeps a small, class-balanced subset of each (:data:`QUICK_SIZE`)."""
    loaders = {"mnist": load_mnist, "cifar10": load_cifar10}
    if dataset not in loaders:
        raise ValueError(f"dataset must be one of {sorted(loaders)}, got {dataset!r}")
    load = loaders[dataset]
    train, test = load(root, "train", verbose=verbose), load(root, "test", verbose=verbose)
    if quick:
        n_train, n_test = QUICK_SIZE[dataset]
        train, test = train.subset(min(n_train, len(train))), test.subset(min(n_test, len(test)))
    return train, test


def choose_device(name: str | None) -> torch.device:
    """The device named by a ``--device`` option (cpu, cuda, cuda:N, mps), or
    :func:`cnnbook.device`'s choice for None; ValueError for a name that cannot run here."""
    if name is None:
        return default_device()
    try:
        dev = torch.device(name)
    except RuntimeError as err:
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {name!r}") from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"--device {name} but no CUDA GPU is available here; use --device cpu")
    if dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"--device must be cpu, cuda or cuda:N, got {name!r}")
    return dev
