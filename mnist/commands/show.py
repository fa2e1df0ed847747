"""``python -m mnist show``: a grid of images with their predictions (and labels, when known)."""
from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..ascii import ascii_image
from ..inference import load_classifier
from .common import pct, select_images

__all__ = ["cmd_show"]


def _wait_for_enter(prompt: str = "Enter: next image, q: stop ") -> bool:
    """In a terminal, wait for Enter; False when the user typed q (or input ended)."""
    try:
        answer = input(prompt)
    except EOFError:
        return False
    return answer.strip().lower() not in ("q", "quit")


def cmd_show(args: argparse.Namespace, *, interactive: bool | None = None,
             wait: Callable[[], bool] = _wait_for_enter) -> int:
    """Save (and display) the grid; ``--one-by-one`` steps through the images, waiting for Enter
    between them when stdin and stdout are terminals. Returns the exit status."""
    from .. import plots  # matplotlib: only for the commands that draw

    clf = load_classifier(args.checkpoint)
    sel = select_images(clf, args, need_labels=False)
    n = len(sel.images)
    if args.start >= n:
        raise ValueError(f"--start {args.start} is beyond the {n:,} images of {sel.what}")
    idx = np.arange(args.start, min(args.start + args.count, n))
    labels = sel.labels[idx] if sel.labels is not None else None
    result = clf.classify(sel.images[idx], labels)
    names = clf.class_names
    pred, conf = result.predictions, result.confidences
    rows = sel.rows[idx]
    title = "true->predicted" if labels is not None else "predicted, unlabelled data"
    path = plots.plot_predictions(sel.images[idx], labels, pred, conf, names, args.out, indices=rows.tolist(),
                                  suptitle=f"{sel.what}: images #{rows[0]}..#{rows[-1]} ({title})")
    for k, row in enumerate(rows):
        if labels is None:
            print(f"#{row:<6} predicted {names[pred[k]]:<12} ({100 * conf[k]:5.1f}%)")
        else:
            mark = "" if pred[k] == labels[k] else "   <-- wrong"
            print(f"#{row:<6} true {names[labels[k]]:<12} predicted {names[pred[k]]:<12} ({100 * conf[k]:5.1f}%){mark}")
    summary = (f"accuracy on these {len(idx)}: {pct(result.accuracy)}; " if labels is not None
               else f"{len(idx)} images; ")
    print(f"{summary}grid saved to {path}  (#N = the image's position in {sel.source})")
    window = not args.no_window and plots.display_available()
    if interactive is None:
        interactive = sys.stdin.isatty() and sys.stdout.isatty()
    if args.one_by_one:
        for k, row in enumerate(rows):
            truth = f"true {names[labels[k]]}, " if labels is not None else ""
            print(f"\n#{row}: {truth}predicted {names[pred[k]]} ({100 * conf[k]:.1f}%)")
            print(ascii_image(sel.images[idx[k]]))
            if window:
                single = Path(args.out).with_name(f"{Path(args.out).stem}-{row}.png")
                plots.plot_predictions(sel.images[idx[k] : idx[k] + 1], None if labels is None else labels[k : k + 1],
                                       pred[k : k + 1], conf[k : k + 1], names, single, indices=[int(row)], ncols=1)
                plots.show_png(single, f"#{row}")
            elif interactive and k + 1 < len(rows) and not wait():
                break
    elif window:
        plots.show_png(path, "mnist show")
    return 0
