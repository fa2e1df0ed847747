"""Faster forwards of registry ops, for plain Tensors (the seam ``engine.LOWERED_FORWARDS``).

What it buys (``python -m benchmarks.op_overhead``; ``python -m benchmarks.dev.ab_versions`` with
``TINYGRAD_NP_FAST=0`` on one side): NumPy reduces each row of a (batch, 10) array of logits in
its own short inner loop, 4-5x slower than reducing a column-major copy down whole columns, and
``maximum(a, 0)`` runs faster against a row of zeros than against the scalar. The cross-entropy
forward also keeps ``softmax(z) - onehot(y)`` on its node, so the VJP does not compute it again.
The values are the same bits as the textbook forwards and VJPs (``tests/engine/test_fast.py``):
a maximum is exact whichever order it is taken in, and every sum is taken as the textbook takes it.
"""
from __future__ import annotations

from typing import Callable

import numpy as np

from ..engine import LOWERED_FORWARDS, Function
from ..ops import elementwise as E
from ..ops import nn as N


def lowers_forward(*classes: type[Function]) -> Callable:
    """Register the decorated function as the lowered forward of ``classes``."""

    def deco(fn: Callable) -> Callable:
        for cls in classes:
            LOWERED_FORWARDS[cls] = fn
        return fn

    return deco


def row_max(a: np.ndarray) -> np.ndarray:
    """``np.max(a, axis=1, keepdims=True)`` of a 2-D array, the same values, faster for many short
    rows: reduce a column-major copy (whole contiguous columns per step) when the rows are short."""
    if a.shape[1] <= 32 and a.shape[0] >= 16:
        a = np.asfortranarray(a)
    return np.maximum.reduce(a, axis=1, keepdims=True)


_CONSTANTS: dict[tuple, np.ndarray] = {}


def constant(value: float, n: int, dtype: np.dtype) -> np.ndarray:
    """A read-only vector of ``n`` entries equal to ``value``, made once and kept (a cache of
    constants: making a fresh one costs a NumPy call per op)."""
    key = (value, n, dtype)
    arr = _CONSTANTS.get(key)
    if arr is None:
        if len(_CONSTANTS) > 1024:  # bounded: the batch sizes and widths of a run are few
            _CONSTANTS.clear()
        arr = _CONSTANTS[key] = np.full(n, value, dtype=dtype)
        arr.setflags(write=False)
    return arr


def zeros_row(a: np.ndarray) -> np.ndarray:
    """A row of zeros matching ``a``'s last axis: ``maximum(a, zeros_row(a))`` is NumPy's fast
    row-by-row loop for ``maximum(a, 0)``, the same values (also for -0.0 and NaN)."""
    return constant(0, a.shape[-1], a.dtype) if a.ndim else np.zeros((), a.dtype)


@lowers_forward(E.ReLU)
def relu(fn, a):
    return np.maximum(a, zeros_row(a))


UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # same-size unsigned view of int labels


def labels_in_range(logits: np.ndarray, labels: np.ndarray) -> bool:
    """``0 <= labels < C`` with one reduction: viewed as unsigned, a negative label is huge."""
    if labels.dtype.kind not in "iu" or labels.shape != logits.shape[:1] or logits.ndim != 2:
        return False
    unsigned = labels if labels.dtype.kind == "u" else labels.view(UNSIGNED[labels.itemsize])
    return not labels.size or np.maximum.reduce(unsigned) < logits.shape[1]


@lowers_forward(N.CrossEntropy)
def cross_entropy(fn, logits, labels, reduction="mean"):
    """The textbook forward with ``row_max`` and the reductions without their Python wrappers
    (``np.add.reduce`` is ``np.sum``); on a recorded node it keeps the VJP's direction."""
    if not labels_in_range(logits, labels):
        N.check_labels("cross_entropy", logits, labels)  # raises, with the textbook's message
    if reduction not in N.REDUCTIONS:
        raise ValueError(f"cross_entropy: reduction must be one of {N.REDUCTIONS}, got {reduction!r}")
    shifted = logits - row_max(logits)
    e = np.exp(shifted)
    total = np.add.reduce(e, axis=1, keepdims=True)
    rows = np.arange(len(labels))
    losses = np.log(total[:, 0]) - shifted[rows, labels]
    if fn is not None:  # softmax(z) - onehot(y), as the textbook VJP computes it (p - 1 where p - onehot is)
        direction = np.divide(e, total, out=e)
        direction[rows, labels] -= 1
        fn.direction_ = direction
    if reduction == "none":
        return losses
    total_loss = np.add.reduce(losses)  # np.sum / np.mean without their Python wrappers: the same sum
    return total_loss / len(labels) if reduction == "mean" else total_loss
