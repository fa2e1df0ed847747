"""Turn images into model inputs and split data into train / validation / test.

:func:`load_any` is the single entry point for the CLI: a data set name, a CSV file
or an image folder in, uint8 train/val/test arrays and class names out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .chinese import is_chinese_mnist_csv, looks_like_chinese_mnist_images
from .files import read_source
from .formats import FormatError
from .sources import canonical_name, load_dataset

__all__ = ["Splits", "Stats", "check_classes", "check_labels", "load_any", "to_float", "train_val_split",
           "DEFAULT_VAL_SIZE"]

#: Validation examples held out of the official MNIST / Fashion-MNIST training sets.
DEFAULT_VAL_SIZE = 5000
#: Validation fraction for CSV files and image folders.
DEFAULT_VAL_FRACTION = 0.1


class Stats(NamedTuple):
    """Normalization applied by :func:`to_float`: ``x = (pixel / 255 - mean) / std``."""

    mean: float
    std: float


def to_float(
    images: np.ndarray,
    dtype: type | np.dtype = np.float32,
    standardize: bool = False,
    mean: float | None = None,
    std: float | None = None,
) -> tuple[np.ndarray, Stats]:
    """Scale uint8 images to [0, 1] floats, flattened to (N, H*W[*C]).

    With ``standardize``, also subtract ``mean`` and divide by ``std`` (scalars); when
    they are not given they are computed from ``images`` -- compute them on the training
    set and pass the returned :class:`Stats` for validation/test data and checkpoints.
    Without ``standardize`` the returned stats are ``Stats(0.0, 1.0)`` (the identity).
    """
    images = np.asarray(images)
    if images.dtype != np.uint8:
        raise TypeError(f"to_float expects uint8 images (0..255), got {images.dtype}")
    if images.ndim < 2:
        raise ValueError(f"expected a batch of images (N, ...), got shape {images.shape}")
    if not standardize and (mean is not None or std is not None):
        raise ValueError("mean/std are only used with standardize=True")
    x = images.reshape(len(images), int(np.prod(images.shape[1:]))).astype(dtype)
    x *= x.dtype.type(1 / 255)
    if not standardize:
        return x, Stats(0.0, 1.0)
    m = float(x.mean(dtype=np.float64)) if mean is None else float(mean)
    s = float(x.std(dtype=np.float64)) if std is None else float(std)
    if not s > 0:
        raise ValueError(f"cannot standardize with std={s} (constant images?)")
    x -= x.dtype.type(m)
    x *= x.dtype.type(1 / s)
    return x, Stats(m, s)


def _count(size: int | float, n: int, what: str) -> int:
    """An int count, or a float fraction in [0, 1) of ``n`` (rounded)."""
    if isinstance(size, float):
        if not 0 <= size < 1:
            raise ValueError(f"{what} fraction must be in [0, 1), got {size}")
        return round(size * n)
    if size < 0:
        raise ValueError(f"{what} must be >= 0, got {size}")
    return int(size)


def train_val_split(
    images: np.ndarray, labels: np.ndarray, val_size: int | float = DEFAULT_VAL_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hold out the LAST ``val_size`` examples: ``(train_x, train_y, val_x, val_y)`` (views).

    ``val_size`` is a count or a fraction in [0, 1). The test set is never touched, so
    it stays unused for tuning. Raises ValueError if ``val_size >= len(images)``.
    """
    n = len(images)
    if len(labels) != n:
        raise ValueError(f"{n} images but {len(labels)} labels")
    k = _count(val_size, n, "val_size")
    if k >= n:
        raise ValueError(
            f"val_size={val_size} leaves no training data ({n} examples); use a smaller "
            "count or a fraction such as 0.1"
        )
    cut = n - k
    return images[:cut], labels[:cut], images[cut:], labels[cut:]


@dataclass(frozen=True, eq=False)
class Splits:
    """uint8 images (N, H, W) and int64 labels for train / validation / test.

    ``*_rows`` give each image's position in its file (the data row of a CSV, the image of an
    IDX file, the file of an image folder in sorted order), so that results can name it.
    """

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    name: str  # "mnist", "fashion-mnist", or the CSV / folder name
    source: Path  # the folder or file the data came from
    train_rows: np.ndarray | None = None
    val_rows: np.ndarray | None = None
    test_rows: np.ndarray | None = None
    test_source: Path | None = None  # where the test images came from, if not ``source``

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(images, labels, rows)`` of ``"train"``, ``"val"`` or ``"test"``."""
        if name not in ("train", "val", "test"):
            raise ValueError(f"unknown split {name!r} (expected train, val or test)")
        images, labels = getattr(self, f"{name}_images"), getattr(self, f"{name}_labels")
        rows = getattr(self, f"{name}_rows")
        return images, labels, np.arange(len(images)) if rows is None else rows


def _source_name(text: str) -> str | None:
    try:
        return canonical_name(text)
    except ValueError:
        return None


def check_classes(class_names: list[str], source: str | os.PathLike[str]) -> None:
    """FormatError unless there are at least two classes (a classifier of one class learns nothing)."""
    if len(class_names) >= 2:
        return
    found = f"{len(class_names)} class" + ("" if len(class_names) == 1 else "es")
    hint = ""
    folder = Path(source)
    if folder.is_dir():
        subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")]
        candidates = [folder, *subdirs]
        if any(looks_like_chinese_mnist_images(c) for c in candidates):
            hint = (" These look like the Kaggle Chinese MNIST images (input_<suite>_<sample>_<code>.jpg): "
                    "give their labels file instead, --dataset path/to/chinese_mnist.csv")
        else:
            hint = " An image folder needs one sub-folder per class."
    names = f" ({', '.join(map(repr, class_names))})" if class_names else ""
    raise FormatError(f"{source}: {found} found{names}; a classifier needs at least 2 classes.{hint}")


def check_labels(labels: np.ndarray, n_classes: int, source: str | os.PathLike[str],
                 rows: np.ndarray | None = None) -> None:
    """FormatError naming ``source`` and the first label outside 0..n_classes-1 (with the image's
    position ``rows[k]`` in its file, default its index)."""
    labels = np.asarray(labels)
    if labels.size == 0:
        return
    if labels.dtype.kind not in "iu":
        raise FormatError(f"{source}: labels must be integers, got {labels.dtype}")
    bad = np.flatnonzero((labels < 0) | (labels >= n_classes))
    if bad.size:
        k = int(bad[0])
        row = int(rows[k]) if rows is not None else k
        more = f" ({bad.size} labels are out of range)" if bad.size > 1 else ""
        raise FormatError(
            f"{source}: label {int(labels[k])} of image #{row} is not a class of the model: expected "
            f"0..{n_classes - 1} ({n_classes} classes){more}"
        )


def _require(ok: bool, message: str) -> None:
    if not ok:
        raise FormatError(message)


def load_any(
    source: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    download: bool = True,
    verify: bool = True,
    val_size: int | float | None = None,
    test_size: float = 0.1,
    seed: int = 0,
    size: int | tuple[int, int] | None = None,
    test_data: str | os.PathLike[str] | None = None,
) -> Splits:
    """Load ``source`` -- ``"mnist"``, ``"fashion-mnist"``, a ``.csv`` file (Kaggle pixel CSV or
    the Chinese MNIST ``chinese_mnist.csv``) or an image folder.

    * Named data sets use their official test set; validation is the last ``val_size``
      (default 5000) training examples. ``data_dir``/``download``/``verify`` go to
      :func:`load_dataset`.
    * A labelled CSV or an image folder has no separate test set: the examples are
      shuffled with ``np.random.default_rng(seed)``, the first ``test_size`` fraction is
      the test set, and the last ``val_size`` (default 10 %) of the rest is validation.
      The split depends only on ``seed`` and the file contents, so it is reproducible.
      ``size`` resizes images of a folder (see :func:`read_image_folder`).
    * ``test_data``: a labelled CSV file that is the test set instead (then nothing is held
      out for testing); its images must have the training images' size, its labels the classes.

    ``val_size=0`` means no validation split. Fewer than two classes, an empty training or
    test split, or a validation share that rounds to no example raise :class:`FormatError`.
    A string equal to a data set name means the data set; to use a folder called
    ``mnist`` pass ``./mnist``.
    """
    text = os.fspath(source)
    name = _source_name(text) if isinstance(source, str) else None
    if name is not None:
        ds = load_dataset(name, data_dir, download=download, verify=verify)
        k = DEFAULT_VAL_SIZE if val_size is None else val_size
        tx, ty, vx, vy = train_val_split(ds.train_images, ds.train_labels, k)
        n = len(ds.train_images)
        splits = Splits(tx, ty, vx, vy, ds.test_images, ds.test_labels, ds.class_names, name, ds.source,
                        np.arange(len(tx)), np.arange(len(tx), n), np.arange(len(ds.test_images)))
    else:
        path = Path(text).expanduser()
        images, labels, class_names = read_source(path, size)
        if labels is None:
            raise FormatError(
                f"{path}: has no label column, so it cannot be used for training "
                "(predict, show and eval --split all read it)"
            )
        check_classes(class_names, path)
        if size is not None and not path.is_dir() and not is_chinese_mnist_csv(path):
            side = (size, size) if isinstance(size, int) else tuple(size)
            _require(tuple(images.shape[1:]) == side,
                     f"{path}: --image-size resizes image files; "
                     f"this CSV has {images.shape[1]}x{images.shape[2]} images")
        if not 0 <= test_size < 1:
            raise ValueError(f"test_size must be a fraction in [0, 1), got {test_size}")
        order = np.random.default_rng(seed).permutation(len(images))
        n_test = 0 if test_data is not None else round(test_size * len(images))
        _require(test_data is not None or test_size == 0 or n_test >= 1,
                 f"{path}: {len(images)} examples are too few: the {test_size:.0%} test share is empty "
                 "(give more data, or a test file with --test-data)")
        test_idx, rest = order[:n_test], order[n_test:]
        k = DEFAULT_VAL_FRACTION if val_size is None else val_size
        _require(not (isinstance(k, float) and k > 0 and round(k * len(rest)) == 0),
                 f"{path}: {len(rest)} training examples are too few for a {k:.0%} validation share "
                 "(give more data, a count, or --val-size 0 for no validation)")
        tx, ty, vx, vy = train_val_split(images[rest], labels[rest], k)
        cut = len(tx)
        splits = Splits(tx, ty, vx, vy, images[test_idx], labels[test_idx], class_names, path.stem, path,
                        rest[:cut], rest[cut:], test_idx)
    check_classes(splits.class_names, splits.source)
    if test_data is not None:
        splits = _with_test_file(splits, Path(test_data).expanduser())
    _require(len(splits.test_images) > 0, f"{splits.test_source or splits.source}: the test split is empty")
    return splits


def _with_test_file(splits: Splits, path: Path) -> Splits:
    """``splits`` with the test set replaced by the labelled file ``path``."""
    images, labels, _ = read_source(path, size=splits.train_images.shape[1:])
    _require(labels is not None, f"{path}: has no label column, so it cannot be the test set (--test-data)")
    assert labels is not None
    shape = tuple(splits.train_images.shape[1:])
    _require(tuple(images.shape[1:]) == shape,
             f"{path}: images of {images.shape[1]}x{images.shape[2]} pixels, but the training images "
             f"({splits.source}) are {shape[0]}x{shape[1]}")
    check_labels(labels, len(splits.class_names), path)
    return replace(splits, test_images=images, test_labels=labels, test_rows=np.arange(len(images)),
                   test_source=path)
