"""The function forms of the ops: ``tg.exp(x)``, ``tg.add(0.1, x)``, ``tg.where(c, a, b)``, ...

Arguments may be Tensors, ndarrays or Python numbers. A Python scalar or constant array takes
the dtype of the Tensor operand, wherever it stands (``tg.add(0.1, x64)`` is exact, as
``0.1 + x64`` is), as in PyTorch. This module also tells NumPy which of its functions these are
(``np.exp(t)`` runs ``tg.exp``; see ``tensor_methods.NUMPY_FUNCTIONS``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .engine import Tensor
from .tensor_methods import NUMPY_FUNCTIONS, Axis


def as_tensor(x: Any) -> Tensor:
    """A Tensor for ``x`` (Tensors pass through; other data as ``Tensor(x)``)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def operands(*xs: Any) -> list[Tensor]:
    """``xs`` as Tensors: non-Tensors take the float dtype of the first Tensor among them."""
    ref = next((x for x in xs if isinstance(x, Tensor)), None)
    if ref is None:
        return [Tensor(x) for x in xs]
    return [ref._other(x) for x in xs]


# ----------------------------------------------------------------------------- binary
def add(a: Any, b: Any) -> Tensor:
    return Tensor.apply("add", *operands(a, b))


def sub(a: Any, b: Any) -> Tensor:
    return Tensor.apply("sub", *operands(a, b))


def mul(a: Any, b: Any) -> Tensor:
    return Tensor.apply("mul", *operands(a, b))


def div(a: Any, b: Any) -> Tensor:
    return Tensor.apply("div", *operands(a, b))


def pow(a: Any, b: Any) -> Tensor:  # noqa: A001
    return Tensor.apply("pow", *operands(a, b))


def matmul(a: Any, b: Any) -> Tensor:
    return Tensor.apply("matmul", *operands(a, b))


def maximum(a: Any, b: Any) -> Tensor:
    return Tensor.apply("maximum", *operands(a, b))


def minimum(a: Any, b: Any) -> Tensor:
    return Tensor.apply("minimum", *operands(a, b))


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` holds, else ``b`` (elementwise, broadcasting; ``cond`` is not differentiated)."""
    a, b = operands(a, b)
    c = cond if isinstance(cond, Tensor) else Tensor(np.asarray(cond))
    if c.dtype != np.bool_:
        c = c.astype(np.bool_)
    return Tensor.apply("where", c, a, b)


def _compare(name: str):
    def f(a: Any, b: Any) -> Tensor:
        return Tensor.apply(name, *operands(a, b))

    f.__name__ = name
    f.__doc__ = f"Elementwise ``{name}`` (a boolean Tensor, not differentiable)."
    return f


less, less_equal = _compare("less"), _compare("less_equal")
greater, greater_equal = _compare("greater"), _compare("greater_equal")
equal, not_equal = _compare("equal"), _compare("not_equal")


# ----------------------------------------------------------------------------- unary and reductions
def neg(x: Any) -> Tensor:
    return -as_tensor(x)


def exp(x: Any) -> Tensor:
    return as_tensor(x).exp()


def log(x: Any) -> Tensor:
    return as_tensor(x).log()


def sqrt(x: Any) -> Tensor:
    return as_tensor(x).sqrt()


def abs(x: Any) -> Tensor:  # noqa: A001
    return as_tensor(x).abs()


def tanh(x: Any) -> Tensor:
    return as_tensor(x).tanh()


def sigmoid(x: Any) -> Tensor:
    return as_tensor(x).sigmoid()


def relu(x: Any) -> Tensor:
    return as_tensor(x).relu()


def leaky_relu(x: Any, negative_slope: float = 0.01) -> Tensor:
    return as_tensor(x).leaky_relu(negative_slope)


def clip(x: Any, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
    return as_tensor(x).clip(min, max)


def sum(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return as_tensor(x).sum(axis, keepdims)


def mean(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).mean(axis, keepdims)


def max(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return as_tensor(x).max(axis, keepdims)


def min(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A001
    return as_tensor(x).min(axis, keepdims)


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    return as_tensor(x).var(axis, keepdims, ddof)


def std(x: Any, axis: Axis = None, keepdims: bool = False, ddof: int = 0) -> Tensor:
    return as_tensor(x).std(axis, keepdims, ddof)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).logsumexp(axis, keepdims)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return as_tensor(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return as_tensor(x).log_softmax(axis)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).argmax(axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).argmin(axis, keepdims)


# ----------------------------------------------------------------------------- shape
def reshape(x: Any, *shape: Any) -> Tensor:
    return as_tensor(x).reshape(*shape)


def transpose(x: Any, *axes: Any) -> Tensor:
    return as_tensor(x).transpose(*axes)


def swapaxes(x: Any, a: int, b: int) -> Tensor:
    return as_tensor(x).swapaxes(a, b)


def expand(x: Any, *shape: Any) -> Tensor:
    return as_tensor(x).expand(*shape)


broadcast_to = expand


def squeeze(x: Any, axis: Axis = None) -> Tensor:
    return as_tensor(x).squeeze(axis)


def unsqueeze(x: Any, axis: int) -> Tensor:
    return as_tensor(x).unsqueeze(axis)


expand_dims = unsqueeze


def flatten(x: Any, start_dim: int = 0, end_dim: int = -1) -> Tensor:
    return as_tensor(x).flatten(start_dim, end_dim)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    return Tensor.apply("concatenate", *operands(*tensors), axis=axis)


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along a new axis."""
    return Tensor.apply("stack", *operands(*tensors), axis=axis)


# ----------------------------------------------------------------------------- CNN family: padding
def pad(x: Any, pad_width: Any, mode: str = "constant", constant_values: float = 0.0) -> Tensor:
    """NumPy's ``np.pad``: ``pad_width`` an int, a (before, after) pair, or one pair per axis; mode
    constant (with a scalar ``constant_values``), reflect, symmetric, edge or wrap. One ``pad`` op."""
    x = as_tensor(x)
    widths = np.broadcast_to(np.asarray(pad_width, dtype=np.int64), (x.ndim, 2)) if x.ndim else np.zeros((0, 2), int)
    if np.ndim(constant_values) != 0:
        raise ValueError("pad: constant_values must be a scalar (one value for every side)")
    return Tensor.apply("pad", x, widths=tuple((int(b), int(a)) for b, a in widths), mode=mode,
                        value=float(constant_values))


def _on_arrays(func: Any):
    """A NumPy function whose result is not differentiable by nature (a bool, a shape, an index),
    run on the arrays of its Tensor arguments."""

    def f(*args: Any, **kwargs: Any) -> Any:
        args = [a.data if isinstance(a, Tensor) else a for a in args]
        return func(*args, **kwargs)

    return f


NUMPY_FUNCTIONS.update({
    np.add: add, np.subtract: sub, np.multiply: mul, np.divide: div, np.power: pow, np.matmul: matmul,
    np.maximum: maximum, np.minimum: minimum, np.negative: neg, np.exp: exp, np.log: log, np.sqrt: sqrt,
    np.absolute: abs, np.tanh: tanh, np.clip: clip, np.where: where,
    np.less: less, np.less_equal: less_equal, np.greater: greater, np.greater_equal: greater_equal,
    np.equal: equal, np.not_equal: not_equal,
    np.sum: sum, np.mean: mean, np.max: max, np.amax: max, np.min: min, np.amin: min, np.var: var,
    np.std: std, np.argmax: argmax, np.argmin: argmin,
    np.reshape: reshape, np.transpose: transpose, np.swapaxes: swapaxes, np.broadcast_to: broadcast_to,
    np.squeeze: squeeze, np.expand_dims: expand_dims, np.concatenate: concatenate, np.stack: stack,
    # CNN family
    np.pad: pad,
})
NUMPY_FUNCTIONS.update({f: _on_arrays(f) for f in (
    np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.isnan, np.isinf, np.isfinite,
    np.count_nonzero, np.nonzero, np.any, np.all, np.result_type,
)})
