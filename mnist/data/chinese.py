"""The Kaggle Chinese MNIST layout: a folder of JPGs plus a labels file ``chinese_mnist.csv``.

::

    chinese_mnist.csv               suite_id,sample_id,code,value,character
                                    1,1,10,9,九
    data/data/input_1_1_10.jpg      input_<suite_id>_<sample_id>_<code>.jpg  (64x64 grayscale)

``code`` (1..15) is the class; ``character`` (零 一 二 ... 十 百 千 万 亿) its name and ``value``
(0..10, 100, 1000, 10000, 100000000) the number it stands for. The images are looked up in the
folder given, else beside the CSV file (``data/data/``, ``data/`` or the CSV's own folder).
"""
from __future__ import annotations

import csv
import os
import re
from pathlib import Path

import numpy as np

from .formats import MAX_CLASSES, FormatError, ImageSet, Size, read_images

__all__ = ["HEADER", "find_image_folder", "is_chinese_mnist_csv", "looks_like_chinese_mnist_images",
           "read_chinese_mnist"]

HEADER = ("suite_id", "sample_id", "code", "value", "character")
IMAGE_NAME = re.compile(r"^input_(\d+)_(\d+)_(\d+)\.jpg$", re.IGNORECASE)


def _header(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            first = f.readline(4096)
    except (OSError, UnicodeDecodeError):
        return []
    return [c.strip().strip('"').lower() for c in first.rstrip("\r\n").split(",")]


def is_chinese_mnist_csv(path: str | os.PathLike[str]) -> bool:
    """True if ``path`` is a CSV file whose header is ``suite_id,sample_id,code,value,character``."""
    path = Path(path)
    return path.is_file() and path.suffix.lower() == ".csv" and tuple(_header(path)) == HEADER


def looks_like_chinese_mnist_images(folder: str | os.PathLike[str]) -> bool:
    """True if ``folder`` holds files named like the Kaggle Chinese MNIST images (``input_1_1_10.jpg``)."""
    try:
        return any(IMAGE_NAME.match(p.name) for p in Path(folder).iterdir())
    except OSError:
        return False


def find_image_folder(csv_path: str | os.PathLike[str]) -> Path:
    """The folder of the images that ``csv_path`` labels: ``data/data/``, ``data/`` or the CSV's folder."""
    base = Path(csv_path).parent
    for folder in (base / "data" / "data", base / "data", base):
        if folder.is_dir() and looks_like_chinese_mnist_images(folder):
            return folder
    raise FormatError(
        f"{csv_path}: no images named input_<suite>_<sample>_<code>.jpg found in "
        f"{base / 'data' / 'data'}, {base / 'data'} or {base}"
    )


def _int_field(path: Path, lineno: int, name: str, text: str) -> int:
    if not re.fullmatch(r"\s*\d{1,12}\s*", text):
        raise FormatError(f"{path}: line {lineno}: {name} {text.strip()!r} is not a non-negative integer")
    return int(text)


def read_chinese_mnist(
    csv_path: str | os.PathLike[str], image_folder: str | os.PathLike[str] | None = None, size: Size = None
) -> ImageSet:
    """Read the Kaggle Chinese MNIST data set labelled by ``csv_path``.

    Labels are the positions of the codes in sorted order (code 1 -> label 0, ...); class
    names are the characters. Raises :class:`FormatError` naming the file and line for a
    malformed row, a code whose value or character differs between rows, or a missing image.
    """
    path = Path(csv_path)
    folder = Path(image_folder) if image_folder is not None else find_image_folder(path)
    rows: list[tuple[int, int, int, int]] = []  # (line, suite, sample, code)
    names: dict[int, tuple[str, str, int]] = {}  # code -> (value, character, first line)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f)
            header = [c.strip().lower() for c in next(reader, [])]
            if tuple(header) != HEADER:
                raise FormatError(f"{path}: line 1: expected the header {','.join(HEADER)}, found {','.join(header)}")
            for lineno, fields in enumerate(reader, start=2):
                if not fields or not "".join(fields).strip():
                    continue
                if len(fields) != len(HEADER):
                    raise FormatError(f"{path}: line {lineno}: expected {len(HEADER)} values, found {len(fields)}")
                suite, sample, code = (_int_field(path, lineno, n, v) for n, v in zip(HEADER, fields[:3]))
                value, character = fields[3].strip(), fields[4].strip()
                if code in names and names[code][:2] != (value, character):
                    v0, c0, line0 = names[code]
                    raise FormatError(
                        f"{path}: line {lineno}: code {code} is value {value!r} character {character!r}, but line "
                        f"{line0} says value {v0!r} character {c0!r}"
                    )
                names.setdefault(code, (value, character, lineno))
                if len(names) > MAX_CLASSES:
                    raise FormatError(f"{path}: line {lineno}: more than {MAX_CLASSES} different codes")
                rows.append((lineno, suite, sample, code))
    except (OSError, UnicodeDecodeError, csv.Error) as e:
        raise FormatError(f"{path}: cannot read CSV file: {e}") from e
    if not rows:
        raise FormatError(f"{path}: no data rows after the header")
    codes = sorted(names)
    label_of = {code: k for k, code in enumerate(codes)}
    files = []
    for lineno, suite, sample, code in rows:
        file = folder / f"input_{suite}_{sample}_{code}.jpg"
        if not file.is_file():
            raise FormatError(f"{path}: line {lineno}: image {file} does not exist")
        files.append(file)
    images = read_images(files, size)
    labels = np.array([label_of[code] for _, _, _, code in rows], dtype=np.int64)
    return ImageSet(images, labels, [names[c][1] or names[c][0] for c in codes])
