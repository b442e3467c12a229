"""The bench's peer: the final recipe of tuomaso/train_mnist_fast, written here from its published facts.

That repository ("Training a NN to 99% accuracy on MNIST in 0.76 seconds", its ``README.md`` and
``8_Final_00s76.ipynb``) reaches a mean of 99.04% test accuracy over 30 seeds after one epoch of
training, 762 ms on a GTX 1660 Ti laptop GPU. Its recipe, as published:

* the network: conv 5x5, 1 -> 24 channels; 2x2 max pool; ReLU; conv 3x3, 24 -> 32; 2x2 max pool;
  ReLU; fully connected 800 -> 256; ReLU; 256 -> 10 (:class:`PeerNet`, 215,194 parameters);
* the data: MNIST normalised with mean 0.1307 and std 0.3081, shuffled once when it was saved and
  then held whole on the device; batches of 256 taken in that order, not reshuffled;
* Adam with learning rate 0.01 and betas (0.7, 0.9); a one-cycle schedule to 0.01 without
  momentum cycling (PyTorch's ``OneCycleLR`` defaults otherwise); one epoch; the loss the negative
  log-likelihood of a log-softmax (cross-entropy).

:func:`run_peer` trains it so and tests it on the whole test set after every epoch; the bench
(``python -m cnnbook bench``) races it against LeNet-5 trained by :func:`cnnbook.fit`.
"""

from __future__ import annotations

import math
import time
from typing import Any

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ._checks import as_device, check_float, check_int, sync
from .data import ImageDataset
from .train import History

__all__ = ["PeerNet", "PEER_RECIPE", "peer_tensors", "run_peer"]

PEER_RECIPE: dict[str, Any] = {
    "epochs": 1,  # passes over the training set
    "batch_size": 256,  # images per step, in the stored order
    "lr": 0.01,  # Adam's learning rate, the one-cycle schedule's peak
    "betas": (0.7, 0.9),  # Adam's two moment decays
    "mean": 0.1307,  # the normalisation, MNIST's pixel mean and std in [0, 1]
    "std": 0.3081,
}
"""The peer's settings, as published."""


class PeerNet(nn.Module):
    """tuomaso/train_mnist_fast's final network (the bench's peer): (N, 1, 28, 28) -> (N, 10)
    logits. Each max pool comes before its ReLU (the same function, computed on fewer values)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 24, 5)  # 28 -> 24, pooled to 12
        self.conv2 = nn.Conv2d(24, 32, 3)  # 12 -> 10, pooled to 5: 32 x 5 x 5 = 800
        self.fc1 = nn.Linear(800, 256)
        self.fc2 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> Tensor:
        x = F.relu(F.max_pool2d(self.conv1(x), 2))
        x = F.relu(F.max_pool2d(self.conv2(x), 2))
        return self.fc2(F.relu(self.fc1(x.flatten(1))))


def peer_tensors(data: ImageDataset, device: torch.device | str, *,
                 order_seed: int | None = 0) -> tuple[Tensor, Tensor]:
    """(images, labels) on ``device`` as the peer holds them: float32 (N, 1, 28, 28) normalised with
    its mean and std; shuffled once with ``order_seed`` (None: the stored order), as its saved copy
    of the training set was."""
    if not isinstance(data, ImageDataset):
        raise TypeError(f"data must be an ImageDataset, got {type(data).__name__}")
    if data.images.shape[1:] != (1, 28, 28):
        raise ValueError(f"data must hold 1x28x28 digits (MNIST), got images of shape {tuple(data.images.shape)}")
    dev = as_device(device)
    images, labels = data.images, data.labels
    if order_seed is not None:
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(order_seed))
        images, labels = images[order.to(images.device)], labels[order.to(labels.device)]
    x = (images.to(dev).float() / 255 - PEER_RECIPE["mean"]) / PEER_RECIPE["std"]
    return x, labels.to(dev)


@torch.no_grad()
def _test(model: nn.Module, x: Tensor, y: Tensor, batch_size: int = 2000) -> tuple[float, float]:
    model.eval()
    loss, correct = torch.zeros((), device=x.device), torch.zeros((), device=x.device, dtype=torch.long)
    for i in range(0, len(y), batch_size):
        out = model(x[i:i + batch_size])
        loss += F.cross_entropy(out, y[i:i + batch_size], reduction="sum")
        correct += (out.argmax(1) == y[i:i + batch_size]).sum()
    model.train()
    return loss.item() / len(y), 100.0 * correct.item() / len(y)


def run_peer(train: ImageDataset, test: ImageDataset, *, device: torch.device | str = "cpu", seed: int = 0,
             epochs: float | None = None) -> History:
    """Train a fresh :class:`PeerNet` by :data:`PEER_RECIPE` (``epochs`` overrides its one epoch),
    testing on all of ``test`` after every epoch; the evaluation and the copy of the data to the
    device are not counted in the training seconds. A :class:`~cnnbook.train.History` as
    :func:`cnnbook.fit` returns, with NaN training loss and accuracy (the peer does not measure
    them, and neither does its time)."""
    check_int("seed", seed)
    epochs = check_float("epochs", PEER_RECIPE["epochs"] if epochs is None else epochs, low=0, low_open=True)
    dev = as_device(device)
    x, y = peer_tensors(train, dev)
    x_test, y_test = peer_tensors(test, dev, order_seed=None)
    torch.manual_seed(seed)
    model = PeerNet().to(dev)
    batch = PEER_RECIPE["batch_size"]
    steps_per_epoch = math.ceil(len(y) / batch)
    total = max(1, round(epochs * steps_per_epoch))
    opt = torch.optim.Adam(model.parameters(), lr=PEER_RECIPE["lr"], betas=PEER_RECIPE["betas"])
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=PEER_RECIPE["lr"], total_steps=total,
                                                cycle_momentum=False)
    history, step = History(), 0
    while step < total:
        todo = min(steps_per_epoch, total - step)
        sync(dev)
        start = time.perf_counter()
        for i in range(todo):
            loss = F.cross_entropy(model(x[i * batch:(i + 1) * batch]), y[i * batch:(i + 1) * batch])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
        sync(dev)
        seconds = time.perf_counter() - start
        step += todo
        test_loss, test_acc = _test(model, x_test, y_test)
        seen = min(len(y), todo * batch)
        history.append(train_loss=math.nan, train_acc=math.nan, test_loss=test_loss, test_acc=test_acc,
                       seconds=seconds, images_per_s=seen / seconds, fraction=todo / steps_per_epoch)
    return history
