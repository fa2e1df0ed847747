"""mnist.model.MLP (autograd) against mnist.reference (hand-derived backward pass).

The property test draws random architectures, batches, labels, activations and losses in
float64 and checks that tinygrad_np's loss and gradients equal the reference's to ~1e-10
relative, and that they match finite differences (``tinygrad_np.gradcheck``). The reference
itself is checked against finite differences in test_reference.py.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
from mnist import reference as ref
from mnist.model import MLP
from tinygrad_np import nn
from tinygrad_np.gradcheck import gradcheck


@st.composite
def cases(draw):
    depth = draw(st.integers(1, 4))  # number of Linear layers
    sizes = draw(st.lists(st.integers(1, 7), min_size=depth + 1, max_size=depth + 1))
    batch = draw(st.integers(1, 6))
    labels = draw(st.lists(st.integers(0, sizes[-1] - 1), min_size=batch, max_size=batch))
    return dict(
        sizes=sizes,
        labels=np.array(labels, dtype=np.int64),
        activation=draw(st.sampled_from(ref.ACTIVATIONS)),
        loss=draw(st.sampled_from(ref.LOSSES)),
        seed=draw(st.integers(0, 2**32 - 1)),
    )


def hidden_preactivations(params, X, activation):
    """Z_1 .. Z_(L-1) rebuilt from reference.forward's cache (the inputs of every layer)."""
    _, cache = ref.forward(params, X, activation)
    return [cache[i] @ params[2 * i] + params[2 * i + 1] for i in range(len(params) // 2 - 1)]


def make_case(case):
    rng = np.random.default_rng(case["seed"])
    model = MLP(case["sizes"], case["activation"], dtype=np.float64, rng=rng)
    for b in model.param_list()[1::2]:  # nonzero biases, so their gradients are exercised
        b.copy_(rng.uniform(-0.5, 0.5, b.shape))
    X = rng.standard_normal((len(case["labels"]), case["sizes"][0]))
    return model, X


@settings(deadline=None)
@given(cases())
def test_gradients_equal_reference_and_finite_differences(case):
    model, X = make_case(case)
    y, activation, loss = case["labels"], case["activation"], case["loss"]
    params = [p.data.copy() for p in model.param_list()]
    if activation == "relu":  # keep ReLU away from its kink, for the finite differences
        Zs = hidden_preactivations(params, X, activation)
        assume(all(np.min(np.abs(Z)) > 1e-3 for Z in Zs))

    value, ref_grads = ref.loss_and_grads(params, X, y, activation, loss)
    model.zero_grad()
    out = model.loss(X, y, loss)
    out.backward()
    assert out.dtype == np.float64 and out.shape == ()
    np.testing.assert_allclose(out.item(), value, rtol=1e-12, atol=1e-15)
    for k, (p, g) in enumerate(zip(model.param_list(), ref_grads)):
        assert p.grad.dtype == np.float64 and p.grad.shape == g.shape
        np.testing.assert_allclose(p.grad.data, g, rtol=1e-10, atol=1e-12, err_msg=f"param {k}")

    def loss_of_params(*ps):
        with nn.swap_parameters(model, ps):
            return model.loss(X, y, loss)

    report = gradcheck(loss_of_params, model.param_list())
    assert report.passed and not report.kinks, str(report)


@pytest.mark.parametrize("sizes", [[784, 128, 10], [5, 4, 3, 2], [3, 1]])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_init_from_same_seed(sizes, dtype):
    model = MLP(sizes, dtype=dtype, rng=np.random.default_rng(42))
    expected = ref.init_params(sizes, np.random.default_rng(42), dtype)
    got = model.param_list()
    assert len(got) == len(expected) == 2 * (len(sizes) - 1)
    for p, e in zip(got, expected):
        assert isinstance(p, nn.Parameter) and p.dtype == e.dtype
        np.testing.assert_array_equal(p.data, e)
    # int seeds work the same way
    np.testing.assert_array_equal(MLP(sizes, dtype=dtype, rng=42).param_list()[0].data, expected[0])


def test_structure_names_and_dropout_placement():
    m = MLP([6, 5, 4, 3], activation="tanh", dropout=0.2, rng=0)
    kinds = [type(layer).__name__ for layer in m.layers]
    assert kinds == ["Linear", "Tanh", "Dropout", "Linear", "Tanh", "Dropout", "Linear"]
    assert [n for n, _ in m.named_parameters()] == [
        "layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias", "layers.6.weight", "layers.6.bias"]
    assert [p.shape for p in m.param_list()] == [(6, 5), (5,), (5, 4), (4,), (4, 3), (3,)]
    assert [id(p) for p in m.param_list()] == [id(p) for p in m.parameters()]
    assert [type(layer).__name__ for layer in MLP([6, 5, 3], rng=0).layers] == ["Linear", "ReLU", "Linear"]
    with pytest.raises(ValueError, match="activation"):
        MLP([2, 2], activation="gelu")
    with pytest.raises(ValueError, match="sizes"):
        MLP([3])


def test_load_reference_params_and_float32_losses():
    sizes = [7, 6, 4]
    rng = np.random.default_rng(0)
    params = ref.init_params(sizes, rng, np.float32)
    params[1][...] = rng.standard_normal(6)
    model = MLP(sizes, rng=1)
    ids = [id(p.data) for p in model.param_list()]
    model.load_reference_params(params)
    assert [id(p.data) for p in model.param_list()] == ids  # copied in place
    for p, e in zip(model.param_list(), params):
        np.testing.assert_array_equal(p.data, e)
    X, y = rng.standard_normal((5, 7)), rng.integers(0, 4, 5)
    for loss in ("ce", "mse"):
        value, grads = ref.loss_and_grads(params, X, y, "relu", loss)
        model.zero_grad()
        out = model.loss(X, y, loss)
        out.backward()
        assert out.dtype == np.float32
        np.testing.assert_allclose(out.item(), value, rtol=1e-6)
        for p, g in zip(model.param_list(), grads):
            assert p.grad.dtype == np.float32
            np.testing.assert_allclose(p.grad.data, g, rtol=1e-4, atol=1e-6)
    with pytest.raises(ValueError, match="W2 has shape"):
        model.load_reference_params([params[0], params[1], params[2].T, params[3]])
    with pytest.raises(ValueError, match="arrays given"):
        model.load_reference_params(params[:2])
    with pytest.raises(ValueError, match="unknown loss"):
        model.loss(X, y, "hinge")


def test_predict_matches_reference_and_restores_mode():
    rng = np.random.default_rng(5)
    model = MLP([4, 8, 3], activation="sigmoid", dropout=0.5, dtype=np.float64, rng=3)
    X = rng.standard_normal((50, 4))
    params = [p.data for p in model.param_list()]
    expected = ref.predict(params, X, "sigmoid")
    assert model.training
    pred = model.predict(X)
    assert pred.shape == (50,) and pred.dtype.kind == "i"
    np.testing.assert_array_equal(pred, expected)  # no dropout at prediction time
    np.testing.assert_array_equal(model.predict(X, batch_size=7), expected)
    assert model.training  # mode restored
    model.eval()
    model.predict(X)
    assert not model.training
    assert tg.is_grad_enabled()  # grad mode restored after predict


def test_dropout_active_in_training_mode():
    model = MLP([4, 50, 3], dropout=0.5, dtype=np.float64, rng=0)
    X = np.random.default_rng(1).standard_normal((2, 4))
    a, b = model(X).data, model(X).data
    assert not np.array_equal(a, b)  # fresh masks
    model.eval()
    np.testing.assert_array_equal(model(X).data, model(X).data)
