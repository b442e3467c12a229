"""MyST Markdown -> the plain Jupyter Markdown that Colab renders, read with myst-parser's own parser.

The text is parsed by markdown-it-py with the MyST plugins of mdit-py-plugins, configured as
myst-parser configures them for the book (``create_md_parser`` and the extensions Jupyter Book
enables). Nothing is re-rendered from the tokens: every block keeps its source lines, and only
what the parser found to be MyST is replaced, at the place the parser found it:

* a directive (a fence whose info is ``{name} argument``) is read by myst-parser's own directive
  reader with the directive's docutils option spec, and becomes Markdown: an admonition a quoted
  block with a bold title, one with ``:class: dropdown`` (the solutions) a collapsed
  ``<details>``, ``{footbibliography}`` the list of works the text cited;
* a role (``{name}`content```) becomes what :class:`Context` makes of it (a number, a citation,
  a link, ``$math$``);
* a link or an image to a file of the book points at the site or at the repository;
* a target ``(label)=`` and an equation's ``(label)`` disappear; their links go to the site.

A directive or a role this module does not know raises :class:`NotImplementedError`, naming it,
instead of leaving MyST that Colab would show as raw text.
"""
from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from docutils.parsers.rst import Directive
from docutils.parsers.rst.directives import admonitions, body, images
from markdown_it import MarkdownIt
from markdown_it.helpers import parseLinkLabel
from markdown_it.renderer import RendererHTML
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from myst_parser.config.main import MdParserConfig
from myst_parser.parsers.directives import parse_directive_text
from myst_parser.parsers.mdit import create_md_parser

# Jupyter Book 1.x's default MyST extensions (its default_config.yml), except linkify, which only
# turns bare URLs into links (Colab does that itself) and needs linkify-it-py
EXTENSIONS = ("colon_fence", "dollarmath", "substitution", "tasklist")

ADMONITIONS: dict[str, type[Directive]] = {
    "admonition": admonitions.Admonition, "note": admonitions.Note, "tip": admonitions.Tip,
    "hint": admonitions.Hint, "important": admonitions.Important, "warning": admonitions.Warning,
    "caution": admonitions.Caution, "attention": admonitions.Attention, "danger": admonitions.Danger,
    "error": admonitions.Error,
}


class _NoContent(Directive):
    """The option spec of ``{footbibliography}``: no argument, options or content."""


DIRECTIVES: dict[str, type[Directive]] = {
    **ADMONITIONS, "figure": images.Figure, "math": body.MathBlock, "footbibliography": _NoContent,
}
CITE_PARENTHETICAL = ("footcite", "cite", "cite:p")
CITE_TEXTUAL = ("footcite:t", "cite:t")
GLUE_ROLES = ("glue", "glue:text")
# inline rules whose first token gets the span of source it was read from
SPANNED = {"myst_role": "myst_role", "link": "link_open", "image": "image"}


@dataclass
class Context:
    """What the conversion of one chapter asks of the rest of the book.

    ``glue(role, content)`` gives the text for ``{glue:text}`content```; ``cite(keys, textual)``
    a citation; ``bibliography()`` the list of the works cited so far; ``link(target)`` the URL
    of another page of the book (``pooling.ipynb#anchor``); ``file(path)`` the URL of a file
    (an image); ``labels`` maps a label to (page, title) for ``{ref}``, ``titles`` a page to its
    title for ``{doc}``.
    """

    glue: Callable[[str, str], str]
    cite: Callable[[list[str], bool], str]
    bibliography: Callable[[], str]
    link: Callable[[str], str]
    file: Callable[[str], str]
    labels: dict[str, tuple[str, str]] = field(default_factory=dict)
    titles: dict[str, str] = field(default_factory=dict)


# ----------------------------------------------------------------------------- the parser

def _spanned(rule: Callable[[StateInline, bool], bool], kind: str) -> Callable[[StateInline, bool], bool]:
    """``rule``, recording in its token's meta the span ``(start, end)`` of the inline source it read."""

    def spanned_rule(state: StateInline, silent: bool) -> bool:
        start, before = state.pos, len(state.tokens)
        found = rule(state, silent)
        if found and not silent:
            token = next(t for t in state.tokens[before:] if t.type == kind)
            token.meta = {**token.meta, "span": (start, state.pos)}
            if kind in ("link_open", "image"):
                # where the link text ends: "[text](target)" -> the index of "]"
                label_start = start + (1 if kind == "image" else 0)
                saved, state.pos = state.pos, label_start
                token.meta["label_end"] = parseLinkLabel(state, label_start, True)
                state.pos = saved
        return found

    return spanned_rule


@functools.cache
def parser(extensions: tuple[str, ...] = EXTENSIONS) -> MarkdownIt:
    """myst-parser's markdown-it parser for the book, with source spans on roles, links and images."""
    md = create_md_parser(MdParserConfig(enable_extensions=set(extensions)), RendererHTML)
    for rule_name, kind in SPANNED.items():
        rules = md.inline.ruler.__rules__
        rule = rules[md.inline.ruler.__find__(rule_name)]
        md.inline.ruler.at(rule_name, _spanned(rule.fn, kind))
    return md


def blocks(tokens: list[Token]) -> Iterator[list[Token]]:
    """The top-level blocks of a token stream, each with the tokens nested in it."""
    i = 0
    while i < len(tokens):
        depth, j = int(tokens[i].nesting), i
        while depth > 0:
            j += 1
            depth += tokens[j].nesting
        yield tokens[i:j + 1]
        i = j + 1


# ----------------------------------------------------------------------------- the book's structure

def headings(text: str) -> tuple[str | None, dict[str, str]]:
    """The first level-1 heading of ``text`` and every ``(label)=`` target's heading title."""
    title, labels, target = None, {}, None
    for block in blocks(parser().parse(text, {})):
        first = block[0]
        if first.type == "myst_target":
            target = first.content
            continue
        if first.type == "heading_open":
            inline = block[1].content
            if title is None and first.tag == "h1":
                title = inline
            if target:
                labels[target] = inline
        elif first.type in ("fence", "colon_fence") and first.info.startswith("{"):
            options = _directive(first)[2]
            if "name" in options:
                labels[str(options["name"])] = "this figure"
        target = None
    return title, labels


# ----------------------------------------------------------------------------- conversion

def convert(text: str, ctx: Context) -> str:
    """MyST Markdown -> Jupyter Markdown; blocks are separated by one blank line."""
    lines = text.splitlines()
    parts = [_block(block, lines, ctx) for block in blocks(parser().parse(text, {}))]
    return "\n\n".join(p for p in parts if p.strip())


def _block(block: list[Token], lines: list[str], ctx: Context) -> str:
    first = block[0]
    if first.type in ("myst_target", "myst_line_comment", "myst_block_break", "front_matter"):
        return ""
    if first.type in ("fence", "colon_fence") and first.info.startswith("{"):
        return _render_directive(first, ctx)
    if first.type == "math_block_label":        # $$ ... $$ (label): Colab has no equation labels
        return f"$${first.content}$$"
    nested = [t for t in block[1:] if t.type in ("fence", "colon_fence") and t.info.startswith("{")]
    if nested:
        raise NotImplementedError(f"a {{{_directive(nested[0])[0]}}} directive inside a list or a "
                                  "quote: scripts/colab_myst.py converts top-level directives only")
    assert first.map is not None
    source = "\n".join(lines[first.map[0]:first.map[1]]).rstrip()
    if first.type in ("fence", "code_block", "math_block", "html_block", "hr"):
        return source
    return _rewrite(source, [t for t in block if t.type == "inline"], ctx)


def _rewrite(source: str, inlines: list[Token], ctx: Context) -> str:
    """``source`` with the MyST of each inline token replaced, at the place the parser found it."""
    edits: list[tuple[int, int, str]] = []
    cursor = 0
    for inline in inlines:
        offsets, cursor = _locate(inline.content, source, cursor)
        for start, end, new in _inline_edits(inline, ctx):
            edits.append((offsets(start), offsets(end), new))
    for start, end, new in sorted(edits, reverse=True):
        source = source[:start] + new + source[end:]
    return source


def _locate(content: str, source: str, cursor: int) -> tuple[Callable[[int], int], int]:
    """Where an inline token's content lies in its block's source, line by line.

    The parser strips each line of the block's markup (indentation, list markers, table pipes);
    what remains is found in the source in order. Returns a map from positions in ``content``
    to positions in ``source``, and where the search for the next inline token starts.
    """
    starts, line_start = [], 0
    for line in content.split("\n"):
        at = source.find(line, cursor)
        if at < 0:
            raise ValueError(f"cannot find {line!r} of the parsed text in its source")
        starts.append((line_start, at))
        line_start += len(line) + 1
        cursor = at + len(line)

    def offset(position: int) -> int:
        in_content, in_source = max(s for s in starts if s[0] <= position)
        return in_source + position - in_content

    return offset, cursor


def _inline_edits(inline: Token, ctx: Context) -> Iterator[tuple[int, int, str]]:
    for token in inline.children or []:
        if "span" not in token.meta:
            continue
        start, end = token.meta["span"]
        if token.type == "myst_role":
            yield start, end, role(token.meta["name"], token.content, ctx)
        elif token.type in ("link_open", "image"):
            target = str(token.attrs.get("href" if token.type == "link_open" else "src", ""))
            new = _target(target, ctx, image=token.type == "image")
            if new != target:
                title = token.attrs.get("title")
                suffix = f' "{title}"' if title else ""
                yield token.meta["label_end"], end, f"]({new}{suffix})"


def _target(target: str, ctx: Context, image: bool) -> str:
    if ":" in target.split("/")[0] or target.startswith("//"):     # http:, mailto:, data:
        return target
    path = target.partition("#")[0]
    if not image and (not path or PurePosixPath(path).suffix in (".ipynb", ".md")):
        return ctx.link(target)
    return ctx.file(target)


def role(name: str, content: str, ctx: Context) -> str:
    """The Markdown for ``{name}`content```."""
    if name in GLUE_ROLES:
        return ctx.glue(name, content)
    if name in CITE_PARENTHETICAL + CITE_TEXTUAL:
        return ctx.cite([k.strip() for k in content.split(",")], name in CITE_TEXTUAL)
    if name == "math":
        return f"${content}$"
    text, _, target = content.partition(" <")
    target = target.removesuffix(">") if target else ""
    if name in ("ref", "numref"):
        label = target or text
        if label not in ctx.labels:
            raise KeyError(f"{{{name}}}`{content}` names a label no chapter defines")
        page, title = ctx.labels[label]
        return f"[{text if target else title}]({ctx.link(f'{page}.ipynb#{label}')})"
    if name == "doc":
        page = PurePosixPath(target or text).stem
        return f"[{text if target else ctx.titles.get(page, page)}]({ctx.link(f'{page}.ipynb')})"
    raise NotImplementedError(f"scripts/colab_myst.py does not know the role {{{name}}}: "
                              "teach it how Colab should show it")


# ----------------------------------------------------------------------------- directives

def _directive(token: Token) -> tuple[str, list[str], dict[str, Any], str]:
    """A directive fence read as myst-parser reads it: name, arguments, options, body."""
    name, _, argument = token.info.strip()[1:].partition("}")
    if name not in DIRECTIVES:
        raise NotImplementedError(f"scripts/colab_myst.py does not know the directive {{{name}}}: "
                                  "teach it how Colab should show it")
    parsed = parse_directive_text(DIRECTIVES[name], argument.strip(), token.content)
    if parsed.warnings:
        raise ValueError(f"{{{name}}} {argument.strip()}: {parsed.warnings[0].msg}")
    return name, parsed.arguments, parsed.options, "\n".join(parsed.body)


def _render_directive(token: Token, ctx: Context) -> str:
    name, arguments, options, body_text = _directive(token)
    inner = convert(body_text, ctx)
    if name in ADMONITIONS:
        title = convert(arguments[0], ctx) if arguments else name.capitalize()
        if "dropdown" in options.get("class", []):
            return f"<details><summary>{title}</summary>\n\n{inner}\n\n</details>"
        return _quote(f"**{title}**\n\n{inner}")
    if name == "footbibliography":
        return ctx.bibliography()
    if name == "math":
        return f"$$\n{body_text.strip()}\n$$"
    # figure
    image = f"![{options.get('alt', '')}]({_target(arguments[0], ctx, image=True)})"
    return f"{image}\n\n*{inner}*" if inner else image


def _quote(text: str) -> str:
    return "\n".join(f"> {line}" if line.strip() else ">" for line in text.splitlines())
