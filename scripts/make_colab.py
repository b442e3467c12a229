"""Make the Colab edition of the book: ``colab/<chapter>.ipynb`` from every ``book/<chapter>.ipynb``.

Run it as ``make colab`` (the only way the edition is made; ``colab/`` is never edited by hand).
``--check`` writes nothing and exits 1 when the committed edition is out of date.

Colab has no MyST and a reader there reads a chapter before running it, so:

* every Markdown cell stays a Markdown cell, its MyST turned into plain Markdown by
  ``colab_myst`` (myst-parser's markdown-it parser) and its citations formatted by ``colab_bib``
  (sphinxcontrib-bibtex's styles, pybtex);
* a number the book glues into its text (``{glue:text}`name:fmt```) is printed as the book's
  reference run computed it (``book/reference/<chapter>.json``, written by ``make book``, see
  ``reference_numbers.py``), and a note under the chapter's title says so. After the cell that
  computes the numbers of a Markdown cell comes a small folded cell, "your run's numbers", that
  shows where this run's differ;
* the first code cell becomes the setup cell of ``colab_setup``: it installs the cnnbook the
  edition was made for without touching Colab's torch, and checks it;
* code cells hidden on the site are folded (Colab's ``#@title`` form) under a title that says
  what they are: "setup", "checks (nothing to read)", "solution ...", "plotting code",
  "time estimate", "experiment code".
"""
from __future__ import annotations

import argparse
import ast
import json
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from colab_bib import Bibliography
from colab_myst import Context, convert, headings, parser
from colab_setup import cell as setup_cell
from colab_setup import fingerprint
from myst_nb.core.variables import format_plain_text
from reference_numbers import StaleReference
from reference_numbers import load as load_reference

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OUT = ROOT / "colab"

HIDDEN_TAGS = ("remove-cell", "hide-cell", "remove-input", "hide-input")
NUMBERS_TITLE = "your run's numbers"
TITLES = ("setup", "checks (nothing to read)", "plotting code", "time estimate", "experiment code", NUMBERS_TITLE)
GLUE_ROLE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")   # to find glue roles in the *book's* text (tests)
Cell = dict[str, Any]


@dataclass
class Book:
    """What the conversion needs to know about the whole book."""

    site: str                    # the published site, ending in '/'
    raw: str                     # the repository's files on the branch, ending in '/'
    repo_url: str
    branch: str
    bibliography: Bibliography
    version: str
    fingerprint: str
    needs: list[str]
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)   # label -> (page, title)
    titles: dict[str, str] = field(default_factory=dict)               # page -> title


@dataclass
class Page:
    """One chapter being converted: the works cited so far, and the numbers its text prints."""

    name: str
    glue: dict[str, str]                                   # name -> text/plain of the reference run
    cited: list[str] = field(default_factory=list)
    numbers: list[tuple[str, str]] = field(default_factory=list)   # (name:fmt, as printed), this cell


# ----------------------------------------------------------------------------- the book

def load_book() -> Book:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, branch = cfg["repository"]["url"].rstrip("/"), cfg["repository"]["branch"]
    org, repo = url.split("github.com/")[1].split("/")[:2]
    style = (cfg.get("sphinx", {}).get("config", {}) or {}).get("bibtex_default_style", "alpha")
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    needs = [d for d in project["dependencies"] if not re.match(r"torch(vision)?\b", d)]
    book = Book(site=f"https://{org}.github.io/{repo}/", raw=f"https://raw.githubusercontent.com/{org}/{repo}/{branch}/",
                repo_url=url, branch=branch, bibliography=Bibliography(ROOT / cfg["bibtex_bibfiles"][0], style),
                version=project["version"], fingerprint=fingerprint(ROOT / "cnnbook"), needs=needs)
    for path in chapters():
        text = "\n\n".join(cell_source(c) for c in read_nb(path)["cells"] if c["cell_type"] == "markdown")
        title, labels = headings(text)
        book.titles[path.stem] = title or path.stem
        book.labels.update({label: (path.stem, heading) for label, heading in labels.items()})
    intro = BOOK / "intro.md"  # the primer the chapters link to lives on the site's first page
    title, labels = headings(intro.read_text())
    book.titles[intro.stem] = title or intro.stem
    book.labels.update({label: (intro.stem, heading) for label, heading in labels.items()})
    return book


def chapters() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def read_nb(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def cell_source(cell: Cell) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def context(book: Book, page: Page) -> Context:
    """How ``colab_myst`` turns this chapter's MyST into Colab's Markdown."""

    def glue(role: str, content: str) -> str:
        name, sep, fmt = content.rpartition(":")         # as myst-nb splits `name:fmt`
        name, fmt = (name, fmt) if sep else (fmt, "")
        if "::" in name:
            raise NotImplementedError(f"{page.name}: {{{role}}}`{content}` pastes from another page")
        if name not in page.glue:
            raise KeyError(f"{page.name}: the text uses {name!r}, which the reference run did not glue: "
                           "run `make book`")
        printed = format_plain_text(page.glue[name], fmt) if role == "glue:text" else page.glue[name]
        page.numbers.append((content, printed))
        return printed

    def cite(keys: list[str], textual: bool) -> str:
        page.cited += [k for k in keys if k not in page.cited]
        return book.bibliography.cite(keys, textual)

    def link(target: str) -> str:
        path, _, anchor = target.partition("#")
        stem = Path(path).stem if path else page.name
        return f"{book.site}book/{stem}.html" + (f"#{anchor}" if anchor else "")

    def file(target: str) -> str:
        return f"{book.raw}book/{target.removeprefix('./')}"

    return Context(glue=glue, cite=cite, bibliography=lambda: book.bibliography.listing(page.cited) or
                   "*(no works cited)*", link=link, file=file, labels=book.labels, titles=book.titles)


# ----------------------------------------------------------------------------- cells

def markdown_cell(text: str, cell_id: str) -> Cell:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def code_cell(source: str, cell_id: str, metadata: dict[str, Any]) -> Cell:
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": metadata,
            "outputs": [], "source": source}


def folded(title: str, source: str, cell_id: str, metadata: dict[str, Any] | None = None,
           outputs_hidden: bool = False) -> Cell:
    """A Colab form: the source folded away under ``title`` (Jupyter: source hidden)."""
    jupyter = {"source_hidden": True, **({"outputs_hidden": True} if outputs_hidden else {})}
    meta = {**(metadata or {}), "cellView": "form", "jupyter": jupyter}
    return code_cell(f'#@title {title} {{display-mode: "form"}}\n{source}', cell_id, meta)


def python(source: str) -> ast.Module | None:
    """The cell's code, parsed; None if it is not plain Python (IPython magics)."""
    try:
        return ast.parse(source)
    except SyntaxError:
        return None


def fold_title(source: str, tags: list[str]) -> str | None:
    """What a folded cell is, in words that mean something in Colab; None: not folded."""
    if not set(tags) & set(HIDDEN_TAGS):
        return None
    first = source.lstrip().splitlines()[0] if source.strip() else ""
    if first.lower().startswith("# solution"):
        exercise = re.search(r"exercise\s+(\d+)", first, re.IGNORECASE)
        return f"solution to exercise {exercise.group(1)}" if exercise else "solution"
    if "remove-cell" in tags:
        return "checks (nothing to read)"
    tree = python(source)
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} if tree else set()
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)} if tree else set()
    if "plan_runs" in attributes:
        return "time estimate"
    return "plotting code" if "plt" in names else "experiment code"


def setup(book: Book, source: str) -> str:
    """The edition's setup cell: ``colab_setup``'s install and check, then the book cell's own code
    after the block that imports (or installs) cnnbook."""
    tree = python(source)
    assert tree is not None
    lines = source.splitlines()
    imports = [s for s in tree.body if isinstance(s, ast.Try)
               and any(isinstance(n, ast.Import) and n.names[0].name == "cnnbook" for n in ast.walk(s))]
    if not imports or imports[0].end_lineno is None:
        raise ValueError("the chapter's first code cell does not import cnnbook in a try block")
    rest = "\n".join(lines[imports[0].end_lineno:]).strip("\n")
    edition = {"source": f"git+{book.repo_url}@{book.branch}", "version": book.version,
               "fingerprint": book.fingerprint, "needs": book.needs}
    return setup_cell(edition, "import cnnbook as cb\n" + rest)


def colab_code_cell(cell: Cell, cell_id: str) -> Cell:
    source = cell_source(cell)
    tags = cell.get("metadata", {}).get("tags", [])
    metadata = {"tags": tags} if tags else {}
    title = fold_title(source, tags)
    if title is None:
        return code_cell(source, cell_id, metadata)
    return folded(title, source, cell_id, metadata, outputs_hidden=title.startswith("solution"))


def numbers_cell(numbers: list[tuple[str, str]], cell_id: str) -> Cell:
    listed = ",\n".join(f"    ({role!r}, {printed!r})" for role, printed in dict.fromkeys(numbers))
    return folded(NUMBERS_TITLE, f"compare_numbers([\n{listed},\n])", cell_id)


def glue_sites(cells: list[Cell]) -> dict[int, list[re.Pattern[str]]]:
    """For each code cell, the names it glues (an f-string name is a pattern: ``f"tl_{mode}"`` -> tl_*)."""
    sites = {}
    for i, cell in enumerate(cells):
        tree = python(cell_source(cell)) if cell["cell_type"] == "code" else None
        patterns = []
        for node in ast.walk(tree) if tree else ():
            if not (isinstance(node, ast.Call) and node.args and _called(node) == "glue"):
                continue
            name = node.args[0]
            if isinstance(name, ast.Constant) and isinstance(name.value, str):
                patterns.append(re.compile(re.escape(name.value)))
            elif isinstance(name, ast.JoinedStr):
                patterns.append(re.compile("".join(re.escape(str(v.value)) if isinstance(v, ast.Constant)
                                                   else r"\w*" for v in name.values)))
        sites[i] = patterns
    return sites


def _called(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""


def computed_after(names: list[str], index: int, sites: dict[int, list[re.Pattern[str]]]) -> int:
    """The cell after which all of ``names`` exist in the kernel (at least ``index``)."""
    after = index
    for name in names:
        gluing = [i for i, patterns in sites.items() if any(p.fullmatch(name) for p in patterns)]
        if gluing and min(gluing) > index:
            after = max(after, min(gluing))
    return after


# ----------------------------------------------------------------------------- notebooks

def banner(path: Path, book: Book, budget: str) -> str:
    site = f"{book.site}book/{path.stem}.html"
    run = "on a CPU (budget cpu)" if budget == "cpu" else f"with the run budget {budget}"
    return (f"*Numbers in the text come from the book's reference run {run}; your run prints its own below "
            f"the cells that compute them.*\n\nThis notebook is generated from `book/{path.name}` in "
            f"[the repository]({book.repo_url}) by `make colab`; the chapter is also on "
            f"[the book's site]({site}). For the full experiments choose Runtime → Change runtime type → "
            "GPU, then Runtime → Run all.")


def colab_notebook(path: Path, book: Book) -> dict[str, Any]:
    """The Colab edition of one chapter, as a notebook dict."""
    source = read_nb(path)
    reference = load_reference(path)
    sites = glue_sites(source["cells"])
    page = Page(name=path.stem, glue=reference["glue"])
    ctx = context(book, page)
    slots: list[list[Cell]] = [[] for _ in source["cells"]]
    first_code = next(i for i, c in enumerate(source["cells"]) if c["cell_type"] == "code")
    for i, cell in enumerate(source["cells"]):
        cell_id = cell.get("id") or f"cell-{i}"
        if cell["cell_type"] == "markdown":
            page.numbers = []
            slots[i].insert(0, markdown_cell(convert(cell_source(cell), ctx), cell_id))
            if page.numbers:
                names = [role.rpartition(":")[0] or role for role, _ in page.numbers]
                slots[computed_after(names, i, sites)].append(numbers_cell(page.numbers, f"{cell_id}-numbers"))
        elif i == first_code:
            slots[i].insert(0, folded("setup", setup(book, cell_source(cell)), cell_id))
        elif cell["cell_type"] == "code":
            slots[i].insert(0, colab_code_cell(cell, cell_id))
        if i == 0:
            slots[0].append(markdown_cell(banner(path, book, reference["budget"]), "colab-edition"))
    cells = [c for slot in slots for c in slot]
    for c in cells:
        c["source"] = c["source"].splitlines(keepends=True)
    metadata = {
        "accelerator": "GPU",
        "colab": {"provenance": [], "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def render(nb: dict[str, Any]) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def edition() -> dict[Path, str]:
    """Every file of the Colab edition and its text."""
    parser()                       # fail early if myst-parser is missing
    book = load_book()
    return {OUT / path.name: render(colab_notebook(path, book)) for path in chapters()}


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    arguments.add_argument("--check", action="store_true", help="write nothing; exit 1 if colab/ is out of date")
    args = arguments.parse_args(argv)
    try:
        wanted = edition()
    except StaleReference as err:
        print(f"make_colab.py: {err}", file=sys.stderr)
        return 1
    present = set(OUT.glob("*.ipynb"))
    stale = sorted({p for p, text in wanted.items() if not p.exists() or p.read_text() != text}
                   | (present - set(wanted)))
    if args.check:
        for p in stale:
            print(f"out of date: {p.relative_to(ROOT)} (run `make colab`)")
        return 1 if stale else 0
    OUT.mkdir(exist_ok=True)
    for p in present - set(wanted):
        p.unlink()
    for p, text in wanted.items():
        p.write_text(text)
    print(f"colab/: {len(wanted)} notebooks, {len(stale)} updated")
    return 0


if __name__ == "__main__":
    sys.exit(main())
