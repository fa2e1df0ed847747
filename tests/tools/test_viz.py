"""Tests for tinygrad_np/viz.py: DOT/JSON export, render, trace_backward, and docs/graphs.md."""
from __future__ import annotations

import contextlib
import io
import json
import os
import re
import shutil
import warnings
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

import tinygrad_np as tg
from custom_ops import AllAtOnce
from tinygrad_np import viz
from tinygrad_np.engine import topological_order
from tinygrad_np import Tensor
from tinygrad_np.viz import GraphvizNotFoundError, render, save_json, to_dot, to_json, trace_backward

DOCS = Path(__file__).resolve().parents[2] / "docs" / "graphs.md"
NODE_RE = re.compile(r"^\s*(\w+) \[label=\"((?:[^\"\\]|\\.)*)\"(.*)\];$")
EDGE_RE = re.compile(r"^\s*(\w+) -> (\w+)(?: \[label=\"(\d+)\"\])?;$")


# ----------------------------------------------------------------------------- helpers
def small_graph():
    """z = sum(x * y + b): three ops (Mul, Add, Sum), every tensor named."""
    x = tg.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = tg.tensor([0.5, 4.0, -1.0], requires_grad=True)
    b = tg.tensor([2.0, 0.0, 1.0], requires_grad=True)
    xy = x * y
    s = xy + b
    z = s.sum()
    return {"x": x, "y": y, "b": b, "xy": xy, "s": s, "z": z}


def parse_dot(text):
    """{node id: (first label line, full label, attrs)} and [(src, dst, index label or None)]."""
    nodes, edges = {}, []
    for line in text.splitlines():
        if m := EDGE_RE.match(line):
            edges.append((m.group(1), m.group(2), m.group(3)))
        elif m := NODE_RE.match(line):
            nodes[m.group(1)] = (m.group(2).split("\\n")[0], m.group(2), m.group(3))
    return nodes, edges


def snapshot(tensors):
    """Everything about the graph that to_dot/to_json must leave alone."""
    out = []
    for t in tensors:
        fn = t._ctx
        out.append((id(fn), t.requires_grad, None if t.grad is None else t.grad.data.copy(),
                    None if fn is None else (fn.released, tuple(id(i) for i in fn.inputs)),
                    t.data.copy()))
    return out


def same_snapshot(a, b):
    for (f1, r1, g1, i1, d1), (f2, r2, g2, i2, d2) in zip(a, b, strict=True):
        assert (f1, r1, i1) == (f2, r2, i2)
        assert (g1 is None) == (g2 is None) and (g1 is None or np.array_equal(g1, g2))
        assert np.array_equal(d1, d2)


def norm(a):
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64).ravel()))


# ----------------------------------------------------------------------------- DOT
def test_dot_has_every_tensor_and_op_with_correct_edges():
    g = small_graph()
    nodes, edges = parse_dot(to_dot(g["z"], name_map=g))
    label = {nid: first for nid, (first, _, _) in nodes.items()}
    assert sorted(label[n] for n in nodes if n.startswith("t")) == sorted(g)
    assert sorted(label[n] for n in nodes if n.startswith("op")) == ["Add", "Mul", "Sum"]
    named = {(label[a], label[b], k) for a, b, k in edges}
    assert named == {
        ("x", "Mul", "0"), ("y", "Mul", "1"), ("Mul", "xy", None),
        ("xy", "Add", "0"), ("b", "Add", "1"), ("Add", "s", None),
        ("s", "Sum", None), ("Sum", "z", None),
    }
    assert len(edges) == len(named)  # no duplicates
    # shape and dtype in every tensor label
    for nid, (first, full, _) in nodes.items():
        if nid.startswith("t"):
            t = g[first]
            assert f"{t.shape} {t.dtype}" in full


def test_dot_edges_follow_the_real_graph_for_a_bigger_graph():
    rng = np.random.default_rng(0)
    w = tg.tensor(rng.standard_normal((3, 2)), requires_grad=True)
    x = tg.tensor(rng.standard_normal((4, 3)))
    h = (x @ w).tanh()
    loss = (h * h).mean() + h.sum() * 0.5  # h is used three times
    nodes, edges = parse_dot(to_dot(loss))
    order = viz._Graph(loss)
    expected = set()
    for t in order.tensors:
        if t._ctx is not None:
            oid = order.oid[id(t)]
            expected.add((oid, order.tid[id(t)], None))
            ins = t._ctx.inputs
            for k, inp in enumerate(ins):
                expected.add((order.tid[id(inp)], oid, str(k) if len(ins) > 1 else None))
            assert nodes[oid][0] == t._ctx.name
    assert set(edges) == expected
    assert len(edges) == sum(len(t._ctx.inputs) + 1 for t in order.tensors if t._ctx is not None)
    assert len([n for n in nodes if n.startswith("t")]) == len(order.tensors)


def test_x_times_x_draws_two_edges_into_mul():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    _, edges = parse_dot(to_dot(x * x))
    assert sorted(edges) == [("op0", "t1", None), ("t0", "op0", "0"), ("t0", "op0", "1")]


def test_dot_is_deterministic_and_uses_stable_ids():
    g1, g2 = small_graph(), small_graph()
    a, b = to_dot(g1["z"]), to_dot(g1["z"])
    assert a == b
    assert to_dot(g2["z"]) == a  # different Python objects, same text: no id() in the output
    assert str(id(g1["x"])) not in a
    nodes, _ = parse_dot(a)
    # stable ids in forward order: x, y, x*y, b, x*y+b, sum
    assert [nodes[f"t{k}"][0] for k in range(6)] == [f"t{k}" for k in range(6)]
    assert nodes["op0"][0] == "Mul" and nodes["op1"][0] == "Add" and nodes["op2"][0] == "Sum"
    named, _ = parse_dot(to_dot(g1["z"], name_map=g1))
    assert [named[f"t{k}"][0] for k in range(6)] == ["x", "y", "xy", "b", "s", "z"]


def test_leaves_constants_root_and_ops_are_styled_differently():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    z = ((x * 3.0).exp()).sum()
    nodes, _ = parse_dot(to_dot(z, name_map={"x": x}))
    styles = {nid: attrs for nid, (_, _, attrs) in nodes.items()}
    leaf, const, inner, root = styles["t0"], styles["t1"], styles["t2"], styles["t4"]
    assert len({leaf, const, inner, root, styles["op0"]}) == 5
    assert 'class="tensor leaf"' in leaf and "lightblue" in leaf
    assert "constant" in const and "dashed" in const
    assert 'class="tensor"' in inner
    assert "root" in root
    assert nodes["t1"][1].startswith("t1 = 3\\n")  # a one-element constant shows its value


def test_name_map_accepts_tensors_python_ids_stable_ids_and_name_to_tensor():
    g = small_graph()
    nodes, _ = parse_dot(to_dot(g["z"], name_map={g["x"]: "X", id(g["y"]): "Y", "t3": "B", "loss": g["z"]}))
    assert [nodes[f"t{k}"][0] for k in range(6)] == ["X", "Y", "t2", "B", "t4", "loss"]


def test_labels_are_escaped():
    x = tg.tensor([1.0], requires_grad=True)
    text = to_dot(x * 2.0, name_map={x: 'say "hi"\\'})
    assert 'label="say \\"hi\\"\\\\\\n(1,) float32"' in text


def test_to_dot_and_to_json_do_not_mutate_the_graph():
    g = small_graph()
    tensors = list(g.values())
    before = snapshot(tensors)
    to_dot(g["z"], name_map=g)
    to_json(g["z"], name_map=g)
    same_snapshot(before, snapshot(tensors))
    g["z"].backward()  # the graph still works
    ref = small_graph()
    ref["z"].backward()
    for k in ("x", "y", "b"):
        np.testing.assert_array_equal(g[k].grad.data, ref[k].grad.data)


def test_leaf_grad_norms_appear_after_backward_with_retained_graph():
    g = small_graph()
    assert "|grad|" not in to_dot(g["z"])
    g["z"].backward(retain_graph=True)
    nodes, _ = parse_dot(to_dot(g["z"], name_map=g))
    by_name = {first: full for first, full, _ in nodes.values()}
    for k in ("x", "y", "b"):
        assert f"|grad| = {norm(g[k].grad.data):.4g}" in by_name[k]
    for k in ("xy", "s", "z"):  # intermediate grads are not stored by backward()
        assert "|grad|" not in by_name[k]
    assert "|grad|" not in to_dot(g["z"], show_grads=False)


def test_every_node_shows_its_grad_norm_after_trace():
    g = small_graph()
    records = trace_backward(g["z"], file=io.StringIO())
    nodes, _ = parse_dot(to_dot(g["z"], grads=records, name_map=g))
    by_name = {first: full for first, full, _ in nodes.values()}
    x, y = g["x"].data, g["y"].data
    expected = {"z": 1.0, "s": norm(np.ones(3)), "xy": norm(np.ones(3)), "b": norm(np.ones(3)),
                "x": norm(y), "y": norm(x)}
    for name, value in expected.items():
        assert f"|grad| = {value:.4g}" in by_name[name], name
    assert "|grad|" not in to_dot(g["z"], grads=records, show_grads=False)


def test_a_freed_graph_is_drawn_without_crashing():
    g = small_graph()
    g["z"].backward()  # frees the graph
    nodes, edges = parse_dot(to_dot(g["z"]))
    assert "(freed by backward)" in nodes["op0"][1]
    assert edges == [("op0", "t0", None)]
    assert to_json(g["z"])["nodes"][0]["released"] is True


def test_leaf_root_and_non_tensor():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    nodes, edges = parse_dot(to_dot(x))
    assert list(nodes) == ["t0"] and edges == []
    with pytest.raises(TypeError):
        to_dot(np.ones(2))


# ----------------------------------------------------------------------------- JSON
def test_json_round_trips_with_the_right_counts():
    g = small_graph()
    data = to_json(g["z"], name_map=g)
    back = json.loads(json.dumps(data, allow_nan=False))
    assert back == data
    kinds = [n["kind"] for n in back["nodes"]]
    assert kinds.count("tensor") == 6 and kinds.count("op") == 3
    assert len(back["edges"]) == 8  # 5 input -> op edges + 3 op -> output edges
    keys = {"id", "kind", "name", "op", "op_name", "shape", "dtype", "requires_grad", "is_leaf", "released",
            "grad_norm"}
    assert all(set(n) == keys for n in back["nodes"])
    by_id = {n["id"]: n for n in back["nodes"]}
    assert back["root"] == "t5" and by_id["t5"]["name"] == "z"
    assert [by_id[f"op{k}"]["op"] for k in range(3)] == ["Mul", "Add", "Sum"]
    assert [by_id[f"op{k}"]["op_name"] for k in range(3)] == ["mul", "add", "sum"]
    assert by_id["t0"] == {**dict.fromkeys(keys), "id": "t0", "kind": "tensor", "name": "x", "shape": [3],
                           "dtype": "float32", "requires_grad": True, "is_leaf": True, "grad_norm": None}
    ids = set(by_id)
    assert all(e["source"] in ids and e["target"] in ids for e in back["edges"])
    assert {(e["source"], e["target"], e["input_index"]) for e in back["edges"]} >= {
        ("t0", "op0", 0), ("t1", "op0", 1), ("op0", "t2", None)}


def test_json_grad_norms_and_non_finite_values():
    g = small_graph()
    records = trace_backward(g["z"], file=io.StringIO())
    by_id = {n["id"]: n for n in to_json(g["z"], grads=records)["nodes"]}
    assert by_id["t0"]["grad_norm"] == pytest.approx(norm(g["y"].data))
    assert by_id["t5"]["grad_norm"] == 1.0
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    r = x.sqrt().sum()
    with np.errstate(divide="ignore"):
        r.backward(retain_graph=True)  # d sqrt/dx at 0 is inf
    data = to_json(r)
    assert data["nodes"][0]["grad_norm"] == "inf"
    json.dumps(data, allow_nan=False)


def test_save_json_writes_atomically(tmp_path, monkeypatch):
    g = small_graph()
    path = tmp_path / "graph.json"
    save_json(g["z"], path, name_map=g)
    assert json.loads(path.read_text()) == to_json(g["z"], name_map=g)
    assert os.listdir(tmp_path) == ["graph.json"]  # no temp file left behind

    old = path.read_bytes()

    def boom(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError, match="disk full"):
        save_json(small_graph()["s"], path)
    assert path.read_bytes() == old  # the old file is intact
    assert os.listdir(tmp_path) == ["graph.json"]  # and the temp file was removed


# ----------------------------------------------------------------------------- render
def test_render_without_dot_raises_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: None)
    out = tmp_path / "g.svg"
    with pytest.raises(GraphvizNotFoundError) as info:
        render(small_graph()["z"], out)
    msg = str(info.value)
    for needle in ("dot", "apt-get install graphviz", "brew install graphviz", "conda install graphviz",
                   "to_dot", "online"):
        assert needle in msg
    assert "http" not in msg and "www" not in msg and ".com" not in msg
    assert isinstance(info.value, RuntimeError)
    assert not out.exists() and os.listdir(tmp_path) == []


def test_render_rejects_unknown_formats(tmp_path):
    with pytest.raises(ValueError, match="format"):
        render(small_graph()["z"], tmp_path / "g.gif", format="gif")


def test_render_reports_dot_failures(tmp_path, monkeypatch):
    (tmp_path / "bin").mkdir()
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    failing_dot = tmp_path / "bin" / "dot"  # a stand-in for Graphviz that always fails
    failing_dot.write_text("#!/bin/sh\necho 'syntax error in graph' >&2\nexit 1\n")
    failing_dot.chmod(0o755)
    monkeypatch.setattr(shutil, "which", lambda name, *a, **k: str(failing_dot))
    with pytest.raises(RuntimeError, match="failed"):
        render(small_graph()["z"], out_dir / "g.svg")
    assert os.listdir(out_dir) == []  # no partial output left behind


needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz `dot` is not installed (apt-get install graphviz)")


@needs_dot
def test_render_svg_is_valid_xml_with_the_op_names(tmp_path):
    g = small_graph()
    records = trace_backward(g["z"], file=io.StringIO())
    out = tmp_path / "graph.svg"
    assert render(g["z"], out, name_map=g, grads=records) == str(out)
    root = ET.parse(out).getroot()
    assert root.tag.endswith("svg")
    text = " ".join(el.text or "" for el in root.iter())
    for word in ("Mul", "Add", "Sum", "x", "xy", "|grad| = 1"):
        assert word in text
    assert os.listdir(tmp_path) == ["graph.svg"]


@needs_dot
def test_render_png(tmp_path):
    out = tmp_path / "graph.png"
    render(small_graph()["z"], out, format="png")
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# ----------------------------------------------------------------------------- trace_backward
def test_trace_prints_the_steps_in_reverse_topological_order():
    g = small_graph()
    expected_ops = [t._ctx.name for t in topological_order([g["z"]])]
    assert expected_ops == ["Sum", "Add", "Mul"]
    buf = io.StringIO()
    records = trace_backward(g["z"], name_map=g, file=buf)
    text = buf.getvalue()
    step_lines = [line for line in text.splitlines() if line.startswith("step ")]
    assert len(step_lines) == 3
    for line, op in zip(step_lines, expected_ops):
        assert op in line
    assert step_lines[0].startswith("step 1/3  z = Sum(s)")
    assert step_lines[2].startswith("step 3/3  xy = Mul(x, y)")
    assert "leaf gradients (.grad):" in text
    assert [r["op"] for r in records if r["kind"] == "op"] == expected_ops
    assert [r["name"] for r in records if r["kind"] == "leaf"] == ["x", "y", "b"]


def test_trace_record_norms_match_numpy():
    g = small_graph()
    x, y = g["x"].data.astype(np.float64), g["y"].data.astype(np.float64)
    ones = np.ones(3)
    records = trace_backward(g["z"], name_map=g, file=io.StringIO())
    s, a, m = [r for r in records if r["kind"] == "op"]
    assert (s["grad_shape"], s["grad_norm"]) == ((), 1.0)
    assert [(v["name"], v["shape"]) for v in s["vjps"]] == [("s", (3,))]
    assert s["vjps"][0]["norm"] == pytest.approx(norm(ones))
    assert a["grad_norm"] == pytest.approx(norm(ones))
    assert [v["norm"] for v in a["vjps"]] == pytest.approx([norm(ones), norm(ones)])
    assert m["grad_norm"] == pytest.approx(norm(ones))
    assert [v["name"] for v in m["vjps"]] == ["x", "y"]
    assert [v["norm"] for v in m["vjps"]] == pytest.approx([norm(y), norm(x)])  # d(xy)/dx = y
    np.testing.assert_allclose(m["vjps"][0]["grad"], y)
    leaves = {r["name"]: r for r in records if r["kind"] == "leaf"}
    assert leaves["x"]["grad_norm"] == pytest.approx(norm(y))
    assert leaves["b"]["grad_norm"] == pytest.approx(norm(ones))
    json.dumps([{k: v for k, v in r.items() if k not in ("tensor", "grad", "vjps")} for r in records])


def test_trace_shows_unbroadcast_and_constants():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    b = tg.tensor([[1.0], [2.0], [3.0]], requires_grad=True)
    z = ((x + b) * 2.0).sum()
    buf = io.StringIO()
    records = trace_backward(z, name_map={"x": x, "b": b, "z": z}, file=buf)
    add = [r for r in records if r["kind"] == "op" and r["op"] == "Add"][0]
    assert [(v["shape"], v["vjp_shape"]) for v in add["vjps"]] == [((2,), (3, 2)), ((3, 1), (3, 2))]
    assert add["vjps"][0]["norm"] == pytest.approx(norm([3.0 * 2, 3.0 * 2]))
    text = buf.getvalue()
    assert "(un-broadcast from (3, 2))" in text
    assert "Mul(t2, 2)" in text and "(needs no gradient)" in text


def network(seed=0):
    """A graph with matmul, broadcasting, reuse, and several op families."""
    rng = np.random.default_rng(seed)
    w = tg.tensor(rng.standard_normal((3, 4)), requires_grad=True)
    bias = tg.tensor(rng.standard_normal(4), requires_grad=True)
    x = tg.tensor(rng.standard_normal((5, 3)))
    h = (x @ w + bias).tanh()
    out = (h * h).mean(axis=0) + (h.exp() + 1.0).log().sum(axis=0) - h.max(axis=0) / 2.0
    return [w, bias], out


@pytest.mark.parametrize("seed", [0, 1])
def test_trace_gives_the_same_leaf_grads_as_backward(seed):
    (w1, b1), out1 = network(seed)
    (w2, b2), out2 = network(seed)
    gradient = np.linspace(-1, 1, 4).astype(np.float32)
    out1.backward(gradient)
    trace_backward(out2, gradient, file=io.StringIO())
    for a, b in ((w1, w2), (b1, b2)):
        assert a.grad.dtype == b.grad.dtype and a.grad.shape == b.grad.shape
        np.testing.assert_array_equal(a.grad.data, b.grad.data)
        assert b.grad._ctx is None and not b.grad.requires_grad  # detached, as backward() does


def test_trace_accumulates_like_backward():
    g1, g2 = small_graph(), small_graph()
    g1["z"].backward(retain_graph=True)
    g1["z"].backward()
    trace_backward(g2["z"], file=io.StringIO())
    buf = io.StringIO()
    records = trace_backward(g2["z"], file=buf)
    for k in ("x", "y", "b"):
        np.testing.assert_array_equal(g1[k].grad.data, g2[k].grad.data)
    assert all(r["accumulated"] for r in records if r["kind"] == "leaf")
    assert "accumulated onto an earlier .grad" in buf.getvalue()


def test_trace_retain_graph_false_frees_like_backward():
    g = small_graph()
    trace_backward(g["z"], retain_graph=False, file=io.StringIO())
    assert "(freed by backward)" in to_dot(g["z"])
    with pytest.raises(RuntimeError, match="second time"):
        trace_backward(g["z"], file=io.StringIO())


def test_trace_errors_and_edge_cases(capsys):
    with pytest.raises(RuntimeError, match="does not require grad"):
        trace_backward(tg.tensor([1.0]))
    v = tg.tensor([[1.0, 2.0]], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        trace_backward(v * 2.0)
    # a leaf root: its grad is the seed
    s = tg.tensor(3.0, requires_grad=True)
    records = trace_backward(s)
    assert s.grad.item() == 1.0 and records[-1]["grad_norm"] == 1.0
    assert "backward pass from t0: 0 steps, 1 leaves" in capsys.readouterr().out  # default: sys.stdout


def test_trace_skips_a_node_that_no_gradient_reaches():
    class NoGrad(AllAtOnce):  # a deliberately unregistered op whose VJP returns None
        @staticmethod
        def forward(a):
            return a.copy()

        def vjps(self, g, out):
            return (None,)

    x = tg.tensor([1.0, 2.0], requires_grad=True)

    def build():
        return Tensor.apply(NoGrad, x.exp()).sum()

    build().backward()
    assert x.grad is None
    buf = io.StringIO()
    records = trace_backward(build(), file=buf)
    assert x.grad is None
    exp_rec = [r for r in records if r["kind"] == "op" and r["op"] == "Exp"][0]
    assert exp_rec["grad_norm"] is None and exp_rec["vjps"] == []
    assert "no gradient reached this node: skipped" in buf.getvalue()
    assert records[-1]["grad_norm"] is None


def test_trace_in_anomaly_mode_blames_the_op():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly(), np.errstate(divide="ignore"):
        y = x.sqrt().sum()
        with pytest.raises(tg.AnomalyError, match="Sqrt backward"):
            trace_backward(y, file=io.StringIO())


# ----------------------------------------------------------------------------- docs/graphs.md
def doc_blocks():
    blocks = re.findall(r"^```(\w*)\n(.*?)^```", DOCS.read_text(), re.S | re.M)
    return [(k, lang, code, blocks[k + 1][1] if k + 1 < len(blocks) and blocks[k + 1][0] in ("text", "dot")
             else None) for k, (lang, code) in enumerate(blocks) if lang == "python"]


def test_docs_have_python_snippets():
    assert len(doc_blocks()) >= 4


@pytest.mark.parametrize("k,code,expected", [(k, c, e) for k, _, c, e in doc_blocks()],
                         ids=[f"block{k}" for k, *_ in doc_blocks()])
def test_docs_graphs_snippet_runs(k, code, expected, tmp_path, monkeypatch):
    """Each ```python block runs on its own; a ```text/```dot block right after it is its output."""
    monkeypatch.chdir(tmp_path)
    out = io.StringIO()
    with contextlib.redirect_stdout(out), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # NumPy's "invalid value in log" in the NaN demo
        exec(compile(code, f"{DOCS}:block{k}", "exec"), {"__name__": "__docs__"})
    if expected is not None:
        assert out.getvalue().rstrip("\n") == expected.rstrip("\n")
