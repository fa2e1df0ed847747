"""What the commands share: the command line as text, percentages, and the images of a data split."""
from __future__ import annotations

import argparse
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..data import FormatError, check_labels, is_chinese_mnist_csv, load_any, read_source
from ..inference import Classifier

__all__ = ["PROG", "Selection", "command_line", "pct", "progress_enabled", "select_images"]

PROG = "python -m mnist"


def command_line(argv: list[str]) -> str:
    """``argv`` as the shell command that runs it."""
    return " ".join(shlex.quote(a) for a in ["python", "-m", "mnist", *argv])


def pct(x: float) -> str:
    return f"{100 * x:.2f}%"


def progress_enabled(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stdout.isatty()


@dataclass
class Selection:
    """uint8 images of one split, their labels (None for unlabelled data), their positions in
    their file (``rows``) and a description."""

    images: np.ndarray
    labels: np.ndarray | None
    rows: np.ndarray
    what: str
    source: str


def _is_file_source(dataset: str) -> bool:
    path = Path(dataset).expanduser()
    return path.is_dir() or (path.is_file() and path.suffix.lower() == ".csv")


def _unlabelled_csv(dataset: str) -> bool:
    path = Path(dataset).expanduser()
    if not (path.is_file() and path.suffix.lower() == ".csv") or is_chinese_mnist_csv(path):
        return False
    with open(path, encoding="utf-8-sig") as f:
        first = f.readline(1 << 16)
    return not first.lower().lstrip('"').startswith("label")


def select_images(clf: Classifier, args: argparse.Namespace, *, need_labels: bool) -> Selection:
    """The images of ``args.split`` of ``args.dataset`` (default: the data the model was trained on).

    ``--split all`` is every image of a CSV file or image folder in file order. An unlabelled CSV
    can only be read whole (and only where labels are not needed). Labels outside the model's
    classes and images of another size raise errors naming the file.
    """
    cfg = clf.config
    same = args.dataset is None
    dataset = cfg.dataset if same else args.dataset
    test_data = getattr(args, "test_data", None) or (cfg.test_data if same else None)
    split = args.split
    if split != "all" and _unlabelled_csv(dataset):
        if need_labels:
            raise FormatError(f"{dataset}: has no label column; eval needs labels (predict classifies it)")
        split = "all"
    if split == "all":
        if not _is_file_source(dataset):
            raise FormatError(f"--split all needs a CSV file or an image folder; {dataset} has separate train and "
                              "test files (use --split train or --split test)")
        images, labels, _ = read_source(dataset, size=clf.image_shape)
        rows = np.arange(len(images))
        what, source = f"{Path(dataset).name} (all {len(images):,} images)", str(Path(dataset).expanduser())
    else:
        data_dir = args.data_dir if args.data_dir is not None else (cfg.data_dir if same else None)
        verify = args.verify and (cfg.verify or not same)
        splits = load_any(dataset, data_dir=data_dir, verify=verify, val_size=cfg.val_size, seed=cfg.seed,
                          size=clf.image_shape if Path(dataset).expanduser().is_dir() or is_chinese_mnist_csv(dataset)
                          else None, test_data=test_data)
        images, labels, rows = splits.split(split)
        source = str(splits.test_source if split == "test" and splits.test_source else splits.source)
        what = f"{splits.name} {split} split ({source})"
    if tuple(images.shape[1:]) != clf.image_shape:
        h, w = clf.image_shape
        raise FormatError(f"{source}: images of {images.shape[1]}x{images.shape[2]} pixels; the model "
                          f"({clf.path}) expects {h}x{w}")
    if labels is not None:
        labels = labels.astype(np.int64)
        check_labels(labels, len(clf.class_names), source, rows)
    elif need_labels:
        raise FormatError(f"{source}: has no labels; eval needs labels")
    return Selection(images, labels, rows, what, source)
