"""The command line: ``python -m cnnbook train MODEL ...`` and ``python -m cnnbook bench ...``.

    python -m cnnbook train lenet5 --data-root DIR --epochs 3 --json run.json
    torchrun --nproc_per_node=2 -m cnnbook train lenet5 --device cpu     # data-parallel
    python -m cnnbook bench --data-root DIR                              # see cnnbook.bench

``train`` prints progress and a table of the epochs, and writes a JSON record (``--json``) with
the model, the data and where it came from, the device, the training seconds (evaluation
excluded), the final test accuracy, the time to 99.0% and the whole history. Mistakes end with one
line on stderr, ``error: ...``, and exit status 2; Ctrl-C ends with status 130 and, for a run
with ``--checkpoint``, the command that resumes it.
"""

from __future__ import annotations

import argparse
import contextlib
import dis
import json
import os
import shlex
import sys
from pathlib import Path
from typing import Any, Sequence

import torch
import torch.nn as nn

from . import distributed
from .bench import add_arguments, bench_command  # the bench's options live with the bench
from .data import ImageDataset, pad_images
from .errors import printable
from .recipes import RECIPES, choose_device, load_data
from .runtime import hardware
from .train import History, amp_dtype, fit

# RECIPES lives in cnnbook.recipes (the chapters import it from there); it stays importable from here
__all__ = ["main", "build_parser", "train_command", "RECIPES"]

_PACKAGE = Path(__file__).resolve().parent


def _param_checksum(model: nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() for p in model.parameters()))


def _record(args: argparse.Namespace, *, train: ImageDataset, test: ImageDataset, dev: torch.device,
            world_size: int, epochs: float, batch_size: int, lr: float, history: History,
            checksums: list[Any]) -> dict[str, Any]:
    """The JSON record of a ``train`` run."""
    return {
        "model": args.model,
        "dataset": train.name,
        "data_source": train.source,
        "device": str(dev),
        "precision": str(amp_dtype(dev, True) or torch.float32).replace("torch.", ""),
        "hardware": hardware(dev),
        "torch": torch.__version__,
        "world_size": world_size,
        "train_size": len(train),
        "test_size": len(test),
        "epochs": history.epochs_done,  # fewer than planned if stopped early
        "epochs_planned": epochs,
        "batch_size": batch_size,
        "lr": lr,
        "seed": args.seed,
        "quick": bool(args.quick),
        "train_seconds": history.train_seconds,
        "test_acc": history.test_acc[-1] if len(history) else None,
        "time_to_99": history.time_to(99.0),
        "images_per_s": history.mean_images_per_s if len(history) else None,
        "param_checksums": checksums,
        "history": history.as_dict(),
    }


def _report(record: dict[str, Any], history: History, json_path: str | None) -> None:
    """Print the epochs' table and the result line; write the JSON record to ``json_path``."""
    print(history.table())
    name, t99 = record["model"], record["time_to_99"]
    if len(history):
        print(f"{name}: test accuracy {record['test_acc']:.2f}% after {record['train_seconds']:.1f} s of "
              f"training; 99.0% " + (f"reached after {t99:.1f} s" if t99 is not None else "not reached"))
    else:
        print(f"{name}: no epoch completed")
    if json_path:
        path = Path(json_path)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(record, indent=2))
        print(f"Wrote {path}")


def _checksums(model: nn.Module, world: distributed.World) -> list[Any]:
    """Every process's parameter checksum (equal after a data-parallel run)."""
    checksums: list[Any] = [_param_checksum(model)]
    if world.active:
        gathered: list[Any] = [None] * world.size
        torch.distributed.all_gather_object(gathered, checksums[0])
        checksums = gathered
    return checksums


def train_command(args: argparse.Namespace) -> int:
    """Run ``train`` with parsed arguments; return the exit status."""
    recipe = RECIPES[args.model]
    dev = choose_device(args.device)
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
        model = recipe.make_model()
        if world.is_main:
            print(f"Training {args.model} on {train.name} ({len(train):,} train / {len(test):,} test images) "
                  f"for {epochs} epoch(s), batch {batch_size}, lr {lr:g}, on {hardware(dev)}"
                  + (f", {world.size} processes" if world.active else ""))
        history = fit(model, train, test, epochs=epochs, batch_size=batch_size, lr=lr,
                      label_smoothing=settings["label_smoothing"], augment=settings["make_augment"](),
                      device=dev, compile=args.compile, seed=args.seed, checkpoint=args.checkpoint,
                      resume=args.resume, progress=not args.no_progress, target_acc=args.target_acc)
        checksums = _checksums(model, world)
        if world.is_main:
            record = _record(args, train=train, test=test, dev=dev, world_size=world.size, epochs=epochs,
                             batch_size=batch_size, lr=lr, history=history, checksums=checksums)
            _report(record, history, args.json)
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

    def error(self, message: str) -> Any:  # never returns: exits
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
    t.add_argument("--target-acc", type=_positive_float, default=None,
                   help="stop once the test accuracy reaches this (percent)")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    t.set_defaults(func=train_command)


    b = sub.add_parser("bench", help="the usual PyTorch loop against cnnbook's, on MNIST and LeNet-5")
    add_arguments(b)
    b.set_defaults(func=bench_command)
    return parser


def _raised_on_purpose(err: BaseException) -> bool:
    """True if ``err`` was raised by a ``raise`` statement in cnnbook's own code: the innermost
    frame of its traceback is cnnbook's and the instruction there is a raise. An error that a
    builtin or torch raised while cnnbook's code called it (``int("x")``, a bad unpacking, a shape
    mismatch) is a bug, even when it passes through cnnbook, and keeps its traceback."""
    tb = err.__traceback__
    if tb is None:
        return False
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    if not Path(code.co_filename).resolve().is_relative_to(_PACKAGE):
        return False
    return any(ins.offset == tb.tb_lasti and ins.opname.startswith("RAISE") for ins in dis.get_instructions(code))


def _is_usage_error(err: BaseException) -> bool:
    """A mistake the user can fix, shown as one line: an error of a class cnnbook defines (all
    raised on purpose: CheckpointError, DataFileError, TrainingDivergedError, ...); a ValueError
    or OSError that cnnbook raised on purpose (an argument out of range, naming it); an OSError
    about a named file (a folder that is a file, an unwritable JSON record). Anything else is a
    bug and keeps its traceback: shape errors, CUDA out-of-memory, TypeErrors (the command line
    passes the types it should), a ValueError from inside torch."""
    module = type(err).__module__
    if module == "cnnbook" or module.startswith("cnnbook."):
        return True
    if isinstance(err, OSError) and err.filename is not None:
        return True
    return isinstance(err, (ValueError, OSError)) and _raised_on_purpose(err)


def _interrupted(args: argparse.Namespace, argv: list[str]) -> str:
    """The message after Ctrl-C: for ``train`` with a checkpoint, the command that resumes."""
    if args.command != "train":
        return "error: interrupted"
    if not args.checkpoint:
        return "error: interrupted (no checkpoint: add --checkpoint FILE to a run to be able to resume it)"
    again = argv if "--resume" in argv else [*argv, "--resume"]
    held = ("holds every completed epoch" if os.path.lexists(args.checkpoint)
            else "was not written yet (no epoch completed)")
    return (f"error: interrupted; the checkpoint {args.checkpoint} {held}. To continue: "
            f"python -m cnnbook {shlex.join(again)}")


def _tolerant_output() -> None:
    """Let stdout and stderr write any string: a character the stream's encoding lacks (a file
    name's stray byte, kept by Python as a lone surrogate) is written as an escape, not a crash."""
    for stream in (sys.stdout, sys.stderr):
        reconfigure = getattr(stream, "reconfigure", None)
        if reconfigure is not None:
            with contextlib.suppress(ValueError, OSError):
                reconfigure(errors="backslashreplace")


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``python -m cnnbook``; returns the exit status: 0 when done, 2 after a
    mistake the user can fix (one line, ``error: ...``; see :func:`_is_usage_error`), 130 after
    Ctrl-C (with the command that resumes the run, if it has a checkpoint). Any other exception (a
    bug, CUDA out of memory) propagates with its traceback."""
    argv = list(sys.argv[1:] if argv is None else argv)
    _tolerant_output()
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        print(printable(_interrupted(args, argv)), file=sys.stderr)
        return 130
    except Exception as err:
        if not _is_usage_error(err):
            raise
        print(f"error: {printable(' '.join(str(err).split()) or type(err).__name__)}", file=sys.stderr)
        return 2
