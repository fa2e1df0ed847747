"""Tensor's operators and op methods: ``x * y``, ``x.exp()``, ``x.sum(axis=0)``, ``x[1:]``, ``x < y``...

Each one applies one registry op by name through ``Tensor.apply`` (``engine.py``): ``x * y`` is
``Tensor.apply("mul", x, y)``. A Python scalar operand takes the tensor's float dtype
(``_other``). This mixin knows nothing else of the engine, so the engine inherits it without an
import circle; it also holds the plain accessors (``numpy()``, ``item()``, ``repr``) and the
gradient hooks (``register_hook``, ``retain_grad``), which backward runs (``engine.run_hooks``).

NumPy's functions on Tensors (``np.exp(t)``, ``np.sum(t, axis=0)``, ``ndarray + t``) run the
matching tinygrad_np op (the table ``NUMPY_FUNCTIONS``, filled by ``functions.py``) or raise a
TypeError naming the function: a NumPy call never silently drops the graph.
"""
from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Sequence

import numpy as np

from .writes import readonly

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Tensor

Axis = int | Sequence[int] | None

#: NumPy function or ufunc -> the tinygrad_np function that computes it on Tensors (see functions.py).
NUMPY_FUNCTIONS: dict[Callable[..., Any], Callable[..., Any]] = {}


class TensorMethods:
    """The operators and op methods of ``Tensor`` (each one ``self.apply`` of a registry op)."""

    __slots__ = ()
    apply: Callable[..., "Tensor"]
    _wrap: Callable[[Any], "Tensor"]
    _data: np.ndarray
    _ctx: Any
    _hooks: list | None
    grad: "Tensor | None"
    requires_grad: bool
    shape: tuple[int, ...]
    ndim: int
    dtype: np.dtype

    # ------------------------------------------------------------------ operators
    def _other(self, other: Any) -> "Tensor":
        """The other operand of a binary op as a Tensor: a Python scalar, list or ndarray takes this
        tensor's float dtype (``x32 * 0.1`` stays float32); two Tensors promote as NumPy does."""
        if isinstance(other, TensorMethods):
            return other  # type: ignore[return-value]
        arr = np.asarray(other)
        if self.dtype.kind == "f" and arr.dtype != self.dtype and arr.dtype.kind in "biuf":
            arr = arr.astype(self.dtype)
        return self._wrap(arr)

    def __add__(self, other: Any) -> "Tensor":
        return self.apply("add", self, self._other(other))

    def __radd__(self, other: Any) -> "Tensor":
        return self.apply("add", self._other(other), self)

    def __sub__(self, other: Any) -> "Tensor":
        return self.apply("sub", self, self._other(other))

    def __rsub__(self, other: Any) -> "Tensor":
        return self.apply("sub", self._other(other), self)

    def __mul__(self, other: Any) -> "Tensor":
        return self.apply("mul", self, self._other(other))

    def __rmul__(self, other: Any) -> "Tensor":
        return self.apply("mul", self._other(other), self)

    def __truediv__(self, other: Any) -> "Tensor":
        return self.apply("div", self, self._other(other))

    def __rtruediv__(self, other: Any) -> "Tensor":
        return self.apply("div", self._other(other), self)

    def __pow__(self, other: Any) -> "Tensor":
        return self.apply("pow", self, self._other(other))

    def __rpow__(self, other: Any) -> "Tensor":
        return self.apply("pow", self._other(other), self)

    def __matmul__(self, other: Any) -> "Tensor":
        return self.apply("matmul", self, self._other(other))

    def __rmatmul__(self, other: Any) -> "Tensor":
        return self.apply("matmul", self._other(other), self)

    def __neg__(self) -> "Tensor":
        return self.apply("neg", self)

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
        a, b = _axis_list("swapaxes", [a, b], self.ndim, repeats=True)
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

    # ------------------------------------------------------------------ shape ops (op coverage: flip ... moveaxis)
    def flip(self, axis: Axis = None) -> "Tensor":
        """Reversed along ``axis`` (int, tuple, or None: every axis)."""
        return self.apply("flip", self, axis=_axes_param(axis))

    def roll(self, shift: int | Sequence[int], axis: Axis = None) -> "Tensor":
        """Shifted cyclically by ``shift`` along ``axis`` (NumPy's roll; axis None: flattened, then reshaped)."""
        return self.apply("roll", self, shift=_ints_param(shift), axis=_axes_param(axis))

    def repeat(self, repeats: int | Sequence[int], axis: int | None = None) -> "Tensor":
        """Each entry repeated ``repeats`` times along ``axis`` (NumPy's repeat, flattened if axis is None;
        torch's ``Tensor.repeat`` is ``tile`` here)."""
        return self.apply("repeat", self, repeats=_ints_param(repeats), axis=None if axis is None else int(axis))

    def tile(self, reps: int | Sequence[int]) -> "Tensor":
        """NumPy's tile: ``reps`` copies along each axis (both padded with leading 1s to one length).
        A composite: reshape, expand, reshape (the VJP sums the copies)."""
        reps = (int(reps),) if isinstance(reps, (int, np.integer)) else tuple(int(r) for r in reps)
        if any(r < 0 for r in reps):
            raise ValueError(f"tile: reps must be >= 0, got {reps}")
        ndim = max(len(reps), self.ndim)
        shape = (1,) * (ndim - self.ndim) + tuple(self.shape)
        reps = (1,) * (ndim - len(reps)) + reps
        spaced = self.reshape([d for n in shape for d in (1, n)])
        copies = spaced.expand([d for r, n in zip(reps, shape) for d in (r, n)])
        return copies.reshape([r * n for r, n in zip(reps, shape)])

    def moveaxis(self, source: int | Sequence[int], destination: int | Sequence[int]) -> "Tensor":
        """Axes ``source`` moved to positions ``destination``, the others in order (NumPy's moveaxis).
        A composite: one transpose."""
        src, dst = _axis_list("moveaxis", source, self.ndim), _axis_list("moveaxis", destination, self.ndim)
        if len(src) != len(dst):
            raise ValueError(f"moveaxis: source {source} and destination {destination} differ in length")
        order = [n for n in range(self.ndim) if n not in src]
        for d, s in sorted(zip(dst, src)):
            order.insert(d, s)
        return self.transpose(order)

    def tril(self, k: int = 0) -> "Tensor":
        """The entries on and below the k-th diagonal of the last two axes; 0 above."""
        return self.apply("tril", self, k=int(k))

    def triu(self, k: int = 0) -> "Tensor":
        """The entries on and above the k-th diagonal of the last two axes; 0 below."""
        return self.apply("triu", self, k=int(k))

    def array_split(self, indices_or_sections: int | Sequence[int], axis: int = 0) -> list["Tensor"]:
        """NumPy's array_split: ``n`` pieces along ``axis`` (the first ``size % n`` one longer), or
        the pieces between the given indices. A composite: one slice (getitem) per piece."""
        ax = _axis_list("array_split", axis, self.ndim)[0]
        size = self.shape[ax]
        if isinstance(indices_or_sections, (int, np.integer)):
            n = int(indices_or_sections)
            if n <= 0:
                raise ValueError(f"array_split: the number of sections must be > 0, got {n}")
            each, extra = divmod(size, n)
            bounds = [0] + np.cumsum([each + 1] * extra + [each] * (n - extra)).tolist()
        else:
            bounds = [0] + [int(i) for i in indices_or_sections] + [size]
        return [self[(slice(None),) * ax + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]

    def split(self, indices_or_sections: int | Sequence[int], axis: int = 0) -> list["Tensor"]:
        """NumPy's split: ``array_split`` that refuses ``n`` sections of unequal length (torch's
        ``split`` takes a piece length instead; here an int is the number of pieces)."""
        if isinstance(indices_or_sections, (int, np.integer)):
            ax = _axis_list("split", axis, self.ndim)[0]
            if indices_or_sections > 0 and self.shape[ax] % int(indices_or_sections):
                raise ValueError(f"split: axis {axis} of length {self.shape[ax]} does not split into "
                                 f"{indices_or_sections} equal sections (array_split allows unequal ones)")
        return self.array_split(indices_or_sections, axis)

    # ------------------------------------------------------------------ contractions (op coverage: einsum ... diag)
    def tensordot(self, other: Any, axes: int | Sequence[Any] = 2) -> "Tensor":
        """Σ over pairs of axes of self and other (NumPy's tensordot: an int n pairs self's last n
        axes with other's first n in order; or a pair of axis lists). A composite: one einsum."""
        b = self._other(other)
        if isinstance(axes, (int, np.integer)):
            n = int(axes)
            if not 0 <= n <= min(self.ndim, b.ndim):
                raise ValueError(f"tensordot: axes={n} for shapes {self.shape} and {b.shape}")
            return _contract("tensordot", self, b, range(self.ndim - n, self.ndim), range(n))
        if len(axes) != 2:
            raise ValueError(f"tensordot: axes must be an int or a pair of axis lists, got {axes!r}")
        return _contract("tensordot", self, b, _axis_list("tensordot", axes[0], self.ndim),
                         _axis_list("tensordot", axes[1], b.ndim))

    def dot(self, other: Any) -> "Tensor":
        """NumPy's dot: self * other if either is 0-d, else the sum over self's last axis and other's
        second-to-last (its only one if 1-D). A composite: mul, or one einsum (no broadcasting)."""
        b = self._other(other)
        if self.ndim == 0 or b.ndim == 0:
            return self * b  # type: ignore[operator]
        return _contract("dot", self, b, [self.ndim - 1], [max(b.ndim - 2, 0)])

    def inner(self, other: Any) -> "Tensor":
        """NumPy's inner: self * other if either is 0-d, else the sum over the last axes of both.
        A composite: mul, or one einsum."""
        b = self._other(other)
        if self.ndim == 0 or b.ndim == 0:
            return self * b  # type: ignore[operator]
        return _contract("inner", self, b, [self.ndim - 1], [b.ndim - 1])

    def outer(self, other: Any) -> "Tensor":
        """y[i, j] = a[i] b[j] for a, b flattened (NumPy's outer). A composite: reshape and mul."""
        return self.reshape(-1, 1) * self._other(other).reshape(1, -1)  # type: ignore[operator]

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> "Tensor":
        """The entries a[..., j, ..., j + offset, ...] over (axis1, axis2), as a new last axis."""
        return self.apply("diagonal", self, offset=int(offset), axis1=int(axis1), axis2=int(axis2))

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> "Tensor":
        """The sum of the diagonal over (axis1, axis2) at ``offset`` (NumPy's trace). A composite:
        diagonal, then sum over its axis."""
        try:
            diagonal = self.diagonal(offset, axis1, axis2)
        except ValueError as e:
            raise ValueError(f"trace: {e}") from None
        return diagonal.sum(-1)

    def diag(self, k: int = 0) -> "Tensor":
        """NumPy's diag: 1-D -> the square matrix with these entries on its k-th diagonal (a
        composite: scatter_add into zeros); 2-D -> its k-th diagonal (``diagonal``)."""
        k = int(k)
        if self.ndim == 1:
            n = self.shape[0]
            j = np.arange(n)
            index = (j + max(-k, 0), j + max(k, 0))
            return self.apply("scatter_add", self, index=index, shape=(n + abs(k), n + abs(k)))
        if self.ndim == 2:
            return self.diagonal(k)
        raise ValueError(f"diag: needs a 1-D or 2-D tensor, got shape {self.shape}")

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

    # ------------------------------------------------------------------ values
    def numpy(self) -> np.ndarray:
        """The values as an ndarray: a shared, read-only view (``.copy()`` it to change it)."""
        return readonly(self._data)

    def item(self) -> Any:
        return self._data.item()

    def tolist(self) -> Any:
        return self._data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self._data.astype(dtype, copy=bool(copy)) if dtype is not None or copy else readonly(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __bool__(self) -> bool:
        return bool(self._data)

    def __repr__(self) -> str:
        body = np.array2string(self._data, separator=", ", precision=4, threshold=20, prefix="Tensor(")
        extra = (f", grad_fn={self._ctx!r}" if self._ctx is not None
                 else ", requires_grad=True" if self.requires_grad else "")
        return f"Tensor({body}, dtype={self.dtype}{extra})"

    # ------------------------------------------------------------------ gradient hooks
    def register_hook(self, hook: Callable[["Tensor"], "Tensor | None"]) -> None:
        """Call ``hook(grad)`` with this tensor's total gradient in every backward pass; a
        returned Tensor replaces the gradient (for leaves: before it is added into ``.grad``)."""
        if not self.requires_grad:
            raise RuntimeError("register_hook on a tensor that does not require grad")
        self._hooks = (self._hooks or []) + [hook]

    def retain_grad(self) -> None:
        """Keep this non-leaf tensor's gradient in ``.grad`` too (leaves always keep theirs)."""
        if self._ctx is not None and not any(isinstance(h, _RetainGrad) for h in self._hooks or ()):
            self.register_hook(_RetainGrad(self))


class _RetainGrad:
    """The hook ``retain_grad`` registers: add the gradient into the tensor's ``.grad``."""

    def __init__(self, t: TensorMethods) -> None:
        self.t = t

    def __call__(self, g: "Tensor") -> None:
        self.t.grad = g if self.t.grad is None else self.t.grad + g


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


def _axis_list(op: str, axis: int | Sequence[int], ndim: int, repeats: bool = False) -> list[int]:
    """``axis`` (an int or a sequence) as a list of non-negative axes, or a ValueError naming the op."""
    axes = [axis] if isinstance(axis, (int, np.integer)) else list(axis)
    out = []
    for ax in axes:
        if not isinstance(ax, (int, np.integer)) or not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax!r} is out of range for a tensor with {ndim} dims")
        out.append(int(ax) % ndim)
    if not repeats and len(set(out)) != len(out):
        raise ValueError(f"{op}: repeated axis in {axis!r}")
    return out


def _axes_param(axis: Axis) -> int | tuple[int, ...] | None:
    """An ``axis`` parameter as an op keeps it: None, an int, or a tuple of ints."""
    if axis is None or isinstance(axis, (int, np.integer)):
        return None if axis is None else int(axis)
    return tuple(int(a) for a in axis)


def _ints_param(n: int | Sequence[int]) -> int | tuple[int, ...]:
    """An int or a sequence of ints (a shift, repeat counts) as an op keeps it: an int or a tuple."""
    return int(n) if isinstance(n, (int, np.integer)) else tuple(int(k) for k in np.asarray(n).reshape(-1))


def _contract(op: str, a: Any, b: Any, axes_a: Sequence[int], axes_b: Sequence[int]) -> "Tensor":
    """Σ over the paired axes of a and b as one einsum: a's other axes, then b's, in order. The
    paired axes must have equal lengths (einsum alone would broadcast a length 1)."""
    axes_a, axes_b = _axis_list(op, list(axes_a), a.ndim), _axis_list(op, list(axes_b), b.ndim)
    if len(axes_a) != len(axes_b):
        raise ValueError(f"{op}: {len(axes_a)} axes of the first tensor against {len(axes_b)} of the second")
    for p, q in zip(axes_a, axes_b):
        if a.shape[p] != b.shape[q]:
            raise ValueError(f"{op}: shapes {a.shape} and {b.shape} are not aligned: axis {p} of the first has "
                             f"length {a.shape[p]}, axis {q} of the second {b.shape[q]}")
    if a.ndim + b.ndim > len(_LETTERS):
        raise ValueError(f"{op}: {a.ndim} + {b.ndim} dims is more than einsum's {len(_LETTERS)} letters")
    la, lb = _LETTERS[:a.ndim], list(_LETTERS[a.ndim:a.ndim + b.ndim])
    for p, q in zip(axes_a, axes_b):
        lb[q] = la[p]
    out = "".join(la[p] for p in range(a.ndim) if p not in axes_a) + "".join(
        lb[q] for q in range(b.ndim) if q not in axes_b)
    return a.apply("einsum", a, b, subscripts=f"{la},{''.join(lb)}->{out}")


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


def _index_arg(index: Any) -> Any:
    """Tensors inside an index become ndarrays; lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    if isinstance(index, TensorMethods):
        return index.data  # type: ignore[attr-defined]
    if isinstance(index, list):
        return np.asarray(index)
    return index
