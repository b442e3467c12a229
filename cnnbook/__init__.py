"""cnnbook: the code behind the chapters of the book. ``import cnnbook as cb``."""
# INTERIM (lead): lazy re-exports while modules are being written; replaced by plain imports.
from importlib import import_module

from .runtime import Budget, budget, budget_note, device, glue, hardware, setup

_LAZY = {
    "pool2d": "pooling",
    "pad2d": "padding",
    "conv_output_size": "padding",
    "LeNet5": "models",
    "LeNet5Classic": "models",
    "AlexNet": "models",
    "AlexNetCIFAR": "models",
    "ImageDataset": "data",
    "load_mnist": "data",
    "load_cifar10": "data",
    "as_dataset": "data",
    "DeviceLoader": "data",
    "random_shift": "data",
    "random_crop": "data",
    "random_flip": "data",
    "compose": "data",
    "fit": "train",
    "evaluate": "train",
    "predict": "train",
    "History": "train",
    "layer_table": "summary",
    "count_params": "summary",
    "count_macs": "summary",
    "format_table": "summary",
    "show_images": "viz",
    "plot_feature_maps": "viz",
    "plot_confusion_matrix": "viz",
    "confusion_matrix": "viz",
    "widgets": "widgets",
}


def __getattr__(name):
    if name in _LAZY:
        mod = import_module(f".{_LAZY[name]}", __name__)
        return mod if name == _LAZY[name] else getattr(mod, name)
    raise AttributeError(f"module 'cnnbook' has no attribute {name!r}")
