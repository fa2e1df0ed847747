"""Softmax cross-entropy of logits against integer labels, as one op (stable, and one graph node)."""
from __future__ import annotations

import numpy as np

from ..batching import stacked
from ..engine import Function, Tensor, register

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
class CrossEntropy(Function):
    """ℓᵢ = logsumexp(zᵢ) - zᵢ[yᵢ], averaged (mean), summed (sum) or per row (none); y the labels
    (an integer input, not differentiated).   VJP: z̄ = (softmax(z) - onehot(y)) · g  (/ N for mean).
    JVP: ℓ̇ᵢ = Σ_c (softmax(zᵢ) - onehot(yᵢ))_c żᵢc, then reduced like ℓ."""

    @staticmethod
    def forward(logits, labels, reduction="mean"):
        check_labels("cross_entropy", logits, labels)
        if reduction not in REDUCTIONS:
            raise ValueError(f"cross_entropy: reduction must be one of {REDUCTIONS}, got {reduction!r}")
        shifted = logits - np.max(logits, axis=1, keepdims=True)  # max-shift: exp never overflows
        losses = np.log(np.sum(np.exp(shifted), axis=1)) - shifted[np.arange(len(labels)), labels]
        return losses if reduction == "none" else np.mean(losses) if reduction == "mean" else np.sum(losses)

    def direction(self) -> Tensor:
        """softmax(z) - onehot(y): the derivative of each row's loss."""
        z, labels = self.inputs
        onehot = labels.reshape(-1, 1) == Tensor._wrap(np.arange(z.shape[1]))
        return z.softmax(axis=1) - onehot.astype(z.dtype)

    def vjp(self, i, g, y):
        if self.reduction == "none":
            return self.direction() * g.reshape(-1, 1)
        return self.direction() * (g / self.inputs[0].shape[0] if self.reduction == "mean" else g)

    def jvp(self, i, t, y):
        per_row = (self.direction() * t).sum(axis=1)
        return per_row if self.reduction == "none" else per_row.mean() if self.reduction == "mean" else per_row.sum()

    @classmethod
    def batch(cls, values, bdims, params, level):
        """Every example's rows as rows of one (B·N, C) batch, reduced per example afterwards."""
        (z, labels), (bz, bl) = values, bdims
        size = z.shape[bz] if bz is not None else labels.shape[bl]
        z = stacked(z, bz, size)
        labels = stacked(labels, bl, size)
        n, c = z.shape[1], z.shape[2]
        losses = Tensor.apply(cls, z.reshape(size * n, c), labels.reshape(size * n), reduction="none").reshape(size, n)
        reduction = params.get("reduction", "mean")
        return (losses if reduction == "none" else losses.mean(axis=1) if reduction == "mean"
                else losses.sum(axis=1)), 0
