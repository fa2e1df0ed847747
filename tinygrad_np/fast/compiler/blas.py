"""``gemm_accumulate=True``: plain SGD's update folded into the weight-gradient products, in BLAS.

What it buys: for ``W̄ = Aᵀ G`` (a dense layer's weight gradient) and ``p = p - η W̄``, the default
plan computes the product into a buffer, scales it and subtracts it: three passes over a
weight-sized array. BLAS ``gemm`` computes ``C = α A B + β C`` in one: with ``C = W``, ``α = -η``,
``β = 1`` the gradient is never stored, and the update costs no pass of its own (``gemv`` does the
same for a bias, ``b̄ = 1ᵀ G``). Measured by ``python -m benchmarks.epoch_time`` (the
"compiled, gemm-accumulate" row) and ``python -m benchmarks.dev.compile_study blas``.

Not bit-identical: BLAS adds ``α·(AB)ᵢⱼ`` to ``Wᵢⱼ`` inside its kernel (one rounding, or a fused
multiply-add) where the default rounds the product, then ``η·`` it, then the difference. So it
is opt-in, and ``tests/tools/test_compile.py`` bounds it against a float64 reference: each
updated weight is within ``(K + 3)·u·(|w| + η·Σₖ|aₖ||gₖ|)`` of the exact update of the float32
inputs (u = 2⁻²⁴ for float32, K the inner dimension, i.e. the batch size), the standard bound of
a K-term dot product plus the two roundings of the update; the default path meets the same bound.

Which BLAS. NumPy exposes no ``beta``. Three routes, chosen once at import (or with the
environment variable ``TINYGRAD_NP_BLAS=scipy|ctypes|numpy``, ``0`` meaning numpy):

* ``ctypes``: ``cblas_sgemm``/``cblas_dgemm`` (and ``gemv``) of the OpenBLAS that NumPy itself
  loaded (found among the process's loaded libraries, by NumPy's own symbol names), called through
  ``ctypes``. The default when found: one BLAS library and one thread pool for every product of
  the step.
* ``scipy``: ``scipy.linalg.blas.sgemm``/``sgemv`` (f2py wrappers; scipy is an optional extra,
  never a dependency). Its own copy of OpenBLAS, with its own threads.
* ``numpy``: no BLAS with ``beta``: the product into a scratch buffer, then ``p -= η·(...)`` --
  the default plan's arithmetic, so the results are exactly those of ``gemm_accumulate=False``.

The per-call costs measured on this project's machine, and why ``ctypes`` is the default, are in
``benchmarks/README.md`` ("The compiled step").
"""
from __future__ import annotations

import ctypes
import os
import sys
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from ...ops import linalg as L
from .program import Program, Var

ROUTES = ("ctypes", "scipy", "numpy")


@dataclass
class GemmItem:
    """Parameter ``index`` (in the optimizer) updated as ``p += α · a @ b``."""

    index: int
    param_var: Var
    a: Var
    b: Var


def accumulate_gradient_gemms(program: Program, optimizer: Any, candidates: Sequence[int],
                              opt_index: dict[int, int]) -> list[GemmItem]:
    """For each of ``candidates`` (indices into ``program.params``) whose gradient is a matrix
    product read by nothing else, drop the product from the program and return it as a
    ``GemmItem`` (its operands are kept alive to the end of the step, where the update runs)."""
    producer = {e.outs[0].id: e for e in program.eqns if e.outs}
    readers: dict[int, int] = {}
    for e in program.eqns:
        for v in e.ins:
            readers[v.id] = readers.get(v.id, 0) + 1
    outputs = [program.loss.id, *[v.id for v in program.aux]]
    items = []
    for i in candidates:
        g = program.grads[i]
        e = producer.get(g.id) if g is not None else None
        if e is None or e.op is not L.MatMul or readers.get(g.id) or g.id in outputs:
            continue
        if sum(x is g for x in program.grads if x is not None) != 1:
            continue
        a, b = e.ins
        if root(a).kind == "param" or root(b).kind == "param":
            continue  # (the update of another parameter would change an operand before this one runs)
        param = program.params[i][1]
        if len(b.shape) != 2 or len(a.shape) not in (1, 2) or g.shape != param.shape or g.dtype != param.dtype:
            continue
        if a.dtype != g.dtype or b.dtype != g.dtype or g.dtype not in (np.float32, np.float64):
            continue
        items.append(GemmItem(opt_index[i], param, a, b))
        program.grads[i] = None
        program.keep += [a, b]
    return items


def root(v: Var) -> Var:
    while v.view_of is not None:
        v = v.view_of
    return v


# ----------------------------------------------------------------------------- the routes
def _numpy_lib() -> ctypes.CDLL | None:
    """The BLAS library NumPy loaded (NumPy's wheels bundle OpenBLAS under numpy.libs)."""
    import numpy  # noqa: F401  (the library is loaded by now)

    try:
        with open("/proc/self/maps") as f:
            paths = {line.split()[-1] for line in f if "openblas" in line.lower() and line.split()[-1].startswith("/")}
    except OSError:  # not Linux
        return None
    numpy_dir = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(paths, key=lambda p: not p.startswith(numpy_dir)):
        if "numpy" in path:
            try:
                return ctypes.CDLL(path)
            except OSError:  # pragma: no cover
                continue
    return None


class CtypesRoute:
    """cblas_?gemm / cblas_?gemv of NumPy's own OpenBLAS, row-major, through ctypes. Every
    argument is converted to its ctypes type once, when the call is bound; a call then only sets
    alpha (a ``c_float``/``c_double`` it owns) and passes the prepared arguments (about half the
    cost of ctypes converting fourteen Python numbers per call, measured by ``compile_study``)."""

    name = "ctypes"

    def __init__(self, lib: ctypes.CDLL) -> None:
        self.fns: dict[tuple[str, str], Any] = {}
        for prefix in ("scipy_cblas_", "cblas_"):
            for suffix, int_t in (("64_", ctypes.c_int64), ("", ctypes.c_int)):
                names = {(k, t): f"{prefix}{t}{k}{suffix}" for k in ("gemm", "gemv") for t in "sd"}
                if all(hasattr(lib, n) for n in names.values()):
                    for key, n in names.items():
                        fn = getattr(lib, n)  # (no argtypes: the arguments arrive as ctypes objects)
                        fn.restype = None
                        self.fns[key] = fn
                    self.int_t = int_t
                    return
        raise OSError("no cblas_sgemm in NumPy's BLAS")

    def _call(self, kind: str, c: np.ndarray, ints: Sequence[int], arrays: Sequence[Any]) -> Callable[[float], None]:
        """The bound call: (order, flags..., sizes...) as ints, then alpha, A, lda, B/x, ldb/incx, beta, C, ldc/incy."""
        real = ctypes.c_float if c.dtype == np.float32 else ctypes.c_double
        fn, i, alpha = self.fns[kind, "s" if c.dtype == np.float32 else "d"], self.int_t, real(0.0)
        flags = 3 if kind == "gemm" else 2
        a, lda, b, ldb, ldc = arrays
        ptr = ctypes.c_void_p
        args = ([ctypes.c_int(v) for v in ints[:flags]] + [i(v) for v in ints[flags:]]
                + [alpha, ptr(a), i(lda), ptr(b), i(ldb), real(1.0), ptr(c.ctypes.data), i(ldc)])

        def call(value: float) -> None:
            alpha.value = value
            fn(*args)

        return call

    def gemm(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> Callable[[float], None] | None:
        """``lambda alpha: c += alpha * a @ b`` for C-contiguous c, a and b C- or F-contiguous."""
        if not c.flags.c_contiguous or not _ok(a) or not _ok(b) or a.dtype != c.dtype or b.dtype != c.dtype:
            return None
        m, k = a.shape
        n = b.shape[1]
        ta, lda = (111, k) if a.flags.c_contiguous else (112, m)
        tb, ldb = (111, n) if b.flags.c_contiguous else (112, k)
        return self._call("gemm", c, (101, ta, tb, m, n, k), (a.ctypes.data, lda, b.ctypes.data, ldb, n))

    def gemv(self, x: np.ndarray, b: np.ndarray, c: np.ndarray) -> Callable[[float], None] | None:
        """``lambda alpha: c += alpha * x @ b`` (x a vector, b a matrix, c a vector)."""
        if not c.flags.c_contiguous or not x.flags.c_contiguous or not _ok(b) or x.dtype != c.dtype:
            return None
        k, n = b.shape
        # c = alpha * bᵀ x: row-major bᵀ is b transposed (C-contiguous b), or b.T as given (F-contiguous b)
        trans, rows, cols, ld = (112, k, n, n) if b.flags.c_contiguous else (111, n, k, k)
        return self._call("gemv", c, (101, trans, rows, cols), (b.ctypes.data, ld, x.ctypes.data, 1, 1))


class ScipyRoute:
    """scipy.linalg.blas's f2py wrappers (column-major: a row-major C is the column-major Cᵀ)."""

    name = "scipy"

    def __init__(self) -> None:
        from scipy.linalg import blas

        self.blas = blas

    def gemm(self, a: np.ndarray, b: np.ndarray, c: np.ndarray) -> Callable[[float], None] | None:
        if not c.flags.c_contiguous or not _ok(a) or not _ok(b):
            return None
        fn = self.blas.sgemm if c.dtype == np.float32 else self.blas.dgemm
        # Cᵀ += alpha Bᵀ Aᵀ in column-major: Bᵀ is b.T (F-contiguous when b is C-contiguous) or b transposed
        op1, t1 = (b.T, 0) if b.flags.c_contiguous else (b, 1)
        op2, t2 = (a.T, 0) if a.flags.c_contiguous else (a, 1)
        ct = c.T
        return lambda alpha: fn(alpha, op1, op2, 1.0, ct, t1, t2, 1)

    def gemv(self, x: np.ndarray, b: np.ndarray, c: np.ndarray) -> Callable[[float], None] | None:
        if not c.flags.c_contiguous or not x.flags.c_contiguous or not _ok(b):
            return None
        fn = self.blas.sgemv if c.dtype == np.float32 else self.blas.dgemv
        op, trans = (b.T, 0) if b.flags.c_contiguous else (b, 1)  # c = alpha bᵀ x, bᵀ column-major
        return lambda alpha: fn(alpha, op, x, 1.0, c, 0, 1, 0, 1, trans, 1)


def _ok(a: np.ndarray) -> bool:
    return a.ndim == 2 and (a.flags.c_contiguous or a.flags.f_contiguous) and a.dtype in (np.float32, np.float64)


def make_route(name: str | None = None) -> CtypesRoute | ScipyRoute | None:
    """The BLAS route ``name`` (default: ``TINYGRAD_NP_BLAS``, else ctypes, else scipy), or None
    for plain NumPy (also when the one asked for is not available)."""
    name = name or os.environ.get("TINYGRAD_NP_BLAS") or "auto"
    name = "numpy" if name == "0" else name  # (the README's switch for NumPy only)
    if name not in (*ROUTES, "auto"):
        raise ValueError(f"TINYGRAD_NP_BLAS must be one of {ROUTES}, got {name!r}")
    if name in ("ctypes", "auto"):
        lib = _numpy_lib()
        if lib is not None:
            try:
                return CtypesRoute(lib)
            except OSError:
                pass
    if name in ("scipy", "auto"):
        if "scipy" in sys.modules or _importable("scipy.linalg"):
            try:
                return ScipyRoute()
            except ImportError:
                pass
    return None


def _importable(name: str) -> bool:
    try:
        __import__(name)
    except ImportError:
        return False
    return True
