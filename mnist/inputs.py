"""What ``predict`` classifies: a CSV file, an IDX images file, or image files and folders."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .data import FormatError, IDXError, check_labels, read_csv_dataset, read_idx, read_images
from .data.formats import IMAGE_SUFFIXES
from .dataset import looks_light

__all__ = ["Inputs", "read_inputs", "read_idx_labels"]


@dataclass
class Inputs:
    """Images to classify: uint8 (N, H, W), optional labels, a display name per image, the kind of input."""

    images: np.ndarray
    labels: np.ndarray | None
    names: list[str]
    kind: str  # "csv", "idx" or "images"


def read_idx_labels(path: str | Path, n_images: int, n_classes: int) -> np.ndarray:
    """An IDX labels file for ``n_images`` images: integer labels in 0..n_classes-1 (FormatError otherwise)."""
    y = read_idx(path)
    if y.dtype.kind not in "iu":
        raise FormatError(f"{path}: labels must be integers, but the IDX file holds {y.dtype} values")
    if y.shape != (n_images,):
        raise FormatError(f"{path}: {y.shape} labels for {n_images} images")
    check_labels(y, n_classes, path)
    return y.astype(np.int64)


def read_inputs(
    paths: list[str], image_shape: tuple[int, int], n_classes: int, invert: str = "auto",
    labels: str | None = None, light_background: bool = False,
) -> Inputs:
    """Read what ``predict`` classifies: one ``.csv`` file, one IDX images file, or image files
    and folders of images (resized to ``image_shape``, grayscale).

    ``invert`` ("auto", "yes", "no") applies to image files: in "auto" mode an image is inverted
    when its background (border) is light and the model's training images had dark backgrounds
    (``light_background`` False, like MNIST), or the other way round. ``labels`` is an optional
    IDX labels file for IDX input. Labels outside the model's ``n_classes`` raise FormatError
    naming the file and the label.
    """
    if not paths:
        raise FormatError("no input given")
    first = Path(paths[0])
    if len(paths) == 1 and first.suffix.lower() == ".csv":
        if labels is not None:
            raise FormatError(f"--labels is for IDX input; the labels of {first} are its label column")
        images, y, _ = read_csv_dataset(first)
        if y is not None:
            check_labels(y, n_classes, first)
        return Inputs(images, y, [str(i) for i in range(1, len(images) + 1)], "csv")
    if len(paths) == 1 and first.is_file() and first.suffix.lower() not in IMAGE_SUFFIXES:
        try:
            images = read_idx(first)
        except IDXError as e:
            raise FormatError(f"{first}: not a CSV, IDX or image file ({e})") from e
        if images.ndim != 3 or images.dtype != np.uint8:
            raise FormatError(f"{first}: expected an IDX file of uint8 images (N, H, W), "
                              f"got {images.dtype} {images.shape}")
        y = read_idx_labels(labels, len(images), n_classes) if labels is not None else None
        return Inputs(images, y, [str(i) for i in range(len(images))], "idx")
    if labels is not None:
        raise FormatError("--labels is for IDX input (one IDX images file)")
    files: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise FormatError(f"{p}: folder contains no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise FormatError(f"{p}: no such file or folder")
    images = read_images(files, size=image_shape)
    if invert == "auto":
        flip = looks_light(images) != light_background
    else:
        flip = np.full(len(images), invert == "yes")
    images[flip] = 255 - images[flip]
    return Inputs(images, None, [str(f) for f in files], "images")
