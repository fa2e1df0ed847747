"""Classification metrics on integer labels: accuracy, confusion matrix, per-class precision/recall.

Pure NumPy; also the numerically stable softmax / cross-entropy used on evaluation logits.
"""
from __future__ import annotations

import math
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = [
    "accuracy",
    "confusion_matrix",
    "per_class",
    "classification_report",
    "format_confusion",
    "format_per_class",
    "log_softmax",
    "softmax",
    "cross_entropy",
    "EvalResult",
    "evaluate_logits",
]


def accuracy(predictions: np.ndarray, labels: np.ndarray) -> float:
    """Fraction of predictions equal to the labels (0.0 for empty input)."""
    predictions, labels = np.asarray(predictions), np.asarray(labels)
    if predictions.shape != labels.shape:
        raise ValueError(f"predictions {predictions.shape} and labels {labels.shape} differ in shape")
    return float(np.mean(predictions == labels)) if labels.size else 0.0


def confusion_matrix(labels: np.ndarray, predictions: np.ndarray, num_classes: int) -> np.ndarray:
    """(C, C) int64 counts: row = true class, column = predicted class."""
    labels = np.asarray(labels, dtype=np.int64)
    predictions = np.asarray(predictions, dtype=np.int64)
    flat = np.bincount(labels * num_classes + predictions, minlength=num_classes * num_classes)
    return flat[: num_classes * num_classes].reshape(num_classes, num_classes)


def per_class(cm: np.ndarray) -> dict[str, np.ndarray]:
    """Per-class ``precision``, ``recall``, ``f1`` (0 where undefined) and ``support`` of a confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    tp = np.diag(cm)
    predicted, actual = cm.sum(axis=0), cm.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        precision = np.where(predicted > 0, tp / predicted, 0.0)
        recall = np.where(actual > 0, tp / actual, 0.0)
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    return {"precision": precision, "recall": recall, "f1": f1, "support": actual.astype(np.int64)}


def classification_report(
    labels: np.ndarray, predictions: np.ndarray, class_names: Sequence[str]
) -> dict[str, Any]:
    """JSON-ready dict: accuracy, confusion matrix and per-class metrics (plus macro averages)."""
    cm = confusion_matrix(labels, predictions, len(class_names))
    pc = per_class(cm)
    return {
        "accuracy": accuracy(predictions, labels),
        "n": int(len(labels)),
        "class_names": list(class_names),
        "confusion_matrix": cm.tolist(),
        "per_class": {
            name: {
                "precision": float(pc["precision"][i]),
                "recall": float(pc["recall"][i]),
                "f1": float(pc["f1"][i]),
                "support": int(pc["support"][i]),
            }
            for i, name in enumerate(class_names)
        },
        "macro_precision": float(pc["precision"].mean()) if len(class_names) else 0.0,
        "macro_recall": float(pc["recall"].mean()) if len(class_names) else 0.0,
    }


def text_width(text: str) -> int:
    """Columns ``text`` takes in a terminal (East Asian wide characters such as 七 take two)."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _ljust(text: str, width: int) -> str:
    return text + " " * max(0, width - text_width(text))


def _rjust(text: str, width: int) -> str:
    return " " * max(0, width - text_width(text)) + text


def format_per_class(report: dict[str, Any]) -> str:
    """A text table of per-class precision / recall / F1 / support."""
    names = report["class_names"]
    width = max([len("class"), *(text_width(n) for n in names)])
    lines = [f"{'class':<{width}}  precision  recall     f1  support"]
    for name in names:
        m = report["per_class"][name]
        lines.append(
            f"{_ljust(name, width)}  {m['precision']:9.4f}  {m['recall']:6.4f}  {m['f1']:5.4f}  {m['support']:7d}"
        )
    lines.append(
        f"{'macro':<{width}}  {report['macro_precision']:9.4f}  {report['macro_recall']:6.4f}"
    )
    return "\n".join(lines)


def format_confusion(cm: np.ndarray, class_names: Sequence[str]) -> str:
    """A text confusion matrix (rows: true class, columns: predicted class)."""
    cm = np.asarray(cm)
    short = [name[:6] for name in class_names]
    cell = max(5, len(str(int(cm.max(initial=0)))) + 1, *(text_width(s) + 1 for s in short))
    corner = "true\\pred"
    label_w = max([len(corner), *(text_width(n) for n in short)])
    lines = [corner.ljust(label_w) + "".join(_rjust(s, cell) for s in short)]
    for name, row in zip(short, cm):
        lines.append(_ljust(name, label_w) + "".join(f"{int(v):>{cell}d}" for v in row))
    return "\n".join(lines)


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise log-softmax of (N, C) logits, numerically stable."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax of (N, C) logits."""
    return np.exp(log_softmax(logits))


def cross_entropy(logits: np.ndarray, labels: np.ndarray) -> float:
    """Mean softmax cross-entropy of (N, C) logits at integer labels."""
    if len(labels) == 0:
        return 0.0
    return float(-log_softmax(logits)[np.arange(len(labels)), labels].mean(dtype=np.float64))


@dataclass
class EvalResult:
    """Loss, accuracy, predictions and confidences of a model on one data split
    (loss and accuracy are NaN when there are no labels)."""

    loss: float
    accuracy: float
    predictions: np.ndarray
    confidences: np.ndarray
    probabilities: np.ndarray = field(repr=False)


def evaluate_logits(logits: np.ndarray, labels: np.ndarray | None, loss: str = "ce") -> EvalResult:
    """Metrics from (N, C) logits: ``loss`` is ``"ce"`` (softmax cross-entropy) or ``"mse"``
    (mean squared error of the logits against one-hot labels, as in training)."""
    logp = log_softmax(logits.astype(np.float64))
    probs = np.exp(logp)
    pred = logits.argmax(axis=1)
    conf = probs[np.arange(len(pred)), pred]
    if labels is None or len(labels) == 0:
        return EvalResult(math.nan, math.nan, pred, conf, probs)
    rows = np.arange(len(labels))
    if loss == "ce":
        value = float(-logp[rows, labels].mean())
    else:
        onehot = np.zeros(logits.shape, dtype=np.float64)
        onehot[rows, labels] = 1.0
        value = float(((logits - onehot) ** 2).mean())
    return EvalResult(value, float(np.mean(pred == labels)), pred, conf, probs)
