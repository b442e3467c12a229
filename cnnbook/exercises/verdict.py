"""How an exercise check reports: one :class:`Verdict`, a few lines a learner can act on.

Every ``cb.check_*`` function of :mod:`cnnbook.exercises` runs the reader's code on a list of
random cases, compares each answer with PyTorch's, and stops at the first case that fails::

    def check_one(case):                    # None when the case passes, else what is wrong
        got = fn(case.x)
        return tensor_problem(got, reference(case.x))

    return run_cases("my_relu", "torch.relu", cases, check_one, describe=lambda c: ...)

The verdict prints as text (Jupyter, Colab and a terminal alike), is true when every case passed,
and never raises: an exception inside the reader's function is reported as what it is, on the
case that raised it. No chapter teaches this module; the exercises of every chapter use it.
"""

from __future__ import annotations

import math
import traceback
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import torch

__all__ = ["Verdict", "run_cases", "tensor_problem", "describe", "refusal_problem", "close_enough",
           "require_function"]

C = TypeVar("C")


@dataclass(frozen=True)
class Verdict:
    """The result of one exercise check: ``bool(verdict)`` is whether every case passed.

    ``exercise`` names what was checked (``"conv2d"``), ``tried`` counts the cases run (up to and
    including the failing one), ``total`` the cases there were, ``case`` describes the failing
    case (the call with the shapes and settings used) and ``problem`` says what was wrong."""

    exercise: str
    reference: str
    passed: bool
    tried: int
    total: int
    case: str = ""
    problem: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        if self.passed:
            return (f"{self.exercise}: all {self.total} cases agree with {self.reference}. "
                    "Well done.")
        lines = [f"{self.exercise}: case {self.tried} of {self.total} fails.",
                 f"  the call:  {self.case}"]
        lines += [f"  {line}" for line in self.problem.splitlines()]
        return "\n".join(lines)

    __repr__ = __str__


def describe(value: object) -> str:
    """A short description of an argument or a result: a tensor by its shape and dtype, anything
    else by its repr (cut to 60 characters)."""
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).removeprefix("torch.")
        return f"tensor of shape {tuple(value.shape)} ({dtype})"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def tensor_problem(got: object, expected: torch.Tensor, *, what: str = "the result",
                   atol: float = 1e-4, rtol: float = 1e-4) -> str | None:
    """None when ``got`` is a tensor of ``expected``'s shape with close values; otherwise one or
    two lines naming the first difference: not a tensor, the shape, or the largest gap in value
    (where it is, what was expected there and what came back)."""
    if not isinstance(got, torch.Tensor):
        return f"{what} should be a tensor of shape {tuple(expected.shape)}, got {describe(got)}"
    if tuple(got.shape) != tuple(expected.shape):
        return (f"{what} has the wrong shape: expected {tuple(expected.shape)}, "
                f"got {tuple(got.shape)}")
    got_f, exp_f = got.detach().double().cpu(), expected.detach().double().cpu()
    if not torch.isfinite(got_f).all() and torch.isfinite(exp_f).all():
        at = tuple(int(i) for i in torch.nonzero(~torch.isfinite(got_f))[0])
        return f"{what} holds {float(got_f[at])} at index {at}; expected {float(exp_f[at]):.4g}"
    gap = (got_f - exp_f).abs() - rtol * exp_f.abs()
    if gap.numel() == 0 or float(gap.max()) <= atol:
        return None
    at = tuple(int(i) for i in torch.nonzero(gap == gap.max())[0])
    return (f"{what} differs at index {at}: expected {float(exp_f[at]):.4g}, "
            f"got {float(got_f[at]):.4g}")


def refusal_problem(call: Callable[[], object], setting: str,
                    errors: tuple[type[BaseException], ...] = (ValueError,)) -> str | None:
    """None when ``call()`` raises one of ``errors`` (a setting that must be refused); otherwise a
    line saying that ``setting`` was accepted, or refused with another kind of error."""
    names = " or ".join(e.__name__ for e in errors)
    try:
        result = call()
    except errors:
        return None
    except Exception as err:  # noqa: BLE001 -- reported to the learner, not hidden
        return f"{setting} should raise {names}, but raised {type(err).__name__}: {err}"
    return f"{setting} should raise {names}, but your function returned {describe(result)}"


def require_function(fn: object, name: str = "fn") -> None:
    """TypeError naming ``name`` unless ``fn`` can be called: a check is given the reader's
    function itself (``cb.check_conv2d(my_conv2d)``), not what it returns."""
    if not callable(fn):
        raise TypeError(f"{name} must be your function itself (e.g. check(my_function), without "
                        f"parentheses), got {describe(fn)}")


def _raised(err: BaseException) -> str:
    """What an exception in the learner's function says, with the line of their code it came
    from (the last frame outside cnnbook)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__)
              if "cnnbook" not in f.filename.replace("\\", "/").split("/")]
    where = f" (line {frames[-1].lineno}: {frames[-1].line})" if frames and frames[-1].line else ""
    return f"your function raised {type(err).__name__}: {err}{where}"


def run_cases(exercise: str, reference: str, cases: Iterable[C],
              check_one: Callable[[C], str | None], *,
              describe_case: Callable[[C], str] = describe) -> Verdict:
    """Run ``check_one`` on every case, in order, and stop at the first that returns a problem
    (or raises): the :class:`Verdict` names that case and what was wrong. ``reference`` names
    what the answers are compared with (``"F.conv2d"``)."""
    listed: Sequence[C] = list(cases)
    for number, case in enumerate(listed, start=1):
        try:
            problem = check_one(case)
        except Exception as err:  # noqa: BLE001 -- the learner's code failed: say how
            problem = _raised(err)
        if problem:
            return Verdict(exercise, reference, False, number, len(listed),
                           describe_case(case), problem)
    return Verdict(exercise, reference, True, len(listed), len(listed))


def close_enough(a: float, b: float, tol: float = 1e-9) -> bool:
    """Whether two numbers agree to ``tol`` (relative), for checks of scalar answers."""
    return math.isclose(a, b, rel_tol=tol, abs_tol=tol)
