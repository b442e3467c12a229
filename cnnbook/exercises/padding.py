"""The checks of the Padding chapter's exercises (book/padding.ipynb): each runs the reader's code on
random cases against PyTorch and returns a :class:`~cnnbook.exercises.verdict.Verdict`.

* :func:`check_output_size` -- ``fn(n, k, stride=1, padding=0, dilation=1) -> int``, the output
  size of a convolution, against the shape ``F.conv2d`` returns (and its refusals);
* :func:`check_pad2d` -- ``fn(x, pad, mode)``, padding in the modes of ``F.pad``, against ``F.pad``.

When a wrong answer matches a mistake learners often make (rounding up, forgetting dilation,
counting the padding once, a reflection that repeats the edge pixel, one mode for another), the
verdict names that mistake.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .verdict import Verdict, describe, refusal_problem, require_function, run_cases, tensor_problem

__all__ = ["check_output_size", "check_pad2d"]

PAD_MODES = ("constant", "reflect", "replicate", "circular")


# --------------------------------------------------------------------------------------------
# the output size
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class SizeCase:
    """One setting of ``fn(n, k, stride, padding, dilation)``; ``out`` is F.conv2d's answer,
    None where F.conv2d refuses the setting."""

    n: int
    k: int
    stride: int
    padding: int
    dilation: int
    out: int | None

    def call(self, name: str) -> str:
        return (f"{name}({self.n}, {self.k}, stride={self.stride}, padding={self.padding}, "
                f"dilation={self.dilation})")


def _conv2d_size(n: int, k: int, s: int, p: int, d: int) -> int | None:
    """The width F.conv2d gives an n-wide input, or None when it refuses the setting."""
    x, w = torch.zeros(1, 1, 1, n), torch.zeros(1, 1, 1, k)
    try:
        return int(F.conv2d(x, w, stride=s, padding=(0, p), dilation=(1, d)).shape[-1])
    except RuntimeError:
        return None


def size_cases(count: int = 60, seed: int = 0) -> list[SizeCase]:
    """A few plain settings, then random ones (about one in six refused by F.conv2d)."""
    plain = [(7, 3, 1, 0, 1), (7, 3, 1, 1, 1), (8, 3, 2, 1, 1), (9, 3, 1, 2, 2), (3, 5, 1, 0, 1)]
    rng = random.Random(seed)
    settings = plain + [(rng.randint(1, 30), rng.randint(1, 7), rng.randint(1, 4),
                         rng.randint(0, 3), rng.randint(1, 3)) for _ in range(count - len(plain))]
    return [SizeCase(*st, out=_conv2d_size(*st)) for st in settings]


def _size_mistake(got: int, c: SizeCase) -> str:
    """What a wrong output size most likely forgot, or "" when it matches no common mistake."""
    span = c.n + 2 * c.padding - c.dilation * (c.k - 1) - 1
    guesses = [
        (-(-span // c.stride) + 1, "it is the rounded-up quotient: PyTorch rounds down (floor)"),
        ((c.n + 2 * c.padding - c.k) // c.stride + 1,
         "it is the answer without dilation: the window spans dilation*(k-1)+1 pixels"),
        ((c.n + c.padding - c.dilation * (c.k - 1) - 1) // c.stride + 1,
         "it counts the padding once: padding is added on each side, n + 2*padding"),
        ((c.n + 2 * c.padding - c.dilation * (c.k - 1)) // c.stride + 1,
         "it misses the -1: the last window starts dilation*(k-1)+1 pixels before the end"),
    ]
    for value, why in guesses:
        if got == value:
            return f"\nlikely cause: {why}"
    return ""


def check_output_size(fn: Callable[..., object], *, cases: Sequence[SizeCase] | None = None) -> Verdict:
    """Check ``fn(n, k, stride=1, padding=0, dilation=1)``, the output size of a convolution
    along one axis, against the size ``F.conv2d`` gives, on 60 settings (input 1 to 30 pixels,
    kernel 1 to 7, stride 1 to 4, padding 0 to 3 per side, dilation 1 to 3).

    ``fn`` must return an int, and raise ValueError where the window, ``dilation*(k-1)+1``
    pixels, is larger than the padded input, as PyTorch refuses such a setting. The Padding
    chapter's exercise (book/padding.ipynb).
    """
    require_function(fn)
    name = getattr(fn, "__name__", "fn")

    def check_one(c: SizeCase) -> str | None:
        def call() -> object:
            return fn(c.n, c.k, stride=c.stride, padding=c.padding, dilation=c.dilation)

        if c.out is None:
            window = c.dilation * (c.k - 1) + 1
            return refusal_problem(call, f"a window of {window} pixels on a padded input of "
                                   f"{c.n + 2 * c.padding} (F.conv2d refuses it)")
        got = call()
        if isinstance(got, bool) or not isinstance(got, int):
            hint = " (use // for the floor)" if isinstance(got, float) else ""
            return f"the answer should be an int, got {describe(got)}{hint}"
        if got != c.out:
            return f"expected {c.out} (what F.conv2d gives), got {got}" + _size_mistake(got, c)
        return None

    return run_cases(name, "F.conv2d", size_cases() if cases is None else cases, check_one,
                     describe_case=lambda c: c.call(name))


# --------------------------------------------------------------------------------------------
# padding
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PadCase:
    """One call ``fn(x, pad, mode)``; ``refused`` when F.pad refuses it."""

    x: torch.Tensor
    pad: tuple[int, int, int, int]
    mode: str
    refused: bool = False

    def call(self, name: str) -> str:
        return f"{name}(x, pad={self.pad}, mode={self.mode!r}) with x a {describe(self.x)}"


def reference_pad(x: torch.Tensor, pad: tuple[int, int, int, int], mode: str) -> torch.Tensor:
    """``F.pad(x, pad, mode)``, also for an (H, W) image in the modes F.pad takes only in 3-D."""
    if x.dim() == 2:
        return F.pad(x[None], pad, mode=mode)[0]
    return F.pad(x, pad, mode=mode)


def _too_far(shape: Sequence[int], pad: Sequence[int], mode: str) -> bool:
    """Whether F.pad refuses ``pad`` on an image of ``shape`` in ``mode``."""
    H, W = shape[-2:]
    limit = {"reflect": (H - 1, W - 1), "circular": (H, W)}.get(mode)
    if limit is None:
        return False
    left, right, top, bottom = pad
    return max(left, right) > limit[1] or max(top, bottom) > limit[0]


def pad_cases(modes: Sequence[str] = PAD_MODES, count: int = 40, seed: int = 0) -> list[PadCase]:
    """Random images, (H, W) or (N, C, H, W), padded unevenly in each of ``modes`` in turn; every
    fifth case of reflect or circular pads one side too far and must be refused."""
    rng = random.Random(seed)
    gen = torch.Generator().manual_seed(seed)
    cases = []
    for i in range(count):
        mode = modes[i % len(modes)]
        H, W = rng.randint(2, 6), rng.randint(2, 6)
        shape = (H, W) if i % 2 == 0 else (rng.randint(1, 2), rng.randint(1, 3), H, W)
        x = torch.randn(shape, generator=gen, dtype=torch.float64)
        cap_h, cap_w = {"reflect": (H - 1, W - 1), "circular": (H, W)}.get(mode, (4, 4))
        pad = [rng.randint(0, cap_w), rng.randint(0, cap_w), rng.randint(0, cap_h),
               rng.randint(0, cap_h)]
        if i < len(modes):  # the first case of each mode: 2 on the left, 1 on the right
            pad = [min(2, cap_w), min(1, cap_w), min(1, cap_h), 0]
        refused = mode in ("reflect", "circular") and i % 5 == 4
        if refused:  # one side one pixel beyond what F.pad allows
            side = rng.randrange(4)
            pad[side] = (cap_w if side < 2 else cap_h) + 1
        cases.append(PadCase(x, (pad[0], pad[1], pad[2], pad[3]), mode, refused))
    return cases


def _symmetric(x: torch.Tensor, pad: tuple[int, int, int, int]) -> torch.Tensor | None:
    """Mirror padding that repeats the edge pixel (d c | a b c d | d c), where it exists."""
    H, W = x.shape[-2:]
    left, right, top, bottom = pad
    if max(left, right) > W or max(top, bottom) > H:
        return None
    rows = torch.cat([torch.arange(top - 1, -1, -1), torch.arange(H), torch.arange(H - 1, H - 1 - bottom, -1)])
    cols = torch.cat([torch.arange(left - 1, -1, -1), torch.arange(W), torch.arange(W - 1, W - 1 - right, -1)])
    return x.index_select(-2, rows).index_select(-1, cols)


def _pad_mistake(got: torch.Tensor, c: PadCase) -> str:
    """What a wrong padding most likely did, or "" when it matches no common mistake."""
    guesses: list[tuple[torch.Tensor | None, str]] = [
        (_symmetric(c.x, c.pad), "your reflect repeats the edge pixel (d c | a b c d); "
         "reflect leaves it out (c b | a b c d)"),
    ]
    for other in PAD_MODES:
        if other != c.mode and not _too_far(c.x.shape, c.pad, other):
            guesses.append((reference_pad(c.x, c.pad, other),
                            f"your {c.mode!r} padding gives what {other!r} padding gives"))
    left, right, top, bottom = c.pad
    if (top, bottom, left, right) != c.pad and not _too_far(c.x.shape, (top, bottom, left, right), c.mode):
        guesses.append((reference_pad(c.x, (top, bottom, left, right), c.mode),
                        "you padded the rows by (left, right) and the columns by (top, bottom): "
                        "pad is (left, right, top, bottom), the last dimension first"))
    for value, why in guesses:
        if value is not None and value.shape == got.shape and torch.allclose(value, got.double()):
            return f"\nlikely cause: {why}"
    return ""


def check_pad2d(fn: Callable[..., object], modes: Sequence[str] = PAD_MODES) -> Verdict:
    """Check ``fn(x, pad, mode)`` against ``F.pad(x, pad, mode=mode)`` on 40 random cases.

    ``x`` is an image of shape (H, W) or a batch (N, C, H, W), in float64; ``pad`` is
    ``(left, right, top, bottom)``, each 0 or more and often different, in the order ``F.pad``
    takes them (the last dimension first); ``mode`` is one of ``modes``, by default all of
    "constant" (zeros), "reflect", "replicate" and "circular" -- pass fewer to check only the
    modes you wrote. ``fn`` must return the padded tensor, and raise ValueError where ``F.pad``
    refuses: reflect padding of ``n`` or more on a side of an axis of ``n`` pixels, circular
    padding of more than ``n``. The Padding chapter's exercise (book/padding.ipynb).
    """
    require_function(fn)
    chosen = tuple(modes) if isinstance(modes, (list, tuple)) else (modes,)
    if not chosen or any(m not in PAD_MODES for m in chosen):
        raise ValueError(f"modes must be one or more of {PAD_MODES}, got {modes!r}")
    name = getattr(fn, "__name__", "fn")

    def check_one(c: PadCase) -> str | None:
        x = c.x.clone()
        if c.refused:
            rule = "n or more" if c.mode == "reflect" else "more than n"
            return refusal_problem(lambda: fn(x, c.pad, c.mode),
                                   f"{c.mode} padding of {rule} on a side of an n-pixel axis "
                                   "(F.pad refuses it)")
        got = fn(x, c.pad, c.mode)
        problem = tensor_problem(got, reference_pad(c.x, c.pad, c.mode), what="the padded image",
                                 atol=1e-12, rtol=0)
        if problem and isinstance(got, torch.Tensor):
            problem += _pad_mistake(got, c)
        if not problem and not torch.equal(x, c.x):
            problem = "your function changed its input x; pad a copy instead"
        return problem

    return run_cases(name, "F.pad", pad_cases(chosen), check_one,
                     describe_case=lambda c: c.call(name))
