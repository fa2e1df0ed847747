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


def _logsumexp(rng: Rng) -> tuple:
    """Any axis/keepdims; in 40% of the draws positive weights ``b`` of a shape that broadcasts to a's."""
    shp = shape(rng, 1)
    inputs = [uniform(rng, shp)]
    if rng.random() < 0.4:
        b_shape = tuple(n if rng.random() < 0.6 else 1 for n in shp)[int(rng.integers(0, len(shp) + 1)):]
        inputs.append(uniform(rng, b_shape, 0.5, 2.0))
    return inputs, axis_keepdims(rng, shp)


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


def _einsum(rng: Rng) -> tuple:
    """A contraction from a small table: matmul, batched, outer, trace-like, repeated letters, ``...``."""
    n, k, m, b = (int(v) for v in rng.integers(1, 5, size=4))
    table = [
        ("ij,jk->ik", [(n, k), (k, m)]), ("bij,bjk->bik", [(b, n, k), (b, k, m)]), ("i,j->ij", [(n,), (m,)]),
        ("ii->i", [(n, n)]), ("ij->", [(n, k)]), ("...ij,...jk->...ik", [(b, n, k), (k, m)]),
        ("ij,ij,j->i", [(n, k), (n, k), (k,)]), ("iij->j", [(n, n, k)]),
    ]
    subscripts, shapes = table[int(rng.integers(len(table)))]
    return [uniform(rng, s) for s in shapes], {"subscripts": subscripts}


def _diagonal(rng: Rng) -> tuple:
    shp = shape(rng, min_dims=2)
    axis1, axis2 = (int(a) for a in rng.choice(len(shp), size=2, replace=False))
    offset = int(rng.integers(-shp[axis2] + 1, shp[axis1])) if rng.random() < 0.5 else 0
    offset = max(min(offset, shp[axis2] - 1), -(shp[axis1] - 1))
    return [uniform(rng, shp)], {"offset": offset, "axis1": axis1, "axis2": axis2}


def _flip(rng: Rng) -> tuple:
    shp = shape(rng, min_dims=1)
    axis = None if rng.random() < 0.3 else int(rng.integers(-len(shp), len(shp)))
    return [uniform(rng, shp)], {"axis": axis}


def _roll(rng: Rng) -> tuple:
    shp = shape(rng, min_dims=1)
    axis = None if rng.random() < 0.3 else int(rng.integers(-len(shp), len(shp)))
    return [uniform(rng, shp)], {"shift": int(rng.integers(-5, 6)), "axis": axis}


def _repeat(rng: Rng) -> tuple:
    shp = shape(rng, min_dims=1)
    if rng.random() < 0.3:
        return [uniform(rng, shp)], {"repeats": int(rng.integers(1, 4)), "axis": None}
    axis = int(rng.integers(0, len(shp)))
    repeats = int(rng.integers(0, 4)) if rng.random() < 0.5 else tuple(int(r) for r in rng.integers(0, 4, shp[axis]))
    return [uniform(rng, shp)], {"repeats": repeats, "axis": axis}


def _triangle(rng: Rng) -> tuple:
    shp = shape(rng, min_dims=2)
    return [uniform(rng, shp)], {"k": int(rng.integers(-shp[-2], shp[-1] + 1))}


def _conv_geometry(rng: Rng, max_side: int = 5, pad: bool = True) -> tuple:
    """(size, kernel, stride, padding, dilation, out) of a 2-D convolution, each a pair."""
    axes = []
    for _ in range(2):
        k, s, d = int(rng.integers(1, 4)), int(rng.integers(1, 3)), int(rng.integers(1, 3))
        p = int(rng.integers(0, k // 2 + 1)) if pad else 0
        n = int(rng.integers(max(1, d * (k - 1) + 1 - 2 * p), max_side + 1))
        axes.append((n, k, s, p, d, (n + 2 * p - d * (k - 1) - 1) // s + 1))
    return tuple(tuple(a[i] for a in axes) for i in range(6))


def _conv2d(rng: Rng) -> tuple:
    groups = int(rng.integers(1, 3))
    c, o, n = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    size, kernel, stride, padding, dilation, _ = _conv_geometry(rng)
    inputs = [uniform(rng, (n, c) + size), uniform(rng, (o, c // groups) + kernel)]
    if rng.random() < 0.5:
        inputs.append(uniform(rng, (o,)))
    return inputs, {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _conv_transpose2d(rng: Rng) -> tuple:
    """The transpose of a drawn convolution: x has the convolution's output shape; output_padding < stride."""
    groups = int(rng.integers(1, 3))
    c_in, c_out, n = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    while True:  # (a stride larger than the kernel's reach can leave nothing to output)
        size, kernel, stride, padding, dilation, out = _conv_geometry(rng)
        output_padding = tuple(int(rng.integers(0, s)) for s in stride)
        if all((m - 1) * s - 2 * p + d * (k - 1) + op + 1 >= 1
               for m, s, p, d, k, op in zip(out, stride, padding, dilation, kernel, output_padding)):
            break
    inputs = [uniform(rng, (n, c_in) + out), uniform(rng, (c_in, c_out // groups) + kernel)]
    if rng.random() < 0.5:
        inputs.append(uniform(rng, (c_out,)))
    return inputs, {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups,
                    "output_padding": output_padding}


def _conv2d_weight(rng: Rng) -> tuple:
    groups = int(rng.integers(1, 3))
    c, o, n = groups * int(rng.integers(1, 3)), groups * int(rng.integers(1, 3)), int(rng.integers(1, 3))
    size, kernel, stride, padding, dilation, out = _conv_geometry(rng)
    return [uniform(rng, (n, c) + size), uniform(rng, (n, o) + out)], {
        "kernel_size": kernel, "stride": stride, "padding": padding, "dilation": dilation, "groups": groups}


def _unfold(rng: Rng) -> tuple:
    size, kernel, stride, padding, dilation, _ = _conv_geometry(rng)
    return [uniform(rng, (int(rng.integers(1, 3)), int(rng.integers(1, 4))) + size)], {
        "kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}


def _fold(rng: Rng) -> tuple:
    n, c = int(rng.integers(1, 3)), int(rng.integers(1, 3))
    size, kernel, stride, padding, dilation, out = _conv_geometry(rng)
    return [uniform(rng, (n, c * kernel[0] * kernel[1], out[0] * out[1]))], {
        "output_size": size, "kernel_size": kernel, "dilation": dilation, "padding": padding, "stride": stride}


def _pool(name: str) -> Callable[[Rng], tuple]:
    """Unpadded windows (every window inside the image); max_pool2d: distinct entries (no ties) and a dilation."""
    def draw(rng: Rng) -> tuple:
        size, kernel, stride, _, dilation, _ = _conv_geometry(rng, pad=False)
        shape = (int(rng.integers(1, 3)), int(rng.integers(1, 3))) + size
        if name == "max_pool2d":
            return [distinct(rng, shape)], {"kernel_size": kernel, "stride": stride, "dilation": dilation}
        return [uniform(rng, shape)], {"kernel_size": kernel, "stride": stride,
                                       "count_include_pad": bool(rng.random() < 0.5)}
    return draw


def _pad(rng: Rng) -> tuple:
    """Constant padding of any axes, or reflect/symmetric/edge/wrap of the last axis (reflect narrower than it)."""
    mode = str(rng.choice(["constant", "reflect", "symmetric", "edge", "wrap"]))
    shp = shape(rng, min_dims=1)
    limit = {"reflect": shp[-1] - 1, "wrap": shp[-1]}.get(mode, 2)
    widths = tuple((int(rng.integers(0, min(2, limit) + 1)), int(rng.integers(0, min(2, limit) + 1)))
                   if mode == "constant" or a == len(shp) - 1 else (0, 0) for a in range(len(shp)))
    params: dict[str, Any] = {"widths": widths, "mode": mode}
    if mode == "constant":
        params["value"] = float(rng.choice([0.0, -1.5]))
    return [uniform(rng, shp)], params


def _standardize(rng: Rng) -> tuple:
    """Distinct entries, axes reducing at least 2 of them, an eps."""
    shp = shape(rng, min_dims=1)
    if max(shp) < 2:
        shp = (2,) + shp[1:]
    axis = int(np.argmax(shp))
    return [distinct(rng, shp)], {"axis": axis, "eps": float(rng.choice([1e-5, 0.1]))}


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
    "max": _reduction(distinct), "min": _reduction(distinct), "logsumexp": _logsumexp,
    "softmax": _softmax_like, "log_softmax": _softmax_like,
    "reshape": _reshape, "transpose": _transpose, "expand": _expand,
    "getitem": _getitem, "scatter_add": _scatter_add, "concatenate": _concatenate, "stack": _stack,
    "cross_entropy": _cross_entropy,
    "einsum": _einsum, "diagonal": _diagonal, "flip": _flip, "roll": _roll, "repeat": _repeat,
    "tril": _triangle, "triu": _triangle,
    "conv2d": _conv2d, "conv_transpose2d": _conv_transpose2d, "conv2d_weight": _conv2d_weight,
    "unfold": _unfold, "fold": _fold, "max_pool2d": _pool("max_pool2d"), "avg_pool2d": _pool("avg_pool2d"),
    "pad": _pad, "standardize": _standardize,
    # no gradient (integer or boolean results), but a batching rule (the mutants' ``batch`` mode)
    "argmax": _index_reduction, "argmin": _index_reduction,
    "less": _binary(), "less_equal": _binary(), "greater": _binary(), "greater_equal": _binary(),
    "equal": _binary(), "not_equal": _binary(),
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
