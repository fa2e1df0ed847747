"""Fused neural-network ops: softmax cross-entropy on integer labels."""
from __future__ import annotations

import numpy as np

from ..autograd import Op, is_grad_enabled, register, run_op
from .elementwise import const

REDUCTIONS = ("mean", "sum", "none")


def check_labels(op: str, logits: np.ndarray, labels: np.ndarray) -> None:
    """Labels are integers in [0, C), one per row of (N, C) logits."""
    if logits.ndim != 2:
        raise ValueError(f"{op}: logits must be 2-D (batch, classes), got shape {logits.shape}")
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"{op}: labels of shape {labels.shape} do not match logits of shape {logits.shape}")
    if labels.dtype.kind not in "iu":
        raise TypeError(f"{op}: labels must be integers, got {labels.dtype}")
    if labels.size and (labels.min() < 0 or labels.max() >= logits.shape[1]):
        raise ValueError(f"{op}: labels must lie in [0, {logits.shape[1]}), got [{labels.min()}, {labels.max()}]")


@register("cross_entropy")
class CrossEntropy(Op):
    """ℓ_i = logsumexp(z_i) - z_i[y_i], averaged (mean), summed (sum) or per row (none).
    VJP: z̄ = (softmax(z) - onehot(y)) · g  (/ N for mean)."""

    def forward(self, logits, labels, reduction="mean"):
        check_labels("cross_entropy", logits, labels)
        if reduction not in REDUCTIONS:
            raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        self.labels, self.reduction = labels, reduction
        shifted = logits - logits.max(axis=1, keepdims=True)  # max-shift: exp never overflows
        e = np.exp(shifted)
        total_e = e.sum(axis=1, keepdims=True)
        losses = np.log(total_e[:, 0]) - shifted[np.arange(len(labels)), labels]
        self.probs = np.divide(e, total_e, out=e)  # softmax(z), kept for the VJP
        if reduction == "none":
            return losses
        total = losses.sum(dtype=logits.dtype)
        return total / len(labels) if reduction == "mean" else total

    def backward(self, g, out):
        z = self.operands(g)[0]
        # softmax(z) from the forward pass, unless this VJP is itself being differentiated
        # (create_graph=True): then it must be a graph node of z.
        p = run_op("softmax", z, axis=1) if is_grad_enabled() else const(self.probs, g)
        onehot = np.zeros(z.shape, dtype=z.dtype)
        onehot[np.arange(len(self.labels)), self.labels] = 1
        scale = g.reshape(-1, 1) if self.reduction == "none" else g
        if self.reduction == "mean":
            scale = scale / len(self.labels)
        return ((p - const(onehot, g)) * scale,)
