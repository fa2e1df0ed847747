"""The MNIST app's module structure: no import cycles (lazy imports inside functions included),
only tinygrad_np's public API, no writes into a Tensor's array, and a light ``import mnist.cli``."""
from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import import_graph as G

REPO = Path(__file__).resolve().parents[2]
APP = REPO / "mnist"
#: the tinygrad_np modules the app may import (the public API)
PUBLIC = {"tinygrad_np", "tinygrad_np.nn", "tinygrad_np.nn.functional", "tinygrad_np.optim", "tinygrad_np.data"}


def modules(package: Path = APP, root: Path = REPO) -> dict[str, Path]:
    return G.modules(package, root)


def graph(package: Path = APP, root: Path = REPO) -> dict[str, set[str]]:
    return G.graph(package, root)


imports, find_cycle = G.imports, G.find_cycle


def test_the_cycle_finder_sees_lazy_and_relative_imports(tmp_path):
    pkg = tmp_path / "pkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .sub import b\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("def f():\n    from .. import a\n")
    g = graph(pkg, tmp_path)
    assert g["pkg.a"] == {"pkg.sub.b"} and g["pkg.sub.b"] == {"pkg.a"}
    assert find_cycle(g) == ["pkg.a", "pkg.sub.b", "pkg.a"]
    (pkg / "sub" / "b.py").write_text("def f():\n    return 1\n")
    assert find_cycle(graph(pkg, tmp_path)) is None


def test_no_import_cycles_in_the_app_not_even_lazy_ones():
    g = graph()
    assert {"mnist.cli", "mnist.shell", "mnist.options", "mnist.resume", "mnist.trainer"} <= set(g)
    assert find_cycle(g) is None, f"import cycle: {' -> '.join(find_cycle(g) or [])}"
    assert "mnist.cli" not in g["mnist.shell"] and "mnist.shell" in g["mnist.cli"]
    assert not any("mnist.train" in deps for name, deps in g.items() if name != "mnist.train")  # only a facade


def test_the_app_uses_only_the_public_api_of_tinygrad_np():
    mods = modules()
    for name, path in mods.items():
        used = {m for m in imports(path, name, set(mods)) if m.split(".")[0] == "tinygrad_np"}
        assert used <= PUBLIC, f"{name} imports {sorted(used - PUBLIC)}"
    reference = imports(mods["mnist.reference"], "mnist.reference", set(mods))
    assert not any(m.startswith(("tinygrad_np", "mnist")) for m in reference)  # plain NumPy


def test_the_app_never_writes_into_a_tensors_array():
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            targets = []
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                base = t.value if isinstance(t, ast.Subscript) else t if isinstance(node, ast.AugAssign) else None
                assert not (isinstance(base, ast.Attribute) and base.attr == "data"), f"{path}:{node.lineno}"
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "copyto" and node.args:
                assert not (isinstance(node.args[0], ast.Attribute) and node.args[0].attr == "data"), \
                    f"{path}:{node.lineno}: np.copyto into .data"


def test_importing_the_cli_loads_neither_matplotlib_nor_tqdm():
    code = ("import sys, mnist, mnist.cli, mnist.train, mnist.shell; "
            "print('matplotlib' in sys.modules, 'tqdm' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.split() == ["False", "False"], proc.stderr
