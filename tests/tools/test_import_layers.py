"""The project's layering: no import cycles anywhere (lazy imports inside functions included),
the library never imports the app or the tools, and the engine never imports what sits on it.
(CI also runs import-linter on the contracts in pyproject.toml; this test needs nothing installed.)"""
from __future__ import annotations

from pathlib import Path

import import_graph as G

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("tinygrad_np", "mnist", "benchmarks", "experiments")


def whole_graph() -> dict[str, set[str]]:
    g: dict[str, set[str]] = {}
    known = {name for p in PACKAGES for name in G.modules(REPO / p, REPO)}
    for p in PACKAGES:
        for name, path in G.modules(REPO / p, REPO).items():
            g[name] = {m for m in G.imports(path, name, known) if m in known and m != name}
    return g


def test_no_import_cycles_in_any_package_not_even_lazy_ones():
    g = whole_graph()
    cycle = G.find_cycle(g)
    assert cycle is None, f"import cycle: {' -> '.join(cycle)}"


def test_the_library_imports_neither_the_app_nor_the_tools():
    g = whole_graph()
    for name, deps in g.items():
        if name.split(".")[0] == "tinygrad_np":
            outside = sorted(m for m in deps if m.split(".")[0] != "tinygrad_np")
            assert not outside, f"{name} imports {outside}"


def test_the_engine_imports_only_what_sits_below_it():
    g = whole_graph()
    assert g["tinygrad_np.engine"] <= {"tinygrad_np.modes", "tinygrad_np.tensor_methods", "tinygrad_np.writes"}
    assert g["tinygrad_np.tensor_methods"] <= {"tinygrad_np.writes"}
    assert not g["tinygrad_np.modes"] and not g["tinygrad_np.writes"]
    below_fast = [n for n in g if n.startswith("tinygrad_np.") and not n.startswith("tinygrad_np.fast")
                  and n != "tinygrad_np"]
    for name in below_fast:
        assert not any(m.startswith("tinygrad_np.fast") for m in g[name]), f"{name} imports the fast layer"
