"""Fused neural-network ops: softmax cross-entropy on integer labels."""
from __future__ import annotations

import numpy as np

from ..autograd import Op, is_grad_enabled, register, run_op
from .elementwise import const
from .linalg import ones

REDUCTIONS = ("mean", "sum", "none")
UNSIGNED = {1: np.uint8, 2: np.uint16, 4: np.uint32, 8: np.uint64}  # same-size unsigned view of int labels


def check_labels(op: str, logits: np.ndarray, labels: np.ndarray) -> None:
    """Labels are integers in [0, C), one per row of (N, C) logits."""
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must be 2-D (batch, classes), got shape {logits.shape}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"{op}: labels of shape {labels.shape} do not match logits of shape {logits.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels must be integers, got {labels.dtype}")
    # one reduction: viewed as unsigned, a negative label becomes huge, so max() catches both ends
    unsigned = labels if labels.dtype.kind == "u" else labels.view(UNSIGNED[labels.itemsize])
    if labels.size and np.maximum.reduce(unsigned) >= logits.shape[1]:  # (ufunc.reduce: no Python wrapper)
        raise ValueError(f"{op}: labels must lie in [0, {logits.shape[1]}), got [{labels.min()}, {labels.max()}]")


def row_max(a: np.ndarray) -> np.ndarray:
    """Row maxima of a 2-D array, as a column (N, 1). NumPy reduces each row in its own inner
    loop, slow for many short rows (24 µs for 512 x 10); then reducing a column-major copy runs
    down whole contiguous columns instead (4 µs). For a few rows the copy does not pay."""
    if a.shape[1] <= 32 and a.shape[0] >= 16:
        a = np.asfortranarray(a)
    return np.maximum.reduce(a, axis=1, keepdims=True)


def row_sum(a: np.ndarray) -> np.ndarray:
    """Row sums of a 2-D array, as a column (N, 1). For many rows, the BLAS product a·1 is 3-8x
    faster than ``a.sum(axis=1)`` on the few columns of a classifier's logits."""
    if a.shape[0] >= 64:
        return (a @ ones(a.shape[1], a.dtype))[:, None]
    return a.sum(axis=1, keepdims=True)


@register("cross_entropy")
class CrossEntropy(Op):
    """ℓ_i = logsumexp(z_i) - z_i[y_i], averaged (mean), summed (sum) or per row (none).
    VJP: z̄ = (softmax(z) - onehot(y)) · g  (/ N for mean)."""

    def forward(self, logits, labels, reduction="mean"):
        check_labels("cross_entropy", logits, labels)
        if reduction not in REDUCTIONS:
            raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.labels, self.reduction = labels, reduction
        rows = np.arange(len(labels))
        shifted = logits - row_max(logits)  # max-shift: exp never overflows
        e = np.exp(shifted)
        total_e = row_sum(e)
        losses = np.log(total_e[:, 0]) - shifted[rows, labels]
        # softmax(z) - onehot(y), in place: the direction of the VJP, kept for backward
        self.residual = np.divide(e, total_e, out=e)
        self.residual[rows, labels] -= 1
        if reduction == "none":
            return losses
        total = np.add.reduce(losses, dtype=logits.dtype)
        return total / len(labels) if reduction == "mean" else total

    def backward(self, g, out):
        if is_grad_enabled():  # this VJP is being recorded: softmax(z) must be a graph node of z
            z = self.operands(g)[0]
            onehot = np.zeros(z.shape, dtype=z.dtype)
            onehot[np.arange(len(self.labels)), self.labels] = 1
            residual = run_op("softmax", z, axis=1) - const(onehot, g)
        else:  # from the forward pass
            residual = const(self.residual, g)
        scale = g.reshape(-1, 1) if self.reduction == "none" else g
        if self.reduction == "mean":
            scale = scale / len(self.labels)
        return (residual * scale,)
