"""Data files: find them, download them (torchvision's mirrors and checksums), read them safely.

* :func:`load_mnist` reads MNIST's IDX files (:func:`read_idx`), else downloads them, else falls back
  to the real MNIST subset bundled with cnnbook;
* :func:`load_cifar10` reads CIFAR-10's python batches (unpickling numpy arrays and nothing else),
  else downloads them, else falls back to the generated stand-in (:mod:`cnnbook.data.standin`).
"""

from __future__ import annotations

import contextlib
import gzip
import io
import math
import os
import pickle
import shutil
import socket
import struct
import zlib
from pathlib import Path
from typing import Any, BinaryIO, Callable
from urllib.parse import urlparse

import numpy as np
import torch
from torch import Tensor

from .dataset import CIFAR10_CLASSES, MNIST_CLASSES, SPLITS, DataFileError, ImageDataset, describe
from .standin import cifar10_stand_in

__all__ = ["load_mnist", "load_cifar10", "read_idx", "default_root",
           "MNIST_MEAN", "MNIST_STD", "CIFAR10_MEAN", "CIFAR10_STD"]

# Normalisation constants: the full datasets' well-known training statistics; the bundled subset's
# is measured on its own training split (tests check them against the data).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_BUNDLED_MNIST_MEAN, _BUNDLED_MNIST_STD = (0.1312,), (0.3086,)

_MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
_CIFAR_FOLDER = "cifar-10-batches-py"
_CIFAR_FILES = {"train": tuple(f"data_batch_{i}" for i in range(1, 6)), "test": ("test_batch",)}
_BUNDLED_MNIST = Path(__file__).resolve().parent.parent / "_data" / "mnist"
# Checked before importing torchvision (whose mirrors these are), so that offline is detected fast
_PROBE_URL = {"mnist": "https://ossci-datasets.s3.amazonaws.com/mnist/",
              "cifar10": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"}
_PROBE_TIMEOUT_S = 3.0
_IDX_CHUNK = 1 << 22  # IDX data is read 4 MiB at a time


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
    proxies = ("https_proxy", "HTTPS_PROXY", "http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")
    if any(os.environ.get(v) for v in proxies):
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
                        download_and_extract_archive(mirror + filename, download_root=str(raw),
                                                     filename=filename, md5=md5)
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
    otherwise :class:`DataFileError` names the file and says what to do (``advice``). Memory grows
    with the data actually read, never with the size the header announces (a damaged or hostile
    header cannot make it allocate more than the file holds).
    """
    path = Path(path)
    advice = advice or "Delete it and load the data again to download a fresh copy."

    def bad(problem: str) -> DataFileError:
        return DataFileError(path, problem, advice)

    try:
        with _open_idx(path) as f:
            dims = _idx_header(f, ndim, bad)
            expected = math.prod(dims)
            if not isinstance(f, gzip.GzipFile):  # the size on disk is the size of the data: check first
                _check_idx_size(path.stat().st_size - 4 - 4 * len(dims), dims, expected, bad)
            data = _read_at_most(f, expected)
    except (OSError, EOFError, zlib.error) as err:
        raise bad(f"the file cannot be read ({err})") from err
    _check_idx_size(len(data), dims, expected, bad)
    try:
        if expected == 0:
            return torch.zeros(dims, dtype=torch.uint8)
        return torch.frombuffer(data, dtype=torch.uint8).view(dims)
    except RuntimeError as err:  # e.g. (0, 2**32 - 1, 2**32 - 1): no data, but no tensor has such strides
        raise bad(f"its dimensions {dims} are too large ({err})") from None


def _idx_header(f: BinaryIO, ndim: int | None, bad: Callable[[str], DataFileError]) -> tuple[int, ...]:
    """The dimensions an IDX header announces, after checking its magic number."""
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
    return struct.unpack(f">{magic[3]}I", head)


def _check_idx_size(size: int, dims: tuple[int, ...], expected: int,
                    bad: Callable[[str], DataFileError]) -> None:
    if size < expected:
        raise bad(f"the file is truncated: its header announces {dims} = {expected:,} bytes "
                  f"of data but only {max(size, 0):,} are there")
    if size > expected:
        raise bad(f"the file has data beyond the {dims} = {expected:,} bytes its header announces")


def _read_at_most(f: BinaryIO, expected: int) -> bytearray:
    """Up to ``expected`` + 1 bytes of ``f``, read in chunks: memory grows only with what is there."""
    data = bytearray()
    while len(data) <= expected:
        chunk = f.read(min(_IDX_CHUNK, expected + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _find_mnist(root: Path, split: str) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``split`` in ROOT/MNIST/raw (torchvision's layout) or ROOT."""
    for folder in (root / "MNIST" / "raw", root):
        paths: list[Path] = []
        for name in _MNIST_FILES[split]:
            paths += [p for p in (folder / name, folder / f"{name}.gz") if p.is_file()][:1]
        if len(paths) == 2:
            return paths[0], paths[1]
    return None


def _read_mnist(images_path: Path, labels_path: Path, advice: str) -> tuple[Tensor, Tensor]:
    images = read_idx(images_path, ndim=3, advice=advice)
    labels = read_idx(labels_path, ndim=1, advice=advice)
    if images.shape[1:] != (28, 28):
        raise DataFileError(images_path, f"MNIST images are 28x28, this file holds {tuple(images.shape[1:])}", advice)
    if len(labels) != len(images):
        raise DataFileError(labels_path, f"{len(labels):,} labels for the {len(images):,} images of "
                            f"{images_path.name}", advice)
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

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in self._ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        if module == "numpy.core.multiarray":  # pickles written by numpy 1 (CIFAR-10's own files)
            module = "numpy._core.multiarray" if hasattr(np, "_core") else module
        found = super().find_class(module, name)
        return _empty_reconstruct(found) if name == "_reconstruct" else found


def _empty_reconstruct(reconstruct):
    """numpy's ``_reconstruct``, for the empty placeholder array a pickle then fills with its data
    (numpy always writes shape (0,)): a pickle asking it for a large array up front would make it
    allocate memory the file does not hold."""

    def checked(subtype: object, shape: object, dtype: object):
        if subtype is not np.ndarray or not isinstance(shape, tuple) or len(shape) != 1 or shape[0] != 0:
            raise pickle.UnpicklingError(f"refusing an array of shape {shape!r} allocated before its data")
        return reconstruct(subtype, shape, dtype)

    return checked


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
        raise DataFileError(path, f"'data' must be a uint8 array of shape (N, 3072), found {describe(data)}", advice)
    try:
        labels = np.asarray(labels, dtype=np.int64)
    except (TypeError, ValueError) as err:
        raise DataFileError(path, f"'labels' must be a list of integers ({err})", advice) from err
    if labels.shape != (len(data),):
        raise DataFileError(path, f"'labels' must hold {len(data):,} labels, one per image, "
                            f"found shape {labels.shape}", advice)
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise DataFileError(path, f"labels must be 0..9, found {labels.min()}..{labels.max()}", advice)
    return data, labels


def _cifar_advice(folder: Path) -> str:
    if folder.name == _CIFAR_FOLDER:
        return f"Delete the folder {folder} and call load_cifar10() again to download a fresh copy."
    return ("Delete it and the other CIFAR-10 batches next to it, and call load_cifar10() again to download "
            "a fresh copy.")


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
    classes: tuple[str, ...] = CIFAR10_CLASSES
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

