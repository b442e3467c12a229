"""Interactive demos for the chapters: the only part of cnnbook that imports ipywidgets.

Each demo returns a widget to display in Jupyter or Colab; each has a static twin (``*_grid``)
that draws the same thing for a few settings, which is what the book's website shows.
"""

from .lenet import lenet_demo, lenet_demo_grid
from .padding import padding_demo, padding_grid
from .pooling import pooling_demo, pooling_grid

__all__ = ["pooling_demo", "pooling_grid", "padding_demo", "padding_grid", "lenet_demo", "lenet_demo_grid"]
