"""How many BLAS threads make ``python -m mnist train`` fastest on this machine?

::

    python -m mnist.threadbench                    # 1 vs 2 threads, 5 rounds, the default network
    python -m mnist.threadbench --threads 1,2,4 --rounds 7 --samples 30000

Each measurement is a fresh process (OpenBLAS reads its thread count once, at import) that
trains the default 784-512-256-10 MLP (Adam, batch 128, the app's own :class:`~mnist.trainer.Trainer`)
for one epoch over ``--samples`` synthetic 28x28 images -- the speed of a step does not depend on
the pixel values -- and reports images per second. The thread counts take turns round by round
(1, 2, 1, 2, ...), so a change in the machine's load hits all of them alike; the median of the
rounds is printed with the range and the load average. docs/mnist.md records a run.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time

from .threads import THREAD_VARS, load_average

__all__ = ["main", "measure"]


def _worker(samples: int, hidden: str, batch_size: int) -> dict[str, float]:
    import numpy as np

    from .config import TrainConfig
    from .data import Stats
    from .dataset import Data
    from .trainer import Trainer

    rng = np.random.default_rng(0)
    x = rng.random((samples, 784), dtype=np.float32)
    y = rng.integers(0, 10, samples)
    empty = np.zeros((0, 784), np.float32)
    data = Data(x, y, empty, y[:0], x[:10], y[:10], np.zeros((10, 28, 28), np.uint8), np.zeros((0, 28, 28), np.uint8),
                [str(i) for i in range(10)], (28, 28), Stats(0.0, 1.0), "synthetic", "memory")
    sizes = tuple(int(h) for h in hidden.split(",") if h)
    trainer = Trainer(TrainConfig(hidden=sizes, batch_size=batch_size, epochs=1, val_size=0), data, log=None)
    t0 = time.perf_counter()
    row = trainer.train_epoch()
    return {"seconds": time.perf_counter() - t0, "img_per_s": float(row["samples_per_second"])}


def measure(threads: int, samples: int, hidden: str, batch_size: int) -> dict[str, float]:
    """One epoch in a fresh process with ``threads`` BLAS threads."""
    env = {**os.environ, **{v: str(threads) for v in THREAD_VARS}}
    out = subprocess.run([sys.executable, "-m", "mnist.threadbench", "--worker", "--samples", str(samples),
                          "--hidden", hidden, "--batch-size", str(batch_size)],
                         env=env, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m mnist.threadbench", description=__doc__.split("\n\n")[0])
    p.add_argument("--threads", default="1,2", help="thread counts to compare (default: 1,2)")
    p.add_argument("--rounds", type=int, default=5, help="measurements per thread count (default: 5)")
    p.add_argument("--samples", type=int, default=20_000, help="images per measured epoch (default: 20000)")
    p.add_argument("--hidden", default="512,256", help="hidden layers (default: 512,256)")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        print(json.dumps(_worker(args.samples, args.hidden, args.batch_size)))
        return 0
    counts = [int(t) for t in args.threads.split(",")]
    rates: dict[int, list[float]] = {t: [] for t in counts}
    loads = [load_average()]
    print(f"784-{args.hidden.replace(',', '-')}-10, batch {args.batch_size}, {args.samples:,} images per epoch, "
          f"{args.rounds} rounds; {os.cpu_count()} CPUs")
    for r in range(args.rounds):
        for t in counts:
            res = measure(t, args.samples, args.hidden, args.batch_size)
            rates[t].append(res["img_per_s"])
            print(f"  round {r + 1}: {t} thread(s) {res['img_per_s']:>9,.0f} img/s", flush=True)
        loads.append(load_average())
    best = max(counts, key=lambda t: statistics.median(rates[t]))
    for t in counts:
        med = statistics.median(rates[t])
        print(f"{t} thread(s): median {med:,.0f} img/s (range {min(rates[t]):,.0f}-{max(rates[t]):,.0f}), "
              f"{med / statistics.median(rates[best]):.2f}x the fastest")
    shown = [f"{x:.1f}" for x in loads if x is not None]
    print(f"fastest: {best} thread(s); load average during the run: {', '.join(shown) or 'unknown'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
