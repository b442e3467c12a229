"""Tables that a notebook shows as real tables: HTML in Jupyter and on the book's site, text elsewhere.

A Markdown table printed or displayed from a cell stays raw ``| a | b |`` text on the built site;
an object with ``_repr_html_`` is rendered as a table. :class:`Table` is one, built from a header
and rows of already formatted cells (the caller chooses the number formats); :func:`layers_table`
turns :func:`cnnbook.layer_table`'s rows into one. Pure Python: no pandas, no IPython.
"""

from __future__ import annotations

import html
from collections.abc import Sequence

from .summary import LayerRow, layer_cells

__all__ = ["Table", "layers_table"]


class Table:
    """A small table shown as a real table in a notebook and on the site (LeNet-5 and AlexNet
    chapters): ``header`` (k strings), ``rows`` (lists of k cells, shown with ``str``).

    ``align`` is one letter per column, ``"l"`` (left) or ``"r"`` (right, for numbers); by default
    the first column is left-aligned and the others right-aligned. Jupyter shows it as HTML
    (``_repr_html_``); ``str(t)`` is an aligned plain-text version.
    """

    def __init__(self, header: Sequence[str], rows: Sequence[Sequence[object]], *,
                 align: str | None = None) -> None:
        if isinstance(header, str) or not isinstance(header, Sequence) or not header:
            raise TypeError("header must be a non-empty list of column names")
        k = len(header)
        cells = [[str(c) for c in row] for row in rows]
        for i, row in enumerate(cells):
            if len(row) != k:
                raise ValueError(f"rows[{i}] has {len(row)} cells; the header has {k} columns")
        align = align if align is not None else "l" + "r" * (k - 1)
        if not isinstance(align, str) or len(align) != k or set(align) - {"l", "r"}:
            raise ValueError(f"align must be {k} letters, each 'l' or 'r', got {align!r}")
        self.header, self.rows, self.align = [str(h) for h in header], cells, align

    def _repr_html_(self) -> str:
        side = {"l": "left", "r": "right"}

        def line(cells: list[str], tag: str) -> str:
            return "<tr>" + "".join(
                f'<{tag} style="text-align: {side[a]}">{html.escape(c)}</{tag}>'
                for c, a in zip(cells, self.align)) + "</tr>"

        body = "\n".join(line(r, "td") for r in self.rows)
        return (f'<table class="cnnbook-table">\n<thead>{line(self.header, "th")}</thead>\n'
                f"<tbody>\n{body}\n</tbody>\n</table>")

    def __str__(self) -> str:
        lines = [self.header, *self.rows]
        widths = [max(len(r[i]) for r in lines) for i in range(len(self.header))]

        def fmt(r: list[str]) -> str:
            return "  ".join(c.ljust(w) if a == "l" else c.rjust(w)
                             for c, w, a in zip(r, widths, self.align)).rstrip()

        rule = "-" * (sum(widths) + 2 * (len(widths) - 1))
        return "\n".join([fmt(self.header), rule, *map(fmt, self.rows)])

    def __repr__(self) -> str:
        return str(self)


def layers_table(rows: Sequence[LayerRow]) -> Table:
    """:func:`cnnbook.layer_table`'s rows as a :class:`Table`, with a total row (LeNet-5 chapter)."""
    header, body, total = layer_cells(rows)
    return Table(header, [*body, total], align="lllrr")
