"""The CUDA path: what readers on a Colab GPU run, checked on a real GPU.

Every test here needs a CUDA GPU and is skipped without one; ``scripts/gpu_check.sh`` runs them
(``pytest -m cuda``) on a GPU machine. They compare the GPU path against the CPU path, which the
rest of the suite checks against PyTorch's own functions.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

import cnnbook as cb

REPO = Path(__file__).resolve().parents[1]

pytestmark = [pytest.mark.cuda,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")]


def digits(n: int = 4000):
    return cb.load_mnist(download=False, verbose=False).subset(n)


def test_models_agree_on_cpu_and_gpu_in_float32():
    torch.manual_seed(0)
    cases = [(cb.LeNet5(), (8, 1, 28, 28)), (cb.LeNet5Classic(), (8, 1, 32, 32)),
             (cb.AlexNetCIFAR(), (8, 3, 32, 32)), (cb.AlexNet(num_classes=10), (2, 3, 224, 224))]
    torch.backends.cudnn.allow_tf32 = False
    torch.backends.cuda.matmul.allow_tf32 = False
    for model, shape in cases:
        model.eval()
        x = torch.randn(shape)
        cpu = model(x)
        gpu = model.cuda()(x.cuda()).cpu()
        assert torch.allclose(cpu, gpu, atol=1e-4, rtol=1e-4), type(model).__name__


def test_from_scratch_operations_agree_with_pytorch_on_the_gpu():
    x = torch.randn(2, 3, 9, 11, device="cuda")
    assert torch.allclose(cb.pool2d(x, 3, stride=2, padding=1), F.max_pool2d(x, 3, 2, 1))
    assert torch.allclose(cb.pool2d(x, 2, mode="avg"), F.avg_pool2d(x, 2))
    for mode in ("reflect", "replicate", "circular"):
        assert torch.equal(cb.pad2d(x, 2, mode=mode), F.pad(x, (2, 2, 2, 2), mode=mode))


def test_fit_with_mixed_precision_and_channels_last_learns_on_the_gpu():
    train, test = digits().split(1000, seed=0)
    h = cb.fit(cb.LeNet5(), train, test, epochs=2, batch_size=128, device="cuda", amp=True,
               channels_last=True, seed=0, progress=False)
    assert h.test_acc[-1] > 80, h.test_acc  # 2 epochs of 3,000 digits: 87-89% on the CPU
    assert all(s > 0 for s in h.images_per_s)


def test_gpu_and_cpu_training_reach_similar_accuracy():
    train, test = digits().split(1000, seed=0)
    accs = {}
    for dev in ("cpu", "cuda"):
        h = cb.fit(cb.LeNet5(), train, test, epochs=2, batch_size=128, device=dev, amp=False,
                   seed=0, progress=False)
        accs[dev] = h.test_acc[-1]
    assert abs(accs["cpu"] - accs["cuda"]) < 3, accs  # same recipe, same seed; kernels differ


def test_evaluate_and_predict_on_the_gpu_match_the_cpu():
    torch.manual_seed(0)
    model = cb.LeNet5().eval()
    data = digits(512)
    cpu, labels = cb.predict(model, data, device="cpu")
    gpu, labels_gpu = cb.predict(model.cuda(), data, device="cuda")
    assert torch.equal(labels, labels_gpu)
    agree = (cpu.argmax(1) == gpu.argmax(1)).float().mean().item()
    assert agree > 0.99  # both in float32; the GPU's convolutions may use TF32


def test_the_precision_follows_the_gpus_compute_capability():
    from cnnbook.runtime import precision

    major, minor = torch.cuda.get_device_capability()
    p = precision(torch.device("cuda"))
    assert (p.dtype, p.scaler) == ((torch.bfloat16, False) if major >= 8 else (torch.float16, True))
    assert f"{major}.{minor}" in str(p)


def test_fit_in_fp16_with_a_gradient_scaler_learns_on_the_gpu(monkeypatch):
    """The T4's path (fp16 autocast and a GradScaler) on whatever GPU is at hand."""
    import cnnbook.train as train_mod
    from cnnbook.runtime import Precision

    monkeypatch.setattr(train_mod, "precision", lambda dev: Precision(torch.float16, True, "as on a T4"))
    train, test = digits().split(1000, seed=0)
    h = cb.fit(cb.LeNet5(), train, test, epochs=2, batch_size=128, device="cuda", seed=0, progress=False)
    assert h.test_acc[-1] > 80, h.test_acc


def test_evaluate_on_the_gpu_is_float32_unless_asked():
    torch.manual_seed(0)
    model = cb.LeNet5().cuda().eval()
    data = digits(512)
    loader = cb.DeviceLoader(data, 256, device="cuda")
    with torch.no_grad():
        correct = sum((model(x).argmax(1) == y).sum().item() for x, y in loader)
    assert cb.evaluate(model, data, batch_size=256)[1] == 100 * correct / len(data)  # the same batches
    assert cb.evaluate(model, data, amp=True)[1] == pytest.approx(100 * correct / len(data), abs=1)


@pytest.mark.skipif(not torch.distributed.is_nccl_available(), reason="needs NCCL")
def test_nccl_data_parallel_training_runs(tmp_path):
    out = tmp_path / "run.json"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    for var in ("CNNBOOK_QUICK", "WORLD_SIZE", "RANK", "LOCAL_RANK", "MASTER_ADDR", "MASTER_PORT"):
        env.pop(var, None)
    nproc = min(2, torch.cuda.device_count())
    r = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
         "-m", "cnnbook", "train", "lenet5", "--quick", "--data-root", str(tmp_path / "data"),
         "--device", "cuda", "--json", str(out), "--no-progress"],
        capture_output=True, text=True, cwd=REPO, env=env, timeout=300)
    assert r.returncode == 0, r.stdout[-2000:] + r.stderr[-2000:]
    assert out.is_file()
