"""Ops that move entries without arithmetic: reshape, transpose, expand, indexing, joins.

Their rules move the gradient (or tangent) the opposite way (VJP) or the same way (JVP).
Views (reshape, transpose, expand, indexing) share their input's version counter, so an
in-place write to either is seen by a graph that saved the other.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Function, Tensor, register
from .reduce import normalize_axes


@register("reshape")
class Reshape(Function):
    """y = a viewed with a new shape.   VJP: ā = reshape(g, a.shape).   JVP: ẏ = reshape(ȧ, shape)."""

    is_view = True

    @staticmethod
    def forward(a, shape):
        try:
            return a.reshape(shape)
        except ValueError:  # also a -1 that cannot be inferred: name the op and both shapes
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into {tuple(shape)}") from None

    def vjp(self, i, g, y):
        return g.reshape(self.inputs[0].shape)

    def jvp(self, i, t, y):
        return t.reshape(y.shape)


@register("transpose")
class Transpose(Function):
    """y = a with permuted axes.   VJP: ā = transpose(g, inverse permutation).   JVP: ẏ = transpose(ȧ, axes)."""

    is_view = True

    @staticmethod
    def forward(a, axes):
        try:
            return a.transpose(axes)
        except ValueError:
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation for shape {a.shape}") from None

    def vjp(self, i, g, y):
        return g.transpose(np.argsort([ax % g.ndim for ax in self.axes]).tolist())

    def jvp(self, i, t, y):
        return t.transpose(self.axes)


@register("expand")
class Expand(Function):
    """y = broadcast_to(a, shape).   VJP: ā = g summed back to a's shape (the engine's un-broadcast).
    JVP: ẏ = broadcast_to(ȧ, shape)."""

    is_view = True

    @staticmethod
    def forward(a, shape):
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {a.shape} to {tuple(shape)}") from None

    def vjp(self, i, g, y):
        return g

    def jvp(self, i, t, y):
        return t.expand(self.shape)


def picks_each_once(index: Any) -> bool:
    """True unless the index holds an integer array (ints, slices, None, Ellipsis and boolean masks
    select each entry at most once, so scattering back can assign instead of add)."""
    parts = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(p, np.ndarray) and p.dtype.kind != "b" for p in parts)


@register("getitem")
class GetItem(Function):
    """y = a[index] (basic slicing, integer or boolean arrays).   VJP: ā = scatter_add(zeros(a.shape), index, g)
    (an index repeated in an integer array accumulates).   JVP: ẏ = ȧ[index]."""

    is_view = True  # (a copy for array indices: sharing the counter then is only conservative)

    @staticmethod
    def forward(a, index):
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {a.shape})") from None

    def vjp(self, i, g, y):
        return Tensor.apply("scatter_add", g, index=self.index, shape=self.inputs[0].shape)

    def jvp(self, i, t, y):
        return t[self.index]


@register("scatter_add")
class ScatterAdd(Function):
    """y = zeros(shape) with g added at index (repeats accumulate).   VJP: ḡ = ȳ[index].
    JVP: ẏ = scatter_add(ġ, index).   The transpose of getitem: each is the other's VJP."""

    @staticmethod
    def forward(g, index, shape):
        out = np.zeros(shape, dtype=g.dtype)
        if picks_each_once(index):
            out[index] = g  # each entry picked at most once: plain assignment
        else:
            np.add.at(out, index, g)
        return out

    def vjp(self, i, g, y):
        return g[self.index]

    def jvp(self, i, t, y):
        return Tensor.apply("scatter_add", t, index=self.index, shape=self.shape)


@register("concatenate")
class Concatenate(Function):
    """y = concatenate(a₁..a_k, axis).   VJP: āᵢ = g[the slice of aᵢ along axis].
    JVP: ẏ = concatenate(ȧ₁..ȧ_k) (input i's share: ȧᵢ in its slice, zeros elsewhere)."""

    @staticmethod
    def forward(*arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate: need at least one tensor")
        try:
            return np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} do not match except on axis {axis}") from None

    def slot(self, i: int, ndim: int) -> tuple:
        """The index of input i's entries in the output."""
        ax = normalize_axes(self.axis, ndim, "concatenate")[0]
        sizes = [x.shape[ax] for x in self.inputs]
        lo = int(np.sum(sizes[:i]))
        return (slice(None),) * ax + (slice(lo, lo + sizes[i]),)

    def vjp(self, i, g, y):
        return g[self.slot(i, g.ndim)]

    def jvp(self, i, t, y):
        return Tensor.apply("scatter_add", t, index=self.slot(i, y.ndim), shape=y.shape)


@register("stack")
class Stack(Function):
    """y = stack(a₁..a_k, axis) (a new axis).   VJP: āᵢ = g[..., i, ...] along axis.
    JVP: ẏ = stack(ȧ₁..ȧ_k) (input i's share: ȧᵢ at position i, zeros elsewhere)."""

    @staticmethod
    def forward(*arrays, axis=0):
        if not arrays:
            raise ValueError("stack: need at least one tensor")
        if len({a.shape for a in arrays}) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
        return np.stack(arrays, axis=axis)

    def slot(self, i: int, ndim: int) -> tuple:
        return (slice(None),) * normalize_axes(self.axis, ndim, "stack")[0] + (i,)

    def vjp(self, i, g, y):
        return g[self.slot(i, g.ndim)]

    def jvp(self, i, t, y):
        return Tensor.apply("scatter_add", t, index=self.slot(i, y.ndim), shape=y.shape)
