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
    _case("cast", cast_cases(), lambda a, dtype: a.astype(dtype), lambda x, dtype: x.to(getattr(T, _TORCH_DTYPES[dtype]))),
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
    _case("logsumexp", reduction("logsumexp"), _np_logsumexp, _t_reduce("logsumexp")),
    _case("softmax", softmax_like("softmax"), _np_softmax, lambda x, axis: T.softmax(x, dim=axis)),
    _case("log_softmax", softmax_like("log_softmax"), lambda a, axis: np.log(_np_softmax(a, axis)),
          lambda x, axis: T.log_softmax(x, dim=axis)),
    _case("reshape", reshape_cases(), lambda a, shape: np.reshape(a, shape), lambda x, shape: x.reshape(shape)),
    _case("transpose", transpose_cases(), lambda a, axes: np.transpose(a, axes),
          lambda x, axes: x.permute(*axes) if axes else x),
    _case("expand", expand_cases(), lambda a, shape: np.broadcast_to(a, shape), lambda x, shape: T.broadcast_to(x, shape)),
    _case("getitem", getitem_cases(), lambda a, index: a[index], _t_getitem),
    _case("scatter_add", scatter_add_cases(), _np_scatter_add, _t_scatter_add),
    _case("concatenate", concatenate_cases(), lambda *arrays, axis: np.concatenate(arrays, axis=axis),
          lambda *xs, axis: T.cat(xs, dim=axis)),
    _case("stack", stack_cases(), lambda *arrays, axis: np.stack(arrays, axis=axis), lambda *xs, axis: T.stack(xs, dim=axis)),
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
