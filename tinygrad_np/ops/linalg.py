"""Matrix products with NumPy's ``matmul`` rules (1-D, 2-D and batched, broadcasting batch dims),
and the affine map of a dense layer."""
from __future__ import annotations

import numpy as np

from ..batching import composite, front
from ..engine import Function, Tensor, register


def as_matrices(a: Tensor, b: Tensor) -> tuple[Tensor, Tensor]:
    """``a`` and ``b`` with 1-D operands promoted as matmul does: a (k,) -> (1, k), b (k,) -> (k, 1)."""
    return (a.reshape(1, -1) if a.ndim == 1 else a), (b.reshape(-1, 1) if b.ndim == 1 else b)


@register("matmul")
class MatMul(Function):
    """y = a @ b.   VJP: ā = g bᵀ, b̄ = aᵀ g.   JVP: ẏ = ȧ @ b + a @ ḃ.
    (1-D operands are promoted to matrices and back; broadcast batch dims are summed by the engine.)"""

    @staticmethod
    def forward(a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        k = b.shape[-2 if b.ndim > 1 else 0]
        if a.shape[-1] != k:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned ({a.shape[-1]} != {k})")
        return np.matmul(a, b)

    def vjp(self, i, g, y):
        a, b = self.inputs
        a2, b2 = as_matrices(a, b)
        batch = y.shape[:y.ndim - (a.ndim > 1) - (b.ndim > 1)]  # y's dims before the matrix part
        g2 = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        if i == 0:
            ga = g2 @ b2.mT
            return ga.reshape(batch + (a.shape[0],)) if a.ndim == 1 else ga
        gb = a2.mT @ g2
        return gb.reshape(batch + (b.shape[0],)) if b.ndim == 1 else gb

    def jvp(self, i, t, y):
        a, b = self.inputs
        return t @ b if i == 0 else a @ t

    @classmethod
    def batch(cls, values, bdims, params, level):
        """One matmul of the stacks: 1-D examples promoted to matrices, ranks aligned after the batch
        axis, the promoted axes dropped again. A batched a against an unbatched matrix b is one GEMM."""
        (a, b), (ba, bb) = values, bdims
        if bb is None and b.ndim == 2:  # (B, ..., k) @ (k, m): NumPy broadcasts it as one product
            return Tensor.apply(cls, front(a, ba), b), 0
        ra, rb = a.ndim - (ba is not None), b.ndim - (bb is not None)
        a2 = front(a, ba) if ba is not None else a
        b2 = front(b, bb) if bb is not None else b
        if ra == 1:
            a2 = a2.reshape(a2.shape[:-1] + (1, a2.shape[-1]))
        if rb == 1:
            b2 = b2.reshape(b2.shape + (1,))
        rank = max(ra, rb, 2)  # per example, after promotion
        if ba is not None:
            a2 = a2.reshape(a2.shape[:1] + (1,) * (rank - a2.ndim + 1) + a2.shape[1:])
        else:
            a2 = a2.reshape((1,) * (rank - a2.ndim + 1) + a2.shape)
        if bb is not None:
            b2 = b2.reshape(b2.shape[:1] + (1,) * (rank - b2.ndim + 1) + b2.shape[1:])
        else:
            b2 = b2.reshape((1,) * (rank - b2.ndim + 1) + b2.shape)
        y = Tensor.apply(cls, a2, b2)  # (..., n, m): drop the axes the promotion added
        shape = y.shape[:-2] + (() if ra == 1 else y.shape[-2:-1]) + (() if rb == 1 else y.shape[-1:])
        return y.reshape(shape), 0


@register("linear")
class Linear(Function):
    """y = x @ W + b  (x (..., n_in), W (n_in, n_out), b (n_out,), optional).
    VJP: x̄ = g Wᵀ, W̄ = xᵀ g, b̄ = 1ᵀ g  (x's leading dims flattened into rows).   JVP: ẏ = ẋ W + x Ẇ + ḃ."""

    @staticmethod
    def forward(x, w, b=None):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[0] or (b is not None and b.shape != w.shape[1:]):
            bias = "" if b is None else f", bias {b.shape}"
            raise ValueError(f"linear: input {x.shape}, weight {w.shape}{bias} do not fit "
                             "(expected input (..., n_in), weight (n_in, n_out), bias (n_out,))")
        return np.matmul(x, w) if b is None else np.matmul(x, w) + b

    def vjp(self, i, g, y):
        x, w = self.inputs[:2]
        if i == 0:
            return g @ w.T
        rows = g.reshape(-1, g.shape[-1])  # every leading dim of x is a row
        if i == 1:
            return x.reshape(-1, x.shape[-1]).T @ rows
        return ones(rows.shape[0], rows.dtype) @ rows

    def jvp(self, i, t, y):
        x, w = self.inputs[:2]
        return t @ w if i == 0 else x @ t if i == 1 else t

    @classmethod
    def batch(cls, values, bdims, params, level):
        """A batched x against shared weights: the examples are more rows, one GEMM. Per-example
        weights: x @ W + b through matmul's and add's rules."""
        if all(b is None for b in bdims[1:]):
            return Tensor.apply(cls, front(values[0], bdims[0]), *values[1:]), 0
        return composite(lambda x, w, b=None: x @ w if b is None else x @ w + b)(cls, values, bdims, params, level)


def ones(n: int, dtype: np.dtype) -> Tensor:
    """1, the vector of n ones (a constant)."""
    return Tensor._wrap(np.ones(n, dtype=dtype))
