"""cnnbook.settings: one frozen dataclass of the training settings, each field checked where it is
defined, overrides by dataclasses.replace, plain data for JSON, the augmentation and the optimiser
it describes."""
import json
from dataclasses import FrozenInstanceError, asdict, fields, replace

import pytest
import torch

from cnnbook.data import random_crop, random_flip
from cnnbook.settings import DEFAULT_LR, DEFAULT_WEIGHT_DECAY, Settings, with_overrides

BAD = [  # (field, value, error): one wrong type and one value out of range per field
    ("epochs", "3", TypeError), ("epochs", 0, ValueError), ("epochs", float("nan"), ValueError),
    ("epochs", True, TypeError), ("epochs", -0.5, ValueError),
    ("batch_size", 32.0, TypeError), ("batch_size", 0, ValueError),
    ("lr", "fast", TypeError), ("lr", 0.0, ValueError), ("lr", -1.0, ValueError),
    ("optimizer", 3, TypeError), ("optimizer", "rmsprop", ValueError),
    ("nesterov", 1, TypeError),
    ("weight_decay", "none", TypeError), ("weight_decay", -1e-4, ValueError),
    ("schedule", None, TypeError), ("schedule", "steps", ValueError),
    ("label_smoothing", "0.1", TypeError), ("label_smoothing", 1.0, ValueError), ("label_smoothing", -0.1, ValueError),
    ("shift", 1.5, TypeError), ("shift", -1, ValueError),
    ("crop", "4", TypeError), ("crop", -4, ValueError),
    ("flip", "yes", TypeError), ("amp", 1, TypeError), ("channels_last", None, TypeError),
    ("compile", 0, TypeError),
    ("seed", "zero", TypeError), ("seed", 1.0, TypeError),
    ("target_acc", "99", TypeError), ("target_acc", 150, ValueError), ("target_acc", 0, ValueError),
    ("eval_batch_size", None, TypeError), ("eval_batch_size", 0, ValueError),
]


@pytest.mark.parametrize("name, value, error", BAD)
def test_every_bad_field_is_refused_with_its_name(name, value, error):
    kw = {"epochs": 1, name: value}
    with pytest.raises(error, match=name):
        Settings(**kw)
    with pytest.raises(error, match=name):  # replace checks again
        replace(Settings(epochs=1), **{name: value})
    with pytest.raises(error, match=name):  # the field's own check: the command line's, per option
        Settings.__dataclass_fields__[name].metadata["check"](name, value)


def test_every_field_has_a_bad_value_in_the_table_above():
    assert {f.name for f in fields(Settings)} == {name for name, _, _ in BAD}


def test_every_field_says_what_it_means():
    for f in fields(Settings):
        assert len(f.metadata["help"]) > 15, f.name


def test_the_defaults_and_the_normalised_values():
    s = Settings(epochs=2.5)
    assert (s.batch_size, s.lr, s.optimizer, s.weight_decay, s.schedule) == (None, None, "adamw", None, "onecycle")
    assert (s.label_smoothing, s.shift, s.crop, s.flip, s.seed, s.target_acc) == (0.0, 0, 0, False, None, None)
    assert (s.amp, s.channels_last, s.compile, s.nesterov, s.eval_batch_size) == (True, True, False, True, 1024)
    t = Settings(epochs=3, lr=1, optimizer="SGD", schedule="Constant", label_smoothing=0)
    assert t.optimizer == "sgd" and t.schedule == "constant" and isinstance(t.lr, float)
    assert isinstance(t.label_smoothing, float) and t.epochs == 3 and isinstance(t.epochs, int)


def test_frozen_and_replaced():
    s = Settings(epochs=1, lr=1e-3)
    with pytest.raises(FrozenInstanceError):
        s.lr = 1.0
    t = replace(s, lr=2e-3, shift=2)
    assert (s.lr, s.shift) == (1e-3, 0) and (t.lr, t.shift) == (2e-3, 2)


def test_settings_are_plain_data():
    s = Settings(epochs=2.5, batch_size=64, lr=5e-3, crop=4, flip=True, seed=0)
    d = asdict(s)
    assert json.loads(json.dumps(d)) == d  # no callables, nothing JSON cannot hold
    assert Settings(**d) == s


def test_the_augmentation_is_built_from_the_fields():
    assert Settings(epochs=1).augmentation() is None
    assert repr(Settings(epochs=1, shift=2).augmentation()) == "random_shift(max_shift=2, fill=0.0)"
    both = Settings(epochs=1, crop=4, flip=True).augmentation()
    assert repr(both) == f"compose({random_crop(4)!r}, {random_flip()!r})"
    x = torch.rand(8, 3, 6, 6)
    torch.manual_seed(0)
    a = both(x)
    torch.manual_seed(0)
    assert torch.equal(a, random_flip()(random_crop(4)(x)))


def test_the_optimiser_named():
    params = [torch.nn.Parameter(torch.zeros(2))]
    adamw = Settings(epochs=1).make_optimizer(params)
    assert isinstance(adamw, torch.optim.AdamW)
    assert adamw.param_groups[0]["lr"] == DEFAULT_LR["adamw"]
    assert adamw.param_groups[0]["weight_decay"] == DEFAULT_WEIGHT_DECAY["adamw"]
    sgd = Settings(epochs=1, optimizer="sgd", lr=0.05, weight_decay=0.0, nesterov=False).make_optimizer(params)
    group = sgd.param_groups[0]
    assert isinstance(sgd, torch.optim.SGD)
    assert (group["lr"], group["momentum"], group["weight_decay"], group["nesterov"]) == (0.05, 0.9, 0.0, False)
    assert Settings(epochs=1, optimizer="sgd").make_optimizer(params).param_groups[0]["nesterov"] is True


def test_overrides_replace_fields_and_name_mistakes():
    base = Settings(epochs=3, lr=1e-3, seed=0)
    assert with_overrides(base, {}, caller="fit()") is base
    assert with_overrides(base, {"lr": 2e-3}, caller="fit()") == replace(base, lr=2e-3)
    assert with_overrides(None, {"epochs": 2, "lr": 2e-3}, caller="fit()") == Settings(epochs=2, lr=2e-3)
    with pytest.raises(TypeError, match="fit\\(\\) got an unknown setting 'epoch'.*epochs, batch_size"):
        with_overrides(base, {"epoch": 2}, caller="fit()")
    with pytest.raises(TypeError, match="needs epochs="):
        with_overrides(None, {"lr": 1e-3}, caller="fit()")
    with pytest.raises(TypeError, match="settings must be a cnnbook.Settings"):
        with_overrides({"epochs": 1}, {}, caller="fit()")
    with pytest.raises(ValueError, match="lr"):
        with_overrides(base, {"lr": -1.0}, caller="fit()")


def test_a_learning_rate_must_be_finite_and_positive():
    for bad in (float("inf"), float("nan"), 0, -1e-3):
        with pytest.raises(ValueError, match="lr must be a"):
            Settings(epochs=1, lr=bad)
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got inf"):
        Settings(epochs=1, lr=float("inf"))
