"""Cut the MNIST subset that cnnbook ships for offline use (cnnbook/_data/mnist/).

The subset is a class-balanced random sample of the real MNIST database (LeCun, Cortes and
Burges; CC BY-SA 3.0): ``--train`` images of the training set and ``--test`` images of the test
set, the same number of each digit, drawn with a fixed seed and kept in their original order. They
are written as gzip-compressed IDX files with MNIST's own file names, so ``cnnbook.data`` reads them
through the same code as the full dataset. The gzip header carries no time stamp, so the same
inputs give byte-identical files.

Usage (from the repository root; ``--source`` holds the four standard IDX files, .gz or not)::

    .venv/bin/python scripts/make_mnist_subset.py --source ../shared/data/mnist

It prints the counts, the file sizes, md5 sums and the per-channel mean/std of the training
subset (the constants ``_BUNDLED_MNIST_MEAN`` / ``_BUNDLED_MNIST_STD`` in cnnbook/data.py).
This script is a maintenance tool, not a test: the test suite never reads ``--source``.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import struct
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from cnnbook.data import read_idx  # noqa: E402  (the package's own IDX reader)

FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def find(folder: Path, name: str) -> Path:
    for candidate in (folder / name, folder / f"{name}.gz"):
        if candidate.exists():
            return candidate
    raise SystemExit(f"{name}(.gz) not found in {folder}")


def balanced_indices(labels: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` indices, ``n // 10`` of each digit, drawn without replacement, in original order."""
    if n % 10:
        raise SystemExit(f"subset sizes must be multiples of 10, got {n}")
    picks = [rng.choice(np.flatnonzero(labels == k), n // 10, replace=False) for k in range(10)]
    return np.sort(np.concatenate(picks))


def write_idx_gz(path: Path, array: np.ndarray) -> None:
    """Write a uint8 array as a gzip-compressed IDX file (magic 0x0000 08 <ndim>, big-endian dims)."""
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    with open(path, "wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as f:
        f.write(header)
        f.write(np.ascontiguousarray(array, dtype=np.uint8).tobytes())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=REPO.parent / "shared" / "data" / "mnist")
    parser.add_argument("--out", type=Path, default=REPO / "cnnbook" / "_data" / "mnist")
    parser.add_argument("--train", type=int, default=12_000)
    parser.add_argument("--test", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    total = 0
    for split, n in (("train", args.train), ("test", args.test)):
        image_name, label_name = FILES[split]
        images = read_idx(find(args.source, image_name), ndim=3).numpy()
        labels = read_idx(find(args.source, label_name), ndim=1).numpy()
        keep = balanced_indices(labels, n, rng)
        for name, array in ((image_name, images[keep]), (label_name, labels[keep])):
            path = args.out / f"{name}.gz"
            write_idx_gz(path, array)
            size = path.stat().st_size
            total += size
            md5 = hashlib.md5(path.read_bytes()).hexdigest()
            print(f"{path.relative_to(REPO)}: {array.shape}, {size:,} bytes, md5 {md5}")
        print(f"{split}: {len(keep):,} images, per digit {np.bincount(labels[keep], minlength=10).tolist()}")
        if split == "train":
            pixels = images[keep].astype(np.float64) / 255
            print(f"train subset mean {pixels.mean():.4f} std {pixels.std():.4f}")
    print(f"total {total:,} bytes ({total / 2**20:.2f} MiB)")


if __name__ == "__main__":
    main()
