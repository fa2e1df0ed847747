"""Time one training epoch of the same MLP in tinygrad_np, hand-derived NumPy, the optional peers
(PyTorch, JAX, HIPS autograd, MyGrad) and a GEMM-only lower bound, taking turns block by block.

    python -m benchmarks.epoch_time                      # the full grid (several minutes)
    python -m benchmarks.epoch_time --quick              # a smoke test (seconds)
    python -m benchmarks.epoch_time --arch 784-128-64-10 --batch 128 --reps 7
    python -m benchmarks.epoch_time --peers none         # the NumPy contenders only
    python -m benchmarks.epoch_time --peers jax,torch    # some peers

Method: every contender starts from the same float32 weights and sees the same sample order
in each repetition. After a warm-up (which meets every batch size of the epoch, so compilers
and tracers are done before the timing), each epoch is cut into blocks of whole batches
(``--block`` samples, ~4,096); the contenders take turns block by block (who goes first
rotates), and a contender's epoch time is the sum of its blocks. A slow phase of a noisy
machine then hits every contender alike. Before each block a contender is rebuilt on fresh
copies of its weights (untimed), so no single memory placement decides a result, and every
block starts from the same state: its process's threads idle, then woken (``worker.ready``).

The NumPy-based contenders run in this process; each peer runs in a worker process of its own
(``benchmarks.worker``), driven block by block in the same turns, so no framework's thread pool
shares a process with another contender, and every block starts with the previous contender's
threads idle. Peers that are not installed are skipped with a note.

Reported per configuration: median, min and max over repetitions, and the ratios to the
hand-derived NumPy baseline and to the GEMM-only bound (medians of the paired per-repetition
ratios); the epoch's FLOPs over the machine's measured peak GEMM rate (the physical bound);
every contender's gradients of one batch at the initial weights against the hand-derived
ones, and its weights after the first timed epoch against the baseline's; the share of the
machine other processes kept busy during each repetition (``other_cpu_load_per_rep``: a run
that shared the machine says so; ``--wait-quiet`` waits for a quiet machine before each one);
the time split of
tinygrad_np and of the reference into data/forward/backward/optimizer (the two taking turns
block by block); peak traced memory of the in-process contenders with its epoch-to-epoch growth.
Outputs: a Markdown table on stdout, and ``epoch_time.json``, ``epoch_time.md`` and
``epoch_time.png`` in ``--out`` (default ``benchmarks/results``).
"""
from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import contenders as C
from . import peers as P
from .baseline import MissingReference, initial_params, reference
from .data import load_data
from .machine import cpu_snapshot, machine_info, other_load, peak_gemm_gflops, wait_until_quiet
from .report import atomic_write_text, epoch_markdown, epoch_plot
from .worker import PeerUnavailable, RemoteContender, Worker, ready

__all__ = ["main", "bench_config", "time_epochs_interleaved", "phases_interleaved", "blocks", "block_samples",
           "warmup_order", "grad_rel_diff", "GRAD_RTOL", "load_data"]

BASELINE = C.HandNumPy.name
BOUND = C.GemmBound.name

#: A contender's gradients of one batch agree with the hand-derived ones when, for every
#: parameter, max |g - g_ref| <= GRAD_RTOL * max |g_ref| (float32 rounding, sums in another order).
GRAD_RTOL = 1e-5


def grad_rel_diff(grads: Sequence[np.ndarray], ref: Sequence[np.ndarray]) -> float:
    """max over parameters of max |g - g_ref| / max |g_ref| (shapes must match)."""
    if len(grads) != len(ref):
        raise ValueError(f"{len(grads)} gradients against {len(ref)} reference gradients")
    out = 0.0
    for g, r in zip(grads, ref):
        g = np.asarray(g)
        if g.shape != r.shape:
            raise ValueError(f"gradient of shape {g.shape} against the reference's {r.shape}")
        scale = float(np.max(np.abs(r))) or 1.0
        out = max(out, float(np.max(np.abs(g.astype(np.float64) - r))) / scale)
    return out


def block_samples(batch: int, block: int) -> int:
    """``block`` rounded down to whole batches (at least one batch)."""
    return max(batch, block // batch * batch)


def blocks(order: np.ndarray, batch: int, block: int) -> list[np.ndarray]:
    """``order`` cut into consecutive blocks of whole batches."""
    step = block_samples(batch, block)
    return [order[i:i + step] for i in range(0, len(order), step)]


def warmup_order(rng: np.random.Generator, n: int, batch: int) -> np.ndarray:
    """A warm-up order of about a tenth of ``n`` samples (at least two batches) whose batches have
    every size an epoch over ``n`` samples has (its last batch as short as the epoch's)."""
    k = max(2, n // 10 // batch)
    return rng.permutation(n)[: min(n, k * batch + n % batch)]


def time_epochs_interleaved(racers: Sequence[Any], order: np.ndarray, batch: int, block: int,
                            first: int = 0) -> dict[str, float]:
    """One epoch of every contender over ``order``, taking turns block by block; returns the
    total time of each. Blocks hold whole batches, so each contender trains exactly as in one
    uninterrupted epoch (same batches, same updates); each block is ``run_block``: a rebuild on
    fresh copies of the weights (untimed), then the timed block. Every block starts from the same
    state (``worker.ready``: its process idle, then awake), whoever ran before it."""
    totals = {c.name: 0.0 for c in racers}
    for j, part in enumerate(blocks(order, batch, block)):
        k = (first + j) % len(racers)
        for c in list(racers[k:]) + list(racers[:k]):  # rotate who goes first
            if c.local:
                ready()  # (a worker makes itself ready; the parent then only settles, in run_block)
            totals[c.name] += c.run_block(part)
    return totals


def phases_interleaved(racers: Sequence[Any], order: np.ndarray, batch: int,
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
                 lr: float, peak: float, seed: int, block: int = 4096, workers: Sequence[Worker] = (),
                 threads: int | None = None, wait_quiet: float = 0.0) -> dict[str, Any]:
    init = initial_params(sizes, seed)
    local = [m(sizes, batch, X, y, lr=lr, init=init) for m in C.in_process()]
    remote = [RemoteContender(w, sizes, batch, lr, init, **({"threads": threads} if w.peer == P.Torch.name else {}))
              for w in workers]
    racers: list[Any] = [*local[:-1], *remote, local[-1]]  # the GEMM-only bound last
    rng = np.random.default_rng(seed)
    warm = warmup_order(rng, len(X), batch)
    for c in racers:
        for _ in range(warmup):
            c.epoch(warm)
        c.reset()

    refc = local[0]
    times: dict[str, list[float]] = {c.name: [] for c in racers}
    agreement: dict[str, float] = {}
    pids = tuple(w.proc.pid for w in workers)
    loads: list[float | None] = []
    waits: list[float] = []
    for rep in range(reps):
        order = rng.permutation(len(X))
        for c in racers:
            c.reset()
        if wait_quiet > 0:
            waits.append(wait_until_quiet(wait_quiet, pids=pids)[0])
        before = cpu_snapshot(pids)
        for name, t in time_epochs_interleaved(racers, order, batch, block, first=rep).items():
            times[name].append(t)
        loads.append(other_load(before, cpu_snapshot(pids)))
        if rep == 0:  # same init, same order: the trained weights must agree with the baseline's
            ref_w = refc.weights()
            for c in racers:
                w = c.weights()
                if w:
                    agreement[c.name] = max(float(np.max(np.abs(a - b))) for a, b in zip(w, ref_w))

    # One batch's gradients at the initial weights (no update): every contender vs the hand-derived formulas.
    idx = rng.permutation(len(X))[:batch]
    xb, yb = np.take(X, idx, axis=0), np.take(y, idx)
    ref_grads = reference().loss_and_grads([p.copy() for p in init], xb, yb)[1]
    grads: dict[str, list[np.ndarray]] = {}
    for c in racers:
        c.reset()
        g = c.gradients(xb, yb)
        if g is not None:
            grads[c.name] = g

    base, bound = times[BASELINE], times[BOUND]
    flops = C.epoch_flops(sizes, len(X))
    result: dict[str, Any] = {
        "arch": "-".join(map(str, sizes)), "batch": batch, "n_samples": len(X), "reps": reps,
        "block_samples": block_samples(batch, block),
        "flops": flops, "physical_bound_s": flops / (peak * 1e9),
        "other_cpu_load_per_rep": loads, "quiet_wait_s_per_rep": waits, "contenders": {},
    }
    for c in racers:
        ts = times[c.name]
        entry: dict[str, Any] = {
            "in_process": c.local,
            "times_s": ts, "median_s": statistics.median(ts), "min_s": min(ts), "max_s": max(ts),
            "ratio_to_reference": statistics.median(t / b for t, b in zip(ts, base)),
            "ratio_to_gemm_bound": statistics.median(t / b for t, b in zip(ts, bound)),
            "ratio_to_physical_bound": statistics.median(ts) / result["physical_bound_s"],
            "max_weight_diff_vs_reference": agreement.get(c.name),
            "max_grad_diff_vs_reference": None, "grad_rel_diff_vs_reference": None, "grads_agree": None,
        }
        if c.name in grads:
            g = grads[c.name]
            entry["max_grad_diff_vs_reference"] = max(float(np.max(np.abs(a - b))) for a, b in zip(g, ref_grads))
            entry["grad_rel_diff_vs_reference"] = rel = grad_rel_diff(g, ref_grads)
            entry["grads_agree"] = rel <= GRAD_RTOL
        if not c.local:
            entry["settle_s_median"] = statistics.median(c.settle_s) if c.settle_s else 0.0
            entry["unsettled_blocks"] = c.unsettled
        result["contenders"][c.name] = entry
    tgc = next(c for c in local if c.name == C.TinygradNP.name)
    result["max_grad_diff_vs_reference"] = result["contenders"][tgc.name]["max_grad_diff_vs_reference"]
    if C.TRACED in grads:  # the replayed step's gradients: the same as eager autograd's, bit for bit
        result["traced_grads_equal_eager"] = all(np.array_equal(a, b) for a, b in zip(grads[C.TRACED], grads[tgc.name]))
    result["tinygrad_phases_s"], result["reference_phases_s"] = phases_interleaved(
        [tgc, refc], rng.permutation(len(X)), batch, block)
    mem_order = rng.permutation(len(X))
    result["memory"] = {c.name: traced_memory(c, mem_order) for c in local
                        if c.name in (BASELINE, tgc.name, C.TRACED)}
    for c in racers:
        c.close()
    return result


def parse_peers(spec: str, no_torch: bool = False) -> list[type[C.Contender]]:
    """``--peers``: ``all``, ``none`` or a comma-separated list of short names."""
    spec = spec.strip().lower()
    chosen = list(P.PEERS) if spec == "all" else [] if spec in ("none", "") else \
        list(dict.fromkeys(P.by_name(s.strip()) for s in spec.split(",")))
    return [p for p in chosen if not (no_torch and p is P.Torch)]


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m benchmarks.epoch_time", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="784-128-64-10,784-512-256-10",
                   help="comma-separated architectures, layer sizes joined by '-' (default: %(default)s)")
    p.add_argument("--batch", default="32,128,512", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--reps", type=int, default=5, help="timed repetitions per contender (default: %(default)s)")
    p.add_argument("--warmup", type=int, default=1,
                   help="warm-up epochs on ~10%% of the data, every batch size included (default: %(default)s)")
    p.add_argument("--block", type=int, default=4096,
                   help="samples per interleaving block, rounded down to whole batches (default: %(default)s; "
                        "a value >= --samples times whole epochs one after the other)")
    p.add_argument("--samples", type=int, default=None, help="samples per epoch (default: 60000; 2048 with --quick)")
    p.add_argument("--data", choices=("auto", "mnist", "synthetic"), default="auto",
                   help="MNIST if found (MNIST_DIR, ...), else synthetic (default: %(default)s)")
    p.add_argument("--lr", type=float, default=0.05, help="SGD learning rate (default: %(default)s)")
    p.add_argument("--peers", default="all",
                   help="peers to race, each in its own worker process: 'all' (default), 'none', or a "
                        "comma-separated list of torch, jax, autograd, mygrad; missing ones are skipped with a note")
    p.add_argument("--no-torch", action="store_true", help="leave PyTorch out even if installed")
    p.add_argument("--threads", type=int, default=None,
                   help="PyTorch threads (default: NumPy's BLAS thread count)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="before each repetition wait, up to SECONDS, until other processes use < 10%% of the "
                        "machine (for a shared machine; default: do not wait)")
    p.add_argument("--quick", action="store_true",
                   help="smoke test: 2,048 samples, 784-128-64-10, batch 128, 2 reps")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = p.parse_args(argv)
    if args.quick:
        args.arch, args.batch, args.reps = "784-128-64-10", "128", 2
    if args.samples is None:
        args.samples = 2048 if args.quick else 60000
    try:
        args.peer_classes = parse_peers(args.peers, args.no_torch)
    except ValueError as e:
        p.error(str(e))
    return args


def start_workers(peer_classes: Sequence[type[C.Contender]], data_path: Path,
                  notes: dict[str, str]) -> tuple[list[Worker], dict[str, str]]:
    """One worker per installed peer, each loaded with the data; the others noted as skipped."""
    workers, versions = [], {}
    for peer in peer_classes:
        if not P.installed(peer):
            notes[peer.name] = f"skipped: {peer.module} is not installed (pip install -e \".[peers]\")"
            continue
        try:
            w = Worker(peer.name)
        except PeerUnavailable as e:
            notes[peer.name] = f"skipped: {e}"
            continue
        w.call("data", str(data_path))
        workers.append(w)
        versions[peer.name] = w.info["version"]
    for name, note in notes.items():
        print(f"({name}: {note})", file=sys.stderr)
    return workers, versions


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    args = parse_args(argv)
    try:
        reference()
    except MissingReference as e:
        raise SystemExit(f"epoch_time: {e}") from None
    archs = [[int(n) for n in a.split("-")] for a in args.arch.split(",")]
    batch_sizes = [int(b) for b in args.batch.split(",")]
    X, y, data_kind = load_data(args.data, args.samples, args.seed)
    for sizes in archs:
        if sizes[0] != X.shape[1]:
            raise SystemExit(f"--arch {'-'.join(map(str, sizes))}: the first size must be the input width {X.shape[1]}")
    peak = peak_gemm_gflops(512 if args.quick else 2048, repeats=3 if args.quick else 10)
    info = machine_info()
    threads = args.threads or info["blas"].get("threads")
    notes: dict[str, str] = {}
    results: list[dict[str, Any]] = []
    args.out.mkdir(parents=True, exist_ok=True)

    def make_report() -> dict[str, Any]:
        return {
            "benchmark": "epoch_time",
            "command": "python -m benchmarks.epoch_time " + " ".join(sys.argv[1:] if argv is None else argv),
            "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "machine": info,
            "settings": {"data": data_kind, "samples": len(X), "dtype": "float32", "optimizer": "SGD",
                         "lr": args.lr, "reps": args.reps, "warmup": args.warmup, "block": args.block,
                         "torch_threads": threads, "peers": [p.name for p in args.peer_classes],
                         "wait_quiet_s": args.wait_quiet, "grad_rtol": GRAD_RTOL},
            "peer_notes": notes,
            "peak_gemm_gflops": peak,
            "baseline": BASELINE,
            "results": results,
        }

    with tempfile.TemporaryDirectory(prefix="epoch_time_") as tmp:
        workers: list[Worker] = []
        try:
            if args.peer_classes:
                np.savez(Path(tmp) / "data.npz", X=X, y=y)
                workers, peer_versions = start_workers(args.peer_classes, Path(tmp) / "data.npz", notes)
                info["versions"].update(peer_versions)
            print(f"# epoch time: {len(X):,} {data_kind} samples, float32, plain SGD, softmax cross-entropy; "
                  f"peak GEMM {peak:.1f} GFLOP/s on {info['cores']} cores ({info['cpu']})", flush=True)
            for sizes in archs:
                for b in batch_sizes:
                    print(f"  running {'-'.join(map(str, sizes))}, batch {b} ...", file=sys.stderr, flush=True)
                    results.append(bench_config(sizes, b, X, y, reps=args.reps, warmup=args.warmup, lr=args.lr,
                                                peak=peak, seed=args.seed, block=args.block, workers=workers,
                                                threads=threads, wait_quiet=args.wait_quiet))
                    # the configurations done so far, in case the run is cut short
                    atomic_write_text(args.out / "epoch_time.json", json.dumps(make_report(), indent=2))
        finally:
            for w in workers:
                w.close()
    report = make_report()
    md = epoch_markdown(report)
    print(md)
    atomic_write_text(args.out / "epoch_time.json", json.dumps(report, indent=2))
    atomic_write_text(args.out / "epoch_time.md", md)
    epoch_plot(report, args.out / "epoch_time.png")
    print(f"wrote {args.out / 'epoch_time.json'}, .md and .png", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
