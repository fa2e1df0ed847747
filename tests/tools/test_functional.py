"""The functional API: grad, value_and_grad, vjp, jvp, jacobian, hessian, hvp."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
from tinygrad_np import Tensor, no_grad
from tinygrad_np.functional import grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp

TOL = dict(rtol=1e-10, atol=1e-12)


def basis(shape: tuple[int, ...], flat_index: int) -> np.ndarray:
    e = np.zeros(int(np.prod(shape, dtype=int)))
    e[flat_index] = 1.0
    return e.reshape(shape)


def numeric_jacobian(f, xs: list[np.ndarray], j: int, eps: float = 1e-6) -> np.ndarray:
    """Central differences of f w.r.t. xs[j]: shape out.shape + xs[j].shape."""
    out_shape = f(*[Tensor(x) for x in xs]).shape
    cols = []
    for k in range(xs[j].size):
        plus = [x.copy() for x in xs]
        minus = [x.copy() for x in xs]
        plus[j].flat[k] += eps
        minus[j].flat[k] -= eps
        cols.append((f(*[Tensor(x) for x in plus]).data - f(*[Tensor(x) for x in minus]).data) / (2 * eps))
    return np.stack(cols, axis=-1).reshape(out_shape + xs[j].shape)


def cube_plus_exp(x):
    return x ** 3 + x.exp()


scalars = S.floats(-2.0, 2.0).map(np.float64).map(np.asarray)  # 0-d float64 arrays


# ----------------------------------------------------------------------------- jacobian vs vjp/jvp
@settings(deadline=None)
@given(graph=S.expression_graphs(min_ops=3, max_dims=2))
def test_jacobian_rows_are_vjps_and_columns_are_jvps(graph):
    f, xs = graph.fn, graph.leaves
    nums = tuple(range(len(xs)))
    jacs = jacobian(f, argnums=nums)(*xs)
    out, vjp_fn = vjp(f, *xs)
    assert len(jacs) == len(xs)
    for j, (J, x) in enumerate(zip(jacs, xs)):
        assert J.shape == out.shape + x.shape
        np.testing.assert_allclose(J.data, numeric_jacobian(f, xs, j), rtol=1e-5, atol=1e-7)
    for i in range(out.size):  # row i: e_iᵀ J, one VJP (vjp_fn can be called many times)
        rows = vjp_fn(basis(out.shape, i))
        for J, row in zip(jacs, rows):
            np.testing.assert_allclose(row.data, J.data.reshape(out.size, -1)[i].reshape(row.shape), **TOL)
    for j, x in enumerate(xs):  # column k of J_j: J e_k, one JVP
        for k in range(x.size):
            tangents = tuple(basis(xi.shape, k) if i == j else np.zeros(xi.shape) for i, xi in enumerate(xs))
            value, col = jvp(f, tuple(xs), tangents)
            np.testing.assert_allclose(value.data, out.data, **TOL)
            np.testing.assert_allclose(col.data, jacs[j].data.reshape(out.size, x.size)[:, k].reshape(out.shape),
                                       **TOL)


@settings(deadline=None)
@given(data=st.data(), n=st.integers(1, 4), m=st.integers(1, 4))
def test_jvp_is_linear_in_the_tangent(data, n, m):
    W = data.draw(S.arrays((m, n)), label="W")
    x, t1, t2 = (data.draw(S.arrays((n,)), label=name) for name in ("x", "t1", "t2"))

    def f(v):
        return (Tensor(W) @ v).tanh() * v.sum()

    J = jacobian(f)(x).data
    assert J.shape == (m, n)
    out, jt = jvp(f, x, t1)  # a single primal may be given without a tuple
    np.testing.assert_allclose(jt.data, J @ t1, **TOL)
    _, jt_sum = jvp(f, (x,), (t1 + 2 * t2,))
    np.testing.assert_allclose(jt_sum.data, J @ t1 + 2 * (J @ t2), rtol=1e-9, atol=1e-12)
    u = np.resize(t2, m)
    (row,) = vjp(f, x)[1](u)
    np.testing.assert_allclose(row.data, u @ J, **TOL)


def test_vjp_and_jvp_with_tuple_outputs():
    x = np.array([0.3, -0.4])

    def f(v):
        return v.tanh(), (v * v).sum()

    (a, b), vjp_fn = vjp(f, x)
    (gx,) = vjp_fn((np.array([1.0, 2.0]), np.array(3.0)))
    np.testing.assert_allclose(gx.data, np.array([1.0, 2.0]) * (1 - np.tanh(x) ** 2) + 3.0 * 2 * x, **TOL)
    (_, _), (ta, tb) = jvp(f, (x,), (np.array([1.0, -1.0]),))
    np.testing.assert_allclose(ta.data, (1 - np.tanh(x) ** 2) * [1.0, -1.0], **TOL)
    np.testing.assert_allclose(tb.data, 2 * x @ [1.0, -1.0], **TOL)
    Ja, Jb = jacobian(f)(x)
    assert Ja.shape == (2, 2) and Jb.shape == (2,)


# ----------------------------------------------------------------------------- hessian / hvp
@settings(deadline=None)
@given(graph=S.expression_graphs(min_ops=3, max_dims=2), data=st.data())
def test_hvp_is_hessian_times_v(graph, data):
    def f(*xs):
        return graph.fn(*xs).tanh().sum()

    xs = graph.leaves
    vs = tuple(data.draw(S.arrays(x.shape), label="v") for x in xs)
    nums = tuple(range(len(xs)))
    H = hessian(f, argnums=nums)(*xs)
    hv = hvp(f, tuple(xs), vs)
    assert len(hv) == len(xs)
    for a, x in enumerate(xs):
        expected = sum(H[a][b].data.reshape(x.size, xb.size) @ vb.ravel() for b, (xb, vb) in enumerate(zip(xs, vs)))
        np.testing.assert_allclose(hv[a].data.ravel(), expected, rtol=1e-9, atol=1e-10)
        for b, xb in enumerate(xs):  # H is symmetric
            np.testing.assert_allclose(H[a][b].data.reshape(x.size, xb.size),
                                       H[b][a].data.reshape(xb.size, x.size).T, rtol=1e-9, atol=1e-12)


@settings(deadline=None)
@given(x=S.shapes(min_dims=1, max_dims=2, max_side=3).flatmap(lambda s: S.arrays(s, S.floats(-2.0, 2.0))))
def test_jacobian_of_grad_is_hessian(x):
    def f(v):
        return (v.sigmoid() * v).sum() + (v * v + 1).sum().sqrt()

    H = hessian(f)(x)
    assert H.shape == x.shape + x.shape
    np.testing.assert_allclose(jacobian(grad(f))(x).data, H.data, **TOL)
    flat = H.data.reshape(x.size, x.size)
    np.testing.assert_allclose(flat, flat.T, rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- grad, nesting
@settings(deadline=None)
@given(x=scalars)
def test_grad_of_grad(x):
    """f = x³ + exp(x): f' = 3x² + exp(x), f'' = 6x + exp(x), f''' = 6 + exp(x)."""
    np.testing.assert_allclose(grad(cube_plus_exp)(x).data, 3 * x ** 2 + np.exp(x), **TOL)
    np.testing.assert_allclose(grad(grad(cube_plus_exp))(x).data, 6 * x + np.exp(x), **TOL)
    np.testing.assert_allclose(grad(grad(grad(cube_plus_exp)))(x).data, 6 + np.exp(x), **TOL)
    np.testing.assert_allclose(hessian(cube_plus_exp)(x).data, 6 * x + np.exp(x), **TOL)


@settings(deadline=None)
@given(x=scalars, y=scalars)
def test_grad_of_a_function_that_calls_grad(x, y):
    """Closures over the outer variable: d/dy [ ∂/∂x (x y)³ ] = d/dy 3x²y³ = 9x²y²."""

    def inner_grad(yv):
        return grad(lambda xv: (xv * yv) ** 3)(Tensor(x))

    np.testing.assert_allclose(inner_grad(Tensor(y)).data, 3 * x ** 2 * y ** 3, **TOL)
    np.testing.assert_allclose(grad(inner_grad)(y).data, 9 * x ** 2 * y ** 2, **TOL)
    # mixed partial both ways: ∂²/∂x∂y of x²y³ = 6xy²
    f = lambda a, b: a * a * b ** 3  # noqa: E731
    np.testing.assert_allclose(grad(lambda b: grad(f, 0)(x, b))(y).data, 6 * x * y ** 2, **TOL)
    np.testing.assert_allclose(grad(lambda a: grad(f, 1)(a, y))(x).data, 6 * x * y ** 2, **TOL)


def test_no_perturbation_confusion():
    """d/dx [ d/dy (x·y) at y = x ] = d/dx x = 1 (the inner y is not the outer x, though it is
    evaluated at it); a naive implementation reusing the same tensor gets 2."""
    x = np.asarray(2.0)
    assert grad(lambda a: grad(lambda b: a * b)(a))(x).item() == pytest.approx(1.0)
    assert grad(lambda a: a * grad(lambda b: a * b)(a))(x).item() == pytest.approx(2 * 2.0)


def test_inputs_that_require_grad_give_differentiable_results():
    """Like torch.autograd.functional with create_graph: an input on a graph stays on it."""
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    g = grad(lambda v: (v ** 3).sum())(x)  # 3x²
    assert g.requires_grad and x.grad is None  # .grad is left alone
    g.sum().backward()
    np.testing.assert_allclose(x.grad.data, 6 * x.data, **TOL)
    with no_grad():  # no outer differentiation possible: plain results
        assert not grad(lambda v: (v ** 3).sum())(x).requires_grad


def test_results_are_plain_tensors_at_top_level():
    x = np.array([0.1, 0.2])
    f = lambda v: (v.exp() * v).sum()  # noqa: E731
    value, g = value_and_grad(f)(x)
    results = [value, g, jacobian(grad(f))(x), hessian(f)(x), hvp(f, x, x), *jvp(f, x, x), vjp(f, x)[0],
               grad(grad(lambda v: v.exp().sum()))(np.asarray(0.5)), grad(lambda a: grad(f)(a).sum())(x)]
    for r in results:
        assert isinstance(r, Tensor) and not r.requires_grad and r.grad_fn is None


def test_grad_mode_restored_and_works_inside_no_grad():
    from tinygrad_np import is_grad_enabled

    with no_grad():
        np.testing.assert_allclose(grad(cube_plus_exp)(np.asarray(1.0)).data, 3 + np.e, **TOL)
        assert not is_grad_enabled()
    assert is_grad_enabled()


# ----------------------------------------------------------------------------- value_and_grad, argnums
@settings(deadline=None)
@given(data=st.data(), shape=S.shapes(max_dims=2))
def test_value_and_grad(data, shape):
    a, b = data.draw(S.arrays(shape), label="a"), data.draw(S.arrays(shape), label="b")

    def f(x, y, scale):
        return (x * y.tanh()).sum() * scale

    value, (ga, gb) = value_and_grad(f, argnums=(0, 1))(a, b, 2.0)
    np.testing.assert_allclose(value.data, 2 * np.sum(a * np.tanh(b)), **TOL)
    np.testing.assert_allclose(ga.data, 2 * np.tanh(b), **TOL)
    np.testing.assert_allclose(gb.data, 2 * a * (1 - np.tanh(b) ** 2), **TOL)
    value1, gb1 = value_and_grad(f, argnums=1)(a, b, 2.0)  # int argnums: one Tensor
    assert isinstance(gb1, Tensor)
    np.testing.assert_allclose(gb1.data, gb.data, **TOL)
    (gb2,) = grad(f, argnums=(-2,))(a, b, 2.0)  # tuple argnums: a tuple; negative ints count from the end
    np.testing.assert_allclose(gb2.data, gb.data, **TOL)
    gba = grad(f, argnums=(1, 0))(a, b, 2.0)  # order follows argnums
    np.testing.assert_allclose(gba[1].data, ga.data, **TOL)


def test_unused_argument_has_zero_gradient():
    g0, g1 = grad(lambda x, y: (x * x).sum(), argnums=(0, 1))(np.ones(2), np.ones(3))
    np.testing.assert_array_equal(g1.data, np.zeros(3))
    unused = jacobian(lambda x, y: x * 2, argnums=1)(Tensor(np.ones(2)), np.ones(3))
    np.testing.assert_array_equal(unused.data, np.zeros((2, 3)))


def test_same_tensor_as_two_arguments():
    x = np.array([1.0, 2.0])
    ga, gb = grad(lambda a, b: (a * b * b).sum(), argnums=(0, 1))(x, x)
    np.testing.assert_allclose(ga.data, x ** 2, **TOL)
    np.testing.assert_allclose(gb.data, 2 * x * x, **TOL)


# ----------------------------------------------------------------------------- inputs and dtypes
def test_array_and_tensor_inputs_agree():
    x = np.array([0.2, -0.3, 0.4])
    f = lambda v: v.tanh().sum()  # noqa: E731
    for arg in (x, Tensor(x), Tensor(x, requires_grad=True)):
        g = grad(f)(arg)
        assert g.dtype == np.float64
        np.testing.assert_allclose(g.data, 1 - np.tanh(x) ** 2, **TOL)
    assert grad(lambda v: v * v)(3.0).dtype == np.float32  # Python numbers: the default float dtype
    assert grad(lambda v: v * v)(3.0).item() == 6.0


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_dtype_is_preserved(dtype):
    x = np.array([0.5, 1.5, -0.5], dtype=dtype)
    f = lambda v: (v.tanh() * v).sum()  # noqa: E731
    vec = lambda v: v.exp() * 2  # noqa: E731
    results = [grad(f)(x), value_and_grad(f)(x)[0], jacobian(vec)(x), hessian(f)(x), hvp(f, x, x),
               jvp(vec, x, x)[1], vjp(vec, x)[1](x)[0], grad(grad(lambda v: v.exp().sum()))(x[0])]
    for r in results:
        assert r.dtype == dtype
    rtol = 1e-6 if dtype == np.float32 else 1e-12
    np.testing.assert_allclose(jacobian(vec)(x).data, np.diag(2 * np.exp(x)), rtol=rtol)


# ----------------------------------------------------------------------------- errors
def test_grad_needs_a_scalar_output():
    with pytest.raises(ValueError, match=r"scalar.*got \(3,\).*jacobian"):
        grad(lambda v: v * 2)(np.ones(3))
    with pytest.raises(ValueError, match="scalar"):
        value_and_grad(lambda v: (v, v))(np.ones(1))
    assert grad(lambda v: v * 2)(np.ones(1)).shape == (1,)  # one element is a scalar


def test_clear_errors():
    with pytest.raises(TypeError, match="must return a Tensor"):
        grad(lambda v: 3.0)(np.ones(1))
    with pytest.raises(TypeError, match="floating point inputs.*int64"):
        grad(lambda v: v.sum())(np.arange(3))
    with pytest.raises(ValueError, match="argnums"):
        grad(lambda v: v.sum(), argnums=1)(np.ones(2))
    with pytest.raises(ValueError, match="expected"):
        vjp(lambda v: v * 2, np.ones(3))[1](np.ones(2))
    with pytest.raises(ValueError, match="tangent"):
        jvp(lambda v: v * 2, (np.ones(3),), (np.ones(2),))
    with pytest.raises(ValueError, match="primals"):
        jvp(lambda v: v * 2, (np.ones(3),), (np.ones(3), np.ones(3)))


def test_functools_wraps_keeps_the_name():
    assert grad(cube_plus_exp).__name__ == "cube_plus_exp"


def test_vjp_fn_survives_being_differentiated_through():
    """Graphs are retained: differentiating through vjp_fn does not free the graph it holds."""
    x = np.array([0.1, 0.2])
    _, vjp_fn = vjp(lambda v: v.exp() * 2, x)
    # u -> uᵀJ is linear with J = diag(2eˣ): its gradient w.r.t. u is 2eˣ.
    np.testing.assert_allclose(grad(lambda u: vjp_fn(u)[0].sum())(np.ones(2)).data, 2 * np.exp(x), **TOL)
    np.testing.assert_allclose(vjp_fn(np.ones(2))[0].data, 2 * np.exp(x), **TOL)


def test_other_arguments_are_passed_unchanged():
    from tinygrad_np.nn.functional import cross_entropy

    logits, labels = np.array([[0.5, -0.5, 1.0]]), np.array([2])
    g = grad(lambda z, y: cross_entropy(z, y))(logits, labels)  # labels stay an int ndarray
    p = np.exp(logits) / np.exp(logits).sum()
    np.testing.assert_allclose(g.data, p - np.eye(3)[[2]], **TOL)


def test_no_primals_is_an_error():
    with pytest.raises(ValueError, match="no arguments"):
        vjp(lambda: Tensor(np.ones(2)))


@settings(deadline=None)
@given(data=st.data(), n=st.integers(1, 4))
def test_every_route_to_a_hessian_vector_product_agrees(data, n):
    """H v four ways: hvp (reverse over reverse), hessian @ v, jvp(grad f) (the double-VJP
    trick over a gradient graph) and vjp(grad f) (H is symmetric)."""
    x = data.draw(S.arrays((n,), S.floats(-2.0, 2.0)), label="x")
    v = data.draw(S.arrays((n,)), label="v")

    def f(a):
        return (a.tanh() * a.exp()).sum() + (a * a).sum() * a.sigmoid().sum()

    H = hessian(f)(x).data
    expected = H @ v
    np.testing.assert_allclose(hvp(f, x, v).data, expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(jvp(grad(f), (x,), (v,))[1].data, expected, rtol=1e-9, atol=1e-10)
    np.testing.assert_allclose(vjp(grad(f), x)[1](v)[0].data, expected, rtol=1e-9, atol=1e-10)


def test_third_derivatives_by_nesting_jacobians():
    """f(x) = Σ x_i² x_j  ->  ∂³f/∂x_a∂x_b∂x_c = 2·(δ_ab + δ_ac + δ_bc) (constant)."""
    x = np.array([0.3, -0.2, 0.5])
    T = jacobian(hessian(lambda v: (v * v).sum() * v.sum()))(x)
    d = np.eye(3)
    expected = 2 * (d[:, :, None] + d[:, None, :] + d[None, :, :])
    assert T.shape == (3, 3, 3)
    np.testing.assert_allclose(T.data, expected, **TOL)


# ----------------------------------------------------------------------------- has_aux
@given(x=S.arrays(S.shapes(min_dims=1, max_dims=2)))
def test_has_aux_returns_the_aux_and_the_gradient_of_the_main_output_only(x):
    def f(x):
        main = (x.tanh() * x).sum()
        return main, {"logits": x * 3.0, "count": 7, "pair": (main * 2.0, "tag")}

    (value, aux), g = value_and_grad(f, has_aux=True)(x)
    np.testing.assert_allclose(g.numpy(), grad(lambda x: f(x)[0])(x).numpy(), **TOL)
    np.testing.assert_allclose(g.numpy(), np.tanh(x) + x * (1 - np.tanh(x) ** 2), **TOL)
    np.testing.assert_allclose(value.item(), (np.tanh(x) * x).sum(), **TOL)
    assert aux["count"] == 7 and aux["pair"][1] == "tag"
    np.testing.assert_allclose(aux["logits"].numpy(), x * 3.0)
    for t in (value, aux["logits"], aux["pair"][0]):  # detached: they hold no graph
        assert not t.requires_grad and t.grad_fn is None
    g2, aux2 = grad(f, has_aux=True)(x)
    np.testing.assert_array_equal(g2.numpy(), g.numpy())
    np.testing.assert_array_equal(aux2["logits"].numpy(), aux["logits"].numpy())


def test_has_aux_nests_and_keeps_the_aux_differentiable_for_an_outer_grad():
    x = np.array([0.3, -1.2, 2.0])

    def inner(x):
        return (x ** 3).sum(), x ** 2  # aux x² depends on the outer variable

    def outer(x):
        g, aux = grad(inner, has_aux=True)(x)  # g = 3x²
        return (g * aux).sum()  # Σ 3x⁴ -> d/dx = 12x³

    np.testing.assert_allclose(grad(outer)(x).numpy(), 12 * x ** 3, **TOL)


def test_has_aux_needs_a_pair():
    with pytest.raises(TypeError, match="has_aux=True, f must return a pair"):
        grad(lambda x: (x * x).sum(), has_aux=True)(np.ones(2))
    with pytest.raises(ValueError, match="or has_aux=True"):
        grad(lambda x: ((x * x).sum(), x))(np.ones(2))
