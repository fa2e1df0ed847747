"""``CompiledStep``: one plan per input signature, traced, checked, bound to arrays and replayed.

A call ``step(*args)`` finds the plan of the arguments' signature (each array argument's shape,
dtype and strides, each other argument's value). The first call of a signature traces the step
(``trace.py``), builds its plan (fusions, dead-code elimination, buffers, kernels, the update) and
runs it; the second traces again and compares the two programs (a constant or an op that changed
raises ``TraceError``: the function did something a plan cannot replay); later calls only replay.

A replay (``Binding.run``): check that the arguments, parameters and constant Tensors are the
arrays the kernels were bound to (rebind the kernels that read one that changed; trace again if
a parameter's shape, dtype, layout or ``requires_grad`` changed), run the kernels, run the
update, copy out the loss (and aux values), the only arrays a replay allocates.
"""
from __future__ import annotations

from typing import Any, Callable, Hashable, Sequence

import numpy as np

from ... import modes
from ...engine import Tensor
from ...optim.optimizers import Optimizer
from ..jit import TraceError, _same
from .blas import accumulate_gradient_gemms, make_route
from .fusions import fuse_cross_entropy
from .kernels import bind, bound_params
from .plan import Plan, listing
from .program import Program, Var
from .trace import trace
from .update import GenericUpdate, SGDUpdate, Update, fusable_sgd, make_update

#: Plans kept per compiled step (one per input signature); the least recently traced goes first.
MAX_PLANS = 16


class Entry:
    """A signature's plan: the traced program, its plan and binding, and whether a second trace
    has confirmed it."""

    def __init__(self, program: Program, signature: list, consts: list, plan: Plan, binding: "Binding") -> None:
        self.program, self.signature, self.consts = program, signature, consts
        self.plan, self.binding = plan, binding
        self.verified = False


class Binding:
    """A plan's kernels bound to arrays (see the module docstring)."""

    def __init__(self, step: "CompiledStep", plan: Plan, update: Update | None, args: Sequence[Any],
                 owned: set[int], grad_slots: list[int]) -> None:
        self.step, self.plan, self.update = step, plan, update
        self.owned, self.grad_slots = owned, grad_slots  # the optimizer's parameters (program indices), and
        # those the update reads a gradient of, in the optimizer's order
        program = plan.program
        self.program = program
        self.arrays: dict[int, np.ndarray] = {}
        self.externals: list[tuple[Var, Callable[[Sequence[Any]], np.ndarray]]] = []
        for v in program.args:
            if v is not None:
                self.externals.append((v, lambda a, k=v.source: arg_array(a[k])))
        for p, v in program.params:
            self.externals.append((v, lambda a, p=p: p._data))
        for v in program.consts:
            self.externals.append((v, lambda a, t=v.source: t._data))
        # what run() checks at every call: the arguments' arrays, the parameters' and constants'
        self.arg_slots = [(v.source, v.id) for v in program.args if v is not None]
        self.tensor_slots = [(p, v.id) for p, v in program.params] + [(v.source, v.id) for v in program.consts]
        for v, get in self.externals:
            self.arrays[v.id] = get(args)
        for s in plan.steps:
            if s.kernel is not None:
                for o in s.eqn.outs:
                    self.arrays[o.id] = plan.array(o)
        # eqn index -> the external variables among the roots of its inputs (rebound when one changes)
        self.deps = [{plan.root[v.id].id for v in s.eqn.ins if plan.root[v.id].kind != "value"} for s in plan.steps]
        self.step_calls: list[list[Callable[[], Any] | None]] = []
        for i in range(len(plan.steps)):
            self.step_calls.append(self._bind(i))
        self.calls = [c for sc in self.step_calls for c in sc if c is not None]
        self.param_ids = {v.id for _, v in program.params}
        self._bind_update()

    def _bind(self, i: int, changed: set[int] | None = None) -> list[Callable[[], Any] | None]:
        """Step i's calls (made again only where they read the inputs at positions ``changed``)."""
        s = self.plan.steps[i]
        e = s.eqn
        ins = [self.arrays[v.id] for v in e.ins]
        if s.kernel is None:  # a view: made once here, from the bound input
            y = e.op.forward(*ins[:len(e.args)], **bound_params(e.params, ins))
            root = self.arrays[self.plan.root[e.outs[0].id].id]
            if not (isinstance(y, np.ndarray) and np.may_share_memory(y, root) and y.shape == e.outs[0].shape):
                raise AssertionError(f"compile: {e.name} no longer returns a view")  # pragma: no cover
            self.arrays[e.outs[0].id] = y
            return []
        return bind(s.kernel, e, ins, [self.arrays[o.id] for o in e.outs], self.plan.scratch_arrays(s),
                    changed, self.step_calls[i] if changed is not None else None)

    def _bind_update(self) -> None:
        if self.update is None:
            return
        grads, owned = [], []
        outputs = self.program.outputs()
        roots = [self.plan.root[v.id].id for v in outputs]
        for i in self.grad_slots:
            g = self.program.grads[i]
            grads.append(self.arrays[g.id])
            r = self.plan.root[g.id]
            owned.append(r is g and g.kind == "value" and roots.count(r.id) == 1)
        scratch = [b.memory for b in self.plan.update_scratch]
        self.update.bind(grads, owned, scratch)
        if isinstance(self.update, SGDUpdate) and self.update.gemm_items:
            self.update.bind_gemms([(self.arrays[it.a.id], self.arrays[it.b.id]) for it in self.update.gemm_items],
                                   scratch)

    def rebind(self, changed: set[int], args: Sequence[Any]) -> None:
        """Rebind what reads the external variables ``changed`` (their arrays were replaced)."""
        for v, get in self.externals:
            if v.id in changed:
                self.arrays[v.id] = get(args)
        root = self.plan.root
        for i, deps in enumerate(self.deps):
            if deps & changed:
                e = self.plan.steps[i].eqn
                self.step_calls[i] = self._bind(i, {j for j, v in enumerate(e.ins) if root[v.id].id in changed})
        self.calls = [c for sc in self.step_calls for c in sc if c is not None]
        if changed & self.param_ids:
            self._bind_update()
        elif isinstance(self.update, SGDUpdate) and self.update.gemm_items:  # (their operands may view an argument)
            self.update.bind_gemms([(self.arrays[it.a.id], self.arrays[it.b.id]) for it in self.update.gemm_items],
                                   [b.memory for b in self.plan.update_scratch])

    def run(self, args: Sequence[Any]) -> Any:
        arrays = self.arrays
        changed = None
        for k, vid in self.arg_slots:
            a = args[k]
            if type(a) is not np.ndarray:
                a = a._data
            if a is not arrays[vid]:
                changed = (changed or set()) | {vid}
        for t, vid in self.tensor_slots:  # (a Tensor written in place keeps its array: nothing to do)
            if t._data is not arrays[vid]:
                changed = (changed or set()) | {vid}
        if changed:
            self.check_externals(args)
            self.rebind(changed, args)
        for call in self.calls:
            call()
        return self.finish()

    def check_externals(self, args: Sequence[Any]) -> None:
        for v, get in self.externals:
            a = get(args)
            if a.shape != v.shape or a.dtype != v.dtype or a.strides != v.strides:
                raise Stale(v)

    def finish(self) -> Any:
        """The update, then the outputs (copies: the buffers are the next step's)."""
        p, arrays, step = self.program, self.arrays, self.step
        opt = step.optimizer
        if opt is not None and not isinstance(self.update, GenericUpdate):
            for t in opt.params:  # (zero_grad: the gradients are not materialised, unless asked)
                t.grad = None
        if step.keep_grads or opt is None:
            for i, (t, _) in enumerate(p.params):
                g = p.grads[i]
                if g is None:
                    continue
                value = Tensor._wrap(np.array(arrays[g.id], copy=True))
                if i in self.owned:
                    t.grad = value
                else:  # a leaf the optimizer does not hold: accumulates, as after backward()
                    t.grad = value if t.grad is None else t.grad + value
        if self.update is not None:
            self.update.run()
        loss = Tensor._wrap(np.array(arrays[p.loss.id], copy=True))
        if not step.has_aux:
            return loss
        aux = tuple(Tensor._wrap(np.array(arrays[v.id], copy=True)) for v in p.aux)
        return loss, aux[0] if p.aux_single else aux


class Stale(Exception):
    """An external array changed shape, dtype or layout: the plan no longer fits (trace again)."""


class CompiledStep:
    """``step(*args)``: ``loss_fn``'s forward, backward and the optimizer's update, compiled (see
    ``tinygrad_np.fast.compiler``). ``traces`` counts the traces run so far; ``plan`` is the plan
    the last call ran (print it for the listing)."""

    def __init__(self, loss_fn: Callable[..., Any], optimizer: Optimizer | None = None, *, has_aux: bool = False,
                 keep_grads: bool = False, gemm_accumulate: bool = False) -> None:
        if optimizer is not None and not isinstance(optimizer, Optimizer):
            raise TypeError(f"compile: optimizer must be a tinygrad_np.optim optimizer, got {type(optimizer).__name__}")
        if gemm_accumulate and optimizer is None:
            raise ValueError("compile: gemm_accumulate=True folds the SGD update into the weight-gradient GEMMs; "
                             "it needs optimizer=SGD(...)")
        self.loss_fn, self.optimizer, self.has_aux = loss_fn, optimizer, has_aux
        self.keep_grads, self.gemm_accumulate = keep_grads, gemm_accumulate
        self.traces = 0
        self._extra: list[Tensor] = []  # leaves requiring grad the traces found beyond the optimizer's
        self._entries: dict[Hashable, Entry] = {}
        self._last: Entry | None = None  # the entry the last call ran, for its key and arguments:
        self._last_key: Hashable = None
        self._last_args: tuple = ()  # the same argument objects again skip the signature

    # ------------------------------------------------------------------ calling
    def __call__(self, *args: Any) -> Any:
        state = modes.state
        if not state.grad_enabled:
            raise RuntimeError("compile: a compiled step called inside no_grad (the step computes gradients)")
        if not state.fast:  # the fast layer is switched off: the eager step it stands for
            return self.eager(*args)
        entry = self._last
        if entry is None or not entry.verified or not same_objects(args, self._last_args) or not self._fits(entry):
            key = signature(args)
            entry = self._entries.get(key)
            if entry is not None and not self._fits(entry):
                entry = None
            if entry is None or not entry.verified:
                entry = self._trace(key, args, entry)
            self._last, self._last_key = entry, key
        self._last_args = args
        try:
            return entry.binding.run(args)
        except Stale:  # an argument, parameter or constant Tensor got an array of another shape or layout
            self._entries.pop(self._last_key, None)
            self._last = None
            return self(*args)

    def eager(self, *args: Any) -> Any:
        """What the step computes, run by the eager engine (used while the fast layer is off)."""
        opt = self.optimizer
        if opt is not None:
            opt.zero_grad()
        loss, aux, single = self._split(self.loss_fn(*args))
        loss.backward()
        if opt is not None:
            opt.step()
            if not self.keep_grads:
                opt.zero_grad()
        if not self.has_aux:
            return loss.detach()
        aux = tuple(a.detach() for a in aux)
        return loss.detach(), aux[0] if single else aux

    @property
    def plan(self) -> "PlanView":
        """The plan the last call ran, as a listing (``print(step.plan)``)."""
        if self._last is None:
            raise RuntimeError("compile: no plan yet; call the step once first")
        return PlanView(self._last)

    # ------------------------------------------------------------------ tracing
    def _params(self) -> list[Tensor]:
        return ([] if self.optimizer is None else list(self.optimizer.params)) + self._extra

    def _fits(self, entry: Entry) -> bool:
        """The parameters that require grad are still those the plan was made for (shapes and
        layouts are checked by the binding)."""
        n = 0
        for t in self._params():
            if t.requires_grad:
                n += 1
        if n != len(entry.program.params):
            return False
        for t, _ in entry.program.params:
            if not t.requires_grad:
                return False
        return True

    def _trace(self, key: Hashable, args: Sequence[Any], first: Entry | None) -> Entry:
        for _ in range(4):
            params = [p for p in self._params() if p.requires_grad]
            self.traces += 1
            program, found = trace(self.loss_fn, args, params, self._split)
            if program is not None:
                break
            self._extra += [t for t in found if all(t is not p for p in self._extra)]
        else:  # pragma: no cover - each round adds the leaves it found
            raise TraceError("compile: the step's parameters kept changing between traces")
        assert program is not None
        sig = program.signature()
        consts = [v.source for v in program.consts]
        if first is not None and first.verified is False and len(first.program.params) == len(program.params):
            compare(first, sig, consts, self.loss_fn)
            first.verified = True
            return first
        entry = self._build(program, sig, consts, args)
        self._entries.pop(key, None)
        self._entries[key] = entry
        if len(self._entries) > MAX_PLANS:
            del self._entries[next(iter(self._entries))]
        return entry

    def _build(self, program: Program, sig: list, consts: list, args: Sequence[Any]) -> Entry:
        opt = self.optimizer
        opt_params = {id(p): k for k, p in enumerate(opt.params)} if opt is not None else {}
        owned = {i for i, (t, _) in enumerate(program.params) if id(t) in opt_params}
        keep = self.keep_grads or opt is None
        program.grads = [g if (i in owned or keep) else None for i, g in enumerate(program.grads)]
        fuse_cross_entropy(program)
        drop_identity_views(program)
        update = None
        grad_slots: list[int] = []
        if opt is not None:
            with_grads = [i for i in sorted(owned) if program.grads[i] is not None]
            order = {i: opt_params[id(program.params[i][0])] for i in with_grads}
            items: list = []
            if self.gemm_accumulate:
                if not fusable_sgd(opt) or opt.momentum != 0.0 or opt.weight_decay != 0.0:
                    raise ValueError("compile: gemm_accumulate=True needs plain SGD (momentum=0, weight_decay=0), "
                                     f"got {opt!r}")
                items = accumulate_gradient_gemms(program, opt, with_grads, order)
                with_grads = [i for i in with_grads if program.grads[i] is not None]
            with_grads.sort(key=lambda i: order[i])
            grad_slots = with_grads
            update = make_update(opt, [order[i] for i in with_grads], self.keep_grads, items,
                                 make_route() if items else None)
        eliminate_dead_code(program)
        scratch = []
        if update is not None:
            owned_grads = [program.grads[i].kind == "value" and program.grads[i].view_of is None
                           and sum(g is program.grads[i] for g in program.grads) == 1 for i in grad_slots]
            sizes = [program.params[i][1].nbytes for i in owned]
            scratch = [max(sizes, default=0)] * update.scratch_count(owned_grads)
        plan = Plan(program, scratch)
        binding = Binding(self, plan, update, args, owned, grad_slots)
        return Entry(program, sig, consts, plan, binding)

    def _split(self, result: Any) -> tuple[Tensor, list[Tensor], bool]:
        """The function's result as (loss, aux Tensors, whether aux was one Tensor)."""
        if self.has_aux:
            if not (isinstance(result, tuple) and len(result) == 2):
                raise TypeError("compile: with has_aux=True the step function must return (loss, aux); got "
                                f"{type(result).__name__}")
            loss, aux = result
            if isinstance(aux, Tensor):
                return self._check_loss(loss), [aux], True
            if isinstance(aux, (tuple, list)) and all(isinstance(a, Tensor) for a in aux):
                return self._check_loss(loss), list(aux), False
            raise TypeError("compile: with has_aux=True, aux must be a Tensor or a tuple of Tensors; got "
                            f"{type(aux).__name__}")
        return self._check_loss(result), [], False

    @staticmethod
    def _check_loss(loss: Any) -> Tensor:
        if not isinstance(loss, Tensor):
            raise TypeError(f"compile: the step function must return a Tensor loss, got {type(loss).__name__}")
        return loss


class PlanView:
    """What ``step.plan`` returns: ``str()`` is the listing; ``plan``/``program`` the objects."""

    def __init__(self, entry: Entry) -> None:
        self.entry = entry
        self.plan = entry.plan
        self.program = entry.program

    @property
    def nbytes(self) -> int:
        """Bytes of the plan's buffers (allocated once)."""
        return self.plan.nbytes

    def __str__(self) -> str:
        upd = self.entry.binding.update
        lines = upd.lines() if upd is not None else ["update: none (gradients accumulate into .grad)"]
        return listing(self.plan, "compiled step", lines, len(self.entry.binding.calls))

    __repr__ = __str__


def same_objects(a: tuple, b: tuple) -> bool:
    if len(a) != len(b):
        return False
    for x, y in zip(a, b):
        if x is not y:
            return False
    return True


def arg_array(a: Any) -> np.ndarray:
    return a._data if isinstance(a, Tensor) else a


def signature(args: Sequence[Any]) -> Hashable:
    """Each array argument's type, shape, dtype and strides, each other argument's value (hashable),
    and which arguments are one array passed twice."""
    key: list[Any] = []
    ids = []
    for a in args:
        if isinstance(a, Tensor):
            d = a._data
            key.append(("T", d.shape, d.dtype, d.strides, a.requires_grad))
            ids.append(id(d))
        elif isinstance(a, np.ndarray):
            key.append(("A", a.shape, a.dtype, a.strides))
            ids.append(id(a))
        else:
            try:
                hash(a)
            except TypeError:
                raise TypeError(f"compile: arguments must be Tensors, ndarrays or hashable values; "
                                f"got {type(a).__name__}") from None
            key.append(("V", type(a), a))
    if len(set(ids)) < len(ids):
        key.append(tuple(ids.index(i) for i in ids))
    return tuple(key)


def compare(first: Entry, sig: list, consts: list, fn: Callable) -> None:
    """Raise TraceError unless a second trace recorded what the first did (same ops, wiring,
    parameters, output types, equal constants)."""
    name = getattr(fn, "__qualname__", repr(fn))
    hint = ("a value computed inside the function without tinygrad_np ops (with NumPy on .numpy()/.data, a "
            "random mask drawn with NumPy, Python control flow on the data) is frozen in a plan; pass it in as "
            "an argument, or call the function eagerly")
    a, b = first.signature, sig
    for i, (x, y) in enumerate(zip(a, b)):
        op = getattr(y[0], "op_name", y[0].__name__)
        if x[0] is y[0] and x[1] == y[1] and [s[0] for s in x[3]] == [s[0] for s in y[3]] and x[3] != y[3]:
            raise TraceError(f"compile: {name}'s op {i} ({op}) returned shape {x[3][0][1]}, then {y[3][0][1]} "
                             f"for the same input shapes: its output shape depends on the data, which a plan cannot "
                             "replay; call the function eagerly")
        if x[:2] != y[:2] or x[3] != y[3] or not _same(x[2], y[2]):
            raise TraceError(f"compile: {name}'s op {i} ({op}) changed between two calls with the same input "
                             f"shapes (its inputs or parameters); {hint}")
    if len(a) != len(b):
        raise TraceError(f"compile: {name} recorded {len(a)} ops, then {len(b)} for the same input shapes; {hint}")
    for k, (x, y) in enumerate(zip(first.consts, consts)):
        if x is not y and not _same(x, y):
            raise TraceError(f"compile: {name} has a constant of shape {y.shape} that changed between two calls "
                             f"with the same input shapes; {hint}")


def drop_identity_views(program: Program) -> None:
    """Drop the views that are their input itself (a reshape to the same shape, the textbook VJPs'
    ``g.reshape(-1, n)``: the same shape and strides), reading the input in their place."""
    alias: dict[int, Var] = {}
    kept = []
    for e in program.eqns:
        e.ins = [alias.get(v.id, v) for v in e.ins]
        o = e.outs[0]
        if (len(e.outs) == 1 and o.view_of is not None and len(e.args) == 1 and o.shape == e.ins[0].shape
                and o.strides == e.ins[0].strides and o.dtype == e.ins[0].dtype):
            alias[o.id] = e.ins[0]
            continue
        kept.append(e)
    program.eqns = kept
    program.loss = alias.get(program.loss.id, program.loss)
    program.aux = [alias.get(v.id, v) for v in program.aux]
    program.grads = [None if g is None else alias.get(g.id, g) for g in program.grads]


def eliminate_dead_code(program: Program) -> None:
    """Drop the equations no output depends on."""
    needed = {v.id for v in program.outputs()}
    kept = []
    for e in reversed(program.eqns):
        if any(o.id in needed for o in e.outs):
            kept.append(e)
            needed.update(v.id for v in e.ins)
    program.eqns = kept[::-1]
