"""Elementwise ops. Binary ops broadcast like NumPy; the engine un-broadcasts their VJPs.

Notation in the docstrings: ``g`` is the upstream gradient ȳ, ``y`` the op's output, a dot the
tangent of forward mode (ȧ). Each op's ``vjp(i, g, y)`` returns input ``i``'s gradient and
``jvp(i, t, y)`` input ``i``'s share of ẏ, both written with Tensor ops.
"""
from __future__ import annotations

import numpy as np

from ..batching import elementwise
from ..engine import Function, register
from ..functions import where


class Elementwise(Function):
    """Base of the elementwise ops; under vmap each runs once on the whole stack (``batching.elementwise``)."""

    batch = classmethod(elementwise)


@register("add")
class Add(Elementwise):
    """y = a + b.   VJP: ā = g, b̄ = g.   JVP: ẏ = ȧ + ḃ."""

    forward = staticmethod(np.add)

    def vjp(self, i, g, y):
        return g

    def jvp(self, i, t, y):
        return t


@register("sub")
class Sub(Elementwise):
    """y = a - b.   VJP: ā = g, b̄ = -g.   JVP: ẏ = ȧ - ḃ."""

    forward = staticmethod(np.subtract)

    def vjp(self, i, g, y):
        return g if i == 0 else -g

    def jvp(self, i, t, y):
        return t if i == 0 else -t


@register("mul")
class Mul(Elementwise):
    """y = a * b.   VJP: ā = g b, b̄ = g a.   JVP: ẏ = ȧ b + a ḃ."""

    forward = staticmethod(np.multiply)

    def vjp(self, i, g, y):
        a, b = self.inputs
        return g * b if i == 0 else g * a

    def jvp(self, i, t, y):
        a, b = self.inputs
        return t * b if i == 0 else a * t


@register("div")
class Div(Elementwise):
    """y = a / b.   VJP: ā = g / b, b̄ = -g a / b².   JVP: ẏ = ȧ / b - a ḃ / b²."""

    forward = staticmethod(np.divide)

    def vjp(self, i, g, y):
        a, b = self.inputs
        return g / b if i == 0 else -g * a / (b * b)

    def jvp(self, i, t, y):
        a, b = self.inputs
        return t / b if i == 0 else -t * a / (b * b)


@register("pow")
class Pow(Elementwise):
    """y = a ** b.   VJP: ā = g b a^(b-1), b̄ = g y log a.   JVP: ẏ = ȧ b a^(b-1) + ḃ y log a.
    (b̄ needs a > 0; it is only computed where b requires grad.)"""

    forward = staticmethod(np.power)

    def vjp(self, i, g, y):
        a, b = self.inputs
        return g * b * a ** (b - 1) if i == 0 else g * y * a.log()

    def jvp(self, i, t, y):
        a, b = self.inputs
        return t * b * a ** (b - 1) if i == 0 else t * y * a.log()


@register("maximum")
class Maximum(Elementwise):
    """y = max(a, b).   VJP: ā = g·([a > b] + ½[a = b]), b̄ = g·([b > a] + ½[a = b])  (ties split
    g evenly).   JVP: ẏ = ȧ·(...) + ḃ·(...), the same weights."""

    forward = staticmethod(np.maximum)

    def weight(self, i, dtype):
        a, b = self.inputs if i == 0 else self.inputs[::-1]
        return (a > b).astype(dtype) + (a == b).astype(dtype) * 0.5

    def vjp(self, i, g, y):
        return g * self.weight(i, g.dtype)

    def jvp(self, i, t, y):
        return t * self.weight(i, t.dtype)


@register("minimum")
class Minimum(Maximum):
    """y = min(a, b).   VJP: ā = g·([a < b] + ½[a = b]), b̄ = g·([b < a] + ½[a = b])  (ties split
    g evenly).   JVP: the same weights."""

    forward = staticmethod(np.minimum)

    def weight(self, i, dtype):
        a, b = self.inputs if i == 0 else self.inputs[::-1]
        return (a < b).astype(dtype) + (a == b).astype(dtype) * 0.5


@register("where")
class Where(Elementwise):
    """y = a where c else b (c boolean, not differentiated).   VJP: ā = g·[c], b̄ = g·[¬c].
    JVP: ẏ = ȧ where c else ḃ."""

    @staticmethod
    def forward(c, a, b):
        try:
            return np.where(c, a, b)
        except ValueError:
            raise ValueError(f"where: shapes {c.shape}, {a.shape} and {b.shape} cannot be broadcast together") from None

    def vjp(self, i, g, y):
        c = self.inputs[0]
        return where(c, g, 0.0) if i == 1 else where(c, 0.0, g)

    jvp = vjp


@register("neg")
class Neg(Elementwise):
    """y = -a.   VJP: ā = -g.   JVP: ẏ = -ȧ."""

    forward = staticmethod(np.negative)

    def vjp(self, i, g, y):
        return -g

    jvp = vjp


@register("exp")
class Exp(Elementwise):
    """y = exp(a).   VJP: ā = g y.   JVP: ẏ = ȧ y."""

    forward = staticmethod(np.exp)

    def vjp(self, i, g, y):
        return g * y

    jvp = vjp


@register("log")
class Log(Elementwise):
    """y = log(a).   VJP: ā = g / a.   JVP: ẏ = ȧ / a."""

    forward = staticmethod(np.log)

    def vjp(self, i, g, y):
        return g / self.inputs[0]

    jvp = vjp


@register("sqrt")
class Sqrt(Elementwise):
    """y = √a.   VJP: ā = g / (2y).   JVP: ẏ = ȧ / (2y)."""

    forward = staticmethod(np.sqrt)

    def vjp(self, i, g, y):
        return g / (y * 2)

    jvp = vjp


@register("abs")
class Abs(Elementwise):
    """y = |a|.   VJP: ā = g sign(a)  (subgradient 0 at a = 0, as in PyTorch).   JVP: ẏ = ȧ sign(a)."""

    forward = staticmethod(np.abs)

    def vjp(self, i, g, y):
        return g * self.inputs[0].sign()

    jvp = vjp


@register("sign")
class Sign(Elementwise):
    """y = sign(a) ∈ {-1, 0, 1}.   VJP: ā = 0.   JVP: ẏ = 0  (piecewise constant)."""

    forward = staticmethod(np.sign)

    def vjp(self, i, g, y):
        return g * 0.0

    jvp = vjp


@register("tanh")
class Tanh(Elementwise):
    """y = tanh(a).   VJP: ā = g (1 - y²).   JVP: ẏ = ȧ (1 - y²)."""

    forward = staticmethod(np.tanh)

    def vjp(self, i, g, y):
        return g * (1 - y * y)

    jvp = vjp


@register("sigmoid")
class Sigmoid(Elementwise):
    """y = 1 / (1 + exp(-a)), computed without overflow.   VJP: ā = g y (1 - y).   JVP: ẏ = ȧ y (1 - y)."""

    @staticmethod
    def forward(a):
        e = np.exp(-np.abs(a))  # in (0, 1]: never overflows
        return np.divide(np.where(a >= 0, 1, e), 1 + e)  # 1/(1+e) for a >= 0, e/(1+e) below

    def vjp(self, i, g, y):
        return g * y * (1 - y)

    jvp = vjp


@register("relu")
class ReLU(Elementwise):
    """y = max(a, 0).   VJP: ā = g·[a > 0]  (subgradient ReLU'(0) = 0, as in PyTorch).   JVP: ẏ = ȧ·[a > 0]."""

    @staticmethod
    def forward(a):
        return np.maximum(a, 0)

    def vjp(self, i, g, y):
        return g * (y > 0)

    jvp = vjp


@register("leaky_relu")
class LeakyReLU(Elementwise):
    """y = a if a > 0 else s·a.   VJP: ā = g if a > 0 else s·g  (slope s at a = 0).   JVP: the same in ȧ."""

    @staticmethod
    def forward(a, negative_slope=0.01):
        return np.where(a > 0, a, a * negative_slope).astype(a.dtype, copy=False)

    def vjp(self, i, g, y):
        return where(self.inputs[0] > 0, g, g * self.negative_slope)

    jvp = vjp


@register("clip")
class Clip(Elementwise):
    """y = min(max(a, lo), hi).   VJP: ā = g·[lo ≤ a ≤ hi]  (inclusive at the bounds, as in PyTorch).
    JVP: ẏ = ȧ·[lo ≤ a ≤ hi]."""

    @staticmethod
    def forward(a, lo=None, hi=None):
        if lo is None and hi is None:
            raise ValueError("clip: give at least one of min and max")
        return np.clip(a, lo, hi)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        inside = where(a >= self.lo, g, 0.0) if self.lo is not None else g
        return where(a <= self.hi, inside, 0.0) if self.hi is not None else inside

    jvp = vjp


@register("cast")
class Cast(Elementwise):
    """y = a converted to ``dtype``.   VJP: ā = g converted back to a's dtype.   JVP: ẏ = ȧ converted.
    (Differentiable between float dtypes; a cast to an integer or bool dtype is a constant.)"""

    @staticmethod
    def forward(a, dtype):
        return a.astype(dtype)

    def vjp(self, i, g, y):
        return g.astype(self.inputs[0].dtype)

    def jvp(self, i, t, y):
        return t.astype(self.dtype)


class Comparison(Elementwise):
    """Elementwise comparisons: boolean results, so never recorded (nothing to differentiate)."""


@register("less")
class Less(Comparison):
    """y = a < b."""

    forward = staticmethod(np.less)


@register("less_equal")
class LessEqual(Comparison):
    """y = a <= b."""

    forward = staticmethod(np.less_equal)


@register("greater")
class Greater(Comparison):
    """y = a > b."""

    forward = staticmethod(np.greater)


@register("greater_equal")
class GreaterEqual(Comparison):
    """y = a >= b."""

    forward = staticmethod(np.greater_equal)


@register("equal")
class Equal(Comparison):
    """y = a == b."""

    forward = staticmethod(np.equal)


@register("not_equal")
class NotEqual(Comparison):
    """y = a != b."""

    forward = staticmethod(np.not_equal)
