"""The measurements behind two choices of ``tg.compile``: the BLAS route and the batch gather.

    python -m benchmarks.dev.compile_study               # both studies, 784-128-64-10, batch 32, 128, 512
    python -m benchmarks.dev.compile_study --only blas --batch 128
    python -m benchmarks.dev.compile_study --quick       # a smoke test (seconds)

``blas``: the update ``W += -lr · Aᵀ G`` of each layer of the MLP (and ``b += -lr · 1ᵀ G``), as
``gemm_accumulate=True`` runs it, through each route of ``tinygrad_np.fast.compiler.blas``:
``ctypes`` (NumPy's own OpenBLAS), ``scipy`` (``scipy.linalg.blas``, its own OpenBLAS) and
``numpy`` (the product, then the scaled subtraction: three calls). Per layer and batch size, the
CPU time per update (``time.thread_time``: the time the process's thread ran, so other processes
on a shared machine do not count; run it with ``OPENBLAS_NUM_THREADS=1``, or the BLAS threads'
time goes uncounted), the routes taking turns in small blocks, median over blocks; and the
``call`` row: the same on 2×2 matrices, i.e. the cost of a call.

``gather``: the batch of ``epoch_time`` (``--batch`` random rows of the 60,000 × 784 float32
training set and their labels) gathered three ways: ``np.take`` into a fresh array (what every
other contender does), ``np.take(..., out=buffer)`` into a preallocated one (the compiled
contender), and one permutation of the whole training set per epoch followed by contiguous
slices (its cost per step is the permutation's cost divided by the steps of an epoch).

Both print Markdown tables; the conclusions are in ``benchmarks/README.md`` ("The compiled step").
"""
from __future__ import annotations

import argparse
import statistics
import time
from typing import Callable, Sequence

import numpy as np

from ..tg_api import tg

blas = tg.fast.compiler.blas  # (the routes the compiler itself uses)
Clock = time.thread_time


def interleaved(contenders: dict[str, Callable[[], object]], blocks: int, per_block: int) -> dict[str, float]:
    """Median µs per call of each contender, taking turns in blocks of ``per_block`` calls."""
    times: dict[str, list[float]] = {k: [] for k in contenders}
    names = list(contenders)
    for f in contenders.values():
        f()
    for b in range(blocks):
        for name in names[b % len(names):] + names[:b % len(names)]:
            f = contenders[name]
            t = Clock()
            for _ in range(per_block):
                f()
            times[name].append((Clock() - t) / per_block * 1e6)
    return {k: statistics.median(v) for k, v in times.items()}


def blas_study(sizes: Sequence[int], batches: Sequence[int], blocks: int, per_block: int) -> str:
    routes = {name: blas.make_route(name) for name in blas.ROUTES}
    rows = ["| layer | batch | " + " | ".join(f"{r} µs" for r in routes) + " |", "|---|---:|" + "---:|" * len(routes)]
    rng = np.random.default_rng(0)
    shapes = [((2, 2), 2, "call (2×2)")] + [((a, b), n, f"W {a}×{b}") for a, b in zip(sizes[:-1], sizes[1:])
                                            for n in batches]
    for (n_in, n_out), n, label in shapes:
        x = rng.standard_normal((n, n_in)).astype(np.float32)
        g = rng.standard_normal((n, n_out)).astype(np.float32)
        w = rng.standard_normal((n_in, n_out)).astype(np.float32)
        tmp = np.empty_like(w)
        def three_calls(alpha: float, a: np.ndarray = x.T, b: np.ndarray = g, t: np.ndarray = tmp,
                        c: np.ndarray = w) -> None:  # the default plan's arithmetic
            np.subtract(c, np.multiply(np.matmul(a, b, out=t), -alpha, out=t), out=c)

        contenders: dict[str, Callable[[], object]] = {}
        for name, route in routes.items():
            fn = three_calls if name == "numpy" else route.gemm(x.T, g, w) if route is not None else None
            if fn is not None:  # (None: this route is not available here)
                contenders[name] = lambda fn=fn: fn(-1e-6)
        us = interleaved(contenders, blocks, per_block)
        rows.append(f"| {label} | {n} | " + " | ".join(f"{us[r]:.2f}" if r in us else "-" for r in routes) + " |")
    return "\n".join(rows)


def gather_study(n_features: int, batches: Sequence[int], blocks: int, samples: int = 60000) -> str:
    rng = np.random.default_rng(0)
    X = rng.random((samples, n_features), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    order = rng.permutation(samples)
    rows = ["| batch | take (fresh) µs | take into a buffer µs | permutation per epoch µs/step |",
            "|---:|---:|---:|---:|"]
    for n in batches:
        xb, yb = np.empty((n, n_features), np.float32), np.empty(n, y.dtype)
        Xp, yp = np.empty_like(X), np.empty_like(y)
        cursor = [0]

        def idx() -> np.ndarray:
            cursor[0] = (cursor[0] + n) % (samples - n)
            return order[cursor[0]:cursor[0] + n]

        def fresh() -> None:
            i = idx()
            np.take(X, i, axis=0), np.take(y, i)

        def into() -> None:
            i = idx()
            np.take(X, i, axis=0, out=xb, mode="clip"), np.take(y, i, out=yb, mode="clip")

        def permute() -> None:  # one epoch's permutation, then (free) contiguous slices
            np.take(X, order, axis=0, out=Xp, mode="clip"), np.take(y, order, out=yp, mode="clip")

        per_step = interleaved({"fresh": fresh, "into": into}, blocks, max(4, 2048 // n))
        epoch = interleaved({"permute": permute}, max(3, blocks // 10), 1)["permute"] / (samples / n)
        rows.append(f"| {n} | {per_step['fresh']:.1f} | {per_step['into']:.1f} | {epoch:.1f} |")
    return "\n".join(rows)


def main(argv: Sequence[str] | None = None) -> None:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dev.compile_study", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="784-128-64-10", help="layer sizes joined by '-' (default: %(default)s)")
    p.add_argument("--batch", default="32,128,512", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--only", choices=("blas", "gather"), help="run one study")
    p.add_argument("--blocks", type=int, default=40, help="blocks per contender (default: %(default)s)")
    p.add_argument("--quick", action="store_true", help="smoke test: 3 blocks, batch 32, a small data set")
    args = p.parse_args(argv)
    sizes = [int(s) for s in args.arch.split("-")]
    batches = [32] if args.quick else [int(b) for b in args.batch.split(",")]
    blocks = 3 if args.quick else args.blocks
    if args.only in (None, "blas"):
        print("## BLAS routes for W += -lr·AᵀG (CPU µs per update, median over blocks)\n")
        print(blas_study(sizes, batches, blocks, 2 if args.quick else 20), "\n")
    if args.only in (None, "gather"):
        print("## The batch gather (CPU µs per step, median over blocks)\n")
        print(gather_study(sizes[0], batches, blocks, 2048 if args.quick else 60000), "\n")


if __name__ == "__main__":
    main()
