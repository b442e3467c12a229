"""The training recipes: the named :class:`~cnnbook.settings.Settings` that the command line, the
bench and the chapters share (LeNet-5 and AlexNet chapters; ``python -m cnnbook train`` and ``bench``).

The LeNet-5 recipes were tuned on a 2-core CPU with AdamW, a one-cycle schedule and label
smoothing; :data:`RECIPES` says how the command line trains each model (:class:`Recipe`);
:func:`load_data` loads (train, test) for a run and :func:`choose_device` reads a ``--device``
option. Measured results of these recipes:
``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Callable

import torch
import torch.nn as nn

from ._checks import as_device
from .data import ImageDataset, load_cifar10, load_mnist
from .models import AlexNetCIFAR, LeNet5, LeNet5Classic
from .runtime import device as default_device
from .settings import Settings

__all__ = ["FAST", "LONG", "GPU_FAST", "ALEXNET_CIFAR", "SHORT_RUN", "Recipe", "RECIPES", "QUICK_SIZE",
           "load_data", "choose_device"]

# ----------------------------------------------------------------------------- LeNet-5 on MNIST

# FAST: a short run of small batches, without augmentation (it pays only in longer runs)
FAST = Settings(epochs=2.5, batch_size=128, lr=5e-3, label_smoothing=0.1, seed=0)
# LONG: 10 epochs of larger batches with shifts of up to 2 pixels
LONG = Settings(epochs=10, batch_size=256, lr=4e-3, label_smoothing=0.1, shift=2, seed=0)
# GPU_FAST: large batches, fewer steps -- on a GPU the step count, not the image count, sets the time
GPU_FAST = Settings(epochs=4, batch_size=512, lr=8e-3, label_smoothing=0.1, seed=0)

# ----------------------------------------------------------------------------- AlexNetCIFAR on CIFAR-10

# random crops (4 pixels of padding) and left-right flips, the CIFAR-10 augmentation
ALEXNET_CIFAR = Settings(epochs=30, batch_size=256, lr=2e-3, label_smoothing=0.1, crop=4, flip=True, seed=0)

# a run of fewer epochs than this trains with its recipe's ``short`` settings (LeNet-5: FAST)
SHORT_RUN = 5
# --quick: (train, test) images of a small class-balanced subset per dataset
# (AlexNetCIFAR costs ~100x LeNet-5 per image)
QUICK_SIZE = {"mnist": (2000, 500), "cifar10": (256, 128)}


@dataclass(frozen=True)
class Recipe:
    """How to train one model: a factory of the network, its dataset and its settings.

    ``make_model()`` returns a fresh network; ``dataset`` is "mnist" or "cifar10"; ``pad`` is the
    pixels of background added on every side of every image (2 for LeNet5Classic's 32x32 input,
    with :func:`cnnbook.pad_images`); ``settings`` trains a full run and ``short`` (if given) a
    run of fewer than :data:`SHORT_RUN` epochs: see :meth:`for_epochs`.
    """

    make_model: Callable[[], nn.Module]
    dataset: str
    settings: Settings
    short: Settings | None = None
    pad: int = 0

    def for_epochs(self, epochs: int | float) -> Settings:
        """The settings of a run of ``epochs`` epochs: ``short`` below :data:`SHORT_RUN` epochs
        (when the recipe has one), else ``settings``, with ``epochs`` replaced."""
        base = self.short if self.short is not None and epochs < SHORT_RUN else self.settings
        return replace(base, epochs=epochs)


RECIPES: dict[str, Recipe] = {
    "lenet5": Recipe(LeNet5, "mnist", LONG, short=FAST),
    "lenet5-classic": Recipe(LeNet5Classic, "mnist", LONG, short=FAST, pad=2),
    "alexnet-cifar": Recipe(AlexNetCIFAR, "cifar10", ALEXNET_CIFAR),
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
    """The device a ``--device`` option names (cpu, cuda, cuda:N or mps; ValueError for a name
    that cannot run here), or :func:`cnnbook.device`'s choice for None."""
    return as_device(name, name="--device") if name is not None else default_device()
