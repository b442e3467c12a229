"""Interactive demos for the chapters: the only part of cnnbook that imports ipywidgets.

What the page can do alone runs in the reader's browser instead (:mod:`cnnbook.explorers`, on the
site as in Jupyter and Colab). Each demo here has a static twin (``*_grid``) that draws the same
thing for a few settings, which is what the book's website shows.
"""

from .padding import padding_demo, padding_grid

__all__ = ["padding_demo", "padding_grid"]
