# Two commands set everything up from a fresh clone (Linux, Python 3.11, no GPU needed):
#   make book   create .venv, install, build the book with every chapter executed -> _build/html/index.html
#   make test   create .venv, install (and Chromium), run the whole test suite
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
JB     := $(VENV)/bin/jupyter-book
STRICT := -W -n --keep-going
# Claims that guard the prose (cnnbook.claim) fail the build and the tests; a reader only gets a warning.
export CNNBOOK_STRICT := 1
QUICK_SITE := _build/quick/_build/html

.PHONY: book test colab unit notebooks site-quick browser chromium clean

# The executed chapters' glued numbers become the reference numbers the Colab edition prints,
# book/reference/<chapter>.json (scripts/reference_numbers.py): commit them, then run `make colab`.
book: $(VENV)/.installed
	$(JB) build . $(STRICT)
	$(PY) scripts/reference_numbers.py _build/jupyter_execute/book
	@echo "The book is in _build/html/index.html"

test: $(VENV)/.installed chromium lint
	$(PY) -m pytest tests
	CNNBOOK_QUICK=1 $(PY) -m pytest --nbmake --nbmake-timeout=600 book
	CNNBOOK_COLAB_RUN=1 $(PY) -m pytest tests/test_colab.py::test_the_edition_runs_in_a_colab_like_environment_and_shows_its_numbers
	CNNBOOK_QUICK=1 $(JB) build . --path-output _build/quick $(STRICT)
	CNNBOOK_SITE=$(QUICK_SITE) $(PY) -m pytest tests/test_site.py tests/test_site_explorers.py tests/test_site_a11y.py

# ruff (pyflakes, pycodestyle, import order, bugbear) and mypy over every Python file: cnnbook/, tests/,
# scripts/, _ext/ and benchmarks/ (pyproject.toml); Biome (pinned in package.json, rules in biome.json)
# over the explorers' JavaScript
lint: $(VENV)/.installed node_modules/.installed
	$(PY) -m ruff check cnnbook tests scripts _ext benchmarks
	$(PY) -m mypy
	npx --no-install biome lint --error-on-warnings

# Node 18+ and npm: the exact versions of package-lock.json, nothing else
node_modules/.installed: package.json package-lock.json
	npm ci --no-audit --no-fund
	touch $@

$(VENV)/.installed: requirements.txt pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip
	$(PY) -m pip install -q -r requirements.txt
	$(PY) -m pip install -q --no-deps -e .
	touch $@

# The Colab edition, colab/<chapter>.ipynb, is generated from book/, book/reference/ and the package, and
# committed (tests/test_colab.py fails when it is out of date): run this after changing a chapter or cnnbook/.
colab: | $(VENV)/.installed
	$(PY) scripts/make_colab.py

# Debian's Chromium drives the browser checks of the built site (tests/test_site*.py).
chromium:
	@command -v chromium >/dev/null 2>&1 || { \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -q && $$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium; }

clean:
	rm -rf _build
