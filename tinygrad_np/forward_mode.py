"""Forward mode as a transformation: ``Dual``, a primal value and its tangent, carried op by op.

``tg.jvp(f, x, t)`` runs ``f`` on a ``Dual`` (x, t) at a new level. Each op computes its primal
output one level down and the output's tangent from the op's JVP rules,
``ẏ = Σᵢ jvp(i, ṫᵢ, y)`` (the tangent of input i times ∂y/∂xᵢ), themselves written with Tensor
ops: so the tangent is differentiable too (reverse over forward), and rules run on whatever
sits below (forward over forward, forward inside vmap). One forward pass computes J·t, at about
twice the cost of the function.

An op without a ``jvp`` rule (a user ``Function`` may have only a VJP) still works: its JVP is
computed from its VJP by transposition, ``J t = ∂/∂u ⟨vjp(u), t⟩`` (the VJP is linear in ``u``),
with a reverse pass at a level of its own; slower, and noted in the docs. JAX and PyTorch refuse
such ops in forward mode.
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .engine import Function, Tensor, unbroadcast
from .reverse_mode import GradTracer, vjp_at_level
from .tracing import Tracer, new_level


class Dual(Tracer):
    """A value at a forward-mode level: ``primal`` and ``tangent`` (None: zero) one level down."""

    __slots__ = ("primal", "tangent")

    @classmethod
    def of(cls, level: int, primal: Tensor, tangent: Tensor | None) -> "Dual":
        t = cls.new(level, primal.shape, primal.dtype)
        t.primal, t.tangent = primal, tangent
        return t

    def process(self, cls: type[Function], inputs: tuple, params: dict) -> Tensor:
        """The primal output one level down, and its tangent from the op's JVP rules."""
        primals = [x.primal if self.own(x) else x for x in inputs]
        y = Tensor.apply(cls, *primals, **params)
        if y.dtype.kind != "f" or not self.live():  # a comparison, an index: no tangent; or jvp is over
            return y
        node = cls(tuple(primals), params, ())  # the rules' ctx: the primal inputs and the parameters
        rule = jvp_rule(cls)
        tangent = None
        for i, x in enumerate(inputs):
            if self.own(x) and x.tangent is not None:
                part = rule(node, i, x.tangent, y)
                if part is not None:
                    part = conform_tangent(node, i, part, primals[i], y)
                    tangent = part if tangent is None else tangent + part
        return Dual.of(self.level, y, tangent)

    @property
    def data(self):
        """Forward mode needs no abstraction: the primal's concrete values."""
        return self.primal.data


def conform_tangent(node: Function, i: int, t: Any, x: Tensor, y: Tensor) -> Tensor:
    """Input ``i``'s share of the tangent in the output's shape and dtype: broadcast where the op
    broadcast the input (the dual of the engine's un-broadcast), cast where it promoted the
    input's dtype to the output's. Anything else is a wrong JVP rule, and raises naming the op."""
    if not isinstance(t, Tensor) or (t.shape != y.shape and not _broadcasts(t.shape, y.shape)) \
            or (t.dtype != y.dtype and t.dtype != x.dtype):
        raise RuntimeError(f"{node.name}'s JVP for input {i} returned {type(t).__name__} of shape "
                           f"{getattr(t, 'shape', '?')} and dtype {getattr(t, 'dtype', '?')} for an output "
                           f"of shape {y.shape} and dtype {y.dtype} (input dtype {x.dtype})")
    if t.shape != y.shape:
        t = t.expand(y.shape)
    return t if t.dtype == y.dtype else t.astype(y.dtype)


def _broadcasts(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    return len(shape) <= len(target) and all(n == m or n == 1 for n, m in zip(shape[::-1], target[::-1]))


def jvp_rule(cls: type[Function]) -> Callable[..., Tensor | None]:
    """The op's JVP rule, or the one transposed from its VJP (``transposed_vjp``)."""
    rule = getattr(cls, "jvp", None)
    return rule if rule is not None else transposed_vjp


def transposed_vjp(node: Function, i: int, t: Tensor, y: Tensor) -> Tensor:
    """Input i's JVP from the op's VJP: ``vjp_i(u)`` is linear in the cotangent ``u``, so
    ``J t = ∂/∂u ⟨vjp_i(u), t⟩`` at any ``u`` (here 0), a reverse pass over the VJP itself."""
    with new_level() as level:
        u = GradTracer.wrap(level, Tensor._wrap(np.zeros(y.shape, dtype=y.dtype)), requires_grad=True)
        v = type(node).vjp(node, i, u, y)
        if v.shape != t.shape:  # a VJP may return the broadcast shape: as the engine does, sum it back
            v = unbroadcast(v, t.shape)
        (jt,) = vjp_at_level(level, [(v * t.astype(v.dtype)).sum()], [u], [None])
    return jt
