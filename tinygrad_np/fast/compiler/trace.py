"""Tracing a training step into a ``Program``: its forward, then the engine's own backward, as registry ops.

The step's function runs once on *trace values*: Tensors with concrete arrays (computed as the
trace goes), at a transformation level of their own. ``Tensor.apply`` hands every op that has a
trace value among its inputs to that value's ``process`` (the engine's seam for function
transformations, ``tracing.py``), which the ``Recorder`` implements: it runs the op's textbook
forward, appends an equation to the program, and records the op's node exactly as ``apply``
would. The parameters become trace values for the duration of the trace (their class is swapped
for a trace-value subclass of it, and restored afterwards), so an op on parameters alone
(``W.T``, a weight penalty) is recorded too.

Then the engine's one backward pass (``engine.run_backward``, the VJP -> conform step used by
``backward()``) runs on the trace values. Every VJP is written with Tensor ops, so the backward is
recorded as well, op by op: the ops of the textbook rules, the un-broadcasting sums, the additions
where gradients accumulate. Ops on constants alone (the seed's ``g / N``) run eagerly, as they do
in ``backward()``: their results are constants of the program. The result is forward + backward
as one program of registry ops, each computing exactly what the eager engine computes.

What a trace cannot see, and what it does about it:

* Python control flow on values: ``bool(t)``, ``t.item()`` and ``t.tolist()`` of a trace value
  raise ``TraceError``. Values taken out with NumPy (``t.numpy()``) and computed on become
  constants; ``CompiledStep`` traces twice and compares (``compare``), so a constant that
  changed between two calls raises ``TraceError`` naming the op.
* An array parameter of an op (an index) that is an argument's array becomes a ``Ref``, bound to
  the argument at every replay; one that shares memory with any other traced value is refused.
* Hooks (``register_hook``, ``retain_grad``), gradient watchers and anomaly mode raise
  ``TraceError``: a replay would not run them.
* A Tensor requiring grad that is not a parameter (a leaf the optimizer does not hold) is found
  on the way (``Recorder.discovered``) and the trace is run again with it as a parameter.
"""
from __future__ import annotations

import threading
from typing import Any, Callable, Sequence

import numpy as np

from ... import modes
from ...engine import Function, Tensor, record, run_backward, seeds, topological_order
from ...tracing import Tracer, new_level
from ..jit import TraceError
from .program import Eqn, Program, Ref, Var, array_key

#: Registry op class -> the node class the recorder makes for it instead: the same op with a VJP
#: that records one fused op of the compiler instead of its textbook decomposition (fusions.py).
NODE_CLASSES: dict[type[Function], type[Function]] = {}


class TraceValue(Tensor):
    """A value of a step being traced (see the module docstring). Each trace makes a subclass
    of its own with its ``level`` and ``recorder``; parameters are swapped to a subclass of that
    and their own class for the trace."""

    __slots__ = ()
    level: int
    recorder: "Recorder"

    def process(self, cls: type[Function], inputs: tuple, params: dict) -> Tensor:
        return type(self).recorder.apply(cls, inputs, params)

    def __bool__(self) -> bool:
        raise TraceError("compile: Python control flow on a value of the step (bool() of a Tensor): a compiled "
                         "plan cannot replay it. Use tg.where, or call the function eagerly")

    def item(self) -> Any:
        raise TraceError("compile: .item() of a value of the step inside the step function: a compiled plan "
                         "cannot replay Python code on values. Return the value instead (has_aux=True)")

    def tolist(self) -> Any:
        raise TraceError("compile: .tolist() of a value of the step inside the step function: a compiled plan "
                         "cannot replay Python code on values. Return the value instead (has_aux=True)")

    def register_hook(self, hook: Callable) -> None:
        raise TraceError("compile: a hook on a tensor of the step (register_hook/retain_grad): a compiled plan "
                         "would not run it. Call the function eagerly")

    def retain_grad(self) -> None:
        self.register_hook(None)  # type: ignore[arg-type]


class Recorder:
    """Records the ops run on one trace's values into equations (see the module docstring)."""

    def __init__(self, level: int) -> None:
        self.level = level
        self.thread = threading.get_ident()
        self.cls = type("TraceValue", (TraceValue,), {"__slots__": (), "level": level, "recorder": self})
        self.eqns: list[Eqn] = []
        self.vars: dict[int, Var] = {}  # id(trace value) -> its variable
        self.keep: list[Tensor] = []  # the trace values, alive for the trace (so ids and addresses stay unique)
        self.by_key: dict[tuple, Var] = {}  # array_key of a traced array -> its variable
        self.traced: list[tuple[np.ndarray, Var]] = []  # (array, variable) of every argument, parameter and value
        self.consts: dict[int, Var] = {}  # id(constant Tensor) -> its variable
        self.const_list: list[Var] = []
        self.discovered: dict[int, Tensor] = {}  # leaves requiring grad met as constants
        self.phase = "forward"
        self.done = False
        self.count = 0

    # ------------------------------------------------------------------ variables
    def new_var(self, kind: str, array: np.ndarray, source: Any = None) -> Var:
        var = Var(self.count, kind, array, source)
        self.count += 1
        if kind != "const":
            self.by_key[array_key(array)] = var
            self.traced.append((array, var))
        return var

    def value(self, array: np.ndarray, var: Var, requires_grad: bool = False) -> TraceValue:
        """A trace value standing for ``var`` (a new variable's, or another name of an existing one)."""
        t = self.cls.__new__(self.cls)
        t._data = array
        t.grad = t._ctx = t._hooks = None
        t._version = [0]
        t.requires_grad = requires_grad
        self.keep.append(t)
        self.vars[id(t)] = var
        return t

    def argument(self, k: int, array: np.ndarray, as_tensor: bool) -> Any:
        """Argument ``k`` for the traced call: a trace value for a Tensor, the array itself for an
        ndarray (a Tensor made from it inside the function is recognised by its memory)."""
        var = self.new_var("arg", array, k)
        return self.value(array, var) if as_tensor else array

    def parameter(self, p: Tensor) -> Var:
        """Make ``p`` a trace value for this trace (``trace`` restores its class afterwards)."""
        other = self.by_key.get(array_key(p._data))
        if other is not None:
            raise TraceError(f"compile: a parameter of shape {p.shape} has the same array as "
                             f"{self.describe(other)}; give each its own array")
        try:
            p.__class__ = traced_class(type(p), self.cls)
        except TypeError as e:
            raise TraceError(f"compile: a parameter of type {type(p).__name__} cannot be traced ({e})") from None
        var = self.new_var("param", p._data, p)
        self.keep.append(p)
        self.vars[id(p)] = var
        return var

    def resolve(self, x: Tensor) -> tuple[Tensor, Var]:
        """Input ``x`` of an op as (the Tensor its node should hold, its variable)."""
        if isinstance(x, TraceValue):
            if type(x).recorder is not self or self.done:
                raise TraceError("compile: a Tensor from another trace of a compiled step was used (kept from "
                                 "inside the step function?); return values from the step instead")
            return x, self.vars[id(x)]
        if isinstance(x, Tracer):
            raise TraceError(f"compile: a value of another transformation ({type(x).__name__}) inside the step")
        var = self.by_key.get(array_key(x._data))
        if var is not None:  # another name for a traced array: an argument wrapped in a Tensor, x.detach(), ...
            return self.value(x._data, var), var
        for arr, v in self.traced:
            if np.may_share_memory(arr, x._data) and np.shares_memory(arr, x._data):
                raise TraceError(f"compile: an op's input of shape {x.shape} is a NumPy view of {self.describe(v)} "
                                 "(it shares its memory); a plan cannot follow it. Use tinygrad_np ops "
                                 "(reshape, indexing, ...) on the Tensor instead")
        if x.requires_grad:
            self.discover(x)
        var = self.consts.get(id(x))
        if var is None:
            var = self.consts[id(x)] = self.new_var("const", x._data, x)
            self.const_list.append(var)
            self.keep.append(x)
        return x, var

    def describe(self, v: Var) -> str:
        return {"arg": f"argument {v.source}", "param": "a parameter"}.get(v.kind, "a value of the step")

    def discover(self, x: Tensor) -> None:
        """``x`` requires grad but is not a trace value: note the leaves it was made from."""
        leaves = [x] if x._ctx is None else [
            i for t in topological_order([x]) for i in t._ctx.inputs if i._ctx is None and i.requires_grad]
        for leaf in leaves:
            if not isinstance(leaf, TraceValue):
                self.discovered[id(leaf)] = leaf

    def scan_params(self, params: dict[str, Any], n_inputs: int) -> tuple[dict[str, Any], list[Var]]:
        """An op's parameters with every array that is a traced value replaced by a ``Ref`` to an
        extra input of the equation (returned); any other array is a constant of the program."""
        extra: list[Var] = []

        def scan(v: Any) -> Any:
            if isinstance(v, np.ndarray):
                var = self.by_key.get(array_key(v))
                if var is not None:
                    if var not in extra:
                        extra.append(var)
                    return Ref(n_inputs + extra.index(var))
                for arr, tv in self.traced:
                    if np.may_share_memory(arr, v) and np.shares_memory(arr, v):
                        raise TraceError(f"compile: an op's parameter (an array of shape {v.shape}) is computed "
                                         f"from {self.describe(tv)} with NumPy; a plan cannot follow it: its "
                                         "values (and with a boolean mask, the output's shape) depend on the data")
                return v
            if isinstance(v, tuple):
                return tuple(scan(p) for p in v)
            if isinstance(v, list):
                return [scan(p) for p in v]
            return v

        return {k: scan(v) for k, v in params.items()}, extra

    # ------------------------------------------------------------------ ops
    def apply(self, cls: type[Function], inputs: Sequence[Tensor], params: dict[str, Any]) -> Tensor:
        """Run op ``cls`` on ``inputs`` as ``Tensor.apply`` would, and record it."""
        if threading.get_ident() != self.thread:
            raise RuntimeError("compile: a parameter of a step being traced in another thread was used; "
                               "do not share a model between threads while its step compiles")
        if self.done:
            raise TraceError("compile: a Tensor from a finished trace of a compiled step was used (kept from "
                             "inside the step function?); return values from the step instead")
        pairs = [self.resolve(x) for x in inputs]
        ins = [t for t, _ in pairs]
        symbolic, extra = self.scan_params(params, len(ins))
        try:
            y = cls.forward(*[x._data for x in ins], **params)
        except ValueError as e:  # as Tensor.apply words it: name the op
            name = getattr(cls, "op_name", cls.__name__)
            if str(e).startswith(name):
                raise
            raise ValueError(f"{name}: {e} (input shapes {', '.join(str(x.shape) for x in ins)})") from None
        y = y if type(y) is np.ndarray else np.asarray(y)
        out_var = self.new_var("value", y)
        for x, (_, v) in zip(ins, pairs):
            if np.may_share_memory(y, x._data):  # a view (reshape, transpose, expand, basic indexing)
                out_var.view_of, out_var.strides = v, y.strides
                break
        out = self.value(y, out_var)
        if cls.is_view:
            out._version = ins[0]._version
        if modes.state.grad_enabled and y.dtype.kind == "f":
            needs = tuple([x.requires_grad for x in ins])
            if True in needs:
                record(NODE_CLASSES.get(cls, cls)(tuple(ins), params, needs), out)
        self.eqns.append(Eqn(cls, [v for _, v in pairs] + extra, [out_var], symbolic, self.phase, len(ins)))
        return out


def traced_class(cls: type, base: type) -> type:
    """The trace-value subclass a parameter of class ``cls`` becomes for one trace."""
    if cls is Tensor:
        return base
    return type(f"Traced{cls.__name__}", (base, cls), {"__slots__": ()})


def trace(fn: Callable[..., Any], args: Sequence[Any], params: Sequence[Tensor],
          split: Callable[[Any], tuple[Tensor, list[Tensor], bool]]) -> tuple[Program | None, list[Tensor]]:
    """Trace ``fn(*args)`` and its backward into a Program whose gradients are those of ``params``.

    Returns ``(program, [])``, or ``(None, leaves)`` when leaves requiring grad that are not in
    ``params`` were met: the caller traces again with them added. ``split`` turns the function's
    result into (loss, the aux Tensors, whether aux was a single Tensor)."""
    state = modes.state
    if state.anomaly:
        raise TraceError("compile: inside detect_anomaly() a compiled step would skip the per-op checks; "
                         "call the function eagerly to debug it")
    if state.watchers:
        raise TraceError("compile: inside watch_gradients() a compiled step would not report its gradients; "
                         "call the function eagerly")
    if state.levels:
        raise TraceError("compile: a compiled step called inside a function transformation (grad, vjp, jvp, vmap)")
    for k, p in enumerate(params):
        if p._hooks:
            raise TraceError(f"compile: parameter {k} (shape {p.shape}) has a hook (register_hook); a compiled "
                             "plan would not run it. Call the function eagerly")
    swapped: list[tuple[Tensor, type]] = []
    with new_level() as level:
        rec = Recorder(level)
        try:
            arg_vars: list[Var | None] = []
            call_args = []
            for k, a in enumerate(args):
                if isinstance(a, Tensor):
                    if a.requires_grad:
                        raise TraceError(f"compile: argument {k} requires grad; a compiled step differentiates the "
                                         "parameters only (pass it detached, or make it a parameter)")
                    call_args.append(rec.argument(k, a._data, True))
                elif isinstance(a, np.ndarray):
                    call_args.append(rec.argument(k, a, False))
                else:
                    call_args.append(a)
                    arg_vars.append(None)
                    continue
                arg_vars.append(rec.traced[-1][1])
            param_vars = []
            for p in params:
                cls = type(p)
                param_vars.append(rec.parameter(p))
                swapped.append((p, cls))
            with modes.enable_grad():
                result = fn(*call_args)
            loss, aux, aux_single = split(result)
            for t in [loss, *aux]:
                if not isinstance(t, TraceValue) and t.requires_grad:
                    rec.discover(t)
            if rec.discovered:
                return None, list(rec.discovered.values())
            if not loss.requires_grad:
                raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
            if loss.size != 1:
                raise RuntimeError(f"compile: the step function must return a scalar loss; got shape {loss.shape}")
            loss_var = rec.resolve(loss)[1]
            aux_vars = [rec.resolve(a)[1] for a in aux]
            rec.phase = "backward"
            grads = run_backward([loss], seeds([loss], None), inputs=[p for p, _ in swapped])
            grad_vars = [None if g is None else rec.resolve(g)[1] for g in grads]
        finally:
            rec.done = True
            for p, cls in swapped:
                p.__class__ = cls
            rec.keep.clear()  # (the trace's values: the program keeps shapes and constants only)
            rec.vars.clear()
            rec.traced.clear()
            rec.by_key.clear()
    program = Program(rec.eqns, arg_vars, [(p, v) for (p, _), v in zip(swapped, param_vars)], rec.const_list,
                      loss_var, aux_vars, aux_single, grad_vars, rec.count)
    return program, []
