"""The glue between a :class:`~mnist.trainer.Trainer` and its checkpoint file.

* :func:`save_trainer` writes a trainer's full state (:func:`checkpoint_contents`);
* :func:`resume` is the one way back: ``train --resume``, ``shell --checkpoint`` and
  :func:`trainer_from_checkpoint` all use it. It checks every array the file declares against the
  shapes the saved configuration implies *before* building the model, restores the state, and
  then applies the allowed overrides (e.g. the shell's ``--lr``) through the trainer's validated
  setters.
"""
from __future__ import annotations

import json
import os
import re
from collections.abc import Collection, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import Checkpoint, CheckpointError, load_checkpoint, rng_state, save_checkpoint
from .data import Stats
from .dataset import Data, load_data
from .model import parameter_shapes, state_shapes
from .trainer import Trainer, TrainerState

__all__ = [
    "RESUME_OPTIONS", "SHELL_RESUME_OPTIONS", "TUNABLE", "check_data_fits", "checkpoint_contents",
    "model_shapes", "resume", "save_trainer", "stats_from_meta", "trainer_from_checkpoint",
]

#: options that ``train --resume`` may change (everything else comes from the checkpoint)
RESUME_OPTIONS = frozenset({"epochs", "early_stopping", "data_dir", "verify"})
#: hyperparameters that the shell may change (``set KEY VALUE``, or ``shell --checkpoint RUN --KEY VALUE``)
TUNABLE = frozenset({"lr", "batch_size", "optimizer", "momentum", "weight_decay", "schedule", "loss", "augment"})
SHELL_RESUME_OPTIONS = RESUME_OPTIONS | TUNABLE
_MAX_SMALL_ENTRY = 16  # elements of a hyperparameter entry (e.g. Adam's betas)


def checkpoint_contents(trainer: Trainer) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
    """``(arrays, meta)`` of a trainer for :func:`mnist.checkpoint.save_checkpoint`."""
    state = trainer.snapshot()
    arrays: dict[str, dict[str, np.ndarray]] = {
        "model": state.model,
        "optim": state.optimizer,
        "rng": {"model": rng_state(trainer.model_rng), "loader": rng_state(trainer.loader.rng),
                "augment": rng_state(trainer.augmenter.rng)},
    }
    if state.scheduler is not None:
        arrays["sched"] = state.scheduler
    if state.best is not None:
        arrays["best"] = state.best
    data = trainer.data
    meta = {
        "config": trainer.config.to_dict(),
        "epoch": state.epoch,
        "class_names": data.class_names,
        "image_shape": list(data.image_shape),
        "norm": {"standardize": trainer.config.standardize, "mean": data.stats.mean, "std": data.stats.std},
        "background": {"level": data.background},
        "history": state.history,
        "dataset": {"name": data.name, "source": data.source},
        "early_stopping": {"best_epoch": state.best_epoch, "bad_epochs": state.bad_epochs,
                           "best_val_accuracy": state.best_val_accuracy, "stopped": state.stopped_early},
        "finished": trainer.finished,
        **trainer.extra_meta,
    }
    return arrays, meta


def save_trainer(trainer: Trainer, path: str | os.PathLike[str]) -> Path:
    """Write the trainer's full state to ``path`` atomically."""
    arrays, meta = checkpoint_contents(trainer)
    return save_checkpoint(path, arrays, meta)


def stats_from_meta(meta: Mapping[str, Any]) -> Stats:
    """The normalization statistics saved in a checkpoint's metadata."""
    norm = meta["norm"]
    return Stats(float(norm["mean"]), float(norm["std"]))


def model_shapes(ckpt: Checkpoint) -> dict[str, tuple[int, ...]]:
    """The state shapes (parameters and buffers) of the model that a checkpoint's configuration describes."""
    assert ckpt.config is not None
    return state_shapes(ckpt.config, ckpt.meta["image_shape"], len(ckpt.meta["class_names"]))


def model_parameter_shapes(ckpt: Checkpoint) -> list[tuple[int, ...]]:
    """The shapes of that model's parameters, in ``parameters()`` order (optimizer state's indices)."""
    assert ckpt.config is not None
    return parameter_shapes(ckpt.config, ckpt.meta["image_shape"], len(ckpt.meta["class_names"]))


def _check_state_entries(ckpt: Checkpoint, params: list[tuple[int, ...]]) -> None:
    """CheckpointError unless the optimizer, schedule and best-weights entries fit the model."""
    if ckpt.has_group("best"):
        ckpt.check_shapes("best", model_shapes(ckpt))
    for key, shape in ckpt.shapes("optim").items():
        m = re.fullmatch(r"state\.(\d+)\.\w+", key)
        if m:
            i = int(m.group(1))
            if i >= len(params) or (shape != params[i] and int(np.prod(shape)) > _MAX_SMALL_ENTRY):
                want = params[i] if i < len(params) else "no such parameter"
                raise CheckpointError(f"{ckpt.path}: optim/{key} has shape {shape}; the model needs {want}")
        elif int(np.prod(shape)) > _MAX_SMALL_ENTRY:
            raise CheckpointError(f"{ckpt.path}: optim/{key} has shape {shape}; a hyperparameter is a scalar")
    for key, shape in ckpt.shapes("sched").items():
        if shape != ():
            raise CheckpointError(f"{ckpt.path}: sched/{key} has shape {shape}; expected a scalar")
    missing = [k for k in ("model", "loader", "augment") if k not in ckpt.shapes("rng")]
    if missing:
        raise CheckpointError(f"{ckpt.path}: incomplete checkpoint, missing " + ", ".join(f"rng/{k}" for k in missing))


def _state_from_checkpoint(ckpt: Checkpoint, weights_only: bool) -> TrainerState:
    model = ckpt.group("model", model_shapes(ckpt))
    if weights_only:
        return TrainerState(model, {}, None, {}, ckpt.epoch, [])
    _check_state_entries(ckpt, model_parameter_shapes(ckpt))
    try:
        rng = {k: json.loads(str(v[()])) for k, v in ckpt.group("rng").items()}
    except ValueError as e:
        raise CheckpointError(f"{ckpt.path}: rng entries are not generator states ({e})") from e
    es = ckpt.meta.get("early_stopping", {})
    return TrainerState(
        model=model, optimizer=ckpt.group("optim"),
        scheduler=ckpt.group("sched") if ckpt.has_group("sched") else None,
        rng=rng, epoch=ckpt.epoch, history=ckpt.meta["history"],
        best=ckpt.group("best") if ckpt.has_group("best") else None,
        best_epoch=int(es.get("best_epoch", 0)), best_val_accuracy=es.get("best_val_accuracy"),
        bad_epochs=int(es.get("bad_epochs", 0)), stopped_early=bool(es.get("stopped", False)),
    )


def check_data_fits(ckpt: Checkpoint, data: Data) -> None:
    """CheckpointError unless ``data`` has the image size and number of classes of the checkpoint."""
    shape = tuple(ckpt.meta["image_shape"])
    classes = ckpt.meta["class_names"]
    if tuple(data.image_shape) != shape or len(data.class_names) != len(classes):
        raise CheckpointError(
            f"{ckpt.path}: the model was trained on {shape[0]}x{shape[1]} images with {len(classes)} classes, "
            f"but {data.source} has {data.image_shape[0]}x{data.image_shape[1]} images with "
            f"{len(data.class_names)} classes"
        )


def _option(name: str) -> str:
    return "--" + name.replace("_", "-")


def resume(
    checkpoint: str | os.PathLike[str] | Checkpoint,
    overrides: Mapping[str, Any] | None = None,
    *,
    allowed: Collection[str] = RESUME_OPTIONS,
    data: Data | None = None,
    weights_only: bool = False,
    **trainer_kwargs: Any,
) -> Trainer:
    """A :class:`Trainer` continuing the run saved in ``checkpoint`` (a file, run folder or
    :class:`~mnist.checkpoint.Checkpoint`).

    ``overrides`` maps :class:`~mnist.config.TrainConfig` fields to new values; a value equal to
    the saved one is no change. Changing a field outside ``allowed`` raises ValueError naming the
    option. The data are loaded with the saved normalization unless ``data`` is given.
    ``trainer_kwargs`` go to :class:`Trainer`. Raises CheckpointError naming the file when the
    checkpoint does not fit its own configuration or the data.
    """
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else load_checkpoint(checkpoint)
    saved = ckpt.config
    assert saved is not None
    changed = {k: v for k, v in (overrides or {}).items() if getattr(saved, k) != v}
    refused = sorted(k for k in changed if k not in allowed)
    if refused:
        given = ", ".join(f"{_option(k)} {changed[k]!r} (saved: {getattr(saved, k)!r})" for k in refused)
        raise ValueError(
            f"{ckpt.path}: cannot change {given} when continuing a run; the saved configuration is used. "
            f"Options that may change: {', '.join(_option(k) for k in sorted(allowed))}"
        )
    base = {k: v for k, v in changed.items() if k not in TUNABLE}
    config = saved.updated(**base)
    shapes = model_shapes(ckpt)
    ckpt.check_shapes("model", shapes)  # before the model is allocated
    if data is None:
        data = load_data(config, stats_from_meta(ckpt.meta))
    check_data_fits(ckpt, data)
    state = _state_from_checkpoint(ckpt, weights_only)
    trainer = Trainer(config, data, **trainer_kwargs)
    try:
        trainer.restore(state, weights_only=weights_only)
    except (KeyError, ValueError, TypeError) as e:
        raise CheckpointError(f"{ckpt.path}: cannot restore the training state: {e}") from e
    trainer.extra_meta = {"commands": list(ckpt.meta.get("commands", []))}
    _apply_tunables(trainer, {k: v for k, v in changed.items() if k in TUNABLE})
    return trainer


def _apply_tunables(trainer: Trainer, changes: Mapping[str, Any]) -> None:
    """Apply shell hyperparameters through the trainer's validated setters, in a fixed order."""
    if "optimizer" in changes:
        trainer.set_optimizer(changes["optimizer"], changes.get("lr", trainer.config.lr))
    elif "lr" in changes:
        trainer.set_lr(changes["lr"])
    for key in ("momentum", "weight_decay"):
        if key in changes:
            trainer.set_hyperparameter(key, changes[key])
    if "schedule" in changes:
        trainer.set_schedule(changes["schedule"])
    if "batch_size" in changes:
        trainer.set_batch_size(changes["batch_size"])
    if "loss" in changes:
        trainer.update_config(loss=changes["loss"])
    if "augment" in changes:
        trainer.update_config(augment=bool(changes["augment"]))


def trainer_from_checkpoint(
    ckpt: Checkpoint | str | os.PathLike[str], data: Data | None = None, *, weights_only: bool = False,
    **kwargs: Any,
) -> Trainer:
    """Rebuild a :class:`Trainer` from a checkpoint exactly as saved (``resume`` without overrides)."""
    return resume(ckpt, None, data=data, weights_only=weights_only, **kwargs)

