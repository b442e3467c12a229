"""The command line: ``python -m cnnbook train MODEL ...`` and ``python -m cnnbook bench ...``.

    python -m cnnbook train lenet5 --data-root DIR --epochs 3 --json run.json
    torchrun --nproc_per_node=2 -m cnnbook train lenet5 --device cpu     # data-parallel
    python -m cnnbook bench --data-root DIR                              # see cnnbook.bench

``train`` prints progress and a table of the epochs, and writes a JSON record (``--json``) with
the model, the data and where it came from, the device, the training seconds (evaluation
excluded), the final test accuracy, the time to 99.0% and the whole history. Mistakes end with one
line on stderr, ``error: ...``, and exit status 2.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F

from .bench import FAST, LONG

if TYPE_CHECKING:  # pragma: no cover
    from .data import ImageDataset

__all__ = ["RECIPES", "Recipe", "main", "build_parser", "train_command", "pad_images"]


def _none() -> None:
    """No augmentation."""
    return None


@dataclass(frozen=True)
class Recipe:
    """How the command line trains one model: the network, its data and its defaults."""

    model: Callable[[], nn.Module]
    dataset: str  # "mnist" | "cifar10"
    epochs: int
    batch_size: int
    lr: float
    label_smoothing: float = 0.0
    augment: Callable[[], Callable | None] = _none  # makes the augmentation (or None)
    pad: int = 0  # pixels of black border added to every image (28x28 MNIST -> 32x32 for LeNet5Classic)
    short: dict = field(default_factory=dict)  # overrides for runs of fewer than SHORT_RUN epochs

    def settings(self, epochs: float) -> dict:
        """batch_size, lr, label_smoothing and augment (a factory) for a run of ``epochs`` epochs."""
        s = {"batch_size": self.batch_size, "lr": self.lr, "label_smoothing": self.label_smoothing,
             "augment": self.augment}
        return {**s, **self.short} if epochs < SHORT_RUN else s


def _lenet5() -> nn.Module:
    from .models import LeNet5
    return LeNet5()


def _lenet5_classic() -> nn.Module:
    from .models import LeNet5Classic
    return LeNet5Classic()


def _alexnet_cifar() -> nn.Module:
    from .models import AlexNetCIFAR
    return AlexNetCIFAR()


def _mnist_shift():
    from .data import random_shift
    return random_shift(LONG["shift"])


def _crop_flip():
    from .data import compose, random_crop, random_flip
    return compose(random_crop(4), random_flip())


# The recipes: defaults per model, one place to tune them. LeNet-5's are the bench's (cnnbook.bench):
# LONG, 10 epochs of batch 256 with random shifts; short runs (< SHORT_RUN epochs) use FAST's
# batch 128 and no augmentation, which pays only in longer runs (2.5 epochs reach 99.0% on MNIST).
SHORT_RUN = 5
_MNIST = {"batch_size": LONG["batch_size"], "lr": LONG["lr"], "label_smoothing": LONG["label_smoothing"],
          "augment": _mnist_shift}
_SHORT_MNIST = {"batch_size": FAST["batch_size"], "lr": FAST["lr"], "augment": _none}
RECIPES: dict[str, Recipe] = {
    "lenet5": Recipe(_lenet5, "mnist", epochs=LONG["epochs"], **_MNIST, short=_SHORT_MNIST),
    "lenet5-classic": Recipe(_lenet5_classic, "mnist", epochs=LONG["epochs"], **_MNIST, pad=2, short=_SHORT_MNIST),
    "alexnet-cifar": Recipe(_alexnet_cifar, "cifar10", epochs=30, batch_size=256, lr=2e-3,
                            label_smoothing=0.1, augment=_crop_flip),
}
# --quick: a small class-balanced subset per dataset (AlexNetCIFAR costs ~100x LeNet-5 per image)
QUICK_SIZE = {"mnist": (2000, 500), "cifar10": (256, 128)}


def pad_images(data: "ImageDataset", pad: int) -> "ImageDataset":
    """The dataset with ``pad`` pixels of black (0) added on every side: (N, C, H, W) ->
    (N, C, H + 2 pad, W + 2 pad); mean and std are updated for the added zeros."""
    if pad == 0:
        return data
    n, c, h, w = data.images.shape
    keep = h * w / ((h + 2 * pad) * (w + 2 * pad))
    mean = tuple(m * keep for m in data.mean)
    std = tuple(((s * s + m * m) * keep - (m * keep) ** 2) ** 0.5 for m, s in zip(data.mean, data.std))
    return replace(data, images=F.pad(data.images, (pad, pad, pad, pad)), mean=mean, std=std)


def _device(name: str | None) -> torch.device:
    from .runtime import device as default_device

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


def load_data(dataset: str, root: str | None, *, quick: bool,
              verbose: bool = True) -> tuple["ImageDataset", "ImageDataset"]:
    """(train, test) ImageDatasets for ``dataset`` ("mnist" | "cifar10"); ``quick`` keeps a small,
    class-balanced subset of each."""
    from .data import load_cifar10, load_mnist

    load = {"mnist": load_mnist, "cifar10": load_cifar10}[dataset]
    train, test = load(root, "train", verbose=verbose), load(root, "test", verbose=verbose)
    if quick:
        n_train, n_test = QUICK_SIZE[dataset]
        train, test = train.subset(min(n_train, len(train))), test.subset(min(n_test, len(test)))
    return train, test


def _param_checksum(model: nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() for p in model.parameters()))


def train_command(args: argparse.Namespace) -> int:
    """Run ``train`` with parsed arguments; return the exit status."""
    from . import distributed
    from .runtime import hardware
    from .train import _amp_dtype, fit

    recipe = RECIPES[args.model]
    dev = _device(args.device)
    world, created = distributed.setup(dev)
    if world.active and dev.type == "cuda":
        dev = torch.device("cuda", world.local_rank)
    try:
        if args.seed is not None:
            torch.manual_seed(args.seed)
        train, test = load_data(recipe.dataset, args.data_root, quick=args.quick, verbose=world.is_main)
        train, test = pad_images(train, recipe.pad), pad_images(test, recipe.pad)
        epochs = args.epochs if args.epochs is not None else 1 if args.quick else recipe.epochs
        settings = recipe.settings(epochs)
        batch_size = args.batch_size if args.batch_size is not None else settings["batch_size"]
        lr = args.lr if args.lr is not None else settings["lr"]
        model = recipe.model()
        if world.is_main:
            print(f"Training {args.model} on {train.name} ({len(train):,} train / {len(test):,} test images) "
                  f"for {epochs} epoch(s), batch {batch_size}, lr {lr:g}, on {hardware(dev)}"
                  + (f", {world.size} processes" if world.active else ""))
        history = fit(model, train, test, epochs=epochs, batch_size=batch_size, lr=lr,
                      label_smoothing=settings["label_smoothing"], augment=settings["augment"](), device=dev,
                      compile=args.compile, seed=args.seed, checkpoint=args.checkpoint, resume=args.resume,
                      progress=not args.no_progress, target_acc=args.target_acc)
        checksums = [_param_checksum(model)]
        if world.active:
            gathered = [None] * world.size
            torch.distributed.all_gather_object(gathered, checksums[0])
            checksums = gathered
        if not world.is_main:
            return 0
        print(history.table())
        record = {
            "model": args.model,
            "dataset": train.name,
            "data_source": train.source,
            "device": str(dev),
            "precision": str(_amp_dtype(dev, True) or torch.float32).replace("torch.", ""),
            "hardware": hardware(dev),
            "torch": torch.__version__,
            "world_size": world.size,
            "train_size": len(train),
            "test_size": len(test),
            "epochs": epochs if len(history) == math.ceil(epochs) else len(history),  # fewer if stopped early
            "epochs_planned": epochs,
            "batch_size": batch_size,
            "lr": lr,
            "seed": args.seed,
            "quick": bool(args.quick),
            "train_seconds": history.train_seconds,
            "test_acc": history.test_acc[-1] if len(history) else None,
            "time_to_99": history.time_to(99.0),
            "images_per_s": (sum(h * s for h, s in zip(history.images_per_s, history.seconds))
                             / history.train_seconds) if len(history) else None,
            "param_checksums": checksums,
            "history": history.as_dict(),
        }
        t99 = record["time_to_99"]
        print(f"{args.model}: test accuracy {record['test_acc']:.2f}% after {record['train_seconds']:.1f} s of "
              f"training; 99.0% " + (f"reached after {t99:.1f} s" if t99 is not None else "not reached")
              if len(history) else f"{args.model}: no epoch completed")
        if args.json:
            path = Path(args.json)
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(record, indent=2))
            print(f"Wrote {path}")
        return 0
    finally:
        if created:
            distributed.cleanup()


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return value


def _epochs(text: str) -> int | float:
    """A whole number >= 1, or a fractional number of epochs > 0 (e.g. 2.5)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of epochs, got {text!r}") from None
    if not (value > 0 and value == value and value != float("inf")):
        raise argparse.ArgumentTypeError(f"must be > 0, got {text}")
    if value.is_integer():
        if value < 1:
            raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
        return int(value)
    return value


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return value


class _Parser(argparse.ArgumentParser):
    """argparse, with usage mistakes reported in one line (``prog: error: ...``), exit status 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {' '.join(message.split())} (see --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m cnnbook``."""
    parser = _Parser(prog="python -m cnnbook", description="Train the book's networks and time them.")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,bench}")

    t = sub.add_parser("train", help="train one model and report its accuracy and time")
    t.add_argument("model", choices=sorted(RECIPES), metavar="MODEL", help=f"one of {', '.join(RECIPES)}")
    t.add_argument("--data-root", default=None, help="data folder (default: $CNNBOOK_DATA or ~/.cache/cnnbook)")
    t.add_argument("--epochs", type=_epochs, default=None, help="epochs, e.g. 10 or 2.5 (default: the model's recipe)")
    t.add_argument("--batch-size", type=_positive_int, default=None, help="global batch size")
    t.add_argument("--lr", type=_positive_float, default=None, help="peak learning rate of the one-cycle schedule")
    t.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    t.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    t.add_argument("--quick", action="store_true", help="a smoke test: a small subset, 1 epoch")
    t.add_argument("--json", default=None, metavar="FILE", help="write the results to FILE as JSON")
    t.add_argument("--compile", action="store_true", help="torch.compile the model")
    t.add_argument("--checkpoint", default=None, metavar="FILE", help="save a checkpoint after every epoch")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    t.add_argument("--target-acc", type=_positive_float, default=None, help="stop once the test accuracy reaches this (percent)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=train_command)

    from .bench import add_arguments, bench_command
    b = sub.add_parser("bench", help="the usual PyTorch loop against cnnbook's, on MNIST and LeNet-5")
    add_arguments(b)
    b.set_defaults(func=bench_command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m cnnbook``; returns the exit status (2 after an error)."""
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (ValueError, TypeError, FileNotFoundError, RuntimeError, OSError) as err:
        message = " ".join(str(err).split()) or type(err).__name__
        print(f"error: {message}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
