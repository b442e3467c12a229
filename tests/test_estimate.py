"""cnnbook.estimate: timing a few steps, estimating a chapter's plan, scaling it down to the cap."""

import dataclasses
import itertools
import math
import time

import pytest
import torch
import torch.nn as nn

import cnnbook as cb
from cnnbook.estimate import CAP_SECONDS, Plan, Timing, fit_to_cap, plan_runs, time_step, time_training

torch.set_num_threads(1)


def digits(n: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 256, (n, 1, 12, 12), dtype=torch.uint8, generator=g), torch.arange(n) % 3


def small_net() -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(4), nn.Flatten(), nn.Linear(36, 3))


# AlexNet chapter's full plan: 8 rows x 3 seeds x 30 epochs on 10,000 images, 2,000 validation
# images after every epoch, train + validation + test (22,000) once at the end of each run
ALEXNET = Plan(seeds=3, epochs=30, n_train=10_000, runs=8, n_eval=2_000, n_final=22_000)
T4ISH = Timing("Tesla T4", train_s=1 / 12_000, eval_s=1 / 40_000, run_s=2.0)


def test_a_plan_counts_its_work():
    assert ALEXNET.trainings == 24
    assert ALEXNET.train_images == 24 * 30 * 10_000
    assert ALEXNET.eval_images == 24 * (30 * 2_000 + 22_000)
    assert Plan(1, 2.5, 100, n_eval=10).eval_images == 30  # a started epoch is tested
    expected = 7_200_000 / 12_000 + 1_968_000 / 40_000 + 24 * 2.0
    assert T4ISH.seconds(ALEXNET) == pytest.approx(expected)


def test_the_mean_timing_costs_a_mixed_plan_what_its_parts_cost():
    slow, fast = Timing("GPU", 3e-4, 1e-4, 1.0), Timing("GPU", 1e-4, 1e-5, 0.0)
    both = Timing.mean([slow, fast], weights=[2, 1])
    plan = Plan(seeds=3, epochs=4, n_train=1000, runs=3, n_eval=100, n_final=50)
    part = dataclasses.replace(plan, runs=1)
    assert both.seconds(plan) == pytest.approx(2 * slow.seconds(part) + fast.seconds(part))
    assert Timing.mean([slow]) == slow
    with pytest.raises(ValueError, match="timings"):
        Timing.mean([])
    with pytest.raises(ValueError, match="weights"):
        Timing.mean([slow, fast], weights=[1])


@pytest.mark.parametrize("kw, name", [({"seeds": 0}, "seeds"), ({"epochs": 0}, "epochs"),
                                      ({"n_train": 0}, "n_train"), ({"runs": 0}, "runs"),
                                      ({"n_eval": -1}, "n_eval"), ({"seeds": 1.5}, "seeds")])
def test_bad_plans_name_the_field(kw, name):
    with pytest.raises((ValueError, TypeError), match=name):
        Plan(**{"seeds": 1, "epochs": 1, "n_train": 10, **kw})


def test_a_plan_within_the_cap_or_without_one_is_kept():
    for cap in (None, 10_000.0):
        f = fit_to_cap(ALEXNET, T4ISH, cap)
        assert f.plan == ALEXNET and not f.scaled and not f.over
        assert f.seconds == f.planned_seconds == pytest.approx(T4ISH.seconds(ALEXNET))


def test_seeds_go_first_then_epochs_then_images_each_no_further_than_needed():
    full = T4ISH.seconds(ALEXNET)  # about 697 s
    f = fit_to_cap(ALEXNET, T4ISH, 480)
    assert (f.plan.seeds, f.plan.epochs, f.plan.n_train) == (2, 30, 10_000)  # one seed less suffices
    assert f.seconds <= 480 < full and f.scaled and not f.over
    f = fit_to_cap(ALEXNET, T4ISH, 300)
    assert f.plan.seeds == 2 and 15 <= f.plan.epochs < 30 and f.plan.n_train == 10_000
    assert f.seconds <= 300 and isinstance(f.plan.epochs, int)
    assert T4ISH.seconds(Plan(2, f.plan.epochs + 1, 10_000, 8, 2_000, 22_000)) > 300  # the most that fits
    f = fit_to_cap(ALEXNET, T4ISH, 100)
    assert (f.plan.seeds, f.plan.epochs) == (2, 15) and 5_000 <= f.plan.n_train < 10_000
    f = fit_to_cap(ALEXNET, T4ISH, 10)  # even the smallest allowed plan is over: it runs, and says so
    assert (f.plan.seeds, f.plan.epochs, f.plan.n_train) == (2, 15, 5_000) and f.over


def test_the_floor_keeps_what_a_chapter_cannot_cut():
    f = fit_to_cap(ALEXNET, T4ISH, 300, floor={"seeds": 3, "epochs": 10, "n_train": 10_000})
    assert f.plan.seeds == 3 and f.plan.n_train == 10_000 and 10 <= f.plan.epochs < 30
    f = fit_to_cap(Plan(3, 2.5, 1000), Timing("x", 1e-3), 3.0)  # fractional epochs: cut to a tenth
    assert f.plan.seeds == 2 and f.plan.epochs == 1.5 and f.seconds <= 3.0
    f = fit_to_cap(ALEXNET, T4ISH, 10, floor={"n_train": 10_000})  # the other floors stay
    assert (f.plan.seeds, f.plan.epochs, f.plan.n_train) == (2, 15, 10_000)
    with pytest.raises(ValueError, match="floor"):
        fit_to_cap(ALEXNET, T4ISH, 10, floor={"runs": 1})


def test_time_training_times_fit_on_this_device():
    t = time_training(small_net, digits(), batch_size=32, steps=2, device="cpu")
    assert t.device == "this CPU"
    assert 0 < t.train_s < 0.1 and 0 < t.eval_s < 0.1 and t.run_s >= 0
    with pytest.raises(ValueError, match="batch_size"):
        time_training(small_net, digits(), batch_size=0)


def test_time_step_times_a_chapters_own_loop():
    calls = []
    t = time_step(lambda: calls.append(torch.randn(64, 64) @ torch.randn(64, 64)), batch_size=8, steps=3)
    assert len(calls) == 4 and t.train_s > 0 and t.eval_s == 0


def slow_clock(monkeypatch, seconds_per_call: float) -> None:
    """A faked slow device: every reading of the clock is ``seconds_per_call`` later than the last."""
    ticks = itertools.count()
    monkeypatch.setattr(time, "perf_counter", lambda: seconds_per_call * next(ticks))


def test_a_slow_device_scales_the_plan_down_and_says_so(monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_BUDGET", "full")
    monkeypatch.delenv("CNNBOOK_QUICK", raising=False)
    slow_clock(monkeypatch, 1.0)  # each timed epoch of 2 steps "takes" seconds
    timing = time_training(small_net, digits(), batch_size=32, steps=2, device="cpu")
    assert timing.train_s > 0.01  # far slower than this CPU really is
    planned = Plan(seeds=3, epochs=20, n_train=5_000, runs=3)
    plan = plan_runs(planned, timing)
    out = capsys.readouterr().out
    assert plan.seeds == 2 and plan.epochs < 20  # fewer seeds, then fewer epochs
    assert timing.seconds(plan) <= CAP_SECONDS["full"] or plan.n_train == 2_500
    assert out.startswith(f"Estimated: {timing.seconds(planned) / 60:.1f} min on this CPU (cap 8.0 min): scaled down")
    assert f"to 2 seed(s) x {plan.epochs:g} epochs" in out and "(planned 3 x 20 on 5,000)" in out


def test_a_fast_device_runs_as_planned(monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_BUDGET", "cpu")
    monkeypatch.delenv("CNNBOOK_QUICK", raising=False)
    planned = Plan(seeds=3, epochs=20, n_train=5_000, runs=3)
    assert plan_runs(planned, Timing("this CPU", 1e-6)) == planned
    assert capsys.readouterr().out == "Estimated: 1 s on this CPU (cap 15.0 min): running as planned\n"


def test_the_quick_budget_has_no_cap(monkeypatch, capsys):
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    planned = Plan(seeds=1, epochs=1, n_train=128)
    assert plan_runs(planned, Timing("this CPU", 10.0)) == planned  # "20 min", but never scaled
    assert "(budget quick: no cap)" in capsys.readouterr().out
    with pytest.raises(ValueError, match="cap"):
        plan_runs(planned, Timing("this CPU", 1.0), cap="soon")
    assert plan_runs(planned, Timing("x", 1.0), cap=1.0).seeds == 1  # an explicit cap applies


def test_the_face_exports_the_chapters_helpers():
    assert cb.Plan is Plan and cb.time_training is time_training and cb.plan_runs is plan_runs
    assert math.isclose(CAP_SECONDS["full"], 480)
