"""``python -m cnnbook bench``: the usual PyTorch training loop against cnnbook's, in one process.

Both train the same network -- :class:`~cnnbook.models.LeNet5`, the 44,426-parameter ReLU /
max-pool variant for 28x28 digits -- on the same MNIST data:

* **baseline**, the loop of countless tutorials: torchvision's ``MNIST`` with
  ``ToTensor()`` + ``Normalize((0.5,), (0.5,))``, a ``DataLoader`` (batch 64, shuffled), Adam at
  lr 1e-3, 10 epochs;
* **cnnbook fast**: :func:`cnnbook.fit` with :data:`cnnbook.recipes.FAST` (a short one-cycle
  schedule; :data:`~cnnbook.recipes.GPU_FAST` on a GPU);
* **cnnbook 10-epoch**: :func:`cnnbook.fit` with :data:`cnnbook.recipes.LONG` for ``--epochs`` epochs;
* **peer**, the fastest published script we know: tuomaso/train_mnist_fast's final recipe
  (:mod:`cnnbook.peer`), raced against "cnnbook fast" over ``--seeds`` seeds on the same device
  (``--skip-peer`` leaves it out).

Every run is tested after every epoch (evaluation time excluded from the training seconds), so
each has a time to 99.0% test accuracy. The table shows images per second, training seconds, the
time to 99.0% and the final accuracy. On a CUDA GPU the bench also times AlexNetCIFAR training
(images per second on random data, after a warm-up) -- always with ``--gpu-alexnet``.
``--quick`` runs everything on a small subset for one or two epochs, in seconds (for tests).
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn.functional as F

from ._checks import sync
from .data import ImageDataset
from .models import AlexNetCIFAR, LeNet5
from .peer import run_peer
from .recipes import FAST, GPU_FAST, LONG, choose_device, load_data
from .runtime import hardware
from .settings import Settings
from .tables import Table
from .train import History, cpu_has_bf16, fit

__all__ = ["run_baseline", "run_cnnbook", "alexnet_throughput", "ALEXNET_THROUGHPUT", "results_table",
           "add_arguments", "bench_command"]

# AlexNetCIFAR's throughput: epochs over random images at a large batch (the first epoch warms up)
ALEXNET_THROUGHPUT = Settings(epochs=3, batch_size=512, seed=0)


# ----------------------------------------------------------------------------- the baseline


class _TensorMNIST(torch.utils.data.Dataset):
    """MNIST held in tensors, served like torchvision's ``MNIST``: each item a PIL image through
    ``transform``, and an int label. Used when torchvision's files are not in the data root (the
    bundled subset, --quick)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor, transform: Callable[[Any], Any]) -> None:
        self.images, self.labels, self.transform = images[:, 0].numpy(), labels.tolist(), transform

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[Any, int]:
        from PIL import Image

        return self.transform(Image.fromarray(self.images[i], mode="L")), self.labels[i]


def _baseline_data(root: str | None, train_ds: ImageDataset, test_ds: ImageDataset,
                   quick: bool) -> tuple[Any, Any, str]:
    """(train, test, description): torchvision's MNIST from ``root`` if its files are there (and not
    --quick), else the same images as cnnbook's datasets, served the same way."""
    try:
        from torchvision import datasets, transforms
    except ImportError as err:
        raise RuntimeError("the bench's baseline needs torchvision: pip install torchvision") from err
    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.5,), (0.5,))])
    if not quick and root is not None and train_ds.source in ("local", "download"):
        try:
            return (datasets.MNIST(root, train=True, transform=transform, download=False),
                    datasets.MNIST(root, train=False, transform=transform, download=False),
                    "torchvision MNIST")
        except RuntimeError:
            pass  # files in a layout torchvision does not read: serve cnnbook's copy instead
    return (_TensorMNIST(train_ds.images, train_ds.labels, transform),
            _TensorMNIST(test_ds.images, test_ds.labels, transform), f"{train_ds.name} via a PIL Dataset")


def run_baseline(train: Any, test: Any, *, epochs: int = 10, device: torch.device | str = "cpu",
                 seed: int = 0) -> History:
    """The usual loop: DataLoader (batch 64, shuffle), LeNet5, Adam lr 1e-3, ``epochs`` epochs.
    ``train``/``test`` are map-style datasets of (image (1, 28, 28), label). Tested after every
    epoch; the evaluation is not counted in the training seconds."""
    dev = torch.device(device)
    torch.manual_seed(seed)
    model = LeNet5().to(dev)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    train_loader = torch.utils.data.DataLoader(train, batch_size=64, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test, batch_size=1000)
    history = History()
    for _ in range(epochs):
        model.train()
        running_loss, correct, seen = 0.0, 0, 0
        sync(dev)
        start = time.perf_counter()
        for images, labels in train_loader:
            images, labels = images.to(dev), labels.to(dev)
            optimizer.zero_grad()
            outputs = model(images)
            loss = F.cross_entropy(outputs, labels)
            loss.backward()
            optimizer.step()
            running_loss += loss.item() * labels.size(0)
            correct += (outputs.argmax(1) == labels).sum().item()
            seen += labels.size(0)
        sync(dev)
        seconds = time.perf_counter() - start
        model.eval()
        test_loss, test_correct, test_seen = 0.0, 0, 0
        with torch.no_grad():
            for images, labels in test_loader:
                images, labels = images.to(dev), labels.to(dev)
                outputs = model(images)
                test_loss += F.cross_entropy(outputs, labels, reduction="sum").item()
                test_correct += (outputs.argmax(1) == labels).sum().item()
                test_seen += labels.size(0)
        history.append(train_loss=running_loss / seen, train_acc=100 * correct / seen,
                       test_loss=test_loss / test_seen, test_acc=100 * test_correct / test_seen,
                       seconds=seconds, images_per_s=seen / seconds)
    return history


# ----------------------------------------------------------------------------- cnnbook's runs


def run_cnnbook(train: ImageDataset, test: ImageDataset | None, settings: Settings, *,
                device: torch.device | str, progress: bool = True) -> History:
    """cnnbook's :func:`~cnnbook.fit` of a fresh LeNet5 with ``settings`` (e.g.
    :data:`~cnnbook.recipes.FAST`, :data:`~cnnbook.recipes.LONG` or :data:`~cnnbook.recipes.GPU_FAST`),
    the model made after seeding torch with the settings' seed."""
    if settings.seed is not None:
        torch.manual_seed(settings.seed)
    return fit(LeNet5(), train, test, settings, device=device, progress=progress)


def alexnet_throughput(*, device: torch.device | str = "cuda", n: int = 50_000,
                       settings: Settings = ALEXNET_THROUGHPUT, progress: bool = False) -> float:
    """Training images per second of :class:`~cnnbook.models.AlexNetCIFAR` through :func:`cnnbook.fit`
    with ``settings`` on ``n`` random, non-zero 3x32x32 images: the fastest epoch after the first
    (the warm-up)."""
    g = torch.Generator().manual_seed(0)
    images = torch.randint(1, 256, (n, 3, 32, 32), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (n,), generator=g)
    data = ImageDataset(images, labels, tuple(str(i) for i in range(10)), "random images", "stand-in",
                        (0.5, 0.5, 0.5), (0.29, 0.29, 0.29))
    history = fit(AlexNetCIFAR(), data, None, settings, device=device, progress=progress)
    return max(history.images_per_s[1:] or history.images_per_s)


# ----------------------------------------------------------------------------- the table


def _row(name: str, h: History) -> dict[str, Any]:
    return {
        "run": name,
        "epochs": h.epochs_done,
        "images_per_s": h.mean_images_per_s,
        "train_seconds": h.train_seconds,
        "time_to_99": h.time_to(99.0),
        "final_acc": h.test_acc[-1] if len(h) else math.nan,
        "history": h.as_dict(),
    }


def results_table(rows: list[dict[str, Any]]) -> Table:
    """The bench's table, one line per run (plain text when printed)."""
    header = ["run", "epochs", "images/s", "train s", "time to 99.0%", "final acc %"]
    body = [[r["run"], f"{r['epochs']:.3g}", f"{r['images_per_s']:,.0f}", f"{r['train_seconds']:.2f}",
             f"{r['time_to_99']:.2f} s" if r["time_to_99"] is not None else "not reached", f"{r['final_acc']:.2f}"]
            for r in rows]
    return Table(header, body)


def _no_nan(x: Any) -> Any:
    """``x`` with every NaN float replaced by None (JSON has no NaN)."""
    if isinstance(x, float) and math.isnan(x):
        return None
    if isinstance(x, dict):
        return {k: _no_nan(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_no_nan(v) for v in x]
    return x


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The bench's command-line options."""
    parser.add_argument("--data-root", default=None, help="data folder holding MNIST (torchvision's layout)")
    parser.add_argument("--epochs", type=int, default=10,
                        help="epochs of the baseline and the long cnnbook run (default 10)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda if available)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true", help="a small subset and 1-2 epochs: seconds (a smoke test)")
    parser.add_argument("--json", default=None, metavar="FILE", help="write the results to FILE as JSON")
    parser.add_argument("--gpu-alexnet", action="store_true", help="also time AlexNetCIFAR (always done on CUDA)")
    parser.add_argument("--compile", action="store_true", help="torch.compile AlexNetCIFAR for its timing")
    parser.add_argument("--skip-baseline", action="store_true", help="run cnnbook's loops only")
    parser.add_argument("--skip-peer", action="store_true", help="leave out the peer (tuomaso/train_mnist_fast)")
    parser.add_argument("--seeds", type=int, default=3, help="seeds of the race to 99.0%%: cnnbook fast vs the peer")
    parser.add_argument("--no-progress", action="store_true", help="no progress bars")


def _machine(dev: torch.device) -> str:
    machine = hardware(dev) if dev.type == "cpu" else f"{hardware(dev)}; {torch.get_num_threads()} CPU threads"
    if dev.type == "cpu":
        machine += f"; bf16 autocast: {'yes' if cpu_has_bf16() else 'no'}"
    return machine


def _lenet_rows(args: argparse.Namespace, dev: torch.device, train: ImageDataset,
                test: ImageDataset) -> tuple[list[dict[str, Any]], dict[str, Settings]]:
    """The table's rows: the baseline (unless --skip-baseline), cnnbook fast, cnnbook N-epoch; and
    the settings of the last two."""
    progress = not args.no_progress
    rows = []
    if not args.skip_baseline:
        base_train, base_test, how = _baseline_data(args.data_root, train, test, args.quick)
        base_epochs = 1 if args.quick else args.epochs
        print(f"baseline: {how}, DataLoader batch 64, Adam 1e-3, {base_epochs} epoch(s) ...", flush=True)
        rows.append(_row("baseline (usual loop)", run_baseline(base_train, base_test, epochs=base_epochs,
                                                               device=dev, seed=args.seed)))
        print(results_table(rows[-1:]), flush=True)
    fast = replace(GPU_FAST if dev.type == "cuda" else FAST, seed=args.seed)
    if dev.type == "cuda":  # warm up CUDA, cuDNN and the allocator, so the timed runs measure training
        run_cnnbook(train.subset(min(4096, len(train))), None, replace(fast, epochs=1, seed=0), device=dev,
                    progress=False)
    fast = replace(fast, epochs=1) if args.quick else fast
    print(f"cnnbook fast: {fast.epochs:g} epochs ...", flush=True)
    rows.append(_row("cnnbook fast", run_cnnbook(train, test, fast, device=dev, progress=progress)))
    long = replace(LONG, epochs=2 if args.quick else args.epochs, seed=args.seed)
    print(f"cnnbook {long.epochs}-epoch ...", flush=True)
    rows.append(_row(f"cnnbook {long.epochs}-epoch", run_cnnbook(train, test, long, device=dev, progress=progress)))
    return rows, {"fast": fast, "long": long}


def _race(args: argparse.Namespace, dev: torch.device, train: ImageDataset, test: ImageDataset,
          fast: Settings, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """LeNet-5 by "cnnbook fast" against the peer, each trained with seeds ``--seed`` onwards
    (``--seeds`` of them) on ``dev``; the peer's first run joins the table (``rows``)."""
    if args.seeds < 1:
        raise ValueError(f"--seeds must be >= 1, got {args.seeds}")
    seeds = list(range(args.seed, args.seed + args.seeds))
    if dev.type == "cuda":  # warm up the peer's kernels too, as the cnnbook runs were
        run_peer(train.subset(min(4096, len(train))), test, device=dev)
    print(f"peer (tuomaso/train_mnist_fast's recipe), seeds {seeds} ...", flush=True)
    peer = [run_peer(train, test, device=dev, seed=s) for s in seeds]
    rows.append(_row("peer train_mnist_fast", peer[0]))
    ours = [History.from_dict(next(r for r in rows if r["run"] == "cnnbook fast")["history"])]
    ours += [run_cnnbook(train, test, replace(fast, seed=s), device=dev, progress=False) for s in seeds[1:]]
    return {"seeds": seeds, "cnnbook fast (LeNet-5)": _spread(ours), "peer train_mnist_fast": _spread(peer)}


def _spread(histories: list[History]) -> dict[str, Any]:
    """Times to 99.0% (None: not reached) and final accuracies of runs over seeds, with the mean,
    smallest and largest time of those that reached it."""
    times = [h.time_to(99.0) for h in histories]
    reached = [t for t in times if t is not None]
    finals = [h.test_acc[-1] for h in histories]
    return {"time_to_99": times, "final_acc": finals, "reached": len(reached),
            "mean_s": statistics.fmean(reached) if reached else None,
            "min_s": min(reached, default=None), "max_s": max(reached, default=None)}


def _race_table(race: dict[str, Any]) -> str:
    """The race to 99.0%: one line per contender."""
    n = len(race["seeds"])
    lines = [f"Race to 99.0% test accuracy, seeds {race['seeds'][0]}-{race['seeds'][-1]}, same device "
             f"(training seconds: mean and range of the runs that reached it):"]
    for name, r in race.items():
        if name == "seeds":
            continue
        t = (f"{r['mean_s']:.2f} s ({r['min_s']:.2f}-{r['max_s']:.2f})" if r["reached"] else "not reached")
        accs = r["final_acc"]
        lines.append(f"  {name:<26} {r['reached']}/{n} reached: {t:<22} final acc {statistics.fmean(accs):.2f}% "
                     f"({min(accs):.2f}-{max(accs):.2f})")
    return "\n".join(lines)


def _summary(rows: list[dict[str, Any]], extra: dict[str, Any], skip_baseline: bool) -> None:
    """Print the speed-up to 99.0% and the AlexNetCIFAR throughput; record the speed-up in ``extra``."""
    fast_row = next(r for r in rows if r["run"] == "cnnbook fast")
    if not skip_baseline and fast_row["time_to_99"] is not None:
        base = rows[0]
        ratio = base["train_seconds"] / fast_row["time_to_99"]
        extra["speedup_to_99"] = ratio
        print(f"cnnbook fast reached 99.0% in {fast_row['time_to_99']:.2f} s: 1/{ratio:.1f} of the baseline's "
              f"{base['train_seconds']:.1f} s of training (target: 1/10 or less).")
    if "alexnet_cifar_images_per_s" in extra:
        print(f"AlexNetCIFAR training: {extra['alexnet_cifar_images_per_s']:,.0f} images/s")


def bench_command(args: argparse.Namespace) -> int:
    """Run the bench with parsed arguments; print the table; return the exit status."""
    if args.epochs < 1:
        raise ValueError(f"--epochs must be >= 1, got {args.epochs}")
    dev = choose_device(args.device)
    train, test = load_data("mnist", args.data_root, quick=args.quick)
    machine = _machine(dev)
    print(f"Bench on {machine}")
    print(f"Data: {train.name} ({train.source}), {len(train):,} train / {len(test):,} test images")
    rows, ran = _lenet_rows(args, dev, train, test)
    extra: dict[str, Any] = {} if args.skip_peer else {"race_to_99": _race(args, dev, train, test, ran["fast"], rows)}
    if dev.type == "cuda" or args.gpu_alexnet:
        n = 4096 if args.quick else 50_000
        print(f"AlexNetCIFAR throughput on {n:,} random images ...", flush=True)
        settings = replace(ALEXNET_THROUGHPUT, epochs=2 if args.quick else ALEXNET_THROUGHPUT.epochs,
                           compile=args.compile)
        extra["alexnet_cifar_images_per_s"] = alexnet_throughput(device=dev, n=n, settings=settings)
    print()
    print(f"Machine: {machine}")
    print(results_table(rows))
    _summary(rows, extra, args.skip_baseline)
    if "race_to_99" in extra:
        print(_race_table(extra["race_to_99"]))
    if args.json:
        path = Path(args.json)
        path.parent.mkdir(parents=True, exist_ok=True)
        record = {
            "machine": machine, "device": str(dev), "torch": torch.__version__, "threads": torch.get_num_threads(),
            "dataset": train.name, "data_source": train.source, "train_size": len(train), "test_size": len(test),
            "quick": bool(args.quick), "recipes": {k: asdict(v) for k, v in ran.items()}, "rows": rows, **extra,
        }
        path.write_text(json.dumps(_no_nan(record), indent=2))
        print(f"Wrote {path}")
    return 0
