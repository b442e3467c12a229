"""Shared test set-up: a headless plotting backend and no budget variables leaking in from the shell."""
import os

import matplotlib

matplotlib.use("Agg")

for _var in ("CNNBOOK_QUICK", "CNNBOOK_BUDGET", "CNNBOOK_DEVICE"):
    os.environ.pop(_var, None)
