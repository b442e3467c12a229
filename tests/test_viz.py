"""Figures return matplotlib Figures; confusion_matrix counts correctly; bad input is refused clearly."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from cnnbook.viz import (  # noqa: E402
    confusion_matrix,
    plot_confusion_matrix,
    plot_curves,
    plot_feature_maps,
    show_images,
)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def image_axes(fig):
    return [ax for ax in fig.axes if ax.images]


def test_show_images_uint8_grid():
    images = torch.randint(0, 256, (10, 1, 28, 28), dtype=torch.uint8)
    fig = show_images(images, ncols=4)
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 12  # 3 rows of 4, two left blank
    assert len(image_axes(fig)) == 10
    shown = image_axes(fig)[0].images[0].get_array()
    assert shown.shape == (28, 28)
    assert abs(float(shown.max()) - images[0].max().item() / 255) < 1e-6


def test_show_images_rgb_normalised_floats_are_stretched():
    images = torch.randn(3, 3, 8, 8) * 2  # values outside [0, 1], as after normalisation
    fig = show_images(images)
    arr = image_axes(fig)[0].images[0].get_array()
    assert arr.shape == (8, 8, 3)
    assert abs(float(arr.min())) < 1e-6 and abs(float(arr.max()) - 1) < 1e-6


def test_show_images_titles_and_colours():
    images = torch.rand(3, 28, 28)  # (N, H, W) is accepted too
    predictions = torch.tensor([0, 2, 2])
    fig = show_images(images, labels=[0, 1, 2], predictions=predictions, classes=["a", "b", "c"])
    titles = [ax.title for ax in image_axes(fig)]
    assert [t.get_text() for t in titles] == ["a", "c\n(true b)", "c"]
    assert titles[1].get_color() != titles[0].get_color()
    fig = show_images(images, labels=torch.tensor([2, 1, 0]))
    assert [ax.title.get_text() for ax in image_axes(fig)] == ["2", "1", "0"]
    scores = torch.tensor([[0.1, 0.9], [0.8, 0.2], [0.3, 0.7]])
    fig = show_images(images, predictions=scores)
    assert [ax.title.get_text() for ax in image_axes(fig)] == ["1", "0", "1"]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        ({"images": torch.zeros(2, 2, 8, 8)}, ValueError, "images"),
        ({"images": torch.zeros(0, 1, 8, 8)}, ValueError, "images"),
        ({"images": torch.zeros(2, 1, 8, 8, dtype=torch.int32)}, TypeError, "images"),
        ({"images": torch.zeros(2, 1, 8, 8), "labels": [0, 1, 2]}, ValueError, "labels"),
        ({"images": torch.zeros(2, 1, 8, 8), "labels": [0.5, 1.0]}, TypeError, "labels"),
        ({"images": torch.zeros(2, 1, 8, 8), "ncols": 0}, ValueError, "ncols"),
        ({"images": torch.zeros(2, 1, 8, 8), "labels": [0, 5], "classes": "ab"}, ValueError, "classes"),
    ],
)
def test_show_images_bad_input(kwargs, error, match):
    with pytest.raises(error, match=match):
        show_images(**kwargs)


def test_plot_feature_maps():
    maps = torch.randn(1, 6, 12, 12, requires_grad=True) * 1  # a layer's output, batch of one
    fig = plot_feature_maps(maps, ncols=4, title="C1")
    assert isinstance(fig, Figure)
    assert len(image_axes(fig)) == 6 and len(fig.axes) == 8
    with pytest.raises(ValueError, match="maps"):
        plot_feature_maps(torch.randn(2, 6, 12, 12))


def test_confusion_matrix_small_example():
    y_true = torch.tensor([0, 0, 1, 1, 1, 2, 2, 2, 2])
    y_pred = torch.tensor([0, 1, 1, 1, 2, 2, 0, 2, 2])
    cm = confusion_matrix(y_true, y_pred, 4)
    expected = torch.zeros(4, 4, dtype=torch.int64)
    for t, p in zip(y_true.tolist(), y_pred.tolist()):
        expected[t, p] += 1
    assert cm.dtype == torch.int64 and torch.equal(cm, expected)
    assert cm[2, 2] == 3 and cm[2, 0] == 1 and cm[3].sum() == 0
    assert cm.sum() == len(y_true) and cm.trace() == 6
    # scores (N, K) are reduced with argmax; lists are accepted
    scores = torch.nn.functional.one_hot(y_pred, 4).float()
    assert torch.equal(confusion_matrix(y_true.tolist(), scores, 4), expected)


@pytest.mark.parametrize(
    "y_true, y_pred, k, match",
    [
        ([0, 1], [0, 3], 3, "y_pred"),
        ([-1, 1], [0, 1], 3, "y_true"),
        ([0, 1], [0], 3, "y_pred"),
        ([0, 1], [0, 1], 0, "num_classes"),
    ],
)
def test_confusion_matrix_bad_input(y_true, y_pred, k, match):
    with pytest.raises(ValueError, match=match):
        confusion_matrix(torch.tensor(y_true), torch.tensor(y_pred), k)


def test_plot_confusion_matrix():
    cm = torch.tensor([[5, 1], [2, 7]])
    fig = plot_confusion_matrix(cm, classes=["cat", "dog"], title="pets")
    assert isinstance(fig, Figure)
    ax = fig.axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["cat", "dog"]
    assert sorted(t.get_text() for t in ax.texts) == ["1", "2", "5", "7"]
    fig = plot_confusion_matrix(cm, normalize=True)
    assert "83.3" in [t.get_text() for t in fig.axes[0].texts]  # 5 of 6 cats
    _, ax = plt.subplots()
    assert plot_confusion_matrix(cm, ax=ax) is ax.figure
    with pytest.raises(ValueError, match="cm"):
        plot_confusion_matrix(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="classes"):
        plot_confusion_matrix(cm, classes=["cat"])


def test_plot_curves():
    fig = plot_curves({"train": [1.0, 0.5, 0.3], "test": torch.tensor([1.1, 0.7, 0.6])}, ylabel="loss")
    assert isinstance(fig, Figure)
    lines = fig.axes[0].get_lines()
    assert len(lines) == 2
    assert list(lines[0].get_xdata()) == [1, 2, 3]
    assert list(lines[1].get_ydata()) == pytest.approx([1.1, 0.7, 0.6])
    with pytest.raises(ValueError, match="curves"):
        plot_curves({})
    with pytest.raises(ValueError, match="train"):
        plot_curves({"train": []})


# ---------------------------------------------------------------------------------- pooling


def test_sample_photo_shapes_and_range():
    from cnnbook.viz import sample_photo

    grey, colour = sample_photo(32), sample_photo(20, gray=False)
    assert grey.shape == (1, 32, 32) and colour.shape == (3, 20, 20)
    assert grey.dtype == torch.float32 and 0 <= grey.min() < grey.max() <= 1
    with pytest.raises(ValueError, match="size"):
        sample_photo(0)


def test_plot_pooling_draws_one_panel_per_setting_with_pool2d():
    from cnnbook.pooling import pool2d
    from cnnbook.viz import plot_pooling

    images = {"a": torch.rand(1, 12, 12), "b": torch.rand(3, 9, 9)}
    settings = [(2, 2, 0, "max"), (3, 1, 1, "avg"), (3, 2, 1, "min")]
    fig = plot_pooling(images, settings)
    axes = fig.get_axes()
    assert len(axes) == 2 * (1 + len(settings))
    assert "(1, 6, 6)" in axes[1].get_title() and "(3, 5, 5)" in axes[7].get_title()
    shown = torch.tensor(axes[2].get_images()[0].get_array())  # the avg 3x3 of image a
    torch.testing.assert_close(shown, pool2d(images["a"], 3, 1, 1, mode="avg")[0].double(), check_dtype=False)
    plt.close(fig)
    with pytest.raises(ValueError, match="images"):
        plot_pooling({"bad": torch.rand(2, 5, 5)}, settings)
    with pytest.raises(ValueError, match="settings"):
        plot_pooling(torch.rand(1, 5, 5), [])
    with pytest.raises(ValueError, match="padding"):
        plot_pooling(torch.rand(1, 5, 5), [(2, 2, 2, "max")])
