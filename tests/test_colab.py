"""The Colab edition (colab/, made by `make colab` from book/): up to date, free of MyST, and it runs.

Colab has no MyST: a reader there sees Markdown cells as Jupyter renders them. So every chapter's
edition must contain no MyST syntax, keep every solution collapsed, and show every paragraph with
glued numbers as a small folded code cell that renders it with this kernel's values. With
``CNNBOOK_COLAB_RUN=1`` (``make test`` sets it) every edition is also executed in quick, strict mode
in a kernel where myst_nb cannot be imported, and what it rendered is checked.
"""
import functools
import importlib.util
import json
import os
import re
import sys
from pathlib import Path

import pytest

from test_book import notebooks, source

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "colab"
KERNEL_PATH = Path(__file__).resolve().parent / "colab_kernel"
RUN = os.environ.get("CNNBOOK_COLAB_RUN", "").strip() not in ("", "0")

# MyST that Jupyter and Colab would show as raw text
MYST = {
    "role": re.compile(r"\{[a-z][\w:-]*\}`"),
    "directive": re.compile(r"^\s*(`{3,}|:{3,})\{", re.MULTILINE),
    "label": re.compile(r"^\([^()\s]+\)=\s*$", re.MULTILINE),
    "option": re.compile(r"^:(class|name|label|alt|width):", re.MULTILINE),
}
GLUE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")


@functools.cache
def load_generator():
    spec = importlib.util.spec_from_file_location("make_colab", ROOT / "scripts" / "make_colab.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["make_colab"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def editions() -> list[Path]:
    return [COLAB / p.name for p in notebooks()]


def cells(path: Path, kind: str) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == kind]


def myst_left(text: str) -> list[str]:
    return [f"{what}: {m.group(0)!r}" for what, rx in MYST.items() for m in rx.finditer(text)]


def glue_cells(path: Path) -> list[dict]:
    return [c for c in cells(path, "code") if "cb.fill_glue(" in source(c)]


def test_the_committed_edition_is_up_to_date():
    wanted = load_generator().edition()
    assert sorted(wanted) == sorted(COLAB.glob("*.ipynb")), "colab/ does not match book/: run `make colab`"
    stale = [p.name for p, text in wanted.items() if p.read_text() != text]
    assert not stale, f"colab/ is out of date for {stale}: run `make colab` and commit colab/"


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_no_myst_left_in_markdown(path):
    for i, cell in enumerate(cells(path, "markdown")):
        left = myst_left(source(cell))
        assert not left, f"{path.name}: Markdown cell {i} still has MyST: {left}"


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_every_solution_is_collapsed(path):
    book = json.loads((ROOT / "book" / path.name).read_text())["cells"]
    dropdowns = sum(source(c).count(":class: dropdown") for c in book if c["cell_type"] == "markdown")
    text = "\n".join(source(c) for c in json.loads(path.read_text())["cells"])
    assert text.count("<details><summary>") == text.count("</details>") == dropdowns
    assert "<details open" not in text
    hidden = [c for c in book if c["cell_type"] == "code"
              and {"hide-cell", "remove-cell"} & set(c.get("metadata", {}).get("tags", []))]
    folded = [c for c in cells(path, "code") if c["metadata"].get("cellView") == "form"
              and {"hide-cell", "remove-cell"} & set(c["metadata"].get("tags", []))]
    assert len(folded) == len(hidden), f"{path.name}: a cell hidden on the site is not folded in Colab"
    for cell in folded:
        assert source(cell).startswith("#@title "), f"{path.name}: a folded cell without a title"
        if source(cell).lower().startswith("#@title solution"):
            assert cell["metadata"]["jupyter"]["outputs_hidden"] is True


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_every_glued_value_reaches_a_rendering_cell(path):
    book = json.loads((ROOT / "book" / path.name).read_text())["cells"]
    in_book = [m for c in book if c["cell_type"] == "markdown" for m in GLUE.findall(source(c))]
    in_colab = [m for c in glue_cells(path) for m in GLUE.findall(source(c))]
    assert sorted(in_colab) == sorted(in_book)
    for cell in glue_cells(path):
        assert cell["metadata"]["cellView"] == "form" and source(cell).startswith("#@title ")


def test_the_generator_converts_myst_generically():
    mc = load_generator()
    book = mc.Book(site="https://o.github.io/r/", raw="https://raw/", repo_url="https://github.com/o/r",
                   branch="main", bib={"k": {"surnames": '["Lee", "Kim", "Park"]', "names": '["A Lee"]',
                                             "year": "1999", "title": "T"}},
                   labels={"sec-x": ("book/pooling", "Section X")}, titles={"book/lenet5": "LeNet-5"})
    page = mc.Page("here")
    text = ("See {footcite}`k` and {footcite:t}`k`, {ref}`sec-x`, {doc}`lenet5`, {math}`x^2`,\n"
            "[there](lenet5.ipynb#top) and ![a](images/a.png).\n\n"
            "```{admonition} Ex 1\n:class: tip\nDo it.\n```\n\n"
            "```{admonition} Solution\n:class: dropdown\nDone: {footcite}`k`.\n```\n\n"
            "```{figure} images/f.png\n:name: fig-f\nThe caption.\n```\n\n"
            "```{footbibliography}\n```")
    out = "\n\n".join(mc.convert(b, book, page) for b in mc.split_blocks(text))
    assert not myst_left(out), myst_left(out)
    assert "(Lee et al., 1999)" in out and "Lee et al. (1999)" in out
    assert "[Section X](https://o.github.io/r/book/pooling.html#sec-x)" in out
    assert "[LeNet-5](https://o.github.io/r/book/lenet5.html)" in out and "$x^2$" in out
    assert "(https://o.github.io/r/book/lenet5.html#top)" in out and "(https://raw/book/images/a.png)" in out
    assert "> **Ex 1**\n>\n> Do it." in out
    assert "<details><summary>Solution</summary>\n\nDone: (Lee et al., 1999).\n\n</details>" in out
    assert "![](https://raw/book/images/f.png)\n\n*The caption.*" in out
    assert "- A Lee (1999). T." in out
    nested = ("(sec-y)=\n## Why\n\n:::{note}\nSee {ref}`sec-x` and $$a$$.\n:::\n\n"
              "````{admonition} Code\n:class: dropdown\n```python\nx = 1\n```\n````\n\n"
              "$$\nn_\\text{out}\n$$ (eq-out)")
    out = "\n\n".join(mc.convert(b, book, page) for b in mc.split_blocks(nested))
    assert not myst_left(out), myst_left(out)
    assert "> **Note**" in out and "<summary>Code</summary>\n\n```python\nx = 1\n```" in out
    assert out.endswith("$$\nn_\\text{out}\n$$")
    cells = mc.markdown_cells({"source": "Text.\n\n```{glue:figure} fig_demo\nThe caption.\n```"},
                              book, page, "c")
    assert [c["cell_type"] for c in cells] == ["markdown", "code", "markdown"]
    assert "cb.glued('fig_demo')" in cells[1]["source"] and cells[2]["source"] == "The caption."
    with pytest.raises(NotImplementedError, match="unknown-thing"):
        mc.convert("```{unknown-thing}\nx\n```", book, page)


# ----------------------------------------------------------------------------- running the edition

@pytest.fixture()
def colab_kernel_env(monkeypatch):
    # what the kernel inherits: quick and strict, and myst_nb blocked by tests/colab_kernel/sitecustomize.py
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    monkeypatch.setenv("CNNBOOK_STRICT", "1")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join([str(KERNEL_PATH), str(ROOT), os.environ.get("PYTHONPATH", "")]))


@pytest.mark.skipif(not RUN, reason="set CNNBOOK_COLAB_RUN=1 to execute the Colab edition (make test does)")
@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_the_edition_runs_without_myst_nb_and_shows_its_numbers(path, tmp_path, colab_kernel_env):
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.reads(path.read_text(), as_version=4)
    probe = nbformat.v4.new_code_cell(
        "import importlib, sys\ntry:\n    importlib.import_module('myst_nb')\nexcept ImportError:\n"
        "    print('myst_nb: not importable')\nelse:\n    raise AssertionError('myst_nb is importable')")
    nb.cells.insert(0, probe)
    NotebookClient(nb, timeout=900, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == "myst_nb: not importable"
    rendered = 0
    for cell in nb.cells[1:]:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: a cell failed"
            for mime, data in out.get("data", {}).items():
                if mime in ("text/markdown", "text/plain", "text/html"):
                    text = data if isinstance(data, str) else "".join(data)
                    assert not myst_left(text), f"{path.name}: MyST in an output: {myst_left(text)}"
        if "cb.fill_glue(" in cell.source:
            shown = [o["data"]["text/markdown"] for o in cell.outputs if "text/markdown" in o.get("data", {})]
            assert len(shown) == 1, f"{path.name}: a glued paragraph rendered nothing: {cell.source[:200]}"
            assert not re.search(r"\[\w+\?\]", shown[0]), f"{path.name}: a glued value is missing: {shown[0]}"
            n_roles = len(GLUE.findall(cell.source))
            assert n_roles and len(re.findall(r"\d", shown[0])) >= 1, shown[0]
            rendered += 1
    assert rendered == len(glue_cells(path))


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_links_to_the_site_name_pages_of_the_book(path):
    site = load_generator().load_book().site
    text = "\n".join(source(c) for c in json.loads(path.read_text())["cells"])
    pages = re.findall(re.escape(site) + r"(book/[\w-]+)\.html", text)
    assert pages, f"{path.name}: no link to the site at all (the banner has one)"
    missing = [p for p in pages if not any((ROOT / f"{p}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"{path.name}: links to pages the book does not have: {missing}"
