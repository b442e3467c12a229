"""The checks of the Convolution chapter's exercises (book/convolution.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from collections.abc import Callable

from .verdict import Verdict

__all__ = ["check_corr2d", "check_conv2d"]


def check_corr2d(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the Convolution chapter's exercise)."""
    raise NotImplementedError("check_corr2d")


def check_conv2d(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the Convolution chapter's exercise)."""
    raise NotImplementedError("check_conv2d")
