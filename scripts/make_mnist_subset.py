"""Cut the MNIST or Fashion-MNIST subset that cnnbook ships for offline use (cnnbook/_data/).

The subset is a class-balanced random sample of the real dataset -- MNIST (LeCun, Cortes and
Burges; CC BY-SA 3.0) or Fashion-MNIST (Xiao, Rasul and Vollgraf, Zalando Research; MIT):
``--train`` images of the training set and ``--test`` images of the test set, the same number of
each class, drawn without replacement with a fixed seed (training set first) and kept in their
original order. They are written unchanged as gzip-compressed IDX files with the dataset's own
file names, so ``cnnbook.data`` reads them through the same code as the full dataset. The gzip
header carries no time stamp and no file name, so the same inputs give byte-identical files.

Usage (from the repository root; ``--source`` holds the four standard IDX files, .gz or not)::

    .venv/bin/python scripts/make_mnist_subset.py --dataset mnist --source ../shared/data/mnist
    .venv/bin/python scripts/make_mnist_subset.py --dataset fashion-mnist \
        --source /usr/share/datasets/fashion-mnist

It prints the md5 of each uncompressed original, the counts, the file sizes, md5 sums and the
mean/std of the training subset's pixels / 255 (the table's ``bundled_mean`` / ``bundled_std`` in
cnnbook/data/files.py). This script is a maintenance tool, not a test: the test suite never reads
``--source``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnnbook.data import read_idx  # noqa: E402  (the package's own IDX reader)

# Both datasets use the same file names; what differs is data: where the files are, the subset's
# folder and size.
FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
@dataclass(frozen=True)
class Subset:
    source: Path   # the originals' usual folder
    out: str       # the folder under cnnbook/_data
    train: int     # images drawn from the training set
    test: int      # and from the test set


DATASETS = {
    "mnist": Subset(REPO.parent / "shared" / "data" / "mnist", "mnist", 12_000, 2_000),
    "fashion-mnist": Subset(Path("/usr/share/datasets/fashion-mnist"), "fashion_mnist", 6_000, 2_000),
}
CLASSES = 10


def find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"{name}(.gz) not found in {folder}")


def md5_uncompressed(path: Path) -> str:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        return hashlib.md5(f.read(), usedforsecurity=False).hexdigest()


def balanced_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices, ``n // 10`` of each class, drawn without replacement, in original order."""
    if n % CLASSES:
        raise SystemExit(f"subset sizes must be multiples of {CLASSES}, got {n}")
    picks = [rng.choice(np.flatnonzero(labels == k), n // CLASSES, replace=False) for k in range(CLASSES)]
    return np.sort(np.concatenate(picks))


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file (magic 0x0000 08 <ndim>, big-endian dims)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(header)
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", choices=sorted(DATASETS), default="mnist")
    parser.add_argument("--source", type=Path, help="the folder of the four original files "
                        "(default: the dataset's usual place)")
    parser.add_argument("--out", type=Path, help="default: cnnbook/_data/<dataset>")
    parser.add_argument("--train", type=int, help="training images (default: 12,000 MNIST, 6,000 Fashion-MNIST)")
    parser.add_argument("--test", type=int, help="test images (default: 2,000)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    defaults = DATASETS[args.dataset]
    source = args.source or defaults.source
    out = args.out or REPO / "cnnbook" / "_data" / defaults.out
    sizes = {"train": args.train or defaults.train, "test": args.test or defaults.test}

    rng = np.random.default_rng(args.seed)
    out.mkdir(parents=True, exist_ok=True)
    total = 0
    for split in ("train", "test"):
        image_name, label_name = FILES[split]
        originals = find(source, image_name), find(source, label_name)
        for original in originals:
            print(f"original {original.name}: md5 of the uncompressed file {md5_uncompressed(original)}")
        images = read_idx(originals[0], ndim=3).numpy()
        labels = read_idx(originals[1], ndim=1).numpy()
        keep = balanced_indices(labels, sizes[split], rng)
        for name, array in ((image_name, images[keep]), (label_name, labels[keep])):
            path = out / f"{name}.gz"
            write_idx_gz(path, array)
            size = path.stat().st_size
            total += size
            md5 = hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()
            print(f"{path.name}: {array.shape}, {size:,} bytes, md5 {md5}")
        print(f"{split}: {len(keep):,} images, per class {np.bincount(labels[keep], minlength=CLASSES).tolist()}")
        if split == "train":
            pixels = images[keep].astype(np.float64) / 255
            full = images.astype(np.float64) / 255
            print(f"train subset mean {pixels.mean():.4f} std {pixels.std():.4f} "
                  f"(all {len(images):,} training images: mean {full.mean():.4f} std {full.std():.4f})")
    print(f"total {total:,} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
