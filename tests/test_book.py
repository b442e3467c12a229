"""The book's structure: every chapter in the table of contents, no outputs committed, one setup cell."""
import json
import re
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"


def toc_files() -> list[str]:
    toc = yaml.safe_load((ROOT / "_toc.yml").read_text())
    files = [toc["root"]]
    stack = list(toc.get("chapters", [])) + [c for p in toc.get("parts", []) for c in p["chapters"]]
    while stack:
        entry = stack.pop(0)
        files.append(entry["file"])
        stack.extend(entry.get("sections", []))
    return files


def config() -> dict:
    return yaml.safe_load((ROOT / "_config.yml").read_text())


def notebooks() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


def code_cells(path: Path) -> list[dict]:
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


def test_every_toc_entry_exists():
    for entry in toc_files():
        candidates = [ROOT / f"{entry}{ext}" for ext in (".ipynb", ".md")]
        assert any(p.exists() for p in candidates), f"_toc.yml names {entry}, which does not exist"


def test_no_orphan_chapters():
    listed = {str(Path(f).with_suffix("")) for f in toc_files()}
    pages = [p for p in BOOK.iterdir() if p.suffix in (".ipynb", ".md")]
    orphans = [p.name for p in pages if str(p.relative_to(ROOT).with_suffix("")) not in listed]
    assert not orphans, f"pages missing from _toc.yml: {orphans}"


def test_the_five_chapters_are_there_in_teaching_order():
    names = [Path(f).name for f in toc_files()]
    assert names[1:] == ["convolution", "padding", "pooling", "lenet5", "alexnet"]


HIDDEN_TAGS = {"remove-cell", "hide-cell", "hide-input", "remove-input"}
PAGE_WIDTH = 80  # characters of code a reader sees without scrolling sideways


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_visible_code_fits_the_page(path):
    """Cells the site shows are short lines; bookkeeping lives in hidden cells."""
    long_lines = []
    for i, cell in enumerate(code_cells(path)):
        if HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", [])):
            continue
        long_lines += [f"code cell {i}: {line[:60]}..." for line in source(cell).splitlines()
                       if len(line) > PAGE_WIDTH]
    assert not long_lines, f"{path.name}: lines over {PAGE_WIDTH} characters:\n" + "\n".join(long_lines)


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_notebook_committed_without_outputs(path):
    for i, cell in enumerate(code_cells(path)):
        assert not cell.get("outputs"), f"{path.name}: code cell {i} has outputs"
        assert cell.get("execution_count") is None, f"{path.name}: code cell {i} has an execution count"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_setup_cell_installs_from_the_configured_repository(path):
    cfg = config()["repository"]
    url = f"git+{cfg['url']}@{cfg['branch']}"
    first = code_cells(path)[0]
    text = source(first)
    assert "import cnnbook as cb" in text and "cb.setup(" in text, f"{path.name}: first cell is not the setup cell"
    installs = re.findall(r"git\+[^\s\"']+", text)
    assert installs == [url], f"{path.name}: setup cell installs {installs}, _config.yml says {url}"
    assert "google.colab" in text, f"{path.name}: the install must only happen in Colab"
    assert not re.search(r"\btorch(vision)?\b", text.split("pip")[1]), f"{path.name}: never reinstall torch"
    assert "hide-input" in first.get("metadata", {}).get("tags", []), f"{path.name}: tag the setup cell hide-input"


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_chapter_says_its_budget_aloud(path):
    code = "\n".join(source(c) for c in code_cells(path))
    assert "cb.budget_note(" in code, f"{path.name}: call cb.budget_note(...) so readers know what the full run does"


def test_launch_buttons_and_bibliography_are_configured():
    cfg = config()
    assert cfg["launch_buttons"]["colab_url"].startswith("https://colab.research.google.com")
    assert cfg["execute"]["execute_notebooks"] == "cache"
    assert cfg["only_build_toc_files"] is True
    for bib in cfg["bibtex_bibfiles"]:
        text = (ROOT / bib).read_text()
        assert "lecun1998gradient" in text and "krizhevsky2012imagenet" in text


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / "README.md").read_text()
    ci = [ln for ln in (ROOT / ".ci/run").read_text().splitlines() if ln and not ln.startswith(("#", "set ", "cd "))]
    assert ci == ["make test"]
    assert "make test" in readme and "make book" in readme


def test_requirements_pin_every_package_and_pyproject_stays_loose():
    reqs = [ln for ln in (ROOT / "requirements.txt").read_text().splitlines() if ln and not ln.startswith("#")]
    assert all("==" in ln for ln in reqs), "requirements.txt pins exact versions"
    assert "torch==2.14.1" in reqs and "torchvision==0.29.1" in reqs
    assert any(ln.startswith("jupyter-book==1.") for ln in reqs)
    pyproject = (ROOT / "pyproject.toml").read_text()
    assert '"torch>=2.2"' in pyproject and "torch==" not in pyproject


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_chapter_runs_without_the_book_toolchain(path):
    # Colab has no myst_nb: chapters glue through cnnbook.glue, which falls back to a no-op there.
    code = "\n".join(source(c) for c in code_cells(path))
    assert "myst_nb" not in code, f"{path.name}: use `from cnnbook import glue`, not myst_nb (absent in Colab)"


VISIBLE_LINES = 15  # lines of code in a cell the site shows; plumbing and plotting are hidden


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_visible_code_cells_are_short(path):
    """A cell a reader sees reads at a glance; longer code is hidden or lives in cnnbook."""
    long_cells = [f"code cell {i}: {len(source(cell).splitlines())} lines"
                  for i, cell in enumerate(json.loads(path.read_text())["cells"])
                  if cell["cell_type"] == "code"
                  and not HIDDEN_TAGS & set(cell.get("metadata", {}).get("tags", []))
                  and len(source(cell).splitlines()) > VISIBLE_LINES]
    assert not long_cells, f"{path.name}: visible cells over {VISIBLE_LINES} lines:\n" + "\n".join(long_cells)


CAPTION = re.compile(r"\*\*Figure (\d+)\.\*\*")


def image_alt(cell: dict) -> str:
    """The alt text myst-nb gives the cell's image outputs (cell metadata mystnb.image.alt)."""
    return cell.get("metadata", {}).get("mystnb", {}).get("image", {}).get("alt", "")


@pytest.mark.parametrize("path", notebooks(), ids=lambda p: p.name)
def test_figures_are_numbered_and_described(path):
    """Every figure has a numbered caption (**Figure N.**, from 1 in order) right after the cell
    that draws it, and that cell gives its image alt text saying what it shows (not a file name)."""
    cells = json.loads(path.read_text())["cells"]
    numbers, problems = [], []
    for i, cell in enumerate(cells):
        alt = image_alt(cell)
        if cell["cell_type"] == "markdown":
            found = CAPTION.match(source(cell).lstrip())
            if found:
                numbers.append(int(found.group(1)))
                if not any(image_alt(c) for c in cells[max(0, i - 3):i]):
                    problems.append(f"cell {i}: caption of Figure {found.group(1)} follows no cell "
                                    "with mystnb.image.alt in its three predecessors")
        elif alt:
            if len(alt) < 25 or re.search(r"\.(png|svg|jpe?g)$", alt):
                problems.append(f"cell {i}: alt text {alt!r} does not say what the figure shows")
            if not any(CAPTION.match(source(c).lstrip()) for c in cells[i + 1:i + 4]
                       if c["cell_type"] == "markdown"):
                problems.append(f"cell {i}: a figure with alt text but no **Figure N.** caption "
                                "in the next three cells")
    if numbers != list(range(1, len(numbers) + 1)):
        problems.append(f"figure numbers {numbers} are not 1, 2, 3, ... in order")
    assert numbers, f"{path.name}: no **Figure N.** captions"
    assert not problems, f"{path.name}:\n" + "\n".join(problems)
