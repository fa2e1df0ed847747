"""JAX-style function transformations on top of the reverse-mode engine.

``grad``, ``value_and_grad``, ``vjp``, ``jvp``, ``jacobian``, ``hessian`` and ``hvp`` take a
function ``f`` of Tensors (or float ndarrays) that returns a Tensor, and give derivatives of
``f`` as Tensors. They compose: ``grad(grad(f))``, ``jacobian(grad(f))``, a ``grad`` of a
function that itself calls ``grad``...

How nesting works. Each call differentiates with respect to *its own* copy of each input:
a fresh leaf, or, when the input is already on a graph that an enclosing differentiation
records (it requires grad), a new identity node on top of it, so the outer graph is not cut
(and a closure over the same tensor stays a constant for this call: no perturbation
confusion). If ``f``'s output reaches an "outer" leaf, i.e. a user tensor that requires grad
or a copy made by an enclosing call still running (through an argument or a closure), the
VJPs are recorded with ``create_graph=True`` and the results stay differentiable for the
outer call; otherwise they are computed without a graph and returned detached. Graphs are
always retained (``retain_graph=True``): they may be shared with a ``vjp_fn`` or an enclosing
call, and Python frees them when the last reference goes.
"""
from __future__ import annotations

import functools
import weakref
from typing import Any, Callable, Sequence

import numpy as np

from .autograd import grad as autograd_grad
from .engine import Tensor
from .functions import stack
from .modes import enable_grad, is_grad_enabled

Argnums = int | Sequence[int]

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "jacobian", "hessian", "hvp"]


# ----------------------------------------------------------------------------- helpers
def _as_float_tensor(x: Any, what: str) -> Tensor:
    """A Tensor for ``x``: Tensors as they are, arrays keep their float dtype, Python numbers
    and lists become the default float dtype. Integer inputs cannot be differentiated."""
    t = x if isinstance(x, Tensor) else Tensor(x)
    if t.dtype.kind != "f":
        raise TypeError(f"{what}: can only differentiate with respect to floating point inputs, "
                        f"got dtype {t.dtype} (convert it, e.g. x.astype(np.float64))")
    return t


# The leaves the transformations create (id -> tensor, forgotten when the tensor dies), and the
# stack of those of the transformations whose ``f`` is running: only these are "outer" variables.
_private: "weakref.WeakValueDictionary[int, Tensor]" = weakref.WeakValueDictionary()
_active: list[set[int]] = []


def _own_copy(x: Tensor, outer_mode: bool) -> Tensor:
    """The tensor one transformation differentiates with respect to. An input that requires
    grad while grad mode is on may belong to an enclosing differentiation: keep it on the graph
    through an identity node (distinct from ``x``, so closures over ``x`` stay constants here).
    Otherwise a fresh leaf."""
    if outer_mode and x.requires_grad:
        return Tensor.apply("reshape", x, shape=x.shape)
    return _fresh_leaf(x.data)


def _fresh_leaf(data: np.ndarray) -> Tensor:
    leaf = Tensor(data, requires_grad=True)
    _private[id(leaf)] = leaf
    return leaf


def _argnums(argnums: Argnums, nargs: int, what: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    if not nums:
        raise ValueError(f"{what}: argnums is empty")
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{what}: argnums {argnums} out of range for {nargs} positional arguments")
    return tuple(int(i) % nargs for i in nums)


def _outputs(out: Any, what: str) -> tuple[Tensor, ...]:
    outs = tuple(out) if isinstance(out, (tuple, list)) else (out,)
    for y in outs:
        if not isinstance(y, Tensor):
            raise TypeError(f"{what}: f must return a Tensor (or a tuple of Tensors), got {type(y).__name__}")
        if y.dtype.kind != "f":
            raise TypeError(f"{what}: f must return floating point Tensors, got dtype {y.dtype}")
    return outs


def _is_outer_leaf(t: Tensor) -> bool:
    """A leaf requiring grad that someone may still differentiate with respect to: a user's
    tensor, or the leaf of a transformation whose ``f`` is running (it encloses us). The leaves
    of finished transformations are constants now."""
    if id(t) not in _private:
        return True
    return any(id(t) in frame for frame in _active)


def _reaches_outer(outs: Sequence[Tensor]) -> bool:
    """True if the graph of ``outs`` reaches an outer leaf (see ``_is_outer_leaf``): then an
    enclosing differentiation needs the derivatives we compute to be differentiable."""
    stack_, seen = list(outs), set()
    while stack_:
        t = stack_.pop()
        if id(t) in seen or not t.requires_grad:
            continue
        seen.add(id(t))
        if t._ctx is None:
            if _is_outer_leaf(t):
                return True
        elif t._ctx.released:
            return True  # a freed graph: let the engine report it
        else:
            stack_.extend(t._ctx.inputs)
    return False


def _trace(f: Callable[..., Any], args: Sequence[Any], nums: tuple[int, ...], what: str):
    """Run ``f`` with args ``nums`` replaced by their own copies.
    Returns (copies, raw output, output tuple, outer): outer is True when results must keep a graph."""
    if not nums:
        raise ValueError(f"{what}: no arguments to differentiate with respect to")
    outer_mode = is_grad_enabled()
    args = list(args)
    with enable_grad():
        xs = [_own_copy(_as_float_tensor(args[i], what), outer_mode) for i in nums]
        for i, x in zip(nums, xs):
            args[i] = x
        _active.append({id(x) for x in xs})
        try:
            out = f(*args)
        finally:
            _active.pop()
    outs = _outputs(out, what)
    return xs, out, outs, outer_mode and _reaches_outer(outs)


def _structured(out: Any, parts: Sequence[Any]) -> Any:
    """``parts`` (one per output) shaped like ``out``: a single item or a tuple."""
    return tuple(parts) if isinstance(out, (tuple, list)) else parts[0]


def _detached(out: Any, outer: bool) -> Any:
    if outer:
        return out
    return _structured(out, [y.detach() for y in _outputs(out, "detach")])


def _detached_tree(value: Any, outer: bool) -> Any:
    """``value`` with every Tensor in it (through tuples, lists and dicts) detached, unless ``outer``."""
    if outer:
        return value
    if isinstance(value, Tensor):
        return value.detach()
    if isinstance(value, (tuple, list)):
        return type(value)(_detached_tree(v, outer) for v in value)
    if isinstance(value, dict):
        return {k: _detached_tree(v, outer) for k, v in value.items()}
    return value


def _like(v: Any, ref: Tensor, what: str) -> Tensor:
    """``v`` as a Tensor of ``ref``'s shape and dtype (a Tensor that requires grad is kept as is)."""
    t = v if isinstance(v, Tensor) and v.dtype == ref.dtype else Tensor(np.asarray(
        v.data if isinstance(v, Tensor) else v, dtype=ref.dtype))
    if t.shape != ref.shape:
        raise ValueError(f"{what}: got shape {t.shape}, expected {ref.shape}")
    return t


def _pair(primals: Any, vectors: Any, what: str) -> tuple[tuple, tuple, bool]:
    """Normalise (primals, tangents): tuples/lists of the same length, or one tensor each."""
    single = not isinstance(primals, (tuple, list))
    ps = (primals,) if single else tuple(primals)
    vs = (vectors,) if single and not isinstance(vectors, (tuple, list)) else tuple(vectors)
    if len(ps) != len(vs):
        raise ValueError(f"{what}: {len(ps)} primals but {len(vs)} tangent vectors")
    return ps, vs, single


def _dot(us: Sequence[Tensor], vs: Sequence[Tensor]) -> Tensor:
    """Σ_k ⟨u_k, v_k⟩ as a scalar Tensor."""
    total = None
    for u, v in zip(us, vs):
        term = (u * v).sum()
        total = term if total is None else total + term
    return total


# ----------------------------------------------------------------------------- transformations
def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False
                   ) -> Callable[..., tuple[Any, Any]]:
    """``(f(x), ∇f(x))`` for a scalar-valued ``f``: ∇_i f = ∂f/∂x_i, one reverse pass (seed 1).

    ``argnums`` int: the gradient is a Tensor shaped like that argument; tuple: a tuple of them.
    ``has_aux=True`` (as in JAX): ``f`` returns a pair ``(scalar, aux)``, only the scalar is
    differentiated, and the result is ``((f(x), aux), ∇f(x))``. ``aux`` is any Python value,
    passed through; Tensors in it (also inside tuples, lists and dicts) come back detached,
    like the value, unless an enclosing differentiation still needs their graph.
    """

    @functools.wraps(f)
    def value_and_grad_f(*args: Any) -> tuple[Any, Any]:
        nums = _argnums(argnums, len(args), "grad")
        aux: list[Any] = []

        def main(*a: Any) -> Any:  # f without its aux output
            result = f(*a)
            if not (isinstance(result, (tuple, list)) and len(result) == 2):
                raise TypeError(f"grad: with has_aux=True, f must return a pair (scalar Tensor, aux), "
                                f"got {type(result).__name__}")
            aux.append(result[1])
            return result[0]

        xs, out, outs, outer = _trace(main if has_aux else f, args, nums, "grad")
        if isinstance(out, (tuple, list)) or out.size != 1:
            shape = out.shape if isinstance(out, Tensor) else f"a tuple of {len(outs)}"
            raise ValueError(f"grad: f must return a scalar (one-element) Tensor, got {shape}; "
                             "use jacobian or vjp for non-scalar outputs" + ("" if has_aux else
                             ", or has_aux=True if the rest is auxiliary data"))
        grads = autograd_grad(out, xs, retain_graph=True, create_graph=outer, allow_unused=True)
        value = _detached(out, outer)
        grads = grads[0] if isinstance(argnums, (int, np.integer)) else tuple(grads)
        return ((value, _detached_tree(aux[0], outer)) if has_aux else value), grads

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """∇f: the gradient of a scalar-valued ``f`` w.r.t. argument(s) ``argnums`` (see ``value_and_grad``).
    With ``has_aux=True``, ``f`` returns ``(scalar, aux)`` and the result is ``(∇f, aux)``."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def grad_f(*args: Any) -> Any:
        value, grads = vg(*args)
        return (grads, value[1]) if has_aux else grads

    return grad_f


def vjp(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[[Any], tuple[Tensor, ...]]]:
    """``(f(x), vjp_fn)`` where ``vjp_fn(u) = uᵀJ``: a tuple with ∂(u·f)/∂x_i for every primal.

    ``u`` (the cotangent) has ``f(x)``'s shape (a tuple of them if f returns a tuple). One
    reverse pass per call; the graph is kept so ``vjp_fn`` can be called many times. If ``u``
    requires grad the result is differentiable in ``u`` (``uᵀJ`` is linear in ``u``).
    """
    xs, out, outs, outer = _trace(f, primals, tuple(range(len(primals))), "vjp")

    def vjp_fn(cotangent: Any) -> tuple[Tensor, ...]:
        cts = cotangent if isinstance(out, (tuple, list)) else (cotangent,)
        if len(cts) != len(outs):
            raise ValueError(f"vjp: {len(cts)} cotangents for {len(outs)} outputs")
        us = [_like(u, y, "vjp cotangent") for u, y in zip(cts, outs)]
        create = outer or (is_grad_enabled() and any(u.requires_grad for u in us))
        return autograd_grad(list(outs), xs, grad_outputs=us, retain_graph=True,
                             create_graph=create, allow_unused=True)

    return _detached(out, outer), vjp_fn


def jvp(f: Callable[..., Any], primals: Any, tangents: Any) -> tuple[Any, Any]:
    """``(f(x), J t)``, the Jacobian-vector product, by the double-VJP trick (reverse mode only).

    With ``u`` a dummy cotangent, ``g(u) = uᵀJ`` is linear in ``u``, so
    ``J t = ∂/∂u ⟨g(u), t⟩``: one reverse pass with ``create_graph=True`` builds ``g(u)``
    as a graph, a second one differentiates ``⟨g(u), t⟩`` w.r.t. ``u`` (any value of ``u``
    works: we use zeros). ``primals`` and ``tangents`` are tuples (or one Tensor each).
    """
    ps, ts, _ = _pair(primals, tangents, "jvp")
    xs, out, outs, outer = _trace(f, ps, tuple(range(len(ps))), "jvp")
    ts = [_like(t, x, "jvp tangent") for t, x in zip(ts, xs)]
    us = [_fresh_leaf(np.zeros_like(y.data)) for y in outs]
    g = autograd_grad(list(outs), xs, grad_outputs=us, retain_graph=True, create_graph=True, allow_unused=True)
    create = outer or (is_grad_enabled() and any(t.requires_grad for t in ts))
    jt = autograd_grad(_dot(g, ts), us, retain_graph=True, create_graph=create, allow_unused=True)
    return _detached(out, outer), _structured(out, jt)


def jacobian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """J[i..., j...] = ∂f(x)[i...] / ∂x[j...], of shape ``f(x).shape + x.shape`` (like jax.jacrev).

    Reverse mode, one VJP per output entry: row i is e_iᵀJ. ``argnums`` tuple: a tuple of
    Jacobians, one per argument; if f returns a tuple, a tuple (per output) of those.
    """

    @functools.wraps(f)
    def jacobian_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacobian")
        xs, out, outs, outer = _trace(f, args, nums, "jacobian")
        per_output = []
        for y in outs:
            rows = [autograd_grad(y, xs, grad_outputs=_basis(y, k), retain_graph=True,
                                  create_graph=outer, allow_unused=True) for k in range(y.size)]
            jacs = [_rows_to_jacobian([r[j] for r in rows], y, x) for j, x in enumerate(xs)]
            per_output.append(jacs[0] if isinstance(argnums, (int, np.integer)) else tuple(jacs))
        return _structured(out, per_output)

    return jacobian_f


def _basis(y: Tensor, k: int) -> Tensor:
    e = np.zeros(y.size, dtype=y.dtype)
    e[k] = 1
    return Tensor(e.reshape(y.shape))


def _rows_to_jacobian(rows: list[Tensor], y: Tensor, x: Tensor) -> Tensor:
    if not rows:
        return Tensor(np.zeros(y.shape + x.shape, dtype=x.dtype))
    return stack(rows).reshape(y.shape + x.shape)


def hessian(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """H[i..., j...] = ∂²f / ∂x[i...] ∂x[j...] of a scalar ``f``: ``jacobian(grad(f))``, of shape
    ``x.shape + x.shape``. ``argnums`` tuple: nested tuples ``H[a][b] = ∂²f/∂x_a∂x_b``."""
    return jacobian(grad(f, argnums), argnums)


def hvp(f: Callable[..., Tensor], primals: Any, v: Any) -> Any:
    """H v, the Hessian of a scalar ``f`` at ``primals`` times ``v``, without forming H.

    Reverse over reverse: H v = ∇_x ⟨∇f(x), v⟩ (H is symmetric, so this is also vᵀH), two
    reverse passes. ``primals`` and ``v`` are tuples (the result is then a tuple, one block
    ``Σ_b H[a][b] v_b`` per argument) or one Tensor each (the result is one Tensor).
    """
    ps, vs, single = _pair(primals, v, "hvp")
    nums = tuple(range(len(ps)))
    vs = [_like(t, _as_float_tensor(p, "hvp"), "hvp vector") for t, p in zip(vs, ps)]

    def grad_dot_v(*xs: Tensor) -> Tensor:
        return _dot(grad(f, nums)(*xs), vs)

    hv = grad(grad_dot_v, nums)(*ps)
    return hv[0] if single else hv
