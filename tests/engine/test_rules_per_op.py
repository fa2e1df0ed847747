"""Every op's forward-mode and batching rules, on the drawn cases of ``op_cases.OP_CASES``.

* JVP against finite differences: ``J t`` from one forward pass (``tg.jvp``) equals the central
  difference ``(f(x + h t) - f(x - h t)) / 2h`` along a random direction, float64;
* adjointness, a check no peer framework runs: ``⟨u, J t⟩`` (forward mode) equals ``⟨Jᵀ u, t⟩``
  (reverse mode) to rounding, in float64 and float32, for random u and t;
* vmap: ``vmap(f)`` on a stack of examples equals ``f`` on each example (any mix of batched and
  shared inputs, batch axis first or last), for the op's forward, its VJP (a batch of
  cotangents) and its JVP (a batch of tangents).
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_np as tg
from op_cases import DIFFERENTIABLE_OPS, OP_CASES
from tinygrad_np import Tensor

FEW = settings(max_examples=12, deadline=None)


def _directions(rng, inputs, dtype=np.float64):
    return [rng.standard_normal(x.shape).astype(dtype) for x in inputs]


def _flat_dot(a, b) -> float:
    return float(np.sum(np.asarray(a, dtype=np.float64) * np.asarray(b, dtype=np.float64)))


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE_OPS))
@FEW
@given(data=st.data())
def test_jvp_matches_finite_differences(name, data):
    fn, inputs = data.draw(OP_CASES[name].strategy, label=name)
    rng = np.random.default_rng(0)
    ts = _directions(rng, inputs)
    y, jt = tg.jvp(fn, tuple(Tensor(x) for x in inputs), tuple(Tensor(t) for t in ts))
    h = 1e-6
    plus = fn(*[Tensor(x + h * t) for x, t in zip(inputs, ts)]).data
    minus = fn(*[Tensor(x - h * t) for x, t in zip(inputs, ts)]).data
    numeric = (plus - minus) / (2 * h)
    assert jt.shape == y.shape and jt.dtype == y.dtype
    np.testing.assert_allclose(jt.data, numeric, rtol=1e-5, atol=1e-6, err_msg=f"{name}")


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE_OPS))
@FEW
@given(data=st.data())
def test_adjointness_of_jvp_and_vjp(name, dtype, data):
    """⟨u, J t⟩ = ⟨Jᵀ u, t⟩: the forward rules and the reverse rules describe one Jacobian."""
    fn, inputs = data.draw(OP_CASES[name].strategy, label=name)
    xs = tuple(Tensor(x.astype(dtype)) for x in inputs)
    rng = np.random.default_rng(1)
    ts = _directions(rng, inputs, dtype)
    y, jt = tg.jvp(fn, xs, tuple(Tensor(t) for t in ts))
    u = rng.standard_normal(y.shape).astype(y.dtype)
    _, vjp_fn = tg.vjp(fn, *xs)
    jtu = vjp_fn(Tensor(u))
    forward = _flat_dot(u, jt.data)
    reverse = sum(_flat_dot(g.data, t) for g, t in zip(jtu, ts))
    # the rounding of the two sides: the sizes of the products |u|·|J t| and |Jᵀu|·|t|, and |u|·|t|
    # for the terms that cancel inside a rule (softmax's t - Σ t y, say), times the dtype's epsilon
    norm = lambda a: np.sqrt(_flat_dot(a, a))  # noqa: E731
    t_norm = np.sqrt(sum(_flat_dot(t, t) for t in ts))
    scale = norm(u) * (norm(jt.data) + t_norm) + sum(norm(g.data) * norm(t) for g, t in zip(jtu, ts))
    eps = np.finfo(dtype).eps
    assert abs(forward - reverse) <= 64 * eps * (scale + 1e-30), (name, forward, reverse)


def _stack_examples(rng, inputs, size):
    """``size`` examples per input (the drawn values, scaled by factors near 1, so each stays in the
    op's domain: positive stays positive, off a kink stays on its side)."""
    return [np.stack([x * rng.uniform(0.9, 1.1, x.shape) for _ in range(size)]) for x in inputs]


@pytest.mark.parametrize("name", sorted(OP_CASES))
@FEW
@given(data=st.data())
def test_vmap_equals_a_loop_over_examples(name, data):
    fn, inputs = data.draw(OP_CASES[name].strategy, label=name)
    rng = np.random.default_rng(2)
    size = 3
    stacks = _stack_examples(rng, inputs, size)
    mapped = [data.draw(st.booleans(), label=f"input {k} batched") for k in range(len(inputs))]
    if not any(mapped):
        mapped[0] = True
    last = [m and stacks[k].ndim > 1 and data.draw(st.booleans(), label=f"input {k} batch axis last")
            for k, m in enumerate(mapped)]
    args = [np.moveaxis(s, 0, -1) if lt else s if m else x for s, x, m, lt in zip(stacks, inputs, mapped, last)]
    in_axes = tuple((-1 if lt else 0) if m else None for m, lt in zip(mapped, last))
    out = tg.vmap(fn, in_axes=in_axes)(*[Tensor(a) for a in args])
    loop = np.stack([fn(*[Tensor(s[k] if m else x) for s, x, m in zip(stacks, inputs, mapped)]).data
                     for k in range(size)])
    assert out.shape == loop.shape and out.dtype == loop.dtype
    np.testing.assert_allclose(out.data, loop, rtol=1e-12, atol=1e-12, err_msg=name)


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE_OPS))
@FEW
@given(data=st.data())
def test_vmap_of_the_vjp_and_the_jvp_equals_a_loop(name, data):
    """A batch of cotangents through the VJP rules, and a batch of tangents through the JVP rules."""
    fn, inputs = data.draw(OP_CASES[name].strategy, label=name)
    xs = tuple(Tensor(x) for x in inputs)
    rng = np.random.default_rng(3)
    y, vjp_fn = tg.vjp(fn, *xs)
    us = rng.standard_normal((3,) + y.shape)
    batched = tg.vmap(vjp_fn)(Tensor(us))
    for k in range(3):
        for b, g in zip(batched, vjp_fn(Tensor(us[k]))):
            np.testing.assert_allclose(b.data[k], g.data, rtol=1e-12, atol=1e-12, err_msg=f"{name} vjp")
    ts = [rng.standard_normal((3,) + x.shape) for x in inputs]
    jts = tg.vmap(lambda *t: tg.jvp(fn, xs, t)[1])(*[Tensor(t) for t in ts])
    for k in range(3):
        ref = tg.jvp(fn, xs, tuple(Tensor(t[k]) for t in ts))[1]
        np.testing.assert_allclose(jts.data[k], ref.data, rtol=1e-12, atol=1e-12, err_msg=f"{name} jvp")


def test_an_op_without_a_batching_rule_names_itself():
    class Unbatchable(tg.Function):
        forward = staticmethod(np.negative)

        def vjp(self, i, g, y):
            return -g

    with pytest.raises(TypeError, match="vmap: the op 'Unbatchable' has no batching rule"):
        tg.vmap(lambda x: Tensor.apply(Unbatchable, x))(Tensor(np.ones((2, 3))))


def test_an_op_without_a_jvp_rule_falls_back_to_its_transposed_vjp():
    class CubeNoJVP(tg.Function):
        """y = a³ with only a VJP: forward mode transposes it."""

        @staticmethod
        def forward(a):
            return a ** 3

        def vjp(self, i, g, y):
            a = self.inputs[0]
            return g * a * a * 3.0

    x = np.array([0.5, -1.5, 2.0])
    t = np.array([1.0, 2.0, -1.0])
    y, jt = tg.jvp(lambda a: Tensor.apply(CubeNoJVP, a), (Tensor(x),), (Tensor(t),))
    np.testing.assert_allclose(jt.data, 3 * x ** 2 * t, rtol=1e-12)
    np.testing.assert_allclose(tg.hessian(lambda a: Tensor.apply(CubeNoJVP, a).sum())(Tensor(x)).data,
                               np.diag(6 * x), rtol=1e-12)
