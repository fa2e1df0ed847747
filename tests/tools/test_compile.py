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


@pytest.fixture(autouse=True, scope="module")
def fast_layer_on():
    """The compiler is part of the fast layer: these tests run with it on, whatever
    TINYGRAD_NP_FAST says (the test of the switch turns it off itself)."""
    with tg.fast.switched(True):
        yield


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


@pytest.mark.parametrize("n,c", [(3, 2), (40, 10), (20, 40)])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_the_fused_cross_entropy_is_exact(n, c, reduction):
    """The fused forward + VJP (softmax kept, the one-hot subtracted at the labels; short rows
    maxed in a column-major copy) against eager, with extreme and -inf logits in the mix."""
    rng = np.random.default_rng(n + c)
    z0 = (rng.standard_normal((n, c)) * 30).astype(np.float32)
    z0[0, 0] = -np.inf
    za, zb = Tensor(z0, requires_grad=True), Tensor(z0.copy(), requires_grad=True)
    opt_a, opt_b = SGD([za], lr=0.5), SGD([zb], lr=0.5)

    def loss(z, y, up):
        out = F.cross_entropy(z * 1.0, y, reduction=reduction)
        return (out * up).sum() if reduction == "none" else out

    step = tg.compile(lambda y, up: loss(zb, y, up), optimizer=opt_b, keep_grads=True)
    for _ in range(3):
        y, up = rng.integers(0, c, n), Tensor(rng.standard_normal(n).astype(np.float32))
        opt_a.zero_grad()
        loss_a = loss(za, y, up)
        loss_a.backward()
        opt_a.step()
        loss_b = step(y, up)
        assert same(loss_a.data, loss_b.data) and same(za.grad.data, zb.grad.data) and same(za.data, zb.data)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, "):
        step(np.full(n, c), up)


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


# ----------------------------------------------------------------------------- plans, signatures, bindings
def test_a_new_signature_traces_again_and_new_arrays_are_rebound():
    """One plan per signature (traced twice: the trace and its check); a parameter given a new
    array (p.data = ...) or a frozen parameter is followed, as in eager."""
    sizes = [4, 3, 2]
    a, b = mlp(sizes), mlp(sizes)
    opt_a, opt_b = SGD(a.parameters(), lr=0.1), SGD(b.parameters(), lr=0.1)
    step = tg.compile(lambda x, y: F.cross_entropy(b(x), y), optimizer=opt_b)
    rng = np.random.default_rng(4)

    def both(n):
        x, y = rng.standard_normal((n, 4)).astype(np.float32), rng.integers(0, 2, n)
        eager_step(a, opt_a, x, y)
        step(Tensor(x), y)
        for p, q in zip(a.parameters(), b.parameters()):
            assert same(p.data, q.data)

    for n in (5, 5, 5, 3, 3, 5):
        both(n)
    assert step.traces == 4
    w = rng.standard_normal((4, 3)).astype(np.float32)
    a[0].weight.data, b[0].weight.data = w.copy(), w.copy()  # new arrays: rebound, no new trace
    both(5)
    assert step.traces == 4
    a[0].bias.requires_grad_(False)
    b[0].bias.requires_grad_(False)  # a frozen parameter: another program (traced again)
    both(5)
    both(5)
    assert step.traces == 6


def test_leaves_outside_the_optimizer_get_their_gradients_only_with_keep_grads():
    """A leaf requiring grad that the optimizer does not hold is found while tracing; with
    keep_grads its .grad accumulates as after backward(); the optimizer's parameters update."""
    sizes = [3, 4, 2]
    for keep in (False, True):
        a, b = mlp(sizes), mlp(sizes)
        opt_a, opt_b = SGD(a[0].parameters(), lr=0.1), SGD(b[0].parameters(), lr=0.1)
        step = tg.compile(lambda x, y: F.cross_entropy(b(x), y), optimizer=opt_b, keep_grads=keep)
        rng = np.random.default_rng(5)
        for _ in range(3):
            x, y = rng.standard_normal((4, 3)).astype(np.float32), rng.integers(0, 2, 4)
            eager_step(a, opt_a, x, y)
            step(Tensor(x), y)
        for p, q in zip(a.parameters(), b.parameters()):
            assert same(p.data, q.data)
        for p, q in zip(a[2].parameters(), b[2].parameters()):  # not the optimizer's: accumulated
            assert same(p.grad.data, q.grad.data) if keep else q.grad is None


def test_without_an_optimizer_gradients_accumulate_as_after_backward():
    """optimizer=None: step(*args) is loss.backward(); a tuple of aux values comes back as given;
    a Python number among the arguments is part of the signature (a new value: a new plan)."""
    w_e, w_c = Tensor(np.float32([[1.0, -2.0], [0.5, 3.0]]), requires_grad=True), None
    w_c = Tensor(w_e.data.copy(), requires_grad=True)

    def loss(w, x, k):
        h = (x @ w).tanh() * k
        return h.sum(), (h, h.mean())

    step = tg.compile(lambda x, k: loss(w_c, x, k), has_aux=True)
    rng = np.random.default_rng(9)
    for k in (2.0, 2.0, 2.0, 3.0):
        x = Tensor(rng.standard_normal((3, 2)).astype(np.float32))
        (l_e, (h_e, m_e)) = loss(w_e, x, k)
        l_e.backward()
        l_c, (h_c, m_c) = step(x, k)
        assert same(l_e.data, l_c.data) and same(h_e.data, h_c.data) and same(m_e.data, m_c.data)
        assert same(w_e.grad.data, w_c.grad.data)  # accumulated over the calls
    assert step.traces == 4  # the first finds w (no optimizer names it), then 2 for k = 2.0, 1 for k = 3.0


def test_with_the_fast_layer_off_the_step_runs_eagerly():
    sizes = [3, 4, 2]
    a, b = mlp(sizes), mlp(sizes)
    opt_a, opt_b = SGD(a.parameters(), lr=0.1, momentum=0.9), SGD(b.parameters(), lr=0.1, momentum=0.9)
    step = tg.compile(lambda x, y: F.cross_entropy(b(x), y), optimizer=opt_b)
    rng = np.random.default_rng(6)
    for k in range(4):
        x, y = rng.standard_normal((4, 3)).astype(np.float32), rng.integers(0, 2, 4)
        eager_step(a, opt_a, x, y)
        with tg.fast.switched(k % 2 == 0):
            step(Tensor(x), y)
    assert step.traces == 2
    for p, q in zip(a.parameters(), b.parameters()):
        assert same(p.data, q.data) and q.grad is None


# ----------------------------------------------------------------------------- what cannot be compiled
def small_problem():
    w = Tensor(np.float32([[0.5, -1.0], [2.0, 0.25]]), requires_grad=True)
    return w, SGD([w], lr=0.1), Tensor(np.float32([[1.0, 2.0], [-1.0, 0.5], [0.0, 3.0]]))


def test_data_dependent_shapes_raise():
    """A boolean mask that is an argument: the number of rows it picks is the data's."""
    w, opt, x = small_problem()
    step = tg.compile(lambda x, m: (x[m] @ w).sum(), optimizer=opt)
    step(x, np.array([True, False, True]))
    step(x, np.array([False, True, True]))  # the same count: the trace agrees
    with pytest.raises(TraceError, match="output shape depends on the data"):
        step(x, np.array([True, True, True]))
    step2 = tg.compile(lambda x, m: (x[m] @ w).sum(), optimizer=opt)
    step2(x, np.array([True, False, True]))
    with pytest.raises(TraceError, match="output shape depends on the data"):
        step2(x, np.array([True, False, False]))  # (caught by the second trace)


def test_python_control_flow_on_values_raises():
    w, opt, x = small_problem()
    step = tg.compile(lambda x: (x @ w).sum() if (x @ w).sum() > 0 else (x @ w).mean(), optimizer=opt)
    with pytest.raises(TraceError, match="Python control flow"):
        step(x)
    step = tg.compile(lambda x: (x @ w).sum() * (x @ w).sum().item(), optimizer=opt)
    with pytest.raises(TraceError, match=r"\.item\(\)"):
        step(x)
    # the same decision taken with NumPy on the values: caught by the second trace
    step = tg.compile(lambda x: (x @ w).sum() if x.numpy().sum() > 0 else (x @ w).max(), optimizer=opt)
    step(x)
    with pytest.raises(TraceError, match="changed between two calls"):
        step(-x)


def test_a_constant_computed_with_numpy_that_changes_raises():
    w, opt, x = small_problem()
    rng = np.random.default_rng(0)
    step = tg.compile(lambda x: ((x @ w) * Tensor(rng.random((3, 2)) > 0.5)).sum(), optimizer=opt)
    step(x)
    with pytest.raises(TraceError, match="constant of shape \\(3, 2\\) that changed"):
        step(x)


def test_a_numpy_view_of_a_traced_value_raises():
    w, opt, x = small_problem()
    step = tg.compile(lambda x: (Tensor(x.numpy()[:2]) @ w).sum(), optimizer=opt)
    with pytest.raises(TraceError, match="NumPy view of argument 0"):
        step(x)


def test_hooks_anomaly_mode_and_watchers_raise():
    w, opt, x = small_problem()
    step = tg.compile(lambda x: (x @ w).sum(), optimizer=opt)
    w.register_hook(lambda g: g * 2)
    with pytest.raises(TraceError, match="has a hook"):
        step(x)
    w._hooks = None

    def with_hook(x):
        h = x @ w
        h.register_hook(lambda g: g)
        return h.sum()

    with pytest.raises(TraceError, match="hook"):
        tg.compile(with_hook, optimizer=opt)(x)
    with pytest.raises(TraceError, match="detect_anomaly"):
        with tg.detect_anomaly():
            step(x)
    with pytest.raises(TraceError, match="watch_gradients"):
        with tg.watch_gradients(lambda event: None):
            step(x)


def test_arguments_requiring_grad_and_no_grad_are_refused():
    w, opt, x = small_problem()
    step = tg.compile(lambda x: (x @ w).sum(), optimizer=opt)
    with pytest.raises(TraceError, match="argument 0 requires grad"):
        step(Tensor(x.data, requires_grad=True))
    with pytest.raises(RuntimeError, match="inside no_grad"):
        with tg.no_grad():
            step(x)


# ----------------------------------------------------------------------------- gemm_accumulate
U = {np.float32: 2.0 ** -24, np.float64: 2.0 ** -53}


def accumulate_problem(dtype, route, monkeypatch, gemm=True):
    """One step of a dense layer whose cotangent is an argument c: W̄ = xᵀc and b̄ = 1ᵀc exactly,
    so the exact update of the float32 inputs is known in float64."""
    if route is not None:
        monkeypatch.setenv("TINYGRAD_NP_BLAS", route)
    rng = np.random.default_rng(7)
    lin = nn.Linear(30, 20, rng=0, dtype=dtype)
    lin.bias.data = rng.standard_normal(20).astype(dtype)
    opt = SGD(lin.parameters(), lr=0.3)
    w0, b0 = lin.weight.data.copy(), lin.bias.data.copy()
    x, c = rng.standard_normal((64, 30)).astype(dtype), rng.standard_normal((64, 20)).astype(dtype)
    step = tg.compile(lambda x, c: (lin(x) * c).sum(), optimizer=opt, gemm_accumulate=gemm)
    step(Tensor(x), Tensor(c))
    x64, c64 = x.astype(np.float64), c.astype(np.float64)
    exact_w = w0 - 0.3 * (x64.T @ c64)
    scale_w = np.abs(w0) + 0.3 * (np.abs(x64).T @ np.abs(c64))
    exact_b = b0 - 0.3 * c64.sum(axis=0)
    scale_b = np.abs(b0) + 0.3 * np.abs(c64).sum(axis=0)
    return step, lin, (exact_w, scale_w), (exact_b, scale_b)


@pytest.mark.parametrize("route", ["ctypes", "scipy", "numpy"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gemm_accumulate_is_within_its_stated_bound(route, dtype, monkeypatch):
    """Each updated weight within (K + 3)·u·(|w| + η Σₖ|xₖ||cₖ|) of the exact update (K = 64)."""
    if route == "scipy":
        pytest.importorskip("scipy.linalg")
    step, lin, (ew, sw), (eb, sb) = accumulate_problem(dtype, route, monkeypatch)
    bound = (64 + 3) * U[dtype]
    assert lin.weight.dtype == dtype
    assert np.all(np.abs(lin.weight.data - ew) <= bound * sw)
    assert np.all(np.abs(lin.bias.data - eb) <= bound * sb)
    used = blas.make_route(route)
    assert f"via {used.name if used is not None else 'numpy'}" in str(step.plan)


def test_the_default_update_meets_the_same_bound_and_blas_absent_means_the_default_bits(monkeypatch):
    """The default (bit-identical) update is within the bound too; with no BLAS route (scipy
    absent and asked for, or TINYGRAD_NP_BLAS=numpy) gemm_accumulate computes the default's bits."""
    _, ref, (ew, sw), _ = accumulate_problem(np.float32, None, monkeypatch, gemm=False)
    assert np.all(np.abs(ref.weight.data - ew) <= (64 + 3) * U[np.float32] * sw)
    _, lin, _, _ = accumulate_problem(np.float32, "numpy", monkeypatch)
    assert same(lin.weight.data, ref.weight.data) and same(lin.bias.data, ref.bias.data)
    monkeypatch.setitem(__import__("sys").modules, "scipy.linalg", None)  # scipy is not installed
    assert blas.make_route("scipy") is None
    _, lin, _, _ = accumulate_problem(np.float32, "scipy", monkeypatch)
    assert same(lin.weight.data, ref.weight.data) and same(lin.bias.data, ref.bias.data)


def test_gemm_accumulate_trains_an_mlp_and_refuses_momentum():
    model = mlp([6, 8, 3])
    opt = SGD(model.parameters(), lr=0.5)
    step = tg.compile(lambda x, y: F.cross_entropy(model(x), y), optimizer=opt, gemm_accumulate=True)
    rng = np.random.default_rng(8)
    x, y = Tensor(rng.standard_normal((16, 6)).astype(np.float32)), rng.integers(0, 3, 16)
    losses = [step(x, y).item() for _ in range(30)]
    assert losses[-1] < 0.5 * losses[0]
    assert "gradient is never formed" in str(step.plan)
    opt.momentum = 0.9
    with pytest.raises(ValueError, match="needs plain SGD"):
        step(x, y)
    with pytest.raises(ValueError, match="needs plain SGD"):
        tg.compile(lambda x, y: F.cross_entropy(model(x), y), optimizer=opt, gemm_accumulate=True)(x, y)
