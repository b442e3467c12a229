"""The training engine: :func:`fit` a model, :func:`evaluate` it, :func:`predict` with it.

One loop serves every chapter, a laptop CPU and a GPU alike::

    history = cb.fit(model, train, test, epochs=3)      # -> History, one row per epoch
    loss, acc = cb.evaluate(model, test)                # acc in percent
    probs, labels = cb.predict(model, test)             # for a confusion matrix

What makes it fast: the data sits on the device as uint8 and every batch is drawn there
(:class:`~cnnbook.data.DeviceLoader`); loss and correct counts are summed in device tensors and
read once per epoch (no host synchronisation per step); the model runs in mixed precision (bf16
on GPUs that compute it natively, compute capability 8.0 and up; fp16 with a gradient scaler on
older GPUs such as the T4; bf16 also on CPUs that compute it natively: see
:func:`cnnbook.runtime.precision`) and in the channels_last memory format, optionally
``torch.compile``-d; the learning rate follows a one-cycle schedule. Evaluation runs in big
batches under ``torch.inference_mode`` and is not counted in the training seconds.

Started by ``torchrun`` (``WORLD_SIZE`` > 1), the same loop trains data-parallel: see
:mod:`cnnbook.distributed`.
"""

from __future__ import annotations

import contextlib
import math
import os
import sys
import time
import warnings
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from . import distributed as dist_
from ._checks import as_device, check_float, check_int, check_model, eval_mode, model_device, sync
from .checkpoint import load_checkpoint, restore, save_checkpoint
from .data import DeviceLoader, ImageDataset, as_dataset
from .errors import CnnbookError, printable
from .runtime import cpu_has_bf16, precision
from .runtime import device as default_device
from .settings import Settings, with_overrides

__all__ = ["History", "fit", "evaluate", "predict", "cpu_has_bf16", "amp_dtype", "default_batch_size",
           "TrainingDivergedError"]

_LIVE_EVERY = 25  # CPU only: refresh the progress bar's loss/accuracy every this many steps


# ----------------------------------------------------------------------------- History


class TrainingDivergedError(CnnbookError, ArithmeticError):
    """Training produced a loss that is not a number (NaN or infinite): the learning rate is too
    high for the model and data, usually. :func:`fit` raises it at the end of the epoch where it
    happened; the message names the epoch and suggests a lower learning rate."""


@dataclass
class History:
    """What :func:`fit` measured, one entry per epoch.

    ``train_loss`` and ``train_acc`` (percent) are averaged over the epoch's (augmented) training
    batches; ``test_loss`` and ``test_acc`` (percent) are measured on the test data after the epoch
    (NaN when there is none); ``seconds`` is the epoch's training time, evaluation excluded, and
    ``images_per_s`` the training images processed per second; ``fraction`` is the share of a
    full epoch each entry trained (1.0, except for a fractional last epoch such as 2.5's 0.5).
    """

    train_loss: list[float] = field(default_factory=list)
    train_acc: list[float] = field(default_factory=list)
    test_loss: list[float] = field(default_factory=list)
    test_acc: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    images_per_s: list[float] = field(default_factory=list)
    fraction: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.train_loss)

    def append(self, *, train_loss: float, train_acc: float, test_loss: float, test_acc: float,
               seconds: float, images_per_s: float, fraction: float = 1.0) -> None:
        """Record one epoch (``fraction`` < 1 for a cut-short last epoch)."""
        for name, value in locals().items():
            if name != "self":
                getattr(self, name).append(float(value))

    @property
    def epochs_done(self) -> int | float:
        """Epochs trained: e.g. 2.5 for a completed run of 2.5 epochs, 2 if it stopped after two.
        An int when whole."""
        done = sum(self.fraction) if len(self.fraction) == len(self) else float(len(self))
        return int(done) if float(done).is_integer() else done

    @property
    def mean_images_per_s(self) -> float:
        """Training images per second over the whole run (NaN with no epoch)."""
        if not len(self) or self.train_seconds == 0:
            return math.nan
        return sum(i * s for i, s in zip(self.images_per_s, self.seconds)) / self.train_seconds

    @property
    def train_seconds(self) -> float:
        """Total training seconds (evaluation excluded)."""
        return float(sum(self.seconds))

    def time_to(self, acc: float) -> float | None:
        """Training seconds until the test accuracy first reached ``acc`` percent (summed over the
        epochs up to and including that one), or None if it never did."""
        acc = check_float("acc", acc, low=0, high=100, low_open=True)
        total = 0.0
        for seconds, test_acc in zip(self.seconds, self.test_acc):
            total += seconds
            if test_acc >= acc:  # NaN (no test data) compares False
                return total
        return None

    def as_dict(self) -> dict[str, list[float | None]]:
        """The lists by name, JSON-ready (NaN written as None)."""
        return {k: [None if math.isnan(v) else v for v in vals] for k, vals in asdict(self).items()}

    @classmethod
    def from_dict(cls, d: dict) -> "History":
        """The inverse of :meth:`as_dict`."""
        n = len(d.get("train_loss", []))
        default = {"fraction": [1.0] * n}  # records written before History had fractions
        return cls(**{k: [math.nan if v is None else float(v) for v in d.get(k, default.get(k, []))]
                      for k in cls.__dataclass_fields__})

    def table(self) -> str:
        """The history as a text table, one row per epoch."""
        head = (f"{'epoch':>5}  {'train loss':>10}  {'train acc':>9}  {'test loss':>9}  {'test acc':>8}  "
                f"{'seconds':>7}  {'images/s':>9}")
        rows = [head]
        for i in range(len(self)):
            rows.append(f"{i + 1:>5}  {self.train_loss[i]:>10.4f}  {self.train_acc[i]:>8.2f}%  "
                        f"{self.test_loss[i]:>9.4f}  {self.test_acc[i]:>7.2f}%  {self.seconds[i]:>7.2f}  "
                        f"{self.images_per_s[i]:>9,.0f}")
        return "\n".join(rows)

    def __repr__(self) -> str:
        if not len(self):
            return "History(no epochs)"
        return f"History({len(self)} epochs, {self.train_seconds:.1f} s of training)\n{self.table()}"

    def plot(self, *, title: str | None = None) -> Any:
        """A figure with two panels against the epoch: loss (train, test) and accuracy in percent
        (train, test). Returns the matplotlib Figure (made with pyplot, so Jupyter shows it when the
        cell ends; end the line with ``;`` to keep it from showing twice)."""
        import matplotlib.pyplot as plt  # lazy: cnnbook imports without matplotlib

        from .viz import plot_curves

        if not len(self):
            raise ValueError("the history is empty: no epoch to plot")
        fig, (ax_loss, ax_acc) = plt.subplots(1, 2, figsize=(9, 3.4))
        has_test = any(not math.isnan(v) for v in self.test_acc)
        for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy (%)")):
            curves = {"train": getattr(self, f"train_{key}")}
            if has_test:
                curves["test"] = getattr(self, f"test_{key}")
            plot_curves(curves, ylabel=label, ax=ax)
        final = (f"final test accuracy {self.test_acc[-1]:.2f}%" if has_test
                 else f"final train accuracy {self.train_acc[-1]:.2f}%")
        ax_acc.set_title(final)
        if title:
            fig.suptitle(title)
        fig.tight_layout()
        return fig


# ----------------------------------------------------------------------------- helpers


def amp_dtype(device: torch.device, amp: bool = True) -> torch.dtype | None:
    """The autocast dtype of :func:`fit` for ``amp=True`` (LeNet-5 chapter): the dtype of
    :func:`cnnbook.runtime.precision` -- bf16 on GPUs of compute capability 8.0 or higher and on
    CPUs with native bf16, fp16 on older GPUs (the T4), None (float32) elsewhere and for ``amp=False``."""
    return precision(device).dtype if amp else None


def _autocast(device: torch.device, dtype: torch.dtype | None) -> contextlib.AbstractContextManager[Any]:
    return torch.autocast(device.type, dtype=dtype) if dtype is not None else contextlib.nullcontext()


def _grad_scaler(enabled: bool, device: torch.device | str = "cuda") -> Any:
    """A gradient scaler for fp16 training on ``device`` (a pass-through when not enabled)."""
    kind = torch.device(device).type
    if hasattr(torch.amp, "GradScaler"):  # torch >= 2.3
        return torch.amp.GradScaler(kind, enabled=enabled)
    return torch.cuda.amp.GradScaler(enabled=enabled and kind == "cuda")


def _eval_loader(data: object, name: str, batch_size: int, device: torch.device) -> DeviceLoader:
    """A loader over ``data`` in its order, no augmentation (an augmenting DeviceLoader is unwrapped)."""
    return DeviceLoader(as_dataset(data, name=name), batch_size, device=device)


@torch.inference_mode()
def _evaluate_loader(model: nn.Module, loader: DeviceLoader, dtype: torch.dtype | None,
                     channels_last: bool) -> tuple[float, float]:
    """(mean cross-entropy, accuracy %) over ``loader``; one host sync at the end."""
    dev = loader.device
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.long)
    n = 0
    for out, y in _outputs(model, loader, dtype, channels_last):
        loss_sum += F.cross_entropy(out.float(), y, reduction="sum")
        correct += (out.argmax(1) == y).sum()
        n += y.shape[0]
    return loss_sum.item() / n, 100.0 * correct.item() / n


def _outputs(model: nn.Module, loader: DeviceLoader, dtype: torch.dtype | None,
             channels_last: bool) -> Iterator[tuple[Tensor, Tensor]]:
    """(model outputs, labels) for each batch of ``loader``, in eval mode (mode restored after)."""
    with eval_mode(model):
        for x, y in loader:
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with _autocast(loader.device, dtype):
                out = model(x)
            yield out, y


def _num_outputs(model: nn.Module, loader: DeviceLoader, channels_last: bool) -> int:
    """Run the model once on two samples (eval mode, no grad) and return its number of outputs.
    Catches wrong input sizes early, with the model's own message."""
    ds = loader.dataset
    probe = DeviceLoader(replace(ds, images=ds.images[:2], labels=ds.labels[:2]), 2, device=loader.device)
    x, _ = next(iter(probe))
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with eval_mode(model), torch.no_grad():
        out = model(x)
    if out.dim() != 2:
        raise ValueError(f"model must return logits of shape (N, classes), got shape {tuple(out.shape)}")
    return out.shape[1]


def _make_optimizer(custom: object, model: nn.Module, settings: Settings) -> torch.optim.Optimizer:
    """The run's optimiser: the one ``settings`` names, or ``custom`` (an optimizer, or a function
    making one from the model's parameters) when fit was given one."""
    if custom is None:
        return settings.make_optimizer(model.parameters())
    if isinstance(custom, torch.optim.Optimizer):
        return custom
    opt = custom(model.parameters())  # type: ignore[operator]
    if not isinstance(opt, torch.optim.Optimizer):
        raise TypeError(f"optimizer must return a torch.optim.Optimizer when called with the model's "
                        f"parameters, got {type(opt).__name__}")
    return opt


def _make_schedule(schedule: str, opt: torch.optim.Optimizer, lr: float,
                   total_steps: int) -> torch.optim.lr_scheduler.LRScheduler:
    if schedule == "onecycle":
        # warm up over the first quarter of the steps (OneCycleLR divides by zero if exactly 1 step)
        pct = 0.25 if abs(0.25 * total_steps - 1) > 1e-9 else 0.3
        return torch.optim.lr_scheduler.OneCycleLR(
            opt, max_lr=lr, total_steps=total_steps, pct_start=pct, div_factor=25.0,
            final_div_factor=1e4, cycle_momentum=True)
    return torch.optim.lr_scheduler.LambdaLR(opt, lambda step: 1.0)


def _rng_state(device: torch.device) -> dict[str, Tensor]:
    state = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: dict[str, Tensor], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)


def _progress_bar(total: int, enabled: bool) -> Any:
    from tqdm.auto import tqdm  # a widget in Jupyter, text in a terminal

    return tqdm(total=total, disable=not enabled, unit="step", dynamic_ncols=True, leave=True)


# ----------------------------------------------------------------------------- one training run

# fit's default batch: 128 images, fewer for small training sets so that an epoch has at least
# this many optimiser steps (a small set trained with batch 128 gets too few steps to learn)
DEFAULT_BATCH_SIZE = 128
MIN_STEPS_PER_EPOCH = 40


def default_batch_size(n_train: int) -> int:
    """fit's batch size for ``n_train`` training images when none is given: 128, or for small sets
    the largest power of two from 16 up that leaves at least :data:`MIN_STEPS_PER_EPOCH` steps per
    epoch (1,400 images -> 32; 60,000 MNIST digits -> 128). LeNet-5 chapter."""
    n_train = check_int("n_train", n_train, low=1)
    size = DEFAULT_BATCH_SIZE
    while size > 16 and n_train / size < MIN_STEPS_PER_EPOCH:
        size //= 2
    return size


@dataclass
class _Run:
    """Everything one training run needs, built once by :func:`_prepare`."""

    model: nn.Module  # the caller's model (its state is what is saved)
    net: nn.Module  # what the steps call: the model, maybe wrapped in DDP and compiled
    loader: DeviceLoader
    test_loader: DeviceLoader | None
    device: torch.device
    dtype: torch.dtype | None  # autocast dtype, None for float32
    channels_last: bool
    opt: torch.optim.Optimizer
    sched: Any
    scaler: Any
    settings: Settings  # what the run was asked for (dataclasses.asdict: plain data)
    total_steps: int

    @property
    def steps_per_epoch(self) -> int:
        return len(self.loader)

    @property
    def n_epochs(self) -> int:
        """Epochs started, the last one maybe cut short."""
        return -(-self.total_steps // self.steps_per_epoch)


def _check_fit_arguments(*, settings: Settings, optimizer: object, augment: object, resume: bool,
                         checkpoint: object, test: object) -> None:
    """fit's checks beyond the settings' own: TypeError for a wrong type, ValueError otherwise."""
    if optimizer is not None and not isinstance(optimizer, torch.optim.Optimizer) and not callable(optimizer):
        raise TypeError(f"optimizer must be a name, an optimizer or a function, got {type(optimizer).__name__}")
    if augment is not None and not callable(augment):
        raise TypeError(f"augment must be a function of a batch (B, C, H, W) or None, got {type(augment).__name__}")
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint= the file to resume from")
    if settings.target_acc is not None and test is None:
        raise ValueError("target_acc needs test data to measure the accuracy on")


def _loaders(train: object, test: object, settings: Settings, *, augment: Callable[[Tensor], Tensor] | None,
             device: torch.device, world: dist_.World) -> tuple[DeviceLoader, DeviceLoader | None]:
    """The training loader (``train`` itself if it is a DeviceLoader) and the test loader; ``augment``
    replaces the augmentation the settings describe."""
    if isinstance(train, DeviceLoader):
        loader = train
    else:
        data = as_dataset(train, name="train")
        size = settings.batch_size if settings.batch_size is not None else default_batch_size(len(data))
        if world.active and size % world.size:
            raise ValueError(f"batch_size must be divisible by the number of processes ({world.size}), got {size}")
        loader = DeviceLoader(data, size // world.size, shuffle=True, device=device, seed=settings.seed,
                              augment=augment if augment is not None else settings.augmentation(),
                              rank=world.rank, world_size=world.size)
    test_loader = None if test is None else _eval_loader(test, "test", settings.eval_batch_size, loader.device)
    return loader, test_loader


def _place_model(model: nn.Module, loader: DeviceLoader, *, channels_last: bool, compile: bool,
                 world: dist_.World) -> nn.Module:
    """Move ``model`` to the loader's device (channels_last if asked), check its outputs against
    the labels, and return what the steps call (DDP-wrapped under torchrun, compiled if asked)."""
    dev = loader.device
    model.to(dev)
    if channels_last:
        model.to(memory_format=torch.channels_last)
    classes = _num_outputs(model, loader, channels_last)
    top = int(loader.dataset.labels.max())
    if top >= classes:
        raise ValueError(f"train has labels up to {top} but the model has {classes} outputs: "
                         f"give the model num_classes >= {top + 1}")
    net: nn.Module = model
    if world.active:
        net = nn.parallel.DistributedDataParallel(model, device_ids=[dev.index] if dev.type == "cuda" else None)
    if compile:
        net = torch.compile(net)  # type: ignore[assignment]
    return net


def _prepare(model: nn.Module, train: object, test: object, settings: Settings, *, optimizer: object,
             augment: Callable[[Tensor], Tensor] | None, device: torch.device, world: dist_.World) -> _Run:
    """Data, model, optimiser and schedule of one run (``optimizer``: fit's own, or None)."""
    loader, test_loader = _loaders(train, test, settings, augment=augment, device=device, world=world)
    dev = loader.device
    channels_last = settings.channels_last and dev.type in ("cuda", "cpu")
    net = _place_model(model, loader, channels_last=channels_last, compile=settings.compile, world=world)
    dtype = amp_dtype(dev, settings.amp)
    opt = _make_optimizer(optimizer, model, settings)
    peak = settings.lr if settings.lr is not None else opt.param_groups[0]["lr"]  # else: the optimiser's own
    total_steps = max(1, round(settings.epochs * len(loader)))  # a fractional last epoch is cut short
    return _Run(model=model, net=net, loader=loader, test_loader=test_loader, device=dev, dtype=dtype,
                channels_last=channels_last, opt=opt, sched=_make_schedule(settings.schedule, opt, peak, total_steps),
                scaler=_grad_scaler(dtype == torch.float16, dev), settings=settings, total_steps=total_steps)


def _peak_lr(run: _Run) -> float:
    """The peak learning rate of the run's schedule (one-cycle's max_lr, else the starting lr)."""
    group = run.opt.param_groups[0]
    return float(group.get("max_lr", run.sched.base_lrs[0]))


def _run_settings(run: _Run, epochs: float) -> dict[str, Any]:
    """What a checkpoint must share with the run that resumes it, as JSON data (compared field by
    field when resuming; the error names each field that differs)."""
    group = run.opt.param_groups[0]
    return {"epochs": epochs, "batch_size": run.loader.batch_size * run.loader.world_size,
            "batches_per_epoch": run.steps_per_epoch, "optimizer": type(run.opt).__name__, "lr": _peak_lr(run),
            "weight_decay": float(group.get("weight_decay", 0.0)), "schedule": type(run.sched).__name__,
            "label_smoothing": run.settings.label_smoothing,
            "precision": str(run.dtype or torch.float32).replace("torch.", "")}


def _save_checkpoint(path: Path, run: _Run, history: History, *, epoch: int, epochs: float) -> None:
    """Write the run's state after ``epoch`` epochs to ``path`` (model, optimiser, schedule, scaler,
    history, loader seed, random state, settings), replacing the file in one step."""
    save_checkpoint(path, {
        "model": run.model.state_dict(), "optimizer": run.opt.state_dict(),
        "scheduler": run.sched.state_dict(), "scaler": run.scaler.state_dict(),
        "history": history.as_dict(), "epoch": epoch, "epochs": epochs,
        "loader_seed": run.loader.seed, "rng": _rng_state(run.device), "settings": _run_settings(run, epochs),
    })


def _resume(run: _Run, path: Path, *, epochs: float, progress: bool) -> tuple[History, int]:
    """(history, epochs done) from the checkpoint at ``path``, its state loaded into ``run``;
    (empty history, 0) if there is no checkpoint yet. The checkpoint is checked completely against
    the run before anything is loaded: one that is not of this run raises
    :class:`~cnnbook.checkpoint.CheckpointError`, and the run is left as it was."""
    try:
        os.lstat(path)
    except FileNotFoundError:
        if progress:
            print(f"No checkpoint at {printable(path)} yet: starting from epoch 1.")
        return History(), 0
    except OSError:
        pass  # there, but not to be looked at: load_checkpoint says why
    steps, total = run.steps_per_epoch, run.total_steps
    state = load_checkpoint(path, model=run.model, settings=_run_settings(run, epochs),
                            parts={"optimizer": run.opt, "scheduler": run.sched, "scaler": run.scaler},
                            max_epoch=run.n_epochs, steps_after=lambda done: min(done * steps, total),
                            history=History.__dataclass_fields__, device=run.device)
    restore(path, state, model=run.model, optimizer=run.opt, scheduler=run.sched, scaler=run.scaler)
    run.loader.seed = state["loader_seed"]
    _set_rng_state(state["rng"], run.device)
    start = int(state["epoch"])
    if progress:
        print(f"Resuming from {printable(path)}: {start} of {run.n_epochs} epochs done.")
    return History.from_dict(state["history"]), start


def _step(run: _Run, x: Tensor, y: Tensor) -> tuple[Tensor, Tensor]:
    """One optimiser step on the batch (x, y); returns (mean loss, logits), not read back."""
    if run.channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    with _autocast(run.device, run.dtype):
        out = run.net(x)
        loss = F.cross_entropy(out, y, label_smoothing=run.settings.label_smoothing)
    run.opt.zero_grad(set_to_none=True)
    run.scaler.scale(loss).backward()
    run.scaler.step(run.opt)
    run.scaler.update()
    with warnings.catch_warnings():  # fp16: a skipped step makes the scheduler complain
        warnings.simplefilter("ignore", UserWarning)
        run.sched.step()
    return loss, out


def _train_epoch(run: _Run, *, epoch: int, bar: Any, live: bool) -> dict[str, float]:
    """Train epoch ``epoch`` (cut short if it is the run's fractional last one); return its
    train_loss, train_acc, seconds, images_per_s and fraction, summed over all processes."""
    dev, steps = run.device, run.steps_per_epoch
    epoch_steps = min(steps, run.total_steps - epoch * steps)
    run.loader.set_epoch(epoch)
    loss_sum = torch.zeros((), device=dev)
    correct = torch.zeros((), device=dev, dtype=torch.long)
    seen = 0
    sync(dev)
    t0 = time.perf_counter()
    for i, (x, y) in enumerate(run.loader):
        if i == epoch_steps:
            break
        loss, out = _step(run, x, y)
        loss_sum += loss.detach().float() * y.shape[0]
        correct += (out.argmax(1) == y).sum()
        seen += y.shape[0]
        bar.update(1)
        if live and (i + 1) % _LIVE_EVERY == 0:  # reading a CPU tensor costs nothing
            bar.set_postfix(loss=f"{loss_sum.item() / seen:.4f}", acc=f"{100 * correct.item() / seen:.2f}%",
                            refresh=False)
    totals = dist_.all_reduce_sum(torch.stack([loss_sum, correct.float(), torch.tensor(float(seen), device=dev)]))
    sync(dev)
    seconds = time.perf_counter() - t0
    total_loss, total_correct, total_seen = totals.tolist()  # the one sync of the epoch
    return {"train_loss": total_loss / total_seen, "train_acc": 100 * total_correct / total_seen,
            "seconds": seconds, "images_per_s": total_seen / seconds, "fraction": epoch_steps / steps}


def _check_finite_lr(run: _Run) -> None:
    """ValueError naming ``lr`` if the optimiser would start with a learning rate that is not a
    finite number (``lr=inf`` trains a network of NaNs)."""
    for group in run.opt.param_groups:
        for key in ("max_lr", "initial_lr", "lr"):  # the peak first: the others are computed from it
            value = group.get(key)
            if isinstance(value, (int, float, Tensor)) and not math.isfinite(float(value)):
                raise ValueError(f"lr must be a finite number > 0, got {float(value)}")


def _check_diverged(run: _Run, loss: float, *, epoch: int, checkpoint: Path | None) -> None:
    """TrainingDivergedError if the epoch's mean training loss is not finite."""
    if math.isfinite(loss):
        return
    kept = (f"; the checkpoint {printable(checkpoint)} keeps the {epoch} epoch(s) before it"
            if checkpoint is not None and epoch > 0 else "")
    raise TrainingDivergedError(
        f"training diverged in epoch {epoch + 1}: its mean training loss is {loss}, so the weights are no longer "
        f"numbers{kept}; train again with a lower learning rate (peak lr {_peak_lr(run):g} now, try "
        f"{_peak_lr(run) / 10:g})")


def _loop(run: _Run, history: History, *, start: int, epochs: float, checkpoint: Path | None, save: bool,
          progress: bool, target_acc: float | None) -> History:
    """Epochs ``start`` .. the last: train, evaluate, record, save a checkpoint; stop early at
    ``target_acc``. A loss that is not finite raises :class:`TrainingDivergedError` (checked once an
    epoch, where the loss is read anyway); Ctrl-C (KeyboardInterrupt) propagates, the checkpoint
    of the last completed epoch in place."""
    _check_finite_lr(run)
    bar = _progress_bar(run.total_steps - start * run.steps_per_epoch, progress and start < run.n_epochs)
    live = progress and run.device.type == "cpu"  # on a GPU a read would wait for it
    interrupted = False
    run.model.train()
    try:
        for epoch in range(start, run.n_epochs):
            bar.set_description(f"epoch {epoch + 1}/{run.n_epochs}")
            trained = _train_epoch(run, epoch=epoch, bar=bar, live=live)
            _check_diverged(run, trained["train_loss"], epoch=epoch, checkpoint=checkpoint if save else None)
            test_loss, test_acc = math.nan, math.nan
            if run.test_loader is not None:
                test_loss, test_acc = _evaluate_loader(run.model, run.test_loader, run.dtype, run.channels_last)
            history.append(test_loss=test_loss, test_acc=test_acc, **trained)
            post = {"loss": f"{history.train_loss[-1]:.4f}", "acc": f"{history.train_acc[-1]:.2f}%"}
            if run.test_loader is not None:
                post["test_acc"] = f"{test_acc:.2f}%"
            bar.set_postfix(post)
            if checkpoint is not None and save:
                _save_checkpoint(checkpoint, run, history, epoch=epoch + 1, epochs=epochs)
            if target_acc is not None and test_acc >= target_acc:
                break
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.close()
        run.model.eval()
        if interrupted and progress:
            saved = f"; {printable(checkpoint)} holds them" if checkpoint is not None and save and len(history) else ""
            print(f"Interrupted after {len(history)} completed epoch(s){saved}.", file=sys.stderr)
    return history


# ----------------------------------------------------------------------------- fit


def fit(
    model: nn.Module,
    train: "ImageDataset | DeviceLoader | tuple[Tensor, Tensor]",
    test: "ImageDataset | DeviceLoader | tuple[Tensor, Tensor] | None" = None,
    settings: Settings | None = None,
    *,
    augment: Callable[[Tensor], Tensor] | None = None,
    device: torch.device | str | None = None,
    checkpoint: str | os.PathLike[str] | None = None,
    resume: bool = False,
    progress: bool = True,
    **overrides: Any,
) -> History:
    """Train ``model`` on ``train`` as ``settings`` say, testing on ``test`` after each epoch; return
    a :class:`History` (LeNet-5 and AlexNet chapters)::

        cb.fit(model, train, test, epochs=3, lr=5e-3, seed=0)
        cb.fit(model, train, test, settings=FAST, lr=1e-3)  # a recipe, one setting changed

    ``overrides`` are fields of :class:`~cnnbook.settings.Settings` (``epochs``, ``batch_size``,
    ``lr``, ``optimizer``, ``label_smoothing``, ``shift``, ``seed``, ``target_acc``, ...; their
    units and defaults are there), replaced in ``settings`` or, without it, making them (``epochs``
    is then needed). Code instead of data: ``optimizer`` may also be a torch optimizer built on
    ``model.parameters()`` or a function making one from them, and ``augment`` a function of a
    training batch (B, C, H, W) on the device (e.g. ``cb.random_shift(2)``) that replaces the
    settings' ``shift``, ``crop`` and ``flip``.

    ``train`` and ``test``: an :class:`~cnnbook.data.ImageDataset`, an ``(images, labels)`` pair
    (images (N, H, W) or (N, C, H, W), uint8 or float; labels (N,) class indices) or a
    :class:`~cnnbook.data.DeviceLoader` (used as it is: its batch size, augmentation and seed).
    ``model`` maps a batch (B, C, H, W) to logits (B, K), trained with cross-entropy.

    ``device``: default :func:`cnnbook.device`; the model is moved there. ``checkpoint``: a file
    written after every epoch (model, optimiser, schedule, history, random state: one safetensors
    file, see :mod:`cnnbook.checkpoint`); ``resume=True`` continues from it, after checking it
    completely against this run (:class:`~cnnbook.checkpoint.CheckpointError` if it does not fit).
    Ctrl-C (Jupyter's interrupt) stops training with KeyboardInterrupt: the model keeps the weights
    it had, and the checkpoint holds the last completed epoch, so ``resume=True`` continues from
    there. A loss that is not finite (too high a learning rate) raises
    :class:`TrainingDivergedError` at the end of that epoch. fit leaves the model in evaluation
    mode. Under ``torchrun`` (``WORLD_SIZE`` > 1) the loop runs data-parallel: the batch is split
    over the processes, and only rank 0 shows progress and writes files.
    """
    check_model(model)
    custom = None if isinstance(overrides.get("optimizer", ""), str) else overrides.pop("optimizer")
    settings = with_overrides(settings, overrides, caller="fit()")
    _check_fit_arguments(settings=settings, optimizer=custom, augment=augment, resume=resume, checkpoint=checkpoint,
                         test=test)
    dev = as_device(device) if device is not None else (
        train.device if isinstance(train, DeviceLoader) else default_device())
    cudnn_benchmark = torch.backends.cudnn.benchmark
    try:
        with dist_.joined(dev) as (dev, world):
            if dev.type == "cuda":  # images of one size: let cuDNN pick the fastest convolution algorithms
                torch.backends.cudnn.benchmark = True
            if settings.seed is not None:
                torch.manual_seed(settings.seed)
            run = _prepare(model, train, test, settings, optimizer=custom, augment=augment, device=dev, world=world)
            path = Path(checkpoint) if checkpoint is not None else None
            show = progress and world.is_main
            history, start = (_resume(run, path, epochs=settings.epochs, progress=show) if resume and path
                              else (History(), 0))
            return _loop(run, history, start=start, epochs=settings.epochs, checkpoint=path, save=world.is_main,
                         progress=show, target_acc=settings.target_acc)
    finally:
        torch.backends.cudnn.benchmark = cudnn_benchmark


# ----------------------------------------------------------------------------- evaluate, predict


def evaluate(model: nn.Module, data: "ImageDataset | DeviceLoader | tuple[Tensor, Tensor]", *,
             batch_size: int = 1024, device: torch.device | str | None = None,
             amp: bool = False) -> tuple[float, float]:
    """(mean cross-entropy loss, accuracy in percent) of ``model`` on ``data`` (LeNet-5 chapter).

    ``data``: an ImageDataset, a DeviceLoader (its data, without augmentation) or an
    ``(images, labels)`` pair; batches x (B, C, H, W) -> logits (B, K). ``device``: default the
    device of the model's parameters (the model is moved there). In float32, so that the numbers
    are those of a plain loop over the data (AlexNet chapter); ``amp=True`` computes in
    :func:`fit`'s mixed precision (:func:`amp_dtype`), as fit's tests after each epoch do: faster on
    a GPU, and a few images may change their answer.
    """
    check_model(model)
    check_int("batch_size", batch_size, low=1)
    dev = as_device(device) if device is not None else model_device(model)
    model.to(dev)
    cl = _uses_channels_last(model)
    return _evaluate_loader(model, _eval_loader(data, "data", batch_size, dev), amp_dtype(dev, amp), cl)


def _uses_channels_last(model: nn.Module) -> bool:
    for p in model.parameters():
        if p.dim() == 4:
            return p.is_contiguous(memory_format=torch.channels_last) and not p.is_contiguous()
    return False


@torch.inference_mode()
def predict(model: nn.Module, data: "ImageDataset | DeviceLoader | tuple[Tensor, Tensor]", *,
            batch_size: int = 1024, device: torch.device | str | None = None,
            amp: bool = False) -> tuple[Tensor, Tensor]:
    """Class probabilities of ``model`` on every sample of ``data``, in order, and the true labels
    (LeNet-5 chapter: the confusion matrix).

    Returns ``(probs, labels)`` on the CPU: probs float32 (N, K) (softmax of the logits, rows sum
    to 1), labels int64 (N,). ``probs.argmax(1)`` against ``labels`` gives a confusion matrix.
    In float32 unless ``amp=True`` (then in :func:`fit`'s mixed precision), as :func:`evaluate`.
    """
    check_model(model)
    check_int("batch_size", batch_size, low=1)
    dev = as_device(device) if device is not None else model_device(model)
    model.to(dev)
    cl = _uses_channels_last(model)
    loader = _eval_loader(data, "data", batch_size, dev)
    dtype = amp_dtype(dev, amp)
    probs: list[Tensor] = []
    labels: list[Tensor] = []
    for out, y in _outputs(model, loader, dtype, cl):
        probs.append(out.float().softmax(1))
        labels.append(y)
    return torch.cat(probs).cpu(), torch.cat(labels).cpu()
