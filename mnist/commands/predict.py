"""``python -m mnist predict``: classify a CSV file, an IDX images file, or image files and folders."""
from __future__ import annotations

import argparse
from collections import Counter

import numpy as np

from ..checkpoint import atomic_write_text
from ..data import write_predictions_csv
from ..inference import load_classifier
from ..inputs import read_inputs
from .common import pct

__all__ = ["cmd_predict"]


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


def cmd_predict(args: argparse.Namespace) -> int:
    """Print (and with ``--out`` write) the predictions; returns the exit status."""
    clf = load_classifier(args.checkpoint)
    inputs = read_inputs(args.inputs, clf.image_shape, len(clf.class_names), args.invert, args.labels,
                         light_background=clf.light_background)
    result = clf.classify(inputs.images, inputs.labels)
    names = clf.class_names
    pred, conf = result.predictions, result.confidences
    if inputs.kind == "images":
        width = max(len(n) for n in inputs.names)
        for name, p, c in zip(inputs.names, pred, conf):
            print(f"{name:<{width}}  {names[p]}  ({100 * c:.1f}%)")
        if args.out:
            rows = ["file,label,class_name,confidence"]
            rows += [f"{_csv_field(n)},{int(p)},{_csv_field(names[p])},{c:.6f}"
                     for n, p, c in zip(inputs.names, pred, conf)]
            atomic_write_text(args.out, "\n".join(rows) + "\n")
            print(f"wrote {args.out}")
        return 0
    out = args.out or ("predictions.csv" if inputs.kind == "csv" else None)
    shown = min(args.limit, len(pred))
    for i in range(shown):
        print(f"{inputs.names[i]:>6}  {names[pred[i]]}  ({100 * conf[i]:.1f}%)")
    if shown < len(pred):
        print(f"... ({len(pred) - shown:,} more)")
    counts = Counter(int(p) for p in pred)
    print(f"{len(pred):,} images; predicted classes: " + ", ".join(f"{names[k]}: {counts[k]}" for k in sorted(counts)))
    if inputs.labels is not None:
        print(f"accuracy against the labels: {pct(result.accuracy)}")
    if out:
        write_predictions_csv(out, pred.astype(np.int64))
        print(f"wrote {len(pred):,} predictions to {out} (ImageId,Label)")
    return 0
