"""The engine: grad mode, the ``Function`` base class, the op registry and the backward pass.

Reverse mode in three sentences. Every differentiable op records a ``Function`` node that
remembers its input tensors. ``backward`` visits the nodes in reverse topological order,
asking each one for the vector-Jacobian product (VJP) ``x̄_i = ȳ · ∂y/∂x_i`` of its inputs,
and sums the contributions that reach the same tensor. Leaves that require grad collect
their total in ``.grad``.

This module knows nothing about ``Tensor``'s methods beyond duck typing (``.data``,
``._ctx``, ``.grad``, ``.requires_grad``, ``.shape`` and the ops a VJP uses), so ``tensor.py``
and the op modules depend on it and never the other way round.
"""
from __future__ import annotations

import contextlib
import os
import traceback
from typing import TYPE_CHECKING, Any, Iterable, Sequence

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - only for type hints
    from .tensor import Tensor

# ----------------------------------------------------------------------------- modes
# The framework's only global mutable state: two mode flags, set by context managers.
_grad_enabled: bool = True  # ops record a graph (off inside no_grad)
_anomaly_enabled: bool = False  # ops check for NaN/Inf and remember where they were created


def is_grad_enabled() -> bool:
    """True when new ops record a graph for backward."""
    return _grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns graph recording on or off inside its block."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        global _grad_enabled
        self._saved.append(_grad_enabled)
        _grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        global _grad_enabled
        _grad_enabled = self._saved.pop()


class no_grad(set_grad_enabled):
    """``with no_grad():`` or ``@no_grad()``: ops inside record no graph (inference, updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()`` at the first op whose output or gradient is not finite."""


class detect_anomaly(contextlib.ContextDecorator):
    """Inside this block every op remembers the user code line that created it, and the first
    forward output or backward gradient containing NaN/Inf raises ``AnomalyError`` naming the
    op, the shapes and that line. Slower: use it to debug, not to train."""

    def __init__(self) -> None:
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        global _anomaly_enabled
        self._saved.append(_anomaly_enabled)
        _anomaly_enabled = True

    def __exit__(self, *exc: object) -> None:
        global _anomaly_enabled
        _anomaly_enabled = self._saved.pop()


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_code_line() -> str:
    """'file:line in function: source' of the innermost stack frame outside tinygrad_np."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"


def check_finite(what: str, array: np.ndarray, fn: "Function", shapes: str) -> None:
    """In anomaly mode: raise AnomalyError if ``array`` has a NaN or Inf."""
    if array.dtype.kind in "fc" and not np.all(np.isfinite(array)):
        where = getattr(fn, "created_at", None) or user_code_line()
        bad = "NaN" if np.isnan(array).any() else "Inf"
        raise AnomalyError(f"{fn.name} {what} contains {bad} ({shapes}); the op was created at {where}")


# ----------------------------------------------------------------------------- Function
class Function:
    """One differentiable op. An instance is both the graph node and PyTorch's ``ctx``.

    Subclasses implement

    * ``forward(self, *arrays, **params) -> np.ndarray`` on raw ndarrays (fast), saving on
      ``self`` whatever backward needs; and
    * ``backward(self, g, out) -> tuple[Tensor | None, ...]``: the VJP of each input, given
      the upstream gradient ``g`` and the op's output ``out`` (both Tensors). VJPs are written
      with Tensor ops, so with ``create_graph=True`` they are themselves differentiable.

    Array VJPs: a class that sets ``vjp_on_arrays = True`` promises that its ``backward`` also
    runs when ``g`` and ``out`` are plain ndarrays -- it reads its inputs through
    ``self.operands(g)``, makes constants with ``g``'s kind, and uses only operations that
    Tensor and ndarray share (``+ - * / ** @``, ``.T``, ``.reshape``, ``.sum``, ...) or
    ``run_op``. A plain ``backward()`` (no ``create_graph``) then hands it ndarrays, so the
    very same rule runs as bare NumPy, with no graph bookkeeping. Every built-in op does so;
    a Function that does not (the default) always gets Tensors.

    A VJP may return a gradient with the *broadcast* shape; the engine un-broadcasts it in
    one place (``unbroadcast``). It should return ``None`` for inputs whose
    ``self.needs_input_grad[i]`` is False, and may skip computing them.

    ``g_owned``: True when ``g`` is an ndarray that nothing else holds (set by ``jit``'s replay,
    which knows which gradients are fresh arrays); the VJP may then write into ``g`` and return
    it. The eager engine leaves it False.
    """

    inputs: tuple["Tensor", ...]
    needs_input_grad: tuple[bool, ...]
    params: dict[str, Any]  # the keyword parameters of the forward call (set with inputs)
    released: bool = False
    vjp_on_arrays: bool = False  # see "Array VJPs" above
    g_owned: bool = False  # see above

    def operands(self, g: "Tensor | np.ndarray") -> Sequence[Any]:
        """The op's inputs in ``g``'s kind: the input Tensors when ``g`` is a Tensor (the VJP
        is being recorded), their ndarrays when ``g`` is an ndarray (a plain backward pass)."""
        if isinstance(g, np.ndarray):
            return [x.data for x in self.inputs]
        return self.inputs

    def forward(self, *arrays: np.ndarray, **params: Any) -> np.ndarray:  # pragma: no cover
        raise NotImplementedError

    def backward(self, g: "Tensor", out: "Tensor") -> tuple["Tensor | None", ...]:  # pragma: no cover
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        """Drop the references to inputs and saved buffers once backward has used them."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


class Op(Function):
    """Base of the built-in ops: a Function whose VJP also runs on plain ndarrays."""

    vjp_on_arrays = True


#: name -> Function subclass for every differentiable op. Tests and docs enumerate it.
OPS: dict[str, type[Function]] = {}


def run_op(name: str, *args: Any, **params: Any) -> Any:
    """Registry op ``name`` on Tensors (applied and recorded, as ``Tensor.apply``) or on
    ndarrays (its bare ``forward``): how an array VJP uses an op that ndarray has no method for."""
    if isinstance(args[0], (np.ndarray, np.generic)):  # NumPy turns 0-d results into scalars
        return OPS[name]().forward(*args, **params)
    return type(args[0]).apply(name, *args, **params)


def register(name: str):
    """Class decorator: add a Function subclass to the registry under ``name``."""

    def deco(cls: type[Function]) -> type[Function]:
        if name in OPS:
            raise ValueError(f"op {name!r} registered twice")
        OPS[name] = cls
        cls.op_name = name  # type: ignore[attr-defined]
        return cls

    return deco


# ----------------------------------------------------------------------------- broadcasting
def broadcast_shape(op: str, *shapes: Sequence[int]) -> tuple[int, ...]:
    """NumPy's broadcast of ``shapes``, or a ValueError naming the op and the shapes."""
    try:
        return tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        pretty = " and ".join(str(tuple(s)) for s in shapes)
        raise ValueError(f"{op}: shapes {pretty} cannot be broadcast together") from None


def unbroadcast(g: "Tensor | np.ndarray", shape: tuple[int, ...]) -> "Tensor | np.ndarray":
    """Sum ``g`` back to ``shape``: over the leading axes broadcasting added and over the
    axes where ``shape`` has size 1. The one place broadcasting is undone (VJP of broadcast)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    if not ones and shape:  # only leading axes were added: one sum, no reshape
        return g.sum(axis=tuple(range(lead)))
    # keepdims + reshape: a 0-d result stays an array (NumPy's sum would return a scalar)
    return g.sum(axis=tuple(range(lead)) + ones, keepdims=True).reshape(shape)


# ----------------------------------------------------------------------------- backward pass
def topological_order(roots: Iterable["Tensor"]) -> list["Tensor"]:
    """Non-leaf tensors reachable from ``roots``, each after all tensors that consume it.

    Iterative depth-first search (a chain of 100,000 ops would overflow Python's stack if
    this recursed). Raises if the graph was already freed by an earlier backward.
    """
    order: list["Tensor"] = []
    visited: set[int] = set()
    stack: list[tuple["Tensor", bool]] = [(root, False) for root in reversed(list(roots)) if root._ctx is not None]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)  # post-order: inputs before their consumers
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        fn = t._ctx
        if fn.released:
            raise RuntimeError(
                f"backward through {fn.name} a second time: its buffers were freed by the "
                "first backward. Pass retain_graph=True to the first call to keep them."
            )
        stack.append((t, True))  # comes back once every input below it is ordered
        for x in fn.inputs:
            if x._ctx is not None and id(x) not in visited:
                stack.append((x, False))
    order.reverse()  # consumers first
    return order


def run_backward(
    roots: Sequence["Tensor"],
    seeds: Sequence["Tensor"],
    *,
    inputs: Sequence["Tensor"] | None = None,
    retain_graph: bool = False,
    create_graph: bool = False,
) -> list["Tensor | None"] | None:
    """Propagate ``seeds`` (one per root, same shape) back through the graph.

    With ``inputs=None`` the total gradient of every leaf that requires grad is *added* to
    its ``.grad`` (gradients accumulate across calls, as in PyTorch; zero them between steps).
    With ``inputs`` given, ``.grad`` is untouched and the gradients w.r.t. those tensors are
    returned (``None`` where an input does not influence the roots).

    ``create_graph=True`` records the VJPs themselves as a graph (higher-order gradients).
    Otherwise gradients flow as plain ndarrays through every op whose VJP runs on arrays
    (``Function.vjp_on_arrays``) and are wrapped in Tensors only where they leave the engine.
    Unless ``retain_graph`` is set, each node frees its buffers once it has been used.
    """
    wanted = {id(t): k for k, t in enumerate(inputs)} if inputs is not None else None
    results: list[Any] = [None] * len(inputs) if inputs is not None else []
    grads: dict[int, Any] = {}  # tensor id -> gradient so far (ndarray, or Tensor if create_graph)
    wrap = type(roots[0] if roots else inputs[0])._from_op  # ndarray -> constant Tensor, the caller's class
    arrays = not create_graph

    def deliver(t: "Tensor", g: Any) -> None:
        key = id(t)
        if wanted is not None and t._ctx is None:  # leaf: only collect what was asked for
            if key in wanted:
                k = wanted[key]
                results[k] = g if results[k] is None else _sum(results[k], g)
            return
        if t._ctx is None:  # leaf in .grad mode
            accumulate_grad(t, g, wrap if arrays else None)
            return
        grads[key] = g if key not in grads else _sum(grads[key], g)

    order = topological_order(roots)
    if wanted is not None:  # prune: only nodes from which a requested input can be reached
        useful = set(wanted)
        for t in reversed(order):  # producers before consumers
            if any(id(x) in useful for x in t._ctx.inputs):
                useful.add(id(t))
        order = [t for t in order if id(t) in useful]
    with set_grad_enabled(create_graph):
        for root, seed in zip(roots, seeds):
            if root.requires_grad:
                deliver(root, seed.data if arrays else seed)
        for t in order:
            g = grads.pop(id(t), None)
            if wanted is not None and id(t) in wanted:
                results[wanted[id(t)]] = g
            fn = t._ctx
            if g is not None:
                in_grads = _vjps(fn, g, t, arrays)
                for x, gx, needed in zip(fn.inputs, in_grads, fn.needs_input_grad):
                    if not needed or gx is None or (wanted is not None and id(x) not in useful):
                        continue
                    if arrays and type(gx) is not np.ndarray:  # NumPy makes 0-d results scalars
                        gx = np.asarray(gx)
                    # The engine's invariant: a gradient has its input's shape and dtype.
                    xd = x.data
                    if gx.shape != xd.shape or gx.dtype is not xd.dtype and gx.dtype != xd.dtype:
                        gx = conform(fn, x, gx, t.data.dtype, create_graph)
                    deliver(x, gx)
            if not retain_graph:
                fn.release()
    if inputs is None:
        return None
    if arrays:  # hand out Tensors that own their data
        return [None if r is None else wrap(r if r.base is None else r.copy(), None) for r in results]
    return results


def conform(fn: Function, x: "Tensor", gx: Any, out_dtype: np.dtype, create_graph: bool) -> Any:
    """``fn``'s VJP ``gx`` for input ``x`` brought to ``x``'s shape and dtype, the engine's invariant:
    un-broadcast when the forward broadcast ``x``, cast back when it promoted ``x``'s dtype (to
    ``out_dtype``); any other mismatch is a wrong VJP and raises, naming the op."""
    xd = x.data
    if gx.shape != xd.shape:
        if not _broadcasts_to(xd.shape, gx.shape):
            raise _bad_gradient(fn, x, gx)
        gx = unbroadcast(gx, xd.shape)  # exact shape by construction
    if gx.dtype is not xd.dtype and gx.dtype != xd.dtype:  # (identity: the fast check)
        if out_dtype == xd.dtype:  # not a promotion in the forward: a wrong VJP
            raise _bad_gradient(fn, x, gx)
        gx = _cast_back(x, gx, create_graph)
    return gx


def accumulate_grad(t: "Tensor", g: Any, wrap: Any = None) -> None:
    """Add gradient ``g`` into leaf ``t``'s ``.grad``. An ndarray ``g`` is first wrapped by ``wrap``
    (a Tensor class's ``_from_op``) in a Tensor that owns its data: a copy when ``g`` is a view of
    the graph's buffers."""
    if wrap is not None:
        g = wrap(g if g.base is None else g.copy(), None)
    t.grad = g if t.grad is None else t.grad + g


def _sum(a: Any, b: Any) -> Any:
    """a + b for two gradients; 0-d ndarrays stay arrays (NumPy would return a scalar)."""
    total = a + b
    return np.asarray(total) if isinstance(total, np.generic) else total


def _vjps(fn: Function, g: Any, out: "Tensor", arrays: bool) -> Sequence[Any]:
    """``fn``'s VJPs for upstream gradient ``g``, in the engine's kind: ndarrays when ``arrays``
    (a Tensor-only VJP gets ``g`` wrapped and its results unwrapped), else Tensors."""
    if arrays and not fn.vjp_on_arrays:
        in_grads = _vjps(fn, type(out)._from_op(g, None), out, False)
        return [gx if gx is None or isinstance(gx, np.ndarray) else gx.data for gx in in_grads]
    out_arg = out.data if arrays else out
    return _vjps_with_anomaly_check(fn, g, out_arg) if _anomaly_enabled else fn.backward(g, out_arg)


def _vjps_with_anomaly_check(fn: Function, g: Any, out: Any) -> tuple:
    """fn.backward with the per-op forward checks paused (its inner ops are the VJP's, not the
    user's), then every returned gradient checked for NaN/Inf and blamed on ``fn``."""
    global _anomaly_enabled
    _anomaly_enabled = False
    try:
        in_grads = fn.backward(g, out)
    finally:
        _anomaly_enabled = True
    for k, (x, gx) in enumerate(zip(fn.inputs, in_grads)):
        if gx is not None:
            check_finite(f"backward gradient for input {k}", gx if isinstance(gx, np.ndarray) else gx.data, fn,
                         f"input shape {x.shape}, upstream gradient shape {g.shape}")
    return in_grads


class Cast(Function):
    """y = a converted to another float dtype.   VJP: ā = g converted back to a's dtype.

    The engine's own node (not a user op, so not in ``OPS``): with ``create_graph=True`` the
    gradient of an input whose dtype the forward promoted is cast back through it, so the cast
    is part of the recorded graph and higher-order gradients flow through it."""

    vjp_on_arrays = True

    def forward(self, a: np.ndarray, dtype: Any) -> np.ndarray:
        self.in_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, g: Any, out: Any) -> tuple[Any]:
        if isinstance(g, np.ndarray):
            return (g.astype(self.in_dtype),)
        return (type(g).apply(Cast, g, dtype=self.in_dtype),)


def _cast_back(x: "Tensor", gx: Any, create_graph: bool) -> Any:
    """The gradient of an input whose dtype the forward promoted (float32 * float64 -> float64),
    cast back to the input's dtype (the VJP of a cast is the reverse cast): a ``Cast`` node
    when the VJPs are being recorded, a plain conversion otherwise."""
    if create_graph and gx.requires_grad:
        return type(gx).apply(Cast, gx, dtype=x.dtype)
    return gx.astype(x.dtype)


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True if an array of ``shape`` broadcasts to exactly ``target`` (so unbroadcast can undo it)."""
    if len(shape) > len(target):
        return False
    return all(n == t or n == 1 for n, t in zip(shape, target[len(target) - len(shape):]))


def _bad_gradient(fn: Function, x: "Tensor", gx: "Tensor") -> RuntimeError:
    """The error for a VJP that broke the invariant: a gradient has its input's shape and dtype."""
    return RuntimeError(
        f"{fn.name}.backward returned a gradient of shape {gx.shape} and dtype {gx.dtype} "
        f"for an input of shape {x.shape} and dtype {x.dtype}"
    )


def _seeds(outputs: Sequence["Tensor"], grad_outputs: Sequence[Any] | None) -> list["Tensor"]:
    from_like = type(outputs[0])  # seeds are plain tensors of the outputs' class
    seeds = []
    for k, out in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[k]
        if g is None and out.data.size == 1:  # the usual seed of a scalar loss: 1 (np.array, not ones_like: 10x faster)
            seeds.append(from_like._from_op(np.array(1, dtype=out.data.dtype).reshape(out.shape), None))
            continue
        if g is None:
            if out.size != 1:
                raise RuntimeError(
                    f"grad can be implicitly created only for scalar outputs; got shape "
                    f"{out.shape}. Pass gradient= (an array of that shape) to backward."
                )
            g = np.ones_like(out.data)
        g = g if isinstance(g, from_like) else from_like(np.asarray(g, dtype=out.dtype))
        if g.shape != out.shape:
            raise ValueError(f"gradient has shape {g.shape} but the output has shape {out.shape}")
        seeds.append(g)
    return seeds


def backward(
    tensor: "Tensor", gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False
) -> None:
    """``tensor.backward()``: accumulate d tensor / d leaf into every leaf's ``.grad``."""
    if not tensor.requires_grad:
        raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
    retain = create_graph if retain_graph is None else retain_graph
    run_backward([tensor], _seeds([tensor], None if gradient is None else [gradient]),
                 retain_graph=retain, create_graph=create_graph)


def grad(
    outputs: "Tensor | Sequence[Tensor]",
    inputs: "Tensor | Sequence[Tensor]",
    grad_outputs: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = False,
) -> tuple["Tensor", ...]:
    """Gradients of ``outputs`` w.r.t. ``inputs`` (like ``torch.autograd.grad``), leaving ``.grad`` alone.

    ``grad_outputs`` are the upstream gradients (the "v" of the VJP ``v^T J``), one per output.
    An input that does not influence the outputs raises unless ``allow_unused``, in which case
    its gradient is a zero tensor.
    """
    outs = [outputs] if not isinstance(outputs, (list, tuple)) else list(outputs)
    ins = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    if not outs or not ins:
        raise ValueError("grad: need at least one output and one input")
    if grad_outputs is not None and not isinstance(grad_outputs, (list, tuple)):
        grad_outputs = [grad_outputs]
    for x in ins:
        if not x.requires_grad:
            raise RuntimeError("grad: an input does not require grad")
    retain = create_graph if retain_graph is None else retain_graph
    live = [o for o in outs if o.requires_grad]
    seeds = _seeds(outs, grad_outputs)
    live_seeds = [s for o, s in zip(outs, seeds) if o.requires_grad]
    results = run_backward(live, live_seeds, inputs=ins, retain_graph=retain, create_graph=create_graph)
    final = []
    for x, g in zip(ins, results or [None] * len(ins)):
        if g is None:
            if not allow_unused:
                raise RuntimeError("grad: an input is not used to compute the outputs (pass allow_unused=True)")
            g = type(x)(np.zeros_like(x.data))
        final.append(g)
    return tuple(final)
