"""Matrix products with NumPy's ``matmul`` rules (1-D, 2-D and batched, broadcasting batch dims)."""
from __future__ import annotations

import numpy as np

from ..autograd import Function, register


@register("matmul")
class MatMul(Function):
    """y = a @ b.   VJP: ā = g @ bᵀ, b̄ = aᵀ @ g  (1-D operands are promoted to matrices and back;
    broadcast batch dims are summed by the engine's unbroadcast)."""

    def forward(self, a, b):
        if a.ndim == 0 or b.ndim == 0:
            raise ValueError(f"matmul: operands must be at least 1-D, got shapes {a.shape} and {b.shape}")
        if a.shape[-1] != b.shape[-2 if b.ndim > 1 else 0]:
            raise ValueError(f"matmul: shapes {a.shape} and {b.shape} are not aligned "
                             f"({a.shape[-1]} != {b.shape[-2 if b.ndim > 1 else 0]})")
        return a @ b

    def backward(self, g, out):
        a, b = self.inputs
        # Promote 1-D operands (a: (k,) -> (1, k); b: (k,) -> (k, 1)) and g to match.
        a2 = a.reshape(1, -1) if a.ndim == 1 else a
        b2 = b.reshape(-1, 1) if b.ndim == 1 else b
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
        g = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
        ga = gb = None
        if self.needs_input_grad[0]:
            ga = g @ b2.mT
            if a.ndim == 1:
                ga = ga.squeeze(-2)
        if self.needs_input_grad[1]:
            gb = a2.mT @ g
            if b.ndim == 1:
                gb = gb.squeeze(-1)
        return ga, gb
