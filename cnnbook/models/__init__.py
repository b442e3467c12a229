"""The chapters' networks: LeNet-5 (1998 and modern) and AlexNet (2012 and a CIFAR-10 adaptation)."""

from .alexnet import AlexNet, AlexNetCIFAR, min_input_size, paper_layer_names
from .from_parts import lenet5_from_parts
from .lenet import (
    C3_TABLE,
    DIGIT_PROTOTYPES,
    LeNet5,
    LeNet5Classic,
    PartialConv2d,
    RBFOutput,
    ScaledTanh,
    Subsampling,
    c3_connection_table,
)

__all__ = [
    "LeNet5",
    "LeNet5Classic",
    "AlexNet",
    "AlexNetCIFAR",
    "ScaledTanh",
    "Subsampling",
    "PartialConv2d",
    "RBFOutput",
    "C3_TABLE",
    "DIGIT_PROTOTYPES",
    "c3_connection_table",
    "min_input_size",
    "paper_layer_names",
    "lenet5_from_parts",
]
