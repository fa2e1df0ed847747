"""Elementwise ops. Binary ops broadcast like NumPy; the engine un-broadcasts their VJPs.

Notation in the docstrings: ``g`` is the upstream gradient ȳ, ``y`` the op's output, a dot the
tangent of forward mode (ȧ). Each op's ``vjp(i, g, y)`` returns input ``i``'s gradient and
``jvp(i, t, y)`` input ``i``'s share of ẏ, both written with Tensor ops.
"""
from __future__ import annotations

import math

import numpy as np

from ..batching import elementwise
from ..engine import Function, Tensor, register
from ..functions import where
from .special import erf, erfc


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
    (∂y/∂a is 0 at a = b = 0, where b a^(b-1) is 0·∞: a⁰ = 1 is constant, as in PyTorch; b̄ needs
    a > 0, and is only computed where b requires grad.)"""

    forward = staticmethod(np.power)

    def base_slope(self):
        """∂y/∂a = b a^(b-1), and 0 at a = b = 0. There the power is taken of a safe base (1), so no
        NaN reaches higher derivatives through the unused branch; elsewhere the expression keeps b,
        so the mixed derivative ∂²y/∂a∂b = a^(b-1)(1 + b log a) stays exact (also at b = 0)."""
        a, b = self.inputs
        both_zero = (a == 0).astype(a.dtype) * (b == 0).astype(a.dtype) > 0
        return where(both_zero, 0.0, b * where(both_zero, 1.0, a) ** (b - 1))

    def vjp(self, i, g, y):
        a, b = self.inputs
        return g * self.base_slope() if i == 0 else g * y * a.log()

    def jvp(self, i, t, y):
        a, b = self.inputs
        return t * self.base_slope() if i == 0 else t * y * a.log()


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


# ----------------------------------------------------------------------------- op coverage: more elementwise ops
LN2, LN10 = math.log(2.0), math.log(10.0)
TWO_OVER_SQRT_PI = 2 / math.sqrt(math.pi)
INV_SQRT2, INV_SQRT_2PI = 1 / math.sqrt(2.0), 1 / math.sqrt(2 * math.pi)
GELU_TANH_K, GELU_TANH_C = math.sqrt(2 / math.pi), 0.044715  # gelu's tanh form: tanh(k (a + c a³))
INF = float("inf")


def nonzero_or_one(t: Tensor) -> Tensor:
    """``t`` with its zeros replaced by 1 (a denominator that is never 0; the caller masks those entries)."""
    return where(t == 0, 1.0, t)


@register("sin")
class Sin(Elementwise):
    """y = sin(a).   VJP: ā = g cos(a).   JVP: ẏ = ȧ cos(a)."""

    forward = staticmethod(np.sin)

    def vjp(self, i, g, y):
        return g * self.inputs[0].cos()

    jvp = vjp


@register("cos")
class Cos(Elementwise):
    """y = cos(a).   VJP: ā = -g sin(a).   JVP: ẏ = -ȧ sin(a)."""

    forward = staticmethod(np.cos)

    def vjp(self, i, g, y):
        return -g * self.inputs[0].sin()

    jvp = vjp


@register("tan")
class Tan(Elementwise):
    """y = tan(a).   VJP: ā = g (1 + y²).   JVP: ẏ = ȧ (1 + y²)."""

    forward = staticmethod(np.tan)

    def vjp(self, i, g, y):
        return g * (1 + y * y)

    jvp = vjp


@register("sinh")
class Sinh(Elementwise):
    """y = sinh(a).   VJP: ā = g cosh(a).   JVP: ẏ = ȧ cosh(a)."""

    forward = staticmethod(np.sinh)

    def vjp(self, i, g, y):
        return g * self.inputs[0].cosh()

    jvp = vjp


@register("cosh")
class Cosh(Elementwise):
    """y = cosh(a).   VJP: ā = g sinh(a).   JVP: ẏ = ȧ sinh(a)."""

    forward = staticmethod(np.cosh)

    def vjp(self, i, g, y):
        return g * self.inputs[0].sinh()

    jvp = vjp


@register("arcsin")
class Arcsin(Elementwise):
    """y = arcsin(a), |a| ≤ 1.   VJP: ā = g / √(1 - a²)  (±inf at a = ±1, as in PyTorch).   JVP: ẏ = ȧ / √(1 - a²)."""

    forward = staticmethod(np.arcsin)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return g / (1 - a * a).sqrt()

    jvp = vjp


@register("arccos")
class Arccos(Elementwise):
    """y = arccos(a), |a| ≤ 1.   VJP: ā = -g / √(1 - a²)  (∓inf at a = ±1).   JVP: ẏ = -ȧ / √(1 - a²)."""

    forward = staticmethod(np.arccos)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return -g / (1 - a * a).sqrt()

    jvp = vjp


@register("arctan")
class Arctan(Elementwise):
    """y = arctan(a).   VJP: ā = g / (1 + a²).   JVP: ẏ = ȧ / (1 + a²)."""

    forward = staticmethod(np.arctan)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return g / (1 + a * a)

    jvp = vjp


@register("arctan2")
class Arctan2(Elementwise):
    """y = atan2(a, b), the angle of the point (b, a).   VJP: ā = g b / (a² + b²), b̄ = -g a / (a² + b²)
    (both 0 at a = b = 0, where atan2 jumps, as in PyTorch).   JVP: ẏ = (ȧ b - ḃ a) / (a² + b²)."""

    forward = staticmethod(np.arctan2)

    def vjp(self, i, g, y):
        a, b = self.inputs
        r = a.hypot(b)  # b / (a² + b²) as b / r / r: no underflow of a² + b² for tiny a and b
        r1 = nonzero_or_one(r)
        slope = b / r1 / r1 if i == 0 else -a / r1 / r1
        return g * where(r == 0, 0.0, slope)

    jvp = vjp


@register("square")
class Square(Elementwise):
    """y = a².   VJP: ā = 2 g a.   JVP: ẏ = 2 ȧ a."""

    forward = staticmethod(np.square)

    def vjp(self, i, g, y):
        return g * self.inputs[0] * 2

    jvp = vjp


@register("log1p")
class Log1p(Elementwise):
    """y = log(1 + a), accurate for small a (NumPy's log1p).   VJP: ā = g / (1 + a).   JVP: ẏ = ȧ / (1 + a)."""

    forward = staticmethod(np.log1p)

    def vjp(self, i, g, y):
        return g / (self.inputs[0] + 1)

    jvp = vjp


@register("expm1")
class Expm1(Elementwise):
    """y = exp(a) - 1, accurate for small a (NumPy's expm1).   VJP: ā = g exp(a)  (not g (y + 1), which
    cancels for a ≪ 0).   JVP: ẏ = ȧ exp(a)."""

    forward = staticmethod(np.expm1)

    def vjp(self, i, g, y):
        return g * self.inputs[0].exp()

    jvp = vjp


@register("log2")
class Log2(Elementwise):
    """y = log₂(a).   VJP: ā = g / (a ln 2).   JVP: ẏ = ȧ / (a ln 2)."""

    forward = staticmethod(np.log2)

    def vjp(self, i, g, y):
        return g / (self.inputs[0] * LN2)

    jvp = vjp


@register("log10")
class Log10(Elementwise):
    """y = log₁₀(a).   VJP: ā = g / (a ln 10).   JVP: ẏ = ȧ / (a ln 10)."""

    forward = staticmethod(np.log10)

    def vjp(self, i, g, y):
        return g / (self.inputs[0] * LN10)

    jvp = vjp


@register("exp2")
class Exp2(Elementwise):
    """y = 2^a.   VJP: ā = g y ln 2.   JVP: ẏ = ȧ y ln 2."""

    forward = staticmethod(np.exp2)

    def vjp(self, i, g, y):
        return g * y * LN2

    jvp = vjp


@register("logaddexp")
class LogAddExp(Elementwise):
    """y = log(exp(a) + exp(b)), max-shifted (NumPy's logaddexp).   VJP: ā = g exp(a - y), b̄ = g exp(b - y)
    (where y = ±inf, the inputs equal to y share g evenly: ½ each for a = b = -inf, as for ties of
    maximum, instead of NaN).   JVP: ẏ = ȧ exp(a - y) + ḃ exp(b - y)."""

    forward = staticmethod(np.logaddexp)

    def weight(self, i: int, y: Tensor) -> Tensor:
        """∂y/∂(input i) = exp(xᵢ - y); at infinite y, [xᵢ = y] / #{inputs = y}."""
        a, b = self.inputs
        x = self.inputs[i]
        infinite = y.abs() == INF
        ties = (a == y).astype(y.dtype) + (b == y).astype(y.dtype)
        share = (x == y).astype(y.dtype) / nonzero_or_one(ties)
        gap = where(infinite, 0.0, x) - where(infinite, 0.0, y)  # (never inf - inf)
        return where(infinite, share, gap.exp())

    def vjp(self, i, g, y):
        return g * self.weight(i, y)

    jvp = vjp


@register("softplus")
class Softplus(Elementwise):
    """y = log(1 + exp(β a)) / β, as logaddexp(β a, 0) / β (no overflow).   VJP: ā = g sigmoid(β a).
    JVP: ẏ = ȧ sigmoid(β a)."""

    beta = 1.0  # (the default when the op is applied without it)

    @staticmethod
    def forward(a, beta=1.0):
        if not beta > 0:
            raise ValueError(f"softplus: beta must be positive, got {beta}")
        if beta == 1.0:
            return np.logaddexp(a, 0)
        return np.logaddexp(a * beta, 0) / beta

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return g * (a if self.beta == 1.0 else a * self.beta).sigmoid()

    jvp = vjp


@register("gelu")
class GELU(Elementwise):
    """y = a Φ(a) = a erfc(-a/√2) / 2 (approximate="none", PyTorch's default), or a·sigmoid(2u) =
    a (1 + tanh u) / 2, u = √(2/π) (a + 0.044715 a³) (approximate="tanh").   VJP: ā = g (Φ(a) + a φ(a)),
    φ(a) = e^(-a²/2)/√(2π); tanh form: ā = g (s + 2 a s (1 - s) u'), s = sigmoid(2u).   JVP: the same in ȧ.
    (Φ through erfc, no cancellation in 1 + erf for a ≪ 0; the forward's Φ in float64.)"""

    approximate = "none"

    @staticmethod
    def forward(a, approximate="none"):
        # Φ in float64: for a ≪ 0 it amplifies the rounding of its argument ~a² times
        w = a.astype(np.float64, copy=False)
        if approximate == "none":
            phi = erfc(w * -INV_SQRT2) * 0.5
        elif approximate == "tanh":
            phi = Sigmoid.forward((w + w * w * w * GELU_TANH_C) * (2 * GELU_TANH_K))
        else:
            raise ValueError(f"gelu: approximate must be 'none' or 'tanh', got {approximate!r}")
        return a * phi.astype(a.dtype, copy=False)

    def slope(self) -> Tensor:
        """dy/da."""
        a = self.inputs[0]
        if self.approximate == "none":
            return (a * -INV_SQRT2).erfc() * 0.5 + a * (a * a * -0.5).exp() * INV_SQRT_2PI
        s = ((a + a * a * a * GELU_TANH_C) * (2 * GELU_TANH_K)).sigmoid()
        du = (a * a * (3 * GELU_TANH_C) + 1) * (2 * GELU_TANH_K)  # d(2u)/da
        return s + a * s * (1 - s) * du

    def vjp(self, i, g, y):
        return g * self.slope()

    jvp = vjp


@register("silu")
class SiLU(Elementwise):
    """y = a sigmoid(a) (swish).   VJP: ā = g s (1 + a (1 - s)), s = sigmoid(a).   JVP: the same in ȧ."""

    @staticmethod
    def forward(a):
        return a * Sigmoid.forward(a)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        s = a.sigmoid()
        return g * s * (a * (1 - s) + 1)

    jvp = vjp


@register("mish")
class Mish(Elementwise):
    """y = a tanh(softplus(a)).   VJP: ā = g (t + a (1 - t²) sigmoid(a)), t = tanh(softplus(a)).
    JVP: the same in ȧ."""

    @staticmethod
    def forward(a):
        return a * np.tanh(np.logaddexp(a, 0))

    def vjp(self, i, g, y):
        a = self.inputs[0]
        t = a.softplus().tanh()
        return g * (t + a * (1 - t * t) * a.sigmoid())

    jvp = vjp


@register("elu")
class ELU(Elementwise):
    """y = a if a > 0 else α (exp(a) - 1).   VJP: ā = g if a > 0 else g α exp(a)  (ELU'(0) = α, the left
    piece, as in PyTorch).   JVP: the same in ȧ."""

    alpha = 1.0

    @staticmethod
    def forward(a, alpha=1.0):
        return np.where(a > 0, a, np.expm1(np.minimum(a, 0)) * alpha).astype(a.dtype, copy=False)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        positive = a > 0
        return where(positive, g, g * where(positive, 0.0, a).exp() * self.alpha)  # (exp never overflows)

    jvp = vjp


@register("relu6")
class ReLU6(Elementwise):
    """y = min(max(a, 0), 6).   VJP: ā = g·[0 < a < 6]  (0 at both kinks, as PyTorch's relu6).
    JVP: ẏ = ȧ·[0 < a < 6]."""

    @staticmethod
    def forward(a):
        return np.minimum(np.maximum(a, 0), 6).astype(a.dtype, copy=False)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return where(a > 0, where(a < 6, g, 0.0), 0.0)

    jvp = vjp


@register("hardswish")
class Hardswish(Elementwise):
    """y = a·relu6(a + 3)/6: 0 for a ≤ -3, a (a + 3)/6 between, a for a ≥ 3.   VJP: ā = g·(0 if a ≤ -3,
    a/3 + ½ if -3 < a < 3, 1 if a ≥ 3)  (at ±3 the outer pieces' slopes 0 and 1, as in PyTorch).
    JVP: the same in ȧ."""

    @staticmethod
    def forward(a):
        return a * (np.minimum(np.maximum(a + 3, 0), 6) / 6)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return where(a <= -3, 0.0, where(a >= 3, g, g * (a / 3 + 0.5)))

    jvp = vjp


@register("erf")
class Erf(Elementwise):
    """y = erf(a) = 2/√π ∫₀ᵃ e^(-s²) ds (SciPy's, else ``special.erf_numpy``).   VJP: ā = g 2/√π e^(-a²).
    JVP: ẏ = ȧ 2/√π e^(-a²)."""

    @staticmethod
    def forward(a):
        return erf(a)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return g * (-(a * a)).exp() * TWO_OVER_SQRT_PI

    jvp = vjp


@register("erfc")
class Erfc(Elementwise):
    """y = erfc(a) = 1 - erf(a), accurate where erf(a) ≈ 1 (SciPy's, else ``special.erfc_numpy``).
    VJP: ā = -g 2/√π e^(-a²).   JVP: ẏ = -ȧ 2/√π e^(-a²)."""

    @staticmethod
    def forward(a):
        return erfc(a)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return g * (-(a * a)).exp() * -TWO_OVER_SQRT_PI

    jvp = vjp


@register("hypot")
class Hypot(Elementwise):
    """y = √(a² + b²) without overflow (NumPy's hypot).   VJP: ā = g a / y, b̄ = g b / y  (0 at a = b = 0,
    the subgradient of the 2-norm at 0, as for ``norm``).   JVP: ẏ = (ȧ a + ḃ b) / y, 0 at y = 0."""

    forward = staticmethod(np.hypot)

    def vjp(self, i, g, y):
        x = self.inputs[i]
        return where(y == 0, 0.0, g * x / nonzero_or_one(y))

    jvp = vjp
