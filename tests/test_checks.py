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
    # a one-element tuple only where PyTorch takes one; the range with its upper bound
    assert _checks.int_pair("stride", [3], single=True) == (3, 3)
    for one in ((3,), ()):
        with pytest.raises(ValueError, match="stride must be an int or a pair"):
            _checks.int_pair("stride", one)
    with pytest.raises(ValueError, match="stride must be an int or a pair"):
        _checks.int_pair("stride", (), single=True)
    big = _checks.SIZE_MAX
    assert big == 2**31 - 1 and _checks.int_pair("k", (1, big), low=1, high=big) == (1, big)
    with pytest.raises(ValueError, match=r"k must be in \[1, 2147483647\], got \(2147483648, 1\)"):
        _checks.int_pair("k", (big + 1, 1), low=1, high=big)


def test_size_pair_is_pytorchs_reading_of_a_size():
    assert _checks.size_pair("padding", (2,), 0) == (2, 2) == _checks.size_pair("padding", 2, 0)
    assert _checks.size_pair("stride", (1, 2**31 - 1), 1) == (1, 2**31 - 1)
    with pytest.raises(ValueError, match=r"stride must be in \[1, 2147483647\], got \(2147483648,\)"):
        _checks.size_pair("stride", (2**31,), 1)
    with pytest.raises(ValueError, match=r"padding must be in \[0, 2147483647\], got -1"):
        _checks.size_pair("padding", -1, 0)


def test_check_float_nan_only_where_asked():
    assert _checks.check_float("value", float("nan"), nan=True) != _checks.check_float("value", 0.0)
    with pytest.raises(ValueError, match="value must be a number"):
        _checks.check_float("value", float("nan"))
    with pytest.raises(ValueError, match=r"p must be a number in \[0, 1\]"):
        _checks.check_float("p", 2.0, low=0, high=1, nan=True)


def test_check_tensor_type_layout_shape_and_dtype():
    x = torch.zeros(2, 3, 4)
    assert _checks.check_tensor("x", x) is x
    with pytest.raises(TypeError, match="x must be a torch.Tensor, got list"):
        _checks.check_tensor("x", [1.0])
    with pytest.raises(ValueError, match=r"x must be 4-D \(N, C, H, W\), 2-D \(H, W\) or 1-D \(W,\), got "
                                         r"3-D with shape \(2, 3, 4\)"):
        _checks.check_tensor("x", x, {4: "(N, C, H, W)", 2: "(H, W)", 1: "(W,)"})
    with pytest.raises(ValueError, match=r"weight must be 2-D \(H, W\), got 3-D"):
        _checks.check_tensor("weight", x, {2: "(H, W)"})
    assert _checks.check_tensor("x", x, shape=(None, 3, 4)) is x
    for shape in [(None, 3, 5), (None, 2, 3, 4), (3,)]:
        with pytest.raises(ValueError, match=r"Net's input must have shape \((N, 3, 5|N, 2, 3, 4|3,)\), got "
                                             r"\(2, 3, 4\); pad it$"):
            _checks.check_tensor("Net's input", x, shape=shape, hint="pad it")
    with pytest.raises(TypeError, match=r"x must be a floating-point tensor, got torch.int64; convert it with "
                                        r"x.float\(\)"):
        _checks.check_tensor("x", x.long(), dtype="float")
    assert _checks.check_tensor("x", x.long(), dtype="number") is not None
    with pytest.raises(TypeError, match="x must hold numbers, got torch.bool"):
        _checks.check_tensor("x", x.bool(), dtype="number")


def test_check_nbytes():
    _checks.check_nbytes("padding", (2**31 - 1, 2**30, 1), torch.float32)  # 2**63 - 2**32 bytes: fits
    _checks.check_nbytes("padding", (0, 2**31 - 1, 2**30), torch.float32)  # an empty side counts as 1
    with pytest.raises(ValueError, match=r"padding would give an output of shape \(2, 2147483648, 1073741824\), "
                                         r"more than a tensor can hold"):
        _checks.check_nbytes("padding", (2, 2**31, 2**30), torch.float32)
    with pytest.raises(ValueError, match="more than a tensor can hold"):
        _checks.check_nbytes("padding", (0, 2**62), torch.float64)


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
