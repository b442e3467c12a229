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
import typing
from dataclasses import Field, asdict, fields, replace
from pathlib import Path
from typing import Any, Callable, Sequence

import torch
import torch.nn as nn

from . import distributed
from .bench import add_arguments, bench_command  # the bench's options live with the bench
from .data import ImageDataset, pad_images
from .errors import printable
from .recipes import RECIPES, Recipe, choose_device, load_data
from .runtime import hardware
from .settings import Settings
from .train import History, amp_dtype, fit

__all__ = ["main", "build_parser", "train_command", "add_setting_options"]

_PACKAGE = Path(__file__).resolve().parent


def _param_checksum(model: nn.Module) -> float:
    return float(sum(p.detach().double().sum().item() for p in model.parameters()))


def _record(args: argparse.Namespace, *, train: ImageDataset, test: ImageDataset, dev: torch.device,
            world_size: int, settings: Settings, history: History, checksums: list[Any]) -> dict[str, Any]:
    """The JSON record of a ``train`` run."""
    return {
        "model": args.model,
        "dataset": train.name,
        "data_source": train.source,
        "device": str(dev),
        "precision": str(amp_dtype(dev, settings.amp) or torch.float32).replace("torch.", ""),
        "hardware": hardware(dev),
        "torch": torch.__version__,
        "world_size": world_size,
        "train_size": len(train),
        "test_size": len(test),
        "epochs": history.epochs_done,  # fewer than planned if stopped early
        "epochs_planned": settings.epochs,
        "batch_size": settings.batch_size,
        "lr": settings.lr,
        "seed": settings.seed,
        "quick": bool(args.quick),
        "settings": asdict(settings),
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


def _settings(args: argparse.Namespace, recipe: Recipe) -> Settings:
    """The recipe's settings for the run's epochs (the recipe's, or 1 with --quick), with the
    options given on the command line replaced."""
    given = {f.name: getattr(args, f.name) for f in fields(Settings) if getattr(args, f.name) is not None}
    epochs = given.pop("epochs", 1 if args.quick else recipe.settings.epochs)
    return replace(recipe.for_epochs(epochs), **given)


def _describe(name: str, train: ImageDataset, test: ImageDataset, s: Settings, dev: torch.device,
              world: distributed.World) -> str:
    """The line that says what is about to be trained."""
    lr = f"lr {s.lr:g}" if s.lr is not None else f"{s.optimizer}'s default lr"
    return (f"Training {name} on {train.name} ({len(train):,} train / {len(test):,} test images) for {s.epochs} "
            f"epoch(s), batch {s.batch_size}, {lr}, on {hardware(dev)}"
            + (f", {world.size} processes" if world.active else ""))


def train_command(args: argparse.Namespace) -> int:
    """Run ``train`` with parsed arguments; return the exit status."""
    recipe = RECIPES[args.model]
    settings = _settings(args, recipe)
    with distributed.joined(choose_device(args.device)) as (dev, world):
        if settings.seed is not None:
            torch.manual_seed(settings.seed)
        train, test = load_data(recipe.dataset, args.data_root, quick=args.quick, verbose=world.is_main)
        train, test = pad_images(train, recipe.pad), pad_images(test, recipe.pad)
        model = recipe.make_model()
        if world.is_main:
            print(_describe(args.model, train, test, settings, dev, world))
        history = fit(model, train, test, settings, device=dev, checkpoint=args.checkpoint, resume=args.resume,
                      progress=not args.no_progress)
        checksums = _checksums(model, world)
        if world.is_main:
            record = _record(args, train=train, test=test, dev=dev, world_size=world.size, settings=settings,
                             history=history, checksums=checksums)
            _report(record, history, args.json)
        return 0


def _parse_setting(f: Field[Any], kinds: set[Any]) -> Callable[[str], Any]:
    """An argparse ``type``: the text as a value of the field ``f`` (of one of ``kinds``), checked by
    the field's own check."""
    def parse(text: str) -> Any:
        try:
            value: Any = text
            if float in kinds:
                value = float(text)
                value = int(value) if int in kinds and value.is_integer() else value
            elif int in kinds:
                value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected {'a number' if float in kinds else 'a whole number'}, "
                                             f"got {text!r}") from None
        try:
            return f.metadata["check"](f.name, value)
        except (TypeError, ValueError) as err:
            raise argparse.ArgumentTypeError(str(err)) from None
    return parse


def add_setting_options(parser: argparse.ArgumentParser) -> None:
    """One option per field of :class:`~cnnbook.settings.Settings` (``--batch-size`` for
    ``batch_size``; ``--flip``/``--no-flip`` for a flag), with the field's help and check; each
    defaults to None, that is to the recipe's value."""
    group = parser.add_argument_group("training settings (default: the model's recipe, cnnbook.recipes)")
    hints = typing.get_type_hints(Settings)
    for f in fields(Settings):
        flag, kinds = "--" + f.name.replace("_", "-"), set(typing.get_args(hints[f.name])) or {hints[f.name]}
        if bool in kinds:
            group.add_argument(flag, action=argparse.BooleanOptionalAction, default=None, help=f.metadata["help"])
        else:
            group.add_argument(flag, type=_parse_setting(f, kinds - {type(None)}), default=None,
                               choices=f.metadata.get("choices"), help=f.metadata["help"])


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
    t.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: cuda if available)")
    t.add_argument("--quick", action="store_true", help="a smoke test: a small subset, 1 epoch")
    t.add_argument("--json", default=None, metavar="FILE", help="write the results to FILE as JSON")
    t.add_argument("--checkpoint", default=None, metavar="FILE", help="save a checkpoint after every epoch")
    t.add_argument("--resume", action="store_true", help="continue from --checkpoint")
    t.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_setting_options(t)
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
