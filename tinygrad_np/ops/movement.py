"""Ops that move elements without arithmetic: reshape, transpose, expand, indexing, joins."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Op, register, run_op
from .reduce import normalize_axes


@register("reshape")
class Reshape(Op):
    """y = a viewed with a new shape.   VJP: ā = reshape(g, a.shape)."""

    def forward(self, a, shape):
        try:
            return a.reshape(shape)
        except ValueError:  # also a -1 that cannot be inferred: name the op and both shapes
            raise ValueError(f"reshape: cannot reshape a tensor of shape {a.shape} into {tuple(shape)}") from None

    def backward(self, g, out):
        return (g.reshape(self.inputs[0].shape),)


@register("transpose")
class Transpose(Op):
    """y = a with permuted axes.   VJP: ā = transpose(g, inverse permutation)."""

    def forward(self, a, axes):
        try:
            y = a.transpose(axes)
        except ValueError:
            raise ValueError(f"transpose: axes {tuple(axes)} are not a permutation for shape {a.shape}") from None
        self.inverse = tuple(np.argsort([ax % a.ndim for ax in axes]).tolist()) if a.ndim > 2 else axes
        return y

    def backward(self, g, out):
        return (run_op("transpose", g, axes=self.inverse),)


@register("expand")
class Expand(Op):
    """y = broadcast_to(a, shape).   VJP: ā = g summed back to a.shape (done by the engine's unbroadcast)."""

    def forward(self, a, shape):
        try:
            return np.broadcast_to(a, shape)
        except ValueError:
            raise ValueError(f"expand: cannot broadcast shape {a.shape} to {tuple(shape)}") from None

    def backward(self, g, out):
        return (g,)


def picks_each_once(index: Any) -> bool:
    """True unless the index holds an integer array (ints, slices, None, Ellipsis and boolean
    masks select each element at most once, so scattering back can assign instead of add)."""
    parts = index if isinstance(index, tuple) else (index,)
    return not any(isinstance(p, np.ndarray) and p.dtype.kind != "b" for p in parts)


@register("getitem")
class GetItem(Op):
    """y = a[index] (basic slicing or integer/bool arrays).   VJP: ā = scatter_add(zeros(a.shape), index, g)
    (an index repeated in an integer array accumulates)."""

    def forward(self, a, index):
        self.index = index
        try:
            return a[index]
        except IndexError as e:
            raise IndexError(f"getitem: {e} (tensor of shape {a.shape})") from None

    def backward(self, g, out):
        return (run_op("scatter_add", g, index=self.index, shape=self.inputs[0].shape),)


@register("scatter_add")
class ScatterAdd(Op):
    """y = zeros(shape) with g added at index (repeats accumulate).   VJP: ḡ = ȳ[index].

    The transpose of ``getitem``: each is the other's VJP, so gradients of any order work."""

    def forward(self, g, index, shape):
        self.index = index
        out = np.zeros(shape, dtype=g.dtype)
        if picks_each_once(index):
            out[index] = g  # each element picked at most once: plain assignment
        else:
            np.add.at(out, index, g)
        return out

    def backward(self, g, out):
        return (g[self.index],)


@register("concatenate")
class Concatenate(Op):
    """y = concatenate(a_1..a_k, axis).   VJP: ā_i = g[the slice of a_i along axis]."""

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise ValueError("concatenate: need at least one tensor")
        try:
            out = np.concatenate(arrays, axis=axis)
        except ValueError:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"concatenate: shapes {shapes} do not match except on axis {axis}") from None
        self.axis = normalize_axes(axis, out.ndim, "concatenate")[0]
        self.bounds = np.cumsum([0] + [a.shape[self.axis] for a in arrays]).tolist()
        return out

    def backward(self, g, out):
        lead = (slice(None),) * self.axis
        return tuple(
            g[lead + (slice(lo, hi),)] if need else None
            for lo, hi, need in zip(self.bounds[:-1], self.bounds[1:], self.needs_input_grad)
        )


@register("stack")
class Stack(Op):
    """y = stack(a_1..a_k, axis) (a new axis).   VJP: ā_i = g[..., i, ...] along axis."""

    def forward(self, *arrays, axis=0):
        if not arrays:
            raise ValueError("stack: need at least one tensor")
        if len({a.shape for a in arrays}) != 1:
            shapes = ", ".join(str(a.shape) for a in arrays)
            raise ValueError(f"stack: all tensors must have the same shape, got {shapes}")
        out = np.stack(arrays, axis=axis)
        self.axis = normalize_axes(axis, out.ndim, "stack")[0]
        return out

    def backward(self, g, out):
        lead = (slice(None),) * self.axis
        return tuple(g[lead + (i,)] if need else None for i, need in enumerate(self.needs_input_grad))
