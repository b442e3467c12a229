"""Shared test set-up: a headless plotting backend and no budget variables leaking in from the shell."""
import functools
import os
import shutil
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

# Debian's Chromium and the flags every browser check launches it with
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
         "--disable-background-networking", "--disable-component-update"]

for _var in ("CNNBOOK_QUICK", "CNNBOOK_BUDGET", "CNNBOOK_DEVICE"):
    os.environ.pop(_var, None)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (run on one by scripts/gpu_check.sh)")


def pytest_collection_modifyitems(config, items):
    """Every test skipped for lack of a CUDA GPU is a CUDA test: ``pytest -m cuda`` selects it."""
    for item in items:
        if any("CUDA GPU" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.cuda)


@pytest.fixture(scope="module")
def browser():
    """Debian's Chromium, headless, driven by Playwright (the site and explorer checks share it)."""
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).exists(), "Chromium is missing: `make chromium` installs Debian's package"
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield b
        b.close()


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def server():
    """The built site ``$CNNBOOK_SITE`` served over HTTP on a free local port; yields its base URL
    (the site and accessibility checks share it)."""
    site = Path(os.environ.get("CNNBOOK_SITE", "")).resolve()
    assert (site / "index.html").exists(), f"no built site at {site}"
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(QuietHandler, directory=str(site)))
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
