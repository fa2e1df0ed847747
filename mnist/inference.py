"""Using a trained model: load it from a checkpoint, read images to classify, render them as text.

The checkpoint carries everything needed to turn raw uint8 images into model inputs
(image size, normalization statistics, class names), so predictions use exactly the
preprocessing of training.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, load_checkpoint
from .data import FormatError, IDXError, Stats, read_csv_dataset, read_idx, read_images, to_float
from .data.formats import IMAGE_SUFFIXES
from .metrics import EvalResult, evaluate_logits
from .model import MLP
from .train import TrainConfig, model_logits, stats_from_meta

__all__ = ["Classifier", "Inputs", "ascii_image", "load_classifier", "read_inputs"]


@dataclass
class Classifier:
    """A trained model plus the preprocessing it expects."""

    model: MLP
    config: TrainConfig
    class_names: list[str]
    image_shape: tuple[int, int]
    stats: Stats
    path: Path
    epoch: int

    def inputs(self, images: np.ndarray) -> np.ndarray:
        """uint8 images (N, H, W) -> float model inputs (N, H*W), normalized like the training data."""
        if tuple(images.shape[1:]) != self.image_shape:
            h, w = self.image_shape
            raise ValueError(f"images of size {images.shape[1]}x{images.shape[2]} given; the model expects {h}x{w}")
        kw = {"mean": self.stats.mean, "std": self.stats.std} if self.config.standardize else {}
        return to_float(images, np.dtype(self.config.dtype), self.config.standardize, **kw)[0]

    def classify(self, images: np.ndarray, labels: np.ndarray | None = None) -> EvalResult:
        """Predictions, confidences (and loss/accuracy if ``labels``) for uint8 images."""
        return evaluate_logits(model_logits(self.model, self.inputs(images)), labels, self.config.loss)


def load_classifier(path: str | os.PathLike[str]) -> Classifier:
    """Load the model of a checkpoint (a ``.npz`` file or a run folder holding ``checkpoint.npz``).

    Raises :class:`~mnist.checkpoint.CheckpointError` naming the file when it is invalid or
    its weights do not fit the model its configuration describes.
    """
    ckpt = load_checkpoint(path)
    try:
        config = TrainConfig.from_dict(ckpt.meta["config"])
        image_shape = tuple(int(s) for s in ckpt.meta["image_shape"])
        class_names = [str(c) for c in ckpt.meta["class_names"]]
        sizes = [image_shape[0] * image_shape[1], *config.hidden, len(class_names)]
        model = MLP(sizes, config.activation, config.dropout, dtype=np.dtype(config.dtype), rng=0)
        stats = stats_from_meta(ckpt.meta)
    except (KeyError, TypeError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: invalid checkpoint metadata: {e}") from e
    ckpt.check_shapes("model", model.state_dict())
    try:
        model.load_state_dict(ckpt.group("model"))
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: {e}") from e
    model.eval()
    return Classifier(model, config, class_names, image_shape, stats, ckpt.path, int(ckpt.meta["epoch"]))


@dataclass
class Inputs:
    """Images to classify: uint8 (N, H, W), optional labels, a display name per image, the kind of input."""

    images: np.ndarray
    labels: np.ndarray | None
    names: list[str]
    kind: str  # "csv", "idx" or "images"


def _looks_inverted(images: np.ndarray) -> np.ndarray:
    """Per image: True if the border is bright (dark digit on light paper, unlike MNIST)."""
    border = np.concatenate(
        [images[:, 0, :], images[:, -1, :], images[:, :, 0], images[:, :, -1]], axis=1
    )
    return border.mean(axis=1) > 127


def read_inputs(
    paths: list[str], image_shape: tuple[int, int], invert: str = "auto", labels: str | None = None
) -> Inputs:
    """Read what ``predict`` classifies: one ``.csv`` file, one IDX images file, or image files
    and folders of images (resized to ``image_shape``, grayscale).

    ``invert`` ("auto", "yes", "no") applies to image files: MNIST digits are light on dark,
    so images with a light border are inverted in "auto" mode. ``labels`` is an optional IDX
    labels file for IDX input.
    """
    if not paths:
        raise FormatError("no input given")
    first = Path(paths[0])
    if len(paths) == 1 and first.suffix.lower() == ".csv":
        images, y, _ = read_csv_dataset(first)
        return Inputs(images, y, [str(i) for i in range(1, len(images) + 1)], "csv")
    if len(paths) == 1 and first.is_file() and first.suffix.lower() not in IMAGE_SUFFIXES:
        try:
            images = read_idx(first)
        except IDXError as e:
            raise FormatError(f"{first}: not a CSV, IDX or image file ({e})") from e
        if images.ndim != 3 or images.dtype != np.uint8:
            raise FormatError(f"{first}: expected an IDX file of uint8 images (N, H, W), got {images.dtype} {images.shape}")
        y = None
        if labels is not None:
            y = read_idx(labels).astype(np.int64)
            if y.shape != (len(images),):
                raise FormatError(f"{labels}: {y.shape} labels for {len(images)} images")
        return Inputs(images, y, [str(i) for i in range(len(images))], "idx")
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
    flip = _looks_inverted(images) if invert == "auto" else np.full(len(images), invert == "yes")
    images[flip] = 255 - images[flip]
    return Inputs(images, None, [str(f) for f in files], "images")


def ascii_image(image: np.ndarray, width: int | None = None) -> str:
    """A grayscale image as text (two characters per pixel, darker = more ink)."""
    ramp = " .:-=+*#%@"
    img = np.asarray(image, dtype=np.float64)
    if width is not None and img.shape[1] > width:
        step = -(-img.shape[1] // width)
        img = img[::step, ::step]
    lo, hi = float(img.min(initial=0)), float(img.max(initial=0))
    levels = np.zeros(img.shape, dtype=int) if hi <= lo else ((img - lo) / (hi - lo) * (len(ramp) - 1)).round().astype(int)
    return "\n".join("".join(ramp[v] * 2 for v in row) for row in levels)
