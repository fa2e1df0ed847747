"""Shared hypothesis strategies for the tinygrad_np test suite (import: ``from strategies import ...``).

Conventions. Shapes have 0-4 dims of sizes 1-4 (at most 256 entries, so a full float64
gradcheck stays cheap). Arrays are float64 and finite. Each op family has a value strategy
that keeps its inputs inside the op's domain and away from the points where the op is not
differentiable, because finite differences cannot check a gradient there:

* ``positive_arrays``: log, sqrt, the base of pow;
* ``nonzero_arrays``: denominators of div;
* ``off_kink_arrays``: relu, abs, leaky_relu (|x| >= KINK_GAP) and clip (away from both bounds);
* ``distinct_arrays`` / ``separated_pairs``: max/min reductions and maximum/minimum
  (no ties; entries at least TIE_GAP apart).

``expression_graphs`` draws random elementwise expression graphs with shared leaves via
``st.recursive`` (see ``ExprGraph``).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

MAX_DIMS = 4
MAX_SIDE = 4
BOUND = 3.0  # default magnitude of drawn values
KINK_GAP = 1e-2  # minimum distance of a value from a kink (>> gradcheck's eps = 1e-6)
TIE_GAP = 1e-2  # minimum distance between values that max/min/maximum/minimum compare


# ----------------------------------------------------------------------------- shapes
def shapes(min_dims: int = 0, max_dims: int = MAX_DIMS, min_side: int = 1, max_side: int = MAX_SIDE):
    """Array shapes with ``min_dims..max_dims`` dims, each of size ``min_side..max_side``."""
    return hnp.array_shapes(min_dims=min_dims, max_dims=max_dims, min_side=min_side, max_side=max_side)


def broadcastable_shapes(num_shapes: int = 2, min_dims: int = 0, max_dims: int = MAX_DIMS,
                         max_side: int = MAX_SIDE):
    """A tuple of ``num_shapes`` mutually broadcastable shapes, e.g. ``((3, 1), (2, 1, 4))``."""
    return hnp.mutually_broadcastable_shapes(
        num_shapes=num_shapes, min_dims=min_dims, max_dims=max_dims, min_side=1, max_side=max_side
    ).map(lambda b: tuple(b.input_shapes))


def broadcastable_pairs(min_dims: int = 0, max_dims: int = MAX_DIMS):
    """A pair ``(shape_a, shape_b)`` of shapes that broadcast together."""
    return broadcastable_shapes(2, min_dims=min_dims, max_dims=max_dims)


@st.composite
def expand_shapes(draw, max_dims: int = MAX_DIMS):
    """``(shape, target)``: ``shape`` broadcasts to ``target`` (dropped leading dims, size-1 dims)."""
    target = draw(shapes(max_dims=max_dims))
    lead = draw(st.integers(0, len(target)))
    shape = tuple(1 if draw(st.booleans()) else n for n in target[lead:])
    return shape, target


@st.composite
def reshape_targets(draw, shape: Sequence[int]):
    """A new shape with the same number of entries as ``shape`` (maybe with one -1 entry)."""
    size = int(np.prod(shape, dtype=int))
    factors = list(draw(st.permutations(_prime_factors(size))))
    groups: list[int] = []
    for f in factors:  # merge each factor into the previous group or start a new one
        if groups and draw(st.booleans()):
            groups[-1] *= f
        else:
            groups.append(f)
    for _ in range(draw(st.integers(0, 2))):  # sprinkle size-1 dims
        groups.insert(draw(st.integers(0, len(groups))), 1)
    if groups and draw(st.booleans()):
        groups[draw(st.integers(0, len(groups) - 1))] = -1
    return tuple(groups)


def _prime_factors(n: int) -> list[int]:
    out, p = [], 2
    while n > 1:
        while n % p == 0:
            out.append(p)
            n //= p
        p += 1
    return out


# ----------------------------------------------------------------------------- axes
def axes(shape: Sequence[int], allow_none: bool = True, allow_int: bool = True, allow_tuple: bool = True):
    """An ``axis`` valid for ``shape``: None, an int (maybe negative) or a tuple of distinct ints."""
    ndim = len(shape)
    options = [st.none()] if allow_none or ndim == 0 else []
    if ndim:
        if allow_int:
            options.append(st.integers(-ndim, ndim - 1))
        if allow_tuple:
            options.append(
                st.lists(st.integers(0, ndim - 1), min_size=1, max_size=ndim, unique=True).flatmap(
                    lambda axs: st.tuples(*[st.sampled_from([a, a - ndim]) for a in axs])
                )
            )
    return st.one_of(options)


def axis_keepdims(shape: Sequence[int], **kwargs: bool):
    """``(axis, keepdims)`` for a reduction over an array of ``shape``."""
    return st.tuples(axes(shape, **kwargs), st.booleans())


def reduced_axes(axis: Any, ndim: int) -> tuple[int, ...]:
    """The sorted non-negative axes that ``axis`` reduces (None = all)."""
    if axis is None:
        return tuple(range(ndim))
    axs = (axis,) if isinstance(axis, int) else axis
    return tuple(sorted(a % ndim for a in axs))


def reduced_count(shape: Sequence[int], axis: Any) -> int:
    """How many entries each output of a reduction over ``axis`` combines."""
    return int(np.prod([shape[a] for a in reduced_axes(axis, len(shape))], dtype=int))


# ----------------------------------------------------------------------------- values
def floats(lo: float = -BOUND, hi: float = BOUND):
    """Finite float64 scalars in ``[lo, hi]`` (no NaN, Inf or subnormals)."""
    return st.floats(lo, hi, allow_nan=False, allow_infinity=False, allow_subnormal=False)


def arrays(shape, elements=None):
    """float64 arrays of ``shape`` (a shape or a strategy of shapes) with finite entries
    (default: floats in [-3, 3])."""
    shape = shape if isinstance(shape, st.SearchStrategy) else tuple(shape)
    return hnp.arrays(np.float64, shape, elements=elements if elements is not None else floats())


def positive_arrays(shape: Sequence[int], lo: float = 0.1, hi: float = BOUND):
    """float64 arrays with entries in ``[lo, hi]``, lo > 0: the domain of log, sqrt and pow's base."""
    return arrays(shape, floats(lo, hi))


def nonzero_arrays(shape: Sequence[int], min_abs: float = 0.5, max_abs: float = BOUND):
    """float64 arrays with ``min_abs <= |x| <= max_abs``: denominators kept away from 0."""
    return arrays(shape, signed_magnitudes(min_abs, max_abs))


def signed_magnitudes(min_abs: float, max_abs: float):
    """Scalars ``±m`` with ``m`` in ``[min_abs, max_abs]``."""
    return st.tuples(st.booleans(), floats(min_abs, max_abs)).map(lambda t: t[1] if t[0] else -t[1])


def off_kink_arrays(shape: Sequence[int], kinks: Sequence[float] = (0.0,), gap: float = KINK_GAP,
                    lo: float = -BOUND, hi: float = BOUND):
    """float64 arrays in ``[lo, hi]`` whose entries are at least ``gap`` away from every kink."""
    kinks = tuple(k for k in kinks if k is not None)
    return arrays(shape, floats(lo, hi).filter(lambda v: all(abs(v - k) >= gap for k in kinks)))


def distinct_arrays(shape: Sequence[int], gap: float = TIE_GAP, bound: float = BOUND):
    """float64 arrays whose entries are pairwise at least ``gap`` apart (no ties for max/min)."""
    n = int(np.prod(shape, dtype=int))
    k = int(bound / gap)
    grid = st.lists(st.integers(-k, k), min_size=n, max_size=n, unique=True)
    jitter = st.lists(floats(0.0, gap / 4), min_size=n, max_size=n)  # pairwise gaps stay >= 3/4 gap
    return st.tuples(grid, jitter).map(
        lambda t: (np.asarray(t[0], dtype=np.float64) * gap + np.asarray(t[1], dtype=np.float64)).reshape(shape)
    )


@st.composite
def separated_pairs(draw, shape_a: Sequence[int], shape_b: Sequence[int], gap: float = TIE_GAP,
                    bound: float = BOUND):
    """``(a, b)`` float64 arrays such that every a-entry is at least ``gap`` from every b-entry
    (so ``maximum``/``minimum`` never see a tie, whatever broadcasting pairs up)."""
    k = int(bound / (2 * gap))
    grid_a = hnp.arrays(np.int64, tuple(shape_a), elements=st.integers(-k, k))
    grid_b = hnp.arrays(np.int64, tuple(shape_b), elements=st.integers(-k, k))
    a = draw(grid_a).astype(np.float64) * (2 * gap)  # even multiples of gap
    b = draw(grid_b).astype(np.float64) * (2 * gap) + gap  # odd multiples of gap
    return a, b


@st.composite
def clip_cases(draw, shape: Sequence[int], gap: float = KINK_GAP):
    """``(x, lo, hi)``: clip bounds with lo < hi (one of them may be None) and an array whose
    entries are at least ``gap`` away from both bounds."""
    lo, hi = sorted(draw(st.lists(floats(-2.0, 2.0), min_size=2, max_size=2, unique=True)))
    if hi - lo < 4 * gap:
        hi = lo + 4 * gap
    which = draw(st.sampled_from(["both", "lo", "hi"]))
    lo = None if which == "hi" else lo
    hi = None if which == "lo" else hi
    x = draw(off_kink_arrays(shape, kinks=(lo, hi), gap=gap))
    return x, lo, hi


def labels(n: int, num_classes: int):
    """int64 class labels ``(n,)`` in ``[0, num_classes)``."""
    return hnp.arrays(np.int64, (n,), elements=st.integers(0, num_classes - 1))


def conditions(shape: Sequence[int]):
    """Boolean arrays of ``shape`` (the ``cond`` of ``where``)."""
    return hnp.arrays(np.bool_, tuple(shape))


# ----------------------------------------------------------------------------- indices
@st.composite
def basic_indices(draw, shape: Sequence[int]):
    """Basic indices for ``shape``: ints (maybe negative), slices (any step, maybe empty), None, ``...``."""
    ndim = len(shape)
    if ndim == 0:
        return draw(st.sampled_from([(), Ellipsis, None, (None, Ellipsis)]))
    n_axes = draw(st.integers(1, ndim))  # axes indexed explicitly
    use_ellipsis = n_axes < ndim and draw(st.booleans())
    split = draw(st.integers(0, n_axes)) if use_ellipsis else n_axes  # parts before the Ellipsis
    indexed = list(range(split)) + list(range(ndim - (n_axes - split), ndim))
    parts: list[Any] = [draw(st.integers(-shape[a], shape[a] - 1) | st.slices(shape[a])) for a in indexed]
    if use_ellipsis:
        parts.insert(split, Ellipsis)
    for _ in range(draw(st.integers(0, 2)) if draw(st.booleans()) else 0):  # new axes anywhere
        parts.insert(draw(st.integers(0, len(parts))), None)
    return parts[0] if len(parts) == 1 and draw(st.booleans()) else tuple(parts)


@st.composite
def integer_array_indices(draw, shape: Sequence[int], repeated: bool = True):
    """Advanced indices: an int64 array (maybe 2-D, with negative and, if ``repeated``, duplicated
    entries) on axis 0, or int arrays on the first two axes, maybe followed by a slice."""
    ndim = len(shape)
    n0 = shape[0]

    def index_array(n: int, index_shape: tuple[int, ...]):
        arr = draw(hnp.arrays(np.int64, index_shape, elements=st.integers(-n, n - 1)))
        if repeated and arr.size >= 2:
            flat = arr.reshape(-1)
            flat[-1] = flat[0] if draw(st.booleans()) else flat[0] - n if flat[0] >= 0 else flat[0] + n
            arr = flat.reshape(index_shape)
        return arr

    index_shape = draw(shapes(min_dims=1, max_dims=2, max_side=4))
    kind = draw(st.sampled_from(["axis0", "axis0_slice", "two_axes"] if ndim >= 2 else ["axis0"]))
    if kind == "axis0":
        return index_array(n0, index_shape)
    if kind == "axis0_slice":
        return (index_array(n0, index_shape), draw(st.slices(shape[1])))
    return (index_array(n0, index_shape), index_array(shape[1], index_shape))


@st.composite
def bool_mask_indices(draw, shape: Sequence[int]):
    """A boolean mask over the first 1..ndim axes of ``shape``."""
    k = draw(st.integers(1, len(shape)))
    return draw(hnp.arrays(np.bool_, tuple(shape[:k])))


def indices(shape: Sequence[int]):
    """Any index ``getitem`` supports for ``shape``: basic, integer arrays (with repeats) or a bool mask."""
    if len(shape) == 0:
        return basic_indices(shape)
    return st.one_of(basic_indices(shape), integer_array_indices(shape), bool_mask_indices(shape))


# ----------------------------------------------------------------------------- expression graphs
UNARY_NODES = ("tanh", "sigmoid", "exp", "sum", "mean")
BINARY_NODES = ("add", "mul", "sub")


@dataclass
class ExprGraph:
    """A random expression over ``leaves`` (float64 arrays of one ndim, broadcastable together).

    ``expr`` is a nested tuple: ``("leaf", k)``, ``(op, child)`` for tanh/sigmoid/exp (applied to
    ``tanh(child)``, so its argument is bounded), ``("sum"|"mean", axis, child)`` (keepdims), or
    ``(op, left, right)`` for add/mul/sub. ``fn(*tensors)`` evaluates it.
    """

    expr: tuple
    leaves: list[np.ndarray]

    def fn(self, *xs: Any) -> Any:
        """Evaluate the expression on tensors (or anything with the same methods), one per leaf."""
        return _evaluate(self.expr, xs)

    def leaf_uses(self) -> list[int]:
        """How many times each leaf is referenced in the expression."""
        counts = [0] * len(self.leaves)
        for k in _leaf_refs(self.expr):
            counts[k] += 1
        return counts

    def __repr__(self) -> str:
        return f"ExprGraph(expr={self.expr!r}, leaf_shapes={[x.shape for x in self.leaves]})"


def _evaluate(expr: tuple, xs: Sequence[Any]) -> Any:
    op = expr[0]
    if op == "leaf":
        return xs[expr[1]]
    if op in ("sum", "mean"):
        return getattr(_evaluate(expr[2], xs), op)(axis=expr[1], keepdims=True)
    if op in BINARY_NODES:
        a, b = _evaluate(expr[1], xs), _evaluate(expr[2], xs)
        return a + b if op == "add" else a * b if op == "mul" else a - b
    x = _evaluate(expr[1], xs)
    if op == "exp":
        return x.tanh().exp()
    return getattr(x, op)()


def _leaf_refs(expr: tuple) -> list[int]:
    if expr[0] == "leaf":
        return [expr[1]]
    return [k for child in expr[1:] if isinstance(child, tuple) and child and isinstance(child[0], str)
            for k in _leaf_refs(child)]


def expr_op_count(expr: tuple) -> int:
    """The number of engine ops evaluating ``expr`` records (exp nodes record tanh and exp)."""
    if expr[0] == "leaf":
        return 0
    children = [c for c in expr[1:] if isinstance(c, tuple) and c and isinstance(c[0], str)]
    return (2 if expr[0] == "exp" else 1) + sum(expr_op_count(c) for c in children)


@st.composite
def expression_graphs(draw, min_ops: int = 6, max_leaves: int = 3, max_dims: int = 3):
    """An ``ExprGraph`` with at least ``min_ops`` ops and at least one leaf used several times.

    The tree comes from ``st.recursive`` over leaf references and the node vocabulary
    (add, mul, sub, tanh, sigmoid, exp of a bounded value, keepdims sum/mean); if it is too small
    or shares no leaf, it is extended with drawn binary nodes on drawn leaves until it is not.
    """
    n_leaves = draw(st.integers(1, max_leaves))
    out_shape = draw(shapes(min_dims=1, max_dims=max_dims, max_side=3))
    ndim = len(out_shape)
    leaf_shapes = [tuple(1 if draw(st.booleans()) else n for n in out_shape) for _ in range(n_leaves)]
    leaves = [draw(arrays(s, floats(-1.5, 1.5))) for s in leaf_shapes]

    leaf = st.integers(0, n_leaves - 1).map(lambda k: ("leaf", k))

    def extend(children):
        return st.one_of(
            st.tuples(st.sampled_from(BINARY_NODES), children, children),
            st.tuples(st.sampled_from(("tanh", "sigmoid", "exp")), children),
            st.tuples(st.sampled_from(("sum", "mean")), st.integers(-ndim, ndim - 1), children),
        )

    expr = draw(st.recursive(leaf, extend, max_leaves=8))
    graph = ExprGraph(expr, leaves)
    while expr_op_count(graph.expr) < min_ops or max(graph.leaf_uses()) < 2:
        op = draw(st.sampled_from(BINARY_NODES))
        other = ("leaf", draw(st.integers(0, n_leaves - 1)))
        if draw(st.booleans()):
            other = (draw(st.sampled_from(("tanh", "sigmoid", "exp"))), other)
        graph = ExprGraph((op, graph.expr, other) if draw(st.booleans()) else (op, other, graph.expr), leaves)
    return graph
