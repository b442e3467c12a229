"""PyTorch's own OpInfo samples for its pools, run through cnnbook's pool2d and unpool2d.

Run by ``test_pooling.py`` in a child process (``python tests/pooling_op_db.py``): importing
``torch.testing._internal`` changes global state (it disables setting ``torch.backends`` flags
and rewrites ``sys.argv``), which must not leak into the test session. Prints one JSON object:
for each OpInfo, how many samples ran, how many disagree, and the first few disagreements.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import types
import unittest

import torch

from cnnbook.pooling import pool2d, unpool2d

# the argument names of F.avg_pool2d / F.max_pool2d / F.max_unpool2d after the input, in order
POSITIONAL = {
    "avg_pool2d": ("kernel_size", "stride", "padding", "ceil_mode", "count_include_pad", "divisor_override"),
    "max_pool2d": ("kernel_size", "stride", "padding", "dilation", "ceil_mode", "return_indices"),
    "max_unpool2d": ("indices", "kernel_size", "stride", "padding", "output_size"),
}


def _op_db() -> list:
    if importlib.util.find_spec("expecttest") is None:  # imported by torch's test helpers for a base class only
        sys.modules["expecttest"] = types.SimpleNamespace(TestCase=unittest.TestCase)  # type: ignore[assignment]
    argv = sys.argv[:]
    from torch.testing._internal.common_methods_invocations import op_db

    sys.argv = argv
    return op_db


def _ours(name: str, x: torch.Tensor, args: tuple, kwargs: dict):
    kw = dict(zip(POSITIONAL[name], args)) | kwargs
    if name == "max_unpool2d":
        return unpool2d(x, **kw)
    return pool2d(x, mode=name[:3], **kw)


def _same(ours, theirs) -> bool:
    if isinstance(theirs, tuple):  # (values, indices)
        return torch.equal(ours[1], theirs[1]) and _same(ours[0], theirs[0])
    if ours.shape != theirs.shape:
        return False
    try:
        torch.testing.assert_close(ours, theirs, equal_nan=True)
    except AssertionError:
        return False
    return True


def compare(op) -> tuple[int, list[str]]:
    """(samples, disagreements): both must refuse (ours with ValueError or TypeError), or agree."""
    name, count, bad = op.name.split(".")[-1], 0, []
    for sample in op.sample_inputs("cpu", torch.float32):
        count += 1
        try:
            theirs = op(sample.input, *sample.args, **sample.kwargs)
        except Exception as err:  # noqa: BLE001 -- any refusal of PyTorch's
            theirs = err
        try:
            ours = _ours(name, sample.input, sample.args, sample.kwargs)
        except (ValueError, TypeError) as err:
            ours = err
        refused = [isinstance(v, Exception) for v in (ours, theirs)]
        if refused != [False, False] and refused != [True, True] or not any(refused) and not _same(ours, theirs):
            bad.append(f"{tuple(sample.input.shape)} {sample.args} {sample.kwargs}: ours {ours!r:.120}, "
                       f"PyTorch {theirs!r:.120}")
    return count, bad


def refusals(op) -> tuple[int, list[str]]:
    """(error inputs, those pool2d accepts): every input PyTorch's OpInfo says it refuses."""
    name, count, accepted = op.name.split(".")[-1], 0, []
    for error in op.error_inputs("cpu"):
        sample = error.sample_input
        count += 1
        try:
            _ours(name, sample.input, sample.args, sample.kwargs)
        except (ValueError, TypeError):
            continue
        accepted.append(f"{tuple(sample.input.shape)} {sample.args} {sample.kwargs}")
    return count, accepted


def main() -> None:
    torch.manual_seed(0)
    names = {f"nn.functional.{n}" for n in POSITIONAL}
    report = {}
    for op in _op_db():
        if op.name in names:
            key = op.name.split(".")[-1] + (f".{op.variant_test_name}" if op.variant_test_name else "")
            count, bad = compare(op)
            errors, accepted = refusals(op) if op.error_inputs_func else (0, [])
            report[key] = {"samples": count, "disagree": len(bad), "first": bad[:3],
                           "error_inputs": errors, "accepted": accepted}
    print(json.dumps(report))


if __name__ == "__main__":
    main()
