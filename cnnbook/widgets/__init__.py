"""Interactive ipywidgets demos for the chapters (the only part of cnnbook that imports ipywidgets)."""
from importlib import import_module

_LAZY = {
    "pooling_demo": "pooling",
    "pooling_grid": "pooling",
    "padding_demo": "padding",
    "padding_grid": "padding",
    "lenet_demo": "lenet",
    "lenet_demo_grid": "lenet",
}


def __getattr__(name):
    if name in _LAZY:
        return getattr(import_module(f".{_LAZY[name]}", __name__), name)
    raise AttributeError(name)
