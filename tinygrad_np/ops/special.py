"""The error functions the ops' forwards use: ``erf`` and ``erfc`` on ndarrays.

NumPy has no erf ufunc. With SciPy importable these are ``scipy.special.erf`` and ``erfc``
(float32 in, float32 out). Without SciPy they are ``erf_numpy`` and ``erfc_numpy`` below, pure
NumPy, computed in float64 and rounded to the input's float dtype. Their float64 error, measured
against mpmath at 40 digits on a dense grid of [-7, 7] plus random and tiny arguments
(``tests/engine/test_ops_elementwise_more.py``), is at most ``ERF_ULPS`` = 2 ulps for erf and
``ERFC_ULPS`` = 5 ulps for erfc (erfc in its normal range, x < 26.5; below that it underflows to
subnormals and 0). The method:

* |x| < 0.75: the Taylor series erf(x) = 2/√π Σₖ (-1)ᵏ x^(2k+1) / (k! (2k+1)), 16 terms, and
  erfc = 1 - erf;
* |x| ≥ 0.75: the continued fraction
  erfc(x) = 2x e^(-x²)/√π / (2x²+1 - 1·2/(2x²+5 - 3·4/(2x²+9 - ...))), evaluated from its tail
  (240, 80 or 30 terms for |x| from 0.75, 1.5 or 3: it converges faster for larger |x|), and
  erf = 1 - erfc; negative x by symmetry, erf(-x) = -erf(x), erfc(-x) = 2 - erfc(x);
* e^(-x²) without the rounding error of x²: x = h + l with h's low 27 mantissa bits cleared, so
  h² is exact and e^(-x²) = e^(-h²) e^(-(x-h)(x+h)).
"""
from __future__ import annotations

import numpy as np

try:
    from scipy.special import erf as scipy_erf, erfc as scipy_erfc
except ImportError:  # pragma: no cover - SciPy is optional; the NumPy versions below take over
    scipy_erf = scipy_erfc = None

ERF_ULPS = 2
ERFC_ULPS = 5
TWO_OVER_SQRT_PI = 1.1283791670955126  # 2/√π
TAYLOR_END = 0.75  # |x| below: Taylor series; above: continued fraction
CF_TERMS = ((0.75, 240), (1.5, 80), (3.0, 30))  # (smallest |x|, terms of the continued fraction)
CF_END = 28.0  # erfc(28) = 0 in float64 (e^(-784) underflows): larger |x| is evaluated at 28


def exp_neg_square(x: np.ndarray) -> np.ndarray:
    """e^(-x²) for float64 x, with x² split into an exact h² and a small remainder."""
    h = (x.view(np.int64) & np.int64(~((1 << 27) - 1))).view(np.float64)
    return np.exp(-h * h) * np.exp(-(x - h) * (x + h))


def erf_taylor(x: np.ndarray) -> np.ndarray:
    """erf(x) = 2/√π (x + x s), s = Σ_{k=1..16} (-x²)ᵏ / (k! (2k+1)) in Horner form (|x| < 0.75)."""
    z = x * x
    s = np.zeros_like(x)
    for k in range(16, 0, -1):
        s = -z * (2 * k - 1) / (k * (2 * k + 1)) * (1 + s)  # term k / term k-1, times (1 + the rest)
    return TWO_OVER_SQRT_PI * (x + x * s)


def erfc_continued_fraction(x: np.ndarray) -> np.ndarray:
    """erfc(x) for float64 x ≥ 0.75 (see the module docstring)."""
    x = np.minimum(x, CF_END)
    out = np.empty_like(x)
    ends = [lo for lo, _ in CF_TERMS[1:]] + [np.inf]
    for (lo, terms), hi in zip(CF_TERMS, ends):
        pick = (x >= lo) & (x < hi)
        v = x[pick]
        z = 2 * v * v
        f = z + (4 * terms + 1)
        for k in range(terms, 0, -1):
            f = z + (4 * k - 3) - (2 * k - 1) * (2 * k) / f
        out[pick] = TWO_OVER_SQRT_PI * v * exp_neg_square(v) / f
    return out


def _float64(a: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``a`` as float64, and the masks of its small (Taylor) and large finite-or-infinite entries."""
    x = np.asarray(a, dtype=np.float64)
    small = np.abs(x) < TAYLOR_END
    return x, small, ~small & ~np.isnan(x)


def _result(out: np.ndarray, a: np.ndarray) -> np.ndarray:
    dtype = a.dtype if a.dtype.kind == "f" else np.float64
    return out.astype(dtype, copy=False)


def erf_numpy(a: np.ndarray) -> np.ndarray:
    """erf(a) in pure NumPy, within ``ERF_ULPS`` ulps in float64 (NaN stays NaN, erf(±inf) = ±1)."""
    a = np.asarray(a)
    x, small, large = _float64(a)
    out = np.full_like(x, np.nan)
    out[small] = erf_taylor(x[small])
    out[large] = np.copysign(1 - erfc_continued_fraction(np.abs(x[large])), x[large])
    return _result(out, a)


def erfc_numpy(a: np.ndarray) -> np.ndarray:
    """erfc(a) = 1 - erf(a) in pure NumPy, within ``ERFC_ULPS`` ulps in float64 (for a < 26.5)."""
    a = np.asarray(a)
    x, small, large = _float64(a)
    out = np.full_like(x, np.nan)
    out[small] = 1 - erf_taylor(x[small])
    tail = erfc_continued_fraction(np.abs(x[large]))
    out[large] = np.where(x[large] > 0, tail, 2 - tail)
    return _result(out, a)


#: The functions the ops use: SciPy's where importable, else the NumPy ones above.
erf = scipy_erf if scipy_erf is not None else erf_numpy
erfc = scipy_erfc if scipy_erfc is not None else erfc_numpy
