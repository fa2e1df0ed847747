"""Trace once, replay many: a training step's forward and backward without the per-op bookkeeping.

``step = traced_step(fn)`` makes a callable with ``step(*args)`` ≡
``loss = fn(*args); loss.backward(); return loss.detach()``: the same loss and the same ``.grad``
of every parameter, bit for bit (a test compares). Like ``jax.jit`` and tinygrad's ``TinyJit``,
it records what ``fn`` did once per input signature (the shapes and dtypes of the arguments)
and replays it:

* **Tracing.** ``fn`` runs eagerly on the arguments, every Tensor argument marked as requiring
  grad so that every op that depends on one is recorded, and its graph becomes a *plan*: the ops
  in order, each with its parameters and where each input comes from (an argument, a parameter,
  a constant, an earlier op's output), and the backward order with each gradient's destination.
* **Replaying.** Each op's own ``forward`` on the new arrays, then each op's own VJP on plain
  ndarrays, in the order the engine's topological sort gave; gradients are routed through the
  plan's slots, un-broadcast and cast back by the engine's own ``conform`` and added into the
  leaves' ``.grad`` by its ``accumulate_grad``. What a replay skips is the per-op Python: no
  Tensor per op, no modules, no graph, no topological sort.
* **Handing over.** A plan's first run also notes which VJP results are fresh arrays; an op whose
  upstream gradient is exactly one of them (not a sum, not shared) is told so at every replay
  (``Function.g_owned``), and may write into it: ReLU masks it in place (tanh and sigmoid write
  their products into it too). Same values, less memory traffic.

What a plan cannot see: Python control flow, and values computed inside ``fn`` without
tinygrad_np's ops (a dropout mask drawn with NumPy, labels converted with ``astype``, a tensor
made from an argument's values) are frozen at trace time. So the second call for a signature
traces again and compares the two plans; a constant that changed raises ``TraceError`` naming
the op (pass such values in as arguments, or call ``fn`` eagerly). Every replay checks each op's
output shape and dtype against the plan's. Parameters are found by identity: a replay reads
each parameter's current ``.data`` (so in-place updates and new arrays are both seen), but a
parameter Tensor replaced by another object is not; make a new ``traced_step`` then. Side effects
of ``fn`` happen at the traces only. The loss must be a scalar; replays are first-order (use the
eager engine for ``create_graph=True``); inside ``detect_anomaly()`` a step runs eagerly.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Sequence

import numpy as np

from . import autograd
from .autograd import OPS, _sum, _vjps, accumulate_grad, conform, topological_order
from .tensor import Tensor


#: Plans kept per traced step (one per input signature); the least recently traced goes first.
MAX_PLANS = 64


class TraceError(RuntimeError):
    """``fn`` did something a plan cannot replay (a constant that changes between calls, an op
    whose output shape depends on the data)."""


class _Plan:
    """A recorded forward + backward (see the module docstring)."""

    __slots__ = ("ops", "backward", "arg_holders", "holders", "leaves", "leaf_flags", "root", "root_dest",
                 "root_index", "aux", "aux_desc", "signature", "consts", "verified")


class TracedStep:
    """``fn``'s forward + backward, traced once per input signature and replayed (see the module
    docstring). ``traces`` counts the eager traces run so far."""

    def __init__(self, fn: Callable[..., Any], has_aux: bool = False) -> None:
        self.fn, self.has_aux = fn, has_aux
        self.traces = 0
        self._plans: dict[Hashable, _Plan] = {}

    def __call__(self, *args: Any) -> Any:
        if not autograd._grad_enabled:
            raise RuntimeError("traced_step: called inside no_grad (the step computes gradients)")
        if autograd._anomaly_enabled:  # debugging: the eager engine, with its per-op checks
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
            return _replay(plan, args, arrays, fresh=[])  # this first run also finds the owned gradients
        return _replay(plan, args, arrays)

    def _trace(self, args: tuple[Any, ...], arrays: list[np.ndarray | None]) -> _Plan:
        """Run ``fn`` eagerly (Tensor arguments requiring grad) and turn its graph into a plan;
        ``arrays``: the arguments' arrays (from ``_signature``)."""
        self.traces += 1
        traced = [Tensor._from_op(a.data, None) if isinstance(a, Tensor) else a for a in args]
        for t in traced:
            if isinstance(t, Tensor):
                t.requires_grad = True
        with autograd.enable_grad():
            root, aux = self._split(self.fn(*traced))
        aux_list = [] if aux is None else [aux] if isinstance(aux, Tensor) else list(aux)
        nodes = topological_order([root, *aux_list])[::-1]  # producers first: the forward order
        node_index = {id(t): i for i, t in enumerate(nodes)}
        arg_index = {id(t): k for k, t in enumerate(traced) if isinstance(t, Tensor)}
        array_index = {id(a): k for k, a in enumerate(arrays) if a is not None}
        arg_requires = [isinstance(a, Tensor) and a.requires_grad for a in args]

        plan = _Plan()
        plan.arg_holders = [None if a is None else Tensor._from_op(None, None) for a in arrays]
        outs = [Tensor._from_op(None, None) for _ in nodes]
        plan.holders = [h for h in plan.arg_holders if h is not None] + outs
        plan.leaves, plan.consts, plan.signature, plan.ops, plan.verified = [], [], [], [], False
        requires = [False] * len(nodes)
        seen_leaves: dict[int, Tensor] = {}

        def source(x: Tensor) -> tuple[Tensor, tuple, bool, Any]:
            """Where input ``x`` comes from: (the Tensor a replay reads, a description for the
            comparison of two traces, whether it requires grad, its gradient's destination)."""
            if x._ctx is not None:
                i = node_index[id(x)]
                return outs[i], ("op", i), requires[i], i
            if id(x) in arg_index:
                k = arg_index[id(x)]
                return plan.arg_holders[k], ("arg", k), arg_requires[k], -(k + 1)
            if id(x.data) in array_index:  # a constant Tensor on an argument's array
                k = array_index[id(x.data)]
                return plan.arg_holders[k], ("arg", k), False, None
            if id(x) not in seen_leaves:
                seen_leaves[id(x)] = x
                plan.leaves.append(x)
            if x.requires_grad:
                return x, ("parameter", id(x)), True, x
            plan.consts.append(x.data)
            return x, ("constant", len(plan.consts) - 1), False, None

        backward = []
        for i, t in enumerate(nodes):
            fn = t._ctx
            sources = [source(x) for x in fn.inputs]
            needs = tuple([s[2] for s in sources])
            requires[i] = True in needs
            params = dict(fn.params)
            arg_params = tuple((name, array_index[id(v)]) for name, v in params.items()
                               if isinstance(v, np.ndarray) and id(v) in array_index)
            for name, _ in arg_params:
                params[name] = None  # filled in from the arguments at every call
            plan.ops.append((type(fn), tuple(s[0] for s in sources), needs, params, arg_params, outs[i],
                             t.shape, t.dtype, requires[i]))
            plan.signature.append((type(fn), tuple(s[1] for s in sources), arg_params, params, t.shape, t.dtype))
            if requires[i]:
                edges = tuple((k, s[0], s[3], None) if type(s[3]) is int else (k, s[0], -1, s[3])
                              for k, s in enumerate(sources) if s[2])
                backward.append((i, outs[i], t.dtype, edges, False))
        plan.backward = backward[::-1]  # consumers first: the engine's order
        plan.leaf_flags = tuple([t.requires_grad for t in plan.leaves])
        holder, _, root_requires, plan.root_dest = source(root)
        plan.root = holder
        aux_sources = [source(a) for a in aux_list]
        plan.aux_desc = tuple(a[1] for a in aux_sources)
        plan.aux = None if aux is None else aux_sources[0][0] if isinstance(aux, Tensor) else tuple(
            a[0] for a in aux_sources)
        plan.root_index = plan.root_dest if type(plan.root_dest) is int and plan.root_dest >= 0 else -1
        if not root_requires:
            raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
        if root.data.size != 1:
            raise RuntimeError(f"traced_step: fn must return a scalar loss; got shape {root.shape}")
        return plan

    def _split(self, result: Any) -> tuple[Tensor, Any]:
        """``fn``'s result as (loss, aux): aux is None without ``has_aux``, else a Tensor or a
        tuple of Tensors."""
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
    per input signature and replayed without per-op bookkeeping (see the module docstring).
    Arguments: Tensors and ndarrays (the data of a step) or hashable values (part of the signature).
    ``has_aux=True`` (as in JAX): ``fn`` returns ``(loss, aux)``, aux a Tensor or a tuple of Tensors
    computed in ``fn`` (e.g. the logits); ``step`` returns ``(loss, aux)``, detached."""
    return TracedStep(fn, has_aux)


def _signature(args: tuple[Any, ...]) -> tuple[Hashable, list[np.ndarray | None]]:
    """What selects a plan (each argument's shape, dtype and requires_grad, or its value), and
    the arguments' arrays (None for a value)."""
    key, arrays = [], []
    for a in args:
        if isinstance(a, Tensor):
            d = a.data
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


def _replay(plan: _Plan, args: tuple[Any, ...], arrays: list[np.ndarray | None],
            fresh: list[tuple[int, bool]] | None = None) -> Tensor:
    """Run a plan on ``args`` (``arrays``: their arrays): the forward, then the loss's backward into
    the leaves' ``.grad``, with graph recording off (the VJPs run on ndarrays, as in a plain ``backward()``).
    ``fresh``: a list to analyse the plan's gradients into (see ``_mark_owned``)."""
    for h, a in zip(plan.arg_holders, arrays):
        if h is not None:
            h.data = a
    saved_mode, autograd._grad_enabled = autograd._grad_enabled, False
    try:
        fns = _forward(plan, arrays)
        value = plan.root.data
        aux = None if plan.aux is None else _detached(plan.aux)
        _backward(plan, fns, args, np.array(1, dtype=value.dtype).reshape(value.shape), fresh)
        if fresh is not None:
            _mark_owned(plan, fresh)
    finally:
        autograd._grad_enabled = saved_mode
        for h in plan.holders:  # hold no arrays between calls
            h.data = None
    loss = Tensor._from_op(value, None)
    return loss if plan.aux is None else (loss, aux)


def _detached(aux: Any) -> Any:
    """The current values of a plan's aux Tensor(s), as Tensors without graph (like ``detach()``)."""
    if isinstance(aux, Tensor):
        return Tensor._from_op(aux.data, None)
    return tuple(Tensor._from_op(a.data, None) for a in aux)


def _forward(plan: _Plan, arrays: list[np.ndarray | None]) -> list[Any]:
    """Each op's own forward on the current arrays; the op objects, for the backward."""
    fns = []
    for i, (cls, inputs, needs, params, arg_params, out, shape, dtype, in_backward) in enumerate(plan.ops):
        fn = cls()
        if arg_params:
            params = dict(params)
            for name, k in arg_params:
                params[name] = arrays[k]
        y = fn.forward(*[x.data for x in inputs], **params)
        if type(y) is not np.ndarray:  # NumPy reductions return scalars
            y = np.asarray(y)
        if y.shape != shape or y.dtype is not dtype and y.dtype != dtype:
            raise TraceError(f"traced_step: op {i} ({fn.name}) returned shape {y.shape} {y.dtype}, "
                             f"but {shape} {dtype} when traced: its output shape depends on the "
                             "data, which a plan cannot replay; call fn eagerly")
        out.data = y
        if in_backward:  # what its VJP reads (as Tensor.apply would set)
            fn.inputs, fn.needs_input_grad = inputs, needs
            fns.append(fn)
        else:
            fns.append(None)
    return fns


def _backward(plan: _Plan, fns: list[Any], args: tuple[Any, ...], seed: np.ndarray,
              fresh: list[tuple[int, bool]] | None = None) -> None:
    """The engine's backward pass over the plan's recorded order (see ``autograd.run_backward``):
    a gradient for an op's output is summed in ``grads``, a leaf's goes into its ``.grad``. An op
    whose upstream gradient nobody else holds is told so (``Function.g_owned``)."""
    grads: list[Any] = [None] * len(fns)
    if plan.root_index >= 0:
        grads[plan.root_index] = seed
    wrap = Tensor._from_op
    for i, out, out_dtype, edges, owned in plan.backward:
        g = grads[i]
        if g is None:
            continue
        fn = fns[i]
        grads[i] = fns[i] = None  # the op's saved buffers go once its VJP has run
        if owned:
            fn.g_owned = True
        in_grads = fn.backward(g, out.data) if fn.vjp_on_arrays else _vjps(fn, g, out, True)
        for k, x, slot, leaf in edges:
            gx = in_grads[k]
            if gx is None:
                continue
            if type(gx) is not np.ndarray:  # NumPy makes 0-d results scalars
                gx = np.asarray(gx)
            xd = x.data
            if gx.shape != xd.shape or gx.dtype is not xd.dtype and gx.dtype != xd.dtype:
                gx = conform(fn, x, gx, out_dtype, False)
            if fresh is not None:
                fresh.append((slot, _is_fresh(gx, k, fn, g, in_grads, out)))
            if slot >= 0:
                grads[slot] = gx if grads[slot] is None else _sum(grads[slot], gx)
            else:  # a parameter, or Tensor argument -slot - 1
                accumulate_grad(leaf if leaf is not None else args[-slot - 1], gx, wrap)
    if plan.root_index < 0:  # fn returned a leaf itself
        dest = plan.root_dest
        accumulate_grad(dest if type(dest) is not int else args[-dest - 1], seed, wrap)


def _is_fresh(gx: np.ndarray, k: int, fn: Any, g: Any, in_grads: Sequence[Any], out: Tensor) -> bool:
    """Is VJP result ``gx`` (for input ``k``) an array nobody else holds: a new, writable array of a
    registry op's VJP that is not the upstream ``g``, nor the op's input or output, nor (a view of)
    another of its results?"""
    if not (type(fn) is OPS.get(getattr(fn, "op_name", None)) and gx.base is None and gx.flags.writeable):
        return False
    if gx is g or gx is out.data or any(gx is x.data for x in fn.inputs):
        return False
    return all(o is None or j == k or (o is not gx and getattr(o, "base", None) is not gx)
               for j, o in enumerate(in_grads))


def _mark_owned(plan: _Plan, fresh: list[tuple[int, bool]]) -> None:
    """From one run's ``fresh`` ((destination slot, fresh?) for every gradient delivered): mark each
    op whose upstream gradient is the seed, or is one fresh gradient (not a sum: one delivery), as
    owning it. Which arrays a VJP returns is a matter of its code path, the same at every replay."""
    sources: dict[int, list[bool]] = {}
    for slot, flag in fresh:
        sources.setdefault(slot, []).append(flag)
    plan.backward = [(i, out, dtype, edges, i == plan.root_index or sources.get(i) == [True])
                     for i, out, dtype, edges, _ in plan.backward]


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
        if a[:3] != b[:3] or a[4:] != b[4:] or not _same(a[3], b[3]):
            raise TraceError(f"traced_step: {name}'s op {i} ({b[0].__name__}) changed between two calls "
                             f"with the same input shapes (its inputs or parameters); {hint}")
    if first.aux_desc != second.aux_desc:
        raise TraceError(f"traced_step: {name} returned other aux tensors in two calls with the same input "
                         f"shapes; {hint}")
    for k, (a, b) in enumerate(zip(first.consts, second.consts)):
        if not _same(a, b):
            where = next(i for i, sig in enumerate(second.signature) if ("constant", k) in sig[1])
            raise TraceError(f"traced_step: {name}'s op {where} ({second.signature[where][0].__name__}) has a "
                             f"constant input of shape {np.shape(b)} that changed between two calls; {hint}")


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
