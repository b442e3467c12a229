"""AlexNet (Krizhevsky, Sutskever and Hinton, 2012) and an adaptation of it to 32x32 CIFAR-10 images.

* :class:`AlexNet` -- the ImageNet network of the paper: 224x224x3 in, five convolutions with local
  response normalisation and overlapping max pooling, three fully connected layers with dropout.
  ``groups=2`` reproduces the paper's split over two GPUs.
* :class:`AlexNetCIFAR` -- the same ingredients sized for 32x32x3, fast enough to train in a chapter.
"""

from __future__ import annotations

import torch
from torch import nn

from .._checks import check_float, check_int, check_tensor
from ..padding import layers_output_size, same_padding

__all__ = ["AlexNet", "AlexNetCIFAR", "PaperLRN", "min_input_size", "paper_layer_names"]


class PaperLRN(nn.LocalResponseNorm):
    """``nn.LocalResponseNorm``, same formula and result, computed faster (AlexNet chapter).

    b_c = a_c / (k + alpha / n * sum of a_c'^2 over the n channels around c)^beta, the sum cut at
    the first and last channel. PyTorch sums the squares with a 3-d average pool, which is several
    times slower than the rest of a small network on a CPU; adding n shifted copies of the squares
    gives the same sum. (N, C, H, W) -> (N, C, H, W).
    """

    def forward(self, input: torch.Tensor) -> torch.Tensor:
        n, c = self.size, input.shape[1]
        squares = nn.functional.pad(input * input, (0, 0, 0, 0, n // 2, (n - 1) // 2))
        window = squares[:, 0:c]
        for i in range(1, n):
            window = window + squares[:, i:i + c]
        return input * (self.k + self.alpha / n * window) ** -self.beta


def _paper_lrn() -> nn.LocalResponseNorm:
    """Local response normalisation with the paper's constants (n=5, alpha=1e-4, beta=0.75, k=2).

    The paper divides by (k + alpha * sum of squares)^beta; PyTorch divides by
    (k + alpha / n * sum of squares)^beta, so the paper's alpha becomes n * 1e-4 here.
    """
    return PaperLRN(size=5, alpha=5 * 1e-4, beta=0.75, k=2.0)


def min_input_size(layers: nn.Module) -> int:
    """The smallest square input side for which every conv and pool in ``layers`` has output >= 1.

    Walks the Conv2d / MaxPool2d / AvgPool2d layers in order with the output-size formula
    ``floor((n + 2p - d(k - 1) - 1) / s) + 1`` (:func:`cnnbook.padding.layers_output_size`) and
    searches the smallest n that survives them all. AlexNet chapter.
    """

    def survives(n: int) -> bool:
        try:
            layers_output_size(layers, n)
        except ValueError:  # some layer's window is larger than its (padded) input
            return False
        return True

    n = 1
    while not survives(n):
        n += 1
    return n


def paper_layer_names(model: nn.Module) -> dict[str, str]:
    """The paper's names of ``model``'s layers, by their names in the model: the convolutions in
    order conv1, conv2, ..., the fully connected layers fc6, fc7, ... after them, and each max pool
    after the convolution it follows (pool1, pool2, pool5 in AlexNet), e.g.
    ``{"features.0": "conv1", ..., "classifier.6": "fc8"}`` (AlexNet chapter)."""
    names: dict[str, str] = {}
    convs = linears = 0
    for name, module in model.named_modules():
        if isinstance(module, nn.Conv2d):
            convs += 1
            names[name] = f"conv{convs}"
        elif isinstance(module, nn.Linear):
            linears += 1
            names[name] = f"fc{convs + linears}"
        elif isinstance(module, nn.MaxPool2d):
            names[name] = f"pool{convs}"
    return names


def _check_head(num_classes: int, dropout: float) -> None:
    """The classifier's arguments: ``num_classes`` outputs, ``dropout`` probability in [0, 1)."""
    check_int("num_classes", num_classes, low=1)
    check_float("dropout", dropout, low=0)
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")


class AlexNet(nn.Module):
    """AlexNet as in Krizhevsky et al. (2012): (N, 3, 224, 224) images -> (N, num_classes) logits.

    conv1 96@11x11/4 -> ReLU -> LRN -> maxpool 3/2 -> conv2 256@5x5 -> ReLU -> LRN -> maxpool 3/2
    -> conv3 384@3x3 -> ReLU -> conv4 384@3x3 -> ReLU -> conv5 256@3x3 -> ReLU -> maxpool 3/2
    -> fc6 4096 -> ReLU -> dropout -> fc7 4096 -> ReLU -> dropout -> fc8 num_classes.

    Dropout sits where the paper puts it, on the *outputs* of fc6 and fc7; torchvision's alexnet
    drops the inputs of fc6 and fc7 instead (pytorch/vision issue 549, kept for its pretrained
    weights).

    224 or 227? The paper says 224x224 inputs and gives conv1 no padding, but an 11x11 kernel at
    stride 4 gives its 55x55 first layer only from 227 pixels: (227 - 11) / 4 + 1 = 55, while
    (224 - 11) / 4 + 1 = 54.25. Like torchvision we keep 224 and pad conv1 by 2 (torchvision's
    choice, not the paper's): floor((224 + 4 - 11) / 4) + 1 = 55. Then 55 -> 27 (pool) -> 27
    (conv2) -> 13 (pool) -> 13 (conv3-5) -> 6 (pool): 256 x 6 x 6 = 9216.

    ``groups=2`` reproduces the two-GPU split: conv2, conv4 and conv5 see only the maps of their own
    GPU (half the input channels), while conv3 and the fully connected layers see both. That
    drops 1,413,120 weights: 62,378,344 parameters with groups=1, 60,965,224 with groups=2 (the
    paper's "60 million"). torchvision's alexnet (61,100,840 parameters) follows the one-GPU network
    of Krizhevsky's 2014 paper, whose widths are 64-192-384-384-256, except that its conv4 has 256
    filters, taken from cuda-convnet2's one-GPU configuration. ``lrn=False`` removes local response
    normalisation.

    ``avgpool`` is ``AdaptiveAvgPool2d((6, 6))`` as in torchvision: for 224 inputs it changes
    nothing; for larger (or slightly smaller) inputs it resizes the last maps to 6x6 so the
    classifier still fits. Inputs smaller than ``min_input_size`` (computed from the layers: 63)
    leave nothing to pool and raise a ValueError.
    """

    input_size = (3, 224, 224)

    def __init__(self, num_classes: int = 1000, *, groups: int = 1, lrn: bool = True,
                 dropout: float = 0.5) -> None:
        super().__init__()
        _check_head(num_classes, dropout)
        if groups not in (1, 2):
            raise ValueError(f"groups must be 1 (one GPU) or 2 (the paper's two GPUs), got {groups}")
        norm = [_paper_lrn] if lrn else []
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=2),  # 224 -> 55
            nn.ReLU(inplace=True),
            *(f() for f in norm),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 55 -> 27
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=groups),
            nn.ReLU(inplace=True),
            *(f() for f in norm),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 27 -> 13
            nn.Conv2d(256, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=groups),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # 13 -> 6
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(  # fc6, fc7: dropout on their outputs, as the paper
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, num_classes),
        )
        self.min_input_size = min_input_size(self.features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) with H, W >= min_input_size (224 by design) -> (N, num_classes) logits."""
        check_tensor("AlexNet's input x", x)
        m = self.min_input_size
        if x.dim() != 4 or x.shape[1] != 3 or x.shape[2] < m or x.shape[3] < m:
            raise ValueError(
                f"AlexNet needs inputs of shape (N, 3, H, W) with H and W >= {m} (it was designed "
                f"for 224 x 224), got {tuple(x.shape)}; for small images such as CIFAR-10's "
                f"32 x 32 use AlexNetCIFAR"
            )
        x = self.features(x)
        x = self.avgpool(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x


class AlexNetCIFAR(nn.Module):
    """AlexNet's ingredients sized for CIFAR-10: (N, in_channels, 32, 32) -> (N, num_classes) logits.

    conv1 64@5x5 -> act -> LRN -> pool -> conv2 192@5x5 -> act -> LRN -> pool -> conv3 384@3x3
    -> act -> conv4 256@3x3 -> act -> conv5 256@3x3 -> act -> pool -> fc6 1024 -> act -> dropout
    -> fc7 1024 -> act -> dropout -> fc8 num_classes. Maps: 32 -> 16 -> 8 -> 4; 256 x 4 x 4 = 4096.

    What changed from the 2012 network, and why:

    * conv1 is 5x5 at stride 1 (padding 2), not 11x11 at stride 4: a 32-pixel image has no
      pixels to spare; 11x11/4 would leave a 6x6 map after the first layer.
    * Channels 64-192-384-256-256 (torchvision's widths; the 2014 one-GPU paper's are
      64-192-384-384-256) instead of 96-256-384-384-256: fewer multiply-adds in the large early
      maps. ``width`` scales every layer (e.g. 0.125 for CPU runs).
    * Pools are 3x3 stride 2 with padding 1 when ``overlap_pool`` (the paper's overlapping
      pooling; the padding makes 32 -> 16 -> 8 -> 4 exact) and 2x2 stride 2 otherwise; both give
      the same map sizes, so the comparison isolates the overlap.
    * The classifier is 4096 -> 1024 -> 1024 -> 10 instead of 9216 -> 4096 -> 4096 -> 1000:
      ten classes and 50,000 images do not need 54 million classifier weights.
    * One GPU, so no grouped convolutions; no ``avgpool`` (the maps are always 4x4).
    * ``activation="tanh"`` swaps every ReLU for tanh, for the paper's ReLU-versus-tanh comparison.
    * ``lrn`` keeps local response normalisation with the paper's constants (default on).
    * ``batchnorm=True`` adds BatchNorm2d after each convolution, before the activation. It is
      not in the paper (it came in 2015) and is off by default; it makes training faster and
      less sensitive to the learning rate, and makes LRN nearly redundant.
    * ``dropout`` as in the paper (0.5) on the outputs of fc6 and fc7. PyTorch's
      dropout is "inverted": it scales the kept units by 1 / (1 - p) during training and does
      nothing at test time; the paper instead multiplied the outputs by 1 - p at test time. Both
      give the next layer the same expected input in training and at test time.
    * ``in_channels`` (default 3, colour) lets it read grey images padded to 32x32, such as
      MNIST's digits: the AlexNet chapter measures on them when CIFAR-10 cannot be downloaded.

    Weights start from He (Kaiming) initialisation: normal with standard deviation
    ``gain / sqrt(fan_in)``, the gain of the activation (sqrt(2) for ReLU, 5/3 for tanh); biases
    zero. PyTorch's default would shrink the signal from layer to layer, LRN shrinks it further,
    and the network without BatchNorm then sits at chance level for hundreds of steps. The output
    layer alone is drawn as the paper drew every weight, normal with standard deviation 0.01, so
    the first logits are near zero and the first loss near ln(num_classes); He initialisation
    there would start the loss several units higher. (The paper also set some biases to 1.)
    AlexNet chapter.
    """

    input_size: tuple[int, int, int] = (3, 32, 32)

    def __init__(self, num_classes: int = 10, *, activation: str = "relu", lrn: bool = True,
                 overlap_pool: bool = True, dropout: float = 0.5, batchnorm: bool = False,
                 width: float = 1.0, in_channels: int = 3) -> None:
        super().__init__()
        _check_head(num_classes, dropout)
        check_int("in_channels", in_channels, low=1)
        self.input_size = (in_channels, 32, 32)
        acts = {"relu": nn.ReLU, "tanh": nn.Tanh}
        if activation not in acts:
            raise ValueError(f"activation must be one of {tuple(acts)}, got {activation!r}")
        if not width > 0:
            raise ValueError(f"width must be > 0, got {width}")
        Act = acts[activation]
        c1, c2, c3, c4, c5, hidden = (max(1, round(c * width)) for c in (64, 192, 384, 256, 256, 1024))

        def conv(cin: int, cout: int, k: int, norm: bool = False) -> list[nn.Module]:
            pad, _ = same_padding(k)  # k is odd: as many pixels after as before, the size kept
            layers: list[nn.Module] = [nn.Conv2d(cin, cout, k, padding=pad, bias=not batchnorm)]
            if batchnorm:
                layers.append(nn.BatchNorm2d(cout))
            layers.append(Act())
            if norm and lrn:
                layers.append(_paper_lrn())
            return layers

        def pool() -> nn.Module:
            if overlap_pool:
                return nn.MaxPool2d(kernel_size=3, stride=2, padding=1)
            return nn.MaxPool2d(kernel_size=2, stride=2)

        self.features = nn.Sequential(
            *conv(in_channels, c1, 5, norm=True),  # 32
            pool(),  # 32 -> 16
            *conv(c1, c2, 5, norm=True),
            pool(),  # 16 -> 8
            *conv(c2, c3, 3),
            *conv(c3, c4, 3),
            *conv(c4, c5, 3),
            pool(),  # 8 -> 4
        )
        h, w = layers_output_size(self.features, 32)  # 4 x 4
        self.classifier = nn.Sequential(  # dropout on the outputs of fc6 and fc7, as the paper
            nn.Linear(c5 * h * w, hidden),
            Act(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, hidden),
            Act(),
            nn.Dropout(p=dropout),
            nn.Linear(hidden, num_classes),
        )
        for m in self.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.kaiming_normal_(m.weight, nonlinearity=activation)  # type: ignore[arg-type]
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
        # the output layer as in the paper, N(0, 0.01): near-zero logits, a first loss near ln 10
        fc8 = self.classifier[-1]
        assert isinstance(fc8, nn.Linear)
        nn.init.normal_(fc8.weight, std=0.01)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, 32, 32) -> (N, num_classes) logits."""
        c = self.input_size[0]
        channels = x.shape[1] if isinstance(x, torch.Tensor) and x.dim() == 4 else c
        check_tensor("AlexNetCIFAR's input x", x, shape=(None, *self.input_size), hint=(
            f"resize the images to 32 x 32 (pad MNIST's 28 x 28 digits by 2), build it with "
            f"in_channels={channels} for other channel counts, or use AlexNet for 224 x 224 images"))
        x = self.features(x)
        x = torch.flatten(x, 1)
        x = self.classifier(x)
        return x
