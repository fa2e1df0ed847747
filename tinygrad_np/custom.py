"""Custom derivative rules for composite functions: ``custom_vjp``, ``custom_jvp``, ``checkpoint``.

``custom_vjp`` (JAX's API): a function whose reverse mode uses your rule::

    @tg.custom_vjp
    def clip_grad(x):               # the primal: any tinygrad_np code
        return x
    def fwd(x):                     # the primal output and the residuals the rule needs
        return x, None
    def bwd(residuals, g):          # one cotangent per input, written with Tensor ops
        return (g.clip(-1.0, 1.0),)
    clip_grad.defvjp(fwd, bwd)

``custom_jvp``: a function whose forward mode uses your rule, ``rule(primals, tangents) ->
(primal_out, tangent_out)``; its reverse mode is that rule transposed (the rule is linear in the
tangents, so ``Jᵀu = ∇_t ⟨u, J t⟩``), as JAX derives it.

Where the rule is used: a ``custom_vjp`` rule whenever the function is differentiated in
reverse mode (``backward()``, ``tg.grad``/``vjp`` at any depth, inside ``vmap`` too); forward
mode and ``vmap`` of the function itself run the primal's own ops. A ``custom_jvp`` rule in forward
mode and, transposed, in reverse mode; ``vmap`` of the function runs the primal's own ops.
A ``Function`` subclass with its own ``forward``/``vjp``/``jvp`` is the other route (see
``engine.Function``); these decorators are for functions written with Tensor ops.

``checkpoint(fn, *args)``: ``fn(*args)`` whose intermediates are not kept for backward; the
backward pass runs ``fn`` again (its VJP is ``vjp(fn, *args)`` taken then). Memory for time;
``saved_bytes(roots)`` measures the memory side.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Iterable

import numpy as np

from . import modes
from .engine import Function, Tensor, record, run_backward, seeds, topological_order
from .forward_mode import Dual
from .functional import grad, vjp
from .reverse_mode import GradTracer
from .tracing import as_tensor

__all__ = ["custom_vjp", "custom_jvp", "checkpoint", "CustomRule"]


class CustomRule(Function):
    """The node a custom rule records: its VJP calls the rule once per backward step (for all inputs)."""

    rule: Callable[[Tensor], tuple]  # g -> one gradient (or None) per input

    def vjp(self, i, g, y):
        cached = self.__dict__.get("_grads")
        if cached is None or cached[0] is not g:
            grads = self.rule(g)
            grads = tuple(grads) if isinstance(grads, (tuple, list)) else (grads,)
            if len(grads) != len(self.inputs):
                raise RuntimeError(f"{self.name}: the rule returned {len(grads)} gradients for "
                                   f"{len(self.inputs)} inputs")
            cached = self._grads = (g, grads)
        return cached[1][i]

    @property
    def name(self) -> str:
        return f"custom rule of {getattr(self.__dict__.get('function'), '__name__', 'a function')}"


def _reverse_level(xs: list[Tensor]) -> int | None:
    """The reverse-mode level a custom rule records at: the innermost transformation among the
    inputs if it is reverse mode, 0 (the plain tape) without any, None if it is forward mode or vmap."""
    top = max(xs, key=lambda x: x.level)
    if not top.level:
        return 0
    return top.level if isinstance(top, GradTracer) else None


def _below(x: Tensor, level: int) -> Tensor:
    """The value of ``x`` one level below ``level`` (detached at the plain level: no inner graph)."""
    if level == 0:
        return x.detach() if x.requires_grad else x
    return x.value if isinstance(x, GradTracer) and x.level == level else x


def _record_rule(function: Callable, xs: list[Tensor], out: Tensor, level: int, rule: Callable) -> Tensor:
    """``out`` (one level below ``level``) as the output of a CustomRule node over ``xs``."""
    result = GradTracer.wrap(level, out) if level else out.detach()  # a new tensor: the rule's output
    needs = tuple(x.requires_grad and (level == 0 or (isinstance(x, GradTracer) and x.level == level)) for x in xs)
    if modes.state.grad_enabled and True in needs and out.dtype.kind == "f":
        node = CustomRule(tuple(xs), {}, needs)
        node.rule, node.function = rule, function
        record(node, result)
    return result


class custom_vjp:  # noqa: N801 - JAX's name
    """Decorator: a function whose reverse mode uses the rule given with ``defvjp(fwd, bwd)``."""

    def __init__(self, fun: Callable[..., Tensor]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.fwd: Callable | None = None
        self.bwd: Callable | None = None

    def defvjp(self, fwd: Callable[..., tuple[Tensor, Any]], bwd: Callable[[Any, Tensor], tuple]) -> "custom_vjp":
        """``fwd(*args) -> (output, residuals)``; ``bwd(residuals, g) -> one gradient per argument``."""
        self.fwd, self.bwd = fwd, bwd
        return self

    def __call__(self, *args: Any) -> Tensor:
        if self.fwd is None or self.bwd is None:
            raise TypeError(f"custom_vjp {self.fun.__name__}: call defvjp(fwd, bwd) before using it")
        xs = [as_tensor(a) for a in args]
        level = _reverse_level(xs)
        if level is None or not any(x.requires_grad for x in xs) and level == 0:
            return self.fun(*xs)  # forward mode, vmap, or nothing to differentiate: the primal's ops
        out, residuals = self.fwd(*[_below(x, level) for x in xs])
        return _record_rule(self.fun, xs, out, level, functools.partial(self.bwd, residuals))


class custom_jvp:  # noqa: N801 - JAX's name
    """Decorator: a function whose forward mode uses the rule given with ``defjvp(rule)``, and whose
    reverse mode uses that rule transposed."""

    def __init__(self, fun: Callable[..., Tensor]) -> None:
        functools.update_wrapper(self, fun)
        self.fun = fun
        self.rule: Callable | None = None

    def defjvp(self, rule: Callable[[tuple, tuple], tuple[Tensor, Tensor]]) -> Callable:
        """``rule(primals, tangents) -> (primal_out, tangent_out)``, linear in the tangents. Returns
        the rule, so ``defjvp`` works as a decorator."""
        self.rule = rule
        return rule

    def __call__(self, *args: Any) -> Tensor:
        if self.rule is None:
            raise TypeError(f"custom_jvp {self.fun.__name__}: call defjvp(rule) before using it")
        xs = [as_tensor(a) for a in args]
        top = max(xs, key=lambda x: x.level)
        if isinstance(top, Dual):  # forward mode: the rule, on the values one level down
            level = top.level
            primals = tuple(x.primal if isinstance(x, Dual) and x.level == level else x for x in xs)
            tangents = tuple(x.tangent if isinstance(x, Dual) and x.level == level and x.tangent is not None
                             else Tensor._wrap(_zeros(x)) for x in xs)
            out, tangent = self.rule(primals, tangents)
            return Dual.of(level, out, tangent)
        level = _reverse_level(xs)
        if level is None or not any(x.requires_grad for x in xs) and level == 0:
            return self.fun(*xs)
        lows = [_below(x, level) for x in xs]
        out = self.fun(*lows)

        def transposed(g: Tensor) -> tuple:
            """Jᵀg = ∇_t ⟨g, J t⟩ at t = 0 (the rule is linear in t)."""
            zeros = [Tensor._wrap(_zeros(x)) for x in lows]
            return grad(lambda *ts: (self.rule(tuple(lows), ts)[1] * g).sum(), argnums=tuple(range(len(xs))))(*zeros)

        return _record_rule(self.fun, xs, out, level, transposed)


def _zeros(x: Tensor) -> np.ndarray:
    return np.zeros(x.shape, dtype=x.dtype)


def checkpoint(fn: Callable[..., Tensor], *args: Any) -> Tensor:
    """``fn(*args)`` without keeping its intermediates for backward: the backward pass runs ``fn``
    again and takes its VJP then. The same gradients, also of the tensors ``fn`` closes over (a
    layer's weights); the memory of ``fn``'s graph traded for a second forward pass."""
    xs = [as_tensor(a) for a in args]
    level = _reverse_level(xs)
    if level is None:  # forward mode or vmap: nothing is kept for a backward pass anyway
        return fn(*xs)
    if level == 0:
        return _checkpoint_on_the_tape(fn, xs)
    lows = [_below(x, level) for x in xs]
    with modes.no_grad():  # the first run keeps nothing
        out = fn(*lows)

    def recompute(g: Tensor) -> tuple:
        with modes.enable_grad():
            _, vjp_fn = vjp(fn, *lows)
            return vjp_fn(g)

    return _record_rule(fn, xs, out, level, recompute)


def _checkpoint_on_the_tape(fn: Callable[..., Tensor], xs: list[Tensor]) -> Tensor:
    """``checkpoint`` of plain tensors. The first run records only the ops that reach tensors ``fn``
    closes over (its arguments are detached), to find those tensors; its graph is dropped at once.
    The node's inputs are the arguments and those tensors; its VJP runs ``fn`` on the arguments
    again and the engine's backward pass from there (recorded if the outer pass records)."""
    with modes.enable_grad():
        out = fn(*[x.detach() for x in xs])
    if not isinstance(out, Tensor):
        raise TypeError(f"checkpoint: fn must return a Tensor, got {type(out).__name__}")
    if out.level:
        raise ValueError("checkpoint: fn closes over a value that an enclosing transformation (grad, jvp, vmap) "
                         "varies; pass it to checkpoint as an argument")
    seen = {id(x) for x in xs}
    captured: list[Tensor] = []
    for t in topological_order([out]):
        for x in t._ctx.inputs:
            if x._ctx is None and x.requires_grad and id(x) not in seen:
                seen.add(id(x))
                captured.append(x)
    inputs = xs + captured
    value = out.detach()
    del out  # (the first run's graph goes with it)

    def recompute(g: Tensor) -> list:
        higher = modes.state.grad_enabled  # the outer pass records (create_graph): so must this one
        # first order: the second run starts from fresh leaves (its graph ends there); recorded: from
        # the arguments themselves, so that the VJPs recorded depend on them (and the outer graph stays)
        starts = list(xs) if higher else [x.detach().requires_grad_(x.requires_grad) for x in xs]
        with modes.enable_grad():
            again = fn(*starts)
        if not again.requires_grad:
            return [None] * len(inputs)
        return run_backward([again], seeds([again], [g]), inputs=starts + captured, retain_graph=higher,
                            create_graph=higher)

    return _record_rule(fn, inputs, value, 0, recompute)


def saved_bytes(roots: Iterable[Tensor]) -> int:
    """The bytes of the arrays the graph behind ``roots`` keeps for backward (the nodes' inputs and
    outputs; an array and its views counted once): what ``checkpoint`` trades for a second forward."""
    arrays: dict[int, int] = {}
    for t in topological_order(roots):
        for x in (*t._ctx.inputs, t):
            a = x._data
            while a is not None and a.base is not None:
                a = a.base
            if a is not None:
                arrays[id(a)] = a.nbytes
    return sum(arrays.values())
