"""Data-parallel training: ``torchrun --nproc_per_node=2 -m cnnbook train ...`` on the CPU (gloo).

Two processes train LeNet-5 on the bundled MNIST subset, each on half of every batch; the JSON
record (written by rank 0 only) shows that both ranks end with the same weights.
"""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch.distributed as dist

REPO = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(not dist.is_available() or not dist.is_gloo_available(),
                                reason="needs torch.distributed with gloo")


def test_two_processes_train_in_step(tmp_path):
    out = tmp_path / "run.json"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    for var in ("CNNBOOK_QUICK", "WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "cnnbook", "train", "lenet5", "--quick", "--data-root", str(tmp_path / "data"),
         "--device", "cpu", "--batch-size", "64", "--json", str(out), "--no-progress"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=180)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    record = json.loads(out.read_text())
    assert record["world_size"] == 2
    assert record["train_size"] == 2000 and record["data_source"] == "bundled"
    assert record["batch_size"] == 64
    assert len(record["history"]["train_loss"]) == 1
    # every rank counted into the epoch's images: 2,000 in all (each rank 1,000 in 32-image batches)
    h = record["history"]
    assert h["images_per_s"][0] * h["seconds"][0] == pytest.approx(2000, rel=1e-6)
    a, b = record["param_checksums"]
    assert a == b  # DistributedDataParallel kept the two copies identical
    assert 10 < record["test_acc"] <= 100
    assert r.stdout.count("Training lenet5") == 1  # only rank 0 speaks
    assert "2 processes" in r.stdout
