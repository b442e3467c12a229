"""The in-browser explorers, driven in Debian's Chromium: on pages rendered here, and on the built site.

The site is the one ``make test`` builds in quick mode (``CNNBOOK_SITE``); the tests that need it
skip without it, the others render their own explorer with ``Explorer.save``. Pages are opened as
``file://`` with every other request refused, as a reader offline would. The explorers' own
test hook, the ``cnnbookExplorer`` property of the explorer's element, lets a test set a setting or
an input and read exact outputs; everything else goes through the page's controls, by keyboard and
mouse.
"""
from __future__ import annotations

import base64
import itertools
import os
from pathlib import Path

import numpy as np
import pytest
import torch

import cnnbook as cb

SITE = os.environ.get("CNNBOOK_SITE")
SHOTS = os.environ.get("CNNBOOK_SCREENSHOTS")  # a folder to keep the phone-width screenshots in
needs_site = pytest.mark.skipif(not SITE, reason="set CNNBOOK_SITE to a built site (make test does)")


def page_with(kind: str) -> Path:
    """The built page that holds an explorer of this kind."""
    marker = f'data-cnnbook-explorer="{kind}"'
    pages = [p for p in sorted(Path(str(SITE)).rglob("*.html")) if marker in p.read_text(errors="replace")]
    assert pages, f"no page of {SITE} holds a {kind} explorer"
    return pages[0]


def open_page(browser, path: Path, kind: str, width: int = 1000):
    """(page, explorer element id, errors list): the page from disk, the network refused."""
    context = browser.new_context(viewport={"width": width, "height": 900})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith("file:")
                  else route.abort())
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(path.resolve().as_uri(), wait_until="load")
    root = page.locator(f'[data-cnnbook-explorer="{kind}"]').first
    root.scroll_into_view_if_needed()
    return page, root.get_attribute("id"), errors


def open_explorer(browser, kind: str, width: int = 1000):
    """The built site's page that holds an explorer of this kind (see open_page)."""
    return open_page(browser, page_with(kind), kind, width)


def open_rendered(browser, explorer, tmp_path: Path):
    """An explorer rendered here, saved as a page and opened (see open_page)."""
    return open_page(browser, explorer.save(tmp_path / f"{explorer.kind}.html"), explorer.kind)


def next_frames(page) -> None:
    """Return once the page has drawn two more frames: work it scheduled for the next one is done."""
    page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")


def api(page, ident: str, call: str, *args):
    return page.evaluate(f"(args) => document.getElementById({ident!r}).cnnbookExplorer.{call}(...args)", list(args))


# ------------------------------------------------------------------------------------- pooling


def reference(x: torch.Tensor, st: dict) -> torch.Tensor:
    """What cb.pool2d (after cb.pad2d for an explicit padding mode) gives for an explorer setting."""
    k, s, p, mode = st["kernel"], st["stride"], st["padding"], st["mode"]
    if st["padMode"] != "pool":
        x, p = cb.pad2d(x, p, st["padMode"]), 0
    return cb.pool2d(x, k, s, p, mode=mode, ceil_mode=st["ceil"])  # type: ignore[return-value]


SETTINGS = [{"mode": m, "kernel": k, "stride": s, "padding": p, "padMode": pm, "ceil": c}
            for m, k, s, p, pm, c in itertools.product(
                ("max", "avg", "min"), (1, 2, 3, 5), (1, 2, 3), (0, 1, 2, 4),
                ("pool", "zeros", "reflect", "replicate", "circular"), (False, True))]


def test_pooling_explorer_equals_cb_pool2d_and_shows_its_messages(browser, tmp_path):
    x = torch.rand(1, 4, 7, generator=torch.Generator().manual_seed(0))  # small: errors happen too
    page, ident, errors = open_rendered(browser, cb.pooling_explorer({"test input": x}), tmp_path)
    outputs = page.evaluate("([id, settings]) => settings.map(st => { const e = document.getElementById(id)"
                            ".cnnbookExplorer; e.set(st); return e.output(); })", [ident, SETTINGS])
    refused = 0
    for st, out in zip(SETTINGS, outputs):
        try:
            want = reference(x, st)[0]
        except ValueError as err:
            refused += 1
            assert out["error"] == str(err), st
            continue
        assert out["error"] is None, (st, out["error"])
        assert out["shape"] == list(want.shape), st
        got = torch.tensor(out["values"], dtype=torch.float64)
        torch.testing.assert_close(got, want.double(), rtol=1e-6, atol=1e-6, msg=lambda m, st=st: f"{st}: {m}")
    assert 0 < refused < len(SETTINGS) / 2  # both kinds of setting were checked
    assert not errors


def test_pooling_explorer_shows_the_refusal_and_the_size_cnnbook_computes(browser, tmp_path):
    x = torch.rand(1, 3, 9, generator=torch.Generator().manual_seed(1))
    page, ident, errors = open_rendered(browser, cb.pooling_explorer({"x": x}), tmp_path)
    root = page.locator(f"#{ident}")
    api(page, ident, "set", {"kernel": 3, "stride": 2, "padding": 3, "padMode": "reflect", "ceil": False})
    with pytest.raises(ValueError) as refusal:
        cb.pad2d(x, 3, "reflect")
    assert root.locator(".cbx-error").inner_text() == f"cb.pad2d refuses: {refusal.value}"
    api(page, ident, "set", {"kernel": 3, "stride": 2, "padding": 1, "padMode": "pool", "ceil": True})
    out = cb.pool2d(x, 3, 2, 1, ceil_mode=True)
    assert isinstance(out, torch.Tensor) and root.locator(".cbx-error").inner_text() == ""
    assert f"-> output {out.shape[-2]} x {out.shape[-1]}:" in root.locator(".cbx-shape").inner_text()
    assert "width ceil((9 + 2*1 - 3) / 2) + 1" in root.locator(".cbx-shape").inner_text()
    assert root.locator(".cbx-try").inner_text().startswith("Try: ")
    assert not errors


@needs_site
def test_pooling_explorer_embeds_the_images_exactly(browser):
    page, ident, errors = open_explorer(browser, "pooling")
    data = page.evaluate(f"JSON.parse(document.querySelector('#{ident} script.cnnbook-data').textContent)")
    first = data["images"][0]
    image = np.frombuffer(base64.b64decode(first["values"]), "<f4").reshape(first["h"], first["w"])
    st = api(page, ident, "settings")
    out = api(page, ident, "output")
    want = reference(torch.tensor(image.copy())[None], st)[0]
    torch.testing.assert_close(torch.tensor(out["values"], dtype=torch.float64), want.double(),
                               rtol=1e-6, atol=1e-6)
    assert not errors


@needs_site
def test_pooling_controls_by_keyboard_change_the_output_and_show_refusals(browser):
    page, ident, errors = open_explorer(browser, "pooling")
    root = page.locator(f"#{ident}")
    api(page, ident, "set", {"image": 0, "mode": "max", "kernel": 2, "stride": 2, "padding": 0,
                             "padMode": "pool", "ceil": False})
    before, shape_before = api(page, ident, "output"), root.locator(".cbx-shape").inner_text()
    root.locator("[data-k=stride]").focus()
    page.keyboard.press("ArrowLeft")  # stride 2 -> 1
    after = api(page, ident, "output")
    assert after["shape"] != before["shape"]
    assert root.locator(".cbx-shape").inner_text() != shape_before
    root.locator("[data-k=mode]").select_option("avg")
    assert api(page, ident, "output")["values"] != after["values"]
    # the output canvas takes arrow keys: the chosen unit moves
    unit = root.locator(".cbx-unit").inner_text()
    root.locator(".cbx-out").focus()
    page.keyboard.press("ArrowRight")
    assert root.locator(".cbx-unit").inner_text() != unit and "column 1" in root.locator(".cbx-unit").inner_text()
    # padding 2 with a 2x2 window: cb.pool2d refuses, and the page says why in the same words
    root.locator("[data-k=padding]").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    with pytest.raises(ValueError) as refusal:
        cb.pool2d(torch.zeros(1, 28, 28), 2, 1, 2, mode="avg")
    assert str(refusal.value) in root.locator(".cbx-error").inner_text()
    assert api(page, ident, "output")["values"] is None
    assert not errors


# ------------------------------------------------------------------------------------- padding


PADDING_SETTINGS = [{"n": n, "kernel": k, "stride": s, "padding": p, "dilation": d}
                    for n, k, s, p, d in itertools.product((1, 4, 7, 12), (1, 3, 6), (1, 2, 4),
                                                           ("valid", "same", 0, 1, 2, 3, 4), (1, 3))]


def test_padding_explorer_equals_cb_conv_output_size_and_shows_its_messages(browser, tmp_path):
    page, ident, errors = open_rendered(browser, cb.padding_explorer(), tmp_path)
    outputs = page.evaluate("([id, settings]) => settings.map(st => { const e = document.getElementById(id)"
                            ".cnnbookExplorer; e.set(st); return e.output(); })", [ident, PADDING_SETTINGS])
    refused = 0
    for st, out in zip(PADDING_SETTINGS, outputs):
        args = [st[key] for key in ("n", "kernel", "stride", "padding", "dilation")]
        try:
            want = cb.conv_output_size(*args)
        except ValueError as err:
            refused += 1
            assert out["error"] == str(err), st
            continue
        assert out["error"] is None and out["out"] == want == len(out["windows"]), st
    assert 0 < refused < len(PADDING_SETTINGS) / 2
    assert not errors


def test_padding_explorer_by_keyboard_shows_the_size_and_the_refusal(browser, tmp_path):
    page, ident, errors = open_rendered(browser, cb.padding_explorer(), tmp_path)
    root = page.locator(f"#{ident}")
    assert root.locator(".cbx-try").inner_text().startswith("Try: make a 7-wide input give ")
    first = cb.conv_output_size(5, 3, 1, 1)
    assert root.locator(".cbx-shape").inner_text() == (
        f"output size = floor((5 + 2*1 - 1*(3-1) - 1) / 1) + 1 = {first}: "
        f"a 5-wide input gives {first} outputs (padding 1 before, 1 after)")
    root.locator("[data-k=n]").focus()
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")  # n 5 -> 7
    root.locator("[data-k=stride]").focus()
    page.keyboard.press("ArrowRight")  # stride 1 -> 2
    want = cb.conv_output_size(7, 3, 2, 1)
    assert f"= {want}: a 7-wide input gives {want} outputs" in root.locator(".cbx-shape").inner_text()
    assert root.locator(".cbx-code").inner_text() == "cb.conv_output_size(7, 3, stride=2, padding=1, dilation=1)"
    assert api(page, ident, "output")["out"] == want
    assert root.locator(".cbx-error").inner_text() == ""
    root.locator("[data-k=padding]").select_option("same")  # strided "same": refused
    with pytest.raises(ValueError) as refusal:
        cb.conv_output_size(7, 3, 2, "same")
    assert root.locator(".cbx-error").inner_text() == f"cb.conv_output_size refuses: {refusal.value}"
    assert root.locator(".cbx-shape").inner_text() == "a 7-wide input: no output"
    assert api(page, ident, "output") == {"error": str(refusal.value), "out": None}
    root.locator("[data-k=padding]").select_option("2")
    root.locator("[data-k=dilation]").focus()
    page.keyboard.press("ArrowRight")  # dilation 2: the padded row is 11 wide, the window 5
    want = cb.conv_output_size(7, 3, 2, 2, 2)
    assert f"= {want}: a 7-wide input gives {want} outputs (padding 2 before, 2 after)" in (
        root.locator(".cbx-shape").inner_text())
    assert root.locator(".cbx-row").bounding_box()["height"] > 0
    assert not errors


# --------------------------------------------------------------------------------- draw a digit


def page_network(page, ident: str) -> tuple[cb.LeNet5, dict]:
    """A cb.LeNet5 holding the weights the page embeds, placed by the page's layer list, decoded here."""
    data = page.evaluate(f"JSON.parse(document.querySelector('#{ident} script.cnnbook-data').textContent)")
    flat = torch.from_numpy(np.frombuffer(base64.b64decode(data["weights"]), "<f4").copy())
    layers = data["layers"]
    model = cb.LeNet5(len(data["classes"]), activation=layers[1]["op"], pool=layers[2]["mode"]).eval()
    modules = [*model.features, torch.nn.Flatten(), *model.classifier]
    with torch.no_grad():
        for module, layer in zip(modules, layers):
            for kind in ("weight", "bias"):
                if kind in layer:
                    offset, n = data["layout"][layer[kind]]
                    t = getattr(module, kind)
                    t.copy_(flat[offset : offset + n].reshape(t.shape))
    return model, data


def check_logits(page, ident: str, errors: list[str], n: int) -> None:
    """The page's logits on n test digits equal those of the network it embeds, run by PyTorch."""
    model, data = page_network(page, ident)
    test = cb.load_mnist(split="test")
    assert (data["mean"], data["std"]) == (test.mean[0], test.std[0])  # cb's MNIST normalisation
    x = test.images[:n].float() / 255  # (n, 1, 28, 28)
    logits = torch.tensor(api(page, ident, "classify", x.flatten(1).tolist()), dtype=torch.float64)
    with torch.no_grad():
        want = model((x - data["mean"]) / data["std"]).double()
    assert logits.shape == (n, 10)
    assert (logits - want).abs().max().item() <= 1e-4
    assert torch.equal(logits.argmax(1), want.argmax(1))
    assert not errors


@needs_site
def test_digit_explorer_logits_equal_pytorch_on_100_test_digits(browser):
    page, ident, errors = open_explorer(browser, "digit")
    check_logits(page, ident, errors, 100)


def test_digit_explorer_runs_the_layers_it_is_given(browser, tmp_path):
    """Another activation and pooling than the chapter's: the page follows the embedded layer list."""
    torch.manual_seed(0)
    model = cb.LeNet5(activation="tanh", pool="avg")
    page, ident, errors = open_rendered(browser, cb.digit_explorer(model, examples=2), tmp_path)
    check_logits(page, ident, errors, 20)
    labels = page.locator(f"#{ident} .cbx-maps p").all_inner_texts()
    assert labels == [m["label"] for m in page_network(page, ident)[1]["maps"]]
    assert "S4: 16 maps of 4 x 4, after avg pooling 2x2" in labels


def ink_stats(values: list[float]) -> tuple[float, float, int]:
    img = torch.tensor(values).reshape(28, 28)
    i = torch.arange(28.0)
    cy, cx = (img.sum(1) * i).sum() / img.sum(), (img.sum(0) * i).sum() / img.sum()
    rows, cols = img.gt(0).any(1).nonzero(), img.gt(0).any(0).nonzero()
    return cy.item(), cx.item(), int(max(rows.max() - rows.min(), cols.max() - cols.min()) + 1)


@needs_site
def test_drawing_is_preprocessed_like_mnist_and_predicted(browser):
    page, ident, errors = open_explorer(browser, "digit")
    root = page.locator(f"#{ident}")
    root.locator("[data-a=clear]").click()
    assert "draw a digit" in root.locator(".cbx-pred").inner_text()
    box = root.locator(".cbx-pad").bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.2)
    page.mouse.down()
    for t in np.linspace(0, 1, 12):  # a small slanted stroke in the top left corner
        page.mouse.move(box["x"] + box["width"] * (0.3 + 0.1 * t), box["y"] + box["height"] * (0.2 + 0.3 * t))
    page.mouse.up()
    next_frames(page)  # the explorer reads the drawing in the next animation frame
    cy, cx, side = ink_stats(api(page, ident, "input"))
    assert abs(cy - 14) <= 0.5 and abs(cx - 14) <= 0.5  # centred by its centre of mass
    assert side in (20, 21)  # the ink fits a 20x20 box (its grey border may touch one more pixel)
    assert root.locator(".cbx-pred").inner_text().startswith("prediction: ")
    assert not errors


@needs_site
def test_digit_explorer_by_keyboard(browser):
    page, ident, errors = open_explorer(browser, "digit")
    root = page.locator(f"#{ident}")
    first = api(page, ident, "logits")
    root.locator("[data-a=example]").focus()
    page.keyboard.press("Enter")  # the next test digit
    assert api(page, ident, "logits") != first
    assert "test digit 2" in root.locator(".cbx-label").inner_text()
    root.locator("[data-a=clear]").focus()
    page.keyboard.press("Enter")
    assert "draw a digit" in root.locator(".cbx-pred").inner_text()
    root.locator(".cbx-pad").focus()
    page.keyboard.press("Space")  # pen down
    for key in ["ArrowUp"] * 6 + ["ArrowRight"] * 3:
        page.keyboard.press(key)
    next_frames(page)  # the explorer reads the drawing in the next animation frame
    assert sum(api(page, ident, "input")) > 0
    assert root.locator(".cbx-pred").inner_text().startswith("prediction: ")
    assert not errors


@needs_site
@pytest.mark.parametrize("kind", ["pooling", "padding", "digit"])
def test_explorer_fits_a_phone(browser, kind, tmp_path):
    page, ident, errors = open_explorer(browser, kind, width=390)
    root = page.locator(f"#{ident}")
    box = root.bounding_box()
    assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
    overflow = page.evaluate(f"(() => {{ const r = document.getElementById({ident!r}).getBoundingClientRect();"
                             f" return [...document.querySelectorAll('#{ident} *')].filter(e => {{"
                             " const b = e.getBoundingClientRect(); return b.width > 0 && b.right > r.right + 1;"
                             " }).map(e => e.tagName + '.' + e.className); })()")
    assert not overflow, f"{kind} explorer: elements wider than a 390-pixel screen: {overflow}"
    shot = Path(SHOTS or tmp_path) / f"explorer-{kind}-390.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    root.screenshot(path=str(shot))
    assert shot.stat().st_size > 1000
    assert not errors
