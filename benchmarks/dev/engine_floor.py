"""How fast can *any* eager reverse-mode engine over NumPy train this MLP? A measurement tool.

    python -m benchmarks.dev.engine_floor                 # batch 32, 128, 512 (a few minutes)
    python -m benchmarks.dev.engine_floor --batch 128 --blocks 300
    python -m benchmarks.dev.engine_floor --quick         # a smoke test (seconds)

``FloorEngine`` below is the leanest define-by-run engine for the benchmark's MLP: one node
object per op with ``__slots__``, VJPs in bare NumPy, an iterative topological sort, gradients
summed per tensor, and nothing else -- no modules, no registry, no shape, dtype or anomaly
checks, no higher-order gradients. It does the NumPy work tinygrad_np does (a fused linear op
with the bias VJP as ``1ᵀ g``, cross-entropy with its row max over a column-major copy and its
row sums as ``e · 1``, with its own copies of those small helpers), and it updates its
parameters with tinygrad_np's own ``optim.SGD`` (public API: the parameters are
``tg.Tensor`` holders, their ``.grad`` set from the engine's gradients). So its time over the
hand-derived NumPy reference is the cost of recording a graph and walking it back, and nothing
more: a floor for tinygrad_np's own forward + backward.

It is *not* part of the framework and is not used by it; tests check that it trains to the
reference's weights, so the comparison is between equal computations.

Method (``blockrace``): the reference, tinygrad_np (eager, and through ``traced_step`` when the
package has it) and the floor engine run in one process on the same batches, taking turns every
``--steps`` training steps (in a random order each block), for ``--blocks`` blocks, each rebuilt
on fresh copies of its current weights before every block (memory placement re-drawn) with the
block's first step untimed. Reported: the median time per step and the median of the paired
per-block ratios to the reference, with the interquartile range.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from .. import contenders as C
from ..baseline import MissingReference, initial_params, reference_step
from ..data import load_data
from ..report import atomic_write_text
from ..tg_api import API
from . import blockrace


def row_max(a: np.ndarray) -> np.ndarray:
    """Row maxima as a column (N, 1); for many short rows, reduced down a column-major copy
    (NumPy's per-row inner loop is slow on rows of ten)."""
    if a.shape[1] <= 32 and a.shape[0] >= 16:
        a = np.asfortranarray(a)
    return np.maximum.reduce(a, axis=1, keepdims=True)


def row_sum(a: np.ndarray) -> np.ndarray:
    """Row sums as a column (N, 1); for many rows as the BLAS product a·1."""
    if a.shape[0] >= 64:
        ones = np.empty(a.shape[1], a.dtype)
        ones.fill(1)
        return (a @ ones)[:, None]
    return a.sum(axis=1, keepdims=True)


class Node:
    """A tensor in the floor engine: data, the op that made it (None for leaves), its gradient."""

    __slots__ = ("data", "op", "grad", "requires_grad")

    def __init__(self, data: np.ndarray, op: "Op | None" = None, requires_grad: bool = False) -> None:
        self.data, self.op, self.grad, self.requires_grad = data, op, None, requires_grad or op is not None


class Op:
    __slots__ = ("inputs", "saved")

    def __init__(self, *inputs: Node) -> None:
        self.inputs = inputs

    def backward(self, g: np.ndarray, out: np.ndarray) -> Sequence[np.ndarray | None]:  # pragma: no cover
        raise NotImplementedError


class Linear(Op):
    """y = x W + b.   VJP: x̄ = g Wᵀ (only if x needs it), W̄ = xᵀ g, b̄ = 1ᵀ g."""

    __slots__ = ()

    @staticmethod
    def apply(x: Node, w: Node, b: Node) -> Node:
        y = x.data @ w.data
        y += b.data
        return Node(y, Linear(x, w, b))

    def backward(self, g, out):
        x, w, _ = self.inputs
        return (g @ w.data.T if x.requires_grad else None, x.data.T @ g, np.ones(len(g), g.dtype) @ g)


class ReLU(Op):
    """y = max(x, 0).   VJP: x̄ = g · [y > 0]."""

    __slots__ = ()

    @staticmethod
    def apply(x: Node) -> Node:
        return Node(np.maximum(x.data, 0), ReLU(x))

    def backward(self, g, out):
        return (g * (out > 0),)


class CrossEntropy(Op):
    """mean_i logsumexp(z_i) - z_i[y_i].   VJP: z̄ = (softmax(z) - onehot(y)) g / N."""

    __slots__ = ()

    @staticmethod
    def apply(z: Node, labels: np.ndarray) -> Node:
        op = CrossEntropy(z)
        rows = np.arange(len(labels))
        shifted = z.data - row_max(z.data)  # the arithmetic of tinygrad_np's cross-entropy
        e = np.exp(shifted)
        total = row_sum(e)
        loss = (np.log(total[:, 0]) - shifted[rows, labels]).sum(dtype=e.dtype) / len(labels)
        e /= total
        e[rows, labels] -= 1
        op.saved = e
        return Node(np.asarray(loss), op)

    def backward(self, g, out):
        return (self.saved * (g / len(self.saved)),)


def backward(root: Node) -> None:
    """Reverse topological order (iterative DFS), VJPs, gradients summed per tensor."""
    order, seen, stack = [], set(), [(root, False)]
    while stack:
        t, done = stack.pop()
        if done:
            order.append(t)
        elif id(t) not in seen:
            seen.add(id(t))
            stack.append((t, True))
            stack.extend((x, False) for x in t.op.inputs if x.op is not None and id(x) not in seen)
    grads = {id(root): np.ones_like(root.data)}
    for t in reversed(order):
        g = grads.pop(id(t))
        for x, gx in zip(t.op.inputs, t.op.backward(g, t.data)):
            if gx is None or not x.requires_grad:
                continue
            if x.op is None:
                x.grad = gx if x.grad is None else x.grad + gx
            else:
                grads[id(x)] = gx if id(x) not in grads else grads[id(x)] + gx


class FloorEngine:
    """The benchmark's MLP (ReLU hidden layers, cross-entropy, plain SGD) on the floor engine;
    the update is tinygrad_np's ``optim.SGD`` on ``tg.Tensor`` parameter holders."""

    def __init__(self, params: Sequence[np.ndarray], lr: float, api: API | None = None) -> None:
        api = api or API()
        self.Tensor = api.Tensor
        self.tensors = [api.Tensor(np.array(p, copy=True), requires_grad=True) for p in params]
        self.opt = api.optim.SGD(self.tensors, lr=lr)

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        h, P = Node(xb), [Node(t.data, requires_grad=True) for t in self.tensors]
        for i in range(0, len(P) - 2, 2):
            h = ReLU.apply(Linear.apply(h, P[i], P[i + 1]))
        loss = CrossEntropy.apply(Linear.apply(h, P[-2], P[-1]), yb)
        backward(loss)
        for t, p in zip(self.tensors, P):
            t.grad = self.Tensor(p.grad)
        self.opt.step()
        return float(loss.data)

    def weights(self) -> list[np.ndarray]:
        return [t.data for t in self.tensors]


def builders(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, lr: float
             ) -> list[tuple[str, blockrace.Build]]:
    """(name, build) for the reference, tinygrad_np (eager, and traced when available) and the
    floor engine, same initial weights. ``build()`` returns a step function on fresh copies of the
    contender's current weights."""
    init = initial_params(sizes)
    state: dict = {"reference": [p.copy() for p in init], "floor": FloorEngine(init, lr),
                   "tiny": C.TinygradNP(sizes, batch, X, y, lr=lr, init=init)}
    if C.TinygradNPTraced.supported():
        state["traced"] = C.TinygradNPTraced(sizes, batch, X, y, lr=lr, init=init)

    def ref_step() -> blockrace.Step:
        state["reference"] = [p.copy() for p in state["reference"]]
        return reference_step(state["reference"], lr)

    def tiny_step() -> blockrace.Step:
        state["tiny"].rebuild()
        return state["tiny"].step

    def traced_step() -> blockrace.Step:
        state["traced"].rebuild()  # (keeps its plans: the same parameter Tensors, fresh arrays)
        return state["traced"].step

    def floor_step() -> blockrace.Step:
        state["floor"] = FloorEngine(state["floor"].weights(), lr)
        return state["floor"].step

    out = [(C.HandNumPy.name, ref_step), (C.TinygradNP.name, tiny_step)]
    if "traced" in state:
        out.append((C.TinygradNPTraced.name, traced_step))
    return out + [("floor engine", floor_step)]


def measure(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, *, blocks: int, steps: int,
            lr: float = 0.05, seed: int = 0) -> dict:
    times = blockrace.race(builders(sizes, batch, X, y, lr), X, y, batch, blocks=blocks, steps=steps, seed=seed)
    base = np.array(times[C.HandNumPy.name])
    out = {"arch": "-".join(map(str, sizes)), "batch": batch, "blocks": blocks, "steps_per_block": steps,
           "contenders": {}}
    for name, ts in times.items():
        r = np.array(ts) / base
        out["contenders"][name] = {
            "us_per_step": statistics.median(ts) * 1e6,
            "ratio_to_reference": float(np.median(r)),
            "ratio_iqr": [float(np.percentile(r, 25)), float(np.percentile(r, 75))],
        }
    return out


def markdown(results: Sequence[dict]) -> str:
    lines = ["| arch | batch | contender | µs per step | × hand NumPy (median of block pairs) | IQR |",
             "|---|---:|---|---:|---:|---|"]
    for r in results:
        for name, c in r["contenders"].items():
            lo, hi = c["ratio_iqr"]
            lines.append(f"| {r['arch']} | {r['batch']} | {name} | {c['us_per_step']:.1f} | "
                         f"{c['ratio_to_reference']:.3f} | {lo:.3f}-{hi:.3f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> list[dict]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dev.engine_floor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    blockrace.add_race_arguments(p, batch="32,128,512", blocks=150, steps=20)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = blockrace.parse_race_arguments(p, argv)
    try:
        X, y, kind = load_data(args.data, args.samples)
        sizes = [int(n) for n in args.arch.split("-")]
        results = []
        for b in (int(s) for s in args.batch.split(",")):
            print(f"  batch {b} ...", file=sys.stderr, flush=True)
            results.append(measure(sizes, b, X, y, blocks=args.blocks, steps=args.steps))
    except MissingReference as e:
        raise SystemExit(f"engine_floor: {e}") from None
    md = markdown(results)
    print(f"# engine floor: {kind} data, float32, blocks of {args.steps} steps\n\n{md}")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "engine_floor.json", json.dumps({"data": kind, "command": " ".join(
        ["python -m benchmarks.dev.engine_floor", *(sys.argv[1:] if argv is None else argv)]), "results": results},
        indent=2))
    atomic_write_text(args.out / "engine_floor.md", md)
    return results


if __name__ == "__main__":
    main()
