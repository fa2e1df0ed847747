"""Tests for the hand-derived NumPy MLP in mnist/reference.py."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from mnist import reference as ref

ACTS = ["relu", "tanh", "sigmoid"]
LOSSES = ["ce", "mse"]


# ----------------------------------------------------------------- helpers
def numeric_grads(params, X, y, activation, loss, eps=1e-6):
    """Central finite differences of loss_and_grads(...)[0] w.r.t. every parameter entry."""
    out = []
    for p in params:
        g = np.zeros_like(p)
        for idx in np.ndindex(p.shape):
            old = p[idx]
            p[idx] = old + eps
            lp = ref.loss_and_grads(params, X, y, activation, loss)[0]
            p[idx] = old - eps
            lm = ref.loss_and_grads(params, X, y, activation, loss)[0]
            p[idx] = old
            g[idx] = (lp - lm) / (2 * eps)
        out.append(g)
    return out


def pre_activations(params, X, activation):
    """Independent forward pass returning the hidden-layer pre-activations Z1..Z(L-1)."""
    act = {
        "relu": lambda z: np.maximum(z, 0.0),
        "tanh": np.tanh,
        "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    }[activation]
    A, Zs = X, []
    for i in range(len(params) // 2 - 1):
        Z = A @ params[2 * i] + params[2 * i + 1]
        Zs.append(Z)
        A = act(Z)
    return Zs


def independent_ce(logits, y):
    logits = np.asarray(logits, dtype=np.float64)
    logp = logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)
    return -np.mean(logp[np.arange(len(y)), y])


def identity_net(C, dtype=np.float64):
    """One linear layer with W = I, b = 0, so logits == X."""
    return [np.eye(C, dtype=dtype), np.zeros(C, dtype=dtype)]


@st.composite
def problems(draw):
    depth = draw(st.integers(1, 4))
    sizes = draw(st.lists(st.integers(1, 7), min_size=depth + 1, max_size=depth + 1))
    B = draw(st.integers(1, 6))
    activation = draw(st.sampled_from(ACTS))
    loss = draw(st.sampled_from(LOSSES))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        params.append(rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in))
        params.append(rng.standard_normal(fan_out) * 0.5)
    X = rng.standard_normal((B, sizes[0]))
    y = rng.integers(0, sizes[-1], size=B)
    return params, X, y, activation, loss


# ------------------------------------------------------- gradient checks
@settings(deadline=None)
@given(problems())
def test_grads_match_finite_differences(problem):
    params, X, y, activation, loss = problem
    if activation == "relu":
        Zs = pre_activations(params, X, activation)
        assume(all(np.abs(Z).min() > 1e-3 for Z in Zs))
    value, grads = ref.loss_and_grads(params, X, y, activation, loss)
    assert isinstance(value, float) and np.isfinite(value)
    num = numeric_grads(params, X, y, activation, loss)
    assert len(grads) == len(params)
    for p, a, n in zip(params, grads, num):
        assert a.shape == p.shape and a.dtype == p.dtype
        assert np.all(np.abs(a - n) <= 1e-5 + 1e-3 * np.abs(n)), (a, n)


# --------------------------------------------------------------- dtypes
@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("loss", LOSSES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_preserved(activation, loss, dtype):
    rng = np.random.default_rng(0)
    params = ref.init_params([5, 4, 3, 3], rng, dtype=dtype)
    params[1] += 0.1  # nonzero biases
    X = rng.standard_normal((7, 5)).astype(dtype)
    y = rng.integers(0, 3, size=7)  # int64 labels
    logits, cache = ref.forward(params, X, activation)
    assert logits.dtype == dtype
    assert all(A.dtype == dtype for A in cache)
    value, grads = ref.loss_and_grads(params, X, y, activation, loss)
    assert isinstance(value, float)
    assert [g.dtype for g in grads] == [dtype] * len(params)
    # inputs of another dtype (float64 / raw uint8 pixels) are cast to the param dtype
    for Xo in (X.astype(np.float64), (np.abs(X) * 50).astype(np.uint8)):
        logits, _ = ref.forward(params, Xo, activation)
        assert logits.dtype == dtype
        assert all(g.dtype == dtype for g in ref.loss_and_grads(params, Xo, y, activation, loss)[1])


def test_float32_loss_matches_float64():
    rng = np.random.default_rng(1)
    p64 = ref.init_params([6, 8, 4], rng, dtype=np.float64)
    p32 = [p.astype(np.float32) for p in p64]
    X = rng.standard_normal((10, 6))
    y = rng.integers(0, 4, size=10)
    for loss in LOSSES:
        v64, g64 = ref.loss_and_grads(p64, X, y, "tanh", loss)
        v32, g32 = ref.loss_and_grads(p32, X.astype(np.float32), y, "tanh", loss)
        assert v32 == pytest.approx(v64, rel=1e-5)
        for a, b in zip(g32, g64):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-6)


def test_sgd_step_in_place_keeps_dtype():
    rng = np.random.default_rng(2)
    params = ref.init_params([3, 4, 2], rng)
    before = [p.copy() for p in params]
    ids = [id(p) for p in params]
    grads = [np.ones_like(p) for p in params]
    ref.sgd_step(params, grads, np.float64(0.5))  # NumPy scalar lr must not promote
    assert [id(p) for p in params] == ids
    for p, b in zip(params, before):
        assert p.dtype == np.float32
        np.testing.assert_allclose(p, b - 0.5, rtol=1e-6)


# -------------------------------------------------------- cross-entropy
@settings(deadline=None)
@given(
    B=st.integers(1, 6),
    C=st.integers(1, 7),
    scale=st.sampled_from([0.1, 1.0, 10.0, 100.0]),
    seed=st.integers(0, 2**32 - 1),
)
def test_ce_matches_independent(B, C, scale, seed):
    rng = np.random.default_rng(seed)
    logits = rng.standard_normal((B, C)) * scale
    y = rng.integers(0, C, size=B)
    value, grads = ref.loss_and_grads(identity_net(C), logits, y, loss="ce")
    assert value == pytest.approx(independent_ce(logits, y), rel=1e-12, abs=1e-12)
    # db = sum_rows (softmax - onehot) / B; each row of (softmax - onehot) sums to 0
    assert abs(grads[1].sum()) < 1e-12


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_ce_stable_for_huge_logits(dtype):
    logits = np.array(
        [[1e4, 0.0, -1e4], [1e4, 1e4 - 1.0, -1e4], [-1e4, -1e4, -1e4], [3e4, -3e4, 0.0]],
        dtype=dtype,
    )
    y = np.array([1, 0, 2, 0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any overflow / invalid RuntimeWarning fails
        with np.errstate(all="raise", under="ignore"):
            value, grads = ref.loss_and_grads(identity_net(3, dtype), logits, y, loss="ce")
    assert np.isfinite(value)
    assert all(np.all(np.isfinite(g)) for g in grads)
    assert value == pytest.approx(independent_ce(logits, y), rel=1e-6)


def test_mse_definition():
    rng = np.random.default_rng(3)
    logits = rng.standard_normal((5, 4))
    y = rng.integers(0, 4, size=5)
    onehot = np.eye(4)[y]
    value, grads = ref.loss_and_grads(identity_net(4), logits, y, loss="mse")
    assert value == pytest.approx(np.mean((logits - onehot) ** 2), rel=1e-12)
    np.testing.assert_allclose(grads[1], (2 * (logits - onehot) / 20).sum(axis=0), rtol=1e-12)


# ---------------------------------------------------------- relu kink
@pytest.mark.parametrize("loss", LOSSES)
def test_relu_derivative_at_zero_is_zero(loss):
    # Z1 = 1 * 1 + (-1) = 0 exactly; its gradient must be masked out.
    params = [
        np.array([[1.0, 1.0]]),
        np.array([-1.0, 0.5]),  # unit 0: Z = 0 exactly, unit 1: Z = 1.5 (active)
        np.array([[1.0, -1.0], [2.0, 0.5]]),
        np.array([0.0, 0.0]),
    ]
    X = np.array([[1.0]])
    y = np.array([0])
    Zs = pre_activations(params, X, "relu")
    assert Zs[0][0, 0] == 0.0
    _, grads = ref.loss_and_grads(params, X, y, "relu", loss)
    assert grads[0][0, 0] == 0.0 and grads[1][0] == 0.0
    assert grads[2][0, 0] == 0.0 and grads[2][0, 1] == 0.0  # A1[0] = 0
    assert grads[1][1] != 0.0  # the active unit still gets a gradient


# ------------------------------------------------------------ training
def _blobs(rng, n=200):
    y = rng.integers(0, 2, size=n)
    X = rng.standard_normal((n, 2)) * 0.5 + np.where(y[:, None] == 1, 2.0, -2.0)
    return X.astype(np.float32), y


@pytest.mark.parametrize("activation", ACTS)
@pytest.mark.parametrize("loss", LOSSES)
def test_train_epoch_reduces_loss(activation, loss):
    rng = np.random.default_rng(4)
    X, y = _blobs(rng)
    params = ref.init_params([2, 8, 2], rng)
    initial = ref.loss_and_grads(params, X, y, activation, loss)[0]
    for _ in range(5):
        ref.train_epoch(params, X, y, 16, 0.1, rng.permutation(len(X)), activation, loss)
    final = ref.loss_and_grads(params, X, y, activation, loss)[0]
    assert final < 0.5 * initial
    assert all(p.dtype == np.float32 for p in params)
    assert np.mean(ref.predict(params, X, activation) == y) > 0.95


@pytest.mark.parametrize("loss", LOSSES)
def test_train_epoch_mean_loss_is_per_sample_mean(loss):
    rng = np.random.default_rng(5)
    X = rng.standard_normal((23, 4))
    y = rng.integers(0, 3, size=23)
    params = ref.init_params([4, 5, 3], rng, dtype=np.float64)
    full = ref.loss_and_grads(params, X, y, "tanh", loss)[0]
    before = [p.copy() for p in params]
    # lr = 0: no update, so the epoch mean must equal the full-batch loss
    # (batch sizes 5, 5, 5, 5, 3 are weighted by their sizes)
    got = ref.train_epoch(params, X, y, 5, 0.0, rng.permutation(23), "tanh", loss)
    assert got == pytest.approx(full, rel=1e-12)
    for p, b in zip(params, before):
        np.testing.assert_array_equal(p, b)


def test_train_epoch_order_semantics():
    rng = np.random.default_rng(6)
    X, y = _blobs(rng, n=50)
    p0 = ref.init_params([2, 4, 2], rng)
    order = np.random.default_rng(7).permutation(50)
    a = [p.copy() for p in p0]
    b = [p.copy() for p in p0]
    c = [p.copy() for p in p0]
    la = ref.train_epoch(a, X, y, 8, 0.1, order, "relu", "ce")
    lb = ref.train_epoch(b, X, y, 8, 0.1, np.random.default_rng(7), "relu", "ce")
    # manual loop with the same order
    for s in range(0, 50, 8):
        idx = order[s : s + 8]
        ref.sgd_step(c, ref.loss_and_grads(c, X[idx], y[idx], "relu", "ce")[1], 0.1)
    assert la == lb
    for pa, pb, pc in zip(a, b, c):
        np.testing.assert_array_equal(pa, pb)
        np.testing.assert_array_equal(pa, pc)


def test_predict_is_argmax():
    rng = np.random.default_rng(8)
    params = ref.init_params([3, 6, 4], rng)
    X = rng.standard_normal((9, 3)).astype(np.float32)
    logits, _ = ref.forward(params, X, "sigmoid")
    np.testing.assert_array_equal(ref.predict(params, X, "sigmoid"), logits.argmax(axis=1))


# ---------------------------------------------------------------- init
def test_init_statistics():
    rng = np.random.default_rng(9)
    params = ref.init_params([1000, 400, 10], rng)
    W1, b1, W2, b2 = params
    assert W1.shape == (1000, 400) and b1.shape == (400,)
    assert W2.shape == (400, 10) and b2.shape == (10,)
    assert all(p.dtype == np.float32 for p in params)
    assert not b1.any() and not b2.any()
    assert W1.std() == pytest.approx(np.sqrt(2 / 1000), rel=0.02)
    assert abs(W1.mean()) < 1e-3
    assert W2.std() == pytest.approx(np.sqrt(2 / 400), rel=0.05)


def test_init_draws_float64_then_casts():
    p32 = ref.init_params([7, 5, 3], np.random.default_rng(10), dtype=np.float32)
    p64 = ref.init_params([7, 5, 3], np.random.default_rng(10), dtype=np.float64)
    rng = np.random.default_rng(10)
    W1 = rng.standard_normal((7, 5)) * np.sqrt(2 / 7)
    W2 = rng.standard_normal((5, 3)) * np.sqrt(2 / 5)
    np.testing.assert_array_equal(p64[0], W1)
    np.testing.assert_array_equal(p64[2], W2)
    for a, b in zip(p32, p64):
        np.testing.assert_array_equal(a, b.astype(np.float32))


def test_bad_arguments():
    rng = np.random.default_rng(11)
    params = ref.init_params([2, 2], rng)
    X, y = np.zeros((3, 2), np.float32), np.zeros(3, np.int64)
    with pytest.raises(ValueError):
        ref.forward(params, X, "gelu")
    with pytest.raises(ValueError):
        ref.loss_and_grads(params, X, y, loss="hinge")
    with pytest.raises(ValueError):
        ref.loss_and_grads(params, X, y[:2])
    with pytest.raises(ValueError):
        ref.init_params([5], rng)
