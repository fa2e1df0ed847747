"""One entry point for the data sets that are a single file or folder (not a named data set).

:func:`read_source` tells the kinds apart: a folder of class sub-folders, the Kaggle Chinese
MNIST labels file (``chinese_mnist.csv``, images beside it) or a Kaggle-style pixel CSV.
"""
from __future__ import annotations

import os
from pathlib import Path

from .chinese import is_chinese_mnist_csv, read_chinese_mnist
from .formats import FormatError, ImageSet, Size, read_csv_dataset, read_image_folder

__all__ = ["read_source"]


def read_source(path: str | os.PathLike[str], size: Size = None) -> ImageSet:
    """Images, labels (None for an unlabelled CSV) and class names of a folder or CSV file."""
    path = Path(path).expanduser()
    if path.is_dir():
        return read_image_folder(path, size=size)
    if path.is_file() and path.suffix.lower() == ".csv":
        if is_chinese_mnist_csv(path):
            return read_chinese_mnist(path, size=size)
        return read_csv_dataset(path)
    if path.exists():
        raise FormatError(f"{path}: unsupported data source (expected a .csv file or an image folder)")
    raise FileNotFoundError(f"{path}: no such file or folder; expected mnist, fashion-mnist, a .csv file or an "
                            "image folder")
