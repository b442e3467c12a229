"""Shared test set-up: a headless plotting backend and no budget variables leaking in from the shell."""
import os

import matplotlib

matplotlib.use("Agg")

for _var in ("CNNBOOK_QUICK", "CNNBOOK_BUDGET", "CNNBOOK_DEVICE"):
    os.environ.pop(_var, None)


def pytest_configure(config):
    config.addinivalue_line("markers", "cuda: needs a CUDA GPU (run on one by scripts/gpu_check.sh)")


def pytest_collection_modifyitems(config, items):
    """Every test skipped for lack of a CUDA GPU is a CUDA test: ``pytest -m cuda`` selects it."""
    import pytest

    for item in items:
        if any("CUDA GPU" in str(m.kwargs.get("reason", "")) for m in item.iter_markers("skipif")):
            item.add_marker(pytest.mark.cuda)
