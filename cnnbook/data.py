"""Datasets as uint8 tensors, and batches drawn on the training device.

The data path of every chapter::

    files on disk (IDX / pickle, verified) -> one uint8 tensor (N, C, H, W), moved to the device once
    -> per batch, on the device: index with a permutation, uint8 -> float in [0, 1], augment the
       whole batch, normalise with the dataset's mean/std -> model

* :func:`load_mnist` and :func:`load_cifar10` find the files under ``root`` (torchvision's layout,
  so an existing torchvision download is reused), else download them with torchvision's downloader
  and checksums, else fall back -- MNIST to a real MNIST subset bundled with cnnbook, CIFAR-10 to a
  generated stand-in that is clearly named as such. Either way they print one line saying so.
* :class:`DeviceLoader` yields ``(x, y)`` batches: x float32 (B, C, H, W) normalised, y int64 (B,).
* :func:`random_shift`, :func:`random_crop`, :func:`random_flip`, :func:`compose` augment a whole
  float batch at once on its device.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import math
import os
import pickle
import shutil
import socket
import struct
import zlib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence
from urllib.parse import urlparse

import numpy as np
import torch
from torch import Tensor

from .runtime import device as default_device

__all__ = [
    "ImageDataset", "DataFileError", "load_mnist", "load_cifar10", "cifar10_stand_in", "as_dataset",
    "DeviceLoader", "random_shift", "random_crop", "random_flip", "compose", "read_idx",
    "default_root", "MNIST_CLASSES", "CIFAR10_CLASSES", "STAND_IN_CLASSES",
]

MNIST_CLASSES = tuple(str(d) for d in range(10))
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
STAND_IN_CLASSES = ("stripes-h", "stripes-v", "stripes-diag", "checker", "dots",
                    "disc", "ring", "square", "cross", "triangle")

# Normalisation constants: the full datasets' well-known training statistics; the bundled subset's
# and the stand-in's are measured on their own training split (tests check them against the data).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_BUNDLED_MNIST_MEAN, _BUNDLED_MNIST_STD = (0.1312,), (0.3086,)
_STAND_IN_MEAN, _STAND_IN_STD = (0.4989, 0.5004, 0.5019), (0.3011, 0.3022, 0.3025)

SPLITS = ("train", "test")
_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_BUNDLED_MNIST = Path(__file__).resolve().parent / "_data" / "mnist"
_STAND_IN_SIZE = {"train": 10_000, "test": 2_000}
_STAND_IN_SEED = {"train": 0, "test": 1}
# Checked before importing torchvision (whose mirrors these are), so that offline is detected fast
_PROBE_URL = {"mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
              "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"}
_PROBE_TIMEOUT_S = 3.0


# ----------------------------------------------------------------------------- the dataset


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
            raise ValueError(f"images must be a tensor of shape (N, C, H, W), got {_describe(self.images)}")
        if self.images.dtype != torch.uint8 and not self.images.is_floating_point():
            raise ValueError(f"images must be uint8 or float, got {self.images.dtype}")
        if not isinstance(self.labels, Tensor) or self.labels.shape != (self.images.shape[0],):
            raise ValueError(f"labels must be a tensor of shape ({self.images.shape[0]},) to match the "
                             f"images, got {_describe(self.labels)}")
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
        if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(self):
            raise ValueError(f"n must be an int from 1 to {len(self)} (the dataset's size), got {n!r}")
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
        if isinstance(n_val, bool) or not isinstance(n_val, int):
            raise TypeError(f"n_val must be an int, got {n_val!r}")
        if not 1 <= n_val < len(self):
            raise ValueError(f"n_val must be from 1 to {len(self) - 1} (fewer than the dataset's "
                             f"{len(self)} samples), got {n_val}")
        order = self._balanced_order(seed)
        val_idx = order[:n_val].sort().values.to(self.images.device)
        train_idx = order[n_val:].sort().values.to(self.images.device)
        return (replace(self, images=self.images[train_idx], labels=self.labels[train_idx]),
                replace(self, images=self.images[val_idx], labels=self.labels[val_idx]))


class DataFileError(ValueError):
    """A data file is truncated, corrupt or not in the expected format. ``path`` names it."""

    def __init__(self, path: Path | str, problem: str, advice: str) -> None:
        self.path = Path(path)
        super().__init__(f"{path}: {problem}. {advice}")


def _describe(x: object) -> str:
    if isinstance(x, (Tensor, np.ndarray)):
        return f"{type(x).__name__} of shape {tuple(x.shape)} and dtype {x.dtype}"
    return type(x).__name__


# ----------------------------------------------------------------------------- roots, downloads


def default_root() -> Path:
    """The data folder: ``$CNNBOOK_DATA`` if set, else ``~/.cache/cnnbook``."""
    return Path(os.environ.get("CNNBOOK_DATA") or "~/.cache/cnnbook").expanduser()


def _check_args(root: str | os.PathLike | None, split: str) -> Path:
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    if root is None:
        return default_root()
    if not isinstance(root, (str, os.PathLike)):
        raise TypeError(f"root must be a folder path (str or pathlib.Path), got {type(root).__name__}")
    if str(root) == "":
        raise ValueError("root must be a folder path, got ''")
    path = Path(root).expanduser()
    if str(root) in SPLITS and not path.is_dir():
        # load_mnist("test") reads as "the test split" but passes "test" as the data folder
        raise ValueError(f"root={str(root)!r} looks like a split name: use split={str(root)!r} "
                         "(the first argument is the data folder)")
    if path.exists() and not path.is_dir():
        raise ValueError(f"root must be a folder, but {path} is a file")
    return path


def _make_folder(root: Path, folder: Path) -> None:
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ValueError(f"root {root} cannot be created or written ({err.strerror or err}); "
                         f"pass root= a writable folder or set CNNBOOK_DATA") from err


def _online(url: str) -> bool:
    """A quick check (at most a few seconds) that the download host answers, so that an offline
    machine falls back at once instead of waiting on the downloader. Trusts a configured proxy."""
    if any(os.environ.get(v) for v in ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")):
        return True
    parts = urlparse(url)
    try:
        socket.create_connection((parts.hostname, parts.port or (443 if parts.scheme == "https" else 80)),
                                 timeout=_PROBE_TIMEOUT_S).close()
        return True
    except OSError:
        return False


@contextlib.contextmanager
def _download_guard(folder: Path, verbose: bool):
    """Silence torchvision's messages unless ``verbose``, bound every socket wait, and remove the
    files this download created if it fails, so that no half-written file is left behind."""
    before = set(folder.iterdir())
    old_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(60)
    try:
        with contextlib.nullcontext() if verbose else contextlib.redirect_stdout(io.StringIO()):
            yield
    except BaseException:
        for path in set(folder.iterdir()) - before:
            shutil.rmtree(path, ignore_errors=True) if path.is_dir() else path.unlink(missing_ok=True)
        raise
    finally:
        socket.setdefaulttimeout(old_timeout)


def _download_mnist(root: Path, verbose: bool) -> bool:
    """Download the four MNIST files into ``root/MNIST/raw`` with torchvision (md5-checked)."""
    _make_folder(root, root)
    if not _online(_PROBE_URL["mnist"]):
        return False
    raw = root / "MNIST" / "raw"
    _make_folder(root, raw)
    try:
        from torchvision.datasets import MNIST
        from torchvision.datasets.utils import download_and_extract_archive
    except ImportError:
        return False
    try:
        with _download_guard(raw, verbose):
            for filename, md5 in MNIST.resources:
                for mirror in MNIST.mirrors:
                    try:
                        download_and_extract_archive(mirror + filename, download_root=str(raw), filename=filename, md5=md5)
                        break
                    except Exception:  # noqa: BLE001 -- any failure: try the next mirror
                        continue
                else:
                    raise RuntimeError(f"could not download {filename}")
    except Exception:  # noqa: BLE001
        return False
    return True


def _download_cifar10(root: Path, verbose: bool) -> bool:
    """Download and unpack cifar-10-python.tar.gz into ``root`` with torchvision (md5-checked)."""
    _make_folder(root, root)
    if not (root / "cifar-10-python.tar.gz").exists() and not _online(_PROBE_URL["cifar10"]):
        return False
    try:
        from torchvision.datasets import CIFAR10
        from torchvision.datasets.utils import download_and_extract_archive
    except ImportError:
        return False
    try:
        with _download_guard(root, verbose):
            download_and_extract_archive(CIFAR10.url, download_root=str(root), filename=CIFAR10.filename,
                                         md5=CIFAR10.tgz_md5)
    except Exception:  # noqa: BLE001
        return False
    return (root / _CIFAR_FOLDER).is_dir()


def _fallback_note(what: str, root: Path, download: bool, using: str, verbose: bool) -> None:
    if verbose:
        why = "could not be downloaded (no network?)" if download else "download=False"
        print(f"{what} not found in {root} and {why}: using {using}.")


# ----------------------------------------------------------------------------- MNIST (IDX files)


def _open_idx(path: Path):
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")


def read_idx(path: str | os.PathLike, ndim: int | None = None, *, advice: str = "") -> Tensor:
    """Read an IDX file of unsigned bytes (MNIST's format; gzip-compressed or not) into a uint8
    tensor whose shape is the file's dimensions, e.g. (N, 28, 28) for images, (N,) for labels.

    The header is checked (magic number 0x0000 08 <ndim>) and the file's size must match it exactly;
    otherwise :class:`DataFileError` names the file and says what to do (``advice``).
    """
    path = Path(path)
    advice = advice or "Delete it and load the data again to download a fresh copy."

    def bad(problem: str) -> DataFileError:
        return DataFileError(path, problem, advice)

    try:
        with _open_idx(path) as f:
            magic = f.read(4)
            if len(magic) < 4:
                raise bad(f"the file is too short ({len(magic)} bytes) to hold an IDX header")
            if magic[:3] != b"\x00\x00\x08" or (ndim is not None and magic[3] != ndim):
                want = f"0x000008{ndim:02x}" if ndim is not None else "0x000008xx"
                raise bad(f"bad magic number 0x{magic.hex()} (an IDX file of bytes with "
                          f"{ndim or 'n'} dimensions starts with {want})")
            head = f.read(4 * magic[3])
            if len(head) < 4 * magic[3]:
                raise bad("the file is truncated inside its header")
            dims = struct.unpack(f">{magic[3]}I", head)
            out = torch.empty(dims, dtype=torch.uint8)
            view, got = memoryview(out.numpy()).cast("B"), 0
            while got < out.numel():
                chunk = f.readinto(view[got:])
                if not chunk:
                    break
                got += chunk
            if got < out.numel():
                raise bad(f"the file is truncated: its header announces {dims} = {out.numel():,} bytes "
                          f"of data but only {got:,} are there")
            if f.read(1):
                raise bad(f"the file has data beyond the {dims} its header announces")
    except (OSError, EOFError, zlib.error) as err:
        raise bad(f"the file cannot be read ({err})") from err
    return out


def _find_mnist(root: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``split`` in ROOT/MNIST/raw (torchvision's layout) or ROOT."""
    for folder in (root / "MNIST" / "raw", root):
        paths = []
        for name in _MNIST_FILES[split]:
            found = [p for p in (folder / name, folder / f"{name}.gz") if p.is_file()]
            paths.append(found[0] if found else None)
        if all(paths):
            return paths[0], paths[1]
    return None


def _read_mnist(images_path: Path, labels_path: Path, advice: str) -> tuple[Tensor, Tensor]:
    images = read_idx(images_path, ndim=3, advice=advice)
    labels = read_idx(labels_path, ndim=1, advice=advice)
    if images.shape[1:] != (28, 28):
        raise DataFileError(images_path, f"MNIST images are 28x28, this file holds {tuple(images.shape[1:])}", advice)
    if len(labels) != len(images):
        raise DataFileError(labels_path, f"{len(labels):,} labels for the {len(images):,} images of {images_path.name}", advice)
    if len(labels) and int(labels.max()) > 9:
        raise DataFileError(labels_path, f"labels must be digits 0..9, found {int(labels.max())}", advice)
    return images.unsqueeze(1), labels.long()


def load_mnist(root: str | os.PathLike | None = None, split: str = "train", *, download: bool = True,
               verbose: bool = True) -> ImageDataset:
    """The MNIST digits of ``split`` ("train": 60,000, "test": 10,000) as uint8 (N, 1, 28, 28).

    Looks in ``root`` (default: :func:`default_root`) for the IDX files -- in ``ROOT/MNIST/raw/``,
    torchvision's layout, or in ``ROOT`` itself, gzip-compressed or not -- else downloads them
    (torchvision's mirrors and md5 checksums) unless ``download=False``, else falls back to the
    subset of real MNIST bundled with cnnbook (12,000 train / 2,000 test images, every digit equally
    often) and prints one line saying so (``verbose=False`` silences it).
    """
    root = _check_args(root, split)
    advice = "Delete it and call load_mnist() again to download a fresh copy."
    found, source = _find_mnist(root, split), "local"
    if found is None and download and _download_mnist(root, verbose):
        found, source = _find_mnist(root, split), "download"
    if found is not None:
        images, labels = _read_mnist(*found, advice)
        return ImageDataset(images, labels, MNIST_CLASSES, "MNIST", source, MNIST_MEAN, MNIST_STD)
    bundled = _find_mnist(_BUNDLED_MNIST, split)
    if bundled is None:
        raise FileNotFoundError(f"MNIST is not in {root}, could not be downloaded, and the subset bundled "
                                f"with cnnbook is missing from {_BUNDLED_MNIST}: reinstall cnnbook with its "
                                f"package data, or put MNIST's IDX files into {root}")
    images, labels = _read_mnist(*bundled, "The copy bundled with cnnbook is damaged: reinstall cnnbook.")
    _fallback_note("MNIST", root, download, f"the subset of real MNIST bundled with cnnbook "
                   f"({len(images):,} {split} images)", verbose)
    return ImageDataset(images, labels, MNIST_CLASSES, "MNIST (bundled subset)", "bundled",
                        _BUNDLED_MNIST_MEAN, _BUNDLED_MNIST_STD)


# ----------------------------------------------------------------------------- CIFAR-10 (pickles)


class _ArrayUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10's batches (dicts of lists, strings and numpy arrays) and nothing else:
    any other global in the file is refused, so a planted file cannot run code."""

    _ALLOWED = {("numpy", "ndarray"), ("numpy", "dtype"), ("numpy.core.multiarray", "_reconstruct"),
                ("numpy._core.multiarray", "_reconstruct"), ("numpy.core.multiarray", "scalar"),
                ("numpy._core.multiarray", "scalar"), ("_codecs", "encode")}  # (bytes in protocol 2)

    def find_class(self, module: str, name: str):
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy.core.multiarray":  # pickles written by numpy 1 (CIFAR-10's own files)
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        return super().find_class(module, name)


def _unpickle(path: Path, advice: str) -> dict:
    try:
        with open(path, "rb") as f:
            batch = _ArrayUnpickler(f, encoding="latin1").load()
    except Exception as err:  # noqa: BLE001 -- a damaged pickle can fail in many ways
        raise DataFileError(path, f"the file cannot be unpickled ({type(err).__name__}: {err})", advice) from err
    if not isinstance(batch, dict):
        raise DataFileError(path, f"expected a pickled dict, found {type(batch).__name__}", advice)
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in batch.items()}


def _read_cifar_batch(path: Path, advice: str) -> tuple[np.ndarray, np.ndarray]:
    batch = _unpickle(path, advice)
    data, labels = batch.get("data"), batch.get("labels")
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataFileError(path, f"'data' must be a uint8 array of shape (N, 3072), found {_describe(data)}", advice)
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise DataFileError(path, f"'labels' must be a list of integers ({err})", advice) from err
    if labels.shape != (len(data),):
        raise DataFileError(path, f"'labels' must hold {len(data):,} labels, one per image, found shape {labels.shape}", advice)
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataFileError(path, f"labels must be 0..9, found {labels.min()}..{labels.max()}", advice)
    return data, labels


def _cifar_advice(folder: Path) -> str:
    if folder.name == _CIFAR_FOLDER:
        return f"Delete the folder {folder} and call load_cifar10() again to download a fresh copy."
    return "Delete it and the other CIFAR-10 batches next to it, and call load_cifar10() again to download a fresh copy."


def _find_cifar10(root: Path, split: str) -> Path | None:
    for folder in (root / _CIFAR_FOLDER, root):
        present = [(folder / name).is_file() for name in _CIFAR_FILES[split]]
        if all(present):
            return folder
        if folder.name == _CIFAR_FOLDER and folder.is_dir():
            missing = _CIFAR_FILES[split][present.index(False)]
            raise DataFileError(folder / missing, "the file is missing from an incomplete CIFAR-10 folder",
                                _cifar_advice(folder))
    return None


def _read_cifar10(folder: Path, split: str) -> tuple[Tensor, Tensor, tuple[str, ...]]:
    advice = _cifar_advice(folder)
    parts = [_read_cifar_batch(folder / name, advice) for name in _CIFAR_FILES[split]]
    images = torch.from_numpy(np.concatenate([d for d, _ in parts]).reshape(-1, 3, 32, 32))
    labels = torch.from_numpy(np.concatenate([lab for _, lab in parts]))
    classes = CIFAR10_CLASSES
    if (folder / "batches.meta").is_file():
        names = _unpickle(folder / "batches.meta", advice).get("label_names")
        if not isinstance(names, list) or len(names) != 10:
            raise DataFileError(folder / "batches.meta", "'label_names' must be a list of 10 names", advice)
        classes = tuple(n.decode() if isinstance(n, bytes) else str(n) for n in names)
    return images, labels, classes


def load_cifar10(root: str | os.PathLike | None = None, split: str = "train", *, download: bool = True,
                 verbose: bool = True) -> ImageDataset:
    """The CIFAR-10 images of ``split`` ("train": 50,000, "test": 10,000) as uint8 (N, 3, 32, 32).

    Looks in ``root`` (default: :func:`default_root`) for the python batches -- in
    ``ROOT/cifar-10-batches-py/``, torchvision's layout, or in ``ROOT`` itself -- else downloads and
    unpacks them (torchvision's URL and md5 checksum) unless ``download=False``, else falls back to
    :func:`cifar10_stand_in`, a generated dataset that is *not* CIFAR-10, and prints one line saying
    so (``verbose=False`` silences it).
    """
    root = _check_args(root, split)
    folder, source = _find_cifar10(root, split), "local"
    if folder is None and download and _download_cifar10(root, verbose):
        folder, source = _find_cifar10(root, split), "download"
    if folder is not None:
        images, labels, classes = _read_cifar10(folder, split)
        return ImageDataset(images, labels, classes, "CIFAR-10", source, CIFAR10_MEAN, CIFAR10_STD)
    data = cifar10_stand_in(split)
    _fallback_note("CIFAR-10", root, download, "a generated stand-in (NOT CIFAR-10): 10 classes of "
                   f"synthetic 3x32x32 images ({len(data):,} {split} images)", verbose)
    return data


# ----------------------------------------------------------------------------- the stand-in


def cifar10_stand_in(split: str = "train") -> ImageDataset:
    """A generated, learnable stand-in for CIFAR-10 (it is *not* CIFAR-10): 10 classes of 3x32x32
    uint8 images -- gratings, textures and shapes (:data:`STAND_IN_CLASSES`) at random positions,
    sizes, angles and colours, on shaded backgrounds with noise. Deterministic: 10,000 train and
    2,000 test images, every class equally often. images (N, 3, 32, 32), labels (N,).
    """
    if split not in SPLITS:
        raise ValueError(f"split must be 'train' or 'test', got {split!r}")
    images, labels = _generate_stand_in(_STAND_IN_SIZE[split], _STAND_IN_SEED[split])
    return ImageDataset(images.clone(), labels.clone(), STAND_IN_CLASSES, "CIFAR-10 stand-in (generated)", "stand-in",
                        _STAND_IN_MEAN, _STAND_IN_STD)


@functools.lru_cache(maxsize=2)  # generated once per process and split; callers get copies
def _generate_stand_in(n: int, seed: int, size: int = 32) -> tuple[Tensor, Tensor]:
    """``n`` images (n, 3, size, size) uint8 and labels (n,): a mask per image (which pixels show
    the pattern, softly) blends a foreground colour over a shaded background, then noise."""
    g = torch.Generator().manual_seed(seed)

    def uniform(lo: float, hi: float, *shape: int) -> Tensor:
        return lo + (hi - lo) * torch.rand(shape, generator=g)

    labels = (torch.arange(n) % 10)[torch.randperm(n, generator=g)]
    grid = (torch.arange(size) + 0.5) * (2 / size) - 1  # pixel centres in [-1, 1]
    y, x = grid.view(1, -1, 1), grid.view(1, 1, -1)
    sharp = size / 2 / 0.6  # soft edges about half a pixel wide

    def inside(distance: Tensor) -> Tensor:  # signed distance to the edge (> 0 inside) -> mask
        return torch.sigmoid(distance * sharp)

    mask = torch.empty(n, size, size)
    for c in range(10):  # each class at random positions, sizes, angles, frequencies
        idx = (labels == c).nonzero().squeeze(1)
        m = len(idx)
        tilt = 0.25 if c <= 2 else 0.4  # radians; small for the gratings, whose angle is their class
        dx, dy, angle = x - uniform(-0.35, 0.35, m, 1, 1), y - uniform(-0.35, 0.35, m, 1, 1), uniform(-tilt, tilt, m, 1, 1)
        s, k, phase = uniform(0.45, 0.8, m, 1, 1), math.pi * uniform(2.2, 4.0, m, 1, 1), uniform(0, 2 * math.pi, m, 1, 1)
        cos, sin = angle.cos(), angle.sin()
        u, v = dx * cos + dy * sin, dy * cos - dx * sin  # coordinates along and across the pattern
        if c <= 4:  # textures, in a soft disc
            window = inside(s + 0.2 - torch.hypot(u, v))
            if c == 0:
                wave = torch.sin(k * v + phase).mul_(0.5).add_(0.5)
            elif c == 1:
                wave = torch.sin(k * u + phase).mul_(0.5).add_(0.5)
            elif c == 2:  # either diagonal, so that a mirrored image stays in its class
                sign = torch.where(torch.rand(m, 1, 1, generator=g) < 0.5, 1.0, -1.0)
                wave = torch.sin(k * (u + sign * v) / math.sqrt(2) + phase).mul_(0.5).add_(0.5)
            elif c == 3:
                wave = inside(0.12 * torch.sin(k * u) * torch.sin(k * v))
            else:
                wave = inside(0.25 * (torch.cos(k * u) * torch.cos(k * v) - 0.4))
            mask[idx] = window * wave
        elif c == 5:
            mask[idx] = inside(s - torch.hypot(u, v))
        elif c == 6:
            mask[idx] = inside(0.09 + 0.06 * s - (torch.hypot(u, v) - 0.8 * s).abs())
        elif c == 7:
            mask[idx] = inside(0.85 * s - torch.maximum(u.abs(), v.abs()))
        elif c == 8:
            arm, au, av = 0.2 * s, u.abs(), v.abs()
            mask[idx] = inside(torch.maximum(torch.minimum(arm - au, s - av), torch.minimum(arm - av, s - au)))
        else:  # an upright triangle: apex at v = -s, base at v = 0.7 s
            mask[idx] = inside(torch.minimum(0.7 * s - v, (v + s) / 1.7 - u.abs()))

    # colours in 0..255 (+0.5, so that truncating to uint8 rounds): a shaded background and a
    # foreground colour at a random distance from it, blended by the mask, plus grey noise
    background = torch.rand(n, 3, 1, 1, generator=g) * 255 + 0.5
    lighter = torch.where(torch.rand(n, 1, 1, 1, generator=g) < 0.5, 1.0, -1.0)  # lighter or darker
    direction = torch.nn.functional.normalize(torch.randn(n, 3, 1, 1, generator=g) + lighter, dim=1)
    foreground = (background + direction * uniform(0.45 * 255, 0.8 * 255, n, 1, 1, 1)).clamp(0.5, 255.5)
    shading = uniform(-38, 38, n, 1, 1, 1) * x + uniform(-38, 38, n, 1, 1, 1) * y
    img = torch.lerp(background + shading, foreground, mask.unsqueeze(1))
    img += uniform(0.02 * 255, 0.07 * 255, n, 1, 1, 1) * torch.randn(n, 1, size, size, generator=g)
    return img.clamp_(0, 255).to(torch.uint8), labels


# ----------------------------------------------------------------------------- as_dataset


def as_dataset(data: "ImageDataset | DeviceLoader | tuple | list") -> ImageDataset:
    """An :class:`ImageDataset` from ``data``: an ImageDataset (returned as it is), a DeviceLoader
    (its dataset), or an ``(images, labels)`` pair of tensors or numpy arrays.

    images: (N, H, W) or (N, C, H, W). uint8 images (0..255) get their own per-channel mean/std;
    float images are taken as already normalised: kept as float32 with mean 0 and std 1, so the
    loader passes them through unchanged. labels: N integers 0..K-1; classes become "0".."K-1".
    """
    if isinstance(data, ImageDataset):
        return data
    if isinstance(data, DeviceLoader):
        return data.dataset
    if not isinstance(data, (tuple, list)) or len(data) != 2:
        raise TypeError(f"data must be an ImageDataset, a DeviceLoader or an (images, labels) pair, got {_describe(data)}")
    images, labels = (torch.as_tensor(a) if isinstance(a, np.ndarray) else a for a in data)
    if not isinstance(images, Tensor) or images.dim() not in (3, 4) or images.shape[0] == 0:
        raise ValueError(f"images must be a non-empty tensor of shape (N, H, W) or (N, C, H, W), got {_describe(images)}")
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


# ----------------------------------------------------------------------------- batches on the device


class DeviceLoader:
    """Batches ``(x, y)`` drawn on ``device``: x float32 (B, C, H, W) normalised, y int64 (B,).

    The dataset moves to the device once (uint8: a quarter of the float size). Each epoch draws a
    permutation on the device (``shuffle=True``; seeded by ``seed`` and the epoch, so runs repeat),
    and each batch is indexed on the device, converted to float in [0, 1], augmented as a whole
    batch by ``augment`` (padding therefore fills with black, 0), then normalised with the
    dataset's mean/std. Nothing in the loop waits for the device.

    Every iteration is a new epoch (a new order); :meth:`set_epoch` picks the epoch explicitly. With
    ``world_size > 1`` each ``rank`` takes every world_size-th sample of the same permutation, the
    order padded by repeating its start so that every rank gets the same number of batches (as
    torch's DistributedSampler). ``drop_last`` drops an incomplete last batch (and, across ranks,
    the samples that do not divide evenly). If the data does not fit into half the free GPU memory
    it stays in pinned host memory and each batch is copied over asynchronously.
    """

    def __init__(self, data: "ImageDataset | tuple | list", batch_size: int, *, shuffle: bool = False,
                 augment: Callable[[Tensor], Tensor] | None = None, device: torch.device | str | None = None,
                 drop_last: bool = False, seed: int | None = None, rank: int = 0, world_size: int = 1) -> None:
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be an int >= 1, got {batch_size!r}")
        if isinstance(world_size, bool) or not isinstance(world_size, int) or world_size < 1:
            raise ValueError(f"world_size must be an int >= 1, got {world_size!r}")
        if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"rank must be an int from 0 to world_size - 1 = {world_size - 1}, got {rank!r}")
        if augment is not None and not callable(augment):
            raise TypeError(f"augment must be a callable on a float batch (B, C, H, W) or None, got {type(augment).__name__}")
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise ValueError(f"seed must be an int or None, got {seed!r}")
        dataset = as_dataset(data)
        self.device = torch.device(device) if device is not None else default_device()
        self.batch_size, self.shuffle, self.augment, self.drop_last = batch_size, shuffle, augment, drop_last
        self.rank, self.world_size = rank, world_size
        # all ranks must draw the same permutation: without a seed they share seed 0
        self.seed = seed if seed is not None else 0 if world_size > 1 else int(torch.randint(2**31 - 1, ()))
        self.epoch = 0
        n = len(dataset)
        self.num_samples = n // world_size if drop_last else -(-n // world_size)  # per rank
        if len(self) == 0:
            raise ValueError(f"batch_size={batch_size} leaves no batch: {self.num_samples} samples per rank"
                             f"{' and drop_last=True' if drop_last else ''}")

        self._on_host = self.device.type == "cuda" and dataset.images.device.type == "cpu" and \
            dataset.images.nbytes > 0.5 * torch.cuda.mem_get_info(self.device)[0]
        if self._on_host:
            self.dataset = replace(dataset, images=_pinned(dataset.images), labels=dataset.labels.to(self.device))
        else:
            self.dataset = dataset.to(self.device)
        self._index_device = torch.device("cpu") if self._on_host else self.device
        # permutations are drawn on CUDA (or the CPU); other devices get one copy per epoch from the CPU
        self._generator = torch.Generator(device=self._index_device if self._index_device.type == "cuda" else "cpu")
        channels = dataset.images.shape[1]
        mean = torch.tensor(dataset.mean, device=self.device).view(1, channels, 1, 1)
        std = torch.tensor(dataset.std, device=self.device).view(1, channels, 1, 1)
        self._scale, self._shift = 1 / std, -mean / std  # x_normalised = x * scale + shift
        self._uint8 = dataset.images.dtype == torch.uint8
        self._scale_pixels = self._scale / 255 if self._uint8 else self._scale  # uint8 0..255 straight in

    def __len__(self) -> int:
        """Batches per epoch (on this rank)."""
        full, rest = divmod(self.num_samples, self.batch_size)
        return full + (1 if rest and not self.drop_last else 0)

    def __repr__(self) -> str:
        return (f"DeviceLoader({self.dataset.name!r}, {len(self.dataset):,} images, batch_size={self.batch_size}, "
                f"{len(self)} batches, shuffle={self.shuffle}, augment={self.augment!r}, device={self.device})")

    def set_epoch(self, epoch: int) -> None:
        """Make the next iteration epoch ``epoch``: its order depends only on (seed, epoch)."""
        if isinstance(epoch, bool) or not isinstance(epoch, int) or epoch < 0:
            raise ValueError(f"epoch must be an int >= 0, got {epoch!r}")
        self.epoch = epoch

    def order(self, epoch: int) -> Tensor:
        """The sample indices (num_samples,) this rank visits in ``epoch``, on the indexing device."""
        n = len(self.dataset)
        gen_device = self._generator.device
        if self.shuffle:
            self._generator.manual_seed((self.seed * 1_000_003 + epoch) % 2**63)
            perm = torch.randperm(n, generator=self._generator, device=gen_device)
        else:
            perm = torch.arange(n, device=gen_device)
        total = self.num_samples * self.world_size
        if total > n:  # pad by repeating the start, so every rank gets num_samples
            perm = perm.repeat(-(-total // n))
        perm = perm[:total][self.rank::self.world_size]
        perm = perm.to(self._index_device, non_blocking=True)
        return _pinned(perm) if self._on_host else perm  # pinned: batch indices copy asynchronously

    def __iter__(self) -> Iterator[tuple[Tensor, Tensor]]:
        order = self.order(self.epoch)
        self.epoch += 1
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            yield self._batch(order[start:start + self.batch_size])

    def _batch(self, idx: Tensor) -> tuple[Tensor, Tensor]:
        x = self.dataset.images.index_select(0, idx)
        if self._on_host:
            x = _pinned(x).to(self.device, non_blocking=True)
            idx = idx.to(self.device, non_blocking=True)
        y = self.dataset.labels.index_select(0, idx)
        x = x.float()
        if self.augment is None:  # one fused step: x / 255 * scale + shift
            return torch.addcmul(self._shift, x, self._scale_pixels), y
        if self._uint8:
            x = x.mul_(1 / 255)
        return torch.addcmul(self._shift, self.augment(x), self._scale), y


def _pinned(t: Tensor) -> Tensor:
    """``t`` in page-locked host memory (copies to the GPU can then run asynchronously), if possible."""
    try:
        return t.pin_memory()
    except RuntimeError:
        return t


# ----------------------------------------------------------------------------- augmentations


class Augmentation:
    """A random transformation of a whole float batch (B, C, H, W) -> (B, C, H, W), computed on the
    batch's device with one random draw per image. ``generator`` (optional) makes it repeatable."""

    def __init__(self, name: str, fn: Callable[..., Tensor], generator: torch.Generator | None = None, **params) -> None:
        self.name, self.fn, self.generator, self.params = name, fn, generator, params

    def __call__(self, x: Tensor) -> Tensor:
        if not isinstance(x, Tensor) or x.dim() != 4 or not x.is_floating_point():
            raise ValueError(f"x must be a float batch of shape (B, C, H, W), got {_describe(x)}")
        return self.fn(x, generator=self.generator, **self.params)

    def __repr__(self) -> str:
        return f"{self.name}({', '.join(f'{k}={v!r}' for k, v in self.params.items())})"


def _rand(shape: Sequence[int], x: Tensor, generator: torch.Generator | None) -> Tensor:
    """Uniform [0, 1) numbers on x's device (drawn where the generator lives)."""
    where = generator.device if generator is not None else x.device
    return torch.rand(shape, generator=generator, device=where).to(x.device, non_blocking=True)


def _translate(x: Tensor, dx: Tensor, dy: Tensor, fill: float) -> Tensor:
    """Move image b of x (B, C, H, W) by dx[b] pixels right and dy[b] down; uncovered pixels get ``fill``."""
    b, c, h, w = x.shape
    rows = torch.arange(h, device=x.device).view(1, h) - dy.view(b, 1)  # source row of each output row
    cols = torch.arange(w, device=x.device).view(1, w) - dx.view(b, 1)
    out = x.gather(2, rows.clamp(0, h - 1).view(b, 1, h, 1).expand(b, c, h, w))
    out = out.gather(3, cols.clamp(0, w - 1).view(b, 1, 1, w).expand(b, c, h, w))
    valid = ((rows >= 0) & (rows < h)).view(b, 1, h, 1) & ((cols >= 0) & (cols < w)).view(b, 1, 1, w)
    return torch.where(valid, out, fill)


def _random_translate(x: Tensor, *, generator: torch.Generator | None, max_shift: int, fill: float) -> Tensor:
    if max_shift == 0:
        return x
    shifts = (_rand((2, x.shape[0]), x, generator) * (2 * max_shift + 1)).long() - max_shift
    return _translate(x, shifts[0], shifts[1], fill)


def _random_crop(x: Tensor, *, generator: torch.Generator | None, padding: int, fill: float) -> Tensor:
    return _random_translate(x, generator=generator, max_shift=padding, fill=fill)


def _random_flip(x: Tensor, *, generator: torch.Generator | None, p: float) -> Tensor:
    flip = _rand((x.shape[0],), x, generator) < p
    return torch.where(flip.view(-1, 1, 1, 1), x.flip(3), x)


def _check_int(name: str, value: object) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be an int >= 0, got {value!r}")


def random_shift(max_shift: int, *, fill: float = 0.0, generator: torch.Generator | None = None) -> Augmentation:
    """Shift each image by its own random whole number of pixels, -max_shift..max_shift in x and in
    y; the uncovered border gets ``fill`` (0: black, the background of MNIST digits). Batch
    (B, C, H, W) -> (B, C, H, W). The same operation as :func:`random_crop` with padding=max_shift,
    under the name used for digits."""
    _check_int("max_shift", max_shift)
    return Augmentation("random_shift", _random_translate, generator, max_shift=max_shift, fill=float(fill))


def random_crop(padding: int, *, fill: float = 0.0, generator: torch.Generator | None = None) -> Augmentation:
    """Pad each image by ``padding`` pixels of ``fill`` on every side, then crop it back to H x W at
    a random offset -- the CIFAR-10 recipe (padding=4). Batch (B, C, H, W) -> (B, C, H, W), done by
    index arithmetic on the whole batch (no padded copy, no loop over images)."""
    _check_int("padding", padding)
    return Augmentation("random_crop", _random_crop, generator, padding=padding, fill=float(fill))


def random_flip(p: float = 0.5, *, generator: torch.Generator | None = None) -> Augmentation:
    """Mirror each image left-right with probability ``p``. Batch (B, C, H, W) -> (B, C, H, W)."""
    if isinstance(p, bool) or not isinstance(p, (int, float)) or not 0 <= p <= 1:
        raise ValueError(f"p must be a probability between 0 and 1, got {p!r}")
    return Augmentation("random_flip", _random_flip, generator, p=float(p))


class compose:  # noqa: N801 -- reads like the functions it combines
    """Apply augmentations one after another: ``compose(random_crop(4), random_flip())``.
    Batch (B, C, H, W) -> (B, C, H, W)."""

    def __init__(self, *augs: Callable[[Tensor], Tensor]) -> None:
        for i, aug in enumerate(augs):
            if not callable(aug):
                raise TypeError(f"augs[{i}] must be callable on a batch (B, C, H, W), got {type(aug).__name__}")
        self.augs = augs

    def __call__(self, x: Tensor) -> Tensor:
        for aug in self.augs:
            x = aug(x)
        return x

    def __repr__(self) -> str:
        return f"compose({', '.join(map(repr, self.augs))})"
