"""LeNet-5 (modern, 1998) and AlexNet (2012, CIFAR-10): shapes, parameter counts, errors, training."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnnbook.models import (
    C3_TABLE,
    DIGIT_PROTOTYPES,
    AlexNet,
    AlexNetCIFAR,
    LeNet5,
    LeNet5Classic,
    PartialConv2d,
    RBFOutput,
    ScaledTanh,
    Subsampling,
    c3_connection_table,
    min_input_size,
    paper_layer_names,
)
from cnnbook.models.alexnet import PaperLRN
from cnnbook.padding import layers_output_size

torch.set_num_threads(min(2, torch.get_num_threads()))


def n_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


@pytest.fixture(scope="module")
def alexnet():
    torch.manual_seed(0)
    return AlexNet().eval()


@pytest.fixture(scope="module")
def alexnet2():
    torch.manual_seed(0)
    return AlexNet(groups=2).eval()


# ------------------------------------------------------------------------------------ shapes


@pytest.mark.parametrize("activation", ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("pool", ["max", "avg"])
def test_lenet5_shapes_and_count(activation, pool):
    model = LeNet5(activation=activation, pool=pool)
    assert model(torch.randn(3, 1, 28, 28)).shape == (3, 10)
    assert model.input_size == (1, 28, 28)
    assert n_params(model) == 44_426
    assert LeNet5(num_classes=7)(torch.randn(2, 1, 28, 28)).shape == (2, 7)


def test_lenet5_layer_arithmetic():
    # 44,426 = (6*25+6) + (16*6*25+16) + (256*120+120) + (120*84+84) + (84*10+10), layer by layer
    model = LeNet5()
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [(c.in_channels, c.out_channels, c.kernel_size) for c in convs] == [
        (1, 6, (5, 5)),
        (6, 16, (5, 5)),
    ]
    assert [(lin.in_features, lin.out_features) for lin in linears] == [(256, 120), (120, 84), (84, 10)]
    assert model.features(torch.randn(1, 1, 28, 28)).shape == (1, 16, 4, 4)


def test_lenet5_reads_colour_32x32_images():
    # the PyTorch tutorial's CIFAR-10 network: 16 maps of 5x5 -> 400 -> 120 -> 84 -> 10
    model = LeNet5(in_channels=3, size=32)
    assert model.input_size == (3, 32, 32)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert model.features(torch.randn(1, 3, 32, 32)).shape == (1, 16, 5, 5)
    assert n_params(model) == (3 * 6 * 25 + 6) + (6 * 16 * 25 + 16) + (400 * 120 + 120) + (
        120 * 84 + 84) + (84 * 10 + 10)
    with pytest.raises(ValueError, match=r"\(N, 3, 32, 32\)"):
        model(torch.randn(2, 1, 32, 32))
    with pytest.raises(TypeError, match="size"):
        LeNet5(size=32.0)


@pytest.mark.parametrize("output", ["linear", "rbf"])
def test_lenet5_classic_shapes(output):
    model = LeNet5Classic(output)
    assert model.input_size == (1, 32, 32)
    assert model(torch.randn(2, 1, 32, 32)).shape == (2, 10)
    assert model.features(torch.randn(2, 1, 32, 32)).shape == (2, 120, 1, 1)


def test_lenet5_classic_default_output_is_linear():
    assert LeNet5Classic().output == "linear"
    assert isinstance(LeNet5Classic().classifier.output, nn.Linear)


def test_alexnet_shapes(alexnet, alexnet2):
    with torch.no_grad():
        x = alexnet.features(torch.randn(1, 3, 224, 224))
        assert x.shape == (1, 256, 6, 6)
        assert alexnet.classifier(torch.flatten(alexnet.avgpool(x), 1)).shape == (1, 1000)
        assert alexnet2.features(torch.randn(1, 3, 224, 224)).shape == (1, 256, 6, 6)
        assert alexnet(torch.randn(1, 3, 100, 80)).shape == (1, 1000)  # adaptive avgpool
    assert alexnet.input_size == (3, 224, 224)
    assert any(isinstance(m, nn.LocalResponseNorm) for m in alexnet.features)
    with torch.device("meta"):
        assert not any(isinstance(m, nn.LocalResponseNorm) for m in AlexNet(10, lrn=False).features)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"activation": "tanh", "width": 0.5},
        {"lrn": False, "overlap_pool": False, "width": 0.5},
        {"batchnorm": True, "dropout": 0.0, "width": 0.5},
        {"width": 0.25},
    ],
)
def test_alexnet_cifar_shapes(kwargs):
    model = AlexNetCIFAR(**kwargs)
    assert model.input_size == (3, 32, 32)
    x = torch.randn(2, 3, 32, 32)
    assert model.features(x).shape[2:] == (4, 4)
    assert model(x).shape == (2, 10)


def test_alexnet_cifar_options_change_the_network():
    def kinds(**kwargs):
        return [type(m) for m in AlexNetCIFAR(width=0.25, **kwargs).modules()]

    assert nn.BatchNorm2d in kinds(batchnorm=True) and nn.BatchNorm2d not in kinds()
    assert PaperLRN in kinds() and PaperLRN not in kinds(lrn=False)
    assert nn.Tanh in kinds(activation="tanh") and nn.ReLU not in kinds(activation="tanh")
    pools = [m for m in AlexNetCIFAR(width=0.25).modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size > p.stride for p in pools)
    model = AlexNetCIFAR(width=0.25, overlap_pool=False)
    pools = [m for m in model.modules() if isinstance(m, nn.MaxPool2d)]
    assert len(pools) == 3 and all(p.kernel_size == p.stride for p in pools)
    assert n_params(AlexNetCIFAR(width=0.25)) < n_params(AlexNetCIFAR(width=0.5)) / 3


def kinds_of(classifier: nn.Module) -> list[str]:
    return [type(m).__name__ for m in classifier.children()]


@pytest.mark.parametrize("make", [lambda: AlexNet(lrn=False), lambda: AlexNetCIFAR(width=0.125)])
def test_dropout_drops_the_outputs_of_fc6_and_fc7_as_the_paper(make):
    # the paper: fc6, ReLU, dropout, fc7, ReLU, dropout, fc8 (torchvision drops fc6's and fc7's inputs)
    with torch.device("meta"):
        model = make()
    kinds = kinds_of(model.classifier)
    assert kinds[0] == "Linear" and kinds[-1] == "Linear"
    assert kinds[1:3] in (["ReLU", "Dropout"], ["Tanh", "Dropout"])
    assert kinds[3] == "Linear" and kinds[4:6] in (["ReLU", "Dropout"], ["Tanh", "Dropout"])
    assert kinds.count("Dropout") == 2 and len(kinds) == 7


def test_torchvision_keeps_its_dropout_before_fc6_and_fc7():
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):
        tv = torchvision.models.alexnet(weights=None)
    assert kinds_of(tv.classifier)[:2] == ["Dropout", "Linear"]  # the deviation the chapter names


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_alexnet_cifar_starts_near_ln10(activation):
    # the output layer is drawn with std 0.01 as in the paper: near-zero logits, loss near ln 10
    torch.manual_seed(0)
    model = AlexNetCIFAR(activation=activation, width=0.125, in_channels=1).eval()
    x, y = torch.randn(256, 1, 32, 32), torch.randint(0, 10, (256,))
    with torch.no_grad():
        loss = F.cross_entropy(model(x), y).item()
    assert abs(loss - np.log(10)) < 0.1
    assert float(model.classifier[-1].weight.detach().std()) == pytest.approx(0.01, rel=0.1)


# ------------------------------------------------------------------------ parameter counts


def test_lenet5_classic_paper_counts():
    model = LeNet5Classic("rbf")
    counts = model.paper_parameter_counts()
    assert counts == {"C1": 156, "S2": 12, "C3": 1516, "S4": 32, "C5": 48120, "F6": 10164, "output": 0}
    through_f6 = sum(v for k, v in counts.items() if k != "output")
    assert through_f6 == 60_000
    assert n_params(model) == 60_000  # the RBF prototypes are fixed
    assert n_params(LeNet5Classic("linear")) == 60_000 + 84 * 10 + 10
    # C3 independently: 5x5 kernels for the connections of Table I, plus one bias per map
    assert int(c3_connection_table().sum()) * 25 + 16 == counts["C3"]


def test_c3_table_is_table_one():
    table = c3_connection_table()  # (6 S2 maps, 16 C3 maps)
    assert table.shape == (6, 16)
    sizes = table.sum(dim=0).tolist()
    assert sizes == [3] * 6 + [4] * 9 + [6]
    for j in range(6):  # three contiguous maps, wrapping around
        assert set(C3_TABLE[j]) == {j, (j + 1) % 6, (j + 2) % 6}
    for j in range(6, 12):
        assert set(C3_TABLE[j]) == {(j - 6 + d) % 6 for d in range(4)}
    # the three non-contiguous ones are not any cyclic run of four
    runs = [{(s + d) % 6 for d in range(4)} for s in range(6)]
    assert all(set(C3_TABLE[j]) not in runs for j in (12, 13, 14))
    assert len({tuple(sorted(t)) for t in C3_TABLE}) == 16
    # every S2 map feeds 10 C3 maps, as in the paper's table
    assert table.sum(dim=1).tolist() == [10] * 6


def test_alexnet_counts_vs_torchvision(alexnet, alexnet2):
    torchvision = pytest.importorskip("torchvision")
    with torch.device("meta"):  # shapes only: no memory, no initialisation, no download
        tv = torchvision.models.alexnet(weights=None)
    ours, ours2, theirs = n_params(alexnet), n_params(alexnet2), n_params(tv)
    assert theirs == 61_100_840
    assert ours == 62_378_344
    # groups=2 halves the weights of conv2, conv4 and conv5 (each GPU sees half the input maps)
    saved = (96 * 256 * 25 + 384 * 384 * 9 + 384 * 256 * 9) // 2
    assert ours - ours2 == saved == 1_413_120
    assert ours2 == 60_965_224
    # torchvision's narrower stem: the difference is all in conv1/conv2 (and conv4's width)
    assert ours != theirs


# --------------------------------------------------------------------- wrong-size errors


@pytest.mark.parametrize(
    "model, shape, needed",
    [
        (LeNet5(), (2, 1, 32, 32), "(N, 1, 28, 28)"),
        (LeNet5(), (1, 28, 28), "(N, 1, 28, 28)"),
        (LeNet5(), (2, 3, 28, 28), "(N, 1, 28, 28)"),
        (LeNet5Classic(), (2, 1, 28, 28), "(N, 1, 32, 32)"),
        (AlexNetCIFAR(), (2, 3, 64, 64), "(N, 3, 32, 32)"),
        (AlexNetCIFAR(), (2, 1, 32, 32), "(N, 3, 32, 32)"),
    ],
)
def test_wrong_size_names_needed_size(model, shape, needed):
    with pytest.raises(ValueError) as err:
        model(torch.randn(*shape))
    assert needed in str(err.value)
    assert str(tuple(shape)) in str(err.value)


def test_lenet5_classic_hint_says_pad():
    with pytest.raises(ValueError, match="pad"):
        LeNet5Classic()(torch.randn(1, 1, 28, 28))
    # padding 28x28 digits by 2 is exactly what it needs
    assert LeNet5Classic()(F.pad(torch.randn(1, 1, 28, 28), (2, 2, 2, 2))).shape == (1, 10)


def test_alexnet_minimum_size_is_tight(alexnet):
    m = alexnet.min_input_size
    assert m == min_input_size(alexnet.features) == 63
    with torch.no_grad():
        assert alexnet(torch.randn(1, 3, m, m)).shape == (1, 1000)
        assert alexnet.features(torch.randn(1, 3, m, m)).shape[2:] == (1, 1)
        # independent check that m - 1 is really too small: torch's own layers fail on it
        with pytest.raises(RuntimeError):
            alexnet.features(torch.randn(1, 3, m - 1, m - 1))
    for shape in [(1, 3, m - 1, m - 1), (1, 3, m, m - 1), (1, 3, 32, 32)]:
        with pytest.raises(ValueError) as err:
            alexnet(torch.randn(*shape))
        assert f">= {m}" in str(err.value) and "AlexNetCIFAR" in str(err.value)
    with pytest.raises(ValueError, match=r"\(N, 3, H, W\)"):
        alexnet(torch.randn(1, 1, 224, 224))


def test_min_input_size_formula():
    layers = nn.Sequential(nn.Conv2d(1, 1, 5), nn.MaxPool2d(2))  # n - 4 >= 2
    assert min_input_size(layers) == 6
    layers = nn.Sequential(nn.Conv2d(1, 1, 3, stride=2, padding=1), nn.MaxPool2d(3, 2))
    assert min_input_size(layers) == 5  # 5 -> 3 -> 1; 4 -> 2 -> 0


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: LeNet5(num_classes=0), "num_classes"),
        (lambda: LeNet5(activation="gelu"), "activation"),
        (lambda: LeNet5(pool="min"), "pool"),
        (lambda: LeNet5(in_channels=0), "in_channels"),
        (lambda: LeNet5(size=12), "size"),
        (lambda: LeNet5Classic(output="softmax"), "output"),
        (lambda: AlexNet(groups=3), "groups"),
        (lambda: AlexNet(dropout=1.0), "dropout"),
        (lambda: AlexNetCIFAR(activation="sigmoid"), "activation"),
        (lambda: AlexNetCIFAR(width=0), "width"),
    ],
)
def test_bad_arguments_name_the_parameter(make, match):
    with pytest.raises(ValueError, match=match):
        make()


def test_non_tensor_input_is_a_type_error():
    with pytest.raises(TypeError, match="LeNet5's input x must be a torch.Tensor, got list"):
        LeNet5()([[0.0]])
    with torch.device("meta"):
        alexnet = AlexNet(lrn=False)
    for model, name in [(LeNet5Classic(), "LeNet5Classic"), (AlexNetCIFAR(width=0.0625), "AlexNetCIFAR"),
                        (alexnet, "AlexNet")]:
        with pytest.raises(TypeError, match=f"{name}'s input x must be a torch.Tensor, got ndarray"):
            model(np.zeros((1, 3, 32, 32), dtype=np.float32))


@pytest.mark.parametrize("size", [16, 17, 28, 29, 32, 40])
def test_lenet5_first_linear_layer_fits_the_maps_for_every_size(size):
    """The classifier's width comes from the layers themselves (padding.layers_output_size)."""
    model = LeNet5(size=size)
    maps = model.features(torch.randn(1, 1, size, size))
    assert maps.flatten(1).shape[1] == model.classifier[0].in_features
    assert maps.shape[-2:] == layers_output_size(model.features, size)


def test_alexnet_cifar_counts_layer_by_layer():
    # conv 64@5x5, 192@5x5, 384@3x3, 256@3x3, 256@3x3 ("same" padding), fc 4096 -> 1024 -> 1024 -> 10
    convs = (3 * 64 * 25 + 64) + (64 * 192 * 25 + 192) + (192 * 384 * 9 + 384) + (384 * 256 * 9 + 256) + (
        256 * 256 * 9 + 256)
    fcs = (256 * 4 * 4 * 1024 + 1024) + (1024 * 1024 + 1024) + (1024 * 10 + 10)
    assert n_params(AlexNetCIFAR()) == convs + fcs == 7_706_442
    assert n_params(AlexNetCIFAR(width=0.5, overlap_pool=False)) == 1_931_178
    assert n_params(AlexNetCIFAR(width=0.25, in_channels=1, batchnorm=True)) == 484_570
    pads = [m.padding for m in AlexNetCIFAR(width=0.0625).modules() if isinstance(m, nn.Conv2d)]
    assert pads == [(2, 2), (2, 2), (1, 1), (1, 1), (1, 1)]  # 5x5 and 3x3 keep the size


# ------------------------------------------------------------------------- the 1998 pieces


def test_scaled_tanh():
    f = ScaledTanh()
    x = torch.tensor([-1.0, 0.0, 1.0, 100.0])
    y = f(x)
    assert torch.allclose(y[:3], torch.tensor([-1.0, 0.0, 1.0]), atol=1e-4)  # f(+-1) = +-1
    assert abs(float(y[3]) - 1.7159) < 1e-4


def test_subsampling_is_scaled_average_plus_bias():
    s = Subsampling(3)
    with torch.no_grad():
        s.weight.copy_(torch.tensor([1.0, 2.0, -1.0]))
        s.bias.copy_(torch.tensor([0.0, 0.5, 1.0]))
    x = torch.randn(2, 3, 4, 6)
    means = x.reshape(2, 3, 2, 2, 3, 2).mean(dim=(3, 5))  # 2x2 blocks
    expected = means * s.weight.view(1, 3, 1, 1) + s.bias.view(1, 3, 1, 1)
    assert torch.allclose(s(x), expected, atol=1e-6)


def test_partial_conv_equals_masked_dense_conv():
    torch.manual_seed(0)
    c3 = PartialConv2d(C3_TABLE, in_channels=6)
    x = torch.randn(2, 6, 14, 14)
    w = c3.full_weight()
    mask = c3_connection_table().t()  # (16, 6)
    assert torch.all(w[~mask] == 0) and torch.all(w[mask].abs().sum(dim=(1, 2)) > 0)
    # a dense conv restricted to the connected input maps, one output map at a time
    for j, inputs in enumerate(C3_TABLE):
        idx = list(inputs)
        ref = F.conv2d(x[:, idx], w[j : j + 1, idx], c3.bias[j : j + 1])
        assert torch.allclose(c3(x)[:, j : j + 1], ref, atol=1e-5)


def test_c3_masked_weights_stay_zero_after_optimiser_steps():
    torch.manual_seed(0)
    model = LeNet5Classic()
    c3 = model.features.C3
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9, weight_decay=1e-2)
    before = c3.full_weight().detach().clone()
    x, y = torch.randn(8, 1, 32, 32), torch.randint(0, 10, (8,))
    for _ in range(2):
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    after = c3.full_weight().detach()
    mask = c3_connection_table().t()
    assert torch.all(after[~mask] == 0)
    assert not torch.allclose(after[mask], before[mask])  # the real connections did learn
    assert c3.weight.shape == (60, 5, 5)


def test_rbf_output_is_minus_squared_distance():
    rbf = RBFOutput()
    assert torch.equal(rbf.prototypes, DIGIT_PROTOTYPES)
    assert DIGIT_PROTOTYPES.shape == (10, 84)
    assert set(DIGIT_PROTOTYPES.unique().tolist()) == {-1.0, 1.0}
    assert len({tuple(r) for r in DIGIT_PROTOTYPES.tolist()}) == 10
    assert not list(rbf.parameters())  # fixed, not trained
    x = torch.randn(5, 84)
    assert torch.allclose(rbf(x), -torch.cdist(x, DIGIT_PROTOTYPES) ** 2, atol=1e-3)
    # the closest prototype wins: a prototype itself is classified as its own digit
    assert torch.equal(rbf(DIGIT_PROTOTYPES).argmax(dim=1), torch.arange(10))
    # other sizes: deterministic +/-1 codes
    a, b = RBFOutput(84, 5).prototypes, RBFOutput(84, 5).prototypes
    assert a.shape == (5, 84) and torch.equal(a, b) and set(a.unique().tolist()) == {-1.0, 1.0}


def test_alexnet_lrn_matches_the_paper_formula(alexnet):
    lrn = next(m for m in alexnet.features if isinstance(m, nn.LocalResponseNorm))
    a = torch.randn(1, 12, 3, 3) * 20
    n, alpha, beta, k = 5, 1e-4, 0.75, 2.0
    b = torch.empty_like(a)
    for i in range(12):  # b_i = a_i / (k + alpha * sum_{j=i-n/2}^{i+n/2} a_j^2)^beta
        lo, hi = max(0, i - n // 2), min(11, i + n // 2)
        b[:, i] = a[:, i] / (k + alpha * (a[:, lo : hi + 1] ** 2).sum(dim=1)) ** beta
    assert torch.allclose(lrn(a), b, rtol=1e-4, atol=1e-5)


def test_alexnet_groups_only_on_conv2_4_5(alexnet2):
    convs = [m for m in alexnet2.features if isinstance(m, nn.Conv2d)]
    assert [c.groups for c in convs] == [1, 2, 1, 2, 2]
    assert [c.out_channels for c in convs] == [96, 256, 384, 384, 256]


# -------------------------------------------------------------------------------- learning


@pytest.mark.parametrize(
    "make, shape",
    [
        (LeNet5, (4, 1, 28, 28)),
        (lambda: LeNet5Classic("rbf"), (4, 1, 32, 32)),
        (lambda: LeNet5Classic("linear"), (4, 1, 32, 32)),
        (lambda: AlexNetCIFAR(batchnorm=True, width=0.25), (4, 3, 32, 32)),
        (lambda: AlexNetCIFAR(activation="tanh", width=0.25), (4, 3, 32, 32)),
    ],
)
def test_gradients_reach_every_parameter(make, shape):
    torch.manual_seed(0)
    model = make()
    loss = F.cross_entropy(model(torch.randn(*shape)), torch.randint(0, 10, (shape[0],)))
    loss.backward()
    for name, p in model.named_parameters():
        assert p.grad is not None, name
        assert torch.isfinite(p.grad).all(), name
        assert p.grad.abs().sum() > 0, name


def test_alexnet_gradients_reach_the_first_layer(alexnet2):
    torch.manual_seed(0)
    alexnet2.zero_grad(set_to_none=True)
    F.cross_entropy(alexnet2(torch.randn(2, 3, 67, 67)), torch.tensor([1, 2])).backward()
    g = alexnet2.features[0].weight.grad
    assert g is not None and g.abs().sum() > 0
    alexnet2.zero_grad(set_to_none=True)


def test_one_step_lowers_the_loss_lenet5():
    torch.manual_seed(0)
    model = LeNet5()
    x, y = torch.randn(32, 1, 28, 28), torch.randint(0, 10, (32,))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    loss0 = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss0.backward()
    opt.step()
    with torch.no_grad():
        loss1 = F.cross_entropy(model(x), y)
    assert loss1 < loss0 - 1e-3


def test_lenet5_classic_rbf_learns_a_batch():
    torch.manual_seed(0)
    model = LeNet5Classic("rbf")
    x, y = torch.randn(10, 1, 32, 32), torch.arange(10)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(12):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]


def test_alexnet_cifar_starts_from_he_initialisation():
    torch.manual_seed(0)
    net = AlexNetCIFAR(width=0.5)
    conv = [m for m in net.modules() if isinstance(m, nn.Conv2d)][2]
    fan_in = conv.in_channels * conv.kernel_size[0] * conv.kernel_size[1]
    assert abs(conv.weight.std().item() - (2 / fan_in) ** 0.5) < 0.1 * (2 / fan_in) ** 0.5
    assert all(m.bias.abs().max() == 0 for m in net.modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_alexnet_cifar_reads_grey_images_with_in_channels():
    grey = AlexNetCIFAR(width=0.0625, in_channels=1)
    assert grey.input_size == (1, 32, 32) and grey.features[0].in_channels == 1
    with torch.no_grad():
        assert grey.eval()(torch.zeros(2, 1, 32, 32)).shape == (2, 10)
    with pytest.raises(ValueError, match=r"in_channels=3"):
        grey(torch.zeros(2, 3, 32, 32))
    with pytest.raises(ValueError, match="in_channels"):
        AlexNetCIFAR(in_channels=0)


def test_paper_lrn_is_pytorchs_lrn():
    ours, theirs = PaperLRN(5, alpha=5e-4, beta=0.75, k=2.0), nn.LocalResponseNorm(5, alpha=5e-4, beta=0.75, k=2.0)
    for channels in (1, 3, 8, 24):
        x = (torch.randn(2, channels, 6, 6) * 20).requires_grad_()
        y_ours, y_theirs = ours(x), theirs(x)
        assert torch.allclose(y_ours, y_theirs, rtol=1e-5, atol=1e-6)
        g_ours, = torch.autograd.grad(y_ours.square().sum(), x)
        g_theirs, = torch.autograd.grad(y_theirs.square().sum(), x)
        assert torch.allclose(g_ours, g_theirs, rtol=1e-4, atol=1e-5)
    assert all(isinstance(m, PaperLRN) for m in AlexNetCIFAR(width=0.0625).modules()
               if isinstance(m, nn.LocalResponseNorm))


def test_paper_layer_names():
    with torch.device("meta"):
        names = paper_layer_names(AlexNet(lrn=False))
    assert [v for v in names.values() if v.startswith(("conv", "fc"))] == [
        "conv1", "conv2", "conv3", "conv4", "conv5", "fc6", "fc7", "fc8"]
    assert names["features.0"] == "conv1" and names["classifier.0"] == "fc6" and names["classifier.6"] == "fc8"
    assert [v for v in names.values() if v.startswith("pool")] == ["pool1", "pool2", "pool5"]
