"""check_lenet5_shapes: LeNet-5 built right passes; each planted mistake fails, naming its layer."""

import pytest
import torch
from torch import nn

import cnnbook as cb
from cnnbook.exercises.lenet5 import LENET5_LAYERS

torch.set_num_threads(min(2, torch.get_num_threads()))


def lenet(kernel=5, pool=True, c5=120, f6=84, output=True, c5_linear=False):
    """LeNet-5 as a reader writes it, with one thing changed."""
    def subsample():
        return nn.MaxPool2d(2) if pool else nn.Identity()

    c5_layers = ([nn.Flatten(), nn.Linear(400, c5), nn.Tanh()] if c5_linear
                 else [nn.Conv2d(16, c5, 5), nn.Tanh(), nn.Flatten()])
    layers = [nn.Conv2d(1, 6, kernel), nn.Tanh(), subsample(),
              nn.Conv2d(6, 16, 5), nn.Tanh(), subsample(),
              *c5_layers, nn.Linear(c5, f6), nn.Tanh()]
    if output:
        layers.append(nn.Linear(f6, 10))
    return nn.Sequential(*layers)


def test_the_papers_counts_add_up_to_60000():
    paper = [max(layer.params) if layer.name not in ("C3", "output") else 1_516
             for layer in LENET5_LAYERS[:-1]]
    assert sum(paper) == 60_000 == sum(cb.LeNet5Classic().paper_parameter_counts()[n]
                                       for n in ("C1", "S2", "C3", "S4", "C5", "F6"))


@pytest.mark.parametrize("model", [
    lenet(), lenet(c5_linear=True), cb.LeNet5Classic(), cb.LeNet5Classic(output="rbf"),
    cb.LeNet5(size=32), cb.LeNet5(size=32, activation="sigmoid", pool="avg"),
], ids=["sequential", "c5-linear", "classic", "classic-rbf", "LeNet5-32", "LeNet5-32-sigmoid"])
def test_lenet5_passes(model):
    verdict = cb.check_lenet5_shapes(model)
    assert verdict, str(verdict)
    assert "all 7 cases agree" in str(verdict)


@pytest.mark.parametrize("model, case, words", [
    (lenet(kernel=3), 1, ["C1", "model[0] (Conv2d)", "6@30x30", "60 parameters", "6@28x28", "156"]),
    (lenet(pool=False), 2, ["S2", "model[3] (Conv2d)", "16@24x24", "6@14x14"]),
    (lenet(c5=100), 5, ["C5", "100@1x1", "40,100 parameters", "120@1x1 or 120 values", "48,120"]),
    (lenet(f6=100), 6, ["F6", "100 values", "84 values", "10,164"]),
    (lenet(output=False), 7, ["stops after 6 layer(s)", "output is missing", "10 values"]),
])
def test_planted_mistakes_name_the_layer(model, case, words):
    verdict = cb.check_lenet5_shapes(model)
    text = str(verdict)
    assert not verdict and verdict.tried == case, text
    for w in words:
        assert w in text, f"{w!r} not in:\n{text}"


def test_a_model_that_raises_is_reported_with_its_layer():
    broken = nn.Sequential(nn.Conv2d(1, 6, 5), nn.MaxPool2d(2), nn.Linear(3, 4))
    verdict = cb.check_lenet5_shapes(broken)
    assert not verdict and verdict.tried == 3
    assert "raised RuntimeError in model[2] (Linear)" in verdict.problem
    assert "after 2 layer(s) that match LeNet-5's, up to S2" in verdict.problem


def test_the_28x28_lenet5_is_told_its_input():
    verdict = cb.check_lenet5_shapes(cb.LeNet5())
    assert not verdict and verdict.tried == 1
    assert "raised ValueError outside its layers" in verdict.problem
    assert "(N, 1, 28, 28)" in verdict.problem and "before its first layer" in verdict.problem


def test_extra_layers_and_stray_parameters_are_named():
    extra = lenet()
    extra.append(nn.Linear(10, 10))
    verdict = cb.check_lenet5_shapes(extra)
    assert not verdict and "more layers: model[12] (Linear)" in verdict.problem

    class Stray(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = lenet()
            self.scale = nn.Parameter(torch.ones(1))

        def forward(self, x):
            return self.net(x) * self.scale

    verdict = cb.check_lenet5_shapes(Stray())
    assert not verdict and "1 are not in any layer" in verdict.problem


def test_not_a_module_is_a_verdict_not_an_error():
    verdict = cb.check_lenet5_shapes(lambda x: x)
    assert not verdict and "should be an nn.Module" in str(verdict)


def test_the_model_keeps_its_mode():
    model = lenet()
    model.train()
    cb.check_lenet5_shapes(model)
    assert model.training
    assert not model._forward_hooks and not model[0]._forward_hooks
