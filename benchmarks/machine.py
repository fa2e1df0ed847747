"""What machine a benchmark ran on: CPU, cores, BLAS library and threads, library versions."""
from __future__ import annotations

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


def blas_info() -> dict[str, Any]:
    """The BLAS NumPy links against, and its thread count where it can be read."""
    info: dict[str, Any] = {}
    try:
        cfg = np.show_config(mode="dicts")  # NumPy >= 2
        blas = cfg.get("Build Dependencies", {}).get("blas", {})
        info["library"] = f"{blas.get('name', '?')} {blas.get('version', '')}".strip()
    except Exception:  # NumPy 1.26: no dict mode
        info["library"] = "unknown"
    try:
        from threadpoolctl import threadpool_info  # optional

        pools = [p for p in threadpool_info() if p.get("user_api") == "blas"]
        if pools:
            info["threads"] = pools[0].get("num_threads")
            info["library"] = f"{pools[0].get('internal_api')} {pools[0].get('version')}"
    except ImportError:
        pass
    if "threads" not in info:
        for var in ("OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "OMP_NUM_THREADS"):
            if os.environ.get(var):
                info["threads"] = int(os.environ[var])
                break
        else:
            info["threads"] = os.cpu_count()
    return info


def versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0], "numpy": np.__version__}
    import tinygrad_np

    out["tinygrad_np"] = tinygrad_np.__version__
    try:
        import torch

        out["torch"] = torch.__version__
    except ImportError:
        out["torch"] = "not installed"
    return out


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
    from tinygrad_np.optim.axpy import blas_axpy_available

    return {
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "blas": blas_info(),
        "optim_blas_axpy": blas_axpy_available(),  # tinygrad_np's optimizers update in one BLAS pass
        "versions": versions(),
    }
