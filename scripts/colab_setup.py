"""The first cell of every chapter's Colab edition: install the cnnbook it was made for, and check it.

``make_colab.py`` copies the source of the three functions below into the cell (:func:`cell`), so
the code a reader runs is the code checked here by ruff, mypy and the tests:

* :func:`install_cnnbook` installs cnnbook from the book's repository with ``pip --no-deps``,
  so Colab's own torch and torchvision are never reinstalled or upgraded (a constraints file
  pins them as well, for the pure dependencies it installs when one is missing), then checks
  that the installed package is the one the edition was generated with, by :func:`fingerprint`,
  and says what to do when it is not;
* :func:`compare_numbers` shows, under a paragraph, this run's values of the numbers that the
  text prints from the book's reference run, where they differ.

``CNNBOOK_SOURCE`` (a pip requirement: a path or ``git+URL@ref``) makes the cell install from
elsewhere than the repository; the tests install from the checkout this way.
"""
from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any


def fingerprint(package: str | Path) -> str:
    """A short hash of the package's code: every ``.py`` and ``.js`` file under ``package``, by path."""
    import hashlib
    from pathlib import Path

    root, digest = Path(package), hashlib.sha256()
    files = sorted(p for p in root.rglob("*") if p.suffix in (".py", ".js") and "__pycache__" not in p.parts)
    for path in files:
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def install_cnnbook(edition: dict[str, Any]) -> None:
    """Install cnnbook as ``edition`` describes it, unless it is there already; check what is installed."""
    import importlib.metadata
    import importlib.util
    import os
    import subprocess
    import sys
    import tempfile

    def where() -> str | None:
        spec = importlib.util.find_spec("cnnbook")
        return None if spec is None or not spec.submodule_search_locations else list(spec.submodule_search_locations)[0]

    def present(requirement: str) -> bool:
        name = requirement.split(">")[0].split("=")[0].split("<")[0].strip()
        try:
            importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            return False
        return True

    source = os.environ.get("CNNBOOK_SOURCE") or edition["source"]
    may_install = "google.colab" in sys.modules or bool(os.environ.get("CNNBOOK_SOURCE"))
    package = where()
    if package is None and not may_install:
        raise ImportError("cnnbook is not installed: run `pip install -e .` in the repository (see README)")
    if may_install and (package is None or fingerprint(package) != edition["fingerprint"]):
        # Colab's torch and torchvision stay as they are: cnnbook comes without dependencies, and
        # whatever else pip installs must keep the installed torch and torchvision
        keep = [f"{d}=={importlib.metadata.version(d)}" for d in ("torch", "torchvision") if present(d)]
        with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as constraints:
            constraints.write("\n".join(keep) + "\n")
        pip = [sys.executable, "-m", "pip", "install", "-q", "-c", constraints.name]
        print(f"Installing cnnbook from {source} (keeping {', '.join(keep) or 'no torch'}) ...")
        subprocess.run([*pip, "--no-deps", "--force-reinstall", source], check=True)
        missing = [r for r in edition["needs"] if not present(r)]
        if missing:
            subprocess.run([*pip, *missing], check=True)
        importlib.invalidate_caches()
        package = where()
    assert package is not None
    found = fingerprint(package)
    if found != edition["fingerprint"]:
        message = (
            f"This notebook was made for cnnbook {edition['version']} with fingerprint "
            f"{edition['fingerprint']}, but the cnnbook in {package} has fingerprint {found}: the "
            "repository has changed since the notebook was made, and its cells may not run as "
            "written.\n- In Colab: open the chapter again from the book (its Colab button always "
            "opens the current notebook), then Runtime > Disconnect and delete runtime, and run "
            "all.\n- In a checkout of the repository: run `make colab`.")
        if os.environ.get("CNNBOOK_STRICT", "").strip() not in ("", "0"):
            raise RuntimeError(message)
        print(message)


def compare_numbers(numbers: list[tuple[str, str]]) -> None:
    """This run's value of each ``(name:format, value in the text)`` above, where it differs."""
    from IPython.display import Markdown, display

    import cnnbook as cb

    rows = []
    for role, printed in numbers:
        yours = str(cb.fill_glue("{glue:text}`" + role + "`"))
        if yours != printed:
            rows.append(f"| {printed} | {yours} | `{role.split(':')[0]}` |")
    if not rows:
        print("Your run gives the numbers in the text.")
        return
    display(Markdown("| in the text | your run | name in the code |\n| --- | --- | --- |\n" + "\n".join(rows)))


def cell(edition: dict[str, Any], rest: str) -> str:
    """The setup cell's code: ``edition`` (source, version, fingerprint, needs), the functions, ``rest``."""
    parts = [
        "# cnnbook, the package this chapter imports, installed from the book's repository without",
        "# touching Colab's torch and torchvision, and checked against the version this notebook was",
        "# made for. compare_numbers shows your run's numbers under the paragraphs that print them.",
        "from pathlib import Path",
        "from typing import Any",
        "",
        f"CNNBOOK = {json.dumps(edition, indent=1)}",
        "",
        *(inspect.getsource(f) for f in (fingerprint, install_cnnbook, compare_numbers)),
        "install_cnnbook(CNNBOOK)",
        rest,
    ]
    return "\n".join(parts)
