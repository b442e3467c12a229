"""Datasets as uint8 tensors, and batches drawn on the training device.

The data path of every chapter::

    files on disk (IDX / CIFAR-10 binary, every size checked) -> one uint8 tensor (N, C, H, W), moved to the device once
    -> per batch, on the device: index with a permutation, uint8 -> float in [0, 1], augment the
       whole batch, normalise with the dataset's mean/std -> model

One module per concern:

* :mod:`~cnnbook.data.dataset`: :class:`ImageDataset`, :func:`as_dataset`, :func:`pad_images`;
* :mod:`~cnnbook.data.files`: :func:`load_mnist`, :func:`load_fashion_mnist` and :func:`load_cifar10`
  find the files under ``root`` (MNIST and Fashion-MNIST in torchvision's layout, so an existing
  torchvision download is reused; CIFAR-10's binary version as its archive unpacks), else download
  them with their checksums checked, else fall back -- MNIST and Fashion-MNIST to a real subset
  bundled with cnnbook, CIFAR-10 to a generated stand-in that is clearly named as such. Either way
  they print one line saying so. No file can run code;
* :mod:`~cnnbook.data.standin`: :func:`cifar10_stand_in`, that generated stand-in;
* :mod:`~cnnbook.data.download`: downloads that leave nothing half-written (md5 and size checked) and
  archives unpacked member by member;
* :mod:`~cnnbook.data.loader`: :class:`DeviceLoader` yields ``(x, y)`` batches: x float32
  (B, C, H, W) normalised, y int64 (B,);
* :mod:`~cnnbook.data.augment`: :func:`random_shift`, :func:`random_crop`, :func:`random_flip`,
  :func:`compose` augment a whole float batch at once on its device.
"""

from __future__ import annotations

from .augment import Augmentation, compose, random_crop, random_flip, random_shift, translate
from .dataset import (
    CIFAR10_CLASSES,
    FASHION_MNIST_CLASSES,
    MNIST_CLASSES,
    SPLITS,
    STAND_IN_CLASSES,
    DataFileError,
    ImageDataset,
    as_dataset,
    pad_images,
)
from .files import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    MNIST_MEAN,
    MNIST_STD,
    default_root,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    read_idx,
)
from .loader import DeviceLoader
from .standin import cifar10_stand_in

__all__ = [
    "ImageDataset", "DataFileError", "load_mnist", "load_fashion_mnist", "load_cifar10", "cifar10_stand_in",
    "as_dataset", "pad_images", "DeviceLoader", "Augmentation", "random_shift", "random_crop", "random_flip", "compose",
    "translate", "read_idx", "default_root", "MNIST_CLASSES", "CIFAR10_CLASSES", "STAND_IN_CLASSES",
    "SPLITS", "MNIST_MEAN", "MNIST_STD", "CIFAR10_MEAN", "CIFAR10_STD", "FASHION_MNIST_CLASSES",
    "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
]
