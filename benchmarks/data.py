"""The training data every benchmark draws from: MNIST if it is on disk, else synthetic."""
from __future__ import annotations

import sys

import numpy as np

__all__ = ["load_data"]


def load_data(kind: str, n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, str]:
    """``(X, y, kind)``: the first ``n`` MNIST training images as float32 in [0, 1] with int64
    labels, when ``kind`` is ``"auto"`` or ``"mnist"`` and the data are found (``MNIST_DIR`` and
    the other places ``mnist.data`` looks; nothing is downloaded), else uniform random pixels
    and labels of the same shape (``kind == "synthetic"``, or ``"auto"`` with no data)."""
    if kind in ("auto", "mnist"):
        try:
            from mnist.data import load_dataset

            ds = load_dataset("mnist", download=False)
            X = (ds.train_images.reshape(len(ds.train_images), -1) / np.float32(255)).astype(np.float32)
            return X[:n], ds.train_labels[:n].astype(np.int64), "mnist"
        except Exception as e:  # noqa: BLE001 - any failure to find data means synthetic
            if kind == "mnist":
                raise
            print(f"(MNIST not found: {e.__class__.__name__}; using synthetic data of the same shape)", file=sys.stderr)
    rng = np.random.default_rng(seed)
    return rng.random((n, 784), dtype=np.float32), rng.integers(0, 10, n), "synthetic"
