"""``jit.traced_step``: a traced and replayed step computes exactly what the eager one does.

Every comparison is bit for bit (``np.array_equal``): a replay runs the same op forwards and the
same VJPs in the same order as the eager engine, so not even rounding may differ.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

import strategies as S
import tinygrad_np as tg
from mnist.model import MLP
from tinygrad_np import Tensor, nn
from tinygrad_np import Function
from tinygrad_np.fast.jit import TraceError, traced_step
from tinygrad_np.optim import SGD


def assert_same_tensors(a, b):
    assert (a is None) == (b is None)
    if a is not None:
        assert a.dtype == b.dtype and a.shape == b.shape
        assert np.array_equal(a.data, b.data)


def twin_models(sizes, dtype, seed=0, activation="relu"):
    return tuple(MLP(sizes, activation, rng=seed, dtype=dtype) for _ in range(2))


@given(sizes=st.lists(st.integers(1, 12), min_size=2, max_size=4).map(lambda s: [6] + s),
       batch=st.integers(1, 9), dtype=st.sampled_from([np.float32, np.float64]),
       activation=st.sampled_from(["relu", "tanh", "sigmoid"]))
def test_traced_training_is_bit_identical_to_eager(sizes, batch, dtype, activation):
    """Several SGD steps (new data each, a last short batch: a second signature) give the same
    losses, gradients and weights; float32 stays float32."""
    sizes = sizes[:-1] + [max(sizes[-1], 2)]
    eager, traced = twin_models(sizes, dtype, activation=activation)
    opt_e, opt_t = SGD(eager.parameters(), lr=0.1), SGD(traced.parameters(), lr=0.1)
    step = traced_step(lambda x, y: traced.loss(x, y))
    rng = np.random.default_rng(1)
    for b in [batch] * 4 + [batch + 1] * 3:
        x = rng.standard_normal((b, 6)).astype(dtype)
        y = rng.integers(0, sizes[-1], b)
        opt_e.zero_grad()
        opt_t.zero_grad()
        loss_e = eager.loss(Tensor(x), y)
        loss_e.backward()
        loss_t = step(Tensor(x), y)
        assert loss_t.dtype == dtype and loss_t.grad_fn is None
        assert np.array_equal(loss_e.data, loss_t.data)
        for p, q in zip(eager.parameters(), traced.parameters()):
            assert q.grad.dtype == dtype
            assert_same_tensors(p.grad, q.grad)
        opt_e.step()
        opt_t.step()
    for p, q in zip(eager.parameters(), traced.parameters()):
        assert np.array_equal(p.data, q.data)
    assert step.traces == 4  # two per signature: the trace and its check


@given(S.expression_graphs(), st.data())
def test_random_expression_graphs_replay_exactly(graph, data):
    """Shared leaves (accumulation), broadcasting (un-broadcast), keepdims reductions: leaf 0 is a
    Tensor argument requiring grad, the others parameters; a random upstream gradient comes in as
    an argument. Three calls on new values of leaf 0, gradients accumulating across calls."""
    params = [Tensor(x, requires_grad=True) for x in graph.leaves[1:]]
    params_t = [Tensor(x.copy(), requires_grad=True) for x in graph.leaves[1:]]

    def loss(x, upstream, ps):
        return (graph.fn(x, *ps) * upstream).sum()

    step = traced_step(lambda x, upstream: loss(x, upstream, params_t))
    shape0 = graph.leaves[0].shape
    out_shape = graph.fn(*[Tensor(x) for x in graph.leaves]).shape
    x_e, x_t = Tensor(graph.leaves[0], requires_grad=True), None
    for _ in range(3):
        value = data.draw(S.arrays(shape0, S.floats(-1.5, 1.5)))
        upstream = data.draw(S.arrays(out_shape, S.floats(-2, 2)))
        x_e = Tensor(value, requires_grad=True)
        x_t = Tensor(value.copy(), requires_grad=True)
        out_e = loss(x_e, Tensor(upstream), params)
        out_e.backward()
        out_t = step(x_t, Tensor(upstream))
        assert np.array_equal(out_e.data, out_t.data)
        assert_same_tensors(x_e.grad, x_t.grad)
        for p, q in zip(params, params_t):
            assert_same_tensors(p.grad, q.grad)


def test_dtype_promotion_casts_the_gradient_back():
    """A float32 parameter times a float64 argument: the loss is float64, the parameter's
    gradient float32 (the engine's cast back), in both."""
    w_e, w_t = Tensor(np.float32([1.5, -2.0]), requires_grad=True), Tensor(np.float32([1.5, -2.0]), requires_grad=True)
    step = traced_step(lambda x: (w_t * x).sum())
    for v in ([0.25, 3.0], [1.0, -1.0], [2.0, 0.5]):
        x = Tensor(np.float64(v))
        (w_e * x).sum().backward()
        out = step(x)
        assert out.dtype == np.float64
        assert w_t.grad.dtype == np.float32
        assert_same_tensors(w_e.grad, w_t.grad)


def replayed_mlp_step():
    """A small MLP's traced step, called three times on one batch: (model, step, x, y)."""
    model = MLP([4, 3, 2], rng=0)
    step = traced_step(lambda x, y: model.loss(x, y))
    x, y = Tensor(np.ones((5, 4), np.float32)), np.array([0, 1, 0, 1, 1])
    for _ in range(3):
        step(x, y)
    return model, step, x, y


def test_a_new_signature_traces_again_and_a_frozen_parameter_gets_no_gradient():
    model, step, x, y = replayed_mlp_step()
    assert step.traces == 2
    step(Tensor(np.ones((3, 4), np.float32)), y[:3])  # another batch size
    assert step.traces == 3
    x_grad = Tensor(np.ones((5, 4), np.float32), requires_grad=True)  # the input's gradient wanted too
    step(x_grad, y)
    assert step.traces == 4 and x_grad.grad is not None and x_grad.grad.shape == (5, 4)
    first = model.param_list()[0]
    first.requires_grad = False
    first.grad = None
    step(x, y)
    assert step.traces == 5 and first.grad is None  # as eager: no gradient for a frozen parameter
    assert model.param_list()[1].grad is not None


def test_a_constant_that_changes_between_calls_raises_at_the_second_call():
    """Dropout draws its mask with NumPy inside the function: a plan would freeze it."""
    layer, drop = nn.Linear(4, 3, rng=0), nn.Dropout(0.5, rng=0)
    step = traced_step(lambda x: drop(layer(x)).sum())
    x = Tensor(np.ones((6, 4), np.float32))
    step(x)
    with pytest.raises(TraceError, match=r"op \d+ \(Mul\) has a constant input of shape \(6, 3\) that changed"):
        step(x)


def test_labels_and_inputs_passed_as_views_of_a_larger_array_are_arguments_not_constants():
    """Slices ``X[k:k+n]`` (views sharing the dataset's memory) feed a plan like fresh arrays do."""
    eager_model, traced_model = twin_models([4, 5, 3], np.float64)
    step = traced_step(traced_model.loss)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((12, 4)), rng.integers(0, 3, 12)
    for k in range(0, 12, 3):
        xb, yb = X[k:k + 3], Y[k:k + 3]
        assert yb.base is Y  # a view
        loss = step(Tensor(xb), yb)
        eager = eager_model.loss(Tensor(xb), yb)
        eager.backward()
        assert np.array_equal(loss.data, eager.data)
        for p, q in zip(traced_model.param_list(), eager_model.param_list()):
            assert_same_tensors(p.grad, q.grad)
    assert step.traces == 2


def test_labels_converted_inside_the_function_are_caught():
    """``y.astype(...)`` makes a new array from an argument's values: frozen, so the second call
    (other labels) finds the cross-entropy op's constant input (the labels) changed."""
    model = MLP([4, 3], rng=0)
    step = traced_step(lambda x, y: model.loss(x, y.astype(np.int64)))
    x = Tensor(np.ones((2, 4), np.float32))
    step(x, np.array([0, 1], np.int32))
    with pytest.raises(TraceError, match=r"op \d+ \(CrossEntropy\) has a constant input of shape \(2,\) that changed"):
        step(x, np.array([2, 1], np.int32))
    # the MSE loss builds onehot(y) with NumPy: a constant made from the labels' values
    mse = traced_step(lambda x, y: model.loss(x, y, "mse"))
    mse(x, np.array([0, 1]))
    with pytest.raises(TraceError, match=r"op \d+ \(Sub\) has a constant input of shape \(2, 3\) that changed"):
        mse(x, np.array([2, 1]))


class PositivePart(Function):
    """y = the positive entries of a (a data-dependent shape).   VJP: scatter g back."""

    @staticmethod
    def forward(a):
        return a[a > 0]

    def vjp(self, i, g, y):
        a = self.inputs[0]
        return Tensor.apply("scatter_add", g, index=a.data > 0, shape=a.shape)


def test_an_output_shape_that_depends_on_the_data_raises_at_replay():
    w = Tensor(np.float64([1.0, 2.0, 3.0]), requires_grad=True)
    step = traced_step(lambda x: Tensor.apply(PositivePart, w * x).sum())
    plus = Tensor(np.float64([1.0, 1.0, 1.0]))
    step(plus)
    step(plus)  # the same values twice: the two traces agree
    out = step(plus)  # a replay, through a user Function's VJP
    assert out.item() == 6.0 and np.array_equal(w.grad.data, [3.0, 3.0, 3.0])
    with pytest.raises(TraceError, match=r"op 1 \(PositivePart\) returned shape \(2,\).*\(3,\) float64 when traced"):
        step(Tensor(np.float64([1.0, -1.0, 1.0])))


def test_bad_calls_get_clear_errors():
    w = Tensor(np.float32([1.0, 2.0]), requires_grad=True)
    with tg.no_grad(), pytest.raises(RuntimeError, match="inside no_grad"):
        traced_step(lambda x: (w * x).sum())(Tensor(np.ones(2, np.float32)))
    with pytest.raises(RuntimeError, match="scalar loss"):
        traced_step(lambda x: w * x)(Tensor(np.ones(2, np.float32)))
    with pytest.raises(RuntimeError, match="does not require grad"):
        traced_step(lambda x: (x * 2).sum())(Tensor(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="must return a Tensor"):
        traced_step(lambda x: 1.0)(Tensor(np.ones(2, np.float32)))
    with pytest.raises(TypeError, match="hashable"):
        traced_step(lambda x, opts: (w * x).sum())(Tensor(np.ones(2, np.float32)), [1])


def test_a_hashable_argument_is_part_of_the_signature():
    w = Tensor(np.float64([1.0, 2.0]), requires_grad=True)
    step = traced_step(lambda x, scale: (w * x * scale).sum())
    x = Tensor(np.float64([3.0, 4.0]))
    assert step(x, 2.0).item() == 22.0
    assert step(x, 3.0).item() == 33.0
    assert step.traces == 2 and np.array_equal(w.grad.data, [15.0, 20.0])


def test_the_loss_may_be_a_parameter_itself():
    w = Tensor(np.float32(2.5), requires_grad=True)
    out = traced_step(lambda: w)()
    assert out.item() == 2.5 and w.grad.dtype == np.float32 and w.grad.item() == 1.0


def test_anomaly_mode_runs_the_eager_engine():
    w = Tensor(np.float64([1.0, -1.0]), requires_grad=True)
    step = traced_step(lambda x: (w * x).log().sum())
    with tg.detect_anomaly(), np.errstate(invalid="ignore"), pytest.raises(tg.AnomalyError, match="log"):
        step(Tensor(np.float64([1.0, 1.0])))
    assert step.traces == 0


def test_a_plan_keeps_no_arrays_of_its_arguments_between_calls():
    import gc
    import weakref

    _, step, x, y = replayed_mlp_step()
    arrays = [np.array(x.data), np.array(y)]
    refs = [weakref.ref(a) for a in arrays]
    step(Tensor(arrays[0]), arrays[1])
    del arrays
    gc.collect()
    assert all(r() is None for r in refs)


def test_one_array_passed_twice_is_a_signature_of_its_own():
    """A parameter of an op that is an argument's array is read from that argument at every call;
    with one array passed for two arguments, which one is ambiguous, so aliasing selects the plan."""
    w = Tensor(np.float64([1.0, 2.0, 3.0]), requires_grad=True)
    step = traced_step(lambda labels_a, labels_b: (w[labels_a] * 2 + w[labels_b]).sum())
    same = np.array([0, 1])
    step(same, same)
    step(same, same)
    w.grad = None
    out = step(np.array([0, 0]), np.array([2, 2]))  # a new signature: traced, not replayed on stale wiring
    assert out.item() == 2 * 2 + 6 and np.array_equal(w.grad.data, [4.0, 0.0, 2.0])
    assert step.traces == 3


def test_plans_are_bounded(monkeypatch):
    """A hashable argument that changes every call makes a new signature every call: the number
    of plans kept stays bounded, and every call still computes the right gradient."""
    from tinygrad_np.fast import jit

    monkeypatch.setattr(jit, "MAX_PLANS", 3)
    w = Tensor(np.float64([1.0, 2.0]), requires_grad=True)
    step = traced_step(lambda x, scale: (w * x * scale).sum())
    x = Tensor(np.float64([3.0, 4.0]))
    for k in range(10):
        w.grad = None
        assert step(x, float(k)).item() == 11.0 * k
        assert np.array_equal(w.grad.data, [3.0 * k, 4.0 * k])
    assert len(step._plans) == 3 and step.traces == 10


@given(st.data())
def test_relus_in_every_position_replay_exactly(data):
    """ReLUs after a matmul, after an add that passes one array to two inputs, on a shared tensor:
    traced = eager, bit for bit, over three calls with gradients accumulating."""
    shape = (3, 4)
    w_e = Tensor(data.draw(S.arrays((4, 4), S.floats(-1, 1))), requires_grad=True)
    b_e = Tensor(data.draw(S.arrays((4,), S.floats(-1, 1))), requires_grad=True)
    w_t, b_t = Tensor(w_e.data.copy(), requires_grad=True), Tensor(b_e.data.copy(), requires_grad=True)

    def f(x, w, b):
        h = (x @ w).relu()
        u = h + b  # add: g to both inputs
        v = u.relu() + (h * 2).relu()  # relus behind an add; h used twice
        return (v.relu() * x).sum() + (x @ w).relu().sum()

    step = traced_step(lambda x: f(x, w_t, b_t))
    for _ in range(3):
        x = data.draw(S.off_kink_arrays(shape))
        f(Tensor(x), w_e, b_e).backward()
        out = step(Tensor(x.copy()))
        assert np.array_equal(out.data, f(Tensor(x), w_e, b_e).data)
        assert_same_tensors(w_e.grad, w_t.grad)
        assert_same_tensors(b_e.grad, b_t.grad)


def test_has_aux_returns_the_logits_of_each_call():
    """``has_aux=True`` (as in JAX): fn returns (loss, aux); the step returns both, detached, with
    aux recomputed at every replay, including a tensor only aux depends on (not on the loss's graph)."""
    eager, traced = twin_models([6, 5, 3], np.float64)

    def loss_and_logits(model, x, y):
        logits = model(x)
        return tg.nn.functional.cross_entropy(logits, y), (logits, (logits * logits).sum(axis=1))

    step = traced_step(lambda x, y: loss_and_logits(traced, x, y), has_aux=True)
    rng = np.random.default_rng(2)
    for _ in range(4):
        x, y = rng.standard_normal((4, 6)), rng.integers(0, 3, 4)
        loss_e, (logits_e, norms_e) = loss_and_logits(eager, Tensor(x), y)
        loss_e.backward()
        loss_t, (logits_t, norms_t) = step(Tensor(x), y)
        assert logits_t.grad_fn is None and np.array_equal(logits_t.data, logits_e.data)
        assert np.array_equal(norms_t.data, norms_e.data) and np.array_equal(loss_t.data, loss_e.data)
        for p, q in zip(eager.parameters(), traced.parameters()):
            assert_same_tensors(p.grad, q.grad)
    single = traced_step(lambda x, y: (lambda lo: (tg.nn.functional.cross_entropy(lo, y), lo))(traced(x)),
                         has_aux=True)
    loss, logits = single(Tensor(x), y)
    assert isinstance(logits, Tensor) and logits.shape == (4, 3)
    with pytest.raises(TypeError, match="has_aux=True, fn must return \\(loss, aux\\)"):
        traced_step(lambda x: traced(x).sum(), has_aux=True)(Tensor(x))


def test_anomaly_mode_with_aux_returns_the_pair_eagerly():
    w = Tensor(np.float64([1.0, 2.0]), requires_grad=True)
    step = traced_step(lambda x: ((w * x).sum(), w * x), has_aux=True)
    with tg.detect_anomaly():
        loss, aux = step(Tensor(np.float64([3.0, 4.0])))
    assert loss.item() == 11.0 and np.array_equal(aux.data, [3.0, 8.0]) and aux.grad_fn is None
    assert step.traces == 0 and np.array_equal(w.grad.data, [3.0, 4.0])


def test_ops_that_record_no_node_are_replayed_not_frozen():
    """A comparison (a boolean mask) and an argmax depend on the data: each replay computes them
    again, as eager does, instead of keeping the values of the trace."""
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    w_eager = Tensor(w.data, requires_grad=True)
    step = traced_step(lambda x: (tg.where(x > 0, w * x, 0.0).sum(), x.argmax()), has_aux=True)
    for data in ([1.0, -2.0, 3.0], [-1.0, 2.0, 0.5], [3.0, 1.0, -1.0], [-3.0, 4.0, 2.0]):
        x = Tensor(np.array(data))
        w.grad = w_eager.grad = None
        loss, best = step(x)
        eager = tg.where(x > 0, w_eager * x, 0.0).sum()
        eager.backward()
        assert np.array_equal(loss.data, eager.data) and best.item() == int(np.argmax(data))
        assert_same_tensors(w.grad, w_eager.grad)


def test_a_write_in_place_inside_the_function_is_refused_at_the_trace():
    """Batch norm in training mode updates its running statistics in place: a replay would not."""
    bn = nn.BatchNorm1d(3)
    step = traced_step(lambda x: bn(x).sum())
    with pytest.raises(TraceError, match="wrote into a tensor in place"):
        step(Tensor(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32)))


def test_an_index_computed_inside_the_function_is_refused_at_the_trace():
    """``x[x > 0]`` indexes with a mask computed from the data: a plan would freeze it."""
    w = Tensor(np.array([1.0, 2.0, 3.0]), requires_grad=True)
    step = traced_step(lambda x: (w * x)[x > 0].sum())
    with pytest.raises(TraceError, match="index computed inside fn"):
        step(Tensor(np.array([1.0, -2.0, 3.0])))


def test_a_replay_runs_the_fast_layers_forwards_as_eager_does():
    """The cross-entropy forward of the fast layer keeps its VJP's direction on the node; a replay
    goes through Tensor.apply, so its backward reads it too (and the bits equal eager's)."""
    import tinygrad_np.fast.forwards as forwards
    from tinygrad_np import engine
    calls = []
    original = engine.LOWERED_FORWARDS[forwards.N.CrossEntropy]
    try:
        engine.LOWERED_FORWARDS[forwards.N.CrossEntropy] = lambda *a, **k: calls.append(1) or original(*a, **k)
        with tg.fast.switched(True):  # the fast layer on, whatever TINYGRAD_NP_FAST says
            model = MLP([4, 3], rng=0)
            step = traced_step(model.loss)
            x, y = Tensor(np.ones((2, 4), np.float32)), np.array([0, 2])
            for _ in range(3):
                step(x, y)
    finally:
        engine.LOWERED_FORWARDS[forwards.N.CrossEntropy] = original
    assert len(calls) == step.traces + 3  # the two traces and the three replays, each through it
