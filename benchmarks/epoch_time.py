"""Time one training epoch of the same MLP in tinygrad_np, hand-derived NumPy, PyTorch and a
GEMM-only lower bound, side by side in one process.

    python -m benchmarks.epoch_time                      # the full grid (a few minutes)
    python -m benchmarks.epoch_time --quick              # a smoke test (seconds)
    python -m benchmarks.epoch_time --arch 784-128-64-10 --batch 128 --reps 7

Method: every contender starts from the same float32 weights and sees the same sample order
in each repetition. After a warm-up, the contenders' epochs run interleaved in blocks: each
epoch is cut into blocks of whole batches (``--block`` samples, ~4,096), the contenders take
turns block by block (who goes first rotates), and each contender's epoch time is the sum of
its blocks. A slow phase of a noisy machine then hits every contender alike. Before each block a
contender is rebuilt on fresh copies of its weights (untimed), so no single memory placement
decides a result. Reported: median, min and max over repetitions,
and the ratio to the hand-derived NumPy baseline (the median over repetitions of the paired
ratio within each repetition) and to the GEMM-only bound. Also the epoch's FLOPs over the
machine's measured peak GEMM rate (the physical lower bound), the time split of tinygrad_np and
of the reference into data/forward/backward/optimizer (the two taking turns block by block), and
peak traced memory with its epoch-to-epoch growth.
Outputs: a Markdown table on stdout, and ``epoch_time.json``, ``epoch_time.md`` and
``epoch_time.png`` in ``--out`` (default ``benchmarks/results``).
"""
from __future__ import annotations

import os

# PyTorch's OpenMP worker threads spin-wait after each op by default; on a 2-core machine they
# then steal a core from OpenBLAS's threads and slow every NumPy contender that runs next.
# Passive waiting makes idle threads sleep. Must be set before torch is imported.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import argparse
import gc
import json
import statistics
import sys
import time
import tracemalloc
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from mnist import reference

from . import contenders as C
from .machine import machine_info, peak_gemm_gflops
from .report import atomic_write_text, epoch_markdown, epoch_plot

BASELINE = C.HandNumPy.name
BOUND = C.GemmBound.name


def load_data(kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """MNIST training images as float32 in [0, 1] (if found and ``kind`` allows), else synthetic."""
    if kind in ("auto", "mnist"):
        try:
            from mnist.data import load_dataset

            ds = load_dataset("mnist", download=False)
            X = (ds.train_images.reshape(len(ds.train_images), -1) / np.float32(255)).astype(np.float32)
            return X[:n], ds.train_labels[:n].astype(np.int64), "mnist"
        except Exception as e:  # noqa: BLE001 - any failure to find data means synthetic
            if kind == "mnist":
                raise
            print(f"(MNIST not found: {e.__class__.__name__}; using synthetic data of the same shape)", file=sys.stderr)
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n), "synthetic"


def block_samples(batch: int, block: int) -> int:
    """``block`` rounded down to whole batches (at least one batch)."""
    return max(batch, block // batch * batch)


def blocks(order: np.ndarray, batch: int, block: int) -> list[np.ndarray]:
    """``order`` cut into consecutive blocks of whole batches."""
    step = block_samples(batch, block)
    return [order[i:i + step] for i in range(0, len(order), step)]


def time_epochs_interleaved(racers: Sequence[C.Contender], order: np.ndarray, batch: int, block: int,
                            first: int = 0) -> dict[str, float]:
    """One epoch of every contender over ``order``, taking turns block by block; returns the
    total time of each. Blocks hold whole batches, so each contender trains exactly as in one
    uninterrupted epoch (same batches, same updates); before each block a contender is rebuilt
    on fresh copies of its weights (untimed), so no one memory placement decides the result."""
    totals = {c.name: 0.0 for c in racers}
    clock = time.perf_counter
    for j, part in enumerate(blocks(order, batch, block)):
        k = (first + j) % len(racers)
        for c in list(racers[k:]) + list(racers[:k]):  # rotate who goes first
            c.rebuild()  # fresh arrays every block: memory placement re-drawn (see blockrace), untimed
            t = clock()
            c.epoch(part)
            totals[c.name] += clock() - t
    return totals


def phases_interleaved(racers: Sequence[C.Contender], order: np.ndarray, batch: int,
                       block: int) -> list[dict[str, float]]:
    """One epoch of each contender with its phases timed (``epoch_phases``), taking turns block by
    block as in ``time_epochs_interleaved``, from the initial weights: the phase split of each, paired."""
    totals = {id(c): dict.fromkeys(C.PHASES, 0.0) for c in racers}
    for c in racers:
        c.reset()
    for j, part in enumerate(blocks(order, batch, block)):
        k = j % len(racers)
        for c in list(racers[k:]) + list(racers[:k]):  # rotate who goes first
            c.rebuild()
            for phase, t in c.epoch_phases(part).items():
                totals[id(c)][phase] += t
    return [totals[id(c)] for c in racers]


def traced_memory(c: C.Contender, order: np.ndarray, epochs: int = 3) -> dict[str, Any]:
    """Peak traced (NumPy) memory during an epoch, and the memory held after each epoch."""
    gc.collect()
    tracemalloc.start()
    held = []
    try:
        for _ in range(epochs):
            tracemalloc.reset_peak()
            c.epoch(order)
            gc.collect()
            current, peak = tracemalloc.get_traced_memory()
            held.append(current)
    finally:
        tracemalloc.stop()
    return {"peak_bytes": peak, "held_after_epoch_bytes": held, "growth_bytes": held[-1] - held[0]}


def bench_config(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, *, reps: int, warmup: int,
                 lr: float, include_torch: bool, threads: int | None, peak: float, seed: int,
                 block: int = 4096) -> dict[str, Any]:
    makers = C.available(include_torch)
    racers = [m(sizes, batch, X, y, lr=lr, seed=seed, **({"threads": threads} if m is C.Torch else {}))
              for m in makers]
    rng = np.random.default_rng(seed)
    warm = rng.permutation(len(X))[: max(batch, len(X) // 10)]
    for c in racers:
        for _ in range(warmup):
            c.epoch(warm)
        c.reset()

    refc = next(c for c in racers if c.name == BASELINE)
    times: dict[str, list[float]] = {c.name: [] for c in racers}
    agreement: dict[str, float] = {}
    for rep in range(reps):
        order = rng.permutation(len(X))
        for c in racers:
            c.reset()
        for name, t in time_epochs_interleaved(racers, order, batch, block, first=rep).items():
            times[name].append(t)
        if rep == 0:  # same init, same order: the trained weights must agree with the baseline's
            ref_w = refc.weights()
            for c in racers:
                w = c.weights()
                if w:
                    agreement[c.name] = max(float(np.max(np.abs(a - b))) for a, b in zip(w, ref_w))

    base, bound = times[BASELINE], times[BOUND]
    flops = C.epoch_flops(sizes, len(X))
    result: dict[str, Any] = {
        "arch": "-".join(map(str, sizes)), "batch": batch, "n_samples": len(X), "reps": reps,
        "block_samples": block_samples(batch, block),
        "flops": flops, "physical_bound_s": flops / (peak * 1e9), "contenders": {},
    }
    for name, ts in times.items():
        result["contenders"][name] = {
            "times_s": ts, "median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts),
            "ratio_to_reference": statistics.median(t / b for t, b in zip(ts, base)),
            "ratio_to_gemm_bound": statistics.median(t / b for t, b in zip(ts, bound)),
            "ratio_to_physical_bound": statistics.median(ts) / result["physical_bound_s"],
            "max_weight_diff_vs_reference": agreement.get(name),
        }
    tgc = next(c for c in racers if c.name == C.TinygradNP.name)
    tgc.reset()  # one batch's gradients at the initial weights (no update): autograd vs the hand-derived formulas
    idx = rng.permutation(len(X))[:batch]
    xb, yb = tgc.gather(idx)
    ref_grads = reference.loss_and_grads([p.copy() for p in tgc.init], xb, yb)[1]
    result["max_grad_diff_vs_reference"] = max(float(np.max(np.abs(a - b)))
                                               for a, b in zip(tgc.gradients(xb, yb), ref_grads))
    traced = next((c for c in racers if c.name == C.TinygradNPTraced.name), None)
    if traced is not None:  # the replayed step's gradients: the same as eager autograd's, bit for bit
        traced.reset()
        result["traced_grads_equal_eager"] = all(np.array_equal(a, b) for a, b in
                                                 zip(traced.gradients(xb, yb), tgc.gradients(xb, yb)))
    result["tinygrad_phases_s"], result["reference_phases_s"] = phases_interleaved(
        [tgc, refc], rng.permutation(len(X)), batch, block)
    mem_order = rng.permutation(len(X))
    result["memory"] = {c.name: traced_memory(c, mem_order) for c in racers
                        if c.name in (BASELINE, tgc.name, C.TinygradNPTraced.name)}
    return result


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.epoch_time", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="784-128-64-10,784-512-256-10",
                   help="comma-separated architectures, layer sizes joined by '-' (default: %(default)s)")
    p.add_argument("--batch", default="32,128,512", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per contender (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=1, help="warm-up epochs on 10%% of the data (default: %(default)s)")
    p.add_argument("--block", type=int, default=4096,
                   help="samples per interleaving block, rounded down to whole batches (default: %(default)s; "
                        "a value >= --samples times whole epochs one after the other)")
    p.add_argument("--samples", type=int, default=None, help="samples per epoch (default: 60000; 2048 with --quick)")
    p.add_argument("--data", choices=("auto", "mnist", "synthetic"), default="auto",
                   help="MNIST if found (MNIST_DIR, ...), else synthetic (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default: %(default)s)")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch threads (default: NumPy's BLAS thread count)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2,048 samples, 784-128-64-10, batch 128, 2 reps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = p.parse_args(argv)
    if args.quick:
        args.arch, args.batch, args.reps = "784-128-64-10", "128", 2
    if args.samples is None:
        args.samples = 2048 if args.quick else 60000
    return args


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    archs = [[int(n) for n in a.split("-")] for a in args.arch.split(",")]
    batch_sizes = [int(b) for b in args.batch.split(",")]
    X, y, data_kind = load_data(args.data, args.samples, args.seed)
    peak = peak_gemm_gflops(512 if args.quick else 2048, repeats=3 if args.quick else 10)  # before torch loads
    info = machine_info()
    threads = args.threads or info["blas"].get("threads")
    print(f"# epoch time: {len(X):,} {data_kind} samples, float32, plain SGD, softmax cross-entropy; "
          f"peak GEMM {peak:.1f} GFLOP/s on {info['cores']} cores ({info['cpu']})", flush=True)
    results = []
    for sizes in archs:
        if sizes[0] != X.shape[1]:
            raise SystemExit(f"--arch {sizes}: the first size must be the input width {X.shape[1]}")
        for b in batch_sizes:
            print(f"  running {'-'.join(map(str, sizes))}, batch {b} ...", file=sys.stderr, flush=True)
            results.append(bench_config(sizes, b, X, y, reps=args.reps, warmup=args.warmup, lr=args.lr,
                                        include_torch=not args.no_torch, threads=threads, peak=peak,
                                        seed=args.seed, block=args.block))
    report = {
        "benchmark": "epoch_time",
        "command": "python -m benchmarks.epoch_time " + " ".join(sys.argv[1:] if argv is None else argv),
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": info,
        "settings": {"data": data_kind, "samples": len(X), "dtype": "float32", "optimizer": "SGD",
                     "lr": args.lr, "reps": args.reps, "warmup": args.warmup, "block": args.block,
                     "torch_threads": threads},
        "peak_gemm_gflops": peak,
        "baseline": BASELINE,
        "results": results,
    }
    md = epoch_markdown(report)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "epoch_time.json", json.dumps(report, indent=2))
    atomic_write_text(args.out / "epoch_time.md", md)
    epoch_plot(report, args.out / "epoch_time.png")
    print(f"wrote {args.out / 'epoch_time.json'}, .md and .png", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
