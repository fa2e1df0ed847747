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


def var(x: Any, axis: Axis = None, keepdims: bool = False, ddof: float = 0, *,
        correction: float | None = None) -> Tensor:
    return as_tensor(x).var(axis, keepdims, ddof, correction=correction)


def std(x: Any, axis: Axis = None, keepdims: bool = False, ddof: float = 0, *,
        correction: float | None = None) -> Tensor:
    return as_tensor(x).std(axis, keepdims, ddof, correction=correction)


def logsumexp(x: Any, axis: Axis = None, keepdims: bool = False, b: Any = None) -> Tensor:
    """log Σ b·exp(x) over axis, as SciPy's ``logsumexp(x, axis, b=b, keepdims=keepdims)``."""
    if b is None:
        return as_tensor(x).logsumexp(axis, keepdims)
    x, b = operands(x, b)
    return x.logsumexp(axis, keepdims, b=b)


def softmax(x: Any, axis: int = -1) -> Tensor:
    return as_tensor(x).softmax(axis)


def log_softmax(x: Any, axis: int = -1) -> Tensor:
    return as_tensor(x).log_softmax(axis)


def argmax(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).argmax(axis, keepdims)


def argmin(x: Any, axis: int | None = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).argmin(axis, keepdims)


# ----------------------------------------------------------------------------- op coverage: more elementwise ops
def _unary(name: str):
    def f(x: Any) -> Tensor:
        return getattr(as_tensor(x), name)()

    f.__name__ = f.__qualname__ = name
    f.__doc__ = f"Elementwise ``{name}`` (the op ``{name}``; see ``tg.OPS[{name!r}]`` for its math)."
    return f


sin, cos, tan, sinh, cosh = (_unary(n) for n in ("sin", "cos", "tan", "sinh", "cosh"))
arcsin, arccos, arctan = (_unary(n) for n in ("arcsin", "arccos", "arctan"))
square, log1p, expm1, log2, log10, exp2 = (_unary(n) for n in ("square", "log1p", "expm1", "log2", "log10", "exp2"))
silu, mish, relu6, hardswish, erf, erfc, sign = (_unary(n) for n in
                                                ("silu", "mish", "relu6", "hardswish", "erf", "erfc", "sign"))


def arctan2(a: Any, b: Any) -> Tensor:
    """atan2(a, b): the angle of the point (b, a), in (-π, π]."""
    return Tensor.apply("arctan2", *operands(a, b))


def logaddexp(a: Any, b: Any) -> Tensor:
    """log(exp(a) + exp(b)) without overflow."""
    return Tensor.apply("logaddexp", *operands(a, b))


def hypot(a: Any, b: Any) -> Tensor:
    """√(a² + b²) without overflow."""
    return Tensor.apply("hypot", *operands(a, b))


def softplus(x: Any, beta: float = 1.0) -> Tensor:
    return as_tensor(x).softplus(beta)


def gelu(x: Any, approximate: str = "none") -> Tensor:
    return as_tensor(x).gelu(approximate)


def elu(x: Any, alpha: float = 1.0) -> Tensor:
    return as_tensor(x).elu(alpha)


# ----------------------------------------------------------------------------- op coverage: products, scans, norms
def prod(x: Any, axis: Axis = None, keepdims: bool = False) -> Tensor:
    return as_tensor(x).prod(axis, keepdims)


def cumsum(x: Any, axis: int | None = None) -> Tensor:
    return as_tensor(x).cumsum(axis)


def cumprod(x: Any, axis: int | None = None) -> Tensor:
    return as_tensor(x).cumprod(axis)


def norm(x: Any, ord: Any = None, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """As ``np.linalg.norm(x, ord, axis, keepdims)`` (see ``Tensor.norm`` for the supported ords)."""
    return as_tensor(x).norm(ord, axis, keepdims)


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


# ----------------------------------------------------------------------------- shape ops (op coverage)
def flip(x: Any, axis: Axis = None) -> Tensor:
    return as_tensor(x).flip(axis)


def roll(x: Any, shift: int | Sequence[int], axis: Axis = None) -> Tensor:
    return as_tensor(x).roll(shift, axis)


def repeat(x: Any, repeats: int | Sequence[int], axis: int | None = None) -> Tensor:
    return as_tensor(x).repeat(repeats, axis)


def tile(x: Any, reps: int | Sequence[int]) -> Tensor:
    return as_tensor(x).tile(reps)


def moveaxis(x: Any, source: int | Sequence[int], destination: int | Sequence[int]) -> Tensor:
    return as_tensor(x).moveaxis(source, destination)


def tril(x: Any, k: int = 0) -> Tensor:
    return as_tensor(x).tril(k)


def triu(x: Any, k: int = 0) -> Tensor:
    return as_tensor(x).triu(k)


def split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """NumPy's split: a list of Tensors (one slice each)."""
    return as_tensor(x).split(indices_or_sections, axis)


def array_split(x: Any, indices_or_sections: int | Sequence[int], axis: int = 0) -> list[Tensor]:
    """NumPy's array_split: a list of Tensors (one slice each)."""
    return as_tensor(x).array_split(indices_or_sections, axis)


def ravel(x: Any) -> Tensor:
    return as_tensor(x).ravel()


def permute(x: Any, *axes: Any) -> Tensor:
    return as_tensor(x).permute(*axes)


# ----------------------------------------------------------------------------- contractions (op coverage)
def einsum(subscripts: Any, *xs: Any, optimize: Any = False) -> Tensor:
    """y[out] = Σ Πₖ xₖ[sₖ] over the letters not in the output: NumPy's einsum (``...``, implicit
    outputs, repeated letters, any number of operands, and the interleaved form
    ``einsum(x, [0, 1], w, [1, 2], [0, 2])``). ``optimize`` is accepted for NumPy's signature and
    has no effect: the op picks its own contraction order."""
    if not isinstance(subscripts, str):
        subscripts, xs = _interleaved_subscripts(subscripts, *xs)
    return Tensor.apply("einsum", *operands(*xs), subscripts=subscripts)


def _interleaved_subscripts(*args: Any) -> tuple[str, tuple]:
    """``einsum(x0, labels0, x1, labels1, ..., [out])`` as a subscripts string and the operands:
    labels are ints in [0, 52) (0-25 -> A-Z, 26-51 -> a-z, NumPy's mapping) or Ellipsis."""

    def letters(labels: Any) -> str:
        out = []
        for lab in labels:
            if lab is Ellipsis:
                out.append("...")
            elif isinstance(lab, (int, np.integer)) and 0 <= lab < 52:
                out.append(chr(ord("A") + lab) if lab < 26 else chr(ord("a") + lab - 26))
            else:
                raise ValueError(f"einsum: a label must be an int in [0, 52) or Ellipsis, got {lab!r}")
        return "".join(out)

    xs, out = args[0::2], None
    labels = list(args[1::2])
    if len(xs) > len(labels):  # an odd count: the last is the output's labels
        out, xs = xs[-1], xs[:-1]
    subscripts = ",".join(letters(lab) for lab in labels)
    return (subscripts if out is None else f"{subscripts}->{letters(out)}"), tuple(xs)


def tensordot(a: Any, b: Any, axes: int | Sequence[Any] = 2) -> Tensor:
    a, b = operands(a, b)
    return a.tensordot(b, axes)


def dot(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b)
    return a.dot(b)


def inner(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b)
    return a.inner(b)


def outer(a: Any, b: Any) -> Tensor:
    a, b = operands(a, b)
    return a.outer(b)


def diagonal(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    return as_tensor(x).diagonal(offset, axis1, axis2)


def trace(x: Any, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Tensor:
    return as_tensor(x).trace(offset, axis1, axis2)


def diag(x: Any, k: int = 0) -> Tensor:
    return as_tensor(x).diag(k)
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
    # shape ops and contractions (op coverage)
    np.flip: flip, np.roll: roll, np.repeat: repeat, np.tile: tile, np.moveaxis: moveaxis, np.tril: tril,
    np.triu: triu, np.split: split, np.array_split: array_split, np.ravel: ravel,
    np.einsum: einsum, np.tensordot: tensordot, np.dot: dot, np.inner: inner, np.outer: outer,
    np.diagonal: diagonal, np.trace: trace, np.diag: diag,
    # op coverage: more elementwise ops, products, scans, norms
    np.sin: sin, np.cos: cos, np.tan: tan, np.sinh: sinh, np.cosh: cosh, np.arcsin: arcsin, np.arccos: arccos,
    np.arctan: arctan, np.arctan2: arctan2, np.square: square, np.log1p: log1p, np.expm1: expm1, np.log2: log2,
    np.log10: log10, np.exp2: exp2, np.logaddexp: logaddexp, np.hypot: hypot, np.sign: sign,
    np.prod: prod, np.cumsum: cumsum, np.cumprod: cumprod, np.linalg.norm: norm,
    # CNN family
    np.pad: pad,
})
NUMPY_FUNCTIONS.update({f: _on_arrays(f) for f in (
    np.shape, np.ndim, np.size, np.allclose, np.isclose, np.array_equal, np.isnan, np.isinf, np.isfinite,
    np.count_nonzero, np.nonzero, np.any, np.all, np.result_type,
)})
