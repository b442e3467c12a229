"""Where the code runs and how long it may take: the device, the hardware, the run budget.

Every chapter starts with :func:`setup`, which prints the device and the budget, and sizes its
training runs with ``budget().pick(quick=..., cpu=..., full=...)``:

* **quick** -- ``CNNBOOK_QUICK=1`` (the test suite): seconds per chapter;
* **cpu**   -- no CUDA GPU (a laptop, CI): a few minutes per chapter;
* **full**  -- a CUDA GPU (e.g. a Colab GPU runtime): the real experiments.

``CNNBOOK_BUDGET=quick|cpu|full`` and ``CNNBOOK_DEVICE=cpu|cuda|cuda:1|mps`` override the choice.
:func:`precision` decides the mixed precision of training by what the hardware computes natively.
"""

from __future__ import annotations

import os
import platform
import re
import warnings
from dataclasses import dataclass
from typing import TypeVar

import torch

from ._checks import as_device
from ._checks import mps_available as _mps_available  # a name the tests replace

T = TypeVar("T")

BUDGETS = ("quick", "cpu", "full")

_WHY = {
    "quick": "CNNBOOK_QUICK=1: a smoke test that takes seconds",
    "cpu": "no CUDA GPU: a reduced run that takes minutes",
    "full": "a CUDA GPU: the full experiment",
}


def device() -> torch.device:
    """The device to compute on: CUDA, then Apple MPS, then CPU.

    The environment variable ``CNNBOOK_DEVICE`` (e.g. ``cpu``, ``cuda:1``) overrides the choice.
    """
    wanted = os.environ.get("CNNBOOK_DEVICE", "").strip()
    if wanted:
        return as_device(wanted, name="CNNBOOK_DEVICE")
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def hardware(dev: torch.device | None = None) -> str:
    """A one-line description of ``dev`` (default: :func:`device`), e.g. ``'CUDA: NVIDIA H100 (79 GiB)'``."""
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        props = torch.cuda.get_device_properties(dev)
        return f"CUDA GPU: {props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}"
    if dev.type == "mps":
        return f"Apple GPU (MPS), torch {torch.__version__}"
    cpu = platform.processor() or platform.machine()
    return f"CPU: {cpu}, {torch.get_num_threads()} threads, torch {torch.__version__}"


def cpu_has_bf16() -> bool:
    """True if this CPU computes in bfloat16 natively (AVX512-BF16 or AMX), where bf16 autocast pays
    (LeNet-5 chapter)."""
    checks = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    try:
        return any(getattr(torch.cpu, name, lambda: False)() for name in checks)
    except Exception:  # noqa: BLE001 -- private helpers; without them, assume no
        return False


# compute capability from which an NVIDIA GPU computes bf16 natively (Ampere, 8.0); below it
# (Volta 7.0, Turing 7.5: the T4) torch.cuda.is_bf16_supported() is True by emulation, without
# tensor-core kernels, so fp16 with a gradient scaler is the fast choice there
NATIVE_BF16_CAPABILITY = (8, 0)


@dataclass(frozen=True)
class Precision:
    """The mixed precision of training on one device: ``dtype`` the autocast dtype (None: float32),
    ``scaler`` whether fp16 needs a gradient scaler, ``reason`` why, in a few words."""

    dtype: torch.dtype | None
    scaler: bool
    reason: str

    @property
    def name(self) -> str:
        """``'bf16'``, ``'fp16'`` or ``'float32'``."""
        return "bf16" if self.dtype == torch.bfloat16 else "fp16" if self.dtype == torch.float16 else "float32"

    def __str__(self) -> str:
        scaler = " with a gradient scaler" if self.scaler else ""
        return f"{self.name}{scaler}: {self.reason}"


def precision(dev: torch.device | str | None = None) -> Precision:
    """The mixed precision :func:`cnnbook.fit` trains in on ``dev`` (default :func:`device`), by
    what the hardware computes natively (LeNet-5 chapter; :func:`setup` prints it):

    * an NVIDIA GPU of compute capability 8.0 or higher (A100, L4, H100): bf16;
    * an older one (T4 7.5, V100 7.0, P100 6.0): fp16 with a gradient scaler -- PyTorch reports
      bf16 as supported there, but only emulates it;
    * a CPU with native bf16 (:func:`cpu_has_bf16`): bf16; any other CPU, and Apple MPS: float32.
    """
    dev = device() if dev is None else torch.device(dev)
    if dev.type == "cuda":
        major, minor = torch.cuda.get_device_capability(dev)
        gpu = f"{torch.cuda.get_device_name(dev)} (compute capability {major}.{minor})"
        if (major, minor) >= NATIVE_BF16_CAPABILITY:
            return Precision(torch.bfloat16, False, f"{gpu} computes bf16 natively")
        return Precision(torch.float16, True, f"{gpu} has no native bf16")
    if dev.type == "cpu" and cpu_has_bf16():
        return Precision(torch.bfloat16, False, "this CPU computes bf16 natively (AVX512-BF16 or AMX)")
    if dev.type == "cpu":
        return Precision(None, False, "this CPU has no native bf16")
    return Precision(None, False, f"no mixed precision on {dev.type}")


@dataclass(frozen=True)
class Budget:
    """How much work a run may do: ``name`` is ``'quick'``, ``'cpu'`` or ``'full'``."""

    name: str

    def __post_init__(self) -> None:
        if self.name not in BUDGETS:
            raise ValueError(f"budget must be one of {BUDGETS}, got {self.name!r}")

    def pick(self, *, quick: T, cpu: T, full: T) -> T:
        """The value for this budget, e.g. ``budget().pick(quick=1, cpu=3, full=10)`` epochs."""
        return {"quick": quick, "cpu": cpu, "full": full}[self.name]

    @property
    def why(self) -> str:
        """Why this budget was chosen, in words."""
        return _WHY[self.name]

    def __str__(self) -> str:
        return self.name


def budget() -> Budget:
    """The run budget: quick if ``CNNBOOK_QUICK=1``, else ``CNNBOOK_BUDGET``, else full on CUDA, cpu otherwise."""
    if os.environ.get("CNNBOOK_QUICK", "").strip() not in ("", "0"):
        return Budget("quick")
    forced = os.environ.get("CNNBOOK_BUDGET", "").strip().lower()
    if forced:
        if forced not in BUDGETS:
            raise ValueError(f"CNNBOOK_BUDGET must be one of {BUDGETS}, got {forced!r}")
        return Budget(forced)
    return Budget("full" if device().type == "cuda" else "cpu")


def setup(seed: int | None = 0) -> torch.device:
    """Print the device, the hardware, the training precision and the run budget; seed torch;
    return the device.

    Chapters call this once, in their first cell.
    """
    if seed is not None:
        torch.manual_seed(seed)
    dev = device()
    b = budget()
    print(f"cnnbook on {dev} -- {hardware(dev)}")
    print(f"Training precision: {precision(dev)}")
    print(f"Run budget: {b.name} ({b.why})")
    return dev


def budget_note(*, full: str, cpu: str, quick: str) -> Budget:
    """Say aloud what this run does under the current budget and what the full run would do.

    Each argument describes the work in words, e.g. ``full="10 epochs on all 60,000 digits"``.
    """
    b = budget()
    now = b.pick(quick=quick, cpu=cpu, full=full)
    print(f"Budget {b.name}: this run does {now}.")
    if b.name != "full":
        print(f"On a CUDA GPU (budget full) it would do {full}.")
    return b


_GLUED: dict[str, object] = {}
_GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")


def glue(name: str, value: object, display: bool = False) -> None:
    """Hand ``value`` to the book's prose, where ``{glue:text}`name``` shows it (every chapter).

    The book build hands it to ``myst_nb.glue``. The value is also kept in this kernel, so that the
    Colab edition (``colab/``, where myst_nb is absent) fills in its prose with :func:`fill_glue`.
    """
    if not isinstance(name, str) or not name:
        raise TypeError(f"name must be a non-empty str, got {name!r}")
    _GLUED[name] = value
    try:
        from myst_nb import glue as _glue
    except ImportError:
        return
    _glue(name, value, display=display)


def glued(name: str) -> object:
    """The value last glued under ``name`` in this kernel (the Colab edition of every chapter)."""
    if name not in _GLUED:
        raise KeyError(f"nothing glued under {name!r} yet: run the cells above first")
    return _GLUED[name]


def _format_glued(value: object, fmt: str) -> str:
    # myst_nb's rules for {glue:text}`name:fmt`: the type character picks str, int or float
    kind = fmt[-1] if fmt else "s"
    if kind in "bcdoxX":
        value = int(value)  # type: ignore[call-overload]
    elif kind in "eEfFgGn%":
        value = float(value)  # type: ignore[arg-type]
    elif kind == "s":
        value = str(value)
    return format(value, fmt)


class GluedMarkdown(str):
    """Markdown with glued values filled in; a notebook shows it rendered."""

    def _repr_markdown_(self) -> str:
        return str(self)


def fill_glue(markdown: str) -> GluedMarkdown:
    """Replace every ``{glue:text}`name:fmt``` role in ``markdown`` by the value glued in this kernel.

    The Colab edition of every chapter renders its paragraphs with numbers this way. A value that
    was never glued fails strict runs (``CNNBOOK_STRICT=1``) and shows as ``[name?]`` to a reader.
    """
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")

    def fill(match: re.Match[str]) -> str:
        name, sep, fmt = match.group(1).rpartition(":")  # as myst_nb splits `name:fmt`
        name = name.split("::")[-1] if sep else fmt.split("::")[-1]
        fmt = fmt if sep else ""
        if name not in _GLUED:
            if strict():
                raise KeyError(f"the text uses {name!r}, which no cell above glued")
            warnings.warn(f"the text uses {name!r}, which no cell above has computed yet: "
                          "run the cells above first", stacklevel=3)
            return f"[{name}?]"
        return _format_glued(_GLUED[name], fmt)

    return GluedMarkdown(_GLUE_ROLE.sub(fill, markdown))


class ClaimError(AssertionError):
    """A sentence of the book is not borne out by this run (raised only in strict mode)."""


class ClaimWarning(UserWarning):
    """A sentence of the book is not borne out by this run (a reader's session)."""


def strict() -> bool:
    """Whether claims are enforced: ``CNNBOOK_STRICT=1``, as ``make book`` and ``make test`` set it."""
    return os.environ.get("CNNBOOK_STRICT", "").strip() not in ("", "0")


def claim(condition: object, message: str) -> None:
    """Check a statement the prose makes about this run's numbers.

    ``message`` says what the text assumes, e.g. ``"max pooling keeps more agreement than average
    pooling"``. When it does not hold, the book's build and the tests (``CNNBOOK_STRICT=1``) stop
    with :class:`ClaimError`; a reader who changed a setting gets a :class:`ClaimWarning` instead,
    and the chapter runs on. It returns nothing, so a claim that ends a cell prints nothing.
    """
    if not isinstance(message, str) or not message:
        raise TypeError(f"message must be a non-empty str, got {message!r}")
    if condition:
        return
    if strict():
        raise ClaimError(f"the text assumes {message}, but this run does not bear it out")
    warnings.warn(f"The text above assumes {message}; your run does not bear it out "
                  "(expected when you change a setting or the budget).", ClaimWarning, stacklevel=2)
