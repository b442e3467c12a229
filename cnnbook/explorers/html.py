"""The HTML of an explorer: markup, data and JavaScript in one self-contained piece.

An explorer is one ``<div>`` holding its data (JSON in a ``<script type="application/json">``) and
one inline ``<script>``. Nothing is loaded from anywhere else, so the same HTML works in Jupyter, in
Colab (which shows each output in its own iframe) and in the book's site opened from disk with no
network.

The JavaScript files are ES modules (``common.js``, and one per explorer, which exports one
function, named as the explorer's kind). :func:`script` inlines them as one classic script: each
module's ``import`` lines are dropped and its ``export`` keywords removed, the modules follow one
another in the order of their imports inside one function scope, and the last line calls the
explorer's function on its element. Nothing reaches ``window``.
"""

from __future__ import annotations

import base64
import json
import re
import uuid
from importlib.resources import files
from pathlib import Path
from typing import Any

import torch

STYLE = """
.cbx{font:14px/1.4 system-ui,sans-serif;border:1px solid #cbd5e0;border-radius:6px;padding:.6em;
 margin:.5em 0;max-width:100%;box-sizing:border-box;color:#1a202c;background:#fff}
.cbx *{box-sizing:border-box}.cbx p{margin:.3em 0}
.cbx-controls{display:flex;flex-wrap:wrap;gap:.3em 1em}.cbx-controls label{white-space:nowrap}
.cbx-controls input[type=range]{width:7em;vertical-align:middle}.cbx-controls output{display:inline-block;width:1.2em}
.cbx-views{display:flex;flex-wrap:wrap;gap:1em;align-items:flex-start}.cbx figure{margin:0;max-width:100%}
.cbx canvas{max-width:100%;image-rendering:pixelated;display:block}
.cbx figcaption{font-size:12px;color:#4a5568;max-width:300px}
.cbx-error{color:#c53030;font-weight:600}.cbx-code code{font-size:13px;word-break:break-all}
.cbx code{color:#1a202c;background:#edf2f7}
.cbx :focus-visible{outline:3px solid #3182ce;outline-offset:2px}
.cbx-pad{width:280px;touch-action:none;cursor:crosshair;border:1px solid #718096}
.cbx-buttons{margin-top:.4em;display:flex;gap:.5em}.cbx button{font:inherit;padding:.2em .7em}
.cbx-pred{font-size:18px;font-weight:600}.cbx-probs{width:260px;max-width:100%}
.cbx-prob{display:grid;grid-template-columns:1.5em 1fr 4em;gap:.4em;align-items:center;font-size:12px}
.cbx-bar{background:#edf2f7;height:.8em}.cbx-bar span{display:block;height:100%;background:#3182ce}
.cbx-maps > div{display:flex;flex-wrap:wrap;gap:3px;align-items:center;margin-top:.4em}
.cbx-maps p{width:100%;font-size:12px;color:#4a5568}
.cbx-try{font-style:italic;color:#2c5282}
"""


def b64_floats(t: torch.Tensor) -> str:
    """``t`` as float32, little-endian, base64: exact, and a third larger than the raw bytes."""
    data = t.detach().to("cpu", torch.float32).contiguous().numpy().astype("<f4").tobytes()
    return base64.b64encode(data).decode("ascii")


def b64_bytes(t: torch.Tensor) -> str:
    """A uint8 tensor's bytes, base64."""
    return base64.b64encode(t.detach().to("cpu", torch.uint8).contiguous().numpy().tobytes()).decode("ascii")


def json_for_html(data: Any) -> str:
    """``data`` as JSON that is safe inside a ``<script>`` element (no ``<``, ``>`` or ``&``)."""
    text = json.dumps(data, separators=(",", ":"), allow_nan=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


# The only forms of import and export the modules may use (html.py inlines them as one script).
IMPORT = re.compile(r'import \{ ?([\w, ]+?) ?\} from "\./(\w+\.js)";')
EXPORT = re.compile(r"^export (?=function |const )", re.MULTILINE)


def module_source(name: str) -> str:
    """The text of one of the package's JavaScript modules, e.g. ``"pooling.js"``."""
    return (files("cnnbook") / "explorers" / name).read_text(encoding="utf-8")


def _inline(name: str, done: list[str]) -> list[str]:
    """``name``'s module and the modules it imports, first, as plain script bodies."""
    if name in done:
        return []
    done.append(name)
    body, parts = module_source(name), []
    for line in body.splitlines():
        if line.startswith("import"):
            found = IMPORT.fullmatch(line)
            if not found:
                raise ValueError(f"{name}: write imports as `import {{ a, b }} from \"./x.js\";`, got {line!r}")
            parts += _inline(found.group(2), done)
    return parts + [f"// ---- {name}\n" + EXPORT.sub("", IMPORT.sub("", body))]


def script(kind: str, element_id: str) -> str:
    """The classic script that builds explorer ``kind`` in the element ``element_id``."""
    code = "\n".join(_inline(f"{kind}.js", []))
    if "</script" in code.lower():
        raise ValueError(f"{kind}.js: the text </script would end the inline script; write <\\/script")
    return f'(function () {{\n"use strict";\n{code}\n{kind}(document.getElementById("{element_id}"));\n}})();'


class Explorer:
    """An explorer as HTML; Jupyter, Colab and the book's site display it (``_repr_html_``).

    ``kind`` names it (``"pooling"`` or ``"digit"``), ``html`` is the whole fragment and
    :meth:`save` writes a page that opens in any browser.
    """

    def __init__(self, kind: str, data: dict[str, Any], title: str) -> None:
        self.kind = kind
        self.id = f"cbx-{kind}-{uuid.uuid4().hex[:10]}"
        # The id comes from uuid4, the kind from this package: nothing a caller wrote reaches the script.
        self.html = (
            f'<div class="cbx" id="{self.id}" data-cnnbook-explorer="{kind}">'
            f"<style>{STYLE}</style><strong>{title}</strong>"
            f'<script type="application/json" class="cnnbook-data">{json_for_html(data)}</script>'
            '<div class="cbx-body"><p>This explorer runs in your browser and needs JavaScript.</p></div>'
            f"<script>{script(kind, self.id)}</script>"
            "</div>"
        )

    def _repr_html_(self) -> str:
        return self.html

    def __repr__(self) -> str:
        return (f"<{self.kind} explorer: runs in the browser; display it in Jupyter or Colab, "
                f"or save it as a page with .save(path)>")

    def save(self, path: str | Path) -> Path:
        """Write a standalone HTML page holding this explorer; returns the path."""
        path = Path(path)
        path.write_text('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                        '<meta name="viewport" content="width=device-width, initial-scale=1">'
                        f"<title>cnnbook {self.kind} explorer</title></head><body>{self.html}</body></html>",
                        encoding="utf-8")
        return path
