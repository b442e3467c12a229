"""The training settings, defined once: :class:`Settings`, one frozen dataclass (LeNet-5 and
AlexNet chapters; ``python -m cnnbook train`` and ``bench``).

Every field says its unit and meaning and carries its own check; :func:`cnnbook.fit` takes a
Settings and keyword overrides, the recipes (:mod:`cnnbook.recipes`) are instances, a variation
is ``dataclasses.replace(recipe, lr=...)``, the command line makes one option per field, and
``dataclasses.asdict(settings)`` is plain data (JSON) that a checkpoint can store and compare::

    from dataclasses import replace
    settings = cb.Settings(epochs=3, batch_size=128, lr=5e-3, shift=2)
    cb.fit(model, train, test, settings=replace(settings, lr=1e-3))
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field, fields, replace
from typing import Any, Callable, Iterable, Mapping

import torch
from torch import Tensor, nn

from ._checks import check_flag, check_float, check_int
from .data import compose, random_crop, random_flip, random_shift

__all__ = ["Settings", "OPTIMIZERS", "SCHEDULES", "DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "with_overrides"]

OPTIMIZERS = ("adamw", "adam", "sgd")
SCHEDULES = ("onecycle", "constant")
# Peak learning rates of the one-cycle schedule (tuned on MNIST/LeNet-5 at batch 128..512) and weight
# decays, by optimiser: what ``lr=None`` and ``weight_decay=None`` mean.
DEFAULT_LR = {"adamw": 4e-3, "adam": 4e-3, "sgd": 0.1}
DEFAULT_WEIGHT_DECAY = {"adamw": 5e-4, "adam": 0.0, "sgd": 5e-4}
SGD_MOMENTUM = 0.9


# ----------------------------------------------------------------------------- the checks of the fields

Check = Callable[[str, Any], Any]


def _epochs(name: str, value: object) -> int | float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be an int >= 1 or a float > 0 (e.g. 2.5), got {value!r}")
    if not (value >= 1 if isinstance(value, int) else math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be an int >= 1 or a float > 0 (e.g. 2.5), got {value!r}")
    return value


def _int(low: int | None = None) -> Check:
    return lambda name, value: check_int(name, value, low=low)


def _number(low: float, high: float | None = None, *, low_open: bool = False) -> Check:
    return lambda name, value: check_float(name, value, low=low, high=high, low_open=low_open)


def _rate(name: str, value: object) -> float:
    """A learning rate: a finite number > 0 (``inf`` would train a network of NaNs)."""
    v = check_float(name, value, low=0, low_open=True)
    if not math.isfinite(v):
        raise ValueError(f"{name} must be a finite number > 0, got {v}")
    return v


def _optional(check: Check) -> Check:
    return lambda name, value: None if value is None else check(name, value)


def _choice(options: tuple[str, ...], also: str = "") -> Check:
    def check(name: str, value: object) -> str:
        if not isinstance(value, str):
            raise TypeError(f"{name} must be one of {options}{also}, got {type(value).__name__}")
        if value.lower() not in options:
            raise ValueError(f"{name} must be one of {options}{also}, got {value!r}")
        return value.lower()
    return check


def _smoothing(name: str, value: object) -> float:
    v = check_float(name, value, low=0)
    if v >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    return v


def _setting(default: Any, help: str, check: Check, **extra: Any) -> Any:
    """A field of :class:`Settings`: its default, what it means (with its unit: the command line's
    help too) and its check."""
    return field(default=default, metadata={"help": help, "check": check, **extra})


# ----------------------------------------------------------------------------- Settings


@dataclass(frozen=True)
class Settings:
    """How :func:`cnnbook.fit` trains: every setting of a run, with its unit (LeNet-5 and AlexNet
    chapters). Frozen: vary one with ``dataclasses.replace(settings, lr=1e-3)``, which checks
    again. A wrong type raises TypeError, a value out of range ValueError, both naming the field.
    ``None`` means "fit chooses" where a field allows it (see its help)."""

    epochs: int | float = _setting(
        dataclasses.MISSING, "passes over the training set, e.g. 10 or 2.5 (a fraction cuts the last one short)",
        _epochs)
    batch_size: int | None = _setting(
        None, "images per optimiser step, the global batch under torchrun "
        "(None: cnnbook.train.default_batch_size of the training set)", _optional(_int(1)))
    lr: float | None = _setting(
        None, "peak learning rate of the schedule (None: DEFAULT_LR of the optimiser)",
        _optional(_rate))
    optimizer: str = _setting(
        "adamw", "adamw, adam or sgd (momentum 0.9)",
        _choice(OPTIMIZERS, " (or, given to fit, an optimizer or a function of the parameters)"), choices=OPTIMIZERS)
    nesterov: bool = _setting(True, "sgd only: Nesterov momentum (the 2012 AlexNet paper: off)", check_flag)
    weight_decay: float | None = _setting(
        None, "weight decay coefficient, decoupled for adamw, an L2 term for adam and sgd "
        "(None: DEFAULT_WEIGHT_DECAY of the optimiser)", _optional(_number(0)))
    schedule: str = _setting(
        "onecycle", "learning rate over the steps: onecycle (warm-up over the first quarter, then cosine "
        "decay) or constant", _choice(SCHEDULES), choices=SCHEDULES)
    label_smoothing: float = _setting(
        0.0, "share of the target probability spread evenly over all classes, in [0, 1)", _smoothing)
    shift: int = _setting(0, "augmentation: move every training image by up to this many pixels in x "
                             "and y, at random (cnnbook.random_shift; 0: none)", _int(0))
    crop: int = _setting(0, "augmentation: pad every training image by this many pixels and crop it back "
                            "at a random offset (cnnbook.random_crop; 0: none)", _int(0))
    flip: bool = _setting(False, "augmentation: mirror half the training images left-right (cnnbook.random_flip)",
                          check_flag)
    amp: bool = _setting(True, "mixed precision: bf16 or fp16 on CUDA GPUs, bf16 on CPUs that compute it "
                               "natively, float32 elsewhere", check_flag)
    channels_last: bool = _setting(True, "images and convolution weights in the NHWC memory format", check_flag)
    compile: bool = _setting(False, "torch.compile the model", check_flag)
    seed: int | None = _setting(None, "seed of torch and of the batch order (None: not seeded)",
                                _optional(_int()))
    target_acc: float | None = _setting(
        None, "percent: stop after the first epoch whose test accuracy reaches it (None: never)",
        _optional(_number(0, 100, low_open=True)))
    eval_batch_size: int = _setting(1024, "images per batch when testing", _int(1))

    def __post_init__(self) -> None:
        for f in fields(self):
            object.__setattr__(self, f.name, f.metadata["check"](f.name, getattr(self, f.name)))

    def augmentation(self) -> Callable[[Tensor], Tensor] | None:
        """The batch augmentation that ``shift``, ``crop`` and ``flip`` describe, in that order (None
        for none): e.g. ``crop=4, flip=True`` -> ``compose(random_crop(4), random_flip())``."""
        augs: list[Callable[[Tensor], Tensor]] = []
        if self.shift:
            augs.append(random_shift(self.shift))
        if self.crop:
            augs.append(random_crop(self.crop))
        if self.flip:
            augs.append(random_flip())
        return None if not augs else augs[0] if len(augs) == 1 else compose(*augs)

    def make_optimizer(self, params: Iterable[nn.Parameter]) -> torch.optim.Optimizer:
        """The optimiser these settings name, over ``params``, at the peak learning rate (``lr`` or
        :data:`DEFAULT_LR`) with ``weight_decay`` (or :data:`DEFAULT_WEIGHT_DECAY`)."""
        lr = self.lr if self.lr is not None else DEFAULT_LR[self.optimizer]
        wd = self.weight_decay if self.weight_decay is not None else DEFAULT_WEIGHT_DECAY[self.optimizer]
        if self.optimizer == "adamw":
            return torch.optim.AdamW(params, lr=lr, weight_decay=wd, betas=(0.9, 0.99))
        if self.optimizer == "adam":
            return torch.optim.Adam(params, lr=lr, weight_decay=wd, betas=(0.9, 0.99))
        return torch.optim.SGD(params, lr=lr, momentum=SGD_MOMENTUM, nesterov=self.nesterov, weight_decay=wd)


def with_overrides(settings: Settings | None, overrides: Mapping[str, Any], *, caller: str) -> Settings:
    """``settings`` with ``overrides`` (keyword arguments named like its fields) replaced, or
    ``Settings(**overrides)`` without settings: checked once (what :func:`cnnbook.fit` and
    :func:`cnnbook.ablation.run_ablation` do with their keywords). TypeError names an unknown keyword."""
    names = [f.name for f in fields(Settings)]
    unknown = [k for k in overrides if k not in names]
    if unknown:
        raise TypeError(f"{caller} got an unknown setting {unknown[0]!r}; "
                        f"the settings are {', '.join(names)}")
    if settings is None:
        if "epochs" not in overrides:
            raise TypeError(f"{caller} needs epochs= or settings= (e.g. cnnbook.recipes.FAST)")
        return Settings(**overrides)
    if not isinstance(settings, Settings):
        raise TypeError(f"settings must be a cnnbook.Settings (e.g. cnnbook.recipes.FAST), "
                        f"got {type(settings).__name__}")
    return replace(settings, **overrides) if overrides else settings
