"""Other input formats: Kaggle-style CSV files and folders of PNG/JPG images.

Pillow is imported lazily, only by the image functions.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .atomic import atomic_open

__all__ = [
    "IMAGE_SUFFIXES",
    "MAX_CLASSES",
    "MAX_IMAGE_PIXELS",
    "MAX_SIDE",
    "FormatError",
    "ImageSet",
    "read_csv_dataset",
    "read_image_folder",
    "read_images",
    "write_predictions_csv",
]

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
#: Labels of a CSV file must be below this (a label of 2,000,000,000 would mean that many classes).
MAX_CLASSES = 1000
#: An image file with more pixels than this is refused before it is decoded.
MAX_IMAGE_PIXELS = 50_000_000
#: Images are loaded (resized) to at most MAX_SIDE x MAX_SIDE pixels.
MAX_SIDE = 1024
Size = int | tuple[int, int] | None


class FormatError(ValueError):
    """A CSV file or image folder is malformed; the message names the file (and line)."""


class ImageSet(NamedTuple):
    """Images (N, H, W) uint8, labels (N,) int64 or None, and the class names."""

    images: np.ndarray
    labels: np.ndarray | None
    class_names: list[str]


# --------------------------------------------------------------------------- CSV


def _is_int(text: str) -> bool:
    return re.fullmatch(r"[+-]?\d+", text.strip()) is not None


def _data_lines(path: Path, has_header: bool) -> Iterable[tuple[int, str]]:
    """(1-based line number, text) of every non-blank data line."""
    with open(path, encoding="utf-8-sig") as f:
        for lineno, line in enumerate(f, start=1):
            if (has_header and lineno == 1) or not line.strip():
                continue
            yield lineno, line


def _locate_csv_error(path: Path, has_header: bool, n_cols: int) -> str | None:
    """Slow re-scan used only after a failure: describe the first malformed line."""
    for lineno, line in _data_lines(path, has_header):
        fields = line.rstrip("\r\n").split(",")
        if len(fields) != n_cols:
            return f"{path}: line {lineno}: expected {n_cols} values, found {len(fields)}"
        for col, value in enumerate(fields, start=1):
            if not _is_int(value):
                return f"{path}: line {lineno}, column {col}: {value.strip()!r} is not an integer"
            if abs(int(value)) >= 2**31:
                return f"{path}: line {lineno}, column {col}: value {value.strip()} is out of range"
    return None


def _line_of_row(path: Path, has_header: bool, row: int) -> int:
    for i, (lineno, _) in enumerate(_data_lines(path, has_header)):
        if i == row:
            return lineno
    raise AssertionError("row out of range")  # pragma: no cover


def read_csv_dataset(path: str | os.PathLike[str]) -> ImageSet:
    """Read a Kaggle-style CSV of square images, one image per line.

    Header ``label,pixel0,...,pixel783`` -> labels present; header ``pixel0,...`` (a Kaggle
    test file) -> ``labels`` is None. A file without a header is accepted too: the label
    column is present iff the column count minus one is a perfect square. The side length
    is the square root of the pixel count. Class names are ``"0".."K-1"`` (K = max label + 1).
    Raises :class:`FormatError` naming the file and line for any malformed content.
    """
    path = Path(path)
    try:
        with open(path, encoding="utf-8-sig") as f:
            first = f.readline()
    except (OSError, UnicodeDecodeError) as e:
        raise FormatError(f"{path}: cannot read CSV file: {e}") from e
    if not first.strip():
        raise FormatError(f"{path}: line 1 is empty (expected a header such as label,pixel0,...)")
    cols = [c.strip().strip('"').lower() for c in first.rstrip("\r\n").split(",")]
    has_header = not _is_int(cols[0])
    if has_header:
        has_labels = cols[0] == "label"
        if not has_labels and "label" in cols:
            raise FormatError(f"{path}: line 1: the label column must come first")
        n_pixels = len(cols) - has_labels
    else:
        n_pixels = len(cols) - 1 if math.isqrt(len(cols) - 1) ** 2 == len(cols) - 1 else len(cols)
        has_labels = n_pixels == len(cols) - 1
    side = math.isqrt(n_pixels)
    if n_pixels == 0 or side * side != n_pixels:
        raise FormatError(
            f"{path}: line 1: {n_pixels} pixel columns is not a perfect square, "
            "so the image side length cannot be inferred"
        )
    lab = int(has_labels)  # number of leading label columns (0 or 1)
    n_cols = n_pixels + lab
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # loadtxt warns on files without data rows
            warnings.simplefilter("error", DeprecationWarning)  # numpy<2 parses "2.5" as int with a warning
            data = np.loadtxt(
                path, delimiter=",", skiprows=int(has_header), dtype=np.int32,
                ndmin=2, comments=None, encoding="utf-8-sig",
            )
    except (ValueError, OverflowError, DeprecationWarning) as e:
        raise FormatError(_locate_csv_error(path, has_header, n_cols) or f"{path}: {e}") from e
    if data.shape[0] == 0:
        raise FormatError(f"{path}: no data rows after the header")
    if data.shape[1] != n_cols:
        raise FormatError(
            _locate_csv_error(path, has_header, n_cols)
            or f"{path}: expected {n_cols} values per line, found {data.shape[1]}"
        )
    pixels = data[:, lab:]
    bad = np.flatnonzero(((pixels < 0) | (pixels > 255)).any(axis=1))
    if bad.size:
        row = int(bad[0])
        col = int(np.flatnonzero((pixels[row] < 0) | (pixels[row] > 255))[0])
        raise FormatError(
            f"{path}: line {_line_of_row(path, has_header, row)}: pixel value "
            f"{pixels[row, col]} (column {col + 1 + lab}) is outside 0..255"
        )
    images = pixels.astype(np.uint8).reshape(-1, side, side)
    if not has_labels:
        return ImageSet(images, None, [])
    labels = data[:, 0].astype(np.int64)
    if labels.min() < 0:
        row = int(np.argmax(labels < 0))
        raise FormatError(
            f"{path}: line {_line_of_row(path, has_header, row)}: negative label {labels[row]}"
        )
    if labels.max() >= MAX_CLASSES:
        row = int(np.argmax(labels >= MAX_CLASSES))
        raise FormatError(
            f"{path}: line {_line_of_row(path, has_header, row)}: label {labels[row]} is out of range "
            f"(labels are class numbers 0..{MAX_CLASSES - 1})"
        )
    return ImageSet(images, labels, [str(i) for i in range(int(labels.max()) + 1)])


def write_predictions_csv(path: str | os.PathLike[str], labels: Sequence[int] | np.ndarray) -> None:
    """Write a Kaggle submission ``ImageId,Label`` (ImageId counts from 1), atomically."""
    labels = np.asarray(labels)
    if labels.ndim != 1 or not np.issubdtype(labels.dtype, np.integer):
        raise ValueError(f"labels must be a 1-D integer array, got {labels.dtype} {labels.shape}")
    body = "".join(f"{i},{int(label)}\n" for i, label in enumerate(labels, start=1))
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write("ImageId,Label\n" + body)


# --------------------------------------------------------------------------- images


def _target_size(size: Size) -> tuple[int, int] | None:
    if size is None:
        return None
    h, w = (size, size) if isinstance(size, int) else size
    if h <= 0 or w <= 0:
        raise ValueError(f"image size must be positive, got {size!r}")
    return int(h), int(w)


def _open_image(path: Path, grayscale: bool) -> Any:
    from PIL import Image

    try:
        with Image.open(path) as im:
            if im.width * im.height > MAX_IMAGE_PIXELS:
                raise FormatError(
                    f"{path}: image of {im.width}x{im.height} pixels is larger than the "
                    f"{MAX_IMAGE_PIXELS:,} pixels this reader accepts"
                )
            return im.convert("L" if grayscale else "RGB")
    except (OSError, ValueError, Image.DecompressionBombError) as e:
        if isinstance(e, FormatError):
            raise
        raise FormatError(f"{path}: cannot read image: {e}") from e


def read_images(
    paths: Sequence[str | os.PathLike[str]], size: Size = None, *, grayscale: bool = True
) -> np.ndarray:
    """Load image files as one uint8 array (N, H, W) (or (N, H, W, 3) if not ``grayscale``).

    ``size`` is an int (square) or ``(height, width)``; default: the first image's size.
    Images of another size are resized with Pillow's (antialiased) bilinear filter.
    The alpha channel, if any, is dropped. Sizes above :data:`MAX_SIDE` are refused.
    """
    from PIL import Image

    bilinear = getattr(Image, "Resampling", Image).BILINEAR
    if len(paths) == 0:
        raise FormatError("no image files given")
    target = _target_size(size)
    out: np.ndarray | None = None
    for k, p in enumerate(paths):
        img = _open_image(Path(p), grayscale)
        if target is None:
            target = (img.height, img.width)
        if max(target) > MAX_SIDE:
            raise FormatError(
                f"{p}: images of {target[0]}x{target[1]} pixels are larger than {MAX_SIDE}x{MAX_SIDE}; "
                "resize them (--image-size PX)"
            )
        if (img.height, img.width) != target:
            img = img.resize((target[1], target[0]), bilinear)
        arr = np.asarray(img, dtype=np.uint8)
        if out is None:
            out = np.empty((len(paths), *arr.shape), dtype=np.uint8)
        out[k] = arr
    assert out is not None
    return out


def _class_order(names: list[str]) -> list[str]:
    # Numeric folder names ("0".."14") sort numerically, anything else alphabetically.
    if all(_is_int(n) for n in names):
        return sorted(names, key=int)
    return sorted(names)


def read_image_folder(
    root: str | os.PathLike[str], size: Size = None, grayscale: bool = True
) -> ImageSet:
    """Read ``root/<class>/<image>`` files: one sub-folder per class, any image size.

    Class names are the sub-folder names, sorted (numerically if all are integers);
    labels are indices into that list. All images are resized to ``size`` (default:
    the first image's size), see :func:`read_images`. Hidden files/folders are ignored.
    """
    root = Path(root)
    if not root.is_dir():
        raise FormatError(f"{root}: not a folder")
    subdirs = [p.name for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")]
    if not subdirs:
        hint = ""
        if any("idx" in p.name for p in root.iterdir()):
            hint = " (this looks like an IDX folder: use the data set name, e.g. 'mnist', with --data-dir)"
        raise FormatError(
            f"{root}: no class sub-folders found; expected one sub-folder per class "
            f"containing images{hint}"
        )
    class_names = _class_order(subdirs)
    paths: list[Path] = []
    labels: list[int] = []
    for index, cls in enumerate(class_names):
        files = sorted(
            f for f in (root / cls).iterdir()
            if f.is_file() and not f.name.startswith(".") and f.suffix.lower() in IMAGE_SUFFIXES
        )
        if not files:
            raise FormatError(
                f"{root / cls}: class folder contains no images "
                f"({', '.join(sorted(IMAGE_SUFFIXES))})"
            )
        paths.extend(files)
        labels.extend([index] * len(files))
    images = read_images(paths, size, grayscale=grayscale)
    return ImageSet(images, np.asarray(labels, dtype=np.int64), class_names)
