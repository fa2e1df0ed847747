"""Matrix products with NumPy's ``matmul`` rules (1-D, 2-D and batched, broadcasting batch dims)."""
from __future__ import annotations

import numpy as np

from ..autograd import OPS, Op, register
from .elementwise import const


@register("matmul")
class MatMul(Op):
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
        a, b = self.operands(g)
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the reshapes below
            return (g @ b.T if self.needs_input_grad[0] else None,
                    a.T @ g if self.needs_input_grad[1] else None)
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


#: The activations ``linear`` can apply in the same op: registry ops whose VJP reads only g and y
#: and whose forward takes ``out=`` (it writes y over the fresh product).
LINEAR_ACTIVATIONS = ("relu", "tanh", "sigmoid")


@register("linear")
class Linear(Op):
    """y = act(x @ W + b)  (x (..., n_in), W (n_in, n_out), b (n_out,) optional, act relu, tanh, sigmoid
    or none; fused like PyTorch's addmm). VJP: z̄ = act's VJP of g, then x̄ = z̄ Wᵀ, W̄ = xᵀ z̄ (summed
    over batch dims), b̄ = Σ_rows z̄ = 1ᵀ z̄."""

    def forward(self, x, w, b=None, activation=None):
        if w.ndim != 2 or x.ndim == 0 or x.shape[-1] != w.shape[0] or (b is not None and b.shape != w.shape[1:]):
            bias = "" if b is None else f", bias {b.shape}"
            raise ValueError(f"linear: input {x.shape}, weight {w.shape}{bias} do not fit "
                             "(expected input (..., n_in), weight (n_in, n_out), bias (n_out,))")
        y = x @ w
        if b is not None:
            y += b  # y is a fresh array: adding in place saves an allocation
        if activation is None:
            self.act = None
            return y
        if activation not in LINEAR_ACTIVATIONS:
            raise ValueError(f"linear: activation must be None or one of {LINEAR_ACTIVATIONS}, got {activation!r}")
        self.act = OPS[activation]()  # the activation op itself: its forward here, its VJP in backward
        return self.act.forward(y, out=y)  # in place: y is our fresh product, and act's VJP needs only its output

    @property
    def name(self) -> str:
        """The node's name in graphs, traces and errors: "Linear", or "Linear+ReLU" (etc.) when fused."""
        act = self.__dict__.get("act")  # (gone once backward has freed the node)
        return "Linear" if act is None else f"Linear+{act.name}"

    def backward(self, g, out):
        if self.act is not None:  # through the activation: its VJP needs only g and y
            self.act.g_owned = self.g_owned
            (g,) = self.act.backward(g, out)
        x, w = self.operands(g)[:2]
        need = self.needs_input_grad
        g2 = g if g.ndim == 2 else g.reshape(-1, g.shape[-1])
        x2 = x if x.ndim == 2 else x.reshape(-1, x.shape[-1])
        gx = g @ w.T if need[0] else None
        gw = x2.T @ g2 if need[1] else None
        if len(need) == 2:
            return gx, gw
        # 1ᵀ g: a BLAS matrix-vector product, 3-4x faster than NumPy's g.sum(axis=0) here
        gb = const(ones(len(g2), g2.dtype), g2) @ g2 if need[2] else None
        return gx, gw, gb


def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.ones(n, dtype)`` in two C calls (np.ones is Python code: 2-3x slower for short vectors)."""
    out = np.empty(n, dtype)
    out.fill(1)
    return out
