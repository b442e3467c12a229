"""Put on PYTHONPATH by tests/test_colab.py for the notebook kernel: myst_nb cannot be imported there.

Colab has no myst_nb, so the Colab edition must read and run without it; this makes the test's
kernel as bare as Colab's in that respect, whatever the virtual environment holds.
"""
import sys


class _NoMystNb:
    def find_spec(self, name, path=None, target=None):
        if name == "myst_nb" or name.startswith("myst_nb."):
            raise ModuleNotFoundError(f"No module named {name!r} (blocked, as in Colab)", name=name)


sys.meta_path.insert(0, _NoMystNb())
