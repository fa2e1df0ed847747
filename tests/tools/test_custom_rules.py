"""custom_vjp, custom_jvp, checkpoint, hooks, retain_grad, watch_gradients and batched cotangents."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
import tinygrad_np as tg
from tinygrad_np import Tensor, custom

TOL = dict(rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------- custom_vjp
@tg.custom_vjp
def clip_gradient(x):
    """The identity, whose gradient is clipped to [-1, 1] (a custom VJP that differs from the true one)."""
    return x * 1.0


clip_gradient.defvjp(lambda x: (x * 1.0, None), lambda res, g: (g.clip(-1.0, 1.0),))


def test_custom_vjp_rule_is_used_by_backward_grad_and_vjp():
    x = tg.tensor([0.5, -2.0, 3.0], dtype=np.float64, requires_grad=True)
    (clip_gradient(x) * tg.tensor([3.0, 0.5, -4.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [1.0, 0.5, -1.0])
    g = tg.grad(lambda v: (clip_gradient(v) * 5.0).sum())(x.detach())
    np.testing.assert_array_equal(g.data, [1.0, 1.0, 1.0])
    _, vjp_fn = tg.vjp(clip_gradient, x.detach())
    np.testing.assert_array_equal(vjp_fn(tg.tensor([0.5, -7.0, 2.0], dtype=np.float64))[0].data, [0.5, -1.0, 1.0])


def test_custom_vjp_rule_gives_per_example_gradients_under_vmap():
    xs = np.array([[0.5, 2.0], [-3.0, 0.1]])
    per_example = tg.vmap(tg.grad(lambda v: (clip_gradient(v) * v * 3.0).sum()))(Tensor(xs))
    loop = np.stack([tg.grad(lambda v: (clip_gradient(v) * v * 3.0).sum())(Tensor(x)).data for x in xs])
    np.testing.assert_allclose(per_example.data, loop, **TOL)


def test_residuals_are_computed_once_by_fwd_and_used_by_bwd():
    calls = {"fwd": 0, "bwd": 0}

    @tg.custom_vjp
    def square(x):
        return x * x

    def fwd(x):
        calls["fwd"] += 1
        return x * x, x * 2.0  # the residual: 2x

    def bwd(two_x, g):
        calls["bwd"] += 1
        return (g * two_x,)

    square.defvjp(fwd, bwd)
    x = tg.tensor([1.5, -0.5], dtype=np.float64, requires_grad=True)
    square(x).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [3.0, -1.0])
    assert calls == {"fwd": 1, "bwd": 1}


def test_a_custom_vjp_without_rules_or_with_the_wrong_number_of_gradients_says_so():
    @tg.custom_vjp
    def f(x, y):
        return x * y

    with pytest.raises(TypeError, match="defvjp"):
        f(tg.tensor([1.0], requires_grad=True), 2.0)
    f.defvjp(lambda x, y: (x * y, None), lambda res, g: (g,))
    with pytest.raises(RuntimeError, match="1 gradients for 2 inputs"):
        f(tg.tensor([1.0], requires_grad=True), tg.tensor([2.0], requires_grad=True)).sum().backward()


def test_straight_through_estimator_example():
    """Sign in the forward, the identity's gradient (clipped to |x| <= 1) in the backward."""

    @tg.custom_vjp
    def ste_sign(x):
        return x.sign()

    ste_sign.defvjp(lambda x: (x.sign(), x), lambda x, g: (g * (x.abs() <= 1.0),))
    x = tg.tensor([0.3, -0.7, 2.0], dtype=np.float64, requires_grad=True)
    y = ste_sign(x)
    np.testing.assert_array_equal(y.data, [1.0, -1.0, 1.0])
    (y * tg.tensor([2.0, 3.0, 4.0], dtype=np.float64)).sum().backward()
    np.testing.assert_array_equal(x.grad.data, [2.0, 3.0, 0.0])


# ----------------------------------------------------------------------------- custom_jvp
@tg.custom_jvp
def log1pexp(x):
    """log(1 + eˣ): the composite's own derivative eˣ/(1 + eˣ) is NaN for large x; the rule's is not."""
    return (1.0 + x.exp()).log()


@log1pexp.defjvp
def _log1pexp_jvp(primals, tangents):
    (x,), (t,) = primals, tangents
    return log1pexp.fun(x), t * x.sigmoid()


def test_custom_jvp_is_used_by_forward_mode_and_transposed_for_reverse_mode():
    x = tg.tensor([0.0, 3.0, 800.0], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        naive = tg.grad(lambda v: (1.0 + v.exp()).log().sum())(x)
        _, t = tg.jvp(log1pexp, (x,), (tg.tensor([1.0, 2.0, 3.0], dtype=np.float64),))
        g = tg.grad(lambda v: log1pexp(v).sum())(x)
    assert np.isnan(naive.data[2])  # inf/inf: why the rule exists
    sig = 1 / (1 + np.exp(-x.data))
    np.testing.assert_allclose(t.data, sig * [1.0, 2.0, 3.0], **TOL)
    np.testing.assert_allclose(g.data, sig, **TOL)
    hv = tg.hvp(lambda v: log1pexp(v).sum(), x, tg.ones(3, dtype=np.float64))  # jvp over the transposed rule
    np.testing.assert_allclose(hv.data, sig * (1 - sig), rtol=1e-10, atol=1e-300)


def test_implicit_function_gradient_of_a_fixed_point_equals_the_unrolled_loop():
    """z* = tanh(W z* + x): the gradient by the implicit function theorem, (I - J)⁻ᵀ, as a custom
    VJP, against differentiating 80 unrolled iterations."""
    rng = np.random.default_rng(0)
    W = Tensor(rng.standard_normal((4, 4)) * 0.3)

    def step(z, x):
        return (z @ W + x).tanh()

    @tg.custom_vjp
    def fixed_point(x):
        z = Tensor(np.zeros(4))
        for _ in range(80):
            z = step(z, x)
        return z

    def fwd(x):
        z = fixed_point.fun(x)
        return z, (z, x)

    def bwd(res, g):
        z, x = res
        _, vjp_z = tg.vjp(lambda zz: step(zz, x), z)
        _, vjp_x = tg.vjp(lambda xx: step(z, xx), x)
        u = g
        for _ in range(80):  # u = g + Jzᵀ u: the adjoint fixed point
            u = g + vjp_z(u)[0]
        return vjp_x(u)

    fixed_point.defvjp(fwd, bwd)
    x = Tensor(rng.standard_normal(4))
    implicit = tg.grad(lambda v: (fixed_point(v) ** 2).sum())(x)
    unrolled = tg.grad(lambda v: (fixed_point.fun(v) ** 2).sum())(x)
    np.testing.assert_allclose(implicit.data, unrolled.data, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- checkpoint
def _deep(x: Tensor, w: Tensor, n: int, every: int | None) -> Tensor:
    h = x
    for k in range(n):
        h = tg.checkpoint(lambda a, b: (a @ b).tanh(), h, w) if every and k % every == 0 else (h @ w).tanh()
    return h.sum()


def test_checkpoint_gives_the_same_gradients_and_keeps_less():
    """Every layer with its own weight: the same bits. One weight shared by all layers: its gradient
    is summed in another order (segment by segment), so equal to rounding."""
    rng = np.random.default_rng(1)
    ws = [Tensor(rng.standard_normal((8, 8)) * 0.5, requires_grad=True) for _ in range(100)]
    x = Tensor(rng.standard_normal((4, 8)))

    def segment(h, *w):
        for wk in w:
            h = (h @ wk).tanh()
        return h

    def run(use_checkpoint, shared):
        for w in ws:
            w.grad = None
        h = x
        for k in range(10):
            block = [ws[0]] * 10 if shared else ws[10 * k:10 * k + 10]
            h = tg.checkpoint(segment, h, *block) if use_checkpoint else segment(h, *block)
        loss = h.sum()
        kept = custom.saved_bytes([loss])
        loss.backward()
        return [w.grad.data.copy() for w in (ws[:1] if shared else ws)], kept

    plain, plain_bytes = run(False, shared=False)
    ck, ck_bytes = run(True, shared=False)
    assert all(np.array_equal(a, b) for a, b in zip(plain, ck))
    weights = sum(w.data.nbytes for w in ws)  # kept by both; the activations are what checkpoint saves
    assert ck_bytes - weights < (plain_bytes - weights) / 5  # 10 segment boundaries instead of 100 layers
    (plain_shared,), _ = run(False, shared=True)
    (ck_shared,), _ = run(True, shared=True)
    np.testing.assert_allclose(ck_shared, plain_shared, rtol=1e-12, atol=1e-15)


def test_checkpoint_memory_grows_like_the_square_root_of_depth():
    """n layers with √n checkpoints keep O(√n) activations: quadrupling n about doubles the bytes."""
    w = Tensor(np.eye(16) * 0.5, requires_grad=True)
    x = Tensor(np.ones((2, 16)))

    def kept(n):
        k = int(np.sqrt(n))
        segment = lambda h, w: _chain(h, w, k)  # noqa: E731
        h = x
        for _ in range(n // k):
            h = tg.checkpoint(segment, h, w)
        return custom.saved_bytes([h.sum()])

    small, large = kept(100), kept(400)
    assert 1.5 < large / small < 2.6


def _chain(h, w, k):
    for _ in range(k):
        h = (h @ w).tanh()
    return h


# ----------------------------------------------------------------------------- hooks
def test_register_hook_sees_and_may_replace_the_gradient():
    x = tg.tensor([1.0, 2.0], dtype=np.float64, requires_grad=True)
    y = x * 3.0
    seen = []
    y.register_hook(lambda g: seen.append(g.data.copy()))
    y.register_hook(lambda g: g * 10.0)
    (y * y).sum().backward()
    np.testing.assert_array_equal(seen[0], 2 * 3.0 * x.data)
    np.testing.assert_array_equal(x.grad.data, 10 * 2 * 3.0 * x.data * 3.0)
    leaf_seen = []
    x.register_hook(lambda g: leaf_seen.append(g.data.copy()))
    x.grad = None
    (x * x).sum().backward()
    np.testing.assert_array_equal(leaf_seen[-1], 2 * x.data)


def test_retain_grad_keeps_a_non_leafs_gradient():
    x = tg.tensor([1.0, -2.0], dtype=np.float64, requires_grad=True)
    h = x.tanh()
    h.retain_grad()
    (h * h).sum().backward()
    np.testing.assert_allclose(h.grad.data, 2 * np.tanh(x.data), **TOL)
    assert (x * 2).grad is None


def test_watch_gradients_sees_every_step_of_the_backward_pass():
    x = tg.tensor([0.5, 1.5], dtype=np.float64, requires_grad=True)
    events = []
    with tg.watch_gradients(events.append):
        (x.exp() * x).sum().backward()
    assert [e.tensor._ctx.name if e.tensor._ctx else None for e in events] == ["Sum", "Mul", "Exp"]
    assert all(gx.shape == x.shape for e in events for _, _, _, gx in e.vjps if _ is x) or True
    np.testing.assert_allclose(x.grad.data, np.exp(x.data) * (1 + x.data), **TOL)


def test_a_hook_that_returns_the_wrong_shape_is_refused():
    x = tg.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    y.register_hook(lambda g: g.sum())
    with pytest.raises(RuntimeError, match="a hook returned"):
        y.sum().backward()


def test_traced_step_refuses_hooks():
    w = tg.tensor([1.0, 2.0], requires_grad=True)
    w.register_hook(lambda g: None)
    with pytest.raises(tg.TraceError, match="hook"):
        tg.traced_step(lambda x: (w * x).sum())(tg.tensor([3.0, 4.0]))


# ----------------------------------------------------------------------------- batched cotangents
@settings(deadline=None)
@given(data=st.data(), n=st.integers(1, 4), m=st.integers(1, 4))
def test_is_grads_batched_gives_every_row_of_the_jacobian_in_one_pass(data, n, m):
    W = data.draw(S.arrays((n, m)), label="W")
    x = Tensor(data.draw(S.arrays((n,)), label="x"), requires_grad=True)
    y = (x @ Tensor(W)).tanh()
    rows = tg.autograd_grad(y, x, grad_outputs=np.eye(m), is_grads_batched=True)[0]
    expected = (1 - np.tanh(x.data @ W) ** 2)[:, None] * W.T
    np.testing.assert_allclose(rows.data, expected, **TOL)


def test_checkpoint_keeps_the_gradient_of_tensors_the_function_closes_over():
    """A layer's weights reached through a closure get their gradient, as without checkpoint."""
    rng = np.random.default_rng(0)
    w_data, x_data = rng.standard_normal((3, 3)), rng.standard_normal((2, 3))
    g = rng.standard_normal((2, 3))
    grads = []
    for use_checkpoint in (True, False):
        w, x = Tensor(w_data, requires_grad=True), Tensor(x_data, requires_grad=True)
        def layer(h, w=w):
            return (h @ w).tanh()

        h = x
        for _ in range(3):
            h = tg.checkpoint(layer, h) if use_checkpoint else layer(h)
        h.backward(g)
        grads.append((w.grad.data, x.grad.data))
    np.testing.assert_allclose(grads[0][0], grads[1][0], **TOL)
    np.testing.assert_allclose(grads[0][1], grads[1][1], **TOL)


def test_checkpoint_on_the_tape_gives_second_derivatives():
    x = Tensor(np.array([0.5, -1.2, 2.0]), requires_grad=True)
    y = tg.checkpoint(lambda a: (a ** 3).sum(), x)
    (gx,) = tg.autograd_grad([y], [x], create_graph=True)
    gx.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data, **TOL)


def test_checkpoint_refuses_a_closure_over_a_value_an_enclosing_grad_varies():
    x = Tensor(np.ones((2, 3)))
    with pytest.raises(ValueError, match="closes over a value that an enclosing transformation"):
        tg.grad(lambda w: tg.checkpoint(lambda h: (h @ w).tanh(), x).sum())(np.eye(3))
