"""The checks of the AlexNet chapter's exercises (book/alexnet.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from collections.abc import Callable

from .verdict import Verdict

__all__ = ["check_alexnet_shapes"]


def check_alexnet_shapes(fn: Callable[..., object]) -> Verdict:
    """Not written yet (the AlexNet chapter's exercise)."""
    raise NotImplementedError("check_alexnet_shapes")
