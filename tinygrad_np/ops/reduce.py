"""Reductions over ``axis`` (an int, a tuple, or None for all) with ``keepdims``, and the softmax family.

A reduction's VJP spreads ``g`` back over the reduced axes (``spread``: reshape to the keepdims
shape, then broadcast to the input's shape); its JVP reduces the tangent the same way as the
forward reduces the input.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from ..batching import along_axis, front, reduction, shift
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
    """y = log Σ_axis b·exp(a), max-shifted (b = 1 if not given; SciPy's ``logsumexp(a, b=b)``: a and b
    broadcast, entries with b = 0 drop out).   VJP: ā = broadcast(g) · b exp(a - y)  (= g · softmax(a)
    without b; 0 where b = 0), b̄ = broadcast(g) · exp(a - y).   JVP: ẏ = Σ_axis (ȧ b + ḃ) exp(a - y).
    (b is an input like a: differentiated if it requires grad. A negative Σ b·exp(a) raises: its log
    is not real; a zero sum gives y = -inf.)"""

    @staticmethod
    def forward(a, b=None, axis=None, keepdims=False):
        if b is None:
            axes = normalize_axes(axis, a.ndim, "logsumexp")
            y = stable_logsumexp(a, axes)
        else:
            a, b = np.broadcast_arrays(a, b)
            axes = normalize_axes(axis, a.ndim, "logsumexp")
            y = weighted_logsumexp(a, b, axes)
        return y if keepdims else y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    def full_shape(self) -> tuple[int, ...]:
        """The shape the op reduces: a's, broadcast with b's."""
        return np.broadcast_shapes(*[x.shape for x in self.inputs])

    def kept_full(self, t: Tensor) -> Tensor:
        """A reduced tensor in the keepdims shape of the full shape."""
        full = self.full_shape()
        return t.reshape(kept_shape(full, normalize_axes(self.axis, len(full), "logsumexp")))

    def weights(self, y: Tensor) -> Tensor:
        """exp(a - y) in the full (broadcast) shape."""
        full = self.full_shape()
        e = (self.inputs[0] - self.kept_full(y)).exp()
        return e if e.shape == full else e.expand(full)

    def slope(self, i: int, y: Tensor) -> Tensor:
        """∂y/∂(input i) in the full shape: b exp(a - y) (0 where b = 0) for a, exp(a - y) for b."""
        e = self.weights(y)
        if i == 1 or len(self.inputs) == 1:
            return e
        b = self.inputs[1]
        return b * where(b == 0, 0.0, e)  # (a term with b = 0 is constant in a, even where exp(a - y) = inf)

    def vjp(self, i, g, y):
        return self.kept_full(g) * self.slope(i, y)

    def jvp(self, i, t, y):
        return (t * self.slope(i, y)).sum(self.axis, self.keepdims)

    @classmethod
    def batch(cls, values, bdims, params, level):
        """Without b, the reductions' rule; with b, a and b padded to one rank after the batch axis (as
        the elementwise ops are), then the axes of that rank shifted past the batch axis."""
        if len(values) == 1:
            return reduction(cls, values, bdims, params, level)
        rank = max(v.ndim - (bd is not None) for v, bd in zip(values, bdims))
        args = [v if bd is None else pad_rank(front(v, bd), rank) for v, bd in zip(values, bdims)]
        axis = params.get("axis")
        params["axis"] = tuple(range(1, rank + 1)) if axis is None else shift(axis, max(rank, 1))
        return Tensor.apply(cls, *args, **params), 0


def weighted_logsumexp(a: np.ndarray, b: np.ndarray, axes: tuple[int, ...]) -> np.ndarray:
    """log Σ b·exp(a) over ``axes`` (keepdims shape), max-shifted over the entries with b ≠ 0."""
    live = np.where(b == 0, -np.inf, a)
    m = np.max(live, axis=axes, keepdims=True)
    m = np.where(np.isfinite(m), m, 0).astype(live.dtype, copy=False)
    s = np.sum(b * np.exp(live - m), axis=axes, keepdims=True)
    negative = int(np.count_nonzero(s < 0))
    if negative:
        raise ValueError(f"logsumexp: the weighted sum Σ b·exp(a) is negative for {negative} of {s.size} outputs, "
                         "and its logarithm is not real (SciPy returns NaN there); keep the weights' sums positive")
    with np.errstate(divide="ignore"):  # a zero sum: log 0 = -inf, the value
        return np.log(s) + m


def pad_rank(v: Tensor, rank: int) -> Tensor:
    """A stack (batch axis first) with size-1 axes after the batch axis up to ``rank`` per example."""
    missing = rank - (v.ndim - 1)
    return v if missing <= 0 else v.reshape(v.shape[:1] + (1,) * missing + v.shape[1:])


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


# ----------------------------------------------------------------------------- op coverage: products, scans, norms
INF = float("inf")


def wide(a: np.ndarray) -> dict:
    """``dtype=float64`` for float inputs narrower than float64 (products and running sums accumulate
    in float64, then round once to the input's dtype: float32 within an ulp, not √n of them), else {}."""
    return {"dtype": np.float64} if a.dtype.kind == "f" and a.dtype.itemsize < 8 else {}


def flip(t: Tensor, axis: int) -> Tensor:
    """``t`` reversed along ``axis`` (a non-negative axis)."""
    return t[(slice(None),) * axis + (slice(None, None, -1),)]


def reverse_cumsum(t: Tensor, axis: int) -> Tensor:
    """Σ_{j ≥ i} t_j along ``axis``, by flipping (no subtraction from the total, which would cancel)."""
    return flip(flip(t, axis).cumsum(axis), axis)


def exclusive_cumprod(t: Tensor, axis: int) -> Tensor:
    """Π_{j < i} t_j along ``axis`` (1 for the first entry): a cumprod of [1, t₀, ..., t_{n-2}]."""
    ones = Tensor._wrap(np.ones(t.shape[:axis] + (1,) + t.shape[axis + 1:], dtype=t.dtype))
    return Tensor.apply("concatenate", ones, t[(slice(None),) * axis + (slice(None, -1),)], axis=axis).cumprod(axis)


def products_of_the_others(a: Tensor, axes: tuple[int, ...]) -> Tensor:
    """Π over ``axes`` of every entry but the one at each position: (Π_{j<i} a_j)(Π_{j>i} a_j) along
    the reduced axes flattened into one (C order). No division, so zeros give exact results."""
    keep = tuple(i for i in range(a.ndim) if i not in axes)
    order = keep + axes
    moved = a.transpose(order) if order != tuple(range(a.ndim)) else a
    n = int(np.prod([a.shape[i] for i in axes], dtype=int))
    flat = moved.reshape(moved.shape[:len(keep)] + (n,))
    last = len(keep)
    others = exclusive_cumprod(flat, last) * flip(exclusive_cumprod(flip(flat, last), last), last)
    others = others.reshape(moved.shape)
    return others.transpose(np.argsort(order).tolist()) if order != tuple(range(a.ndim)) else others


@register("prod")
class Prod(Reduction):
    """y = Π_axis a.   VJP: āᵢ = broadcast(g) · Π_{j≠i} aⱼ, from prefix and suffix products (no division:
    with one zero, the zero's entry gets the product of the others and every other entry 0; with two
    or more zeros, 0 everywhere).   JVP: ẏ = Σ_axis ȧᵢ Π_{j≠i} aⱼ.   (float32 accumulates in float64.)"""

    @staticmethod
    def forward(a, axis=None, keepdims=False):
        y = np.prod(a, axis=normalize_axes(axis, a.ndim, "prod"), keepdims=keepdims, **wide(a))
        return np.asarray(y).astype(a.dtype, copy=False)

    def others(self) -> Tensor:
        a = self.inputs[0]
        if a.size == 0:  # nothing to differentiate (and no entry to leave out)
            return a
        return products_of_the_others(a, self.axes())

    def vjp(self, i, g, y):
        return self.spread(g) * self.others()

    def jvp(self, i, t, y):
        return (t * self.others()).sum(self.axis, self.keepdims)


class Scan(Function):
    """Base of the cumulative ops along one int ``axis`` (under vmap it shifts past the batch axis)."""

    batch = classmethod(along_axis)

    def ax(self) -> int:
        return scan_axis(self.axis, self.inputs[0].ndim, self.op_name)


def scan_axis(axis: int, ndim: int, op: str) -> int:
    """The scan's axis as a non-negative int; a ValueError naming the op for 0-d tensors or bad axes."""
    if not isinstance(axis, (int, np.integer)):
        raise ValueError(f"{op}: axis must be one int (the method's axis=None flattens first), got {axis!r}")
    if ndim == 0:
        raise ValueError(f"{op}: a 0-d tensor has no axis to scan (axis=None flattens it to 1-D)")
    return normalize_axes(axis, ndim, op)[0]


@register("cumsum")
class CumSum(Scan):
    """yᵢ = Σ_{j≤i} aⱼ along axis.   VJP: āⱼ = Σ_{i≥j} gᵢ (a reversed cumsum).   JVP: ẏ = cumsum(ȧ).
    (float32 accumulates in float64.)"""

    @staticmethod
    def forward(a, axis):
        return np.cumsum(a, axis=scan_axis(axis, a.ndim, "cumsum"), **wide(a)).astype(a.dtype, copy=False)

    def vjp(self, i, g, y):
        return reverse_cumsum(g, self.ax())

    def jvp(self, i, t, y):
        return t.cumsum(self.axis)


@register("cumprod")
class CumProd(Scan):
    """yᵢ = Π_{j≤i} aⱼ along axis.   VJP: āⱼ = Σ_{i≥j} gᵢ Π_{k≤i, k≠j} aₖ = P_j S_j, P_j = Π_{k<j} aₖ,
    S_j = g_j + a_{j+1} S_{j+1} (a linear recurrence, scanned by doubling).   JVP: ẏᵢ = aᵢ ẏ_{i-1} + ȧᵢ Pᵢ,
    scanned the same way. Only products and sums, no division: exact with any zeros, to any order."""

    @staticmethod
    def forward(a, axis):
        return np.cumprod(a, axis=scan_axis(axis, a.ndim, "cumprod"), **wide(a)).astype(a.dtype, copy=False)

    def vjp(self, i, g, y):
        a, k = self.inputs[0], self.ax()
        return exclusive_cumprod(a, k) * linear_scan(shifted(a, 1, k, reverse=True), g, k, reverse=True)

    def jvp(self, i, t, y):
        a, k = self.inputs[0], self.ax()
        return linear_scan(a, t * exclusive_cumprod(a, k), k)


def shifted(t: Tensor, d: int, k: int, reverse: bool = False) -> Tensor:
    """``t`` moved ``d`` places along axis k towards higher indices (``reverse``: lower), zeros moved in."""
    n = t.shape[k]
    zeros = Tensor._wrap(np.zeros(t.shape[:k] + (min(d, n),) + t.shape[k + 1:], dtype=t.dtype))
    if d >= n:
        return zeros
    head = (slice(None),) * k
    if reverse:
        return Tensor.apply("concatenate", t[head + (slice(d, None),)], zeros, axis=k)
    return Tensor.apply("concatenate", zeros, t[head + (slice(None, n - d),)], axis=k)


def linear_scan(c: Tensor, u: Tensor, k: int, reverse: bool = False) -> Tensor:
    """r with rᵢ = cᵢ r_{i-1} + uᵢ along axis k (``reverse``: rᵢ = cᵢ r_{i+1} + uᵢ), r = 0 beyond the ends,
    by recursive doubling: after the step of width d, rᵢ sums the terms of the last 2d entries and wᵢ
    is the product of their c's. ⌈log₂ n⌉ steps of Tensor ops, without division."""
    r, w, d = u, c, 1
    while d < u.shape[k]:
        r = r + w * shifted(r, d, k, reverse)
        w = w * shifted(w, d, k, reverse)
        d *= 2
    return r


VECTOR_ORDS = (None, 1, 2, INF, -INF)
MATRIX_ORDS = (None, "fro", 1, -1, INF, -INF)


def norm_axes(ord, axis, ndim: int) -> tuple[int, ...]:  # noqa: A002
    """``norm``'s axes as non-negative ints in the given order (a matrix norm's (rows, columns)),
    checked against ``ord``; a ValueError naming the op otherwise."""
    axes = normalize_axes(axis, ndim, "norm")  # (range checks, no repeats)
    if axis is not None and not isinstance(axis, (int, np.integer)):
        axes = tuple(int(ax) % ndim for ax in axis)  # the given order
    if ord is None:
        return axes  # the Euclidean norm of the entries over any axes
    if len(axes) == 1 and ord in VECTOR_ORDS and ord != "fro":
        return axes
    if len(axes) == 2 and ord in MATRIX_ORDS:
        return axes
    if len(axes) == 2 and ord in (2, -2, "nuc"):
        raise ValueError(f"norm: ord={ord!r} over two axes needs singular values, which are not supported; "
                         "ord=None or 'fro', 1, -1, inf and -inf are")
    kinds = {1: f"vector norms over one axis: ord in {VECTOR_ORDS}", 2: f"matrix norms over two: ord in {MATRIX_ORDS}"}
    raise ValueError(f"norm: ord={ord!r} over {len(axes)} axes is not supported ({kinds[1]}; {kinds[2]}; "
                     "ord=None over any axes)")


def matrix_parts(ord, axes: tuple[int, ...]) -> tuple[int, int]:  # noqa: A002
    """(summed axis, axis of the max/min) of the matrix norms 1, -1 (column sums) and ±inf (row sums)."""
    rows, cols = axes
    return (rows, cols) if ord in (1, -1) else (cols, rows)


@register("norm")
class Norm(Reduction):
    """y = ‖a‖ over axis, as ``np.linalg.norm``: ord=None (or 2 for vectors, 'fro' for matrices) √Σa²;
    vectors: 1 Σ|a|, ±inf max/min |a|; matrices (two axes, rows then columns): 1/-1 max/min column sum
    of |a|, ±inf max/min row sum.   VJP: ā = broadcast(g) · ∂y/∂a: a / y (0 at y = 0, the subgradient of
    the 2-norm at the zero vector, as in PyTorch); sign(a) for 1 (0 at a = 0); for ±inf and the
    matrix norms, sign(a) times the indicator of the extreme entries or sums, shared evenly by ties.
    JVP: ẏ = Σ_axis ȧ · ∂y/∂a."""

    ord = None  # (the default when the op is applied without it)

    @staticmethod
    def forward(a, ord=None, axis=None, keepdims=False):  # noqa: A002
        axes = norm_axes(ord, axis, a.ndim)
        if ord in (None, "fro", 2):
            y = np.sqrt(np.sum(np.square(a), axis=axes, keepdims=True))
        elif len(axes) == 1:
            pick = np.sum if ord == 1 else np.max if ord == INF else np.min
            y = pick(np.abs(a), axis=axes, keepdims=True)
        else:
            summed, extreme = matrix_parts(ord, axes)
            sums = np.sum(np.abs(a), axis=(summed,), keepdims=True)
            y = (np.max if ord > 0 else np.min)(sums, axis=(extreme,), keepdims=True)
        if keepdims:
            return y
        return y.reshape([n for i, n in enumerate(y.shape) if i not in axes])

    def slope(self, y: Tensor) -> Tensor:
        """∂y/∂a in the input's shape (see the docstring)."""
        a, ord = self.inputs[0], self.ord  # noqa: A001
        axes = norm_axes(ord, self.axis, a.ndim)
        if ord in (None, "fro", 2):
            y_kept = self.kept(y)
            return where(y_kept == 0, 0.0, a / where(y_kept == 0, 1.0, y_kept))
        if len(axes) == 1 and ord == 1:
            return a.sign()
        if len(axes) == 1:
            size, over = a.abs(), axes
        else:
            summed, extreme = matrix_parts(ord, axes)
            size, over = a.abs().sum(summed, keepdims=True), (extreme,)
        best = size.max(over, keepdims=True) if ord > 0 else size.min(over, keepdims=True)
        hit = (size == best).astype(a.dtype)  # ties compared with themselves: at least one hit
        return a.sign() * (hit / hit.sum(over, keepdims=True))

    def vjp(self, i, g, y):
        return self.spread(g) * self.slope(y)

    def jvp(self, i, t, y):
        return (t * self.slope(y)).sum(self.axis, self.keepdims)
