"""Data files: find them, download them (checksums checked), read them with every size checked.

* :func:`load_mnist` and :func:`load_fashion_mnist` read IDX files (:func:`read_idx`), else download
  them, else fall back to the real subset of the dataset bundled with cnnbook -- one function body
  for both, the differences between the datasets are data (:class:`_IdxFiles`, as torchvision's
  ``mnist.py`` does);
* :func:`load_cifar10` reads CIFAR-10's *binary version* (records of one label byte and 3,072 pixel
  bytes; nothing in a file is ever run), else downloads and unpacks it (:mod:`cnnbook.data.download`),
  else falls back to the generated stand-in (:mod:`cnnbook.data.standin`).

What each dataset's files must be is data, in the tables below (names, record counts and sizes,
checksums); the code reads any dataset through them. Every size a file announces is checked against
the file's real size before anything is allocated for it.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Callable

import torch
from torch import Tensor

from .dataset import CIFAR10_CLASSES, FASHION_MNIST_CLASSES, MNIST_CLASSES, SPLITS, DataFileError, ImageDataset
from .download import download_guard, fetch, md5_of, online, unpack_tar
from .standin import cifar10_stand_in

__all__ = ["load_mnist", "load_fashion_mnist", "load_cifar10", "read_idx", "default_root", "MNIST_MEAN",
           "MNIST_STD", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD", "CIFAR10_MEAN", "CIFAR10_STD"]

# Normalisation constants: the full datasets' training statistics (mean and std of pixel / 255; MNIST's
# and CIFAR-10's are the well-known values, Fashion-MNIST's measured by scripts/make_mnist_subset.py on
# all 60,000 training images); the bundled subsets' are measured on their own training split (tests
# check them against the data).
MNIST_MEAN, MNIST_STD = (0.1307,), (0.3081,)
FASHION_MNIST_MEAN, FASHION_MNIST_STD = (0.2860,), (0.3530,)
CIFAR10_MEAN, CIFAR10_STD = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)
_BUNDLED_MNIST_MEAN, _BUNDLED_MNIST_STD = (0.1312,), (0.3086,)
_BUNDLED_FASHION_MNIST_MEAN, _BUNDLED_FASHION_MNIST_STD = (0.2873,), (0.3540,)

_PACKAGE_DATA = Path(__file__).resolve().parent.parent / "_data"
_BUNDLED_MNIST = _PACKAGE_DATA / "mnist"
_BUNDLED_FASHION_MNIST = _PACKAGE_DATA / "fashion_mnist"


@dataclass(frozen=True)
class _IdxFiles:
    """A dataset of 28x28 images in four IDX files (MNIST's format), as published."""

    name: str                         # "MNIST"; the bundled subset is "<name> (bundled subset)"
    loader: str                       # the function that loads it, named in advice
    folders: tuple[str, ...]          # where under ROOT to look, in order ("" is ROOT itself);
                                      # downloads go into the first
    splits: dict[str, tuple[tuple[str, int], tuple[str, int]]]  # split -> (images, labels) files
                                      # and the most records each may hold (the full dataset's)
    mirrors: tuple[str, ...]          # download: the first that works, per file
    resources: tuple[tuple[str, str], ...]  # (file name on the mirror, md5 of that file)
    classes: tuple[str, ...]
    label_words: str                  # what a label is, in error messages
    mean: tuple[float, ...]
    std: tuple[float, ...]
    bundled_mean: tuple[float, ...]
    bundled_std: tuple[float, ...]
    bundled_what: str                 # the subset, in the line printed when it is used


_IDX_SPLITS = {
    "train": (("train-images-idx3-ubyte", 60_000), ("train-labels-idx1-ubyte", 60_000)),
    "test": (("t10k-images-idx3-ubyte", 10_000), ("t10k-labels-idx1-ubyte", 10_000)),
}
# mirrors and md5s: torchvision's (torchvision/datasets/mnist.py, classes MNIST and FashionMNIST)
_MNIST = _IdxFiles(
    name="MNIST", loader="load_mnist", folders=("MNIST/raw", ""), splits=_IDX_SPLITS,
    mirrors=("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/"),
    resources=(("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
               ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
               ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
               ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c")),
    classes=MNIST_CLASSES, label_words="digits", mean=MNIST_MEAN, std=MNIST_STD,
    bundled_mean=_BUNDLED_MNIST_MEAN, bundled_std=_BUNDLED_MNIST_STD,
    bundled_what="12,000 train / 2,000 test images, every digit equally often",
)
_FASHION_MNIST = _IdxFiles(
    name="Fashion-MNIST", loader="load_fashion_mnist", folders=("FashionMNIST/raw", "fashion-mnist"),
    splits=_IDX_SPLITS,
    mirrors=("http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",),
    resources=(("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
               ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
               ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
               ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310")),
    classes=FASHION_MNIST_CLASSES, label_words="classes", mean=FASHION_MNIST_MEAN, std=FASHION_MNIST_STD,
    bundled_mean=_BUNDLED_FASHION_MNIST_MEAN, bundled_std=_BUNDLED_FASHION_MNIST_STD,
    bundled_what="6,000 train / 2,000 test images, every class equally often",
)


@dataclass(frozen=True)
class _RecordFiles:
    """A dataset of fixed-size records (label bytes, then pixel bytes) in a few files, as published."""

    url: str                          # the archive, and its md5 and largest size (bytes) accepted
    archive: str
    md5: str
    archive_max_bytes: int
    folder: str                       # the folder the archive unpacks to
    splits: dict[str, tuple[str, ...]]  # split -> its batch files, in order
    records: int                      # records per batch file in the published files
    label_bytes: int
    shape: tuple[int, int, int]       # of one image (C, H, W), stored channel by channel, row by row
    num_classes: int
    meta: str                         # class names, one per line (optional)
    meta_max_bytes: int
    other_versions: tuple[str, ...]   # names that mean another version of the dataset is there

    @property
    def record_bytes(self) -> int:
        return self.label_bytes + math.prod(self.shape)

    @property
    def batch_bytes(self) -> int:
        return self.records * self.record_bytes


_CIFAR10 = _RecordFiles(
    url="https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz", archive="cifar-10-binary.tar.gz",
    md5="c32a1d4ab5d03f1284b67883e8d87530", archive_max_bytes=200_000_000, folder="cifar-10-batches-bin",
    splits={"train": tuple(f"data_batch_{i}.bin" for i in range(1, 6)), "test": ("test_batch.bin",)},
    records=10_000, label_bytes=1, shape=(3, 32, 32), num_classes=10,
    meta="batches.meta.txt", meta_max_bytes=4096,
    other_versions=("cifar-10-batches-py", "cifar-10-python.tar.gz", "data_batch_1", "test_batch"),
)
_PYTHON_VERSION_PROBLEM = ("this is CIFAR-10's Python version (batches of Python objects), which cnnbook "
                           "does not read: loading Python objects from a file can run any code")

# Checked before downloading, so that offline is detected fast
_PROBE_URL = {"cifar10": _CIFAR10.url}  # IDX datasets: their first mirror
_CHUNK = 1 << 22  # files are read (and inflated) 4 MiB at a time
_DEFLATE_MAX_RATIO = 1032  # deflate turns one byte into at most 1032: a .gz file holds at most this much


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


def _download_idx(root: Path, table: _IdxFiles, verbose: bool) -> bool:
    """Download the four files of ``table`` into ``root/<its first folder>`` with torchvision's
    downloader (each file's md5 checked), trying the mirrors in turn. False if any of it fails."""
    _make_folder(root, root)
    if not online(table.mirrors[0]):
        return False
    raw = root / table.folders[0]
    _make_folder(root, raw)
    try:
        from torchvision.datasets.utils import download_and_extract_archive
    except ImportError:
        return False
    try:
        with download_guard(raw, verbose):
            for filename, md5 in table.resources:
                for mirror in table.mirrors:
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


def _download_mnist(root: Path, verbose: bool) -> bool:
    """Download the four MNIST files into ``root/MNIST/raw`` (md5-checked)."""
    return _download_idx(root, _MNIST, verbose)


def _download_cifar10(root: Path, verbose: bool) -> bool:
    """Download CIFAR-10's binary archive into ``root`` (unless a copy with the right md5 is there),
    check its md5 and unpack the batch files into ``root/cifar-10-batches-bin``. False if any of it
    fails (no network, a wrong checksum, an archive that is not what the table says)."""
    _make_folder(root, root)
    archive = root / _CIFAR10.archive
    if not archive.is_file() and not online(_PROBE_URL["cifar10"]):
        return False
    try:
        with download_guard(root, verbose):
            if not (archive.is_file() and md5_of(archive) == _CIFAR10.md5):
                print(f"Downloading {_CIFAR10.url} into {root}")
                fetch(_CIFAR10.url, archive, _CIFAR10.md5, _CIFAR10.archive_max_bytes)
            _unpack_record_files(archive, root / _CIFAR10.folder, _CIFAR10)
    except Exception:  # noqa: BLE001 -- any failure: fall back, saying it could not be downloaded
        return False
    return True


def _unpack_record_files(archive: Path, folder: Path, table: _RecordFiles) -> None:
    """Unpack the batch files of both splits and the class names of ``table`` from ``archive`` into
    ``folder``: only those members, each of the size the table gives."""
    members = {f"{table.folder}/{name}": (name, table.batch_bytes, table.batch_bytes)
               for split in SPLITS for name in table.splits[split]}
    members[f"{table.folder}/{table.meta}"] = (table.meta, 0, table.meta_max_bytes)
    unpack_tar(archive, folder, members, "Delete it and call load_cifar10() again to download a fresh copy.")


def _fallback_note(what: str, root: Path, download: bool, using: str, verbose: bool) -> None:
    if verbose:
        why = "could not be downloaded (no network?)" if download else "download=False"
        print(f"{what} not found in {root} and {why}: using {using}.")


# ----------------------------------------------------------------------------- MNIST, Fashion-MNIST (IDX files)


def _open_idx(path: Path) -> BinaryIO:
    with open(path, "rb") as f:
        gzipped = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gzipped else open(path, "rb")  # type: ignore[return-value]


def read_idx(path: str | os.PathLike, ndim: int | None = None, *, advice: str = "",
             max_count: int | None = None) -> Tensor:
    """Read an IDX file of unsigned bytes (MNIST's format; gzip-compressed or not) into a uint8
    tensor whose shape is the file's dimensions, e.g. (N, 28, 28) for images, (N,) for labels.

    The header is checked (magic number 0x0000 08 <ndim>; at most ``max_count`` records, N, when
    given) and the size of the data must match it exactly; otherwise :class:`DataFileError` names
    the file and says what to do (``advice``). The size the header announces is checked against the
    file's real size before anything is read: against the size on disk, or for a .gz file against
    the most that many compressed bytes can inflate to; a .gz file is then inflated only up to the
    announced size, plus one byte to detect more. Memory never grows beyond the data the header
    announces and the file can hold. LeNet-5 chapter.
    """
    path = Path(path)
    advice = advice or "Delete it and load the data again to download a fresh copy."

    def bad(problem: str) -> DataFileError:
        return DataFileError(path, problem, advice)

    try:
        size = path.stat().st_size
        with _open_idx(path) as f:
            dims = _idx_header(f, ndim, bad)
            expected = math.prod(dims)
            if max_count is not None and dims and dims[0] > max_count:
                raise bad(f"its header announces {dims[0]:,} records, more than the {max_count:,} "
                          "this file can hold")
            if isinstance(f, gzip.GzipFile):  # bounded by the most the compressed bytes can hold
                _check_gzip_room(size, dims, expected, bad)
            else:  # the size on disk is the size of the data: check first
                _check_idx_size(size - 4 - 4 * len(dims), dims, expected, bad)
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


def _check_gzip_room(size: int, dims: tuple[int, ...], expected: int,
                     bad: Callable[[str], DataFileError]) -> None:
    room = _DEFLATE_MAX_RATIO * size
    if expected + 4 + 4 * len(dims) > room:
        raise bad(f"the file is truncated: its header announces {dims} = {expected:,} bytes of data, more "
                  f"than {size:,} gzip-compressed bytes can hold (at most {room:,})")


def _check_idx_size(size: int, dims: tuple[int, ...], expected: int,
                    bad: Callable[[str], DataFileError]) -> None:
    if size < expected:
        raise bad(f"the file is truncated: its header announces {dims} = {expected:,} bytes "
                  f"of data but only {max(size, 0):,} are there")
    if size > expected:
        raise bad(f"the file has data beyond the {dims} = {expected:,} bytes its header announces")


def _read_at_most(f: BinaryIO, expected: int) -> bytearray:
    """Up to ``expected`` + 1 bytes of ``f``, read (and for gzip, inflated) in chunks: memory grows
    only with what is there, and never beyond one byte more than expected."""
    data = bytearray()
    while len(data) <= expected:
        chunk = f.read(min(_CHUNK, expected + 1 - len(data)))
        if not chunk:
            break
        data += chunk
    return data


def _find_idx(root: Path, table: _IdxFiles, split: str, folders: tuple[str, ...] | None = None
              ) -> tuple[Path, Path] | None:
    """The (images, labels) files of ``split`` in the first of ``folders`` (default:
    ``table.folders``; "" is ``root`` itself) under ``root`` that holds both (each gzip-compressed
    or not)."""
    for folder in (root / sub if sub else root for sub in folders or table.folders):
        paths: list[Path] = []
        for name, _ in table.splits[split]:
            paths += [p for p in (folder / name, folder / f"{name}.gz") if p.is_file()][:1]
        if len(paths) == 2:
            return paths[0], paths[1]
    return None


def _read_idx_pair(images_path: Path, labels_path: Path, table: _IdxFiles, split: str,
                   advice: str) -> tuple[Tensor, Tensor]:
    (_, max_images), (_, max_labels) = table.splits[split]
    images = read_idx(images_path, ndim=3, advice=advice, max_count=max_images)
    labels = read_idx(labels_path, ndim=1, advice=advice, max_count=max_labels)
    if images.shape[1:] != (28, 28):
        raise DataFileError(images_path, f"{table.name} images are 28x28, this file holds "
                            f"{tuple(images.shape[1:])}", advice)
    if len(labels) != len(images):
        raise DataFileError(labels_path, f"{len(labels):,} labels for the {len(images):,} images of "
                            f"{images_path.name}", advice)
    top = len(table.classes) - 1
    if len(labels) and int(labels.max()) > top:
        raise DataFileError(labels_path, f"labels must be {table.label_words} 0..{top}, found "
                            f"{int(labels.max())}", advice)
    return images.unsqueeze(1), labels.long()


def _load_idx(table: _IdxFiles, bundled: Path, root: str | os.PathLike | None, split: str, download: bool,
              verbose: bool, fetch_files: Callable[[Path, bool], bool]) -> ImageDataset:
    """The one body of :func:`load_mnist` and :func:`load_fashion_mnist`: ``root``'s files, else
    ``fetch_files(root, verbose)`` then its files, else the subset in the folder ``bundled``."""
    root = _check_args(root, split)
    advice = f"Delete it and call {table.loader}() again to download a fresh copy."
    found, source = _find_idx(root, table, split), "local"
    if found is None and download and fetch_files(root, verbose):
        found, source = _find_idx(root, table, split), "download"
    if found is not None:
        images, labels = _read_idx_pair(*found, table, split, advice)
        return ImageDataset(images, labels, table.classes, table.name, source, table.mean, table.std)
    found = _find_idx(bundled, table, split, ("",))
    if found is None:
        raise FileNotFoundError(f"{table.name} is not in {root}, could not be downloaded, and the subset "
                                f"bundled with cnnbook is missing from {bundled}: reinstall cnnbook with its "
                                f"package data, or put {table.name}'s IDX files into "
                                f"{root / table.folders[0]}")
    images, labels = _read_idx_pair(*found, table, split,
                                    "The copy bundled with cnnbook is damaged: reinstall cnnbook.")
    _fallback_note(table.name, root, download, f"the subset of real {table.name} bundled with cnnbook "
                   f"({len(images):,} {split} images)", verbose)
    return ImageDataset(images, labels, table.classes, f"{table.name} (bundled subset)", "bundled",
                        table.bundled_mean, table.bundled_std)


def load_mnist(root: str | os.PathLike | None = None, split: str = "train", *, download: bool = True,
               verbose: bool = True) -> ImageDataset:
    """The MNIST digits of ``split`` ("train": 60,000, "test": 10,000) as uint8 (N, 1, 28, 28).

    Looks in ``root`` (default: :func:`default_root`) for the IDX files -- in ``ROOT/MNIST/raw/``,
    torchvision's layout, or in ``ROOT`` itself, gzip-compressed or not -- else downloads them
    (torchvision's mirrors and md5 checksums) unless ``download=False``, else falls back to the
    subset of real MNIST bundled with cnnbook (12,000 train / 2,000 test images, every digit equally
    often) and prints one line saying so (``verbose=False`` silences it). A file holding more
    records than MNIST's own is refused. LeNet-5 chapter.
    """
    return _load_idx(_MNIST, _BUNDLED_MNIST, root, split, download, verbose,
                     lambda at, loud: _download_mnist(at, loud))


def load_fashion_mnist(root: str | os.PathLike | None = None, split: str = "train", *, download: bool = True,
                       verbose: bool = True) -> ImageDataset:
    """Fashion-MNIST's photographs of clothing of ``split`` ("train": 60,000, "test": 10,000) as
    uint8 (N, 1, 28, 28), in 10 classes (:data:`FASHION_MNIST_CLASSES`, torchvision's names), made
    by Zalando Research (Xiao, Rasul and Vollgraf, 2017) in MNIST's format.

    Exactly as :func:`load_mnist`: looks in ``ROOT/FashionMNIST/raw/`` (torchvision's layout) or
    ``ROOT/fashion-mnist/``, gzip-compressed or not, else downloads the files (torchvision's mirror
    and md5 checksums) unless ``download=False``, else falls back to the subset of real
    Fashion-MNIST bundled with cnnbook (6,000 train / 2,000 test images, every class equally often)
    and prints one line saying so (``verbose=False`` silences it). Both splits are normalised with
    the training split's mean/std (:data:`FASHION_MNIST_MEAN`, :data:`FASHION_MNIST_STD`; the
    subset's own for the subset). AlexNet chapter.
    """
    return _load_idx(_FASHION_MNIST, _BUNDLED_FASHION_MNIST, root, split, download, verbose,
                     lambda at, loud: _download_idx(at, _FASHION_MNIST, loud))


# ----------------------------------------------------------------------------- CIFAR-10 (binary version)


def _cifar_advice(folder: Path) -> str:
    if folder.name == _CIFAR10.folder:
        return f"Delete the folder {folder} and call load_cifar10() again to download a fresh copy."
    return ("Delete it and the other CIFAR-10 batches next to it, and call load_cifar10() again to download "
            "a fresh copy.")


def _find_cifar10(root: Path, split: str) -> Path | None:
    """The folder holding the batch files of ``split``: ROOT/cifar-10-batches-bin (as the archive
    unpacks) or ROOT itself; an incomplete cifar-10-batches-bin folder is an error."""
    for folder in (root / _CIFAR10.folder, root):
        present = [(folder / name).is_file() for name in _CIFAR10.splits[split]]
        if all(present):
            return folder
        if folder.name == _CIFAR10.folder and folder.is_dir():
            missing = _CIFAR10.splits[split][present.index(False)]
            raise DataFileError(folder / missing, "the file is missing from an incomplete CIFAR-10 folder",
                                _cifar_advice(folder))
    return None


def _batch_records(path: Path, table: _RecordFiles, exact: bool, advice: str) -> int:
    """The number of records in the batch file ``path``, from its size on disk: a whole number of
    records, at most the published count -- exactly that count where ``exact`` (the published files)."""
    size, record, most = path.stat().st_size, table.record_bytes, table.batch_bytes
    layout = (f"{table.records:,} records of {record:,} bytes: {table.label_bytes} label byte and "
              f"{record - table.label_bytes:,} pixel bytes")
    if exact and size != most:
        problem = f"the file holds {size:,} bytes, expected {most:,} ({layout})"
    elif size == 0 or size % record:
        problem = (f"the file holds {size:,} bytes, not a whole number of {record:,}-byte records "
                   f"(expected {most:,} bytes: {layout})")
    elif size > most:
        problem = f"the file holds {size // record:,} records ({size:,} bytes), more than the {layout}"
    else:
        return size // record
    raise DataFileError(path, problem, advice)


def _read_batch(path: Path, n: int, table: _RecordFiles, advice: str) -> tuple[Tensor, Tensor]:
    """(pixels (n, C*H*W) uint8, labels (n,) uint8) of a batch file of ``n`` records, labels checked."""
    record = table.record_bytes
    buf = bytearray(n * record)
    with open(path, "rb") as f:
        got, more = f.readinto(buf), f.read(1)
    if got != len(buf) or more:
        raise DataFileError(path, f"the file changed while it was read (expected {len(buf):,} bytes)", advice)
    records = torch.frombuffer(buf, dtype=torch.uint8).view(n, record)
    labels = records[:, table.label_bytes - 1]  # the last label byte is the class
    bad = (labels >= table.num_classes).nonzero()
    if len(bad):
        i = int(bad[0])
        raise DataFileError(path, f"record {i:,} (byte offset {i * record:,}) has label {int(labels[i])}, but labels "
                            f"are 0..{table.num_classes - 1} ({len(bad):,} of {n:,} records out of range)", advice)
    return records[:, table.label_bytes:], labels


def _read_class_names(path: Path, table: _RecordFiles, advice: str) -> tuple[str, ...]:
    """The class names in ``path``: UTF-8 (or ASCII) text, one name per line, blank lines ignored."""
    if path.stat().st_size > table.meta_max_bytes:
        raise DataFileError(path, f"the file holds {path.stat().st_size:,} bytes, expected at most "
                            f"{table.meta_max_bytes:,} ({table.num_classes} class names, one per line)", advice)
    with open(path, "rb") as f:
        raw = f.read(table.meta_max_bytes + 1)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise DataFileError(path, f"the class names are not ASCII/UTF-8 text (byte 0x{raw[err.start]:02x} at "
                            f"offset {err.start:,})", advice) from None
    names = tuple(line.strip() for line in text.splitlines() if line.strip())
    if len(names) != table.num_classes:
        raise DataFileError(path, f"expected {table.num_classes} class names, one per line, found {len(names)}",
                            advice)
    odd = next((name for name in names if not name.isprintable()), None)
    if odd is not None:
        raise DataFileError(path, f"the class name {odd!r} holds characters that cannot be printed", advice)
    return names


def _read_records(folder: Path, split: str, table: _RecordFiles) -> tuple[Tensor, Tensor, tuple[str, ...]]:
    """images (N, C, H, W) uint8, labels (N,) int64 and the class names of ``split`` in ``folder``.
    Every size is checked on disk before the images' memory is allocated."""
    advice = _cifar_advice(folder)
    paths = [folder / name for name in table.splits[split]]
    counts = [_batch_records(p, table, folder.name == table.folder, advice) for p in paths]
    images = torch.empty((sum(counts), math.prod(table.shape)), dtype=torch.uint8)
    labels = torch.empty(sum(counts), dtype=torch.int64)
    start = 0
    for path, n in zip(paths, counts):
        images[start:start + n], labels[start:start + n] = _read_batch(path, n, table, advice)
        start += n
    classes: tuple[str, ...] = CIFAR10_CLASSES
    if (folder / table.meta).is_file():
        classes = _read_class_names(folder / table.meta, table, advice)
    return images.view(-1, *table.shape), labels, classes


def _refuse_other_versions(root: Path, table: _RecordFiles) -> None:
    """A one-line error if ``root`` holds CIFAR-10's Python version, which is never read."""
    for name in table.other_versions:
        if (root / name).exists():
            raise DataFileError(root / name, _PYTHON_VERSION_PROBLEM,
                                "Get the binary version: call load_cifar10() with download=True where there is "
                                f"a network, or download {table.url} (md5 {table.md5}) and unpack it into {root}")


def load_cifar10(root: str | os.PathLike | None = None, split: str = "train", *, download: bool = True,
                 verbose: bool = True) -> ImageDataset:
    """The CIFAR-10 images of ``split`` ("train": 50,000, "test": 10,000) as uint8 (N, 3, 32, 32).

    Reads CIFAR-10's binary version -- ``data_batch_1.bin`` .. ``data_batch_5.bin`` and
    ``test_batch.bin``, records of one label byte (0..9) and 3,072 pixel bytes (1,024 red, green,
    blue, row by row), and the class names in ``batches.meta.txt`` -- from
    ``ROOT/cifar-10-batches-bin/`` (as ``cifar-10-binary.tar.gz`` unpacks; each file exactly
    30,730,000 bytes) or from ``ROOT`` itself (any whole number of records up to 10,000 per file).
    ``root`` defaults to :func:`default_root`. Else downloads the archive, checks its md5 and unpacks
    only those files, unless ``download=False``; else falls back to :func:`cifar10_stand_in`, a
    generated dataset that is *not* CIFAR-10, and prints one line saying so (``verbose=False``
    silences it). CIFAR-10's Python version (Python objects) is never read: when the binary version
    is neither there nor downloadable, finding the Python version in ``root`` is a
    :class:`DataFileError` (not the stand-in) that says how to get the binary one. AlexNet chapter.
    """
    root = _check_args(root, split)
    folder, source = _find_cifar10(root, split), "local"
    if folder is None and download and _download_cifar10(root, verbose):
        folder, source = _find_cifar10(root, split), "download"
    if folder is not None:
        images, labels, classes = _read_records(folder, split, _CIFAR10)
        return ImageDataset(images, labels, classes, "CIFAR-10", source, CIFAR10_MEAN, CIFAR10_STD)
    _refuse_other_versions(root, _CIFAR10)
    data = cifar10_stand_in(split)
    _fallback_note("CIFAR-10", root, download, "a generated stand-in (NOT CIFAR-10): 10 classes of "
                   f"synthetic 3x32x32 images ({len(data):,} {split} images)", verbose)
    return data
