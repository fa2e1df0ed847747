"""``p ← p − η·d`` in one pass over memory: the BLAS ``axpy`` NumPy already ships, else NumPy.

NumPy evaluates ``p -= d * lr`` in two passes: ``d * lr`` into a fresh temporary, then the
subtraction. BLAS's axpy (``y ← α·x + y``) reads ``x`` and ``y`` once and writes ``y`` once, as
PyTorch's ``param.add_(grad, alpha=-lr)`` does. For the 784x128 weight of the benchmark MLP
the update is a large share of a training step, so the saved pass is measurable
(``benchmarks/README.md``).

NumPy has no public axpy, but its wheels (Linux, Windows, macOS on Intel) bundle OpenBLAS, and
its ILP64 build exports ``scipy_cblas_saxpy64_`` / ``scipy_cblas_daxpy64_`` (NumPy 1.x:
``cblas_saxpy64_``). At import this module
looks for that library beside NumPy, loads it with ``ctypes`` (the same copy NumPy uses, so
the same thread pool), and checks both functions on an array whose result is exact. It is used
for contiguous, aligned float32/float64 arrays of at least ``MIN_SIZE`` elements that do not overlap;
anything else -- another BLAS (conda, Accelerate), small or strided arrays, ``lr == 0``, or the
environment variable ``TINYGRAD_NP_BLAS=0`` -- takes the NumPy expression. The two agree to
rounding: axpy may fuse the multiply and add (one rounding instead of two).
"""
from __future__ import annotations

import ctypes
import glob
import os

import numpy as np

__all__ = ["sub_scaled_", "blas_axpy_available", "MIN_SIZE"]

#: Below this many elements NumPy's two passes beat the ~2 µs cost of a ctypes call.
MIN_SIZE = 16384

#: (library file pattern, single- and double-precision axpy symbols, integer type of n/inc)
_CANDIDATES = (
    ("*scipy_openblas64*", "scipy_cblas_saxpy64_", "scipy_cblas_daxpy64_", ctypes.c_int64),
    ("*scipy_openblas32*", "scipy_cblas_saxpy", "scipy_cblas_daxpy", ctypes.c_int32),
    ("*openblas64_*", "cblas_saxpy64_", "cblas_daxpy64_", ctypes.c_int64),  # NumPy 1.x wheels
)


def _find_axpy() -> dict[np.dtype, ctypes._CFuncPtr]:
    """{dtype: axpy} from the OpenBLAS bundled with NumPy, each checked; {} if none is usable."""
    if os.environ.get("TINYGRAD_NP_BLAS", "1") == "0":
        return {}
    here = os.path.dirname(np.__file__)
    dirs = [os.path.join(here, "..", "numpy.libs"), os.path.join(here, ".dylibs"), here]
    for pattern, s_name, d_name, int_t in _CANDIDATES:
        for path in sorted(p for d in dirs for p in glob.glob(os.path.join(d, pattern))):
            try:
                lib = ctypes.CDLL(path)
                found = {np.dtype(np.float32): (getattr(lib, s_name), ctypes.c_float),
                         np.dtype(np.float64): (getattr(lib, d_name), ctypes.c_double)}
            except (OSError, AttributeError):
                continue
            funcs = {}
            for dtype, (fn, real_t) in found.items():
                fn.restype = None
                fn.argtypes = [int_t, real_t, ctypes.c_void_p, int_t, ctypes.c_void_p, int_t]
                if _works(fn, dtype):
                    funcs[dtype] = fn
            if funcs:
                return funcs
    return {}


def _works(fn: ctypes._CFuncPtr, dtype: np.dtype) -> bool:
    """axpy on small integers (exact in any rounding) must give exactly NumPy's answer."""
    x = np.arange(1, 65, dtype=dtype)
    y = np.arange(64, 0, -1, dtype=dtype)
    expected = y - 0.5 * x
    fn(x.size, -0.5, x.ctypes.data, 1, y.ctypes.data, 1)
    return bool(np.array_equal(y, expected))


_AXPY = _find_axpy()


def blas_axpy_available() -> bool:
    """True when ``sub_scaled_`` can use BLAS for large arrays (for tests and benchmark notes)."""
    return bool(_AXPY)


def sub_scaled_(p: np.ndarray, lr: float, d: np.ndarray) -> None:
    """p ← p − lr·d, in place (``p`` keeps its identity; ``d`` is only read)."""
    fn = _AXPY.get(p.dtype) if p.size >= MIN_SIZE and lr != 0.0 else None
    if fn is not None and d.dtype == p.dtype and d.shape == p.shape:
        pf, df = p.flags, d.flags
        if (pf.c_contiguous and df.c_contiguous and pf.aligned and df.aligned and pf.writeable
                and not np.may_share_memory(p, d)):
            fn(p.size, -lr, d.ctypes.data, 1, p.ctypes.data, 1)
            return
    p -= d * lr
