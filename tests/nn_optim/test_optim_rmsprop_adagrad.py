"""RMSprop and Adagrad: the update rules against hand-written references and torch.optim (float64,
several steps), in-place float32 updates, state dicts through .npz without pickle, validation."""
from __future__ import annotations

import io

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import nn, optim

SHAPES = [(3, 4), (4,)]
STEPS = 6


# ----------------------------------------------------------------------------- hand-written references
def ref_rmsprop(p, grads, lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False):
    """RMSprop written out: v the mean square, m the mean (centered), b the momentum buffer."""
    p, v, m, b, out = p.copy(), 0.0, 0.0, 0.0, []
    for g in grads:
        d = g + weight_decay * p
        v = alpha * v + (1 - alpha) * d * d
        m = alpha * m + (1 - alpha) * d
        s = np.sqrt(v - m * m if centered else v) + eps
        if momentum > 0:
            b = momentum * b + d / s
            p = p - lr * b
        else:
            p = p - lr * d / s
        out.append(p)
    return out


def ref_adagrad(p, grads, lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10):
    """Adagrad written out: the step size decays as lr / (1 + (t - 1) lr_decay)."""
    p, total, out = p.copy(), initial_accumulator_value, []
    for t, g in enumerate(grads, start=1):
        d = g + weight_decay * p
        total = total + d * d
        p = p - lr / (1 + (t - 1) * lr_decay) * d / (np.sqrt(total) + eps)
        out.append(p)
    return out


CONFIGS = [
    (optim.RMSprop, dict(lr=0.01), ref_rmsprop),
    (optim.RMSprop, dict(lr=0.02, alpha=0.9, eps=1e-6), ref_rmsprop),
    (optim.RMSprop, dict(lr=0.01, weight_decay=0.1), ref_rmsprop),
    (optim.RMSprop, dict(lr=0.01, momentum=0.9), ref_rmsprop),
    (optim.RMSprop, dict(lr=0.01, centered=True), ref_rmsprop),
    (optim.RMSprop, dict(lr=0.01, alpha=0.3, centered=True), ref_rmsprop),  # torch's lerp from the other end
    (optim.RMSprop, dict(lr=0.005, alpha=0.8, momentum=0.5, centered=True, weight_decay=0.05), ref_rmsprop),
    (optim.Adagrad, dict(lr=0.1), ref_adagrad),
    (optim.Adagrad, dict(lr=0.1, lr_decay=0.3), ref_adagrad),
    (optim.Adagrad, dict(lr=0.1, weight_decay=0.2), ref_adagrad),
    (optim.Adagrad, dict(lr=0.1, initial_accumulator_value=0.5, eps=1e-6), ref_adagrad),
    (optim.Adagrad, dict(lr=0.2, lr_decay=0.1, weight_decay=0.05, initial_accumulator_value=0.1), ref_adagrad),
]
IDS = [f"{c.__name__}-{'-'.join(f'{k}={v}' for k, v in kw.items())}" for c, kw, _ in CONFIGS]


def random_problem(dtype=np.float64, seed=0):
    rng = np.random.default_rng(seed)
    init = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    grads = [[rng.standard_normal(s).astype(dtype) for s in SHAPES] for _ in range(STEPS)]
    return init, grads


def run(cls, kw, init, grads):
    params = [nn.Parameter(a.copy()) for a in init]
    opt = cls(params, **kw)
    history = []
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = tg.Tensor(g)
        opt.step()
        history.append([p.data.copy() for p in params])
    return params, opt, history


# ----------------------------------------------------------------------------- update rules
@pytest.mark.parametrize("cls, kw, ref", CONFIGS, ids=IDS)
def test_update_matches_hand_computed_reference(cls, kw, ref):
    init, grads = random_problem()
    _, _, history = run(cls, kw, init, grads)
    for k in range(len(SHAPES)):
        for step, expected in enumerate(ref(init[k], [g[k] for g in grads], **kw)):
            np.testing.assert_allclose(history[step][k], expected, rtol=1e-12, atol=1e-14,
                                       err_msg=f"param {k}, step {step + 1}")


def test_configurations_are_not_trivially_equal():
    """Each hyperparameter changes the trajectory, so the test above would see it dropped."""
    init, grads = random_problem()
    finals = [run(c, kw, init, grads)[2][-1][0] for c, kw, _ in CONFIGS]
    for i in range(len(finals)):
        for j in range(i):
            assert not np.allclose(finals[i], finals[j], rtol=1e-6), (IDS[i], IDS[j])


@pytest.mark.parametrize("cls, kw, ref", CONFIGS, ids=IDS)
def test_matches_torch_on_a_quadratic(cls, kw, ref):
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(1)
    p0, c, a = rng.standard_normal(6), rng.standard_normal(6), rng.uniform(0.5, 2.0, 6)
    p = nn.Parameter(p0.copy())
    opt = cls([p], **kw)
    tp = torch.tensor(p0.copy(), requires_grad=True)
    topt = getattr(torch.optim, cls.__name__)([tp], **kw)
    tc, ta = torch.tensor(c), torch.tensor(a)
    for step in range(2 * STEPS):
        opt.zero_grad()
        loss = (tg.Tensor(a) * (p - c) * (p - c)).sum() * 0.5  # f(p) = ½ Σ a (p - c)²
        loss.backward()
        opt.step()
        topt.zero_grad()
        (0.5 * (ta * (tp - tc) ** 2).sum()).backward()
        topt.step()
        np.testing.assert_allclose(p.data, tp.detach().numpy(), rtol=1e-10, atol=1e-13, err_msg=f"step {step + 1}")


# ----------------------------------------------------------------------------- in-place discipline
@pytest.mark.parametrize("cls, kw, ref", CONFIGS, ids=IDS)
def test_updates_in_place_keep_identity_and_float32(cls, kw, ref):
    init, grads = random_problem(np.float32)
    params = [nn.Parameter(a.copy()) for a in init]
    arrays = [p._data for p in params]
    opt = cls(params, **kw)
    opt.lr = np.float64(kw["lr"])  # a NumPy scalar from a schedule must not leak into the updates
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = tg.Tensor(g)
        opt.step()
    for k, (p, arr) in enumerate(zip(params, arrays)):
        assert p._data is arr and p.dtype == np.float32 and p.is_leaf
        expected = ref(init[k].astype(np.float64), [g[k].astype(np.float64) for g in grads], **kw)[-1]
        np.testing.assert_allclose(p.data, expected, rtol=2e-5, atol=2e-6)
    for st in opt.state:
        for name, buf in st.items():
            assert buf.dtype == (np.int64 if name == "step" else np.float32), name


@pytest.mark.parametrize("cls, kw, ref", CONFIGS, ids=IDS)
def test_gradients_are_never_written(cls, kw, ref):
    rng = np.random.default_rng(2)
    a0, b0, g = rng.standard_normal(5), rng.standard_normal(5), rng.standard_normal(5)
    a, b = nn.Parameter(a0.copy()), nn.Parameter(b0.copy())
    opt = cls([a, b], **kw)
    shared = tg.Tensor(g.copy())
    for _ in range(3):
        a.grad = b.grad = shared
        opt.step()
    np.testing.assert_array_equal(shared.data, g)
    np.testing.assert_allclose(a.data, ref(a0, [g] * 3, **kw)[-1], rtol=1e-12)
    np.testing.assert_allclose(b.data, ref(b0, [g] * 3, **kw)[-1], rtol=1e-12)


def test_adagrad_decays_each_parameters_step_by_its_own_count():
    """A parameter without a gradient is skipped, and its lr decay starts at its first update."""
    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = [rng.standard_normal(3) for _ in range(3)], rng.standard_normal(3)
    a, b = nn.Parameter(a0.copy()), nn.Parameter(b0.copy())
    opt = optim.Adagrad([a, b], lr=0.1, lr_decay=0.5)
    for k in range(3):
        a.grad = tg.Tensor(ga[k])
        b.grad = tg.Tensor(gb) if k == 2 else None
        opt.step()
    assert int(opt.state[0]["step"]) == 3 and int(opt.state[1]["step"]) == 1
    np.testing.assert_allclose(a.data, ref_adagrad(a0, ga, lr=0.1, lr_decay=0.5)[-1], rtol=1e-12)
    np.testing.assert_allclose(b.data, ref_adagrad(b0, [gb], lr=0.1, lr_decay=0.5)[-1], rtol=1e-12)


# ----------------------------------------------------------------------------- state dicts
def through_npz(state):
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def make_model():
    return nn.Sequential(nn.Linear(3, 5, rng=0), nn.Tanh(), nn.Linear(5, 2, rng=1))


def train_steps(model, opt, n, seed):
    rng = np.random.default_rng(seed)
    for _ in range(n):
        x, y = rng.standard_normal((6, 3)).astype(np.float32), rng.integers(0, 2, 6)
        opt.zero_grad()
        nn.functional.cross_entropy(model(x), y).backward()
        opt.step()


@pytest.mark.parametrize("cls, kw, ref", CONFIGS, ids=IDS)
def test_state_dict_round_trip_resumes_identically(cls, kw, ref):
    model = make_model()
    opt = cls(model.parameters(), **kw)
    train_steps(model, opt, 3, seed=0)
    opt_state, model_state = through_npz(opt.state_dict()), through_npz(model.state_dict())
    assert all(type(v) is np.ndarray for v in opt.state_dict().values())
    train_steps(model, opt, 3, seed=1)

    fresh = make_model()
    fresh.load_state_dict(model_state)
    fresh_opt = cls(fresh.parameters(), lr=123.0)  # lr and the hyperparameters come from the state dict
    fresh_opt.load_state_dict(opt_state)
    assert fresh_opt.lr == kw["lr"] and fresh_opt.step_count == 3
    assert all(getattr(fresh_opt, k) == v for k, v in kw.items())
    train_steps(fresh, fresh_opt, 3, seed=1)
    for (n, a), (_, b) in zip(model.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=n)


def test_state_dict_keys_follow_the_hyperparameters():
    p = nn.Parameter(np.ones(3))
    p.grad = tg.Tensor(np.full(3, 0.5))
    hp = {"lr", "step", "alpha", "eps", "weight_decay", "momentum", "centered"}
    for kw, buffers in [({}, {"square_avg"}), ({"momentum": 0.9}, {"square_avg", "momentum_buffer"}),
                        ({"centered": True}, {"square_avg", "grad_avg"})]:
        opt = optim.RMSprop([p], **kw)
        opt.step()
        assert set(opt.state_dict()) == hp | {f"state.0.{b}" for b in buffers}
    ada = optim.Adagrad([p], initial_accumulator_value=0.25)
    ada.step()
    state = ada.state_dict()
    assert set(state) == {"lr", "step", "lr_decay", "weight_decay", "initial_accumulator_value", "eps",
                          "state.0.step", "state.0.sum"}
    np.testing.assert_array_equal(state["state.0.sum"], np.full(3, 0.25 + 0.25))
    state["state.0.sum"][...] = 99.0  # a copy
    assert not np.any(ada.state[0]["sum"] == 99.0)


def test_load_state_dict_checks_buffers_against_the_flags_and_leaves_the_optimizer_alone_on_error():
    p = nn.Parameter(np.ones(3))
    p.grad = tg.Tensor(np.full(3, 0.5))
    centered = optim.RMSprop([p], centered=True, momentum=0.5)
    centered.step()
    state = centered.state_dict()
    plain = optim.RMSprop([p])
    with pytest.raises(KeyError, match="missing keys.*grad_avg"):
        plain.load_state_dict({k: v for k, v in state.items() if k != "state.0.grad_avg"})
    with pytest.raises(ValueError, match=r"state\.0\.square_avg.*\(4,\).*\(3,\)"):
        plain.load_state_dict(dict(state, **{"state.0.square_avg": np.zeros(4)}))
    with pytest.raises(ValueError, match="RMSprop.load_state_dict: RMSprop: alpha must be in"):
        plain.load_state_dict(dict(state, alpha=np.asarray(1.5)))
    assert plain.alpha == 0.99 and not plain.centered and plain.state[0] == {}  # untouched
    plain.load_state_dict(state)  # the flags come with their buffers
    assert plain.centered and plain.momentum == 0.5 and set(plain.state[0]) == {"square_avg", "grad_avg",
                                                                                  "momentum_buffer"}
    with pytest.raises(KeyError):  # an RMSprop state is not an Adagrad state
        optim.Adagrad([p]).load_state_dict(state)


@pytest.mark.parametrize("make, pattern", [
    (lambda p: optim.RMSprop([p], alpha=1.5), "RMSprop: alpha must be in"),
    (lambda p: optim.RMSprop([p], alpha=-0.1), "RMSprop: alpha must be in"),
    (lambda p: optim.RMSprop([p], eps=-1.0), "RMSprop: eps, weight_decay and momentum must be >= 0"),
    (lambda p: optim.RMSprop([p], momentum=-0.5), "RMSprop: eps, weight_decay and momentum must be >= 0"),
    (lambda p: optim.RMSprop([p], lr=-1.0), "RMSprop: lr must be a finite number >= 0"),
    (lambda p: optim.Adagrad([p], lr_decay=-0.1), "Adagrad: lr_decay must be >= 0"),
    (lambda p: optim.Adagrad([p], initial_accumulator_value=-1.0), "Adagrad: initial_accumulator_value must be"),
    (lambda p: optim.Adagrad([p], weight_decay=float("nan")), "Adagrad: weight_decay must be >= 0"),
    (lambda p: optim.Adagrad([], lr=0.1), "Adagrad: got an empty parameter list"),
])
def test_hyperparameters_are_validated(make, pattern):
    with pytest.raises(ValueError, match=pattern):
        make(nn.Parameter(np.ones(2)))
