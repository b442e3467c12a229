"""The checks of the Padding chapter's exercises (book/padding.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from collections.abc import Callable

from .verdict import Verdict

__all__ = ["check_output_size", "check_pad2d"]


def check_output_size(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the Padding chapter's exercise)."""
    raise NotImplementedError("check_output_size")


def check_pad2d(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the Padding chapter's exercise)."""
    raise NotImplementedError("check_pad2d")
