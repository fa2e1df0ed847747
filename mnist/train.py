"""Training: configuration, data preparation, the epoch loop, evaluation, early stopping, checkpoints.

In-process use (what ``python -m mnist train`` does without the files)::

    from mnist.train import TrainConfig, Trainer, load_data
    cfg = TrainConfig(hidden=(128,), epochs=1)
    data = load_data(cfg)
    trainer = Trainer(cfg, data)
    trainer.fit()
    print(trainer.evaluate(data.x_test, data.y_test).accuracy)

Reproducibility: one ``seed`` feeds a ``np.random.SeedSequence`` whose children drive the
weight init + dropout masks, the DataLoader's shuffling and the augmentation. Their
generator states are part of the checkpoint, so a run resumed after epoch k continues
bit for bit like an uninterrupted one.
"""
from __future__ import annotations

import copy
import math
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np

from tinygrad_np import Tensor, nn, optim
from tinygrad_np import no_grad
from tinygrad_np.data import DataLoader
from tinygrad_np.fast.jit import TracedStep, traced_step

from . import checkpoint as ckpt_io
from .augment import Augmenter
from .data import Stats, load_any, to_float
from .metrics import EvalResult, evaluate_logits
from .model import MLP, batch_loss

__all__ = [
    "ACTIVATIONS", "DEFAULT_LR", "LOSSES", "OPTIMIZERS", "SCHEDULES",
    "Data", "TrainConfig", "Trainer", "load_data", "build_optimizer", "model_logits",
]

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("ce", "mse")
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3}
DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "momentum": 0.0, "adam": 0.0, "adamw": 1e-2}
EVAL_BATCH = 8192


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json`` and in checkpoints).

    ``lr`` / ``weight_decay`` None mean "the optimizer's default" (:data:`DEFAULT_LR`);
    ``val_size`` None means 5000 for mnist / fashion-mnist and 10 % for CSV files and image
    folders (an int is a count, a float in [0, 1) a fraction).
    """

    dataset: str = "mnist"
    data_dir: str | None = None
    verify: bool = True
    hidden: tuple[int, ...] = (512, 256)
    activation: str = "relu"
    loss: str = "ce"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float | None = None
    schedule: str = "cosine"
    step_size: int | None = None
    gamma: float = 0.1
    warmup: int = 0
    batch_size: int = 128
    epochs: int = 12
    dropout: float = 0.0
    augment: bool = False
    max_shift: int = 2
    max_rotation: float = 10.0
    early_stopping: int = 0
    val_size: int | float | None = None
    seed: int = 0
    dtype: str = "float32"
    standardize: bool = False
    image_size: int | None = None
    jit: bool = False

    def __post_init__(self) -> None:
        self.hidden = tuple(int(h) for h in self.hidden)

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimizer's default learning rate."""
        return DEFAULT_LR[self.optimizer] if self.lr is None else float(self.lr)

    @property
    def decay(self) -> float:
        """``weight_decay``, or the optimizer's default."""
        return DEFAULT_WEIGHT_DECAY[self.optimizer] if self.weight_decay is None else float(self.weight_decay)

    def validate(self) -> "TrainConfig":
        """Raise ValueError with a readable message for any invalid setting; returns self."""
        choices = [("activation", ACTIVATIONS), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
                   ("schedule", SCHEDULES), ("dtype", ("float32", "float64"))]
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        checks = [
            (all(h >= 1 for h in self.hidden), f"hidden layer sizes must be >= 1, got {self.hidden}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}"),
            (self.decay >= 0, f"weight decay must be >= 0, got {self.decay}"),
            (self.momentum >= 0, f"momentum must be >= 0, got {self.momentum}"),
            (self.early_stopping >= 0, f"early-stopping patience must be >= 0, got {self.early_stopping}"),
            (self.warmup >= 0, f"warmup epochs must be >= 0, got {self.warmup}"),
            (self.step_size is None or self.step_size >= 1, f"step size must be >= 1, got {self.step_size}"),
            (self.max_shift >= 0 and self.max_rotation >= 0, "augmentation shift/rotation must be >= 0"),
            (self.image_size is None or self.image_size >= 1, f"image size must be >= 1, got {self.image_size}"),
            (not self.jit or (self.loss == "ce" and self.dropout == 0.0),
             "jit (a traced training step) needs the ce loss and no dropout: the mse loss's one-hot targets "
             "and dropout's masks are made with NumPy inside the step, which a trace would freeze"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TrainConfig":
        """Build from ``to_dict()`` output; unknown keys are ignored (forward compatible)."""
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class Data:
    """Model-ready arrays: float inputs (N, H*W), int64 labels, and what's needed to show images."""

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

    def split(self, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(x, y, uint8 images)`` of ``"test"`` or ``"val"``."""
        if name == "test":
            return self.x_test, self.y_test, self.test_images
        if name == "val":
            return self.x_val, self.y_val, self.val_images
        raise ValueError(f"unknown split {name!r} (expected test or val)")


def load_data(config: TrainConfig, stats: Stats | None = None, *, download: bool = True) -> Data:
    """Load ``config.dataset`` and turn it into float inputs.

    Normalization statistics come from the training split unless ``stats`` is given
    (e.g. the ones saved in a checkpoint).
    """
    size = config.image_size
    splits = load_any(
        config.dataset, data_dir=config.data_dir, download=download, verify=config.verify,
        val_size=config.val_size, seed=config.seed, size=size,
    )
    if splits.train_images.ndim != 3:
        raise ValueError(f"{splits.source}: expected grayscale images (N, H, W), got shape {splits.train_images.shape}")
    dtype = np.dtype(config.dtype)
    mean = std = None
    if config.standardize and stats is not None:
        mean, std = stats.mean, stats.std
    x_train, st = to_float(splits.train_images, dtype, config.standardize, mean, std)
    kw = dict(mean=st.mean, std=st.std) if config.standardize else {}
    x_val, _ = to_float(splits.val_images.reshape(-1, *splits.train_images.shape[1:]), dtype, config.standardize, **kw)
    x_test, _ = to_float(splits.test_images.reshape(-1, *splits.train_images.shape[1:]), dtype, config.standardize, **kw)
    return Data(
        x_train, splits.train_labels.astype(np.int64), x_val, splits.val_labels.astype(np.int64),
        x_test, splits.test_labels.astype(np.int64), splits.test_images, splits.val_images,
        list(splits.class_names), tuple(int(s) for s in splits.train_images.shape[1:]), st,
        splits.name, str(splits.source),
    )


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


def _fmt_lr(lr: float) -> str:
    return f"{lr:.2e}"


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
            raise ValueError("the training split is empty")
        if config.early_stopping and len(data.x_val) == 0:
            raise ValueError("early stopping needs a validation split (--val-size > 0)")
        seeds = np.random.SeedSequence(config.seed).spawn(3)
        self.model_rng = np.random.default_rng(seeds[0])  # weight init, then dropout masks
        h, w = data.image_shape
        self.model = MLP([h * w, *config.hidden, len(data.class_names)], config.activation, config.dropout,
                         dtype=np.dtype(config.dtype), rng=self.model_rng)
        self.optimizer = build_optimizer(config, self.model.parameters())
        self.scheduler = build_scheduler(config, self.optimizer)
        self.loader = DataLoader(data.x_train, data.y_train, batch_size=config.batch_size, shuffle=True,
                                 rng=np.random.default_rng(seeds[1]))
        fill = (0.0 - data.stats.mean) / data.stats.std
        self.augmenter = Augmenter(data.image_shape, config.max_shift, config.max_rotation, fill=fill,
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
    def set_optimizer(self, name: str, lr: float | None = None) -> None:
        """Switch to a new optimizer (fresh state); keeps the schedule's shape."""
        self.config.optimizer = name
        self.config.lr = lr
        self.config.validate()
        self.optimizer = build_optimizer(self.config, self.model.parameters())
        self._rebuild_scheduler()

    def set_lr(self, lr: float) -> None:
        """Set the base learning rate (the schedule continues from the current epoch)."""
        self.config.lr = float(lr)
        self.config.validate()
        self.optimizer.lr = float(lr)
        self._rebuild_scheduler()

    def set_batch_size(self, batch_size: int) -> None:
        self.config.batch_size = int(batch_size)
        self.config.validate()
        self.loader = DataLoader(self.data.x_train, self.data.y_train, batch_size=self.config.batch_size,
                                 shuffle=True, rng=self.loader.rng)

    def set_schedule(self, schedule: str) -> None:
        self.config.schedule = schedule
        self.config.validate()
        self.optimizer.lr = self.config.learning_rate
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

    # ------------------------------------------------------------------ training
    def _traced_step(self) -> TracedStep:
        """``--jit``: the batch's loss and logits, forward + backward through ``traced_step`` (made
        afresh every epoch, so a plan never outlives the model's parameter objects)."""
        model, kind = self.model, self.config.loss

        def loss_and_logits(x: Tensor, y: np.ndarray) -> tuple[Tensor, Tensor]:
            logits = model(x)
            return batch_loss(logits, y, kind), logits

        return traced_step(loss_and_logits, has_aux=True)

    def train_epoch(self) -> dict[str, Any]:
        """One pass over the training data, then validation; appends to and returns the history row."""
        cfg, model, opt, aug = self.config, self.model, self.optimizer, self.augmenter
        lr = opt.lr
        model.train()
        n_seen = correct = 0
        loss_sum = 0.0
        bar = self._progress_bar()
        traced = self._traced_step() if cfg.jit else None
        t0 = time.perf_counter()
        for step, (xb, yb) in enumerate(self.loader, start=1):
            if cfg.augment:
                xb = aug(xb)
            if traced is None:
                logits = model(xb)
                loss = batch_loss(logits, yb, cfg.loss)
                opt.zero_grad()
                loss.backward()
            else:  # the same forward and backward, replayed (bit-identical gradients)
                opt.zero_grad()
                loss, logits = traced(Tensor(np.asarray(xb, dtype=model.dtype)), yb)
            opt.step()
            # running metrics from the same forward pass (no extra work)
            n = len(yb)
            n_seen += n
            loss_sum += float(loss.data) * n
            correct += int(np.count_nonzero(logits.data.argmax(axis=1) == yb))
            if bar is not None:
                bar.update(n)
                if step % 10 == 0:
                    bar.set_postfix_str(f"loss {loss_sum / n_seen:.4f} acc {100 * correct / n_seen:.2f}%")
        train_seconds = time.perf_counter() - t0
        if bar is not None:
            bar.close()
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
        self.log(self._summary_line(row))
        return row

    def _progress_bar(self) -> Any:
        if not self.progress:
            return None
        from tqdm import tqdm

        return tqdm(total=self.loader.num_samples, desc=f"epoch {self.epoch + 1}/{self.config.epochs}",
                    unit="img", unit_scale=True, leave=False, dynamic_ncols=True, file=sys.stderr)

    def _summary_line(self, row: dict[str, Any]) -> str:
        width = len(str(max(self.config.epochs, row["epoch"])))
        text = (f"epoch {row['epoch']:>{width}}/{self.config.epochs}  "
                f"train loss {row['train_loss']:.4f} acc {100 * row['train_accuracy']:6.2f}%")
        if row["val_accuracy"] is not None:
            text += f"  val loss {row['val_loss']:.4f} acc {100 * row['val_accuracy']:6.2f}%"
        text += f"  lr {_fmt_lr(row['lr'])}  {row['epoch_seconds']:.1f}s"
        if row["samples_per_second"]:
            text += f" ({row['samples_per_second']:,.0f} img/s)"
        if self.stopped_early:
            text += f"  [early stop: no val improvement for {self.bad_epochs} epochs]"
        return text

    @property
    def finished(self) -> bool:
        return self.stopped_early or self.epoch >= self.config.epochs

    def fit(self, epochs: int | None = None, *, checkpoint_path: str | Path | None = None,
            stop_after: int | None = None) -> None:
        """Train until ``epochs`` (default ``config.epochs``) are done or early stopping fires.

        Saves a checkpoint after every epoch if ``checkpoint_path`` is given. ``stop_after``
        ends this call after that many epochs (as if interrupted). When training is complete,
        the best weights are restored if early stopping is on.
        """
        target = self.config.epochs if epochs is None else epochs
        done_here = 0
        while self.epoch < target and not self.stopped_early:
            if stop_after is not None and done_here >= stop_after:
                return
            self.train_epoch()
            done_here += 1
            if checkpoint_path is not None and not self.finished:
                self.save(checkpoint_path)
        if self.finished:
            self.restore_best()
            if checkpoint_path is not None:
                self.save(checkpoint_path)

    def restore_best(self) -> bool:
        """Load the best-validation weights (early stopping); True if they differed from the current ones."""
        if not self.config.early_stopping or self.best_state is None or self.best_epoch == self.epoch:
            return False
        self.model.load_state_dict(self.best_state)
        return True

    # ------------------------------------------------------------------ checkpoints
    def state(self) -> tuple[dict[str, dict[str, np.ndarray]], dict[str, Any]]:
        """``(arrays, meta)`` for :func:`mnist.checkpoint.save_checkpoint`."""
        arrays: dict[str, dict[str, np.ndarray]] = {
            "model": self.model.state_dict(),
            "optim": self.optimizer.state_dict(),
            "rng": {
                "model": ckpt_io.rng_state(self.model_rng),
                "loader": ckpt_io.rng_state(self.loader.rng),
                "augment": ckpt_io.rng_state(self.augmenter.rng),
            },
        }
        if self.scheduler is not None:
            arrays["sched"] = self.scheduler.state_dict()
        if self.best_state is not None:
            arrays["best"] = self.best_state
        meta = {
            "config": self.config.to_dict(),
            "epoch": self.epoch,
            "class_names": self.data.class_names,
            "image_shape": list(self.data.image_shape),
            "norm": {"standardize": self.config.standardize, "mean": self.data.stats.mean, "std": self.data.stats.std},
            "history": self.history,
            "dataset": {"name": self.data.name, "source": self.data.source},
            "early_stopping": {"best_epoch": self.best_epoch, "bad_epochs": self.bad_epochs,
                               "best_val_accuracy": None if self.best_epoch == 0 else self.best_val_accuracy,
                               "stopped": self.stopped_early},
            "finished": self.finished,
            **self.extra_meta,
        }
        return arrays, meta

    def save(self, path: str | Path) -> Path:
        """Write the full training state to ``path`` atomically."""
        arrays, meta = self.state()
        return ckpt_io.save_checkpoint(path, arrays, meta)

    def load_state(self, ckpt: ckpt_io.Checkpoint, *, weights_only: bool = False) -> None:
        """Restore a checkpoint into this trainer (which must have been built with the same config).

        Raises :class:`~mnist.checkpoint.CheckpointError` naming the file on any mismatch.
        """
        ckpt.check_shapes("model", self.model.state_dict())
        try:
            self.model.load_state_dict(ckpt.group("model"))
            if weights_only:
                return
            self.optimizer.load_state_dict(ckpt.group("optim"))
            if self.scheduler is not None:
                self.scheduler.load_state_dict(ckpt.group("sched"))
            rngs = ckpt.group("rng")
            ckpt_io.set_rng_state(self.model_rng, rngs["model"])
            ckpt_io.set_rng_state(self.loader.rng, rngs["loader"])
            ckpt_io.set_rng_state(self.augmenter.rng, rngs["augment"])
        except (KeyError, ValueError, TypeError) as e:
            raise ckpt_io.CheckpointError(f"{ckpt.path}: cannot restore the training state: {e}") from e
        if "best" in ckpt.arrays:
            ckpt.check_shapes("best", self.model.state_dict())
            self.best_state = {k: v.copy() for k, v in ckpt.group("best").items()}
        self.history = copy.deepcopy(ckpt.meta["history"])
        self.epoch = int(ckpt.meta["epoch"])
        es = ckpt.meta.get("early_stopping", {})
        self.best_epoch = int(es.get("best_epoch", 0))
        best = es.get("best_val_accuracy")
        self.best_val_accuracy = -math.inf if best is None else float(best)
        self.bad_epochs = int(es.get("bad_epochs", 0))
        self.stopped_early = bool(es.get("stopped", False))


def model_logits(model: MLP, x: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Logits of ``x`` in eval mode (no dropout), in large batches, without recording a graph."""
    was_training = model.training
    model.eval()
    try:
        with no_grad():
            parts = [model(x[i : i + batch_size]).data for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        return np.zeros((0, model.sizes[-1]), dtype=model.dtype)
    return np.concatenate(parts)


def trainer_from_checkpoint(
    ckpt: ckpt_io.Checkpoint, data: Data | None = None, *, weights_only: bool = False, **kwargs: Any
) -> Trainer:
    """Rebuild a :class:`Trainer` from a checkpoint; loads the data (with the saved normalization)
    unless ``data`` is given. ``kwargs`` go to :class:`Trainer`."""
    config = TrainConfig.from_dict(ckpt.meta["config"])
    if data is None:
        data = load_data(config, stats_from_meta(ckpt.meta))
    check_data_fits(ckpt, data)
    trainer = Trainer(config, data, **kwargs)
    trainer.load_state(ckpt, weights_only=weights_only)
    return trainer


def stats_from_meta(meta: dict[str, Any]) -> Stats:
    norm = meta["norm"]
    return Stats(float(norm["mean"]), float(norm["std"]))


def check_data_fits(ckpt: ckpt_io.Checkpoint, data: Data) -> None:
    """CheckpointError unless ``data`` has the image size and number of classes of the checkpoint."""
    shape = tuple(ckpt.meta["image_shape"])
    classes = ckpt.meta["class_names"]
    if tuple(data.image_shape) != shape or len(data.class_names) != len(classes):
        raise ckpt_io.CheckpointError(
            f"{ckpt.path}: the model was trained on {shape[0]}x{shape[1]} images with {len(classes)} classes, "
            f"but {data.source} has {data.image_shape[0]}x{data.image_shape[1]} images with "
            f"{len(data.class_names)} classes"
        )
