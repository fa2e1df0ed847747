"""One table of test cases for every op in ``tinygrad_np.OPS``: ``OP_CASES[name]``.

Each entry is an ``OpCase`` with

* ``strategy``: draws an ``OpSample``, which unpacks as ``(fn, inputs)``: ``fn(*tensors)``
  applies the registry op ``name`` (via ``Tensor.apply``) with fixed non-differentiable
  parameters, and ``inputs`` is a list of float64 arrays inside the op's domain, off its
  kinks and ties. The sample also carries ``.name`` and ``.params`` (the keyword arguments
  given to the op: axis, keepdims, index, labels, cond, shape, ...), so other tests can
  compute the same thing with NumPy or PyTorch;
* ``smooth``: True if the op is twice continuously differentiable on the drawn domain (a
  meaningful ``gradgradcheck`` target). False for the piecewise-linear ops (abs, relu,
  leaky_relu, clip, maximum, minimum, max, min): their drawn inputs are off kinks/ties too,
  so a second-order check passes there, but it only sees a zero second derivative.

Usage::

    from op_cases import OP_CASES
    @given(OP_CASES["mul"].strategy)
    def test(sample):
        fn, inputs = sample
        assert gradcheck(fn, inputs)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import strategies as S
from tinygrad_np import Tensor
from tinygrad_np.gradcheck import FULL_MODE_LIMIT


class OpFn:
    """``fn(*tensors) = Tensor.apply(name, *tensors, **params)`` with a readable repr."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name, self.params = name, params

    def __call__(self, *xs: Tensor) -> Tensor:
        return Tensor.apply(self.name, *xs, **self.params)

    def __repr__(self) -> str:
        return f"OpFn({self.name!r}, {self.params!r})"


class OpSample(tuple):
    """A drawn case of op ``name``: unpacks as ``(fn, inputs)``; also has ``.name`` and ``.params``."""

    name: str
    params: dict[str, Any]

    def __new__(cls, name: str, inputs: list[np.ndarray], **params: Any) -> "OpSample":
        self = super().__new__(cls, (OpFn(name, params), list(inputs)))
        self.name, self.params = name, params
        return self

    @property
    def fn(self) -> OpFn:
        return self[0]

    @property
    def inputs(self) -> list[np.ndarray]:
        return self[1]

    def __repr__(self) -> str:
        arrays = ", ".join(np.array2string(x, precision=17, separator=",") for x in self.inputs)
        return f"OpSample({self.name!r}, params={self.params!r}, inputs=[{arrays}])"


@dataclass(frozen=True)
class OpCase:
    """The strategy drawing ``OpSample``s of one op, and whether its second derivative is smooth."""

    name: str
    strategy: st.SearchStrategy
    smooth: bool = True


# ----------------------------------------------------------------------------- builders
def unary(name: str, values: Callable[[tuple], st.SearchStrategy], **params: Any) -> st.SearchStrategy:
    """Draw a shape, then one array from ``values(shape)``."""
    return S.shapes().flatmap(values).map(lambda x: OpSample(name, [x], **params))


def binary(name: str, values_a: Callable, values_b: Callable) -> st.SearchStrategy:
    """Draw a broadcastable pair of shapes, then ``a`` from ``values_a`` and ``b`` from ``values_b``."""

    @st.composite
    def draw_case(draw):
        sa, sb = draw(S.broadcastable_pairs())
        return OpSample(name, [draw(values_a(sa)), draw(values_b(sb))])

    return draw_case()


@st.composite
def leaky_relu_cases(draw):
    """x off the kink at 0 and a negative_slope (also > 1)."""
    x = draw(S.shapes().flatmap(S.off_kink_arrays))
    return OpSample("leaky_relu", [x], negative_slope=draw(st.sampled_from([0.01, 0.1, 0.5, 2.0])))


@st.composite
def clip_cases(draw):
    """x off both bounds; lo < hi, either may be None."""
    x, lo, hi = draw(S.shapes().flatmap(S.clip_cases))
    return OpSample("clip", [x], lo=lo, hi=hi)


@st.composite
def extremum_pair_cases(draw, name: str):
    """Broadcasting a, b with no a-entry equal to (or within TIE_GAP of) a b-entry."""
    sa, sb = draw(S.broadcastable_pairs())
    a, b = draw(S.separated_pairs(sa, sb))
    if draw(st.booleans()):
        a, b = b, a
    return OpSample(name, [a, b])


@st.composite
def where_cases(draw):
    """a, b and a boolean cond, all three broadcasting together."""
    sc, sa, sb = draw(S.broadcastable_shapes(3))
    return OpSample("where", [draw(S.arrays(sa)), draw(S.arrays(sb))], cond=draw(S.conditions(sc)))


@st.composite
def matmul_cases(draw):
    """1-D/2-D/batched operands (1-D on either side, batch dims that broadcast)."""
    n, k, m = draw(st.integers(1, 4)), draw(st.integers(1, 4)), draw(st.integers(1, 4))
    kind_a = draw(st.sampled_from(["1d", "2d", "batched"]))
    kind_b = draw(st.sampled_from(["1d", "2d", "batched"]))
    batch_a, batch_b = draw(S.broadcastable_shapes(2, min_dims=1, max_dims=2, max_side=3))
    sa = (k,) if kind_a == "1d" else (n, k) if kind_a == "2d" else batch_a + (n, k)
    sb = (k,) if kind_b == "1d" else (k, m) if kind_b == "2d" else batch_b + (k, m)
    return OpSample("matmul", [draw(S.arrays(sa)), draw(S.arrays(sb))])


@st.composite
def linear_cases(draw):
    """x (..., n_in) with 0-2 batch dims, W (n_in, n_out), a bias (n_out,) or none, and a fused
    activation (none, relu, tanh, sigmoid); ReLU's pre-activations are kept off its kink."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(S.shapes(min_dims=0, max_dims=2, max_side=3))
    inputs = [draw(S.arrays(batch + (n_in,))), draw(S.arrays((n_in, n_out)))]
    if draw(st.booleans()):
        inputs.append(draw(S.arrays((n_out,))))
    activation = draw(st.sampled_from([None, "relu", "tanh", "sigmoid"]))
    if activation == "relu":
        z = inputs[0] @ inputs[1] + (inputs[2] if len(inputs) == 3 else 0.0)
        assume(bool(np.all(np.abs(z) >= S.KINK_GAP)))
    return OpSample("linear", inputs, activation=activation)


def reduction(name: str, values: Callable = S.arrays) -> st.SearchStrategy:
    """A shape, an axis (None, int, negative int or tuple), keepdims, and values from ``values``."""
    @st.composite
    def draw_case(draw):
        shape = draw(S.shapes())
        axis, keepdims = draw(S.axis_keepdims(shape))
        return OpSample(name, [draw(values(shape))], axis=axis, keepdims=keepdims)

    return draw_case()


@st.composite
def var_cases(draw):
    """Any axis/keepdims and ddof 0 or 1 (1 only where each output averages > 1 entry)."""
    shape = draw(S.shapes())
    axis, keepdims = draw(S.axis_keepdims(shape))
    n = S.reduced_count(shape, axis)
    ddof = draw(st.sampled_from([0, 1])) if n > 1 else 0
    return OpSample("var", [draw(S.arrays(shape))], axis=axis, keepdims=keepdims, ddof=ddof)


def softmax_like(name: str) -> st.SearchStrategy:
    """At least 1-D input and one (maybe negative) axis."""
    @st.composite
    def draw_case(draw):
        shape = draw(S.shapes(min_dims=1))
        axis = draw(S.axes(shape, allow_none=False, allow_tuple=False))
        return OpSample(name, [draw(S.arrays(shape, S.floats(-5.0, 5.0)))], axis=axis)

    return draw_case()


@st.composite
def reshape_cases(draw):
    """A shape and a target with the same size (size-1 dims, maybe a -1)."""
    shape = draw(S.shapes())
    return OpSample("reshape", [draw(S.arrays(shape))], shape=draw(S.reshape_targets(shape)))


@st.composite
def transpose_cases(draw):
    """A permutation of the axes, some written as negative ints."""
    shape = draw(S.shapes())
    ndim = len(shape)
    perm = draw(st.permutations(range(ndim)))
    axes = tuple(a - ndim if draw(st.booleans()) else a for a in perm)
    return OpSample("transpose", [draw(S.arrays(shape))], axes=axes)


@st.composite
def expand_cases(draw):
    """A shape and a target it broadcasts to (new leading dims, size-1 dims grown)."""
    shape, target = draw(S.expand_shapes())
    return OpSample("expand", [draw(S.arrays(shape))], shape=target)


@st.composite
def getitem_cases(draw):
    """Basic slicing (ints, slices with any step, None, ...), int arrays with repeats, bool masks."""
    shape = draw(S.shapes(min_dims=0))
    return OpSample("getitem", [draw(S.arrays(shape))], index=draw(S.indices(shape)))


@st.composite
def scatter_add_cases(draw):
    """g of the shape ``a[index]`` would have, scattered (with repeats accumulating) into ``shape``."""
    shape = draw(S.shapes(min_dims=0))
    index = draw(S.indices(shape))
    g_shape = np.empty(shape)[index].shape
    assume(int(np.prod(g_shape)) <= FULL_MODE_LIMIT)  # an integer-array index can multiply the size
    return OpSample("scatter_add", [draw(S.arrays(g_shape))], index=index, shape=shape)


@st.composite
def concatenate_cases(draw):
    """1-3 arrays that differ only along a (maybe negative) axis."""
    base = draw(S.shapes(min_dims=1))
    axis = draw(st.integers(-len(base), len(base) - 1))
    k = draw(st.integers(1, 3))
    shapes = [base[: axis % len(base)] + (draw(st.integers(1, 4)),) + base[axis % len(base) + 1:] for _ in range(k)]
    return OpSample("concatenate", [draw(S.arrays(s)) for s in shapes], axis=axis)


@st.composite
def stack_cases(draw):
    """1-3 arrays of one shape and a new-axis position in [-(ndim+1), ndim]."""
    shape = draw(S.shapes(max_dims=3))
    axis = draw(st.integers(-len(shape) - 1, len(shape)))
    k = draw(st.integers(1, 3))
    return OpSample("stack", [draw(S.arrays(shape)) for _ in range(k)], axis=axis)


@st.composite
def cross_entropy_cases(draw):
    """(N, C) logits, int labels in [0, C) and a reduction (mean, sum, none)."""
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 5))
    logits = draw(S.arrays((n, c), S.floats(-5.0, 5.0)))
    return OpSample("cross_entropy", [logits], labels=draw(S.labels(n, c)),
                    reduction=draw(st.sampled_from(["mean", "sum", "none"])))


# ----------------------------------------------------------------------------- the table
_CASES = [
    OpCase("add", binary("add", S.arrays, S.arrays)),
    OpCase("sub", binary("sub", S.arrays, S.arrays)),
    OpCase("mul", binary("mul", S.arrays, S.arrays)),
    OpCase("div", binary("div", S.arrays, S.nonzero_arrays)),
    OpCase("pow", binary("pow", lambda s: S.positive_arrays(s, 0.5, 2.5), lambda s: S.arrays(s, S.floats(-2.0, 2.0)))),
    OpCase("neg", unary("neg", S.arrays)),
    OpCase("exp", unary("exp", S.arrays)),
    OpCase("log", unary("log", S.positive_arrays)),
    OpCase("sqrt", unary("sqrt", S.positive_arrays)),
    OpCase("abs", unary("abs", S.off_kink_arrays), smooth=False),
    OpCase("tanh", unary("tanh", S.arrays)),
    OpCase("sigmoid", unary("sigmoid", lambda s: S.arrays(s, S.floats(-6.0, 6.0)))),
    OpCase("relu", unary("relu", S.off_kink_arrays), smooth=False),
    OpCase("leaky_relu", leaky_relu_cases(), smooth=False),
    OpCase("maximum", extremum_pair_cases("maximum"), smooth=False),
    OpCase("minimum", extremum_pair_cases("minimum"), smooth=False),
    OpCase("where", where_cases()),
    OpCase("clip", clip_cases(), smooth=False),
    OpCase("matmul", matmul_cases()),
    OpCase("linear", linear_cases()),
    OpCase("sum", reduction("sum")),
    OpCase("mean", reduction("mean")),
    OpCase("var", var_cases()),
    OpCase("max", reduction("max", S.distinct_arrays), smooth=False),
    OpCase("min", reduction("min", S.distinct_arrays), smooth=False),
    OpCase("logsumexp", reduction("logsumexp")),
    OpCase("softmax", softmax_like("softmax")),
    OpCase("log_softmax", softmax_like("log_softmax")),
    OpCase("reshape", reshape_cases()),
    OpCase("transpose", transpose_cases()),
    OpCase("expand", expand_cases()),
    OpCase("getitem", getitem_cases()),
    OpCase("scatter_add", scatter_add_cases()),
    OpCase("concatenate", concatenate_cases()),
    OpCase("stack", stack_cases()),
    OpCase("cross_entropy", cross_entropy_cases()),
]

#: op name -> OpCase (``.strategy`` draws ``(fn, inputs)`` samples, ``.smooth`` for gradgradcheck).
OP_CASES: dict[str, OpCase] = {case.name: case for case in _CASES}

#: Names of the ops whose second derivative is smooth on the drawn domain.
SMOOTH_OPS = tuple(name for name, case in OP_CASES.items() if case.smooth)
