"""gradcheck itself: it passes correct ops and fails deliberately wrong backward rules, flags
kinks, fills its report, and honours its options (method, mode, dtype, raise_exception).

The wrong ops are throwaway ``Function`` subclasses applied with ``Tensor.apply(cls, ...)``,
which runs a Function class without touching the registry.
"""
from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given

import strategies as S
from custom_ops import AllAtOnce
from tinygrad_np import GradcheckError, GradcheckReport, OPS, Tensor, gradcheck
from tinygrad_np.gradcheck import FULL_MODE_LIMIT

RNG = np.random.default_rng(1234)


# ----------------------------------------------------------------------------- throwaway ops
class Square(AllAtOnce):
    """y = a² with the correct VJP ā = 2 a g (a control for the wrong ones)."""

    @staticmethod
    def forward(a):
        return a * a

    def vjps(self, g, out):
        return (g * self.inputs[0] * 2.0,)


class SquareSignFlip(AllAtOnce):
    """y = a², VJP with the wrong sign: ā = -2 a g."""

    @staticmethod
    def forward(a):
        return a * a

    def vjps(self, g, out):
        return (-(g * self.inputs[0] * 2.0),)


class XExpDroppedTerm(AllAtOnce):
    """y = a·exp(a); the product rule gives ā = g (exp(a) + a exp(a)); this drops the first term."""

    @staticmethod
    def forward(a):
        return a * np.exp(a)

    def vjps(self, g, out):
        return (g * out,)


class MulDroppedTerm(AllAtOnce):
    """y = a·b·a = a²b; the VJP forgets that a appears twice: ā = g a b (should be 2 g a b)."""

    @staticmethod
    def forward(a, b):
        return a * b * a

    def vjps(self, g, out):
        a, b = self.inputs
        return (g * a * b, g * a * a)


class AddBroadcastNoSum(AllAtOnce):
    """y = a + b with b (1, n) broadcast over rows; the VJP for b takes the first row of g
    instead of summing the rows (a missing un-broadcast with the right shape)."""

    @staticmethod
    def forward(a, b):
        return a + b

    def vjps(self, g, out):
        return (g, g[0:1])


class ScaleIgnoresUpstream(AllAtOnce):
    """y = 3a, VJP returns 3 everywhere, ignoring g: right only for an all-ones upstream gradient."""

    @staticmethod
    def forward(a):
        return 3.0 * a

    def vjps(self, g, out):
        return (Tensor(np.full(self.inputs[0].shape, 3.0, dtype=g.dtype)),)


class SquareSlightlyOff(AllAtOnce):
    """y = a², VJP 1 % too large: inside float32 tolerances, outside float64 ones."""

    @staticmethod
    def forward(a):
        return a * a

    def vjps(self, g, out):
        return (g * self.inputs[0] * 2.02,)


class PairWrongSecond(AllAtOnce):
    """y = a·b elementwise; correct VJP for a, sign-flipped VJP for b."""

    @staticmethod
    def forward(a, b):
        return a * b

    def vjps(self, g, out):
        a, b = self.inputs
        return (g * b, -(g * a))


class PairWrongFirst(AllAtOnce):
    """y = a·b elementwise; sign-flipped VJP for a, correct VJP for b."""

    @staticmethod
    def forward(a, b):
        return a * b

    def vjps(self, g, out):
        a, b = self.inputs
        return (-(g * b), g * a)


def custom(cls):
    return lambda *xs: Tensor.apply(cls, *xs)


def x1(shape=(3, 4)):
    return RNG.uniform(0.5, 2.0, size=shape)


# ----------------------------------------------------------------------------- right and wrong
def test_no_throwaway_op_leaked_into_the_registry():
    assert not {Square, SquareSignFlip, XExpDroppedTerm, MulDroppedTerm} & set(OPS.values())


@given(S.arrays(S.shapes(max_dims=3), S.floats(0.5, 2.0)))
def test_correct_custom_op_passes(x):
    report = gradcheck(custom(Square), [x])
    assert report.passed and report.mismatches == 0 and bool(report)


@pytest.mark.parametrize("fn, make_inputs", [
    (lambda a, b: (a * b).tanh().sum(axis=0) + a.exp().mean(), lambda: [x1(), x1()]),
    (lambda a: a.softmax(axis=1).log() * 3.0, lambda: [x1()]),
    (lambda a, b: a @ b.T, lambda: [x1((2, 3)), x1((4, 3))]),
    (lambda a: (a.var(axis=1) + 1.0).sqrt(), lambda: [x1()]),
])
def test_correct_composite_functions_pass(fn, make_inputs):
    assert gradcheck(fn, make_inputs()).passed


WRONG = {
    "sign flip": (SquareSignFlip, lambda: [x1()]),
    "dropped product-rule term": (XExpDroppedTerm, lambda: [x1()]),
    "dropped term of a repeated factor": (MulDroppedTerm, lambda: [x1(), x1()]),
    "missing un-broadcast": (AddBroadcastNoSum, lambda: [x1((3, 4)), x1((1, 4))]),
    "ignores the upstream gradient": (ScaleIgnoresUpstream, lambda: [x1()]),
    "1% off": (SquareSlightlyOff, lambda: [x1()]),
}


@pytest.mark.parametrize("mode", ["full", "sample", "fast"])
@pytest.mark.parametrize("method", ["central", "forward"])
@pytest.mark.parametrize("wrong", sorted(WRONG))
def test_wrong_backward_rules_fail(wrong, method, mode):
    cls, make_inputs = WRONG[wrong]
    report = gradcheck(custom(cls), make_inputs(), method=method, mode=mode, raise_exception=False)
    assert not report.passed and not bool(report)
    assert report.mismatches >= 1
    with pytest.raises(GradcheckError):
        gradcheck(custom(cls), make_inputs(), method=method, mode=mode)


def test_ignoring_the_upstream_gradient_is_caught_because_it_is_not_all_ones():
    """With an all-ones upstream gradient (sum the output) this wrong rule is exactly right,
    so only a random upstream gradient exposes it."""
    x = x1()
    t = Tensor(x, requires_grad=True)
    Tensor.apply(ScaleIgnoresUpstream, t).sum().backward()
    np.testing.assert_array_equal(t.grad.data, np.full(x.shape, 3.0))  # looks right after a sum
    report = gradcheck(custom(ScaleIgnoresUpstream), [x], raise_exception=False)
    assert not report.passed and report.mismatches == x.size
    assert all(e.analytic == 3.0 and e.numeric != pytest.approx(3.0) for e in report.worst)


# ----------------------------------------------------------------------------- kinks
@pytest.mark.parametrize("fn, x, kink_index", [
    (lambda t: t.relu(), np.array([-1.0, 0.0, 2.0]), (1,)),
    (lambda t: t.abs(), np.array([0.0, 1.5, -2.0]), (0,)),
    (lambda t: t.relu() * 2.0, np.array([[0.5, 0.0], [-0.5, 1.0]]), (0, 1)),
])
def test_kinks_are_flagged_not_failed(fn, x, kink_index):
    report = gradcheck(fn, [x])
    assert report.passed
    assert len(report.kinks) == 1
    kink = report.kinks[0]
    assert kink.flag == "kink" and kink.index == kink_index and kink.x == 0.0
    assert kink.input == 0
    assert "kink" in str(report)


def test_a_wrong_rule_at_a_kink_is_still_a_mismatch():
    """Only a value between the one-sided slopes is a valid subgradient at a kink."""

    class AbsWrongAtZero(AllAtOnce):
        @staticmethod
        def forward(a):
            return np.abs(a)

        def vjps(self, g, out):
            a = self.inputs[0].data
            return (g * Tensor(np.where(a == 0, 5.0, np.sign(a))),)

    report = gradcheck(custom(AbsWrongAtZero), [np.array([0.0, 1.0])], raise_exception=False)
    assert not report.passed and report.mismatches == 1
    assert report.worst[0].index == (0,) and report.worst[0].flag == "mismatch"


# ----------------------------------------------------------------------------- report
def test_report_fields_of_a_failure():
    x = np.array([[0.5, 1.0, -1.5], [2.0, -0.25, 0.75]])
    report = gradcheck(custom(SquareSignFlip), [x], raise_exception=False)
    assert isinstance(report, GradcheckReport)
    assert report.method == "central" and report.mode == "full" and report.dtype == "float64"
    assert (report.eps, report.atol, report.rtol) == (1e-6, 1e-5, 1e-3)
    assert report.checked == 6
    assert report.mismatches == 6
    assert report.max_abs_error > 0.1 and report.max_rel_error > 1.0
    assert 0.9 < report.norm_ratio <= 1.0  # analytic = -numeric: the difference is the whole norm
    assert 1 <= len(report.worst) <= 5
    worst = report.worst[0]
    assert worst.flag == "mismatch" and worst.input == 0
    assert worst.index in {(i, j) for i in range(2) for j in range(3)}
    assert worst.x == x[worst.index]
    assert np.isclose(worst.analytic, -worst.numeric, rtol=1e-6)
    assert worst.error == abs(worst.analytic - worst.numeric) > worst.allowed
    assert np.isclose(worst.allowed, report.atol + report.rtol * abs(worst.numeric))
    errors = [e.error / e.allowed for e in report.worst]
    assert errors == sorted(errors, reverse=True)
    assert report.max_abs_error == pytest.approx(max(e.error for e in report.worst))


def test_report_fields_of_a_success():
    x = x1((2, 5))
    report = gradcheck(custom(Square), [x])
    assert report.passed and report.mismatches == 0 and report.kinks == []
    assert report.checked == 10
    assert report.max_abs_error < 1e-6 and report.norm_ratio < 1e-8
    for e in report.worst:
        assert e.flag == "ok" and e.error <= e.allowed
        np.testing.assert_allclose(e.analytic, e.numeric, rtol=1e-6)


def test_printed_table():
    x = np.array([1.0, -2.0])
    report = gradcheck(custom(SquareSignFlip), [x], raise_exception=False)
    text = str(report)
    assert text.startswith("gradcheck FAILED")
    for column in ("input", "index", "x", "analytic", "numeric", "|a-n|", "allowed", "flag"):
        assert column in text
    assert "mismatch" in text and "(0,)" in text and "(1,)" in text
    assert f"{report.worst[0].analytic:.6g}" in text
    assert "max abs error" in text and "norm ratio" in text
    assert str(gradcheck(custom(Square), [x])).startswith("gradcheck PASSED")


def test_raise_exception_raises_with_the_table():
    x = np.array([1.0, -2.0])
    with pytest.raises(GradcheckError) as info:
        gradcheck(custom(SquareSignFlip), [x], raise_exception=True)
    err = info.value
    assert isinstance(err, AssertionError)
    assert isinstance(err.report, GradcheckReport) and not err.report.passed
    assert str(err) == str(err.report)
    assert "analytic" in str(err) and "mismatch" in str(err)
    with pytest.raises(GradcheckError):
        gradcheck(custom(SquareSignFlip), [x])  # raising is the default


# ----------------------------------------------------------------------------- options
def test_forward_and_central_methods():
    x = np.array([1.0])
    central = gradcheck(lambda t: t * t, [x], eps=1e-3, raise_exception=False, method="central")
    forward = gradcheck(lambda t: t * t, [x], eps=1e-3, raise_exception=False, method="forward")
    assert central.method == "central" and forward.method == "forward"
    u = central.worst[0].analytic / 2.0  # the random upstream value (d(u x²)/dx = 2u at x = 1)
    assert central.worst[0].numeric == pytest.approx(2 * u, rel=1e-9)  # exact for a quadratic
    assert forward.worst[0].numeric == pytest.approx((2 + 1e-3) * u, rel=1e-9)  # one-sided: O(eps) bias
    assert gradcheck(custom(Square), [x1()], method="forward").passed
    with pytest.raises(ValueError, match="method"):
        gradcheck(custom(Square), [x1()], method="backward")


def test_default_mode_is_full_up_to_the_limit():
    assert FULL_MODE_LIMIT == 256
    small = gradcheck(custom(Square), [x1((16, 16))])
    assert small.mode == "full" and small.checked == 256
    big = gradcheck(custom(Square), [x1((257,))])
    assert big.mode == "sample" and big.checked < 257


def test_sample_mode_covers_every_input():
    a, b = x1((300,)), x1((300,))
    report = gradcheck(lambda s, t: Tensor.apply(PairWrongFirst, s, t), [a, b], mode="sample", nsamples=20,
                       raise_exception=False)
    assert report.mode == "sample" and report.checked == 40
    assert not report.passed and {e.input for e in report.worst} == {0}
    report = gradcheck(lambda s, t: Tensor.apply(PairWrongSecond, s, t), [a, b], mode="sample", nsamples=20,
                       raise_exception=False)
    assert not report.passed and {e.input for e in report.worst} == {1}
    # a small input is checked in full next to a sampled big one
    report = gradcheck(lambda s, t: s.sum() * t, [x1((300,)), x1((3,))], mode="sample", nsamples=20)
    assert report.passed and report.checked == 23


def test_fast_mode_checks_one_direction_per_input():
    a, b = x1((3, 4)), x1((3, 4))
    report = gradcheck(lambda s, t: Tensor.apply(PairWrongSecond, s, t), [a, b], mode="fast", raise_exception=False)
    assert report.mode == "fast" and report.checked == 2 and not report.passed
    assert report.worst[0].input == 1
    ok = gradcheck(lambda s, t: (s * t).tanh(), [a, b], mode="fast")
    assert ok.passed and ok.checked == 2


def test_invalid_mode_and_no_differentiable_input():
    with pytest.raises(ValueError, match="mode"):
        gradcheck(custom(Square), [x1()], mode="everything")
    with pytest.raises(ValueError, match="requires grad"):
        gradcheck(lambda t: t * 2.0, [Tensor(np.ones(2))])


def test_non_differentiable_inputs_are_left_alone():
    idx = np.array([2, 0, 2])
    report = gradcheck(lambda t, i: t[i.data] * 2.0, [x1((3,)), Tensor(idx)])
    assert report.passed and report.checked == 3


def test_tuple_outputs_are_all_checked():
    def two(a):
        return a.exp(), Tensor.apply(SquareSignFlip, a)

    assert not gradcheck(two, [x1((2,))], raise_exception=False).passed
    assert gradcheck(lambda a: (a.exp(), a * a), [x1((2,))]).passed


def test_float32_warns_and_uses_looser_defaults():
    x = x1((3,)).astype(np.float32)
    with pytest.warns(UserWarning, match="float32"):
        report = gradcheck(custom(Square), [x])
    assert report.dtype == "float32" and report.eps > 1e-6 and report.rtol > 1e-3
    assert report.passed
    with pytest.warns(UserWarning):
        assert not gradcheck(custom(SquareSignFlip), [x], raise_exception=False).passed


def test_float64_does_not_warn():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        gradcheck(custom(Square), [x1((3,))])


def test_inputs_are_not_modified():
    x = x1((2, 3))
    before = x.copy()
    t = Tensor(x1((2, 3)), requires_grad=True)
    t_before = t.data.copy()
    gradcheck(lambda a, b: a * b, [x, t])
    np.testing.assert_array_equal(x, before)
    np.testing.assert_array_equal(t.data, t_before)
    assert t.grad is None


# ----------------------------------------------------------------------------- forward mode and Taylor
class CubeWrongJVP(AllAtOnce):
    """y = a³ with the right VJP and a JVP 2% off."""

    @staticmethod
    def forward(a):
        return a ** 3

    def vjps(self, g, out):
        return (g * self.inputs[0] * self.inputs[0] * 3.0,)

    def jvp(self, i, t, y):
        return t * self.inputs[0] * self.inputs[0] * 3.06


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_forward_mode_gradcheck_checks_the_jvp_rules(mode):
    x = [RNG.uniform(0.5, 2.0, size=(2, 3))]
    assert gradcheck(lambda a: (a.tanh() * a.exp()).sum(axis=0), x, ad="forward", mode=mode).passed
    wrong = custom(CubeWrongJVP)
    assert gradcheck(wrong, x, mode=mode).passed  # reverse mode cannot see the JVP
    report = gradcheck(wrong, x, ad="forward", mode=mode, raise_exception=False)
    assert not report.passed and report.mismatches >= 1


def test_taylor_remainders_fall_with_slopes_two_and_three():
    from tinygrad_np.gradcheck import taylor_test

    x = RNG.standard_normal((3, 4))
    report = taylor_test(lambda a: (a.tanh() * a.exp()).sum(axis=1), [x])
    assert report and abs(report.slope_first - 2) < 0.1 and abs(report.slope_second - 3) < 0.1
    assert "expect 2" in str(report)
    off = taylor_test(custom(SquareSlightlyOff), [x])  # a gradient 1% off: r1 ~ 0.01 h, slope 1
    assert not off and abs(off.slope_first - 1) < 0.25
