"""Explorers that run in the reader's browser: no kernel, no network, no JavaScript library.

Each function returns an :class:`Explorer`, HTML with its data and plain JavaScript inlined, that
Jupyter, Colab and the book's site all display. The JavaScript lives here, next to this file:
``common.js`` (shared helpers), ``pooling.js`` and ``digit.js``.
"""

from .digit import digit_explorer
from .html import Explorer
from .pooling import pooling_explorer

__all__ = ["Explorer", "digit_explorer", "pooling_explorer"]
