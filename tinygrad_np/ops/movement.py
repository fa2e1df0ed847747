"""Ops that move entries without arithmetic: reshape, transpose, expand, indexing, joins.

Their rules move the gradient (or tangent) the opposite way (VJP) or the same way (JVP).
Views (reshape, transpose, expand, indexing) share their input's version counter, so an
in-place write to either is seen by a graph that saved the other.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..batching import batch_size, front, shift, stacked
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

    @classmethod
    def batch(cls, values, bdims, params, level):
        v = front(values[0], bdims[0])
        return v.reshape((v.shape[0],) + tuple(params["shape"])), 0


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

    @classmethod
    def batch(cls, values, bdims, params, level):
        v = front(values[0], bdims[0])
        return v.transpose((0,) + tuple(a % (v.ndim - 1) + 1 for a in params["axes"])), 0


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

    @classmethod
    def batch(cls, values, bdims, params, level):
        """The example's axes padded with size-1 axes to the target's rank, then broadcast."""
        v, shape = front(values[0], bdims[0]), tuple(params["shape"])
        v = v.reshape(v.shape[:1] + (1,) * (len(shape) - v.ndim + 1) + v.shape[1:])
        return v.expand(v.shape[:1] + shape), 0


def batched_index(index: Any) -> tuple[tuple, int]:
    """An example's index applied to a stack with the batch axis first: the index with a full
    slice in front, and where the batch axis ends up (NumPy moves the axes of advanced indices
    that are not next to each other in front of all others)."""
    parts = index if isinstance(index, tuple) else (index,)
    advanced = [k for k, p in enumerate(parts) if isinstance(p, np.ndarray) or isinstance(p, (list, bool, np.bool_))]
    apart = bool(advanced) and advanced[-1] - advanced[0] + 1 != len(advanced)
    if not apart:
        return (slice(None),) + parts, 0
    arrays = [np.asarray(parts[k]) for k in advanced]
    ndim = len(np.broadcast_shapes(*[a.shape if a.dtype.kind != "b" else (int(a.sum()),) for a in arrays]))
    return (slice(None),) + parts, ndim


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

    @classmethod
    def batch(cls, values, bdims, params, level):
        index, bdim = batched_index(params["index"])
        return Tensor.apply(cls, front(values[0], bdims[0]), index=index), bdim


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

    @classmethod
    def batch(cls, values, bdims, params, level):
        """The examples' g, arranged as ``getitem`` of the stack would return them, scattered at once."""
        index, bdim = batched_index(params["index"])
        g = front(values[0], bdims[0])
        if bdim:  # the index puts the batch axis after the advanced-index axes: arrange g so
            g = g.transpose(list(range(1, bdim + 1)) + [0] + list(range(bdim + 1, g.ndim)))
        size = values[0].shape[bdims[0]]
        return Tensor.apply(cls, g, index=index, shape=(size,) + tuple(params["shape"])), 0


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

    @classmethod
    def batch(cls, values, bdims, params, level):
        size = batch_size(values, bdims)
        args = [stacked(v, b, size) for v, b in zip(values, bdims)]
        return Tensor.apply(cls, *args, axis=params.get("axis", 0) % (args[0].ndim - 1) + 1), 0


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

    @classmethod
    def batch(cls, values, bdims, params, level):
        size = batch_size(values, bdims)
        args = [stacked(v, b, size) for v, b in zip(values, bdims)]
        return Tensor.apply(cls, *args, axis=params.get("axis", 0) % args[0].ndim + 1), 0


# ----------------------------------------------------------------------------- flip, roll, repeat, tril, triu
@register("flip")
class Flip(Function):
    """y = a reversed along axis (an int, a tuple, or None: every axis).   VJP: ā = flip(g, axis).
    JVP: ẏ = flip(ȧ, axis)."""

    is_view = True

    @staticmethod
    def forward(a, axis=None):
        return np.flip(a, normalize_axes(axis, a.ndim, "flip"))

    def vjp(self, i, g, y):
        return Tensor.apply("flip", g, axis=self.axis)

    jvp = vjp

    @classmethod
    def batch(cls, values, bdims, params, level):
        v = front(values[0], bdims[0])
        axis = params.get("axis")
        axis = tuple(range(1, v.ndim)) if axis is None else shift(axis, max(v.ndim - 1, 1))
        return Tensor.apply(cls, v, axis=axis), 0


def negated(shift_: int | tuple[int, ...]) -> int | tuple[int, ...]:
    return tuple(-s for s in shift_) if isinstance(shift_, tuple) else -shift_


@register("roll")
class Roll(Function):
    """y = a shifted by shift along axis, the entries pushed off one end coming back at the other
    (shift and axis ints or tuples, broadcast together as in NumPy; axis None: a flattened, rolled,
    reshaped).   VJP: ā = roll(g, -shift).   JVP: ẏ = roll(ȧ, shift)."""

    @staticmethod
    def forward(a, shift, axis=None):
        return np.roll(a, shift, axis)

    def vjp(self, i, g, y):
        return Tensor.apply("roll", g, shift=negated(self.shift), axis=self.axis)

    def jvp(self, i, t, y):
        return Tensor.apply("roll", t, shift=self.shift, axis=self.axis)

    @classmethod
    def batch(cls, values, bdims, params, level):
        """Along the shifted axes of the stack; axis None: each example flattened, rolled along axis 1."""
        v = front(values[0], bdims[0])
        axis = params.get("axis")
        if axis is None:
            flat = Tensor.apply(cls, v.reshape(v.shape[0], -1), shift=params["shift"], axis=1)
            return flat.reshape(v.shape), 0
        return Tensor.apply(cls, v, shift=params["shift"], axis=shift(axis, max(v.ndim - 1, 1))), 0


@register("repeat")
class Repeat(Function):
    """y = a with each entry repeated along axis, r times (r an int) or rₖ times for entry k (r a
    tuple); axis None: of a flattened (np.repeat).   VJP: āₖ = the sum of g over entry k's copies.
    JVP: ẏ = repeat(ȧ)."""

    @staticmethod
    def forward(a, repeats, axis=None):
        return np.repeat(a, repeats, axis)

    def vjp(self, i, g, y):
        a = self.inputs[0]
        shape = (a.size,) if self.axis is None else a.shape
        ax = 0 if self.axis is None else self.axis % a.ndim
        counts = np.asarray(self.repeats).reshape(-1)
        if counts.size == 1:  # the same count r for every entry: the copies are an axis of their own
            copies = g.reshape(shape[:ax] + (shape[ax], int(counts[0])) + shape[ax + 1:])
            return copies.sum(ax + 1).reshape(a.shape)
        index = (slice(None),) * ax + (np.repeat(np.arange(shape[ax]), counts),)
        return Tensor.apply("scatter_add", g, index=index, shape=shape).reshape(a.shape)

    def jvp(self, i, t, y):
        return Tensor.apply("repeat", t, repeats=self.repeats, axis=self.axis)

    @classmethod
    def batch(cls, values, bdims, params, level):
        v = front(values[0], bdims[0])
        axis = params.get("axis")
        if axis is None:
            return Tensor.apply(cls, v.reshape(v.shape[0], -1), repeats=params["repeats"], axis=1), 0
        return Tensor.apply(cls, v, repeats=params["repeats"], axis=shift(axis, max(v.ndim - 1, 1))), 0


class Triangle(Function):
    """Base of tril and triu: a fixed 0/1 mask on the last two axes (a 1-D input is broadcast to a
    square first, as NumPy does), so the VJP and the JVP apply the same mask."""

    mask = staticmethod(np.tril)

    @classmethod
    def forward(cls, a, k=0):
        if a.ndim == 0:
            raise ValueError(f"{cls.op_name}: needs at least 1 dim, got a 0-d tensor")
        return cls.mask(a, k)

    def vjp(self, i, g, y):
        return Tensor.apply(type(self), g, k=self.k)  # a 1-D input's VJP: summed over the rows by the engine

    jvp = vjp

    @classmethod
    def batch(cls, values, bdims, params, level):
        v = front(values[0], bdims[0])
        if v.ndim == 2:  # 1-D examples: each broadcast to its square first
            v = v.reshape(v.shape[0], 1, v.shape[1]).expand(v.shape[0], v.shape[1], v.shape[1])
        return Tensor.apply(cls, v, **params), 0


@register("tril")
class Tril(Triangle):
    """y = a with the entries above the k-th diagonal set to 0 (on the last two axes).
    VJP: ā = tril(g, k).   JVP: ẏ = tril(ȧ, k)."""

    mask = staticmethod(np.tril)


@register("triu")
class Triu(Triangle):
    """y = a with the entries below the k-th diagonal set to 0 (on the last two axes).
    VJP: ā = triu(g, k).   JVP: ẏ = triu(ȧ, k)."""

    mask = staticmethod(np.triu)
