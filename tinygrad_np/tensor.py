"""``Tensor``: an ``np.ndarray`` plus what reverse mode needs (``grad``, ``requires_grad``, ``_ctx``).

Methods and operators apply the ops of the registry (``autograd.OPS``) by name, so this
module imports no op module (the op modules import it) and there is no import circle.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import autograd
from .autograd import OPS, Function

Axis = int | Sequence[int] | None
DEFAULT_DTYPE = np.float32
RngLike = np.random.Generator | int | None


def _as_array(data: Any, dtype: Any = None) -> np.ndarray:
    """Python numbers/lists become float32 (or ``dtype``); an ndarray keeps its dtype."""
    if isinstance(data, Tensor):
        data = data.data
    if isinstance(data, (np.ndarray, np.generic)):
        arr = np.asarray(data)
        return arr if dtype is None else arr.astype(dtype, copy=False)
    arr = np.asarray(data)
    if dtype is None and arr.dtype.kind in "iuf":  # Python ints and floats
        dtype = DEFAULT_DTYPE
    return arr if dtype is None else arr.astype(dtype, copy=False)


class Tensor:
    """An n-dimensional array that can record the ops applied to it and differentiate them.

    ``Tensor(data, requires_grad=False, dtype=None)``: Python data becomes float32 unless a
    ``dtype`` is given; an ndarray keeps its dtype (float64 stays float64). Only floating
    point tensors can require grad.
    """

    __slots__ = ("data", "grad", "requires_grad", "_ctx", "__weakref__")
    __array_priority__ = 1000  # so ndarray + Tensor calls Tensor.__radd__

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self.data: np.ndarray = _as_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @classmethod
    def _from_op(cls, data: np.ndarray, ctx: Function | None) -> "Tensor":
        """Fast constructor for op outputs (no conversion)."""
        t = cls.__new__(cls)
        t.data, t.grad, t._ctx, t.requires_grad = data, None, ctx, ctx is not None
        return t

    # ------------------------------------------------------------------ basic properties
    shape = property(lambda self: self.data.shape, doc="Tuple of dimensions.")
    dtype = property(lambda self: self.data.dtype, doc="NumPy dtype of the data.")
    ndim = property(lambda self: self.data.ndim, doc="Number of dimensions.")
    size = property(lambda self: self.data.size, doc="Number of elements.")

    @property
    def grad_fn(self) -> Function | None:
        """The op node that produced this tensor (None for leaves)."""
        return self._ctx

    @property
    def is_leaf(self) -> bool:
        return self._ctx is None

    def __len__(self) -> int:
        return len(self.data)

    def numpy(self) -> np.ndarray:
        """The underlying ndarray (shared, not copied)."""
        return self.data

    def item(self) -> float | int | bool:
        return self.data.item()

    def tolist(self) -> Any:
        return self.data.tolist()

    def __array__(self, dtype: Any = None, copy: bool | None = None) -> np.ndarray:
        return self.data if dtype is None else self.data.astype(dtype, copy=False)

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", precision=4, threshold=20, prefix="Tensor(")
        extra = f", dtype={self.dtype}"
        if self._ctx is not None:
            extra += f", grad_fn={self._ctx!r}"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __hash__(self) -> int:  # identity hash, as __eq__ is elementwise
        return id(self)

    def __bool__(self) -> bool:
        return bool(self.data)

    # ------------------------------------------------------------------ autograd
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark a leaf as a variable to differentiate with respect to (in place)."""
        if requires_grad and self.data.dtype.kind not in "fc":
            raise TypeError(f"only floating point tensors can require grad, not {self.dtype}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same data, cut off from the graph (shares memory)."""
        return Tensor._from_op(self.data, None)

    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Accumulate d self / d leaf into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is the upstream gradient (required unless self has one element).
        The graph's buffers are freed afterwards unless ``retain_graph`` (default:
        ``create_graph``). ``create_graph=True`` makes the gradients differentiable.
        """
        autograd.backward(self, gradient, retain_graph=retain_graph, create_graph=create_graph)

    def zero_grad(self) -> None:
        self.grad = None

    def copy_(self, src: Any) -> "Tensor":
        """Copy ``src``'s values into this tensor's array, in place (shape and dtype kept;
        values are cast like ``np.copyto(..., casting="unsafe")``). The one supported way to
        overwrite a tensor's values; never write into ``.data`` directly."""
        arr = src.data if isinstance(src, Tensor) else np.asarray(src)
        np.copyto(self.data, np.broadcast_to(arr, self.shape), casting="unsafe")
        return self

    # ------------------------------------------------------------------ applying ops
    @staticmethod
    def apply(op: "str | type[Function]", *inputs: "Tensor", **params: Any) -> "Tensor":
        """Run op ``op`` (a registry name, or a Function class, e.g. one under test) on ``inputs``;
        record a graph node if any input needs grad."""
        fn = OPS[op]() if type(op) is str else op()
        if autograd._anomaly_enabled:
            fn.created_at = autograd.user_code_line()
        out = fn.forward(*[x.data for x in inputs], **params)
        if type(out) is not np.ndarray:  # NumPy reductions return scalars (np.float32, ...)
            out = np.asarray(out)
        if autograd._anomaly_enabled:
            shapes = ", ".join(str(x.shape) for x in inputs)
            autograd.check_finite("forward output", out, fn, f"input shapes {shapes}, output shape {out.shape}")
        if autograd._grad_enabled:
            needs = tuple([x.requires_grad for x in inputs])
            if True in needs:
                fn.inputs, fn.needs_input_grad, fn.params = inputs, needs, params  # (params: for jit's plans)
                return Tensor._from_op(out, fn)
        return Tensor._from_op(out, None)

    def _other(self, other: Any) -> "Tensor":
        """A constant operand (scalar, list or ndarray) as a Tensor of this tensor's float dtype,
        so float32 stays float32 (``x32 * np.ones(3)`` is float32). Mixing two Tensors of
        different float dtypes promotes as NumPy does; their gradients come back in each one's dtype."""
        if isinstance(other, Tensor):
            return other
        arr = np.asarray(other)
        if self.dtype.kind == "f" and arr.dtype != self.dtype:
            arr = arr.astype(self.dtype)
        return Tensor._from_op(arr, None)

    # ------------------------------------------------------------------ elementwise
    def __add__(self, other: Any) -> "Tensor":
        return Tensor.apply("add", self, self._other(other))

    def __radd__(self, other: Any) -> "Tensor":
        return Tensor.apply("add", self._other(other), self)

    def __sub__(self, other: Any) -> "Tensor":
        return Tensor.apply("sub", self, self._other(other))

    def __rsub__(self, other: Any) -> "Tensor":
        return Tensor.apply("sub", self._other(other), self)

    def __mul__(self, other: Any) -> "Tensor":
        return Tensor.apply("mul", self, self._other(other))

    def __rmul__(self, other: Any) -> "Tensor":
        return Tensor.apply("mul", self._other(other), self)

    def __truediv__(self, other: Any) -> "Tensor":
        return Tensor.apply("div", self, self._other(other))

    def __rtruediv__(self, other: Any) -> "Tensor":
        return Tensor.apply("div", self._other(other), self)

    def __pow__(self, other: Any) -> "Tensor":
        return Tensor.apply("pow", self, self._other(other))

    def __rpow__(self, other: Any) -> "Tensor":
        return Tensor.apply("pow", self._other(other), self)

    def __neg__(self) -> "Tensor":
        return Tensor.apply("neg", self)

    def __matmul__(self, other: Any) -> "Tensor":
        return Tensor.apply("matmul", self, self._other(other))

    def __rmatmul__(self, other: Any) -> "Tensor":
        return Tensor.apply("matmul", self._other(other), self)

    def matmul(self, other: Any) -> "Tensor":
        return self @ other

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    neg = __neg__

    def exp(self) -> "Tensor":
        return Tensor.apply("exp", self)

    def log(self) -> "Tensor":
        return Tensor.apply("log", self)

    def sqrt(self) -> "Tensor":
        return Tensor.apply("sqrt", self)

    def abs(self) -> "Tensor":
        return Tensor.apply("abs", self)

    __abs__ = abs

    def tanh(self) -> "Tensor":
        return Tensor.apply("tanh", self)

    def sigmoid(self) -> "Tensor":
        return Tensor.apply("sigmoid", self)

    def relu(self) -> "Tensor":
        return Tensor.apply("relu", self)

    def leaky_relu(self, negative_slope: float = 0.01) -> "Tensor":
        return Tensor.apply("leaky_relu", self, negative_slope=negative_slope)

    def maximum(self, other: Any) -> "Tensor":
        return Tensor.apply("maximum", self, self._other(other))

    def minimum(self, other: Any) -> "Tensor":
        return Tensor.apply("minimum", self, self._other(other))

    def clip(self, min: float | None = None, max: float | None = None) -> "Tensor":  # noqa: A002
        return Tensor.apply("clip", self, lo=min, hi=max)

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return Tensor.apply("sum", self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return Tensor.apply("mean", self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return Tensor.apply("max", self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return Tensor.apply("min", self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> "Tensor":
        return Tensor.apply("var", self, axis=axis, keepdims=keepdims, ddof=ddof)

    def std(self, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> "Tensor":
        return self.var(axis=axis, keepdims=keepdims, ddof=ddof).sqrt()

    def logsumexp(self, axis: Axis = None, keepdims: bool = False) -> "Tensor":
        return Tensor.apply("logsumexp", self, axis=axis, keepdims=keepdims)

    def softmax(self, axis: int = -1) -> "Tensor":
        return Tensor.apply("softmax", self, axis=axis)

    def log_softmax(self, axis: int = -1) -> "Tensor":
        return Tensor.apply("log_softmax", self, axis=axis)

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> "Tensor":
        shape = _shape_arg(shape)
        return self if shape == self.shape else Tensor.apply("reshape", self, shape=shape)

    view = reshape

    def transpose(self, *axes: Any) -> "Tensor":
        axes = _shape_arg(axes) if axes else tuple(reversed(range(self.ndim)))
        return Tensor.apply("transpose", self, axes=axes)

    @property
    def T(self) -> "Tensor":
        """Reversed axes (the matrix transpose for 2-D)."""
        return Tensor.apply("transpose", self, axes=(1, 0)) if self.ndim == 2 else self.transpose()

    @property
    def mT(self) -> "Tensor":
        """Swap the last two axes (matrix transpose of a batch)."""
        return self.swapaxes(-1, -2)

    def swapaxes(self, a: int, b: int) -> "Tensor":
        axes = list(range(self.ndim))
        axes[a], axes[b] = axes[b], axes[a]
        return self.transpose(*axes)

    def expand(self, *shape: Any) -> "Tensor":
        shape = _shape_arg(shape)
        return self if shape == self.shape else Tensor.apply("expand", self, shape=shape)

    broadcast_to = expand

    def squeeze(self, axis: Axis = None) -> "Tensor":
        return self.reshape(np.squeeze(np.empty(self.shape, dtype=bool), axis=axis).shape) if self.ndim else self

    def unsqueeze(self, axis: int) -> "Tensor":
        return self.reshape(np.expand_dims(np.empty(self.shape, dtype=bool), axis).shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> "Tensor":
        if self.ndim == 0:
            return self.reshape(1)
        start, end = start_dim % self.ndim, end_dim % self.ndim
        shape = self.shape[:start] + (int(np.prod(self.shape[start:end + 1])),) + self.shape[end + 1:]
        return self.reshape(shape)

    def __getitem__(self, index: Any) -> "Tensor":
        return Tensor.apply("getitem", self, index=_index_arg(index))

    # ------------------------------------------------------------------ not differentiable
    def _compare(self, ufunc: np.ufunc, other: Any) -> "Tensor":
        other = other.data if isinstance(other, Tensor) else other
        return Tensor._from_op(ufunc(self.data, other), None)

    def __lt__(self, other: Any) -> "Tensor":
        return self._compare(np.less, other)

    def __le__(self, other: Any) -> "Tensor":
        return self._compare(np.less_equal, other)

    def __gt__(self, other: Any) -> "Tensor":
        return self._compare(np.greater, other)

    def __ge__(self, other: Any) -> "Tensor":
        return self._compare(np.greater_equal, other)

    def __eq__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(np.equal, other)

    def __ne__(self, other: Any) -> "Tensor":  # type: ignore[override]
        return self._compare(np.not_equal, other)

    def argmax(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        return Tensor._from_op(np.argmax(self.data, axis=axis, keepdims=keepdims), None)

    def argmin(self, axis: int | None = None, keepdims: bool = False) -> "Tensor":
        return Tensor._from_op(np.argmin(self.data, axis=axis, keepdims=keepdims), None)

    def astype(self, dtype: Any) -> "Tensor":
        """A converted copy, outside the graph (casts are not differentiable here)."""
        return Tensor(self.data.astype(dtype))


def _shape_arg(args: tuple) -> tuple[int, ...]:
    """Accept both ``f(2, 3)`` and ``f((2, 3))``."""
    if len(args) == 1 and isinstance(args[0], (tuple, list)):
        args = tuple(args[0])
    return tuple(int(a) for a in args)


def _index_arg(index: Any) -> Any:
    """Tensors inside an index become ndarrays; lists become integer arrays."""
    if isinstance(index, tuple):
        return tuple(_index_arg(i) for i in index)
    if isinstance(index, Tensor):
        return index.data
    if isinstance(index, list):
        return np.asarray(index)
    return index


# ---------------------------------------------------------------------- functions
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """``Tensor(data, ...)`` as a function, like ``torch.tensor``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _t(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``cond ? a : b`` elementwise (cond is not differentiated)."""
    a = _t(a)
    b = a._other(b)
    cond = cond.data if isinstance(cond, Tensor) else np.asarray(cond)
    return Tensor.apply("where", a, b, cond=cond.astype(bool, copy=False))


def concatenate(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return Tensor.apply("concatenate", *[_t(t) for t in tensors], axis=axis)


def stack(tensors: Sequence[Tensor], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return Tensor.apply("stack", *[_t(t) for t in tensors], axis=axis)


def _unary(name: str):
    def f(x: Any, *args: Any, **kwargs: Any) -> Tensor:
        return getattr(_t(x), name)(*args, **kwargs)

    f.__name__ = name
    f.__doc__ = f"Function form of ``Tensor.{name}``."
    return f


# Function forms of the methods: tinygrad_np.exp(x), tinygrad_np.sum(x, axis=0), ...
FUNCTION_FORMS = (
    "add", "sub", "mul", "div", "pow", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu",
    "leaky_relu", "maximum", "minimum", "clip", "matmul", "sum", "mean", "max", "min", "var", "std",
    "logsumexp", "softmax", "log_softmax", "reshape", "transpose", "expand", "broadcast_to", "squeeze",
    "unsqueeze", "flatten", "argmax", "argmin", "swapaxes",
)
functions = {name: _unary(name) for name in FUNCTION_FORMS}


# ---------------------------------------------------------------------- creation helpers
def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _make(arr: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(arr.astype(dtype or DEFAULT_DTYPE, copy=False), requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape_arg(shape), dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape_arg(shape), dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape = _shape_arg((shape,) if isinstance(shape, int) else tuple(shape))
    return _make(np.full(shape, fill_value, dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    return _make(np.arange(start, stop, step) if stop is not None else np.arange(start), dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def rand(*shape: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from a seeded ``numpy.random.Generator`` (or an int seed)."""
    return _make(_rng(rng).random(_shape_arg(shape)), dtype, requires_grad)


def randn(*shape: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from a seeded ``numpy.random.Generator`` (or an int seed)."""
    return _make(_rng(rng).standard_normal(_shape_arg(shape)), dtype, requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(t), dtype=dtype), requires_grad=requires_grad)


def full_like(t: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full_like(np.asarray(t), fill_value, dtype=dtype), requires_grad=requires_grad)


def rand_like(t: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = np.asarray(t)
    return rand(a.shape, rng=rng, dtype=dtype or a.dtype, requires_grad=requires_grad)


def randn_like(t: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = np.asarray(t)
    return randn(a.shape, rng=rng, dtype=dtype or a.dtype, requires_grad=requires_grad)
