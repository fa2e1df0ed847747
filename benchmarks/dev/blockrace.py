"""Same-process races in blocks of training steps: the method ``engine_floor`` and ``ab_versions`` share.

Contenders take turns in blocks of ``steps`` training steps on the same batches, in a random
order per block. Before every block each contender is rebuilt on fresh copies of its current
weights (``build()`` returns a new step function), so its arrays land at new addresses: kept for
the whole run, memory placement alone put two identical contenders up to 2.5% apart, with a tight
confidence interval, on this project's VM. The first step of a block touches the new arrays and
is not timed. Block 0 is a warm-up.
"""
from __future__ import annotations

import argparse
import time
from typing import Callable, Sequence

import numpy as np

Step = Callable[[np.ndarray, np.ndarray], object]
Build = Callable[[], Step]


#: What ``--quick`` sets: a smoke test of a few seconds (synthetic data unless --data says otherwise).
QUICK = {"blocks": 3, "steps": 3, "samples": 1024}


def add_race_arguments(p: argparse.ArgumentParser, *, batch: str, blocks: int, steps: int) -> None:
    """The options every block race takes (architecture, batch sizes, blocks, steps, data, --quick)."""
    p.add_argument("--arch", default="784-128-64-10", help="layer sizes joined by '-' (default: %(default)s)")
    p.add_argument("--batch", default=batch, help="comma-separated batch sizes (default: %(default)s)")
    p.add_argument("--blocks", type=int, default=blocks, help="timed blocks per batch size (default: %(default)s)")
    p.add_argument("--steps", type=int, default=steps,
                   help="training steps per block, the first untimed (default: %(default)s)")
    p.add_argument("--data", choices=("auto", "mnist", "synthetic"), default="auto")
    p.add_argument("--samples", type=int, default=60000, help="training samples to draw batches from")
    p.add_argument("--quick", action="store_true",
                   help=f"smoke test: {QUICK['blocks']} blocks of {QUICK['steps']} steps on {QUICK['samples']} samples")


def parse_race_arguments(p: argparse.ArgumentParser, argv: Sequence[str] | None) -> argparse.Namespace:
    args = p.parse_args(argv)
    if args.quick:
        for key, value in QUICK.items():
            setattr(args, key, min(getattr(args, key), value))
    if args.steps < 2 or args.blocks < 1:
        p.error("--steps must be >= 2 and --blocks >= 1")
    return args


def race(contenders: Sequence[tuple[str, Build]], X: np.ndarray, y: np.ndarray, batch: int, *,
         blocks: int, steps: int, seed: int = 0) -> dict[str, list[float]]:
    """Seconds per training step of each contender, one entry per timed block."""
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(X))
    n_batches = max(1, len(X) // batch)
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for blk in range(blocks + 1):
        picks = [order[(k % n_batches) * batch:(k % n_batches + 1) * batch]
                 for k in range(blk * steps, (blk + 1) * steps)]
        data = [(np.take(X, idx, axis=0), np.take(y, idx)) for idx in picks]
        for i in rng.permutation(len(contenders)):  # no contender always follows the same one
            name, build = contenders[i]
            step = build()
            step(*data[0])  # untimed: the new arrays' first touch
            t = time.perf_counter()
            for xb, yb in data[1:]:
                step(xb, yb)
            if blk:
                times[name].append((time.perf_counter() - t) / (len(data) - 1))
    return times
