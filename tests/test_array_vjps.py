"""A plain ``backward()`` runs each built-in VJP on bare ndarrays; ``create_graph=True`` runs the
same rule on Tensors. Both must give the same gradients, for every op in the registry."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from op_cases import OP_CASES
from tinygrad_np import OPS, Tensor, autograd
from tinygrad_np.autograd import Function, Op


def gradients(fn, inputs, upstream, create_graph):
    xs = [Tensor(x, requires_grad=True) for x in inputs]
    out = fn(*xs)
    out.backward(Tensor(upstream), create_graph=create_graph)
    return out, [x.grad for x in xs]


@pytest.mark.parametrize("name", sorted(OPS))
@given(data=st.data())
def test_vjp_on_arrays_equals_vjp_on_tensors(name, data):
    fn, inputs = data.draw(OP_CASES[name].strategy, label=name)
    probe = fn(*[Tensor(x) for x in inputs])
    upstream = np.random.default_rng(7).standard_normal(probe.shape)  # random, never all-ones
    _, plain = gradients(fn, inputs, upstream, create_graph=False)
    _, recorded = gradients(fn, inputs, upstream, create_graph=True)
    for x, g_plain, g_rec in zip(inputs, plain, recorded):
        assert type(g_plain) is Tensor and type(g_plain.data) is np.ndarray  # wrapped on the way out
        assert g_plain.shape == x.shape and g_plain.dtype == x.dtype
        assert not g_plain.requires_grad
        np.testing.assert_allclose(g_plain.data, g_rec.data, rtol=1e-12, atol=1e-12)


def test_every_builtin_op_runs_its_vjp_on_arrays():
    assert all(issubclass(cls, Op) and cls.vjp_on_arrays for cls in OPS.values())


def test_plain_backward_hands_builtin_vjps_ndarrays():
    seen = []

    class Spy(Op):
        """y = 3a.   VJP: ā = 3g (records the kinds of g and out)."""

        def forward(self, a):
            return 3 * a

        def backward(self, g, out):
            seen.append((type(g), type(out), type(self.operands(g)[0])))
            return (g * 3,)

    x = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    Tensor.apply(Spy, x).sum().backward()
    Tensor.apply(Spy, x).sum().backward(create_graph=True)
    assert seen == [(np.ndarray, np.ndarray, np.ndarray), (Tensor, Tensor, Tensor)]
    np.testing.assert_array_equal(x.grad.data, [6.0, 6.0])


def test_a_tensor_only_vjp_still_gets_tensors_in_a_plain_backward():
    class ExpTensorVJP(Function):  # vjp_on_arrays left False: uses Tensor-only methods
        def forward(self, a):
            return np.exp(a)

        def backward(self, g, out):
            assert isinstance(g, Tensor) and isinstance(out, Tensor)
            return (g * self.inputs[0].exp(),)

    a = np.array([0.5, -1.0])
    x = Tensor(a, requires_grad=True)
    (Tensor.apply(ExpTensorVJP, x) * Tensor(np.array([2.0, 3.0]))).sum().backward()
    np.testing.assert_allclose(x.grad.data, np.exp(a) * [2.0, 3.0], rtol=1e-15)


def test_zero_dim_gradients_stay_arrays():
    """NumPy turns 0-d results into scalars; the engine keeps gradients ndarrays."""
    x = Tensor(np.array(0.5), requires_grad=True)
    y = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    ((x * x).exp() * y).sum().backward()
    assert type(x.grad.data) is np.ndarray and x.grad.shape == ()
    np.testing.assert_allclose(x.grad.data, 2 * 0.5 * np.exp(0.25) * 3.0, rtol=1e-15)
    (gx,) = autograd.grad((x * 2).sum(), [x])
    assert type(gx.data) is np.ndarray and gx.item() == 2.0


def test_leaf_gradients_own_their_memory():
    """A VJP may return a view (expand, getitem's scatter, reshape); a leaf's .grad is a copy."""
    x = Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    x.reshape(3, 2).sum().backward()
    assert x.grad.data.base is None and x.grad.data.flags.writeable
    x.grad.data[0, 0] = 99.0  # writing into .grad must not corrupt anything shared
    b = Tensor(np.array(1.0), requires_grad=True)
    (b.expand(4) * np.arange(4.0)).sum().backward()
    assert b.grad.data.base is None and b.grad.item() == 6.0
