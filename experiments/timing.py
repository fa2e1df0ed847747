"""Same-run timing for the experiments: contenders take turns in small blocks.

The benchmarks' method (``benchmarks/dev/blockrace.py``; the experiments do not import the
benchmarks, so it is restated here in a few lines): in every block each contender is rebuilt
(``build()`` makes its inputs afresh and returns the call to time), called once untimed, then
``calls`` times timed; the order of the contenders is drawn anew for every block, and block 0 is
a warm-up. A slow phase of a shared machine then falls on every contender alike, and the
*paired* per-block ratio to a baseline is what is reported (its median), never a time measured
in another run.

Memory: ``peak_bytes(call)`` is the peak of the memory traced by ``tracemalloc`` (NumPy reports its
array buffers to it) during one call, above what was allocated before it.

Threads and clocks: on a shared machine a BLAS that runs on every core slows down many times
whenever another process takes one of them; ``set_blas_threads(1)`` (the experiments' ``--threads
1``) pins the OpenBLAS that NumPy's wheels bundle to one thread, as threadpoolctl would. Elapsed
time still counts the moments another process holds the core, which inflates long calls more than
short ones; ``--clock cpu`` times with this process's CPU time instead (with one BLAS thread, the
only thread working for the call).
"""
from __future__ import annotations

import ctypes
import glob
import os
import statistics
import time
import tracemalloc
from typing import Any, Callable, Sequence

import numpy as np

Build = Callable[[], Callable[[], Any]]

#: (library file pattern, symbol prefix, symbol suffix) of the OpenBLAS builds NumPy's wheels bundle
OPENBLAS = (("*scipy_openblas64*", "scipy_openblas_", "64_"), ("*scipy_openblas32*", "scipy_openblas_", ""),
            ("*openblas64_*", "openblas_", "64_"), ("*openblas*", "openblas_", ""))


def set_blas_threads(n: int) -> bool:
    """Set the thread count of the OpenBLAS bundled with NumPy; False if NumPy uses another BLAS."""
    here = os.path.dirname(np.__file__)
    dirs = [os.path.join(here, "..", "numpy.libs"), os.path.join(here, ".dylibs"), here]
    for pattern, prefix, suffix in OPENBLAS:
        for path in sorted(p for d in dirs for p in glob.glob(os.path.join(d, pattern))):
            try:
                setter = getattr(ctypes.CDLL(path), f"{prefix}set_num_threads{suffix}")
            except (OSError, AttributeError):
                continue
            setter(int(n))
            return True
    return False


def add_threads_argument(p: Any) -> None:
    """The timing options of an experiment: ``--threads`` and ``--clock``."""
    p.add_argument("--threads", type=int, default=None,
                   help="BLAS threads (default: as NumPy starts; 1 on a shared machine)")
    p.add_argument("--clock", choices=tuple(CLOCKS), default="wall",
                   help="wall: elapsed time (default); cpu: this process's CPU time, which other processes "
                        "cannot inflate (use it with --threads 1)")


def apply_threads(n: int | None) -> None:
    if n is not None and not set_blas_threads(n):
        print("(--threads: NumPy's BLAS is not an OpenBLAS bundle; its thread count is unchanged)")


CLOCKS = {"wall": time.perf_counter, "cpu": time.process_time}


def race(contenders: Sequence[tuple[str, Build]], *, blocks: int, calls: int, seed: int = 0, clock: str = "wall"
         ) -> dict[str, list[float]]:
    """Seconds per call of each contender, one entry per timed block (``blocks`` of them).

    ``clock="wall"``: elapsed time; ``"cpu"``: the CPU time of this process, which does not run
    while another process has the core (honest only with the BLAS on one thread, ``--threads 1``:
    then every thread working for the call is this one)."""
    now = CLOCKS[clock]
    rng = np.random.default_rng(seed)
    times: dict[str, list[float]] = {name: [] for name, _ in contenders}
    for blk in range(blocks + 1):
        for i in rng.permutation(len(contenders)):
            name, build = contenders[i]
            call = build()
            call()  # untimed: fresh arrays touched, caches warm
            t = now()
            for _ in range(calls):
                call()
            if blk:
                times[name].append((now() - t) / calls)
    return times


def paired(times: dict[str, list[float]], baseline: str) -> dict[str, dict[str, float]]:
    """Per contender: the median seconds per call and the median (and quartiles) of its per-block
    ratio to ``baseline``."""
    base = np.array(times[baseline])
    out = {}
    for name, ts in times.items():
        r = np.array(ts) / base
        out[name] = {"median_s": statistics.median(ts), "ratio": float(np.median(r)),
                     "ratio_q1": float(np.percentile(r, 25)), "ratio_q3": float(np.percentile(r, 75))}
    return out


def peak_bytes(call: Callable[[], Any]) -> int:
    """The peak traced memory (bytes) of one ``call()``, above the memory traced when it started."""
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        result = call()
        peak = tracemalloc.get_traced_memory()[1] - start
        del result
    finally:
        if not tracing:
            tracemalloc.stop()
    return int(peak)
