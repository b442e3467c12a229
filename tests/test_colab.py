"""The Colab edition (colab/, made by `make colab` from book/): up to date, readable before it runs, and it runs.

Colab has no MyST, and a reader there reads a chapter before pressing Run all. So every chapter's
edition keeps every paragraph in Markdown, with no MyST left, the numbers printed from the book's
reference run (book/reference/<chapter>.json, written by `make book`, which must belong to the
current chapter), no prose inside code cells, solutions collapsed, and folded cells titled for
what they are. With ``CNNBOOK_COLAB_RUN=1`` (``make test`` sets it) every edition is also run, in
quick and strict mode, in a Colab-like environment: a fresh virtual environment that already has
torch and torchvision and no Jupyter Book, where the setup cell installs cnnbook from the checkout.
"""
import functools
import json
import os
import re
import shutil
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from test_book import notebooks, source

ROOT = Path(__file__).resolve().parents[1]
COLAB = ROOT / "colab"
sys.path.insert(0, str(ROOT / "scripts"))   # make_colab.py and the modules beside it

import colab_myst  # noqa: E402
import make_colab  # noqa: E402
import reference_numbers  # noqa: E402
from colab_setup import fingerprint  # noqa: E402

RUN = os.environ.get("CNNBOOK_COLAB_RUN", "").strip() not in ("", "0")

# MyST that Jupyter and Colab would show as raw text
MYST = {
    "role": re.compile(r"\{[a-z][\w:-]*\}`"),
    "directive": re.compile(r"^\s*(`{3,}|:{3,})\{", re.MULTILINE),
    "label": re.compile(r"^\([^()\s]+\)=\s*$", re.MULTILINE),
    "option": re.compile(r"^:(class|name|label|alt|width):", re.MULTILINE),
}
GLUE = re.compile(r"\{glue(?::text)?\}`([^`]+)`")
WORD = re.compile(r"[A-Za-z][A-Za-z'-]*")
SHINGLE = 4          # words in a row that make a piece of prose recognisable


@functools.cache
def edition() -> dict[Path, str]:
    return make_colab.edition()


def editions() -> list[Path]:
    return [COLAB / p.name for p in notebooks()]


def cells(path: Path, kind: str | None = None) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if kind is None or c["cell_type"] == kind]


def book_cells(path: Path, kind: str) -> list[dict]:
    return cells(ROOT / "book" / path.name, kind)


SCRIPT = re.compile(r"<script\b.*?</script>", re.S | re.I)


def myst_left(text: str) -> list[str]:
    return [f"{what}: {m.group(0)!r}" for what, rx in MYST.items() for m in rx.finditer(text)]


def numbers_cells(path: Path) -> list[dict]:
    return [c for c in cells(path, "code") if "compare_numbers([" in source(c) and not source(c).startswith(
        "#@title setup")]


def title(cell: dict) -> str | None:
    first = source(cell).splitlines()[0] if source(cell) else ""
    found = re.match(r'#@title (.*?) \{display-mode: "form"\}$', first)
    return found.group(1) if found else None


# ----------------------------------------------------------------------------- the edition is current

def test_the_committed_edition_is_up_to_date():
    wanted = edition()
    assert sorted(wanted) == sorted(COLAB.glob("*.ipynb")), "colab/ does not match book/: run `make colab`"
    stale = [p.name for p, text in wanted.items() if p.read_text() != text]
    assert not stale, f"colab/ is out of date for {stale}: run `make colab` and commit colab/"


@pytest.mark.parametrize("chapter", notebooks(), ids=lambda p: p.name)
def test_the_reference_numbers_belong_to_the_current_chapter(chapter):
    try:
        reference = reference_numbers.load(chapter)
    except reference_numbers.StaleReference as err:
        pytest.fail(str(err))
    assert reference["chapter"] == chapter.stem and reference["budget"] in ("cpu", "full")
    used = {m.rpartition(":")[0] or m for c in cells(chapter, "markdown") for m in GLUE.findall(source(c))}
    missing = sorted(used - set(reference["glue"]))
    assert not missing, f"{chapter.name}: the reference run did not glue {missing}: run `make book`"


def test_a_reference_file_of_an_older_chapter_is_refused(tmp_path):
    chapter = tmp_path / "book" / "demo.ipynb"
    chapter.parent.mkdir()
    nb = {"cells": [{"cell_type": "markdown", "source": "The value is {glue:text}`x`."},
                    {"cell_type": "code", "source": "glue('x', 1)", "outputs": []}]}
    chapter.write_text(json.dumps(nb))
    with pytest.raises(reference_numbers.StaleReference, match="no reference numbers.*make book"):
        reference_numbers.load(chapter)
    reference = {"chapter": "demo", "source_sha256": reference_numbers.source_sha256(nb), "budget": "cpu",
                 "glue": {"x": "1"}}
    reference_numbers.write(reference, reference_numbers.reference_path(chapter))
    assert reference_numbers.load(chapter)["glue"] == {"x": "1"}
    nb["cells"][0]["source"] = "The prose changed; the numbers did not: {glue:text}`x`."
    chapter.write_text(json.dumps(nb))
    assert reference_numbers.load(chapter)["glue"] == {"x": "1"}
    nb["cells"][1]["source"] = "glue('x', 2)"
    chapter.write_text(json.dumps(nb))
    with pytest.raises(reference_numbers.StaleReference, match="older version of demo.ipynb: run `make book`"):
        reference_numbers.load(chapter)


def _glue_output(name: str, plain: str, shown: bool) -> dict:
    prefix = "" if shown else "application/papermill.record/"
    return {"output_type": "display_data", "data": {prefix + "text/plain": plain},
            "metadata": {"scrapbook": {"name": name, "mime_prefix": prefix}}}


def test_reference_numbers_come_from_a_build_or_from_executed_notebooks(tmp_path):
    book, executed = tmp_path / "book", tmp_path / "executed"
    book.mkdir(), executed.mkdir()
    code = [{"cell_type": "code", "source": "cb.setup()", "outputs": []},
            {"cell_type": "code", "source": "glue('a', 0.5)\nglue('b', 'MNIST')", "outputs": []}]
    (book / "demo.ipynb").write_text(json.dumps({"cells": code}))
    run = json.loads(json.dumps(code))
    run[0]["outputs"] = [{"output_type": "stream", "name": "stdout", "text": ["Run budget: cpu (no CUDA GPU)\n"]}]
    run[1]["outputs"] = [_glue_output("a", "0.5", shown=False), _glue_output("b", "'MNIST'", shown=True)]
    (executed / "demo.ipynb").write_text(json.dumps({"cells": run}))
    found = reference_numbers.extract(book / "demo.ipynb", executed)            # nbconvert / nbclient
    assert found["glue"] == {"a": "0.5", "b": "'MNIST'"} and found["budget"] == "cpu"
    # a myst-nb build moves the glue that is not displayed into <chapter>.glue.json
    run[1]["outputs"] = [_glue_output("b", "'MNIST'", shown=True)]
    (executed / "demo.ipynb").write_text(json.dumps({"cells": run}))
    (executed / "demo.glue.json").write_text(json.dumps({"a": {"data": {"text/plain": "0.5"}}}))
    assert reference_numbers.extract(book / "demo.ipynb", executed)["glue"] == found["glue"]
    run[0]["outputs"][0]["text"] = ["Run budget: quick (CNNBOOK_QUICK=1)\n"]
    (executed / "demo.ipynb").write_text(json.dumps({"cells": run}))
    with pytest.raises(ValueError, match="quick budget"):
        reference_numbers.extract(book / "demo.ipynb", executed)
    run[1]["source"] = "glue('a', 0.25)"
    (executed / "demo.ipynb").write_text(json.dumps({"cells": run}))
    with pytest.raises(reference_numbers.StaleReference, match="another version"):
        reference_numbers.extract(book / "demo.ipynb", executed)



def test_a_chapter_the_build_took_from_its_cache_has_its_outputs_read_from_the_cache(tmp_path):
    """A later `make book` takes unchanged chapters from _build/.jupyter_cache, and myst-nb then
    writes them to _build/jupyter_execute without outputs: the numbers come from the cache."""
    import nbformat
    from jupyter_cache import get_cache
    from jupyter_cache.base import CacheBundleIn

    book, executed = tmp_path / "book", tmp_path / "_build" / "jupyter_execute" / "book"
    book.mkdir(), executed.mkdir(parents=True)
    code = [nbformat.v4.new_code_cell("cb.setup()"), nbformat.v4.new_code_cell("glue('a', 0.5)")]
    chapter = nbformat.v4.new_notebook(cells=code)
    nbformat.write(chapter, book / "demo.ipynb")
    nbformat.write(chapter, executed / "demo.ipynb")  # as myst-nb writes a cached chapter: no outputs
    with pytest.raises(ValueError, match="never printed its run budget"):  # no cache: nothing to read
        reference_numbers.extract(book / "demo.ipynb", executed)
    run = nbformat.from_dict(json.loads(json.dumps(chapter)))
    run.cells[0].outputs = [nbformat.v4.new_output("stream", name="stdout", text="Run budget: cpu (no GPU)\n")]
    run.cells[1].outputs = [nbformat.from_dict(_glue_output("a", "0.5", shown=True))]
    get_cache(str(tmp_path / "_build" / ".jupyter_cache")).cache_notebook_bundle(
        CacheBundleIn(run, str(book / "demo.ipynb")), check_validity=False)
    found = reference_numbers.extract(book / "demo.ipynb", executed)
    assert found["budget"] == "cpu" and found["glue"] == {"a": "0.5"}

# ----------------------------------------------------------------------------- readable before running

@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_no_myst_left_in_markdown(path):
    for i, cell in enumerate(cells(path, "markdown")):
        left = myst_left(source(cell))
        assert not left, f"{path.name}: Markdown cell {i} still has MyST: {left}"


def prose_words(text: str) -> list[str]:
    """The words of MyST prose, without roles, math, code and link targets."""
    text = re.sub(r"\{[a-z][\w:-]*\}`[^`]*`|`[^`]*`|\$\$.*?\$\$|\$[^$]*\$|\]\([^)]*\)", " ", text, flags=re.DOTALL)
    text = re.sub(r"^\s*(`{3,}|:{3,})\{.*$|^:\w+:.*$", " ", text, flags=re.MULTILINE)
    return [w.lower() for w in WORD.findall(text)]


def prose_in_code(path: Path, chapter: Path) -> tuple[int, int]:
    """(words of the chapter's prose found inside the edition's own code cells, words of prose)."""
    prose = [prose_words(source(c)) for c in cells(chapter, "markdown")]
    pieces = {tuple(words[i:i + SHINGLE]) for words in prose for i in range(len(words) - SHINGLE + 1)}
    authors = {source(c) for c in cells(chapter, "code")}
    inside = 0
    for cell in cells(path, "code"):
        code = "\n".join(source(cell).splitlines()[1:]) if title(cell) else source(cell)
        if code in authors:                      # the chapter's own code, folded or not
            continue
        words = [w.lower() for w in WORD.findall(code)]
        covered = {j for i in range(len(words) - SHINGLE + 1) if tuple(words[i:i + SHINGLE]) in pieces
                   for j in range(i, i + SHINGLE)}
        inside += len(covered)
    return inside, sum(map(len, prose))


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_every_paragraph_is_markdown_and_no_prose_sits_in_a_code_cell(path):
    assert len(cells(path, "markdown")) == len(book_cells(path, "markdown")) + 1, (
        f"{path.name}: every Markdown cell of the chapter should be one Markdown cell (plus the edition's note)")
    inside, total = prose_in_code(path, ROOT / "book" / path.name)
    assert total > 1000, f"{path.name}: only {total} words of prose counted"
    assert inside == 0, f"{path.name}: {inside} of {total} words of prose sit inside code cells"


def test_the_prose_count_finds_prose_in_a_code_cell(tmp_path):
    # what the edition did before: a paragraph with numbers as a folded cell that fills them in
    chapter = ROOT / "book" / "convolution.ipynb"
    paragraph = next(source(c) for c in cells(chapter, "markdown") if "glue:text" in source(c))
    nb = json.loads((COLAB / "convolution.ipynb").read_text())
    nb["cells"].append({"cell_type": "code", "source": f'cb.fill_glue(r"""{paragraph}""")', "metadata": {}})
    (tmp_path / "convolution.ipynb").write_text(json.dumps(nb))
    inside, _ = prose_in_code(tmp_path / "convolution.ipynb", chapter)
    assert inside > 0.8 * len(prose_words(paragraph))


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_the_text_prints_the_reference_numbers_and_a_folded_cell_compares_them(path):
    chapter = ROOT / "book" / path.name
    glue = reference_numbers.load(chapter)["glue"]
    in_book = [m for c in book_cells(path, "markdown") for m in GLUE.findall(source(c))]
    compared = [role for c in numbers_cells(path) for role in re.findall(r"\('([^']+)', '", source(c))]
    assert set(compared) == set(in_book), f"{path.name}: a number of the text is not compared"
    text = "\n".join(source(c) for c in cells(path, "markdown"))
    for cell in numbers_cells(path):
        assert title(cell) == make_colab.NUMBERS_TITLE and cell["metadata"]["cellView"] == "form"
        for role, printed in re.findall(r"\('([^']+)', '([^']*)'\)", source(cell)):
            name = role.rpartition(":")[0] or role
            assert name in glue and printed in text, f"{path.name}: {role} = {printed!r} is not in the text"
    note = source(cells(path, "markdown")[1])
    assert note.startswith("*Numbers in the text come from the book's reference run")


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_folded_cells_say_what_they_are_in_colab(path):
    folded = [c for c in cells(path, "code") if c["metadata"].get("cellView") == "form"]
    assert folded and title(cells(path, "code")[0]) == "setup"
    for cell in folded:
        name = title(cell)
        assert name, f"{path.name}: a folded cell without a title: {source(cell)[:80]!r}"
        assert name in make_colab.TITLES or re.fullmatch(r"solution( to exercise \d+)?", name), name
        assert "site" not in name.lower() and "hidden" not in name.lower(), name


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_every_solution_is_collapsed(path):
    book = book_cells(path, "markdown")
    dropdowns = sum(source(c).count(":class: dropdown") for c in book)
    text = "\n".join(source(c) for c in cells(path))
    assert text.count("<details><summary>") == text.count("</details>") == dropdowns
    assert "<details open" not in text
    hidden = [c for c in book_cells(path, "code")
              if {"hide-cell", "remove-cell"} & set(c.get("metadata", {}).get("tags", []))]
    folded = [c for c in cells(path, "code") if c["metadata"].get("cellView") == "form"
              and {"hide-cell", "remove-cell"} & set(c["metadata"].get("tags", []))]
    assert len(folded) == len(hidden), f"{path.name}: a cell hidden on the site is not folded in Colab"
    for cell in folded:
        if title(cell).startswith("solution"):
            assert cell["metadata"]["jupyter"]["outputs_hidden"] is True


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_the_setup_cell_installs_the_package_the_edition_was_made_with(path):
    setup = source(cells(path, "code")[0])
    pinned = json.loads(re.search(r"^CNNBOOK = (\{.*?^\})$", setup, re.MULTILINE | re.DOTALL).group(1))
    config = make_colab.load_book()
    assert pinned["source"] == f"git+{config.repo_url}@{config.branch}"
    assert pinned["fingerprint"] == fingerprint(ROOT / "cnnbook"), "the package changed: run `make colab`"
    assert not any(re.match(r"torch", need) for need in pinned["needs"])
    assert '"--no-deps"' in setup and "import cnnbook as cb" in setup and "cb.setup(" in setup


def test_the_generator_converts_myst_generically():
    cited: list[str] = []
    ctx = colab_myst.Context(
        glue=lambda role, content: {"acc:.1f": "97.5", "n": "3"}[content],
        cite=lambda keys, textual: (cited.extend(keys), "Lee et al. (1999)" if textual else "(Lee et al., 1999)")[1],
        bibliography=lambda: "- A Lee (1999). T.",
        link=lambda target: "https://o.github.io/r/book/" + target.replace(".ipynb", ".html"),
        file=lambda target: "https://raw/book/" + target,
        labels={"sec-x": ("pooling", "Section X")}, titles={"lenet5": "LeNet-5"})
    text = ("See {footcite}`k` and {footcite:t}`k`, {ref}`sec-x`, {doc}`lenet5`, {math}`x^2`,\n"
            "[there](lenet5.ipynb#top), [out](https://example.org) and ![a](images/a.png).\n\n"
            "- a list item with {glue:text}`acc:.1f`% and\n  {glue:text}`n` more\n\n"
            "| a | b |\n| --- | --- |\n| {glue:text}`n` | `{glue:text}` in code |\n\n"
            "```{admonition} Ex 1\n:class: tip\nDo it.\n```\n\n"
            "```{admonition} Solution\n:class: dropdown\nDone: {footcite}`k`.\n```\n\n"
            "```{footbibliography}\n```")
    out = colab_myst.convert(text, ctx)
    assert not myst_left(out.replace("`{glue:text}`", "")), myst_left(out)
    assert "See (Lee et al., 1999) and Lee et al. (1999), [Section X](https://o.github.io/r/book/pooling.html#sec-x)" \
        in out
    assert "[LeNet-5](https://o.github.io/r/book/lenet5.html)" in out and "$x^2$" in out
    assert "[there](https://o.github.io/r/book/lenet5.html#top), [out](https://example.org)" in out
    assert "![a](https://raw/book/images/a.png)" in out
    assert "- a list item with 97.5% and\n  3 more" in out, out
    assert "| 3 | `{glue:text}` in code |" in out, "code spans are not MyST"
    assert "> **Ex 1**\n>\n> Do it." in out
    assert "<details><summary>Solution</summary>\n\nDone: (Lee et al., 1999).\n\n</details>" in out
    assert out.endswith("- A Lee (1999). T.") and cited == ["k", "k", "k"]
    nested = ("(sec-y)=\n## Why\n\n:::{note}\nSee {ref}`sec-x` and $$a$$.\n:::\n\n"
              "````{admonition} Code\n:class: dropdown\n```python\nx = 1\n```\n````\n\n"
              "$$\nn_\\text{out}\n$$ (eq-out)")
    out = colab_myst.convert(nested, ctx)
    assert not myst_left(out), myst_left(out)
    assert out.startswith("## Why") and "> **Note**" in out
    assert "<summary>Code</summary>\n\n```python\nx = 1\n```" in out
    assert out.endswith("$$\nn_\\text{out}\n$$")
    for unknown in ("```{unknown-thing}\nx\n```", "A {kbd}`Ctrl` key."):
        with pytest.raises(NotImplementedError, match="unknown-thing|kbd"):
            colab_myst.convert(unknown, ctx)


def test_citations_are_formatted_by_the_sites_bibliography_style():
    bib = make_colab.load_book().bibliography
    assert bib.cite(["lecun1998gradient"], textual=False) == "(LeCun et al., 1998)"
    assert bib.cite(["lecun1998gradient", "krizhevsky2012imagenet"], textual=True) == (
        "LeCun et al. (1998), Krizhevsky et al. (2012)")
    listing = bib.listing(["lecun1998gradient"])
    assert listing.startswith("- Yann LeCun, Léon Bottou, Yoshua Bengio, and Patrick Haffner")
    assert "*Proceedings of the IEEE*" in listing and "https://doi.org/10.1109/5.726791" in listing


@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_links_to_the_site_name_pages_of_the_book(path):
    site = make_colab.load_book().site
    text = "\n".join(source(c) for c in cells(path))
    pages = re.findall(re.escape(site) + r"(book/[\w-]+)\.html", text)
    assert pages, f"{path.name}: no link to the site at all (the note under the title has one)"
    missing = [p for p in pages if not any((ROOT / f"{p}{ext}").exists() for ext in (".ipynb", ".md"))]
    assert not missing, f"{path.name}: links to pages the book does not have: {missing}"


# ----------------------------------------------------------------------------- a Colab-like run

# What Colab has installed (linked into the environment, as Colab's own site-packages): torch and
# torchvision, and what a Colab kernel brings. tqdm, a dependency of cnnbook, is left out on
# purpose: the setup cell must install a missing pure dependency without touching torch.
COLAB_HAS = ("torch", "torchvision", "numpy", "matplotlib", "ipywidgets", "ipykernel", "pillow")
KEPT = ("torch", "torchvision")


def requirements_of(names: tuple[str, ...]) -> set[str]:
    """``names`` and everything they need, as installed here (distribution names, normalised)."""
    from packaging.requirements import Requirement
    from packaging.utils import canonicalize_name

    seen: set[str] = set()
    todo = [canonicalize_name(n) for n in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:     # an optional need this environment lacks
            seen.discard(name)
            continue
        for req in requires:
            parsed = Requirement(req)
            if parsed.marker is None or parsed.marker.evaluate({"extra": ""}):
                todo.append(canonicalize_name(parsed.name))
    return seen


def link_distributions(names: set[str], into: Path) -> None:
    """Make ``into`` a site-packages folder with ``names`` in it: a link to each of their top-level files."""
    into.mkdir(parents=True)
    for name in names:
        dist = metadata.distribution(name)
        site = Path(str(dist.locate_file("")))
        tops = {Path(str(f)).parts[0] for f in dist.files or [] if not str(f).startswith("..")}
        assert tops, f"{name}: no RECORD to link from"
        for top in tops:
            if (site / top).exists() and not (into / top).exists():
                (into / top).symlink_to(site / top)


SNAPSHOT = """
import importlib.metadata as m, json, os, sys, sysconfig
out = {}
for name in %r:
    mod = __import__(name)
    dist = m.distribution(name)
    out[name] = [dist.version, mod.__file__, os.stat(mod.__file__).st_mtime_ns, str(dist.locate_file(""))]
own = os.listdir(sysconfig.get_paths()["purelib"])
out["own site-packages"] = sorted(p for p in own if p.split("-")[0].lower() in %r or p.startswith("nvidia"))
print(json.dumps(out))
""" % (KEPT, KEPT)


@pytest.fixture(scope="module")
def colab_like(tmp_path_factory):
    """A fresh virtual environment that has torch and torchvision (linked, as Colab's own) and no Jupyter Book."""
    import time

    root = tmp_path_factory.mktemp("colab-like")
    started = time.perf_counter()
    venv = root / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             check=True, capture_output=True, text=True).stdout.strip()
    colab_site = root / "colab-site-packages"
    link_distributions(requirements_of(COLAB_HAS), colab_site)
    (Path(purelib) / "colab_site_packages.pth").write_text(f"{colab_site}\n")
    kernel = root / "jupyter" / "kernels" / "colab-like"
    kernel.mkdir(parents=True)
    kernel.joinpath("kernel.json").write_text(json.dumps({
        "argv": [str(python), "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "Colab-like", "language": "python"}))
    # the checkout as a fresh clone has it: what `pip install <checkout>` reads
    checkout = root / "checkout"
    checkout.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        shutil.copy2(ROOT / name, checkout / name)
    shutil.copytree(ROOT / "cnnbook", checkout / "cnnbook", ignore=shutil.ignore_patterns("__pycache__"))
    print(f"Colab-like environment made in {time.perf_counter() - started:.1f} s")
    before = subprocess.run([str(python), "-c", SNAPSHOT], check=True, capture_output=True, text=True).stdout
    yield {"python": python, "jupyter": root / "jupyter", "checkout": checkout, "before": json.loads(before)}


@pytest.mark.skipif(not RUN, reason="set CNNBOOK_COLAB_RUN=1 to run the Colab edition (make test does)")
@pytest.mark.parametrize("path", editions(), ids=lambda p: p.name)
def test_the_edition_runs_in_a_colab_like_environment_and_shows_its_numbers(path, tmp_path, colab_like, monkeypatch):
    import nbformat
    from nbclient import NotebookClient

    monkeypatch.setenv("JUPYTER_PATH", str(colab_like["jupyter"]))
    monkeypatch.setenv("CNNBOOK_SOURCE", str(colab_like["checkout"]))
    monkeypatch.setenv("CNNBOOK_QUICK", "1")
    monkeypatch.setenv("CNNBOOK_STRICT", "1")
    monkeypatch.delenv("PYTHONPATH", raising=False)      # cnnbook comes from the setup cell only
    nb = nbformat.reads(path.read_text(), as_version=4)
    probe = nbformat.v4.new_code_cell(
        "import importlib.util\nprint({m: importlib.util.find_spec(m) is not None\n"
        "       for m in ('myst_nb', 'jupyter_book', 'torch')})")
    nb.cells.insert(0, probe)
    NotebookClient(nb, timeout=900, kernel_name="colab-like", resources={"metadata": {"path": str(tmp_path)}}).execute()
    assert nb.cells[0].outputs[0]["text"].strip() == "{'myst_nb': False, 'jupyter_book': False, 'torch': True}"
    compared = 0
    for cell in nb.cells[1:]:
        for out in cell.get("outputs", []):
            assert out["output_type"] != "error", f"{path.name}: a cell failed"
            for mime, data in out.get("data", {}).items():
                if mime in ("text/markdown", "text/plain", "text/html"):
                    text = data if isinstance(data, str) else "".join(data)
                    text = SCRIPT.sub("", text)  # an explorer's JavaScript is code, not prose
                    assert not myst_left(text), f"{path.name}: MyST in an output: {myst_left(text)}"
        if "compare_numbers([" in cell.source and not cell.source.startswith("#@title setup"):
            # one printed line may reach the notebook as several stream outputs: join them
            printed = "".join(o.get("text", "") for o in cell.outputs if o["output_type"] == "stream")
            shown = [printed] if printed else []
            shown += [o["data"]["text/markdown"] for o in cell.outputs if "text/markdown" in o.get("data", {})]
            assert len(shown) == 1, f"{path.name}: a paragraph's numbers were not shown: {cell.source[:200]}"
            assert "Your run gives the numbers in the text." in shown[0] or shown[0].startswith("| in the text")
            assert not re.search(r"\[[\w.]+\?\]", shown[0]), f"{path.name}: a number is missing: {shown[0]}"
            compared += 1
    assert compared == len(numbers_cells(path))
    after = subprocess.run([str(colab_like["python"]), "-c", SNAPSHOT], check=True, capture_output=True,
                           text=True).stdout
    assert json.loads(after) == colab_like["before"], "torch or torchvision was reinstalled or upgraded"
