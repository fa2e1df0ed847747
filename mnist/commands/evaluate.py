"""``python -m mnist eval``: accuracy, per-class precision/recall and the confusion matrix."""
from __future__ import annotations

import argparse

import numpy as np

from ..inference import load_classifier
from ..metrics import classification_report, format_confusion, format_per_class
from ..report import write_json
from .common import pct, select_images

__all__ = ["cmd_eval"]


def cmd_eval(args: argparse.Namespace) -> int:
    """Evaluate a checkpoint on a data split (``--split all``: a whole file); returns the exit status."""
    clf = load_classifier(args.checkpoint)
    sel = select_images(clf, args, need_labels=True)
    assert sel.labels is not None
    labels = sel.labels
    result = clf.classify(sel.images, labels)
    report = classification_report(labels, result.predictions, clf.class_names)
    print(f"checkpoint: {clf.path} (epoch {clf.epoch})")
    print(f"data: {sel.what}, {len(labels):,} images")
    correct = int(np.sum(result.predictions == labels))
    print(f"accuracy: {pct(result.accuracy)} ({correct:,}/{len(labels):,})  loss: {result.loss:.4f}\n")
    print(format_per_class(report))
    print("\nconfusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion(np.asarray(report["confusion_matrix"]), clf.class_names))
    if args.json:
        report.update(loss=result.loss, checkpoint=str(clf.path), data=sel.what, split=args.split)
        write_json(args.json, report)
        print(f"\nwrote {args.json}")
    return 0
