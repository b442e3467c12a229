"""`make lint` covers every Python file of the repository, not only the package and its tests."""

from __future__ import annotations

import re
import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _python_folders() -> set[str]:
    """The top-level folders that hold tracked Python files (generated and built ones excepted)."""
    files = subprocess.run(["git", "ls-files", "*.py"], cwd=ROOT, capture_output=True, text=True,
                           check=True).stdout.split()
    return {Path(f).parts[0] for f in files if len(Path(f).parts) > 1}


def _ruff_targets() -> set[str]:
    lint = re.search(r"^lint:.*?\n((?:\t.*\n)+)", (ROOT / "Makefile").read_text(), re.M)
    assert lint, "the Makefile has no lint target"
    ruff = re.search(r"-m ruff check ([^\n]+)", lint.group(1))
    assert ruff, "make lint does not run ruff check"
    return set(ruff.group(1).split())


def test_ruff_and_mypy_cover_every_python_folder():
    folders = _python_folders()
    assert {"cnnbook", "tests", "scripts"} <= folders  # the check sees what it looks for
    mypy_files = set(tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mypy"]["files"])
    assert folders - _ruff_targets() == set(), "make lint's ruff misses these folders"
    assert folders - mypy_files == set(), "pyproject's [tool.mypy] files miss these folders"
