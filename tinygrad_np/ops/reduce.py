"""Reductions over ``axis`` (an int, a tuple, or None for all) with ``keepdims``, and the softmax family.

A reduction's VJP spreads ``g`` back over the reduced axes (``spread``: reshape to the keepdims
shape, then broadcast to the input's shape); its JVP reduces the tangent the same way as the
forward reduces the input.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..batching import along_axis, front, reduction
from ..engine import Function, Tensor, register
from ..functions import where


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative ints; a ValueError naming the op if out of range."""
    if axis is None:
        return tuple(range(ndim))
    axes = (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    out = []
    for ax in axes:
        if not -ndim <= ax < max(ndim, 1):
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % max(ndim, 1))
    if len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis}")
    return tuple(sorted(out))


def kept_shape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    """The shape with the reduced axes kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Reduction(Function):
    """Base of the reductions: ``axes`` of the input, and ``spread``/``kept`` for the rules.
    Under vmap the axes shift past the batch axis (``batching.reduction``)."""

    batch = classmethod(reduction)

    def axes(self) -> tuple[int, ...]:
        return normalize_axes(self.axis, self.inputs[0].ndim, self.op_name)

    def kept(self, t: Tensor) -> Tensor:
        """A reduced tensor reshaped to the keepdims shape (it then broadcasts against the input)."""
        return t.reshape(kept_shape(self.inputs[0].shape, self.axes()))

    def spread(self, g: Tensor) -> Tensor:
        """g (the reduced shape) broadcast back to the input's shape."""
        return self.kept(g).expand(self.inputs[0].shape)

    def count(self) -> int:
        """How many entries each output reduces."""
        shape = self.inputs[0].shape
        return int(np.prod([shape[i] for i in self.axes()]))


@register("sum")
class Sum(Reduction):
    """y = Σ_axis a.   VJP: ā = broadcast(g).   JVP: ẏ = Σ_axis ȧ."""

    @staticmethod
    def forward(a, axis=None, keepdims=False):
        return np.sum(a, axis=normalize_axes(axis, a.ndim, "sum"), keepdims=keepdims)

    def vjp(self, i, g, y):
        return self.spread(g)

    def jvp(self, i, t, y):
        return t.sum(self.axis, self.keepdims)


@register("mean")
class Mean(Reduction):
    """y = Σ_axis a / n.   VJP: ā = broadcast(g) / n.   JVP: ẏ = Σ_axis ȧ / n."""

    @staticmethod
    def forward(a, axis=None, keepdims=False):
        return np.mean(a, axis=normalize_axes(axis, a.ndim, "mean"), keepdims=keepdims)

    def vjp(self, i, g, y):
        return self.spread(g) / self.count()

    def jvp(self, i, t, y):
        return t.mean(self.axis, self.keepdims)


@register("var")
class Var(Reduction):
    """y = Σ_axis (a - ā)² / (n - ddof), ā the mean.   VJP: ā = broadcast(g) · 2(a - ā) / (n - ddof).
    JVP: ẏ = Σ_axis 2(a - ā) ȧ / (n - ddof)."""

    @staticmethod
    def forward(a, axis=None, keepdims=False, ddof=0):
        axes = normalize_axes(axis, a.ndim, "var")
        if int(np.prod([a.shape[i] for i in axes])) - ddof <= 0:
            raise ValueError(f"var: {int(np.prod([a.shape[i] for i in axes]))} elements with ddof={ddof}")
        return np.var(a, axis=axes, keepdims=keepdims, ddof=ddof)

    def slope(self) -> Tensor:
        """∂y/∂a = 2(a - mean(a)) / (n - ddof), in the input's shape."""
        a = self.inputs[0]
        return (a - a.mean(self.axes(), keepdims=True)) * (2 / (self.count() - self.ddof))

    def vjp(self, i, g, y):
        return self.spread(g) * self.slope()

    def jvp(self, i, t, y):
        return (t * self.slope()).sum(self.axis, self.keepdims)


@register("std")
class Std(Var):
    """y = √var(a).   VJP: ā = var's VJP of g / (2y), taken as 0 where y = 0 (as PyTorch: the std of
    one element, or of equal elements, passes no gradient instead of NaN).   JVP: ẏ = var's JVP / (2y),
    0 where y = 0."""

    @staticmethod
    def forward(a, axis=None, keepdims=False, ddof=0):
        return np.sqrt(Var.forward(a, axis, keepdims, ddof))

    def vjp(self, i, g, y):
        return super().vjp(i, safe_half_over(g, y), y)

    def jvp(self, i, t, y):
        return safe_half_over(super().jvp(i, t, y), y)


def safe_half_over(g: Tensor, y: Tensor) -> Tensor:
    """g / (2y) where y ≠ 0, else 0 (no division by zero is evaluated)."""
    zero = y == 0
    return where(zero, 0.0, g / (where(zero, 1.0, y) * 2))


class Extremum(Reduction):
    """Shared rules of max and min: g flows to the entries equal to the extremum, shared evenly."""

    def share(self, y: Tensor) -> Tensor:
        """[a = y] / #{a = y}: where the extremum is, each of t tied entries weighted 1/t."""
        hit = (self.inputs[0] == self.kept(y)).astype(y.dtype)
        return hit / hit.sum(self.axes(), keepdims=True)

    def vjp(self, i, g, y):
        return self.spread(g) * self.share(y)

    def jvp(self, i, t, y):
        return (t * self.share(y)).sum(self.axis, self.keepdims)


@register("max")
class Max(Extremum):
    """y = max_axis a.   VJP: ā = broadcast(g) · [a = y] / #{a = y}  (ties share g evenly).
    JVP: ẏ = Σ_axis ȧ · [a = y] / #{a = y}."""

    @staticmethod
    def forward(a, axis=None, keepdims=False):
        if a.size == 0:
            raise ValueError("max: reduction of an empty tensor")
        return np.max(a, axis=normalize_axes(axis, a.ndim, "max"), keepdims=keepdims)


@register("min")
class Min(Extremum):
    """y = min_axis a.   VJP: ā = broadcast(g) · [a = y] / #{a = y}  (ties share g evenly).
    JVP: ẏ = Σ_axis ȧ · [a = y] / #{a = y}."""

    @staticmethod
    def forward(a, axis=None, keepdims=False):
        if a.size == 0:
            raise ValueError("min: reduction of an empty tensor")
        return np.min(a, axis=normalize_axes(axis, a.ndim, "min"), keepdims=keepdims)


def stable_logsumexp(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log Σ exp(a) over ``axes`` with the max shifted out (keepdims shape); an all -inf row gives -inf."""
    m = np.max(a, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
    return np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m


@register("logsumexp")
class LogSumExp(Reduction):
    """y = log Σ_axis exp(a), max-shifted.   VJP: ā = broadcast(g) · exp(a - y)  (= g · softmax(a)).
    JVP: ẏ = Σ_axis ȧ · exp(a - y)."""

    @staticmethod
    def forward(a, axis=None, keepdims=False):
        axes = normalize_axes(axis, a.ndim, "logsumexp")
        y = stable_logsumexp(a, axes)
        return y if keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    def weights(self, y: Tensor) -> Tensor:
        return (self.inputs[0] - self.kept(y)).exp()

    def vjp(self, i, g, y):
        return self.spread(g) * self.weights(y)

    def jvp(self, i, t, y):
        return (t * self.weights(y)).sum(self.axis, self.keepdims)


@register("softmax")
class Softmax(Function):
    """y = exp(a - logsumexp(a)) along axis.   VJP: ā = y · (g - Σ_axis g y).   JVP: ẏ = y · (ȧ - Σ_axis ȧ y)."""

    batch = classmethod(along_axis)  # the axis shifts past the batch axis

    @staticmethod
    def forward(a, axis=-1):
        axes = normalize_axes(axis, a.ndim, "softmax")
        e = np.exp(a - np.max(a, axis=axes, keepdims=True))
        return e / np.sum(e, axis=axes, keepdims=True)

    def vjp(self, i, g, y):
        return y * (g - (g * y).sum(self.axis, keepdims=True))

    jvp = vjp


@register("log_softmax")
class LogSoftmax(Function):
    """y = (a - m) - log Σ exp(a - m) along axis, m the max (so the rounding happens at the scale of
    y, not of the max).   VJP: ā = g - exp(y) · Σ_axis g.   JVP: ẏ = ȧ - Σ_axis exp(y) ȧ."""

    batch = classmethod(along_axis)  # the axis shifts past the batch axis

    @staticmethod
    def forward(a, axis=-1):
        axes = normalize_axes(axis, a.ndim, "log_softmax")
        m = np.max(a, axis=axes, keepdims=True)
        shifted = a - np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
        return shifted - np.log(np.sum(np.exp(shifted), axis=axes, keepdims=True))

    def vjp(self, i, g, y):
        return g - y.exp() * g.sum(self.axis, keepdims=True)

    def jvp(self, i, t, y):
        return t - (y.exp() * t).sum(self.axis, keepdims=True)


class IndexReduction(Function):
    """argmax / argmin: integer results, so never recorded (nothing to differentiate)."""

    pick = staticmethod(np.argmax)

    @classmethod
    def forward(cls, a, axis=None, keepdims=False):
        return cls.pick(a, axis=axis, keepdims=keepdims)

    @classmethod
    def batch(cls, values, bdims, params, level):
        """Along one axis: shifted past the batch axis; over all axes: each example flattened."""
        v = front(values[0], bdims[0])
        ndim, axis = v.ndim - 1, params["axis"]
        if axis is not None:
            return Tensor.apply(cls, v, axis=axis % max(ndim, 1) + 1, keepdims=params["keepdims"]), 0
        out = Tensor.apply(cls, v.reshape(v.shape[0], -1), axis=1)
        return (out.reshape((v.shape[0],) + (1,) * ndim) if params["keepdims"] else out), 0


@register("argmax")
class ArgMax(IndexReduction):
    """y = the index of the largest entry along axis (of the flattened tensor if axis is None)."""

    pick = staticmethod(np.argmax)


@register("argmin")
class ArgMin(IndexReduction):
    """y = the index of the smallest entry along axis (of the flattened tensor if axis is None)."""

    pick = staticmethod(np.argmin)
