"""Values and gradients of every registry op against PyTorch (float64), on the drawn cases of
``op_cases.OP_CASES``.

``OP_CASES[name].torch(*tensors, **params)`` is each op's PyTorch equivalent, called with the
very parameters the sample gave our op. The drawn inputs stay off kinks and ties, where our
documented subgradient conventions (e.g. ties in max/min split the gradient evenly) differ from
PyTorch's.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from op_cases import DIFFERENTIABLE_OPS, OP_CASES
from tinygrad_np import OPS, Tensor, autograd_grad

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch parity tests need it")


def test_every_registry_op_has_a_torch_reference_or_says_why_not():
    assert set(OP_CASES) == set(OPS)
    assert all(case.torch is not None for case in OP_CASES.values())


@pytest.mark.parametrize("name", sorted(DIFFERENTIABLE_OPS))
@given(data=st.data())
def test_values_and_gradients_match_torch(name, data):
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample

    ours_in = [Tensor(x, requires_grad=True) for x in inputs]
    ours = fn(*ours_in)
    theirs_in = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    theirs = OP_CASES[name].torch(*theirs_in, **sample.params)

    assert tuple(theirs.shape) == ours.shape
    np.testing.assert_allclose(ours.data, theirs.detach().numpy(), rtol=1e-10, atol=1e-12)

    upstream = np.random.default_rng(0).standard_normal(ours.shape)
    our_grads = autograd_grad(ours, ours_in, grad_outputs=upstream, allow_unused=True)
    if theirs.requires_grad:
        their_grads = torch.autograd.grad(theirs, theirs_in, grad_outputs=torch.from_numpy(upstream),
                                          allow_unused=True)
    else:  # e.g. an empty selection
        their_grads = [None] * len(theirs_in)
    for k, (g, tg_) in enumerate(zip(our_grads, their_grads)):
        expected = np.zeros(inputs[k].shape) if tg_ is None else tg_.numpy()
        assert g.shape == expected.shape
        np.testing.assert_allclose(g.data, expected, rtol=1e-10, atol=1e-12, err_msg=f"{name}: input {k}")


@pytest.mark.parametrize("name", sorted(set(OP_CASES) - set(DIFFERENTIABLE_OPS)))
@given(data=st.data())
def test_constant_ops_match_torch(name, data):
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample
    ours = fn(*[Tensor(x, requires_grad=True) for x in inputs])
    theirs = OP_CASES[name].torch(*[torch.from_numpy(x) for x in inputs], **sample.params)
    assert not ours.requires_grad
    np.testing.assert_array_equal(ours.data, theirs.numpy())
