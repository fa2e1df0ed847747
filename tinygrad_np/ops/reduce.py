"""Reductions over ``axis`` (int, tuple or None = all) with ``keepdims``, plus softmax family.

A reduction's VJP spreads g back over the reduced axes: ``expand_back`` reshapes g to the
keepdims shape and broadcasts it to the input's shape.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..autograd import Op, register, run_op
from ..tensor import Tensor
from .elementwise import const, data


def normalize_axes(axis: int | Sequence[int] | None, ndim: int, op: str) -> tuple[int, ...]:
    """``axis`` as a sorted tuple of non-negative ints; a ValueError naming the op if out of range."""
    if axis is None:
        return tuple(range(ndim))
    if type(axis) is int and -ndim <= axis < ndim:  # fast path for the common case
        return (axis % ndim,)
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
    """The shape with reduced axes kept as size 1."""
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


class Reduction(Op):
    def setup(self, a: np.ndarray, axis, keepdims: bool) -> None:
        self.axes = normalize_axes(axis, a.ndim, self.op_name)  # type: ignore[attr-defined]
        self.keepdims = keepdims
        self.kshape = kept_shape(a.shape, self.axes)

    def expand_back(self, g: Tensor | np.ndarray) -> Tensor | np.ndarray:
        """g (reduced shape) -> input shape, by keepdims-reshape and broadcast."""
        return run_op("expand", g.reshape(self.kshape), shape=self.inputs[0].shape)

    def kept(self, y: Tensor | np.ndarray) -> Tensor | np.ndarray:
        return y.reshape(self.kshape)


@register("sum")
class Sum(Reduction):
    """y = Σ_axis a.   VJP: ā = broadcast(g)."""

    def forward(self, a, axis=None, keepdims=False):
        self.setup(a, axis, keepdims)
        return a.sum(axis=self.axes, keepdims=keepdims)

    def backward(self, g, out):
        return (self.expand_back(g),)


@register("mean")
class Mean(Reduction):
    """y = Σ_axis a / n.   VJP: ā = broadcast(g) / n."""

    def forward(self, a, axis=None, keepdims=False):
        self.setup(a, axis, keepdims)
        self.n = int(np.prod([a.shape[i] for i in self.axes]))
        return a.mean(axis=self.axes, keepdims=keepdims)

    def backward(self, g, out):
        return (self.expand_back(g) / self.n,)


@register("var")
class Var(Reduction):
    """y = Σ_axis (a - mean(a))² / (n - ddof).   VJP: ā = broadcast(g) · 2(a - mean(a)) / (n - ddof)."""

    def forward(self, a, axis=None, keepdims=False, ddof=0):
        self.setup(a, axis, keepdims)
        self.n = int(np.prod([a.shape[i] for i in self.axes]))
        self.ddof = ddof
        if self.n - ddof <= 0:
            raise ValueError(f"var: {self.n} elements with ddof={ddof}")
        return np.var(a, axis=self.axes, keepdims=keepdims, ddof=ddof)

    def backward(self, g, out):
        a = self.operands(g)[0]
        centered = a - a.mean(axis=self.axes, keepdims=True)
        return (self.expand_back(g) * centered * (2 / (self.n - self.ddof)),)


class Extremum(Reduction):
    """Shared VJP of max and min: g flows to the arg-extremum; ties split g evenly."""

    pick = staticmethod(np.max)

    def forward(self, a, axis=None, keepdims=False):
        self.setup(a, axis, keepdims)
        if a.size == 0:
            raise ValueError(f"{self.op_name}: reduction of an empty tensor")  # type: ignore[attr-defined]
        return self.pick(a, axis=self.axes, keepdims=keepdims)

    def backward(self, g, out):
        hit = self.inputs[0].data == data(out).reshape(self.kshape)
        share = hit / hit.sum(axis=self.axes, keepdims=True)
        return (self.expand_back(g) * const(share, g),)


@register("max")
class Max(Extremum):
    """y = max_axis a.   VJP: ā = broadcast(g) · [a = y] / #{a = y}  (ties share g evenly)."""

    pick = staticmethod(np.max)


@register("min")
class Min(Extremum):
    """y = min_axis a.   VJP: ā = broadcast(g) · [a = y] / #{a = y}  (ties share g evenly)."""

    pick = staticmethod(np.min)


def _stable_logsumexp(a: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log Σ exp(a) with the max shifted out (keepdims shape); all -inf rows give -inf."""
    m = np.max(a, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(a.dtype, copy=False)
    return np.log(np.sum(np.exp(a - m), axis=axes, keepdims=True)) + m


@register("logsumexp")
class LogSumExp(Reduction):
    """y = log Σ_axis exp(a), max-shifted.   VJP: ā = broadcast(g) · exp(a - y)  (= g · softmax(a))."""

    def forward(self, a, axis=None, keepdims=False):
        self.setup(a, axis, keepdims)
        y = _stable_logsumexp(a, self.axes)
        return y if keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in self.axes])

    def backward(self, g, out):
        a = self.operands(g)[0]
        return (self.expand_back(g) * run_op("exp", a - self.kept(out)),)


@register("softmax")
class Softmax(Op):
    """y = exp(a - logsumexp(a)) along axis.   VJP: ā = y · (g - Σ_axis g y)."""

    def forward(self, a, axis=-1):
        self.axis = normalize_axes(axis, a.ndim, "softmax")
        e = np.exp(a - np.max(a, axis=self.axis, keepdims=True))
        return e / np.sum(e, axis=self.axis, keepdims=True)

    def backward(self, g, out):
        return (out * (g - (g * out).sum(axis=self.axis, keepdims=True)),)


@register("log_softmax")
class LogSoftmax(Op):
    """y = a - logsumexp(a) along axis.   VJP: ā = g - exp(y) · Σ_axis g."""

    def forward(self, a, axis=-1):
        self.axis = normalize_axes(axis, a.ndim, "log_softmax")
        return a - _stable_logsumexp(a, self.axis)

    def backward(self, g, out):
        return (g - run_op("exp", out) * g.sum(axis=self.axis, keepdims=True),)
