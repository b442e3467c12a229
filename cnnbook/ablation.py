"""Ablations: train one network several times, each time with one ingredient changed, and tabulate.

The AlexNet chapter asks which of the 2012 paper's ideas matter::

    settings = replace(ALEXNET_CIFAR, epochs=20)   # cnnbook.recipes
    rows = run_tuned(ALEXNET_ABLATIONS, train, val, test, settings, rates=(1e-3, 2e-3, 4e-3),
                     base={"width": 0.125}, seeds=(0, 1, 2))
    ablation_table(rows)   # train, validation and test accuracy, the spread over seeds, the gap

Each :class:`Variant` names what it changes: keyword arguments of
:class:`~cnnbook.models.AlexNetCIFAR`, whether it trains with the augmentation, or training
settings (the paper's optimiser, :data:`PAPER_RECIPE`). Everything else -- data, settings, seeds --
is shared, so the rows differ by one choice. :func:`run_tuned` gives every variant its own learning
rate, the one of a small grid with the best validation accuracy, since a rate chosen for one
network need not suit another; :func:`run_ablation` trains every variant with the shared
settings. The train, validation and test accuracies of a finished network are measured once per
run, on the images as they are; the test set only on the runs that are reported.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Sequence, Union

import torch
from torch import Tensor, nn

from .data import DeviceLoader, ImageDataset, as_dataset
from .models import AlexNetCIFAR
from .settings import Settings, with_overrides
from .summary import count_params
from .tables import Table
from .train import History, evaluate, fit

__all__ = ["Variant", "Run", "AblationRow", "ALEXNET_ABLATIONS", "PAPER_RECIPE", "PAPER_OPTIMISER",
           "run_ablation", "run_tuned", "ablation_table", "clear_of", "standard_error"]

Data = Union[ImageDataset, DeviceLoader, tuple[Tensor, Tensor]]
"""What :func:`cnnbook.fit` trains and tests on: a dataset, a loader or an (images, labels) pair."""


PAPER_RECIPE = Settings(epochs=90, batch_size=128, lr=0.01, optimizer="sgd", nesterov=False, weight_decay=5e-4,
                        schedule="constant", seed=0)
"""The 2012 paper's training (AlexNet chapter): about 90 passes over the images in batches of 128,
SGD with momentum 0.9 (not Nesterov), weight decay 0.0005 and learning rate 0.01, held constant
(the paper divided it by 10 by hand whenever the validation error stopped improving), no label
smoothing."""

PAPER_OPTIMISER = ("batch_size", "lr", "optimizer", "nesterov", "weight_decay", "schedule", "label_smoothing")
"""The fields of :data:`PAPER_RECIPE` that the ablation's optimiser row takes (not its epochs)."""


@dataclass(frozen=True)
class Variant:
    """One configuration of the ablation: ``name`` (shown in the table), ``model`` (keyword
    arguments for the model, e.g. ``{"activation": "tanh"}``), ``augment`` (train with the
    augmentation or without it) and ``settings`` (fields of :class:`~cnnbook.settings.Settings`
    that replace the shared ones, e.g. ``{"lr": 1e-3}``)."""

    name: str
    model: dict[str, Any] = field(default_factory=dict)
    augment: bool = True
    settings: dict[str, Any] = field(default_factory=dict)


ALEXNET_ABLATIONS: tuple[Variant, ...] = (
    Variant("AlexNetCIFAR (the paper's layers, our recipe)"),
    Variant("tanh instead of ReLU", {"activation": "tanh"}),
    Variant("no local response normalisation", {"lrn": False}),
    Variant("no dropout", {"dropout": 0.0}),
    Variant("no data augmentation", augment=False),
)
"""The chapter's ablation: the baseline first, then one change per row."""


@dataclass
class Run:
    """One training run: its ``seed``; the finished network's accuracy (percent) on the training
    images (as they are: no augmentation, dropout off), on the validation images (``nan`` without
    them) and on the test images; the training seconds (evaluation excluded), the History and,
    for the first seed of each variant, the trained ``model`` (``None`` for the others)."""

    seed: int
    train_acc: float
    val_acc: float
    test_acc: float
    seconds: float
    history: History = field(repr=False)
    model: nn.Module | None = field(repr=False, default=None)


@dataclass
class AblationRow:
    """One variant: its ``name``, parameter count and one :class:`Run` per seed. The accuracies are
    means over the runs; ``gap`` is the mean of train minus test accuracy (points). From
    :func:`run_tuned`: ``lr``, the learning rate the runs used, and ``tuning``, the validation
    accuracy of the first seed at every rate tried, as (rate, accuracy) pairs."""

    name: str
    parameters: int
    runs: list[Run]
    lr: float | None = None
    tuning: tuple[tuple[float, float], ...] = ()

    def _mean(self, values: list[float]) -> float:
        return statistics.fmean(values) if values else math.nan

    @property
    def train_acc(self) -> float:
        return self._mean([r.train_acc for r in self.runs])

    @property
    def val_acc(self) -> float:
        return self._mean([r.val_acc for r in self.runs])

    @property
    def test_acc(self) -> float:
        return self._mean([r.test_acc for r in self.runs])

    @property
    def gap(self) -> float:
        return self._mean([r.train_acc - r.test_acc for r in self.runs])

    @property
    def test_range(self) -> tuple[float, float]:
        """The lowest and highest test accuracy over the seeds."""
        accs = [r.test_acc for r in self.runs]
        return (min(accs), max(accs)) if accs else (math.nan, math.nan)

    @property
    def test_sd(self) -> float:
        """The standard deviation of the test accuracy over the seeds (nan with one seed)."""
        accs = [r.test_acc for r in self.runs]
        return statistics.stdev(accs) if len(accs) > 1 else math.nan

    @property
    def seconds(self) -> float:
        return self._mean([r.seconds for r in self.runs])


def _check(variants: Sequence[Variant], base: object, test: object, seeds: object) -> tuple[int, ...]:
    if isinstance(variants, Variant) or not all(isinstance(v, Variant) for v in variants):
        raise TypeError("variants must be a sequence of Variant")
    if not variants:
        raise ValueError("variants must contain at least one Variant, got an empty sequence")
    if base is not None and not isinstance(base, dict):
        raise TypeError(f"base must be a dict of model keyword arguments or None, got {type(base).__name__}")
    if test is None:
        raise ValueError("test must be given: the ablation compares test accuracies")
    if isinstance(seeds, (int, str)) or not isinstance(seeds, Iterable):
        raise TypeError(f"seeds must be a sequence of ints, e.g. (0, 1, 2), got {seeds!r}")
    seeds = tuple(seeds)
    if not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise ValueError(f"seeds must be a non-empty sequence of ints, got {seeds!r}")
    return seeds


def _variant_settings(shared: Settings, v: Variant) -> Settings:
    """The shared settings with the variant's replaced; without augmentation if it trains without."""
    settings = with_overrides(shared, v.settings, caller=f"Variant {v.name!r}")
    return settings if v.augment else replace(settings, shift=0, crop=0, flip=False)


def run_ablation(
    variants: Sequence[Variant],
    train: Data,
    test: Data,
    settings: Settings | None = None,
    *,
    val: Data | None = None,
    augment: Callable[[Tensor], Tensor] | None = None,
    base: dict[str, Any] | None = None,
    model_fn: Callable[..., nn.Module] = AlexNetCIFAR,
    seeds: Sequence[int] = (0,),
    curves: bool = False,
    progress: bool = False,
    **overrides: Any,
) -> list[AblationRow]:
    """Train ``model_fn(**base, **variant.model)`` once per seed for every variant with :func:`cnnbook.fit`.

    ``settings`` (a :class:`~cnnbook.settings.Settings`, its fields replaced by ``overrides`` such
    as ``epochs=20``, as in :func:`cnnbook.fit`) are shared by all runs; a variant's ``settings``
    replace fields of them, every run's ``seed`` is its own. ``train``/``val``/``test``: anything
    :func:`cnnbook.fit` accepts (ImageDataset, (images, labels) with images (N, C, H, W)). ``val``
    (optional) and ``test`` are evaluated once per run, when training is over; with
    ``curves=True`` ``fit`` also reports ``val`` after every epoch of each variant's first seed
    (the curve to tune on, in that run's History; it costs an evaluation per epoch). The
    augmentation -- the settings' ``shift``, ``crop``, ``flip``, or ``augment`` (a batch transform
    (B, C, H, W) -> (B, C, H, W)) in their place -- is applied to the training batches of the
    variants with ``augment=True``, never to the images that are evaluated. Returns one
    :class:`AblationRow` per variant, in order (AlexNet chapter).
    """
    shared = with_overrides(settings, overrides, caller="run_ablation()")
    seeds = _check(variants, base, test, seeds)
    planned, fit_train, clean_train, val, test = _prepare(variants, shared, train, val, test)
    rows = []
    for v, run_settings in zip(variants, planned):
        runs, parameters = [], 0
        for i, seed in enumerate(seeds):
            run = _train(model_fn, {**(base or {}), **v.model}, fit_train, clean_train, val,
                         replace(run_settings, seed=seed), augment if v.augment else None,
                         curves=curves and i == 0, progress=progress)
            parameters = count_params(run.model, trainable_only=False) if run.model is not None else 0
            _test(run, test, keep=i == 0)
            runs.append(run)
        rows.append(AblationRow(v.name, parameters, runs))
    return rows


def _prepare(variants: Sequence[Variant], shared: Settings, train: Data, val: Data | None,
             test: Data) -> tuple[list[Settings], Any, ImageDataset, ImageDataset | None, ImageDataset]:
    """Every variant's settings and the data sets, checked and converted once, before any training:
    a bad set fails at once, named, and no run redoes it. Returns the settings per variant, what
    ``fit`` trains on (a DeviceLoader keeps its batches), the training images to measure, ``val``
    (or None) and ``test``."""
    planned = [_variant_settings(shared, v) for v in variants]
    clean_train = as_dataset(train, name="train")
    test_set = as_dataset(test, name="test")
    val_set = as_dataset(val, name="val") if val is not None else None
    fit_train = train if isinstance(train, DeviceLoader) else clean_train
    return planned, fit_train, clean_train, val_set, test_set


def _train(model_fn: Callable[..., nn.Module], kwargs: dict[str, Any], fit_train: Any,
           clean_train: ImageDataset, val: ImageDataset | None, settings: Settings,
           augment: Callable[[Tensor], Tensor] | None, *, curves: bool, progress: bool) -> Run:
    """One run: a fresh ``model_fn(**kwargs)`` trained with ``settings`` (its seed set first),
    measured on its training images and on ``val``; the test accuracy is left to :func:`_test`."""
    seed = settings.seed if settings.seed is not None else 0
    torch.manual_seed(seed)
    model = model_fn(**kwargs)
    history = fit(model, fit_train, val if curves else None, settings, augment=augment,
                  progress=progress)
    return Run(seed=seed, train_acc=evaluate(model, clean_train)[1],
               val_acc=evaluate(model, val)[1] if val is not None else math.nan,
               test_acc=math.nan, seconds=history.train_seconds, history=history, model=model)


def _test(run: Run, test: ImageDataset, *, keep: bool) -> None:
    """Measure ``run`` on the test images (the one measurement that is reported); keep its model
    only if ``keep``."""
    assert run.model is not None
    run.test_acc = evaluate(run.model, test)[1]
    if not keep:
        run.model = None


def run_tuned(
    variants: Sequence[Variant],
    train: Data,
    val: Data,
    test: Data,
    settings: Settings | None = None,
    *,
    rates: Sequence[float],
    augment: Callable[[Tensor], Tensor] | None = None,
    base: dict[str, Any] | None = None,
    model_fn: Callable[..., nn.Module] = AlexNetCIFAR,
    seeds: Sequence[int] = (0,),
    curves: bool = False,
    progress: bool = False,
    **overrides: Any,
) -> list[AblationRow]:
    """Like :func:`run_ablation`, with a learning rate chosen for every variant on ``val``.

    For every variant, the first seed is trained once per learning rate in ``rates`` (a variant's
    own ``lr`` setting is replaced); the rate whose network scores best on the validation images
    ``val`` is kept (the smaller one on a tie), and the other seeds are trained with it. The test
    images are evaluated only on the runs of the chosen rate, after the choice: they play no part
    in it. Each row records its ``lr`` and the ``tuning`` (rate, validation accuracy) pairs; its
    runs are the chosen rate's, one per seed. ``len(rates) + len(seeds) - 1`` trainings per
    variant. With ``curves=True`` the first seed's runs record ``val`` after every epoch
    (AlexNet chapter).
    """
    shared = with_overrides(settings, overrides, caller="run_tuned()")
    seeds = _check(variants, base, test, seeds)
    if val is None:
        raise ValueError("val must be given: the learning rate is chosen on the validation images")
    rates = tuple(rates)
    if not rates or not all(isinstance(r, (int, float)) and not isinstance(r, bool) and r > 0
                            for r in rates):
        raise ValueError(f"rates must be a non-empty sequence of positive learning rates, got {rates!r}")
    planned, fit_train, clean_train, val_set, test = _prepare(variants, shared, train, val, test)
    assert val_set is not None
    val = val_set
    rows = []
    for v, run_settings in zip(variants, planned):
        kwargs = {**(base or {}), **v.model}
        aug = augment if v.augment else None
        runs_at = [
            [_train(model_fn, kwargs, fit_train, clean_train, val, replace(run_settings, lr=lr, seed=seeds[0]),
                    aug, curves=curves, progress=progress)] for lr in sorted(rates)]
        best = max(range(len(runs_at)), key=lambda i: (runs_at[i][0].val_acc, -i))
        lr = sorted(rates)[best]
        runs = runs_at[best] + [
            _train(model_fn, kwargs, fit_train, clean_train, val, replace(run_settings, lr=lr, seed=seed),
                   aug, curves=False, progress=progress) for seed in seeds[1:]]
        model = runs[0].model
        parameters = count_params(model, trainable_only=False) if model is not None else 0
        for i, run in enumerate(runs):
            _test(run, test, keep=i == 0)
        tuning = tuple((r, at[0].val_acc) for r, at in zip(sorted(rates), runs_at))
        rows.append(AblationRow(v.name, parameters, runs, lr=lr, tuning=tuning))
    return rows


def standard_error(accuracy: float, n: int) -> float:
    """The standard error, in points, of an accuracy of ``accuracy`` percent measured on ``n``
    images: ``100 * sqrt(p (1 - p) / n)`` with p = accuracy / 100 (AlexNet chapter). Two
    networks measured on the same images differ by less than this suggests, since their mistakes
    overlap; a difference of a few standard errors is what one set of images can resolve."""
    if not 0 <= accuracy <= 100:
        raise ValueError(f"accuracy must be a percentage from 0 to 100, got {accuracy}")
    if n < 1:
        raise ValueError(f"n must be a number of images >= 1, got {n}")
    p = accuracy / 100
    return 100 * math.sqrt(p * (1 - p) / n)


def _points(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.1f}"


def clear_of(row: AblationRow, other: AblationRow) -> bool:
    """Whether the test accuracies of ``row`` over its seeds all lie above, or all below, those of
    ``other``: the ranges do not overlap (AlexNet chapter)."""
    lo, hi = row.test_range
    olo, ohi = other.test_range
    return hi < olo or lo > ohi


def ablation_table(rows: Sequence[AblationRow], *, baseline: int = 0) -> Table:
    """A table of ``rows`` (shown as a real table in a notebook and on the site): the learning rate
    (when tuned), mean train, validation and test accuracy (percent), the test accuracy's standard
    deviation over the seeds and its range (two decimals, so that a spread under a tenth of a point
    shows), the gap (train minus test), the change in mean test accuracy against
    ``rows[baseline]`` (points) and the parameters (AlexNet chapter). No training times: rows of
    equal cost would differ only by the machine's load."""
    if not rows:
        raise ValueError("rows must contain at least one AblationRow, got none")
    if not 0 <= baseline < len(rows):
        raise ValueError(f"baseline must be an index into rows (0 to {len(rows) - 1}), got {baseline}")
    ref = rows[baseline].test_acc
    seeds = {len(r.runs) for r in rows}
    spread = "test range" if seeds != {1} else "seeds"
    # short headers, so that the columns fit a page: accuracies in %, differences in points
    header = ["configuration", "lr", "train (%)", "val. (%)", "test (%)", "sd", spread, "gap",
              "vs. baseline", "parameters"]
    body = []
    for i, r in enumerate(rows):
        lo, hi = r.test_range
        body.append([r.name, "-" if r.lr is None else f"{r.lr:g}", f"{r.train_acc:.1f}",
                     f"{r.val_acc:.1f}", f"{r.test_acc:.1f}",
                     "-" if len(r.runs) < 2 else f"{r.test_sd:.2f}",
                     f"{lo:.2f}-{hi:.2f}" if len(r.runs) > 1 else "1",
                     f"{r.gap:.1f}", "baseline" if i == baseline else _points(r.test_acc - ref),
                     f"{r.parameters:,}"])
    return Table(header, body)
