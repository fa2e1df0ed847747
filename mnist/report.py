"""The files of a run directory: config, history (JSON + CSV), summary and plots.

Every file is written atomically (temporary file + ``os.replace``), so an interrupted
run never leaves a half-written file behind.
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import atomic_write_text
from .metrics import EvalResult, confusion_matrix

__all__ = ["HISTORY_COLUMNS", "PLOTS", "write_json", "write_history", "write_plots", "read_json"]

HISTORY_COLUMNS = (
    "epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds",
    "samples_per_second",
)
#: Plot files written at the top of a run directory.
PLOTS = {
    "curves": "curves.png",
    "misclassified": "misclassified.png",
    "confusion_matrix": "confusion_matrix.png",
    "correct": "correct.png",
}


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become None, NumPy scalars become Python numbers."""
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _dumps(obj: Any, level: int = 0) -> str:
    """Indented JSON, but lists of plain values (and small dicts of them) stay on one line."""
    flat = not isinstance(obj, (dict, list)) or all(not isinstance(v, (dict, list)) for v in (
        obj.values() if isinstance(obj, dict) else obj))
    if flat and (not isinstance(obj, dict) or level > 0):
        return json.dumps(obj, allow_nan=False)
    pad, inner = "  " * level, "  " * (level + 1)
    if isinstance(obj, dict):
        items = [f"{inner}{json.dumps(str(k))}: {_dumps(v, level + 1)}" for k, v in obj.items()]
        return "{\n" + ",\n".join(items) + f"\n{pad}}}" if items else "{}"
    return "[\n" + ",\n".join(inner + _dumps(v, level + 1) for v in obj) + f"\n{pad}]"


def write_json(path: str | os.PathLike[str], obj: Any) -> Path:
    """Readable, strictly valid JSON (NaN becomes null), written atomically."""
    atomic_write_text(path, _dumps(_clean(obj)) + "\n")
    return Path(path)


def read_json(path: str | os.PathLike[str]) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def write_history(run_dir: str | os.PathLike[str], history: Sequence[Mapping[str, Any]]) -> tuple[Path, Path]:
    """``history.json`` (a list of per-epoch dicts) and ``history.csv`` (one row per epoch)."""
    run_dir = Path(run_dir)
    json_path = write_json(run_dir / "history.json", list(history))
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HISTORY_COLUMNS)
    for row in history:
        values = _clean([row.get(c) for c in HISTORY_COLUMNS])
        writer.writerow(["" if v is None else v for v in values])
    csv_path = run_dir / "history.csv"
    atomic_write_text(csv_path, buf.getvalue())
    return json_path, csv_path


def write_plots(
    run_dir: str | os.PathLike[str],
    history: Sequence[Mapping[str, Any]],
    images: np.ndarray,
    labels: np.ndarray,
    result: EvalResult,
    class_names: Sequence[str],
    *,
    max_images: int = 40,
    seed: int = 0,
    rows: np.ndarray | None = None,
) -> dict[str, Path]:
    """Learning curves, misclassified and correctly classified test images, confusion matrix.

    ``images`` are the uint8 test images, ``result`` the model's results on them, ``rows`` their
    positions in their file (the numbers shown; default: their index).
    """
    from . import plots  # matplotlib is imported only when plots are made

    run_dir = Path(run_dir)
    rows = np.arange(len(labels)) if rows is None else np.asarray(rows)
    out = {"curves": plots.plot_curves(history, run_dir / PLOTS["curves"])}
    pred, conf = result.predictions, result.confidences
    wrong = np.flatnonzero(pred != labels)
    # most confident mistakes first: the most instructive ones
    wrong = wrong[np.argsort(-conf[wrong], kind="stable")][:max_images]
    out["misclassified"] = plots.plot_predictions(
        images[wrong], labels[wrong], pred[wrong], conf[wrong], class_names, run_dir / PLOTS["misclassified"],
        indices=rows[wrong].tolist(),
        suptitle=f"misclassified test images: {int(np.sum(pred != labels))} of {len(labels)} "
                 "(true->predicted, confidence; most confident first)",
    )
    right = np.flatnonzero(pred == labels)
    pick = np.sort(np.random.default_rng(seed).permutation(right)[:max_images])
    out["correct"] = plots.plot_predictions(
        images[pick], labels[pick], pred[pick], conf[pick], class_names, run_dir / PLOTS["correct"],
        indices=rows[pick].tolist(), suptitle="sample of correctly classified test images (confidence)",
    )
    cm = confusion_matrix(labels, pred, len(class_names))
    out["confusion_matrix"] = plots.plot_confusion(cm, class_names, run_dir / PLOTS["confusion_matrix"])
    return out
