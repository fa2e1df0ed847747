"""``tg.compile``: a training step's forward, backward and optimizer update as one compiled plan.

``step = tg.compile(loss_fn, optimizer=opt)`` makes a callable with ``step(*args)`` ≡
``opt.zero_grad(); loss = loss_fn(*args); loss.backward(); opt.step(); return loss.detach()``:
the same loss and the same updated parameters (and optimizer state), bit for bit. Like
``jax.jit`` and ``torch.compile`` it works per input signature (each array argument's shape, dtype
and strides, each other argument's value): the first call of a signature traces the step into a
program, plans it and runs it, the second traces again to check that the function did the same
thing, and later calls replay the plan. ``print(step.plan)`` shows the program as a listing
(``docs/compile.md`` walks through the MNIST MLP's).

What a replay does differently from the eager step, and what each piece buys (measured by
``python -m benchmarks.epoch_time``, the "tinygrad_np (compiled)" rows, and
``python -m benchmarks.dev.compile_study``; numbers in ``benchmarks/README.md``):

* ``trace``     the step as one program of registry ops: the forward, then the engine's own backward
  (``engine.run_backward``) recorded op by op. No Python of modules, ``Tensor.apply`` or
  backward at replay.
* ``fusions``   softmax cross-entropy's forward and VJP sharing their passes (the softmax kept, the
  one-hot subtracted at the labels).
* ``plan``      a liveness pass: every value a preallocated buffer, reused when lifetimes do not
  overlap, written in place where an elementwise op's input dies; a replay allocates nothing but
  the returned loss.
* ``kernels``   every equation as NumPy calls with ``out=``, prebound (``functools.partial``); no
  broadcasting or casting buffers inside NumPy.
* ``update``    SGD (momentum, dampening, Nesterov, weight decay), Adam and AdamW in place on the
  parameter arrays, reading gradients from the plan's buffers; ``.grad`` is not materialised
  unless ``keep_grads=True``. Other optimizers run their own ``step()`` on handed-over gradients.
* ``blas``      ``gemm_accumulate=True`` (plain SGD): the weight-gradient GEMM accumulates straight
  into the weights, ``W += -lr·AᵀG`` (BLAS ``beta = 1``). A change of rounding order, so opt-in,
  with a stated error bound.

Options: ``has_aux=True`` (``loss_fn`` returns ``(loss, aux)``; the step returns them, detached);
``keep_grads=True`` (each parameter's ``.grad`` as after ``backward()``); ``optimizer=None`` (no
update: the step is ``loss.backward()``, gradients accumulating into ``.grad``). Leaves that require
grad but are not the optimizer's are found while tracing; their ``.grad`` is computed only with
``keep_grads`` (then it accumulates, as after ``backward()``).

What cannot be compiled raises ``TraceError`` naming the reason: Python control flow on values
(``bool()``/``.item()`` of a value inside the step; decisions taken with NumPy on ``.numpy()`` show
as a second trace that differs), constants computed with NumPy that change between calls, an op
whose output shape depends on the data (a boolean mask), NumPy views of traced values, hooks,
gradient watchers and anomaly mode. With the fast layer switched off (``tg.fast.disabled()``) the
step runs eagerly, with the same results.
"""
from __future__ import annotations

from typing import Any, Callable

from ...optim.optimizers import Optimizer
from .step import CompiledStep, PlanView

__all__ = ["compile", "CompiledStep", "PlanView"]


def compile(loss_fn: Callable[..., Any], optimizer: Optimizer | None = None, *, has_aux: bool = False,
            keep_grads: bool = False, gemm_accumulate: bool = False) -> CompiledStep:
    """``loss_fn``'s training step, compiled: ``step(*args)`` runs its forward, backward and
    ``optimizer``'s update and returns the loss (``(loss, aux)`` with ``has_aux``), bit for bit
    as eager (see the package docstring). Arguments of ``step``: Tensors (not requiring grad) and
    ndarrays (the data of a step) or hashable values (part of the signature).

    ``gemm_accumulate=True`` (plain SGD only) folds the update into the weight-gradient GEMMs:
    faster, but rounded differently (``blas.py`` states the bound), and the weight gradients are
    never formed, so it excludes ``keep_grads``."""
    if gemm_accumulate and keep_grads:
        raise ValueError("compile: gemm_accumulate=True never forms the weight gradients, so keep_grads=True "
                         "cannot be honoured; choose one")
    return CompiledStep(loss_fn, optimizer, has_aux=has_aux, keep_grads=keep_grads, gemm_accumulate=gemm_accumulate)
