"""layer_table, count_params, count_macs, format_table against counts made by hand."""

import pytest
import torch
from torch import nn

from cnnbook.models import AlexNetCIFAR, LeNet5, LeNet5Classic
from cnnbook.summary import LayerRow, count_macs, count_params, format_table, layer_table

torch.set_num_threads(min(2, torch.get_num_threads()))


def conv_macs(conv: nn.Conv2d, out_hw: tuple[int, int]) -> int:
    """Multiply-adds of a convolution: every output value needs Cin/groups * k * k of them."""
    kh, kw = conv.kernel_size
    return conv.out_channels * out_hw[0] * out_hw[1] * conv.in_channels // conv.groups * kh * kw


class Small(nn.Module):
    """A grouped, strided conv and a linear layer, to check the counts on something irregular."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(4, 8, 3, stride=2, padding=1, groups=2), nn.ReLU())
        self.classifier = nn.Linear(8 * 5 * 5, 3)

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def test_count_params():
    model = LeNet5()
    assert count_params(model) == sum(p.numel() for p in model.parameters()) == 44_426
    model.features[0].requires_grad_(False)
    assert count_params(model) == 44_426 - 156
    assert count_params(model, trainable_only=False) == 44_426
    with pytest.raises(TypeError, match="model"):
        count_params("LeNet5")


def test_layer_table_lenet5_by_hand():
    rows = layer_table(LeNet5(), (1, 28, 28))
    assert all(isinstance(r, LayerRow) for r in rows)
    assert [r.kind for r in rows][:3] == ["Conv2d", "ReLU", "MaxPool2d"]
    assert rows[0].name == "features.0" and rows[0].output_shape == (6, 24, 24)
    assert rows[-1].name == "classifier.4" and rows[-1].output_shape == (10,)
    convs = [r for r in rows if r.kind == "Conv2d"]
    assert [r.macs for r in convs] == [6 * 24 * 24 * 1 * 25, 16 * 8 * 8 * 6 * 25]
    linears = [r for r in rows if r.kind == "Linear"]
    assert [r.macs for r in linears] == [256 * 120, 120 * 84, 84 * 10]
    assert [r.params for r in linears] == [256 * 120 + 120, 120 * 84 + 84, 84 * 10 + 10]
    assert all(r.macs == 0 for r in rows if r.kind in ("ReLU", "MaxPool2d"))


@pytest.mark.parametrize(
    "make, shape",
    [
        (LeNet5, (1, 28, 28)),
        (lambda: LeNet5Classic("rbf"), (1, 32, 32)),
        (lambda: AlexNetCIFAR(width=0.25, batchnorm=True), (3, 32, 32)),
        (Small, (4, 10, 10)),
    ],
)
def test_rows_add_up_and_match_independent_counts(make, shape):
    model = make()
    rows = layer_table(model, shape)
    assert sum(r.params for r in rows) == count_params(model)
    assert sum(r.macs for r in rows) == count_macs(model, shape)
    # every conv and linear row against the formula, with shapes read off the row itself
    modules = dict(model.named_modules())
    for r in rows:
        m = modules[r.name]
        if isinstance(m, nn.Conv2d):
            assert r.macs == conv_macs(m, r.output_shape[1:]), r.name
        elif isinstance(m, nn.Linear):
            assert r.macs == m.in_features * m.out_features, r.name
    with torch.no_grad():
        assert rows[-1].output_shape == tuple(model.eval()(torch.zeros(1, *shape)).shape[1:])


def test_grouped_strided_conv():
    rows = layer_table(Small(), (4, 10, 10))
    conv = rows[0]
    assert conv.output_shape == (8, 5, 5)
    assert conv.macs == 8 * 5 * 5 * (4 // 2) * 9  # groups=2 halves the work
    assert conv.params == 8 * 2 * 9 + 8


def test_lenet5_classic_c3_row():
    rows = {r.name: r for r in layer_table(LeNet5Classic(), (1, 32, 32))}
    c3 = rows["features.C3"]
    assert c3.params == 1516 and c3.output_shape == (16, 10, 10)
    assert c3.macs == 16 * 6 * 25 * 100  # the dense conv multiplies the zeros too
    assert rows["features.S2"].params == 12 and rows["features.S2"].output_shape == (6, 14, 14)


def test_layer_table_restores_training_mode_and_runs_batch_of_one():
    model = AlexNetCIFAR(width=0.25, batchnorm=True).train()
    bn = model.features[1]
    before = bn.running_mean.clone()
    layer_table(model, (3, 32, 32))
    assert model.training
    assert torch.equal(bn.running_mean, before)  # eval mode: statistics untouched


def test_count_macs_whole_model():
    assert count_macs(LeNet5(), (1, 28, 28)) == 86_400 + 153_600 + 30_720 + 10_080 + 840


@pytest.mark.parametrize("shape", [(), (0, 28, 28), "1x28x28", (1.0, 28, 28)])
def test_bad_input_shape(shape):
    with pytest.raises(ValueError, match="input_shape"):
        layer_table(LeNet5(), shape)


def test_wrong_input_shape_reaches_the_model_error():
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        count_macs(LeNet5(), (1, 32, 32))


def test_format_table():
    rows = layer_table(LeNet5(), (1, 28, 28))
    text = format_table(rows)
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["layer", "type"]
    assert len(lines) == len(rows) + 4  # header, rule, rows, rule, total
    assert lines[-1].split()[-2:] == ["44,426", f"{sum(r.macs for r in rows):,}"]
    assert "6 x 24 x 24" in text and "features.0" in text
    with pytest.raises(TypeError, match="rows"):
        format_table([("features.0", "Conv2d")])
