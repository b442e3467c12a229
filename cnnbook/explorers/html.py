"""The HTML of an explorer: markup, data and JavaScript in one self-contained piece.

An explorer is one ``<div>`` holding its data (JSON in a ``<script type="application/json">``) and
one inline ``<script>`` (the package's ``common.js`` followed by the explorer's own file). Nothing
is loaded from anywhere else, so the same HTML works in Jupyter, in Colab (which shows each output
in its own iframe) and in the book's site opened from disk with no network.
"""

from __future__ import annotations

import base64
import json
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
.cbx :focus-visible{outline:3px solid #3182ce;outline-offset:2px}
.cbx-pad{width:280px;touch-action:none;cursor:crosshair;border:1px solid #718096}
.cbx-buttons{margin-top:.4em;display:flex;gap:.5em}.cbx button{font:inherit;padding:.2em .7em}
.cbx-pred{font-size:18px;font-weight:600}.cbx-probs{width:260px;max-width:100%}
.cbx-prob{display:grid;grid-template-columns:1.5em 1fr 4em;gap:.4em;align-items:center;font-size:12px}
.cbx-bar{background:#edf2f7;height:.8em}.cbx-bar span{display:block;height:100%;background:#3182ce}
.cbx-maps > div{display:flex;flex-wrap:wrap;gap:3px;align-items:center;margin-top:.4em}
.cbx-maps p{width:100%;font-size:12px;color:#4a5568}
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


def _script(name: str) -> str:
    return (files("cnnbook") / "explorers" / name).read_text(encoding="utf-8")


class Explorer:
    """An explorer as HTML; Jupyter, Colab and the book's site display it (``_repr_html_``).

    ``kind`` names it (``"pooling"`` or ``"digit"``), ``html`` is the whole fragment and
    :meth:`save` writes a page that opens in any browser.
    """

    def __init__(self, kind: str, data: dict[str, Any], title: str) -> None:
        self.kind = kind
        self.id = f"cbx-{kind}-{uuid.uuid4().hex[:10]}"
        code = _script("common.js") + "\n" + _script(f"{kind}.js")
        # A function name, never the element id, reaches the script: the id comes from uuid4.
        self.html = (
            f'<div class="cbx" id="{self.id}" data-cnnbook-explorer="{kind}">'
            f"<style>{STYLE}</style><strong>{title}</strong>"
            f'<script type="application/json" class="cnnbook-data">{json_for_html(data)}</script>'
            '<div class="cbx-body"><p>This explorer runs in your browser and needs JavaScript.</p></div>'
            f'<script>(function(){{\n{code}\ncnnbook.{kind}(document.getElementById("{self.id}"));\n}})();</script>'
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
