"""Reverse mode as a transformation: ``GradTracer``, a value recorded on a tape of its own level.

``tg.grad(f)(x)`` runs ``f`` on a ``GradTracer`` for ``x`` at a new level. Every op on it records
a node of that level (the engine's own ``Function`` and ``record``) and computes its value with
the same op one level down; the engine's one backward pass (``run_backward``) then walks that
tape. Because the tape belongs to the level, a gradient taken inside ``vmap`` is per example,
``grad(grad(f))`` needs no ``create_graph``, and forward mode over reverse mode works: the VJPs
themselves run on the tracers, so whatever sits below (a ``Dual``, a ``Batched``) carries through
them. Without any transformation around, ``x.backward()`` keeps using the plain Tensor tape.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import modes
from .engine import Function, Tensor, record, run_backward, seeds
from .tracing import Tracer


class GradTracer(Tracer):
    """A value at a reverse-mode level: ``value`` is the same value one level down."""

    __slots__ = ("value",)

    @classmethod
    def wrap(cls, level: int, value: Tensor, requires_grad: bool = False) -> "GradTracer":
        t = cls.new(level, value.shape, value.dtype)
        t.value, t.requires_grad = value, requires_grad
        return t

    def process(self, cls: type[Function], inputs: tuple, params: dict) -> Tensor:
        """Run the op one level down; record it on this level's tape if an input requires grad here."""
        values = [x.value if self.own(x) else x for x in inputs]
        out_value = Tensor.apply(cls, *values, **params)
        if out_value.dtype.kind != "f" or not self.live():  # a constant of this level (a comparison, an
            return out_value  # index), or this level is over: a vjp function running its tape later
        out = GradTracer.wrap(self.level, out_value)
        if modes.state.grad_enabled:
            needs = tuple([self.own(x) and x.requires_grad for x in inputs])
            if True in needs:
                record(cls(inputs, params, needs), out)
        return out

    @property
    def data(self) -> np.ndarray:
        """Reverse mode needs no abstraction: the concrete values one level down."""
        return self.value.data


def lower(x: Any, level: int) -> Any:
    """The value one level below ``level`` of ``x`` (its ``value`` if ``x`` is of that level)."""
    return x.value if isinstance(x, GradTracer) and x.level == level else x


def vjp_at_level(level: int, outputs: Sequence[Tensor], inputs: Sequence[GradTracer], cotangents: Sequence[Any]
                 ) -> list[Tensor]:
    """``Σ_k ∂⟨u_k, y_k⟩/∂x`` for each input, as values one level down: the engine's backward pass
    over this level's tape. An output that does not depend on the inputs contributes nothing; an
    input nothing reaches gets zeros."""
    live = [(y, u) for y, u in zip(outputs, cotangents) if isinstance(y, GradTracer) and y.level == level
            and y.requires_grad]
    grads: list[Any] = [None] * len(inputs)
    if live:
        start = seeds([y for y, _ in live], [u for _, u in live])
        grads = run_backward([y for y, _ in live], start, inputs=list(inputs), retain_graph=True,
                             create_graph=modes.state.grad_enabled)
    out = []
    for x, g in zip(inputs, grads):
        out.append(Tensor._wrap(np.zeros(x.shape, dtype=x.dtype)) if g is None else lower(g, level))
    return out
