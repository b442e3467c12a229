import pytest
import torch

import cnnbook as cb
from cnnbook import runtime


def test_device_defaults_to_cpu_without_gpu(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert cb.device() == torch.device("cpu")


def test_device_prefers_cuda_then_mps(monkeypatch):
    monkeypatch.setattr(runtime, "_mps_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert cb.device().type == "mps"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cb.device().type == "cuda"


def test_device_override(monkeypatch):
    monkeypatch.setenv("CNNBOOK_DEVICE", "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cb.device() == torch.device("cpu")


@pytest.mark.parametrize("value, needle", [("banana", "not a device name"), ("cuda", "no CUDA GPU")])
def test_device_override_errors_name_the_variable(monkeypatch, value, needle):
    monkeypatch.setenv("CNNBOOK_DEVICE", value)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CNNBOOK_DEVICE") as err:
        cb.device()
    assert needle in str(err.value)


def test_budget_quick_cpu_full(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(runtime, "_mps_available", lambda: False)
    assert cb.budget().name == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert cb.budget().name == "full"
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    assert cb.budget().name == "quick"
    monkeypatch.setenv("CNNBOOK_QUICK", "0")
    monkeypatch.setenv("CNNBOOK_BUDGET", "cpu")
    assert cb.budget().name == "cpu"


def test_budget_rejects_unknown_names(monkeypatch):
    monkeypatch.setenv("CNNBOOK_BUDGET", "huge")
    with pytest.raises(ValueError, match="CNNBOOK_BUDGET"):
        cb.budget()
    with pytest.raises(ValueError, match="budget must be one of"):
        cb.Budget("huge")


def test_pick_returns_the_value_of_the_budget():
    assert cb.Budget("quick").pick(quick=1, cpu=2, full=3) == 1
    assert cb.Budget("cpu").pick(quick=1, cpu=2, full=3) == 2
    assert cb.Budget("full").pick(quick=1, cpu=2, full=3) == 3


def test_hardware_describes_the_cpu():
    text = cb.hardware(torch.device("cpu"))
    assert text.startswith("CPU") and torch.__version__ in text


def test_setup_prints_device_and_budget(monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    monkeypatch.setenv("CNNBOOK_DEVICE", "cpu")
    dev = cb.setup(seed=3)
    out = capsys.readouterr().out
    assert dev == torch.device("cpu")
    assert "cpu" in out and "Run budget: quick" in out
    a = torch.rand(3)
    cb.setup(seed=3)
    assert torch.equal(a, torch.rand(3)), "setup(seed) must seed torch"


def test_budget_note_says_what_the_full_run_does(monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    b = cb.budget_note(full="10 epochs", cpu="3 epochs", quick="1 batch")
    out = capsys.readouterr().out
    assert b.name == "quick"
    assert "this run does 1 batch" in out and "10 epochs" in out
    monkeypatch.setenv("CNNBOOK_QUICK", "0")
    monkeypatch.setenv("CNNBOOK_BUDGET", "full")
    cb.budget_note(full="10 epochs", cpu="3 epochs", quick="1 batch")
    out = capsys.readouterr().out
    assert "this run does 10 epochs" in out and "would" not in out


def test_glue_works_with_or_without_myst_nb(monkeypatch, capsys):
    import builtins
    assert cb.glue("x", 3.5) is None  # returns nothing, so a cell ending in glue(...) shows nothing
    real_import = builtins.__import__

    def no_myst(name, *args, **kwargs):
        if name.startswith("myst_nb"):
            raise ImportError(name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_myst)
    assert cb.glue("y", [1, 2]) is None
    assert capsys.readouterr().out == ""


def test_claim_warns_a_reader_and_fails_strict_runs(monkeypatch):
    import warnings

    import cnnbook as cb

    monkeypatch.delenv("CNNBOOK_STRICT", raising=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.claim(True, "anything")
    with pytest.warns(cb.ClaimWarning, match="assumes max beats avg"):
        cb.claim(False, "max beats avg")
    monkeypatch.setenv("CNNBOOK_STRICT", "1")
    with pytest.raises(cb.ClaimError, match="assumes max beats avg"):
        cb.claim(False, "max beats avg")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        cb.claim(1 < 2, "order")
    with pytest.raises(TypeError, match="message"):
        cb.claim(True, "")
    # nothing is returned: a claim at the end of a hidden cell prints nothing in Jupyter or Colab
    assert cb.claim(True, "order") is None


def test_glue_keeps_values_for_the_colab_edition(monkeypatch):
    import warnings

    cb.glue("acc_demo", 97.4567)
    cb.glue("n_demo", 60000)
    cb.glue("who_demo", "LeNet-5")
    assert cb.glued("acc_demo") == 97.4567
    text = cb.fill_glue("{glue:text}`who_demo` reached {glue:text}`acc_demo:.1f`% on "
                        "{glue:text}`n_demo:,d` digits ({glue}`n_demo`).")
    assert text == "LeNet-5 reached 97.5% on 60,000 digits (60000)."
    assert text._repr_markdown_() == str(text)
    monkeypatch.setenv("CNNBOOK_STRICT", "1")
    with pytest.raises(KeyError, match="never_glued"):
        cb.fill_glue("{glue:text}`never_glued:.2f`")
    monkeypatch.delenv("CNNBOOK_STRICT")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert cb.fill_glue("x {glue:text}`never_glued`") == "x [never_glued?]"
    assert "run the cells above" in str(caught[0].message)
    with pytest.raises(KeyError, match="run the cells above"):
        cb.glued("never_glued")
    with pytest.raises(TypeError, match="name"):
        cb.glue("", 1)


# ----------------------------------------------------------------------------- precision by hardware


def fake_gpu(monkeypatch, name: str, capability: tuple[int, int]) -> None:
    """Make torch.cuda report one GPU ``name`` of compute capability ``capability``."""
    props = type("Props", (), {"name": name, "total_memory": 15 * 2**30})()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda dev=None: capability)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda dev=None: name)
    monkeypatch.setattr(torch.cuda, "get_device_properties", lambda dev=None: props)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: True)  # as torch says on a T4
    monkeypatch.delenv("CNNBOOK_DEVICE", raising=False)
    monkeypatch.delenv("CNNBOOK_QUICK", raising=False)
    monkeypatch.delenv("CNNBOOK_BUDGET", raising=False)


@pytest.mark.parametrize("name, capability, dtype, scaler", [
    ("Tesla T4", (7, 5), torch.float16, True),
    ("Tesla V100-SXM2-16GB", (7, 0), torch.float16, True),
    ("NVIDIA A100-SXM4-40GB", (8, 0), torch.bfloat16, False),
    ("NVIDIA H100 80GB HBM3", (9, 0), torch.bfloat16, False),
])
def test_precision_is_bf16_only_where_the_gpu_computes_it_natively(monkeypatch, name, capability, dtype, scaler):
    from cnnbook.train import amp_dtype

    fake_gpu(monkeypatch, name, capability)
    p = runtime.precision(torch.device("cuda"))
    assert (p.dtype, p.scaler) == (dtype, scaler)
    assert amp_dtype(torch.device("cuda")) == dtype
    assert amp_dtype(torch.device("cuda"), amp=False) is None
    assert name in p.reason and f"{capability[0]}.{capability[1]}" in p.reason


@pytest.mark.parametrize("name, capability, line", [
    ("Tesla T4", (7, 5),
     "Training precision: fp16 with a gradient scaler: Tesla T4 (compute capability 7.5) has no native bf16"),
    ("NVIDIA A100-SXM4-40GB", (8, 0),
     "Training precision: bf16: NVIDIA A100-SXM4-40GB (compute capability 8.0) computes bf16 natively"),
    ("NVIDIA H200", (9, 0), "Training precision: bf16: NVIDIA H200 (compute capability 9.0) computes bf16 natively"),
])
def test_setup_says_which_precision_and_why(monkeypatch, capsys, name, capability, line):
    fake_gpu(monkeypatch, name, capability)
    assert cb.setup(seed=None) == torch.device("cuda")
    out = capsys.readouterr().out.splitlines()
    assert line in out
    assert "Run budget: full" in "\n".join(out)


def test_precision_on_the_cpu_follows_native_bf16(monkeypatch):
    for native, dtype in ((True, torch.bfloat16), (False, None)):
        monkeypatch.setattr(runtime, "cpu_has_bf16", lambda native=native: native)
        p = runtime.precision(torch.device("cpu"))
        assert p.dtype == dtype and not p.scaler
        assert str(p).startswith("bf16: " if native else "float32: ")
    assert runtime.precision("mps").dtype is None


def test_the_command_line_records_the_precision_it_trained_in(tmp_path, monkeypatch):
    """python -m cnnbook train on a faked T4: the record says float16, and the run trains in fp16
    with a gradient scaler (on this CPU, where torch computes both)."""
    import json

    import cnnbook.train as train_mod
    from cnnbook.cli import main

    monkeypatch.setattr(train_mod, "precision", lambda dev: runtime.Precision(torch.float16, True, "a faked T4"))
    out = tmp_path / "run.json"
    assert main(["train", "lenet5", "--quick", "--epochs", "1", "--data-root", str(tmp_path / "data"),
                 "--device", "cpu", "--json", str(out), "--no-progress"]) == 0
    record = json.loads(out.read_text())
    assert record["precision"] == "float16" and record["test_acc"] > 50
    monkeypatch.undo()
    assert main(["train", "lenet5", "--quick", "--epochs", "1", "--data-root", str(tmp_path / "data"),
                 "--device", "cpu", "--json", str(out), "--no-progress"]) == 0
    expected = "bfloat16" if runtime.cpu_has_bf16() else "float32"
    assert json.loads(out.read_text())["precision"] == expected
