"""The checks of the LeNet-5 chapter's exercises (book/lenet5.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import nn

from .verdict import Verdict, describe, run_cases

__all__ = ["check_lenet5_shapes", "LENET5_LAYERS"]

INPUT = (2, 1, 32, 32)  # a batch of two digits padded to 32x32, as the paper fed them


@dataclass(frozen=True)
class Layer:
    """One layer of LeNet-5 as the check expects it: its output per image and its trainable
    parameters (several counts where the paper's choice and the usual simplification differ)."""

    name: str
    shapes: tuple[tuple[int, ...], ...]
    params: tuple[int, ...]
    what: str


# LeCun et al. (1998): C1 6@28x28 ... F6 84, output 10; pooling may be parameter-free (0) or the
# paper's trainable subsampling (a coefficient and a bias per map); C3 dense (16 x 6 kernels) or
# the paper's 60 connections; the output linear (850) or the paper's fixed RBF prototypes (0).
LENET5_LAYERS: tuple[Layer, ...] = (
    Layer("C1", ((6, 28, 28),), (156,), "6 convolutions 5x5 of the 1@32x32 input"),
    Layer("S2", ((6, 14, 14),), (0, 12), "2x2 subsampling of each C1 map"),
    Layer("C3", ((16, 10, 10),), (2_416, 1_516), "16 convolutions 5x5 over S2's maps"),
    Layer("S4", ((16, 5, 5),), (0, 32), "2x2 subsampling of each C3 map"),
    Layer("C5", ((120, 1, 1), (120,)), (48_120,), "120 units, each seeing all 16@5x5 of S4"),
    Layer("F6", ((84,),), (10_164,), "a fully connected layer of 84 units"),
    Layer("output", ((10,),), (850, 0), "one unit per class, 10 class scores"),
)


@dataclass
class _Seen:
    """What one run of the reader's model showed: the layers that change the data, in order."""

    layers: list[tuple[str, nn.Module, tuple[int, ...], int]] = field(default_factory=list)
    error: str = ""  # what the model raised, and in which layer
    output: object = None
    params: int = 0  # all trainable parameters of the model


def _shape_text(shape: tuple[int, ...]) -> str:
    if len(shape) == 3:
        return f"{shape[0]}@{shape[1]}x{shape[2]}"
    return " x ".join(map(str, shape)) + (" values" if len(shape) == 1 else "")


def _where(name: str) -> str:
    """'features.3' -> 'model.features[3]', '0' -> 'model[0]': how the reader reaches the layer."""
    parts = name.split(".") if name else []
    return "model" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in parts)


def _own_params(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters(recurse=False) if p.requires_grad)


def _run(model: nn.Module) -> _Seen:
    """Run ``model`` on a random (2, 1, 32, 32) batch with hooks on its innermost modules; keep
    those that change the number of values or hold parameters (activations, flatten and dropout
    are dropped)."""
    seen = _Seen(params=sum(p.numel() for p in model.parameters() if p.requires_grad))
    leaves = [(name, m) for name, m in model.named_modules()
              if not list(m.children())]
    current: list[tuple[str, nn.Module]] = []

    def before(name: str, module: nn.Module):
        def hook(mod: nn.Module, args: tuple) -> None:
            current.append((name, module))
        return hook

    def after(name: str, module: nn.Module):
        def hook(mod: nn.Module, args: tuple, out: object) -> None:
            current.pop()
            x = args[0] if args and isinstance(args[0], torch.Tensor) else None
            if not isinstance(out, torch.Tensor) or x is None:
                return
            params = _own_params(module)
            if params or out.numel() != x.numel():
                seen.layers.append((name, module, tuple(out.shape[1:]), params))
        return hook

    handles = []
    for name, m in leaves:
        handles.append(m.register_forward_pre_hook(before(name, m)))
        handles.append(m.register_forward_hook(after(name, m)))
    training = model.training
    x = torch.randn(INPUT, generator=torch.Generator().manual_seed(0))
    try:
        model.eval()
        with torch.no_grad():
            seen.output = model(x)
    except Exception as err:  # noqa: BLE001 -- reported to the learner, with the layer
        where = (f" in {_where(current[-1][0])} ({type(current[-1][1]).__name__})" if current
                 else " outside its layers (in its forward)")
        seen.error = f"your model raised {type(err).__name__}{where}: {err}"
    finally:
        for h in handles:
            h.remove()
        model.train(training)
    return seen


def _expected(layer: Layer) -> str:
    shapes = " or ".join(_shape_text(s) for s in layer.shapes)
    params = " or ".join(f"{p:,}" for p in layer.params)
    return f"LeNet-5's {layer.name} ({layer.what}) gives {shapes} per image, with {params} parameters"


def _layer_problem(seen: _Seen, number: int) -> str | None:
    """What is wrong with the reader's model at LeNet-5's layer ``number`` (0-based), or None."""
    layer = LENET5_LAYERS[number]
    if number >= len(seen.layers):
        if seen.error:
            done = (f"after {number} layer(s) that match LeNet-5's, up to "
                    f"{LENET5_LAYERS[number - 1].name}" if number else "before its first layer")
            return f"{seen.error}\n({done})"
        return (f"your model stops after {number} layer(s) that change the data: "
                f"{layer.name} is missing.\n  {_expected(layer)}")
    name, module, shape, params = seen.layers[number]
    yours = (f"your layer {number + 1}, {_where(name)} ({type(module).__name__}), gives "
             f"{_shape_text(shape)} per image, with {params:,} parameters")
    if shape not in layer.shapes or params not in layer.params:
        return f"{yours};\n  {_expected(layer)}"
    if number == len(LENET5_LAYERS) - 1:
        return _end_problem(seen)
    return None


def _end_problem(seen: _Seen) -> str | None:
    """After the output layer: nothing raised, nothing more, the output is (2, 10)."""
    if seen.error:
        return seen.error
    extra = seen.layers[len(LENET5_LAYERS):]
    if extra:
        names = ", ".join(f"{_where(n)} ({type(m).__name__})" for n, m, _, _ in extra)
        return f"after LeNet-5's output layer your model has more layers: {names}"
    if not isinstance(seen.output, torch.Tensor) or tuple(seen.output.shape) != (INPUT[0], 10):
        return (f"the model's output should be a tensor of shape ({INPUT[0]}, 10), "
                f"got {describe(seen.output)}")
    counted = sum(p for _, _, _, p in seen.layers)
    if counted != seen.params:
        return (f"your model has {seen.params:,} trainable parameters but its layers use "
                f"{counted:,}: {seen.params - counted:,} are not in any layer")
    if not bool(torch.isfinite(seen.output).all()):
        return "the model's output holds values that are not finite"
    return None


def check_lenet5_shapes(model: object) -> Verdict:
    """Check a LeNet-5 the reader built (LeNet-5 chapter), layer by layer.

    Runs ``model`` on a random batch of two 1@32x32 images (MNIST's digits padded by 2, as in the
    paper) and compares each layer that changes the data -- convolutions, pooling, linear layers;
    activations, flatten and dropout are skipped -- with LeNet-5's C1, S2, C3, S4, C5, F6 and
    output: its output shape per image and its trainable parameters. Accepted: parameter-free
    pooling or the paper's trainable subsampling; a dense C3 or the paper's partial one; C5 as a
    convolution (120@1x1) or, after flattening, a linear layer (120); a linear or an RBF output.
    The verdict names the first layer that differs, or the layer in which the model raised.
    ``cb.LeNet5Classic()`` and ``cb.LeNet5(size=32)`` pass.
    """
    if not isinstance(model, nn.Module):
        return Verdict("your LeNet-5", "LeNet-5's layers", False, 1, len(LENET5_LAYERS),
                       "check_lenet5_shapes(model)",
                       f"model should be an nn.Module (e.g. an nn.Sequential), got {describe(model)}")
    seen = _run(model)
    return run_cases(
        "your LeNet-5", "LeNet-5's layers (LeCun et al., 1998)", range(len(LENET5_LAYERS)),
        lambda i: _layer_problem(seen, i),
        describe_case=lambda i: (f"model(x), x = torch.randn{INPUT}: layer {i + 1}, "
                                 f"{LENET5_LAYERS[i].name}"))

