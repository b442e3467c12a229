"""The dataset type every chapter passes around, the conversion to it, and padding.

* :class:`ImageDataset`: uint8 images (N, C, H, W), labels (N,), class names, and the training
  split's per-channel mean/std used to normalise both splits;
* :func:`as_dataset`: an ImageDataset from an ``(images, labels)`` pair (or a DeviceLoader);
* :func:`pad_images`: the one way to pad a dataset's images (28x28 digits -> 32x32 for LeNet-5).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from .._checks import check_int
from ..errors import CnnbookError, printable

__all__ = ["ImageDataset", "DataFileError", "as_dataset", "pad_images", "describe",
           "MNIST_CLASSES", "FASHION_MNIST_CLASSES", "CIFAR10_CLASSES", "STAND_IN_CLASSES", "SPLITS"]

MNIST_CLASSES = tuple(str(d) for d in range(10))
# Fashion-MNIST's classes 0..9, with torchvision's names (FashionMNIST.classes)
FASHION_MNIST_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot")
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
STAND_IN_CLASSES = ("stripes-h", "stripes-v", "stripes-diag", "checker", "dots",
                    "disc", "ring", "square", "cross", "triangle")

SPLITS = ("train", "test")


@dataclass
class ImageDataset:
    """A labelled image dataset held as whole tensors.

    ``images`` is uint8 (N, C, H, W) with pixel values 0..255 (or, for data given as floats through
    :func:`as_dataset`, float (N, C, H, W) used as it is); ``labels`` is int64 (N,). ``mean`` and
    ``std`` are per-channel statistics of ``images / 255`` from the *training* split, used to
    normalise both splits. ``source`` says where the data came from: ``"download"``, ``"local"``,
    ``"bundled"``, ``"stand-in"`` or ``"memory"``.
    """

    images: Tensor
    labels: Tensor
    classes: tuple[str, ...]
    name: str
    source: str
    mean: tuple[float, ...]
    std: tuple[float, ...]

    def __post_init__(self) -> None:
        if not isinstance(self.images, Tensor) or self.images.dim() != 4:
            raise ValueError(f"images must be a tensor of shape (N, C, H, W), got {describe(self.images)}")
        if self.images.dtype != torch.uint8 and not self.images.is_floating_point():
            raise ValueError(f"images must be uint8 or float, got {self.images.dtype}")
        if not isinstance(self.labels, Tensor) or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must be a tensor of shape ({self.images.shape[0]},) to match the "
                             f"images, got {describe(self.labels)}")
        if self.labels.is_floating_point() or self.labels.dtype == torch.bool:
            raise ValueError(f"labels must be integers, got {self.labels.dtype}")
        self.labels = self.labels.long()
        self.classes = tuple(str(c) for c in self.classes)
        channels = self.images.shape[1]
        self.mean, self.std = tuple(float(m) for m in self.mean), tuple(float(s) for s in self.std)
        if len(self.mean) != channels or len(self.std) != channels:
            raise ValueError(f"mean and std need one value per channel ({channels}), got {self.mean} and {self.std}")
        if any(s <= 0 for s in self.std):
            raise ValueError(f"std must be > 0 in every channel, got {self.std}")

    def __len__(self) -> int:
        return self.images.shape[0]

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return (f"ImageDataset({self.name!r}, source={self.source!r}, {n:,} images {c}x{h}x{w} "
                f"{str(self.images.dtype).replace('torch.', '')}, {len(self.classes)} classes, "
                f"device={self.images.device})")

    @property
    def device(self) -> torch.device:
        """Where the images are."""
        return self.images.device

    def to(self, device: torch.device | str) -> "ImageDataset":
        """The same dataset with images (still uint8) and labels on ``device``."""
        device = torch.device(device)
        return replace(self, images=self.images.to(device), labels=self.labels.to(device))

    def subset(self, n: int, seed: int = 0) -> "ImageDataset":
        """``n`` samples, as many of each class as possible (round robin over the classes), drawn at
        random with ``seed`` and kept in their original order. images (n, C, H, W), labels (n,)."""
        n = check_int("n", n, low=1, high=len(self))
        keep = self._balanced_order(seed)[:n].sort().values.to(self.images.device)
        return replace(self, images=self.images[keep], labels=self.labels[keep])

    def _balanced_order(self, seed: int) -> Tensor:
        """All indices, shuffled with ``seed`` and then taken round robin over the classes."""
        labels = self.labels.cpu()
        order = torch.randperm(len(self), generator=torch.Generator().manual_seed(seed))
        shuffled = labels[order]
        # rank of each sample among the samples of its class, in the shuffled order
        by_class = torch.sort(shuffled, stable=True).indices
        counts = torch.bincount(shuffled)
        starts = torch.cumsum(counts, 0) - counts
        rank = torch.empty_like(shuffled)
        rank[by_class] = torch.arange(len(self)) - starts[shuffled[by_class]]
        return order[torch.sort(rank, stable=True).indices]

    def split(self, n_val: int, seed: int = 0) -> "tuple[ImageDataset, ImageDataset]":
        """(train, validation): a class-balanced validation set of ``n_val`` samples held out of this
        (training) split, and the rest. Tune on the validation set; the test split stays untouched
        until the one measurement that is reported (LeNet-5 and AlexNet chapters).

        The two parts are disjoint and together are this dataset; both keep its ``mean`` and ``std``.
        """
        n_val = check_int("n_val", n_val)
        if not 1 <= n_val < len(self):
            raise ValueError(f"n_val must be from 1 to {len(self) - 1} (fewer than the dataset's "
                             f"{len(self)} samples), got {n_val}")
        order = self._balanced_order(seed)
        val_idx = order[:n_val].sort().values.to(self.images.device)
        train_idx = order[n_val:].sort().values.to(self.images.device)
        return (replace(self, images=self.images[train_idx], labels=self.labels[train_idx]),
                replace(self, images=self.images[val_idx], labels=self.labels[val_idx]))


class DataFileError(CnnbookError, ValueError):
    """A data file is truncated, corrupt or not in the expected format. ``path`` names it (shown
    safely whatever its encoding)."""

    def __init__(self, path: Path | str, problem: str, advice: str) -> None:
        self.path = Path(path)
        super().__init__(f"{printable(path)}: {problem}. {advice}")


def describe(x: object) -> str:
    if isinstance(x, (Tensor, np.ndarray)):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__



def as_dataset(data: object, *, name: str | None = None) -> ImageDataset:
    """An :class:`ImageDataset` from ``data``: an ImageDataset (returned as it is), a DeviceLoader
    (its dataset), or an ``(images, labels)`` pair of tensors or numpy arrays.

    images: (N, H, W) or (N, C, H, W). uint8 images (0..255) get their own per-channel mean/std;
    float images are taken as already normalised: kept as float32 with mean 0 and std 1, so the
    loader passes them through unchanged. labels: N integers 0..K-1; classes become "0".."K-1".
    ``name``, the caller's parameter (e.g. ``"train"``), starts every error message when given.
    """
    if name is None:
        return _as_dataset(data)
    try:
        return _as_dataset(data)
    except TypeError as err:
        raise TypeError(f"{name}: {err}") from None
    except ValueError as err:
        raise ValueError(f"{name}: {err}") from None


def _as_dataset(data: object) -> ImageDataset:
    if isinstance(data, ImageDataset):
        return data
    if isinstance(getattr(data, "dataset", None), ImageDataset):  # a DeviceLoader
        return data.dataset  # type: ignore[attr-defined]
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError("data must be an ImageDataset, a DeviceLoader or an (images, labels) pair, "
                        f"got {describe(data)}")
    images, labels = (torch.as_tensor(a) if isinstance(a, np.ndarray) else a for a in data)
    if not isinstance(images, Tensor) or images.dim() not in (3, 4) or images.shape[0] == 0:
        raise ValueError("images must be a non-empty tensor of shape (N, H, W) or (N, C, H, W), "
                         f"got {describe(images)}")
    if images.dim() == 3:
        images = images.unsqueeze(1)
    if not isinstance(labels, Tensor):
        try:
            labels = torch.as_tensor(labels)
        except (TypeError, ValueError, RuntimeError) as err:
            raise ValueError(f"labels must be a sequence of integers, got {type(labels).__name__}") from err
    if labels.is_floating_point() or labels.is_complex() or labels.dtype == torch.bool:
        raise ValueError(f"labels must be integers (class indices), got dtype {labels.dtype}")
    if labels.shape != (images.shape[0],):
        raise ValueError(f"labels must have shape ({images.shape[0]},), one per image, got {tuple(labels.shape)}")
    low, high = int(labels.min()), int(labels.max())
    if low < 0:
        raise ValueError(f"labels must be class indices >= 0, found {low}")
    channels = images.shape[1]
    if images.is_floating_point():
        images, mean, std = images.float(), (0.0,) * channels, (1.0,) * channels
    else:
        if images.dtype != torch.uint8:
            if int(images.min()) < 0 or int(images.max()) > 255:
                raise ValueError(f"integer images must hold pixel values 0..255, got {images.dtype} "
                                 f"values {int(images.min())}..{int(images.max())}")
            images = images.to(torch.uint8)
        pixels = images.float().div_(255).transpose(0, 1).reshape(channels, -1)
        mean = tuple(pixels.mean(1).tolist())
        std = tuple(max(s, 1e-6) for s in pixels.std(1).tolist())
    classes = tuple(str(c) for c in range(high + 1))
    return ImageDataset(images, labels.long(), classes, "in-memory data", "memory", mean, std)


def pad_images(data: ImageDataset, pad: int) -> ImageDataset:
    """The dataset with ``pad`` pixels of background added on every side of every image:
    images (N, C, H, W) -> (N, C, H + 2 pad, W + 2 pad), labels unchanged (LeNet-5 chapter: 28x28
    digits -> the 32x32 input of ``LeNet5Classic``).

    The border is the stored value 0 -- black, the background of MNIST digits, for uint8 images;
    for float images it is 0 as well -- and ``mean`` and ``std`` are *kept*: the padded images are
    normalised with the statistics of the unpadded training images, so a pixel means the same
    (the border normalises to ``-mean/std``) whether it was padded or not. The command line
    (``python -m cnnbook train lenet5-classic``), :mod:`cnnbook.robustness` and the LeNet-5 chapter
    feed ``LeNet5Classic`` exactly these inputs.
    """
    if not isinstance(data, ImageDataset):
        raise TypeError(f"data must be an ImageDataset, got {type(data).__name__}")
    pad = check_int("pad", pad, low=0)
    if pad == 0:
        return data
    return replace(data, images=F.pad(data.images, (pad, pad, pad, pad)))
