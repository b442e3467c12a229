"""A real browser opens every page of the built site (Debian's Chromium, driven by Playwright).

The site is the one ``make test`` builds in quick mode; point ``CNNBOOK_SITE`` at any built
``_build/html`` folder to check another. A page fails when it is missing, links to a page or an
anchor that does not exist, shows an image that does not load, or logs a JavaScript error (blocked
requests to other hosts are expected offline and are allowed).
"""
import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urldefrag, urlparse

import pytest

from test_book import toc_files

SITE = os.environ.get("CNNBOOK_SITE")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not SITE, reason="set CNNBOOK_SITE to a built site (make test does)")

FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    site = Path(SITE).resolve()
    assert (site / "index.html").exists(), f"no built site at {site}"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make chromium` installs Debian's package"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


def is_local(url: str, base: str) -> bool:
    return url.startswith(base) or url.startswith(("data:", "blob:", "about:"))


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
            return  # an external request, blocked offline
        if "net::ERR_" in msg.text and not where.startswith(server):
            return
        errors.append(f"console: {msg.text} ({where})")

    page.on("console", on_console)
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

    assert not bad_requests, f"{entry}: requests that failed: {bad_requests}"
    assert not errors, f"{entry}: JavaScript errors: {errors}"
    page.close()
