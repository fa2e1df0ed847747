"""Seeing the graph: export it (DOT, JSON, SVG/PNG) and trace a backward pass step by step.

    import tinygrad_np as tg
    from tinygrad_np.viz import render, to_dot, trace_backward

    x = tg.tensor([1.0, 2.0], requires_grad=True)
    z = (x * x).sum()
    records = trace_backward(z, name_map={"x": x, "z": z})  # prints each step
    print(to_dot(z, grads=records, name_map={"x": x, "z": z}))
    render(z, "graph.svg", grads=records)                    # needs Graphviz's `dot`

Nodes get stable ids from a walk of the graph, not from Python's ``id()``: tensors are
``t0, t1, ...`` in forward order (every tensor after its inputs, inputs in argument order)
and each op is ``op<k>``, numbered in the same order. Building the same graph twice gives
the same text. Nothing here changes the graph or any ``.grad``, except ``trace_backward``,
which *is* a backward pass.

Intermediate gradients are not stored by ``backward()``; only leaves keep ``.grad``. To see
the gradient norm of every node, run ``trace_backward`` and pass its records as ``grads=``.
``backward()`` frees the graph unless ``retain_graph=True``; a freed op is drawn as
"(freed by backward)" with no inputs, so export before backward or keep the graph.
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from typing import IO, Any, Iterable, Mapping, Sequence

import numpy as np

from .engine import Tensor, run_backward, seeds, topological_order
from .modes import watch_gradients

__all__ = [
    "GraphvizNotFoundError", "to_dot", "to_json", "save_json", "render", "trace_backward", "format_trace",
]

Records = Sequence[Mapping[str, Any]]
NameMap = Mapping[Any, Any]


class GraphvizNotFoundError(RuntimeError):
    """``render()`` needs Graphviz's ``dot`` program and it is not on PATH."""


# ----------------------------------------------------------------------------- graph walk
def _inputs(t: Tensor) -> tuple[Tensor, ...]:
    """The tensors an op node consumed; () for leaves and for ops freed by backward."""
    fn = t._ctx
    if fn is None or fn.released:
        return ()
    return tuple(fn.inputs)


class _Graph:
    """Read-only view of the graph behind ``root`` with stable ids (no mutation, no Tensor ops)."""

    def __init__(self, root: Tensor) -> None:
        if not isinstance(root, Tensor):
            raise TypeError(f"expected a Tensor, got {type(root).__name__}")
        self.root = root
        self.tensors: list[Tensor] = []  # forward order: inputs before consumers
        seen: set[int] = set()
        stack: list[tuple[Tensor, bool]] = [(root, False)]
        while stack:  # iterative post-order DFS (deep graphs would overflow recursion)
            t, expanded = stack.pop()
            if expanded:
                self.tensors.append(t)
                continue
            if id(t) in seen:
                continue
            seen.add(id(t))
            stack.append((t, True))
            stack.extend((x, False) for x in reversed(_inputs(t)) if id(x) not in seen)
        self.tid = {id(t): f"t{k}" for k, t in enumerate(self.tensors)}
        self.ops = [t for t in self.tensors if t._ctx is not None]  # one op per non-leaf tensor
        self.oid = {id(t): f"op{k}" for k, t in enumerate(self.ops)}

    def names(self, name_map: NameMap | None) -> dict[int, str]:
        """Display name per tensor: ``name_map`` entry if any, else the stable id."""
        names = {id(t): self.tid[id(t)] for t in self.tensors}
        by_stable = {self.tid[id(t)]: id(t) for t in self.tensors}
        for key, value in (name_map or {}).items():
            if isinstance(value, Tensor):  # {"x": x}: name -> tensor (e.g. from locals())
                key, value = value, key
            if isinstance(key, Tensor):
                key = id(key)
            elif isinstance(key, str):  # a stable id such as "t0"
                key = by_stable.get(key)
            if key in names:
                names[key] = str(value)
        return names


def _norm(a: np.ndarray) -> float:
    """L2 (Frobenius) norm over all elements, computed in float64."""
    a = np.asarray(a)
    if a.dtype.kind not in "fc":
        a = a.astype(np.float64)
    return float(np.linalg.norm(a.astype(np.result_type(a.dtype, np.float64)).ravel()))


def _fmt(v: float | None) -> str:
    return "-" if v is None else f"{v:.4g}"


def _shape(shape: Iterable[int]) -> str:
    return str(tuple(int(n) for n in shape))


def _const_value(t: Tensor) -> str | None:
    """The value of a one-element constant (e.g. the 2 in ``x * 2``), for labels."""
    if t._ctx is None and not t.requires_grad and t.size == 1:
        return f"{t.data.item():g}" if t.dtype.kind in "fiub" else str(t.data.item())
    return None


def _grad_norms(graph: _Graph, grads: Records | None) -> dict[int, float]:
    """id(tensor) -> gradient norm: from trace records, else a leaf's ``.grad``."""
    norms: dict[int, float] = {}
    for t in graph.tensors:
        if t._ctx is None and t.grad is not None:
            norms[id(t)] = _norm(t.grad.data)
    for rec in grads or ():
        t = rec.get("tensor")
        if t is not None and id(t) in graph.tid and rec.get("grad_norm") is not None:
            norms[id(t)] = rec["grad_norm"]
    return norms


# ----------------------------------------------------------------------------- DOT
def _q(text: str) -> str:
    """A DOT double-quoted string (newlines become DOT's \\n)."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


_LEAF_VAR = 'shape=box, style="filled", fillcolor="lightblue", class="tensor leaf"'
_LEAF_CONST = 'shape=box, style="dashed", color="gray40", fontcolor="gray40", class="tensor leaf constant"'
_INNER = 'shape=box, style="rounded", class="tensor"'
_ROOT = 'shape=box, style="rounded,filled,bold", fillcolor="palegreen", class="tensor root"'
_OP = 'shape=ellipse, style="filled", fillcolor="lightyellow", class="op"'
_OP_FREED = 'shape=ellipse, style="dashed", class="op freed"'


def to_dot(
    tensor: Tensor,
    *,
    show_grads: bool = True,
    name_map: NameMap | None = None,
    grads: Records | None = None,
) -> str:
    """The graph behind ``tensor`` as Graphviz DOT text (edges input -> op -> output).

    Tensor nodes show name, shape and dtype; leaves that require grad are blue boxes,
    constants dashed grey, the root green. ``name_map`` maps tensors (or Python ids, or
    stable ids like ``"t0"``) to names; ``{"x": x}`` works too. With ``show_grads``, nodes
    show ``|grad|``: leaves from ``.grad``, every node from ``grads=trace_backward(...)``.
    """
    g = _Graph(tensor)
    names = g.names(name_map)
    norms = _grad_norms(g, grads) if show_grads else {}
    lines = [
        "digraph tinygrad_np {",
        f"  // {len(g.tensors)} tensors, {len(g.ops)} ops; root {g.tid[id(tensor)]}",
        '  graph [rankdir=TB, fontname="Helvetica"];',
        '  node [fontname="Helvetica", fontsize=10];',
        '  edge [fontname="Helvetica", fontsize=8];',
    ]
    edges: list[str] = []
    for t in g.tensors:
        tid = g.tid[id(t)]
        label = names[id(t)]
        value = _const_value(t)
        if value is not None:
            label += f" = {value}"
        label += f"\n{_shape(t.shape)} {t.dtype}"
        if id(t) in norms:
            label += f"\n|grad| = {_fmt(norms[id(t)])}"
        if t is tensor:
            style = _ROOT
        elif t._ctx is None:
            style = _LEAF_VAR if t.requires_grad else _LEAF_CONST
        else:
            style = _INNER
        fn = t._ctx
        if fn is not None:
            oid = g.oid[id(t)]
            if fn.released:
                lines.append(f"  {oid} [label={_q(fn.name + chr(10) + '(freed by backward)')}, {_OP_FREED}];")
            else:
                lines.append(f"  {oid} [label={_q(fn.name)}, {_OP}];")
            ins = _inputs(t)
            for k, x in enumerate(ins):
                attr = f" [label={_q(str(k))}]" if len(ins) > 1 else ""
                edges.append(f"  {g.tid[id(x)]} -> {oid}{attr};")
            edges.append(f"  {oid} -> {tid};")
        lines.append(f"  {tid} [label={_q(label)}, {style}];")
    return "\n".join(lines + edges + ["}"]) + "\n"


# ----------------------------------------------------------------------------- JSON
def _json_number(v: float | None) -> float | str | None:
    """Finite floats as-is; NaN/Inf as the strings "nan"/"inf"/"-inf" (strict JSON has none)."""
    if v is None or np.isfinite(v):
        return v
    return str(v)


def to_json(tensor: Tensor, *, name_map: NameMap | None = None, grads: Records | None = None) -> dict[str, Any]:
    """The graph behind ``tensor`` as a JSON-serialisable dict ``{"root", "nodes", "edges"}``.

    Every node has ``id, kind ("tensor"|"op"), name, op, op_name, shape, dtype,
    requires_grad, is_leaf, released, grad_norm`` (None where it does not apply). Edges are
    ``{"source", "target", "input_index"}`` (index of the input for input -> op edges, else None).
    """
    g = _Graph(tensor)
    names = g.names(name_map)
    norms = _grad_norms(g, grads)
    blank = dict.fromkeys(("name", "op", "op_name", "shape", "dtype", "requires_grad", "is_leaf",
                           "released", "grad_norm"))
    nodes: list[dict[str, Any]] = []
    edges: list[dict[str, Any]] = []
    for t in g.tensors:
        fn = t._ctx
        if fn is not None:
            oid = g.oid[id(t)]
            nodes.append({"id": oid, "kind": "op", **blank, "op": fn.name,
                          "op_name": getattr(fn, "op_name", None), "released": bool(fn.released)})
            for k, x in enumerate(_inputs(t)):
                edges.append({"source": g.tid[id(x)], "target": oid, "input_index": k})
            edges.append({"source": oid, "target": g.tid[id(t)], "input_index": None})
        nodes.append({"id": g.tid[id(t)], "kind": "tensor", **blank, "name": names[id(t)],
                      "shape": [int(n) for n in t.shape], "dtype": str(t.dtype),
                      "requires_grad": bool(t.requires_grad), "is_leaf": fn is None,
                      "grad_norm": _json_number(norms.get(id(t)))})
    return {"root": g.tid[id(tensor)], "nodes": nodes, "edges": edges}


def _atomic_write(path: str | os.PathLike[str], data: bytes) -> None:
    """Write ``data`` to a temp file next to ``path``, then ``os.replace`` it into place."""
    path = os.fspath(path)
    fd, tmp = tempfile.mkstemp(dir=os.path.dirname(os.path.abspath(path)), prefix=".tmp-", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def save_json(tensor: Tensor, path: str | os.PathLike[str], **kwargs: Any) -> None:
    """Write ``to_json(tensor, **kwargs)`` to ``path`` atomically (strict JSON, indented)."""
    text = json.dumps(to_json(tensor, **kwargs), indent=2, allow_nan=False)
    _atomic_write(path, (text + "\n").encode("utf-8"))


# ----------------------------------------------------------------------------- render
_FORMATS = ("svg", "png")


def render(tensor: Tensor, path: str | os.PathLike[str], format: str | None = None, **kwargs: Any) -> str:  # noqa: A002
    """Draw the graph to ``path`` with Graphviz's ``dot``; returns the path.

    The format is the path's suffix (``.svg`` or ``.png``); ``format`` may say it too, and must then
    agree with the suffix (a ``.png`` file always holds PNG bytes). ``kwargs`` go to ``to_dot``
    (``name_map``, ``grads``, ``show_grads``). The file is written atomically. Raises
    ``GraphvizNotFoundError`` when ``dot`` is not installed.
    """
    suffix = os.path.splitext(os.fspath(path))[1].lower().lstrip(".")
    if format is None:
        format = suffix or "svg"  # noqa: A001
    if format not in _FORMATS:
        raise ValueError(f"render: format must be one of {_FORMATS}, not {format!r}")
    if suffix and suffix != format:
        raise ValueError(f"render: format {format!r} does not match the file name {os.fspath(path)!r}; "
                         f"name the file .{format} or pass format={suffix!r}")
    dot = shutil.which("dot")
    if dot is None:
        raise GraphvizNotFoundError(
            "render() needs Graphviz's `dot` program, which is not on PATH. Install Graphviz "
            "(`apt-get install graphviz`, `brew install graphviz` or `conda install graphviz`), "
            "or print to_dot(tensor) and paste the text into an online Graphviz (DOT) viewer."
        )
    source = to_dot(tensor, **kwargs)
    proc = subprocess.run([dot, f"-T{format}"], input=source.encode("utf-8"),
                          capture_output=True, timeout=120, check=False)
    if proc.returncode != 0:
        err = proc.stderr.decode("utf-8", "replace").strip()
        raise RuntimeError(f"render: `dot -T{format}` failed (exit {proc.returncode}): {err}")
    _atomic_write(path, proc.stdout)
    return os.fspath(path)


# ----------------------------------------------------------------------------- trace
def trace_backward(
    tensor: Tensor,
    gradient: Any = None,
    *,
    name_map: NameMap | None = None,
    retain_graph: bool = True,
    file: IO[str] | None = None,
) -> list[dict[str, Any]]:
    """``tensor.backward(gradient)``, printing what each step of it does.

    It *is* the engine's backward pass (``engine.run_backward``), watched with
    ``modes.watch_gradients``: the same VJPs, un-broadcasting, casts and ``.grad`` accumulation,
    recorded as they happen. Prints to ``file`` (default ``sys.stdout``; pass ``io.StringIO()``
    to silence). Unlike ``backward()``, the graph is kept by default (``retain_graph=True``) so
    it can be exported afterwards with ``to_dot(tensor, grads=records)``.

    Returns one record per node in the engine's order (``kind="op"``: ``step, id, name, tensor, op,
    shape, dtype, grad, grad_shape, grad_norm, vjps``, each VJP ``{input, id, name, shape, vjp_shape,
    grad, norm}``) then one per leaf that requires grad (``kind="leaf"``: final ``.grad`` norm).
    """
    if not tensor.requires_grad:
        raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
    out = sys.stdout if file is None else file
    graph = _Graph(tensor)
    names = graph.names(name_map)
    for t in graph.tensors:  # unnamed one-element constants show their value: Mul(x, 2)
        value = _const_value(t)
        if value is not None and names[id(t)] == graph.tid[id(t)]:
            names[id(t)] = value
    order = topological_order([tensor])  # the engine's order; raises if the graph was freed
    leaves = [t for t in graph.tensors if t._ctx is None and t.requires_grad]
    had_grad = {id(t) for t in leaves if t.grad is not None}
    node_inputs = {id(t): t._ctx.inputs for t in order}  # (backward may free the nodes)
    seen: dict[int, Any] = {}  # id(node tensor) -> the engine's GradientEvent for it
    with watch_gradients(lambda event: seen.__setitem__(id(event.tensor), event)):
        run_backward([tensor], seeds([tensor], None if gradient is None else [gradient]), retain_graph=retain_graph)

    records: list[dict[str, Any]] = []
    for step, t in enumerate(order, 1):
        event = seen.get(id(t))
        rec: dict[str, Any] = {
            "kind": "op", "step": step, "id": graph.tid[id(t)], "name": names[id(t)], "tensor": t,
            "op": t._ctx.name, "inputs": [names[id(x)] for x in node_inputs[id(t)]], "shape": tuple(t.shape),
            "dtype": str(t.dtype), "grad": None, "grad_shape": None, "grad_norm": None, "vjps": [],
        }
        if event is not None:
            g = event.grad.data
            rec.update(grad=g.copy(), grad_shape=tuple(g.shape), grad_norm=_norm(g))
            done = {i: (raw, gx) for i, _, raw, gx in event.vjps}
            for k, x in enumerate(node_inputs[id(t)]):
                vjp = {"input": k, "id": graph.tid[id(x)], "name": names[id(x)], "shape": None,
                       "vjp_shape": None, "grad": None, "norm": None}
                if k in done:
                    raw, gx = done[k]
                    vjp.update(vjp_shape=tuple(raw.shape), shape=tuple(gx.shape), grad=gx.data.copy(),
                               norm=_norm(gx.data))
                rec["vjps"].append(vjp)
        records.append(rec)
    for t in leaves:
        records.append({
            "kind": "leaf", "id": graph.tid[id(t)], "name": names[id(t)], "tensor": t,
            "shape": tuple(t.shape), "dtype": str(t.dtype), "accumulated": id(t) in had_grad,
            "grad": None if t.grad is None else t.grad.data.copy(),
            "grad_norm": None if t.grad is None else _norm(t.grad.data),
        })
    print(format_trace(records, root_name=names[id(tensor)]), file=out)
    return records


def format_trace(records: Records, root_name: str = "output") -> str:
    """The text ``trace_backward`` prints, built from its records."""
    steps = [r for r in records if r["kind"] == "op"]
    leaves = [r for r in records if r["kind"] == "leaf"]
    rows: list[tuple[str, ...] | str] = []  # (label, shape, norm, note) detail rows or header strings
    for r in steps:
        rows.append(f"step {r['step']}/{len(steps)}  {r['name']} = {r['op']}({', '.join(r['inputs'])})"
                    f"  shape {_shape(r['shape'])}")
        if r["grad_norm"] is None:
            rows.append(("no gradient reached this node: skipped", "", "", ""))
            continue
        rows.append(("grad in", _shape(r["grad_shape"]), f"norm {_fmt(r['grad_norm'])}", ""))
        for v in r["vjps"]:
            if v["norm"] is None:
                rows.append((f"VJP -> {v['name']}", "-", "none", "(needs no gradient)"))
            else:
                note = f"(un-broadcast from {_shape(v['vjp_shape'])})" if v["vjp_shape"] != v["shape"] else ""
                rows.append((f"VJP -> {v['name']}", _shape(v["shape"]), f"norm {_fmt(v['norm'])}", note))
    rows.append("leaf gradients (.grad):")
    for r in leaves:
        if r["grad_norm"] is None:
            rows.append((r["name"], _shape(r["shape"]), "None", "(no gradient reached it)"))
        else:
            note = "(accumulated onto an earlier .grad)" if r["accumulated"] else ""
            rows.append((r["name"], _shape(r["shape"]), f"norm {_fmt(r['grad_norm'])}", note))
    cells = [row for row in rows if isinstance(row, tuple) and row[1]]
    w0 = max((len(c[0]) for c in cells), default=0)
    w1 = max((len(c[1]) for c in cells), default=0)
    w2 = max((len(c[2]) for c in cells), default=0)
    lines = [f"backward pass from {root_name}: {len(steps)} steps, {len(leaves)} leaves"]
    for row in rows:
        if isinstance(row, str):
            lines.append(row)
        elif not row[1]:
            lines.append(f"    {row[0]}")
        else:
            lines.append(f"    {row[0]:<{w0}}  {row[1]:<{w1}}  {row[2]:<{w2}}  {row[3]}".rstrip())
    return "\n".join(lines)
