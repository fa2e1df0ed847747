"""Tiny synthetic data sets with learnable class structure, for the MNIST app tests.

Each class has a fixed random "prototype" made of coarse blocks; an example is its class
prototype, randomly shifted by up to one pixel, plus noise. An MLP separates the classes
after a few dozen steps.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np


def make_images(n: int, n_classes: int = 10, side: int = 28, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` uint8 images (n, side, side) and int64 labels cycling through the classes."""
    proto_rng = np.random.default_rng(1234)  # same prototypes for every split
    block = max(side // 7, 1)
    coarse = proto_rng.random((n_classes, -(-side // block), -(-side // block))) < 0.35
    protos = np.kron(coarse, np.ones((block, block)))[:, :side, :side] * 200.0
    rng = np.random.default_rng(seed)
    labels = rng.permutation(np.arange(n) % n_classes).astype(np.int64)
    images = protos[labels]
    shifts = rng.integers(-1, 2, size=(n, 2))
    images = np.stack([np.roll(img, tuple(s), axis=(0, 1)) for img, s in zip(images, shifts)])
    images = images + rng.uniform(0, 55, size=images.shape)
    return np.clip(images, 0, 255).astype(np.uint8), labels


def write_idx_dataset(folder: Path, n_train: int = 600, n_test: int = 200, seed: int = 0) -> Path:
    """The four MNIST files (gzipped IDX) of a tiny 10-class data set in ``folder``."""
    from mnist.data import write_idx

    folder.mkdir(parents=True, exist_ok=True)
    tx, ty = make_images(n_train, seed=seed)
    sx, sy = make_images(n_test, seed=seed + 1)
    write_idx(folder / "train-images-idx3-ubyte.gz", tx)
    write_idx(folder / "train-labels-idx1-ubyte.gz", ty.astype(np.uint8))
    write_idx(folder / "t10k-images-idx3-ubyte.gz", sx)
    write_idx(folder / "t10k-labels-idx1-ubyte.gz", sy.astype(np.uint8))
    return folder


def write_csv_dataset(path: Path, n: int = 240, side: int = 10, n_classes: int = 3, labels: bool = True,
                      seed: int = 0) -> Path:
    """A Kaggle-style CSV (``label,pixel0,...``) of ``n`` tiny images."""
    images, y = make_images(n, n_classes=n_classes, side=side, seed=seed)
    flat = images.reshape(n, -1).astype(int)
    header = (["label"] if labels else []) + [f"pixel{i}" for i in range(side * side)]
    rows = [",".join(header)]
    for img, label in zip(flat, y):
        rows.append(",".join(map(str, ([int(label)] if labels else []) + img.tolist())))
    path.write_text("\n".join(rows) + "\n")
    return path


def write_image_folder(root: Path, per_class: int = 30, side: int = 12, classes=("circle", "cross", "square"),
                       seed: int = 0) -> Path:
    """``root/<class>/<k>.png``: ``per_class`` grayscale PNGs of ``side`` x ``side`` per class."""
    from PIL import Image

    images, y = make_images(per_class * len(classes), n_classes=len(classes), side=side, seed=seed)
    for k, (img, label) in enumerate(zip(images, y)):
        folder = root / classes[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(img, mode="L").save(folder / f"{k:03d}.png")
    return root


CHINESE = [(0, "零"), (1, "一"), (2, "二"), (3, "三"), (4, "四"), (5, "五"), (6, "六"), (7, "七"), (8, "八"),
           (9, "九"), (10, "十"), (100, "百"), (1000, "千"), (10000, "万"), (100000000, "亿")]


def write_chinese_mnist(root: Path, suites: int = 4, samples: int = 2, side: int = 64, light: bool = False,
                        seed: int = 0) -> Path:
    """The Kaggle Chinese MNIST layout in ``root``: ``chinese_mnist.csv`` and
    ``data/data/input_<suite>_<sample>_<code>.jpg`` (15 classes, ``suites * samples`` JPGs of ``side`` x
    ``side`` each); returns the CSV's path. ``light``: dark strokes on a light background (inverted images)."""
    from PIL import Image

    folder = root / "data" / "data"
    folder.mkdir(parents=True, exist_ok=True)
    n = suites * samples * len(CHINESE)
    images, labels = make_images(n, n_classes=len(CHINESE), side=side, seed=seed)
    rows = ["suite_id,sample_id,code,value,character"]
    k = 0
    for suite in range(1, suites + 1):
        for sample in range(1, samples + 1):
            for code, (value, character) in enumerate(CHINESE, start=1):
                img = images[labels == code - 1][suite * samples + sample - samples - 1]
                picture = Image.fromarray(255 - img if light else img, mode="L")
                picture.save(folder / f"input_{suite}_{sample}_{code}.jpg", quality=95)
                rows.append(f"{suite},{sample},{code},{value},{character}")
                k += 1
    csv_path = root / "chinese_mnist.csv"
    csv_path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return csv_path
