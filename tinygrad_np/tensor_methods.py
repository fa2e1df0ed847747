"""Tensor's op methods: ``x.exp()``, ``x.sum(axis=0)``, ``x.reshape(2, 3)``, ``x[1:]``, ``x < y``...

Each method applies one registry op by name through ``Tensor.apply`` (``engine.py``); this
mixin knows nothing else of the engine, so the engine can inherit it without an import circle.
The arithmetic operators (``+ - * / ** @``, unary ``-``) live in ``engine.Tensor`` itself, where
a reader of the engine meets them.

NumPy's functions on Tensors (``np.exp(t)``, ``np.sum(t, axis=0)``, ``ndarray + t``) run the
matching tinygrad_np op (the table ``NUMPY_FUNCTIONS``, filled by ``functions.py``) or raise a
TypeError naming the function: a NumPy call never silently drops the graph.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Tensor

Axis = int | Sequence[int] | None

#: NumPy function or ufunc -> the tinygrad_np function that computes it on Tensors (see functions.py).
NUMPY_FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {}


class TensorMethods:
    """The op methods of ``Tensor`` (each one ``self.apply`` of a registry op)."""

    __slots__ = ()
    apply: Callable[..., "Tensor"]
    _other: Callable[[Any], "Tensor"]
    shape: tuple[int, ...]
    ndim: int

    # ------------------------------------------------------------------ arithmetic by name
    def add(self, other: Any) -> "Tensor":
        return self + other  # type: ignore[operator]

    def sub(self, other: Any) -> "Tensor":
        return self - other  # type: ignore[operator]

    def mul(self, other: Any) -> "Tensor":
        return self * other  # type: ignore[operator]

    def div(self, other: Any) -> "Tensor":
        return self / other  # type: ignore[operator]

    def pow(self, other: Any) -> "Tensor":
        return self ** other  # type: ignore[operator]

    def matmul(self, other: Any) -> "Tensor":
        return self @ other  # type: ignore[operator]

    def neg(self) -> "Tensor":
        return -self  # type: ignore[operator]

    # ------------------------------------------------------------------ elementwise
    def exp(self) -> "Tensor":
        return self.apply("exp", self)

    def log(self) -> "Tensor":
        return self.apply("log", self)

    def sqrt(self) -> "Tensor":
        return self.apply("sqrt", self)

    def abs(self) -> "Tensor":
        return self.apply("abs", self)

    __abs__ = abs

    def sign(self) -> "Tensor":
        return self.apply("sign", self)

    def tanh(self) -> "Tensor":
        return self.apply("tanh", self)

    def sigmoid(self) -> "Tensor":
        return self.apply("sigmoid", self)

    def relu(self) -> "Tensor":
        return self.apply("relu", self)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        return self.apply("leaky_relu", self, negative_slope=negative_slope)

    def maximum(self, other: Any) -> "Tensor":
        return self.apply("maximum", self, self._other(other))

    def minimum(self, other: Any) -> "Tensor":
        return self.apply("minimum", self, self._other(other))

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":  # noqa: A002
        return self.apply("clip", self, lo=min, hi=max)

    def astype(self, dtype: Any) -> "Tensor":
        """This tensor converted to ``dtype``; differentiable between float dtypes (the VJP casts back)."""
        return self.apply("cast", self, dtype=np.dtype(dtype))

    # op coverage: more elementwise ops
    def sin(self) -> "Tensor":
        return self.apply("sin", self)

    def cos(self) -> "Tensor":
        return self.apply("cos", self)

    def tan(self) -> "Tensor":
        return self.apply("tan", self)

    def sinh(self) -> "Tensor":
        return self.apply("sinh", self)

    def cosh(self) -> "Tensor":
        return self.apply("cosh", self)

    def arcsin(self) -> "Tensor":
        return self.apply("arcsin", self)

    def arccos(self) -> "Tensor":
        return self.apply("arccos", self)

    def arctan(self) -> "Tensor":
        return self.apply("arctan", self)

    def arctan2(self, other: Any) -> "Tensor":
        """atan2(self, other): the angle of the point (other, self)."""
        return self.apply("arctan2", self, self._other(other))

    def square(self) -> "Tensor":
        return self.apply("square", self)

    def log1p(self) -> "Tensor":
        return self.apply("log1p", self)

    def expm1(self) -> "Tensor":
        return self.apply("expm1", self)

    def log2(self) -> "Tensor":
        return self.apply("log2", self)

    def log10(self) -> "Tensor":
        return self.apply("log10", self)

    def exp2(self) -> "Tensor":
        return self.apply("exp2", self)

    def logaddexp(self, other: Any) -> "Tensor":
        return self.apply("logaddexp", self, self._other(other))

    def softplus(self, beta: float = 1.0) -> "Tensor":
        return self.apply("softplus", self, beta=float(beta))

    def gelu(self, approximate: str = "none") -> "Tensor":
        return self.apply("gelu", self, approximate=approximate)

    def silu(self) -> "Tensor":
        return self.apply("silu", self)

    def mish(self) -> "Tensor":
        return self.apply("mish", self)

    def elu(self, alpha: float = 1.0) -> "Tensor":
        return self.apply("elu", self, alpha=float(alpha))

    def relu6(self) -> "Tensor":
        return self.apply("relu6", self)

    def hardswish(self) -> "Tensor":
        return self.apply("hardswish", self)

    def erf(self) -> "Tensor":
        return self.apply("erf", self)

    def erfc(self) -> "Tensor":
        return self.apply("erfc", self)

    def hypot(self, other: Any) -> "Tensor":
        return self.apply("hypot", self, self._other(other))

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return self.apply("sum", self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return self.apply("mean", self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return self.apply("max", self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return self.apply("min", self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: float = 0, *,
            correction: float | None = None) -> "Tensor":
        """Σ (a - mean)² / (n - ddof) over axis; ``correction`` is PyTorch's (and NumPy 2's) name for ddof."""
        return self.apply("var", self, axis=axis, keepdims=keepdims, ddof=_ddof("var", ddof, correction))

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: float = 0, *,
            correction: float | None = None) -> "Tensor":
        """√var (see ``var``; ``correction`` is PyTorch's name for ddof)."""
        return self.apply("std", self, axis=axis, keepdims=keepdims, ddof=_ddof("std", ddof, correction))

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, b: Any = None) -> "Tensor":
        """log Σ b·exp(self) over axis (SciPy's ``logsumexp``; b broadcasts, default 1, and is
        differentiated when it is a Tensor that requires grad)."""
        if b is None:
            return self.apply("logsumexp", self, axis=axis, keepdims=keepdims)
        return self.apply("logsumexp", self, self._other(b), axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> "Tensor":
        return self.apply("softmax", self, axis=axis)

    def log_softmax(self, axis: int = -1) -> "Tensor":
        return self.apply("log_softmax", self, axis=axis)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        """Index of the largest entry (not differentiable)."""
        return self.apply("argmax", self, axis=axis, keepdims=keepdims)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        """Index of the smallest entry (not differentiable)."""
        return self.apply("argmin", self, axis=axis, keepdims=keepdims)

    # op coverage: products, scans, norms
    def prod(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return self.apply("prod", self, axis=axis, keepdims=keepdims)

    def cumsum(self, axis: int | None = None) -> "Tensor":
        """Cumulative sums along ``axis``; ``axis=None`` flattens first (as NumPy)."""
        x = self if axis is not None else self.reshape(-1)
        return self.apply("cumsum", x, axis=0 if axis is None else axis)

    def cumprod(self, axis: int | None = None) -> "Tensor":
        """Cumulative products along ``axis``; ``axis=None`` flattens first (as NumPy)."""
        x = self if axis is not None else self.reshape(-1)
        return self.apply("cumprod", x, axis=0 if axis is None else axis)

    def norm(self, ord: Any = None, axis: Axis = None, keepdims: bool = False) -> "Tensor":  # noqa: A002
        """``np.linalg.norm``: vector norms (ord None/2, 1, inf, -inf) over one axis, matrix norms
        (None/'fro', 1, -1, inf, -inf) over two; ord=None is the Euclidean norm over any axes."""
        return self.apply("norm", self, ord=ord, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> "Tensor":
        shape = _shape_arg(shape)
        return self if shape == self.shape else self.apply("reshape", self, shape=shape)  # type: ignore[return-value]

    view = reshape

    def transpose(self, *axes: Any) -> "Tensor":
        axes = _shape_arg(axes) if axes else tuple(reversed(range(self.ndim)))
        return self.apply("transpose", self, axes=axes)

    permute = transpose

    @property
    def T(self) -> "Tensor":
        """Reversed axes (the matrix transpose for 2-D)."""
        return self.transpose()

    @property
    def mT(self) -> "Tensor":
        """The last two axes swapped (the matrix transpose of a batch)."""
        return self.swapaxes(-1, -2)

    def swapaxes(self, a: int, b: int) -> "Tensor":
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.transpose(*axes)

    def expand(self, *shape: Any) -> "Tensor":
        shape = _shape_arg(shape)
        return self if shape == self.shape else self.apply("expand", self, shape=shape)  # type: ignore[return-value]

    broadcast_to = expand

    def squeeze(self, axis: Axis = None) -> "Tensor":
        return self.reshape(np.squeeze(np.empty(self.shape, dtype=bool), axis=axis).shape)

    def unsqueeze(self, axis: int) -> "Tensor":
        return self.reshape(np.expand_dims(np.empty(self.shape, dtype=bool), axis).shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        shape = self.shape[:start] + (int(np.prod(self.shape[start:end + 1])),) + self.shape[end + 1:]
        return self.reshape(shape)

    def ravel(self) -> "Tensor":
        return self.reshape(-1)

    def __getitem__(self, index: Any) -> "Tensor":
        return self.apply("getitem", self, index=_index_arg(index))

    # ------------------------------------------------------------------ comparisons (not differentiable)
    def __lt__(self, other: Any) -> "Tensor":
        return self.apply("less", self, self._other(other))

    def __le__(self, other: Any) -> "Tensor":
        return self.apply("less_equal", self, self._other(other))

    def __gt__(self, other: Any) -> "Tensor":
        return self.apply("greater", self, self._other(other))

    def __ge__(self, other: Any) -> "Tensor":
        return self.apply("greater_equal", self, self._other(other))

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self.apply("equal", self, self._other(other))

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self.apply("not_equal", self, self._other(other))

    __hash__ = object.__hash__  # identity, as == is elementwise

    # ------------------------------------------------------------------ NumPy interoperation
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *args: Any, **kwargs: Any) -> Any:
        return _numpy_call(ufunc, method, args, kwargs)

    def __array_function__(self, func: Callable[..., Any], types: Any, args: Any, kwargs: Any) -> Any:
        return _numpy_call(func, "__call__", args, kwargs)


def _numpy_call(func: Callable[..., Any], method: str, args: Any, kwargs: Any) -> Any:
    """A NumPy function called on Tensors: the matching tinygrad_np function, else a clear error."""
    name = getattr(func, "__name__", repr(func))
    target = NUMPY_FUNCTIONS.get(func) if method == "__call__" and "out" not in kwargs else None
    if target is None:
        how = f"np.{name}.{method}" if method != "__call__" else f"np.{name}"
        raise TypeError(f"{how} has no tinygrad_np version for Tensors (it would drop the graph); use the "
                        f"Tensor method or tg function if there is one, or t.numpy() to leave the graph on purpose")
    return target(*args, **kwargs)


def _ddof(op: str, ddof: float, correction: float | None) -> float:
    """The ddof of var/std given as ``ddof`` or as ``correction`` (not two different values)."""
    if correction is None:
        return ddof
    if ddof not in (0, correction):
        raise ValueError(f"{op}: give ddof or correction, not both (got ddof={ddof}, correction={correction})")
    return correction


def _shape_arg(args: tuple) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _index_arg(index: Any) -> Any:
    """Tensors inside an index become ndarrays; lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    if isinstance(index, TensorMethods):
        return index.data  # type: ignore[attr-defined]
    if isinstance(index, list):
        return np.asarray(index)
    return index
