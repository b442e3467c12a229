"""scripts/gpu_check.sh and scripts/nb_to_py.py: the one-command GPU check, rehearsed on the CPU.

The full rehearsal (``scripts/gpu_check.sh MNIST_DIR OUT --cpu-rehearsal``) takes minutes; the test
suite rehearses it on one chapter without the bench, on MNIST files the test writes itself, and
checks that every chapter converts to a Python script that compiles.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
import nb_to_py  # noqa: E402
from test_data import write_mnist  # noqa: E402


def tiny_mnist(folder: Path) -> None:
    """MNIST's four .gz files as the GPU machine receives them: 600 train, 200 test digits."""
    for split, n in (("train", 600), ("test", 200)):
        write_mnist(folder, split, n=n, gz=True)


@pytest.mark.parametrize("chapter", sorted(p.name for p in (REPO / "book").glob("*.ipynb")))
def test_every_chapter_converts_to_a_script_that_compiles(chapter):
    code = nb_to_py.convert(REPO / "book" / chapter)
    compile(code, chapter, "exec")
    assert "[cell " in code and "_install_glue_recorder()" in code
    assert not any(line.lstrip().startswith(("%", "!")) for line in code.splitlines())


def test_converter_keeps_going_after_a_cell_tagged_raises_exception(tmp_path):
    nb = {"cells": [
        {"cell_type": "code", "metadata": {"tags": ["raises-exception"]}, "source": "raise ValueError('x')"},
        {"cell_type": "markdown", "metadata": {}, "source": "prose"},
        {"cell_type": "code", "metadata": {}, "source": ["%matplotlib inline\n", "print('after')"]},
    ], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    path = tmp_path / "t.ipynb"
    path.write_text(json.dumps(nb))
    script = tmp_path / "t.py"
    script.write_text(nb_to_py.convert(path))
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=120)
    assert r.returncode == 0, r.stderr
    assert "ValueError('x')" in r.stdout and "after" in r.stdout


def test_cli_usage_errors(tmp_path):
    r = subprocess.run(["bash", str(REPO / "scripts/gpu_check.sh"), str(tmp_path)], capture_output=True,
                       text=True)
    assert r.returncode == 2 and "usage" in r.stderr
    r = subprocess.run(["bash", str(REPO / "scripts/gpu_check.sh"), str(tmp_path), str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 2 and "holds no train-images" in r.stderr


def test_cpu_rehearsal_writes_the_results_of_every_step(tmp_path):
    mnist, out = tmp_path / "mnist", tmp_path / "out"
    mnist.mkdir()
    tiny_mnist(mnist)
    env = {**os.environ, "GPU_CHECK_CHAPTERS": "padding", "GPU_CHECK_BENCH": "0", "PYTHON": sys.executable}
    r = subprocess.run(["bash", str(REPO / "scripts/gpu_check.sh"), str(mnist), str(out), "--cpu-rehearsal"],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["rehearsal"] is True
    assert results["environment"]["torch"]
    assert results["tests"]["failed"] == []
    assert results["tests"]["counts"].get("skipped", 0) >= 1  # the CUDA tests, without a GPU
    chapter = results["chapters"]["padding"]
    assert chapter["status"] == "passed" and chapter["glued"]
    assert set(results["chapters"]) == {"padding"}
    assert (out / "logs.tar.gz").stat().st_size > 0
    assert "chapter padding: passed" in (out / "summary.txt").read_text()
    assert chapter["estimates"] and chapter["estimates"][0].startswith("Estimated: ")  # its own, before training
    assert results["targets"]["lenet5_to_99"]["met"] is None  # no bench: not measured
    md = (out / "results.md").read_text()
    assert md.startswith("## GPU check: CPU rehearsal") and "| padding | passed |" in md


def test_the_report_says_which_targets_were_met():
    import gpu_check_report as report

    race = {"cnnbook fast (LeNet-5)": {"reached": 3, "mean_s": 0.4}, "peer train_mnist_fast": {"reached": 2,
                                                                                            "mean_s": 0.7}}
    bench = {"rows": [{"run": "cnnbook fast", "time_to_99": 0.45}], "race_to_99": race,
             "alexnet_cifar_images_per_s": 90_000.0}
    chapters = {"lenet5": {"status": "passed", "seconds": 300}, "alexnet": {"status": "passed", "seconds": 610}}
    t = report.targets(bench, chapters, compiled=True)
    assert t["lenet5_to_99"]["met"] is True and t["lenet5_sooner_than_peer"]["met"] is True
    assert t["alexnet_images_per_s"]["met"] is False and t["chapters_within_10_min_here"]["met"] is False
    race["peer train_mnist_fast"] = {"reached": 3, "mean_s": 0.3}
    bench["rows"][0]["time_to_99"] = None  # never reached 99.0%
    t = report.targets(bench, chapters, compiled=True)
    assert t["lenet5_to_99"]["met"] is False and t["lenet5_sooner_than_peer"]["met"] is False
    assert report.targets(None, {}, compiled=False)["alexnet_images_per_s"]["met"] is None
