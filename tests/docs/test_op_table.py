"""The tour's op table lists every op in the registry, so the docs cannot miss one.

The table in ``docs/tour/02-vjps.md`` is the output of a snippet that walks ``tg.OPS`` by family;
``tests/docs/test_docs.py`` checks that the snippet still prints exactly that block. This test
reads the block without running anything and checks that every op the package registers has a
row, under the header of the module that defines it, and that no row names an op that is gone.
When it fails, regenerate the block and review the diff:

    python tests/docs/test_docs.py --update docs/tour/02-vjps.md
"""
from __future__ import annotations

import re
from pathlib import Path

import tinygrad_np as tg

DOC = Path(__file__).resolve().parents[2] / "docs" / "tour" / "02-vjps.md"
HEADER = re.compile(r"^\[(\w+)\]$")
ROW = re.compile(r"^  (\w+)\s")


def op_table(text: str) -> dict[str, str]:
    """op name -> family, from the ```text block that starts with a ``[family]`` header."""
    blocks = re.findall(r"^```text\n(.*?)^```", text, flags=re.S | re.M)
    table = next((b for b in blocks if HEADER.match(b.splitlines()[0])), None)
    assert table is not None, f"{DOC.name}: no op table (a ```text block starting with '[family]')"
    rows, family = {}, None
    for line in table.splitlines():
        if m := HEADER.match(line):
            family = m.group(1)
        elif m := ROW.match(line):
            assert m.group(1) not in rows, f"{DOC.name}: op {m.group(1)!r} listed twice"
            rows[m.group(1)] = family
    return rows


def package_ops() -> dict[str, str]:
    """The ops tinygrad_np itself registers (not those a test registers for a while), with their family."""
    return {name: op.__module__.rsplit(".", 1)[-1] for name, op in tg.OPS.items()
            if op.__module__.startswith("tinygrad_np.")}


def test_every_registry_op_has_a_row_under_its_family():
    rows, ops = op_table(DOC.read_text(encoding="utf-8")), package_ops()
    missing = sorted(name for name in ops if name not in rows)
    assert not missing, f"ops in tg.OPS without a row in {DOC.name}'s table: {missing} (regenerate it: see above)"
    moved = sorted(name for name, family in ops.items() if rows[name] != family)
    assert not moved, f"ops listed under another family than their module's: {moved}"


def test_no_row_names_an_op_that_is_not_registered():
    stale = sorted(set(op_table(DOC.read_text(encoding="utf-8"))) - set(package_ops()))
    assert not stale, f"{DOC.name}'s table lists ops that are not in tg.OPS: {stale}"


def test_the_table_reader_sees_a_missing_row():
    """The check above can fail: drop one row of the doc and the reader no longer finds that op."""
    text = DOC.read_text(encoding="utf-8")
    rows = op_table(text)
    assert {"add", "einsum", "matmul"} <= set(rows)
    without = re.sub(r"^  einsum .*\n", "", text, flags=re.M)
    assert "einsum" not in op_table(without) and len(op_table(without)) == len(rows) - 1
