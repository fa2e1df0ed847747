"""Tests for anomaly mode: ``tinygrad_np.detect_anomaly`` and ``AnomalyError``."""
from __future__ import annotations

import inspect
import os

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import modes

HERE = os.path.basename(__file__)


def anomaly_on() -> bool:
    return modes.state.anomaly


def next_line() -> int:
    """The line number of the caller's next line."""
    return inspect.currentframe().f_back.f_lineno + 1


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"):  # the NaN/Inf are deliberate
        yield
    assert not anomaly_on()  # no test leaves anomaly mode switched on


def test_nan_in_forward_names_the_op_shapes_and_line():
    x = tg.tensor([-1.0, 2.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError) as info:
        with tg.detect_anomaly():
            line = next_line()
            x.log()
    msg = str(info.value)
    assert msg.startswith("Log forward output contains NaN")
    assert "input shapes (2,)" in msg and "output shape (2,)" in msg
    assert f"{HERE}:{line}" in msg and "x.log()" in msg
    assert isinstance(info.value, FloatingPointError)


def test_inf_in_forward_is_reported_too():
    x = tg.tensor([0.0, 1.0], requires_grad=True)
    with pytest.raises(tg.AnomalyError, match=r"^Div forward output contains Inf"):
        with tg.detect_anomaly():
            1.0 / x


def test_inf_in_backward_names_sqrt_and_backward():
    x = tg.tensor([0.0, 4.0], requires_grad=True)
    with tg.detect_anomaly():
        line = next_line()
        y = x.sqrt().sum()  # forward is finite: sqrt(0) = 0
        with pytest.raises(tg.AnomalyError) as info:
            y.backward()
    msg = str(info.value)
    assert msg.startswith("Sqrt backward gradient for input 0 contains Inf")
    assert "backward" in msg and "input shape (2,)" in msg and "upstream gradient shape (2,)" in msg
    assert f"{HERE}:{line}" in msg  # blamed on the line that created the sqrt, not on backward()
    assert x.grad is None  # nothing was accumulated


def test_finite_graphs_raise_nothing_and_give_the_same_grads():
    def run():
        x = tg.tensor([[0.5, -1.0], [2.0, 0.25]], requires_grad=True)
        w = tg.tensor([1.5, -0.5], requires_grad=True)
        loss = ((x @ w).tanh().exp() + (x * x + 1.0).sqrt().log().sum()).mean()
        loss.backward()
        return loss.item(), x.grad.data, w.grad.data

    plain = run()
    with tg.detect_anomaly():
        checked = run()
    assert plain[0] == checked[0]
    np.testing.assert_array_equal(plain[1], checked[1])
    np.testing.assert_array_equal(plain[2], checked[2])


def test_mode_is_restored_after_the_block_and_after_an_exception():
    assert not anomaly_on()
    with tg.detect_anomaly():
        assert anomaly_on()
        with tg.detect_anomaly():
            assert anomaly_on()
        assert anomaly_on()  # the inner block restores the outer state, not "off"
    assert not anomaly_on()
    with pytest.raises(tg.AnomalyError):
        with tg.detect_anomaly():
            tg.tensor([-1.0]).log()
    assert not anomaly_on()
    with pytest.raises(KeyError):
        with tg.detect_anomaly():
            raise KeyError("unrelated")
    assert not anomaly_on()
    assert np.isnan(tg.tensor([-1.0]).log().item())  # behaviourally off again


def test_works_as_a_decorator():
    @tg.detect_anomaly()
    def step(x):
        assert anomaly_on()
        return x.log().sum()

    assert step(tg.tensor([1.0, 2.0])).item() == pytest.approx(np.log(2.0))
    assert not anomaly_on()
    line = inspect.getsourcelines(step)[1] + 3  # the `return x.log().sum()` line
    with pytest.raises(tg.AnomalyError, match=rf"^Log forward .*{HERE}:{line}"):
        step(tg.tensor([-1.0, 2.0]))
    assert not anomaly_on()


def test_reentering_the_same_instance_restores_the_mode():
    @tg.detect_anomaly()
    def depth(n):
        return 0 if n == 0 else depth(n - 1) + 1

    try:
        depth(2)
        assert not anomaly_on()
    finally:
        modes.state.anomaly = False  # don't leak into other tests while the engine bug exists


def test_anomaly_mode_off_takes_the_no_overhead_path(monkeypatch):
    def forbidden(*args, **kwargs):
        raise AssertionError("anomaly machinery used while anomaly mode is off")

    monkeypatch.setattr(modes, "user_code_line", forbidden)
    monkeypatch.setattr(modes, "check_finite", forbidden)
    monkeypatch.setattr(modes, "checked_vjp", forbidden)
    x = tg.tensor([-1.0, 0.0, 4.0], requires_grad=True)
    y = x.log()  # NaN and -Inf, silently
    assert np.isnan(y.data[0]) and np.isneginf(y.data[1])
    assert not hasattr(y._ctx, "created_at")
    s = tg.tensor([0.0, 4.0], requires_grad=True)
    s.sqrt().sum().backward()  # Inf gradient, silently
    assert np.isposinf(s.grad.data[0]) and s.grad.data[1] == pytest.approx(0.25)
    (y * x).sum().backward()  # NaN propagates into the gradient
    assert np.isnan(x.grad.data[0])
