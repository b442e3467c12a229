"""The small checks and device helpers every module shares (private to the package).

One rule for argument mistakes everywhere in cnnbook:

* a value of the wrong **type** raises ``TypeError`` naming the parameter and what was expected;
* a value of the right type but out of **range** raises ``ValueError``, likewise.

``bool`` is never accepted where an int or a float is expected (``True`` is an ``int`` in Python,
but ``kernel_size=True`` is always a mistake).
"""

from __future__ import annotations

import contextlib
import math
import numbers
from typing import Iterator, Mapping, Sequence

import torch
from torch import nn

__all__ = ["SIZE_MAX", "check_int", "check_float", "check_flag", "check_model", "check_tensor", "check_nbytes",
           "int_pair", "size_pair", "as_device", "mps_available", "model_device", "eval_mode", "sync"]

# The largest kernel size, stride, padding, dilation, image side or group count cnnbook accepts:
# 2**31 - 1. PyTorch's pooling kernels read these as C ints (``F.max_pool2d(x, 2, stride=2**31)``
# fails with "value cannot be converted to type int without overflow"), no image comes near it,
# and with every factor below 2**31 the products of the output-size formulas stay inside 64 bits.
SIZE_MAX = 2**31 - 1


def _is_int(value: object) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: object) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _range_text(low: float | None, high: float | None, low_open: bool = False) -> str:
    if low is not None and high is not None:
        return f"in [{low}, {high}]" if not low_open else f"in ({low}, {high}]"
    if low is not None:
        return f"> {low}" if low_open else f">= {low}"
    if high is not None:
        return f"<= {high}"
    return ""


def check_int(name: str, value: object, *, low: int | None = None, high: int | None = None) -> int:
    """``value`` as a Python int in ``[low, high]``; TypeError/ValueError naming ``name`` otherwise."""
    if not _is_int(value):
        raise TypeError(f"{name} must be an int, got {value!r} ({type(value).__name__})")
    v = int(value)  # type: ignore[call-overload]
    if (low is not None and v < low) or (high is not None and v > high):
        raise ValueError(f"{name} must be an int {_range_text(low, high)}, got {v}")
    return v


def check_flag(name: str, value: object) -> bool:
    """``value`` if it is True or False; TypeError naming ``name`` otherwise (1 and 0 are refused)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_model(model: object) -> nn.Module:
    """``model`` if it is a torch.nn.Module; TypeError otherwise."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    return model


def check_float(name: str, value: object, *, low: float | None = None, high: float | None = None,
                low_open: bool = False, nan: bool = False) -> float:
    """``value`` (an int or a float) as a float in range; ``low_open=True`` excludes ``low`` itself.

    NaN is refused unless ``nan=True`` (it is in no range).
    """
    if not _is_real(value):
        raise TypeError(f"{name} must be a number, got {value!r} ({type(value).__name__})")
    v = float(value)  # type: ignore[arg-type]
    if nan and v != v:
        return v
    too_low = low is not None and (v <= low if low_open else v < low)
    if v != v or too_low or (high is not None and v > high):
        raise ValueError(f"{name} must be a number {_range_text(low, high, low_open)}, got {v}")
    return v


def int_pair(name: str, value: object, *, low: int | None = None, high: int | None = None,
             single: bool = False) -> tuple[int, int]:
    """An int or a pair of ints as a (height, width) pair, each in ``[low, high]`` (where given).

    ``single=True`` also takes a one-element ``(v,)`` as ``(v, v)``, as PyTorch's convolutions
    and pools do.
    """
    if isinstance(value, (tuple, list)):
        if len(value) != 2 and not (single and len(value) == 1):
            raise ValueError(f"{name} must be an int or a pair of ints, got {value!r}")
        pair = tuple(value) * (2 // len(value))
    else:
        pair = (value, value)
    if not all(_is_int(v) for v in pair):
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    h, w = int(pair[0]), int(pair[1])
    if (low is not None and min(h, w) < low) or (high is not None and max(h, w) > high):
        raise ValueError(f"{name} must be {_range_text(low, high)}, got {value!r}")
    return h, w


def size_pair(name: str, value: object, low: int) -> tuple[int, int]:
    """A size setting as PyTorch's convolutions and pools take it -- an int, an (H, W) pair or a
    one-element ``(v,)`` -- as an (H, W) pair, each in ``[low, SIZE_MAX]``."""
    return int_pair(name, value, low=low, high=SIZE_MAX, single=True)


def _layouts_text(layouts: Mapping[int, str]) -> str:
    """{3: "(C, H, W)", 4: "(N, C, H, W)"} -> "3-D (C, H, W) or 4-D (N, C, H, W)"."""
    items = [f"{d}-D {text}" for d, text in layouts.items()]
    return ", ".join(items[:-1]) + " or " + items[-1] if len(items) > 1 else items[0]


def check_tensor(name: str, value: object, layouts: Mapping[int, str] | None = None, *,
                 shape: Sequence[int | None] | None = None, dtype: str = "any", hint: str = "") -> torch.Tensor:
    """``value`` if it is a tensor as expected; TypeError (type, dtype) or ValueError (shape) naming ``name``.

    Args:
        layouts: the numbers of dimensions accepted, each with its layout for the message, e.g.
            ``{3: "(C, H, W)", 4: "(N, C, H, W)"}``; None accepts any.
        shape: the exact shape expected, ``None`` where any size goes (shown as N).
        dtype: ``"float"`` (floating point only), ``"number"`` (anything but bool) or ``"any"``.
        hint: what to do about a wrong shape, appended to that message.
    """
    if not isinstance(value, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    if layouts is not None and value.dim() not in layouts:
        raise ValueError(f"{name} must be {_layouts_text(layouts)}, got {value.dim()}-D with shape "
                         f"{tuple(value.shape)}")
    if shape is not None and (value.dim() != len(shape) or any(
            s is not None and s != n for s, n in zip(shape, value.shape))):
        expected = ", ".join("N" if s is None else str(s) for s in shape) + ("," if len(shape) == 1 else "")
        raise ValueError(f"{name} must have shape ({expected}), got {tuple(value.shape)}"
                         + (f"; {hint}" if hint else ""))
    if dtype == "float" and not value.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got {value.dtype}; convert it with x.float()")
    if dtype == "number" and value.dtype == torch.bool:
        raise TypeError(f"{name} must hold numbers, got torch.bool; convert it with x.float()")
    return value


def check_nbytes(what: str, shape: Sequence[int], dtype: torch.dtype) -> None:
    """ValueError unless torch can lay out a tensor of ``shape`` and ``dtype`` in 2**63 - 1 bytes.

    ``what`` names the arguments that chose the shape: "padding (left, right, top, bottom) = ...".
    torch multiplies the sides (an empty side counts as 1 for the strides) in 64-bit ints. Within
    that limit, a tensor too large for the machine fails as ``torch.empty`` does.
    """
    sides = math.prod(max(n, 1) for n in shape)
    if sides * dtype.itemsize > 2**63 - 1:
        raise ValueError(f"{what} would give an output of shape {tuple(shape)}, more than a tensor can "
                         f"hold: its sides multiply to {sides}, times {dtype.itemsize} bytes, past 2**63 - 1")


def mps_available() -> bool:
    """True if Apple's MPS backend can run here."""
    mps = getattr(torch.backends, "mps", None)
    return bool(mps is not None and mps.is_available())


def as_device(device: torch.device | str, name: str = "device") -> torch.device:
    """``device`` (a torch.device or a name: cpu, cuda, cuda:N or mps) as a ``torch.device`` that can
    run here; TypeError or ValueError naming ``name`` otherwise (``--device`` for the command line,
    ``CNNBOOK_DEVICE`` for the environment variable). The one reader of device names."""
    if not isinstance(device, (torch.device, str)):
        raise TypeError(f"{name} must be a torch.device or a name like 'cpu' or 'cuda', got {device!r}")
    try:
        dev = torch.device(device.strip() if isinstance(device, str) else device)
    except RuntimeError:
        dev = None
    if dev is None or dev.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"{name}={str(device)!r} is not a device name; use cpu, cuda, cuda:N or mps")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"{name}={str(device)!r} but no CUDA GPU is available here; use cpu")
    if dev.type == "cuda" and dev.index is not None and dev.index >= torch.cuda.device_count():
        raise ValueError(f"{name}={str(device)!r} but this machine has {torch.cuda.device_count()} CUDA GPU(s)")
    if dev.type == "mps" and not mps_available():
        raise ValueError(f"{name}={str(device)!r} but Apple MPS is not available here; use cpu")
    return dev


def model_device(model: nn.Module) -> torch.device:
    """The device of the model's first parameter (or buffer); CPU for a model without either."""
    for t in model.parameters():
        return t.device
    for b in model.buffers():
        return b.device
    return torch.device("cpu")


@contextlib.contextmanager
def eval_mode(model: nn.Module) -> Iterator[nn.Module]:
    """Put ``model`` in eval mode for the ``with`` block, then restore the mode it had."""
    was_training = model.training
    model.eval()
    try:
        yield model
    finally:
        model.train(was_training)


def sync(device: torch.device) -> None:
    """Wait for the device's queued work (CUDA and MPS run asynchronously); a no-op on the CPU."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()
