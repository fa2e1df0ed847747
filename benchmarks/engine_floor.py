"""How fast can *any* eager reverse-mode engine over NumPy train this MLP? A measurement tool.

    python -m benchmarks.engine_floor                 # batch 32, 128, 512 (about a minute)
    python -m benchmarks.engine_floor --batch 128 --blocks 300

``FloorEngine`` below is the leanest define-by-run engine we could write for the benchmark's
MLP: one node object per op with ``__slots__``, VJPs in bare NumPy, an iterative topological
sort, gradients summed per tensor, and nothing else -- no modules, no registry, no shape, dtype
or anomaly checks, no higher-order gradients. It does the same NumPy work as tinygrad_np
(fused linear op with the bias VJP as ``1ᵀ g``, the same fused cross-entropy arithmetic, plain
SGD with the same one-pass update), so its time over the hand-derived NumPy reference is the
cost of recording a graph and walking it back, and nothing more: a floor for tinygrad_np's own ratio.

It is *not* part of the framework and is not used by it; tests check that it trains to the
reference's weights, so the comparison is between equal computations.

Method (``blockrace``): the reference, tinygrad_np (eager, and through ``traced_step``) and the
floor engine run in one process on the
same batches, taking turns every ``--steps`` training steps (in a random order each block), for
``--blocks`` blocks, each rebuilt on fresh copies of its current weights before every block (memory
placement re-drawn) with the block's first step untimed. Reported: the median time per step and
the median of the paired per-block ratios to the reference, with the interquartile range.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Sequence

import numpy as np

from tinygrad_np.ops.nn import row_max, row_sum
from tinygrad_np.optim.axpy import sub_scaled_

from . import blockrace
from . import contenders as C
from .report import atomic_write_text


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
        shifted = z.data - row_max(z.data)  # tinygrad_np's own NumPy helpers: the same arithmetic
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
    """The benchmark's MLP (ReLU hidden layers, cross-entropy, plain SGD) on the floor engine."""

    def __init__(self, params: Sequence[np.ndarray], lr: float) -> None:
        self.params = [Node(p.copy(), requires_grad=True) for p in params]
        self.lr = lr

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        h, P = Node(xb), self.params
        for i in range(0, len(P) - 2, 2):
            h = ReLU.apply(Linear.apply(h, P[i], P[i + 1]))
        loss = CrossEntropy.apply(Linear.apply(h, P[-2], P[-1]), yb)
        for p in P:
            p.grad = None
        backward(loss)
        for p in P:
            sub_scaled_(p.data, self.lr, p.grad)  # p -= lr g, in one BLAS pass as tinygrad_np's SGD
        return float(loss.data)

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.params]


def builders(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, lr: float
             ) -> list[tuple[str, blockrace.Build]]:
    """(name, build) for the reference, tinygrad_np (eager and traced) and the floor engine, same
    initial weights. ``build()`` returns a step function on fresh copies of the contender's current
    weights."""
    state = {"reference": [p.copy() for p in C.initial_params(sizes)],
             "floor": FloorEngine(C.initial_params(sizes), lr), "tiny": C.TinygradNP(sizes, batch, X, y, lr=lr),
             "traced": C.TinygradNPTraced(sizes, batch, X, y, lr=lr)}

    def reference_step() -> blockrace.Step:
        state["reference"] = [p.copy() for p in state["reference"]]
        return C.reference_step(state["reference"], lr)

    def tiny_step() -> blockrace.Step:
        state["tiny"].rebuild()
        return state["tiny"].step

    def traced_step() -> blockrace.Step:
        state["traced"].rebuild()  # (keeps its plans: the same parameter Tensors, fresh arrays)
        return state["traced"].step

    def floor_step() -> blockrace.Step:
        state["floor"] = FloorEngine(state["floor"].weights(), lr)
        return state["floor"].step

    return [(C.HandNumPy.name, reference_step), (C.TinygradNP.name, tiny_step),
            (C.TinygradNPTraced.name, traced_step), ("floor engine", floor_step)]


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
    p = argparse.ArgumentParser(prog="python -m benchmarks.engine_floor", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    blockrace.add_race_arguments(p, batch="32,128,512", blocks=150, steps=20)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = blockrace.parse_race_arguments(p, argv)
    from .epoch_time import load_data  # the same data as the epoch benchmark

    X, y, kind = load_data(args.data, args.samples)
    sizes = [int(n) for n in args.arch.split("-")]
    results = []
    for b in (int(s) for s in args.batch.split(",")):
        print(f"  batch {b} ...", file=sys.stderr, flush=True)
        results.append(measure(sizes, b, X, y, blocks=args.blocks, steps=args.steps))
    md = markdown(results)
    print(f"# engine floor: {kind} data, float32, blocks of {args.steps} steps\n\n{md}")
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "engine_floor.json", json.dumps({"data": kind, "results": results}, indent=2))
    atomic_write_text(args.out / "engine_floor.md", md)
    return results


if __name__ == "__main__":
    main()
