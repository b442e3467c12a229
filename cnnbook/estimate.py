"""How long a chapter's training will take on this device, said before it starts, and scaled to fit.

Every chapter's full budget must finish in about ten minutes on the GPU most readers get (a Colab
Tesla T4). Before its long runs a chapter times a few steps of the actual model at the actual
batch size on the reader's device, estimates the whole plan, and trains less when the estimate is
over the budget's cap::

    timing = cb.time_training(cb.AlexNetCIFAR, train, batch_size=128)    # a few timed steps
    plan = cb.plan_runs(cb.Plan(seeds=3, epochs=30, n_train=10_000, runs=8), timing)
    # e.g. "Estimated: 11.6 min on Tesla T4 (cap 8.0 min): scaled down to 2 seed(s) x 30 epochs ..."
    seeds, epochs = range(plan.seeds), plan.epochs

The rule that scales a plan down (:func:`fit_to_cap`): first fewer seeds, down to the floor's
(default: two, so that a spread over seeds remains); then fewer epochs, down to the floor's
(default: half the planned epochs); then fewer training images, down to the floor's (default:
half). Each is cut no further than the cap needs. What a plan costs is linear in its work
(:meth:`Timing.seconds`): training images, evaluated images and a fixed cost per run.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, replace
from typing import Any, Callable, Mapping, Sequence

import torch
import torch.nn as nn

from ._checks import as_device, check_float, check_int, sync
from .data import as_dataset
from .runtime import budget
from .runtime import device as default_device
from .train import evaluate, fit

__all__ = ["Plan", "Timing", "Fitted", "CAP_SECONDS", "time_training", "time_step", "fit_to_cap", "plan_runs"]

# seconds of training a chapter may plan, by budget: its full budget must finish within 10 minutes
# on a T4, and the rest of a chapter (data, figures, evaluations) takes the other two; a CPU reader
# waits longer. No cap in the quick budget (smoke tests).
CAP_SECONDS: dict[str, float | None] = {"quick": None, "cpu": 900.0, "full": 480.0}


@dataclass(frozen=True)
class Plan:
    """A chapter's training work: ``runs`` networks (or configurations) each trained once per seed
    (``seeds`` seeds) for ``epochs`` epochs on ``n_train`` images, tested on ``n_eval`` images
    after every epoch and on ``n_final`` images once at the end (all chapters that train)."""

    seeds: int
    epochs: float
    n_train: int
    runs: int = 1
    n_eval: int = 0
    n_final: int = 0

    def __post_init__(self) -> None:
        check_int("seeds", self.seeds, low=1)
        check_float("epochs", self.epochs, low=0, low_open=True)
        check_int("n_train", self.n_train, low=1)
        check_int("runs", self.runs, low=1)
        check_int("n_eval", self.n_eval, low=0)
        check_int("n_final", self.n_final, low=0)

    @property
    def trainings(self) -> int:
        """Training runs in all: runs x seeds."""
        return self.runs * self.seeds

    @property
    def train_images(self) -> float:
        """Training images processed in all."""
        return self.trainings * self.epochs * self.n_train

    @property
    def eval_images(self) -> float:
        """Images evaluated in all (after every epoch, and at the end of each run)."""
        return self.trainings * (math.ceil(self.epochs) * self.n_eval + self.n_final)


@dataclass(frozen=True)
class Timing:
    """What one device measured: seconds per training image (``train_s``), per evaluated image
    (``eval_s``) and per training run besides its steps (``run_s``: setup, first batch); ``device``
    names it (e.g. ``'Tesla T4'``)."""

    device: str
    train_s: float
    eval_s: float = 0.0
    run_s: float = 0.0

    def seconds(self, plan: Plan) -> float:
        """Estimated seconds of ``plan`` on this device."""
        return plan.train_images * self.train_s + plan.eval_images * self.eval_s + plan.trainings * self.run_s

    @staticmethod
    def mean(timings: Sequence[Timing], weights: Sequence[float] | None = None) -> Timing:
        """The (weighted) mean of several networks' timings on one device: a plan whose runs train
        them in these proportions costs what it would cost at this timing (LeNet-5 chapter)."""
        if not timings:
            raise ValueError("timings must hold at least one Timing")
        w = [1.0] * len(timings) if weights is None else [float(x) for x in weights]
        if len(w) != len(timings) or min(w) < 0 or sum(w) == 0:
            raise ValueError(f"weights must be {len(timings)} non-negative numbers, not all 0, got {weights!r}")
        avg = {k: sum(wi * getattr(t, k) for wi, t in zip(w, timings)) / sum(w) for k in ("train_s", "eval_s", "run_s")}
        return Timing(timings[0].device, **avg)


def _device_name(dev: torch.device) -> str:
    if dev.type == "cuda":
        return torch.cuda.get_device_name(dev)
    return {"cpu": "this CPU", "mps": "this Apple GPU"}.get(dev.type, str(dev))


def time_training(model_fn: Callable[[], nn.Module], data: Any, *, batch_size: int, steps: int = 3,
                  device: torch.device | str | None = None, **fit_kwargs: Any) -> Timing:
    """Time :func:`cnnbook.fit` of ``model_fn()`` on ``data`` at ``batch_size`` (every chapter that
    trains): one untimed step first (CUDA context, cuDNN's choice of algorithms, compilation), then
    one epoch of ``steps`` batches, timed as fit times it; then the evaluation of as many images.
    ``fit_kwargs`` (e.g. ``augment=``, ``amp=``, ``compile=``) go to fit as they are."""
    check_int("batch_size", batch_size, low=1)
    check_int("steps", steps, low=1)
    dev = as_device(device) if device is not None else default_device()
    ds = as_dataset(data, name="data")
    model = model_fn()
    common = {**fit_kwargs, "batch_size": batch_size, "device": dev, "progress": False, "seed": 0, "epochs": 1}
    fit(model, ds.subset(min(batch_size, len(ds))), **common)  # the warm-up step
    timed = ds.subset(min(batch_size * steps, len(ds)))
    start = time.perf_counter()
    history = fit(model, timed, **common)
    sync(dev)
    run_s = max(0.0, time.perf_counter() - start - history.train_seconds)
    start = time.perf_counter()
    evaluate(model, timed, device=dev)
    sync(dev)
    eval_s = (time.perf_counter() - start) / len(timed)
    return Timing(_device_name(dev), history.train_seconds / len(timed), eval_s, run_s)


def time_step(step: Callable[[], Any], *, batch_size: int, steps: int = 3,
              device: torch.device | str | None = None) -> Timing:
    """Time a chapter's own training step (padding chapter): ``step()`` once untimed, then
    ``steps`` times; ``batch_size`` images per step. Per-image seconds, as :func:`time_training`."""
    check_int("batch_size", batch_size, low=1)
    check_int("steps", steps, low=1)
    dev = as_device(device) if device is not None else torch.device("cpu")
    step()
    sync(dev)
    start = time.perf_counter()
    for _ in range(steps):
        step()
    sync(dev)
    return Timing(_device_name(dev), (time.perf_counter() - start) / (steps * batch_size))


@dataclass(frozen=True)
class Fitted:
    """A plan fitted to a cap: ``plan`` the one to run, ``planned`` the one asked for, their
    estimated ``seconds`` and ``planned_seconds``, the ``cap`` (None: no cap) and the ``device``."""

    plan: Plan
    planned: Plan
    seconds: float
    planned_seconds: float
    cap: float | None
    device: str

    @property
    def scaled(self) -> bool:
        """Whether the plan was cut down."""
        return self.plan != self.planned

    @property
    def over(self) -> bool:
        """Whether even the plan that runs is estimated over the cap (the floor was reached)."""
        return self.cap is not None and self.seconds > self.cap


def _minutes(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


def _largest_within(plan: Plan, name: str, floor: float, timing: Timing, cap: float, whole: bool) -> Plan:
    """``plan`` with ``name`` set to the largest value from ``floor`` up to its own that ``timing``
    estimates within ``cap`` (``floor`` if none does): the estimate is linear in each quantity."""
    value = getattr(plan, name)
    floor = min(floor, value)
    if value == floor:
        return plan
    lowest: dict[str, Any] = {name: int(floor) if whole else floor}
    at_value, at_floor = timing.seconds(plan), timing.seconds(replace(plan, **lowest))
    slope = (at_value - at_floor) / (value - floor)
    best = floor + (cap - at_floor) / slope if slope > 0 else value
    best = math.floor(best) if whole else math.floor(best * 10) / 10  # epochs: to a tenth
    chosen: dict[str, Any] = {name: max(lowest[name], min(value, best))}
    return replace(plan, **chosen)


def fit_to_cap(plan: Plan, timing: Timing, cap: float | None, *, floor: Mapping[str, float] | None = None) -> Fitted:
    """``plan`` scaled down until ``timing`` estimates it within ``cap`` seconds (every chapter that
    trains): fewer seeds first, then fewer epochs, then fewer training images, each no further than
    needed and none below ``floor``: the least the chapter accepts, by field (default: two seeds,
    or the planned number if fewer; half the epochs, whole epochs if the plan's are; half the
    images), e.g. ``{"n_train": 5000}`` to keep every image. A plan within the cap, or no cap, is
    kept as it is."""
    if cap is not None:
        check_float("cap", cap, low=0, low_open=True)
    whole_epochs = float(plan.epochs).is_integer()
    half = math.ceil(plan.epochs / 2) if whole_epochs else plan.epochs / 2
    least = {"seeds": min(2, plan.seeds), "epochs": half, "n_train": max(1, plan.n_train // 2)}
    unknown = set(floor or {}) - set(least)
    if unknown:
        raise ValueError(f"floor may set seeds, epochs and n_train, got {sorted(unknown)}")
    least.update(floor or {})
    fitted = plan
    for name, whole in (("seeds", True), ("epochs", whole_epochs), ("n_train", True)):
        if cap is None or timing.seconds(fitted) <= cap:
            break
        fitted = _largest_within(fitted, name, least[name], timing, cap, whole)
    return Fitted(fitted, plan, timing.seconds(fitted), timing.seconds(plan), cap, timing.device)


def plan_runs(plan: Plan, timing: Timing, *, cap: float | None | str = "budget",
              floor: Mapping[str, float] | None = None) -> Plan:
    """Print how long ``plan`` will take by ``timing`` and return it, scaled down by
    :func:`fit_to_cap` if it is over ``cap`` seconds (default: :data:`CAP_SECONDS` of the run
    budget; none in the quick budget). Every chapter that trains calls it before its long runs.
    The line it prints, e.g. ``Estimated: 6.1 min on Tesla T4 (cap 8.0 min): running as planned``."""
    b = budget()
    limit = CAP_SECONDS[b.name] if cap == "budget" else cap
    if isinstance(limit, str):
        raise ValueError(f"cap must be a number of seconds, None or 'budget', got {cap!r}")
    fitted = fit_to_cap(plan, timing, limit, floor=floor)
    print(_estimate_line(fitted, b.name))
    return fitted.plan


def _estimate_line(f: Fitted, budget_name: str) -> str:
    head = f"Estimated: {_minutes(f.planned_seconds)} on {f.device}"
    if f.cap is None:
        return f"{head} (budget {budget_name}: no cap)"
    head += f" (cap {_minutes(f.cap)})"
    if not f.scaled:
        return f"{head}: running as planned"
    p = f.plan
    line = (f"{head}: scaled down to {p.seeds} seed(s) x {p.epochs:g} epochs on {p.n_train:,} images "
            f"(planned {f.planned.seeds} x {f.planned.epochs:g} on {f.planned.n_train:,}), about {_minutes(f.seconds)}")
    return line + (": still over the cap at the smallest plan allowed" if f.over else "")
