"""Explorers that run in the reader's browser: no kernel, no network, no JavaScript library.

Each function returns an :class:`Explorer`, HTML with its data and plain JavaScript inlined, that
Jupyter, Colab and the book's site all display: the one implementation of each interaction
(ipywidgets are for what needs the kernel). The JavaScript lives here, next to this file, as ES
modules linted by Biome (``make lint``): ``common.js`` (shared helpers), ``pooling.js``,
``padding.js`` and ``digit.js``, each exporting one function. What they state about cnnbook's rules
(output shapes, error messages, padded positions, layer shapes) is computed by cnnbook when the
explorer is rendered and embedded as data.
"""

from .digit import digit_explorer
from .html import Explorer
from .padding import padding_explorer
from .pooling import pooling_explorer

__all__ = ["Explorer", "digit_explorer", "padding_explorer", "pooling_explorer"]
