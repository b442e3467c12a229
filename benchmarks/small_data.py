"""fit's default batch size on a small digits set (benchmarks/RESULTS.md).

    PYTHONPATH=. python benchmarks/small_data.py MNIST_DIR [EPOCHS]

LeNet5 on 1,400 real MNIST training digits (class-balanced, one subset per seed), tested on 2,000
test digits, at batch 128 (fit's old default) and at default_batch_size(1400), seeds 0, 1, 2.
"""

import json
import sys

import torch

import cnnbook as cb
from cnnbook.train import default_batch_size

root, epochs = sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 15
torch.set_num_threads(1)
train = cb.load_mnist(root, "train", download=False, verbose=False)
test = cb.load_mnist(root, "test", download=False, verbose=False).subset(2000, seed=1)
if train.source == "bundled":
    sys.exit(f"real MNIST not found in {root}")
results: dict[str, list[float]] = {}
for seed in (0, 1, 2):
    small = train.subset(1400, seed=seed)
    for batch_size in (128, default_batch_size(len(small))):
        torch.manual_seed(seed)
        h = cb.fit(cb.LeNet5(), small, test, epochs=epochs, batch_size=batch_size, seed=seed, progress=False,
                   device="cpu")
        results.setdefault(f"{epochs} epochs, batch {batch_size}", []).append(round(h.test_acc[-1], 2))
print(json.dumps(results))
