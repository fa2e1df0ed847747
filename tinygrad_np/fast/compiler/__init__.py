"""``tg.compile``: a training step's forward, backward and optimizer update as one compiled plan.

``step = tg.compile(loss_fn, optimizer=opt)`` makes a callable with ``step(*args)`` ≡
``opt.zero_grad(); loss = loss_fn(*args); loss.backward(); opt.step(); return loss.detach()``:
the same loss and the same updated parameters, bit for bit. (see the package's modules.)
"""
from __future__ import annotations

from typing import Any, Callable

from ...optim.optimizers import Optimizer
from .step import CompiledStep


def compile(loss_fn: Callable[..., Any], optimizer: Optimizer | None = None, *, has_aux: bool = False,
            keep_grads: bool = False, gemm_accumulate: bool = False) -> CompiledStep:
    """Compile ``loss_fn``'s training step (see the package docstring)."""
    return CompiledStep(loss_fn, optimizer, has_aux=has_aux, keep_grads=keep_grads, gemm_accumulate=gemm_accumulate)
