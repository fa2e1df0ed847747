"""mnist.reference_cnn (a hand-derived conv + ReLU + max-pool layer) against finite differences, and
tinygrad_np's autograd of the same layer against it, to 1e-10 in float64 (property tests)."""
from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
from mnist import reference_cnn as ref
from tinygrad_np.nn import functional as F


@st.composite
def layers(draw):
    """A layer (N, C, H, W, O, k, s, p, m) whose pooled output is not empty, its inputs and an upstream dP."""
    k, s, p, m = draw(st.integers(1, 3)), draw(st.integers(1, 2)), draw(st.integers(0, 2)), draw(st.integers(1, 2))
    n, c, o = draw(st.integers(1, 2)), draw(st.integers(1, 3)), draw(st.integers(1, 3))
    low = max(k - 2 * p, 1) + (m - 1) * s  # at least m conv outputs per side
    h, w = draw(st.integers(low, low + 3)), draw(st.integers(low, low + 3))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    x, wt, b = rng.standard_normal((n, c, h, w)), rng.standard_normal((o, c, k, k)), rng.standard_normal(o)
    z = ref.conv_forward(x, wt, b, s, p)
    dp = rng.standard_normal((n, o, z.shape[2] // m, z.shape[3] // m))
    return dict(x=x, w=wt, b=b, s=s, p=p, m=m, dp=dp)


def _numeric(f, arr, eps=1e-6):
    g = np.zeros_like(arr)
    for idx in np.ndindex(arr.shape):
        old = arr[idx]
        arr[idx] = old + eps
        plus = f()
        arr[idx] = old - eps
        minus = f()
        arr[idx] = old
        g[idx] = (plus - minus) / (2 * eps)
    return g


@settings(max_examples=8, deadline=None)
@given(case=layers())
def test_the_reference_matches_finite_differences(case):
    x, w, b, s, p, m, dp = (case[k] for k in ("x", "w", "b", "s", "p", "m", "dp"))
    _, cache = ref.layer_forward(x, w, b, s, p, m)
    dx, dw, db = ref.layer_backward(dp, x, w, cache, s, p, m)

    def loss():
        return float(np.sum(ref.layer_forward(x, w, b, s, p, m)[0] * dp))

    for analytic, arr in ((dx, x), (dw, w), (db, b)):
        np.testing.assert_allclose(analytic, _numeric(loss, arr), rtol=1e-5, atol=1e-6)


@given(case=layers())
def test_autograd_equals_the_hand_derived_layer(case):
    x, w, b, s, p, m, dp = (case[k] for k in ("x", "w", "b", "s", "p", "m", "dp"))
    out, cache = ref.layer_forward(x, w, b, s, p, m)
    dx, dw, db = ref.layer_backward(dp, x, w, cache, s, p, m)
    X, W, B = (tg.Tensor(a, requires_grad=True) for a in (x, w, b))
    y = F.max_pool2d(F.conv2d(X, W, B, stride=s, padding=p).relu(), m)
    np.testing.assert_allclose(y.data, out, rtol=1e-10, atol=1e-12)
    y.backward(dp)
    for ours, theirs in ((X.grad, dx), (W.grad, dw), (B.grad, db)):
        assert ours.dtype == np.float64
        np.testing.assert_allclose(ours.data, theirs, rtol=1e-10, atol=1e-10)


def test_the_pool_shares_a_tie_evenly_as_documented():
    a = np.array([[[[1.0, 3.0], [3.0, 0.0]]]])
    np.testing.assert_array_equal(ref.pool_backward(np.array([[[[4.0]]]]), a, 2), [[[[0.0, 2.0], [2.0, 0.0]]]])
