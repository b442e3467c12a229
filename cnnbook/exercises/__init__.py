"""Checks for the book's exercises: ``cb.check_conv2d(my_conv2d)`` runs the reader's function on
random cases, compares it with PyTorch, and prints what is wrong on the first failing case (the
shape, the values, the gradients, a setting that should have been refused) in a few lines.

Each chapter's checks live in a module named after the chapter; :mod:`.verdict` is how they all
report. A check never raises on a wrong answer: it returns a :class:`Verdict`, true when every
case passed, that prints as text in Jupyter, Colab and a terminal.
"""

from .alexnet import check_alexnet_shapes
from .convolution import check_conv2d, check_conv_input_grad, check_corr2d
from .lenet5 import check_lenet5_shapes
from .padding import check_output_size, check_pad2d
from .pooling import check_max_pool_indices, check_pool2d
from .verdict import Verdict

__all__ = [
    "Verdict",
    "check_corr2d", "check_conv2d", "check_conv_input_grad",  # convolution
    "check_output_size", "check_pad2d",                # padding
    "check_pool2d", "check_max_pool_indices",          # pooling
    "check_lenet5_shapes",                             # LeNet-5
    "check_alexnet_shapes",                            # AlexNet
]
