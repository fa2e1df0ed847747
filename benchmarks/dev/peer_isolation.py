"""Do the peers move the NumPy rows? The in-process contenders' epoch times with and without the peers.

    python -m benchmarks.dev.peer_isolation                  # 784-128-64-10, batch 32, 128, 512
    python -m benchmarks.dev.peer_isolation --batch 128 --reps 6
    python -m benchmarks.dev.peer_isolation --quick          # a smoke test (seconds)

``epoch_time`` runs each peer in a worker process of its own, in lock-step with the
in-process contenders (``benchmarks.worker``), so that no peer's threads slow the others. This
tool measures whether that holds: in one run, with the same settings as ``epoch_time``
(same weights, same sample orders, blocks of ``--block`` samples, contenders rebuilt before
every block), each repetition times one epoch of the in-process contenders (hand-derived NumPy,
tinygrad_np eager and traced, the GEMM-only bound) twice on the same order: once taking turns
with the peers, once on their own; which of the two goes first alternates. Reported per
contender: the median epoch time with and without the peers, and the median of the paired
ratios with / without with a bootstrap 95% interval, over all repetitions and over the quiet
ones only (other processes below 5% of the machine in both halves: a shared machine moves
everything). A ratio of 1.00 within its interval: the peers do not move the NumPy rows.
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .. import contenders as C
from .. import epoch_time as E
from ..baseline import MissingReference, initial_params
from ..data import load_data
from ..machine import cpu_snapshot, machine_info, other_load, wait_until_quiet
from ..report import atomic_write_text
from ..worker import RemoteContender, Worker

#: A repetition is quiet when other processes kept less than this share of the machine busy in both halves.
QUIET = 0.05


def measure(sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, workers: Sequence[Worker], *,
            reps: int, block: int, lr: float = 0.05, seed: int = 0, threads: int | None = None,
            wait_quiet: float = 0.0) -> dict[str, Any]:
    init = initial_params(sizes, seed)
    local = [m(sizes, batch, X, y, lr=lr, init=init) for m in C.in_process()]
    remote = [RemoteContender(w, sizes, batch, lr, init, **({"threads": threads} if w.peer == "pytorch" else {}))
              for w in workers]
    rng = np.random.default_rng(seed)
    warm = E.warmup_order(rng, len(X), batch)
    for c in [*local, *remote]:
        c.epoch(warm)
    pids = tuple(w.proc.pid for w in workers)
    times: dict[str, dict[str, list[float]]] = {c.name: {"with": [], "without": []} for c in local}
    loads: dict[str, list[float | None]] = {"with": [], "without": []}
    for rep in range(reps):
        order = rng.permutation(len(X))
        for mode in (("with", "without") if rep % 2 == 0 else ("without", "with")):
            racers = [*local[:-1], *remote, local[-1]] if mode == "with" else local
            for c in racers:
                c.reset()
            if wait_quiet > 0:
                wait_until_quiet(wait_quiet, pids=pids)
            before = cpu_snapshot(pids)
            for name, t in E.time_epochs_interleaved(racers, order, batch, block, first=rep).items():
                if name in times:
                    times[name][mode].append(t)
            loads[mode].append(other_load(before, cpu_snapshot(pids)))
    out: dict[str, Any] = {"arch": "-".join(map(str, sizes)), "batch": batch, "reps": reps,
                           "peers": [c.name for c in remote], "other_cpu_load": loads,
                           "contenders": {name: {"with_s": t["with"], "without_s": t["without"]}
                                          for name, t in times.items()}}
    return summarize(out, seed=seed)


def summarize(result: dict[str, Any], max_load: float = QUIET, seed: int = 0) -> dict[str, Any]:
    """Add to each contender of ``result`` the medians, the median paired ratio with / without
    (bootstrap 95% interval) over all repetitions, and the same over the *quiet* ones: those
    where other processes kept less than ``max_load`` of the machine busy in both halves."""
    loads = result["other_cpu_load"]
    quiet = [i for i, (a, b) in enumerate(zip(loads["with"], loads["without"]))
             if a is not None and b is not None and a < max_load and b < max_load]
    result["quiet_reps"], result["max_load"] = quiet, max_load
    boot = np.random.default_rng(seed + 3)

    def ratio_ci(ratio: np.ndarray) -> tuple[float | None, list[float] | None]:
        if len(ratio) == 0:
            return None, None
        medians = [np.median(boot.choice(ratio, len(ratio))) for _ in range(2000)]
        return float(np.median(ratio)), [float(np.percentile(medians, 2.5)), float(np.percentile(medians, 97.5))]

    for c in result["contenders"].values():
        ratio = np.array(c["with_s"]) / np.array(c["without_s"])
        c["median_with_s"], c["median_without_s"] = statistics.median(c["with_s"]), statistics.median(c["without_s"])
        c["ratio_with_over_without"], c["ci95"] = ratio_ci(ratio)
        c["ratio_quiet"], c["ci95_quiet"] = ratio_ci(ratio[quiet])
    return result


def markdown(results: Sequence[dict[str, Any]]) -> str:
    def cell(value: float | None, ci: list[float] | None) -> str:
        return "-" if value is None else f"{value:.3f} ({ci[0]:.3f}-{ci[1]:.3f})"

    lines = ["| arch | batch | contender | median s with peers | median s without | with / without (95% CI) "
             "| the same, quiet repetitions only |", "|---|---:|---|---:|---:|---|---|"]
    for r in results:
        for name, c in r["contenders"].items():
            lines.append(f"| {r['arch']} | {r['batch']} | {name} | {c['median_with_s']:.3f} | "
                         f"{c['median_without_s']:.3f} | {cell(c['ratio_with_over_without'], c['ci95'])} | "
                         f"{cell(c['ratio_quiet'], c['ci95_quiet'])} ({len(r['quiet_reps'])} of {r['reps']}) |")
    loads = [v for r in results for mode in ("with", "without") for v in r["other_cpu_load"][mode] if v is not None]
    if loads:
        lines += ["", f"Share of the machine other processes kept busy during the repetitions: median "
                  f"{statistics.median(loads):.2f}, max {max(loads):.2f}."]
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.dev.peer_isolation", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--arch", default="784-128-64-10", help="layer sizes joined by '-' (default: %(default)s)")
    p.add_argument("--batch", default="32,128,512", help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--reps", type=int, default=4, help="paired repetitions per batch size (default: %(default)s)")
    p.add_argument("--block", type=int, default=4096, help="samples per block, as epoch_time (default: %(default)s)")
    p.add_argument("--samples", type=int, default=None, help="samples per epoch (default: 60000; 1024 with --quick)")
    p.add_argument("--data", choices=("auto", "mnist", "synthetic"), default="auto")
    p.add_argument("--peers", default="all", help="as epoch_time's --peers (default: %(default)s)")
    p.add_argument("--wait-quiet", type=float, default=0.0, metavar="SECONDS",
                   help="before each half-repetition wait, up to SECONDS, for other processes to use < 10%% "
                        "of the machine (default: do not wait)")
    p.add_argument("--quick", action="store_true", help="smoke test: 1,024 samples, batch 128, 2 repetitions")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.reps = "128", min(args.reps, 2)
    if args.samples is None:
        args.samples = 1024 if args.quick else 60000
    try:
        peer_classes = E.parse_peers(args.peers)
    except ValueError as e:
        p.error(str(e))
    sizes = [int(n) for n in args.arch.split("-")]
    X, y, kind = load_data(args.data, args.samples)
    if sizes[0] != X.shape[1]:
        raise SystemExit(f"peer_isolation: --arch must start with the data's {X.shape[1]} features, got {args.arch}")
    info = machine_info()
    notes: dict[str, str] = {}
    results = []
    with tempfile.TemporaryDirectory(prefix="peer_isolation_") as tmp:
        np.savez(Path(tmp) / "data.npz", X=X, y=y)
        workers, versions = E.start_workers(peer_classes, Path(tmp) / "data.npz", notes)
        try:
            if not workers:
                raise SystemExit("peer_isolation: no peer is installed (pip install -e \".[peers]\")")
            for b in (int(s) for s in args.batch.split(",")):
                print(f"  batch {b} ...", file=sys.stderr, flush=True)
                results.append(measure(sizes, b, X, y, workers, reps=args.reps, block=args.block,
                                       threads=info["blas"].get("threads"), wait_quiet=args.wait_quiet))
        except MissingReference as e:
            raise SystemExit(f"peer_isolation: {e}") from None
        finally:
            for w in workers:
                w.close()
    md = markdown(results)
    print(f"# peer isolation: {len(X):,} {kind} samples, peers {', '.join(results[0]['peers'])}\n\n{md}")
    args.out.mkdir(parents=True, exist_ok=True)
    command = " ".join(["python -m benchmarks.dev.peer_isolation", *(sys.argv[1:] if argv is None else argv)])
    atomic_write_text(args.out / "peer_isolation.json", json.dumps(
        {"data": kind, "command": command, "machine": info, "peer_versions": versions, "peer_notes": notes,
         "results": results}, indent=2))
    atomic_write_text(args.out / "peer_isolation.md", md)
    return results


if __name__ == "__main__":
    main()
