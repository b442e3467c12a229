"""Checkpoints of a training run: tensors in safetensors, the rest in JSON, nothing that runs code.

:func:`cnnbook.fit` saves one after every epoch (``checkpoint=``) and continues from it
(``resume=True``); no chapter teaches this module directly::

    save_checkpoint("run.pt", state)    # tensors, numbers, strings, lists, tuples and dicts
    state = load_checkpoint("run.pt", model=model, settings={"epochs": 3, ...})

**The file** (checkpoint format 2) is one `safetensors <https://huggingface.co/docs/safetensors>`_
file, whatever its name (the chapters call it ``run.pt``):

* its tensors are every tensor of the state, named by where they sit (``model.0.weight``,
  ``optimizer.state.0.exp_avg``, ``rng.cpu``);
* its metadata holds two strings: ``cnnbook``, a JSON document with everything else (the format
  version, the run's settings, the history, the epoch, the optimizer's and the scheduler's
  numbers), where each tensor appears as ``{"$tensor": "model.0.weight"}``; and
  ``cnnbook_sha256``, the SHA-256 of the whole file as written, these 64 digits read as zeros.

One file, so a reader never sees half of a pair; safetensors, so reading runs no code and
allocates nothing the file does not hold. Checkpoints of format 1 (``torch.save`` files, which
can run code when read, written by cnnbook before this format) are recognised by their first
bytes, never read further, and refused: such a run cannot be resumed by this version.

**Reading** checks, in this order, each problem raising :class:`CheckpointError` (one line naming
the file, what is wrong and what to do): the file can be opened and read; its header is at most
:data:`MAX_HEADER` bytes and valid JSON; the SHA-256 matches (so a flipped byte anywhere is
caught before any tensor is read); the tensors and the document decode; and then, against the
run: every required part is there with the right types, ranges and lengths, the model's
parameter names, shapes and dtypes, the settings, the optimizer's, scheduler's and scaler's
state (compared with the fresh ones of the run: same keys, kinds and lengths; optimizer state
shaped as the parameters), the random generators' states (tried on a spare generator), the
number of schedule steps. No message ever prints a structure read from the file, only its type
and size, so a hostile one costs no time.

**Writing** goes to a new temporary file in the target's folder (``tempfile.mkstemp``: a name
never used before, created without following any link), which is flushed to disk and then moved
over the target with ``os.replace``, and the folder is flushed too: a crash at any moment leaves
either the old or the new checkpoint whole (and, if killed between the two, a stray
``.NAME.*.tmp`` file that may be deleted). A link planted at the target is replaced, never
followed; two writers never share a temporary file.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import math
import os
import re
import stat
import tempfile
from collections.abc import Callable, Collection, Mapping
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from .errors import CnnbookError, printable

__all__ = ["FORMAT_VERSION", "MAX_HEADER", "CheckpointError", "load_checkpoint", "read_checkpoint", "restore",
           "save_checkpoint"]

# The layout of a checkpoint; raise it whenever a change makes older readers misread new files.
# 1: torch.save files (no longer read); 2: safetensors with a JSON document and a SHA-256.
FORMAT_VERSION = 2
# What every checkpoint of cnnbook.fit holds besides "format".
REQUIRED = ("model", "optimizer", "scheduler", "scaler", "history", "epoch", "epochs", "loader_seed", "rng",
            "settings")
# The largest safetensors header (its tensor table and the JSON document) a checkpoint may have:
# a LeNet-5 run's measured 7.7 KB after one epoch, each further epoch of history adding about 90 bytes.
MAX_HEADER = 16 << 20
MAX_DEPTH = 32  # nesting of the JSON document (fit's is at most 6 deep)
_HASH_KEY = "cnnbook_sha256"
_ZEROS = "0" * 64
_ADVICE_DAMAGED = "start the run afresh without resuming, or resume from another checkpoint file"
_ADVICE_OTHER_RUN = "resume with the settings and model that wrote it, or use another checkpoint file"

# Called with the temporary file's path after it is written and before it replaces the checkpoint
# (tests use it to kill the process exactly there); None in normal use.
_before_replace: Callable[[Path], None] | None = None


class CheckpointError(CnnbookError, ValueError):
    """A checkpoint file cannot be used: unreadable, damaged, hostile, of an older format, not
    cnnbook's, or of another model or run. ``path`` names the file; the message (one line) says
    what is wrong and what to do."""

    def __init__(self, path: str | os.PathLike, problem: str, advice: str = "") -> None:
        self.path = Path(path)
        self.problem = problem
        text = f"checkpoint {printable(path)}: {problem}" + (f"; {advice}" if advice else "")
        super().__init__(" ".join(text.split()))  # one line, always


def _short(value: object) -> str:
    """``value`` for a message, bounded whatever it is: a scalar's repr (cut at 60 characters),
    only the type and size of a container (its repr could take exponential time)."""
    if value is None or isinstance(value, (bool, int, float, str)):
        small = value[:61] if isinstance(value, str) else value  # a long string is never copied whole
        text = repr(small) if not isinstance(value, int) or abs(value) < 10**30 else "a huge int"
        return text if len(text) <= 60 else text[:57] + "..."
    if isinstance(value, Tensor):
        return f"a {str(value.dtype).replace('torch.', '')} tensor of shape {tuple(value.shape)}"
    if isinstance(value, (list, tuple, dict)):
        return f"a {type(value).__name__} of {len(value)} items"
    return f"a {type(value).__name__}"


def _kind(value: object) -> str:
    """What ``value`` is, in two words: ``a number``, ``a str``, ``None``, ``a list``."""
    return "a number" if _is_number(value) else "None" if value is None else f"a {type(value).__name__}"


def _key(key: object) -> str:
    """A key read from a file, for a message: short and printable (a string without quotes)."""
    return printable(key if isinstance(key, str) and len(key) <= 60 else _short(key))


def _is_number(x: object) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


# ----------------------------------------------------------------------------- the JSON document


def _unique(name: str, tensors: Mapping[str, Tensor]) -> str:
    n, candidate = 1, name
    while candidate in tensors:
        n += 1
        candidate = f"{name}~{n}"
    return candidate


def _encode(obj: object, where: str, tensors: dict[str, Tensor]) -> Any:
    """``obj`` as JSON data, each tensor moved to ``tensors`` (a CPU copy) and replaced by
    ``{"$tensor": name}``; tuples, dicts with int keys and non-finite floats get markers too.
    TypeError naming the place for anything else."""
    if isinstance(obj, Tensor):
        name = _unique(where, tensors)
        tensors[name] = obj.detach().to("cpu", copy=True).contiguous()
        return {"$tensor": name}
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else {"$float": repr(obj)}
    if isinstance(obj, (list, tuple)):
        items = [_encode(v, f"{where}.{i}", tensors) for i, v in enumerate(obj)]
        return {"$tuple": items} if isinstance(obj, tuple) else items
    if isinstance(obj, Mapping):
        if obj and all(isinstance(k, int) and not isinstance(k, bool) for k in obj):
            return {"$int_keys": {str(k): _encode(v, f"{where}.{k}", tensors) for k, v in obj.items()}}
        for key in obj:
            if not isinstance(key, str) or key.startswith("$"):
                raise TypeError(f"{where or 'state'}: checkpoint keys must be strings not starting with '$' "
                                f"(or all ints), got {key!r}")
        return {k: _encode(v, f"{where}.{k}" if where else k, tensors) for k, v in obj.items()}
    raise TypeError(f"{where or 'state'}: a checkpoint holds only tensors, numbers, strings, lists and dicts, "
                    f"got {type(obj).__name__}")


def _at(where: str, key: object) -> str:
    """The place of ``key`` inside ``where``, for messages: at most 100 characters, so that long
    keys read from a file cost no time however many places they name."""
    return (f"{where}.{key}" if where else str(key))[:100]


class _Decoder:
    """The inverse of :func:`_encode` for a document read from ``path``: every tensor used once,
    nesting at most :data:`MAX_DEPTH`; anything else raises CheckpointError."""

    def __init__(self, path: Path, tensors: dict[str, Tensor]) -> None:
        self.path, self.tensors, self.used = path, tensors, set[str]()

    def fail(self, where: str, problem: str) -> CheckpointError:
        place = printable(where[:80]) or "its document"
        return CheckpointError(self.path, f"not a valid cnnbook checkpoint: {place} {problem}")

    def decode(self, value: Any, where: str = "", depth: int = 0) -> Any:
        if depth > MAX_DEPTH:
            raise self.fail(where, f"is nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            return [self.decode(v, _at(where, i), depth + 1) for i, v in enumerate(value)]
        if not isinstance(value, dict):
            return value
        if len(value) == 1 and next(iter(value)).startswith("$"):
            return self.marker(*next(iter(value.items())), where=where, depth=depth)
        if any(k.startswith("$") for k in value):
            raise self.fail(where, "mixes a '$' marker with other keys")
        return {k: self.decode(v, _at(where, k), depth + 1) for k, v in value.items()}

    def marker(self, tag: str, value: Any, *, where: str, depth: int) -> Any:
        if tag == "$tensor" and isinstance(value, str) and value in self.tensors and value not in self.used:
            self.used.add(value)
            return self.tensors[value]
        if tag == "$float" and value in ("nan", "inf", "-inf"):
            return float(value)
        if tag == "$tuple" and isinstance(value, list):
            return tuple(self.decode(value, where, depth + 1))
        if tag == "$int_keys" and isinstance(value, dict) and all(re.fullmatch(r"-?\d{1,18}", k) for k in value):
            return {int(k): self.decode(v, _at(where, k), depth + 1) for k, v in value.items()}
        raise self.fail(where, f"holds a {tag[:20]!r} marker with {_kind(value)} it cannot hold"
                        + (" (a tensor missing or used twice)" if tag == "$tensor" else ""))

    def finish(self, doc: Any) -> dict:
        state = self.decode(doc)
        unused = sorted(set(self.tensors) - self.used)
        if unused:
            raise self.fail("", f"holds {len(unused)} tensor(s) no part refers to, e.g. {_short(unused[0])}")
        return state


# ----------------------------------------------------------------------------- saving


def save_checkpoint(path: str | os.PathLike, state: Mapping[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, None, lists, tuples and dicts with str or int
    keys; nothing else) to ``path`` atomically as one safetensors file, the key ``"format"`` set to
    :data:`FORMAT_VERSION`; return the path. Used by :func:`cnnbook.fit` (no chapter teaches it).

    Anything else in ``state`` raises TypeError naming where it sits, before any file is made.
    A crash at any moment leaves either the old or the new checkpoint whole (see the module).
    """
    if not isinstance(state, Mapping):
        raise TypeError(f"state must be a dict, got {type(state).__name__}")
    tensors: dict[str, Tensor] = {}
    doc = json.dumps(_encode({**state, "format": FORMAT_VERSION}, "", tensors), allow_nan=False,
                     separators=(",", ":"))
    from safetensors import torch as st  # lazy: `import cnnbook` needs torch alone

    blob = st.save(tensors, metadata={"cnnbook": doc, _HASH_KEY: _ZEROS})
    size = int.from_bytes(blob[:8], "little")
    if size > MAX_HEADER:
        raise ValueError(f"state is too large for a checkpoint's JSON document ({size:,} bytes, most {MAX_HEADER:,})")
    slot = _hash_slot(blob[8:8 + size], _ZEROS)
    if slot < 0:  # cannot happen: inside the document's string every quote is escaped
        raise RuntimeError("cnnbook bug: the checksum's place in the checkpoint header is not unique")
    slot += 8
    digest = hashlib.sha256(blob).hexdigest().encode()  # the slot still holds zeros
    view = memoryview(blob)
    return _write_atomically(Path(path), (view[:slot], digest, view[slot + 64:]))


def _hash_slot(header: bytes, digest: str) -> int:
    """Where in the safetensors ``header`` the 64 hex digits of the checksum sit; -1 if they do
    not appear exactly once."""
    mark = f'"{_HASH_KEY}":"{digest}"'.encode()
    at = header.find(mark)
    if at < 0 or header.find(mark, at + 1) >= 0:
        return -1
    return at + len(mark) - 65


def _write_atomically(path: Path, pieces: Collection[bytes | memoryview]) -> Path:
    """Write ``pieces`` to a new temporary file beside ``path``, flush it to disk, move it over
    ``path`` (a link there is replaced, not followed) and flush the folder."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as f:
            with contextlib.suppress(OSError, AttributeError):  # mkstemp made it 0600: as open() would
                os.fchmod(f.fileno(), 0o666 & ~_umask())
            for piece in pieces:
                f.write(piece)
            f.flush()
            os.fsync(f.fileno())
        if _before_replace is not None:
            _before_replace(tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    _fsync_folder(path.parent)
    return path


def _umask() -> int:
    """The process's umask, read without changing it (Linux); 0o022 where it cannot be read."""
    try:
        status = Path("/proc/self/status").read_text()
        return int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("Umask:")), 8)
    except (OSError, StopIteration, ValueError, IndexError):
        return 0o022


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


# ----------------------------------------------------------------------------- reading the file


def _open(path: Path) -> int:
    """A descriptor of the regular file at ``path``; CheckpointError saying why not (a missing,
    unreadable or special file is never called damaged). A FIFO cannot block the open."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))
    except FileNotFoundError:
        raise CheckpointError(path, "no such file") from None
    except PermissionError:
        raise CheckpointError(path, "the file cannot be read: permission denied",
                              "give yourself read permission on it (it was not changed)") from None
    except OSError as err:
        raise CheckpointError(path, f"the file cannot be opened ({err.strerror})") from None
    if not stat.S_ISREG(os.fstat(fd).st_mode):
        os.close(fd)
        raise CheckpointError(path, "not a regular file")
    return fd


def _is_old_format(head: bytes) -> bool:
    """Format 1's first bytes: torch's zip container, or torch's older format (Python's PROTO
    opcode, protocol 2 to 5). A safetensors header length can start with those two bytes too
    (0x0280 is 640), but its header then opens with ``{`` at byte 8."""
    proto = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
    return head.startswith(b"PK\x03\x04") or (proto and head[8:9] != b"{")


def _read_bytes(path: Path) -> bytes:
    """The whole file, after checking its first bytes and the size its header announces."""
    with os.fdopen(_open(path), "rb") as f:
        try:
            size = os.fstat(f.fileno()).st_size
            head = f.read(9)
            if _is_old_format(head):
                raise CheckpointError(path, "it was written by an older cnnbook (checkpoint format 1, a torch.save "
                                      "file, which can run code when read), which this version never reads, so it "
                                      "cannot be resumed",
                                      "start the run afresh with another checkpoint file (this one is left as it is)")
            if size < 8:
                raise CheckpointError(path, f"not a cnnbook checkpoint: the file has {size} byte(s)", _ADVICE_DAMAGED)
            announced = int.from_bytes(head[:8], "little")
            if announced > MAX_HEADER or 8 + announced > size:
                raise CheckpointError(path, f"truncated, damaged or not a cnnbook checkpoint: its first bytes "
                                      f"announce a header of {announced:,} bytes in a file of {size:,} (at most "
                                      f"{MAX_HEADER:,} in a checkpoint)", _ADVICE_DAMAGED)
            f.seek(0)
            return f.read(size)  # what fstat promised, no more
        except OSError as err:
            raise CheckpointError(path, f"the file cannot be read ({err.strerror})") from None


def _metadata(path: Path, blob: bytes) -> tuple[str, str]:
    """The JSON document and the checksum from the safetensors header of ``blob``."""
    size = int.from_bytes(blob[:8], "little")
    try:
        header = json.loads(blob[8:8 + size].decode("utf-8"))
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError are ValueErrors
        raise CheckpointError(path, "truncated, damaged or not a cnnbook checkpoint: its header is not valid "
                              "safetensors JSON", _ADVICE_DAMAGED) from None
    meta = header.get("__metadata__") if isinstance(header, dict) else None
    if not isinstance(meta, dict) or not isinstance(meta.get("cnnbook"), str):
        raise CheckpointError(path, "not a cnnbook checkpoint: a safetensors file without cnnbook's metadata",
                              "resume from a checkpoint written by cnnbook.fit")
    digest = meta.get(_HASH_KEY)
    if not isinstance(digest, str) or not re.fullmatch(r"[0-9a-f]{64}", digest):
        raise CheckpointError(path, "damaged: its SHA-256 checksum is missing or malformed", _ADVICE_DAMAGED)
    return meta["cnnbook"], digest


def _check_digest(path: Path, blob: bytes, digest: str) -> None:
    size = int.from_bytes(blob[:8], "little")
    slot = _hash_slot(blob[8:8 + size], digest)
    if slot >= 0:
        slot += 8
        h = hashlib.sha256(memoryview(blob)[:slot])
        h.update(_ZEROS.encode())
        h.update(memoryview(blob)[slot + 64:])
    if slot < 0 or h.hexdigest() != digest:
        raise CheckpointError(path, "damaged: its contents do not match the SHA-256 checksum written with them "
                              "(the file changed after it was saved)", _ADVICE_DAMAGED)


def read_checkpoint(path: str | os.PathLike) -> dict:
    """The state saved in the checkpoint at ``path``, as :func:`save_checkpoint` got it (tensors on
    the CPU, ``"format"`` added), after checking the file's integrity: every byte against the
    checksum before any tensor is read, then the tensors and the document (see the module). It is
    not checked against a run: :func:`load_checkpoint` does that. Any problem raises
    :class:`CheckpointError` naming the file."""
    path = Path(path)
    blob = _read_bytes(path)
    doc, digest = _metadata(path, blob)
    _check_digest(path, blob, digest)
    from safetensors import torch as st  # lazy: `import cnnbook` needs torch alone

    try:
        tensors = st.load(blob)
    except Exception as err:  # noqa: BLE001 -- SafetensorError and friends: refused, whatever they are
        first = printable(str(err).splitlines()[0][:150]) if str(err) else type(err).__name__
        raise CheckpointError(path, f"not a valid cnnbook checkpoint: its tensors cannot be read ({first})",
                              _ADVICE_DAMAGED) from None
    try:
        parsed = json.loads(doc)
    except (ValueError, RecursionError):
        raise CheckpointError(path, "not a valid cnnbook checkpoint: its document is not valid JSON") from None
    if not isinstance(parsed, dict):
        raise CheckpointError(path, f"not a valid cnnbook checkpoint: its document is {_kind(parsed)}, not a dict")
    _check_format(path, parsed.get("format"))
    return _Decoder(path, tensors).finish(parsed)


def _check_format(path: Path, version: object) -> None:
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        raise CheckpointError(path, f"not a valid cnnbook checkpoint: its format version is {_short(version)}")
    if version > FORMAT_VERSION:
        raise CheckpointError(path, f"written in checkpoint format {version} by a newer cnnbook; this one reads "
                              f"format {FORMAT_VERSION}", "upgrade cnnbook to resume it")
    if version < FORMAT_VERSION:
        raise CheckpointError(path, f"written in checkpoint format {version} by an older cnnbook, which this one "
                              "cannot resume", "start the run afresh with another checkpoint file")


# ----------------------------------------------------------------------------- checking against the run


def load_checkpoint(path: str | os.PathLike, *, model: nn.Module | None = None,
                    settings: Mapping[str, Any] | None = None, parts: Mapping[str, Any] | None = None,
                    max_epoch: int | None = None, steps_after: Callable[[int], int] | None = None,
                    history: Collection[str] | None = None, device: torch.device | None = None) -> dict:
    """Read a checkpoint written by :func:`save_checkpoint` for :func:`cnnbook.fit`, check it
    completely and return its state (tensors on the CPU). Used by :func:`cnnbook.fit` with
    ``resume=True`` (no chapter teaches it directly).

    Always checked: the file's integrity (see the module), the parts every checkpoint of fit holds
    (:data:`REQUIRED`) with their types and ranges, history lists all as long as the epochs done,
    the CPU generator's state. The options check it against a run: ``model`` (parameter and
    buffer names, shapes, dtypes); ``settings`` (each must equal the saved one: e.g.
    ``{"epochs": 3, "batch_size": 128}``); ``parts`` (e.g. ``{"optimizer": opt, "scheduler":
    sched}``: the saved state must have the keys, kinds and lengths of ``part.state_dict()``, an
    optimizer's state the shapes of its parameters); ``max_epoch`` (the epochs of the run);
    ``steps_after`` (the schedule steps taken after so many epochs); ``history`` (its field
    names); ``device`` (a CUDA generator's state is tried there). Any problem raises
    :class:`CheckpointError`, one line naming the file.
    """
    path = Path(path)
    state = read_checkpoint(path)
    _check_scalars(path, state, max_epoch)
    _check_history(path, state["history"], state["epoch"], history)
    _check_rng(path, state["rng"], device)
    _check_model(path, state["model"], model)
    if settings is not None:
        _check_settings(path, state["settings"], settings)
    for name, part in (parts or {}).items():
        if isinstance(part, torch.optim.Optimizer):
            _check_optimizer(path, state[name], part)
        else:
            _like(path, state[name], part.state_dict(), name)
    if steps_after is not None:
        steps, want = state["scheduler"].get("last_epoch"), steps_after(state["epoch"])
        if steps != want:
            raise CheckpointError(path, f"its schedule has taken {_short(steps)} steps, but {state['epoch']} "
                                  f"epoch(s) of this run take {want}", _ADVICE_DAMAGED)
    return state


def _check_scalars(path: Path, state: dict, max_epoch: int | None) -> None:
    """The required parts, and the numbers among them."""
    missing = [k for k in REQUIRED if k not in state]
    if missing:
        raise CheckpointError(path, f"not a valid cnnbook checkpoint: it lacks {', '.join(missing)}", _ADVICE_DAMAGED)
    for key in ("model", "optimizer", "scheduler", "scaler", "rng", "history", "settings"):
        if not isinstance(state[key], dict):
            raise CheckpointError(path, f"'{key}' must be a dict, found {_kind(state[key])}")
    epoch, top = state["epoch"], max_epoch if max_epoch is not None else math.inf
    if isinstance(epoch, bool) or not isinstance(epoch, int) or not 0 <= epoch <= top:
        raise CheckpointError(path, f"'epoch' must be an int in [0, {top}] (the epochs of this run), "
                              f"found {_short(epoch)}")
    epochs = state["epochs"]
    if not _is_number(epochs) or not (math.isfinite(epochs) and epochs > 0):
        raise CheckpointError(path, f"'epochs' must be a number > 0, found {_short(epochs)}")
    seed = state["loader_seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or not -(2**63) <= seed < 2**63:
        raise CheckpointError(path, f"'loader_seed' must be a 64-bit int, found {_short(seed)}")


def _check_history(path: Path, history: dict, epoch: int, fields: Collection[str] | None) -> None:
    """One entry per epoch done in each list: numbers, or None for a NaN."""
    if fields is not None and set(history) != set(fields):
        missing, extra = sorted(set(fields) - set(history)), sorted(set(history) - set(fields))
        what = [f"lacks {', '.join(missing)}"] if missing else []
        what += [f"has an unknown list {_key(extra[0])}"] if extra else []
        raise CheckpointError(path, f"its history {' and '.join(what)}", _ADVICE_DAMAGED)
    for name, values in history.items():
        if not isinstance(values, list) or len(values) != epoch:
            size = f"{len(values)} entries" if isinstance(values, list) else _kind(values)
            raise CheckpointError(path, f"history {_key(name)} must be a list of {epoch} numbers (one per epoch "
                                  f"done), found {size}", _ADVICE_DAMAGED)
        if not all(v is None or (_is_number(v) and math.isfinite(v)) for v in values):
            raise CheckpointError(path, f"history {_key(name)} must be a list of numbers", _ADVICE_DAMAGED)


def _check_rng(path: Path, rng: dict, device: torch.device | None) -> None:
    """The CPU generator's state (and CUDA's, if saved): the bytes torch expects, tried on a spare
    generator so that a forged state fails here, naming the file."""
    if "cpu" not in rng or set(rng) - {"cpu", "cuda"}:
        raise CheckpointError(path, f"'rng' must hold 'cpu' (and maybe 'cuda'), found keys "
                              f"{', '.join(_key(k) for k in list(rng)[:4])}")
    for name, value in rng.items():
        like = torch.get_rng_state() if name == "cpu" else None
        ok = isinstance(value, Tensor) and value.dtype == torch.uint8 and value.dim() == 1
        if not ok or (like is not None and value.shape != like.shape) or value.numel() > 1 << 16:
            size = f"{like.numel()} bytes" if like is not None else "bytes"
            raise CheckpointError(path, f"rng {name!r} must be a generator's state (a uint8 tensor of {size}), "
                                  f"found {_short(value)}", _ADVICE_DAMAGED)
        where = torch.device("cpu") if name == "cpu" else device
        if where is None or where.type != name:
            continue
        try:
            torch.Generator(device=where).set_state(value)
        except (RuntimeError, ValueError) as err:
            raise CheckpointError(path, f"rng {name!r} is not a valid generator state "
                                  f"({printable(str(err).splitlines()[0][:100])})", _ADVICE_DAMAGED) from None


def _list(items: list[str], most: int = 4) -> str:
    """The first ``most`` of ``items`` (already printable), and how many more."""
    shown = ", ".join(items[:most])
    return shown + (f" and {len(items) - most} more" if len(items) > most else "")


def _check_model(path: Path, saved: dict, model: nn.Module | None) -> None:
    """Tensors only; with ``model``, its parameter and buffer names, shapes and dtypes."""
    for name, value in saved.items():
        if not isinstance(value, Tensor):
            raise CheckpointError(path, f"model entry {_key(name)} is {_kind(value)}, not a tensor", _ADVICE_DAMAGED)
    if model is None:
        return
    want = model.state_dict()
    missing = [k for k in want if k not in saved]
    extra = [_key(k) for k in saved if k not in want]
    shapes = [f"{k} {tuple(saved[k].shape)} in the file, {tuple(want[k].shape)} in the model"
              for k in want if k in saved and saved[k].shape != want[k].shape]
    dtypes = [f"{k} {saved[k].dtype} in the file, {want[k].dtype} in the model"
              for k in want if k in saved and saved[k].dtype != want[k].dtype]
    problems = [f"{what} {_list(names, 3 if what.endswith(':') else 4)}" for what, names in
                (("missing", missing), ("unexpected", extra), ("shapes differ:", shapes), ("dtypes differ:", dtypes))
                if names]
    if problems:
        raise CheckpointError(path, f"it was saved from another model ({'; '.join(problems)})", _ADVICE_OTHER_RUN)


def _same(a: object, b: object) -> bool:
    if _is_number(a) and _is_number(b):
        return math.isclose(float(a), float(b), rel_tol=1e-12)  # type: ignore[arg-type]
    return type(a) is type(b) and a == b


def _check_settings(path: Path, saved: dict, settings: Mapping[str, Any]) -> None:
    """Each setting of the run is saved, with the same value; the message names every one that differs."""
    bad = [k for k in settings if k not in saved or not _same(saved[k], settings[k])]
    if bad:
        def shown(d: Mapping[str, Any], k: str) -> str:
            return _short(d[k]) if k in d else "absent"

        differ = [f"{_key(k)} {shown(saved, k)} in the file, {shown(settings, k)} now" for k in bad[:6]]
        resume = ", ".join(f"{k}={shown(saved, k)}" for k in bad[:6] if k in saved and k in settings)
        raise CheckpointError(path, f"it belongs to a run with other settings ({'; '.join(differ)})",
                              f"resume it with {resume}, or use another checkpoint file" if resume
                              else _ADVICE_OTHER_RUN)


def _like(path: Path, saved: Any, fresh: Any, where: str) -> None:
    """``saved`` must be shaped like ``fresh`` (the run's own state): the same keys, list lengths,
    kinds of value (a finite number where a number is, the same string where a string is)."""
    problem = _unlike(saved, fresh)
    if problem is not None:
        place, what = problem
        raise CheckpointError(path, f"its {where}{place} {what}; it does not fit this run", _ADVICE_OTHER_RUN)


def _unlike(saved: Any, fresh: Any) -> tuple[str, str] | None:
    """(where, what) of the first difference between the shapes of ``saved`` and ``fresh``, or None.
    Recurses along ``fresh``, so the depth is the run's own."""
    if isinstance(fresh, Mapping):
        if not isinstance(saved, Mapping):
            return "", f"is {_kind(saved)}, not a dict"
        extra = [k for k in saved if k not in fresh]
        missing = [k for k in fresh if k not in saved]
        if missing or extra:
            return "", (f"lacks {_list([_key(k) for k in missing])}" if missing
                        else f"has unexpected {_list([_key(k) for k in extra])}")
        for key, value in fresh.items():
            found = _unlike(saved[key], value)
            if found is not None:
                return f"[{key!r}]{found[0]}", found[1]
        return None
    if isinstance(fresh, (list, tuple)):
        if not isinstance(saved, (list, tuple)) or len(saved) != len(fresh):
            return "", f"is {_short(saved)}, not a list of {len(fresh)}"
        for i, (a, b) in enumerate(zip(saved, fresh)):
            found = _unlike(a, b)
            if found is not None:
                return f"[{i}]{found[0]}", found[1]
        return None
    return _unlike_scalar(saved, fresh)


def _unlike_scalar(saved: Any, fresh: Any) -> tuple[str, str] | None:
    if isinstance(fresh, bool):
        ok, expected = isinstance(saved, bool), "True or False"
    elif isinstance(fresh, int):
        ok, expected = isinstance(saved, int) and not isinstance(saved, bool), "an int"
    elif isinstance(fresh, float):
        ok, expected = _is_number(saved) and math.isfinite(saved), "a finite number"
    elif fresh is None or isinstance(fresh, str):
        ok, expected = type(saved) is type(fresh) and saved == fresh, _short(fresh)
    elif isinstance(fresh, Tensor):
        ok = isinstance(saved, Tensor) and saved.shape == fresh.shape and saved.dtype == fresh.dtype
        expected = _short(fresh)
    else:  # nothing else is in the state of torch's optimizers, schedulers and scalers
        return None
    return None if ok else ("", f"is {_short(saved)}, expected {expected}")


def _check_optimizer(path: Path, saved: dict, opt: torch.optim.Optimizer) -> None:
    """The saved optimizer state fits ``opt``: its param_groups have the keys and kinds of the
    run's, the same parameter indices, a learning rate >= 0; its per-parameter state holds
    finite tensors shaped as the parameter (or scalars, like Adam's step count)."""
    fresh = opt.state_dict()
    if set(saved) != {"state", "param_groups"}:
        raise CheckpointError(path, "its optimizer state must hold exactly 'state' and 'param_groups', found "
                              f"{_list([_key(k) for k in saved])}", _ADVICE_DAMAGED)
    _like(path, saved["param_groups"], fresh["param_groups"], "optimizer param_groups")
    for i, (group, mine) in enumerate(zip(saved["param_groups"], fresh["param_groups"])):
        if list(group["params"]) != list(mine["params"]) or not group["lr"] >= 0:
            raise CheckpointError(path, f"its optimizer param_groups[{i}] has other parameters or a negative lr; "
                                  "it does not fit this run", _ADVICE_OTHER_RUN)
    params = [p for group in opt.param_groups for p in group["params"]]
    state = saved["state"]
    if not isinstance(state, dict):
        raise CheckpointError(path, f"its optimizer state is {_kind(state)}, not a dict", _ADVICE_DAMAGED)
    for index, entry in state.items():
        if not (isinstance(index, int) and 0 <= index < len(params)) or not isinstance(entry, dict):
            raise CheckpointError(path, f"its optimizer state has an entry {_key(index)} that is not one of the "
                                  f"{len(params)} parameters' (or not a dict)", _ADVICE_OTHER_RUN)
        for name, value in entry.items():
            _check_optimizer_value(path, f"{index}.{printable(str(name)[:40])}", value, params[index])


def _check_optimizer_value(path: Path, where: str, value: object, param: Tensor) -> None:
    if value is None or isinstance(value, bool) or (_is_number(value) and math.isfinite(value)):  # type: ignore[arg-type]
        return
    ok = (isinstance(value, Tensor) and (value.is_floating_point() or value.dtype == torch.int64)
          and value.shape in (param.shape, torch.Size([])) and bool(torch.isfinite(value).all()))
    if not ok:
        raise CheckpointError(path, f"its optimizer state {where} is {_short(value)}, expected finite numbers "
                              f"shaped as the parameter {tuple(param.shape)}", _ADVICE_OTHER_RUN)


def restore(path: str | os.PathLike, state: dict, **parts: Any) -> None:
    """Load ``state[name]`` into each ``parts[name]`` (model, optimizer, scheduler, scaler: anything
    with ``load_state_dict``), after :func:`load_checkpoint` checked them; a mismatch it could not
    foresee raises :class:`CheckpointError` naming the part. Used by :func:`cnnbook.fit`."""
    for name, part in parts.items():
        try:
            part.load_state_dict(state[name])
        except (KeyError, ValueError, RuntimeError, TypeError, IndexError) as err:
            first = str(err).strip().splitlines()[0][:200] if str(err).strip() else type(err).__name__
            raise CheckpointError(path, f"its {name} state does not fit this run ({printable(first)})",
                                  _ADVICE_OTHER_RUN) from None
