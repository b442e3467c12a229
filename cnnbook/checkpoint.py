"""Checkpoints of a training run: written atomically, read without running any code.

:func:`cnnbook.fit` saves one after every epoch (``checkpoint=``) and continues from it
(``resume=True``); no chapter teaches this module directly. A checkpoint is a dict of plain
data -- tensors, numbers, strings, lists, tuples and dicts -- saved with ``torch.save``::

    save_checkpoint("run.pt", state)                      # state: plain data, "format" added
    state = load_checkpoint("run.pt", model=model, settings={"epochs": 3, ...})

Reading uses ``torch.load(..., weights_only=True)`` only, so a file that asks the unpickler for
anything else (a function, a class: the way a hostile pickle runs code) is refused before any of
it runs. Everything else that can be wrong with a file -- truncated, not a checkpoint, of another
model, of a run with other settings, of a newer format -- raises :class:`CheckpointError`, one
line naming the file and what is wrong.

Writing goes to a temporary file in the same folder, then ``os.replace`` puts it in place: a
process killed while writing leaves the last complete checkpoint (and a stray ``.tmp`` file that
the next save overwrites).
"""

from __future__ import annotations

import math
import os
import pickle
import pickletools
import re
import warnings
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

__all__ = ["FORMAT_VERSION", "CheckpointError", "load_checkpoint", "restore", "save_checkpoint"]

# The layout of a checkpoint; raise it whenever a change makes older readers misread new files.
FORMAT_VERSION = 1
# What every checkpoint of cnnbook.fit holds besides "format" and "settings".
REQUIRED = ("model", "optimizer", "scheduler", "scaler", "history", "epoch", "epochs", "loader_seed", "rng")

# Pickle instructions that import a name (GLOBAL, INST, STACK_GLOBAL): how a pickle reaches code.
_IMPORTS = {ord("c"), ord("i"), 0x93}
_PLAIN = (Tensor, str, bytes, int, float, bool, type(None), torch.dtype, torch.device, torch.Size)

# Called with the temporary file's path after it is written and before it replaces the checkpoint
# (tests use it to kill the process exactly there); None in normal use.
_before_replace: Callable[[Path], None] | None = None


class CheckpointError(ValueError):
    """A checkpoint file cannot be used: hostile, damaged, not cnnbook's, or of another model or
    run. ``path`` names the file; the message says what is wrong and what to do."""

    def __init__(self, path: str | os.PathLike, problem: str, advice: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        text = f"checkpoint {path}: {problem}" + (f"; {advice}" if advice else "")
        super().__init__(" ".join(text.split()))  # one line, always


# ----------------------------------------------------------------------------- saving


def _check_plain(obj: object, where: str = "state") -> None:
    """Raise TypeError unless ``obj`` is plain data that ``torch.load(weights_only=True)`` reads."""
    if isinstance(obj, Mapping):
        for key, value in obj.items():
            if not isinstance(key, (str, int)):
                raise TypeError(f"{where}: checkpoint keys must be str or int, got {type(key).__name__}")
            _check_plain(value, f"{where}[{key!r}]")
    elif isinstance(obj, (list, tuple)):
        for i, value in enumerate(obj):
            _check_plain(value, f"{where}[{i}]")
    elif not isinstance(obj, _PLAIN):
        raise TypeError(f"{where}: a checkpoint holds only tensors, numbers, strings, lists and dicts, "
                        f"got {type(obj).__name__}")


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` (plain data, see :func:`load_checkpoint`) to ``path`` atomically, with the
    key ``"format"`` set to :data:`FORMAT_VERSION`; return the path. Used by :func:`cnnbook.fit` (no
    chapter teaches it directly).

    The data goes to ``path + ".tmp"`` in the same folder, is flushed to disk, and then replaces
    ``path`` in one step: a crash at any moment leaves either the old or the new checkpoint whole.
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    state = {**state, "format": FORMAT_VERSION}
    _check_plain(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    try:
        with open(tmp, "wb") as f:
            torch.save(state, f)
            f.flush()
            os.fsync(f.fileno())
        if _before_replace is not None:
            _before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_folder(path.parent)
    return path


def _fsync_folder(folder: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


# ----------------------------------------------------------------------------- loading


def _asked_for(path: Path) -> str | None:
    """What a raw (not zip) pickle of protocol 2 or later asks the unpickler to import, read op by
    op without running anything: a name such as ``builtins.exec``, ``""`` for an import whose name
    is not a plain string, ``None`` when it asks for none or is no such pickle. (torch's safe
    reader stops at protocol 4's frames before it sees the import.)"""
    if zipfile.is_zipfile(path):
        return None
    strings: list[str] = []  # the strings pushed so far, and those fetched back from the memo
    memo: dict[int, str] = {}
    memoized = 0  # MEMOIZE numbers its entries 0, 1, 2, ...
    top: str | None = None  # the string on top of the stack, if the top is one
    try:
        with open(path, "rb") as f:
            for i, (op, arg, _) in enumerate(pickletools.genops(f)):
                if i == 0 and op.name != "PROTO":  # random bytes are seldom a pickle's start
                    return None
                if op.name in ("GLOBAL", "INST"):  # arg: "module name"
                    return str(arg).replace(" ", ".")
                if op.name == "STACK_GLOBAL":  # module and name: the last two strings
                    return ".".join(strings[-2:]) if len(strings) >= 2 else ""
                if isinstance(arg, str) and "UNICODE" in op.name:
                    strings.append(arg)
                    top = arg
                elif op.name in ("MEMOIZE", "PUT", "BINPUT", "LONG_BINPUT"):
                    index = memoized if op.name == "MEMOIZE" else int(str(arg))
                    memoized += op.name == "MEMOIZE"
                    if top is not None:
                        memo[index] = top
                elif op.name in ("GET", "BINGET", "LONG_BINGET"):
                    top = memo.get(int(str(arg)))
                    strings += [top] if top is not None else []
                else:
                    top = None
    except Exception:  # noqa: BLE001 -- not a pickle, or a damaged one: it asks for nothing
        return None
    return None


def _read(path: Path, map_location: Any) -> dict:
    """torch.load with weights_only=True; every failure becomes a CheckpointError."""
    if not path.is_file():
        raise CheckpointError(path, "no such file" if not path.exists() else "not a file")
    try:
        with warnings.catch_warnings():  # e.g. "Detected pickle protocol 4": the error below says more
            warnings.simplefilter("ignore", UserWarning)
            state = torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as err:
        found = re.search(r"GLOBAL\s+([\w.]+)", str(err))
        operand = re.search(r"Unsupported operand (\d+)", str(err))
        asked = found.group(1) if found else _asked_for(path)
        if asked is None and (operand is None or int(operand.group(1)) not in _IMPORTS):
            raise CheckpointError(path, "the file is truncated, damaged or not a PyTorch checkpoint "
                                  "(its pickle cannot be read)", "delete it to start the run afresh") from None
        what = f"{asked}, " if asked else ""
        raise CheckpointError(path, f"refusing to load it: it asks for {what}something other than tensors "
                              f"and plain data, the way a pickle runs code",
                              "a cnnbook checkpoint never does; do not use this file") from None
    except Exception as err:  # noqa: BLE001 -- a damaged file fails inside torch in many ways
        first = str(err).splitlines()[0][:200] if str(err) else ""
        raise CheckpointError(path, f"the file is truncated, damaged or not a PyTorch checkpoint "
                              f"({type(err).__name__}: {first})",
                              "delete it to start the run afresh") from None
    if not isinstance(state, dict):
        raise CheckpointError(path, f"not a cnnbook checkpoint: it holds a {type(state).__name__}, not a dict")
    return state


def _check_format(path: Path, state: dict) -> None:
    version = state.get("format")
    if version is None:
        missing = [k for k in REQUIRED if k not in state]
        raise CheckpointError(path, "not a cnnbook checkpoint: it has no format version"
                              + (f" and lacks {', '.join(missing)}" if missing else ""))
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(path, f"not a cnnbook checkpoint: its format version is {version!r}")
    if version > FORMAT_VERSION:
        raise CheckpointError(path, f"written in checkpoint format {version} by a newer cnnbook; this one "
                              f"reads format {FORMAT_VERSION} and older", "upgrade cnnbook to resume it")
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(path, f"the checkpoint lacks {', '.join(missing)}")


def _is_number(x: object, allow_none: bool = False) -> bool:
    return (x is None and allow_none) or (isinstance(x, (int, float)) and not isinstance(x, bool))


def _check_types(path: Path, state: dict) -> None:
    """The small fields: numbers where numbers belong, the history as lists of numbers."""
    for key in ("model", "optimizer", "scheduler", "scaler", "rng", "history"):
        if not isinstance(state[key], dict):
            raise CheckpointError(path, f"'{key}' must be a dict, found {type(state[key]).__name__}")
    if isinstance(state["epoch"], bool) or not isinstance(state["epoch"], int) or state["epoch"] < 0:
        raise CheckpointError(path, f"'epoch' must be an int >= 0, found {state['epoch']!r}")
    if not isinstance(state["loader_seed"], int) or isinstance(state["loader_seed"], bool):
        raise CheckpointError(path, f"'loader_seed' must be an int, found {state['loader_seed']!r}")
    for name, values in state["history"].items():
        if not isinstance(values, list) or not all(_is_number(v, allow_none=True) for v in values):
            raise CheckpointError(path, f"history '{name}' must be a list of numbers")
    cpu = state["rng"].get("cpu")
    if not isinstance(cpu, Tensor) or cpu.dtype != torch.uint8 or cpu.shape != torch.get_rng_state().shape:
        raise CheckpointError(path, "'rng' must hold the CPU generator's state (a uint8 tensor of "
                              f"{torch.get_rng_state().numel()} bytes)")
    for name, value in state["model"].items():
        if not isinstance(value, Tensor):
            raise CheckpointError(path, f"model entry {name!r} is a {type(value).__name__}, not a tensor")


def _list(names: list[str], most: int = 4) -> str:
    shown = ", ".join(names[:most])
    return shown + (f" and {len(names) - most} more" if len(names) > most else "")


def _check_model(path: Path, saved: dict, model: nn.Module) -> None:
    """The saved parameters and buffers must have the model's names and shapes: say which differ."""
    want = model.state_dict()
    missing = [k for k in want if k not in saved]
    extra = [k for k in saved if k not in want]
    shapes = [f"{k} {tuple(saved[k].shape)} in the file, {tuple(want[k].shape)} in the model"
              for k in want if k in saved and saved[k].shape != want[k].shape]
    problems = []
    if missing:
        problems.append(f"missing {_list(missing)}")
    if extra:
        problems.append(f"unexpected {_list(extra)}")
    if shapes:
        problems.append(f"shapes differ: {_list(shapes, 3)}")
    if problems:
        raise CheckpointError(path, f"it was saved from another model ({'; '.join(problems)})",
                              "resume with the model that wrote it, or use another checkpoint file")


def _same(a: object, b: object) -> bool:
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-12)
    return a == b


def _check_settings(path: Path, state: dict, settings: Mapping[str, Any]) -> None:
    saved = state.get("settings", {})
    saved = {"epochs": state["epochs"], **(saved if isinstance(saved, dict) else {})}
    bad = [k for k, v in settings.items() if k in saved and not _same(saved[k], v)]
    if bad:
        differ = [f"{k} {saved[k]!r} in the file, {settings[k]!r} now" for k in bad]
        resume = ", ".join(f"{k}={saved[k]!r}" for k in bad)
        raise CheckpointError(path, f"it belongs to a run with other settings ({'; '.join(differ)})",
                              f"resume it with {resume}, or use another checkpoint file")


def load_checkpoint(path: str | os.PathLike, *, model: nn.Module | None = None,
                    settings: Mapping[str, Any] | None = None, map_location: Any = "cpu") -> dict:
    """Read and check a checkpoint written by :func:`save_checkpoint` for :func:`cnnbook.fit`;
    return its dict. Used by :func:`cnnbook.fit` with ``resume=True`` (no chapter teaches it directly).

    Loads with ``torch.load(weights_only=True)``: tensors and plain data only, nothing runs.
    ``model``: its parameter names and shapes must match the saved ones. ``settings`` (e.g.
    ``{"epochs": 3, "batch_size": 128, "optimizer": "adamw"}``): each must equal the run's saved
    value. Any problem raises :class:`CheckpointError` naming the file and what is wrong.
    """
    path = Path(path)
    state = _read(path, map_location)
    _check_format(path, state)
    _check_types(path, state)
    if model is not None:
        _check_model(path, state["model"], model)
    if settings:
        _check_settings(path, state, settings)
    return state


def restore(path: str | os.PathLike, state: dict, **parts: Any) -> None:
    """Load ``state[name]`` into each ``parts[name]`` (model, optimizer, scheduler, scaler: anything
    with ``load_state_dict``); a mismatch raises :class:`CheckpointError` naming the part. Used by
    :func:`cnnbook.fit` (no chapter teaches it directly)."""
    for name, part in parts.items():
        try:
            part.load_state_dict(state[name])
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as err:
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise CheckpointError(path, f"its {name} state does not fit this run ({first})",
                                  "resume with the settings that wrote it, or use another checkpoint file") from None
