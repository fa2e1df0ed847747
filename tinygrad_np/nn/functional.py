"""Losses and activations as functions of Tensors (``tinygrad_np.nn.functional``, alias ``F``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Tensor
from ..functions import where  # noqa: F401  (re-exported for convenience)
from ..ops.nn import REDUCTIONS, check_labels


def labels_tensor(labels: Any, what: str = "labels") -> Tensor:
    """Integer class labels as a Tensor (a Tensor, an ndarray or a list of ints); anything else
    (floats, bools) is refused rather than truncated."""
    t = labels if isinstance(labels, Tensor) else Tensor(np.asarray(labels))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, got dtype {t.dtype}")
    return t


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against integer labels, as one stable op:
    ℓᵢ = logsumexp(zᵢ) - zᵢ[yᵢ]. VJP: (softmax(z) - onehot(y)) / N."""
    return Tensor.apply("cross_entropy", logits, labels_tensor(labels, "cross_entropy: labels"), reduction=reduction)


def nll_loss(log_probs: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of (N, C) log-probabilities at integer labels: -logp[i, yᵢ]."""
    y = labels_tensor(labels, "nll_loss: labels").data
    check_labels("nll_loss", log_probs.data, y)
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    picked = -log_probs[np.arange(len(y)), y]
    return picked if reduction == "none" else picked.mean() if reduction == "mean" else picked.sum()


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of squared differences (pred - target)²; shapes must match exactly."""
    target = pred._other(target)
    if pred.shape != target.shape:
        raise ValueError(f"mse_loss: pred shape {pred.shape} != target shape {target.shape}")
    sq = (pred - target) ** 2
    return sq if reduction == "none" else sq.mean() if reduction == "mean" else sq.sum()


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> Tensor:
    """Integer labels (N,) -> (N, num_classes) rows of zeros with a one at the label; a label
    outside [0, num_classes) raises (never wraps around)."""
    y = labels_tensor(labels, "one_hot: labels").data
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return Tensor(out)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W + b with W of shape (in_features, out_features): one op (one graph node)."""
    if bias is None:
        return Tensor.apply("linear", x, weight)
    return Tensor.apply("linear", x, weight, bias)
