"""Trace once, replay many: a training step's forward without the modules' Python.

What it buys: the per-op Python of modules (``Sequential``, ``Linear``, input checks), measured by
``python -m benchmarks.epoch_time`` (the "tinygrad_np (traced)" row) and
``python -m benchmarks.dev.ab_versions A B --traced``.

``step = traced_step(fn)`` makes a callable with ``step(*args)`` ≡
``loss = fn(*args); loss.backward(); return loss.detach()``: the same loss and the same ``.grad``
of every parameter, bit for bit (tests compare). Like ``jax.jit`` and tinygrad's ``TinyJit``, it
records what ``fn`` did once per input signature (the arguments' shapes and dtypes) and replays it:

* **Tracing.** ``fn`` runs eagerly, every Tensor argument marked as requiring grad, while
  ``modes.watch_ops`` logs every op it applies (also those that record no node: comparisons,
  argmax, integer casts). The log becomes a *plan*: the ops in order, each with its parameters and
  where each input comes from (an argument, a parameter, a constant, an earlier op).
* **Replaying.** Each op through ``Tensor.apply`` on the new inputs (the same forwards, also the
  fast layer's, and the same nodes as eager), then the engine's one backward pass (``run_backward``).

What a plan cannot see, and how it says so (``TraceError``): values computed inside ``fn``
without tinygrad_np's ops (a dropout mask drawn with NumPy, an array made from an argument's
values) and Python control flow are frozen at trace time, so the second call for a signature
traces again and compares the two plans (a constant that changed raises, naming the op). An index
computed inside ``fn`` from the data (``x[x > 0]``) raises at the trace; so does a write in place
inside ``fn`` (batch norm's running statistics: a replay would not repeat it), a hook on a tensor
of the step, and a tensor computed outside ``fn`` with a graph. Every replay checks each op's
output shape and dtype against the plan's. Parameters are found by identity: a replay reads each
parameter's current values, but a parameter Tensor replaced by another object is not seen (make a
new ``traced_step`` then). Inside ``detect_anomaly()`` a step runs eagerly.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable

import numpy as np

from .. import modes
from ..engine import Tensor, run_backward, seeds
from ..writes import WRITES

#: Plans kept per traced step (one per input signature); the least recently traced goes first.
MAX_PLANS = 64


class TraceError(RuntimeError):
    """``fn`` did something a plan cannot replay (a constant that changes between calls, an op
    whose output shape depends on the data, a hook)."""


class _Plan:
    """A recorded forward: ``ops`` as (op class, input sources, params, output shape and dtype)."""

    __slots__ = ("ops", "root", "aux", "aux_single", "leaves", "leaf_flags", "consts", "signature", "verified")


class TracedStep:
    """``fn``'s forward + backward, traced once per input signature and replayed (see the module
    docstring). ``traces`` counts the eager traces run so far."""

    def __init__(self, fn: Callable[..., Any], has_aux: bool = False) -> None:
        self.fn, self.has_aux = fn, has_aux
        self.traces = 0
        self._plans: dict[Hashable, _Plan] = {}

    def __call__(self, *args: Any) -> Any:
        if not modes.state.grad_enabled:
            raise RuntimeError("traced_step: called inside no_grad (the step computes gradients)")
        if modes.state.anomaly:  # debugging: the eager engine, with its per-op checks
            loss, aux = self._split(self.fn(*args))
            loss.backward()
            return loss.detach() if aux is None else (loss.detach(), _detached(aux))
        key, arrays = _signature(args)
        plan = self._plans.get(key)
        if plan is not None and plan.leaf_flags != tuple([t.requires_grad for t in plan.leaves]):
            plan = None  # a parameter was frozen or unfrozen since: trace anew
        if plan is None or not plan.verified:
            first = plan
            plan = self._trace(args, arrays)
            if first is not None:  # the second call of this signature: both traces must agree
                _compare(first, plan, self.fn)
                plan.verified = True
            self._plans.pop(key, None)
            self._plans[key] = plan  # (re)inserted last: the dict is in order of use
            if len(self._plans) > MAX_PLANS:  # e.g. a float argument that changes every call
                del self._plans[next(iter(self._plans))]
        return _replay(plan, args, arrays)

    def _trace(self, args: tuple[Any, ...], arrays: list[np.ndarray | None]) -> _Plan:
        """Run ``fn`` eagerly (Tensor arguments requiring grad), watching every op it applies
        (``modes.watch_ops``: also comparisons, argmax, casts, which record no node), and turn that
        trace into a plan."""
        self.traces += 1
        traced = [Tensor(a._data, requires_grad=a.dtype.kind == "f") if isinstance(a, Tensor) else a for a in args]
        log: list[tuple] = []
        writes = WRITES.last_in_this_thread()
        watch = modes.watch_ops(lambda cls, inputs, params, out: log.append((cls, inputs, params, out)))
        with modes.enable_grad(), watch:
            root, aux = self._split(self.fn(*traced))
        if WRITES.last_in_this_thread() != writes:
            raise TraceError("traced_step: fn wrote into a tensor in place (copy_, update_, .data =, e.g. batch "
                             "norm's running statistics); a replay would not repeat the write. Call fn eagerly")
        aux_list = [] if aux is None else [aux] if isinstance(aux, Tensor) else list(aux)
        op_index = {id(out): i for i, (_, _, _, out) in enumerate(log)}
        arg_index = {id(t): k for k, t in enumerate(traced) if isinstance(t, Tensor)}
        array_index = {id(a): k for k, a in enumerate(arrays) if a is not None}
        plan = _Plan()
        plan.ops, plan.leaves, plan.consts, plan.signature, plan.verified = [], [], [], [], False

        def source(x: Tensor) -> tuple:
            """Where input ``x`` comes from: ("op", i), ("arg", k), ("leaf", tensor) or ("const", k)."""
            if x._hooks:
                raise TraceError("traced_step: a tensor in the step has a hook (register_hook/retain_grad); "
                                 "a replay would not run it. Call fn eagerly")
            if id(x) in op_index:
                return ("op", op_index[id(x)])
            if id(x) in arg_index:
                return ("arg", arg_index[id(x)])
            k = array_index.get(id(x._data))
            if k is not None:  # a constant Tensor on an argument's array itself (e.g. labels)
                return ("arg", k)
            if x._ctx is not None:
                raise TraceError("traced_step: fn uses a tensor computed outside it with a graph; pass it in as an "
                                 "argument (or detach it)")
            if x.requires_grad:
                if all(t is not x for t in plan.leaves):
                    plan.leaves.append(x)
                return ("leaf", x)
            plan.consts.append(x)
            return ("const", len(plan.consts) - 1)

        made = {id(out._data) for _, _, _, out in log}
        for cls, inputs, params, out in log:
            if any(_made_here(v, made) for v in params.values()):
                raise TraceError(f"traced_step: {cls.__name__} takes an index computed inside fn from the data (e.g. "
                                 "x[x > 0]); a plan would freeze it. Use where(), or call fn eagerly")
            sources = tuple(source(x) for x in inputs)
            plan.ops.append((cls, sources, params, out.shape, out.dtype))
            plan.signature.append((cls, tuple(_describe(s) for s in sources), params, out.shape, out.dtype))
        plan.leaf_flags = tuple([t.requires_grad for t in plan.leaves])
        plan.root = source(root)
        plan.aux = None if aux is None else tuple(source(a) for a in aux_list)
        plan.aux_single = isinstance(aux, Tensor)
        if not root.requires_grad:
            raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
        if root.size != 1:
            raise RuntimeError(f"traced_step: fn must return a scalar loss; got shape {root.shape}")
        return plan

    def _split(self, result: Any) -> tuple[Tensor, Any]:
        """``fn``'s result as (loss, aux): aux is None without ``has_aux``, else a Tensor or a tuple of Tensors."""
        loss, aux = result if self.has_aux and isinstance(result, tuple) and len(result) == 2 else (result, None)
        if self.has_aux and not (isinstance(aux, Tensor) or isinstance(aux, (tuple, list))
                                 and all(isinstance(a, Tensor) for a in aux)):
            raise TypeError("traced_step: with has_aux=True, fn must return (loss, aux) with aux a Tensor "
                            f"or a tuple of Tensors; got {type(result).__name__}")
        if not isinstance(loss, Tensor):
            raise TypeError(f"traced_step: fn must return a Tensor, got {type(loss).__name__}")
        return loss, aux


def traced_step(fn: Callable[..., Any], has_aux: bool = False) -> TracedStep:
    """``step(*args)`` ≡ ``loss = fn(*args); loss.backward(); return loss.detach()``, traced once
    per input signature and replayed (see the module docstring). Arguments: Tensors and ndarrays
    (the data of a step) or hashable values (part of the signature). ``has_aux=True`` (as in JAX):
    ``fn`` returns ``(loss, aux)``, aux a Tensor or a tuple of Tensors computed in ``fn`` (e.g. the
    logits); ``step`` returns ``(loss, aux)``, detached."""
    return TracedStep(fn, has_aux)


def _signature(args: tuple[Any, ...]) -> tuple[Hashable, list[np.ndarray | None]]:
    """What selects a plan (each argument's shape, dtype and requires_grad, or its value), and
    the arguments' arrays (None for a value)."""
    key, arrays = [], []
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            key.append((d.shape, d.dtype, a.requires_grad))
        elif isinstance(a, np.ndarray):
            d = a
            key.append((d.shape, d.dtype, None))
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"traced_step: arguments must be Tensors, ndarrays or hashable values; "
                                f"got {type(a).__name__}") from None
            d = None
            key.append((type(a), a))
        arrays.append(d)
    ids = [id(d) for d in arrays if d is not None]
    if len(set(ids)) < len(ids):  # one array passed twice: the plan's wiring depends on which
        key.append(tuple(ids.index(i) for i in ids))
    return tuple(key), arrays


def _replay(plan: _Plan, args: tuple[Any, ...], arrays: list[np.ndarray | None]) -> Any:
    """Run a plan on ``args``: each op through ``Tensor.apply`` (as eager: the same forwards, the
    same nodes), then the engine's ``run_backward``."""
    given = [a if isinstance(a, Tensor) else None if d is None else Tensor(d) for a, d in zip(args, arrays)]
    values: list[Tensor] = []

    def resolve(src: tuple) -> Tensor:
        kind, where = src
        return values[where] if kind == "op" else given[where] if kind == "arg" else where if kind == "leaf" \
            else plan.consts[where]

    for i, (cls, sources, params, shape, dtype) in enumerate(plan.ops):
        out = Tensor.apply(cls, *[resolve(s) for s in sources], **params)
        if out.shape != shape or out.dtype != dtype:
            raise TraceError(f"traced_step: op {i} ({cls.__name__}) returned shape {out.shape} {out.dtype}, "
                             f"but {shape} {dtype} when traced: its output shape depends on the data, which a "
                             "plan cannot replay; call fn eagerly")
        values.append(out)
    loss = resolve(plan.root)
    if not loss.requires_grad:  # (the trace marked the arguments as requiring grad; these do not)
        raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
    run_backward([loss], seeds([loss], None))
    if plan.aux is None:
        return loss.detach()
    aux = tuple(resolve(s).detach() for s in plan.aux)
    return loss.detach(), aux[0] if plan.aux_single else aux


def _made_here(value: Any, made: set[int]) -> bool:
    """Is ``value`` (an op parameter: an array, or a tuple of them, e.g. an index) the values of a
    tensor an op of the trace made?"""
    if isinstance(value, tuple):
        return any(_made_here(v, made) for v in value)
    return isinstance(value, np.ndarray) and (id(value) in made or id(value.base) in made)


def _describe(src: tuple) -> tuple:
    """A source, comparable between two traces (a leaf by identity)."""
    return ("leaf", id(src[1])) if src[0] == "leaf" else src


def _detached(aux: Any) -> Any:
    return aux.detach() if isinstance(aux, Tensor) else tuple(a.detach() for a in aux)


def _compare(first: _Plan, second: _Plan, fn: Callable) -> None:
    """Raise TraceError unless two traces of ``fn`` for the same signature recorded the same ops,
    wired the same way, with equal parameters and constants."""
    name = getattr(fn, "__qualname__", repr(fn))
    hint = ("a value computed inside fn without tinygrad_np ops (a random mask drawn with NumPy, an array "
            "made from the arguments' values, Python control flow on the data) is frozen in a plan; "
            "pass it in as an argument, or call fn eagerly")
    if len(first.signature) != len(second.signature):
        raise TraceError(f"traced_step: {name} recorded {len(first.signature)} ops, then "
                         f"{len(second.signature)} for the same input shapes; {hint}")
    for i, (a, b) in enumerate(zip(first.signature, second.signature)):
        if a[:2] != b[:2] or a[3:] != b[3:] or not _same(a[2], b[2]):
            raise TraceError(f"traced_step: {name}'s op {i} ({b[0].__name__}) changed between two calls "
                             f"with the same input shapes (its inputs or parameters); {hint}")
    if [_describe(s) for s in first.aux or ()] != [_describe(s) for s in second.aux or ()]:
        raise TraceError(f"traced_step: {name} returned other aux tensors in two calls with the same input "
                         f"shapes; {hint}")
    for k, (a, b) in enumerate(zip(first.consts, second.consts)):
        if not _same(a, b):
            where = next(i for i, sig in enumerate(second.signature) if ("const", k) in sig[1])
            raise TraceError(f"traced_step: {name}'s op {where} ({second.signature[where][0].__name__}) has a "
                             f"constant input of shape {b.shape} that changed between two calls; {hint}")


def _same(a: Any, b: Any) -> bool:
    """Equal values: arrays by shape, dtype and contents (NaN equal to NaN), containers elementwise."""
    if isinstance(a, Tensor) and isinstance(b, Tensor):
        a, b = a.data, b.data
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.asarray(a), np.asarray(b)
        return (a.shape == b.shape and a.dtype == b.dtype
                and bool(np.array_equal(a, b, equal_nan=a.dtype.kind in "fc")))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, (tuple, list)) and isinstance(b, (tuple, list)):
        return type(a) is type(b) and len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    return type(a) is type(b) and a == b
