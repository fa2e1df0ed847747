"""The fast layer (``tinygrad_np.fast``) gives the textbook engine's results, bit for bit.

* every lowered VJP equals its op's textbook rule (``engine.LOWERED_VJPS``), and every lowered
  forward its op's forward (``engine.LOWERED_FORWARDS``), on the drawn cases of ``op_cases``;
* ``nn.Sequential``'s fused Linear + activation equals the two modules run one by one;
* whole training runs (SGD with momentum, Adam) end with identical weights with the layer on and
  off, and the switch works (``fast.disabled()``, ``TINYGRAD_NP_FAST=0``).
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_np as tg
from op_cases import OP_CASES
from tinygrad_np import Tensor, engine, fast, nn, optim
from tinygrad_np.nn import functional as F

LOWERED_VJP_OPS = sorted(name for name, cls in tg.OPS.items() if cls in engine.LOWERED_VJPS)
LOWERED_FORWARD_OPS = sorted(name for name, cls in tg.OPS.items() if cls in engine.LOWERED_FORWARDS)


def test_the_fast_layer_registers_at_the_seams():
    assert {"mul", "matmul", "linear", "linear_act", "cross_entropy", "relu"} <= set(LOWERED_VJP_OPS)
    assert {"relu", "cross_entropy", "linear_act"} <= set(LOWERED_FORWARD_OPS)


def _same_bits(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOWERED_VJP_OPS)
@given(data=st.data())
def test_every_lowered_vjp_gives_the_textbook_bits(name, dtype, data):
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample
    xs = [Tensor(x.astype(dtype), requires_grad=True) for x in inputs]
    with fast.disabled():  # the node as the textbook forward made it
        y = fn(*xs)
    g = Tensor(np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype))
    node, cls = y._ctx, type(y._ctx)
    for i, needed in enumerate(node.needs_input_grad):
        if needed:
            with tg.no_grad():
                textbook = cls.vjp(node, i, g, y)
                lowered = engine.LOWERED_VJPS[cls](node, i, g, y)
            assert _same_bits(lowered.data, textbook.data), f"{name} input {i}: {sample.params}"


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", LOWERED_FORWARD_OPS)
@given(data=st.data())
def test_every_lowered_forward_gives_the_textbook_bits(name, dtype, data):
    """Forwards (also of -0.0, Inf and NaN entries for the elementwise ones), and the VJP that
    uses what the lowered forward kept on the node."""
    sample = data.draw(OP_CASES[name].strategy, label=name)
    fn, inputs = sample
    arrays = [x.astype(dtype) for x in inputs]
    if name == "relu":
        arrays[0].reshape(-1)[: 4] = [-0.0, np.inf, -np.inf, np.nan][: arrays[0].size]
    with fast.disabled():
        a = [Tensor(x, requires_grad=True) for x in arrays]
        textbook = fn(*a)
    b = [Tensor(x, requires_grad=True) for x in arrays]
    lowered = fn(*b)
    assert _same_bits(lowered.data, textbook.data)
    g = np.random.default_rng(2).standard_normal(textbook.shape).astype(textbook.dtype)
    with np.errstate(invalid="ignore"):
        with fast.disabled():
            textbook.backward(g)
        lowered.backward(g)
    for x, z in zip(a, b):
        assert _same_bits(z.grad.data, x.grad.data)


def test_the_lowered_relu_of_a_0d_input_gives_a_0d_array():
    """NumPy returns scalars for 0-d inputs; ``.data`` is always an ndarray, on both paths."""
    assert "relu" in LOWERED_FORWARD_OPS
    x = Tensor(np.float32(-1.5), requires_grad=True)
    y = x.relu()
    assert type(y.data) is np.ndarray and y.shape == () and y.dtype == np.float32
    y.backward()
    assert type(x.grad.data) is np.ndarray and x.grad.shape == () and x.grad.item() == 0.0


def test_cross_entropy_direction_kept_by_the_forward_is_the_textbook_one():
    z = Tensor(np.random.default_rng(0).standard_normal((37, 10)).astype(np.float32), requires_grad=True)
    labels = np.arange(37) % 10
    loss = F.cross_entropy(z, labels)
    assert "direction_" in vars(loss._ctx)  # the lowered forward kept it
    with fast.disabled():
        z2 = Tensor(z.data, requires_grad=True)
        ref = F.cross_entropy(z2, labels)
        assert "direction_" not in vars(ref._ctx)
        ref.backward()
    loss.backward()
    assert _same_bits(loss.data, ref.data) and _same_bits(z.grad.data, z2.grad.data)


# ----------------------------------------------------------------------------- fused Linear + activation
@pytest.fixture(autouse=True)
def _fast_on():
    """These tests compare the layer with the textbook engine: on, whatever TINYGRAD_NP_FAST says."""
    with fast.switched(True):
        yield


@pytest.mark.parametrize("act", [nn.ReLU, nn.Tanh, nn.Sigmoid])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequential_fuses_linear_and_activation_with_the_same_values_and_gradients(act, dtype):
    rng = np.random.default_rng(3)
    seq = nn.Sequential(nn.Linear(5, 7, dtype=dtype, rng=0), act(), nn.Dropout(0.0),
                        nn.Linear(7, 4, dtype=dtype, rng=1), act(), nn.Linear(4, 3, dtype=dtype, rng=2))
    x, g = rng.standard_normal((6, 5)).astype(dtype), rng.standard_normal((6, 3)).astype(dtype)
    fused = seq(tg.Tensor(x))
    assert [m.op_name for m in _graph_ops(fused)] == ["linear_act", "linear_act", "linear"]  # act fused in
    assert [m.name for m in _graph_ops(fused)] == [f"Linear+{act.__name__}", f"Linear+{act.__name__}", "Linear"]
    fused.backward(g)
    grads = [p.grad.data.copy() for p in seq.parameters()]
    seq.zero_grad()
    with fast.disabled():  # the textbook engine: each module on its own, two ops per layer
        h = seq(tg.Tensor(x))
    name = act.__name__.lower()
    assert [m.op_name for m in _graph_ops(h)] == ["linear", name, "linear", name, "linear"]
    assert _same_bits(fused.data, h.data)
    with fast.disabled():
        h.backward(g)
    for fused_grad, p in zip(grads, seq.parameters()):
        assert fused_grad.dtype == dtype
        assert _same_bits(fused_grad, p.grad.data)  # the same arithmetic, to the last bit


def _graph_ops(t):
    """The op nodes on the chain from ``t`` back to the input (first input of each node)."""
    ops = []
    while t.grad_fn is not None:
        ops.append(t.grad_fn)
        t = t.grad_fn.inputs[0]
    return ops[::-1]


def test_only_exact_layer_types_are_fused():
    class ShiftedReLU(nn.ReLU):  # a subclass with its own forward must run its own forward
        def forward(self, x):
            return super().forward(x) + 1.0

    seq = nn.Sequential(nn.Linear(3, 2, rng=0), ShiftedReLU())
    x = tg.Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    expected = np.maximum(x.data @ seq[0].weight.data + seq[0].bias.data, 0) + 1.0
    np.testing.assert_allclose(seq(x).data, expected, rtol=1e-6)
    assert seq(x).grad_fn.op_name == "add"


def test_fused_relu_kink_uses_the_documented_subgradient():
    """At a pre-activation of exactly 0 the fused op uses ReLU'(0) = 0, as the ReLU op does."""
    lin = nn.Linear(2, 2, dtype=np.float64, rng=0)
    lin.weight.copy_(0.0)
    lin.bias.copy_([0.0, 1.0])  # column 0 sits on the kink, column 1 is in the linear part
    out = nn.Sequential(lin, nn.ReLU())(tg.Tensor(np.ones((3, 2))))
    assert out.grad_fn.op_name == "linear_act"
    g = np.arange(1.0, 7.0).reshape(3, 2)
    out.backward(g)
    np.testing.assert_array_equal(lin.bias.grad.data, [0.0, g[:, 1].sum()])
    np.testing.assert_array_equal(lin.weight.grad.data, [[0.0, g[:, 1].sum()], [0.0, g[:, 1].sum()]])


def test_linear_act_rejects_an_unknown_activation():
    with pytest.raises(ValueError, match="linear_act: activation must be one of"):
        Tensor.apply("linear_act", tg.Tensor(np.ones((2, 3))), tg.Tensor(np.ones((3, 2))), activation="gelu")


# ----------------------------------------------------------------------------- whole runs and the switch
def _train(make_opt, steps: int = 6) -> list[np.ndarray]:
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(12, 9, rng=0), nn.ReLU(), nn.Linear(9, 7, rng=1), nn.Tanh(), nn.Linear(7, 4, rng=2))
    opt = make_opt(model.parameters())
    for _ in range(steps):
        x = rng.standard_normal((16, 12)).astype(np.float32)
        y = rng.integers(0, 4, 16)
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
    return [p.data.copy() for p in model.parameters()]


@pytest.mark.parametrize("make_opt", [
    lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3),
    lambda ps: optim.Adam(ps, lr=1e-2, amsgrad=True),
    lambda ps: optim.AdamW(ps, lr=1e-2),
], ids=["sgd-nesterov", "adam-amsgrad", "adamw"])
def test_training_with_the_fast_layer_off_ends_with_the_same_bits(make_opt):
    on = _train(make_opt)
    with fast.disabled():
        assert not fast.enabled()
        off = _train(make_opt)
    assert fast.enabled()
    assert all(_same_bits(a, b) for a, b in zip(on, off))


def test_the_environment_switch_turns_the_layer_off_in_a_new_process():
    code = ("import tinygrad_np as tg; from tinygrad_np import nn; m = nn.Sequential(nn.Linear(2, 2), nn.ReLU()); "
            "print(tg.fast.enabled(), m(tg.ones(1, 2)).grad_fn.op_name)")
    env = dict(os.environ, TINYGRAD_NP_FAST="0")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "relu"]


def test_the_switch_is_per_thread():
    import threading

    seen = []
    with fast.disabled():
        t = threading.Thread(target=lambda: seen.append(fast.enabled()))
        t.start()
        t.join()
        assert not fast.enabled()
    default = os.environ.get("TINYGRAD_NP_FAST", "1") != "0"
    assert seen == [default]  # a new thread starts with the process's setting, not this thread's
