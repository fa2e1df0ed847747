"""``grad``: gradients of outputs with respect to chosen inputs, as ``torch.autograd.grad``.

It runs the engine's one backward pass (``engine.run_backward``) with ``inputs`` given, so
``.grad`` is left alone and the gradients come back as Tensors.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .batching import vmap
from .engine import Tensor, run_backward, seeds


def grad(
    outputs: Tensor | Sequence[Tensor],
    inputs: Tensor | Sequence[Tensor],
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
    is_grads_batched: bool = False,
) -> tuple[Tensor, ...]:
    """The gradients of ``outputs`` with respect to ``inputs``, leaving ``.grad`` alone.

    ``grad_outputs`` are the upstream gradients (the ``v`` of the VJP ``vᵀJ``), one per output
    (None: 1 for a one-element output). An input that does not influence the outputs raises
    unless ``allow_unused``, when its gradient is a zero tensor. ``create_graph=True`` records
    the backward pass, so the results can be differentiated again.

    ``is_grads_batched=True`` (PyTorch's name): the first axis of every ``grad_outputs`` entry is a
    batch of cotangents, all run through one backward pass (``vmap`` over the VJP rules); the
    results have that batch axis first. Rows of a Jacobian, for instance, in one pass."""
    outs = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    ins = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    if not outs or not ins:
        raise ValueError("grad: need at least one output and one input")
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    if any(not x.requires_grad for x in ins):
        raise RuntimeError("grad: an input does not require grad")
    if is_grads_batched:
        if grad_outputs is None:
            raise ValueError("grad: is_grads_batched=True needs grad_outputs (a batch of cotangents per output)")
        cts = [u if isinstance(u, Tensor) else Tensor(np.asarray(u, dtype=y.dtype)) for u, y in zip(grad_outputs, outs)]
        one = lambda *us: grad(outs, ins, list(us), retain_graph=True, create_graph=create_graph,  # noqa: E731
                               allow_unused=allow_unused)
        return tuple(vmap(one)(*cts))  # (the graph is kept: every cotangent of the batch walks it)
    start = seeds(outs, grad_outputs)
    live = [k for k, y in enumerate(outs) if y.requires_grad]
    results = run_backward([outs[k] for k in live], [start[k] for k in live], inputs=ins,
                           retain_graph=create_graph if retain_graph is None else retain_graph,
                           create_graph=create_graph)
    final = []
    for x, g in zip(ins, results):
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: an input is not used to compute the outputs (pass allow_unused=True)")
            g = Tensor._wrap(np.zeros(x.shape, dtype=x.dtype))
        final.append(g)
    return tuple(final)
