"""The composite functions of the op-coverage family, checked the way the registry ops are.

``tensordot``, ``dot``, ``inner``, ``outer``, ``trace``, ``diag``, ``split``, ``array_split``,
``tile``, ``moveaxis``, ``swapaxes``, ``permute`` and ``ravel`` are not registry ops: each is a
function of einsum, diagonal, scatter_add, getitem, reshape, expand, transpose or mul, so the
generic per-op suites never see them. Here each one, on hypothesis-drawn float64 cases, matches
NumPy's function of the same name (also when called as ``np.<name>`` on Tensors), passes a
float64 gradcheck, matches PyTorch's values and gradients for a random upstream gradient, has
forward-mode tangents adjoint to its reverse-mode gradients, and under ``vmap`` equals a loop
over the examples.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
import tinygrad_np as tg
from tinygrad_np import Tensor, autograd_grad, gradcheck

torch = pytest.importorskip("torch", reason="the parity checks need PyTorch")
FEW = settings(max_examples=10, deadline=None)


@dataclass
class Case:
    """``fn(*Tensors)``, its NumPy function ``numpy(*arrays)`` and PyTorch version ``torch(*tensors)``
    (each returning one array or a list of them), and float64 inputs."""

    fn: Callable[..., Any]
    numpy: Callable[..., Any]
    torch: Callable[..., Any]
    inputs: list[np.ndarray]
    exact: bool = True  # a pure rearrangement: the values are NumPy's to the bit

    def outputs(self, *xs):
        out = self.fn(*xs)
        return tuple(out) if isinstance(out, (list, tuple)) else (out,)


def _as_list(out):
    return list(out) if isinstance(out, (list, tuple)) else [out]


# ----------------------------------------------------------------------------- strategies
@st.composite
def tensordot_cases(draw):
    """k = 0-2 contracted axes anywhere in a and b (paired in any order), 0-2 free axes each;
    ``axes`` an int when they are a's last k and b's first k in order, else two lists (some negative)."""
    k = draw(st.integers(0, 2))
    contracted = [draw(st.integers(1, 3)) for _ in range(k)]
    free_a, free_b = draw(S.shapes(max_dims=2, max_side=3)), draw(S.shapes(max_dims=2, max_side=3))
    standard = draw(st.booleans())
    na, nb = len(free_a) + k, len(free_b) + k
    pos_a = list(range(len(free_a), na)) if standard else sorted(draw(st.permutations(range(na)))[:k])
    pos_b = list(range(k)) if standard else draw(st.permutations(sorted(draw(st.permutations(range(nb)))[:k])))
    shape_a, shape_b = list(free_a), list(free_b)
    for p, n in zip(pos_a, contracted):
        shape_a.insert(p, n)
    for q, n in sorted(zip(pos_b, contracted)):
        shape_b.insert(q, n)
    if standard and draw(st.booleans()):
        axes: Any = k
    else:
        axes = ([p - na if draw(st.booleans()) else p for p in pos_a],
                [q - nb if draw(st.booleans()) else q for q in pos_b])
    a, b = draw(S.arrays(tuple(shape_a))), draw(S.arrays(tuple(shape_b)))
    t_axes = axes if isinstance(axes, int) else ([p % na for p in axes[0]], [q % nb for q in axes[1]])
    return Case(lambda x, y: tg.tensordot(x, y, axes), lambda x, y: np.tensordot(x, y, axes),
                lambda x, y: torch.tensordot(x, y, dims=t_axes), [a, b], exact=False)


@st.composite
def dot_cases(draw):
    """NumPy's dot for each kind of operand: 0-d with anything, 1-D·1-D, N-D·1-D, 1-D·M-D, N-D·M-D."""
    n = draw(st.integers(1, 3))
    kind_a, kind_b = draw(st.sampled_from(["nd", "1d", "0d"])), draw(st.sampled_from(["nd", "1d", "0d"]))
    lead_a, lead_b = draw(S.shapes(min_dims=1, max_dims=2, max_side=3)), draw(S.shapes(max_dims=1, max_side=3))
    sa = {"0d": (), "1d": (n,), "nd": lead_a + (n,)}[kind_a]
    sb = {"0d": (), "1d": (n,), "nd": lead_b + (n, draw(st.integers(1, 3)))}[kind_b]
    a, b = draw(S.arrays(sa)), draw(S.arrays(sb))

    def ref(x, y):
        if x.ndim == 0 or y.ndim == 0:
            return x * y
        return torch.tensordot(x, y, dims=([x.ndim - 1], [max(y.ndim - 2, 0)]))

    return Case(tg.dot, np.dot, ref, [a, b], exact=False)


@st.composite
def inner_cases(draw):
    """Any leading axes on each side and a shared last axis; or a 0-d operand."""
    n = draw(st.integers(1, 3))
    sa = draw(S.shapes(max_dims=2, max_side=3)) + (n,)
    sb = draw(S.shapes(max_dims=2, max_side=3)) + (n,)
    if draw(st.integers(0, 3)) == 0:
        sa = ()
    return Case(tg.inner, np.inner, torch.inner, [draw(S.arrays(sa)), draw(S.arrays(sb))], exact=False)


@st.composite
def outer_cases(draw):
    """Operands of any shapes (NumPy's outer flattens both)."""
    sa, sb = draw(S.shapes(max_dims=2, max_side=3)), draw(S.shapes(max_dims=2, max_side=3))
    return Case(tg.outer, np.outer, lambda x, y: torch.outer(x.reshape(-1), y.reshape(-1)),
                [draw(S.arrays(sa)), draw(S.arrays(sb))])


@st.composite
def trace_cases(draw):
    """At least 2-D, two distinct axes (maybe negative), an offset that may leave nothing to sum."""
    shape = draw(S.shapes(min_dims=2, max_dims=3))
    ndim = len(shape)
    a1, a2 = draw(st.lists(st.integers(-ndim, ndim - 1), min_size=2, max_size=2, unique_by=lambda a: a % ndim))
    offset = draw(st.integers(-shape[a1], shape[a2]))
    return Case(lambda x: tg.trace(x, offset, a1, a2), lambda x: np.trace(x, offset, a1, a2),
                lambda x: torch.diagonal(x, offset, a1, a2).sum(-1), [draw(S.arrays(shape))], exact=False)


@st.composite
def diag_cases(draw):
    """1-D -> a square with the vector on the k-th diagonal; 2-D -> its k-th diagonal (maybe empty)."""
    if draw(st.booleans()):
        shape = (draw(st.integers(1, 4)),)
        k = draw(st.integers(-3, 3))
    else:
        shape = draw(S.shapes(min_dims=2, max_dims=2))
        k = draw(st.integers(-shape[0], shape[1]))
    return Case(lambda x: tg.diag(x, k), lambda x: np.diag(x, k), lambda x: torch.diag(x, k), [draw(S.arrays(shape))])


@st.composite
def split_cases(draw, equal: bool):
    """``split``: a number of sections that divides the axis, or split indices (unsorted, past the
    end: empty pieces); ``array_split``: any number of sections (more than the length: empty pieces)."""
    shape = draw(S.shapes(min_dims=1, max_dims=3))
    axis = draw(st.integers(-len(shape), len(shape) - 1))
    n = shape[axis]
    if draw(st.booleans()):
        sections: Any = draw(st.sampled_from([d for d in range(1, n + 1) if n % d == 0])) if equal else \
            draw(st.integers(1, n + 2))
    else:
        sections = draw(st.lists(st.integers(0, n + 1), max_size=3))
    fn, ref = (tg.split, np.split) if equal else (tg.array_split, np.array_split)
    return Case(lambda x: fn(x, sections, axis=axis), lambda x: ref(x, sections, axis=axis),
                lambda x: list(torch.tensor_split(x, sections, dim=axis)), [draw(S.arrays(shape))])


@st.composite
def tile_cases(draw):
    """reps an int or a tuple of 1-3 counts in 1-3, shorter or longer than the shape."""
    shape = draw(S.shapes(max_dims=3, max_side=3))
    reps = draw(st.integers(1, 3) | st.lists(st.integers(1, 3), max_size=3).map(tuple))
    t_reps = (reps,) if isinstance(reps, int) else reps
    return Case(lambda x: tg.tile(x, reps), lambda x: np.tile(x, reps), lambda x: torch.tile(x, t_reps),
                [draw(S.arrays(shape))])


@st.composite
def moveaxis_cases(draw):
    """Distinct source axes to distinct destinations (ints or lists, maybe negative)."""
    shape = draw(S.shapes(min_dims=1))
    ndim = len(shape)
    m = draw(st.integers(1, ndim))
    src = draw(st.permutations(range(ndim)))[:m]
    dst = draw(st.permutations(range(ndim)))[:m]
    src = [s - ndim if draw(st.booleans()) else s for s in src]
    if m == 1 and draw(st.booleans()):
        src, dst = src[0], dst[0]
    return Case(lambda x: tg.moveaxis(x, src, dst), lambda x: np.moveaxis(x, src, dst),
                lambda x: torch.moveaxis(x, src, dst), [draw(S.arrays(shape))])


@st.composite
def swapaxes_cases(draw):
    shape = draw(S.shapes(min_dims=1))
    a, b = draw(st.integers(-len(shape), len(shape) - 1)), draw(st.integers(-len(shape), len(shape) - 1))
    return Case(lambda x: tg.swapaxes(x, a, b), lambda x: np.swapaxes(x, a, b), lambda x: torch.swapaxes(x, a, b),
                [draw(S.arrays(shape))])


@st.composite
def permute_cases(draw):
    shape = draw(S.shapes(min_dims=1))
    perm = tuple(draw(st.permutations(range(len(shape)))))
    return Case(lambda x: tg.permute(x, *perm), lambda x: np.transpose(x, perm), lambda x: x.permute(*perm),
                [draw(S.arrays(shape))])


@st.composite
def ravel_cases(draw):
    shape = draw(S.shapes())
    return Case(tg.ravel, np.ravel, torch.ravel, [draw(S.arrays(shape))])


CASES = {
    "tensordot": tensordot_cases(), "dot": dot_cases(), "inner": inner_cases(), "outer": outer_cases(),
    "trace": trace_cases(), "diag": diag_cases(), "split": split_cases(equal=True),
    "array_split": split_cases(equal=False), "tile": tile_cases(), "moveaxis": moveaxis_cases(),
    "swapaxes": swapaxes_cases(), "permute": permute_cases(), "ravel": ravel_cases(),
}
NUMPY_NAMES = {"permute": None}  # np.permute does not exist (np.transpose is checked with transpose)


# ----------------------------------------------------------------------------- the checks
def test_every_composite_is_exported_and_not_a_registry_op():
    for name in CASES:
        assert name in tg.__all__ and callable(getattr(tg, name))
        assert name not in tg.OPS, f"{name} is a registry op: its case belongs in tests/op_cases.py"


@pytest.mark.parametrize("name", sorted(CASES))
@FEW
@given(data=st.data())
def test_forward_matches_numpy_also_through_numpys_function(name, data):
    case = data.draw(CASES[name], label=name)
    expected = _as_list(case.numpy(*case.inputs))
    calls = [case.fn(*[Tensor(x) for x in case.inputs])]
    numpy_name = NUMPY_NAMES.get(name, name)
    if numpy_name is not None:  # np.<name> on Tensors runs tg.<name>
        calls.append(case.numpy(*[Tensor(x) for x in case.inputs]))
    for out in calls:
        out = _as_list(out)
        assert len(out) == len(expected) and all(isinstance(o, Tensor) for o in out)
        for o, e in zip(out, expected):
            assert o.shape == e.shape and o.dtype == e.dtype
            if case.exact:
                np.testing.assert_array_equal(o.data, e)
            else:
                np.testing.assert_allclose(o.data, e, rtol=1e-12, atol=1e-14)


@pytest.mark.parametrize("name", sorted(CASES))
@FEW
@given(data=st.data())
def test_gradcheck_float64(name, data):
    case = data.draw(CASES[name], label=name)
    report = gradcheck(case.outputs, case.inputs, raise_exception=False)
    assert report.passed and not report.kinks, f"{name}\n{report}"


@pytest.mark.parametrize("name", sorted(CASES))
@FEW
@given(data=st.data())
def test_values_and_gradients_match_torch(name, data):
    case = data.draw(CASES[name], label=name)
    ours_in = [Tensor(x, requires_grad=True) for x in case.inputs]
    ours = case.outputs(*ours_in)
    theirs_in = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in case.inputs]
    theirs = _as_list(case.torch(*theirs_in))
    assert len(theirs) == len(ours)
    rng = np.random.default_rng(0)
    upstream = [rng.standard_normal(y.shape) for y in ours]
    for y, t in zip(ours, theirs):
        assert y.shape == tuple(t.shape)
        np.testing.assert_allclose(y.data, t.detach().numpy(), rtol=1e-12, atol=1e-14)
    our_grads = autograd_grad(list(ours), ours_in, grad_outputs=upstream, allow_unused=True)
    their_grads = torch.autograd.grad(theirs, theirs_in, grad_outputs=[torch.from_numpy(u) for u in upstream],
                                      allow_unused=True)
    for k, (g, tg_) in enumerate(zip(our_grads, their_grads)):
        expected = np.zeros(case.inputs[k].shape) if tg_ is None else tg_.numpy()
        actual = np.zeros(case.inputs[k].shape) if g is None else g.data
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-14, err_msg=f"{name}: input {k}")


@pytest.mark.parametrize("name", sorted(CASES))
@FEW
@given(data=st.data())
def test_jvp_is_adjoint_to_the_vjp(name, data):
    """⟨u, J t⟩ (forward mode) = ⟨Jᵀ u, t⟩ (reverse mode) for random u and t, in float64."""
    case = data.draw(CASES[name], label=name)
    xs = tuple(Tensor(x) for x in case.inputs)
    rng = np.random.default_rng(1)
    ts = [rng.standard_normal(x.shape) for x in case.inputs]
    ys, jts = tg.jvp(case.outputs, xs, tuple(Tensor(t) for t in ts))
    us = [rng.standard_normal(y.shape) for y in ys]
    _, vjp_fn = tg.vjp(case.outputs, *xs)
    grads = vjp_fn(tuple(Tensor(u) for u in us))
    forward = sum(float(np.sum(u * jt.data)) for u, jt in zip(us, jts))
    reverse = sum(float(np.sum(g.data * t)) for g, t in zip(grads, ts))
    # the rounding of both sides is at most a few eps times Σ|terms| (no squares: tiny values stay normal)
    scale = sum(float(np.sum(np.abs(u * jt.data))) for u, jt in zip(us, jts)) + sum(
        float(np.sum(np.abs(g.data * t))) for g, t in zip(grads, ts))
    assert abs(forward - reverse) <= 64 * np.finfo(np.float64).eps * scale, (forward, reverse)


@pytest.mark.parametrize("name", sorted(CASES))
@FEW
@given(data=st.data())
def test_vmap_equals_a_loop_over_examples(name, data):
    case = data.draw(CASES[name], label=name)
    rng = np.random.default_rng(2)
    stacks = [np.stack([x * rng.uniform(0.5, 1.5, x.shape) for _ in range(3)]) for x in case.inputs]
    mapped = [data.draw(st.booleans(), label=f"input {k} batched") for k in range(len(stacks))]
    mapped[0] = mapped[0] or not any(mapped)
    args = [Tensor(s if m else x) for s, x, m in zip(stacks, case.inputs, mapped)]
    out = tg.vmap(case.outputs, in_axes=tuple(0 if m else None for m in mapped))(*args)
    for j, y in enumerate(out):
        examples = [[Tensor(s[k] if m else x) for s, x, m in zip(stacks, case.inputs, mapped)] for k in range(3)]
        loop = np.stack([case.outputs(*example)[j].data for example in examples])
        assert y.shape == loop.shape
        np.testing.assert_allclose(y.data, loop, rtol=1e-12, atol=1e-14, err_msg=f"{name}: output {j}")
