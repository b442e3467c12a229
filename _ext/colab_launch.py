"""A Sphinx extension: each chapter's Colab launch button opens the chapter's Colab edition.

sphinx-book-theme points the button at the page's own source, ``book/<chapter>.ipynb``, which is
MyST that Colab cannot render. The Colab edition, ``colab/<chapter>.ipynb`` (made by
``make colab``), is what a Colab reader should get, so this rewrites the button's link to it, on
the branch that ``_config.yml`` names. A chapter without an edition is a build warning.
"""
from pathlib import Path

from sphinx.util import logging

LOGGER = logging.getLogger(__name__)


def _colab_buttons(context):
    for group in context.get("header_buttons", []):
        if group.get("label") == "launch-buttons":
            yield from (b for b in group.get("buttons", []) if b.get("text") == "Colab")


def _point_at_edition(app, pagename, templatename, context, doctree):
    for button in _colab_buttons(context):
        chapter = Path(pagename).name
        edition = Path(app.srcdir) / "colab" / f"{chapter}.ipynb"
        if not edition.exists():
            LOGGER.warning(f"{pagename}: no Colab edition colab/{chapter}.ipynb: run `make colab`",
                           location=pagename)
            continue
        head, sep, _ = button["url"].partition("/blob/")
        branch = button["url"][len(head) + len(sep):].split("/")[0]
        button["url"] = f"{head}/blob/{branch}/colab/{chapter}.ipynb"


def setup(app):
    # after sphinx-book-theme adds the launch buttons (priority 501), before the page is written
    app.connect("html-page-context", _point_at_edition, priority=600)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
