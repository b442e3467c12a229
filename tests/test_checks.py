"""cnnbook._checks: one rule for argument mistakes (TypeError for types, ValueError for ranges)."""

import pytest
import torch
from torch import nn

from cnnbook import _checks


@pytest.mark.parametrize("bad", [True, 1.0, "3", None])
def test_check_int_refuses_other_types(bad):
    with pytest.raises(TypeError, match="kernel_size must be an int"):
        _checks.check_int("kernel_size", bad)


def test_check_int_range():
    assert _checks.check_int("k", 3, low=1, high=3) == 3
    with pytest.raises(ValueError, match=r"k must be an int >= 1, got 0"):
        _checks.check_int("k", 0, low=1)
    with pytest.raises(ValueError, match=r"in \[0, 2\]"):
        _checks.check_int("k", 3, low=0, high=2)


def test_check_float():
    assert _checks.check_float("lr", 1, low=0, low_open=True) == 1.0
    with pytest.raises(TypeError, match="lr must be a number"):
        _checks.check_float("lr", False)
    with pytest.raises(ValueError, match=r"lr must be a number > 0"):
        _checks.check_float("lr", 0.0, low=0, low_open=True)
    with pytest.raises(ValueError, match="p must be a number"):
        _checks.check_float("p", float("nan"), low=0, high=1)


@pytest.mark.parametrize("bad", [1, 0, "yes", None])
def test_check_flag_takes_only_true_or_false(bad):
    assert _checks.check_flag("ceil_mode", True) is True
    with pytest.raises(TypeError, match="ceil_mode must be True or False"):
        _checks.check_flag("ceil_mode", bad)


def test_check_model():
    net = nn.Linear(2, 2)
    assert _checks.check_model(net) is net
    with pytest.raises(TypeError, match="model must be a torch.nn.Module, got function"):
        _checks.check_model(lambda x: x)


def test_int_pair():
    assert _checks.int_pair("stride", 2) == (2, 2)
    assert _checks.int_pair("stride", (1, 3), low=1) == (1, 3)
    with pytest.raises(ValueError, match="stride must be an int or a pair"):
        _checks.int_pair("stride", (1, 2, 3))
    with pytest.raises(TypeError, match="stride must be an int or a pair"):
        _checks.int_pair("stride", (1, True))
    with pytest.raises(ValueError, match="stride must be >= 1"):
        _checks.int_pair("stride", (1, 0), low=1)


def test_devices():
    assert _checks.as_device("cpu") == torch.device("cpu")
    with pytest.raises(ValueError, match="not a device name"):
        _checks.as_device("gpu0")
    with pytest.raises(TypeError, match="device must be"):
        _checks.as_device(0)


def test_the_one_device_reader_names_where_the_name_came_from(monkeypatch):
    assert _checks.as_device(torch.device("cpu")) == torch.device("cpu")
    assert _checks.as_device(" cpu ", name="--device") == torch.device("cpu")
    for bad in ("gpu0", "meta", "cuda:x"):
        with pytest.raises(ValueError, match=f"--device='{bad}' is not a device name; use cpu, cuda, cuda:N or mps"):
            _checks.as_device(bad, name="--device")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CNNBOOK_DEVICE='cuda:1' but no CUDA GPU is available here; use cpu"):
        _checks.as_device("cuda:1", name="CNNBOOK_DEVICE")
    monkeypatch.setattr(_checks, "mps_available", lambda: False)
    with pytest.raises(ValueError, match="device='mps' but Apple MPS is not available here"):
        _checks.as_device("mps")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match="device='cuda:3' but this machine has 1 CUDA GPU"):
        _checks.as_device("cuda:3")


def test_model_device_and_modes():
    model = nn.Linear(2, 2)
    assert _checks.model_device(model) == torch.device("cpu")
    assert _checks.model_device(nn.ReLU()) == torch.device("cpu")
    model.train()
    with _checks.eval_mode(model):
        assert not model.training
    assert model.training
    _checks.sync(torch.device("cpu"))
