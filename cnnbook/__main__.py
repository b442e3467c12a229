"""``python -m cnnbook train MODEL ...`` / ``python -m cnnbook bench ...``: see :mod:`cnnbook.cli`."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
