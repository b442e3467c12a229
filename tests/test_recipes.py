"""cnnbook.recipes: every recipe is a Settings instance; the short-run rule; the --device reader."""
from dataclasses import replace

import pytest
import torch

from cnnbook import recipes
from cnnbook.ablation import PAPER_RECIPE
from cnnbook.recipes import ALEXNET_CIFAR, FAST, GPU_FAST, LONG, RECIPES, SHORT_RUN, choose_device
from cnnbook.settings import Settings


def test_the_recipes_are_settings():
    for s in (FAST, LONG, GPU_FAST, ALEXNET_CIFAR, PAPER_RECIPE):
        assert isinstance(s, Settings)
    for recipe in RECIPES.values():
        assert isinstance(recipe.settings, Settings) and recipe.short in (None, FAST)
    assert LONG.shift == 2 and FAST.shift == 0 and (ALEXNET_CIFAR.crop, ALEXNET_CIFAR.flip) == (4, True)


def test_short_runs_train_with_the_short_settings():
    lenet = RECIPES["lenet5"]
    assert lenet.for_epochs(1) == replace(FAST, epochs=1)
    assert lenet.for_epochs(SHORT_RUN - 0.5) == replace(FAST, epochs=SHORT_RUN - 0.5)
    assert lenet.for_epochs(SHORT_RUN) == replace(LONG, epochs=SHORT_RUN)
    assert lenet.for_epochs(LONG.epochs) == LONG
    alexnet = RECIPES["alexnet-cifar"]  # no short settings: every run is the recipe's
    assert alexnet.for_epochs(1) == replace(ALEXNET_CIFAR, epochs=1)


def test_choose_device_reads_the_option_with_the_one_device_reader(monkeypatch):
    assert choose_device("cpu") == torch.device("cpu")
    assert choose_device(None) == recipes.default_device()
    with pytest.raises(ValueError, match="--device='gpu0' is not a device name; use cpu, cuda, cuda:N or mps"):
        choose_device("gpu0")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="--device='cuda' but no CUDA GPU is available here"):
        choose_device("cuda")
