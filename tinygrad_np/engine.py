"""The engine: what a node of the graph is, how an op records one, how backward walks them.

Reverse mode in three sentences. Every differentiable op records a ``Function`` node that
remembers its inputs. ``backward`` visits the nodes consumers first, asks each for the
vector-Jacobian product (VJP) ``x̄ᵢ = ȳ ∂y/∂xᵢ`` of its inputs, and sums the contributions that
reach the same tensor. Leaves that require grad collect their total in ``.grad``.

Read top to bottom: ``Function`` (a node), ``register`` (the registry of ops), ``Tensor`` (a
value, and ``Tensor.apply``: how an op runs and records its node), then the backward pass
(``topological_order``, ``backward_step``, ``run_backward``). ``x * y`` is
``Tensor.apply("mul", x, y)``: the operators and op methods are in ``tensor_methods.py``, the ops
themselves in ``ops/``, in-place writes and their checks in ``writes.py``, the modes (grad,
anomaly) in ``modes.py``.

Two seams let other layers plug in without this file knowing them. A value of a function
transformation (forward mode, vmap: ``level > 0``) runs each op through its own ``process``.
The fast layer may register faster forwards and VJPs of registry ops (``LOWERED_FORWARDS``,
``LOWERED_VJPS``: the same bits), used on plain Tensors while ``modes.state.fast`` is on.
"""
from __future__ import annotations

import inspect
from operator import attrgetter
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from . import modes
from .tensor_methods import TensorMethods
from .writes import WRITES, InPlaceWrites, check_writes


# ----------------------------------------------------------------------------- the node
class Function:
    """One differentiable op. An instance is the graph's node and the ``ctx`` its rules read.

    An op subclass defines

    * ``forward(*arrays, **params) -> ndarray``: a static method, NumPy on the inputs' arrays;
    * ``vjp(self, i, g, y) -> Tensor``: input ``i``'s VJP ``g ∂y/∂xᵢ`` for the upstream gradient
      ``g`` and the output ``y``, written with Tensor ops (so gradients of gradients come free);
    * ``jvp(self, i, t, y) -> Tensor`` (optional): input ``i``'s share ``∂y/∂xᵢ t`` of the output's
      tangent, for forward mode.

    The rules read the inputs as ``self.inputs`` and the call's keyword parameters as attributes
    (``self.axis``). A rule may return its result with the broadcast shape, or in the output's
    dtype where the forward promoted its input: the engine brings it to the input's shape and
    dtype (``conform``, the one place broadcasting and promotion are undone). A VJP may return
    None for an input no gradient flows to.
    """

    is_view = False  # forward returns a view of input 0: the two share one version counter
    released = False

    def __init__(self, inputs: Sequence["Tensor"], params: dict[str, Any], needs_input_grad: tuple[bool, ...]) -> None:
        self.inputs = inputs
        self.params = params
        if params:
            self.__dict__.update(params)  # the rules read the call's parameters as self.axis, self.keepdims, ...
        self.needs_input_grad = needs_input_grad
        self.clock = WRITES.last  # in-place writes after this moment make the node refuse (see writes.py)

    @property
    def name(self) -> str:
        return type(self).__name__

    def release(self) -> None:
        """Drop the inputs once backward has used them (unless ``retain_graph``)."""
        self.__dict__.clear()
        self.released = True

    def __repr__(self) -> str:
        return f"<{self.name}>"


#: name -> Function subclass for every differentiable op. Tests and docs enumerate it.
OPS: dict[str, type[Function]] = {}

#: The fast layer's seams: op class -> a faster VJP with ``vjp``'s signature, or a faster forward
#: ``forward(node or None, *arrays, **params)`` (it may keep what its VJP needs on the node); both
#: give the same bits as the textbook ones, and are used only while ``modes.state.fast`` is on.
LOWERED_VJPS: dict[type[Function], Callable[..., "Tensor"]] = {}
LOWERED_FORWARDS: dict[type[Function], Callable[..., np.ndarray]] = {}


def register(name: str) -> Callable[[type[Function]], type[Function]]:
    """Class decorator: add a Function subclass to the registry under ``name``. The defaults of its
    forward's keyword parameters become class attributes, so a rule reads ``self.axis`` also when
    the call left ``axis`` out."""

    def deco(cls: type[Function]) -> type[Function]:
        if name in OPS:
            raise ValueError(f"op {name!r} registered twice")
        OPS[name] = cls
        cls.op_name = name  # type: ignore[attr-defined]
        for p in inspect.signature(cls.forward).parameters.values():
            if p.default is not p.empty and not hasattr(cls, p.name):
                setattr(cls, p.name, p.default)
        return cls

    return deco


# ----------------------------------------------------------------------------- the value
class Tensor(TensorMethods, InPlaceWrites):
    """An n-dimensional array that records the ops applied to it and differentiates them.

    ``Tensor(data, requires_grad=False, dtype=None)``: an ndarray is shared, not copied
    (``tg.tensor`` copies); Python data takes NumPy's dtype, except that floats become float32.
    The array is the engine's (``_data``); ``.data``, ``numpy()`` and ``np.asarray`` hand out
    read-only views of it. Values change in place only through ``copy_``/``update_`` (what
    optimizers use) or by assigning ``.data``, which stamp the write (``writes.py``), so a
    graph never reads values changed behind its back.
    """

    __slots__ = ("_data", "grad", "requires_grad", "_ctx", "_version", "_hooks", "__weakref__")
    __array_priority__ = 1000  # ndarray <op> Tensor defers to Tensor
    level = 0  # > 0: a value of a function transformation (it runs ops through its ``process``)

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        self._data = as_array(data, dtype)
        self.grad: Tensor | None = None
        self._ctx: Function | None = None
        self._version = data._version if isinstance(data, Tensor) else [0]  # last write's tick; shared by views
        self._hooks: list | None = None
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    @staticmethod
    def _wrap(array: Any) -> "Tensor":
        """A constant Tensor on ``array`` (an op's result, not copied)."""
        t = Tensor.__new__(Tensor)
        t._data = array if type(array) is np.ndarray else np.asarray(array)  # (NumPy reductions return scalars)
        t.grad = t._ctx = t._hooks = None
        t._version = [0]
        t.requires_grad = False
        return t

    shape = property(attrgetter("_data.shape"), doc="Tuple of dimensions.")
    dtype = property(attrgetter("_data.dtype"), doc="NumPy dtype of the data.")
    ndim = property(attrgetter("_data.ndim"), doc="Number of dimensions.")
    size = property(attrgetter("_data.size"), doc="Number of elements.")
    grad_fn = property(attrgetter("_ctx"), doc="The node that produced this tensor (None for leaves).")
    is_leaf = property(lambda self: self._ctx is None)

    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Mark a leaf as a variable to differentiate with respect to (in place)."""
        if requires_grad and self.dtype.kind != "f":
            why = " (complex functions are not differentiated here)" if self.dtype.kind == "c" else ""
            raise TypeError(f"only real floating point tensors can require grad, not {self.dtype}{why}")
        if not requires_grad and self._ctx is not None:
            raise RuntimeError("requires_grad_(False) on a non-leaf; use .detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def zero_grad(self) -> None:
        self.grad = None

    def detach(self) -> "Tensor":
        """The same values (shared, with the same version counter), cut off from the graph."""
        t = Tensor._wrap(self._data)
        t._version = self._version
        return t

    # ------------------------------------------------------------------ applying an op
    @staticmethod
    def apply(op: "str | type[Function]", *inputs: "Tensor", **params: Any) -> "Tensor":
        """Run op ``op`` (a registry name or a Function class) on ``inputs``: its forward on their
        arrays, and a recorded node if grad mode is on, an input requires grad and the result is
        floating point (comparisons, argmax and integer casts are constants)."""
        cls = OPS[op] if type(op) is str else op
        for x in inputs:
            if x.level:  # a value of forward mode or vmap: its transformation runs the op
                return max(inputs, key=_level).process(cls, inputs, params)
        state = modes.state
        needs = tuple([x.requires_grad for x in inputs]) if state.grad_enabled else ()
        fn = cls(inputs, params, needs) if True in needs else None  # the node to record, if any
        lowered = LOWERED_FORWARDS.get(cls) if state.fast else None  # the fast layer's seam
        try:
            y = cls.forward(*[x._data for x in inputs], **params) if lowered is None else \
                lowered(fn, *[x._data for x in inputs], **params)
        except ValueError as e:  # e.g. shapes that do not broadcast: say which op
            name = getattr(cls, "op_name", cls.__name__)
            if str(e).startswith(name):
                raise
            raise ValueError(f"{name}: {e} (input shapes {', '.join(str(x.shape) for x in inputs)})") from None
        out = Tensor._wrap(y)
        if cls.is_view:
            out._version = inputs[0]._version
        if state.anomaly:
            shapes = ", ".join(str(x.shape) for x in inputs)
            modes.check_finite(f"{cls.__name__} forward output", y,
                               f"input shapes {shapes}, output shape {out.shape}", modes.user_code_line())
        if fn is not None and out._data.dtype.kind == "f":
            record(fn, out)
        if state.op_watchers:
            for watch in state.op_watchers:
                watch(cls, inputs, params, out)
        return out

    # ------------------------------------------------------------------ backward
    def backward(self, gradient: Any = None, retain_graph: bool | None = None, create_graph: bool = False) -> None:
        """Add d self / d leaf into ``leaf.grad`` for every leaf that requires grad.

        ``gradient`` is the upstream gradient (needed unless self has one element). The graph's
        buffers are freed afterwards unless ``retain_graph`` (default: ``create_graph``);
        ``create_graph=True`` records the backward pass too, for gradients of gradients."""
        if not self.requires_grad:
            raise RuntimeError("backward on a tensor that does not require grad (no graph to go back through)")
        seed = seeds([self], None if gradient is None else [gradient])[0]
        run_backward([self], [seed], retain_graph=create_graph if retain_graph is None else retain_graph,
                     create_graph=create_graph)


def record(fn: Function, out: Tensor) -> None:
    """Make ``fn`` the node that produced ``out`` (also for values of the transformations)."""
    if modes.state.anomaly:
        fn.created_at = modes.user_code_line()
    out._ctx, out.requires_grad = fn, True


# ----------------------------------------------------------------------------- backward
def topological_order(roots: Iterable[Tensor]) -> list[Tensor]:
    """The non-leaf tensors reachable from ``roots``, each before the tensors it was made from.

    Iterative depth-first search (a chain of 100,000 ops would overflow Python's stack if it
    recursed). Raises if the graph was freed by an earlier backward."""
    order: list[Tensor] = []
    visited: set[int] = set()
    stack = [(root, False) for root in reversed(list(roots)) if root._ctx is not None]
    while stack:
        t, inputs_done = stack.pop()
        if inputs_done:
            order.append(t)  # post-order: inputs before their consumers
            continue
        if id(t) in visited:
            continue
        visited.add(id(t))
        if t._ctx.released:
            raise RuntimeError(f"backward through {t._ctx.name} a second time: its buffers were freed by the "
                               "first backward. Pass retain_graph=True to the first call to keep them.")
        stack.append((t, True))  # comes back once every input below it is ordered
        for x in t._ctx.inputs:
            if x._ctx is not None and id(x) not in visited:
                stack.append((x, False))
    order.reverse()  # consumers first
    return order


def backward_step(y: Tensor, g: Tensor, lowered: dict | None = None) -> list[tuple[int, Tensor, Tensor, Tensor]]:
    """The one backward step: node ``y``'s VJPs for its upstream gradient ``g``, as
    ``(input index, input, the VJP as its rule returned it, the same in the input's shape and dtype)``.
    ``lowered``: faster rules to use where they exist (``LOWERED_VJPS``; see ``run_backward``)."""
    fn = y._ctx
    if WRITES.last != fn.clock:  # something was written in place since this node ran: was it ours?
        check_writes(fn, y)
    rule = type(fn).vjp
    if lowered is not None and not (y.level or g.level):
        rule = lowered.get(type(fn), rule)
    state = modes.state
    checked, inputs = state.anomaly, fn.inputs
    grads = []
    for i, needed in enumerate(fn.needs_input_grad):
        if needed:
            x = inputs[i]
            raw = modes.checked_vjp(rule, fn, i, g, y) if checked else rule(fn, i, g, y)
            if raw is None:  # the rule says: no gradient flows to this input (as a zero would)
                continue
            ok = isinstance(raw, Tensor) and raw.shape == x.shape and raw.dtype == x.dtype
            grads.append((i, x, raw, raw if ok else conform(fn, x, raw, y)))
    if state.watchers:
        for watch in state.watchers:
            watch(modes.GradientEvent(y, g, grads))
    return grads


def run_backward(roots: Sequence[Tensor], seeds: Sequence[Tensor], *, inputs: Sequence[Tensor] | None = None,
                 retain_graph: bool = False, create_graph: bool = False) -> list[Tensor | None] | None:
    """Propagate ``seeds`` (one per root) back through the graph, consumers first.

    Without ``inputs`` every leaf that requires grad gets its total *added* to ``.grad``
    (gradients accumulate across calls, as in PyTorch). With ``inputs`` the gradients of those
    tensors are returned (None where one does not influence the roots) and ``.grad`` is left alone.
    Each tensor's hooks (``register_hook``, ``retain_grad``) see its total gradient first.
    ``create_graph=True`` records the VJPs as a graph; otherwise the fast layer's rules may run."""
    order = topological_order(roots)
    wanted = None if inputs is None else {id(x): k for k, x in enumerate(inputs)}
    if wanted is not None:  # only the steps through which a wanted input reaches the roots
        useful = set(wanted)
        for t in reversed(order):  # producers first
            if any(id(x) in useful for x in t._ctx.inputs):
                useful.add(id(t))
        order = [t for t in order if id(t) in useful]  # (a wanted input's own node runs only if that leads on)
    lowered = LOWERED_VJPS if modes.state.fast and not create_graph else None
    grads: dict[int, Tensor] = {}  # id(tensor) -> its gradient so far
    leaves: dict[int, Tensor] = {}  # id(leaf) -> the leaves that received a gradient

    def deliver(x: Tensor, gx: Tensor) -> None:
        key = id(x)
        if wanted is not None and key not in useful:
            return
        if x._ctx is None:
            leaves[key] = x
        grads[key] = gx if key not in grads else grads[key] + gx

    results: list[Tensor | None] = [None] * len(inputs or ())
    state = modes.state
    saved_mode, state.grad_enabled = state.grad_enabled, create_graph  # the VJPs are recorded only if asked
    try:
        for root, seed in zip(roots, seeds):
            if root.requires_grad:
                deliver(root, seed)
        for t in order:
            steps = wanted is None or any(id(x) in useful for x in t._ctx.inputs)
            g = grads.pop(id(t), None)
            if g is not None:
                if t._hooks:
                    g = run_hooks(t, g)
                if wanted is not None and id(t) in wanted:
                    results[wanted[id(t)]] = g
                if steps:
                    for _, x, _, gx in backward_step(t, g, lowered):
                        deliver(x, gx)
            if steps and not retain_graph:
                t._ctx.release()
        for key, x in leaves.items():
            g = run_hooks(x, grads[key]) if x._hooks else grads[key]
            if wanted is not None:
                results[wanted[key]] = g
            else:
                x.grad = g if x.grad is None else x.grad + g
    finally:
        state.grad_enabled = saved_mode
    return None if inputs is None else results


def seeds(outputs: Sequence[Tensor], grad_outputs: Sequence[Any] | None) -> list[Tensor]:
    """The upstream gradients backward starts from: 1 for a one-element output, else given."""
    out = []
    for k, y in enumerate(outputs):
        g = None if grad_outputs is None else grad_outputs[k]
        if g is None:
            if y.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got shape {y.shape}. "
                                   "Pass gradient= (an array of that shape) to backward.")
            g = Tensor._wrap(np.ones(y.shape, dtype=y.dtype))
        elif not isinstance(g, Tensor):
            g = Tensor._wrap(np.array(g, dtype=y.dtype))
        if g.shape != y.shape:
            raise ValueError(f"gradient has shape {g.shape} but the output has shape {y.shape}")
        out.append(g)
    return out


def conform(fn: Function, x: Tensor, gx: Any, y: Tensor) -> Tensor:
    """``fn``'s VJP ``gx`` for input ``x`` in ``x``'s shape and dtype, the engine's invariant: summed
    back over the axes the forward broadcast ``x`` to, cast back where it promoted ``x``'s dtype
    to ``y``'s; any other mismatch is a wrong VJP, and raises naming the op."""
    shape, dtype = x.shape, x.dtype
    if not isinstance(gx, Tensor):
        raise _bad_gradient(fn, x, gx)
    if gx.shape != shape:
        if not _broadcasts_to(shape, gx.shape):
            raise _bad_gradient(fn, x, gx)
        gx = unbroadcast(gx, shape)
    if gx.dtype != dtype:
        if y.dtype == dtype or gx.dtype != y.dtype:  # not a promotion undone: a wrong VJP
            raise _bad_gradient(fn, x, gx)
        gx = gx.astype(dtype)
    return gx


def unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """``g`` summed back to ``shape``, which broadcasts to ``g``'s shape: over the leading axes
    broadcasting added and the axes where ``shape`` has size 1 (the VJP of broadcasting)."""
    if g.shape == shape:
        return g
    lead = g.ndim - len(shape)
    ones = tuple(lead + i for i, n in enumerate(shape) if n == 1 and g.shape[lead + i] != 1)
    return g.sum(axis=tuple(range(lead)) + ones, keepdims=True).reshape(shape)


def run_hooks(t: Tensor, g: Tensor) -> Tensor:
    """``t``'s hooks in turn on its total gradient ``g`` (a hook may return a replacement)."""
    for hook in t._hooks or ():
        new = hook(g)
        if new is not None:
            if not isinstance(new, Tensor) or new.shape != g.shape or new.dtype != g.dtype:
                raise RuntimeError(f"a hook returned {type(new).__name__} {getattr(new, 'shape', '')} for a "
                                   f"gradient of shape {g.shape} and dtype {g.dtype}")
            g = new
    return g


def as_array(data: Any, dtype: Any) -> np.ndarray:
    """``data`` as an ndarray: a Tensor's or an ndarray itself (cast to ``dtype`` if given);
    Python numbers and lists take NumPy's dtype, except that floats become float32."""
    if isinstance(data, Tensor):
        data = data._data
    arr = np.asarray(data)
    if dtype is None and arr.dtype == np.float64 and not isinstance(data, (np.ndarray, np.generic)):
        dtype = np.float32  # Python floats: float32 by default, like torch.tensor
    return arr if dtype is None else arr.astype(dtype, copy=False)


def _level(x: Tensor) -> int:
    return x.level


def _broadcasts_to(shape: tuple[int, ...], target: tuple[int, ...]) -> bool:
    """True if an array of ``shape`` broadcasts to exactly ``target``."""
    if len(shape) > len(target):
        return False
    return all(n == t or n == 1 for n, t in zip(shape, target[len(target) - len(shape):]))


def _bad_gradient(fn: Function, x: Tensor, gx: Any) -> RuntimeError:
    return RuntimeError(f"{fn.name}'s VJP returned {type(gx).__name__} of shape {getattr(gx, 'shape', '?')} and dtype "
                        f"{getattr(gx, 'dtype', '?')} for an input of shape {x.shape} and dtype {x.dtype}")
