"""NumPy VJPs of the hot registry ops, for a plain backward pass (the seam ``engine.LOWERED_VJPS``).

What it buys: a textbook VJP is written with Tensor ops, so each of its steps pays for an op
(a Function, a Tensor, the checks of ``Tensor.apply``), about 2 µs. These functions compute the
same NumPy expressions, in the same order, on the arrays directly and wrap only the result, so
the values are the same bits (``tests/engine/test_fast.py`` compares every one with its textbook
rule). The engine uses them in a plain ``backward()`` of plain Tensors, never when the backward
pass is being recorded (``create_graph=True``) or runs on the values of a transformation.
Measured by ``python -m benchmarks.op_overhead`` and ``python -m benchmarks.dev.ab_versions``.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..engine import LOWERED_VJPS, Function, Tensor
from ..ops import elementwise as E
from ..ops import linalg as L
from ..ops import movement as M
from ..ops import nn as N
from ..ops import reduce as R
from ..ops.reduce import kept_shape, normalize_axes
from .forwards import constant

wrap = Tensor._wrap


def lowers(*classes: type[Function]) -> Callable:
    """Register the decorated function as the lowered VJP of ``classes``."""

    def deco(fn: Callable) -> Callable:
        for cls in classes:
            LOWERED_VJPS[cls] = fn
        return fn

    return deco


def ones(n: int, dtype: np.dtype) -> np.ndarray:
    """``np.ones(n, dtype)``, read-only and made once per (n, dtype) (``forwards.constant``)."""
    return constant(1, n, dtype)


# (A Python number next to a float32 array stays float32 in NumPy, so ``1 - y`` here computes what
# the textbook's ``1 - y`` on Tensors computes, where the engine casts the 1 to y's dtype.)


@lowers(E.Add)
def add(fn, i, g, y):
    return g


@lowers(E.Sub)
def sub(fn, i, g, y):
    return g if i == 0 else wrap(np.negative(g._data))


@lowers(E.Mul)
def mul(fn, i, g, y):
    a, b = fn.inputs
    return wrap(np.multiply(g._data, (b if i == 0 else a)._data))


@lowers(E.Div)
def div(fn, i, g, y):
    a, b = fn.inputs
    if i == 0:
        return wrap(np.divide(g._data, b._data))
    return wrap(np.negative(g._data) * a._data / (b._data * b._data))


@lowers(E.Neg)
def neg(fn, i, g, y):
    return wrap(np.negative(g._data))


@lowers(E.Exp)
def exp(fn, i, g, y):
    return wrap(np.multiply(g._data, y._data))


@lowers(E.Log)
def log(fn, i, g, y):
    return wrap(np.divide(g._data, fn.inputs[0]._data))


@lowers(E.Tanh)
def tanh(fn, i, g, y):
    yd = y._data
    return wrap(g._data * (1 - yd * yd))


@lowers(E.Sigmoid)
def sigmoid(fn, i, g, y):
    yd = y._data
    return wrap(g._data * yd * (1 - yd))


@lowers(E.ReLU)
def relu(fn, i, g, y):
    return wrap(np.multiply(g._data, y._data > 0))


@lowers(R.Sum)
def sum_(fn, i, g, y):
    x = fn.inputs[0]
    return wrap(np.broadcast_to(g._data.reshape(kept_shape(x.shape, normalize_axes(fn.axis, x.ndim, "sum"))), x.shape))


@lowers(R.Mean)
def mean(fn, i, g, y):
    x = fn.inputs[0]
    axes = normalize_axes(fn.axis, x.ndim, "mean")
    spread = np.broadcast_to(g._data.reshape(kept_shape(x.shape, axes)), x.shape)
    return wrap(spread / int(np.prod([x.shape[k] for k in axes])))


@lowers(R.LogSoftmax)
def log_softmax(fn, i, g, y):
    gd = g._data
    return wrap(gd - np.exp(y._data) * np.sum(gd, axis=normalize_axes(fn.axis, gd.ndim, "sum"), keepdims=True))


@lowers(M.Reshape)
def reshape(fn, i, g, y):
    return wrap(g._data.reshape(fn.inputs[0].shape))


@lowers(M.Transpose)
def transpose(fn, i, g, y):
    return wrap(g._data.transpose(np.argsort([ax % g.ndim for ax in fn.axes]).tolist()))


@lowers(L.MatMul)
def matmul(fn, i, g, y):
    a, b = fn.inputs
    if a.ndim != 2 or b.ndim != 2:  # the rule's 1-D and batched cases stay textbook
        return L.MatMul.vjp(fn, i, g, y)
    return wrap(np.matmul(g._data, b._data.T) if i == 0 else np.matmul(a._data.T, g._data))


@lowers(L.Linear)
def linear(fn, i, g, y):
    return wrap(linear_vjp(i, fn.inputs[0]._data, fn.inputs[1]._data, g._data))


def linear_vjp(i: int, x: np.ndarray, w: np.ndarray, g: np.ndarray) -> np.ndarray:
    """Linear's VJP for input i on arrays: x̄ = g Wᵀ, W̄ = xᵀ g, b̄ = 1ᵀ g (leading dims as rows)."""
    if i == 0:
        return np.matmul(g, w.T)
    rows = g.reshape(-1, g.shape[-1])
    if i == 1:
        return np.matmul(x.reshape(-1, x.shape[-1]).T, rows)
    return np.matmul(ones(rows.shape[0], rows.dtype), rows)


@lowers(N.CrossEntropy)
def cross_entropy(fn, i, g, y):
    z, labels = fn.inputs[0]._data, fn.inputs[1]._data
    direction = fn.__dict__.get("direction_")  # kept by the lowered forward (fast/forwards.py)
    if direction is None:
        onehot = np.equal(labels.reshape(-1, 1), np.arange(z.shape[1])).astype(z.dtype)
        direction = np.subtract(R.Softmax.forward(z, axis=1), onehot)
    gd = g._data
    if fn.reduction == "none":
        return wrap(direction * gd.reshape(-1, 1))
    return wrap(direction * (gd / z.shape[0] if fn.reduction == "mean" else gd))
