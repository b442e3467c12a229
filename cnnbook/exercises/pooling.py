"""The checks of the Pooling chapter's exercises (book/pooling.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from collections.abc import Callable

from .verdict import Verdict

__all__ = ["check_pool2d", "check_max_pool_indices"]


def check_pool2d(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the Pooling chapter's exercise)."""
    raise NotImplementedError("check_pool2d")


def check_max_pool_indices(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the Pooling chapter's exercise)."""
    raise NotImplementedError("check_max_pool_indices")
