"""Elementwise ops. Binary ops broadcast like NumPy; the engine un-broadcasts their VJPs.

Notation in the docstrings: ``g`` is the upstream gradient ȳ, ``y`` the op's output. Each VJP
runs on Tensors (recorded, for higher-order gradients) or on plain ndarrays (a plain
``backward()``): inputs come from ``self.operands(g)``, constants from ``const``/``mask``.

The activations (relu, tanh, sigmoid) take ``out=``, NumPy's convention: the fused ``linear`` op
passes its fresh product, so y overwrites it instead of filling a new array.
"""
from __future__ import annotations

import numpy as np

from ..autograd import Op, broadcast_shape, register, run_op
from ..tensor import Tensor


def const(arr: np.ndarray, like: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """A constant (non-differentiable) operand with ``like``'s float dtype, in ``like``'s kind:
    a Tensor next to a Tensor gradient, a bare ndarray next to an ndarray gradient."""
    arr = np.asarray(arr, dtype=like.dtype)
    return arr if isinstance(like, np.ndarray) else Tensor._from_op(arr, None)


def mask(m: np.ndarray, like: Tensor | np.ndarray) -> Tensor | np.ndarray:
    """A boolean constant in ``like``'s kind: ``g * mask(m, g)`` keeps g where m holds (dtype
    unchanged; multiplying by a bool array is several times faster than ``np.where``)."""
    return m if isinstance(like, np.ndarray) else Tensor._from_op(m, None)


def data(x: Tensor | np.ndarray) -> np.ndarray:
    """The ndarray of a Tensor, or the ndarray itself."""
    return x if isinstance(x, np.ndarray) else x.data


class Binary(Op):
    """Base of broadcasting binary ops: ``run`` turns NumPy's broadcast error into one that
    names the op and both shapes (the check costs nothing when the shapes are fine)."""

    def run(self, ufunc, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        try:
            return ufunc(a, b)
        except ValueError:
            broadcast_shape(self.op_name, a.shape, b.shape)  # type: ignore[attr-defined]
            raise


@register("add")
class Add(Binary):
    """y = a + b.   VJP: ā = g, b̄ = g."""

    def forward(self, a, b):
        return self.run(np.add, a, b)

    def backward(self, g, out):
        return g, g


@register("sub")
class Sub(Binary):
    """y = a - b.   VJP: ā = g, b̄ = -g."""

    def forward(self, a, b):
        return self.run(np.subtract, a, b)

    def backward(self, g, out):
        return g, (-g if self.needs_input_grad[1] else None)


@register("mul")
class Mul(Binary):
    """y = a * b.   VJP: ā = g b, b̄ = g a."""

    def forward(self, a, b):
        return self.run(np.multiply, a, b)

    def backward(self, g, out):
        a, b = self.operands(g)
        return (g * b if self.needs_input_grad[0] else None,
                g * a if self.needs_input_grad[1] else None)


@register("div")
class Div(Binary):
    """y = a / b.   VJP: ā = g / b, b̄ = -g a / b²."""

    def forward(self, a, b):
        return self.run(np.divide, a, b)

    def backward(self, g, out):
        a, b = self.operands(g)
        return (g / b if self.needs_input_grad[0] else None,
                -g * a / (b * b) if self.needs_input_grad[1] else None)


@register("pow")
class Pow(Binary):
    """y = a ** b.   VJP: ā = g b a^(b-1), b̄ = g y log(a)  (b̄ only where b needs grad; needs a > 0)."""

    def forward(self, a, b):
        return self.run(np.power, a, b)

    def backward(self, g, out):
        a, b = self.operands(g)
        return (g * b * a ** (b - 1) if self.needs_input_grad[0] else None,
                g * out * run_op("log", a) if self.needs_input_grad[1] else None)


@register("neg")
class Neg(Op):
    """y = -a.   VJP: ā = -g."""

    def forward(self, a):
        return -a

    def backward(self, g, out):
        return (-g,)


@register("exp")
class Exp(Op):
    """y = exp(a).   VJP: ā = g y."""

    def forward(self, a):
        return np.exp(a)

    def backward(self, g, out):
        return (g * out,)


@register("log")
class Log(Op):
    """y = log(a).   VJP: ā = g / a."""

    def forward(self, a):
        return np.log(a)

    def backward(self, g, out):
        return (g / self.operands(g)[0],)


@register("sqrt")
class Sqrt(Op):
    """y = √a.   VJP: ā = g / (2y)."""

    def forward(self, a):
        return np.sqrt(a)

    def backward(self, g, out):
        return (g / (out * 2),)


@register("abs")
class Abs(Op):
    """y = |a|.   VJP: ā = g sign(a)  (subgradient 0 at a = 0)."""

    def forward(self, a):
        return np.abs(a)

    def backward(self, g, out):
        return (g * const(np.sign(self.inputs[0].data), g),)


@register("tanh")
class Tanh(Op):
    """y = tanh(a).   VJP: ā = g (1 - y²)."""

    def forward(self, a, out=None):
        return np.tanh(a, out=out)

    def backward(self, g, out):
        if self.g_owned:  # g is ours (see Function.g_owned): the product goes into it
            return (np.multiply(g, 1 - out * out, out=g),)
        return (g * (1 - out * out),)


@register("sigmoid")
class Sigmoid(Op):
    """y = 1 / (1 + exp(-a)), computed without overflow.   VJP: ā = g y (1 - y)."""

    def forward(self, a, out=None):
        e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
        return np.divide(np.where(a >= 0, 1, e), 1 + e, out=out)  # 1/(1+e) for a >= 0, e/(1+e) below

    def backward(self, g, out):
        if self.g_owned:  # g is ours (see Function.g_owned): (g y)(1 - y), in that order, into it
            np.multiply(g, out, out=g)
            return (np.multiply(g, 1 - out, out=g),)
        return (g * out * (1 - out),)


@register("relu")
class ReLU(Op):
    """y = max(a, 0).   VJP: ā = g · [a > 0]  (subgradient ReLU'(0) = 0, as in PyTorch)."""

    def forward(self, a, out=None):
        # max against a row of zeros, not the scalar 0: NumPy's vectorized loop then runs along
        # each row, 1.7-1.8x faster for (batch, features) activations; values, -0.0 -> 0 and NaN
        # propagation are the same.
        return np.maximum(a, np.zeros(a.shape[-1:], dtype=a.dtype), out=out)

    def backward(self, g, out):
        if self.g_owned:  # g is ours (see Function.g_owned): mask it in place, no new array
            return (np.multiply(g, out > 0, out=g),)
        return (g * (out > 0),)  # a bool mask: Tensor > 0 is a constant bool Tensor


@register("leaky_relu")
class LeakyReLU(Op):
    """y = a if a > 0 else s·a.   VJP: ā = g · (1 if a > 0 else s)  (slope s at a = 0)."""

    def forward(self, a, negative_slope=0.01):
        self.slope = negative_slope
        return np.where(a > 0, a, a * negative_slope).astype(a.dtype, copy=False)

    def backward(self, g, out):
        return (g * const(np.where(self.inputs[0].data > 0, 1.0, self.slope), g),)


def _tie_split(a: np.ndarray, b: np.ndarray, a_wins: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weights (wa, wb) of a selection between a and b; ties (a == b) split the gradient evenly."""
    tie = a == b
    wa = np.where(tie, 0.5, a_wins.astype(float))
    return wa, 1 - wa


@register("maximum")
class Maximum(Binary):
    """y = max(a, b).   VJP: ā = g·[a > b], b̄ = g·[b > a]; ties split g evenly (½ each)."""

    def forward(self, a, b):
        return self.run(np.maximum, a, b)

    def backward(self, g, out):
        a, b = self.inputs
        wa, wb = _tie_split(a.data, b.data, a.data > b.data)
        return (g * const(wa, g) if self.needs_input_grad[0] else None,
                g * const(wb, g) if self.needs_input_grad[1] else None)


@register("minimum")
class Minimum(Binary):
    """y = min(a, b).   VJP: ā = g·[a < b], b̄ = g·[b < a]; ties split g evenly (½ each)."""

    def forward(self, a, b):
        return self.run(np.minimum, a, b)

    def backward(self, g, out):
        a, b = self.inputs
        wa, wb = _tie_split(a.data, b.data, a.data < b.data)
        return (g * const(wa, g) if self.needs_input_grad[0] else None,
                g * const(wb, g) if self.needs_input_grad[1] else None)


@register("where")
class Where(Binary):
    """y = cond ? a : b.   VJP: ā = g · cond, b̄ = g · ¬cond  (cond is a constant)."""

    def forward(self, a, b, cond):
        self.cond = cond
        try:
            return np.where(cond, a, b)
        except ValueError:
            broadcast_shape("where", cond.shape, a.shape, b.shape)
            raise

    def backward(self, g, out):
        return (g * mask(self.cond, g) if self.needs_input_grad[0] else None,
                g * mask(~self.cond, g) if self.needs_input_grad[1] else None)


@register("clip")
class Clip(Op):
    """y = min(max(a, lo), hi).   VJP: ā = g·[lo ≤ a ≤ hi]  (inclusive at the bounds, as in PyTorch)."""

    def forward(self, a, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of min and max")
        self.lo, self.hi = lo, hi
        return np.clip(a, lo, hi)

    def backward(self, g, out):
        a = self.inputs[0].data
        inside = np.ones(a.shape, dtype=bool)
        if self.lo is not None:
            inside &= a >= self.lo
        if self.hi is not None:
            inside &= a <= self.hi
        return (g * mask(inside, g),)
