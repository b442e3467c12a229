"""Ablations: train one network several times, each time with one ingredient changed, and tabulate.

The AlexNet chapter asks which of the 2012 paper's ideas matter::

    settings = replace(ALEXNET_CIFAR, epochs=20)   # cnnbook.recipes
    rows = run_ablation(ALEXNET_ABLATIONS, train, test, settings, val=val,
                        base={"width": 0.125}, seeds=(0, 1, 2))
    ablation_table(rows)          # a table: train and test accuracy, the gap, the spread over seeds

Each :class:`Variant` names what it changes: keyword arguments of
:class:`~cnnbook.models.AlexNetCIFAR`, whether it trains with the augmentation, or training
settings (the paper's optimiser, :data:`PAPER_RECIPE`). Everything else -- data, settings, seeds --
is shared, so the rows differ by one choice. Every variant is trained once per seed; the train and
test accuracies of the finished network are measured once per run, on the images as they are.
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
           "run_ablation", "ablation_table", "clear_of"]

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
    Variant("plain 2x2 pooling instead of overlapping 3x3", {"overlap_pool": False}),
    Variant("no dropout", {"dropout": 0.0}),
    Variant("no data augmentation", augment=False),
    Variant("BatchNorm added (2015, not in the paper)", {"batchnorm": True}),
    Variant("the paper's optimiser (SGD, momentum 0.9, weight decay 5e-4)",
            settings={name: getattr(PAPER_RECIPE, name) for name in PAPER_OPTIMISER}),
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
    means over the runs; ``gap`` is the mean of train minus test accuracy (points)."""

    name: str
    parameters: int
    runs: list[Run]

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
    # checked and converted once, before any training: a bad set fails at once, named, and no run redoes it
    planned = [_variant_settings(shared, v) for v in variants]
    clean_train = as_dataset(train, name="train")
    test = as_dataset(test, name="test")
    val = as_dataset(val, name="val") if val is not None else None
    fit_train = train if isinstance(train, DeviceLoader) else clean_train  # a loader keeps its batches
    rows = []
    for v, run_settings in zip(variants, planned):
        runs, parameters = [], 0
        for i, seed in enumerate(seeds):
            torch.manual_seed(seed)
            model = model_fn(**{**(base or {}), **v.model})
            parameters = count_params(model, trainable_only=False)
            history = fit(model, fit_train, val if curves and i == 0 else None, replace(run_settings, seed=seed),
                          augment=augment if v.augment else None, progress=progress)
            runs.append(Run(seed=seed, train_acc=evaluate(model, clean_train)[1],
                            val_acc=evaluate(model, val)[1] if val is not None else math.nan,
                            test_acc=evaluate(model, test)[1], seconds=history.train_seconds,
                            history=history, model=model if i == 0 else None))
        rows.append(AblationRow(v.name, parameters, runs))
    return rows


def _points(x: float) -> str:
    return "n/a" if math.isnan(x) else f"{x:+.1f}"


def clear_of(row: AblationRow, other: AblationRow) -> bool:
    """Whether the test accuracies of ``row`` over its seeds all lie above, or all below, those of
    ``other``: the ranges do not overlap (AlexNet chapter)."""
    lo, hi = row.test_range
    olo, ohi = other.test_range
    return hi < olo or lo > ohi


def _clear(row: AblationRow, base: AblationRow) -> str:
    if len(row.runs) < 2 or len(base.runs) < 2:
        return "-"
    return "yes" if clear_of(row, base) else "no"


def ablation_table(rows: Sequence[AblationRow], *, baseline: int = 0) -> Table:
    """A table of ``rows`` (shown as a real table in a notebook and on the site): mean train and
    test accuracy (percent), the test accuracy's range over the seeds (two decimals, so that a
    spread under a tenth of a point shows), the gap (train minus test),
    the change in mean test accuracy against ``rows[baseline]`` (points), whether the row's range
    lies clear of the baseline's (``yes``: no seed of one reached the other; ``no``: the ranges
    overlap, so the seeds do not tell the two apart; ``-`` with a single seed), training seconds
    per run and parameters (AlexNet chapter)."""
    if not rows:
        raise ValueError("rows must contain at least one AblationRow, got none")
    if not 0 <= baseline < len(rows):
        raise ValueError(f"baseline must be an index into rows (0 to {len(rows) - 1}), got {baseline}")
    ref = rows[baseline].test_acc
    seeds = {len(r.runs) for r in rows}
    spread = "test range" if seeds != {1} else "seeds"
    # short headers, so that nine columns fit a page: accuracies in %, differences in points
    header = ["configuration", "train (%)", "test (%)", spread, "gap", "vs. baseline",
              "clear of baseline", "s per run", "parameters"]
    body = []
    for i, r in enumerate(rows):
        lo, hi = r.test_range
        body.append([r.name, f"{r.train_acc:.1f}", f"{r.test_acc:.1f}",
                     f"{lo:.2f}-{hi:.2f}" if len(r.runs) > 1 else "1",
                     f"{r.gap:.1f}", "baseline" if i == baseline else _points(r.test_acc - ref),
                     "" if i == baseline else _clear(r, rows[baseline]),
                     f"{r.seconds:.1f}", f"{r.parameters:,}"])
    return Table(header, body)
