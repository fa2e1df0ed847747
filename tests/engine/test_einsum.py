"""einsum and diagonal beyond the generic per-op suites.

* the subscript helpers of ``ops/contract.py``: ``parse_subscripts`` (explicit form, checked
  against NumPy on every drawn case), ``vjp_plan`` and ``diagonal_entries``;
* a fixed table of subscripts (matmul, ellipsis broadcasting, traces, diagonals, uppercase,
  three operands, 0-d operands, spaces, size-1 broadcasting of a letter) through gradcheck,
  gradgradcheck, PyTorch, vmap and forward mode, whatever hypothesis happens to draw;
* the VJPs of repeated letters against their closed forms (the gradient lands on a diagonal);
* float32 against float64, in units of the rounding bound of a sum of products;
* errors name the op; the interleaved form; np.einsum on Tensors.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings

import tinygrad_np as tg
from op_cases import OP_CASES
from tinygrad_np import Tensor, autograd_grad, gradcheck, gradgradcheck
from tinygrad_np.ops import contract
from tinygrad_np.ops.contract import Subscripts, diagonal_entries, parse_subscripts, vjp_plan

torch = pytest.importorskip("torch", reason="the parity checks need PyTorch")

TABLE = [
    ("ij,jk->ik", [(2, 3), (3, 4)]),  # matmul
    ("ij,jk", [(2, 3), (3, 4)]),  # implicit output
    ("...ij,...jk->...ik", [(2, 1, 2, 3), (4, 3, 2)]),  # batched, ellipsis dims broadcast
    ("i,i", [(3,), (3,)]),  # inner product
    ("i,j->ij", [(2,), (3,)]),  # outer product
    ("ii", [(3, 3)]),  # trace
    ("ii->i", [(3, 3)]),  # diagonal
    ("iij->ji", [(2, 2, 3)]),  # a partial diagonal, transposed
    ("iji->ij", [(2, 3, 2)]),  # a repeated letter on axes that are not adjacent
    ("iii->", [(2, 2, 2)]),
    ("ij->", [(2, 3)]),  # sum of everything
    ("ij->j", [(2, 3)]),  # a letter only one operand has: summed
    ("ij,j->i", [(2, 3), (1,)]),  # a size-1 letter broadcast against 3
    ("ii,i->i", [(1, 1), (3,)]),  # ... and on a repeated letter
    ("ij,ij->ij", [(1, 3), (2, 3)]),
    ("bA,Ab->", [(2, 3), (3, 2)]),  # uppercase
    ("aB", [(2, 3)]),  # implicit output in ASCII order: "Ba"
    ("ab,bc,cd->ad", [(2, 3), (3, 4), (4, 2)]),  # three operands (NumPy's contraction path)
    ("i,i,i->i", [(3,), (1,), (3,)]),
    ("ij,jk,ki", [(2, 3), (3, 2), (2, 2)]),
    (",ij->ij", [(), (2, 3)]),  # a 0-d operand
    ("i...i->...", [(2, 3, 2)]),
    ("...", [(2, 3)]),
    (" ij , jk -> ik ", [(2, 3), (3, 4)]),  # spaces
    ("ij,kj->ikj", [(2, 3), (2, 3)]),
]
IDS = [s.replace(" ", "_") for s, _ in TABLE]


def draw_inputs(shapes, seed=0):
    rng = np.random.default_rng(seed)
    return [rng.standard_normal(s) for s in shapes]


def einsum_fn(subscripts):
    return lambda *xs: tg.einsum(subscripts, *xs)


# ----------------------------------------------------------------------------- the helpers
def test_parse_subscripts_writes_the_explicit_form():
    assert parse_subscripts("ij,jk", (2, 2)) == Subscripts(("ij", "jk"), "ik")
    assert parse_subscripts("aB", (2,)) == Subscripts(("aB",), "Ba")  # ASCII: A-Z before a-z
    assert parse_subscripts("ii", (2,)) == Subscripts(("ii",), "")
    assert parse_subscripts(" i , i -> ", (1, 1)) == Subscripts(("i", "i"), "")
    # '...' -> letters no subscript uses, right-aligned; an implicit output starts with them
    assert parse_subscripts("...ij,...jk", (4, 3)) == Subscripts(("abij", "bjk"), "abik")
    assert parse_subscripts("i...i", (3,)) == Subscripts(("iai",), "a")
    assert parse_subscripts("...,i->i...", (0, 1)) == Subscripts(("", "i"), "i")
    assert str(parse_subscripts("a...->...a", (3,))) == "abc->bca"


@settings(max_examples=50, deadline=None)
@given(OP_CASES["einsum"].strategy)
def test_the_explicit_form_means_what_numpy_reads(sample):
    """On every drawn case: the explicit form gives NumPy's result for the original subscripts."""
    raw = sample.params["subscripts"]
    explicit = parse_subscripts(raw, tuple(x.ndim for x in sample.inputs))
    assert "." not in str(explicit)
    np.testing.assert_array_equal(np.einsum(str(explicit), *sample.inputs), np.einsum(raw, *sample.inputs))


def test_vjp_plan():
    sub = parse_subscripts("ij,jk->ik", (2, 2))
    assert vjp_plan(sub, 0, [(2, 3), (3, 4)]) == ("ik,jk->ij", "ij", "ij")
    assert vjp_plan(sub, 1, [(2, 3), (3, 4)]) == ("ik,ij->jk", "jk", "jk")
    # a trace: nothing else has i, so the einsum gives a scalar, broadcast along i afterwards
    assert vjp_plan(parse_subscripts("ii", (2,)), 0, [(3, 3)]) == ("->", "", "i")
    # b's size-1 j is summed by the einsum; a keeps j (it has length 3 there)
    sub = parse_subscripts("ij,j->i", (2, 1))
    assert vjp_plan(sub, 0, [(2, 3), (1,)]) == ("i,j->ij", "ij", "ij")
    assert vjp_plan(sub, 1, [(2, 3), (1,)]) == ("i,ij->", "", "j")


def test_diagonal_entries_are_the_entries_einsum_reads():
    x = np.random.default_rng(0).standard_normal((2, 3, 2, 2))
    index = diagonal_entries("ijii", "ij", x.shape)
    np.testing.assert_array_equal(x[index], np.einsum("ijii->ij", x))


# ----------------------------------------------------------------------------- a fixed table
@pytest.mark.parametrize("subscripts, shapes", TABLE, ids=IDS)
def test_table_forward_gradcheck_and_gradgradcheck(subscripts, shapes):
    xs = draw_inputs(shapes)
    out = tg.einsum(subscripts, *[Tensor(x) for x in xs])
    expected = np.einsum(subscripts, *xs)
    assert out.shape == expected.shape and out.dtype == np.float64
    np.testing.assert_allclose(out.data, expected, rtol=1e-13, atol=1e-14)
    assert gradcheck(einsum_fn(subscripts), xs)
    assert gradgradcheck(einsum_fn(subscripts), xs)


@pytest.mark.parametrize("subscripts, shapes", TABLE, ids=IDS)
def test_table_through_numpys_contraction_path(subscripts, shapes, monkeypatch):
    """Big operands take NumPy's optimize path (BLAS) instead of its C loop: the same values, gradients."""
    monkeypatch.setattr(contract, "PATH_SIZE", -1)
    xs = draw_inputs(shapes, seed=12)
    np.testing.assert_allclose(tg.einsum(subscripts, *[Tensor(x) for x in xs]).data, np.einsum(subscripts, *xs),
                               rtol=1e-13, atol=1e-14)
    assert gradcheck(einsum_fn(subscripts), xs)


@pytest.mark.parametrize("subscripts, shapes", TABLE, ids=IDS)
def test_table_matches_torch(subscripts, shapes):
    xs = draw_inputs(shapes, seed=1)
    ours_in = [Tensor(x, requires_grad=True) for x in xs]
    ours = tg.einsum(subscripts, *ours_in)
    theirs_in = [torch.tensor(x, requires_grad=True) for x in xs]
    theirs = torch.einsum(subscripts, *theirs_in)
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-13, atol=1e-14)
    g = np.random.default_rng(2).standard_normal(ours.shape)
    for a, b in zip(autograd_grad(ours, ours_in, g), torch.autograd.grad(theirs, theirs_in, torch.from_numpy(g))):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-13, atol=1e-14)


@pytest.mark.parametrize("subscripts, shapes", TABLE, ids=IDS)
def test_table_vmap_and_jvp(subscripts, shapes):
    """vmap over the first operand (the rest shared) and over all operands equals a loop; the
    tangent of forward mode is adjoint to the gradient."""
    xs = draw_inputs(shapes, seed=3)
    rng = np.random.default_rng(4)
    stacks = [rng.standard_normal((3,) + x.shape) for x in xs]
    f = einsum_fn(subscripts)
    for in_axes in [(0,) + (None,) * (len(xs) - 1), (0,) * len(xs)]:
        args = [Tensor(s if ax == 0 else x) for s, x, ax in zip(stacks, xs, in_axes)]
        out = tg.vmap(f, in_axes=in_axes)(*args)
        loop = np.stack([np.einsum(subscripts, *[s[k] if ax == 0 else x for s, x, ax in zip(stacks, xs, in_axes)])
                         for k in range(3)])
        np.testing.assert_allclose(out.data, loop, rtol=1e-13, atol=1e-14)
    ts = [rng.standard_normal(x.shape) for x in xs]
    y, jt = tg.jvp(f, tuple(Tensor(x) for x in xs), tuple(Tensor(t) for t in ts))
    u = rng.standard_normal(y.shape)
    grads = tg.vjp(f, *[Tensor(x) for x in xs])[1](Tensor(u))
    assert np.sum(u * jt.data) == pytest.approx(sum(np.sum(g.data * t) for g, t in zip(grads, ts)), rel=1e-12)


# ----------------------------------------------------------------------------- repeated letters
def _grads(subscripts, xs, g):
    ts = [Tensor(x, requires_grad=True) for x in xs]
    return [r.data for r in autograd_grad(tg.einsum(subscripts, *ts), ts, g)]


def test_repeated_letter_vjps_put_the_gradient_on_the_diagonal():
    rng = np.random.default_rng(5)
    a, b, c = rng.standard_normal((3, 3)), rng.standard_normal(3), rng.standard_normal((2, 3, 2))
    g = rng.standard_normal(3)
    (ga,) = _grads("ii->i", [a], g)
    np.testing.assert_array_equal(ga, np.diag(g))  # ā = diag(g), 0 off the diagonal
    (ga,) = _grads("ii", [a], np.array(1.7))
    np.testing.assert_array_equal(ga, 1.7 * np.eye(3))  # the trace: ā = g I
    ga, gb = _grads("ii,i->i", [a, b], g)
    np.testing.assert_allclose(ga, np.diag(g * b), rtol=1e-15)
    np.testing.assert_allclose(gb, g * np.diag(a), rtol=1e-15)
    g2 = rng.standard_normal((2, 3))
    (gc,) = _grads("iji->ij", [c], g2)  # the repeated letter on axes 0 and 2
    expected = np.zeros((2, 3, 2))
    for i in range(2):
        expected[i, :, i] = g2[i]
    np.testing.assert_array_equal(gc, expected)
    cube = rng.standard_normal((2, 2, 2))
    (gq,) = _grads("iii->i", [cube], g[:2])
    expected = np.zeros((2, 2, 2))
    expected[[0, 1], [0, 1], [0, 1]] = g[:2]
    np.testing.assert_array_equal(gq, expected)


def test_a_size_1_repeated_letter_broadcast_against_others_collects_their_sum():
    """'ii,i->i' with a (1, 1): the one diagonal entry is used for every i, so its gradient sums over i."""
    rng = np.random.default_rng(6)
    a, b, g = rng.standard_normal((1, 1)), rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = _grads("ii,i->i", [a, b], g)
    np.testing.assert_allclose(ga, [[np.sum(g * b)]], rtol=1e-14)
    np.testing.assert_allclose(gb, g * a[0, 0], rtol=1e-15)


@pytest.mark.parametrize("subscripts, shape", [("ii->i", (3, 3)), ("iij->ij", (2, 2, 3)), ("iji", (2, 3, 2))])
def test_repeated_letter_second_derivatives(subscripts, shape):
    x = np.random.default_rng(7).standard_normal(shape)
    assert gradgradcheck(lambda t: tg.einsum(subscripts, t) ** 2, [x])


# ----------------------------------------------------------------------------- float32
U32 = np.finfo(np.float32).eps / 2  # float32's unit roundoff


def _rounding_bound(subscripts, xs, g=None, k=None):
    """|computed - exact| <= u·(n + m)·Σ|terms| for a sum of n products of m factors (Higham's γ),
    for the forward (k None) or for input k's VJP (then the terms are g times the other operands)."""
    sub = parse_subscripts(subscripts, tuple(x.ndim for x in xs))
    sizes = {c: n for s, x in zip(sub.inputs, xs) for c, n in zip(s, x.shape)}
    absolute = [x.astype(np.float64) * np.sign(x) for x in xs]
    if k is None:
        n = int(np.prod([m for c, m in sizes.items() if c not in sub.output]))
        return U32 * (n + len(xs)) * np.einsum(subscripts, *absolute)
    n = int(np.prod([m for c, m in sizes.items() if c not in sub.inputs[k]]))
    ts = [Tensor(a, requires_grad=True) for a in absolute]  # the VJP of |x| for |g|: Σ|terms| of the VJP
    magnitude = autograd_grad(tg.einsum(subscripts, *ts), ts, np.abs(g).astype(np.float64))[k].data
    return U32 * (n + len(xs)) * magnitude


@pytest.mark.parametrize("subscripts, shapes", [
    ("ij,jk->ik", [(8, 256), (256, 8)]), ("bij,bjk->bik", [(3, 4, 64), (3, 64, 5)]),
    ("ij,jk,kl->il", [(4, 32), (32, 32), (32, 4)]), ("ii", [(128, 128)]), ("ij->i", [(4, 512)]),
])
def test_float32_stays_float32_within_the_rounding_bound(subscripts, shapes):
    """Forward and VJPs in float32 against the same float32 inputs computed in float64: the error
    stays within the rounding bound of a float32 sum of products, and is not zero (rounding happened)."""
    rng = np.random.default_rng(8)
    xs = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    ts = [Tensor(x, requires_grad=True) for x in xs]
    y = tg.einsum(subscripts, *ts)
    assert y.dtype == np.float32
    exact = np.einsum(subscripts, *[x.astype(np.float64) for x in xs])
    err = np.abs(y.data.astype(np.float64) - exact)
    assert np.all(err <= _rounding_bound(subscripts, xs)) and np.max(err) > 0
    g = rng.standard_normal(y.shape).astype(np.float32)
    xs64 = [Tensor(x.astype(np.float64), requires_grad=True) for x in xs]
    exact_grads = autograd_grad(tg.einsum(subscripts, *xs64), xs64, g.astype(np.float64))
    for k, (gk, ref) in enumerate(zip(autograd_grad(y, ts, g), exact_grads)):
        assert gk.dtype == np.float32
        err = np.abs(gk.data.astype(np.float64) - ref.data)
        assert np.all(err <= _rounding_bound(subscripts, xs, g, k)), f"input {k}"


def test_selections_are_exact_in_float32():
    """A diagonal is a selection: in float32 it is the float64 result rounded, to the bit."""
    x = np.random.default_rng(9).standard_normal((5, 5)).astype(np.float32)
    for subscripts in ("ii->i", "ij->ji", "ij->ij"):
        y = tg.einsum(subscripts, Tensor(x))
        assert y.dtype == np.float32
        np.testing.assert_array_equal(y.data, np.einsum(subscripts, x.astype(np.float64)).astype(np.float32))


# ----------------------------------------------------------------------------- errors, forms
@pytest.mark.parametrize("args, pattern", [
    (("i1", np.ones(2)), r"^einsum: invalid subscript '1'"),
    (("i,j", np.ones(2)), r"^einsum: more operands"),
    (("i", np.ones(2), np.ones(2)), r"^einsum: fewer operands"),
    (("i->ii", np.ones(2)), r"^einsum: .*output subscript 'i' multiple times"),
    (("i->j", np.ones(2)), r"^einsum: .*'j' which never appeared"),
    (("ij", np.ones(2)), r"^einsum: .*too many subscripts for operand 0"),
    (("i", np.ones((2, 2))), r"^einsum: operand has more dimensions than subscripts"),
    (("i,i", np.ones(2), np.ones(3)), r"^einsum: .*could not be broadcast.*input shapes \(2,\), \(3,\)"),
    (("ii", np.ones((2, 3))), r"^einsum: .*collapsing index 'i' don't match"),
    (("...i->i", np.ones((2, 3))), r"^einsum: .*no '...' ellipsis"),
    (("",), r"^einsum: needs at least one operand"),
])
def test_errors_name_einsum(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        tg.einsum(*args)


def test_the_parser_refuses_what_numpy_refuses():
    """The rules parse only subscripts NumPy accepted; called directly, the parser still refuses."""
    for subscripts, ndims in [("i1", (1,)), ("i,j", (1,)), ("ij", (1,)), ("i->ii", (1,)), ("...i->i", (2,))]:
        with pytest.raises(ValueError, match="^einsum: "):
            parse_subscripts(subscripts, ndims)


def test_vmap_needs_a_letter_for_the_batch_axis():
    all_letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
    x = Tensor(np.ones((2,) + (1,) * 52))
    assert tg.einsum(all_letters + "->a", Tensor(np.ones((1,) * 52))).shape == (1,)
    with pytest.raises(ValueError, match="einsum: no letter left for vmap's batch axis"):
        tg.vmap(lambda t: tg.einsum(all_letters + "->a", t))(x)


def test_interleaved_form_and_numpys_einsum_on_tensors():
    rng = np.random.default_rng(10)
    a, b = rng.standard_normal((2, 3)), rng.standard_normal((3, 4))
    for args in [(a, [0, 1], b, [1, 2]), (a, [30, 1], b, [1, 2]), (a, [0, 1], b, [1, 2], [2, 0]),
                 (a, [0, Ellipsis], b, [Ellipsis, 2]), (a, [0, Ellipsis], b, [Ellipsis, 2], [Ellipsis, 0])]:
        expected = np.einsum(*args)
        ours = tg.einsum(*[Tensor(x) if isinstance(x, np.ndarray) else x for x in args])
        np.testing.assert_allclose(ours.data, expected, rtol=1e-14)
        through_numpy = np.einsum(*[Tensor(x) if isinstance(x, np.ndarray) else x for x in args])
        assert isinstance(through_numpy, Tensor)
        np.testing.assert_allclose(through_numpy.data, expected, rtol=1e-14)
    with pytest.raises(ValueError, match="einsum: a label must be an int in"):
        tg.einsum(Tensor(a), [0, 52])
    with pytest.raises(TypeError, match="einsum: subscripts must be a str"):
        Tensor.apply("einsum", Tensor(a), subscripts=[0, 1])


def test_python_operands_take_the_tensors_dtype():
    x = Tensor(np.ones(3, dtype=np.float32), requires_grad=True)
    y = tg.einsum("i,i", [0.1, 0.2, 0.3], x)
    assert y.dtype == np.float32
    y.backward()
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.data, np.array([0.1, 0.2, 0.3], dtype=np.float32))


# ----------------------------------------------------------------------------- diagonal
def test_diagonal_vjp_is_g_on_the_diagonal_for_each_axis_pair():
    rng = np.random.default_rng(11)
    x = rng.standard_normal((3, 4, 5))
    for offset, a1, a2 in [(0, 0, 1), (1, 0, 2), (-2, 2, 1), (2, -1, 0), (9, 0, 1)]:
        t = Tensor(x, requires_grad=True)
        y = t.diagonal(offset, a1, a2)
        g = rng.standard_normal(y.shape)
        y.backward(g)
        expected = np.zeros_like(x)
        view = np.moveaxis(expected, (a1, a2), (-2, -1))  # a view: writes land in expected
        lo1, lo2 = max(-offset, 0), max(offset, 0)
        for j in range(y.shape[-1]):
            view[..., j + lo1, j + lo2] = g[..., j]
        np.testing.assert_array_equal(t.grad.data, expected)


@pytest.mark.parametrize("call, pattern", [
    (lambda: tg.diagonal(np.ones(3)), "diagonal: needs a tensor with at least 2 dims"),
    (lambda: tg.diagonal(np.ones((2, 2)), 0, 1, -1), "diagonal: axis1 and axis2 are the same axis"),
    (lambda: tg.diagonal(np.ones((2, 2)), 0, 0, 2), "diagonal: axis 2 is out of range"),
    (lambda: tg.trace(np.ones(3)), "trace: diagonal: needs a tensor with at least 2 dims"),
    (lambda: tg.diag(np.ones((2, 2, 2))), r"diag: needs a 1-D or 2-D tensor, got shape \(2, 2, 2\)"),
])
def test_diagonal_errors(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
