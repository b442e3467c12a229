"""The numbers of the book's reference run, kept beside the chapters in ``book/reference/<chapter>.json``.

The Colab edition prints the numbers of the site's build in its text, so that a reader can read a
chapter before running it. ``make book`` runs this script after building the book; it reads the
executed chapters and writes one file per chapter::

    {"chapter": "convolution",
     "source_sha256": "<sha256 of the chapter's code cells>",
     "budget": "cpu",
     "glue": {"y00": "-4.0", "n_small": "5", ...}}

``glue`` holds, for every name a chapter glues, the ``text/plain`` that myst-nb stores and formats
for ``{glue:text}`name:fmt``` (so the edition formats it exactly as the site does); ``budget`` is
the run budget the chapter printed. ``source_sha256`` names the version of the chapter the numbers
belong to: ``make colab`` refuses a file whose chapter has changed since, and so does
``tests/test_colab.py``, both saying to run ``make book``. Only code cells count: the prose does
not change the numbers.

Usage: ``python scripts/reference_numbers.py [EXECUTED] [CHAPTER ...]``, where ``EXECUTED`` is the
build's ``_build/jupyter_execute/book`` (the default; myst-nb writes ``<chapter>.ipynb`` and
``<chapter>.glue.json`` there) or any folder of executed chapters, e.g. from
``CNNBOOK_BUDGET=cpu jupyter nbconvert --to notebook --execute book/x.ipynb --output-dir DIR``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import re
import sys
from pathlib import Path
from typing import Any

import nbformat
from jupyter_cache import get_cache

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
REFERENCE = BOOK / "reference"
BUILD = ROOT / "_build" / "jupyter_execute" / "book"
# budget_note and setup print "Budget cpu: ..." / "Run budget: cpu (...)"
BUDGET = re.compile(r"\b[Bb]udget:?\s+(quick|cpu|full)\b")


class StaleReference(RuntimeError):
    """A reference file belongs to another version of its chapter (or is missing)."""


def source_sha256(notebook: dict[str, Any]) -> str:
    """The sha256 of a chapter's code cells, in order: what its numbers depend on."""
    code = [_text(c["source"]) for c in notebook["cells"] if c["cell_type"] == "code"]
    return hashlib.sha256(json.dumps(code, ensure_ascii=False).encode()).hexdigest()


def _text(source: str | list[str]) -> str:
    return source if isinstance(source, str) else "".join(source)


def glue_values(executed: dict[str, Any], glue_json: Path | None = None) -> dict[str, str]:
    """``text/plain`` of every glued name: from the cells' glue outputs and myst-nb's ``.glue.json``.

    Executed outside a build (nbconvert, nbclient), a notebook keeps its glue outputs, marked with
    ``scrapbook`` metadata; a myst-nb build moves the ones not displayed into ``<chapter>.glue.json``.
    """
    values: dict[str, str] = {}
    outputs = [o for c in executed["cells"] if c["cell_type"] == "code" for o in c.get("outputs", [])]
    found = [(o["metadata"]["scrapbook"], o["data"]) for o in outputs if "scrapbook" in o.get("metadata", {})]
    if glue_json is not None and glue_json.exists():
        found += [({"name": name, "mime_prefix": ""}, out["data"])
                  for name, out in json.loads(glue_json.read_text()).items()]
    for scrapbook, data in found:
        plain = data.get(scrapbook.get("mime_prefix", "") + "text/plain")
        if plain is None:
            raise ValueError(f"the value glued as {scrapbook['name']!r} has no text/plain form")
        values[scrapbook["name"]] = _text(plain)
    return values


def run_budget(executed: dict[str, Any]) -> str:
    """The budget the executed chapter ran under, as it printed it."""
    for cell in executed["cells"]:
        for out in cell.get("outputs", []):
            found = BUDGET.search(_text(out.get("text", "")))
            if found:
                return found.group(1)
    raise ValueError("the executed chapter never printed its run budget (cb.setup() / cb.budget_note)")


def with_cached_outputs(executed: dict[str, Any], executed_dir: Path) -> dict[str, Any]:
    """``executed`` with its outputs: myst-nb writes a chapter that it takes from the build's
    jupyter cache (unchanged code, a later build) without them, so they come from that cache."""
    if any(c.get("outputs") for c in executed["cells"] if c["cell_type"] == "code"):
        return executed
    cache = executed_dir.parent.parent / ".jupyter_cache"  # _build/.jupyter_cache
    if not cache.is_dir():
        return executed
    try:
        _, merged = get_cache(str(cache)).merge_match_into_notebook(nbformat.from_dict(executed))
    except KeyError:  # not in the cache: nothing to add
        return executed
    return dict(merged)


def extract(chapter: Path, executed_dir: Path) -> dict[str, Any]:
    """The reference numbers of ``chapter`` from its executed copy in ``executed_dir``."""
    executed_path = executed_dir / chapter.name
    if not executed_path.exists():
        raise FileNotFoundError(f"no executed {chapter.name} in {executed_dir}: build the book first (`make book`)")
    executed = with_cached_outputs(json.loads(executed_path.read_text()), executed_dir)
    wanted = source_sha256(json.loads(chapter.read_text()))
    if source_sha256(executed) != wanted:
        raise StaleReference(f"{executed_path} was executed from another version of {chapter.name}: "
                             "build the book again (`make book`)")
    budget = run_budget(executed)
    if budget == "quick":
        raise ValueError(f"{executed_path} ran with the quick budget, a smoke test: the reference run is "
                         "the book's own build (budget cpu, or full on a GPU)")
    glue = glue_values(executed, executed_dir / f"{chapter.stem}.glue.json")
    return {"chapter": chapter.stem, "source_sha256": wanted, "budget": budget, "glue": dict(sorted(glue.items()))}


def reference_path(chapter: Path) -> Path:
    return chapter.parent / "reference" / f"{chapter.stem}.json"


def write(reference: dict[str, Any], path: Path) -> None:
    path.parent.mkdir(exist_ok=True)
    path.write_text(json.dumps(reference, indent=1, ensure_ascii=False) + "\n")


def load(chapter: Path) -> dict[str, Any]:
    """The reference numbers of ``chapter``; :class:`StaleReference` if missing or of another version."""
    path = reference_path(chapter)
    if not path.exists():
        raise StaleReference(f"{chapter.name} has no reference numbers ({path.relative_to(chapter.parent.parent)}): "
                             "run `make book`")
    reference: dict[str, Any] = json.loads(path.read_text())
    if reference.get("source_sha256") != source_sha256(json.loads(chapter.read_text())):
        raise StaleReference(f"{path.relative_to(chapter.parent.parent)} belongs to an older version of "
                             f"{chapter.name}: run `make book` (it rewrites the file), then `make colab`")
    return reference


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("executed", nargs="?", type=Path, default=BUILD,
                        help="folder of executed chapters (default: the book build's _build/jupyter_execute/book)")
    parser.add_argument("chapters", nargs="*", help="chapter names (default: every book/*.ipynb)")
    args = parser.parse_args(argv)
    chapters = [BOOK / f"{Path(c).stem}.ipynb" for c in args.chapters] or sorted(BOOK.glob("*.ipynb"))
    for chapter in chapters:
        reference = extract(chapter, args.executed)
        write(reference, reference_path(chapter))
        print(f"{reference_path(chapter).relative_to(ROOT)}: {len(reference['glue'])} numbers, "
              f"budget {reference['budget']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
