"""Using a trained model: load it from a checkpoint with the preprocessing it expects.

The checkpoint carries everything needed to turn raw uint8 images into model inputs
(image size, normalization statistics, background level, class names), so predictions use
exactly the preprocessing of training.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .checkpoint import CheckpointError, load_checkpoint
from .config import TrainConfig
from .data import Stats, to_float
from .metrics import EvalResult, evaluate_logits
from .model import Model, build_model, model_logits
from .resume import model_shapes, stats_from_meta

__all__ = ["Classifier", "load_classifier"]


@dataclass
class Classifier:
    """A trained model plus the preprocessing it expects."""

    model: Model
    config: TrainConfig
    class_names: list[str]
    image_shape: tuple[int, int]
    stats: Stats
    path: Path
    epoch: int
    background: float = 0.0  # the training images' background level (0..255)

    @property
    def light_background(self) -> bool:
        """True if the model was trained on light backgrounds (dark ink on white)."""
        return self.background > 127.5

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
    its weights do not fit the model its configuration describes (checked before the model is
    allocated).
    """
    ckpt = load_checkpoint(path)
    config = ckpt.config
    assert config is not None
    image_shape = (int(ckpt.meta["image_shape"][0]), int(ckpt.meta["image_shape"][1]))
    class_names = [str(c) for c in ckpt.meta["class_names"]]
    weights = ckpt.group("model", model_shapes(ckpt))
    model = build_model(config, image_shape, len(class_names), rng=0)
    try:
        model.load_state_dict(weights)
    except (KeyError, ValueError) as e:
        raise CheckpointError(f"{ckpt.path}: {e}") from e
    model.eval()
    background = float(ckpt.meta.get("background", {"level": 0.0})["level"])
    return Classifier(model, config, class_names, image_shape, stats_from_meta(ckpt.meta), ckpt.path, ckpt.epoch,
                      background)
