"""The package's shape, read with ``ast``: no import cycle, no other module's private names, short
functions. Each check names what it found, so a failure says where to look."""

from __future__ import annotations

import ast
import functools
import re
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "cnnbook"
MAX_LINES = 60  # a function's body, its docstring not counted


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@functools.cache  # parsed once for all the checks
def _modules() -> dict[str, tuple[Path, ast.Module]]:
    return {_module_name(p): (p, ast.parse(p.read_text(), str(p))) for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(module: str, path: Path, node: ast.ImportFrom) -> str:
    """The absolute module name of ``from ... import`` in ``module``."""
    if node.level == 0:
        return node.module or ""
    package = module.split(".") if path.name == "__init__.py" else module.split(".")[:-1]
    base = package[: len(package) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def _imports(modules: dict[str, tuple[Path, ast.Module]]) -> dict[str, list[tuple[str, str, int]]]:
    """module -> [(imported module, imported name or "", line)], cnnbook modules only."""
    out: dict[str, list[tuple[str, str, int]]] = {m: [] for m in modules}
    for module, (path, tree) in modules.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                out[module] += [(a.name, "", node.lineno) for a in node.names if a.name.startswith("cnnbook")]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(module, path, node)
                if not target.startswith("cnnbook"):
                    continue
                for alias in node.names:
                    sub = f"{target}.{alias.name}"
                    out[module].append((sub, "", node.lineno) if sub in modules else (target, alias.name, node.lineno))
    return out


def test_no_module_imports_another_modules_private_names():
    modules = _modules()
    found = []
    for module, imports in _imports(modules).items():
        for target, name, line in imports:
            private_module = any(part.startswith("_") and part not in ("__init__", "_checks")
                                 for part in target.split("."))
            if target != module and (name.startswith("_") or private_module):
                found.append(f"{module}:{line} imports {target}.{name}".rstrip("."))
    assert not found, "cross-module private imports:\n" + "\n".join(found)


def test_no_import_cycles():
    modules = _modules()
    graph = {m: set() for m in modules}
    for module, imports in _imports(modules).items():
        for target, _, _ in imports:
            # importing cnnbook.x.y runs cnnbook.x first: a package depends on what its __init__ imports
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != module and not module.startswith(target + "."):
                graph[module].add(target)
    cycles, state = [], {}

    def visit(node: str, stack: list[str]) -> None:
        state[node] = "open"
        for nxt in sorted(graph[node]):
            if state.get(nxt) == "open":
                path = stack[stack.index(nxt):] + [node, nxt] if nxt in stack else [node, nxt]
                cycles.append(" -> ".join(path))
            elif nxt not in state:
                visit(nxt, stack + [node])
        state[node] = "done"

    for m in sorted(graph):
        if m not in state:
            visit(m, [])
    assert not cycles, "import cycles:\n" + "\n".join(cycles)


def _body_lines(fn: ast.FunctionDef | ast.AsyncFunctionDef) -> int:
    body = fn.body
    first = body[0] if body else None
    if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
        body = body[1:]
    if not body:
        return 0
    return (body[-1].end_lineno or body[-1].lineno) - body[0].lineno + 1


def test_every_function_is_under_60_lines():
    long = []
    for module, (_, tree) in _modules().items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and _body_lines(node) >= MAX_LINES:
                long.append(f"{module}.{node.name} (line {node.lineno}): {_body_lines(node)} lines")
    assert not long, f"functions of {MAX_LINES} lines or more:\n" + "\n".join(long)


def test_the_checks_see_what_they_look_for(tmp_path):
    """The walkers find a planted private import and a planted long function (they can fail)."""
    tree = ast.parse("from .train import _secret\n")
    node = tree.body[0]
    assert isinstance(node, ast.ImportFrom) and _resolve("cnnbook.cli", PACKAGE / "cli.py", node) == "cnnbook.train"
    fn = ast.parse("def f():\n    '''doc'''\n" + "    x = 1\n" * 70).body[0]
    assert isinstance(fn, ast.FunctionDef) and _body_lines(fn) == 70


def test_the_data_package_keeps_every_name():
    import cnnbook
    import cnnbook.data as data

    for name in ("ImageDataset", "DataFileError", "load_mnist", "load_cifar10", "cifar10_stand_in", "as_dataset",
                 "DeviceLoader", "random_shift", "random_crop", "random_flip", "compose", "read_idx",
                 "default_root", "MNIST_CLASSES", "CIFAR10_CLASSES", "STAND_IN_CLASSES", "pad_images"):
        assert hasattr(data, name), name
    assert cnnbook.pad_images is data.pad_images


def test_the_bench_and_the_recipes_never_import_the_command_line():
    """cli -> bench (the bench subcommand) and both -> recipes; never bench -> cli or recipes -> either."""
    imports = _imports(_modules())
    for module in ("cnnbook.bench", "cnnbook.recipes"):
        targets = {t for t, _, _ in imports[module]}
        assert "cnnbook.cli" not in targets, module
    assert "cnnbook.bench" not in {t for t, _, _ in imports["cnnbook.recipes"]}
    assert "cnnbook.recipes" in {t for t, _, _ in imports["cnnbook.cli"]}
    assert "cnnbook.recipes" in {t for t, _, _ in imports["cnnbook.bench"]}


def test_no_setting_is_defined_twice():
    """The training settings are the fields of cnnbook.settings.Settings, each with its default and
    its check there: the functions that train take a Settings and keyword overrides, never a field
    of their own with a default of its own; the optimisers' tables are assigned in settings.py only."""
    import inspect
    from dataclasses import fields

    from cnnbook import ablation, bench, recipes, train
    from cnnbook.settings import Settings

    names = {f.name for f in fields(Settings)}
    for fn in (train.fit, ablation.run_ablation, bench.run_cnnbook, bench.alexnet_throughput, recipes.Recipe):
        twice = sorted(names & set(inspect.signature(fn).parameters))
        assert not twice, f"{fn.__qualname__} takes settings of its own: {twice}"
    tables = {"OPTIMIZERS", "SCHEDULES", "DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "SGD_MOMENTUM"}
    found = []
    for module, (_, tree) in _modules().items():
        for node in tree.body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
                node, ast.AnnAssign) else []
            found += [f"{module}.{t.id}" for t in targets if isinstance(t, ast.Name) and t.id in tables]
    assert sorted(found) == sorted(f"cnnbook.settings.{name}" for name in tables)


# ------------------------------------------------------------ what Python and JavaScript share

WORDS = 5  # five words of a message in a row make a copy; fewer ("must be an int") may be chance


def _message_pieces(tree: ast.Module) -> set[str]:
    """The literal text of every ``raise X(...)`` message of a module, f-strings cut at their fields."""
    pieces: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call):
            for arg in node.exc.args:
                for part in ast.walk(arg):
                    if isinstance(part, ast.Constant) and isinstance(part.value, str):
                        words = part.value.split()
                        pieces.update(" ".join(words[i : i + WORDS]) for i in range(len(words) - WORDS + 1))
    return pieces


def _messages_copied(js: str, pieces: set[str]) -> list[str]:
    """The runs of five words of a message that appear in ``js``."""
    flat = " ".join(js.split())
    return sorted(p for p in pieces if p in flat)


# a division by a stride, or a rounding up: the output-size formula, which the page gets from Python
_FORMULA = re.compile(r"/\s*\(?\s*(?:\w+\.)?(?:stride|s|sh|sw)\b(?!\w)|Math\.ceil")


def _js_files() -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted((PACKAGE / "explorers").glob("*.js"))}


def test_no_python_error_message_is_copied_into_javascript():
    """The explorers get cnnbook's messages as data at render time (cnnbook/explorers/pooling.py)."""
    pieces = set().union(*(_message_pieces(tree) for _, tree in _modules().values()))
    assert len(pieces) > 100  # the walk found the package's messages
    found = {name: _messages_copied(js, pieces) for name, js in _js_files().items()}
    assert not any(found.values()), f"Python error messages copied into JavaScript: {found}"


def test_no_output_size_formula_in_javascript():
    """Output sizes come from cb.pool2d and the models' own layers; the page divides by no stride."""
    found = [f"{name}:{js[: m.start()].count(chr(10)) + 1}: {m.group(0)}"
             for name, js in _js_files().items() for m in _FORMULA.finditer(js)]
    assert not found, "output-size arithmetic in the explorers' JavaScript:\n" + "\n".join(found)


def test_the_javascript_checks_see_what_they_look_for():
    """The old pooling.js copied a message of cb.pad2d and the formula: both checks would have said so."""
    pieces = _message_pieces(_modules()["cnnbook.padding"][1])
    old = 'where + "reflect padding must be < the input " + a[1] + " " + a[0] +'
    assert "reflect padding must be <" in _messages_copied(old, pieces)
    assert _FORMULA.search("var steps = (n + 2 * p - k) / s, out = Math.floor(steps) + 1;")
    assert _FORMULA.search("out = Math.ceil(steps)") and not _FORMULA.search("x / size")
