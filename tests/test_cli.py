"""The command line: ``python -m cnnbook train`` writes its JSON record; mistakes are one line (exit 2),
bugs keep their traceback, Ctrl-C exits 130 with the command that resumes; the bench runs.

Offline with an empty data folder, MNIST falls back to the subset bundled with cnnbook and
CIFAR-10 to its generated stand-in, so these tests never need the network or /work/shared.
"""
import argparse
import json
import math
import os
import shlex
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import pytest
import torch

from cnnbook import cli, recipes
from cnnbook._checks import check_int
from cnnbook.cli import main
from cnnbook.settings import Settings
from cnnbook.train import History

REPO = Path(__file__).resolve().parents[1]
FIELDS = {"model", "dataset", "data_source", "device", "train_size", "epochs", "train_seconds",
          "test_acc", "time_to_99", "history"}


def run_cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("CNNBOOK_QUICK", None)
    return subprocess.run([sys.executable, "-m", "cnnbook", *args], capture_output=True, text=True,
                          cwd=REPO, env=env, timeout=timeout)


def test_train_quick_writes_the_json_record(tmp_path):
    out = tmp_path / "out" / "run.json"
    r = run_cli("train", "lenet5", "--quick", "--data-root", str(tmp_path / "data"), "--device", "cpu",
                "--json", str(out))
    assert r.returncode == 0, r.stderr
    assert "Traceback" not in r.stderr
    record = json.loads(out.read_text())
    assert FIELDS <= set(record)
    assert record["model"] == "lenet5" and record["device"] == "cpu"
    assert record["data_source"] == "bundled" and "bundled" in record["dataset"]
    assert record["train_size"] == 2000 and record["test_size"] == 500
    assert record["epochs"] == 1 and len(record["history"]["test_acc"]) == 1
    assert record["train_seconds"] == pytest.approx(sum(record["history"]["seconds"]))
    assert record["test_acc"] == record["history"]["test_acc"][-1]
    assert 10 < record["test_acc"] <= 100
    t99 = record["time_to_99"]
    assert t99 is None if record["test_acc"] < 99 else t99 == pytest.approx(record["train_seconds"])
    assert "step" in r.stderr  # the progress bar
    assert "test acc" in r.stdout  # the table of epochs


def test_a_bad_model_name_is_one_line_and_exit_2_in_a_real_process():
    r = run_cli("train", "resnet50", "--quick")
    assert r.returncode == 2
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and "invalid choice" in lines[0] and "lenet5" in lines[0]


@pytest.mark.parametrize("argv, words", [
    (["train", "lenet5", "--epochs", "0"], "--epochs"),
    (["train", "lenet5", "--lr", "fast"], "--lr"),
    (["train", "lenet5", "--label-smoothing", "1"], "label_smoothing must be in [0, 1), got 1"),
    (["train", "lenet5", "--batch-size", "2.5"], "--batch-size: expected a whole number"),
    (["train", "lenet5", "--optimizer", "rmsprop"], "--optimizer"),
    (["train"], "MODEL"),
    (["bench", "--frobnicate"], "unrecognized"),
    ([], "required"),
])
def test_usage_mistakes_are_one_line_and_exit_2(argv, words, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and "error:" in lines[0] and words in lines[0]


def test_runtime_errors_are_one_line_and_exit_2(tmp_path, capsys):
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("x")
    assert main(["train", "lenet5", "--quick", "--data-root", str(not_a_folder)]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and "root" in lines[0]


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_without_a_gpu_is_a_one_line_error(tmp_path, capsys):
    assert main(["train", "lenet5", "--quick", "--device", "cuda", "--data-root", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "CUDA" in err[0]


def test_every_model_of_the_registry_trains(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "QUICK_SIZE", {"mnist": (96, 48), "cifar10": (32, 16)})
    for name in recipes.RECIPES:
        out = tmp_path / f"{name}.json"
        code = main(["train", name, "--quick", "--batch-size", "16", "--data-root", str(tmp_path / "data"),
                     "--device", "cpu", "--json", str(out), "--no-progress"])
        assert code == 0, capsys.readouterr().err
        record = json.loads(out.read_text())
        assert record["model"] == name and record["train_size"] == (96 if "lenet" in name else 32)
        assert record["data_source"] == ("bundled" if "lenet" in name else "stand-in")
        assert len(record["history"]["train_loss"]) == 1


def test_lenet5_classic_gets_the_chapters_padding(tmp_path, monkeypatch):
    """The command line pads with cb.pad_images: a black border, the 28x28 statistics kept."""
    import cnnbook as cb

    seen = {}

    def fake_fit(model, train, test, *args, **kwargs):
        seen["train"], seen["test"] = train, test
        return cb.History()

    monkeypatch.setattr(cli, "fit", fake_fit)
    assert main(["train", "lenet5-classic", "--quick", "--data-root", str(tmp_path), "--device", "cpu",
                 "--no-progress"]) == 0
    train, test = recipes.load_data("mnist", str(tmp_path), quick=True, verbose=False)
    for got, plain in ((seen["train"], train), (seen["test"], test)):
        assert torch.equal(got.images, cb.pad_images(plain, 2).images)
        assert got.images.shape[-2:] == (32, 32) and got.mean == plain.mean and got.std == plain.std


def test_every_setting_is_an_option_with_its_help(capsys):
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    text = capsys.readouterr().out
    squeezed = "".join(text.split())  # argparse wraps lines, also at hyphens
    for f in fields(Settings):
        assert "--" + f.name.replace("_", "-") in text, f.name
        assert "".join(f.metadata["help"].split()) in squeezed, f.name


def test_a_new_field_of_the_settings_becomes_an_option(monkeypatch):
    """The options are made from the fields: a field added to Settings needs no edit of the CLI."""

    @dataclass(frozen=True)
    class More(Settings):
        warmup_epochs: int = field(default=0, metadata={"help": "epochs of linear warm-up", "check": check_int})

    monkeypatch.setattr(cli, "Settings", More)
    parser = argparse.ArgumentParser()
    cli.add_setting_options(parser)
    assert "--warmup-epochs WARMUP_EPOCHS" in parser.format_help() and "linear warm-up" in parser.format_help()
    assert parser.parse_args(["--warmup-epochs", "2"]).warmup_epochs == 2


def test_the_options_given_replace_the_recipes_settings(tmp_path, monkeypatch):
    import cnnbook as cb

    seen = {}

    def fake_fit(model, train, test, settings, **kwargs):
        seen["settings"] = settings
        return cb.History()

    monkeypatch.setattr(cli, "fit", fake_fit)
    common = ["--quick", "--data-root", str(tmp_path), "--device", "cpu", "--no-progress"]
    assert main(["train", "lenet5", *common]) == 0
    assert seen["settings"] == replace(recipes.FAST, epochs=1)  # --quick: 1 epoch, the short-run settings
    assert main(["train", "lenet5", *common, "--epochs", "6", "--lr", "0.01", "--no-amp", "--flip", "--seed", "3",
                 "--optimizer", "SGD", "--no-nesterov"]) == 0
    assert seen["settings"] == replace(recipes.LONG, epochs=6, lr=0.01, amp=False, flip=True, seed=3,
                                       optimizer="sgd", nesterov=False)
    assert main(["train", "alexnet-cifar", *common, "--epochs", "2.5"]) == 0
    assert seen["settings"] == replace(recipes.ALEXNET_CIFAR, epochs=2.5)


def test_bench_quick_prints_the_table(tmp_path, capsys):
    out = tmp_path / "bench.json"
    assert main(["bench", "--quick", "--data-root", str(tmp_path / "data"), "--device", "cpu",
                 "--json", str(out), "--no-progress"]) == 0
    text = capsys.readouterr().out
    for words in ("baseline (usual loop)", "cnnbook fast", "cnnbook 2-epoch", "images/s", "train s",
                  "time to 99.0%", "final acc %", "Machine:"):
        assert words in text
    record = json.loads(out.read_text())
    assert [r["run"] for r in record["rows"]] == ["baseline (usual loop)", "cnnbook fast", "cnnbook 2-epoch",
                                                  "peer train_mnist_fast"]
    assert [r["epochs"] for r in record["rows"]] == [1, 1, 2, 1]
    race = record["race_to_99"]  # cnnbook fast against the peer, three seeds, one line each
    assert race["seeds"] == [0, 1, 2] and len(race["peer train_mnist_fast"]["final_acc"]) == 3
    assert "Race to 99.0%" in text and "peer train_mnist_fast" in text
    for row in record["rows"]:
        assert row["train_seconds"] > 0 and row["images_per_s"] > 0 and 0 <= row["final_acc"] <= 100
    assert record["train_size"] == 2000 and record["data_source"] == "bundled"


def _fail_with(error):
    def fake_fit(*args, **kwargs):
        raise error
    return fake_fit


@pytest.mark.parametrize("error", [
    RuntimeError("mat1 and mat2 shapes cannot be multiplied (64x400 and 256x120)"),  # a shape bug
    torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
    TypeError("forward() takes 2 positional arguments but 3 were given"),
])
def test_bugs_keep_their_traceback(error, tmp_path, monkeypatch):
    """Only mistakes the user can fix become one line; a bug propagates with its traceback."""
    monkeypatch.setattr(cli, "fit", _fail_with(error))
    with pytest.raises(type(error), match=str(error).split()[0]):
        main(["train", "lenet5", "--quick", "--data-root", str(tmp_path), "--device", "cpu", "--no-progress"])


def test_a_value_error_raised_inside_torch_keeps_its_traceback(tmp_path, monkeypatch):
    def torch_bug(*args, **kwargs):  # torch's own ValueError, not a cnnbook usage message
        torch.nn.functional.cross_entropy(torch.zeros(2, 3), torch.zeros(3, dtype=torch.long))

    monkeypatch.setattr(cli, "fit", torch_bug)
    with pytest.raises(ValueError, match="batch_size"):
        main(["train", "lenet5", "--quick", "--data-root", str(tmp_path), "--device", "cpu", "--no-progress"])


def test_an_unwritable_json_file_is_one_line(tmp_path, capsys, monkeypatch):
    import cnnbook as cb

    monkeypatch.setattr(cli, "fit", lambda *a, **k: cb.History())
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    code = main(["train", "lenet5", "--quick", "--data-root", str(tmp_path), "--device", "cpu",
                 "--no-progress", "--json", str(blocker / "run.json")])
    assert code == 2
    assert capsys.readouterr().err.strip().splitlines()[-1].startswith("error: ")


# ----------------------------------------------------------------------------- Ctrl-C, divergence, bugs

SMALL = ["train", "lenet5", "--quick", "--batch-size", "16", "--device", "cpu", "--no-progress"]


def fit_with_augment(make_augment):
    """cli.fit, with the recipe's augmentation replaced by ``make_augment(recipe_augment)``."""
    real = cli.fit

    def fit(*args, **kwargs):
        return real(*args, **{**kwargs, "augment": make_augment(kwargs.get("augment"))})
    return fit


def interrupt_at(step: int):
    def make(inner):
        calls = {"n": 0}

        def augment(x):
            calls["n"] += 1
            if calls["n"] == step:
                raise KeyboardInterrupt  # as Ctrl-C would, in the middle of a step
            return inner(x) if inner is not None else x
        return augment
    return make


def test_ctrl_c_exits_130_with_the_command_that_resumes(tmp_path, monkeypatch, capsys):
    from cnnbook.checkpoint import read_checkpoint

    monkeypatch.setattr(recipes, "QUICK_SIZE", {"mnist": (64, 32), "cifar10": (32, 16)})  # 4 steps an epoch
    ckpt, out = tmp_path / "my run.pt", tmp_path / "run.json"
    argv = [*SMALL, "--data-root", str(tmp_path / "data"), "--epochs", "3", "--checkpoint", str(ckpt),
            "--json", str(out)]
    real_fit = cli.fit
    monkeypatch.setattr(cli, "fit", fit_with_augment(interrupt_at(4 + 2)))  # in epoch 2
    assert main(argv) == 130
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: interrupted; the checkpoint"), err
    assert read_checkpoint(ckpt)["epoch"] == 1 and not out.exists()
    command = err[0].split("To continue: ")[1]
    assert command.startswith("python -m cnnbook train lenet5 ") and command.endswith(" --resume")
    monkeypatch.setattr(cli, "fit", real_fit)
    assert main(shlex.split(command)[3:]) == 0  # the printed command, as a shell would split it
    record = json.loads(out.read_text())
    assert record["epochs"] == 3 and len(record["history"]["train_loss"]) == 3
    assert read_checkpoint(ckpt)["epoch"] == 3


def test_ctrl_c_without_a_checkpoint_says_how_to_get_one(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "QUICK_SIZE", {"mnist": (64, 32), "cifar10": (32, 16)})
    monkeypatch.setattr(cli, "fit", fit_with_augment(interrupt_at(2)))
    assert main([*SMALL, "--data-root", str(tmp_path / "data")]) == 130
    assert "add --checkpoint FILE" in capsys.readouterr().err


def test_a_real_sigint_exits_130_leaving_a_checkpoint(tmp_path):
    ckpt = tmp_path / "run.pt"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    env.pop("CNNBOOK_QUICK", None)
    cmd = [sys.executable, "-m", "cnnbook", *SMALL, "--epochs", "50", "--data-root", str(tmp_path / "data"),
           "--checkpoint", str(ckpt)]
    child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO, env=env)
    try:
        deadline = time.monotonic() + 240
        while not ckpt.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        assert ckpt.exists(), child.stderr.read() if child.poll() is not None else "no checkpoint in time"
        child.send_signal(signal.SIGINT)
        _, err = child.communicate(timeout=120)
    finally:
        if child.poll() is None:
            child.kill()
    assert child.returncode == 130, err
    assert "Traceback" not in err and err.strip().splitlines()[-1].endswith(f"--checkpoint {ckpt} --resume")


def test_lr_inf_is_refused_naming_lr(tmp_path, capsys):
    ckpt = tmp_path / "run.pt"
    # refused while the command line is read, before any data is loaded
    with pytest.raises(SystemExit) as exit_:
        main([*SMALL, "--data-root", str(tmp_path / "data"), "--lr", "inf", "--checkpoint", str(ckpt)])
    assert exit_.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "error: argument --lr: lr must be a finite number > 0, got inf" in err[0], err
    assert not ckpt.exists()


def test_a_diverging_run_is_one_line_and_exit_2(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(recipes, "QUICK_SIZE", {"mnist": (64, 32), "cifar10": (32, 16)})
    monkeypatch.setattr(cli, "fit", fit_with_augment(lambda inner: lambda x: x * math.nan))
    assert main([*SMALL, "--data-root", str(tmp_path / "data")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "training diverged in epoch 1" in err[0] and "lower learning rate" in err[0], err


def test_a_bug_raised_through_cnnbook_code_keeps_its_traceback(tmp_path, monkeypatch):
    """A ValueError whose innermost frame is cnnbook's, raised by a builtin there (float("x")), not
    by a raise statement: a bug, not a message for the user."""
    monkeypatch.setattr(cli, "fit", lambda *a, **k: History.from_dict({"train_loss": ["x"]}))
    with pytest.raises(ValueError, match="could not convert string to float"):
        main([*SMALL, "--data-root", str(tmp_path)])


def test_cnnbook_s_own_errors_are_one_line(tmp_path, monkeypatch, capsys):
    from cnnbook.checkpoint import CheckpointError
    from cnnbook.errors import CnnbookError

    def fail(*args, **kwargs):
        raise CheckpointError(Path("/x/run.pt"), "a problem\nover two lines", "advice")

    monkeypatch.setattr(cli, "fit", fail)
    assert main([*SMALL, "--data-root", str(tmp_path)]) == 2
    assert capsys.readouterr().err == "error: checkpoint /x/run.pt: a problem over two lines; advice\n"
    assert issubclass(CheckpointError, CnnbookError) and issubclass(CheckpointError, ValueError)
