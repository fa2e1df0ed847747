"""Where a training step's time goes: gather, GEMM, elementwise work and calls, per contender.

    python -m benchmarks.dev.anatomy                       # 784-128-64-10, batch 32, 128, 512
    python -m benchmarks.dev.anatomy --arch 784-512-256-10 --batch 128 --blocks 200
    python -m benchmarks.dev.anatomy --quick               # a smoke test (seconds)

One block race (``blockrace``: same process, same batches, turns of ``--steps`` steps in a random
order, every contender rebuilt on fresh arrays before each block) of:

* the training steps of the hand-derived reference, tinygrad_np eager, traced (when the package
  has ``traced_step``) and compiled (``tg.compile``, also with ``gemm_accumulate``) on the
  benchmark's batches, already gathered;
* ``gather``: the batch gathered from the training set (``np.take`` of images and labels), as
  every contender of ``epoch_time`` does before its step;
* ``GEMM only``: the step's matrix products alone (forward ``A W``, backward ``Aᵀ dZ`` and
  ``dZ Wᵀ``, none for the input layer) into preallocated outputs: the GEMM bound of one step;
* each of the three training steps again on a *tiny* MLP of the same depth and the same number
  of classes (every other width 8, batch 2), where array work is negligible: what the step
  costs in calls (Python and NumPy dispatch), whatever the sizes.

Per contender, a step of ``epoch_time`` (gather + step) is then split as
``gather + GEMM + elementwise + calls``, where ``elementwise`` is the rest: everything that
scales with the arrays besides the products in isolation (elementwise ops and reductions,
allocation, and the products running slower inside a step than alone). Reported in µs per
step (medians over blocks) with the total over the GEMM bound (gather + GEMM).
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import contenders as C
from ..baseline import MissingReference, initial_params, reference_step
from ..data import load_data
from ..report import atomic_write_text
from . import blockrace

TINY_WIDTH, TINY_BATCH = 8, 2
PARTS = ("gather", "GEMM", "elementwise", "calls")


def tiny_sizes(sizes: Sequence[int]) -> list[int]:
    """The same depth and number of classes, every other width ``TINY_WIDTH``."""
    return [TINY_WIDTH] * (len(sizes) - 1) + [sizes[-1]]


def gemm_step(sizes: Sequence[int], batch: int, W: Sequence[np.ndarray]) -> blockrace.Step:
    """The matrix products of one step at batch ``batch`` into preallocated outputs."""
    r = np.random.default_rng(0)
    A = [r.standard_normal((batch, n)).astype(np.float32) for n in sizes[:-1]]
    Z = [np.empty((batch, n), np.float32) for n in sizes[1:]]
    dZ = [r.standard_normal((batch, n)).astype(np.float32) for n in sizes[1:]]
    dA = [np.empty((batch, n), np.float32) for n in sizes[:-1]]
    dW = [np.empty_like(w) for w in W]

    def step(xb: np.ndarray, yb: np.ndarray) -> None:
        for i, w in enumerate(W):
            np.matmul(A[i], w, out=Z[i])
        for i in range(len(W) - 1, -1, -1):
            np.matmul(A[i].T, dZ[i], out=dW[i])
            if i > 0:
                np.matmul(dZ[i], W[i].T, out=dA[i])
    return step


def builders(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, lr: float = 0.05, seed: int = 0
             ) -> list[tuple[str, blockrace.Build]]:
    """(name, build) of every contender of the race (see the module docstring)."""
    init, small = initial_params(sizes, seed), tiny_sizes(sizes)
    rng = np.random.default_rng(seed + 7)
    Xt, yt = rng.random((TINY_BATCH, TINY_WIDTH), dtype=np.float32), rng.integers(0, sizes[-1], TINY_BATCH)
    order = rng.permutation(len(X))
    cursor = [0]

    def gather() -> blockrace.Step:
        def step(xb: np.ndarray, yb: np.ndarray) -> None:
            k = cursor[0] = (cursor[0] + batch) % max(1, len(X) - batch)
            idx = order[k:k + batch]
            np.take(X, idx, axis=0), np.take(y, idx)
        return step

    def gemm() -> blockrace.Step:
        return gemm_step(sizes, batch, [w.copy() for w in init[::2]])

    out: list[tuple[str, blockrace.Build]] = [("gather", gather), ("GEMM only", gemm)]
    kinds = [C.HandNumPy, C.TinygradNP] + ([C.TinygradNPTraced] if C.TinygradNPTraced.supported() else []) + (
        [C.TinygradNPCompiled, C.TinygradNPCompiledGemm] if C.TinygradNPCompiled.supported() else [])
    for tiny in (False, True):
        for kind in kinds:
            out.append(_builder(kind, small if tiny else sizes, TINY_BATCH if tiny else batch,
                                Xt if tiny else X, yt if tiny else y, lr, seed, tiny))
    return out


def _builder(kind: type[C.Contender], sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray,
             lr: float, seed: int, tiny: bool) -> tuple[str, blockrace.Build]:
    name = kind.name + (" (tiny)" if tiny else "")
    init = initial_params(sizes, seed)
    holder: dict[str, Any] = {"params": [p.copy() for p in init]}
    if kind is not C.HandNumPy:
        holder["c"] = kind(sizes, batch, X, y, lr=lr, init=init)

    def build() -> blockrace.Step:
        if kind is C.HandNumPy:
            holder["params"] = [p.copy() for p in holder["params"]]
            step = reference_step(holder["params"], lr)
        else:
            holder["c"].rebuild()
            step = holder["c"].step
        if tiny:
            return lambda xb, yb: step(X, y)  # its own tiny batch
        return step
    return name, build


def measure(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, *, blocks: int, steps: int,
            seed: int = 0) -> dict[str, Any]:
    times = blockrace.race(builders(sizes, batch, X, y, seed=seed), X, y, batch, blocks=blocks, steps=steps,
                           seed=seed)
    us = {name: statistics.median(ts) * 1e6 for name, ts in times.items()}
    gather, gemm = us["gather"], us["GEMM only"]
    rows = {}
    for name in us:
        if name in ("gather", "GEMM only") or name.endswith("(tiny)"):
            continue
        step, calls = us[name], us[f"{name} (tiny)"]
        total = gather + step
        rows[name] = {"total_us": total, "step_us": step, "gather_us": gather, "GEMM_us": gemm,
                      "calls_us": calls, "elementwise_us": step - gemm - calls,
                      "ratio_to_gemm_bound": total / (gather + gemm)}
    return {"arch": "-".join(map(str, sizes)), "batch": batch, "blocks": blocks, "steps_per_block": steps,
            "us_per_step": us, "split": rows}


def markdown(results: Sequence[dict[str, Any]]) -> str:
    lines = ["| arch | batch | contender | µs per step | gather | GEMM | elementwise | calls | × GEMM bound |",
             "|---|---:|---|---:|---:|---:|---:|---:|---:|"]
    for r in results:
        for name, s in r["split"].items():
            lines.append(f"| {r['arch']} | {r['batch']} | {name} | {s['total_us']:.1f} | {s['gather_us']:.1f} | "
                         f"{s['GEMM_us']:.1f} | {s['elementwise_us']:.1f} | {s['calls_us']:.1f} | "
                         f"{s['ratio_to_gemm_bound']:.2f} |")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dev.anatomy", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    blockrace.add_race_arguments(p, batch="32,128,512", blocks=100, steps=20)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = blockrace.parse_race_arguments(p, argv)
    sizes = [int(n) for n in args.arch.split("-")]
    try:
        X, y, kind = load_data(args.data, args.samples)
        if sizes[0] != X.shape[1]:
            raise SystemExit(f"anatomy: --arch must start with the data's {X.shape[1]} features, got {args.arch}")
        results = []
        for b in (int(s) for s in args.batch.split(",")):
            print(f"  batch {b} ...", file=sys.stderr, flush=True)
            results.append(measure(sizes, b, X, y, blocks=args.blocks, steps=args.steps))
    except MissingReference as e:
        raise SystemExit(f"anatomy: {e}") from None
    md = markdown(results)
    print(f"# step anatomy: {kind} data, float32, blocks of {args.steps} steps\n\n{md}")
    args.out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m benchmarks.dev.anatomy", *(sys.argv[1:] if argv is None else argv)])
    atomic_write_text(args.out / "anatomy.json", json.dumps({"data": kind, "command": command, "results": results},
                                                            indent=2))
    atomic_write_text(args.out / "anatomy.md", md)
    return results


if __name__ == "__main__":
    main()
