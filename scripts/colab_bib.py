"""Citations for the Colab edition, formatted by sphinxcontrib-bibtex's styles and pybtex, as on the site.

The site cites with ``{footcite}`` (sphinxcontrib-bibtex, ``book/references.bib``) and lists the
works at the end of each chapter with ``{footbibliography}``. Colab has no footnotes, so a citation
becomes an author-year reference, "(LeCun et al., 1998)" or "LeCun et al. (1998)", made by
sphinxcontrib-bibtex's ``author_year`` reference style (the book's ``bibtex_reference_style``), and
the list of works is formatted by the same pybtex style as the site's (``bibtex_default_style``,
``alpha`` unless ``_config.yml`` says otherwise), rendered as Markdown.
"""
from __future__ import annotations

from pathlib import Path

import pybtex.plugin
from pybtex.database import BibliographyData, Entry, parse_file
from pybtex.richtext import BaseMultipartText, BaseText, Text
from sphinxcontrib.bibtex.richtext import BaseReferenceText
from sphinxcontrib.bibtex.style.referencing import BracketStyle, format_references
from sphinxcontrib.bibtex.style.referencing.author_year import AuthorYearReferenceStyle
from sphinxcontrib.bibtex.style.template import SphinxReferenceInfo


class Bibliography:
    """The works of one ``.bib`` file, cited and listed in one pybtex formatting style."""

    def __init__(self, path: Path, style: str = "alpha") -> None:
        self.data: BibliographyData = parse_file(str(path))
        self.style = pybtex.plugin.find_plugin("pybtex.style.formatting", style)()
        brackets = BracketStyle(left="(", right=")", sep="; ")
        self.references = AuthorYearReferenceStyle(bracket_parenthetical=brackets,
                                                    bracket_textual=BracketStyle(left="(", right=")"))
        self.text = pybtex.plugin.find_plugin("pybtex.backends", "text")()
        self.markdown = pybtex.plugin.find_plugin("pybtex.backends", "markdown")()

    def entry(self, key: str) -> Entry:
        if key not in self.data.entries:
            raise KeyError(f"{key!r} is not in the bibliography")
        return self.data.entries[key]

    def cite(self, keys: list[str], textual: bool) -> str:
        """``(A et al., 1998; B, 2012)``, or ``A et al. (1998)`` when ``textual``."""
        references = []
        for key in keys:
            entry = self.entry(key)
            info = SphinxReferenceInfo(builder=None, fromdocname="", todocname="", citation_id=key,  # type: ignore[arg-type]
                                       title=None, pre_text="", post_text="")
            references.append((entry, self.style.format_entry(key, entry), info))
        text = format_references(self.references, "t" if textual else "p", references)
        return _plain(text).render(self.text)

    def listing(self, keys: list[str]) -> str:
        """A Markdown list of the works, in the order given, formatted as on the site."""
        lines = []
        for key in keys:
            formatted = self.style.format_entry(key, self.entry(key))
            lines.append("- " + " ".join(formatted.text.render(self.markdown).split()))
        return "\n".join(lines)


def _plain(text: BaseText) -> BaseText:
    """``text`` with sphinxcontrib-bibtex's reference nodes (links to the bibliography) as plain text."""
    if isinstance(text, BaseReferenceText):
        return Text(*(_plain(part) for part in text.parts))
    if isinstance(text, BaseMultipartText):
        text.parts = [_plain(part) for part in text.parts]
    return text
