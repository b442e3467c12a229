"""The Python side of the in-browser explorers: the HTML they emit, the data in it, their errors.

What the JavaScript computes is checked in a real browser by tests/test_site_explorers.py.
"""
import base64
import json
import re
from importlib.resources import files

import numpy as np
import pytest
import torch
from torch import nn

import cnnbook as cb
from cnnbook.explorers import Explorer


def embedded(explorer: Explorer) -> dict:
    found = re.findall(r'<script type="application/json" class="cnnbook-data">(.*?)</script>', explorer.html, re.DOTALL)
    assert len(found) == 1
    return json.loads(found[0])


def floats(b64: str) -> torch.Tensor:
    return torch.from_numpy(np.frombuffer(base64.b64decode(b64), "<f4").copy())


@pytest.fixture(scope="module")
def digits():
    return cb.load_mnist(split="test")


def test_pooling_explorer_embeds_images_exactly_and_inlines_its_script():
    digit = torch.rand(1, 28, 28, generator=torch.Generator().manual_seed(0))
    photo = torch.rand(9, 13, generator=torch.Generator().manual_seed(1))
    e = cb.pooling_explorer({"digit": digit, "photo": photo}, kernel_size=3, stride=1, padding=1,
                            mode="avg", pad_mode="reflect", ceil_mode=True)
    data = embedded(e)
    assert [(im["name"], im["h"], im["w"]) for im in data["images"]] == [("digit", 28, 28), ("photo", 9, 13)]
    assert torch.equal(floats(data["images"][0]["values"]), digit.flatten())
    assert torch.equal(floats(data["images"][1]["values"]), photo.flatten())
    assert data["settings"] == {"image": 0, "mode": "avg", "padMode": "reflect", "ceil": True,
                                "kernel": 3, "stride": 1, "padding": 1}
    html = e._repr_html_()
    assert f'id="{e.id}"' in html and 'data-cnnbook-explorer="pooling"' in html
    for name in ("common.js", "pooling.js"):  # inlined from the package, nothing fetched
        assert (files("cnnbook") / "explorers" / name).read_text() in html
    assert not re.search(r"https?://|\bsrc=|<link|import\s|require\(", html)


def test_explorers_get_distinct_ids_and_a_text_repr(tmp_path):
    a, b = (cb.pooling_explorer({"x": torch.zeros(4, 4)}) for _ in range(2))
    assert a.id != b.id
    assert "browser" in repr(a)
    page = a.save(tmp_path / "x.html")
    assert page.read_text().startswith("<!DOCTYPE html>") and a.html in page.read_text()


def test_names_are_escaped_inside_the_script():
    name = '</script><img src=x onerror="alert(1)">&amp;'
    e = cb.pooling_explorer({name: torch.zeros(3, 3)})
    assert "</script><img" not in e.html and "&amp;" not in e.html
    assert embedded(e)["images"][0]["name"] == name


@pytest.mark.parametrize("images, error, words", [
    ([torch.zeros(3, 3)], TypeError, "images must be a non-empty dict"),
    ({}, TypeError, "images must be a non-empty dict"),
    ({"": torch.zeros(3, 3)}, TypeError, "non-empty string"),
    ({"x": [[0.0]]}, TypeError, "images['x'] must be a torch.Tensor"),
    ({"x": torch.zeros(3, 3, dtype=torch.uint8)}, TypeError, "floating-point"),
    ({"x": torch.zeros(3, 5, 5)}, ValueError, "one grey image"),
    ({"x": torch.zeros(200, 5)}, ValueError, "at most 128 x 128"),
    ({"x": torch.full((3, 3), float("nan"))}, ValueError, "finite"),
    ({str(i): torch.zeros(2, 2) for i in range(9)}, ValueError, "at most 8 images"),
])
def test_pooling_explorer_refuses_bad_images(images, error, words):
    with pytest.raises(error, match=re.escape(words)):
        cb.pooling_explorer(images)


@pytest.mark.parametrize("kwargs, error, words", [
    ({'kernel_size': 0}, ValueError, "kernel_size"),
    ({'kernel_size': 9}, ValueError, "kernel_size"),
    ({'kernel_size': True}, TypeError, "kernel_size"),
    ({'stride': 2.0}, TypeError, "stride"),
    ({'padding': -1}, ValueError, "padding"),
    ({'mode': "median"}, ValueError, "mode"),
    ({'pad_mode': "mirror"}, ValueError, "pad_mode"),
    ({'ceil_mode': 1}, TypeError, "ceil_mode"),
])
def test_pooling_explorer_refuses_bad_settings(kwargs, error, words):
    with pytest.raises(error, match=words):
        cb.pooling_explorer({"x": torch.zeros(8, 8)}, **kwargs)


def test_digit_explorer_embeds_the_weights_exactly_and_compactly(digits):
    torch.manual_seed(0)
    model = cb.LeNet5(activation="tanh", pool="avg")
    e = cb.digit_explorer(model, digits, examples=5)
    data = embedded(e)
    flat = floats(data["weights"])
    assert flat.numel() == cb.count_params(model) == 44_426
    assert sum(n for _, n in data["layout"].values()) == 44_426
    offset, n = data["layout"]["c3w"]
    assert torch.equal(flat[offset : offset + n], model.features[3].weight.detach().flatten())
    offset, n = data["layout"]["outb"]
    assert torch.equal(flat[offset : offset + n], model.classifier[4].bias.detach())
    assert (data["activation"], data["pool"]) == ("tanh", "avg")
    assert (data["mean"], data["std"]) == (digits.mean[0], digits.std[0])
    assert data["classes"] == list(digits.classes) and data["labels"] == digits.labels[:5].tolist()
    shown = np.frombuffer(base64.b64decode(data["examples"]), np.uint8).reshape(5, 1, 28, 28)
    assert np.array_equal(shown, digits.images[:5].numpy())
    assert len(e.html) < 350_000  # float32 base64: 44,426 x 4 bytes x 4/3, plus the script
    assert 'data-cnnbook-explorer="digit"' in e.html
    assert (files("cnnbook") / "explorers" / "digit.js").read_text() in e.html


def test_digit_explorer_copies_the_weights(digits):
    model = cb.LeNet5()
    before = embedded(cb.digit_explorer(model, digits, examples=1))["weights"]
    e = cb.digit_explorer(model, digits, examples=1)
    with torch.no_grad():
        model.features[0].bias += 1
    assert embedded(e)["weights"] == before


def test_digit_explorer_refuses_bad_arguments(digits):
    with pytest.raises(TypeError, match="model must be a cnnbook.LeNet5"):
        cb.digit_explorer(nn.Linear(784, 10), digits)
    with pytest.raises(TypeError, match="digits must be a cnnbook.ImageDataset"):
        cb.digit_explorer(cb.LeNet5(), digits.images)
    with pytest.raises(ValueError, match="examples"):
        cb.digit_explorer(cb.LeNet5(), digits, examples=0)
    with pytest.raises(ValueError, match="10 classes but model has 5 outputs"):
        cb.digit_explorer(cb.LeNet5(5), digits)
    floats_ds = cb.as_dataset((torch.rand(4, 1, 28, 28), torch.arange(4) % 10))
    with pytest.raises(ValueError, match="uint8 images of shape"):
        cb.digit_explorer(cb.LeNet5(), floats_ds)


def test_import_cnnbook_still_needs_torch_alone():
    import subprocess
    import sys
    code = ("import sys, cnnbook; cnnbook.pooling_explorer({'x': __import__('torch').zeros(2, 2)}); "
            "print(sorted(m for m in ('matplotlib', 'ipywidgets', 'IPython') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
