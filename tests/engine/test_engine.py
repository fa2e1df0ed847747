"""The backward engine: accumulation, shared sub-graphs, deep graphs, graph release, grad
modes, error messages, the shape/dtype invariant, unbroadcast, higher-order gradients,
``autograd_grad`` and anomaly detection."""
from __future__ import annotations

import gc
import inspect
import sys
import weakref

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
import tinygrad_np as tg
from tinygrad_np import OPS, Tensor, engine, modes
from tinygrad_np.engine import unbroadcast
from tinygrad_np import AnomalyError, Function
from tinygrad_np.nn import functional as F


def leaf(values, dtype=np.float64):
    return Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# ----------------------------------------------------------------------------- accumulation and sharing
def test_gradients_accumulate_across_backward_calls():
    x = leaf([1.0, 2.0, 3.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0])
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [4.0, 8.0, 12.0])
    (x * 10.0).sum().backward()
    np.testing.assert_allclose(x.grad.data, [14.0, 18.0, 22.0])
    x.zero_grad()
    assert x.grad is None
    (x * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, [2.0, 4.0, 6.0])


@given(S.arrays(S.shapes(max_dims=2)))
def test_x_plus_x_times_x(values):
    """(x + x) * x = 2x², d/dx = 4x: both uses of x, and both operands of the add, count."""
    x = leaf(values)
    ((x + x) * x).sum().backward()
    np.testing.assert_allclose(x.grad.data, 4 * values, rtol=1e-12, atol=1e-12)


def test_x_times_x_same_tensor_twice_in_one_op():
    x = leaf([3.0])
    (x * x).backward(np.array([1.0]))
    np.testing.assert_allclose(x.grad.data, [6.0])


@given(S.arrays(S.shapes(max_dims=2), S.floats(-2.0, 2.0)))
def test_diamond_graph(values):
    """a = 2x feeds b = exp(a) and c = tanh(a); y = Σ b·c. Both paths through a reach x."""
    x = leaf(values)
    a = x * 2.0
    y = (a.exp() * a.tanh()).sum()
    y.backward()
    av = 2 * values
    expected = 2 * (np.exp(av) * np.tanh(av) + np.exp(av) * (1 - np.tanh(av) ** 2))
    np.testing.assert_allclose(x.grad.data, expected, rtol=1e-10, atol=1e-12)


def test_shared_subexpression_used_three_times_and_in_two_outputs():
    x = leaf([0.5, -1.0])
    s = x.sigmoid()  # shared node
    y = (s * s * s).sum() + s.sum()
    y.backward()
    sv = 1 / (1 + np.exp(-np.array([0.5, -1.0])))
    np.testing.assert_allclose(x.grad.data, (3 * sv**2 + 1) * sv * (1 - sv), rtol=1e-12)


def test_leaf_used_by_many_ops_and_deep_reuse():
    x = leaf([1.5])
    y = x
    for _ in range(10):
        y = y * x  # y = x^11
    y.backward(np.array([1.0]))
    np.testing.assert_allclose(x.grad.data, [11 * 1.5**10], rtol=1e-12)


# ----------------------------------------------------------------------------- deep graphs
def test_chain_of_100k_ops_has_no_recursion_error():
    assert sys.getrecursionlimit() < 100_000  # the test would be moot with a huge limit
    x = leaf(1.0)
    y = x
    for i in range(100_000):
        y = -y if i % 2 else y + 1.0  # 50,000 negations, 50,000 additions
    y.backward()
    assert x.grad.item() == 1.0
    np.testing.assert_allclose(y.item(), 1.0)  # (((1 + 1) * -1 + 1) * -1 ...) = 1


def test_deep_chain_can_be_dropped_without_backward():
    x = leaf(1.0)
    y = x
    for _ in range(100_000):
        y = y * 1.0
    ref = weakref.ref(y)
    del y
    gc.collect()
    assert ref() is None


# ----------------------------------------------------------------------------- backward errors and retain_graph
def test_non_scalar_backward_without_gradient_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"scalar outputs.*\(2,\)"):
        (x * 2.0).backward()
    y = x * 2.0
    y.backward(np.array([1.0, -1.0]))
    np.testing.assert_allclose(x.grad.data, [2.0, -2.0])


def test_backward_with_a_wrong_gradient_shape_raises():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(3,\).*\(2,\)"):
        (x * 2.0).backward(np.ones(3))


def test_backward_on_a_tensor_without_graph_raises():
    with pytest.raises(RuntimeError, match="does not require grad"):
        Tensor(np.ones(2)).sum().backward()


def test_backward_twice_without_retain_graph_raises():
    x = leaf([1.0, 2.0])
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        y.backward()


def test_backward_twice_with_retain_graph_accumulates():
    x = leaf([1.0, 2.0])
    y = (x * x).exp().sum()
    y.backward(retain_graph=True)
    first = x.grad.data.copy()
    y.backward()
    np.testing.assert_allclose(x.grad.data, 2 * first)
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()  # the second call did not retain


def test_graph_buffers_are_released_after_backward():
    x = leaf(np.ones(3))
    h = x.exp()
    mid = h.grad_fn
    y = (h * 2.0).sum()
    h_ref = weakref.ref(h)
    del h
    gc.collect()
    assert h_ref() is not None  # the graph still holds the intermediate
    assert not mid.released and not y.grad_fn.released
    y.backward()
    gc.collect()
    assert h_ref() is None  # freed once backward has used it
    assert mid.released and y.grad_fn.released
    assert not hasattr(mid, "inputs") and not hasattr(y.grad_fn, "inputs")


def test_retain_graph_keeps_the_buffers():
    x = leaf(np.ones(3))
    h = x.exp()
    h_ref = weakref.ref(h)
    y = h.sum()
    del h
    y.backward(retain_graph=True)
    gc.collect()
    assert h_ref() is not None
    assert not y.grad_fn.released


# ----------------------------------------------------------------------------- grad modes
def test_no_grad_context_manager():
    x = leaf([1.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
    assert tg.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf


def test_no_grad_decorator_and_restore_after_exception():
    @tg.no_grad()
    def double(t):
        assert not tg.is_grad_enabled()
        return t * 2.0

    x = leaf([1.0])
    y = double(x)
    assert not y.requires_grad and y.grad_fn is None
    assert tg.is_grad_enabled()
    with pytest.raises(KeyError):
        with tg.no_grad():
            raise KeyError("boom")
    assert tg.is_grad_enabled()


def test_enable_grad_inside_no_grad_and_nesting():
    x = leaf([1.0])
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            y = x * 2.0
        assert not tg.is_grad_enabled()
        with tg.no_grad():
            z = x * 2.0
        assert not tg.is_grad_enabled()
    assert y.requires_grad and y.grad_fn is not None
    assert not z.requires_grad
    y.backward(np.array([1.0]))
    np.testing.assert_allclose(x.grad.data, [2.0])
    with tg.set_grad_enabled(False):
        assert not (x * 2.0).requires_grad


def test_detach_cuts_the_graph_and_shares_memory():
    x = leaf([1.0, 2.0])
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None
    assert np.shares_memory(d.data, x.data)
    (d * x).sum().backward()  # d is a constant: d(d·x)/dx = d
    np.testing.assert_allclose(x.grad.data, [1.0, 2.0])


def test_requires_grad_():
    t = Tensor(np.ones(2))
    assert not t.requires_grad
    assert t.requires_grad_() is t and t.requires_grad
    t.requires_grad_(False)
    assert not t.requires_grad
    for int_dtype in (np.int64, np.int32, np.uint8, np.bool_):
        with pytest.raises(TypeError, match="floating point"):
            Tensor(np.ones(2, dtype=int_dtype)).requires_grad_()
        with pytest.raises(TypeError, match="floating point"):
            Tensor(np.ones(2, dtype=int_dtype), requires_grad=True)
    y = leaf([1.0]) * 2.0
    with pytest.raises(RuntimeError, match="non-leaf"):
        y.requires_grad_(False)


def test_only_inputs_that_need_grad_receive_gradients():
    x = leaf([1.0, 2.0])
    c = Tensor(np.array([3.0, 4.0]))
    (x * c).sum().backward()
    assert c.grad is None
    np.testing.assert_allclose(x.grad.data, [3.0, 4.0])


# ----------------------------------------------------------------------------- error messages at the op
SHAPE_ERRORS = {
    "add": (lambda: tg.zeros(2, 3) + tg.zeros(4, 3), "add", "(2, 3)", "(4, 3)"),
    "mul": (lambda: tg.zeros(2, 3) * tg.zeros(3, 2), "mul", "(2, 3)", "(3, 2)"),
    "matmul": (lambda: tg.zeros(2, 3) @ tg.zeros(2, 3), "matmul", "(2, 3)", "(2, 3)"),
    "matmul batched": (lambda: tg.zeros(2, 2, 3) @ tg.zeros(4, 3), "matmul", "(2, 2, 3)", "(4, 3)"),
    "where": (lambda: tg.where(np.ones(2, dtype=bool), tg.zeros(3), tg.zeros(3)), "where", "(2,)", "(3,)"),
    "concatenate": (lambda: tg.concatenate([tg.zeros(2, 3), tg.zeros(3, 4)]), "concatenate", "(2, 3)", "(3, 4)"),
    "stack": (lambda: tg.stack([tg.zeros(2, 3), tg.zeros(3, 2)]), "stack", "(2, 3)", "(3, 2)"),
    "reshape": (lambda: tg.zeros(2, 3).reshape(5), "reshape", "(2, 3)", "(5,)"),
    "reshape -1": (lambda: tg.zeros(2, 3).reshape(4, -1), "reshape", "(2, 3)", "(4, -1)"),
    "cross_entropy labels": (lambda: F.cross_entropy(tg.zeros(2, 5), np.array([1, 2, 3])),
                             "cross_entropy", "(3,)", "(2, 5)"),
    "expand": (lambda: tg.zeros(3).expand(2, 4), "expand", "(3,)", "(2, 4)"),
}


@pytest.mark.parametrize("case", sorted(SHAPE_ERRORS))
def test_shape_mismatch_errors_name_the_op_and_both_shapes(case):
    make, op, shape_a, shape_b = SHAPE_ERRORS[case]
    with pytest.raises(ValueError) as info:
        make()
    message = str(info.value)
    assert message.startswith(op), message
    assert shape_a in message and shape_b in message, message


def test_cross_entropy_label_errors():
    with pytest.raises(TypeError, match="cross_entropy.*integers"):
        F.cross_entropy(tg.zeros(2, 3), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"cross_entropy.*\[0, 3\)"):
        F.cross_entropy(tg.zeros(2, 3), np.array([0, 3]))
    for negative in (np.array([0, -1]), np.array([0, -1], dtype=np.int8)):  # caught by the same check
        with pytest.raises(ValueError, match=r"cross_entropy.*\[0, 3\).*\[-1, 0\]"):
            F.cross_entropy(tg.zeros(2, 3), negative)
    with pytest.raises(ValueError, match=r"\[0, 3\)"):
        F.cross_entropy(tg.zeros(2, 3), np.array([0, 3], dtype=np.uint8))


# ----------------------------------------------------------------------------- the engine's invariant
class WrongShapeGrad(Function):
    """y = 2a, but the VJP drops the last entry."""

    @staticmethod
    def forward(a):
        return a * 2

    def vjp(self, i, g, y):
        return g[:-1] * 2.0


class WrongDtypeGrad(Function):
    """y = 2a, but the VJP returns float32 for a float64 input."""

    @staticmethod
    def forward(a):
        return a * 2

    def vjp(self, i, g, y):
        return Tensor(g.data.astype(np.float32))


@pytest.mark.parametrize("cls, pattern", [
    (WrongShapeGrad, r"WrongShapeGrad.*shape \(2,\).*shape \(3,\)"),
    (WrongDtypeGrad, r"WrongDtypeGrad.*float32.*float64"),
])
def test_invariant_check_catches_a_wrong_custom_function(cls, pattern):
    x = leaf([1.0, 2.0, 3.0])
    y = Tensor.apply(cls, x).sum()
    with pytest.raises(RuntimeError, match=pattern):
        y.backward()


def test_invariant_check_with_a_temporarily_registered_op():
    name = "test_engine_wrong_shape"
    before = dict(OPS)
    engine.register(name)(WrongShapeGrad)
    try:
        x = leaf([1.0, 2.0, 3.0])
        y = Tensor.apply(name, x).sum()
        with pytest.raises(RuntimeError, match=r"shape \(2,\).*input of shape \(3,\)"):
            y.backward()
    finally:
        OPS.pop(name, None)
        del WrongShapeGrad.op_name
    assert OPS == before


def test_register_refuses_a_duplicate_name():
    with pytest.raises(ValueError, match="registered twice"):
        engine.register("add")(WrongShapeGrad)
    assert OPS["add"] is not WrongShapeGrad


# ----------------------------------------------------------------------------- unbroadcast
def _reference_unbroadcast(g: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    out = g.sum(axis=tuple(range(g.ndim - len(shape))))
    for i, n in enumerate(shape):
        if n == 1:
            out = out.sum(axis=i, keepdims=True)
    return out


@given(pair=S.broadcastable_pairs(), data=st.data())
def test_unbroadcast_sums_added_leading_axes_and_size_one_axes(pair, data):
    target = np.broadcast_shapes(*pair)
    g = data.draw(S.arrays(target))
    for shape in pair:
        out = unbroadcast(Tensor(g), shape)
        assert out.shape == shape
        np.testing.assert_allclose(out.data, _reference_unbroadcast(g, shape), rtol=1e-12, atol=1e-12)


def test_unbroadcast_examples():
    g = Tensor(np.arange(24.0).reshape(2, 3, 4))
    a = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(unbroadcast(g, (3, 1)).data, a.sum(axis=(0, 2))[:, None])
    np.testing.assert_array_equal(unbroadcast(g, (4,)).data, np.arange(24.0).reshape(2, 3, 4).sum(axis=(0, 1)))
    np.testing.assert_array_equal(unbroadcast(g, ()).data, np.array(276.0))
    np.testing.assert_array_equal(unbroadcast(g, (2, 1, 1)).data, a.sum(axis=(1, 2), keepdims=True))
    assert unbroadcast(g, (2, 3, 4)) is g


def test_broadcast_gradient_through_an_op_is_summed():
    a = leaf(np.ones((2, 3)))
    b = leaf([[10.0], [20.0]])
    c = leaf(5.0)
    (a * b + c).sum().backward()
    np.testing.assert_allclose(a.grad.data, [[10.0] * 3, [20.0] * 3])
    np.testing.assert_allclose(b.grad.data, [[3.0], [3.0]])
    assert c.grad.shape == () and c.grad.item() == 6.0


# ----------------------------------------------------------------------------- higher order
@given(S.floats(-3.0, 3.0))
def test_create_graph_second_derivative_of_cube(v):
    x = leaf(v)
    (g1,) = tg.autograd_grad(x ** 3, x, create_graph=True)
    assert g1.requires_grad and g1.grad_fn is not None
    np.testing.assert_allclose(g1.item(), 3 * v**2, rtol=1e-12, atol=1e-12)
    (g2,) = tg.autograd_grad(g1, x, create_graph=True)
    np.testing.assert_allclose(g2.item(), 6 * v, rtol=1e-12, atol=1e-12)
    (g3,) = tg.autograd_grad(g2, x)
    np.testing.assert_allclose(g3.item(), 6.0, rtol=1e-12)


def test_backward_create_graph_makes_grad_differentiable():
    x = leaf([2.0, -1.0])
    (x * x * x).sum().backward(create_graph=True)
    g = x.grad
    assert g.grad_fn is not None
    np.testing.assert_allclose(g.data, [12.0, 3.0])
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, [12.0, -6.0])  # 6x


def test_create_graph_through_a_dtype_promoting_op():
    """float32 * float64 promotes; with create_graph the gradient is cast back to float32 through
    a recorded Cast node, so second derivatives flow through the promotion (closed forms:
    f = Σ w x², ∂f/∂x = 2 w x, ∂(Σ ∂f/∂x)/∂x = 2 w, ∂(Σ ∂f/∂x)/∂w = 2 x)."""
    x = leaf([1.0, 2.0], dtype=np.float32)
    w = leaf([3.0, 4.0])
    (gx,) = tg.autograd_grad((x * w * x).sum(), x, create_graph=True)
    assert gx.dtype == np.float32 and gx.requires_grad
    np.testing.assert_array_equal(gx.data, [6.0, 16.0])
    gx.sum().backward()
    assert x.grad.dtype == np.float32 and w.grad.dtype == np.float64
    np.testing.assert_array_equal(x.grad.data, [6.0, 8.0])
    np.testing.assert_array_equal(w.grad.data, [2.0, 4.0])
    (plain,) = tg.autograd_grad((x * w * x).sum(), x)  # without create_graph: a plain cast
    assert plain.dtype == np.float32 and not plain.requires_grad
    np.testing.assert_array_equal(plain.data, [6.0, 16.0])


def test_the_cast_node_of_a_promoted_gradient_has_a_third_derivative_too():
    """f = Σ (w x)³ with x float32, w float64: the gradient 3 w³ x² reaches x through the promoting
    product with an upstream gradient that depends on x, so each level records a Cast node;
    the third derivative is 6 w³."""
    from tinygrad_np.functional import grad

    w = tg.Tensor(np.array([0.5, -2.0]))
    third = grad(lambda x: grad(lambda x: grad(lambda x: ((w * x) ** 3).sum())(x).sum())(x).sum())
    out = third(np.array([0.7, 1.3], dtype=np.float32))
    assert out.dtype == np.float32
    np.testing.assert_allclose(out.data, 6 * w.data ** 3, rtol=1e-6)


def test_without_create_graph_grads_are_constants():
    x = leaf([2.0])
    (x * x * x).sum().backward()
    assert x.grad.grad_fn is None and not x.grad.requires_grad


# ----------------------------------------------------------------------------- autograd_grad
def test_autograd_grad_returns_grads_without_touching_dot_grad():
    x, w = leaf([1.0, 2.0]), leaf([3.0, 4.0])
    y = (x * w).sum()
    gx, gw = tg.autograd_grad(y, [x, w])
    np.testing.assert_allclose(gx.data, [3.0, 4.0])
    np.testing.assert_allclose(gw.data, [1.0, 2.0])
    assert x.grad is None and w.grad is None
    x.grad = Tensor(np.array([100.0, 100.0]))
    (gx2,) = tg.autograd_grad((x * x).sum(), x)
    np.testing.assert_allclose(gx2.data, [2.0, 4.0])
    np.testing.assert_allclose(x.grad.data, [100.0, 100.0])


def test_autograd_grad_with_grad_outputs_and_several_outputs():
    x = leaf([1.0, 2.0])
    y1, y2 = x * 3.0, x * x
    (gx,) = tg.autograd_grad([y1, y2], x, grad_outputs=[np.array([1.0, 10.0]), np.array([2.0, 0.5])])
    np.testing.assert_allclose(gx.data, [3.0 + 2.0 * 2, 30.0 + 0.5 * 4])


def test_autograd_grad_with_respect_to_an_intermediate():
    x = leaf([1.0, 2.0])
    h = x * 2.0
    (gh,) = tg.autograd_grad((h * h).sum(), h)
    np.testing.assert_allclose(gh.data, [4.0, 8.0])


def test_autograd_grad_unused_input():
    x, unused = leaf([1.0]), leaf([5.0, 6.0])
    y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="allow_unused"):
        tg.autograd_grad(y, [x, unused], retain_graph=True)
    gx, gu = tg.autograd_grad(y, [x, unused], allow_unused=True)
    np.testing.assert_allclose(gx.data, [2.0])
    np.testing.assert_array_equal(gu.data, [0.0, 0.0])
    assert gu.shape == unused.shape


# ----------------------------------------------------------------------------- anomaly detection
def test_detect_anomaly_names_op_and_line_for_nan_in_forward():
    x = leaf([1.0, -1.0])
    with pytest.raises(AnomalyError) as info, np.errstate(invalid="ignore"):
        with tg.detect_anomaly():
            line = inspect.currentframe().f_lineno + 1
            x.log()
    message = str(info.value)
    assert "Log" in message and "forward" in message and "NaN" in message
    assert f"{__file__}:{line}" in message and "x.log()" in message
    assert isinstance(info.value, FloatingPointError)


def test_detect_anomaly_names_op_and_creation_line_for_inf_in_backward():
    x = leaf([0.0, 4.0])
    with tg.detect_anomaly():
        line = inspect.currentframe().f_lineno + 1
        y = x.sqrt()
        z = (y * 3.0).sum()
        with pytest.raises(AnomalyError) as info, np.errstate(divide="ignore"):
            z.backward()
    message = str(info.value)
    assert "Sqrt" in message and "backward" in message and "Inf" in message
    assert f"{__file__}:{line}" in message and "x.sqrt()" in message


def test_anomaly_mode_is_off_outside_the_block():
    x = leaf([0.0, 4.0])
    with tg.detect_anomaly():
        pass
    with np.errstate(divide="ignore", invalid="ignore"):
        y = x.sqrt()
        y.sum().backward()  # no error: inf gradients are only reported in anomaly mode
    assert np.isinf(x.grad.data[0])
    assert not modes.state.anomaly


@pytest.mark.parametrize("name", ["sum", "mean", "max", "leaky_relu", "softmax", "log_softmax", "std"])
def test_an_op_applied_without_its_optional_parameters_differentiates_with_the_forwards_defaults(name):
    """``Tensor.apply(name, x)`` leaves the keyword parameters out; the rules read the forward's defaults."""
    data = np.array([[0.3, -1.2, 2.0], [1.1, 0.4, -0.7]])
    g = np.random.default_rng(0).standard_normal(Tensor.apply(name, Tensor(data)).shape)
    x, ref = Tensor(data, requires_grad=True), Tensor(data, requires_grad=True)
    Tensor.apply(name, x).backward(g)
    defaults = {k: p.default for k, p in inspect.signature(OPS[name].forward).parameters.items()
                if p.default is not p.empty}
    Tensor.apply(name, ref, **defaults).backward(g)
    assert np.array_equal(x.grad.data, ref.grad.data)


def test_gradients_with_respect_to_an_intermediate_leave_the_graph_below_it_intact():
    """``autograd_grad(y, [h])`` stops at h: h's own node is not run (nor freed), so a later
    backward through h still works."""
    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    h = x * x
    y, z = (h * 3).sum(), (h * 5).sum()
    (gh,) = tg.autograd_grad([y], [h])
    np.testing.assert_array_equal(gh.data, [3.0, 3.0])
    assert not h._ctx.released
    z.backward()
    np.testing.assert_array_equal(x.grad.data, [10.0, 20.0])
