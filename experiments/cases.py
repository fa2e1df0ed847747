"""Seeded per-op input generators for the experiments (no dependency on the tests folder).

``CASES[name](rng)`` draws a ``Case`` for registry op ``name``: float64 inputs inside the
op's domain, away from its kinks and ties (so finite differences are meaningful), plus the
op's non-differentiable keyword parameters. Shapes are small (at most 4 per side, 3 dims).
``Case.fn`` applies the op through ``Tensor.apply``, so a swapped ``OPS[name]`` is used.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from tinygrad_np import Tensor

Rng = np.random.Generator
GAP = 0.1  # minimum distance from a kink / between compared values (>> gradcheck's eps)


@dataclass
class Case:
    """One drawn example of op ``name``: ``fn(*inputs)`` = ``Tensor.apply(name, *inputs, **params)``."""

    name: str
    inputs: list[np.ndarray]
    params: dict[str, Any] = field(default_factory=dict)

    def fn(self, *xs: Tensor) -> Tensor:
        return Tensor.apply(self.name, *xs, **self.params)

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
    """Entries at least 0.25 apart (no ties for max/min)."""
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
    return [uniform(rng, sa), uniform(rng, sb)], {"cond": rng.random(sc) < 0.5}


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


def _linear(rng: Rng) -> tuple:
    """x, W, an optional bias and a fused activation; ReLU's pre-activations are redrawn until
    they are off its kink (the op falls back to no activation if 100 draws do not manage)."""
    n_in, n_out = (int(v) for v in rng.integers(1, 5, size=2))
    batch = shape(rng, 1, 2, 3)
    inputs = [uniform(rng, batch + (n_in,)), uniform(rng, (n_in, n_out))]
    if rng.random() < 0.7:
        inputs.append(uniform(rng, (n_out,)))
    activation = (None, "relu", "tanh", "sigmoid")[int(rng.integers(4))]
    if activation == "relu":
        for _ in range(100):
            z = inputs[0] @ inputs[1] + (inputs[2] if len(inputs) == 3 else 0.0)
            if np.all(np.abs(z) >= GAP):
                break
            inputs = [uniform(rng, x.shape) for x in inputs]
        else:
            activation = None
    return inputs, ({} if activation is None else {"activation": activation})


def _reduction(values: Callable[[Rng, tuple], np.ndarray] = uniform) -> Callable[[Rng], tuple]:
    def draw(rng: Rng) -> tuple:
        shp = shape(rng, 1)
        return [values(rng, shp)], axis_keepdims(rng, shp)

    return draw


def _var(rng: Rng) -> tuple:
    shp = shape(rng, 1)
    params = axis_keepdims(rng, shp)
    params["ddof"] = int(rng.integers(0, 2)) if reduced_count(shp, params["axis"]) > 1 else 0
    return [uniform(rng, shp)], params


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


def _cross_entropy(rng: Rng) -> tuple:
    n, c = (int(v) for v in rng.integers(1, 5, size=2))
    return [uniform(rng, (n, c), -3.0, 3.0)], {
        "labels": rng.integers(0, c, size=n), "reduction": str(rng.choice(["mean", "sum", "none"]))}


_DRAW: dict[str, Callable[[Rng], tuple]] = {
    "add": _binary(), "sub": _binary(), "mul": _binary(),
    "div": _binary(values_b=lambda r, s: off_kink(r, s, 0.5, 2.0)),
    "pow": _binary(values_b=uniform, values_a=lambda r, s: uniform(r, s, 0.5, 2.5)),
    "neg": _unary(uniform), "exp": _unary(uniform),
    "log": _unary(lambda r, s: uniform(r, s, 0.2, 3.0)), "sqrt": _unary(lambda r, s: uniform(r, s, 0.2, 3.0)),
    "abs": _unary(off_kink), "tanh": _unary(uniform), "sigmoid": _unary(lambda r, s: uniform(r, s, -4.0, 4.0)),
    "relu": _unary(off_kink), "leaky_relu": _leaky,
    "maximum": _separated, "minimum": _separated, "where": _where, "clip": _clip,
    "matmul": _matmul, "linear": _linear,
    "sum": _reduction(), "mean": _reduction(), "var": _var,
    "max": _reduction(distinct), "min": _reduction(distinct), "logsumexp": _reduction(),
    "softmax": _softmax_like, "log_softmax": _softmax_like,
    "reshape": _reshape, "transpose": _transpose, "expand": _expand,
    "getitem": _getitem, "scatter_add": _scatter_add, "concatenate": _concatenate, "stack": _stack,
    "cross_entropy": _cross_entropy,
}


# op coverage: more elementwise ops, products, scans, norms
def _scan(values: Callable[[Rng, tuple], np.ndarray] = uniform) -> Callable[[Rng], tuple]:
    def draw(rng: Rng) -> tuple:
        shp = shape(rng, 1)
        return [values(rng, shp)], {"axis": int(rng.integers(-len(shp), len(shp)))}

    return draw


_DRAW.update({
    **{name: _unary(uniform) for name in ("sin", "cos", "sinh", "cosh", "arctan", "square", "expm1", "exp2",
                                          "softplus", "gelu", "silu", "mish", "erf", "erfc")},
    "tan": _unary(lambda r, s: uniform(r, s, -1.2, 1.2)),
    "arcsin": _unary(lambda r, s: uniform(r, s, -0.9, 0.9)), "arccos": _unary(lambda r, s: uniform(r, s, -0.9, 0.9)),
    "log1p": _unary(lambda r, s: uniform(r, s, -0.8, 2.0)),
    "log2": _unary(lambda r, s: uniform(r, s, 0.2, 3.0)), "log10": _unary(lambda r, s: uniform(r, s, 0.2, 3.0)),
    "elu": _unary(off_kink), "relu6": _unary(off_kink), "hardswish": _unary(lambda r, s: uniform(r, s, -2.5, 2.5)),
    "logaddexp": _binary(), "arctan2": _binary(values_a=off_kink), "hypot": _binary(values_a=off_kink),
    "prod": _reduction(), "cumsum": _scan(), "cumprod": _scan(), "norm": _reduction(off_kink),
})


def draw_case(name: str, rng: Rng) -> Case:
    """One random example of op ``name`` (KeyError if the op has no generator)."""
    inputs, params = _DRAW[name](rng)
    return Case(name, [np.asarray(x, dtype=np.float64) for x in inputs], params)


def has_generator(name: str) -> bool:
    return name in _DRAW


def seeded_case(name: str, seed: int, k: int) -> Case:
    """Example number ``k`` of op ``name`` for run seed ``seed`` (stable across runs and op order)."""
    key = sum(ord(c) * 31 ** i for i, c in enumerate(name)) % (2 ** 31)
    return draw_case(name, np.random.default_rng([seed, key, k]))
