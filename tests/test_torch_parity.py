"""Values and gradients of every registry op against PyTorch (float64), on the drawn cases of
``op_cases.OP_CASES``.

``TORCH_REF[name](*tensors, **params)`` is each op's PyTorch equivalent, called with the very
parameters the sample gave our op. The drawn inputs stay off kinks and ties, where our
documented subgradient conventions (e.g. ties in max/min split the gradient evenly) differ from
PyTorch's.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import strategies as S
from op_cases import OP_CASES
from tinygrad_np import OPS, Tensor, autograd_grad

torch = pytest.importorskip("torch", reason="PyTorch is not installed: the torch parity tests need it")
TF = torch.nn.functional


def _dims(axis, ndim):
    """Our ``axis`` as a torch ``dim`` tuple (None = all axes; a 0-d tensor has none)."""
    return S.reduced_axes(axis, ndim)


def _reduce(fn):
    def apply(x, axis, keepdims, **kw):
        dims = _dims(axis, x.ndim)
        if not dims:  # 0-d input: nothing to reduce
            return fn(x.reshape(1), dim=0, keepdim=False, **kw).reshape(())
        return fn(x, dim=dims, keepdim=keepdims, **kw)

    return apply


def _torch_index(index):
    """The same index for torch: arrays become tensors. None if torch cannot express it
    (negative slice steps)."""
    parts = index if isinstance(index, tuple) else (index,)
    out = []
    for p in parts:
        if isinstance(p, slice) and p.step is not None and p.step < 0:
            return None
        out.append(torch.from_numpy(p) if isinstance(p, np.ndarray) else p)
    return tuple(out) if isinstance(index, tuple) else out[0]


def _positions(shape, index):
    """Flat positions ``a[index]`` picks, as an int64 torch tensor of the result's shape."""
    picked = np.arange(int(np.prod(shape, dtype=int))).reshape(shape)[index]
    return torch.from_numpy(np.array(picked, dtype=np.int64, copy=True))  # fresh strides (no negative ones)


def _getitem(x, index):
    tindex = _torch_index(index)
    if tindex is None:  # negative steps: gather the same positions from the flattened tensor
        return x.reshape(-1)[_positions(x.shape, index)]
    return x[tindex]


def _scatter_add(g, index, shape):
    size = int(np.prod(shape, dtype=int))
    pos = _positions(shape, index).reshape(-1)
    out = torch.zeros(size, dtype=g.dtype).index_put((pos,), g.reshape(-1), accumulate=True)
    return out.reshape(shape)


def _clip(x, lo=None, hi=None):
    return torch.clamp(x, min=lo, max=hi)


def _linear(x, w, b=None, activation=None):
    y = TF.linear(x, w.T, b)  # our weight is (n_in, n_out), torch's (n_out, n_in)
    return y if activation is None else getattr(torch, activation)(y)


def _cross_entropy(z, labels, reduction):
    return TF.cross_entropy(z, torch.from_numpy(labels), reduction=reduction)


TORCH_REF = {
    "add": torch.add,
    "sub": torch.sub,
    "mul": torch.mul,
    "div": torch.div,
    "pow": torch.pow,
    "neg": torch.neg,
    "exp": torch.exp,
    "log": torch.log,
    "sqrt": torch.sqrt,
    "abs": torch.abs,
    "tanh": torch.tanh,
    "sigmoid": torch.sigmoid,
    "relu": torch.relu,
    "leaky_relu": lambda x, negative_slope: TF.leaky_relu(x, negative_slope=negative_slope),
    "maximum": torch.maximum,
    "minimum": torch.minimum,
    "where": lambda a, b, cond: torch.where(torch.from_numpy(cond), a, b),
    "clip": _clip,
    "matmul": torch.matmul,
    "linear": _linear,
    "sum": _reduce(torch.sum),
    "mean": _reduce(torch.mean),
    "var": lambda x, axis, keepdims, ddof: _reduce(torch.var)(x, axis, keepdims, correction=ddof),
    "max": _reduce(torch.amax),
    "min": _reduce(torch.amin),
    "logsumexp": _reduce(torch.logsumexp),
    "softmax": lambda x, axis: torch.softmax(x, dim=axis),
    "log_softmax": lambda x, axis: torch.log_softmax(x, dim=axis),
    "reshape": lambda x, shape: x.reshape(shape),
    "transpose": lambda x, axes: x.permute(*axes) if axes else x,
    "expand": lambda x, shape: torch.broadcast_to(x, shape),
    "getitem": _getitem,
    "scatter_add": _scatter_add,
    "concatenate": lambda *xs, axis: torch.cat(xs, dim=axis),
    "stack": lambda *xs, axis: torch.stack(xs, dim=axis),
    "cross_entropy": _cross_entropy,
}


def test_every_registry_op_has_a_torch_mapping():
    assert set(TORCH_REF) == set(OPS), f"missing: {set(OPS) - set(TORCH_REF)}, extra: {set(TORCH_REF) - set(OPS)}"


@pytest.mark.parametrize("name", sorted(OP_CASES))
@given(data=st.data())
def test_values_and_gradients_match_torch(name, data):
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample

    ours_in = [Tensor(x, requires_grad=True) for x in inputs]
    ours = fn(*ours_in)
    theirs_in = [torch.tensor(x, dtype=torch.float64, requires_grad=True) for x in inputs]
    theirs = TORCH_REF[name](*theirs_in, **sample.params)

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
