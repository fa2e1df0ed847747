"""Turn images into model inputs and split data into train / validation / test.

:func:`load_any` is the single entry point for the CLI: a data set name, a CSV file
or an image folder in, uint8 train/val/test arrays and class names out.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from .formats import FormatError, read_csv_dataset, read_image_folder
from .sources import DATASETS, canonical_name, load_dataset

__all__ = ["Splits", "Stats", "load_any", "to_float", "train_val_split", "DEFAULT_VAL_SIZE"]

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
    x = images.reshape(len(images), -1).astype(dtype)
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
    """uint8 images (N, H, W) and int64 labels for train / validation / test."""

    train_images: np.ndarray
    train_labels: np.ndarray
    val_images: np.ndarray
    val_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    class_names: list[str]
    name: str  # "mnist", "fashion-mnist", or the CSV / folder name
    source: Path  # the folder or file the data came from


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
) -> Splits:
    """Load ``source`` -- ``"mnist"``, ``"fashion-mnist"``, a ``.csv`` file or an image folder.

    * Named data sets use their official test set; validation is the last ``val_size``
      (default 5000) training examples. ``data_dir``/``download``/``verify`` go to
      :func:`load_dataset`.
    * A labelled CSV or an image folder has no separate test set: the examples are
      shuffled with ``np.random.default_rng(seed)``, the first ``test_size`` fraction is
      the test set, and the last ``val_size`` (default 10 %) of the rest is validation.
      The split depends only on ``seed`` and the file contents, so it is reproducible.
      ``size`` resizes images of a folder (see :func:`read_image_folder`).

    A string equal to a data set name means the data set; to use a folder called
    ``mnist`` pass ``./mnist``.
    """
    text = os.fspath(source)
    try:
        name = canonical_name(text) if isinstance(source, str) else None
    except ValueError:
        name = None
    if name is not None:
        ds = load_dataset(name, data_dir, download=download, verify=verify)
        tx, ty, vx, vy = train_val_split(
            ds.train_images, ds.train_labels, DEFAULT_VAL_SIZE if val_size is None else val_size
        )
        return Splits(tx, ty, vx, vy, ds.test_images, ds.test_labels, ds.class_names, name, ds.source)

    path = Path(text).expanduser()
    if path.is_dir():
        images, labels, class_names = read_image_folder(path, size=size)
    elif path.is_file() and path.suffix.lower() == ".csv":
        images, labels, class_names = read_csv_dataset(path)
        if labels is None:
            raise FormatError(
                f"{path}: has no label column, so it cannot be used for training "
                "(use read_csv_dataset to load it for prediction)"
            )
    elif path.exists():
        raise FormatError(f"{path}: unsupported data source (expected a .csv file or an image folder)")
    else:
        raise FileNotFoundError(
            f"{text}: no such file or folder; expected one of {', '.join(DATASETS)}, "
            "a .csv file or an image folder"
        )
    assert labels is not None
    if not 0 <= test_size < 1:
        raise ValueError(f"test_size must be a fraction in [0, 1), got {test_size}")
    order = np.random.default_rng(seed).permutation(len(images))
    n_test = round(test_size * len(images))
    test_idx, rest = order[:n_test], order[n_test:]
    tx, ty, vx, vy = train_val_split(
        images[rest], labels[rest], DEFAULT_VAL_FRACTION if val_size is None else val_size
    )
    return Splits(tx, ty, vx, vy, images[test_idx], labels[test_idx], class_names, path.stem, path)
