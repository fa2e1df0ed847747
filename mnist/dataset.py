"""The data of a training run: ``load_data(config)`` -> :class:`Data` (model-ready float arrays).

It also measures the training images' background (the typical border pixel): a model trained
on dark backgrounds (MNIST) and one trained on light backgrounds need different inputs, so the
level is saved with the model, used as the augmentation's fill value, and decides whether
``predict --invert auto`` inverts an image.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .config import TrainConfig
from .data import Stats, load_any, to_float

__all__ = ["Data", "background_level", "load_data", "looks_light"]


def _border(images: np.ndarray) -> np.ndarray:
    """The border pixels of each image, (N, 2H + 2W)."""
    return np.concatenate([images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1)


def background_level(images: np.ndarray, limit: int = 10_000) -> float:
    """The median border pixel (0..255) of up to ``limit`` images: 0 for MNIST's black paper."""
    images = np.asarray(images)
    if images.ndim != 3 or len(images) == 0:
        return 0.0
    return float(np.median(_border(images[:limit])))


def looks_light(images: np.ndarray) -> np.ndarray:
    """Per image: True if its border is light (mean above mid-grey)."""
    return _border(np.asarray(images)).mean(axis=1) > 127.5


@dataclass
class Data:
    """Model-ready arrays: float inputs (N, H*W), int64 labels, and what's needed to show images.

    ``background`` is the training images' background level (0..255, see :func:`background_level`);
    ``val_rows`` / ``test_rows`` the position of each image in its file.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray
    y_val: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    test_images: np.ndarray  # uint8 (N, H, W), for plots
    val_images: np.ndarray
    class_names: list[str]
    image_shape: tuple[int, int]
    stats: Stats
    name: str
    source: str
    background: float = 0.0
    val_rows: np.ndarray | None = None
    test_rows: np.ndarray | None = None

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, uint8 images)`` of ``"test"`` or ``"val"``."""
        if name == "test":
            return self.x_test, self.y_test, self.test_images
        if name == "val":
            return self.x_val, self.y_val, self.val_images
        raise ValueError(f"unknown split {name!r} (expected test or val)")

    def rows(self, name: str) -> np.ndarray:
        """The file positions of the images of ``"test"`` or ``"val"``."""
        rows = self.test_rows if name == "test" else self.val_rows
        return np.arange(len(self.split(name)[1])) if rows is None else rows

    @property
    def fill(self) -> float:
        """The background level as a model input (what augmentation pads with)."""
        return (self.background / 255.0 - self.stats.mean) / self.stats.std


def load_data(config: TrainConfig, stats: Stats | None = None, *, download: bool = True) -> Data:
    """Load ``config.dataset`` (and ``config.test_data``) and turn it into float inputs.

    Normalization statistics come from the training split unless ``stats`` is given
    (e.g. the ones saved in a checkpoint).
    """
    splits = load_any(
        config.dataset, data_dir=config.data_dir, download=download, verify=config.verify,
        val_size=config.val_size, seed=config.seed, size=config.image_size, test_data=config.test_data,
    )
    if splits.train_images.ndim != 3:
        raise ValueError(f"{splits.source}: expected grayscale images (N, H, W), got shape {splits.train_images.shape}")
    dtype = np.dtype(config.dtype)
    mean = std = None
    if config.standardize and stats is not None:
        mean, std = stats.mean, stats.std
    x_train, st = to_float(splits.train_images, dtype, config.standardize, mean, std)
    kw = dict(mean=st.mean, std=st.std) if config.standardize else {}
    x_val, _ = to_float(splits.val_images, dtype, config.standardize, **kw)
    x_test, _ = to_float(splits.test_images, dtype, config.standardize, **kw)
    source = str(splits.source) + (f" (test set: {splits.test_source})" if splits.test_source else "")
    return Data(
        x_train, splits.train_labels.astype(np.int64), x_val, splits.val_labels.astype(np.int64),
        x_test, splits.test_labels.astype(np.int64), splits.test_images, splits.val_images,
        list(splits.class_names), (int(splits.train_images.shape[1]), int(splits.train_images.shape[2])), st,
        splits.name, source, background_level(splits.train_images), splits.val_rows, splits.test_rows,
    )
