"""Learning-rate schedules, stepped once per epoch.

A schedule reads the optimizer's ``lr`` at construction as the base rate η₀, sets the
epoch-0 rate right away, and on each ``step()`` (call it at the end of every epoch) moves
to the next epoch and writes ``optimizer.lr``. Rates are closed-form functions of the epoch
(``lr_at(e)``), so resuming from ``state_dict()`` gives exactly the same sequence::

    opt = SGD(model.parameters(), lr=0.1)
    sched = CosineLR(opt, t_max=20, warmup_epochs=2)
    for epoch in range(22):
        train_one_epoch(model, opt)      # uses opt.lr == sched.get_lr()
        sched.step()
"""
from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from ..nn.module import check_state_keys, raise_key_error
from .optimizers import Optimizer

__all__ = ["LRScheduler", "StepLR", "CosineLR"]


class LRScheduler:
    """Base class: subclasses implement ``lr_at(epoch)``."""

    def __init__(self, optimizer: Optimizer) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__}: expected an Optimizer, got {type(optimizer).__name__}")
        self.optimizer = optimizer
        self.base_lr: float = float(optimizer.lr)
        self.last_epoch: int = 0
        self.optimizer.lr = self.get_lr()

    def lr_at(self, epoch: int) -> float:
        raise NotImplementedError  # pragma: no cover

    def get_lr(self) -> float:
        """The learning rate of the current epoch ``last_epoch``."""
        return float(self.lr_at(self.last_epoch))

    def step(self) -> float:
        """Advance one epoch, set ``optimizer.lr`` and return it."""
        self.last_epoch += 1
        lr = self.get_lr()
        self.optimizer.lr = lr
        return lr

    def state_dict(self) -> dict[str, np.ndarray]:
        """``{"last_epoch": int64 0-d, "base_lr": float64 0-d}`` (flat ndarrays, ``.npz``-able)."""
        return {"last_epoch": np.asarray(self.last_epoch, dtype=np.int64),
                "base_lr": np.asarray(self.base_lr, dtype=np.float64)}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore the epoch counter and base rate, and set ``optimizer.lr`` accordingly."""
        missing, unexpected = check_state_keys(["last_epoch", "base_lr"], state)
        raise_key_error(type(self).__name__, missing, unexpected)
        self.last_epoch = int(state["last_epoch"])
        self.base_lr = float(state["base_lr"])
        self.optimizer.lr = self.get_lr()

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_lr={self.base_lr}, last_epoch={self.last_epoch})"


class StepLR(LRScheduler):
    """η_e = η₀ · γ^⌊e / step_size⌋  (decay by ``gamma`` every ``step_size`` epochs)."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1) -> None:
        if int(step_size) < 1:
            raise ValueError(f"StepLR: step_size must be >= 1, got {step_size}")
        if gamma < 0:
            raise ValueError(f"StepLR: gamma must be >= 0, got {gamma}")
        self.step_size, self.gamma = int(step_size), float(gamma)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        return self.base_lr * self.gamma ** (epoch // self.step_size)


class CosineLR(LRScheduler):
    """Cosine annealing from η₀ to ``eta_min`` over ``t_max`` epochs, after an optional linear warmup.

    With W = ``warmup_epochs``::

        η_e = η₀ · (e + 1) / (W + 1)                                   e < W   (linear ramp up)
        η_e = η_min + (η₀ - η_min) · (1 + cos(π · min(e - W, t_max) / t_max)) / 2     e ≥ W

    so η_W = η₀ and η_(W + t_max) = η_min, which is kept afterwards (no restart). Without
    warmup this is PyTorch's ``CosineAnnealingLR`` for e ≤ t_max.
    """

    def __init__(self, optimizer: Optimizer, t_max: int, eta_min: float = 0.0, warmup_epochs: int = 0) -> None:
        if int(t_max) < 1:
            raise ValueError(f"CosineLR: t_max must be >= 1, got {t_max}")
        if int(warmup_epochs) < 0:
            raise ValueError(f"CosineLR: warmup_epochs must be >= 0, got {warmup_epochs}")
        self.t_max, self.eta_min, self.warmup_epochs = int(t_max), float(eta_min), int(warmup_epochs)
        super().__init__(optimizer)

    def lr_at(self, epoch: int) -> float:
        w = self.warmup_epochs
        if epoch < w:
            return self.base_lr * (epoch + 1) / (w + 1)
        t = min(epoch - w, self.t_max)
        return self.eta_min + (self.base_lr - self.eta_min) * (1.0 + math.cos(math.pi * t / self.t_max)) / 2.0
