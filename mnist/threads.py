"""The BLAS thread count: the default, the ``--threads`` option, and the oversubscription hint.

OpenBLAS reads its thread count once, when NumPy is first imported, so ``python -m mnist``
applies ``--threads N`` (wherever it stands on the command line) before that import. Without
the option and without ``OPENBLAS_NUM_THREADS`` / ``OMP_NUM_THREADS`` / ``MKL_NUM_THREADS`` in
the environment, :data:`DEFAULT_THREADS` is used: the faster choice in the measurements of
docs/mnist.md (``python -m mnist.threadbench`` repeats them).

This module must not import NumPy.
"""
from __future__ import annotations

import os

__all__ = ["DEFAULT_THREADS", "THREAD_VARS", "apply_threads", "blas_threads", "oversubscription_hint",
           "threads_from_argv"]

#: BLAS threads when neither --threads nor an environment variable says otherwise (see docs/mnist.md).
DEFAULT_THREADS = 1
THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def threads_from_argv(argv: list[str]) -> int | None:
    """The value of ``--threads N`` / ``--threads=N`` anywhere before a ``--`` (None if absent
    or not a positive integer; argparse reports the latter)."""
    for i, arg in enumerate(argv):
        if arg == "--":
            return None
        value = arg.split("=", 1)[1] if arg.startswith("--threads=") else (
            argv[i + 1] if arg == "--threads" and i + 1 < len(argv) else None)
        if value is not None:
            return int(value) if value.isdigit() and int(value) > 0 else None
    return None


def apply_threads(argv: list[str], environ: dict[str, str] | None = None) -> int | None:
    """Set the BLAS thread variables from ``--threads N``, else to :data:`DEFAULT_THREADS` unless
    the environment already sets one; returns the count set (None if the environment's is kept).
    Must run before NumPy is imported."""
    env = os.environ if environ is None else environ
    n = threads_from_argv(argv)
    if n is None:
        if any(env.get(v) for v in THREAD_VARS):
            return None
        n = DEFAULT_THREADS
    for var in THREAD_VARS:
        env[var] = str(n)
    return n


def blas_threads(environ: dict[str, str] | None = None) -> int:
    """The BLAS thread count in effect: the first thread variable set, else the CPU count."""
    env = os.environ if environ is None else environ
    for var in THREAD_VARS:
        value = env.get(var, "")
        if value.isdigit() and int(value) > 0:
            return int(value)
    return os.cpu_count() or 1


def cpu_count() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):  # pragma: no cover - not Linux
        return os.cpu_count() or 1


def load_average() -> float | None:
    try:
        return os.getloadavg()[0]
    except (AttributeError, OSError):  # pragma: no cover - not Unix
        return None


def oversubscription_hint(rate: float | None, best_rate: float | None, threads: int, cpus: int,
                          load: float | None) -> str | None:
    """A note for the epoch line when a multi-threaded BLAS looks oversubscribed, else None.

    Signs: more BLAS threads than CPUs; or this epoch ran at under half the best throughput of
    the run while the load average shows other work besides our threads. One thread cannot be
    oversubscribed in this sense.
    """
    if threads <= 1 or rate is None:
        return None
    if threads > cpus:
        return f"{threads} BLAS threads on {cpus} CPUs: try --threads {cpus}"
    busy = load is not None and load - threads >= 0.5 * cpus
    if best_rate and rate < 0.5 * best_rate and busy:
        return (f"throughput {rate:,.0f} img/s is under half the run's best ({best_rate:,.0f}) with load "
                f"{load:.1f} on {cpus} CPUs: {threads} BLAS threads are probably oversubscribed; try --threads 1")
    return None
