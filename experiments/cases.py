"""Seeded per-op input generators for the experiments (they do not depend on the tests folder).

``seeded_case(name, seed, k)`` draws example number ``k`` of registry op ``name``: float64
inputs inside the op's domain and away from its kinks and ties (so finite differences are
meaningful), the op's keyword parameters, and its constant inputs (``where``'s condition,
``cross_entropy``'s labels), which are not differentiated. Shapes are small (at most 4 per side,
3 dims). The comparisons and argmax/argmin have no gradient but a batching rule: they have
generators too.

``batch_plan(case)`` turns an example into a batch of examples for ``vmap``: a batch size, each
input's batch axis (or None: shared by every example) and the stacked inputs, drawn from a seed
that depends only on the example (so every check of the same example sees the same plan).

A ``Case`` applies an op given by name or by class (``Tensor.apply`` takes either), so the
experiments can run a subclass of the op's class (a mutant) without touching the registry.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from tinygrad_np import Function, Tensor

Rng = np.random.Generator
GAP = 0.1  # minimum distance from a kink / between compared values (>> gradcheck's eps)


@dataclass
class Case:
    """One drawn example of op ``name``.

    ``inputs`` are the differentiable inputs (float64, in the op's input order), ``constants``
    the other inputs by position (``where``'s condition at 0, ``cross_entropy``'s labels at 1),
    ``params`` the keyword parameters. ``apply(op, *xs)`` runs ``op`` (a name or a Function
    class) on ``xs`` with the constants put back in their places.
    """

    name: str
    inputs: list[np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)
    constants: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def positions(self) -> list[int]:
        """The position of each differentiable input among the op's inputs."""
        n = len(self.inputs) + len(self.constants)
        return [k for k in range(n) if k not in self.constants]

    def all_inputs(self, xs: Sequence[Any]) -> list[Any]:
        """``xs`` (one per differentiable input) with the constant inputs inserted, as Tensors."""
        out = list(xs)
        for pos in sorted(self.constants):
            out.insert(pos, Tensor(self.constants[pos]))
        return out

    def apply(self, op: str | type[Function], *xs: Tensor) -> Tensor:
        return Tensor.apply(op, *self.all_inputs(xs), **self.params)

    def fn(self, *xs: Tensor) -> Tensor:
        """The registry op on ``xs``: ``Tensor.apply(name, ...)``."""
        return self.apply(self.name, *xs)

    def fn_for(self, op: str | type[Function]) -> Callable[..., Tensor]:
        """``fn`` with ``op`` (e.g. a subclass of the op's class) in place of the registry op."""
        return lambda *xs: self.apply(op, *xs)

    def describe(self) -> str:
        shapes = ", ".join(str(x.shape) for x in self.inputs)
        extra = {k: (v.shape if isinstance(v, np.ndarray) else v) for k, v in self.params.items()}
        return f"{self.name}[{shapes}]" + (f" {extra}" if extra else "")


# ----------------------------------------------------------------------------- helpers
def shape(rng: Rng, min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> tuple[int, ...]:
    return tuple(int(s) for s in rng.integers(1, max_side + 1, size=int(rng.integers(min_dims, max_dims + 1))))


def uniform(rng: Rng, shp: tuple[int, ...], lo: float = -2.0, hi: float = 2.0) -> np.ndarray:
    return np.asarray(rng.uniform(lo, hi, size=shp), dtype=np.float64)


def off_kink(rng: Rng, shp: tuple[int, ...], lo: float = GAP, hi: float = 2.0) -> np.ndarray:
    """Values with |x| in [lo, hi] and a random sign."""
    return uniform(rng, shp, lo, hi) * rng.choice([-1.0, 1.0], size=shp)


def distinct(rng: Rng, shp: tuple[int, ...]) -> np.ndarray:
    """Entries at least 0.25 apart (no ties for max/min, no zero spread for std)."""
    n = int(np.prod(shp, dtype=int))
    return ((rng.permutation(n) - n / 2) * 0.25 + rng.uniform(0, 0.05)).reshape(shp)


def broadcast_pair(rng: Rng) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """Two shapes that broadcast together; about half the draws actually broadcast."""
    base = shape(rng, 1, 3)

    def variant() -> tuple[int, ...]:
        s = list(base)
        if rng.random() < 0.25:
            s = s[int(rng.integers(0, len(s) + 1)):]
        return tuple(1 if rng.random() < 0.25 else n for n in s)

    return variant(), variant()


def axis_keepdims(rng: Rng, shp: tuple[int, ...]) -> dict[str, Any]:
    nd = len(shp)
    r = rng.random()
    if nd == 0 or r < 0.2:
        axis: Any = None
    elif r < 0.7 or nd == 1:
        axis = int(rng.integers(-nd, nd))
    else:
        axis = tuple(sorted(rng.choice(nd, size=2, replace=False).tolist()))
    return {"axis": axis, "keepdims": bool(rng.random() < 0.4)}


def reduced_count(shp: tuple[int, ...], axis: Any) -> int:
    axes = range(len(shp)) if axis is None else [axis] if isinstance(axis, int) else axis
    return int(np.prod([shp[a] for a in axes], dtype=int))


def index_for(rng: Rng, shp: tuple[int, ...]) -> Any:
    """A basic, integer-array (with repeats) or boolean-mask index into an array of shape ``shp``."""
    r = rng.random()
    if r < 0.3:
        start = int(rng.integers(0, shp[0]))
        return slice(start, int(rng.integers(start + 1, shp[0] + 1)))
    if r < 0.45:
        return int(rng.integers(-shp[0], shp[0]))
    if r < 0.8:
        idx = rng.integers(0, shp[0], size=int(rng.integers(1, 6)))
        return idx if len(shp) == 1 or rng.random() < 0.5 else (idx, slice(None))
    mask = rng.random(shp[:1]) < 0.6
    mask[int(rng.integers(0, shp[0]))] = True
    return mask


def factor_shape(rng: Rng, size: int) -> tuple[int, ...]:
    """A random shape with ``size`` entries (prime factors grouped at random, maybe a 1 inserted)."""
    factors, n, p = [], size, 2
    while n > 1:
        while n % p == 0:
            factors.append(p)
            n //= p
        p += 1
    rng.shuffle(factors)
    groups: list[int] = []
    for f in factors:
        if groups and rng.random() < 0.5:
            groups[-1] *= f
        else:
            groups.append(f)
    if rng.random() < 0.3:
        groups.insert(int(rng.integers(0, len(groups) + 1)), 1)
    return tuple(groups)


# ----------------------------------------------------------------------------- generators
# Each returns (differentiable inputs, params) or (inputs, params, constants by position).
def _unary(values: Callable[[Rng, tuple], np.ndarray], min_dims: int = 0) -> Callable[[Rng], tuple]:
    return lambda rng: ([values(rng, shape(rng, min_dims))], {})


def _binary(values_b: Callable[[Rng, tuple], np.ndarray] = uniform,
            values_a: Callable[[Rng, tuple], np.ndarray] = uniform) -> Callable[[Rng], tuple]:
    def draw(rng: Rng) -> tuple:
        sa, sb = broadcast_pair(rng)
        return [values_a(rng, sa), values_b(rng, sb)], {}

    return draw


def _separated(rng: Rng) -> tuple:
    sa, sb = broadcast_pair(rng)
    for _ in range(200):
        a, b = uniform(rng, sa), uniform(rng, sb)
        if np.min(np.abs(np.subtract(a, b)), initial=1.0) >= GAP:
            return [a, b], {}
    a = uniform(rng, sa)
    return [a, a + 0.5], {}  # fallback: same shapes, entries 0.5 apart


def _where(rng: Rng) -> tuple:
    sa, sb = broadcast_pair(rng)
    sc = np.broadcast_shapes(sa, sb)
    return [uniform(rng, sa), uniform(rng, sb)], {}, {0: rng.random(sc) < 0.5}


def _clip(rng: Rng) -> tuple:
    lo, hi = float(rng.uniform(-1.0, 0.0)), float(rng.uniform(0.2, 1.0))
    r = rng.random()
    lo_, hi_ = (None, hi) if r < 0.2 else (lo, None) if r < 0.4 else (lo, hi)
    shp = shape(rng)
    x = uniform(rng, shp)
    for bound in (lo, hi):  # push values away from the bounds
        near = np.abs(x - bound) < GAP
        x = np.where(near, x + 2 * GAP * np.sign(x - bound + 1e-12), x)
    return [np.asarray(x)], {"lo": lo_, "hi": hi_}


def _leaky(rng: Rng) -> tuple:
    return [off_kink(rng, shape(rng))], {"negative_slope": float(rng.choice([0.01, 0.1, 0.5, 2.0]))}


def _cast(rng: Rng) -> tuple:
    """float64 to float64 (a float64 finite difference cannot see through a cast to float32)."""
    return [uniform(rng, shape(rng))], {"dtype": np.dtype(np.float64)}


def _matmul(rng: Rng) -> tuple:
    """1-D/2-D/batched operands; square matrices in half the draws (where a transposed VJP typechecks)."""
    if rng.random() < 0.5:
        n = k = m = int(rng.integers(2, 5))
    else:
        n, k, m = (int(v) for v in rng.integers(1, 5, size=3))
    kinds = rng.choice(["1d", "2d", "2d", "batched"], size=2)
    batch = (int(rng.integers(1, 4)),)
    sa = (k,) if kinds[0] == "1d" else (n, k) if kinds[0] == "2d" else batch + (n, k)
    sb = (k,) if kinds[1] == "1d" else (k, m) if kinds[1] == "2d" else batch + (k, m)
    return [uniform(rng, sa), uniform(rng, sb)], {}


def _linear_inputs(rng: Rng) -> list[np.ndarray]:
    """x (..., n_in) with 1-2 batch dims, W (n_in, n_out) and, in 70% of the draws, a bias (n_out,)."""
    n_in, n_out = (int(v) for v in rng.integers(1, 5, size=2))
    batch = shape(rng, 1, 2, 3)
    inputs = [uniform(rng, batch + (n_in,)), uniform(rng, (n_in, n_out))]
    if rng.random() < 0.7:
        inputs.append(uniform(rng, (n_out,)))
    return inputs


def _linear(rng: Rng) -> tuple:
    return _linear_inputs(rng), {}


def _linear_act(rng: Rng) -> tuple:
    """linear's inputs and an activation; ReLU's pre-activations are redrawn until they are off its
    kink (tanh is used if 100 draws do not manage)."""
    inputs = _linear_inputs(rng)
    activation = ("relu", "tanh", "sigmoid")[int(rng.integers(3))]
    if activation == "relu":
        for _ in range(100):
            z = inputs[0] @ inputs[1] + (inputs[2] if len(inputs) == 3 else 0.0)
            if np.all(np.abs(z) >= GAP):
                break
            inputs = [uniform(rng, x.shape) for x in inputs]
        else:
            activation = "tanh"
    return inputs, {"activation": activation}


def _reduction(values: Callable[[Rng, tuple], np.ndarray] = uniform) -> Callable[[Rng], tuple]:
    def draw(rng: Rng) -> tuple:
        shp = shape(rng, 1)
        return [values(rng, shp)], axis_keepdims(rng, shp)

    return draw


def _var(std: bool) -> Callable[[Rng], tuple]:
    """Any axis/keepdims and ddof 0 or 1 (1 only where each output averages > 1 entry); for std
    distinct values over at least 2 entries (no zero spread, where its VJP is taken as 0)."""

    def draw(rng: Rng) -> tuple:
        shp = shape(rng, 1)
        params = axis_keepdims(rng, shp)
        n = reduced_count(shp, params["axis"])
        if std and n < 2:
            shp, params = (2,) + shp, {"axis": 0, "keepdims": params["keepdims"]}
            n = 2
        params["ddof"] = int(rng.integers(0, 2)) if n > 1 else 0
        return [distinct(rng, shp) if std else uniform(rng, shp)], params

    return draw


def _softmax_like(rng: Rng) -> tuple:
    shp = shape(rng, 1)
    return [uniform(rng, shp, -3.0, 3.0)], {"axis": int(rng.integers(-len(shp), len(shp)))}


def _reshape(rng: Rng) -> tuple:
    shp = shape(rng)
    return [uniform(rng, shp)], {"shape": factor_shape(rng, int(np.prod(shp, dtype=int)))}


def _transpose(rng: Rng) -> tuple:
    shp = shape(rng, 2)
    return [uniform(rng, shp)], {"axes": tuple(rng.permutation(len(shp)).tolist())}


def _expand(rng: Rng) -> tuple:
    target = shape(rng, 1)
    lead = int(rng.integers(0, len(target) + 1))
    small = tuple(1 if rng.random() < 0.5 else n for n in target[lead:])
    return [uniform(rng, small)], {"shape": target}


def _getitem(rng: Rng) -> tuple:
    shp = shape(rng, 1)
    return [uniform(rng, shp)], {"index": index_for(rng, shp)}


def _scatter_add(rng: Rng) -> tuple:
    shp = shape(rng, 1)
    index = index_for(rng, shp)
    return [uniform(rng, np.empty(shp)[index].shape)], {"index": index, "shape": shp}


def _concatenate(rng: Rng) -> tuple:
    base = shape(rng, 1)
    axis = int(rng.integers(0, len(base)))
    k = int(rng.integers(1, 4))
    shapes = [base[:axis] + (int(rng.integers(1, 4)),) + base[axis + 1:] for _ in range(k)]
    return [uniform(rng, s) for s in shapes], {"axis": axis}


def _stack(rng: Rng) -> tuple:
    shp = shape(rng, 0, 2)
    k = int(rng.integers(1, 4))
    return [uniform(rng, shp) for _ in range(k)], {"axis": int(rng.integers(0, len(shp) + 1))}


def _index_reduction(rng: Rng) -> tuple:
    """argmax/argmin: distinct values (no ties), axis None or one axis, keepdims or not."""
    shp = shape(rng, 1)
    axis = None if rng.random() < 0.3 else int(rng.integers(-len(shp), len(shp)))
    return [distinct(rng, shp)], {"axis": axis, "keepdims": bool(rng.random() < 0.4)}


def _cross_entropy(rng: Rng) -> tuple:
    n, c = (int(v) for v in rng.integers(1, 5, size=2))
    return ([uniform(rng, (n, c), -3.0, 3.0)], {"reduction": str(rng.choice(["mean", "sum", "none"]))},
            {1: rng.integers(0, c, size=n)})


_DRAW: dict[str, Callable[[Rng], tuple]] = {
    "add": _binary(), "sub": _binary(), "mul": _binary(),
    "div": _binary(values_b=lambda r, s: off_kink(r, s, 0.5, 2.0)),
    "pow": _binary(values_b=uniform, values_a=lambda r, s: uniform(r, s, 0.5, 2.5)),
    "neg": _unary(uniform), "exp": _unary(uniform),
    "log": _unary(lambda r, s: uniform(r, s, 0.2, 3.0)), "sqrt": _unary(lambda r, s: uniform(r, s, 0.2, 3.0)),
    "abs": _unary(off_kink), "sign": _unary(off_kink), "tanh": _unary(uniform),
    "sigmoid": _unary(lambda r, s: uniform(r, s, -4.0, 4.0)),
    "relu": _unary(off_kink), "leaky_relu": _leaky,
    "maximum": _separated, "minimum": _separated, "where": _where, "clip": _clip, "cast": _cast,
    "matmul": _matmul, "linear": _linear, "linear_act": _linear_act,
    "sum": _reduction(), "mean": _reduction(), "var": _var(std=False), "std": _var(std=True),
    "max": _reduction(distinct), "min": _reduction(distinct), "logsumexp": _reduction(),
    "softmax": _softmax_like, "log_softmax": _softmax_like,
    "reshape": _reshape, "transpose": _transpose, "expand": _expand,
    "getitem": _getitem, "scatter_add": _scatter_add, "concatenate": _concatenate, "stack": _stack,
    "cross_entropy": _cross_entropy,
    # no gradient (integer or boolean results), but a batching rule (the mutants' ``batch`` mode)
    "argmax": _index_reduction, "argmin": _index_reduction,
    "less": _binary(), "less_equal": _binary(), "greater": _binary(), "greater_equal": _binary(),
    "equal": _binary(), "not_equal": _binary(),
}


def draw_case(name: str, rng: Rng) -> Case:
    """One random example of op ``name`` (KeyError if the op has no generator)."""
    drawn = _DRAW[name](rng)
    inputs, params = drawn[0], drawn[1]
    constants = drawn[2] if len(drawn) > 2 else {}
    return Case(name, [np.asarray(x, dtype=np.float64) for x in inputs], params, constants)


def has_generator(name: str) -> bool:
    return name in _DRAW


def seeded_case(name: str, seed: int, k: int) -> Case:
    """Example number ``k`` of op ``name`` for run seed ``seed`` (stable across runs and op order)."""
    key = sum(ord(c) * 31 ** i for i, c in enumerate(name)) % (2 ** 31)
    return draw_case(name, np.random.default_rng([seed, key, k]))


# ----------------------------------------------------------------------------- batches of examples
@dataclass
class BatchPlan:
    """A batch of ``size`` examples made from one ``Case``: example k's differentiable inputs are the
    case's times positive factors in [0.5, 1.5] drawn per entry (signs, order of magnitude and domain
    kept: log's inputs stay positive); ``in_axes[i]`` is input i's batch axis in ``stacked[i]``, or
    None for an input shared by every example (``stacked[i]`` is then the case's own input). The
    constant inputs are shared."""

    size: int
    in_axes: tuple[int | None, ...]
    stacked: list[np.ndarray]
    examples: list[list[np.ndarray]]  # examples[k][i]: input i of example k

    def shared(self) -> list[int]:
        return [i for i, ax in enumerate(self.in_axes) if ax is None]


def _plan_seed(case: Case) -> int:
    digest = hashlib.sha256(case.describe().encode())
    for x in case.inputs:
        digest.update(np.ascontiguousarray(x).tobytes())
    return int.from_bytes(digest.digest()[:8], "little")


def batch_plan(case: Case) -> BatchPlan:
    """The batch ``vmap`` runs for ``case`` (see ``BatchPlan``): each input shared with probability
    0.3 (at least one batched), its batch axis anywhere in the stack; the batch size 2-4, or the
    leading size of a shared input in half the draws where there is one (so that reading that input
    as a stack of examples typechecks)."""
    rng = np.random.default_rng(_plan_seed(case))
    n = len(case.inputs)
    axes: list[int | None] = [None if rng.random() < 0.3 else int(rng.integers(0, x.ndim + 1)) for x in case.inputs]
    if all(ax is None for ax in axes):
        axes[int(rng.integers(0, n))] = 0
    leading = [case.inputs[i].shape[0] for i in range(n) if axes[i] is None and case.inputs[i].ndim
               and case.inputs[i].shape[0] > 1]
    size = int(rng.choice(leading)) if leading and rng.random() < 0.5 else int(rng.integers(2, 5))
    examples = [[np.asarray(x * rng.uniform(0.5, 1.5, x.shape), dtype=x.dtype) if ax is not None else x
                 for x, ax in zip(case.inputs, axes)]
                for _ in range(size)]
    stacked = [np.stack([ex[i] for ex in examples], axis=ax) if ax is not None else case.inputs[i]
               for i, ax in enumerate(axes)]
    return BatchPlan(size, tuple(axes), stacked, examples)
