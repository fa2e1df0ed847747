"""``tg.compile``: a compiled step computes exactly what the eager step does, allocates nothing
when replayed, and refuses what it cannot replay.

Every comparison is bit for bit (``np.array_equal`` on the values, dtypes equal): a compiled step
runs the same NumPy calls as the eager engine's forwards, textbook VJPs and optimizer update, in
the same order, into preallocated buffers. The one exception is ``gemm_accumulate=True``, which
changes the rounding on purpose and is held to a stated bound against a float64 reference.
"""
from __future__ import annotations

import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

import strategies as S
import tinygrad_np as tg
from op_cases import OP_CASES
from tinygrad_np import Tensor, nn
from tinygrad_np.fast.compiler import blas
from tinygrad_np.fast.jit import TraceError
from tinygrad_np.nn import functional as F
from tinygrad_np.optim import SGD, Adam, AdamW

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}


def mlp(sizes, dtype=np.float32, activation="relu", seed=0):
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers += [nn.Linear(a, b, rng=seed + k, dtype=dtype), ACTIVATIONS[activation]()]
    return nn.Sequential(*layers[:-1])


def same(a, b):
    """Bit for bit: equal shapes, dtypes and values (NaN where NaN)."""
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and np.array_equal(a, b, equal_nan=True)


def eager_step(model, opt, x, y):
    opt.zero_grad()
    loss = F.cross_entropy(model(Tensor(x)), y)
    loss.backward()
    opt.step()
    return loss


def batches(rng, sizes, dtype, n_steps, batch):
    for b in [batch] * n_steps + [batch + 1] * 2:  # the last two: another signature
        yield rng.standard_normal((b, sizes[0])).astype(dtype), rng.integers(0, sizes[-1], b)


OPTIMIZERS = {
    "sgd": lambda ps: SGD(ps, lr=0.1),
    "momentum": lambda ps: SGD(ps, lr=0.1, momentum=0.9, dampening=0.1, weight_decay=0.01),
    "nesterov": lambda ps: SGD(ps, lr=0.05, momentum=0.8, nesterov=True),
    "adam": lambda ps: Adam(ps, lr=0.01, weight_decay=0.1),
    "adamw": lambda ps: AdamW(ps, lr=0.01, amsgrad=True),
}


@pytest.mark.parametrize("optimizer", sorted(OPTIMIZERS))
@pytest.mark.parametrize("dtype,activation", [(np.float32, "relu"), (np.float64, "tanh"), (np.float32, "sigmoid")])
def test_compiled_training_is_bit_identical_to_eager(optimizer, dtype, activation):
    """Losses and parameters after every step equal eager ``zero_grad; backward; step`` bit for
    bit, over a change of batch size; the optimizer's state too; float32 stays float32."""
    sizes = [7, 6, 5, 3]
    eager, comp = mlp(sizes, dtype, activation), mlp(sizes, dtype, activation)
    opt_e, opt_c = OPTIMIZERS[optimizer](eager.parameters()), OPTIMIZERS[optimizer](comp.parameters())
    step = tg.compile(lambda x, y: F.cross_entropy(comp(x), y), optimizer=opt_c)
    for x, y in batches(np.random.default_rng(1), sizes, dtype, 4, 5):
        loss_e = eager_step(eager, opt_e, x, y)
        loss_c = step(Tensor(x), y)
        assert same(loss_e.data, loss_c.data) and loss_c.dtype == dtype
        for p, q in zip(eager.parameters(), comp.parameters()):
            assert same(p.data, q.data)
            assert q.grad is None  # not materialised (as after zero_grad)
    state_e, state_c = opt_e.state_dict(), opt_c.state_dict()
    assert state_e.keys() == state_c.keys() and all(same(state_e[k], state_c[k]) for k in state_e)
    assert step.traces == 4  # two per signature: the trace and its check


def test_keep_grads_and_aux_and_a_learning_rate_schedule():
    """keep_grads=True: each parameter's .grad as after backward(); has_aux: the logits; the
    learning rate is read at every step."""
    sizes = [5, 4, 3]
    eager, comp = mlp(sizes), mlp(sizes)
    opt_e, opt_c = SGD(eager.parameters(), lr=0.1, momentum=0.5), SGD(comp.parameters(), lr=0.1, momentum=0.5)

    def loss_and_logits(x, y):
        logits = comp(x)
        return F.cross_entropy(logits, y), logits

    step = tg.compile(loss_and_logits, optimizer=opt_c, has_aux=True, keep_grads=True)
    rng = np.random.default_rng(0)
    for k in range(5):
        x, y = rng.standard_normal((4, 5)).astype(np.float32), rng.integers(0, 3, 4)
        opt_e.lr = opt_c.lr = 0.1 / (k + 1)
        opt_e.zero_grad()
        logits_e = eager(Tensor(x))
        F.cross_entropy(logits_e, y).backward()
        opt_e.step()
        loss_c, logits_c = step(Tensor(x), y)
        assert same(logits_e.data, logits_c.data)
        for p, q in zip(eager.parameters(), comp.parameters()):
            assert same(p.grad.data, q.grad.data) and same(p.data, q.data)


def test_eager_and_compiled_steps_can_take_turns():
    """The update keeps its state in optimizer.state, as step() does: alternating eager and
    compiled steps on one model equals eager steps only."""
    sizes = [4, 5, 2]
    a, b = mlp(sizes), mlp(sizes)
    opt_a, opt_b = Adam(a.parameters(), lr=0.05), Adam(b.parameters(), lr=0.05)
    step = tg.compile(lambda x, y: F.cross_entropy(b(x), y), optimizer=opt_b)
    rng = np.random.default_rng(2)
    for k in range(6):
        x, y = rng.standard_normal((3, 4)).astype(np.float32), rng.integers(0, 2, 3)
        eager_step(a, opt_a, x, y)
        if k % 2:
            eager_step(b, opt_b, x, y)
        else:
            step(Tensor(x), y)
    for p, q in zip(a.parameters(), b.parameters()):
        assert same(p.data, q.data)


def test_an_unknown_optimizer_runs_its_own_step():
    """A subclass with its own rule is not fused: the gradients are handed over as .grad and its
    step() runs (the same result as eager)."""

    class SignSGD(SGD):
        def _update(self, i, p, g, state):
            p -= np.sign(g) * self.lr

    sizes = [3, 4, 2]
    a, b = mlp(sizes), mlp(sizes)
    opt_a, opt_b = SignSGD(a.parameters(), lr=0.1), SignSGD(b.parameters(), lr=0.1)
    step = tg.compile(lambda x, y: F.cross_entropy(b(x), y), optimizer=opt_b)
    rng = np.random.default_rng(3)
    for _ in range(4):
        x, y = rng.standard_normal((5, 3)).astype(np.float32), rng.integers(0, 2, 5)
        eager_step(a, opt_a, x, y)
        step(Tensor(x), y)
    assert "SignSGD.step()" in str(step.plan)
    for p, q in zip(a.parameters(), b.parameters()):
        assert same(p.data, q.data)


# ----------------------------------------------------------------------------- any graph of registry ops
@given(S.expression_graphs(), st.data())
def test_random_expression_graphs_compile_exactly(graph, data):
    """Random DAGs (shared leaves: accumulation; broadcasting: un-broadcasting; keepdims
    reductions): the leaves are parameters, a random upstream gradient comes in as the argument.
    Three SGD steps: the losses, gradients (keep_grads) and parameters equal eager's."""
    params_e = [Tensor(x, requires_grad=True) for x in graph.leaves]
    params_c = [Tensor(x.copy(), requires_grad=True) for x in graph.leaves]
    opt_e, opt_c = SGD(params_e, lr=0.1), SGD(params_c, lr=0.1)
    step = tg.compile(lambda up: (graph.fn(*params_c) * up).sum(), optimizer=opt_c, keep_grads=True)
    out_shape = graph.fn(*[Tensor(x) for x in graph.leaves]).shape
    for _ in range(3):
        up = data.draw(S.arrays(out_shape, S.floats(-2, 2)))
        opt_e.zero_grad()
        loss_e = (graph.fn(*params_e) * Tensor(up)).sum()
        loss_e.backward()
        opt_e.step()
        loss_c = step(Tensor(up))
        assert same(loss_e.data, loss_c.data)
        for p, q in zip(params_e, params_c):
            assert (p.grad is None) == (q.grad is None)
            assert p.grad is None or same(p.grad.data, q.grad.data)
            assert same(p.data, q.data)


@settings(max_examples=60)
@given(st.sampled_from(sorted(OP_CASES)).flatmap(lambda name: OP_CASES[name].strategy), st.data())
def test_every_registry_op_compiles_exactly(sample, data):
    """Each op of the registry, as drawn by its ``OpCase``, inside a compiled SGD step: the loss
    (a random projection of the op's output) and the updated inputs equal eager's bit for bit."""
    fn, inputs = sample
    out = np.asarray(fn(*[Tensor(x) for x in inputs]).data)
    up = data.draw(S.arrays(out.shape, S.floats(-2, 2)))

    def loss(ps, u):  # (a comparison or argmax has no gradient: its value is compared, ps[0] still trains)
        y = fn(*ps)
        return (y.astype(np.float64) * u).sum() + (ps[0] * 0.5).sum() if y.dtype.kind != "f" else (y * u).sum()

    ps_e = [Tensor(x, requires_grad=True) for x in inputs]
    ps_c = [Tensor(x.copy(), requires_grad=True) for x in inputs]
    opt_e, opt_c = SGD(ps_e, lr=0.1), SGD(ps_c, lr=0.1)
    step = tg.compile(lambda u: loss(ps_c, u), optimizer=opt_c)
    for _ in range(2):
        opt_e.zero_grad()
        loss_e = loss(ps_e, Tensor(up))
        loss_e.backward()
        opt_e.step()
        loss_c = step(Tensor(up))
        assert same(loss_e.data, loss_c.data)
        for p, q in zip(ps_e, ps_c):
            assert same(p.data, q.data)


# ----------------------------------------------------------------------------- allocation
def test_a_replayed_step_allocates_nothing_beyond_its_outputs():
    """After the plan is made, a step of the 784-128-64-10 MLP allocates (tracemalloc: every
    NumPy and Python allocation, at its peak) no array but its returned loss: only NumPy's
    per-call iterator structures come and go (about a kilobyte), against 200 KiB of input per
    batch and the ~300 KiB of arrays an eager step allocates (measured below)."""
    model = mlp([784, 128, 64, 10])
    opt = SGD(model.parameters(), lr=0.05)
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y), optimizer=opt)
    rng = np.random.default_rng(0)
    x = Tensor(rng.random((64, 784), dtype=np.float32))
    y = rng.integers(0, 10, 64)
    for _ in range(3):
        step(x, y)
    tracemalloc.start()
    try:
        step(x, y)
        tracemalloc.reset_peak()
        before = tracemalloc.get_traced_memory()[0]
        loss = step(x, y)
        current, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak - before < 4096, peak - before
    assert current - before < 1024  # what is kept: the loss Tensor
    assert np.isfinite(loss.item())
    tracemalloc.start()
    try:
        opt.zero_grad()
        F.cross_entropy(model(x), y).backward()
        opt.step()
        eager_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert eager_peak > 50 * (peak - before)
