"""The Python side of the in-browser explorers: the HTML they emit, the data in it, their errors.

What the JavaScript computes is checked in a real browser by tests/test_site_explorers.py.
"""
import base64
import itertools
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
        for line in (files("cnnbook") / "explorers" / name).read_text().splitlines():
            if not line.startswith("import "):
                assert line.removeprefix("export ") in html, (name, line)
    assert not re.search(r"https?://|\bsrc=|<link|\bimport\s|\bexport\s|require\(", html)


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
    ({'pad_mode': "constant"}, ValueError, "pad_mode"),  # offered as "zeros"
    ({'ceil_mode': 1}, TypeError, "ceil_mode"),
])
def test_pooling_explorer_refuses_bad_settings(kwargs, error, words):
    with pytest.raises(error, match=words):
        cb.pooling_explorer({"x": torch.zeros(8, 8)}, **kwargs)


def page_model(data: dict) -> cb.LeNet5:
    """A cb.LeNet5 holding the weights the page receives, placed by the page's own layer list."""
    flat = floats(data["weights"])
    model = cb.LeNet5(len(data["classes"]), activation=data["layers"][1]["op"], pool=data["layers"][2]["mode"])
    modules = [*model.features, nn.Flatten(), *model.classifier]
    state = {}
    for i, layer in enumerate(data["layers"]):
        for kind in ("weight", "bias"):
            if kind in layer:
                offset, n = data["layout"][layer[kind]]
                t = getattr(modules[i], kind)
                state[t] = flat[offset : offset + n].reshape(t.shape)
    with torch.no_grad():
        for t, value in state.items():
            t.copy_(value)
    return model


def test_digit_explorer_embeds_the_weights_exactly_and_compactly(digits):
    torch.manual_seed(0)
    model = cb.LeNet5(activation="tanh", pool="avg")
    e = cb.digit_explorer(model, digits, examples=5)
    data = embedded(e)
    flat = floats(data["weights"])
    assert flat.numel() == cb.count_params(model) == 44_426
    assert sum(n for _, n in data["layout"].values()) == 44_426
    rebuilt = page_model(data)
    for (name, a), (_, b) in zip(model.state_dict().items(), rebuilt.state_dict().items()):
        assert torch.equal(a, b), name
    assert (data["mean"], data["std"]) == (digits.mean[0], digits.std[0])
    assert data["classes"] == list(digits.classes) and data["labels"] == digits.labels[:5].tolist()
    shown = np.frombuffer(base64.b64decode(data["examples"]), np.uint8).reshape(5, 1, 28, 28)
    assert np.array_equal(shown, digits.images[:5].numpy())
    assert len(e.html) < 350_000  # float32 base64: 44,426 x 4 bytes x 4/3, plus the script
    assert 'data-cnnbook-explorer="digit"' in e.html and "function digit(" in e.html


def test_digit_explorer_layers_are_the_models_own(digits):
    model = cb.LeNet5(pool="max")
    data = embedded(cb.digit_explorer(model, digits, examples=1))
    assert data["input"] == [1, 28, 28] == list(model.input_size)
    ops = [layer["op"] for layer in data["layers"]]
    assert ops == ["conv", "relu", "pool", "conv", "relu", "pool", "flatten", "linear", "relu", "linear", "relu",
                   "linear"]
    x, shapes = torch.zeros(1, 1, 28, 28), []
    for module in [*model.features, nn.Flatten(), *model.classifier]:
        x = module(x)
        shapes.append(list(x.shape[1:]))
    assert [layer["shape"] for layer in data["layers"]] == shapes
    assert data["layers"][0]["kernel"] == [5, 5] and data["layers"][2]["stride"] == [2, 2]
    # the map labels name the shapes of the network the page runs
    assert [m["label"] for m in data["maps"]] == [
        "C1: 6 maps of 24 x 24, after a 5x5 convolution and relu",
        "S2: 6 maps of 12 x 12, after max pooling 2x2",
        "C3: 16 maps of 8 x 8, after a 5x5 convolution and relu",
        "S4: 16 maps of 4 x 4, after max pooling 2x2"]
    assert all(data["layers"][m["layer"]]["shape"] == m["shape"] for m in data["maps"])
    assert data["prompt"].startswith("Try: ")


def test_digit_explorer_refuses_a_model_for_other_images(digits):
    with pytest.raises(ValueError, match=r"model must take 1 x 28 x 28 images .* got a LeNet5 for 1 x 32 x 32"):
        cb.digit_explorer(cb.LeNet5(size=32), digits)
    with pytest.raises(ValueError, match="model must take 1 x 28 x 28"):
        cb.digit_explorer(cb.LeNet5(in_channels=3, size=28), digits)


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


# ------------------------------------------------------------------ rules embedded from Python


def reference(h: int, w: int, st: dict) -> list | str:
    """What cb.pad2d then cb.pool2d give for an explorer setting on one h x w image: (H, W), or the message."""
    x, p = torch.zeros(1, h, w), st["padding"]
    try:
        if st["padMode"] != "pool":
            x, p = cb.pad2d(x, p, st["padMode"]), 0
        out = cb.pool2d(x, st["kernel"], st["stride"], p, ceil_mode=st["ceil"])
        assert isinstance(out, torch.Tensor)
        return list(out.shape[-2:])
    except ValueError as err:
        return str(err)


def test_pooling_explorer_embeds_the_output_shape_or_the_message_of_every_setting():
    e = cb.pooling_explorer({"small": torch.rand(4, 7), "digit": torch.rand(28, 28)})
    rules = embedded(e)["rules"]
    grid = rules["grid"]
    settings = [dict(zip(("padMode", "ceil", "kernel", "stride", "padding"), values))
                for values in itertools.product(grid["padMode"], grid["ceil"], grid["kernel"], grid["stride"],
                                                grid["padding"])]
    assert len(settings) == 5 * 2 * 8 * 8 * 5 and set(rules["outcomes"]) == {"4x7", "28x28"}
    for shape, (h, w) in (("4x7", (4, 7)), ("28x28", (28, 28))):
        table = rules["outcomes"][shape]
        assert len(table) == len(settings)
        for st, entry in list(zip(settings, table))[::7]:  # 7: coprime with every axis of the grid
            got = entry if isinstance(entry, list) else rules["messages"][entry][1]
            assert got == reference(h, w, st), (shape, st)
    functions = {fn for fn, _ in rules["messages"]}
    assert functions == {"cb.pad2d", "cb.pool2d"}
    assert any("reflect padding must be < the input" in m for _, m in rules["messages"])
    assert any(m.startswith("padding must be at most half of kernel_size") for _, m in rules["messages"])


def test_the_mode_changes_no_shape_and_no_message():
    from cnnbook.explorers.pooling import outcome, settings_grid

    for st in settings_grid()[::7]:
        assert outcome(3, 5, st, "max") == outcome(3, 5, st, "avg") == outcome(3, 5, st, "min"), st


def test_the_padded_positions_come_from_pad2d():
    rules = embedded(cb.pooling_explorer({"x": torch.rand(3, 5)}))["rules"]
    assert rules["sources"]["3"]["reflect"][2] == [2, 1, 0, 1, 2, 1, 0]
    assert rules["sources"]["3"]["reflect"][3] is None  # cb.pad2d refuses it
    assert rules["sources"]["3"]["zeros"][1] == [-1, 0, 1, 2, -1]
    assert rules["sources"]["3"]["circular"][2] == [1, 2, 0, 1, 2, 0, 1]
    assert rules["sources"]["5"]["replicate"][2] == [0, 0, 0, 1, 2, 3, 4, 4, 4]


def test_the_prompt_names_a_size_cnnbook_computed():
    data = embedded(cb.pooling_explorer({"MNIST digit": torch.rand(28, 28)}))
    assert data["prompt"].startswith("Try: make the MNIST digit image (28 x 28) give a 9 x 9 output")
    tiny = embedded(cb.pooling_explorer({"dot": torch.rand(1, 2)}))  # kernel 3 does not fit
    assert "(1 x 2) give a 1 x 1 output" in tiny["prompt"]  # kernel 1, stride 2


# ------------------------------------------------------------------------------------ padding


def test_padding_explorer_embeds_the_size_or_the_message_of_every_setting():
    data = embedded(cb.padding_explorer())
    rules = data["rules"]
    grid = rules["grid"]
    assert grid == {"n": list(range(1, 13)), "kernel": list(range(1, 8)), "stride": [1, 2, 3, 4],
                    "padding": ["valid", "same", 0, 1, 2, 3, 4], "dilation": [1, 2, 3]}
    settings = list(itertools.product(*(grid[key] for key in ("n", "kernel", "stride", "padding", "dilation"))))
    assert len(rules["outcomes"]) == len(settings) == 12 * 7 * 4 * 7 * 3
    refused = 0
    for (n, k, s, p, d), entry in zip(settings, rules["outcomes"]):
        try:
            out = cb.conv_output_size(n, k, s, p, d)
        except ValueError as err:
            refused += 1
            assert rules["messages"][entry] == str(err), (n, k, s, p, d)
            continue
        size, before, after, windows = entry
        axis = cb.padding.conv_axes(n, k, s, p, d)[0]
        assert (size, before, after) == (out, axis.before, axis.after), (n, k, s, p, d)
        # the windows the page draws are those F.unfold takes from the padded row
        padded = torch.arange(before + n + after, dtype=torch.float64).view(1, 1, 1, -1)
        taps = torch.nn.functional.unfold(padded, (1, k), dilation=(1, d), stride=(1, s))[0].T
        assert taps.long().tolist() == rules["windows"][windows], (n, k, s, p, d)
    assert 0 < refused < len(settings) / 2
    assert any(m.startswith("padding='same' needs stride=1") for m in rules["messages"])
    assert any("more than the padded input has" in m for m in rules["messages"])


def test_padding_explorer_states_the_formula_and_a_task_from_python():
    from cnnbook.explorers.padding import FORMULA, PAD_TEXT

    data = embedded(cb.padding_explorer(n=7, kernel_size=4, padding="same"))
    assert data["settings"] == {"n": 7, "kernel": 4, "stride": 1, "padding": "same", "dilation": 1}
    assert data["rules"]["formula"] == FORMULA and data["rules"]["padText"] == PAD_TEXT
    before, after = cb.padding.same_padding(4)
    filled = FORMULA.format(n=7, pad=PAD_TEXT["unequal"].format(before=before, after=after), dilation=1, kernel=4,
                            stride=1, out=cb.conv_output_size(7, 4, 1, "same"))
    assert filled == "output size = floor((7 + (1+2) - 1*(4-1) - 1) / 1) + 1 = 7"
    assert data["prompt"].startswith(f"Try: make a 7-wide input give {cb.conv_output_size(7, 3, 2, 1)} outputs")
    e = cb.padding_explorer()
    assert 'data-cnnbook-explorer="padding"' in e.html and "function padding(" in e.html
    assert len(e.html) < 200_000


@pytest.mark.parametrize("kwargs, error, words", [
    ({"n": 0}, ValueError, "n must be"),
    ({"n": 13}, ValueError, "n must be"),
    ({"kernel_size": 8}, ValueError, "kernel_size"),
    ({"stride": 1.0}, TypeError, "stride"),
    ({"padding": "full"}, ValueError, "padding must be one of"),
    ({"padding": 5}, ValueError, "padding"),
    ({"dilation": 0}, ValueError, "dilation"),
])
def test_padding_explorer_refuses_bad_settings(kwargs, error, words):
    with pytest.raises(error, match=words):
        cb.padding_explorer(**kwargs)


# ---------------------------------------------------------------------- the JavaScript modules


def modules() -> dict[str, str]:
    folder = files("cnnbook") / "explorers"
    return {p.name: p.read_text() for p in folder.iterdir() if p.name.endswith(".js")}


def test_each_explorer_module_exports_one_function_and_common_only_what_is_imported():
    from cnnbook.explorers.html import IMPORT

    texts = modules()
    exports = {name: set(re.findall(r"^export (?:function|const) (\w+)", text, re.M)) for name, text in texts.items()}
    imported = {n.strip() for text in texts.values() for found in IMPORT.finditer(text)
                for n in found.group(1).split(",")}
    assert exports["pooling.js"] == {"pooling"} and exports["digit.js"] == {"digit"}
    assert exports["padding.js"] == {"padding"}
    assert exports["common.js"] == imported
    for name, text in texts.items():  # nothing is hung on window any more
        assert not re.search(r"\b(window|cnnbook)\.\w", text), name


def test_the_inlined_script_is_one_scope_with_one_call():
    from cnnbook.explorers.html import script

    code = script("digit", "cbx-digit-0123456789")
    assert code.startswith("(function () {") and code.endswith("})();")
    assert code.count("function readData(") == 1  # common.js once
    assert 'digit(document.getElementById("cbx-digit-0123456789"));' in code
    assert not re.search(r"^\s*(import|export)\b", code, re.M)


def test_inlined_modules_declare_no_name_twice():
    """One scope holds common.js and an explorer's module: a name declared in both would shadow silently."""
    def top_level(text: str) -> set[str]:
        return set(re.findall(r"^(?:export )?(?:function|const|let) (\w+)", text, re.M))

    texts = modules()
    for name in ("pooling.js", "padding.js", "digit.js"):
        assert not top_level(texts["common.js"]) & top_level(texts[name]), name
