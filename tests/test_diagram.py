"""plot_architecture draws one block per layer that changes the data, labelled from the layer table."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch
from matplotlib.figure import Figure
from torch import nn

from cnnbook.diagram import architecture_blocks, plot_architecture
from cnnbook.models import LeNet5, LeNet5Classic
from cnnbook.summary import count_params

torch.set_num_threads(min(2, torch.get_num_threads()))


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def test_lenet5_blocks_fold_activations_into_the_layer_before():
    blocks = architecture_blocks(LeNet5(), (1, 28, 28))
    assert [b.kind for b in blocks] == ["input", "Conv2d", "MaxPool2d", "Conv2d", "MaxPool2d",
                                        "Linear", "Linear", "Linear"]
    assert blocks[0].shape == (1, 28, 28)
    assert blocks[1].extra == ["ReLU"] and blocks[1].shape == (6, 24, 24)
    assert blocks[4].shape == (16, 4, 4) and blocks[-1].shape == (10,)
    assert sum(b.params for b in blocks) == count_params(LeNet5()) == 44_426


def test_classic_blocks_keep_the_papers_layers():
    blocks = architecture_blocks(LeNet5Classic(), (1, 32, 32))
    assert [b.name.rsplit(".", 1)[-1] for b in blocks] == [
        "input", "C1", "S2", "C3", "S4", "C5", "F6", "output"]
    assert blocks[2].kind == "Subsampling" and blocks[2].extra == ["ScaledTanh"]
    assert blocks[5].shape == (120, 1, 1)


def test_flatten_and_dropout_are_folded_and_change_the_shape():
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.Flatten(), nn.Dropout(), nn.Linear(4 * 6 * 6, 2))
    blocks = architecture_blocks(model, (3, 8, 8))
    assert [b.kind for b in blocks] == ["input", "Conv2d", "Linear"]
    assert blocks[1].extra == ["Flatten", "Dropout"] and blocks[1].shape == (144,)


def test_plot_architecture_draws_every_block_with_its_label():
    fig = plot_architecture(LeNet5Classic(), (1, 32, 32), title="LeNet-5")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    texts = [t.get_text() for t in ax.texts]
    assert len(texts) == 8
    assert texts[0] == "input\n1@32x32"
    assert "C1\nConv2d\n+ ScaledTanh\n6@28x28\n156 params" == texts[1]
    assert "48,120 params" in texts[5]
    assert len(ax.patches) >= 8  # at least one patch per block (stacks have several)
    assert ax.get_title() == "LeNet-5"


def test_plot_architecture_into_given_axes():
    fig, ax = plt.subplots()
    assert plot_architecture(LeNet5(), (1, 28, 28), ax=ax) is fig
    assert len(ax.texts) == 8


def test_bad_input_shape_is_refused():
    with pytest.raises(ValueError, match="input_shape"):
        plot_architecture(LeNet5(), (28, 28, -1))
    with pytest.raises(TypeError, match="model"):
        architecture_blocks("lenet", (1, 28, 28))


def test_sheet_sides_are_proportional_to_the_maps_height():
    fig = plot_architecture(LeNet5Classic(), (1, 32, 32))
    widths = sorted({round(p.get_width(), 6) for p in fig.axes[0].patches if p.get_height() > 0.06
                     and abs(p.get_width() - p.get_height()) < 1e-9})
    # the squares drawn: 32x32 input, 28x28 (C1), 14x14 (S2), 10x10 (C3), 5x5 (S4)
    sides = [5, 10, 14, 28, 32]
    assert len(widths) == len(sides)
    for w, side in zip(widths, sides):
        assert w == pytest.approx(widths[-1] * side / 32, rel=1e-6)


def test_numbered_names_follow_alexnet():
    from cnnbook.models import AlexNet

    fig = plot_architecture(AlexNet(), (3, 224, 224), names="numbered")
    firsts = [t.get_text().split("\n")[0] for t in fig.axes[0].texts]
    assert firsts == ["input", "conv1", "pool1", "conv2", "pool2", "conv3", "conv4", "conv5",
                      "pool5", "fc6", "fc7", "fc8"]


def test_names_given_one_per_block():
    names = ["c1", "p1", "c2", "p2", "f1", "f2", "out"]
    fig = plot_architecture(LeNet5(), (1, 28, 28), names=names)
    assert [t.get_text().split("\n")[0] for t in fig.axes[0].texts] == ["input", *names]
    with pytest.raises(ValueError, match=r"one string per block after the input, 7 here \(features.0, features.2"):
        plot_architecture(LeNet5(), (1, 28, 28), names=names[:-1])
    with pytest.raises(ValueError, match="names must be 'numbered'"):
        plot_architecture(LeNet5(), (1, 28, 28), names="alexnet")
