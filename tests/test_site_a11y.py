"""Accessibility of the built site (issue 24), in a real browser (Debian's Chromium, Playwright).

Two checks on every page of the site ``make test`` builds in quick mode (``CNNBOOK_SITE``):

* axe-core, the accessibility engine bundled by the pinned ``axe-playwright-python``, runs in the
  page once it has loaded (MathJax typeset, the explorers drawn), in the light theme the site opens
  in and in the dark one a reader can switch to. A page fails on any violation axe rates
  ``critical`` or ``serious`` (an image or a ``role="img"`` canvas without a name, text with too
  little contrast, a control without a label, ...); the report names the page, the rule and each
  element. Lesser violations (``moderate``, ``minor``) are not failures.
* Every ``<img>`` of a chapter page has alt text that says what it shows: not missing or empty,
  not a file name, a path or a hash. myst-nb gives a figure its file path as alt text unless the
  drawing cell's metadata sets ``mystnb.image.alt``, which is where a chapter writes it.

Requests to other hosts are refused, as in tests/test_site.py: the site is checked as it reads offline.
The last test needs no site: it shows on a small page of its own that both checks catch what they
look for.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from test_book import toc_files

SITE = os.environ.get("CNNBOOK_SITE")
needs_site = pytest.mark.skipif(not SITE, reason="set CNNBOOK_SITE to a built site (make test does)")
# the fixtures `server` (the site over HTTP) and `browser` (Chromium) are in conftest.py

FAILING_IMPACTS = ("critical", "serious")
THEMES = ("light", "dark")
# the pages Sphinx writes besides the chapters
GENERATED_PAGES = ("genindex", "search")


def site_pages() -> list[str]:
    """Every page of the site: the table of contents' and the generated ones."""
    return toc_files() + list(GENERATED_PAGES)


def axe_violations(page) -> list[dict]:
    """axe-core's violations on ``page`` as it is now: one dict per rule broken (id, impact, help,
    nodes)."""
    from axe_playwright_python.sync_playwright import Axe

    return Axe().run(page, options={"resultTypes": ["violations"]}).response["violations"]


def serious_problems(violations: list[dict]) -> list[str]:
    """One line per element that breaks a critical or serious rule: impact, rule, what it asks,
    the element's selector and the start of its HTML."""
    lines = []
    for rule in violations:
        if rule["impact"] not in FAILING_IMPACTS:
            continue
        for node in rule["nodes"]:
            where = " ".join(str(t) for t in node["target"])
            html = " ".join(node["html"].split())[:160]
            lines.append(f"{rule['impact']} {rule['id']} ({rule['help']}): {where}: {html}")
    return lines


# what alt text that says nothing looks like: a file name, a path, a long hex hash
FILE_NAME = re.compile(r"\.(png|jpe?g|gif|svg|webp|bmp|pdf)\b", re.IGNORECASE)
HASH = re.compile(r"\b[0-9a-f]{16,}\b", re.IGNORECASE)


def alt_problem(src: str | None, alt: str | None) -> str | None:
    """Why the alt text ``alt`` of an image from ``src`` does not say what the image shows, or None."""
    if alt is None:
        return "no alt attribute"
    text = " ".join(alt.split())
    if not text:
        return "empty alt text"
    if FILE_NAME.search(text) or HASH.search(text) or (src and text in (src, Path(src).name)):
        return f"alt text is a file name or a hash: {text[:80]!r}"
    if "/" in text and " " not in text:
        return f"alt text is a path: {text[:80]!r}"
    if len(text.split()) < 2:
        return f"alt text of one word says too little: {text!r}"
    return None


def image_problems(page) -> list[str]:
    """One line per ``<img>`` on ``page`` whose alt text does not say what it shows."""
    images = page.eval_on_selector_all("img", "els => els.map(e => [e.getAttribute('src'), e.getAttribute('alt')])")
    lines = []
    for src, alt in images:
        problem = alt_problem(src, alt)
        if problem:
            lines.append(f"img {(src or '')[:90]}: {problem}")
    return lines


def open_offline(browser, url: str, base: str):
    """A new page at ``url``, every request outside ``base`` refused, typeset and drawn."""
    page = browser.new_page()
    page.route("**/*", lambda route: route.continue_() if route.request.url.startswith((base, "data:", "blob:"))
               else route.abort())
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url} is missing ({response and response.status})"
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    page.wait_for_timeout(300)
    return page


# the theme fades colours in over 0.15 s (CSS transitions); axe must see the colours the reader
# ends up with, not a frame half-way (a fixed 100 ms wait once let a loaded CI machine check a
# "Search" label half-way between its light and dark colours)
SETTLED = """async t => {
    document.documentElement.dataset.theme = t;
    document.documentElement.dataset.mode = t;
    await new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)));
    const fading = document.getAnimations().filter(a => a instanceof CSSTransition);
    await Promise.all(fading.map(a => a.finished.catch(() => null)));
}"""


def set_theme(page, theme: str) -> None:
    """Switch the page to the theme's ``light`` or ``dark`` mode, as its theme button does, and
    wait until every colour transition the switch started has finished."""
    page.evaluate(SETTLED, theme)


@needs_site
def test_every_page_of_the_site_is_checked():
    """The pages checked below are all the site's pages (none added without being checked)."""
    built = {str(p.relative_to(SITE).with_suffix("")) for p in Path(str(SITE)).rglob("*.html")
             if not p.relative_to(SITE).parts[0].startswith("_")}
    assert built <= set(site_pages()) | {"index"}, sorted(built - set(site_pages()))


@needs_site
@pytest.mark.parametrize("entry", site_pages())
def test_page_has_no_serious_accessibility_violations(server, browser, entry):
    page = open_offline(browser, f"{server}/{entry}.html", server)
    problems = []
    try:
        for theme in THEMES:
            set_theme(page, theme)
            problems += [f"[{theme}] {line}" for line in serious_problems(axe_violations(page))]
    finally:
        page.close()
    assert not problems, (f"{entry}: {len(problems)} critical or serious accessibility violation(s):\n"
                          + "\n".join(problems[:30]))


@needs_site
@pytest.mark.parametrize("entry", toc_files())
def test_every_image_of_a_chapter_says_what_it_shows(server, browser, entry):
    page = open_offline(browser, f"{server}/{entry}.html", server)
    try:
        problems = image_problems(page)
    finally:
        page.close()
    assert not problems, (f"{entry}: {len(problems)} image(s) without alt text that says what they show "
                          "(set mystnb.image.alt in the drawing cell's metadata):\n" + "\n".join(problems))


PIXEL = ("data:image/png;base64,"  # one grey pixel
         "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAAAAAA6fptVAAAACklEQVR4nGNgAAAAAgABSK+kcQAAAABJRU5ErkJggg==")
GOOD_PAGE = f"""<!doctype html><html lang="en"><head><title>A good page</title></head><body><main>
<h1>Pooling</h1><p>Some prose.</p>
<img src="{PIXEL}" alt="A line plot of the training loss falling over ten epochs">
<canvas role="img" aria-label="the input image, 8 x 8"></canvas></main></body></html>"""
BAD_PAGE = f"""<!doctype html><html lang="en"><head><title>A bad page</title></head><body><main>
<h1>Pooling</h1><p style="color:#bbbbbb;background:#ffffff">Text too pale to read.</p>
<img src="{PIXEL}">
<img src="{PIXEL}" alt="../_images/ed0d8a086e03c21ba0a35ad659ee1053a9f6129e90edf3c28c20966a901abf19.png">
<img src="{PIXEL}" alt="">
<canvas role="img"></canvas></main></body></html>"""


def test_the_checks_catch_what_they_look_for(browser):
    """Without a site: a page with an image without alt, alt text that is a file name, a nameless
    canvas and pale text fails both checks, each for the right reasons; a good page passes."""
    page = browser.new_page()
    try:
        page.set_content(GOOD_PAGE)
        assert serious_problems(axe_violations(page)) == [] and image_problems(page) == []
        page.set_content(BAD_PAGE)
        axe = serious_problems(axe_violations(page))
        images = image_problems(page)
    finally:
        page.close()
    assert {line.split()[1] for line in axe} == {"image-alt", "role-img-alt", "color-contrast"}, axe
    assert any(line.startswith("critical image-alt") and "<img" in line for line in axe), axe
    assert [line.split(": ", 1)[1].split(":")[0] for line in images] == [
        "no alt attribute", "alt text is a file name or a hash", "empty alt text"], images
