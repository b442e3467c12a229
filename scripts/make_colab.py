"""Make the Colab edition of the book: ``colab/<chapter>.ipynb`` from every ``book/<chapter>.ipynb``.

Run it as ``make colab`` (the only way the edition is made; ``colab/`` is never edited by hand).
``--check`` writes nothing and exits 1 when the committed edition is out of date.

Colab has no MyST, so the generator turns every MyST construct into plain Jupyter Markdown:

* admonitions become blockquotes with a bold title; ``:class: dropdown`` ones (the solutions)
  become ``<details><summary>Title</summary> ... </details>``, collapsed until clicked;
* ``{footcite}`` becomes "(LeCun et al., 1998)", ``{footcite:t}`` "LeCun et al. (1998)", and
  ``{footbibliography}`` the list of the works the chapter cites, from ``book/references.bib``;
* ``{doc}``, ``{ref}``, labels and links to other chapters become links to the published site;
  images point at the repository; ``{math}`` becomes ``$...$``; figure and table directives become
  an image or a table with its caption;
* a paragraph that shows glued numbers (``{glue:text}`name:fmt```) becomes a small code cell,
  its source folded away (Colab's ``#@title`` form), that renders the paragraph as Markdown with
  the values this kernel computed (``cnnbook.fill_glue``);
* code cells hidden on the site (setup, solutions, bookkeeping) stay code cells, so that they run,
  with their source folded away under a title.
"""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BOOK = ROOT / "book"
OUT = ROOT / "colab"

ADMONITIONS = {"admonition", "note", "tip", "hint", "important", "warning", "caution", "attention",
               "danger", "error", "seealso"}
FENCE = re.compile(r"^(?P<fence>`{3,}|:{3,})\{(?P<name>[\w:-]+)\}[ \t]*(?P<arg>.*)$")
ROLE = re.compile(r"\{(?P<name>[a-z][\w:-]*)\}`(?P<body>[^`]*)`")
LABEL = re.compile(r"^\((?P<label>[^()\s]+)\)=[ \t]*$", re.MULTILINE)
GLUE_ROLES = ("glue", "glue:text")
HIDDEN_TAGS = ("remove-cell", "hide-cell", "remove-input", "hide-input")


@dataclass
class Book:
    """What the conversion needs to know about the whole book."""

    site: str                    # the published site, ending in '/'
    raw: str                     # the repository's files on the branch, ending in '/'
    repo_url: str
    branch: str
    bib: dict[str, dict[str, str]]
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)   # label -> (page, title)
    titles: dict[str, str] = field(default_factory=dict)               # page -> title


@dataclass
class Page:
    """One chapter being converted: its name and the works it has cited so far."""

    name: str
    cited: list[str] = field(default_factory=list)


# ----------------------------------------------------------------------------- the book

def load_book() -> Book:
    cfg = yaml.safe_load((ROOT / "_config.yml").read_text())
    url, branch = cfg["repository"]["url"].rstrip("/"), cfg["repository"]["branch"]
    org, repo = url.split("github.com/")[1].split("/")[:2]
    book = Book(site=f"https://{org}.github.io/{repo}/", raw=f"https://raw.githubusercontent.com/{org}/{repo}/{branch}/",
                repo_url=url, branch=branch, bib=read_bib(BOOK / "references.bib"))
    for path in chapters():
        page = f"book/{path.stem}"
        text = "\n\n".join(cell_source(c) for c in read_nb(path)["cells"] if c["cell_type"] == "markdown")
        heading = re.search(r"^#\s+(.+)$", text, re.MULTILINE)
        book.titles[page] = heading.group(1).strip() if heading else path.stem
        for m in re.finditer(r"^\((?P<label>[^()\s]+)\)=[ \t]*\n+#+\s+(?P<title>.+)$", text, re.MULTILINE):
            book.labels[m["label"]] = (page, m["title"].strip())
        for m in re.finditer(r"^:name:\s*(?P<label>\S+)", text, re.MULTILINE):   # figures, tables
            book.labels.setdefault(m["label"], (page, "this figure"))
    return book


def read_bib(path: Path) -> dict[str, dict[str, str]]:
    from pybtex.database import parse_file
    from pybtex.richtext import Text

    def plain(latex: str) -> str:
        return str(Text.from_latex(latex)).replace("--", "–")

    entries = {}
    for key, entry in parse_file(str(path)).entries.items():
        fields = {k.lower(): plain(v) for k, v in entry.fields.items()}
        people = entry.persons.get("author", [])
        fields["surnames"] = json.dumps([plain(" ".join(p.prelast_names + p.last_names)) for p in people])
        fields["names"] = json.dumps([plain(" ".join(p.first_names + p.middle_names + p.prelast_names
                                                     + p.last_names)) for p in people])
        entries[key] = fields
    return entries


def chapters() -> list[Path]:
    return sorted(BOOK.glob("*.ipynb"))


def read_nb(path: Path) -> dict:
    return json.loads(path.read_text())


def cell_source(cell: dict) -> str:
    src = cell["source"]
    return src if isinstance(src, str) else "".join(src)


# ----------------------------------------------------------------------------- citations

def authors_short(entry: dict[str, str]) -> str:
    names = json.loads(entry["surnames"])
    if len(names) == 1:
        return names[0]
    if len(names) == 2:
        return f"{names[0]} and {names[1]}"
    return f"{names[0]} et al."


def cite(keys: str, textual: bool, book: Book, page: Page) -> str:
    parts = []
    for key in (k.strip() for k in keys.split(",")):
        if key not in book.bib:
            raise KeyError(f"{page.name}: {{footcite}}`{key}` is not in book/references.bib")
        if key not in page.cited:
            page.cited.append(key)
        entry = book.bib[key]
        parts.append(f"{authors_short(entry)} ({entry['year']})" if textual
                     else f"{authors_short(entry)}, {entry['year']}")
    return "; ".join(parts) if textual else "(" + "; ".join(parts) + ")"


def reference_list(book: Book, page: Page) -> str:
    lines = []
    for key in page.cited:
        e = book.bib[key]
        names = json.loads(e["names"])
        who = ", ".join(names[:-1]) + f" and {names[-1]}" if len(names) > 1 else names[0]
        where = e.get("journal") or e.get("booktitle") or e.get("institution") or e.get("howpublished") or ""
        extra = f", {e['volume']}" if "volume" in e else ""
        extra += f"({e['number']})" if "number" in e else ""
        extra += f", pp. {e['pages']}" if "pages" in e else ""
        link = f" https://doi.org/{e['doi']}" if "doi" in e else (f" {e['url']}" if "url" in e else "")
        venue = f" *{where}*{extra}." if where else ""
        lines.append(f"- {who} ({e['year']}). {e['title']}.{venue}{link}")
    return "\n".join(lines) if lines else "*(no works cited)*"


# ----------------------------------------------------------------------------- roles and links

def site_link(target: str, book: Book, page: Page) -> str:
    """A link to another page of the book (``pooling``, ``./lenet5.ipynb``, ``#label``) on the site."""
    path, _, anchor = target.partition("#")
    if not path:
        return f"{book.site}book/{page.name}.html#{anchor}"
    stem = Path(path).with_suffix("").name
    url = f"{book.site}book/{stem}.html"
    return f"{url}#{anchor}" if anchor else url


def role(m: re.Match[str], book: Book, page: Page) -> str:
    name, body = m["name"], m["body"]
    text, _, target = body.partition(" <")
    target = target.rstrip(">") if target else ""
    if name in GLUE_ROLES:
        return m.group(0)                  # filled in by the kernel, see glued_cell
    if name == "glue:md":
        return "{glue:text}`" + body.split(":")[0] + "`"
    if name in ("footcite", "cite:p", "cite"):
        return cite(body, False, book, page)
    if name in ("footcite:t", "cite:t"):
        return cite(body, True, book, page)
    if name == "math":
        return f"${body}$"
    if name == "doc":
        target = target or body
        title = text if m["body"].find(" <") >= 0 else book.titles.get(f"book/{Path(target).name}", target)
        return f"[{title}]({site_link(target, book, page)})"
    if name in ("ref", "numref", "eq"):
        label = target or body
        if label not in book.labels:
            raise KeyError(f"{page.name}: {{{name}}}`{body}` names a label no chapter defines")
        where, title = book.labels[label]
        return f"[{text if target else title}]({site_link(Path(where).name + '#' + label, book, page)})"
    if name in ("sub", "sup", "kbd", "abbr"):
        return f"<{name}>{text}</{name}>" if name != "abbr" else text
    return text                          # any other role: its text


def inline(text: str, book: Book, page: Page) -> str:
    text = ROLE.sub(lambda m: role(m, book, page), text)
    text = LABEL.sub("", text)

    def link(m: re.Match[str]) -> str:
        label, target = m[1], m[2]
        if re.match(r"^[a-z]+:", target):
            return m.group(0)
        if target.startswith("#") or re.search(r"\.(ipynb|md)(#.*)?$", target):
            return f"[{label}]({site_link(target, book, page)})"
        return f"[{label}]({book.raw}book/{target.lstrip('./')})"        # an image or a file

    text = re.sub(r"\[([^\]]*)\]\(([^)\s]+)\)", link, text)
    text = re.sub(r"(<img [^>]*src=\")(?!https?:|data:)\.?/?([^\"]+)",
                  lambda m: f"{m[1]}{book.raw}book/{m[2]}", text)
    return re.sub(r"^\$\$(.*)\$\$\s*\([^()\s]+\)\s*$", r"$$\1$$", text, flags=re.MULTILINE)


# ----------------------------------------------------------------------------- blocks and directives

def split_blocks(text: str) -> list[str]:
    """Top-level Markdown blocks: separated by blank lines, headings on their own, fences kept whole."""
    blocks: list[list[str]] = [[]]
    closing: str | None = None
    for line in text.splitlines():
        if closing is None:
            if not line.strip():
                blocks.append([])
                continue
            if re.match(r"^#{1,6}\s", line):
                blocks += [[line], []]
                continue
            opening = re.match(r"^(`{3,}|:{3,}|\$\$)", line.lstrip())
            if opening and not (opening[1] == "$$" and line.strip().endswith("$$") and len(line.strip()) > 2):
                closing = opening[1]
        elif re.match(rf"^\s*{re.escape(closing)}", line) and (closing == "$$" or line.strip() == closing):
            closing = None
        blocks[-1].append(line)
    return ["\n".join(b) for b in blocks if b]


def parse_directive(lines: list[str], start: int) -> tuple[str, str, dict[str, str], list[str], int]:
    """The directive opening at ``lines[start]``: name, argument, options, body lines, next index."""
    m = FENCE.match(lines[start].strip())
    assert m is not None
    fence, options, i = m["fence"], {}, start + 1
    while i < len(lines) and (opt := re.match(r"^:([\w-]+):\s*(.*)$", lines[i].strip())):
        options[opt[1]] = opt[2]
        i += 1
    body = []
    while i < len(lines) and lines[i].strip() != fence:
        body.append(lines[i])
        i += 1
    return m["name"], m["arg"].strip(), options, body, i + 1


def quote(text: str) -> str:
    return "\n".join(f"> {ln}" if ln.strip() else ">" for ln in text.splitlines())


def directive(name: str, arg: str, options: dict[str, str], body: str, book: Book, page: Page) -> str:
    inner = convert(body, book, page)
    classes = options.get("class", "").split()
    if name in ADMONITIONS or name in ("dropdown", "toggle", "margin", "sidebar", "epigraph", "pull-quote"):
        default = {"seealso": "See also", "admonition": ""}.get(name, name.capitalize())
        title = inline(arg, book, page) if arg else default
        if name in ("dropdown", "toggle") or "dropdown" in classes or "toggle" in classes:
            return f"<details><summary>{title or 'Details'}</summary>\n\n{inner}\n\n</details>"
        return quote(f"**{title}**\n\n{inner}" if title else inner)
    if name in ("figure", "image"):
        src = arg if re.match(r"^[a-z]+:", arg) else f"{book.raw}book/{arg.lstrip('./')}"
        image = f"![{options.get('alt', '')}]({src})"
        return f"{image}\n\n*{inner.strip()}*" if inner.strip() else image
    if name == "table":
        return f"**{inline(arg, book, page)}**\n\n{inner}" if arg else inner
    if name == "math":
        return f"$$\n{body.strip()}\n$$"
    if name in ("code-block", "code", "sourcecode"):
        return f"```{arg}\n{body}\n```"
    if name in ("footbibliography", "bibliography"):
        return reference_list(book, page)
    if name in ("div", "container", "raw"):
        return inner
    raise NotImplementedError(f"{page.name}: scripts/make_colab.py does not know the directive "
                              f"{{{name}}}; teach it how Colab should show it")


def convert(text: str, book: Book, page: Page) -> str:
    """MyST Markdown -> Jupyter Markdown (glue roles are kept; glued_cell fills them in)."""
    lines, out, i = text.splitlines(), [], 0
    plain_fence: str | None = None
    while i < len(lines):
        line = lines[i]
        if plain_fence is None and FENCE.match(line.strip()):
            name, arg, options, body, i = parse_directive(lines, i)
            out.append(directive(name, arg, options, "\n".join(body), book, page))
            continue
        fence = re.match(r"^\s*(`{3,}|~{3,})", line)
        if fence and plain_fence is None:
            plain_fence = fence[1]
        elif fence and plain_fence is not None and line.strip() == plain_fence:
            plain_fence = None
        elif plain_fence is None:
            line = inline(line, book, page)
        out.append(line)
        i += 1
    joined = "\n".join(out)
    joined = re.sub(r"\$\$[ \t]*\([^()\s]+\)[ \t]*$", "$$", joined, flags=re.MULTILINE)  # equation labels
    return re.sub(r"\n{3,}", "\n\n", joined).strip("\n")


# ----------------------------------------------------------------------------- cells

def uses_glue(text: str) -> bool:
    return bool(re.search(r"\{glue(:text|:md)?\}`", text))


def markdown_cell(text: str, cell_id: str) -> dict:
    return {"cell_type": "markdown", "id": cell_id, "metadata": {}, "source": text}


def code_cell(source: str, cell_id: str, metadata: dict) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": cell_id, "metadata": metadata,
            "outputs": [], "source": source}


def form(title: str, source: str, outputs_hidden: bool = False) -> tuple[str, dict]:
    """A Colab form: the source folded away under ``title`` (Jupyter: source hidden)."""
    title = re.sub(r"[{}\"]", "", title).strip() or "Code"
    jupyter = {"source_hidden": True, **({"outputs_hidden": True} if outputs_hidden else {})}
    return f'#@title {title} {{display-mode: "form"}}\n{source}', {"cellView": "form", "jupyter": jupyter}


def glued_cell(text: str, cell_id: str) -> dict:
    if '"""' in text:
        raise ValueError(f"{cell_id}: a paragraph with glued values may not contain three double quotes")
    source, metadata = form("Text with this run's numbers", f'cb.fill_glue(r"""\n{text}\n""")')
    return code_cell(source, cell_id, metadata)


def glued_object_cells(block: str, cell_id: str) -> list[dict]:
    """A ``{glue:figure}`` (or ``{glue}``) directive: a folded cell that shows the kernel's object."""
    name, arg, options, body, _ = parse_directive(block.splitlines(), 0)
    key = arg.split("::")[-1]
    source, metadata = form("Figure" if name == "glue:figure" else "Output", f"cb.glued({key!r})")
    cells = [code_cell(source, cell_id, metadata)]
    if "\n".join(body).strip():
        cells.append(markdown_cell("\n".join(body).strip(), f"{cell_id}-caption"))
    return cells


def markdown_cells(cell: dict, book: Book, page: Page, cell_id: str) -> list[dict]:
    """One MyST Markdown cell -> Markdown cells, with its glued paragraphs as rendering code cells."""
    groups: list[tuple[str, list[str]]] = []
    for block in split_blocks(cell_source(cell)):
        if LABEL.fullmatch(block.strip()):
            continue
        opening = FENCE.match(block.splitlines()[0].strip())
        if opening and opening["name"] in ("glue", "glue:figure", "glue:any"):
            groups.append(("object", [block]))
            continue
        kind = "glued" if uses_glue(block) else "markdown"
        converted = convert(block, book, page)
        if not converted.strip():
            continue
        if groups and groups[-1][0] == kind:
            groups[-1][1].append(converted)
        else:
            groups.append((kind, [converted]))
    cells = []
    for k, (kind, blocks) in enumerate(groups):
        cid = cell_id if len(groups) == 1 else f"{cell_id}-{k}"
        text = "\n\n".join(blocks)
        if kind == "object":
            cells += glued_object_cells(text, cid)
        else:
            cells.append(glued_cell(text, cid) if kind == "glued" else markdown_cell(text, cid))
    return cells


def colab_code_cell(cell: dict, cell_id: str) -> dict:
    source = cell_source(cell)
    tags = cell.get("metadata", {}).get("tags", [])
    metadata = {"tags": tags} if tags else {}
    if any(t in tags for t in HIDDEN_TAGS):
        first = source.splitlines()[0] if source else ""
        title = first.lstrip("#").strip() if first.startswith("#") else ""
        title = re.split(r":| \(|;", title)[0][:60]
        solution = title.lower().startswith("solution")
        title = title or ("Solution" if solution else "Hidden on the site")
        source, extra = form(title, source, outputs_hidden=solution)
        metadata.update(extra)
    return code_cell(source, cell_id, metadata)


# ----------------------------------------------------------------------------- notebooks

def banner(path: Path, book: Book) -> str:
    site = f"{book.site}book/{path.stem}.html"
    return (f"> **The Colab edition of this chapter.** It is generated from `book/{path.name}` in "
            f"[the repository]({book.repo_url}) by `make colab`; the rendered chapter is on "
            f"[the book's site]({site}). For the full experiments choose *Runtime → Change runtime "
            "type → GPU*, then *Runtime → Run all*. Folded cells (setup, solutions, the paragraphs "
            "that show this run's numbers) run like the others; click one to see its code.")


def glue_sites(cells: list[dict]) -> dict[int, list[re.Pattern[str]]]:
    """For each code cell, the names it glues (f-strings become patterns: ``f"tl_{mode}"`` -> tl_*)."""
    sites = {}
    for i, cell in enumerate(cells):
        if cell["cell_type"] != "code":
            continue
        names = re.findall(r"glue\(\s*(f?)([\"'])(.*?)\2", cell_source(cell))
        sites[i] = [re.compile(re.sub(r"\\\{[^}]*\\\}", r"\\w*", re.escape(n)) if f else re.escape(n))
                    for f, _, n in names]
    return sites


def computed_after(text: str, index: int, sites: dict[int, list[re.Pattern[str]]]) -> int:
    """The cell after which a paragraph using glued values can render: the values exist by then."""
    after = index
    names = [m.split(":")[0] for m in re.findall(r"\{glue(?::text|:md)?\}`([^`]+)`", text)]
    names += re.findall(r"cb\.glued\('([^']+)'\)", text)
    for name in names:
        gluing = [i for i, patterns in sites.items() if any(p.fullmatch(name) for p in patterns)]
        if gluing and min(gluing) > index:
            after = max(after, min(gluing))
    return after


def colab_notebook(path: Path, book: Book) -> dict:
    """The Colab edition of one chapter, as a notebook dict."""
    source = read_nb(path)
    sites = glue_sites(source["cells"])
    page = Page(name=path.stem)
    slots: list[list[dict]] = [[] for _ in source["cells"]]
    for i, cell in enumerate(source["cells"]):
        cell_id = cell.get("id") or f"cell-{i}"
        if cell["cell_type"] == "markdown":
            for new in markdown_cells(cell, book, page, cell_id):
                # a paragraph whose numbers a later cell computes moves after that cell
                slots[computed_after(cell_source(new), i, sites)].append(new)
        elif cell["cell_type"] == "code":
            slots[i].insert(0, colab_code_cell(cell, cell_id))
        if i == 0:
            slots[0].append(markdown_cell(banner(path, book), "colab-edition"))
    cells = [c for slot in slots for c in slot]
    for cell in cells:
        cell["source"] = cell["source"].splitlines(keepends=True)
    metadata = {
        "accelerator": "GPU",
        "colab": {"provenance": [], "toc_visible": True},
        "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
        "language_info": {"name": "python"},
    }
    return {"cells": cells, "metadata": metadata, "nbformat": 4, "nbformat_minor": 5}


def render(nb: dict) -> str:
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def edition() -> dict[Path, str]:
    """Every file of the Colab edition and its text."""
    book = load_book()
    return {OUT / path.name: render(colab_notebook(path, book)) for path in chapters()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if colab/ is out of date")
    args = parser.parse_args(argv)
    wanted = edition()
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
