"""cnnbook: the code behind the chapters of the book.

    import cnnbook as cb
    device = cb.setup()                               # prints the device and the run budget
    train, test = cb.load_mnist(split="train"), cb.load_mnist(split="test")
    history = cb.fit(cb.LeNet5(), train, test, epochs=3)

Everything a chapter needs is re-exported here; each lives in a module named after its concept
(``cnnbook.pooling``, ``cnnbook.padding``, ``cnnbook.models``, ``cnnbook.data``, ``cnnbook.train``,
...). ``import cnnbook`` needs torch alone: figures import matplotlib when drawn, and the explorers
(:mod:`cnnbook.explorers`) run in the reader's browser, with no ipywidgets.
"""

from . import exercises
from .conv import conv2d
from .data import (
    FASHION_MNIST_CLASSES,
    FASHION_MNIST_MEAN,
    FASHION_MNIST_STD,
    DataFileError,
    DeviceLoader,
    ImageDataset,
    as_dataset,
    compose,
    load_cifar10,
    load_fashion_mnist,
    load_mnist,
    pad_images,
    random_crop,
    random_flip,
    random_shift,
)
from .diagram import architecture_blocks, plot_architecture
from .estimate import Plan, Timing, plan_runs, time_step, time_training
from .exercises import (
    Verdict,
    check_alexnet_shapes,
    check_conv2d,
    check_corr2d,
    check_lenet5_shapes,
    check_max_pool_indices,
    check_output_size,
    check_pad2d,
    check_pool2d,
)
from .explorers import digit_explorer, padding_explorer, pooling_explorer
from .models import AlexNet, AlexNetCIFAR, LeNet5, LeNet5Classic
from .models.from_parts import lenet5_from_parts
from .padding import conv_output_size, pad2d
from .pooling import pool2d, receptive_field, unpool2d
from .robustness import accuracy_vs_noise, accuracy_vs_shift
from .runtime import (
    Budget,
    ClaimError,
    ClaimWarning,
    GluedMarkdown,
    budget,
    budget_note,
    claim,
    device,
    fill_glue,
    glue,
    glued,
    hardware,
    setup,
)
from .settings import Settings
from .summary import count_macs, count_params, format_table, layer_table
from .tables import Table, layers_table
from .train import History, evaluate, fit, predict
from .viz import confusion_matrix, plot_confusion_matrix, plot_curves, plot_feature_maps, show_images

__version__ = "0.1.0"

__all__ = [
    # runtime
    "device", "hardware", "budget", "Budget", "budget_note", "setup", "glue",
    "glued", "fill_glue", "GluedMarkdown",
    "claim", "ClaimError", "ClaimWarning",
    # time estimates before long runs
    "Plan", "Timing", "time_training", "time_step", "plan_runs",
    # from-scratch operations
    "pool2d", "unpool2d", "receptive_field", "pad2d", "conv_output_size",
    "conv2d", "lenet5_from_parts",
    # models and their anatomy
    "LeNet5", "LeNet5Classic", "AlexNet", "AlexNetCIFAR",
    "layer_table", "format_table", "count_params", "count_macs",
    "architecture_blocks", "plot_architecture", "Table", "layers_table",
    # data
    "ImageDataset", "DataFileError", "load_mnist", "load_cifar10", "as_dataset", "pad_images", "DeviceLoader",
    "load_fashion_mnist", "FASHION_MNIST_CLASSES", "FASHION_MNIST_MEAN", "FASHION_MNIST_STD",
    "random_shift", "random_crop", "random_flip", "compose",
    # training
    "fit", "Settings", "evaluate", "predict", "History", "accuracy_vs_noise", "accuracy_vs_shift",
    # figures
    "show_images", "plot_feature_maps", "plot_curves", "confusion_matrix", "plot_confusion_matrix",
    # exercises: the reader's code checked against PyTorch
    "exercises", "Verdict", "check_corr2d", "check_conv2d", "check_output_size", "check_pad2d",
    "check_pool2d", "check_max_pool_indices", "check_lenet5_shapes", "check_alexnet_shapes",
    # explorers that run in the reader's browser
    "pooling_explorer", "padding_explorer", "digit_explorer",
]
