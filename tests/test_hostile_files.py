"""Hostile and damaged files for every reader in the package (checkpoints, MNIST IDX files, the
bundled MNIST subset; CIFAR-10's files are in test_hostile_data.py): each gets one clear error naming the
file, nothing in a file ever runs, nothing allocates beyond the file's size, and the file itself is
never modified. Checkpoints are loaded in a forked child with its address space capped and a
timeout, and no other file may appear beside them.

A hostile pickle here would create a marker file when unpickled by a trusting reader (checked once
with ``pickle.loads``, so the payload is known to work); every test asserts the marker is absent.
"""
from __future__ import annotations

import contextlib
import copy
import gzip
import hashlib
import io
import json
import math
import multiprocessing
import os
import pickle
import re
import shutil
import struct
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import safetensors.torch
import torch
from torch import nn

import cnnbook as cb
from cnnbook import cli, recipes
from cnnbook.checkpoint import MAX_HEADER, CheckpointError, load_checkpoint, read_checkpoint, save_checkpoint
from cnnbook.data import files as data_files
from cnnbook.data.files import read_idx

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


class Payload:
    """Unpickled by a trusting reader, creates ``marker`` (as a shell command would run)."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):
        return (exec, (f"open({self.marker!r}, 'w').close()",))


@pytest.fixture
def marker(tmp_path) -> Path:
    return tmp_path / "PAYLOAD-RAN"


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_payload_runs_when_trusted(marker):
    """The control: a trusting unpickler does run it, so its absence below means something."""
    pickle.loads(pickle.dumps(Payload(marker)))
    assert marker.exists()


# ----------------------------------------------------------------------------- checkpoints


def tiny_data() -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (32, 1, 6, 6), generator=g, dtype=torch.uint8), torch.arange(32) % 2


def tiny_net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Flatten(), nn.Linear(36, 2))


def resume(path: Path, epochs: int = 1) -> None:
    cb.fit(tiny_net(), tiny_data(), epochs=epochs, batch_size=16, device="cpu", progress=False, seed=0,
           checkpoint=path, resume=True)


@pytest.fixture(scope="module")
def good(tmp_path_factory) -> dict:
    """A real 1-epoch checkpoint, to damage: its path, bytes and state."""
    path = tmp_path_factory.mktemp("good") / "run.pt"
    cb.fit(tiny_net(), tiny_data(), epochs=1, batch_size=16, device="cpu", progress=False, seed=0,
           checkpoint=path)
    return {"path": path, "state": read_checkpoint(path), "bytes": path.read_bytes()}


def in_capped_child(fn, *args, extra: int = 768 << 20, timeout: float = 120) -> tuple[str, str]:
    """Run ``fn(*args)`` in a forked child whose address space may grow by ``extra`` bytes at most
    (any larger allocation, even one never touched, fails) and which is killed after ``timeout``
    seconds; return (the exception's class name or "", its message)."""
    ctx = multiprocessing.get_context("fork")
    receive, send = ctx.Pipe(duplex=False)

    def child() -> None:
        if resource is not None:
            status = Path("/proc/self/status").read_text()
            size = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmSize:"))) * 1024
            resource.setrlimit(resource.RLIMIT_AS, (size + extra, resource.getrlimit(resource.RLIMIT_AS)[1]))
        try:
            fn(*args)
            send.send(("", ""))
        except BaseException as err:  # noqa: BLE001 -- reported to the test
            send.send((type(err).__name__, str(err)))

    process = ctx.Process(target=child)
    process.start()
    ready = receive.poll(timeout)
    result = receive.recv() if ready else ("timeout", f"no answer within {timeout} s")
    process.join(10)
    if process.is_alive():
        process.kill()
    return result


def snapshot(folder: Path) -> dict[str, str]:
    return {p.name: digest(p) for p in folder.iterdir() if p.is_file() and not p.is_symlink()}


def check_refused(path: Path, words: str, marker: Path | None = None, *, run=resume) -> str:
    """Resuming from ``path`` (in a child with its memory capped) must raise one CheckpointError
    line naming the file and ``words`` (a regular expression), never advise deleting it, run
    nothing, leave the file as it was and write no other file."""
    before = snapshot(path.parent)
    name, text = in_capped_child(run, path)
    assert name == "CheckpointError", (name, text)
    assert "\n" not in text and text.startswith(f"checkpoint {path}: ") and re.search(words, text), text
    assert "delete" not in text.lower()
    assert snapshot(path.parent) == before
    if marker is not None:
        assert not marker.exists()
    return text


def forge(path: Path, state: dict) -> Path:
    """``state`` saved as a checkpoint with a valid checksum: only the checks against the run can
    catch what is wrong with it."""
    return save_checkpoint(path, state)


def forge_raw(path: Path, doc: str, tensors: dict | None = None, *, header: dict | None = None) -> Path:
    """A checkpoint file made by hand from the documented format: a safetensors file whose metadata
    holds the JSON ``doc`` and the SHA-256 of the file with those 64 digits read as zeros."""
    meta = {"cnnbook": doc, "cnnbook_sha256": "0" * 64, **(header or {})}
    blob = safetensors.torch.save(tensors or {}, metadata=meta)
    good_digest = hashlib.sha256(blob).hexdigest()
    path.write_bytes(blob.replace(b"0" * 64, good_digest.encode(), 1))
    return path


def changed(good: dict, **changes) -> dict:
    """A deep copy of the good state, with each ``key=value`` set (None: removed); a key may be a
    path such as ``optimizer__param_groups__0__lr``."""
    state = copy.deepcopy(good["state"])
    for key, value in changes.items():
        *parents, last = key.split("__")
        target = state
        for part in parents:
            target = target[int(part) if isinstance(target, list) or part.isdigit() else part]
        if value is None:
            del target[int(last) if isinstance(target, list) or last.isdigit() else last]
        else:
            target[int(last) if isinstance(target, list) or last.isdigit() else last] = value
    return state


def test_the_good_checkpoint_resumes(good):
    assert in_capped_child(resume, good["path"]) == ("", "")
    assert digest(good["path"]) == hashlib.sha256(good["bytes"]).hexdigest()


@pytest.mark.parametrize("write", ["torch.save with a payload", "torch.save of a real state", "raw pickle, protocol 2",
                                   "raw pickle, protocol 4", "raw pickle, protocol 5", "data.pkl swapped"])
def test_old_format_files_are_refused_without_unpickling(tmp_path, marker, good, write):
    """Checkpoints of format 1 were pickles: recognised by their first bytes, never read."""
    path = tmp_path / "old.pt"
    if write.startswith("raw pickle"):
        path.write_bytes(pickle.dumps({"model": Payload(marker)}, protocol=int(write[-1])))
    elif write == "torch.save of a real state":
        torch.save({**good["state"], "format": 1}, path)
    else:
        torch.save({"model": Payload(marker)}, path)
        if write == "data.pkl swapped":
            src = zipfile.ZipFile(io.BytesIO(path.read_bytes()))
            with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
                for info in src.infolist():
                    data = src.read(info)
                    dst.writestr(info, pickle.dumps(Payload(marker), protocol=2) if info.filename.endswith(
                        "/data.pkl") else data)
    text = check_refused(path, "written by an older cnnbook .* cannot be resumed", marker)
    assert "start the run afresh with another checkpoint file" in text


@pytest.mark.parametrize("keep", [0, 1, 7, 8, 100, 0.5, -1])
def test_truncated_checkpoints(tmp_path, good, keep):
    data = good["bytes"]
    n = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:n])
    check_refused(path, "truncated|damaged|not a cnnbook checkpoint")


@pytest.mark.parametrize("content, words", [
    (b"hello, world\n" * 40, "announce a header of"),
    (bytes(range(256)) * 8, "truncated, damaged or not a cnnbook checkpoint"),
    (b"\x10\x00\x00\x00\x00\x00\x00\x00" + b"[" * 16, "not valid safetensors JSON"),
    (b"\x02\x00\x00\x00\x00\x00\x00\x00{}", "without cnnbook's metadata"),
    (safetensors.torch.save({"w": torch.zeros(3)}), "without cnnbook's metadata"),
    (safetensors.torch.save({}, metadata={"cnnbook": "{}"}), "checksum is missing or malformed"),
])
def test_files_that_are_not_checkpoints(tmp_path, content, words):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    check_refused(path, words)


def test_a_flipped_bit_anywhere_is_caught(tmp_path, good):
    """Every byte of the header (tensor table, JSON document, checksum, padding) and every 8th of the
    tensors: the checksum or the parse catches each flip; nothing loads silently."""
    data = good["bytes"]
    header_end = 8 + int.from_bytes(data[:8], "little")
    path = tmp_path / "flipped.pt"
    positions = [*range(header_end), *range(header_end, len(data), 8)]
    for i in positions:
        path.write_bytes(data[:i] + bytes([data[i] ^ (1 << (i % 8))]) + data[i + 1:])
        with pytest.raises(CheckpointError) as err:
            read_checkpoint(path)
        text = str(err.value)
        assert "\n" not in text and str(path) in text and re.search("damaged|not a|truncated", text), (i, text)
    assert len(positions) > 1000


def test_deep_and_wide_json_costs_bounded_time_and_memory(tmp_path, good):
    """JSON has no references, so no "billion laughs": the nearest things are deep nesting (refused
    by the parser or by the depth limit) and very wide data (checked by size, never printed)."""
    deep = forge_raw(tmp_path / "deep.pt", "[" * 200_000 + "]" * 200_000)
    check_refused(deep, "document is not valid JSON")
    nested: object = 1
    for _ in range(40):
        nested = {"a": nested}
    doc = json.dumps({**json.loads(json.dumps({"format": 2})), "settings": nested})
    check_refused(forge_raw(tmp_path / "nested.pt", doc), "nested deeper than 32 levels")
    wide = forge(tmp_path / "wide.pt", changed(good, settings__epochs=[[0] * 1000] * 1000))
    start = time.perf_counter()
    text = check_refused(wide, r"epochs a list of 1000 items in the file, 1 now")
    assert time.perf_counter() - start < 60 and len(text) < 600


def test_a_huge_header_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "huge.pt"
    path.write_bytes((2**40).to_bytes(8, "little") + b"{" + b" " * 1000)
    check_refused(path, "announce a header of 1,099,511,627,776 bytes")
    path.write_bytes((MAX_HEADER + 1).to_bytes(8, "little") + b" " * (MAX_HEADER + 1))
    check_refused(path, f"at most {MAX_HEADER:,}")


@pytest.mark.parametrize("change, words", [
    ({"settings": None}, "lacks settings"),
    ({"history": None, "epoch": None}, "lacks history, epoch"),
    ({"epoch": 5}, r"'epoch' must be an int in \[0, 1\]"),
    ({"epoch": "1"}, "'epoch' must be an int"),
    ({"epochs": -1}, "'epochs' must be a number > 0"),
    ({"loader_seed": 10**40}, "'loader_seed' must be a 64-bit int, found a huge int"),
    ({"settings": [1, 2]}, "'settings' must be a dict, found a list"),
    ({"settings__batch_size": 99}, "batch_size 99 in the file, 16 now"),
    ({"history__train_loss": []}, "history train_loss must be a list of 1 numbers .* found 0 entries"),
    ({"history__seconds": ["os.system('x')"]}, "history seconds must be a list of numbers"),
    ({"history__fraction": None}, "its history lacks fraction"),
    ({"history__extra": [1.0]}, "unknown list extra"),
    ({"rng__cpu": torch.zeros(5056, dtype=torch.uint8)}, "rng 'cpu' is not a valid generator state"),
    ({"rng__cpu": torch.zeros(7, dtype=torch.uint8)}, "rng 'cpu' must be a generator's state"),
    ({"rng__cpu": torch.zeros(5056)}, "rng 'cpu' must be a generator's state"),
    ({"rng__cpu": "seed"}, "rng 'cpu' must be a generator's state"),
    ({"rng__mps": torch.zeros(3, dtype=torch.uint8)}, "'rng' must hold 'cpu'"),
    ({"model__1.weight": 3}, "model entry 1.weight is a number, not a tensor"),
    ({"model__1.weight": torch.zeros(2, 35)}, r"another model \(shapes differ: 1.weight \(2, 35\)"),
    ({"optimizer__param_groups__0__lr": "x"}, r"optimizer param_groups\[0\]\['lr'\] is 'x', expected a finite"),
    ({"optimizer__param_groups__0__lr": math.nan}, r"\['lr'\] is nan, expected a finite number"),
    ({"optimizer__param_groups__0__betas": (0.9,)}, r"\['betas'\] is a tuple of 1 items, not a list of 2"),
    ({"optimizer__param_groups__0__junk": 1}, "has unexpected junk"),
    ({"optimizer__param_groups__0__params": [0, 5]}, "other parameters"),
    ({"optimizer__param_groups__0__lr": -1.0}, "negative lr"),
    ({"optimizer__state__0__exp_avg": torch.zeros(3)}, r"state 0.exp_avg is a float32 tensor of shape \(3,\)"),
    ({"optimizer__state__0__exp_avg": torch.full((2, 36), math.nan)}, "expected finite numbers"),
    ({"optimizer__state__9": {}}, "entry 9 that is not one of the 2 parameters'"),
    ({"optimizer__state": [1]}, "optimizer state is a list, not a dict"),
    ({"optimizer__extra": {}}, "must hold exactly 'state' and 'param_groups'"),
    ({"scheduler__last_epoch": 1}, "its schedule has taken 1 steps, but 1 epoch"),
    ({"scheduler__last_epoch": "2"}, r"scheduler\['last_epoch'\] is '2', expected an int"),
    ({"scheduler___anneal_func_type": "exec"}, r"is 'exec', expected 'cos'"),
    ({"scaler__scale": 65536.0}, "scaler has unexpected scale"),
])
def test_checkpoints_that_do_not_fit_the_run(tmp_path, good, change, words):
    """Each is saved with a valid checksum: the checks against the run must catch it, naming the
    file and the part, before anything is loaded."""
    check_refused(forge(tmp_path / "forged.pt", changed(good, **change)), words)


@pytest.mark.parametrize("doc, tensors, words", [
    ('{"format": 2, "model": {"$exec": "os.system"}}', {}, "holds a '\\$exec' marker"),
    ('{"format": 2, "model": {"$tensor": "nope"}}', {}, "tensor missing or used twice"),
    ('{"format": 2, "a": {"$tensor": "t"}, "b": {"$tensor": "t"}}', {"t": torch.zeros(1)}, "used twice"),
    ('{"format": 2}', {"stray": torch.zeros(1)}, "tensor\\(s\\) no part refers to"),
    ('{"format": 2, "x": {"$float": "1e999"}}', {}, "'\\$float' marker"),
    ('{"format": 2, "x": {"$int_keys": {"99999999999999999999": 1}}}', {}, "'\\$int_keys' marker"),
    ('{"format": 2, "x": {"$tensor": "t", "y": 1}}', {"t": torch.zeros(1)}, "mixes a '\\$' marker"),
    ('[1, 2]', {}, "its document is a list, not a dict"),
    ('{"format": 3}', {}, "format 3 by a newer cnnbook"),
    ('{"format": 1}', {}, "format 1 by an older cnnbook"),
    ('{"format": 2}', {}, "it lacks model, optimizer"),
    ('{"model": {}}', {}, "its format version is None"),
    ('{"format": true}', {}, "its format version is True"),
])
def test_hand_made_documents(tmp_path, doc, tensors, words):
    check_refused(forge_raw(tmp_path / "made.pt", doc, tensors), words)


def test_an_unreadable_file_is_called_unreadable_not_damaged(tmp_path, good):
    path = tmp_path / "run.pt"
    path.write_bytes(good["bytes"])
    path.chmod(0)

    def as_nobody(p: Path) -> None:  # root reads any file: drop to another user first
        if os.geteuid() == 0:
            os.setgid(65534)
            os.setuid(65534)
        resume(p)

    tmp_path.chmod(0o755)
    text = check_refused(path, "cannot be read: permission denied", run=as_nobody)
    assert "damaged" not in text and "give yourself read permission" in text
    path.chmod(0o600)
    assert path.read_bytes() == good["bytes"]


def test_a_folder_and_a_fifo_are_not_checkpoints(tmp_path):
    (tmp_path / "folder.pt").mkdir()
    check_refused(tmp_path / "folder.pt", "not a regular file")
    os.mkfifo(tmp_path / "fifo.pt")
    check_refused(tmp_path / "fifo.pt", "not a regular file")  # and the open does not wait for a writer


def test_another_model_and_other_settings(tmp_path, good):
    path = tmp_path / "run.pt"
    path.write_bytes(good["bytes"])
    with pytest.raises(CheckpointError, match=r"another model \(shapes differ: 1\.weight \(2, 36\) in the file, "
                                              r"\(2, 16\) in the model"):
        cb.fit(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)),
               (tiny_data()[0][:, :, :4, :4].contiguous(), tiny_data()[1]), epochs=1, batch_size=16,
               device="cpu", progress=False, checkpoint=path, resume=True)
    with pytest.raises(CheckpointError, match="epochs 1 in the file, 2 now"):
        resume(path, epochs=2)
    assert path.read_bytes() == good["bytes"]


def test_load_checkpoint_reads_good_files(good):
    state = load_checkpoint(good["path"], model=tiny_net(), settings={"epochs": 1, "batch_size": 16})
    assert state["epoch"] == 1 and digest(good["path"]) == hashlib.sha256(good["bytes"]).hexdigest()


def test_no_pickle_anywhere_in_the_package():
    """Checkpoints are safetensors and JSON, CIFAR-10 is read from its binary version: nothing in
    cnnbook parses a pickle (the issue's own check: grep -rn "pickle|torch.load|Unpickler" cnnbook/)."""
    root = Path(cb.__file__).parent
    assert any(p.parent.name == "data" for p in root.rglob("*.py"))  # the data readers are covered
    offenders = [f"{p.relative_to(root)}:{i}" for p in root.rglob("*.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if re.search(r"pickle|torch\.load|Unpickler", line)]
    assert offenders == []


# ----------------------------------------------------------------------------- the command line

BASE = ["train", "lenet5", "--quick", "--batch-size", "16", "--device", "cpu", "--no-progress"]


def test_the_command_line_gives_one_line_for_a_bad_checkpoint(tmp_path, marker, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "QUICK_SIZE", {"mnist": (64, 32), "cifar10": (32, 16)})
    base = [*BASE, "--data-root", str(tmp_path / "data")]
    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload(marker)}, evil)
    assert cli.main([*base, "--checkpoint", str(evil), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: checkpoint {evil}: it was written by an older cnnbook"), err
    assert not marker.exists()
    # a checkpoint of another model: one line naming the parameters
    run = tmp_path / "run.pt"
    assert cli.main([*base, "--checkpoint", str(run)]) == 0 and run.exists()
    capsys.readouterr()
    classic = base[:1] + ["lenet5-classic"] + base[2:]
    assert cli.main([*classic, "--checkpoint", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another model (missing " in err[0] and str(run) in err[0], err


def run_strict(*args: str | bytes) -> subprocess.CompletedProcess:
    """``python -m cnnbook ARGS`` with stdout and stderr encoded as strict UTF-8."""
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "utf-8:strict",
           "LC_ALL": "C.UTF-8"}
    env.pop("CNNBOOK_QUICK", None)
    return subprocess.run([sys.executable, "-m", "cnnbook", *args], capture_output=True, cwd=REPO, env=env,
                          timeout=300)


def test_a_non_utf8_path_is_printed_safely(tmp_path):
    folder = os.fsencode(tmp_path) + b"/caf\xe9"  # Latin-1 bytes: not UTF-8
    os.mkdir(folder)
    junk = folder + b"/r\xfcn.pt"
    with open(junk, "wb") as f:
        f.write(b"junk" * 10)
    shown = str(tmp_path) + "/caf\\xe9/r\\xfcn.pt"
    r = run_strict(*BASE, "--data-root", str(tmp_path / "data"), "--checkpoint", junk, "--resume")
    err = r.stderr.decode()
    assert r.returncode == 2 and err.strip().splitlines() == [err.strip()], err
    assert err.startswith(f"error: checkpoint {shown}: ") and "Traceback" not in err
    os.remove(junk)  # now a run that prints the path on stdout ("No checkpoint at ... yet"), then saves there
    r = run_strict(*BASE[:-1], "--epochs", "1", "--data-root", str(tmp_path / "data"), "--checkpoint", junk,
                   "--resume", "--json", folder + b"/run.json")
    assert r.returncode == 0, r.stderr.decode()
    assert f"No checkpoint at {shown} yet".encode() in r.stdout
    assert read_checkpoint(os.fsdecode(junk))["epoch"] == 1


# ----------------------------------------------------------------------------- data files: helpers

PACKAGE_DATA = Path(cb.__file__).parent / "_data"


@pytest.fixture(scope="module", autouse=True)
def package_files_untouched():
    """No test here may modify the files shipped with cnnbook."""
    before = {p: digest(p) for p in PACKAGE_DATA.rglob("*") if p.is_file()}
    yield
    assert before and {p: digest(p) for p in PACKAGE_DATA.rglob("*") if p.is_file()} == before


@contextlib.contextmanager
def address_space_cap(extra: int = 256 << 20):
    """On Linux, let the process map at most ``extra`` more bytes meanwhile: any larger allocation,
    even one never touched (which RSS would not show), fails."""
    if resource is None or not Path("/proc/self/status").exists():
        yield
        return
    status = Path("/proc/self/status").read_text()
    size = int(next(ln.split()[1] for ln in status.splitlines() if ln.startswith("VmSize:"))) * 1024
    soft, hard = resource.getrlimit(resource.RLIMIT_AS)
    resource.setrlimit(resource.RLIMIT_AS, (size + extra, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_AS, (soft, hard))


def peak_bytes(fn) -> tuple[BaseException | None, int]:
    """Run ``fn`` under :func:`address_space_cap`; return (what it raised, the peak bytes that
    Python and numpy allocated meanwhile)."""
    tracemalloc.start()
    try:
        with address_space_cap():
            fn()
        raised = None
    except BaseException as err:  # noqa: BLE001 -- returned to the test
        raised = err
    finally:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return raised, peak


def check_data_error(path: Path, fn, words: str, marker: Path | None = None) -> None:
    """``fn`` must raise one DataFileError line naming ``path`` and ``words``, allocate no more than
    the file holds (plus a 4 MiB read buffer and change), run nothing and leave the file as it was."""
    before, size = digest(path), path.stat().st_size
    err, peak = peak_bytes(fn)
    assert isinstance(err, cb.DataFileError), repr(err)
    text = str(err)
    assert "\n" not in text and str(path) in text and words in text, text
    assert peak < 2 * size + (5 << 20), f"{peak:,} bytes allocated reading a {size:,}-byte file"
    assert digest(path) == before
    if marker is not None:
        assert not marker.exists()


def idx(dims: tuple[int, ...], data: bytes, kind: int = 0x08) -> bytes:
    return bytes([0, 0, kind, len(dims)]) + struct.pack(f">{len(dims)}I", *dims) + data


# ----------------------------------------------------------------------------- MNIST IDX files

BIG = 2**32 - 1


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("content, words", [
    (idx((3, 28, 28), bytes(3 * 784), kind=0x0D), "bad magic number 0x00000d03"),  # floats, not bytes
    (idx((3, 784), bytes(3 * 784)), "bad magic number 0x00000802"),
    (b"\x89PNG\r\n\x1a\n" + bytes(100), "bad magic number"),
    (b"\x00\x00", "too short"),
    (idx((3, 28, 28), b"")[:9], "truncated inside its header"),
    (idx((3, 28, 28), bytes(2 * 784)), "announces (3, 28, 28) = 2,352 bytes of data but only 1,568"),
    (idx((3, 28, 28), bytes(4 * 784)), "data beyond the (3, 28, 28)"),
    # huge declared sizes: 18 exabytes^3, 47 GB, 4 GB -- a reader that allocates first would try
    (idx((BIG, BIG, BIG), bytes(784)), "truncated: its header announces (4294967295, 4294967295, 4294967295)"),
    (idx((60_000_000, 28, 28), bytes(784)), "= 47,040,000,000 bytes of data"),
    (idx((BIG, 1, 1), bytes(784)), "= 4,294,967,295 bytes"),
])
def test_damaged_and_hostile_idx_files(tmp_path, gz, content, words):
    path = tmp_path / ("images.gz" if gz else "images")
    path.write_bytes(gzip.compress(content) if gz else content)
    check_data_error(path, lambda: read_idx(path, 3), words)


@pytest.mark.parametrize("cut", [1, 10, 200])
def test_truncated_gzip_idx_files(tmp_path, cut):
    path = tmp_path / "images.gz"
    path.write_bytes(gzip.compress(idx((20, 28, 28), (bytes(range(256)) * 62)[:20 * 784]))[:-cut])
    check_data_error(path, lambda: read_idx(path, 3), "cannot be read")


def test_good_idx_files_still_read(tmp_path):
    data = bytes(range(256)) * 3 + bytes(16)
    for name, content in (("raw", idx((1, 28, 28), data)), ("x.gz", gzip.compress(idx((1, 28, 28), data)))):
        (tmp_path / name).write_bytes(content)
        x = read_idx(tmp_path / name, 3)
        assert x.shape == (1, 28, 28) and x.dtype == torch.uint8 and bytes(x.flatten().tolist()) == data
    empty = tmp_path / "empty"
    empty.write_bytes(idx((0, 28, 28), b""))
    assert read_idx(empty, 3).shape == (0, 28, 28)
    empty.write_bytes(idx((0, BIG, BIG), b""))  # no data, yet no tensor can have that shape
    check_data_error(empty, lambda: read_idx(empty, 3), "dimensions (0, 4294967295, 4294967295) are too large")


def test_load_mnist_names_a_hostile_file_in_the_data_folder(tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    (raw / "t10k-images-idx3-ubyte").write_bytes(idx((BIG, 28, 28), bytes(784)))
    (raw / "t10k-labels-idx1-ubyte").write_bytes(idx((1,), b"\x03"))
    check_data_error(raw / "t10k-images-idx3-ubyte", lambda: cb.load_mnist(tmp_path, "test", download=False),
                     "Delete it and call load_mnist() again")


# ----------------------------------------------------------------------------- the bundled subset


def damage_gzip_tail(b: bytes) -> bytes:
    return b[:-1000]


def flip_a_byte(b: bytes) -> bytes:
    middle = len(b) // 2
    return b[:middle] + bytes([b[middle] ^ 0xFF]) + b[middle + 1:]


def labels_out_of_range(b: bytes) -> bytes:
    labels = gzip.decompress(b)
    return gzip.compress(labels[:-1] + b"\x0b")


@pytest.mark.parametrize("name, damage, words", [
    ("t10k-images-idx3-ubyte.gz", damage_gzip_tail, "cannot be read"),
    ("t10k-images-idx3-ubyte.gz", flip_a_byte, "cannot be read"),
    ("t10k-images-idx3-ubyte.gz", lambda b: gzip.compress(idx((BIG, 28, 28), bytes(784))), "more than the 10,000"),
    ("t10k-labels-idx1-ubyte.gz", labels_out_of_range, "labels must be digits 0..9, found 11"),
    ("t10k-labels-idx1-ubyte.gz", lambda b: b"", "too short"),
])
def test_a_damaged_copy_of_the_bundled_subset(tmp_path, monkeypatch, name, damage, words):
    copy = tmp_path / "bundled"
    shutil.copytree(PACKAGE_DATA / "mnist", copy)
    (copy / name).write_bytes(damage((copy / name).read_bytes()))
    monkeypatch.setattr(data_files, "_BUNDLED_MNIST", copy)
    check_data_error(copy / name, lambda: cb.load_mnist(tmp_path / "empty", "test", download=False, verbose=False),
                     words)
    assert "bundled with cnnbook is damaged: reinstall cnnbook" in str(
        peak_bytes(lambda: cb.load_mnist(tmp_path / "empty", "test", download=False, verbose=False))[0])


def test_long_keys_over_many_places_cost_no_time(tmp_path, good):
    """A key of 4 MB above 100,000 places: naming each place must not copy the key each time."""
    wide = {str(i): i for i in range(100_000)}
    doc = json.dumps({"format": 2, "settings": {"k" * (4 << 20): wide}})
    start = time.perf_counter()
    check_refused(forge_raw(tmp_path / "long.pt", doc), "it lacks model")
    assert time.perf_counter() - start < 60
