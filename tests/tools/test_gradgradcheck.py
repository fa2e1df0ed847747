"""Second derivatives: ``gradgradcheck`` over every op of the registry, and its power to catch
VJPs that are right to first order only."""
from __future__ import annotations

import importlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
from op_cases import DIFFERENTIABLE_OPS, OP_CASES, SMOOTH_OPS
from custom_ops import AllAtOnce
from tinygrad_np import OPS, Tensor
from tinygrad_np.gradcheck import GradcheckError, gradcheck, gradgradcheck

gradcheck_module = importlib.import_module("tinygrad_np.gradcheck")


# ----------------------------------------------------------------------------- every op
def test_every_registry_op_has_a_case():
    missing = sorted(set(OPS) - set(OP_CASES))
    assert not missing, f"ops without an OP_CASES entry (so without a second-derivative test): {missing}"


def test_every_smooth_op_is_covered():
    assert set(SMOOTH_OPS) <= set(OPS_UNDER_TEST)
    assert {"exp", "log", "tanh", "sigmoid", "mul", "div", "pow", "softmax", "matmul"} <= set(SMOOTH_OPS)


# Smooth ops, and the piecewise-linear ones too: their cases keep off kinks and ties, where the
# second derivative is zero and gradgradcheck must agree.
OPS_UNDER_TEST = sorted(DIFFERENTIABLE_OPS)


@pytest.mark.parametrize("name", OPS_UNDER_TEST)
@settings(deadline=None)
@given(data=st.data())
def test_gradgradcheck_op(name, data):
    fn, inputs = data.draw(OP_CASES[name].strategy, label="sample")
    assert gradgradcheck(fn, inputs)


@settings(deadline=None)
@given(graph=S.expression_graphs(min_ops=4))
def test_gradgradcheck_expression_graphs(graph):
    """Composite graphs with shared leaves: the second-order VJP graph sums over many paths."""
    assert gradgradcheck(lambda *xs: graph.fn(*xs), graph.leaves)


@settings(deadline=None)
@given(x=S.shapes(max_dims=2).flatmap(lambda s: S.arrays(s, S.floats(-2.0, 2.0))))
def test_gradgradcheck_tuple_outputs(x):
    assert gradgradcheck(lambda a: (a.tanh(), (a * a).sum()), [x])


def test_gradgradcheck_output_independent_of_input():
    x = np.linspace(-1.0, 1.0, 3)
    assert gradgradcheck(lambda a: Tensor(np.ones(2)) + 0.0 * a.sum(), [x])
    assert gradgradcheck(lambda a, b: a * 2.0 + b.sum() * 0, [x, x.copy()])


def test_gradgradcheck_needs_a_differentiable_input():
    with pytest.raises(ValueError, match="no input requires grad"):
        gradgradcheck(lambda a: a * 2, [np.arange(3)])


# ----------------------------------------------------------------------------- wrong second derivatives


class ConstantOutExp(AllAtOnce):
    """exp whose VJP uses y as a constant: right to first order, second derivative 0."""

    @staticmethod
    def forward(a):
        return np.exp(a)

    def vjps(self, g, out):
        return (g * Tensor(out.data),)


class DetachedGradExp(AllAtOnce):
    """exp whose VJP cuts the graph of g: vᵀJ looks constant in v (breaks jvp by double VJP)."""

    @staticmethod
    def forward(a):
        return np.exp(a)

    def vjps(self, g, out):
        return (g.detach() * out,)


class OnesOnlyExp(AllAtOnce):
    """exp whose VJP has the right value, but whose derivative w.r.t. x is right only for g = 1:
    ā = g y + (g - 1)(y - const(y)), so ∂ā/∂a = (2g - 1) y."""

    @staticmethod
    def forward(a):
        return np.exp(a)

    def vjps(self, g, out):
        return (g * out + (g - 1) * (out - Tensor(out.data)),)


def custom(cls):
    return lambda a: Tensor.apply(cls, a)


X = np.array([[-0.7, 0.2, 1.1], [0.4, -1.3, 0.9]])


@pytest.mark.parametrize("cls", [ConstantOutExp, DetachedGradExp, OnesOnlyExp])
def test_gradcheck_passes_first_order_right_vjps(cls):
    assert gradcheck(custom(cls), [X])


def test_gradgradcheck_catches_constant_in_vjp():
    report = gradgradcheck(custom(ConstantOutExp), [X], raise_exception=False)
    assert not report and report.mismatches >= X.size // 2
    with pytest.raises(GradcheckError, match="gradgradcheck"):
        gradgradcheck(custom(ConstantOutExp), [X])
    assert gradgradcheck(lambda a: a.exp(), [X])  # the real exp passes


def test_gradgradcheck_checks_the_grad_outputs():
    """A VJP that detaches g is caught only through the derivative w.r.t. v (PyTorch does the same)."""
    assert not gradgradcheck(custom(DetachedGradExp), [X], raise_exception=False)
    assert gradgradcheck(custom(DetachedGradExp), [X], check_grad_outputs=False)


def test_gradgradcheck_uses_a_random_upstream_not_ones(monkeypatch):
    """With v (and u) all ones OnesOnlyExp would pass; the random v catches it."""
    assert not gradgradcheck(custom(OnesOnlyExp), [X], raise_exception=False)
    assert not gradgradcheck(custom(OnesOnlyExp), [X], check_grad_outputs=False, raise_exception=False)
    monkeypatch.setattr(gradcheck_module, "_random_upstream", lambda rng, shape: np.ones(shape))
    assert gradgradcheck(custom(OnesOnlyExp), [X], check_grad_outputs=False)


def test_gradgradcheck_failure_report_names_the_inputs():
    with pytest.raises(GradcheckError) as info:
        gradgradcheck(custom(ConstantOutExp), [X])
    assert "inputs 0..0 are fn's inputs" in str(info.value)
    assert info.value.report.mismatches > 0
