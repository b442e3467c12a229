"""Ablations: train one network several times, each time with one ingredient changed, and tabulate.

The AlexNet chapter asks which of the 2012 paper's ideas matter on CIFAR-10::

    rows = run_ablation(ALEXNET_ABLATIONS, train, test, epochs=10, augment=aug, base={"width": 0.5})
    print(format_ablation(rows))

Each :class:`Variant` names the keyword arguments it changes in :class:`~cnnbook.models.AlexNetCIFAR`
(and whether it trains with the augmentation); everything else -- data, epochs, optimiser, seed --
is shared, so the rows differ by exactly one choice.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import torch
from torch import Tensor, nn

from .models import AlexNetCIFAR
from .train import fit

__all__ = ["Variant", "AblationRow", "ALEXNET_ABLATIONS", "run_ablation", "format_ablation"]


@dataclass(frozen=True)
class Variant:
    """One configuration of the ablation: ``name`` (shown in the table), ``model`` (keyword
    arguments for the model, e.g. ``{"activation": "tanh"}``) and ``augment`` (train with the
    augmentation or without it)."""

    name: str
    model: dict[str, Any] = field(default_factory=dict)
    augment: bool = True


ALEXNET_ABLATIONS: tuple[Variant, ...] = (
    Variant("AlexNetCIFAR (all of the paper's choices)"),
    Variant("tanh instead of ReLU", {"activation": "tanh"}),
    Variant("no local response normalisation", {"lrn": False}),
    Variant("plain 2x2 pooling instead of overlapping 3x3", {"overlap_pool": False}),
    Variant("no dropout", {"dropout": 0.0}),
    Variant("no data augmentation", augment=False),
    Variant("BatchNorm added (2015, not in the paper)", {"batchnorm": True}),
)
"""The chapter's ablation: the baseline first, then one change per row."""


@dataclass
class AblationRow:
    """The result of one variant: final test and train accuracy (percent), training seconds
    (evaluation excluded), parameter count, and the full :class:`~cnnbook.train.History`."""

    name: str
    test_acc: float
    train_acc: float
    seconds: float
    parameters: int
    history: Any = field(repr=False, default=None)


def run_ablation(
    variants: Sequence[Variant],
    train: Any,
    test: Any,
    *,
    epochs: int | float,
    augment: Callable[[Tensor], Tensor] | None = None,
    base: dict[str, Any] | None = None,
    model_fn: Callable[..., nn.Module] = AlexNetCIFAR,
    seed: int = 0,
    **fit_kwargs: Any,
) -> list[AblationRow]:
    """Train ``model_fn(**base, **variant.model)`` for every variant with :func:`cnnbook.fit`.

    ``train``/``test``: anything :func:`cnnbook.fit` accepts (ImageDataset, (images, labels) with
    images (N, 3, 32, 32)). ``augment`` (a batch transform (B, C, H, W) -> (B, C, H, W)) is applied
    to the training batches of the variants with ``augment=True`` and never to the test data.
    ``epochs`` may be fractional, as in :func:`cnnbook.fit`. Every variant starts from the same
    seed. Further keyword arguments (``batch_size``, ``lr``,
    ``optimizer``, ...) go to :func:`cnnbook.fit`. Returns one :class:`AblationRow` per variant,
    in order.
    """
    if isinstance(variants, Variant) or not all(isinstance(v, Variant) for v in variants):
        raise TypeError("variants must be a sequence of Variant")
    if not variants:
        raise ValueError("variants must contain at least one Variant, got an empty sequence")
    if base is not None and not isinstance(base, dict):
        raise TypeError(f"base must be a dict of model keyword arguments or None, got {type(base).__name__}")
    if isinstance(epochs, bool) or not isinstance(epochs, (int, float)) or not (
            epochs >= 1 if isinstance(epochs, int) else math.isfinite(epochs) and epochs > 0):
        raise ValueError(f"epochs must be an int >= 1 or a float > 0 (e.g. 2.5), got {epochs!r}")
    if test is None:
        raise ValueError("test must be given: the ablation compares test accuracies")
    fit_kwargs.setdefault("progress", False)
    rows = []
    for v in variants:
        torch.manual_seed(seed)
        model = model_fn(**{**(base or {}), **v.model})
        history = fit(model, train, test, epochs=epochs, augment=augment if v.augment else None,
                      seed=seed, **fit_kwargs)
        rows.append(AblationRow(
            name=v.name,
            test_acc=history.test_acc[-1],
            train_acc=history.train_acc[-1],
            seconds=history.train_seconds,
            parameters=sum(p.numel() for p in model.parameters()),
            history=history,
        ))
    return rows


def format_ablation(rows: Sequence[AblationRow], *, baseline: int = 0) -> str:
    """A Markdown table of ``rows``: test and train accuracy, the change in test accuracy against
    ``rows[baseline]`` (percentage points), training seconds and parameters."""
    if not rows:
        raise ValueError("rows must contain at least one AblationRow, got none")
    if not 0 <= baseline < len(rows):
        raise ValueError(f"baseline must be an index into rows (0 to {len(rows) - 1}), got {baseline}")
    ref = rows[baseline].test_acc
    lines = ["| configuration | test acc. (%) | vs. baseline (points) | train acc. (%) | train time (s) | parameters |",
             "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for i, r in enumerate(rows):
        delta = "baseline" if i == baseline else ("n/a" if math.isnan(r.test_acc) else f"{r.test_acc - ref:+.1f}")
        lines.append(f"| {r.name} | {r.test_acc:.1f} | {delta} | {r.train_acc:.1f} | {r.seconds:.1f} "
                     f"| {r.parameters:,} |")
    return "\n".join(lines)
