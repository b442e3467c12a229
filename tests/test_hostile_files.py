"""Hostile and damaged files for every reader in the package (checkpoints, MNIST IDX files, the
bundled MNIST subset; CIFAR-10's files are in test_hostile_data.py): each gets one clear error naming the
file, nothing in a file ever runs, nothing allocates beyond the file's size, and the file itself is
never modified.

A hostile pickle here would create a marker file when unpickled by a trusting reader (checked once
with ``pickle.loads``, so the payload is known to work); every test asserts the marker is absent.
"""
from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import pickle
import shutil
import struct
import tracemalloc
import zipfile
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnbook as cb
from cnnbook import cli, recipes
from cnnbook.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from cnnbook.data import files as data_files
from cnnbook.data.files import read_idx

try:
    import resource
except ImportError:  # not on Windows
    resource = None  # type: ignore[assignment]

torch.set_num_threads(1)


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
    """The state of a real 1-epoch checkpoint, to damage."""
    path = tmp_path_factory.mktemp("good") / "run.pt"
    cb.fit(tiny_net(), tiny_data(), epochs=1, batch_size=16, device="cpu", progress=False, seed=0,
           checkpoint=path)
    return {"path": path, "state": torch.load(path, weights_only=True), "bytes": path.read_bytes()}


def check_refused(path: Path, words: str, marker: Path | None = None) -> str:
    """resume from ``path`` must raise one CheckpointError line naming the file and ``words``, run
    nothing and leave the file as it was."""
    before = digest(path)
    with pytest.raises(CheckpointError) as err:
        resume(path)
    text = str(err.value)
    assert "\n" not in text and str(path) in text and words in text, text
    assert isinstance(err.value, ValueError) and err.value.path == path
    assert digest(path) == before
    if marker is not None:
        assert not marker.exists()
    return text


def test_the_issue_s_hostile_checkpoint_runs_nothing(tmp_path, marker, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.save({"model": Payload(marker)}, "evil.pt")  # torch's own zip format
    before = digest(Path("evil.pt"))
    with pytest.raises(CheckpointError) as err:
        cb.fit(tiny_net(), tiny_data(), epochs=1, checkpoint="evil.pt", resume=True, device="cpu",
               progress=False)
    text = str(err.value)
    assert text.startswith("checkpoint evil.pt: refusing to load it") and "exec" in text and "\n" not in text
    assert not marker.exists() and digest(Path("evil.pt")) == before


@pytest.mark.parametrize("write, words", [
    ("raw pickle, protocol 2", "refusing to load it: it asks for exec"),
    # protocol 4 frames its data, which torch's safe reader stops at before reaching the payload;
    # cnnbook then reads the pickle's instructions (without running them) to name what it asks for
    ("raw pickle, protocol 4", "refusing to load it: it asks for builtins.exec"),
    ("raw pickle, protocol 5", "refusing to load it: it asks for builtins.exec"),
    ("inside the state", "refusing to load it: it asks for exec"),
    ("as the optimizer", "refusing to load it: it asks for exec"),
])
def test_hostile_pickles_are_refused(tmp_path, marker, good, write, words):
    path = tmp_path / "evil.pt"
    if write.startswith("raw pickle"):  # not torch's zip format: torch's legacy reader
        path.write_bytes(pickle.dumps({"model": Payload(marker)}, protocol=int(write[-1])))
    else:
        state = dict(good["state"])
        state["optimizer" if write == "as the optimizer" else "history"] = Payload(marker)
        torch.save(state, path)
    check_refused(path, words, marker)


def test_hostile_pickle_inside_the_zip_s_data_pkl(tmp_path, marker, good):
    """A real checkpoint whose data.pkl record alone is swapped for a payload."""
    path = tmp_path / "swapped.pt"
    src = zipfile.ZipFile(io.BytesIO(good["bytes"]))
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename.endswith("/data.pkl"):
                data = pickle.dumps(Payload(marker), protocol=2)
            dst.writestr(info, data)
    check_refused(path, "refusing to load it", marker)


@pytest.mark.parametrize("keep", [0, 1, 100, 0.5, -22])
def test_truncated_checkpoints(tmp_path, good, keep):
    data = good["bytes"]
    n = int(len(data) * keep) if isinstance(keep, float) else keep if keep >= 0 else len(data) + keep
    path = tmp_path / "cut.pt"
    path.write_bytes(data[:n])
    check_refused(path, "truncated, damaged or not a PyTorch checkpoint")


@pytest.mark.parametrize("content", [b"hello, world\n" * 40, bytes(range(256)) * 8, b"PK\x03\x04" + b"\0" * 500])
def test_files_that_are_not_checkpoints(tmp_path, content):
    path = tmp_path / "junk.pt"
    path.write_bytes(content)
    check_refused(path, "truncated, damaged or not a PyTorch checkpoint")


def damaged(good: dict, **changes) -> dict:
    state = dict(good["state"])
    for key, value in changes.items():
        if value is None:
            state.pop(key)
        else:
            state[key] = value
    return state


@pytest.mark.parametrize("state, words", [
    ([1, 2, 3], "holds a list, not a dict"),
    ({"weights": torch.zeros(3)}, "not a cnnbook checkpoint: it has no format version and lacks model"),
    ("format=string", "its format version is 'one'"),
    ("no history", "lacks history"),
    ("history of strings", "history 'train_loss' must be a list of numbers"),
    ("epoch -1", "'epoch' must be an int >= 0"),
    ("model entry not a tensor", "model entry '1.weight' is a str"),
    ("rng wrong size", "'rng' must hold the CPU generator's state"),
    ("optimizer of another net", "its optimizer state does not fit this run"),
])
def test_checkpoints_that_are_not_ours(tmp_path, good, state, words):
    s = good["state"]
    made = {
        "format=string": lambda: damaged(good, format="one"),
        "no history": lambda: damaged(good, history=None),
        "history of strings": lambda: damaged(good, history={"train_loss": ["os.system('x')"]}),
        "epoch -1": lambda: damaged(good, epoch=-1),
        "model entry not a tensor": lambda: damaged(good, model={**s["model"], "1.weight": "w"}),
        "rng wrong size": lambda: damaged(good, rng={"cpu": torch.zeros(7, dtype=torch.uint8)}),
        "optimizer of another net": lambda: damaged(  # one parameter where the model has two
            good, optimizer={**s["optimizer"], "param_groups": [{**s["optimizer"]["param_groups"][0], "params": [0]}]}),
    }
    path = tmp_path / "other.pt"
    torch.save(made[state]() if isinstance(state, str) else state, path)
    check_refused(path, words)


def test_another_model_and_other_settings_and_a_newer_format(tmp_path, good):
    path = tmp_path / "run.pt"
    path.write_bytes(good["bytes"])
    with pytest.raises(CheckpointError, match=r"another model \(shapes differ: 1\.weight \(2, 36\) in the file, "
                                              r"\(2, 16\) in the model"):
        cb.fit(nn.Sequential(nn.Flatten(), nn.Linear(16, 2)),
               (tiny_data()[0][:, :, :4, :4].contiguous(), tiny_data()[1]), epochs=1, batch_size=16,
               device="cpu", progress=False, checkpoint=path, resume=True)
    with pytest.raises(CheckpointError, match="epochs 1 in the file, 2 now"):
        resume(path, epochs=2)
    newer = save_checkpoint(tmp_path / "newer.pt", good["state"])
    raw = torch.load(newer, weights_only=True)
    torch.save({**raw, "format": raw["format"] + 1}, newer)
    check_refused(newer, "by a newer cnnbook")


def test_load_checkpoint_reads_good_files(good):
    state = load_checkpoint(good["path"], model=tiny_net(), settings={"epochs": 1, "batch_size": 16})
    assert state["epoch"] == 1 and digest(good["path"]) == hashlib.sha256(good["bytes"]).hexdigest()


# ----------------------------------------------------------------------------- the command line


def test_the_command_line_gives_one_line_for_a_hostile_checkpoint(tmp_path, marker, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "QUICK_SIZE", {"mnist": (64, 32), "cifar10": (32, 16)})
    evil = tmp_path / "evil.pt"
    torch.save({"model": Payload(marker)}, evil)
    base = ["train", "lenet5", "--quick", "--batch-size", "16", "--data-root", str(tmp_path / "data"),
            "--device", "cpu", "--no-progress"]
    assert cli.main([*base, "--checkpoint", str(evil), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: checkpoint {evil}: refusing to load it"), err
    assert not marker.exists()
    # a checkpoint of another model: one line naming the parameters
    run = tmp_path / "run.pt"
    assert cli.main([*base, "--checkpoint", str(run)]) == 0 and run.exists()
    capsys.readouterr()
    classic = base[:1] + ["lenet5-classic"] + base[2:]
    assert cli.main([*classic, "--checkpoint", str(run), "--resume"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "another model (missing " in err[0] and str(run) in err[0], err


def test_the_package_never_asks_torch_to_trust_a_file():
    root = Path(cb.__file__).parent
    offenders = [p for p in root.rglob("*.py") if "weights_only=False" in p.read_text()]
    assert offenders == []
    assert "weights_only=True" in (root / "checkpoint.py").read_text()


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
