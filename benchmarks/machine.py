"""What machine a benchmark ran on: CPU, cores, BLAS library, kernel and threads, library versions.

The BLAS facts come from NumPy itself (``numpy.show_config``) and, where NumPy's wheel bundles
OpenBLAS, from asking that very library (``ctypes``, as threadpoolctl does): its thread count,
build configuration and the CPU kernel it chose (which ``OPENBLAS_CORETYPE`` can override).
"""
from __future__ import annotations

import ctypes
import glob
import os
import platform
import sys
import time
from typing import Any

import numpy as np


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


#: (library file pattern, symbol prefix, symbol suffix) of the OpenBLAS builds NumPy's wheels bundle.
_OPENBLAS = (("*scipy_openblas64*", "scipy_openblas_", "64_"), ("*scipy_openblas32*", "scipy_openblas_", ""),
             ("*openblas64_*", "openblas_", "64_"), ("*openblas*", "openblas_", ""))


def openblas_probe() -> dict[str, Any]:
    """Thread count, configuration and core kernel of the OpenBLAS bundled with NumPy, read from
    the library NumPy loaded ({} when there is none, e.g. an MKL or Accelerate build)."""
    here = os.path.dirname(np.__file__)
    dirs = [os.path.join(here, "..", "numpy.libs"), os.path.join(here, ".dylibs"), here]
    for pattern, prefix, suffix in _OPENBLAS:
        for path in sorted(p for d in dirs for p in glob.glob(os.path.join(d, pattern))):
            try:
                lib = ctypes.CDLL(path)
                threads = getattr(lib, f"{prefix}get_num_threads{suffix}")
                config = getattr(lib, f"{prefix}get_config{suffix}")
                core = getattr(lib, f"{prefix}get_corename{suffix}")
            except (OSError, AttributeError):
                continue
            threads.restype = ctypes.c_int
            config.restype = core.restype = ctypes.c_char_p
            return {"threads": int(threads()), "config": config().decode(errors="replace").strip(),
                    "core": core().decode(errors="replace").strip(), "path": os.path.basename(path)}
    return {}


def blas_info() -> dict[str, Any]:
    """The BLAS NumPy links against, and its thread count (asked of the library where possible)."""
    info: dict[str, Any] = {}
    try:
        cfg = np.show_config(mode="dicts")  # NumPy >= 2
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["library"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # noqa: BLE001 - NumPy 1.26: no dict mode
        info["library"] = "unknown"
    probe = openblas_probe()
    if probe:
        info.update(threads=probe["threads"], core=probe["core"], config=probe["config"])
    else:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(var):
                info["threads"] = int(os.environ[var])
                break
        else:
            info["threads"] = os.cpu_count()
    info["env"] = {k: os.environ[k] for k in ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS",
                                               "OMP_NUM_THREADS", "OMP_WAIT_POLICY") if k in os.environ}
    return info


def versions() -> dict[str, str]:
    """Python, NumPy and tinygrad_np; ``epoch_time`` adds each peer's, as its worker reports it."""
    from .tg_api import API

    out = {"python": sys.version.split()[0], "numpy": np.__version__, "tinygrad_np": API().version}
    commit = checkout_commit()
    if commit:
        out["checkout"] = commit
    return out


def checkout_commit() -> str | None:
    """The git commit of the checkout the benchmarks run from (``+changes`` when files differ
    from it), or None outside a git checkout."""
    import subprocess

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        head = subprocess.run(["git", "-C", root, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        if head.returncode != 0:
            return None
        dirty = subprocess.run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no", "--",
                                "tinygrad_np", "benchmarks"], capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def peak_gemm_gflops(n: int = 2048, repeats: int = 3, dtype: Any = np.float32) -> float:
    """The machine's measured float32 GEMM rate on a large square matmul (best of ``repeats``)."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n)).astype(dtype)
    b = rng.standard_normal((n, n)).astype(dtype)
    out = np.empty((n, n), dtype=dtype)
    np.matmul(a, b, out=out)  # warm-up
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        np.matmul(a, b, out=out)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best / 1e9


def machine_info() -> dict[str, Any]:
    from .tg_api import API

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "blas": blas_info(),
        "tinygrad_np_traced_step": API().has_traced_step,
        "versions": versions(),
    }


def _proc_cpu_seconds(pid: int | str) -> float:
    """CPU time (user + system, all threads) of process ``pid`` so far, from /proc."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_snapshot(pids: tuple[int, ...] = ()) -> tuple[float, float, float] | None:
    """(wall clock, seconds of CPU the whole machine has been busy, seconds of CPU this process
    and ``pids`` have used), or None where /proc is not there. Two snapshots give the load of
    *other* processes in between (``other_load``)."""
    try:
        with open("/proc/stat") as f:
            ticks = [int(v) for v in f.readline().split()[1:]]
        busy = (sum(ticks[:8]) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")  # all but idle and iowait
        own = _proc_cpu_seconds("self") + sum(_proc_cpu_seconds(p) for p in pids)
    except (OSError, ValueError, IndexError):
        return None
    return time.perf_counter(), busy, own


def other_load(before: tuple[float, float, float] | None, after: tuple[float, float, float] | None) -> float | None:
    """The share of the machine's cores that processes other than ours kept busy between two
    ``cpu_snapshot`` calls (0: a quiet machine; 0.5 on 2 cores: one core taken by someone else)."""
    if before is None or after is None or after[0] <= before[0]:
        return None
    others = (after[1] - before[1]) - (after[2] - before[2])
    return max(0.0, others / ((after[0] - before[0]) * (os.cpu_count() or 1)))


def wait_until_quiet(max_wait: float, threshold: float = 0.1, window: float = 1.0,
                     pids: tuple[int, ...] = ()) -> tuple[float, float | None]:
    """Wait (up to ``max_wait`` seconds, at least one ``window``) until other processes keep less
    than ``threshold`` of the machine busy over a ``window``. Returns (seconds waited, the last
    window's load; None without /proc)."""
    start = time.perf_counter()
    while True:
        before = cpu_snapshot(pids)
        time.sleep(window)
        load = other_load(before, cpu_snapshot(pids))
        waited = time.perf_counter() - start
        if load is None or load < threshold or waited >= max_wait:
            return waited, load
