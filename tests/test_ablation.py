"""cnnbook.ablation: one run per variant and seed, train/val/test measured once per run, a real table."""
import math
from dataclasses import replace

import pytest
import torch

from cnnbook import ablation
from cnnbook.ablation import (
    ALEXNET_ABLATIONS,
    PAPER_OPTIMISER,
    PAPER_RECIPE,
    AblationRow,
    Run,
    Variant,
    ablation_table,
    clear_of,
    run_ablation,
    run_tuned,
    standard_error,
)
from cnnbook.models import AlexNetCIFAR
from cnnbook.settings import Settings
from cnnbook.train import History


@pytest.fixture(scope="module")
def tiny_data():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (32, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.arange(32) % 10
    return (images, labels), (images[:16], labels[:16])


def test_the_chapter_variants_change_one_thing_each():
    base, *others = ALEXNET_ABLATIONS
    assert base.model == {} and base.augment and base.settings == {}
    for v in others:
        changes = len(v.model) + (not v.augment) + bool(v.settings)
        assert changes == 1, f"{v.name} changes {changes} things"
        AlexNetCIFAR(width=0.0625, **v.model)  # every option exists in the model
    assert len({v.name for v in ALEXNET_ABLATIONS}) == len(ALEXNET_ABLATIONS)
    assert not any(v.settings for v in ALEXNET_ABLATIONS)  # run_tuned sets every row's learning rate


def test_the_paper_recipe_is_the_papers_optimiser():
    assert isinstance(PAPER_RECIPE, Settings) and "epochs" not in PAPER_OPTIMISER
    opt = PAPER_RECIPE.make_optimizer([torch.nn.Parameter(torch.zeros(2))])
    group = opt.param_groups[0]
    assert isinstance(opt, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.01, 0.9, 5e-4, False)
    assert group["dampening"] == 0
    assert (PAPER_RECIPE.batch_size, PAPER_RECIPE.schedule, PAPER_RECIPE.label_smoothing) == (128, "constant", 0.0)


def test_run_ablation_trains_each_variant_once_per_seed(tiny_data, monkeypatch):
    torch.set_num_threads(1)
    train, test = tiny_data
    built, augmented, used = [], [], []

    def model_fn(**kw):
        built.append(kw)
        return AlexNetCIFAR(**kw)

    def augment(x):
        augmented.append(x.shape[0])
        return x

    def spy_fit(*args, **kwargs):
        used.append(args[3])  # the settings of the run
        return fit(*args, **kwargs)

    fit = ablation.fit
    monkeypatch.setattr(ablation, "fit", spy_fit)
    variants = [Variant("base"), Variant("tanh", {"activation": "tanh"}), Variant("plain", augment=False),
                Variant("sgd", settings={"optimizer": "sgd", "schedule": "constant", "lr": 0.01})]
    rows = run_ablation(variants, train, test, val=test, epochs=1, batch_size=4, augment=augment,
                        base={"width": 0.0625}, model_fn=model_fn, seeds=(0, 1))
    assert [r.name for r in rows] == ["base", "tanh", "plain", "sgd"]
    assert built == [{"width": 0.0625}] * 2 + [{"width": 0.0625, "activation": "tanh"}] * 2 + [{"width": 0.0625}] * 4
    assert sum(augmented) == 3 * 2 * 32  # three augmented variants, two seeds, one epoch of 32 images
    shared = Settings(epochs=1, batch_size=4)
    assert used[:2] == [replace(shared, seed=0), replace(shared, seed=1)]
    assert used[6:] == [replace(shared, seed=s, optimizer="sgd", schedule="constant", lr=0.01) for s in (0, 1)]
    for r in rows:
        assert isinstance(r, AblationRow) and [run.seed for run in r.runs] == [0, 1]
        assert r.parameters == sum(p.numel() for p in AlexNetCIFAR(width=0.0625).parameters())
        for run in r.runs:
            assert 0 <= run.train_acc <= 100 and 0 <= run.test_acc <= 100 and run.seconds > 0
            assert run.val_acc == run.test_acc  # val and test are the same images here
            assert len(run.history) == 1 and math.isnan(run.history.test_acc[-1])  # no curves asked for
        assert r.runs[0].model is not None and r.runs[1].model is None
        assert r.test_acc == pytest.approx(sum(run.test_acc for run in r.runs) / 2)
        assert r.gap == pytest.approx(sum(run.train_acc - run.test_acc for run in r.runs) / 2)


def test_curves_record_validation_for_the_first_seed(tiny_data):
    torch.set_num_threads(1)
    train, test = tiny_data
    row = run_ablation([Variant("a")], train, test, val=test, epochs=2, batch_size=8,
                       base={"width": 0.0625}, seeds=(0, 1), curves=True)[0]
    first, second = row.runs
    assert len(first.history.test_acc) == 2 and not math.isnan(first.history.test_acc[-1])
    assert math.isnan(second.history.test_acc[-1])
    assert first.history.test_acc[-1] == pytest.approx(first.val_acc)


def test_the_settings_augmentation_is_off_for_a_variant_without(tiny_data, monkeypatch):
    train, test = tiny_data
    used = []
    monkeypatch.setattr(ablation, "fit", lambda *args, **kw: used.append(args[3]) or History())
    monkeypatch.setattr(ablation, "evaluate", lambda *args, **kw: (0.0, 50.0))
    settings = Settings(epochs=2, crop=4, flip=True, lr=1e-3)
    run_ablation([Variant("a"), Variant("b", augment=False), Variant("c", settings={"lr": 2e-3})], train, test,
                 settings, base={"width": 0.0625}, seeds=(5,))
    assert used == [replace(settings, seed=5), replace(settings, seed=5, crop=0, flip=False),
                    replace(settings, seed=5, lr=2e-3)]


def test_same_seed_same_result(tiny_data):
    torch.set_num_threads(1)
    train, test = tiny_data
    kw = dict(epochs=1, batch_size=4, base={"width": 0.0625})
    a = run_ablation([Variant("a")], train, test, **kw)[0].runs[0]
    b = run_ablation([Variant("a")], train, test, **kw)[0].runs[0]
    assert a.history.train_loss == b.history.train_loss and a.test_acc == b.test_acc


def _row(name, tests, trains=None, params=1000):
    trains = trains or [100.0] * len(tests)
    runs = [Run(seed=i, train_acc=tr, val_acc=math.nan, test_acc=te, seconds=10.0 + i, history=History())
            for i, (tr, te) in enumerate(zip(trains, tests))]
    return AblationRow(name, params, runs)


def test_clear_of_compares_ranges():
    base = _row("base", [80.0, 81.0, 82.0])
    assert clear_of(_row("low", [70.0, 75.0, 79.9]), base)
    assert clear_of(_row("high", [82.5, 83.0, 90.0]), base)
    assert not clear_of(_row("overlap", [79.0, 80.5, 83.0]), base)


def test_ablation_table_shows_means_ranges_gaps_and_differences():
    rows = [_row("base", [80.0, 82.0], [90.0, 90.0]), _row("other", [77.0, 78.0], [95.0, 97.0], params=2000)]
    rows[1].lr = 2e-3
    table = ablation_table(rows)
    assert table.header[0] == "configuration" and len(table.rows) == 2
    assert "s per run" not in table.header  # rows of equal cost would differ only by the machine's load
    assert table.rows[0][:9] == ["base", "-", "90.0", "nan", "81.0", "1.41", "80.00-82.00", "9.0", "baseline"]
    assert table.rows[1] == ["other", "0.002", "96.0", "nan", "77.5", "0.71", "77.00-78.00", "18.5", "-3.5",
                             "2,000"]
    assert "<table" in table._repr_html_() and "77.00-78.00" in table._repr_html_()
    assert ablation_table(rows, baseline=1).rows[0][8] == "+3.5"
    single = ablation_table([_row("a", [50.0]), _row("b", [60.0])])
    assert single.header[6] == "seeds" and single.rows[1][5] == "-"
    nan_row = _row("broken", [math.nan])
    assert "n/a" in ablation_table(rows + [nan_row]).rows[2]


def test_run_tuned_chooses_each_rows_rate_on_validation_and_tests_only_the_chosen(tiny_data, monkeypatch):
    train, test = tiny_data
    val = (test[0][:8], test[1][:8])
    used, evaluated = [], []
    # validation accuracy peaks at lr 2e-3 for the baseline and at 4e-3 for tanh (by the spy below)
    peak = {"base": 2e-3, "tanh": 4e-3}
    current = {}

    def spy_fit(model, data, curve, settings, **kw):
        used.append((current["name"], settings.lr, settings.seed))
        model.lr_used = settings.lr
        return History()

    def spy_evaluate(model, data, **kw):
        n = len(data)
        evaluated.append(n)
        if n == 8:  # the validation images
            return 0.0, 50.0 - abs(model.lr_used - peak[current["name"]]) * 1e3
        return 0.0, 70.0

    def model_fn(**kw):
        current["name"] = "tanh" if kw.get("activation") == "tanh" else "base"
        return AlexNetCIFAR(**kw)

    monkeypatch.setattr(ablation, "fit", spy_fit)
    monkeypatch.setattr(ablation, "evaluate", spy_evaluate)
    rows = run_tuned([Variant("base"), Variant("tanh", {"activation": "tanh"})], train, val, test,
                     Settings(epochs=1, lr=1.0), rates=(4e-3, 1e-3, 2e-3), base={"width": 0.0625},
                     model_fn=model_fn, seeds=(0, 1, 2))
    assert [r.lr for r in rows] == [2e-3, 4e-3]
    assert rows[0].tuning == ((1e-3, 49.0), (2e-3, 50.0), (4e-3, 48.0))
    # three rates with the first seed, then the other two seeds at the chosen rate, per row
    assert used == [("base", 1e-3, 0), ("base", 2e-3, 0), ("base", 4e-3, 0), ("base", 2e-3, 1), ("base", 2e-3, 2),
                    ("tanh", 1e-3, 0), ("tanh", 2e-3, 0), ("tanh", 4e-3, 0), ("tanh", 4e-3, 1), ("tanh", 4e-3, 2)]
    assert [r.seed for r in rows[0].runs] == [0, 1, 2] and all(r.test_acc == 70.0 for r in rows[0].runs)
    assert evaluated.count(16) == 2 * 3  # the test set: once per reported run, never while tuning
    assert rows[0].runs[0].model is not None and rows[0].runs[1].model is None


def test_run_tuned_trains_for_real_and_breaks_ties_towards_the_smaller_rate(tiny_data):
    torch.set_num_threads(1)
    train, test = tiny_data
    row = run_tuned([Variant("a")], train, test, test, epochs=1, batch_size=8, rates=(1e-9, 2e-9),
                    base={"width": 0.0625}, seeds=(0,))[0]
    # two rates too small to change the network give the same validation accuracy: the smaller wins
    assert row.tuning[0][1] == row.tuning[1][1] and row.lr == 1e-9
    assert not math.isnan(row.runs[0].test_acc)


def test_run_tuned_refuses_bad_rates_and_a_missing_validation_set(tiny_data):
    train, test = tiny_data
    for bad in ((), (0.0,), (-1e-3,), (True,), "0.1"):
        with pytest.raises(ValueError, match="rates"):
            run_tuned([Variant("x")], train, test, test, epochs=1, rates=bad)
    with pytest.raises(ValueError, match="val"):
        run_tuned([Variant("x")], train, None, test, epochs=1, rates=(1e-3,))


def test_standard_error_of_an_accuracy():
    assert standard_error(50.0, 100) == pytest.approx(5.0)
    assert standard_error(90.0, 2000) == pytest.approx(100 * (0.09 / 2000) ** 0.5)
    assert standard_error(100.0, 10) == 0.0
    with pytest.raises(ValueError, match="accuracy"):
        standard_error(101.0, 10)
    with pytest.raises(ValueError, match="n"):
        standard_error(50.0, 0)


def test_bad_arguments_name_the_parameter(tiny_data):
    train, test = tiny_data
    with pytest.raises(ValueError, match="variants"):
        run_ablation([], train, test, epochs=1)
    with pytest.raises(TypeError, match="variants"):
        run_ablation(Variant("x"), train, test, epochs=1)
    for bad, error in ((0, ValueError), (float("nan"), ValueError), (True, TypeError)):
        with pytest.raises(error, match="epochs"):
            run_ablation([Variant("x")], train, test, epochs=bad)
    with pytest.raises(TypeError, match="needs epochs="):
        run_ablation([Variant("x")], train, test)
    with pytest.raises(TypeError, match="Variant 'x' got an unknown setting 'learning_rate'"):
        run_ablation([Variant("x", settings={"learning_rate": 1.0})], train, test, epochs=1)
    with pytest.raises(ValueError, match="test"):
        run_ablation([Variant("x")], train, None, epochs=1)
    with pytest.raises(TypeError, match="base"):
        run_ablation([Variant("x")], train, test, epochs=1, base=[("width", 1)])
    with pytest.raises(TypeError, match="seeds"):
        run_ablation([Variant("x")], train, test, epochs=1, seeds=3)
    with pytest.raises(ValueError, match="seeds"):
        run_ablation([Variant("x")], train, test, epochs=1, seeds=())
    with pytest.raises(ValueError, match="baseline"):
        ablation_table([_row("a", [1.0])], baseline=3)
    with pytest.raises(ValueError, match="rows"):
        ablation_table([])
