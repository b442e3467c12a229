"""The checks of the LeNet-5 chapter's exercises (book/lenet5.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from collections.abc import Callable

from .verdict import Verdict

__all__ = ["check_lenet5_shapes"]


def check_lenet5_shapes(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the LeNet-5 chapter's exercise)."""
    raise NotImplementedError("check_lenet5_shapes")
