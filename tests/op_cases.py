"""One table of test cases for every op in ``tinygrad_np.OPS``: ``OP_CASES[name]``.

Each entry is an ``OpCase`` with

* ``strategy``: draws an ``OpSample``, which unpacks as ``(fn, inputs)``: ``fn(*tensors)``
  applies the registry op ``name`` (via ``Tensor.apply``) with fixed non-differentiable
  parameters, and ``inputs`` is a list of float64 arrays inside the op's domain, off its
  kinks and ties: the inputs to differentiate. The sample also carries ``.name`` and
  ``.params`` (the keyword arguments of the op: axis, keepdims, index, shape, ...), and the
  op's constant inputs (``where``'s ``cond``, ``cross_entropy``'s ``labels``) by name in
  ``.params`` too; ``fn`` passes those to the op as Tensors in their places;
* ``numpy``: the op recomputed with plain NumPy, ``numpy(*inputs, **params)`` (written
  independently of the op's implementation where that is easy);
* ``torch``: the same with PyTorch, ``torch(*tensors, **params)`` (None where PyTorch has no
  such op; the module is ``T``, None when PyTorch is not installed);
* ``smooth``: True if the op is twice continuously differentiable on the drawn domain (a
  meaningful ``gradgradcheck`` target). False for the piecewise-linear ops (abs, relu,
  leaky_relu, clip, maximum, minimum, max, min): their drawn inputs are off kinks/ties too,
  so a second-order check passes there, but it only sees a zero second derivative;
* ``differentiable``: False for the ops whose results are constants (comparisons, argmax).

Usage::

    from op_cases import OP_CASES
    @given(OP_CASES["mul"].strategy)
    def test(sample):
        fn, inputs = sample
        assert gradcheck(fn, inputs)
"""
from __future__ import annotations

import itertools
import string
import math
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
from hypothesis import assume
from hypothesis import strategies as st

import strategies as S
from tinygrad_np import Tensor
from tinygrad_np.gradcheck import FULL_MODE_LIMIT

try:
    import torch as T
except ImportError:  # the torch references are then unused (the parity tests skip)
    T = None

#: op name -> (parameter name, input position) of its constant (non-differentiated) inputs
CONSTANT_INPUTS = {"where": (("cond", 0),), "cross_entropy": (("labels", 1),)}


class OpFn:
    """``fn(*tensors) = Tensor.apply(name, *tensors, **params)`` with a readable repr; constant
    inputs named in ``CONSTANT_INPUTS`` go in as Tensors at their positions."""

    def __init__(self, name: str, params: dict[str, Any]) -> None:
        self.name = name
        consts = CONSTANT_INPUTS.get(name, ())
        self.consts = [(pos, params[key]) for key, pos in consts]
        self.params = {k: v for k, v in params.items() if k not in {key for key, _ in consts}}

    def __call__(self, *xs: Tensor) -> Tensor:
        inputs = list(xs)
        for pos, value in self.consts:
            inputs.insert(pos, Tensor(value))
        return Tensor.apply(self.name, *inputs, **self.params)

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
    """One op's strategy, its NumPy and PyTorch references, and what the checks may assume."""

    name: str
    strategy: st.SearchStrategy
    numpy: Callable[..., Any]
    torch: Callable[..., Any] | None = None
    smooth: bool = True
    differentiable: bool = True


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
def linear_cases(draw, name: str = "linear"):
    """x (..., n_in) with 0-2 batch dims, W (n_in, n_out) and a bias (n_out,) or none; for
    ``linear_act`` also an activation (relu, tanh, sigmoid), ReLU's pre-activations off its kink."""
    n_in, n_out = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    batch = draw(S.shapes(min_dims=0, max_dims=2, max_side=3))
    inputs = [draw(S.arrays(batch + (n_in,))), draw(S.arrays((n_in, n_out)))]
    if draw(st.booleans()):
        inputs.append(draw(S.arrays((n_out,))))
    if name == "linear":
        return OpSample("linear", inputs)
    activation = draw(st.sampled_from(["relu", "tanh", "sigmoid"]))
    if activation == "relu":
        z = inputs[0] @ inputs[1] + (inputs[2] if len(inputs) == 3 else 0.0)
        assume(bool(np.all(np.abs(z) >= S.KINK_GAP)))
    return OpSample(name, inputs, activation=activation)


@st.composite
def cast_cases(draw):
    """An array cast to float64 (the inputs are float64 here, float32 in the dtype tests, where the
    VJP casts back; a float64 finite difference cannot see through a cast to float32)."""
    shape = draw(S.shapes())
    return OpSample("cast", [draw(S.arrays(shape))], dtype=np.dtype(np.float64))


@st.composite
def comparison_cases(draw, name: str):
    """Broadcasting small-integer arrays (so that equal entries are likely)."""
    sa, sb = draw(S.broadcastable_pairs())
    ints = st.integers(-2, 2).map(float)
    return OpSample(name, [draw(S.arrays(sa, ints)), draw(S.arrays(sb, ints))])


@st.composite
def arg_reduction_cases(draw, name: str):
    """At least 1-D arrays with ties (the first index wins), an axis or None, keepdims."""
    shape = draw(S.shapes(min_dims=1))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    return OpSample(name, [draw(S.arrays(shape, st.integers(-3, 3).map(float)))], axis=axis,
                    keepdims=draw(st.booleans()))


def reduction(name: str, values: Callable = S.arrays) -> st.SearchStrategy:
    """A shape, an axis (None, int, negative int or tuple), keepdims, and values from ``values``."""
    @st.composite
    def draw_case(draw):
        shape = draw(S.shapes())
        axis, keepdims = draw(S.axis_keepdims(shape))
        return OpSample(name, [draw(values(shape))], axis=axis, keepdims=keepdims)

    return draw_case()


def var_cases(name: str = "var") -> st.SearchStrategy:
    """Any axis/keepdims and ddof 0 or 1 (1 only where each output averages > 1 entry)."""
    @st.composite
    def draw_case(draw):
        shape = draw(S.shapes())
        axis, keepdims = draw(S.axis_keepdims(shape))
        n = S.reduced_count(shape, axis)
        ddof = draw(st.sampled_from([0, 1])) if n > 1 else 0
        values = S.arrays(shape) if name == "var" else S.distinct_arrays(shape)  # std: no zero spread
        if name == "std":
            assume(n > 1)
        return OpSample(name, [draw(values)], axis=axis, keepdims=keepdims, ddof=ddof)

    return draw_case()


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


# ---- contractions and shape ops (op coverage): einsum, diagonal, flip, roll, repeat, tril, triu
EINSUM_LETTERS = "abijkXY"  # lower and upper case (an implicit output sorts A-Z before a-z)


@st.composite
def einsum_cases(draw):
    """1-3 operands with random subscripts over 2-4 letters of sizes 2, 3 or 1: letters shared
    by operands (contracted or kept), repeated in one operand (diagonals, traces), in one
    operand only (summed), upper and lower case; a 0-d operand now and then; maybe '...' in
    some operands, covering the trailing dims of one 1-2 dim ellipsis shape (some of them 1: broadcast);
    an implicit output or an explicit one (any subset of the letters in any order, with '...'
    where the operands have one). Sizes are drawn first-choice 2 so that shrinking stays informative."""
    pool = draw(st.lists(st.sampled_from(EINSUM_LETTERS), min_size=2, max_size=4, unique=True))
    sizes = {c: draw(st.sampled_from([2, 3, 1])) for c in pool}
    ellipsis_shape = draw(S.shapes(min_dims=1, max_dims=2, max_side=3)) if draw(st.booleans()) else None
    terms, shapes = [], []
    for k in range(draw(st.sampled_from([2, 1, 3]))):
        scalar = draw(st.integers(0, 7)) == 0
        letters = [] if scalar else draw(st.lists(st.sampled_from(pool), min_size=1, max_size=3))  # with repeats
        term, shape = "".join(letters), [sizes[c] for c in letters]
        if ellipsis_shape is not None and draw(st.booleans()):
            n_covered = draw(st.sampled_from(range(len(ellipsis_shape), -1, -1)))  # all of it first
            covered = ellipsis_shape[len(ellipsis_shape) - n_covered:]
            at = draw(st.integers(0, len(letters)))
            term = term[:at] + "..." + term[at:]
            shape[at:at] = [1 if draw(st.integers(0, 3)) == 0 else n for n in covered]
        terms.append(term)
        shapes.append(tuple(shape))
    subscripts = ",".join(terms)
    if draw(st.booleans()):  # explicit output
        used = sorted(set(subscripts) - {".", ","})
        out = "".join(draw(st.lists(st.sampled_from(used), unique=True))) if used else ""
        if "..." in subscripts:
            at = draw(st.integers(0, len(out)))
            out = out[:at] + "..." + out[at:]
        subscripts += "->" + out
    return OpSample("einsum", [draw(S.arrays(s)) for s in shapes], subscripts=subscripts)


@st.composite
def diagonal_cases(draw):
    """At least 2-D, two distinct (maybe negative) axes, an offset that may leave the diagonal empty."""
    shape = draw(S.shapes(min_dims=2, max_dims=4))
    ndim = len(shape)
    axis1, axis2 = draw(st.lists(st.integers(0, ndim - 1), min_size=2, max_size=2, unique=True))
    axis1, axis2 = [ax - ndim if draw(st.booleans()) else ax for ax in (axis1, axis2)]
    offset = draw(st.integers(-shape[axis1], shape[axis2]))
    return OpSample("diagonal", [draw(S.arrays(shape))], offset=offset, axis1=axis1, axis2=axis2)


@st.composite
def flip_cases(draw):
    """Any shape; axis None, an int or a tuple (negative ones too)."""
    shape = draw(S.shapes())
    return OpSample("flip", [draw(S.arrays(shape))], axis=draw(S.axes(shape)))


@st.composite
def roll_cases(draw):
    """Shifts in [-6, 6] (beyond the length too): axis None with one shift, one axis, or a tuple
    of axes (repeats allowed: their shifts add) with one shift each or one for all."""
    shape = draw(S.shapes())
    ndim = len(shape)
    shifts = st.integers(-6, 6)
    kind = draw(st.sampled_from(["none", "int", "tuple"] if ndim else ["none"]))
    if kind == "none":
        axis, shift = None, draw(shifts)
    elif kind == "int":
        axis, shift = draw(st.integers(-ndim, ndim - 1)), draw(shifts)
    else:
        axis = tuple(draw(st.lists(st.integers(-ndim, ndim - 1), min_size=1, max_size=3)))
        shift = draw(shifts) if draw(st.booleans()) else tuple(draw(shifts) for _ in axis)
    return OpSample("roll", [draw(S.arrays(shape))], shift=shift, axis=axis)


@st.composite
def repeat_cases(draw):
    """axis None (flattened) or an int; one count in [0, 3] for all entries or a tuple of counts."""
    shape = draw(S.shapes(max_dims=3))
    axis = draw(st.none() | st.integers(-len(shape), len(shape) - 1)) if shape else None
    n = int(np.prod(shape, dtype=int)) if axis is None else shape[axis]
    counts = st.integers(0, 3)
    repeats = draw(counts) if draw(st.booleans()) else tuple(draw(counts) for _ in range(n))
    return OpSample("repeat", [draw(S.arrays(shape))], repeats=repeats, axis=axis)


def triangle_cases(name: str) -> st.SearchStrategy:
    """At least 1-D (NumPy broadcasts a vector to a square), k from below the last row to past
    the last column (all zero, all kept, and the boundaries between)."""
    @st.composite
    def draw_case(draw):
        shape = draw(S.shapes(min_dims=1, max_dims=4))
        rows, cols = (shape[-1], shape[-1]) if len(shape) == 1 else shape[-2:]
        return OpSample(name, [draw(S.arrays(shape))], k=draw(st.integers(-rows - 1, cols + 1)))

    return draw_case()

# CNN family: convolution, pooling, padding, standardization ---------------------------------
def _conv_axis(draw, max_side: int = 5):
    """One spatial axis of a convolution: (size, kernel, stride, padding, dilation), at least one window."""
    k, d = draw(st.integers(1, 3)), draw(st.integers(1, 2))
    p, s = draw(st.integers(0, 2)), draw(st.integers(1, 2))
    low = max(1, d * (k - 1) + 1 - 2 * p)
    return draw(st.integers(low, max(low, max_side))), k, s, p, d


def _conv_geometry(draw, max_side: int = 5):
    axes = [_conv_axis(draw, max_side) for _ in range(2)]
    size, kernel, stride, padding, dilation = (tuple(a[i] for a in axes) for i in range(5))
    out = tuple((n + 2 * p - d * (k - 1) - 1) // s + 1 for n, k, s, p, d in axes)
    return size, kernel, stride, padding, dilation, out


@st.composite
def conv2d_cases(draw):
    """x (N, C, H, W), w (O, C/G, kh, kw) and maybe a bias, with drawn strides, paddings, dilations, groups."""
    groups = draw(st.integers(1, 2))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    size, kernel, stride, padding, dilation, _ = _conv_geometry(draw)
    inputs = [draw(S.arrays((n, c) + size)), draw(S.arrays((o, c // groups) + kernel))]
    if draw(st.booleans()):
        inputs.append(draw(S.arrays((o,))))
    return OpSample("conv2d", inputs, stride=stride, padding=padding, dilation=dilation, groups=groups)


@st.composite
def conv_transpose2d_cases(draw):
    """x (N, C_in, H, W), w (C_in, C_out/G, kh, kw), maybe a bias; output_padding < stride."""
    groups = draw(st.integers(1, 2))
    c_in, c_out = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    size, kernel, stride, padding, dilation, out = _conv_geometry(draw, max_side=6)
    output_padding = tuple(draw(st.integers(0, s - 1)) for s in stride)
    sides = [(m - 1) * s - 2 * p + d * (k - 1) + op + 1
             for m, s, p, d, k, op in zip(out, stride, padding, dilation, kernel, output_padding)]
    assume(min(sides) >= 1)  # (a stride larger than the kernel's reach can leave nothing to output)
    inputs = [draw(S.arrays((n, c_in) + out)), draw(S.arrays((c_in, c_out // groups) + kernel))]
    if draw(st.booleans()):
        inputs.append(draw(S.arrays((c_out,))))
    return OpSample("conv_transpose2d", inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                    output_padding=output_padding)


@st.composite
def conv2d_weight_cases(draw):
    """x (N, C, H, W) and an output gradient g (N, O, OH, OW) of a drawn convolution geometry."""
    groups = draw(st.integers(1, 2))
    c, o = groups * draw(st.integers(1, 2)), groups * draw(st.integers(1, 2))
    n = draw(st.integers(1, 2))
    size, kernel, stride, padding, dilation, out = _conv_geometry(draw)
    return OpSample("conv2d_weight", [draw(S.arrays((n, c) + size)), draw(S.arrays((n, o) + out))],
                    kernel_size=kernel, stride=stride, padding=padding, dilation=dilation, groups=groups)


@st.composite
def unfold_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 3))
    size, kernel, stride, padding, dilation, _ = _conv_geometry(draw)
    return OpSample("unfold", [draw(S.arrays((n, c) + size))], kernel_size=kernel, dilation=dilation,
                    padding=padding, stride=stride)


@st.composite
def fold_cases(draw):
    n, c = draw(st.integers(1, 2)), draw(st.integers(1, 2))
    size, kernel, stride, padding, dilation, out = _conv_geometry(draw)
    cols = draw(S.arrays((n, c * kernel[0] * kernel[1], out[0] * out[1])))
    return OpSample("fold", [cols], output_size=size, kernel_size=kernel, dilation=dilation, padding=padding,
                    stride=stride)


def _pool_axis(draw, dilate: bool):
    """(size, kernel, stride, padding, dilation) of one pooling axis: padding <= kernel // 2, and every
    window holds a pixel of the image."""
    k = draw(st.integers(1, 3))
    s, p, d = draw(st.integers(1, 3)), draw(st.integers(0, k // 2)), draw(st.integers(1, 2)) if dilate else 1
    n = draw(st.integers(max(1, d * (k - 1) + 1 - 2 * p), 6))
    starts = np.arange((n + 2 * p - d * (k - 1) - 1) // s + 1) * s - p
    hits = starts[:, None] + np.arange(k) * d
    assume(bool(np.all(np.any((hits >= 0) & (hits < n), axis=1))))
    return n, k, s, p, d


@st.composite
def pool_cases(draw, name: str):
    """(N, C, H, W) images, kernel, stride (None: the kernel), padding; max_pool2d: dilation and no ties
    (distinct entries); avg_pool2d: count_include_pad."""
    axes = [_pool_axis(draw, name == "max_pool2d") for _ in range(2)]
    size, kernel, stride, padding, dilation = (tuple(a[i] for a in axes) for i in range(5))
    shape = (draw(st.integers(1, 2)), draw(st.integers(1, 2))) + size
    stride = None if stride == kernel and draw(st.booleans()) else stride
    if name == "max_pool2d":
        return OpSample(name, [draw(S.distinct_arrays(shape))], kernel_size=kernel, stride=stride, padding=padding,
                        dilation=dilation)
    return OpSample(name, [draw(S.arrays(shape))], kernel_size=kernel, stride=stride, padding=padding,
                    count_include_pad=draw(st.booleans()))


@st.composite
def pad_cases(draw):
    """Constant padding of any axes; reflect/edge/wrap/symmetric of the last one or two axes of a 3-D or 4-D
    array (what PyTorch's F.pad can express), reflect narrower than the side, wrap at most the side."""
    mode = draw(st.sampled_from(["constant", "reflect", "symmetric", "edge", "wrap"]))
    if mode == "constant":
        shape = draw(S.shapes(min_dims=1, max_dims=3))
        padded = range(len(shape))
    else:
        shape = draw(S.shapes(min_dims=3, max_dims=4, max_side=3))
        k = 2 if len(shape) == 4 else draw(st.integers(1, 2))
        padded = range(len(shape) - k, len(shape))
    limit = {"reflect": lambda n: n - 1, "wrap": lambda n: n}.get(mode, lambda n: 2)
    widths = tuple((draw(st.integers(0, min(2, limit(n)))), draw(st.integers(0, min(2, limit(n)))))
                   if a in padded else (0, 0) for a, n in enumerate(shape))
    params = {"widths": widths, "mode": mode}
    if mode == "constant":
        params["value"] = draw(st.sampled_from([0.0, -1.5]))
    return OpSample("pad", [draw(S.arrays(shape))], **params)


@st.composite
def standardize_cases(draw):
    """Distinct entries (a spread that finite differences can follow), any axes reducing >= 2 of them, an eps."""
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    axis = draw(S.axes(shape))
    assume(S.reduced_count(shape, axis) >= 2)
    return OpSample("standardize", [draw(S.distinct_arrays(shape, gap=0.05))], axis=axis,
                    eps=draw(st.sampled_from([1e-5, 0.1])))

# ----------------------------------------------------------------------------- NumPy references
def _axes(axis, ndim):
    return S.reduced_axes(axis, ndim)


def _np_logsumexp(x, axis, keepdims):
    return np.log(np.sum(np.exp(x), axis=_axes(axis, x.ndim), keepdims=keepdims))


def _np_softmax(x, axis):
    e = np.exp(x)
    return e / np.sum(e, axis=axis, keepdims=True)


def _np_clip(x, lo=None, hi=None):
    out = x if lo is None else np.where(x < lo, lo, x)
    return out if hi is None else np.where(out > hi, hi, out)


def _np_scatter_add(g, index, shape):
    out = np.zeros(shape, dtype=g.dtype)
    np.add.at(out, index, g)
    return out


def _np_cross_entropy(z, labels, reduction):
    logp = z - np.log(np.sum(np.exp(z), axis=1, keepdims=True))
    losses = -logp[np.arange(len(labels)), labels]
    return {"none": losses, "sum": losses.sum(), "mean": losses.mean()}[reduction]


def _np_linear(x, w, b=None, activation=None):
    y = np.einsum("...i,io->...o", x, w)
    y = y if b is None else y + b
    return {None: lambda: y, "relu": lambda: np.where(y > 0, y, 0.0), "tanh": lambda: np.tanh(y),
            "sigmoid": lambda: 1 / (1 + np.exp(-y))}[activation]()


def _np_reduce(fn):
    return lambda a, axis, keepdims, **kw: fn(a, axis=_axes(axis, a.ndim), keepdims=keepdims, **kw)


def _np_einsum(*arrays, subscripts):
    """Einsum by its definition, as a loop over every assignment of the letters, with its own
    reading of the subscripts ('...' as spare letters aligned right, implicit output in ASCII order)."""
    text = subscripts.replace(" ", "")
    lhs, _, out = text.partition("->")
    terms = lhs.split(",")
    spans = [a.ndim - len(t.replace("...", "")) for t, a in zip(terms, arrays)]
    spare = [c for c in string.ascii_letters if c not in text][:max(spans)]
    terms = [t.replace("...", "".join(spare[len(spare) - n:])) for t, n in zip(terms, spans)]
    if "->" not in text:
        named = lhs.replace("...", "")
        out = "".join(spare) + "".join(sorted(c for c in set(named) - {","} if named.count(c) == 1))
    out = out.replace("...", "".join(spare))
    sizes = {}
    for t, a in zip(terms, arrays):
        for c, n in zip(t, a.shape):
            sizes[c] = max(sizes.get(c, 1), n)
    letters = sorted(sizes)
    y = np.zeros([sizes[c] for c in out])
    for values in itertools.product(*[range(sizes[c]) for c in letters]):
        at = dict(zip(letters, values))
        term = 1.0
        for t, a in zip(terms, arrays):
            term = term * a[tuple(at[c] if n > 1 else 0 for c, n in zip(t, a.shape))]
        y[tuple(at[c] for c in out)] += term
    return y


def _np_diagonal(a, offset, axis1, axis2):
    b = np.moveaxis(a, (axis1, axis2), (-2, -1))
    lo1, lo2 = max(-offset, 0), max(offset, 0)
    n = max(0, min(b.shape[-2] - lo1, b.shape[-1] - lo2))
    return np.stack([b[..., j + lo1, j + lo2] for j in range(n)], axis=-1) if n else np.zeros(b.shape[:-2] + (0,))


def _np_roll(a, shift, axis):
    """out[i] = a[(i - shift) mod n] along each axis (a flattened if axis is None)."""
    flat = axis is None
    b = a.reshape(-1) if flat else a
    axes = (0,) if flat else axis if isinstance(axis, tuple) else (axis,)
    shifts = shift if isinstance(shift, tuple) else (shift,) * len(axes)
    for s, ax in zip(shifts, axes):
        n = b.shape[ax]
        b = np.take(b, (np.arange(n) - s) % n, axis=ax)
    return b.reshape(a.shape)


def _np_repeat(a, repeats, axis):
    b = a.reshape(-1) if axis is None else a
    ax = 0 if axis is None else axis
    n = b.shape[ax]
    counts = repeats if isinstance(repeats, tuple) else (repeats,) * n
    picks = [k for k in range(n) for _ in range(counts[k])]
    return np.take(b, np.asarray(picks, dtype=np.int64), axis=ax)


def _np_triangle(lower):
    def apply(a, k):
        b = np.broadcast_to(a, (a.shape[-1],) * 2) if a.ndim == 1 else a
        i, j = np.arange(b.shape[-2])[:, None], np.arange(b.shape[-1])[None, :]
        return np.where(j - i <= k if lower else j - i >= k, b, 0.0)

    return apply


# CNN family: written with loops over the output pixels (independent of the ops' im2col)
def _np_pad_zeros(x, p):
    return np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])))


def _np_conv2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1):
    n, c, h, wd = x.shape
    o, cg, kh, kw = w.shape
    (s0, s1), (d0, d1) = stride, dilation
    xp = _np_pad_zeros(x, padding)
    oh = (h + 2 * padding[0] - d0 * (kh - 1) - 1) // s0 + 1
    ow = (wd + 2 * padding[1] - d1 * (kw - 1) - 1) // s1 + 1
    y = np.zeros((n, o, oh, ow))
    og = o // groups
    for oc in range(o):
        g = oc // og
        for p in range(oh):
            for q in range(ow):
                patch = xp[:, g * cg:(g + 1) * cg, p * s0:p * s0 + d0 * (kh - 1) + 1:d0,
                           q * s1:q * s1 + d1 * (kw - 1) + 1:d1]
                y[:, oc, p, q] = np.einsum("ncij,cij->n", patch, w[oc])
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _np_conv_transpose2d(x, w, b=None, stride=(1, 1), padding=(0, 0), dilation=(1, 1), groups=1,
                         output_padding=(0, 0)):
    """Scatter each input pixel's w-weighted window into the (padded) output, then crop the padding."""
    n, c_in, h, wd = x.shape
    _, cg, kh, kw = w.shape
    (s0, s1), (d0, d1), (p0, p1) = stride, dilation, padding
    oh = (h - 1) * s0 - 2 * p0 + d0 * (kh - 1) + output_padding[0] + 1
    ow = (wd - 1) * s1 - 2 * p1 + d1 * (kw - 1) + output_padding[1] + 1
    full = np.zeros((n, cg * groups, oh + 2 * p0, ow + 2 * p1))
    ig = c_in // groups
    for ci in range(c_in):
        g = ci // ig
        for p in range(h):
            for q in range(wd):
                for i in range(kh):
                    for j in range(kw):
                        full[:, g * cg:(g + 1) * cg, p * s0 + i * d0, q * s1 + j * d1] += \
                            x[:, ci, p, q, None] * w[ci, :, i, j]
    y = full[:, :, p0:p0 + oh, p1:p1 + ow]
    return y if b is None else y + b.reshape(1, -1, 1, 1)


def _np_conv2d_weight(x, g, kernel_size, stride, padding, dilation, groups):
    """dL/dw of L = Σ g · conv2d(x, w), summed pixel by pixel."""
    n, c, _, _ = x.shape
    o, oh, ow = g.shape[1:]
    kh, kw = kernel_size
    (s0, s1), (d0, d1) = stride, dilation
    xp = _np_pad_zeros(x, padding)
    cg, og = c // groups, o // groups
    w = np.zeros((o, cg, kh, kw))
    for oc in range(o):
        grp = oc // og
        for p in range(oh):
            for q in range(ow):
                patch = xp[:, grp * cg:(grp + 1) * cg, p * s0:p * s0 + d0 * (kh - 1) + 1:d0,
                           q * s1:q * s1 + d1 * (kw - 1) + 1:d1]
                w[oc] += np.einsum("n,ncij->cij", g[:, oc, p, q], patch)
    return w


def _np_unfold(x, kernel_size, dilation, padding, stride):
    n, c, h, wd = x.shape
    (kh, kw), (d0, d1), (s0, s1) = kernel_size, dilation, stride
    xp = _np_pad_zeros(x, padding)
    oh = (h + 2 * padding[0] - d0 * (kh - 1) - 1) // s0 + 1
    ow = (wd + 2 * padding[1] - d1 * (kw - 1) - 1) // s1 + 1
    cols = np.zeros((n, c * kh * kw, oh * ow))
    for ch in range(c):
        for i in range(kh):
            for j in range(kw):
                for p in range(oh):
                    for q in range(ow):
                        cols[:, (ch * kh + i) * kw + j, p * ow + q] = xp[:, ch, p * s0 + i * d0, q * s1 + j * d1]
    return cols


def _np_fold(cols, output_size, kernel_size, dilation, padding, stride):
    (h, wd), (kh, kw), (d0, d1), (s0, s1), (p0, p1) = output_size, kernel_size, dilation, stride, padding
    n, c = cols.shape[0], cols.shape[1] // (kh * kw)
    oh = (h + 2 * p0 - d0 * (kh - 1) - 1) // s0 + 1
    ow = (wd + 2 * p1 - d1 * (kw - 1) - 1) // s1 + 1
    full = np.zeros((n, c, h + 2 * p0, wd + 2 * p1))
    for ch in range(c):
        for i in range(kh):
            for j in range(kw):
                for p in range(oh):
                    for q in range(ow):
                        full[:, ch, p * s0 + i * d0, q * s1 + j * d1] += cols[:, (ch * kh + i) * kw + j, p * ow + q]
    return full[:, :, p0:p0 + h, p1:p1 + wd]


def _np_pool(x, kernel_size, stride, padding, dilation, reduce):
    """Each output pixel from its window, padding dropped (``reduce(values, count_in_window)``)."""
    n, c, h, wd = x.shape
    (kh, kw), (p0, p1), (d0, d1) = kernel_size, padding, dilation
    s0, s1 = kernel_size if stride is None else stride
    oh = (h + 2 * p0 - d0 * (kh - 1) - 1) // s0 + 1
    ow = (wd + 2 * p1 - d1 * (kw - 1) - 1) // s1 + 1
    y = np.zeros((n, c, oh, ow))
    for p in range(oh):
        for q in range(ow):
            rows = [p * s0 + i * d0 - p0 for i in range(kh)]
            cols = [q * s1 + j * d1 - p1 for j in range(kw)]
            inside = [(r, k) for r in rows for k in cols if 0 <= r < h and 0 <= k < wd]
            values = np.stack([x[:, :, r, k] for r, k in inside], axis=-1)
            y[:, :, p, q] = reduce(values, len(inside))
    return y


def _np_max_pool2d(x, kernel_size, stride=None, padding=(0, 0), dilation=(1, 1)):
    return _np_pool(x, kernel_size, stride, padding, dilation, lambda v, m: v.max(axis=-1))


def _np_avg_pool2d(x, kernel_size, stride=None, padding=(0, 0), count_include_pad=True):
    kk = kernel_size[0] * kernel_size[1]
    return _np_pool(x, kernel_size, stride, padding, (1, 1),
                    lambda v, m: v.sum(axis=-1) / (kk if count_include_pad else m))


def _pad_source(i: int, n: int, mode: str) -> int:
    """The index of x that padded position i (relative to x's start) copies, by the mode's rule."""
    while not 0 <= i < n:
        if mode == "edge":
            i = min(max(i, 0), n - 1)
        elif mode == "wrap":
            i %= n
        elif mode == "reflect":
            i = -i if i < 0 else 2 * (n - 1) - i
        else:  # symmetric
            i = -i - 1 if i < 0 else 2 * n - 1 - i
    return i


def _np_pad(x, widths, mode, value=0.0):
    shape = tuple(n + b + a for n, (b, a) in zip(x.shape, widths))
    y = np.empty(shape)
    for pos in np.ndindex(*shape):
        rel = [i - b for i, (b, _) in zip(pos, widths)]
        if mode == "constant":
            y[pos] = x[tuple(rel)] if all(0 <= r < n for r, n in zip(rel, x.shape)) else value
        else:
            y[pos] = x[tuple(_pad_source(r, n, mode) for r, n in zip(rel, x.shape))]
    return y


def _np_standardize(x, axis, eps):
    axes = _axes(axis, x.ndim)
    centered = x - x.mean(axis=axes, keepdims=True)
    return centered / np.sqrt((centered ** 2).mean(axis=axes, keepdims=True) + eps)

# ----------------------------------------------------------------------------- PyTorch references
def _dims(axis, ndim):
    """Our ``axis`` as a torch ``dim`` tuple (None = all axes; a 0-d tensor has none)."""
    return S.reduced_axes(axis, ndim)


def _t_reduce(name):
    def apply(x, axis, keepdims, **kw):
        fn = getattr(T, name)
        dims = _dims(axis, x.ndim)
        if not dims:  # 0-d input: nothing to reduce
            return fn(x.reshape(1), dim=0, keepdim=False, **kw).reshape(())
        return fn(x, dim=dims, keepdim=keepdims, **kw)

    return apply


def _torch_index(index):
    """The same index for torch: arrays become tensors. None if torch cannot express it
    (negative slice steps)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice) and p.step is not None and p.step < 0:
            return None
        out.append(T.from_numpy(p) if isinstance(p, np.ndarray) else p)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _positions(shape, index):
    """Flat positions ``a[index]`` picks, as an int64 torch tensor of the result's shape."""
    picked = np.arange(int(np.prod(shape, dtype=int))).reshape(shape)[index]
    return T.from_numpy(np.array(picked, dtype=np.int64, copy=True))  # fresh strides (no negative ones)


def _t_getitem(x, index):
    tindex = _torch_index(index)
    if tindex is None:  # negative steps: gather the same positions from the flattened tensor
        return x.reshape(-1)[_positions(x.shape, index)]
    return x[tindex]


def _t_scatter_add(g, index, shape):
    size = int(np.prod(shape, dtype=int))
    pos = _positions(shape, index).reshape(-1)
    out = T.zeros(size, dtype=g.dtype).index_put((pos,), g.reshape(-1), accumulate=True)
    return out.reshape(shape)


def _t_linear(x, w, b=None, activation=None):
    y = T.nn.functional.linear(x, w.T, b)  # our weight is (n_in, n_out), torch's (n_out, n_in)
    return y if activation is None else getattr(T, activation)(y)


def _t_arg(name):
    def apply(x, axis, keepdims):
        if axis is None:  # numpy: the index into the flattened tensor
            out = getattr(T, name)(x.reshape(-1))
            return out.reshape((1,) * x.ndim) if keepdims else out
        return getattr(T, name)(x, dim=axis, keepdim=keepdims)

    return apply


_TORCH_DTYPES = {np.dtype(np.float32): "float32", np.dtype(np.float64): "float64"}


def _t_flip(x, axis):
    return T.flip(x, tuple(range(x.ndim)) if axis is None else axis if isinstance(axis, tuple) else (axis,))


def _t_roll(x, shift, axis):
    """torch.roll wants one shift per axis: an int shift is repeated over a tuple of axes."""
    if isinstance(axis, tuple) and not isinstance(shift, tuple):
        shift = (shift,) * len(axis)
    return T.roll(x, shift, axis)


def _t_repeat(x, repeats, axis):
    return T.repeat_interleave(x, T.tensor(repeats) if isinstance(repeats, tuple) else repeats, dim=axis)


def _t_triangle(name):
    def apply(x, k):
        n = x.shape[-1]
        return getattr(T, name)(x.expand(n, n) if x.ndim == 1 else x, diagonal=k)

    return apply


# ------------------------------------------------------------------ more elementwise ops, products, scans, norms
def unary_in(name: str, lo: float, hi: float, **params: Any) -> st.SearchStrategy:
    """One array with entries in [lo, hi] (the op's domain, or a range where it stays moderate)."""
    return unary(name, lambda s: S.arrays(s, S.floats(lo, hi)), **params)


def off_kinks(name: str, kinks: tuple[float, ...], lo: float = -S.BOUND, hi: float = S.BOUND) -> st.SearchStrategy:
    return unary(name, lambda s: S.off_kink_arrays(s, kinks=kinks, lo=lo, hi=hi))


@st.composite
def with_param_cases(draw, name: str, param: str, choices: tuple, values: Callable = S.arrays):
    """One array and one of ``choices`` for the op's parameter ``param``."""
    x = draw(S.shapes().flatmap(values))
    return OpSample(name, [x], **{param: draw(st.sampled_from(choices))})


@st.composite
def elu_cases(draw):
    """x off ELU's kink at 0 and an alpha (ELU is C¹ at 0 only for alpha = 1)."""
    x = draw(S.shapes().flatmap(S.off_kink_arrays))
    return OpSample("elu", [x], alpha=draw(st.sampled_from([1.0, 0.5, 2.0])))


@st.composite
def scan_cases(draw, name: str, values: Callable = S.arrays):
    """At least 1-D arrays and one (maybe negative) int axis."""
    shape = draw(S.shapes(min_dims=1))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    return OpSample(name, [draw(values(shape))], axis=axis)


def with_zeros(lo: float, hi: float):
    """Floats in [lo, hi] with exact zeros drawn often (prod and cumprod at zeros are smooth)."""
    return st.one_of(st.just(0.0), S.floats(lo, hi))


@st.composite
def distinct_magnitudes(draw, shape, gap: float = S.TIE_GAP, bound: float = S.BOUND):
    """Arrays of random signs whose |entries| are ≥ gap and pairwise ≥ 3/4 gap apart (no ties of |a|)."""
    n = int(np.prod(shape, dtype=int))
    k = int(bound / gap)
    grid = draw(st.lists(st.integers(1, k), min_size=n, max_size=n, unique=True))
    jitter = draw(st.lists(S.floats(0.0, gap / 4), min_size=n, max_size=n))
    signs = draw(st.lists(st.sampled_from([-1.0, 1.0]), min_size=n, max_size=n))
    return (np.asarray(signs) * (np.asarray(grid, dtype=np.float64) * gap + np.asarray(jitter))).reshape(shape)


@st.composite
def norm_cases(draw):
    """ord None over any axes (entries nonzero, so no output is 0); vector ords 1 (off 0), ±inf (distinct
    |a|) over one axis; matrix ords 'fro', 1, -1, ±inf over two axes (rows, columns in either order),
    with the extreme row/column sum ahead of the next by at least TIE_GAP."""
    kind = draw(st.sampled_from(["euclid", "vector", "matrix"]))
    if kind == "euclid":
        shape = draw(S.shapes())
        axis, keepdims = draw(S.axis_keepdims(shape))
        ord_ = draw(st.sampled_from([None, 2])) if isinstance(axis, int) else None
        return OpSample("norm", [draw(S.nonzero_arrays(shape, 0.1))], ord=ord_, axis=axis, keepdims=keepdims)
    if kind == "vector":
        shape = draw(S.shapes(min_dims=1))
        axis = draw(st.integers(-len(shape), len(shape) - 1)) if len(shape) > 1 or draw(st.booleans()) else None
        ord_ = draw(st.sampled_from([1, np.inf, -np.inf]))
        x = draw(S.nonzero_arrays(shape, 0.1) if ord_ == 1 else distinct_magnitudes(shape))
        return OpSample("norm", [x], ord=ord_, axis=axis, keepdims=draw(st.booleans()))
    shape = draw(S.shapes(min_dims=2, max_dims=3))
    ndim = len(shape)
    if ndim == 2 and draw(st.booleans()):
        axis, axes = None, (0, 1)
    else:
        axes = tuple(draw(st.permutations(range(ndim)))[:2])
        axis = tuple(a - ndim if draw(st.booleans()) else a for a in axes)
    ord_ = draw(st.sampled_from(["fro", 1, -1, np.inf, -np.inf]))
    x = draw(distinct_magnitudes(shape))
    if ord_ != "fro":
        rows, cols = axes
        summed, extreme = (rows, cols) if ord_ in (1, -1) else (cols, rows)
        sums = np.moveaxis(np.sum(np.abs(x), axis=summed, keepdims=True), extreme, -1)
        ranked = np.sort(sums, axis=-1)
        top = ranked[..., -2:] if ord_ > 0 else ranked[..., :2]
        assume(sums.shape[-1] == 1 or bool(np.all(np.abs(top[..., 1] - top[..., 0]) >= S.TIE_GAP)))
    return OpSample("norm", [x], ord=ord_, axis=axis, keepdims=draw(st.booleans()))


@st.composite
def logsumexp_cases(draw):
    """Any axis/keepdims; half the time with weights b (in [0.1, 3]) broadcasting against a."""
    if draw(st.booleans()):
        shape = draw(S.shapes())
        axis, keepdims = draw(S.axis_keepdims(shape))
        return OpSample("logsumexp", [draw(S.arrays(shape))], axis=axis, keepdims=keepdims)
    sa, sb = draw(S.broadcastable_pairs())
    full = np.broadcast_shapes(sa, sb)
    axis, keepdims = draw(S.axis_keepdims(full))
    return OpSample("logsumexp", [draw(S.arrays(sa)), draw(S.positive_arrays(sb))], axis=axis, keepdims=keepdims)


def _np_logsumexp_b(a, b=None, axis=None, keepdims=False):
    if b is None:
        return _np_logsumexp(a, axis, keepdims)
    a, b = np.broadcast_arrays(a, b)
    return np.log(np.sum(b * np.exp(a), axis=_axes(axis, a.ndim), keepdims=keepdims))


def _t_logsumexp_b(a, b=None, axis=None, keepdims=False):
    x = a if b is None else a + T.log(b)  # log Σ b e^a = log Σ e^(a + log b) for b > 0
    return _t_reduce("logsumexp")(x, axis, keepdims)


_math_erf, _math_erfc = np.vectorize(math.erf, otypes=[float]), np.vectorize(math.erfc, otypes=[float])


def _np_gelu(a, approximate):
    if approximate == "tanh":
        return 0.5 * a * (1 + np.tanh(np.sqrt(2 / np.pi) * (a + 0.044715 * a ** 3)))
    return 0.5 * a * (1 + _math_erf(a / np.sqrt(2)))


def _np_prod(a, axis, keepdims):
    """Π over the axes as a product of slices, one axis at a time (not np.prod)."""
    out = a
    for ax in sorted(_axes(axis, a.ndim), reverse=True):
        acc = np.ones_like(np.take(out, [0], axis=ax))
        for k in range(out.shape[ax]):
            acc = acc * np.take(out, [k], axis=ax)
        out = acc if keepdims else np.squeeze(acc, axis=ax)
    return out


def _t_prod(x, axis, keepdims):
    """torch.prod takes one dim: reduce the axes one at a time."""
    for ax in sorted(_dims(axis, x.ndim), reverse=True):
        x = T.prod(x, dim=ax, keepdim=keepdims)
    return x


def _np_cumsum(a, axis):
    """Σ_{j≤i} as a product with an upper-triangular matrix of ones along the axis."""
    moved = np.moveaxis(a, axis, -1)
    n = moved.shape[-1]
    return np.moveaxis(moved @ np.triu(np.ones((n, n))), -1, axis)


def _np_cumprod(a, axis):
    moved = np.moveaxis(a, axis, -1)
    out = np.stack([np.prod(moved[..., : i + 1], axis=-1) for i in range(moved.shape[-1])], axis=-1)
    return np.moveaxis(out, -1, axis)


def _np_norm(a, ord=None, axis=None, keepdims=False):  # noqa: A002
    if ord is None:  # the Euclidean norm over any axes (np.linalg.norm takes one or two)
        return np.sqrt(np.sum(a * a, axis=_axes(axis, a.ndim), keepdims=keepdims))
    return np.linalg.norm(a, ord, axis=axis, keepdims=keepdims)


def _t_norm(x, ord=None, axis=None, keepdims=False):  # noqa: A002
    if x.ndim == 0:
        return T.linalg.vector_norm(x.reshape(1), 2 if ord is None else ord, dim=0, keepdim=False).reshape(())
    if ord is None or (isinstance(axis, int) or (axis is None and x.ndim == 1)):
        return T.linalg.vector_norm(x, 2 if ord is None else ord, dim=_dims(axis, x.ndim), keepdim=keepdims)
    return T.linalg.matrix_norm(x, ord, dim=(0, 1) if axis is None else axis, keepdim=keepdims)

# CNN family
def _t_conv2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    return T.nn.functional.conv2d(x, w, b, stride=stride, padding=padding, dilation=dilation, groups=groups)


def _t_conv_transpose2d(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, output_padding=0):
    return T.nn.functional.conv_transpose2d(x, w, b, stride=stride, padding=padding, output_padding=output_padding,
                                            groups=groups, dilation=dilation)


def _t_conv2d_weight(x, g, kernel_size, stride, padding, dilation, groups):
    """conv2d's weight gradient by torch's autograd (differentiable again: create_graph)."""
    w = T.zeros((g.shape[1], x.shape[1] // groups) + tuple(kernel_size), dtype=x.dtype, requires_grad=True)
    y = T.nn.functional.conv2d(x, w, None, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return T.autograd.grad(y, w, grad_outputs=g, create_graph=True)[0]


def _t_avg_pool2d(x, kernel_size, stride=None, padding=0, count_include_pad=True):
    return T.nn.functional.avg_pool2d(x, kernel_size, stride=kernel_size if stride is None else stride,
                                      padding=padding, count_include_pad=count_include_pad)


_T_PAD_MODES = {"constant": "constant", "reflect": "reflect", "edge": "replicate", "wrap": "circular"}


def _t_pad(x, widths, mode, value=0.0):
    """F.pad (widths from the last axis backwards; the cases pad at most the last two axes in the modes
    that copy); symmetric, which torch lacks, as index_select of the source positions by mode's rule."""
    if mode == "symmetric":
        for axis, (b, a) in enumerate(widths):
            n = x.shape[axis]
            src = [_pad_source(i - b, n, mode) for i in range(n + b + a)]
            x = x.index_select(axis, T.tensor(src, dtype=T.int64))
        return x
    flat = [w for pair in reversed(widths) for w in pair]
    if mode != "constant":
        flat = flat[:4] if len(widths) == 4 or any(widths[-2]) else flat[:2]
    if mode == "constant":
        return T.nn.functional.pad(x, flat, mode="constant", value=value)
    return T.nn.functional.pad(x, flat, mode=_T_PAD_MODES[mode])


def _t_standardize(x, axis, eps):
    dims = _dims(axis, x.ndim)
    centered = x - x.mean(dim=dims, keepdim=True)
    return centered / T.sqrt(centered.pow(2).mean(dim=dims, keepdim=True) + eps)

# ----------------------------------------------------------------------------- the table
def _case(name, strategy, numpy, torch=None, **flags) -> OpCase:
    return OpCase(name, strategy, numpy, torch, **flags)


_CASES = [
    _case("add", binary("add", S.arrays, S.arrays), lambda a, b: a + b, lambda a, b: T.add(a, b)),
    _case("sub", binary("sub", S.arrays, S.arrays), lambda a, b: a - b, lambda a, b: T.sub(a, b)),
    _case("mul", binary("mul", S.arrays, S.arrays), lambda a, b: a * b, lambda a, b: T.mul(a, b)),
    _case("div", binary("div", S.arrays, S.nonzero_arrays), lambda a, b: a / b, lambda a, b: T.div(a, b)),
    _case("pow", binary("pow", lambda s: S.positive_arrays(s, 0.5, 2.5), lambda s: S.arrays(s, S.floats(-2.0, 2.0))),
          lambda a, b: np.exp(b * np.log(a)), lambda a, b: T.pow(a, b)),
    _case("neg", unary("neg", S.arrays), lambda a: -a, lambda a: T.neg(a)),
    _case("exp", unary("exp", S.arrays), np.exp, lambda a: T.exp(a)),
    _case("log", unary("log", S.positive_arrays), np.log, lambda a: T.log(a)),
    _case("sqrt", unary("sqrt", S.positive_arrays), np.sqrt, lambda a: T.sqrt(a)),
    _case("abs", unary("abs", S.off_kink_arrays), lambda a: np.where(a < 0, -a, a), lambda a: T.abs(a), smooth=False),
    _case("sign", unary("sign", S.off_kink_arrays), lambda a: np.where(a > 0, 1.0, np.where(a < 0, -1.0, 0.0)),
          lambda a: T.sign(a), smooth=False),
    _case("tanh", unary("tanh", S.arrays), np.tanh, lambda a: T.tanh(a)),
    _case("sigmoid", unary("sigmoid", lambda s: S.arrays(s, S.floats(-6.0, 6.0))), lambda a: 1 / (1 + np.exp(-a)),
          lambda a: T.sigmoid(a)),
    _case("relu", unary("relu", S.off_kink_arrays), lambda a: np.where(a > 0, a, 0.0), lambda a: T.relu(a),
          smooth=False),
    _case("leaky_relu", leaky_relu_cases(), lambda a, negative_slope: np.where(a > 0, a, negative_slope * a),
          lambda x, negative_slope: T.nn.functional.leaky_relu(x, negative_slope=negative_slope), smooth=False),
    _case("maximum", extremum_pair_cases("maximum"), lambda a, b: np.where(a > b, a, b),
          lambda a, b: T.maximum(a, b), smooth=False),
    _case("minimum", extremum_pair_cases("minimum"), lambda a, b: np.where(a < b, a, b),
          lambda a, b: T.minimum(a, b), smooth=False),
    _case("where", where_cases(), lambda a, b, cond: np.where(cond, a, b),
          lambda a, b, cond: T.where(T.from_numpy(cond), a, b)),
    _case("clip", clip_cases(), _np_clip, lambda x, lo=None, hi=None: T.clamp(x, min=lo, max=hi), smooth=False),
    _case("cast", cast_cases(), lambda a, dtype: a.astype(dtype),
          lambda x, dtype: x.to(getattr(T, _TORCH_DTYPES[dtype]))),
    _case("matmul", matmul_cases(), np.matmul, lambda a, b: T.matmul(a, b)),
    _case("linear", linear_cases("linear"), _np_linear, _t_linear),
    _case("linear_act", linear_cases("linear_act"), _np_linear, _t_linear),
    _case("sum", reduction("sum"), _np_reduce(np.sum), _t_reduce("sum")),
    _case("mean", reduction("mean"), _np_reduce(np.mean), _t_reduce("mean")),
    _case("var", var_cases("var"), _np_reduce(np.var),
          lambda x, axis, keepdims, ddof: _t_reduce("var")(x, axis, keepdims, correction=ddof)),
    _case("std", var_cases("std"), _np_reduce(np.std),
          lambda x, axis, keepdims, ddof: _t_reduce("std")(x, axis, keepdims, correction=ddof)),
    _case("max", reduction("max", S.distinct_arrays), _np_reduce(np.max), _t_reduce("amax"), smooth=False),
    _case("min", reduction("min", S.distinct_arrays), _np_reduce(np.min), _t_reduce("amin"), smooth=False),
    _case("logsumexp", logsumexp_cases(), _np_logsumexp_b, _t_logsumexp_b),
    _case("softmax", softmax_like("softmax"), _np_softmax, lambda x, axis: T.softmax(x, dim=axis)),
    _case("log_softmax", softmax_like("log_softmax"), lambda a, axis: np.log(_np_softmax(a, axis)),
          lambda x, axis: T.log_softmax(x, dim=axis)),
    _case("reshape", reshape_cases(), lambda a, shape: np.reshape(a, shape), lambda x, shape: x.reshape(shape)),
    _case("transpose", transpose_cases(), lambda a, axes: np.transpose(a, axes),
          lambda x, axes: x.permute(*axes) if axes else x),
    _case("expand", expand_cases(), lambda a, shape: np.broadcast_to(a, shape),
          lambda x, shape: T.broadcast_to(x, shape)),
    _case("getitem", getitem_cases(), lambda a, index: a[index], _t_getitem),
    _case("scatter_add", scatter_add_cases(), _np_scatter_add, _t_scatter_add),
    _case("concatenate", concatenate_cases(), lambda *arrays, axis: np.concatenate(arrays, axis=axis),
          lambda *xs, axis: T.cat(xs, dim=axis)),
    _case("stack", stack_cases(), lambda *arrays, axis: np.stack(arrays, axis=axis),
          lambda *xs, axis: T.stack(xs, dim=axis)),
    _case("cross_entropy", cross_entropy_cases(), _np_cross_entropy,
          lambda z, labels, reduction: T.nn.functional.cross_entropy(z, T.from_numpy(labels), reduction=reduction)),
    _case("less", comparison_cases("less"), np.less, lambda a, b: T.lt(a, b), differentiable=False),
    _case("less_equal", comparison_cases("less_equal"), np.less_equal, lambda a, b: T.le(a, b), differentiable=False),
    _case("greater", comparison_cases("greater"), np.greater, lambda a, b: T.gt(a, b), differentiable=False),
    _case("greater_equal", comparison_cases("greater_equal"), np.greater_equal, lambda a, b: T.ge(a, b),
          differentiable=False),
    _case("equal", comparison_cases("equal"), np.equal, lambda a, b: T.eq(a, b), differentiable=False),
    _case("not_equal", comparison_cases("not_equal"), np.not_equal, lambda a, b: T.ne(a, b), differentiable=False),
    _case("argmax", arg_reduction_cases("argmax"), np.argmax, _t_arg("argmax"), differentiable=False),
    _case("argmin", arg_reduction_cases("argmin"), np.argmin, _t_arg("argmin"), differentiable=False),
    # contractions and shape ops (op coverage)
    _case("einsum", einsum_cases(), _np_einsum, lambda *xs, subscripts: T.einsum(subscripts, *xs)),
    _case("diagonal", diagonal_cases(), _np_diagonal,
          lambda x, offset, axis1, axis2: T.diagonal(x, offset, axis1, axis2)),
    _case("flip", flip_cases(), lambda a, axis: a[tuple(slice(None, None, -1) if d in S.reduced_axes(axis, a.ndim)
                                                        else slice(None) for d in range(a.ndim))], _t_flip),
    _case("roll", roll_cases(), _np_roll, _t_roll),
    _case("repeat", repeat_cases(), _np_repeat, _t_repeat),
    _case("tril", triangle_cases("tril"), _np_triangle(lower=True), _t_triangle("tril")),
    _case("triu", triangle_cases("triu"), _np_triangle(lower=False), _t_triangle("triu")),
    # op coverage: more elementwise ops (torch references in T and T.nn.functional)
    _case("sin", unary("sin", S.arrays), np.sin, lambda a: T.sin(a)),
    _case("cos", unary("cos", S.arrays), np.cos, lambda a: T.cos(a)),
    _case("tan", unary_in("tan", -1.4, 1.4), lambda a: np.sin(a) / np.cos(a), lambda a: T.tan(a)),
    _case("sinh", unary("sinh", S.arrays), lambda a: (np.exp(a) - np.exp(-a)) / 2, lambda a: T.sinh(a)),
    _case("cosh", unary("cosh", S.arrays), lambda a: (np.exp(a) + np.exp(-a)) / 2, lambda a: T.cosh(a)),
    _case("arcsin", unary_in("arcsin", -0.9, 0.9), np.arcsin, lambda a: T.asin(a)),
    _case("arccos", unary_in("arccos", -0.9, 0.9), np.arccos, lambda a: T.acos(a)),
    _case("arctan", unary("arctan", S.arrays), np.arctan, lambda a: T.atan(a)),
    _case("arctan2", binary("arctan2", lambda s: S.nonzero_arrays(s, 0.1), S.arrays),
          lambda a, b: np.angle(b + 1j * a), lambda a, b: T.atan2(a, b)),  # a ≠ 0: off the origin and the cut
    _case("square", unary("square", S.arrays), lambda a: a * a, lambda a: T.square(a)),
    _case("log1p", unary_in("log1p", -0.9, 3.0), lambda a: np.log(1 + a), lambda a: T.log1p(a)),
    _case("expm1", unary("expm1", S.arrays), lambda a: np.exp(a) - 1, lambda a: T.expm1(a)),
    _case("log2", unary("log2", S.positive_arrays), lambda a: np.log(a) / np.log(2), lambda a: T.log2(a)),
    _case("log10", unary("log10", S.positive_arrays), lambda a: np.log(a) / np.log(10), lambda a: T.log10(a)),
    _case("exp2", unary("exp2", S.arrays), lambda a: np.exp(a * np.log(2)), lambda a: T.exp2(a)),
    _case("logaddexp", binary("logaddexp", S.arrays, S.arrays), lambda a, b: np.log(np.exp(a) + np.exp(b)),
          lambda a, b: T.logaddexp(a, b)),
    _case("softplus", with_param_cases("softplus", "beta", (1.0, 0.5, 2.0)),
          lambda a, beta: np.log(1 + np.exp(beta * a)) / beta,
          lambda x, beta: T.nn.functional.softplus(x, beta=beta, threshold=100.0)),  # (threshold: exact here)
    _case("gelu", with_param_cases("gelu", "approximate", ("none", "tanh")), _np_gelu,
          lambda x, approximate: T.nn.functional.gelu(x, approximate=approximate)),
    _case("silu", unary("silu", S.arrays), lambda a: a / (1 + np.exp(-a)), lambda a: T.nn.functional.silu(a)),
    _case("mish", unary("mish", S.arrays), lambda a: a * np.tanh(np.log(1 + np.exp(a))),
          lambda a: T.nn.functional.mish(a)),
    _case("elu", elu_cases(), lambda a, alpha: np.where(a > 0, a, alpha * (np.exp(a) - 1)),
          lambda x, alpha: T.nn.functional.elu(x, alpha=alpha)),
    _case("relu6", off_kinks("relu6", (0.0, 6.0), -3.0, 9.0), lambda a: np.where(a < 0, 0.0, np.where(a > 6, 6.0, a)),
          lambda a: T.nn.functional.relu6(a), smooth=False),
    _case("hardswish", off_kinks("hardswish", (-3.0, 3.0), -5.0, 5.0),
          lambda a: np.where(a <= -3, 0.0, np.where(a >= 3, a, a * (a + 3) / 6)),
          lambda a: T.nn.functional.hardswish(a)),
    _case("erf", unary("erf", S.arrays), _math_erf, lambda a: T.erf(a)),
    _case("erfc", unary("erfc", S.arrays), _math_erfc, lambda a: T.erfc(a)),
    _case("hypot", binary("hypot", lambda s: S.nonzero_arrays(s, 0.1), S.arrays), lambda a, b: np.sqrt(a * a + b * b),
          lambda a, b: T.hypot(a, b)),  # a ≠ 0: off the kink at the origin
    # op coverage: products, scans, norms
    _case("prod", reduction("prod", lambda s: S.arrays(s, with_zeros(-1.3, 1.3))), _np_prod, _t_prod),
    _case("cumsum", scan_cases("cumsum"), _np_cumsum, lambda x, axis: T.cumsum(x, dim=axis)),
    _case("cumprod", scan_cases("cumprod", lambda s: S.arrays(s, with_zeros(-2.0, 2.0))), _np_cumprod,
          lambda x, axis: T.cumprod(x, dim=axis)),
    _case("norm", norm_cases(), _np_norm, _t_norm, smooth=False),  # (ords 1 and ±inf are piecewise linear)
    # CNN family: convolution, pooling, padding, standardization
    _case("conv2d", conv2d_cases(), _np_conv2d, _t_conv2d),
    _case("conv_transpose2d", conv_transpose2d_cases(), _np_conv_transpose2d, _t_conv_transpose2d),
    _case("conv2d_weight", conv2d_weight_cases(), _np_conv2d_weight, _t_conv2d_weight),
    _case("unfold", unfold_cases(), _np_unfold,
          lambda x, kernel_size, dilation, padding, stride: T.nn.functional.unfold(
              x, kernel_size, dilation, padding, stride)),
    _case("fold", fold_cases(), _np_fold,
          lambda x, output_size, kernel_size, dilation, padding, stride: T.nn.functional.fold(
              x, output_size, kernel_size, dilation, padding, stride)),
    _case("max_pool2d", pool_cases("max_pool2d"), _np_max_pool2d,
          lambda x, kernel_size, stride, padding, dilation: T.nn.functional.max_pool2d(
              x, kernel_size, kernel_size if stride is None else stride, padding, dilation), smooth=False),
    _case("avg_pool2d", pool_cases("avg_pool2d"), _np_avg_pool2d, _t_avg_pool2d),
    _case("pad", pad_cases(), _np_pad, _t_pad),
    _case("standardize", standardize_cases(), _np_standardize, _t_standardize),
]

#: op name -> OpCase (see the module docstring).
OP_CASES: dict[str, OpCase] = {case.name: case for case in _CASES}

#: Names of the differentiable ops, and of those whose second derivative is smooth on the drawn domain.
DIFFERENTIABLE_OPS = tuple(name for name, case in OP_CASES.items() if case.differentiable)
SMOOTH_OPS = tuple(name for name, case in OP_CASES.items() if case.smooth and case.differentiable)
