"""The training engine: fit, History, evaluate, predict, checkpoints, Ctrl-C, divergence and bad arguments.

Everything runs on the CPU on a tiny, learnable dataset made here (three classes of bright
half-images with noise), so the whole file takes seconds.
"""
import json
import math
from dataclasses import replace

import pytest
import torch
import torch.nn as nn

import cnnbook as cb
import cnnbook.errors
import cnnbook.train
from cnnbook.checkpoint import read_checkpoint
from cnnbook.settings import Settings
from cnnbook.train import History, evaluate, fit, predict

torch.set_num_threads(1)


def halves(n: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """n uint8 images (n, 1, 12, 12): class 0 bright top half, 1 bright bottom half, 2 bright left half."""
    g = torch.Generator().manual_seed(seed)
    labels = torch.arange(n) % 3
    images = torch.randint(0, 190, (n, 1, 12, 12), generator=g)
    images[labels == 0, :, :6, :] += 60
    images[labels == 1, :, 6:, :] += 60
    images[labels == 2, :, :, :6] += 60
    return images.to(torch.uint8), labels


def small_net(seed: int = 0) -> nn.Module:
    """A tiny CNN: (N, 1, 12, 12) -> (N, 3) logits."""
    torch.manual_seed(seed)
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(36, 3))


@pytest.fixture(scope="module")
def data():
    return halves(384, 0), halves(120, 1)


def fit_small(model, data, **kw):
    train, test = data
    kw = {"epochs": 2, "batch_size": 32, "lr": 0.02, "device": "cpu", "progress": False, "seed": 0, **kw}
    return fit(model, train, test, **kw)


def weights(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


# ----------------------------------------------------------------------------- fit and History


def test_one_epoch_lowers_the_loss_and_learns(data):
    model = small_net()
    before, acc_before = evaluate(model, data[1])
    h = fit_small(model, data, epochs=1)
    after, acc_after = evaluate(model, data[1])
    assert after < 0.7 * before
    assert acc_after > 60 > acc_before
    # fit tests after each epoch in its own mixed precision: evaluate(amp=True)
    assert h.test_loss[-1] == pytest.approx(evaluate(model, data[1], amp=True)[0], rel=1e-5)
    assert h.test_acc[-1] == pytest.approx(evaluate(model, data[1], amp=True)[1])
    assert not model.training  # fit leaves the model ready to predict


def test_history_has_one_entry_per_epoch(data):
    h = fit_small(small_net(), data, epochs=3)
    assert len(h) == 3
    for name in ("train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_s"):
        values = getattr(h, name)
        assert len(values) == 3 and all(isinstance(v, float) and math.isfinite(v) for v in values), name
    assert all(s > 0 for s in h.seconds)
    assert all(0 <= a <= 100 for a in h.train_acc + h.test_acc)
    assert h.images_per_s[0] == pytest.approx(384 / h.seconds[0])
    assert h.train_loss[-1] < h.train_loss[0]
    assert h.train_seconds == pytest.approx(sum(h.seconds))
    d = json.loads(json.dumps(h.as_dict()))
    assert set(d) == {"train_loss", "train_acc", "test_loss", "test_acc", "seconds", "images_per_s", "fraction"}
    assert History.from_dict(d) == h
    text = repr(h)
    assert "3 epochs" in text and text.count("\n") == 4


def test_history_time_to_sums_seconds_up_to_the_first_epoch_reaching_the_accuracy():
    h = History()
    for seconds, acc in ((1.0, 90.0), (2.0, 99.1), (4.0, 98.0), (8.0, 99.5)):
        h.append(train_loss=0.1, train_acc=acc, test_loss=0.1, test_acc=acc, seconds=seconds, images_per_s=1.0)
    assert h.time_to(99.0) == 3.0
    assert h.time_to(99.2) == 15.0
    assert h.time_to(99.9) is None
    assert h.time_to(90) == 1.0
    with pytest.raises(ValueError, match="acc"):
        h.time_to(0)
    assert len(History()) == 0 and History().time_to(50) is None


def test_history_plots_loss_and_accuracy(data):
    h = fit_small(small_net(), data, epochs=2)
    fig = h.plot(title="small")
    assert len(fig.axes) == 2
    assert [len(line.get_xdata()) for line in fig.axes[1].lines] == [2, 2]  # train and test accuracy
    assert [float(v) for v in fig.axes[1].lines[1].get_ydata()] == pytest.approx(h.test_acc)
    assert "test accuracy" in fig.axes[1].get_title()
    with pytest.raises(ValueError, match="empty"):
        History().plot()


def test_without_test_data_test_columns_are_nan_and_json_null(data):
    h = fit(small_net(), data[0], epochs=1, batch_size=64, device="cpu", progress=False)
    assert math.isnan(h.test_acc[0]) and h.as_dict()["test_acc"] == [None]
    assert h.time_to(10) is None


def test_tensor_pairs_of_floats_and_3d_images_and_device_loaders_are_accepted(data):
    (x, y), (xt, yt) = data
    xf = (x.float() / 255 - 0.4)[:, 0]  # (N, H, W) float, already "normalised"
    h = fit(small_net(), (xf, y), (( xt.float() / 255 - 0.4)[:, 0], yt), epochs=2, batch_size=32,
            lr=0.03, device="cpu", progress=False, seed=0)
    assert len(h) == 2 and h.test_acc[-1] > 80
    loader = cb.DeviceLoader((x, y), 48, shuffle=True, device="cpu", seed=3)
    h = fit(small_net(), loader, (xt, yt), epochs=2, lr=0.03, progress=False)
    assert h.images_per_s[0] == pytest.approx(384 / h.seconds[0]) and h.test_acc[-1] > 80


def test_fit_with_a_progress_bar_and_sgd_and_constant_schedule(data, capsys):
    h = fit_small(small_net(), data, optimizer="sgd", schedule="constant", lr=0.05, progress=True)
    assert h.test_acc[-1] > 80
    opt_model = small_net()
    h = fit_small(opt_model, data, optimizer=torch.optim.SGD(opt_model.parameters(), lr=0.05, momentum=0.9), lr=None)
    assert h.test_acc[-1] > 80


def test_settings_and_keyword_overrides_are_the_same_run(data):
    train, test = data
    settings = Settings(epochs=2, batch_size=32, lr=0.05, seed=0, label_smoothing=0.1, shift=1)
    a = fit(small_net(), train, test, settings, device="cpu", progress=False)
    b = fit(small_net(), train, test, epochs=2, batch_size=32, lr=0.05, seed=0, label_smoothing=0.1, shift=1,
            device="cpu", progress=False)
    c = fit(small_net(), train, test, settings=replace(settings, lr=1.0), lr=0.05, device="cpu", progress=False)
    assert a.train_loss == b.train_loss == c.train_loss and a.test_acc == b.test_acc == c.test_acc
    d = fit(small_net(), train, test, settings, augment=cb.random_shift(1), device="cpu", progress=False)
    assert d.train_loss == a.train_loss  # augment= replaces the settings' shift with the same shift
    e = fit(small_net(), train, test, settings, shift=0, device="cpu", progress=False)
    assert e.train_loss != a.train_loss


def test_fit_names_a_wrong_keyword_and_missing_settings(data):
    (x, y), _ = data
    with pytest.raises(TypeError, match="fit\\(\\) got an unknown setting 'epoch'"):
        fit(small_net(), (x, y), epoch=1, device="cpu")
    with pytest.raises(TypeError, match="fit\\(\\) needs epochs= or settings="):
        fit(small_net(), (x, y), lr=0.1, device="cpu")
    with pytest.raises(TypeError, match="settings must be a cnnbook.Settings"):
        fit(small_net(), (x, y), None, {"epochs": 1}, device="cpu")


def test_fractional_epochs_cut_the_last_epoch_short(data):
    h = fit_small(small_net(), data, epochs=1.5)  # 12 batches of 32 per epoch, then 6
    assert len(h) == 2
    assert h.fraction == [1.0, 0.5] and h.epochs_done == 1.5  # what the CLI and the bench report
    assert h.mean_images_per_s == pytest.approx((384 + 192) / h.train_seconds)
    assert History().epochs_done == 0 and math.isnan(History().mean_images_per_s)
    assert h.images_per_s[0] * h.seconds[0] == pytest.approx(384)
    assert h.images_per_s[1] * h.seconds[1] == pytest.approx(192)
    assert h.test_acc[1] > 60


@pytest.mark.parametrize("batch_size", [384, 192, 128, 96])
def test_very_short_runs_of_1_to_4_steps_work(data, batch_size):
    h = fit_small(small_net(), data, epochs=1, batch_size=batch_size)
    assert len(h) == 1 and math.isfinite(h.train_loss[0])


def test_target_acc_stops_early(data):
    h = fit_small(small_net(), data, epochs=5, target_acc=50.0)
    assert len(h) < 5 and h.test_acc[-1] >= 50.0
    assert all(a < 50.0 for a in h.test_acc[:-1])


# ----------------------------------------------------------------------------- evaluate, predict


def test_evaluate_and_predict_agree(data):
    model = small_net()
    fit_small(model, data, epochs=1)
    loss, acc = evaluate(model, data[1], batch_size=50)
    probs, labels = predict(model, data[1], batch_size=50)
    assert probs.shape == (120, 3) and probs.dtype == torch.float32 and probs.device.type == "cpu"
    assert labels.shape == (120,) and labels.dtype == torch.int64
    assert torch.equal(labels, data[1][1])  # in the data's order
    assert torch.allclose(probs.sum(1), torch.ones(120), atol=1e-5)
    assert 100 * (probs.argmax(1) == labels).float().mean().item() == pytest.approx(acc)
    nll = -probs[torch.arange(120), labels].log().mean().item()
    assert nll == pytest.approx(loss, rel=1e-4)
    # a batch size that does not divide the data gives the same numbers
    assert evaluate(model, data[1], batch_size=7) == pytest.approx((loss, acc), rel=1e-5)


# ----------------------------------------------------------------------------- seed, checkpoints, Ctrl-C


def comparable(h: History) -> dict:
    d = h.as_dict()
    d.pop("seconds"), d.pop("images_per_s")
    return d


def test_a_seed_makes_cpu_runs_repeatable(data):
    runs = []
    for _ in range(2):
        model = small_net(seed=5)
        h = fit_small(model, data, epochs=2, seed=11, augment=cb.random_shift(1))
        runs.append((comparable(h), weights(model)))
    assert runs[0][0] == runs[1][0]
    assert all(torch.equal(a, b) for a, b in zip(runs[0][1], runs[1][1]))
    other = small_net(seed=5)
    h = fit_small(other, data, epochs=2, seed=12, augment=cb.random_shift(1))
    assert comparable(h) != runs[0][0]


class NoisyInterrupt:
    """An augmentation that adds noise (drawing on torch's global generator) and, if asked,
    raises KeyboardInterrupt -- as Ctrl-C would -- at training step ``at`` (counted from 1)."""

    def __init__(self, at: int | None = None) -> None:
        self.at, self.calls = at, 0

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        if self.at is not None and self.calls == self.at:
            raise KeyboardInterrupt
        return x + 0.05 * torch.randn_like(x)


def test_ctrl_c_propagates_and_keeps_the_last_epoch_s_checkpoint(data, tmp_path, capsys):
    model = small_net()
    steps = 384 // 32
    path = tmp_path / "run.pt"
    with pytest.raises(KeyboardInterrupt):
        fit_small(model, data, epochs=4, augment=NoisyInterrupt(at=2 * steps + 3), progress=True, checkpoint=path)
    assert f"Interrupted after 2 completed epoch(s); {path} holds them" in capsys.readouterr().err
    assert read_checkpoint(path)["epoch"] == 2  # two epochs completed, the third interrupted
    assert not model.training and evaluate(model, data[1])[1] > 80  # the model keeps its trained weights


def test_a_non_finite_lr_is_refused_naming_lr(data, tmp_path):
    with pytest.raises(ValueError, match="lr must be a finite number > 0, got inf"):
        fit_small(small_net(), data, lr=math.inf, checkpoint=tmp_path / "run.pt")
    opt = lambda params: torch.optim.SGD(params, lr=math.inf)  # noqa: E731 -- the user's own optimizer
    with pytest.raises(ValueError, match="lr must be a finite number"):
        fit_small(small_net(), data, optimizer=opt, lr=None)
    assert list(tmp_path.iterdir()) == []  # nothing trained, nothing saved


class NaNAfter(nn.Module):
    """small_net, whose logits become NaN from training step ``at`` on (counted from 1)."""

    def __init__(self, at: int) -> None:
        super().__init__()
        self.net, self.at, self.calls = small_net(), at, 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += self.training
        out = self.net(x)
        return out * math.nan if self.training and self.calls >= self.at else out


def test_a_diverging_run_stops_at_the_epoch_s_end_naming_it(data, tmp_path):
    steps = 384 // 32
    path = tmp_path / "run.pt"
    model = NaNAfter(at=steps + 4)
    with pytest.raises(cb.train.TrainingDivergedError) as err:
        fit_small(model, data, epochs=3, checkpoint=path)
    text = str(err.value)
    assert "\n" not in text and "diverged in epoch 2" in text and "lower learning rate" in text
    assert "peak lr 0.02" in text and f"{path} keeps the 1 epoch(s) before it" in text
    assert model.calls == 2 * steps  # the epoch ran to its end: the loss is read once an epoch
    assert read_checkpoint(path)["epoch"] == 1  # the NaN weights were not saved
    assert isinstance(err.value, cb.errors.CnnbookError)


def test_checkpoint_resume_continues_exactly(data, tmp_path):
    steps = 384 // 32
    straight = small_net()
    h_straight = fit_small(straight, data, epochs=3, augment=NoisyInterrupt())

    path = tmp_path / "run.pt"
    first = small_net()
    with pytest.raises(KeyboardInterrupt):
        fit_small(first, data, epochs=3, augment=NoisyInterrupt(at=steps + 5), checkpoint=path)
    assert read_checkpoint(path)["epoch"] == 1

    resumed = small_net(seed=99)  # different start: the checkpoint restores everything
    h = fit_small(resumed, data, epochs=3, augment=NoisyInterrupt(), checkpoint=path, resume=True)
    assert len(h) == 3
    assert comparable(h) == comparable(h_straight)
    assert all(torch.equal(a, b) for a, b in zip(weights(resumed), weights(straight)))

    again = small_net()  # a finished run resumes to the same history, training nothing
    h_again = fit_small(again, data, epochs=3, checkpoint=path, resume=True)
    assert comparable(h_again) == comparable(h_straight)
    with pytest.raises(ValueError, match="epochs"):
        fit_small(small_net(), data, epochs=5, checkpoint=path, resume=True)


def test_resume_without_a_checkpoint_file_starts_fresh(data, tmp_path):
    h = fit_small(small_net(), data, epochs=1, checkpoint=tmp_path / "new" / "run.pt", resume=True)
    assert len(h) == 1 and (tmp_path / "new" / "run.pt").exists()


# ----------------------------------------------------------------------------- bad arguments


@pytest.mark.parametrize("kw, error, name", [
    ({"epochs": 0}, ValueError, "epochs"),
    ({"epochs": -1}, ValueError, "epochs"),
    ({"epochs": float("nan")}, ValueError, "epochs"),
    ({"epochs": "3"}, TypeError, "epochs"),
    ({"batch_size": 0}, ValueError, "batch_size"),
    ({"lr": -1.0}, ValueError, "lr"),
    ({"optimizer": "rmsprop"}, ValueError, "optimizer"),
    ({"schedule": "steps"}, ValueError, "schedule"),
    ({"label_smoothing": 1.0}, ValueError, "label_smoothing"),
    ({"target_acc": 150}, ValueError, "target_acc"),
    ({"resume": True}, ValueError, "checkpoint"),
    ({"augment": "shift"}, TypeError, "augment"),
    ({"seed": "zero"}, TypeError, "seed"),
    ({"optimizer": 3}, TypeError, "optimizer"),
    ({"amp": "yes"}, TypeError, "amp"),
    ({"shift": -1}, ValueError, "shift"),
])
def test_bad_arguments_name_the_parameter(data, kw, error, name):
    with pytest.raises(error, match=name):
        fit_small(small_net(), data, **kw)


def test_bad_models_and_data_name_the_parameter(data):
    (x, y), test = data
    with pytest.raises(TypeError, match="model"):
        fit("not a model", (x, y), epochs=1)
    with pytest.raises(TypeError, match="train"):
        fit(small_net(), "images.npy", epochs=1, device="cpu")
    with pytest.raises(ValueError, match="train.*labels"):
        fit(small_net(), (x, y[:-1]), epochs=1, device="cpu")
    with pytest.raises(ValueError, match="test.*labels"):
        fit(small_net(), (x, y), (test[0], test[1][:5]), epochs=1, device="cpu")
    with pytest.raises(ValueError, match="model has 3 outputs"):
        fit(small_net(), (x, y * 2), epochs=1, device="cpu", progress=False)
    with pytest.raises(ValueError, match="12, 12"):  # the model's own message about its input size
        fit(cb.LeNet5(), (x, y), epochs=1, device="cpu", progress=False)
    with pytest.raises(TypeError, match="model"):
        evaluate(None, test)
    with pytest.raises(ValueError, match="batch_size"):
        predict(small_net(), test, batch_size=0)


# ----------------------------------------------------------------------------- precision


def test_evaluate_and_predict_equal_a_plain_float32_loop(data):
    model = small_net()
    fit_small(model, data, epochs=1)  # channels_last, and bf16 autocast on a CPU with native bf16
    loss, acc = evaluate(model, data[1], batch_size=50)
    probs, _ = predict(model, data[1], batch_size=50)
    total, correct = 0.0, 0
    with torch.no_grad():  # the plain loop: same batches, float32, no autocast
        for x, y in cb.DeviceLoader(cb.as_dataset(data[1]), 50, device="cpu"):
            out = model(x.contiguous(memory_format=torch.channels_last))
            assert out.dtype == torch.float32
            total += nn.functional.cross_entropy(out, y, reduction="sum").item()
            correct += (out.argmax(1) == y).sum().item()
    assert acc == 100.0 * correct / 120  # exactly
    assert loss == pytest.approx(total / 120, rel=1e-6)
    assert 100 * (probs.argmax(1) == data[1][1]).float().mean().item() == pytest.approx(acc)
    assert evaluate(model, data[1], batch_size=50, amp=True)[1] == pytest.approx(acc, abs=5)  # asked for


def test_fit_trains_in_fp16_with_an_enabled_gradient_scaler(data, monkeypatch):
    """The T4's path (fp16 autocast + GradScaler), run for real on the CPU: torch computes fp16
    autocast and scales the loss there too; only the precision rule is told it is on such a GPU."""
    import cnnbook.train as train_mod
    from cnnbook.runtime import Precision

    monkeypatch.setattr(train_mod, "precision", lambda dev: Precision(torch.float16, True, "a faked T4"))
    scalers: list = []
    real_scaler = train_mod._grad_scaler
    monkeypatch.setattr(train_mod, "_grad_scaler",
                        lambda enabled, device="cuda": scalers.append(real_scaler(enabled, device)) or scalers[-1])
    model = small_net()
    dtypes = set()
    model.register_forward_hook(lambda m, i, out: dtypes.add(out.dtype) if m.training else None)
    h = fit_small(model, data, epochs=3)
    assert dtypes == {torch.float16}  # the training steps ran in fp16
    assert len(scalers) == 1 and scalers[0].is_enabled()
    scale = scalers[0].state_dict()["scale"]
    assert 0 < scale <= 2.0**16  # used: started at 2**16, halved for every overflowing step
    assert h.test_acc[-1] > 80, h.test_acc  # and it learned
    assert all(torch.isfinite(p).all() for p in model.parameters())
