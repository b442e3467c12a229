"""A real browser opens every page of the built site (Debian's Chromium, driven by Playwright).

The site is the one ``make test`` builds in quick mode; point ``CNNBOOK_SITE`` at any built
``_build/html`` folder to check another. A page fails when it is missing, links to a page or an
anchor that does not exist, shows an image that does not load, or logs a JavaScript error.

The site must read the same with or without a network, so every resource a page loads must come
from the site itself: a request to another host (MathJax, require.js or the widget manager from a
CDN) is blocked and fails the page, whether or not this machine is online. After MathJax has run,
a page also fails if it shows raw TeX, a raw MyST role or directive, a Markdown table printed as
text, or a widget that only a live kernel could draw.
"""
import os
import re
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from test_book import config, toc_files

SITE = os.environ.get("CNNBOOK_SITE")
pytestmark = pytest.mark.skipif(not SITE, reason="set CNNBOOK_SITE to a built site (make test does)")
# the fixtures `server` (the site over HTTP) and `browser` (Chromium) are in conftest.py


def is_local(url: str, base: str) -> bool:
    return url.startswith(base) or url.startswith(("data:", "blob:", "about:"))


# What a reader sees, outside code: text nodes not inside code, scripts or typeset math.
VISIBLE_PROSE = """() => {
  const skip = 'PRE, CODE, SCRIPT, STYLE, MJX-CONTAINER, MJX-ASSISTIVE-MML, .MathJax, .mjx-container';
  const walker = document.createTreeWalker(document.querySelector('main') || document.body,
                                           NodeFilter.SHOW_TEXT);
  const out = [];
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (el && !el.closest(skip)) out.push(walker.currentNode.textContent);
  }
  return out.join('');
}"""
RAW_TEX = re.compile(r"\\[()\[\]]|\$\$|\\(frac|lfloor|rfloor|lceil|text|mathrm|times|cdot|sum|infty|max|min|approx)\b")
RAW_MYST = re.compile(r"\{[a-z][\w:-]*\}`|^\s*(`{3}|:{3})\{", re.MULTILINE)
# a table's separator row, | --- | ---: |, also once smart quotes made its dashes em dashes: | — |
TEXT_TABLE = re.compile(r"\|\s*:?(-{3,}|[—–]+):?\s*\|")


def visible_problems(page) -> list[str]:
    """Raw TeX, raw MyST or a Markdown table shown as text, once MathJax has typeset the page."""
    page.evaluate("() => window.MathJax && MathJax.startup ? MathJax.startup.promise : null")
    problems = []
    prose = page.evaluate(VISIBLE_PROSE)
    for what, rx in (("raw TeX", RAW_TEX), ("a raw MyST role or directive", RAW_MYST)):
        problems += [f"{what}: ...{prose[max(0, m.start() - 40):m.end() + 40]!r}..." for m in rx.finditer(prose)]
    untypeset = page.eval_on_selector_all(
        ".math", "els => els.filter(e => !e.querySelector('mjx-container')).map(e => e.textContent)")
    problems += [f"math MathJax did not typeset: {t[:80]!r}" for t in untypeset]
    outputs = page.eval_on_selector_all(".cell_output", "els => els.map(e => e.innerText).join(' ')")
    problems += [f"a Markdown table printed as text: ...{t[max(0, m.start() - 60):m.end() + 20]!r}..."
                 for t in (prose, outputs) for m in TEXT_TABLE.finditer(t)]
    widgets = page.locator('script[type="application/vnd.jupyter.widget-view+json"]').count()
    if widgets:
        problems.append(f"{widgets} widget(s) that the static site cannot draw (tag their cells remove-output)")
    return problems


@pytest.mark.parametrize("entry", toc_files())
def test_page_opens_cleanly(server, browser, entry):
    page = browser.new_page()
    errors: list[str] = []
    bad_requests: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"uncaught: {exc}"))

    def on_console(msg):
        if msg.type != "error":
            return
        where = (msg.location or {}).get("url", "")
        if "Failed to load resource" in msg.text and where and not is_local(where, server):
            return  # an external request: reported below as such
        errors.append(f"console: {msg.text} ({where})")

    page.on("console", on_console)
    external: list[str] = []

    def only_the_site(route):
        if is_local(route.request.url, server):
            route.continue_()
        else:  # the site must not need the network
            external.append(f"{route.request.resource_type} {route.request.url}")
            route.abort()

    page.route("**/*", only_the_site)
    page.on("requestfailed", lambda r: bad_requests.append(r.url) if is_local(r.url, server) else None)
    page.on("response", lambda r: bad_requests.append(f"{r.status} {r.url}")
            if r.status >= 400 and is_local(r.url, server) else None)

    url = f"{server}/{entry}.html"
    response = page.goto(url, wait_until="load")
    assert response is not None and response.ok, f"{url} is missing ({response and response.status})"
    page.wait_for_timeout(300)
    assert page.locator("h1").count() >= 1, f"{entry}: no title on the page"

    broken_images = page.eval_on_selector_all(
        "img", "els => els.filter(e => !(e.complete && e.naturalWidth > 0)).map(e => e.src)")
    assert not broken_images, f"{entry}: images that do not load: {broken_images}"

    links = page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)")
    for link in sorted(set(links)):
        if not link.startswith(server):
            continue
        target, anchor = urldefrag(link)
        path = Path(SITE) / urlparse(target).path.lstrip("/")
        if path.is_dir():
            path = path / "index.html"
        assert path.exists(), f"{entry}: broken link {link}"
        if anchor and path.suffix == ".html":
            html = path.read_text(errors="replace")
            assert f'id="{anchor}"' in html, f"{entry}: link to a missing anchor {link}"

    assert not external, f"{entry}: loads resources from other hosts (the site must work offline): {external}"
    assert not bad_requests, f"{entry}: requests that failed: {bad_requests}"
    assert not errors, f"{entry}: JavaScript errors: {errors}"
    problems = visible_problems(page)
    assert not problems, f"{entry}: shows what it should not ({len(problems)}): " + "\n".join(problems[:12])
    page.close()


@pytest.mark.parametrize("entry", [f for f in toc_files() if (Path(__file__).parents[1] / f"{f}.ipynb").exists()])
def test_colab_button_opens_the_colab_edition(entry):
    cfg = config()
    org_repo = cfg["repository"]["url"].rstrip("/").split("github.com/")[1]
    chapter = Path(entry).name
    wanted = (f"{cfg['launch_buttons']['colab_url'].rstrip('/')}/github/{org_repo}/blob/"
              f"{cfg['repository']['branch']}/colab/{chapter}.ipynb")
    html = (Path(SITE) / f"{entry}.html").read_text()
    links = set(re.findall(r'href="(https://colab\.research\.google\.com/[^"]+)"', html))
    assert links == {wanted}, f"{entry}: the Colab button opens {links}, not {wanted}"
    assert (Path(__file__).parents[1] / "colab" / f"{chapter}.ipynb").exists()


def test_the_checks_catch_what_they_look_for(browser):
    page = browser.new_page()
    page.set_content("<main><p>Max: \\(\\max(a, b)\\) and {glue:text}`acc:.1f`%</p>"
                     "<p>| a | b |\n| — | —: |\n| 1 | 2 |</p><code>\\frac ok, and | --- | too, in code</code></main>")
    problems = visible_problems(page)
    page.close()
    kinds = {p.split(":")[0] for p in problems}
    assert kinds == {"raw TeX", "a raw MyST role or directive", "a Markdown table printed as text"}, problems
