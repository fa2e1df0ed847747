"""Optimizers and learning-rate schedules.

    >>> from tinygrad_np import nn, optim
    >>> model = nn.Linear(3, 1, rng=0)
    >>> opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    >>> sched = optim.StepLR(opt, step_size=10, gamma=0.5)

Per step: ``opt.zero_grad(); loss.backward(); opt.step()``; per epoch: ``sched.step()``.
"""
from .optimizers import SGD, Adagrad, Adam, AdamW, Optimizer, RMSprop
from .schedules import CosineLR, LRScheduler, StepLR

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad", "LRScheduler", "StepLR", "CosineLR"]
