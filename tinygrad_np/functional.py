"""JAX-style function transformations: grad, value_and_grad, vjp, jvp, linearize, jacrev, jacfwd,
jacobian, hessian, hvp and vmap.

Each takes a function ``f`` of Tensors (or arrays) and runs it on tracers of its own level
(``tracing.py``): reverse mode records a tape of its level (``reverse_mode.GradTracer``), forward
mode carries tangents (``forward_mode.Dual``), vmap carries a batch axis (``batching.Batched``).
So they compose in any order and any depth: ``grad(grad(f))``, ``jacfwd(jacrev(f))``,
``vmap(grad(f))`` (per-example gradients), ``jvp(grad(f))`` (Hessian-vector products by
forward over reverse), with no perturbation confusion. Arguments and results may be Tensors,
arrays or Python numbers, and tuples, lists or dicts of them (pytrees); derivatives come back in
the same structure as the arguments they are taken with respect to. Results are detached unless
they depend on a tensor that requires grad on the caller's side (then they are on its graph).
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

import numpy as np

from .batching import vmap
from .engine import Tensor
from .forward_mode import Dual
from .reverse_mode import GradTracer, lower, vjp_at_level
from .modes import enable_grad
from .tracing import as_tensor, flatten, new_level, tree_map, unflatten

Argnums = int | Sequence[int]

__all__ = ["grad", "value_and_grad", "vjp", "jvp", "linearize", "jacrev", "jacfwd", "jacobian", "hessian", "hvp",
           "vmap"]


# ----------------------------------------------------------------------------- helpers
def _argnums(argnums: Argnums, nargs: int, what: str) -> tuple[int, ...]:
    nums = (argnums,) if isinstance(argnums, (int, np.integer)) else tuple(argnums)
    if not nums:
        raise ValueError(f"{what}: argnums is empty")
    for i in nums:
        if not -nargs <= i < nargs:
            raise ValueError(f"{what}: argnums {argnums} out of range for {nargs} positional arguments")
    return tuple(int(i) % nargs for i in nums)


def _float_tensor(x: Any, what: str) -> Tensor:
    t = as_tensor(x)
    if t.dtype.kind != "f":
        raise TypeError(f"{what}: can only differentiate with respect to floating point inputs, got dtype {t.dtype} "
                        "(convert it, e.g. x.astype(np.float64))")
    return t


def _check_outputs(out: Any, what: str) -> list[Tensor]:
    leaves, _ = flatten(out)
    for y in leaves:
        if not isinstance(y, Tensor):
            raise TypeError(f"{what}: f must return a Tensor (or tuples/lists/dicts of Tensors), "
                            f"got {type(y).__name__}")
        if y.dtype.kind != "f":
            raise TypeError(f"{what}: f must return floating point Tensors, got dtype {y.dtype}")
    return leaves


def _like(v: Any, ref: Tensor, what: str) -> Tensor:
    """``v`` as a Tensor of ``ref``'s shape and dtype."""
    t = as_tensor(v)
    if t.dtype != ref.dtype:
        t = t.astype(ref.dtype) if isinstance(v, Tensor) else Tensor(np.asarray(v, dtype=ref.dtype))
    if t.shape != ref.shape:
        raise ValueError(f"{what}: got shape {t.shape}, expected {ref.shape}")
    return t


def _split_aux(result: Any, has_aux: bool, what: str) -> tuple[Any, Any]:
    if not has_aux:
        return result, None
    if not (isinstance(result, (tuple, list)) and len(result) == 2):
        raise TypeError(f"{what}: with has_aux=True, f must return a pair (output, aux), got {type(result).__name__}")
    return result[0], result[1]


def _with_tracers(args: Sequence[Any], nums: tuple[int, ...], make: Callable[[Tensor], Tensor], what: str
                  ) -> tuple[list[Any], list[list[Tensor]], list[Any]]:
    """``args`` with every leaf of the arguments ``nums`` replaced by ``make(leaf)``: (new args,
    the new leaves per argument, each argument's structure)."""
    args = list(args)
    made, structures = [], []
    for i in nums:
        leaves, structure = flatten(args[i])
        new = [make(_float_tensor(x, what)) for x in leaves]
        args[i] = unflatten(structure, new)
        made.append(new)
        structures.append(structure)
    return args, made, structures


# ----------------------------------------------------------------------------- reverse mode
def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """``(f(x), ∇f(x))`` for a scalar-valued ``f``: ∇ᵢf = ∂f/∂xᵢ, by one reverse pass.

    ``argnums`` an int: the gradient has that argument's structure; a tuple: a tuple of them.
    ``has_aux=True`` (as in JAX): ``f`` returns ``(scalar, aux)``; the result is ``((value, aux), grads)``."""

    @functools.wraps(f)
    def value_and_grad_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "grad")
        with new_level() as level:
            args2, leaves, structures = _with_tracers(args, nums, lambda x: GradTracer.wrap(level, x, True), "grad")
            with enable_grad():  # (a no_grad around grad is ignored; one inside f is respected, as in torch.func)
                out, aux = _split_aux(f(*args2), has_aux, "grad")
            if not isinstance(out, (tuple, list, dict)):
                _check_outputs(out, "grad")
            if not isinstance(out, Tensor) or out.size != 1:
                shape = out.shape if isinstance(out, Tensor) else f"a {type(out).__name__}"
                raise ValueError(f"grad: f must return a scalar (one-element) Tensor, got {shape}; use vjp or "
                                 "jacobian (jacrev) for other outputs"
                                 + ("" if has_aux else ", or has_aux=True if the rest is auxiliary"))
            flat = vjp_at_level(level, [out], [x for group in leaves for x in group], [None])
            value, aux = lower(out, level), tree_map(lambda a: lower(a, level), aux)
        grads, k = [], 0
        for group, structure in zip(leaves, structures):
            grads.append(unflatten(structure, flat[k:k + len(group)]))
            k += len(group)
        result = grads[0] if isinstance(argnums, (int, np.integer)) else tuple(grads)
        return ((value, aux) if has_aux else value), result

    return value_and_grad_f


def grad(f: Callable[..., Any], argnums: Argnums = 0, has_aux: bool = False) -> Callable[..., Any]:
    """∇f: the gradient of a scalar-valued ``f`` (see ``value_and_grad``); with ``has_aux``, ``(∇f, aux)``."""
    vg = value_and_grad(f, argnums, has_aux)

    @functools.wraps(f)
    def grad_f(*args: Any) -> Any:
        value, grads = vg(*args)
        return (grads, value[1]) if has_aux else grads

    return grad_f


def vjp(f: Callable[..., Any], *primals: Any, has_aux: bool = False) -> tuple:
    """``(f(x), vjp_fn)`` with ``vjp_fn(u) = uᵀJ``: a tuple of ∂⟨u, f⟩/∂xᵢ, one per primal.

    ``u`` (the cotangent) has ``f(x)``'s structure. ``f``'s graph is kept, so ``vjp_fn`` may be
    called many times (also inside ``vmap``, for a batch of cotangents in one pass). With
    ``has_aux``: ``(f(x), vjp_fn, aux)``."""
    if not primals:
        raise ValueError("vjp: no arguments to differentiate with respect to")
    with new_level() as level:
        args, leaves, structures = _with_tracers(primals, tuple(range(len(primals))),
                                                 lambda x: GradTracer.wrap(level, x, True), "vjp")
        with enable_grad():
            out, aux = _split_aux(f(*args), has_aux, "vjp")
        outs = _check_outputs(out, "vjp")
        value = tree_map(lambda y: lower(y, level), out)
        aux = tree_map(lambda a: lower(a, level), aux)
    flat_inputs = [x for group in leaves for x in group]

    def vjp_fn(cotangent: Any) -> tuple:
        cts, structure = flatten(cotangent)
        if len(cts) != len(outs):
            raise ValueError(f"vjp: {len(cts)} cotangents for {len(outs)} outputs")
        us = [_like(u, lower(y, level), "vjp cotangent") for u, y in zip(cts, outs)]
        flat = vjp_at_level(level, outs, flat_inputs, us)
        grads, k = [], 0
        for group, s in zip(leaves, structures):
            grads.append(unflatten(s, flat[k:k + len(group)]))
            k += len(group)
        return tuple(grads)

    return (value, vjp_fn, aux) if has_aux else (value, vjp_fn)


# ----------------------------------------------------------------------------- forward mode
def jvp(f: Callable[..., Any], primals: Any, tangents: Any, has_aux: bool = False) -> tuple:
    """``(f(x), J t)``, the Jacobian-vector product, in one forward pass carrying tangents.

    ``primals`` and ``tangents``: tuples with one entry per argument of ``f`` (or one Tensor each).
    The tangent output has ``f(x)``'s structure. With ``has_aux``: ``(f(x), J t, aux)``."""
    single = not isinstance(primals, (tuple, list))
    ps = (primals,) if single else tuple(primals)
    ts = (tangents,) if single and not isinstance(tangents, (tuple, list)) else tuple(tangents)
    if len(ps) != len(ts):
        raise ValueError(f"jvp: {len(ps)} primals but {len(ts)} tangents")
    with new_level() as level:
        args = []
        for p, t in zip(ps, ts):
            p_leaves, structure = flatten(p)
            t_leaves, t_structure = flatten(t)
            if len(t_leaves) != len(p_leaves):
                raise ValueError("jvp: a tangent's structure differs from its primal's")
            duals = []
            for x, v in zip(p_leaves, t_leaves):
                x = _float_tensor(x, "jvp")
                duals.append(Dual.of(level, x, _like(v, x, "jvp tangent")))
            args.append(unflatten(structure, duals))
        out, aux = _split_aux(f(*args), has_aux, "jvp")
        _check_outputs(out, "jvp")
        value = tree_map(lambda y: y.primal if isinstance(y, Dual) and y.level == level else y, out)
        tangent = tree_map(lambda y: _tangent_of(y, level), out)
        aux = tree_map(lambda a: a.primal if isinstance(a, Dual) and a.level == level else a, aux)
    return (value, tangent, aux) if has_aux else (value, tangent)


def _tangent_of(y: Tensor, level: int) -> Tensor:
    if isinstance(y, Dual) and y.level == level and y.tangent is not None:
        return y.tangent
    base = y.primal if isinstance(y, Dual) and y.level == level else y
    return base * 0.0  # an output that does not depend on the primals (zeros, in the value's structure)


def linearize(f: Callable[..., Any], *primals: Any) -> tuple[Any, Callable[..., Any]]:
    """``(f(x), f_jvp)`` with ``f_jvp(*tangents) = J t``, without running ``f`` again: ``f``'s graph is
    kept (as for ``vjp``), and ``J t`` is its VJP transposed, ``∂/∂u ⟨vjp(u), t⟩`` (linear in u)."""
    out, vjp_fn = vjp(f, *primals)
    outs = flatten(out)

    def f_jvp(*tangents: Any) -> Any:
        if len(tangents) != len(primals):
            raise ValueError(f"linearize: {len(tangents)} tangents for {len(primals)} primals")

        def pairing(*us: Any) -> Tensor:
            grads = vjp_fn(unflatten(outs[1], list(us)))
            total = None
            for g_tree, t_tree in zip(grads, tangents):
                for g, t in zip(flatten(g_tree)[0], flatten(t_tree)[0]):
                    term = (g * _like(t, g, "linearize tangent")).sum()
                    total = term if total is None else total + term
            return total

        zeros = [Tensor(np.zeros(y.shape, dtype=y.dtype)) for y in outs[0]]
        jt = grad(pairing, argnums=tuple(range(len(zeros))))(*zeros)
        return unflatten(outs[1], list(jt))

    return out, f_jvp


# ----------------------------------------------------------------------------- Jacobians
def jacrev(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """J[i..., j...] = ∂f(x)[i...] / ∂x[j...], of shape ``f(x).shape + x.shape``, by reverse mode:
    one VJP per output entry, all of them in one pass (``vmap`` over the basis of cotangents).
    ``argnums`` a tuple: a tuple of Jacobians; a tuple of outputs: a tuple (per output) of those."""

    @functools.wraps(f)
    def jacrev_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacrev")
        fixed = list(args)

        def g(*xs: Any) -> Any:
            full = list(fixed)
            for i, x in zip(nums, xs):
                full[i] = x
            return f(*full)

        out, vjp_fn = vjp(g, *[args[i] for i in nums])
        outs, structure = flatten(out)
        per_output = []
        for k, y in enumerate(outs):
            basis = Tensor(np.eye(y.size, dtype=y.dtype).reshape((y.size,) + y.shape))

            def row(u: Tensor, k: int = k) -> tuple:
                cts = [u if j == k else Tensor(np.zeros(o.shape, dtype=o.dtype)) for j, o in enumerate(outs)]
                return vjp_fn(unflatten(structure, cts))

            rows = vmap(row)(basis)  # one tuple entry per argument: (y.size,) + x.shape
            jacs = [tree_map(lambda r: r.reshape(y.shape + r.shape[1:]), rows[j]) for j in range(len(nums))]
            per_output.append(jacs[0] if isinstance(argnums, (int, np.integer)) else tuple(jacs))
        return unflatten(structure, per_output)

    return jacrev_f


jacobian = jacrev


def jacfwd(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """The Jacobian by forward mode: one JVP per input entry, all of them in one pass (``vmap`` over
    the basis of tangents); cheaper than ``jacrev`` for tall Jacobians (few inputs, many outputs)."""

    @functools.wraps(f)
    def jacfwd_f(*args: Any) -> Any:
        nums = _argnums(argnums, len(args), "jacfwd")
        xs = [_float_tensor(args[i], "jacfwd") for i in nums]
        fixed = list(args)

        def g(*ys: Any) -> Any:
            full = list(fixed)
            for i, y in zip(nums, ys):
                full[i] = y
            return f(*full)

        per_arg = []
        out_structure = None
        for j, x in enumerate(xs):
            basis = Tensor(np.eye(x.size, dtype=x.dtype).reshape((x.size,) + x.shape))

            def column(t: Tensor, j: int = j) -> Any:
                tangents = tuple(t if k == j else Tensor(np.zeros(z.shape, dtype=z.dtype)) for k, z in enumerate(xs))
                return jvp(g, tuple(xs), tangents)[1]

            cols = vmap(column)(basis)  # each output: (x.size,) + y.shape
            leaves, out_structure = flatten(cols)
            per_arg.append([c.transpose(tuple(range(1, c.ndim)) + (0,)).reshape(c.shape[1:] + x.shape)
                            for c in leaves])
        per_output = []
        for k in range(len(per_arg[0])):
            jacs = [per_arg[j][k] for j in range(len(xs))]
            per_output.append(jacs[0] if isinstance(argnums, (int, np.integer)) else tuple(jacs))
        return unflatten(out_structure, per_output)

    return jacfwd_f


def hessian(f: Callable[..., Tensor], argnums: Argnums = 0) -> Callable[..., Any]:
    """H[i..., j...] = ∂²f / ∂x[i...] ∂x[j...] of a scalar ``f``: ``jacfwd(jacrev(f))``, of shape
    ``x.shape + x.shape``; with a tuple ``argnums``, nested tuples ``H[a][b] = ∂²f/∂x_a∂x_b``."""
    return jacfwd(jacrev(f, argnums), argnums)


def hvp(f: Callable[..., Tensor], primals: Any, v: Any) -> Any:
    """H v, the Hessian of a scalar ``f`` at ``primals`` times ``v``, without forming H: forward mode
    over reverse mode, ``jvp(grad(f), x, v)``, about the cost of two gradients. ``primals`` and ``v``
    are tuples (the result is then a tuple, ``Σ_b H[a][b] v_b`` per argument) or one Tensor each."""
    single = not isinstance(primals, (tuple, list))
    ps = (primals,) if single else tuple(primals)
    vs = (v,) if single and not isinstance(v, (tuple, list)) else tuple(v)
    nums = tuple(range(len(ps)))
    _, hv = jvp(grad(f, nums), ps, vs)
    return hv[0] if single else hv
