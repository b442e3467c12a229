"""LeNet-5 twice: a simplified modern variant, and the 1998 design as LeCun et al. built it.

* :class:`LeNet5` -- 28x28 MNIST in, ReLU and max pooling, 44,426 parameters.
* :class:`LeNet5Classic` -- 32x32 in, scaled tanh, trainable subsampling, the partially connected
  C3 layer and (optionally) the RBF output layer of the paper; 60,000 trainable parameters through F6.
"""

from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn.functional as F
from torch import nn

from .._checks import check_int, check_tensor
from ..padding import layers_output_size

__all__ = [
    "LeNet5",
    "LeNet5Classic",
    "ScaledTanh",
    "Subsampling",
    "PartialConv2d",
    "RBFOutput",
    "C3_TABLE",
    "c3_connection_table",
    "DIGIT_PROTOTYPES",
]


# --------------------------------------------------------------------------------------------------
# The modern LeNet-5


class LeNet5(nn.Module):
    """A simplified LeNet-5 (ReLU, max pooling, no padding): 28x28 grey images in, ``num_classes`` logits out.

    conv 6@5x5 -> act -> pool 2 -> conv 16@5x5 -> act -> pool 2 -> flatten 256 -> 120 -> 84 -> 10.
    With the defaults (ReLU, max pooling, 10 classes) it has exactly 44,426 parameters.

    ``activation`` ("relu" | "sigmoid" | "tanh") and ``pool`` ("max" | "avg") give the older
    variants for comparison: ``LeNet5(activation="sigmoid", pool="avg")`` is the design of the
    1990s with the modern shapes. The parameter count does not depend on them.

    ``in_channels`` and ``size`` (default 1 and 28) let the same layers read other square images:
    ``LeNet5(in_channels=3, size=32)`` takes CIFAR-10's colour images (16 maps of 5x5, 400 numbers,
    before the first fully connected layer), the network of PyTorch's CIFAR-10 tutorial. The AlexNet
    chapter trains it on the images AlexNetCIFAR learns from.

    Input (N, in_channels, size, size) float -> output (N, num_classes) logits.
    """

    def __init__(self, num_classes: int = 10, *, activation: str = "relu",
                 pool: str = "max", in_channels: int = 1,
                 size: int = 28) -> None:
        super().__init__()
        Act, Pool = _lenet5_parts(num_classes, activation, pool,
                                  in_channels, size)
        self.input_size = (in_channels, size, size)
        self.features = nn.Sequential(  # map sides for a 28x28 input:
            nn.Conv2d(in_channels, 6, kernel_size=5),  # 28 -> 24
            Act(),
            Pool(kernel_size=2),  # 24 -> 12
            nn.Conv2d(6, 16, kernel_size=5),  # 12 -> 8
            Act(),
            Pool(kernel_size=2),  # 8 -> 4
        )
        # the maps' side after the second pooling: 4 at 28x28, 5 at 32x32
        side, _ = layers_output_size(self.features, size)
        self.classifier = nn.Sequential(
            nn.Linear(16 * side * side, 120),
            Act(),
            nn.Linear(120, 84),
            Act(),
            nn.Linear(84, num_classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, size, size) -> (N, num_classes) logits."""
        check_tensor("LeNet5's input x", x, shape=(None, *self.input_size),
                     hint=_LENET5_HINT)
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


_LENET5_HINT = "pad or resize the images (LeNet5Classic takes 32x32), or see nn.AdaptiveAvgPool2d"


def _lenet5_parts(num_classes: int, activation: str, pool: str, in_channels: int,
                  size: int) -> tuple[type[nn.Module], type[nn.Module]]:
    """Check LeNet5's arguments; return its activation and pooling classes."""
    check_int("num_classes", num_classes, low=1)
    check_int("in_channels", in_channels, low=1)
    check_int("size", size, low=16)
    acts = {"relu": nn.ReLU, "sigmoid": nn.Sigmoid, "tanh": nn.Tanh}
    pools = {"max": nn.MaxPool2d, "avg": nn.AvgPool2d}
    if activation not in acts:
        raise ValueError(f"activation must be one of {tuple(acts)}, got {activation!r}")
    if pool not in pools:
        raise ValueError(f"pool must be one of {tuple(pools)}, got {pool!r}")
    return acts[activation], pools[pool]


# --------------------------------------------------------------------------------------------------
# The pieces of the 1998 design


class ScaledTanh(nn.Module):
    """The squashing function of LeCun et al. (1998): ``f(a) = 1.7159 * tanh(2a/3)``.

    Chosen so that f(1) = 1 and f(-1) = -1, where its second derivative is largest; any shape in,
    the same shape out.
    """

    A = 1.7159
    S = 2.0 / 3.0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Elementwise, any shape."""
        return self.A * torch.tanh(self.S * x)


class Subsampling(nn.Module):
    """A trainable subsampling layer (S2, S4): 2x2 average, times a learned coefficient, plus a bias.

    One coefficient and one bias per feature map, so 2 * channels parameters. The paper sums the
    four inputs; averaging differs only by a factor of 4 that the coefficient absorbs. The paper
    then applies the squashing function; here that is a separate :class:`ScaledTanh` layer.

    Input (N, channels, H, W) -> output (N, channels, H // 2, W // 2).
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.ones(channels))
        self.bias = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H // 2, W // 2)."""
        x = F.avg_pool2d(x, 2)
        return x * self.weight.view(1, -1, 1, 1) + self.bias.view(1, -1, 1, 1)


# Table I of LeCun et al. (1998): which S2 maps (0..5) each of the 16 C3 maps sees.
C3_TABLE: tuple[tuple[int, ...], ...] = (
    # 6 maps see 3 contiguous S2 maps
    (0, 1, 2), (1, 2, 3), (2, 3, 4), (3, 4, 5), (4, 5, 0), (5, 0, 1),
    # 6 maps see 4 contiguous S2 maps
    (0, 1, 2, 3), (1, 2, 3, 4), (2, 3, 4, 5), (3, 4, 5, 0), (4, 5, 0, 1), (5, 0, 1, 2),
    # 3 maps see 4 non-contiguous S2 maps
    (0, 1, 3, 4), (1, 2, 4, 5), (0, 2, 3, 5),
    # 1 map sees all 6
    (0, 1, 2, 3, 4, 5),
)


def c3_connection_table() -> torch.Tensor:
    """Table I of the paper as a bool tensor (6, 16): entry [i, j] is True if C3 map j sees S2 map i."""
    table = torch.zeros(6, 16, dtype=torch.bool)
    for j, inputs in enumerate(C3_TABLE):
        table[list(inputs), j] = True
    return table


class PartialConv2d(nn.Module):
    """A convolution in which output map ``j`` sees only the input maps listed in ``table[j]`` (C3).

    Only the kernels of real connections are parameters: ``weight`` has shape
    (connections, k, k), 60 x 5 x 5 for C3. ``full_weight()`` scatters them into the ordinary
    (out, in, k, k) weight with zeros elsewhere (an index_copy, vectorised, no host sync), so the
    forward pass is a single ``F.conv2d``; the missing connections are not parameters at all, are
    never trained and are not counted. The dense convolution does multiply by the zeros: on 10x10
    maps C3 spends 240,000 multiply-adds where the 60 connections need 150,000, a good trade on
    hardware where one convolution is much faster than sixteen small ones.

    Input (N, in_channels, H, W) -> output (N, len(table), H - k + 1, W - k + 1).
    """

    index: torch.Tensor  # buffer: where the real kernels go in the dense weight

    def __init__(
        self, table: tuple[tuple[int, ...], ...], in_channels: int, kernel_size: int = 5
    ) -> None:
        super().__init__()
        if kernel_size < 1:
            raise ValueError(f"kernel_size must be >= 1, got {kernel_size}")
        mask = torch.zeros(len(table), in_channels, dtype=torch.bool)
        for j, inputs in enumerate(table):
            if not inputs or min(inputs) < 0 or max(inputs) >= in_channels:
                raise ValueError(
                    f"table[{j}] must list input maps in 0..{in_channels - 1}, got {inputs!r}"
                )
            mask[j, list(inputs)] = True
        self.in_channels, self.out_channels, self.kernel_size = in_channels, len(table), kernel_size
        self.register_buffer("mask", mask, persistent=False)  # (out, in) bool
        self.register_buffer("index", mask.flatten().nonzero().flatten(), persistent=False)
        n = int(mask.sum())
        self.weight = nn.Parameter(torch.empty(n, kernel_size, kernel_size))
        self.bias = nn.Parameter(torch.empty(self.out_channels))
        # PyTorch's default conv initialisation, with each output map's real fan-in.
        fan_in = mask.sum(dim=1).float() * kernel_size**2  # (out,)
        bound = (1.0 / fan_in.sqrt()).repeat_interleave(mask.sum(dim=1))  # (connections,)
        with torch.no_grad():
            self.weight.uniform_(-1, 1).mul_(bound.view(-1, 1, 1))
            self.bias.uniform_(-1, 1).mul_(1.0 / fan_in.sqrt())

    def full_weight(self) -> torch.Tensor:
        """The equivalent dense weight (out, in, k, k), zero where there is no connection."""
        k = self.kernel_size
        w = self.weight.new_zeros(self.out_channels * self.in_channels, k, k)
        w = w.index_copy(0, self.index, self.weight)
        return w.view(self.out_channels, self.in_channels, k, k)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in, H, W) -> (N, out, H - k + 1, W - k + 1)."""
        return F.conv2d(x, self.full_weight(), self.bias)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"connections={self.weight.shape[0]}")


# 7x12 bitmaps of the digits, drawn for this book in the spirit of the paper's Fig. 3 (the paper's
# own bitmaps are of the printable ASCII characters). '#' is +1, '.' is -1.
_DIGIT_BITMAPS = (
    (".......", "..###..", ".#...#.", "#.....#", "#.....#", "#.....#",
     "#.....#", "#.....#", "#.....#", ".#...#.", "..###..", "......."),
    (".......", "...#...", "..##...", ".#.#...", "...#...", "...#...",
     "...#...", "...#...", "...#...", "...#...", ".#####.", "......."),
    (".......", ".####..", "#....#.", ".....#.", ".....#.", "....#..",
     "...#...", "..#....", ".#.....", "#......", "######.", "......."),
    (".......", ".####..", "#....#.", ".....#.", ".....#.", "..###..",
     ".....#.", ".....#.", ".....#.", "#....#.", ".####..", "......."),
    (".......", "....#..", "...##..", "..#.#..", ".#..#..", "#...#..",
     "######.", "....#..", "....#..", "....#..", "....#..", "......."),
    (".......", "######.", "#......", "#......", "#......", "#####..",
     ".....#.", ".....#.", ".....#.", "#....#.", ".####..", "......."),
    (".......", "..###..", ".#.....", "#......", "#......", "#####..",
     "#....#.", "#....#.", "#....#.", "#....#.", ".####..", "......."),
    (".......", "######.", ".....#.", "....#..", "....#..", "...#...",
     "...#...", "..#....", "..#....", "..#....", "..#....", "......."),
    (".......", ".####..", "#....#.", "#....#.", "#....#.", ".####..",
     "#....#.", "#....#.", "#....#.", "#....#.", ".####..", "......."),
    (".......", ".####..", "#....#.", "#....#.", "#....#.", "#....#.",
     ".#####.", ".....#.", ".....#.", "....#..", ".###...", "......."),
)

DIGIT_PROTOTYPES: torch.Tensor = torch.tensor(
    [[1.0 if ch == "#" else -1.0 for row in bitmap for ch in row] for bitmap in _DIGIT_BITMAPS]
)  # (10, 84): row i is digit i's 12x7 bitmap, read row by row, in {-1, +1}


class RBFOutput(nn.Module):
    """The paper's output layer: unit i computes the squared distance ``sum_j (x_j - w_ij)^2``.

    The prototypes ``w`` (num_classes, 84) are fixed +/-1 codes, a buffer, not parameters. For 10
    classes they are the 7x12 digit bitmaps of :data:`DIGIT_PROTOTYPES` (drawn for this book; the
    paper used bitmaps of its character set); for other class counts, deterministic random +/-1
    codes from a seeded generator.

    The forward pass returns ``-distance`` so that the closest prototype has the largest logit and
    ``F.cross_entropy`` applies. That is nearly the paper's own loss (its eq. 9): the paper adds one
    extra constant "rubbish" class exp(-j) inside the log; as j grows its loss becomes exactly
    cross-entropy on these logits. The distance is computed as ||x||^2 - 2 x.w + ||w||^2, one matrix
    product.

    Input (N, in_features) -> output (N, num_classes) logits (= minus squared distances).
    """

    prototypes: torch.Tensor  # buffer (num_classes, in_features)

    def __init__(self, in_features: int = 84, num_classes: int = 10) -> None:
        super().__init__()
        check_int("num_classes", num_classes, low=1)
        if in_features == 84 and num_classes == 10:
            prototypes = DIGIT_PROTOTYPES.clone()
        else:
            g = torch.Generator().manual_seed(1998)
            prototypes = torch.randint(0, 2, (num_classes, in_features), generator=g).float() * 2 - 1
        self.register_buffer("prototypes", prototypes)

    def distance(self, x: torch.Tensor) -> torch.Tensor:
        """Squared Euclidean distance of each row of x (N, F) to each prototype -> (N, num_classes)."""
        w = self.prototypes
        return (x * x).sum(1, keepdim=True) - 2 * x @ w.t() + (w * w).sum(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_features) -> (N, num_classes) logits = -distance."""
        return -self.distance(x)


# --------------------------------------------------------------------------------------------------
# The 1998 LeNet-5


class LeNet5Classic(nn.Module):
    """LeNet-5 as in LeCun, Bottou, Bengio and Haffner (1998), layer for layer.

    32x32 input (MNIST's 28x28 digits padded by 2 on each side) -> C1 6@5x5 -> S2 -> C3 16@5x5
    (partially connected, Table I) -> S4 -> C5 120@5x5 -> F6 84 -> output. Every layer up to F6 is
    followed by the scaled tanh ``1.7159 tanh(2a/3)``; the subsampling layers S2 and S4 have a
    trainable coefficient and bias per map.

    Trainable parameters, counted the paper's way (C3's missing connections are not parameters
    here at all): C1 156, S2 12, C3 1,516, S4 32, C5 48,120, F6 10,164 -- 60,000 through F6
    (see :meth:`paper_parameter_counts`).

    ``output``:

    * ``"linear"`` (default) -- a plain ``nn.Linear(84, num_classes)`` (850 parameters), the head
      every later network uses.
    * ``"rbf"`` -- the paper's Euclidean radial basis function units with fixed +/-1 prototypes
      (:class:`RBFOutput`; for digits, bitmaps drawn for this book, not the paper's), returning
      ``-distance`` as logits for cross-entropy. No trainable parameters.

    Which head trains better is measured, not assumed: the LeNet-5 chapter trains both with the
    same recipe and seeds and reports their accuracies side by side, and their loss at
    initialisation (higher for the RBF head, whose logits differ by several units from the start).

    Initialisation is PyTorch's default (uniform, bound 1/sqrt(fan_in)); the paper drew weights
    uniformly in +/-2.4/fan_in. Input (N, 1, 32, 32) -> output (N, num_classes) logits.
    """

    input_size = (1, 32, 32)

    def __init__(self, output: str = "linear", num_classes: int = 10) -> None:
        super().__init__()
        check_int("num_classes", num_classes, low=1)
        if output not in ("linear", "rbf"):
            raise ValueError(f"output must be 'linear' or 'rbf', got {output!r}")
        self.output = output
        self.features = nn.Sequential(OrderedDict([
            ("C1", nn.Conv2d(1, 6, kernel_size=5)),  # 32 -> 28
            ("C1_act", ScaledTanh()),
            ("S2", Subsampling(6)),  # 28 -> 14
            ("S2_act", ScaledTanh()),
            ("C3", PartialConv2d(C3_TABLE, in_channels=6, kernel_size=5)),  # 14 -> 10
            ("C3_act", ScaledTanh()),
            ("S4", Subsampling(16)),  # 10 -> 5
            ("S4_act", ScaledTanh()),
            ("C5", nn.Conv2d(16, 120, kernel_size=5)),  # 5 -> 1
            ("C5_act", ScaledTanh()),
        ]))
        head = RBFOutput(84, num_classes) if output == "rbf" else nn.Linear(84, num_classes)
        self.classifier = nn.Sequential(OrderedDict([
            ("F6", nn.Linear(120, 84)),
            ("F6_act", ScaledTanh()),
            ("output", head),
        ]))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 1, 32, 32) -> (N, num_classes) logits."""
        check_tensor(
            "LeNet5Classic's input x", x, shape=(None, *self.input_size),
            hint="pad 28x28 digits by 2 on each side as the paper did, e.g. "
            "F.pad(x, (2, 2, 2, 2)), or use LeNet5 for 28x28",
        )
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x

    def paper_parameter_counts(self) -> dict[str, int]:
        """Trainable parameters per layer, the paper's way: {"C1": 156, ..., "F6": 10164, "output": ...}.

        C3 counts only its 60 real 5x5 connections (1,500 weights) plus 16 biases. "output" is 850
        for the linear head and 0 for the RBF head (fixed prototypes).
        """
        layers = dict(self.features.named_children()) | dict(self.classifier.named_children())
        return {
            name: sum(p.numel() for p in layer.parameters() if p.requires_grad)
            for name, layer in layers.items()
            if not name.endswith("_act")
        }
