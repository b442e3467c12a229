"""The checks of the AlexNet chapter's exercises (book/alexnet.ipynb): each runs the reader's code on
a few cases, compares it with the paper's network, and returns a
:class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from .verdict import Verdict, describe, require_function, run_cases

__all__ = ["check_alexnet_shapes", "paper_head_layers"]


@dataclass(frozen=True)
class _Case:
    num_classes: int
    p: float


_CASES = (_Case(1000, 0.5), _Case(10, 0.5), _Case(7, 0.25))
_NAMES = ("fc6", "ReLU after fc6", "dropout after fc6", "fc7", "ReLU after fc7",
          "dropout after fc7", "fc8")


def paper_head_layers(num_classes: int, p: float) -> list[tuple[str, tuple[object, ...]]]:
    """The paper's classifier, layer by layer, as (kind, settings): fc6 9216 -> 4096, ReLU,
    dropout p, fc7 4096 -> 4096, ReLU, dropout p, fc8 4096 -> num_classes (AlexNet chapter)."""
    return [("Linear", (9216, 4096)), ("ReLU", ()), ("Dropout", (p,)),
            ("Linear", (4096, 4096)), ("ReLU", ()), ("Dropout", (p,)),
            ("Linear", (4096, num_classes))]


def _layer(module: nn.Module) -> tuple[str, tuple[object, ...]]:
    """(kind, settings) of one layer of the reader's head, comparable with paper_head_layers."""
    if isinstance(module, nn.Linear):
        return "Linear", (module.in_features, module.out_features)
    if isinstance(module, nn.Dropout):
        return "Dropout", (module.p,)
    return type(module).__name__, ()


def _show(layer: tuple[str, tuple[object, ...]]) -> str:
    kind, args = layer
    if kind == "Linear":
        return f"Linear({args[0]} -> {args[1]})"
    if kind == "Dropout":
        return f"Dropout(p={args[0]})"
    return kind


def _order_hint(got: list[tuple[str, tuple[object, ...]]], at: int) -> str:
    """A second line for the commonest mistake: dropout before fc6 or fc7 (torchvision's order)."""
    if got[at][0] == "Dropout" and at + 1 < len(got) and got[at + 1][0] == "Linear":
        return ("\nthe paper drops the OUTPUTS of fc6 and fc7 (after their ReLU), not their "
                "inputs; dropout before fc6 and fc7 is torchvision's order")
    return ""


def _problem(fn: Callable[..., object], case: _Case) -> str | None:
    with torch.device("meta"):  # shapes only: no memory for 58 million weights, no initialisation
        head = fn(case.num_classes, case.p)
    if not isinstance(head, nn.Module):
        return f"your function should return an nn.Module (an nn.Sequential), got {describe(head)}"
    got = [_layer(m) for m in head.modules() if not list(m.children())]
    want = paper_head_layers(case.num_classes, case.p)
    for at, (g, w) in enumerate(zip(got, want)):
        if g != w:
            return (f"layer {at} should be {_show(w)} ({_NAMES[at]}), got {_show(g)}"
                    + _order_hint(got, at))
    if len(got) != len(want):
        extra = ", ".join(_show(g) for g in got[len(want):])
        return (f"the head should have {len(want)} layers (fc6, ReLU, dropout, fc7, ReLU, dropout, "
                f"fc8), got {len(got)}" + (f": remove {extra}" if extra else ""))
    head.eval()
    out = head(torch.empty(2, 9216, device="meta"))
    if not isinstance(out, torch.Tensor) or tuple(out.shape) != (2, case.num_classes):
        return f"a batch of 2 flattened maps (2, 9216) should give (2, {case.num_classes}), got {describe(out)}"
    return None


def check_alexnet_shapes(fn: Callable[..., object]) -> Verdict:
    """Check the reader's AlexNet classifier head, layer by layer, against the paper's.

    ``fn(num_classes, p)`` must return a module whose layers, in order, are fc6
    ``nn.Linear(9216, 4096)``, ``nn.ReLU``, ``nn.Dropout(p)``, fc7 ``nn.Linear(4096, 4096)``,
    ``nn.ReLU``, ``nn.Dropout(p)`` and fc8 ``nn.Linear(4096, num_classes)``: dropout on the
    outputs of fc6 and fc7, as in the paper. The head is built on the meta device (shapes only)
    for three settings of (num_classes, p); the verdict names the first layer that differs,
    and says so when dropout sits before fc6 or fc7 (torchvision's order). AlexNet chapter.
    """
    require_function(fn)
    return run_cases(
        "alexnet_head", "the paper's fc6-fc8 (Krizhevsky et al., 2012)", _CASES,
        lambda case: _problem(fn, case),
        describe_case=lambda c: f"alexnet_head(num_classes={c.num_classes}, p={c.p})")
