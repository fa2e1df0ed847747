"""Forward values against NumPy for every op, gradient shapes and dtypes, and the documented
subgradients at kinks and ties.

* ``OP_CASES[name].numpy(*arrays, **params)`` recomputes each registry op with plain NumPy
  (written independently of the op's implementation where that is easy);
* float32 and float64 stay float32 and float64 through forward and backward;
* at the points where an op is not differentiable, its gradient follows the rule stated in
  the op's docstring (ReLU'(0) = 0, |x|'(0) = 0, leaky slope s at 0, clip inclusive at its
  bounds, ties in max/min/maximum/minimum split the gradient evenly).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
import tinygrad_np as tg
from op_cases import DIFFERENTIABLE_OPS, OP_CASES
from tinygrad_np import OPS, Tensor
from tinygrad_np.nn import functional as F


def test_every_registry_op_has_a_case():
    assert set(OP_CASES) == set(OPS), f"missing: {set(OPS) - set(OP_CASES)}, extra: {set(OP_CASES) - set(OPS)}"


@pytest.mark.parametrize("name", sorted(OP_CASES))
@given(data=st.data())
def test_forward_matches_numpy(name, data):
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample
    expected = np.asarray(OP_CASES[name].numpy(*inputs, **sample.params))
    out = fn(*[Tensor(x) for x in inputs])
    assert isinstance(out, Tensor)
    assert out.shape == expected.shape
    assert out.dtype == expected.dtype
    assert isinstance(out.data, np.ndarray)  # never a NumPy scalar, also for 0-d results
    np.testing.assert_allclose(out.data, expected, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE_OPS))
@given(data=st.data())
def test_dtype_and_grad_shapes(name, dtype, data):
    """Forward output and every gradient keep the input dtype; gradients have the input shapes."""
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample
    xs = [Tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    out = fn(*xs)
    if name == "cast":  # the one op whose output dtype is a parameter
        assert out.dtype == sample.params["dtype"]
        out = out.astype(dtype)
    assert out.dtype == dtype
    expected = OP_CASES[name].numpy(*inputs, **sample.params)  # float64 reference
    tol = 1e-5 if dtype == np.float32 else 1e-10
    np.testing.assert_allclose(out.data, expected, rtol=tol, atol=tol)
    upstream = np.random.default_rng(0).standard_normal(out.shape).astype(dtype)
    out.backward(upstream)
    for x in xs:
        assert x.grad is not None
        assert x.grad.shape == x.shape
        assert x.grad.dtype == dtype
        assert isinstance(x.grad.data, np.ndarray)


# ----------------------------------------------------------------------------- float32 stays float32
FLOAT32_EXPRESSIONS = {
    "x * 2.0": lambda x: x * 2.0,
    "2.0 * x": lambda x: 2.0 * x,
    "x / 3": lambda x: x / 3,
    "3 / x": lambda x: 3 / x,
    "x + 1": lambda x: x + 1,
    "1 - x": lambda x: 1 - x,
    "x ** 2": lambda x: x ** 2,
    "2 ** x": lambda x: 2 ** x,
    "x * np.float64(2)": lambda x: x * np.float64(2.0),
    "x * [1, 2, 3] list": lambda x: x * [1.0, 2.0, 3.0],
    "x * int array": lambda x: x * np.arange(3),
    "mean": lambda x: x.mean(),
    "var": lambda x: x.var(),
    "var ddof=1": lambda x: x.var(ddof=1),
    "std": lambda x: x.std(),
    "softmax": lambda x: x.softmax(),
    "logsumexp": lambda x: x.logsumexp(),
    "sigmoid": lambda x: x.sigmoid(),
    "leaky_relu": lambda x: x.leaky_relu(0.1),
    "clip": lambda x: x.clip(1.5, 2.5),
    "maximum scalar": lambda x: x.maximum(2.0),
    "where scalar": lambda x: tg.where(x > 1.5, x, 0.0),
    "cross_entropy": lambda x: F.cross_entropy(x.reshape(1, 3), np.array([1])),
    "nll_loss": lambda x: F.nll_loss(x.reshape(1, 3).log_softmax(), np.array([2])),
    "mse_loss": lambda x: F.mse_loss(x, [1.0, 2.0, 2.0]),
    "linear": lambda x: F.linear(x.reshape(1, 3), tg.ones(3, 2), tg.ones(2)),
}


@pytest.mark.parametrize("expr", sorted(FLOAT32_EXPRESSIONS))
def test_float32_is_not_promoted(expr):
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    assert x.dtype == np.float32
    y = FLOAT32_EXPRESSIONS[expr](x)
    assert y.dtype == np.float32, f"{expr} promoted float32 to {y.dtype}"
    y.sum().backward()
    assert x.grad.dtype == np.float32


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_mixed_float_dtypes_give_each_input_its_own_dtype_of_gradient(dtype):
    """A float ndarray operand keeps its dtype (documented in Tensor._other), so the forward
    may promote; the gradient reaching each leaf still has that leaf's dtype."""
    other = np.float64 if dtype == np.float32 else np.float32
    x = Tensor(np.array([1.0, 2.0, 3.0], dtype=dtype), requires_grad=True)
    w = Tensor(np.array([0.5, -1.0, 2.0], dtype=other), requires_grad=True)
    y = (x * w).sum()
    assert y.dtype == np.float64  # NumPy promotion of the forward
    y.backward()
    assert x.grad.dtype == dtype and w.grad.dtype == other
    np.testing.assert_allclose(x.grad.data, [0.5, -1.0, 2.0])
    np.testing.assert_allclose(w.grad.data, [1.0, 2.0, 3.0])


# ----------------------------------------------------------------------------- non-differentiable ops
COMPARISONS = {
    "<": (lambda a, b: a < b, np.less),
    "<=": (lambda a, b: a <= b, np.less_equal),
    ">": (lambda a, b: a > b, np.greater),
    ">=": (lambda a, b: a >= b, np.greater_equal),
    "==": (lambda a, b: a == b, np.equal),
    "!=": (lambda a, b: a != b, np.not_equal),
}


@pytest.mark.parametrize("op", sorted(COMPARISONS))
@given(shapes=S.broadcastable_pairs(), data=st.data())
def test_comparisons_match_numpy(op, shapes, data):
    small_ints = st.integers(-2, 2).map(float)  # small integers: equal values are likely
    a = data.draw(S.arrays(shapes[0], st.integers(-2, 2).map(float)))
    b = data.draw(S.arrays(shapes[1], st.integers(-2, 2).map(float)))
    ours, ref = COMPARISONS[op]
    ta = Tensor(a, requires_grad=True)
    for other, other_np in [(Tensor(b), b), (b, b), (data.draw(small_ints), None)]:
        other_np = other if other_np is None else other_np
        out = ours(ta, other)
        assert out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None
        np.testing.assert_array_equal(out.data, ref(a, other_np))


@pytest.mark.parametrize("which", ["argmax", "argmin"])
@given(shape=S.shapes(min_dims=1), data=st.data())
def test_argmax_argmin_match_numpy(which, shape, data):
    x = data.draw(S.arrays(shape, st.integers(-3, 3).map(float)))  # with ties: first index wins
    axis = data.draw(st.none() | st.integers(-len(shape), len(shape) - 1))
    keepdims = data.draw(st.booleans())
    t = Tensor(x, requires_grad=True)
    out = getattr(t, which)(axis=axis, keepdims=keepdims)
    expected = getattr(np, which)(x, axis=axis, keepdims=keepdims)
    assert out.dtype.kind == "i"
    assert not out.requires_grad
    np.testing.assert_array_equal(out.data, expected)
    np.testing.assert_array_equal(getattr(tg, which)(t, axis=axis, keepdims=keepdims).data, expected)


# ----------------------------------------------------------------------------- kinks and ties
def _grad(f, *arrays, upstream=None):
    xs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*xs)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    return [x.grad.data for x in xs]


def test_relu_subgradient_at_zero_is_zero():
    (g,) = _grad(lambda x: x.relu(), [-1.0, 0.0, 2.0], upstream=np.array([3.0, 5.0, 7.0]))
    np.testing.assert_array_equal(g, [0.0, 0.0, 7.0])


def test_abs_subgradient_at_zero_is_zero():
    (g,) = _grad(lambda x: x.abs(), [-2.0, 0.0, 2.0], upstream=np.array([3.0, 5.0, 7.0]))
    np.testing.assert_array_equal(g, [-3.0, 0.0, 7.0])


@pytest.mark.parametrize("slope", [0.01, 0.2, 3.0])
def test_leaky_relu_has_the_negative_slope_at_zero(slope):
    (g,) = _grad(lambda x: x.leaky_relu(slope), [-2.0, 0.0, 2.0], upstream=np.array([3.0, 5.0, 7.0]))
    np.testing.assert_allclose(g, [3.0 * slope, 5.0 * slope, 7.0])


def test_clip_gradient_is_inclusive_at_both_bounds():
    x = [-2.0, -1.0, 0.0, 1.0, 2.0]
    (g,) = _grad(lambda t: t.clip(-1.0, 1.0), x, upstream=np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    np.testing.assert_array_equal(g, [0.0, 2.0, 3.0, 4.0, 0.0])
    (g,) = _grad(lambda t: t.clip(min=0.0), x)
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, 1.0, 1.0])
    (g,) = _grad(lambda t: t.clip(max=0.0), x)
    np.testing.assert_array_equal(g, [1.0, 1.0, 1.0, 0.0, 0.0])


@pytest.mark.parametrize("which", ["max", "min"])
def test_reduction_ties_split_the_gradient_evenly(which):
    x = np.array([[1.0, 3.0, 3.0, 0.0], [2.0, 2.0, 2.0, 5.0]])
    if which == "min":
        x = -x
    (g,) = _grad(lambda t: getattr(t, which)(), x, upstream=np.array(6.0))
    np.testing.assert_allclose(g, [[0, 0, 0, 0], [0, 0, 0, 6.0]])
    (g,) = _grad(lambda t: getattr(t, which)(axis=1), x, upstream=np.array([6.0, 9.0]))
    np.testing.assert_allclose(g, [[0, 3.0, 3.0, 0], [0, 0, 0, 9.0]])
    (g,) = _grad(lambda t: getattr(t, which)(axis=0, keepdims=True), x, upstream=np.array([[1.0, 2.0, 3.0, 4.0]]))
    np.testing.assert_allclose(g, [[0, 2.0, 3.0, 0], [1.0, 0, 0, 4.0]])
    (g,) = _grad(lambda t: getattr(t, which)(), np.full((2, 3), 7.0), upstream=np.array(6.0))
    np.testing.assert_allclose(g, np.ones((2, 3)))  # a six-way tie: 6 / 6 each


@pytest.mark.parametrize("which", ["maximum", "minimum"])
def test_elementwise_ties_split_the_gradient_evenly(which):
    a = np.array([1.0, 2.0, 3.0])
    b = np.array([2.0, 2.0, 1.0])
    ga, gb = _grad(lambda x, y: getattr(x, which)(y), a, b, upstream=np.array([4.0, 6.0, 8.0]))
    if which == "maximum":
        np.testing.assert_array_equal(ga, [0.0, 3.0, 8.0])
        np.testing.assert_array_equal(gb, [4.0, 3.0, 0.0])
    else:
        np.testing.assert_array_equal(ga, [4.0, 3.0, 0.0])
        np.testing.assert_array_equal(gb, [0.0, 3.0, 8.0])
    # a broadcast scalar tied with two entries collects half of each, plus all of the one it wins
    ga, gb = _grad(lambda x, y: getattr(x, which)(y), [2.0, 2.0, 0.0 if which == "maximum" else 5.0], 2.0)
    np.testing.assert_array_equal(ga, [0.5, 0.5, 0.0])
    assert gb.shape == () and gb == 2.0
