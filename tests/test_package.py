"""The package's face: what `import cnnbook` offers and what it costs."""
import subprocess
import sys

import cnnbook as cb


def test_every_exported_name_exists():
    missing = [name for name in cb.__all__ if not hasattr(cb, name)]
    assert not missing


def test_import_needs_torch_alone():
    code = ("import sys, cnnbook, cnnbook.viz, cnnbook.explorers; "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'torchvision', 'myst_nb') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]", f"import cnnbook pulled in {out.strip()}"


def test_bundled_data_ships_with_the_package():
    from importlib.resources import files
    folder = files("cnnbook") / "_data" / "mnist"
    names = sorted(p.name for p in folder.iterdir())
    assert names == ["t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz",
                     "train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"]
    assert sum((folder / n).stat().st_size for n in names) <= 3 * 2**20
