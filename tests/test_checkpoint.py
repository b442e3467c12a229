"""Checkpoints: plain data saved atomically, checked on loading, and a run killed with SIGKILL
(mid-epoch and mid-write) that resumes to the same weights as an uninterrupted one.

Tiny synthetic data and a tiny network on the CPU; the subprocesses run one thread each.
"""
from __future__ import annotations

import multiprocessing
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from torch import nn

import cnnbook as cb
from cnnbook import checkpoint as ck
from cnnbook.checkpoint import (
    FORMAT_VERSION,
    CheckpointError,
    load_checkpoint,
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


def test_save_and_load_round_trip_plain_data(tmp_path):
    state = {"w": torch.arange(6.0).view(2, 3), "n": 3, "x": 0.5, "s": "adamw", "l": [1, None, 2.5],
             "t": (1, 2), "d": {"inner": torch.zeros(2, dtype=torch.uint8)}}
    path = save_checkpoint(tmp_path / "sub" / "a.pt", state)
    assert path == tmp_path / "sub" / "a.pt" and path.is_file()
    assert not (tmp_path / "sub" / "a.pt.tmp").exists()
    back = torch.load(path, weights_only=True)
    assert back["format"] == FORMAT_VERSION and "format" not in state  # the caller's dict untouched
    assert torch.equal(back["w"], state["w"]) and back["l"] == [1, None, 2.5] and back["t"] == (1, 2)
    assert torch.equal(back["d"]["inner"], state["d"]["inner"])


@pytest.mark.parametrize("bad, where", [
    ({"f": lambda x: x}, "state['f']"),
    ({"ok": [1, {"deep": object()}]}, "state['ok'][1]['deep']"),
    ({"m": nn.Linear(2, 2)}, "state['m']"),
])
def test_save_refuses_anything_but_plain_data(tmp_path, bad, where):
    with pytest.raises(TypeError) as err:
        save_checkpoint(tmp_path / "a.pt", bad)
    assert where in str(err.value)
    assert not (tmp_path / "a.pt").exists() and not (tmp_path / "a.pt.tmp").exists()


def test_a_failed_write_keeps_the_last_checkpoint(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "a.pt", {"v": torch.ones(3)})
    before = path.read_bytes()

    def fail(tmp: Path) -> None:
        assert tmp.is_file() and tmp.parent == path.parent  # written beside the target
        raise OSError("disk full")

    monkeypatch.setattr(ck, "_before_replace", fail)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, {"v": torch.zeros(3)})
    assert path.read_bytes() == before and not (tmp_path / "a.pt.tmp").exists()


def test_a_stray_temporary_file_is_overwritten(tmp_path):
    (tmp_path / "a.pt.tmp").write_bytes(b"half a checkpoint")  # left by a killed write
    save_checkpoint(tmp_path / "a.pt", {"v": 1})
    assert not (tmp_path / "a.pt.tmp").exists()
    assert torch.load(tmp_path / "a.pt", weights_only=True)["v"] == 1


# ----------------------------------------------------------------------------- what fit saves


def test_fit_saves_plain_data_with_format_and_settings(saved):
    state = load_checkpoint(saved, model=tiny_net(), settings={"epochs": 2, "batch_size": 16})
    assert state["format"] == FORMAT_VERSION and state["epoch"] == 2
    assert state["settings"] == {"epochs": 2, "batch_size": 16, "optimizer": "AdamW", "batches_per_epoch": 6}
    assert isinstance(state["history"], dict) and len(state["history"]["train_loss"]) == 2
    assert all(isinstance(v, float) for v in state["history"]["train_loss"])


@pytest.mark.parametrize("kw, words", [
    ({"epochs": 3}, ["epochs 2 in the file, 3 now", "epochs=2"]),
    ({"batch_size": 32}, ["batch_size 16 in the file, 32 now"]),
    ({"optimizer": "sgd"}, ["optimizer 'AdamW' in the file, 'SGD' now"]),
])
def test_resuming_with_other_settings_says_which(saved, kw, words):
    with pytest.raises(CheckpointError) as err:
        fit_tiny(tiny_net(), saved, resume=True, **kw)
    text = str(err.value)
    assert str(saved) in text and "\n" not in text and "other settings" in text
    assert all(w in text for w in words), text


def test_resuming_another_model_names_the_parameters_that_differ(saved):
    with pytest.raises(CheckpointError) as err:
        fit_tiny(tiny_net(width=4), saved, resume=True)
    text = str(err.value)
    assert "another model" in text and "0.weight (3, 1, 3, 3) in the file, (4, 1, 3, 3) in the model" in text
    other = nn.Sequential(nn.Conv2d(1, 3, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(),
                          nn.Dropout(0.0), nn.Linear(12, 2))  # same shapes, the classifier renamed 5.*
    with pytest.raises(CheckpointError, match=r"missing 5\.weight, 5\.bias; unexpected 4\.weight, 4\.bias"):
        fit_tiny(other, saved, resume=True)


def test_a_newer_format_asks_for_a_newer_cnnbook(saved, tmp_path, monkeypatch):
    state = torch.load(saved, weights_only=True)
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
    number ``kill_save``, after the new checkpoint is written to its .tmp file and before it replaces
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

    # resumed, then killed after writing epoch 2's checkpoint to the .tmp file, before the replace
    before = ckpt.read_bytes()
    assert run_child(ckpt, out, kill_save=1, init_seed=7) == -signal.SIGKILL and not out.exists()
    assert ckpt.read_bytes() == before and load_checkpoint(ckpt)["epoch"] == 1
    assert (tmp_path / "run.pt.tmp").is_file()  # the complete but unplaced new checkpoint

    # resumed again from epoch 1 with other initial weights: ends where the uninterrupted run did
    assert run_child(ckpt, out, init_seed=8) == 0
    assert load_checkpoint(ckpt)["epoch"] == 3 and not (tmp_path / "run.pt.tmp").exists()
    got = torch.load(out, weights_only=True)
    want = torch.load(tmp_path / "straight.weights", weights_only=True)
    assert got.keys() == want.keys()
    assert all(torch.equal(got[k], want[k]) for k in want)
    fresh = tiny_net(seed=8).state_dict()  # the resumed run really trained (not a copy of its start)
    assert not torch.equal(got["0.weight"], fresh["0.weight"])
