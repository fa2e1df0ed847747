"""Tests for tinygrad_np.optim: update rules, in-place discipline, state dicts, schedules."""
from __future__ import annotations

import io
import math

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import nn, optim

SHAPES = [(3, 4), (4,)]
STEPS = 5


# ----------------------------------------------------------------------------- hand-written references
def ref_sgd(p, grads, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0):
    """PyTorch SGD, written out: the parameter after each step."""
    p, buf, out = p.copy(), None, []
    for g in grads:
        d = g + weight_decay * p
        if momentum:
            buf = d.copy() if buf is None else momentum * buf + (1 - dampening) * d
            d = d + momentum * buf if nesterov else buf
        p = p - lr * d
        out.append(p)
    return out


def ref_adam(p, grads, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled=False, amsgrad=False):
    """Textbook Adam with bias-corrected moments m̂ = m/(1-β₁ᵗ), v̂ = v/(1-β₂ᵗ);
    L2 (Adam) or decoupled (AdamW) weight decay; AMSGrad uses the running max of v."""
    b1, b2 = betas
    p, m, v, vmax, out = p.copy(), 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        if decoupled:
            p = p * (1 - lr * weight_decay)
            d = g
        else:
            d = g + weight_decay * p
        m = b1 * m + (1 - b1) * d
        v = b2 * v + (1 - b2) * d * d
        vmax = np.maximum(vmax, v)
        m_hat, v_hat = m / (1 - b1 ** t), (vmax if amsgrad else v) / (1 - b2 ** t)
        p = p - lr * m_hat / (np.sqrt(v_hat) + eps)
        out.append(p)
    return out


CONFIGS = [
    (optim.SGD, dict(lr=0.1), ref_sgd),
    (optim.SGD, dict(lr=0.1, momentum=0.9), ref_sgd),
    (optim.SGD, dict(lr=0.05, momentum=0.8, nesterov=True), ref_sgd),
    (optim.SGD, dict(lr=0.1, weight_decay=0.1), ref_sgd),
    (optim.SGD, dict(lr=0.1, momentum=0.9, weight_decay=0.05), ref_sgd),
    (optim.SGD, dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=0.05), ref_sgd),
    (optim.SGD, dict(lr=0.1, momentum=0.9, dampening=0.3), ref_sgd),
    (optim.SGD, dict(lr=0.1, momentum=0.5, dampening=0.5, weight_decay=0.05), ref_sgd),
    (optim.Adam, dict(lr=0.01), ref_adam),
    (optim.Adam, dict(lr=0.1, betas=(0.8, 0.99), eps=1e-6, weight_decay=0.1), ref_adam),
    (optim.Adam, dict(lr=0.1, betas=(0.8, 0.9), amsgrad=True, weight_decay=0.1), ref_adam),
    (optim.AdamW, dict(lr=0.01), lambda p, g, **kw: ref_adam(p, g, weight_decay=1e-2, decoupled=True, **kw)),
    (optim.AdamW, dict(lr=0.1, betas=(0.7, 0.8), amsgrad=True),
     lambda p, g, **kw: ref_adam(p, g, weight_decay=1e-2, decoupled=True, **kw)),
    (optim.AdamW, dict(lr=0.1, betas=(0.5, 0.9), weight_decay=0.3),
     lambda p, g, **kw: ref_adam(p, g, decoupled=True, **kw)),
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
        expected = ref(init[k], [g[k] for g in grads], **kw)
        for step, exp in enumerate(expected):
            np.testing.assert_allclose(history[step][k], exp, rtol=1e-12, atol=1e-14,
                                       err_msg=f"param {k}, step {step + 1}")


def test_references_are_not_trivially_equal():
    """The configurations really differ (so the test above would notice a dropped term)."""
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
    for step in range(STEPS):
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
    assert type(opt.lr) is float
    for step_grads in grads:
        for p, g in zip(params, step_grads):
            p.grad = tg.Tensor(g)
        opt.step()
    for k, (p, arr) in enumerate(zip(params, arrays)):
        assert p._data is arr and p.dtype == np.float32  # updated in place
        assert p.is_leaf and p._ctx is None and p.requires_grad
        expected = ref(init[k].astype(np.float64), [g[k].astype(np.float64) for g in grads], **kw)[-1]
        np.testing.assert_allclose(p.data, expected, rtol=2e-5, atol=2e-6)
    for st in opt.state:
        for name, buf in st.items():
            assert buf.dtype == (np.int64 if name == "step" else np.float32), name


@pytest.mark.parametrize("cls, kw, ref", CONFIGS, ids=IDS)
def test_gradients_are_never_written(cls, kw, ref):
    """Two parameters share one gradient array (the engine does this, e.g. for a + b):
    the optimizer must read it, never modify it (weight decay would be tempting)."""
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


# ----------------------------------------------------------------------------- the one-pass update
def two_roundings(p, lr, d):
    """NumPy's ``p - d * lr``: the product rounded, then the difference."""
    return p - d * lr


def test_no_graph_growth_in_a_training_loop():
    rng = np.random.default_rng(0)
    model = nn.Sequential(nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1))
    opt = optim.Adam(model.parameters(), lr=0.01)
    x, y = rng.standard_normal((8, 3)).astype(np.float32), rng.integers(0, 2, 8)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = nn.functional.cross_entropy(model(x), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < losses[0]
    for p in model.parameters():
        assert p._ctx is None and p.requires_grad and p.dtype == np.float32


def test_params_without_grad_are_skipped_and_adam_counts_steps_per_param():
    rng = np.random.default_rng(3)
    a0, b0 = rng.standard_normal(3), rng.standard_normal(3)
    ga, gb = [rng.standard_normal(3) for _ in range(3)], rng.standard_normal(3)
    a, b = nn.Parameter(a0.copy()), nn.Parameter(b0.copy())
    opt = optim.Adam([a, b], lr=0.1)
    for k in range(3):
        a.grad = tg.Tensor(ga[k])
        b.grad = tg.Tensor(gb) if k == 2 else None  # b only gets a gradient on the last step
        opt.step()
        if k < 2:
            np.testing.assert_array_equal(b.data, b0)
            assert opt.state[1] == {}
    assert opt.step_count == 3 and int(opt.state[0]["step"]) == 3 and int(opt.state[1]["step"]) == 1
    np.testing.assert_allclose(a.data, ref_adam(a0, ga, lr=0.1)[-1], rtol=1e-12)
    np.testing.assert_allclose(b.data, ref_adam(b0, [gb], lr=0.1)[-1], rtol=1e-12)  # bias correction for t=1


def test_zero_grad_and_validation():
    p = nn.Parameter([1.0, 2.0])
    opt = optim.SGD([p], lr=0.1)
    p.grad = tg.Tensor([1.0, 1.0])
    opt.zero_grad()
    assert p.grad is None
    with pytest.raises(ValueError, match="empty"):
        optim.SGD([], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([p, p], lr=0.1)
    with pytest.raises(ValueError, match="nesterov"):
        optim.SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="betas"):
        optim.Adam([p], betas=(0.9, 1.0))
    for bad in (-1.0, float("inf"), float("nan")):
        with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
            optim.Adam([p], lr=bad)
        with pytest.raises(ValueError, match="lr must be a finite number >= 0"):
            opt.lr = bad  # the setter checks too (a schedule or a shell command sets it later)
    assert opt.lr == 0.1
    p.grad = tg.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match="grad has shape"):
        opt.step()


# ----------------------------------------------------------------------------- state dicts
def through_npz(state):
    """Save and load like a checkpoint file, with pickling disabled."""
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
    assert opt_state["step"] == 3 and float(opt_state["lr"]) == kw["lr"]
    train_steps(model, opt, 3, seed=1)

    fresh = make_model()
    for p in fresh.parameters():
        p.copy_(0.0)
    fresh.load_state_dict(model_state)
    fresh_opt = cls(fresh.parameters(), lr=123.0)  # lr comes back from the state dict
    fresh_opt.load_state_dict(opt_state)
    assert fresh_opt.lr == kw["lr"] and fresh_opt.step_count == 3
    train_steps(fresh, fresh_opt, 3, seed=1)
    for (n, a), (_, b) in zip(model.named_parameters(), fresh.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=n)


def test_state_dict_keys_and_copies():
    p = nn.Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tg.Tensor(np.ones(3))
    opt.step()
    state = opt.state_dict()
    assert set(state) == {"lr", "step", "momentum", "dampening", "nesterov", "weight_decay", "state.0.momentum"}
    state["state.0.momentum"][...] = 99.0
    assert not np.any(opt.state[0]["momentum"] == 99.0)
    adam = optim.Adam([p], lr=0.1)
    adam.step()
    assert set(adam.state_dict()) == {"lr", "step", "betas", "eps", "weight_decay", "amsgrad", "state.0.step",
                                      "state.0.exp_avg", "state.0.exp_avg_sq"}
    ams = optim.Adam([p], lr=0.1, amsgrad=True)
    ams.step()
    assert "state.0.max_exp_avg_sq" in ams.state_dict()


def test_state_dicts_saved_before_dampening_and_amsgrad_still_load():
    """Those two hyperparameters came later: a state dict without them loads with them off."""
    p = nn.Parameter(np.ones(3))
    p.grad = tg.Tensor(np.full(3, 0.5))
    for opt, new_key in [(optim.SGD([p], lr=0.1, momentum=0.9), "dampening"), (optim.Adam([p], lr=0.1), "amsgrad")]:
        opt.step()
        old = {k: v for k, v in opt.state_dict().items() if k != new_key}
        fresh = type(opt)([p], lr=0.5, **{new_key: 0.2 if new_key == "dampening" else True})
        fresh.load_state_dict(old)
        assert not getattr(fresh, new_key) and fresh.lr == 0.1


def test_amsgrad_state_must_match_its_flag():
    p = nn.Parameter(np.ones(3))
    p.grad = tg.Tensor(np.full(3, 0.5))
    ams = optim.Adam([p], lr=0.1, amsgrad=True)
    ams.step()
    state = ams.state_dict()
    with pytest.raises(KeyError, match="missing keys.*max_exp_avg_sq"):
        optim.Adam([p]).load_state_dict({k: v for k, v in state.items() if k != "state.0.max_exp_avg_sq"})
    plain = optim.Adam([p])
    plain.load_state_dict(state)  # the flag comes from the state dict, with its buffer
    assert plain.amsgrad and "max_exp_avg_sq" in plain.state[0]
    with pytest.raises(ValueError, match="nesterov=True needs momentum > 0 and dampening 0"):
        optim.SGD([p], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True)


def test_load_state_dict_errors():
    p = nn.Parameter(np.ones(3))
    opt = optim.SGD([p], lr=0.1, momentum=0.9)
    p.grad = tg.Tensor(np.ones(3))
    opt.step()
    good = opt.state_dict()
    bad = dict(good, extra=np.zeros(1))
    with pytest.raises(KeyError, match="unexpected keys.*extra"):
        opt.load_state_dict(bad)
    bad = {k: v for k, v in good.items() if k != "lr"}
    with pytest.raises(KeyError, match="missing keys.*'lr'"):
        opt.load_state_dict(bad)
    bad = dict(good, **{"state.0.momentum": np.zeros(4)})
    with pytest.raises(ValueError, match=r"state\.0\.momentum.*\(4,\).*\(3,\)"):
        opt.load_state_dict(bad)
    bad = dict(good, **{"state.0.momentum": np.zeros(3, dtype=np.float32)})
    with pytest.raises(ValueError, match="float32.*float64"):
        opt.load_state_dict(bad)
    with pytest.raises(KeyError):  # an SGD state is not an Adam state
        optim.Adam([p]).load_state_dict(good)
    np.testing.assert_array_equal(opt.state[0]["momentum"], good["state.0.momentum"])  # untouched


# ----------------------------------------------------------------------------- schedules
def lr_sequence(sched, n):
    out = [sched.optimizer.lr]
    for _ in range(n):
        out.append(sched.step())
        assert sched.optimizer.lr == out[-1] == sched.get_lr()
    return out


def test_step_lr_sequence():
    opt = optim.SGD([nn.Parameter([0.0])], lr=1.0)
    sched = optim.StepLR(opt, step_size=2, gamma=0.5)
    assert lr_sequence(sched, 6) == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25, 0.125]
    with pytest.raises(ValueError):
        optim.StepLR(opt, step_size=0)


def test_cosine_lr_sequence():
    opt = optim.SGD([nn.Parameter([0.0])], lr=1.0)
    sched = optim.CosineLR(opt, t_max=4, eta_min=0.1)
    expected = [0.1 + 0.9 * (1 + math.cos(math.pi * min(e, 4) / 4)) / 2 for e in range(7)]
    got = lr_sequence(sched, 6)
    np.testing.assert_allclose(got, expected, rtol=1e-15)
    assert got[0] == 1.0 and got[4] == pytest.approx(0.1) and got[6] == pytest.approx(0.1)


def test_cosine_lr_warmup_sequence():
    opt = optim.Adam([nn.Parameter([0.0])], lr=0.3)
    sched = optim.CosineLR(opt, t_max=2, warmup_epochs=2)
    assert opt.lr == pytest.approx(0.1)  # set at construction: epoch 0 of the warmup
    np.testing.assert_allclose(lr_sequence(sched, 5), [0.1, 0.2, 0.3, 0.15, 0.0, 0.0], atol=1e-15)


def test_schedules_match_torch():
    torch = pytest.importorskip("torch")
    for make, tmake in [
        (lambda o: optim.StepLR(o, step_size=3, gamma=0.3), lambda o: torch.optim.lr_scheduler.StepLR(o, 3, 0.3)),
        (lambda o: optim.CosineLR(o, t_max=7, eta_min=0.01),
         lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=7, eta_min=0.01)),
    ]:
        sched = make(optim.SGD([nn.Parameter([0.0])], lr=0.5))
        topt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.5)
        tsched = tmake(topt)
        ours = lr_sequence(sched, 7)
        theirs = [topt.param_groups[0]["lr"]]
        for _ in range(7):
            topt.step()
            tsched.step()
            theirs.append(topt.param_groups[0]["lr"])
        np.testing.assert_allclose(ours, theirs, rtol=1e-12, atol=1e-15)


def test_schedule_state_dict_resumes():
    opt = optim.SGD([nn.Parameter([0.0])], lr=1.0)
    sched = optim.CosineLR(opt, t_max=10, warmup_epochs=3)
    lr_sequence(sched, 4)
    state = through_npz(sched.state_dict())
    assert set(state) == {"last_epoch", "base_lr"} and int(state["last_epoch"]) == 4
    rest = lr_sequence(sched, 5)[1:]
    opt2 = optim.SGD([nn.Parameter([0.0])], lr=0.01)  # a different base lr is overridden
    sched2 = optim.CosineLR(opt2, t_max=10, warmup_epochs=3)
    sched2.load_state_dict(state)
    assert opt2.lr == sched2.get_lr() == sched.lr_at(4)
    assert lr_sequence(sched2, 5)[1:] == rest
    with pytest.raises(KeyError, match="missing"):
        sched2.load_state_dict({"last_epoch": np.asarray(1)})
