"""The op-coverage ops where the generic suites (``op_cases``) cannot look: kinks and special values,
zeros in products, the norm at 0, logsumexp's weights, var/std's ``correction``, float32 accuracy,
and the pure-NumPy erf/erfc.

* at a kink the gradient is the subgradient the op's docstring states (elu, relu6, hardswish;
  arctan2 and hypot at the origin; logaddexp at infinite ties);
* prod and cumprod with one, two or more zeros: exact gradients, JVPs and hessians (against
  formulas written out with loops), never NaN;
* float32 results against float64 ones, in ulps of the float64 result (``max_ulps``), with bounds
  that hold with room on the inputs drawn here;
* ``special.erf_numpy``/``erfc_numpy`` (used without SciPy) against mpmath at 40 digits.
"""
from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import Tensor
from tinygrad_np.ops import elementwise, special

RNG = np.random.default_rng(20240607)


def grad_of(f, *arrays, upstream=None):
    """Gradients of ⟨upstream, f(*xs)⟩ (upstream random unless given), float64."""
    xs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*xs)
    u = RNG.standard_normal(out.shape) if upstream is None else np.asarray(upstream, dtype=np.float64)
    out.backward(u)
    return [x.grad.numpy() for x in xs], u


# ----------------------------------------------------------------------------- kinks and special values
@pytest.mark.parametrize("alpha", [1.0, 0.5, 2.0])
def test_elu_slope_at_zero_is_alpha(alpha):
    (g,), u = grad_of(lambda x: x.elu(alpha), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(g, u * [alpha * np.exp(-1.0), alpha, 1.0], rtol=1e-15)


def test_relu6_has_slope_zero_at_both_kinks():
    (g,), u = grad_of(lambda x: x.relu6(), [-1.0, 0.0, 3.0, 6.0, 7.0])
    np.testing.assert_array_equal(g, u * [0.0, 0.0, 1.0, 0.0, 0.0])


def test_hardswish_takes_the_outer_slopes_at_plus_minus_three():
    (g,), u = grad_of(lambda x: x.hardswish(), [-4.0, -3.0, 0.0, 1.5, 3.0, 4.0])
    np.testing.assert_allclose(g, u * [0.0, 0.0, 0.5, 1.0, 1.0, 1.0], rtol=1e-15)


def test_arctan2_and_hypot_pass_zero_gradient_at_the_origin():
    (ga, gb), _ = grad_of(lambda a, b: a.arctan2(b), [0.0, 0.0, 1e-200], [0.0, -0.0, 1e-200])
    assert ga[:2].tolist() == [0.0, 0.0] and gb[:2].tolist() == [0.0, 0.0]
    assert np.isfinite(ga[2]) and abs(ga[2]) > 1e199  # tiny, not zero: b / (a² + b²) without underflow
    (ga, gb), _ = grad_of(lambda a, b: a.hypot(b), [0.0, 3.0], [0.0, -4.0])
    assert ga[0] == 0.0 and gb[0] == 0.0
    assert np.isfinite(ga).all() and np.isfinite(gb).all()


def test_logaddexp_at_infinities_shares_ties_and_is_never_nan():
    inf = np.inf
    a = np.array([-inf, inf, inf, 1.0, -inf])
    b = np.array([-inf, inf, 2.0, -inf, 3.0])
    (ga, gb), u = grad_of(lambda x, y: x.logaddexp(y), a, b)
    np.testing.assert_array_equal(ga, u * [0.5, 0.5, 1.0, 1.0, 0.0])
    np.testing.assert_array_equal(gb, u * [0.5, 0.5, 0.0, 0.0, 1.0])


def test_arcsin_and_arccos_slopes_are_infinite_at_the_ends():
    with np.errstate(divide="ignore"):
        (g,), u = grad_of(lambda x: x.arcsin(), [-1.0, 1.0], upstream=[2.0, 3.0])
        (h,), _ = grad_of(lambda x: x.arccos(), [-1.0, 1.0], upstream=[2.0, 3.0])
    assert g.tolist() == [np.inf, np.inf] and h.tolist() == [-np.inf, -np.inf]


def test_stable_forms_do_not_overflow_or_cancel():
    big = Tensor(np.array([-1000.0, -40.0, 40.0, 1000.0]), requires_grad=True)
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # (underflow to 0 is the right answer)
        for f in (lambda x: x.softplus(), lambda x: x.mish(), lambda x: x.silu(), lambda x: x.elu(),
                  lambda x: x.gelu(), lambda x: x.gelu("tanh"), lambda x: x.logaddexp(x * 0.5)):
            big.grad = None
            y = f(big)
            y.backward(np.ones(4))
            assert np.isfinite(y.numpy()).all() and np.isfinite(big.grad.numpy()).all()
    np.testing.assert_allclose(big.softplus().numpy(), [0.0, np.log1p(np.exp(-40.0)), 40.0, 1000.0], rtol=1e-15)
    # expm1's slope at -40 is exp(-40), not 1 + expm1(-40) = 0
    (g,), _ = grad_of(lambda x: x.expm1(), [-40.0], upstream=[1.0])
    np.testing.assert_allclose(g, [np.exp(-40.0)], rtol=1e-15)
    # gelu far left: -20 Φ(-20) = -10 erfc(20/√2), not 0 (as 1 + erf(-20/√2) would give)
    np.testing.assert_allclose(Tensor(np.array([-20.0])).gelu().numpy(), [-10 * math.erfc(20 / math.sqrt(2))],
                               rtol=1e-13)


def test_op_parameters_are_checked_and_named():
    x = Tensor(np.ones(3))
    with pytest.raises(ValueError, match="gelu: approximate must be 'none' or 'tanh'"):
        x.gelu("fast")
    with pytest.raises(ValueError, match="softplus: beta must be positive, got 0.0"):
        x.softplus(0.0)
    with pytest.raises(ValueError, match="cumsum: a 0-d tensor has no axis"):
        Tensor.apply("cumsum", Tensor(np.array(1.0)), axis=0)
    with pytest.raises(ValueError, match="cumprod: axis 3 is out of range"):
        x.cumprod(3)


def test_ops_applied_without_their_parameters_use_the_defaults():
    x = Tensor(np.array([-0.5, 0.7]), requires_grad=True)
    for name, method in [("softplus", x.softplus), ("gelu", x.gelu), ("elu", x.elu)]:
        x.grad = None
        Tensor.apply(name, x).backward(np.array([1.5, -2.0]))
        bare = x.grad.numpy()
        x.grad = None
        method().backward(np.array([1.5, -2.0]))
        np.testing.assert_array_equal(bare, x.grad.numpy())


def test_numpy_functions_run_the_ops():
    x = Tensor(np.array([0.25, 0.5, 2.0]), requires_grad=True)
    for np_f, ours in [(np.sin, tg.sin), (np.log1p, tg.log1p), (np.expm1, tg.expm1), (np.square, tg.square),
                       (np.prod, tg.prod), (np.cumsum, tg.cumsum), (np.linalg.norm, tg.norm), (np.sign, tg.sign)]:
        y = np_f(x)
        assert isinstance(y, Tensor) and y.requires_grad
        np.testing.assert_array_equal(y.numpy(), ours(x).numpy())
    assert isinstance(np.arctan2(x, 1.0), Tensor) and isinstance(np.logaddexp(x, x), Tensor)


# ----------------------------------------------------------------------------- zeros in products
def others_product(a: np.ndarray, i: int) -> float:
    return float(np.prod(np.delete(a, i)))


ZERO_PATTERNS = [[2.0, 0.0, -3.0, 0.5], [0.0, 0.0, 1.5, 2.0], [1.5, 0.0, 0.0, 0.0], [0.0], [-1.5, 2.0, 0.5, 3.0]]


@pytest.mark.parametrize("a", ZERO_PATTERNS)
def test_prod_gradient_with_zeros_is_the_product_of_the_others(a):
    a = np.array(a)
    (g,), u = grad_of(lambda x: x.prod(), a)
    expected = u * np.array([others_product(a, i) for i in range(a.size)])
    np.testing.assert_array_equal(g, expected)  # exact: products of the same numbers
    if np.count_nonzero(a == 0) == 1:
        z = int(np.flatnonzero(a == 0)[0])
        assert g[z] != 0 and np.all(np.delete(g, z) == 0)
    if np.count_nonzero(a == 0) >= 2:
        assert np.all(g == 0)


def test_prod_over_several_axes_with_zeros_and_keepdims():
    a = RNG.standard_normal((3, 2, 4))
    a[0, 1, 2] = 0.0
    a[2, :, 0] = 0.0  # two zeros in one reduced slice
    (g,), u = grad_of(lambda x: x.prod(axis=(0, 2), keepdims=True), a)
    for j in range(2):
        flat = a[:, j, :].reshape(-1)
        expected = np.array([others_product(flat, i) for i in range(flat.size)]).reshape(3, 4) * u[0, j, 0]
        np.testing.assert_allclose(g[:, j, :], expected, rtol=1e-14, atol=0)


def hessian_prod(a: np.ndarray) -> np.ndarray:
    """∂²Π/∂aᵢ∂aⱼ = Π_{k≠i,j} aₖ (i ≠ j), 0 on the diagonal."""
    n = a.size
    return np.array([[0.0 if i == j else float(np.prod(np.delete(a, [i, j]))) for j in range(n)] for i in range(n)])


@pytest.mark.parametrize("a", ZERO_PATTERNS[:3])
def test_prod_hessian_with_zeros(a):
    a = np.array(a)
    h = tg.hessian(lambda x: x.prod())(Tensor(a)).numpy()
    np.testing.assert_array_equal(h, hessian_prod(a))


def cumprod_vjp_loops(a: np.ndarray, g: np.ndarray) -> np.ndarray:
    n = a.size
    return np.array([sum(g[i] * np.prod([a[k] for k in range(i + 1) if k != j]) for i in range(j, n))
                     for j in range(n)])


def cumprod_hessian_loops(a: np.ndarray, w: np.ndarray) -> np.ndarray:
    """∂²⟨w, cumprod(a)⟩/∂aⱼ∂aₘ = Σ_{i≥max(j,m)} wᵢ Π_{k≤i, k≠j,m} aₖ (j ≠ m), 0 on the diagonal."""
    n = a.size
    return np.array([[0.0 if j == m else sum(w[i] * np.prod([a[k] for k in range(i + 1) if k not in (j, m)])
                                             for i in range(max(j, m), n)) for m in range(n)] for j in range(n)])


CUMPROD_PATTERNS = [[2.0, 0.0, 3.0, 0.0, 5.0], [0.0, 0.0, 0.0, 1.5], [1.5, -2.0, 0.0, 0.5, 3.0, 0.0, 2.0],
                    [0.0], [1.5, 0.5, -2.0, 1.25]]


@pytest.mark.parametrize("a", CUMPROD_PATTERNS)
def test_cumprod_vjp_jvp_and_hessian_with_zeros(a):
    a = np.array(a)
    (g,), u = grad_of(lambda x: x.cumprod(0), a)
    np.testing.assert_allclose(g, cumprod_vjp_loops(a, u), rtol=1e-14, atol=1e-15)
    t = RNG.standard_normal(a.shape)
    _, jt = tg.jvp(lambda x: x.cumprod(0), (Tensor(a),), (Tensor(t),))
    jacobian = np.stack([cumprod_vjp_loops(a, e) for e in np.eye(a.size)])  # row i: ∂yᵢ/∂a
    np.testing.assert_allclose(jt.numpy(), jacobian @ t, rtol=1e-14, atol=1e-15)
    w = RNG.standard_normal(a.shape)
    for how in (tg.hessian, lambda f: tg.jacfwd(tg.grad(f)), lambda f: tg.jacrev(tg.grad(f))):
        h = how(lambda x: (x.cumprod(0) * Tensor(w)).sum())(Tensor(a)).numpy()
        np.testing.assert_allclose(h, cumprod_hessian_loops(a, w), rtol=1e-13, atol=1e-14)
        assert np.isfinite(h).all()


def test_cumprod_along_an_inner_axis_under_vmap_with_zeros():
    a = RNG.standard_normal((3, 4, 2))
    a[1, 2, 0] = a[2, 0, 1] = a[2, 3, 1] = 0.0
    u = RNG.standard_normal(a.shape)
    per_example = tg.vmap(lambda x: tg.vjp(lambda v: v.cumprod(0), x)[1](Tensor(u[0]))[0])(Tensor(a))
    for b in range(3):
        for c in range(2):
            np.testing.assert_allclose(per_example.numpy()[b, :, c], cumprod_vjp_loops(a[b, :, c], u[0, :, c]),
                                       rtol=1e-14, atol=1e-15)


# ----------------------------------------------------------------------------- the norm at 0
def test_norm_gradients_at_zero_are_zero():
    z = np.zeros((2, 3))
    for ord_, axis in [(None, None), (2, 1), ("fro", (0, 1)), (1, 0), (np.inf, 1), (-np.inf, 1), (1, (0, 1)),
                       (np.inf, (1, 0))]:
        (g,), _ = grad_of(lambda x: x.norm(ord_, axis), z)
        assert np.all(g == 0), (ord_, axis)
        _, jt = tg.jvp(lambda x: x.norm(ord_, axis), (Tensor(z),), (Tensor(RNG.standard_normal(z.shape)),))
        assert np.all(jt.numpy() == 0), (ord_, axis)
    x = np.array([[3.0, 0.0, -4.0], [0.0, 0.0, 0.0]])  # one zero row: its slope 0, the other's a / y
    (g,), u = grad_of(lambda t: t.norm(axis=1), x)
    np.testing.assert_allclose(g, [u[0] * np.array([0.6, 0.0, -0.8]), [0.0, 0.0, 0.0]], rtol=1e-15)


def test_norm_ties_share_the_gradient_evenly():
    (g,), u = grad_of(lambda x: x.norm(np.inf), [2.0, -2.0, 1.0])
    np.testing.assert_allclose(g, u * np.array([0.5, -0.5, 0.0]), rtol=1e-15)
    (g,), u = grad_of(lambda x: x.norm(1, axis=(0, 1)), [[1.0, -1.0], [2.0, 2.0]])  # column sums 3, 3
    np.testing.assert_allclose(g, u * np.array([[0.5, -0.5], [0.5, 0.5]]), rtol=1e-15)


def test_unsupported_norms_are_refused_by_name():
    x = Tensor(RNG.standard_normal((2, 3)))
    with pytest.raises(ValueError, match="norm: ord=2 over two axes needs singular values"):
        x.norm(2)
    with pytest.raises(ValueError, match="norm: ord='nuc' over two axes"):
        x.norm("nuc")
    with pytest.raises(ValueError, match="norm: ord=3 over 1 axes is not supported"):
        x.norm(3, axis=1)
    with pytest.raises(ValueError, match="norm: ord='fro' over 1 axes"):
        x.norm("fro", axis=0)


# ----------------------------------------------------------------------------- logsumexp's weights
def scipy_logsumexp(*args, **kwargs):
    sp = pytest.importorskip("scipy.special")
    return sp.logsumexp(*args, **kwargs)


def test_logsumexp_zero_weights_drop_their_terms_even_at_inf():
    a = np.array([[1.0, np.inf, -0.5], [0.3, 2.0, 5.0]])
    b = np.array([[2.0, 0.0, 0.5], [0.0, 0.0, 1.0]])
    y = Tensor(a).logsumexp(axis=1, b=b).numpy()
    np.testing.assert_allclose(y, scipy_logsumexp(a, axis=1, b=b), rtol=1e-15)
    (ga, gb), u = grad_of(lambda x, w: x.logsumexp(axis=1, b=w), a, b)
    assert np.isfinite(ga).all() and ga[0, 1] == 0 and ga[1, 0] == 0 and ga[1, 1] == 0  # constant in those a
    # ∂y/∂b = exp(a - y), also where b = 0 (there y depends on b with slope exp(a - y); at a = inf: inf)
    e = np.exp(a - y[:, None])
    np.testing.assert_allclose(gb[1], u[1] * e[1], rtol=1e-14)
    assert gb[0, 1] == np.inf * np.sign(u[0])


def test_logsumexp_negative_weights_within_a_positive_sum_and_a_negative_sum_refused():
    a = np.array([0.5, 1.0, -0.25])
    b = np.array([2.0, -1.0, 0.5])  # Σ b e^a > 0
    y = Tensor(a).logsumexp(b=b).numpy()
    np.testing.assert_allclose(y, scipy_logsumexp(a, b=b), rtol=1e-14)
    assert tg.gradcheck(lambda x, w: x.logsumexp(b=w), [a, b])
    with pytest.raises(ValueError, match="logsumexp: the weighted sum Σ b·exp\\(a\\) is negative for 1 of 1 outputs"):
        Tensor(a).logsumexp(b=-b)
    assert Tensor(a).logsumexp(b=np.zeros(3)).numpy() == -np.inf  # log 0


def test_logsumexp_constant_weights_take_the_tensor_dtype_and_get_no_gradient():
    x = Tensor(np.array([[0.5, 1.0], [2.0, -1.0]], dtype=np.float32), requires_grad=True)
    y = x.logsumexp(axis=0, b=[0.25, 4.0])  # b broadcasts along the reduced axis's partner
    assert y.dtype == np.float32
    y.backward(np.array([1.0, -2.0], dtype=np.float32))
    w = np.array([0.25, 4.0])
    soft = w * np.exp(x.numpy().astype(np.float64) - y.numpy().astype(np.float64))
    np.testing.assert_allclose(x.grad.numpy(), soft * [1.0, -2.0], rtol=1e-6)
    assert tg.logsumexp(x, 0, b=[0.25, 4.0]).dtype == np.float32


# ----------------------------------------------------------------------------- var/std with torch's correction
@pytest.mark.parametrize("name", ["var", "std"])
def test_correction_is_ddof(name):
    torch = pytest.importorskip("torch")
    x = RNG.standard_normal((3, 5))
    for correction in (0, 1, 2):
        ours = getattr(Tensor(x), name)(axis=1, correction=correction).numpy()
        theirs = getattr(torch, name)(torch.from_numpy(x), dim=1, correction=correction).numpy()
        np.testing.assert_allclose(ours, theirs, rtol=1e-14)
        np.testing.assert_array_equal(ours, getattr(Tensor(x), name)(axis=1, ddof=correction).numpy())
        np.testing.assert_array_equal(ours, getattr(np, name)(Tensor(x), axis=1, correction=correction).numpy())
    with pytest.raises(ValueError, match=f"{name}: give ddof or correction, not both"):
        getattr(Tensor(x), name)(ddof=1, correction=2)


# ----------------------------------------------------------------------------- float32 accuracy
def max_ulps(y32: np.ndarray, y64: np.ndarray, scale: np.ndarray | None = None) -> float:
    """max |y32 - y64| in float32 ulps of |y64| (or of ``scale``)."""
    assert y32.dtype == np.float32
    scale = np.abs(y64) if scale is None else scale
    return float(np.max(np.abs(y32.astype(np.float64) - y64) / np.spacing(scale.astype(np.float32)).astype(np.float64)))


X32 = np.concatenate([RNG.uniform(-10, 10, 4000), RNG.uniform(-1e-3, 1e-3, 500), np.geomspace(1e-30, 1, 100),
                      -np.geomspace(1e-30, 1, 100)]).astype(np.float32)

# op -> (input filter, ulp bound): measured maxima on these inputs are about half the bound
ELEMENTWISE_ULPS = {
    "log1p": (lambda x: x > -1, 4), "expm1": (None, 4), "softplus": (None, 3), "gelu": (None, 3),
    "erf": (None, 2), "erfc": (None, 2), "silu": (None, 8), "mish": (None, 6),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_ULPS))
def test_float32_accuracy_in_ulps(name):
    keep, bound = ELEMENTWISE_ULPS[name]
    x = X32[keep(X32)] if keep else X32
    y32 = getattr(Tensor(x), name)().numpy()
    y64 = getattr(Tensor(x.astype(np.float64)), name)().numpy()
    assert max_ulps(y32, y64) <= bound


def test_float32_accuracy_of_gelu_tanh_logaddexp_cumsum_prod():
    x64 = X32.astype(np.float64)
    assert max_ulps(Tensor(X32).gelu("tanh").numpy(), Tensor(x64).gelu("tanh").numpy()) <= 3
    a, b = X32[:2000], X32[2000:4000]
    y64 = Tensor(a.astype(np.float64)).logaddexp(Tensor(b.astype(np.float64))).numpy()
    scale = np.maximum(np.abs(y64), np.maximum(np.abs(a), np.abs(b)))  # (a sum: its error scales with the terms)
    assert max_ulps(Tensor(a).logaddexp(Tensor(b)).numpy(), y64, scale) <= 4
    p = RNG.uniform(0.5, 2.0, (4, 1000)).astype(np.float32)  # positive: no cancellation in the sums
    assert max_ulps(Tensor(p).cumsum(1).numpy(), Tensor(p.astype(np.float64)).cumsum(1).numpy()) <= 1
    q = RNG.uniform(0.9, 1.1, (4, 1000)).astype(np.float32)
    assert max_ulps(Tensor(q).prod(1).numpy(), Tensor(q.astype(np.float64)).prod(1).numpy()) <= 1
    assert max_ulps(Tensor(q).cumprod(1).numpy(), Tensor(q.astype(np.float64)).cumprod(1).numpy()) <= 1


# ----------------------------------------------------------------------------- erf without SciPy
def test_numpy_erf_and_erfc_within_their_stated_ulps():
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 40
    x = np.concatenate([np.linspace(-7, 7, 1401), RNG.uniform(-6, 6, 300), np.geomspace(1e-300, 1, 60),
                        -np.geomspace(1e-300, 1, 30), [0.75, -0.75, 1.5, 3.0, 26.0, np.nextafter(0.75, 0)]])
    ref_erf = np.array([float(mpmath.erf(mpmath.mpf(float(v)))) for v in x])
    ref_erfc = np.array([float(mpmath.erfc(mpmath.mpf(float(v)))) for v in x])

    def ulps(y, ref):
        return np.where(y == ref, 0.0, np.abs(y - ref) / np.spacing(np.abs(ref)))

    assert ulps(special.erf_numpy(x), ref_erf).max() <= special.ERF_ULPS
    assert ulps(special.erfc_numpy(x), ref_erfc).max() <= special.ERFC_ULPS
    specials = np.array([np.nan, np.inf, -np.inf, 0.0, 40.0, -40.0])
    np.testing.assert_array_equal(special.erf_numpy(specials), [np.nan, 1.0, -1.0, 0.0, 1.0, -1.0])
    np.testing.assert_array_equal(special.erfc_numpy(specials), [np.nan, 0.0, 2.0, 1.0, 0.0, 2.0])
    assert special.erf_numpy(np.float32([0.5, -2.0])).dtype == np.float32
    assert special.erfc_numpy(np.array(0.5)).shape == ()


def test_the_erf_op_runs_on_the_numpy_fallback(monkeypatch):
    x = RNG.uniform(-4, 4, 50)
    with_scipy = Tensor(x).erf().numpy(), Tensor(x).erfc().numpy(), Tensor(x).gelu().numpy()
    monkeypatch.setattr(elementwise, "erf", special.erf_numpy)
    monkeypatch.setattr(elementwise, "erfc", special.erfc_numpy)
    without = Tensor(x).erf().numpy(), Tensor(x).erfc().numpy(), Tensor(x).gelu().numpy()
    for a, b in zip(with_scipy, without):
        np.testing.assert_allclose(a, b, rtol=1e-14, atol=1e-300)
    assert tg.gradcheck(lambda t: t.erf(), [x[:8]])


def test_every_new_op_keeps_float32_through_forward_and_backward():
    x = Tensor(np.array([0.25, 0.5, 0.75], dtype=np.float32), requires_grad=True)
    unary = ["sin", "cos", "tan", "sinh", "cosh", "arcsin", "arccos", "arctan", "square", "log1p", "expm1", "log2",
             "log10", "exp2", "softplus", "gelu", "silu", "mish", "elu", "relu6", "hardswish", "erf", "erfc"]
    calls = [getattr(Tensor, n) for n in unary] + [
        lambda t: t.arctan2(0.5), lambda t: t.logaddexp(0.5), lambda t: t.hypot(0.5), lambda t: t.gelu("tanh"),
        lambda t: t.softplus(2.0), lambda t: t.prod(), lambda t: t.cumsum(), lambda t: t.cumprod(),
        lambda t: t.norm(), lambda t: t.norm(np.inf), lambda t: t.logsumexp(b=[1.0, 2.0, 0.5])]
    for k, f in enumerate(calls):
        x.grad = None
        y = f(x)
        assert y.dtype == np.float32, k
        y.backward(np.ones(y.shape, dtype=np.float32))
        assert x.grad.dtype == np.float32, k


def test_functions_accept_python_scalars_in_either_place():
    x = Tensor(np.array([0.5, 2.0], dtype=np.float32))
    for f in (tg.arctan2, tg.logaddexp, tg.hypot):
        assert f(x, 1.0).dtype == np.float32 and f(1.0, x).dtype == np.float32
    np.testing.assert_allclose(tg.arctan2(1.0, x).numpy(), np.arctan2(1.0, x.numpy()), rtol=1e-6)


def test_all_zero_patterns_of_a_short_cumprod_and_prod():
    """Every placement of zeros among 4 entries: gradients against the loops, never NaN."""
    base = np.array([1.5, -0.5, 2.0, 0.75])
    u = RNG.standard_normal(4)
    for mask in itertools.product([False, True], repeat=4):
        a = np.where(mask, 0.0, base)
        (g,), _ = grad_of(lambda x: x.cumprod(0), a, upstream=u)
        np.testing.assert_allclose(g, cumprod_vjp_loops(a, u), rtol=1e-14, atol=1e-15)
        (g,), _ = grad_of(lambda x: x.prod(), a, upstream=u[0])
        np.testing.assert_array_equal(g, u[0] * np.array([others_product(a, i) for i in range(4)]))


# ----------------------------------------------------------------------------- rules on batched inputs
_W = RNG.standard_normal((4, 2))
SCALAR_FUNCTIONS = {  # f(x) for x of shape (4, 2): each new rule runs on batched inputs under vmap(grad(f))
    "cumprod": lambda v: (v.cumprod(0) * Tensor(_W)).sum(),
    "cumsum": lambda v: (v.cumsum(1) * Tensor(_W)).sum(),
    "prod": lambda v: (v.prod(axis=0) * Tensor(_W[0])).sum(),
    "norm fro": lambda v: v.norm(),
    "norm inf vectors": lambda v: v.norm(np.inf, axis=0).sum(),
    "norm 1 matrix": lambda v: v.norm(1),
    "logsumexp b constant": lambda v: v.logsumexp(axis=0, b=Tensor(_W[:, :1] ** 2)).sum(),
    "logsumexp b batched": lambda v: Tensor(_W).logsumexp(axis=0, b=v * v).sum(),
    "logaddexp": lambda v: v.logaddexp(Tensor(_W)).sum(),
    "arctan2": lambda v: v.arctan2(Tensor(_W)).sum(),
    "hypot": lambda v: Tensor(_W).hypot(v).sum(),
    "gelu": lambda v: (v.gelu() * Tensor(_W)).sum(),
    "gelu tanh": lambda v: (v.gelu("tanh") * Tensor(_W)).sum(),
    "mish": lambda v: (v.mish() * Tensor(_W)).sum(),
    "elu": lambda v: (v.elu(0.5) * Tensor(_W)).sum(),
    "hardswish": lambda v: (v.hardswish() * Tensor(_W)).sum(),
    "softplus": lambda v: (v.softplus(2.0) * Tensor(_W)).sum(),
}


@pytest.mark.parametrize("name", sorted(SCALAR_FUNCTIONS))
def test_vmap_of_grad_and_hessian_equals_a_loop(name):
    """The rules themselves run on Batched values (vmap(grad)), and on Duals over them (hessian)."""
    f = SCALAR_FUNCTIONS[name]
    x = RNG.uniform(0.2, 0.9, (3, 4, 2)) * RNG.choice([-1.0, 1.0], (3, 4, 2))
    x[0, 1, 0] = x[2, 2, 1] = x[2, 0, 1] = 0.0  # zeros for prod and cumprod (off the others' kinks)
    if name in ("elu", "hardswish", "norm inf vectors", "norm 1 matrix", "hypot"):
        x[x == 0] = 0.5
    g = tg.vmap(tg.grad(f))(Tensor(x)).numpy()
    h = tg.vmap(tg.hessian(f))(Tensor(x)).numpy()
    for k in range(3):
        np.testing.assert_array_equal(g[k], tg.grad(f)(Tensor(x[k])).numpy())
        np.testing.assert_array_equal(h[k], tg.hessian(f)(Tensor(x[k])).numpy())
