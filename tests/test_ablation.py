"""cnnbook.ablation: one training run per variant, rows in order, one change per row, a Markdown table."""
import math

import pytest
import torch

from cnnbook.ablation import ALEXNET_ABLATIONS, AblationRow, Variant, format_ablation, run_ablation
from cnnbook.models import AlexNetCIFAR


@pytest.fixture(scope="module")
def tiny_data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(32) % 10
    return (images, labels), (images[:16], labels[:16])


def test_the_chapter_variants_change_one_thing_each():
    base, *others = ALEXNET_ABLATIONS
    assert base.model == {} and base.augment
    for v in others:
        changes = len(v.model) + (not v.augment)
        assert changes == 1, f"{v.name} changes {changes} things"
        AlexNetCIFAR(width=0.0625, **v.model)  # every option exists in the model
    assert len({v.name for v in ALEXNET_ABLATIONS}) == len(ALEXNET_ABLATIONS)


def test_run_ablation_trains_each_variant_with_its_settings(tiny_data):
    torch.set_num_threads(1)
    train, test = tiny_data
    built, augmented = [], []

    def model_fn(**kw):
        built.append(kw)
        return AlexNetCIFAR(**kw)

    def augment(x):
        augmented.append(x.shape[0])
        return x

    variants = [Variant("base"), Variant("tanh", {"activation": "tanh"}), Variant("plain", augment=False)]
    rows = run_ablation(variants, train, test, epochs=1, batch_size=4, augment=augment,
                        base={"width": 0.0625}, model_fn=model_fn)
    assert [r.name for r in rows] == ["base", "tanh", "plain"]
    assert built == [{"width": 0.0625}, {"width": 0.0625, "activation": "tanh"}, {"width": 0.0625}]
    assert sum(augmented) == 2 * 32  # two augmented variants, one epoch of 32 images each; never the test set
    for r in rows:
        assert isinstance(r, AblationRow) and 0 <= r.test_acc <= 100 and r.seconds > 0
        assert r.parameters == sum(p.numel() for p in AlexNetCIFAR(width=0.0625).parameters())
        assert len(r.history) == 1 and r.test_acc == r.history.test_acc[-1]


def test_same_seed_same_result(tiny_data):
    torch.set_num_threads(1)
    train, test = tiny_data
    kw = dict(epochs=1, batch_size=4, base={"width": 0.0625})
    a = run_ablation([Variant("a")], train, test, **kw)[0]
    b = run_ablation([Variant("a")], train, test, **kw)[0]
    assert a.history.train_loss == b.history.train_loss


def test_fractional_epochs_are_passed_to_fit(tiny_data):
    torch.set_num_threads(1)
    train, test = tiny_data
    row = run_ablation([Variant("half")], train, test, epochs=0.5, batch_size=4, base={"width": 0.0625})[0]
    h = row.history
    assert len(h) == 1 and h.seconds[0] > 0
    # half of the 32 training images: 4 of the epoch's 8 batches of 4 (a whole epoch would be 32)
    assert round(h.images_per_s[0] * h.seconds[0]) == 16 and h.epochs_done == 0.5


def test_format_ablation_shows_differences_to_the_baseline():
    rows = [AblationRow("base", 80.0, 90.0, 10.0, 1000), AblationRow("other", 77.5, 95.0, 12.0, 2000)]
    text = format_ablation(rows)
    lines = text.splitlines()
    assert lines[0].startswith("| configuration") and len(lines) == 4
    assert "| base | 80.0 | baseline |" in lines[2]
    assert "| other | 77.5 | -2.5 | 95.0 | 12.0 | 2,000 |" == lines[3]
    assert "+2.5" in format_ablation(rows, baseline=1).splitlines()[2]
    nan_row = AblationRow("broken", math.nan, math.nan, 1.0, 1)
    assert "n/a" in format_ablation(rows + [nan_row])


def test_bad_arguments_name_the_parameter(tiny_data):
    train, test = tiny_data
    with pytest.raises(ValueError, match="variants"):
        run_ablation([], train, test, epochs=1)
    with pytest.raises(TypeError, match="variants"):
        run_ablation(Variant("x"), train, test, epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        run_ablation([Variant("x")], train, test, epochs=0)
    with pytest.raises(ValueError, match="epochs"):
        run_ablation([Variant("x")], train, test, epochs=float("nan"))
    with pytest.raises(ValueError, match="epochs"):
        run_ablation([Variant("x")], train, test, epochs=True)
    with pytest.raises(ValueError, match="test"):
        run_ablation([Variant("x")], train, None, epochs=1)
    with pytest.raises(TypeError, match="base"):
        run_ablation([Variant("x")], train, test, epochs=1, base=[("width", 1)])
    with pytest.raises(ValueError, match="baseline"):
        format_ablation([AblationRow("a", 1, 1, 1, 1)], baseline=3)
    with pytest.raises(ValueError, match="rows"):
        format_ablation([])
