"""The training loop: :class:`Trainer` owns the model, optimizer, schedule, loader and history.

In-process use (what ``python -m mnist train`` does without the files)::

    from mnist.train import TrainConfig, Trainer, load_data
    cfg = TrainConfig(hidden=(128,), epochs=1)
    data = load_data(cfg)
    trainer = Trainer(cfg, data)
    trainer.fit()
    print(trainer.evaluate(data.x_test, data.y_test).accuracy)

Reproducibility: one ``seed`` feeds a ``np.random.SeedSequence`` whose children drive the
weight init + dropout masks, the DataLoader's shuffling and the augmentation. Their generator
states are part of :meth:`Trainer.snapshot`, so a run restored after epoch k continues bit for
bit like an uninterrupted one. An epoch interrupted by Ctrl-C is rolled back to its start.
A loss that becomes NaN or infinite stops training with :class:`TrainingDiverged`.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import tinygrad_np as tg
from tinygrad_np import nn, optim
from tinygrad_np.data import DataLoader

from .augment import Augmenter
from .config import OPTIMIZERS, TrainConfig
from .dataset import Data
from .metrics import EvalResult, evaluate_logits
from .model import batch_loss, build_model, model_logits
from .threads import blas_threads, cpu_count, load_average, oversubscription_hint

__all__ = ["Trainer", "TrainerState", "TrainingDiverged", "build_optimizer", "build_scheduler"]


class TrainingDiverged(ValueError):
    """The training loss became NaN or infinite; the message names the epoch and the step."""


def build_optimizer(config: TrainConfig, params: list[nn.Parameter]) -> optim.Optimizer:
    """The optimizer named by ``config.optimizer`` with its learning rate and weight decay."""
    lr, wd = config.learning_rate, config.decay
    if config.optimizer == "sgd":
        return optim.SGD(params, lr=lr, weight_decay=wd)
    if config.optimizer == "momentum":
        return optim.SGD(params, lr=lr, momentum=config.momentum, nesterov=config.nesterov, weight_decay=wd)
    if config.optimizer == "adam":
        return optim.Adam(params, lr=lr, weight_decay=wd)
    if config.optimizer == "adamw":
        return optim.AdamW(params, lr=lr, weight_decay=wd)
    raise ValueError(f"unknown optimizer {config.optimizer!r}; expected one of {OPTIMIZERS}")


def build_scheduler(config: TrainConfig, opt: optim.Optimizer) -> optim.LRScheduler | None:
    """The per-epoch learning-rate schedule (None for ``schedule="none"``)."""
    if config.schedule == "step":
        return optim.StepLR(opt, step_size=config.step_size or max(1, config.epochs // 3), gamma=config.gamma)
    if config.schedule == "cosine":
        return optim.CosineLR(opt, t_max=max(1, config.epochs - config.warmup), warmup_epochs=config.warmup)
    return None


@dataclass
class TrainerState:
    """Everything a :class:`Trainer` needs to continue exactly where it was (copies)."""

    model: dict[str, np.ndarray]
    optimizer: dict[str, np.ndarray]
    scheduler: dict[str, np.ndarray] | None
    rng: dict[str, dict[str, Any]]  # "model", "loader", "augment": bit_generator.state
    epoch: int
    history: list[dict[str, Any]]
    best: dict[str, np.ndarray] | None = None
    best_epoch: int = 0
    best_val_accuracy: float | None = None
    bad_epochs: int = 0
    stopped_early: bool = False
    extra: dict[str, Any] = field(default_factory=dict)


class Trainer:
    """Owns the model, optimizer, schedule, data loader, augmenter and the run's history.

    ``log`` receives the one-line epoch summaries; ``progress`` turns the tqdm bar on.
    """

    def __init__(self, config: TrainConfig, data: Data, *, log: Callable[[str], None] | None = print,
                 progress: bool = False) -> None:
        self.config = config.validate()
        self.data = data
        self.log = log or (lambda message: None)
        self.progress = progress
        if len(data.x_train) == 0:
            raise ValueError(f"{data.source}: the training split is empty")
        if len(data.class_names) < 2:
            raise ValueError(f"{data.source}: {len(data.class_names)} class(es); a classifier needs at least 2")
        if config.early_stopping and len(data.x_val) == 0:
            raise ValueError("early stopping needs a validation split (--val-size > 0)")
        seeds = np.random.SeedSequence(config.seed).spawn(3)
        self.model_rng = np.random.default_rng(seeds[0])  # weight init, then dropout masks
        self.model = build_model(config, data.image_shape, len(data.class_names), rng=self.model_rng)
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.scheduler = build_scheduler(config, self.optimizer)
        self.loader = DataLoader(data.x_train, data.y_train, batch_size=config.batch_size, shuffle=True,
                                 rng=np.random.default_rng(seeds[1]))
        self.augmenter = Augmenter(data.image_shape, config.max_shift, config.max_rotation, fill=data.fill,
                                   dtype=np.dtype(config.dtype), rng=np.random.default_rng(seeds[2]))
        self.history: list[dict[str, Any]] = []
        self.epoch = 0  # completed epochs
        self.best_state: dict[str, np.ndarray] | None = None
        self.best_epoch = 0
        self.best_val_accuracy = -math.inf
        self.bad_epochs = 0
        self.stopped_early = False
        self.extra_meta: dict[str, Any] = {}  # more JSON metadata for checkpoints (e.g. the commands)

    # ------------------------------------------------------------------ hyperparameters (shell)
    def update_config(self, **changes: Any) -> TrainConfig:
        """Replace configuration fields; the new configuration is validated before anything is
        stored (ValueError if invalid). Fields that need rebuilding have their own setters."""
        new = self.config.updated(**changes)
        self.config = new
        return new

    def set_optimizer(self, name: str, lr: float | None = None) -> None:
        """Switch to a new optimizer (fresh state); keeps the schedule's shape."""
        self.update_config(optimizer=name, lr=lr)
        self.optimizer = build_optimizer(self.config, self.model.parameters())
        self._rebuild_scheduler()

    def set_hyperparameter(self, name: str, value: float) -> None:
        """``momentum`` or ``weight_decay``: validated, then the optimizer is rebuilt (fresh state)."""
        if name not in ("momentum", "weight_decay"):
            raise ValueError(f"set_hyperparameter: {name!r} is not momentum or weight_decay")
        self.update_config(**{name: float(value)})
        self.optimizer = build_optimizer(self.config, self.model.parameters())
        self._rebuild_scheduler()

    def set_lr(self, lr: float) -> None:
        """Set the base learning rate (the schedule continues from the current epoch)."""
        self.update_config(lr=float(lr))
        self._rebuild_scheduler()

    def set_batch_size(self, batch_size: int) -> None:
        self.update_config(batch_size=int(batch_size))
        self.loader = DataLoader(self.data.x_train, self.data.y_train, batch_size=self.config.batch_size,
                                 shuffle=True, rng=self.loader.rng)

    def set_schedule(self, schedule: str) -> None:
        self.update_config(schedule=schedule)
        self._rebuild_scheduler()

    def set_epochs(self, epochs: int) -> None:
        """Change the planned number of epochs (a cosine/step schedule is re-planned over it)."""
        self.update_config(epochs=int(epochs))
        self._rebuild_scheduler()

    def _rebuild_scheduler(self) -> None:
        self.optimizer.lr = self.config.learning_rate
        self.scheduler = build_scheduler(self.config, self.optimizer)
        if self.scheduler is not None:
            self.scheduler.last_epoch = self.epoch
            self.optimizer.lr = self.scheduler.get_lr()

    def set_data(self, data: Data) -> None:
        """Train on new data from now on (same image size and classes; e.g. after a reload)."""
        if data.image_shape != self.data.image_shape or len(data.class_names) != len(self.data.class_names):
            raise ValueError(
                f"the new data ({data.image_shape[0]}x{data.image_shape[1]}, {len(data.class_names)} classes) "
                f"does not fit the model ({self.data.image_shape[0]}x{self.data.image_shape[1]}, "
                f"{len(self.data.class_names)} classes)"
            )
        self.data = data
        self.loader = DataLoader(data.x_train, data.y_train, batch_size=self.config.batch_size, shuffle=True,
                                 rng=self.loader.rng)

    # ------------------------------------------------------------------ evaluation
    def logits(self, x: np.ndarray) -> np.ndarray:
        """Logits of ``x`` in eval mode (no dropout), without recording a graph."""
        return model_logits(self.model, x)

    def evaluate(self, x: np.ndarray, y: np.ndarray | None) -> EvalResult:
        """Loss (the training loss function), accuracy, predictions and confidences on ``x``."""
        return evaluate_logits(self.logits(x), y, self.config.loss)

    # ------------------------------------------------------------------ state
    def snapshot(self) -> TrainerState:
        """A copy of the full training state (see :meth:`restore`)."""
        return TrainerState(
            model=self.model.state_dict(),
            optimizer=self.optimizer.state_dict(),
            scheduler=self.scheduler.state_dict() if self.scheduler is not None else None,
            rng={"model": copy.deepcopy(self.model_rng.bit_generator.state),
                 "loader": copy.deepcopy(self.loader.rng.bit_generator.state),
                 "augment": copy.deepcopy(self.augmenter.rng.bit_generator.state)},
            epoch=self.epoch,
            history=copy.deepcopy(self.history),
            best={k: v.copy() for k, v in self.best_state.items()} if self.best_state is not None else None,
            best_epoch=self.best_epoch,
            best_val_accuracy=None if self.best_epoch == 0 else float(self.best_val_accuracy),
            bad_epochs=self.bad_epochs,
            stopped_early=self.stopped_early,
        )

    def restore(self, state: TrainerState, *, weights_only: bool = False) -> None:
        """Load a :meth:`snapshot` (or one rebuilt from a checkpoint) into this trainer, which must
        have the same architecture. The model's and optimizer's own checks run before they change."""
        self.model.load_state_dict(state.model)
        if weights_only:
            return
        self.optimizer.load_state_dict(state.optimizer)
        if self.scheduler is not None and state.scheduler is not None:
            self.scheduler.load_state_dict(state.scheduler)
        self.model_rng.bit_generator.state = state.rng["model"]
        self.loader.rng.bit_generator.state = state.rng["loader"]
        self.augmenter.rng.bit_generator.state = state.rng["augment"]
        self.best_state = {k: v.copy() for k, v in state.best.items()} if state.best is not None else None
        self.history = copy.deepcopy(state.history)
        self.epoch = int(state.epoch)
        self.best_epoch = int(state.best_epoch)
        self.best_val_accuracy = -math.inf if state.best_val_accuracy is None else float(state.best_val_accuracy)
        self.bad_epochs = int(state.bad_epochs)
        self.stopped_early = bool(state.stopped_early)

    # ------------------------------------------------------------------ training
    def _traced_step(self) -> Callable[..., tuple[tg.Tensor, tg.Tensor]]:
        """``--jit``: the batch's loss and logits, forward + backward through ``traced_step`` (made
        afresh every epoch, so a plan never outlives the model's parameter objects)."""
        model, kind = self.model, self.config.loss

        def loss_and_logits(x: tg.Tensor, y: np.ndarray) -> tuple[tg.Tensor, tg.Tensor]:
            logits = model(x)
            return batch_loss(logits, y, kind), logits

        return tg.traced_step(loss_and_logits, has_aux=True)

    def _compiled_step(self) -> Callable[..., tuple[tg.Tensor, tg.Tensor]]:
        """``--compile``: the batch's loss and logits, forward, backward and the optimizer's update
        as one compiled program (made afresh every epoch, for the current optimizer)."""
        model, kind = self.model, self.config.loss

        def loss_and_logits(x: tg.Tensor, y: np.ndarray) -> tuple[tg.Tensor, tg.Tensor]:
            logits = model(x)
            return batch_loss(logits, y, kind), logits

        return tg.compile(loss_and_logits, optimizer=self.optimizer, has_aux=True)

    def _diverged(self, step: int, value: float) -> TrainingDiverged:
        return TrainingDiverged(
            f"training diverged: the loss is {value} at epoch {self.epoch + 1}, step {step} "
            f"(learning rate {self.optimizer.lr:g}); lower the learning rate (--lr, or 'set lr' in the shell). "
            f"The model was kept as it was after epoch {self.epoch}."
        )

    def train_epoch(self) -> dict[str, Any]:
        """One pass over the training data, then validation; appends to and returns the history row.

        On Ctrl-C (KeyboardInterrupt) or a diverging loss (:class:`TrainingDiverged`) the trainer is
        rolled back to the state it had before the epoch, and the exception propagates.
        """
        before = self.snapshot()
        try:
            return self._train_epoch()
        except (KeyboardInterrupt, TrainingDiverged):
            self.restore(before)
            raise

    def _train_epoch(self) -> dict[str, Any]:
        lr = self.optimizer.lr
        self.model.train()
        bar = self._progress_bar()
        traced = self._traced_step() if self.config.jit else None
        compiled = self._compiled_step() if self.config.compile else None
        t0 = time.perf_counter()
        # overflow shows up as a non-finite loss or weights, reported below with the epoch and step
        with np.errstate(over="ignore", invalid="ignore"):
            return self._steps(t0, lr, bar, traced, compiled)

    def _steps(self, t0: float, lr: float, bar: Any, traced: Callable[..., Any] | None,
               compiled: Callable[..., Any] | None = None) -> dict[str, Any]:
        cfg, model, opt, aug = self.config, self.model, self.optimizer, self.augmenter
        n_seen = correct = 0
        loss_sum = 0.0
        step = 0
        try:
            for step, (xb, yb) in enumerate(self.loader, start=1):
                if cfg.augment:
                    xb = aug(xb)
                if compiled is not None:  # forward, backward and the update in one call (bit-identical)
                    loss, logits = compiled(tg.Tensor(np.asarray(xb, dtype=model.dtype)), yb)
                    value = float(loss.item())
                    if not math.isfinite(value):  # (the epoch is rolled back: the update does not stay)
                        raise self._diverged(step, value)
                elif traced is None:
                    logits = model(xb)
                    loss = batch_loss(logits, yb, cfg.loss)
                    value = float(loss.item())
                    if not math.isfinite(value):
                        raise self._diverged(step, value)
                    opt.zero_grad()
                    loss.backward()
                else:  # the same forward and backward, replayed (bit-identical gradients)
                    opt.zero_grad()
                    loss, logits = traced(tg.Tensor(np.asarray(xb, dtype=model.dtype)), yb)
                    value = float(loss.item())
                    if not math.isfinite(value):
                        raise self._diverged(step, value)
                if compiled is None:
                    opt.step()
                # running metrics from the same forward pass (no extra work)
                n = len(yb)
                n_seen += n
                loss_sum += value * n
                correct += int(np.count_nonzero(logits.numpy().argmax(axis=1) == yb))
                if bar is not None:
                    bar.update(n)
                    if step % 10 == 0:
                        bar.set_postfix_str(f"loss {loss_sum / n_seen:.4f} acc {100 * correct / n_seen:.2f}%")
        finally:
            if bar is not None:
                bar.close()
        train_seconds = time.perf_counter() - t0
        if not all(np.isfinite(p.numpy()).all() for p in model.parameters()):
            raise self._diverged(step, math.nan)
        if self.scheduler is not None:
            self.scheduler.step()
        val = self.evaluate(self.data.x_val, self.data.y_val) if len(self.data.x_val) else None
        epoch_seconds = time.perf_counter() - t0
        self.epoch += 1
        row = {
            "epoch": self.epoch,
            "lr": lr,
            "train_loss": loss_sum / max(n_seen, 1),
            "train_accuracy": correct / max(n_seen, 1),
            "val_loss": val.loss if val else None,
            "val_accuracy": val.accuracy if val else None,
            "epoch_seconds": epoch_seconds,
            "samples_per_second": n_seen / train_seconds if train_seconds > 0 else None,
        }
        best_rate = max((h.get("samples_per_second") or 0.0 for h in self.history), default=0.0)
        self.history.append(row)
        if val is not None:
            if val.accuracy > self.best_val_accuracy:
                self.best_val_accuracy, self.best_epoch, self.bad_epochs = val.accuracy, self.epoch, 0
                if cfg.early_stopping:
                    self.best_state = self.model.state_dict()
            else:
                self.bad_epochs += 1
            if cfg.early_stopping and self.bad_epochs >= cfg.early_stopping:
                self.stopped_early = True
        hint = oversubscription_hint(row["samples_per_second"], best_rate or None, blas_threads(), cpu_count(),
                                     load_average())
        self.log(self.summary_line(row) + (f"  [slow? {hint}]" if hint else ""))
        return row

    def _progress_bar(self) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.loader.num_samples, desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                    unit="img", unit_scale=True, leave=False, dynamic_ncols=True, file=sys.stderr)

    def summary_line(self, row: dict[str, Any]) -> str:
        """The one-line summary of a history row."""
        width = len(str(max(self.config.epochs, row["epoch"])))
        text = (f"epoch {row['epoch']:>{width}}/{self.config.epochs}  "
                f"train loss {row['train_loss']:.4f} acc {100 * row['train_accuracy']:6.2f}%")
        if row["val_accuracy"] is not None:
            text += f"  val loss {row['val_loss']:.4f} acc {100 * row['val_accuracy']:6.2f}%"
        text += f"  lr {row['lr']:.2e}  {row['epoch_seconds']:.1f}s"
        if row["samples_per_second"]:
            text += f" ({row['samples_per_second']:,.0f} img/s)"
        if self.stopped_early and row["epoch"] == self.epoch:
            text += f"  [early stop: no val improvement for {self.bad_epochs} epochs]"
        return text

    @property
    def finished(self) -> bool:
        return self.stopped_early or self.epoch >= self.config.epochs

    def fit(self, epochs: int | None = None, *, save: Callable[["Trainer"], Any] | None = None,
            stop_after: int | None = None) -> None:
        """Train until ``epochs`` (default ``config.epochs``) are done or early stopping fires.

        ``save(trainer)`` is called after every epoch (e.g. to write a checkpoint). ``stop_after``
        ends this call after that many epochs (as if interrupted). When training is complete,
        the best weights are restored if early stopping is on (and ``save`` is called once more).
        """
        target = self.config.epochs if epochs is None else epochs
        done_here = 0
        while self.epoch < target and not self.stopped_early:
            if stop_after is not None and done_here >= stop_after:
                return
            self.train_epoch()
            done_here += 1
            if save is not None and not self.finished:
                save(self)
        if self.finished:
            self.restore_best()
            if save is not None:
                save(self)

    def restore_best(self) -> bool:
        """Load the best-validation weights (early stopping); True if they differed from the current ones."""
        if not self.config.early_stopping or self.best_state is None or self.best_epoch == self.epoch:
            return False
        self.model.load_state_dict(self.best_state)
        return True
