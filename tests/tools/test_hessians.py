"""Hessians of known functions equal their closed forms; an MLP loss Hessian is symmetric and
matches finite differences of the gradient."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import strategies as S
from tinygrad_np import Tensor
from tinygrad_np.functional import grad, hessian, hvp
from tinygrad_np.nn.functional import cross_entropy, log_softmax, nll_loss

TOL = dict(rtol=1e-10, atol=1e-12)


def softmax_np(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def softmax_hessian(p: np.ndarray) -> np.ndarray:
    """∂² logsumexp(z) / ∂z² = diag(p) - p pᵀ with p = softmax(z)."""
    return np.diag(p) - np.outer(p, p)


sizes = st.integers(1, 5)


# ----------------------------------------------------------------------------- closed forms
@settings(deadline=None)
@given(data=st.data(), n=sizes)
def test_quadratic_form(data, n):
    """f(x) = xᵀ A x  ->  H = A + Aᵀ (whatever x is)."""
    A = data.draw(S.arrays((n, n)), label="A")
    x = data.draw(S.arrays((n,)), label="x")
    H = hessian(lambda v: v @ (Tensor(A) @ v))(x)
    assert H.shape == (n, n) and H.dtype == np.float64
    np.testing.assert_allclose(H.data, A + A.T, **TOL)


@settings(deadline=None)
@given(data=st.data(), n=sizes)
def test_log_sum_exp(data, n):
    """f(x) = log Σ exp(x)  ->  H = diag(p) - p pᵀ, p = softmax(x)."""
    x = data.draw(S.arrays((n,), S.floats(-5.0, 5.0)), label="x")
    expected = softmax_hessian(softmax_np(x))
    np.testing.assert_allclose(hessian(lambda v: v.logsumexp())(x).data, expected, **TOL)
    composite = hessian(lambda v: v.exp().sum().log())(x)  # the same function from exp/sum/log
    np.testing.assert_allclose(composite.data, expected, rtol=1e-9, atol=1e-12)


@settings(deadline=None)
@given(data=st.data(), c=sizes)
def test_cross_entropy_one_example(data, c):
    """ℓ(z) = logsumexp(z) - z_y: the label term is linear, so H = diag(p) - p pᵀ for any label."""
    z = data.draw(S.arrays((1, c), S.floats(-5.0, 5.0)), label="logits")
    y = data.draw(S.labels(1, c), label="label")
    H = hessian(lambda logits: cross_entropy(logits, y))(z)
    assert H.shape == (1, c, 1, c)
    np.testing.assert_allclose(H.data.reshape(c, c), softmax_hessian(softmax_np(z[0])), **TOL)


@settings(deadline=None)
@given(data=st.data(), n=sizes, c=sizes, reduction=st.sampled_from(["mean", "sum"]))
def test_cross_entropy_batch_is_block_diagonal(data, n, c, reduction):
    """Mean over N rows: H[i, :, j, :] = δ_ij (diag(p_i) - p_i p_iᵀ) / N (no /N for sum)."""
    z = data.draw(S.arrays((n, c), S.floats(-5.0, 5.0)), label="logits")
    y = data.draw(S.labels(n, c), label="labels")
    scale = 1 / n if reduction == "mean" else 1.0
    p = softmax_np(z, axis=1)
    expected = np.zeros((n, c, n, c))
    for i in range(n):
        expected[i, :, i, :] = softmax_hessian(p[i]) * scale
    fused = hessian(lambda logits: cross_entropy(logits, y, reduction=reduction))(z)
    np.testing.assert_allclose(fused.data, expected, **TOL)
    composite = hessian(lambda logits: nll_loss(log_softmax(logits, axis=1), y, reduction=reduction))(z)
    np.testing.assert_allclose(composite.data, expected, **TOL)


# ----------------------------------------------------------------------------- an MLP
@st.composite
def mlp_problems(draw):
    """A 2-layer tanh MLP with softmax cross-entropy: sizes, flat parameters, a batch and labels."""
    n_in, n_hidden, n_out, batch = (draw(st.integers(1, 3)) for _ in range(4))
    shapes = [(n_in, n_hidden), (n_hidden,), (n_hidden, n_out), (n_out,)]
    n_params = sum(int(np.prod(s)) for s in shapes)
    theta = draw(S.arrays((n_params,), S.floats(-1.5, 1.5)))
    X = draw(S.arrays((batch, n_in)))
    y = draw(S.labels(batch, n_out))
    return shapes, theta, X, y


def mlp_loss(shapes, X, y):
    """θ (flat) -> mean cross-entropy of tanh(X W1 + b1) W2 + b2: every parameter sliced out of θ."""

    def loss(theta: Tensor) -> Tensor:
        params, k = [], 0
        for s in shapes:
            size = int(np.prod(s))
            params.append(theta[k:k + size].reshape(s))
            k += size
        w1, b1, w2, b2 = params
        hidden = (Tensor(X) @ w1 + b1).tanh()
        return cross_entropy(hidden @ w2 + b2, y)

    return loss


@settings(deadline=None)
@given(problem=mlp_problems())
def test_mlp_hessian_symmetric_and_matches_finite_differences(problem):
    shapes, theta, X, y = problem
    loss = mlp_loss(shapes, X, y)
    H = hessian(loss)(theta).data
    assert H.shape == (theta.size, theta.size)
    np.testing.assert_allclose(H, H.T, rtol=1e-9, atol=1e-12)
    # Column j: central differences of the gradient along e_j.
    g = grad(loss)
    eps = 1e-6
    numeric = np.empty_like(H)
    for j in range(theta.size):
        step = np.zeros_like(theta)
        step[j] = eps
        numeric[:, j] = (g(theta + step).data - g(theta - step).data) / (2 * eps)
    np.testing.assert_allclose(H, numeric, rtol=1e-5, atol=1e-7)
    # hvp without forming H agrees with H @ v.
    v = np.linspace(-1.0, 1.0, theta.size)
    np.testing.assert_allclose(hvp(loss, theta, v).data, H @ v, rtol=1e-9, atol=1e-12)


@settings(deadline=None)
@given(problem=mlp_problems())
def test_mlp_hessian_blocks_per_parameter(problem):
    """argnums over (W1, b1, W2, b2): H[a][b] has shape p_a.shape + p_b.shape, H[a][b] = H[b][a]ᵀ,
    and the blocks are the flat-θ Hessian's blocks."""
    shapes, theta, X, y = problem
    sizes = [int(np.prod(s)) for s in shapes]
    bounds = np.cumsum([0] + sizes)
    params = [theta[lo:hi].reshape(s) for lo, hi, s in zip(bounds[:-1], bounds[1:], shapes)]

    def loss(w1, b1, w2, b2):
        return cross_entropy((Tensor(X) @ w1 + b1).tanh() @ w2 + b2, y)

    blocks = hessian(loss, argnums=(0, 1, 2, 3))(*params)
    flat = hessian(mlp_loss(shapes, X, y))(theta).data
    for a in range(4):
        for b in range(4):
            Hab = blocks[a][b].data
            assert Hab.shape == shapes[a] + shapes[b]
            np.testing.assert_allclose(Hab.reshape(sizes[a], sizes[b]),
                                       blocks[b][a].data.reshape(sizes[b], sizes[a]).T, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(Hab.reshape(sizes[a], sizes[b]),
                                       flat[bounds[a]:bounds[a + 1], bounds[b]:bounds[b + 1]], rtol=1e-9, atol=1e-12)


@settings(deadline=None)
@given(x=hnp.arrays(np.float64, st.integers(1, 4), elements=S.floats(-2.0, 2.0)))
def test_separable_function_has_diagonal_hessian(x):
    """f(x) = Σ x_i³ + exp(x_i)  ->  H = diag(6x + exp(x))."""
    H = hessian(lambda v: (v ** 3 + v.exp()).sum())(x)
    np.testing.assert_allclose(H.data, np.diag(6 * x + np.exp(x)), rtol=1e-10, atol=1e-12)
