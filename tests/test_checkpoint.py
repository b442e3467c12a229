"""Checkpoints: plain data saved atomically as one safetensors file, checked on loading, and a run
killed with SIGKILL (mid-epoch and mid-write) that resumes to the same weights as an uninterrupted one.
Hostile and damaged checkpoint files are in test_hostile_files.py.

Tiny synthetic data and a tiny network on the CPU; the subprocesses run one thread each.
"""
from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import re
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from torch import nn

import cnnbook as cb
from cnnbook import checkpoint as ck
from cnnbook.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
    read_checkpoint,
    save_checkpoint,
)

torch.set_num_threads(1)
REPO = Path(__file__).resolve().parents[1]


def tiny_data(n: int = 96, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 images (n, 1, 8, 8) of two classes: bright top half (0) or bright bottom half (1)."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 2
    images = torch.randint(0, 160, (n, 1, 8, 8), generator=g)
    images[labels == 0, :, :4] += 90
    images[labels == 1, :, 4:] += 90
    return images.to(torch.uint8), labels


def tiny_net(seed: int = 0, width: int = 3) -> nn.Module:
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, width, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                         nn.Linear(4 * width, 2))


def fit_tiny(model, path, **kw):
    kw = {"epochs": 2, "batch_size": 16, "lr": 0.02, "device": "cpu", "progress": False, "seed": 0, **kw}
    return cb.fit(model, tiny_data(), checkpoint=path, **kw)


@pytest.fixture(scope="module")
def saved(tmp_path_factory) -> Path:
    """A checkpoint of a finished 2-epoch run of tiny_net (batch 16, adamw)."""
    path = tmp_path_factory.mktemp("ckpt") / "run.pt"
    fit_tiny(tiny_net(), path)
    return path


# ----------------------------------------------------------------------------- save_checkpoint


def test_save_and_read_round_trip_plain_data(tmp_path):
    state = {"w": torch.arange(6.0).view(2, 3), "n": 3, "x": 0.5, "s": "adamw", "l": [1, None, 2.5],
             "t": (1, (2, 3.5)), "d": {"inner": torch.zeros(2, dtype=torch.uint8)}, "by_index": {0: "a", 7: [1]},
             "odd": [math.nan, math.inf, -math.inf], "half": torch.ones(2, 2, dtype=torch.bfloat16), "empty": {},
             "big": 2**70, "flag": True, "same": [torch.ones(1)] * 2}
    path = save_checkpoint(tmp_path / "sub" / "a.pt", state)
    assert path == tmp_path / "sub" / "a.pt" and path.is_file()
    assert sorted(p.name for p in path.parent.iterdir()) == ["a.pt"]  # no temporary file left
    back = read_checkpoint(path)
    assert back["format"] == FORMAT_VERSION and "format" not in state  # the caller's dict untouched
    assert torch.equal(back["w"], state["w"]) and back["l"] == [1, None, 2.5] and back["t"] == (1, (2, 3.5))
    assert torch.equal(back["d"]["inner"], state["d"]["inner"]) and back["d"]["inner"].dtype == torch.uint8
    assert back["by_index"] == {0: "a", 7: [1]} and back["empty"] == {} and back["big"] == 2**70
    assert math.isnan(back["odd"][0]) and back["odd"][1:] == [math.inf, -math.inf]
    assert back["half"].dtype == torch.bfloat16 and back["flag"] is True
    assert len(back["same"]) == 2 and back["same"][0] is not back["same"][1]  # stored twice, not shared


def test_the_file_is_a_safetensors_file_with_a_json_document(saved):
    with safe_open(str(saved), framework="pt") as f:
        meta = f.metadata()
        names = set(f.keys())
    doc = json.loads(meta["cnnbook"])
    assert doc["format"] == FORMAT_VERSION and doc["epoch"] == 2 and doc["settings"]["batch_size"] == 16
    assert doc["model"]["0.weight"] == {"$tensor": "model.0.weight"}
    assert {"model.0.weight", "model.4.bias", "optimizer.state.0.exp_avg", "rng.cpu"} <= names
    assert re.fullmatch(r"[0-9a-f]{64}", meta["cnnbook_sha256"])
    # the checksum is the SHA-256 of the whole file with its own 64 digits read as zeros
    raw = saved.read_bytes()
    assert hashlib.sha256(raw.replace(meta["cnnbook_sha256"].encode(), b"0" * 64)).hexdigest() == \
        meta["cnnbook_sha256"]
    assert b"pickle" not in raw and not raw.startswith(b"PK")


@pytest.mark.parametrize("bad, where", [
    ({"f": lambda x: x}, "f"),
    ({"ok": [1, {"deep": object()}]}, "ok.1.deep"),
    ({"m": nn.Linear(2, 2)}, "m"),
    ({"$tensor": 1}, "'$tensor'"),
    ({"mixed": {1: 2, "a": 3}}, "mixed"),
])
def test_save_refuses_anything_but_plain_data(tmp_path, bad, where):
    with pytest.raises(TypeError) as err:
        save_checkpoint(tmp_path / "a.pt", bad)
    assert where in str(err.value)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_write_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "a.pt", {"v": torch.ones(3)})
    before = path.read_bytes()
    seen = []

    def fail(tmp: Path) -> None:
        assert tmp.is_file() and tmp.parent == path.parent  # written beside the target
        seen.append(tmp)
        raise OSError("disk full")

    monkeypatch.setattr(ck, "_before_replace", fail)
    for _ in range(2):
        with pytest.raises(OSError, match="disk full"):
            save_checkpoint(path, {"v": torch.zeros(3)})
    assert path.read_bytes() == before and list(tmp_path.iterdir()) == [path]
    assert seen[0] != seen[1] and seen[0].name.startswith(".a.pt.")  # a new name each time


def test_a_link_at_the_target_is_replaced_not_followed(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "a.pt").symlink_to(victim)
    save_checkpoint(tmp_path / "a.pt", {"v": 1})
    assert victim.read_text() == "precious"
    assert not (tmp_path / "a.pt").is_symlink() and read_checkpoint(tmp_path / "a.pt")["v"] == 1


def test_links_planted_at_temporary_names_are_never_followed(tmp_path, monkeypatch):
    """The old fixed name (a.pt.tmp) and even the exact name mkstemp tries first: O_EXCL refuses to
    open an existing name, link or not, and the writer moves on to a fresh one."""
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    (tmp_path / "a.pt.tmp").symlink_to(victim)
    (tmp_path / ".a.pt.planted.tmp").symlink_to(victim)
    monkeypatch.setattr(tempfile, "_get_candidate_names", lambda: iter(["planted", "fresh"]))
    save_checkpoint(tmp_path / "a.pt", {"v": 2})
    assert victim.read_text() == "precious" and read_checkpoint(tmp_path / "a.pt")["v"] == 2
    assert (tmp_path / ".a.pt.planted.tmp").is_symlink() and not (tmp_path / ".a.pt.fresh.tmp").exists()


def _writer(path: str, value: int, times: int) -> None:
    for i in range(times):
        save_checkpoint(path, {"who": value, "i": i, "w": torch.full((2000,), float(value))})


def test_two_writers_and_a_reader_never_meet_a_damaged_file(tmp_path):
    path = tmp_path / "a.pt"
    save_checkpoint(path, {"who": 0, "i": 0, "w": torch.zeros(2000)})
    ctx = multiprocessing.get_context("fork" if sys.platform == "linux" else "spawn")
    writers = [ctx.Process(target=_writer, args=(str(path), v, 60)) for v in (1, 2)]
    for w in writers:
        w.start()
    reads = 0
    while any(w.is_alive() for w in writers) or reads < 10:
        state = read_checkpoint(path)  # raises on a damaged file
        assert torch.equal(state["w"], torch.full((2000,), float(state["who"])))
        reads += 1
    for w in writers:
        w.join(60)
        assert w.exitcode == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.pt"]  # no temporary file left behind
    assert read_checkpoint(path)["i"] == 59


# ----------------------------------------------------------------------------- what fit saves


def test_fit_saves_plain_data_with_format_and_settings(saved):
    state = load_checkpoint(saved, model=tiny_net(), settings={"epochs": 2, "batch_size": 16})
    assert state["format"] == FORMAT_VERSION and state["epoch"] == 2
    assert state["settings"] == {"epochs": 2, "batch_size": 16, "batches_per_epoch": 6, "optimizer": "AdamW",
                                 "lr": 0.02, "weight_decay": 5e-4, "schedule": "OneCycleLR", "label_smoothing": 0.0,
                                 "precision": state["settings"]["precision"]}
    assert state["settings"]["precision"] in ("float32", "bfloat16")
    assert isinstance(state["history"], dict) and len(state["history"]["train_loss"]) == 2
    assert all(isinstance(v, float) for v in state["history"]["train_loss"])
    assert state["optimizer"]["param_groups"][0]["betas"].__class__ is tuple  # as torch made it


@pytest.mark.parametrize("kw, words", [
    ({"epochs": 3}, ["epochs 2 in the file, 3 now", "epochs=2"]),
    ({"batch_size": 32}, ["batch_size 16 in the file, 32 now", "batches_per_epoch 6 in the file, 3 now"]),
    ({"optimizer": "sgd"}, ["optimizer 'AdamW' in the file, 'SGD' now"]),
    ({"lr": 0.01, "label_smoothing": 0.1}, ["lr 0.02 in the file, 0.01 now", "label_smoothing 0.0 in the file, 0.1"]),
])
def test_resuming_with_other_settings_says_which(saved, kw, words):
    before = saved.read_bytes()
    with pytest.raises(CheckpointError) as err:
        fit_tiny(tiny_net(), saved, resume=True, **kw)
    text = str(err.value)
    assert str(saved) in text and "\n" not in text and "other settings" in text
    assert all(w in text for w in words), text
    assert saved.read_bytes() == before


def test_resuming_another_model_names_the_parameters_that_differ(saved):
    with pytest.raises(CheckpointError) as err:
        fit_tiny(tiny_net(width=4), saved, resume=True)
    text = str(err.value)
    assert "another model" in text and "0.weight (3, 1, 3, 3) in the file, (4, 1, 3, 3) in the model" in text
    other = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                          nn.Dropout(0.0), nn.Linear(12, 2))  # same shapes, the classifier renamed 5.*
    with pytest.raises(CheckpointError, match=r"missing 5\.weight, 5\.bias; unexpected 4\.weight, 4\.bias"):
        fit_tiny(other, saved, resume=True)
    double = tiny_net().double()
    with pytest.raises(CheckpointError, match=r"dtypes differ: 0\.weight torch\.float32 in the file, torch\.float64"):
        load_checkpoint(saved, model=double)


def test_a_failed_resume_leaves_the_model_as_it_was(saved):
    model = tiny_net(seed=3)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(CheckpointError):
        fit_tiny(model, saved, resume=True, epochs=3)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))


def test_a_newer_format_asks_for_a_newer_cnnbook(saved, tmp_path, monkeypatch):
    state = read_checkpoint(saved)
    monkeypatch.setattr(ck, "FORMAT_VERSION", FORMAT_VERSION + 1)
    newer = save_checkpoint(tmp_path / "newer.pt", state)
    monkeypatch.undo()
    with pytest.raises(CheckpointError, match=f"format {FORMAT_VERSION + 1} by a newer cnnbook.*upgrade"):
        fit_tiny(tiny_net(), newer, resume=True)


def test_a_missing_file_is_a_checkpoint_error(tmp_path):
    with pytest.raises(CheckpointError, match="no such file"):
        load_checkpoint(tmp_path / "nothing.pt")


# ----------------------------------------------------------------------------- kill and resume

def train_run(ckpt: str | None, out: str, kill_step: int = 0, kill_save: int = 0, init_seed: int = 0) -> None:
    """Train tiny_net for 3 epochs (checkpointing to ``ckpt`` and resuming from it, if given) and save
    its final weights to ``out``; SIGKILL this process at training step ``kill_step`` or at save
    number ``kill_save``, after the new checkpoint is written to its temporary file and before it replaces
    the old one. Runs in a subprocess (see CHILD) and, uninterrupted, in the test itself."""
    calls = {"step": 0, "save": 0}

    def augment(x: torch.Tensor) -> torch.Tensor:  # draws on the global generator: the RNG must resume
        calls["step"] += 1
        if calls["step"] == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)
        return x + 0.05 * torch.randn_like(x)

    def before_replace(tmp: Path) -> None:
        calls["save"] += 1
        if calls["save"] == kill_save:
            os.kill(os.getpid(), signal.SIGKILL)

    ck._before_replace = before_replace
    try:
        model = tiny_net(seed=init_seed)
        cb.fit(model, tiny_data(), epochs=3, batch_size=16, lr=0.02, device="cpu", progress=False, seed=0,
               augment=augment, checkpoint=ckpt, resume=ckpt is not None)
    finally:
        ck._before_replace = None
    torch.save(model.state_dict(), out)


CHILD = """
import sys
sys.path.insert(0, sys.argv[1])
from test_checkpoint import train_run
train_run(sys.argv[2], sys.argv[3], *map(int, sys.argv[4:]))
"""


def run_child(ckpt: Path, out: Path, kill_step: int = 0, kill_save: int = 0, init_seed: int = 0) -> int:
    """Run :func:`train_run` in a child process; return its exit code (-9: killed by SIGKILL). On
    Linux the child is forked (torch already imported: fast); elsewhere a fresh interpreter."""
    args = (str(ckpt), str(out), kill_step, kill_save, init_seed)
    if sys.platform == "linux":
        child = multiprocessing.get_context("fork").Process(target=train_run, args=args)
        child.start()
        child.join(timeout=300)
        return child.exitcode if child.exitcode is not None else 124
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    cmd = [sys.executable, "-c", CHILD, str(REPO / "tests"), *map(str, args)]
    return subprocess.run(cmd, check=False, env=env, timeout=300).returncode


def test_sigkill_mid_epoch_and_mid_write_resumes_to_the_same_weights(tmp_path):
    train_run(None, str(tmp_path / "straight.weights"))  # uninterrupted, in this process (one thread)
    ckpt, out = tmp_path / "run.pt", tmp_path / "run.weights"

    # killed in the middle of epoch 2 (6 steps per epoch): epoch 1's checkpoint stays
    assert run_child(ckpt, out, kill_step=6 + 3) == -signal.SIGKILL and not out.exists()
    assert load_checkpoint(ckpt)["epoch"] == 1

    # resumed, then killed after writing epoch 2's checkpoint to its temporary file, before the replace
    before = ckpt.read_bytes()
    assert run_child(ckpt, out, kill_save=1, init_seed=7) == -signal.SIGKILL and not out.exists()
    assert ckpt.read_bytes() == before and load_checkpoint(ckpt)["epoch"] == 1
    stray = list(tmp_path.glob(".run.pt.*.tmp"))  # the complete but unplaced new checkpoint
    assert len(stray) == 1 and stray[0].is_file() and read_checkpoint(stray[0])["epoch"] == 2

    # resumed again from epoch 1 with other initial weights: ends where the uninterrupted run did
    assert run_child(ckpt, out, init_seed=8) == 0
    assert load_checkpoint(ckpt)["epoch"] == 3 and list(tmp_path.glob(".run.pt.*.tmp")) == stray
    got = torch.load(out, weights_only=True)
    want = torch.load(tmp_path / "straight.weights", weights_only=True)
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    fresh = tiny_net(seed=8).state_dict()  # the resumed run really trained (not a copy of its start)
    assert not torch.equal(got["0.weight"], fresh["0.weight"])


def test_a_header_whose_length_looks_like_an_old_pickle_still_reads(tmp_path):
    """A header of 640 bytes starts the file with 80 02, as the old format's pickles did."""
    path = tmp_path / "a.pt"
    for n in range(2000):
        save_checkpoint(path, {"pad": "x" * n})
        if path.read_bytes()[:2] == b"\x80\x02":
            break
    assert path.read_bytes()[:2] == b"\x80\x02"
    assert read_checkpoint(path)["pad"] == "x" * n


def test_the_file_gets_the_permissions_open_would_give(tmp_path):
    old = os.umask(0o027)
    try:
        save_checkpoint(tmp_path / "a.pt", {"v": 1})
    finally:
        os.umask(old)
    assert (tmp_path / "a.pt").stat().st_mode & 0o777 == 0o640
