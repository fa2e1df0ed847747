"""Tests for tinygrad_np.nn: Module bookkeeping, layers, Dropout, state dicts, init."""
from __future__ import annotations

import io
import re

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.gradcheck import gradcheck


# ----------------------------------------------------------------------------- helpers
class Block(nn.Module):
    """Parameters assigned out of alphabetical order, a sub-module in between."""

    def __init__(self) -> None:
        super().__init__()
        self.z = nn.Parameter([1.0, 1.0])
        self.inner = nn.Linear(2, 3, rng=0)
        self.a = nn.Parameter(np.zeros((3, 1), dtype=np.float32))
        self.note = "not registered"
        self.plain = tg.Tensor([1.0, 2.0])  # a plain Tensor is an ordinary attribute

    def forward(self, x):
        return (self.inner(x * self.z) @ self.a).sum()


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(nn.Linear(4, 5, rng=1), nn.ReLU(), nn.Dropout(0.5, rng=0), nn.Linear(5, 2, rng=2))
        self.head = Block()

    def forward(self, x):
        return self.layers(x)


# ----------------------------------------------------------------------------- Parameter
def test_parameter_dtypes_and_flags():
    p = nn.Parameter([1.0, 2.0])
    assert p.dtype == np.float32 and p.requires_grad and p.is_leaf and p.grad is None
    a = np.arange(3.0)
    q = nn.Parameter(a)
    assert q.dtype == np.float64 and q._data is a  # keeps an ndarray's float dtype, no copy
    assert nn.Parameter(np.arange(3)).dtype == np.float32  # integers become float32
    assert nn.Parameter([1, 2], dtype=np.float64).dtype == np.float64
    assert isinstance(p, tg.Tensor) and "Parameter" in repr(p)


# ----------------------------------------------------------------------------- registration
def test_registration_order_and_names():
    b = Block()
    names = [n for n, _ in b.named_parameters()]
    # own parameters in assignment order first, then the sub-module's
    assert names == ["z", "a", "inner.weight", "inner.bias"]
    assert [id(p) for p in b.parameters()] == [id(b.z), id(b.a), id(b.inner.weight), id(b.inner.bias)]
    assert "note" not in names and "plain" not in names
    assert b.note == "not registered" and isinstance(b.plain, tg.Tensor)
    assert b.num_parameters() == 2 + 3 + 6 + 3


def test_nested_names_modules_and_repr():
    net = Net()
    names = [n for n, _ in net.named_parameters()]
    assert names == ["layers.0.weight", "layers.0.bias", "layers.3.weight", "layers.3.bias",
                     "head.z", "head.a", "head.inner.weight", "head.inner.bias"]
    mods = [n for n, _ in net.named_modules()]
    assert mods == ["", "layers", "layers.0", "layers.1", "layers.2", "layers.3", "head", "head.inner"]
    assert net.modules()[0] is net and len(net.modules()) == 8
    text = repr(net)
    assert "(layers): Sequential(" in text
    assert "(0): Linear(in_features=4, out_features=5, bias=True, dtype=float32)" in text
    assert "(2): Dropout(p=0.5)" in text and "(1): ReLU()" in text


def test_shared_parameter_listed_once_but_in_state_dict_twice():
    lin = nn.Linear(3, 3, rng=0)
    seq = nn.Sequential(lin, nn.Tanh(), lin)
    assert [n for n, _ in seq.named_parameters()] == ["0.weight", "0.bias"]
    assert sorted(seq.state_dict()) == ["0.bias", "0.weight", "2.bias", "2.weight"]


def test_reassign_and_delete():
    lin = nn.Linear(2, 2, rng=0)
    new_w = nn.Parameter(np.ones((2, 2), dtype=np.float32))
    lin.weight = new_w
    assert lin.parameters()[0] is new_w
    lin.bias = None  # an empty slot is allowed ...
    assert [n for n, _ in lin.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="parameter 'weight'"):
        lin.weight = tg.Tensor(np.ones((2, 2)))  # ... a plain Tensor is not
    seq = nn.Sequential(nn.ReLU())
    delattr(seq, "0")  # removes the registry entry and the attribute
    assert len(seq) == 0


def test_missing_super_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = nn.Parameter([1.0])

    with pytest.raises(AttributeError, match=re.escape("super().__init__()")):
        Bad()


def test_sequential_container():
    a, b, c = nn.Linear(3, 4, rng=0), nn.Tanh(), nn.Linear(4, 2, rng=1)
    seq = nn.Sequential(a, b, c)
    assert len(seq) == 3 and seq[0] is a and seq[-1] is c and list(seq) == [a, b, c]
    head = seq[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    x = tg.Tensor(np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32))
    np.testing.assert_array_equal(seq(x).data, c(b(a(x))).data)
    seq.append(nn.Sigmoid())
    assert len(seq) == 4 and isinstance(seq[3], nn.Sigmoid)
    with pytest.raises(TypeError, match="argument 1"):
        nn.Sequential(a, "relu")


def test_train_eval_propagate():
    net = Net()
    assert all(m.training for m in net.modules())
    assert net.eval() is net
    assert not any(m.training for m in net.modules())
    net.train()
    assert all(m.training for m in net.modules())
    net.head.eval()
    assert net.training and net.layers.training and not net.head.training and not net.head.inner.training


def test_zero_grad_sets_none():
    b = Block()
    b(tg.Tensor(np.ones((4, 2), dtype=np.float32))).backward()
    assert all(p.grad is not None for p in b.parameters())
    b.zero_grad()
    assert all(p.grad is None for p in b.parameters())


# ----------------------------------------------------------------------------- layers
def test_linear_layout_forward_and_grads():
    rng = np.random.default_rng(0)
    lin = nn.Linear(3, 4, rng=0, dtype=np.float64)
    assert lin.weight.shape == (3, 4) and lin.bias.shape == (4,)
    np.testing.assert_array_equal(lin.bias.data, 0)
    lin.bias.copy_(rng.standard_normal(4))
    x = rng.standard_normal((2, 5, 3))  # leading batch dims are fine
    y = lin(x)
    np.testing.assert_allclose(y.data, x @ lin.weight.data + lin.bias.data, rtol=1e-14)
    y.sum().backward()
    np.testing.assert_allclose(lin.weight.grad.data, x.reshape(-1, 3).sum(0)[:, None] * np.ones((1, 4)))
    np.testing.assert_allclose(lin.bias.grad.data, np.full(4, 10.0))
    assert nn.Linear(3, 4, bias=False, rng=0).bias is None


def test_linear_shape_error_names_layer_and_shapes():
    lin = nn.Linear(3, 4, rng=0)
    with pytest.raises(ValueError) as e:
        lin(np.zeros((2, 5), dtype=np.float32))
    msg = str(e.value)
    assert "Linear(in_features=3, out_features=4" in msg and "(2, 5)" in msg and "in_features=3" in msg


def test_linear_casts_constant_inputs_but_not_differentiable_ones():
    lin = nn.Linear(2, 1, rng=0)  # float32
    assert lin(np.ones((1, 2))).dtype == np.float32  # float64 data is cast, like the reference
    with pytest.raises(TypeError, match="dtype float64"):
        lin(tg.Tensor(np.ones((1, 2)), requires_grad=True))


def test_activation_layers():
    x = tg.Tensor(np.array([-2.0, -0.5, 0.5, 3.0]))
    np.testing.assert_array_equal(nn.ReLU()(x).data, [0, 0, 0.5, 3.0])
    np.testing.assert_allclose(nn.Tanh()(x).data, np.tanh(x.data))
    np.testing.assert_allclose(nn.Sigmoid()(x).data, 1 / (1 + np.exp(-x.data)))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).data, [-0.2, -0.05, 0.5, 3.0])
    assert repr(nn.LeakyReLU()) == "LeakyReLU(negative_slope=0.01)"
    f = nn.Flatten()(tg.Tensor(np.zeros((2, 3, 4))))
    assert f.shape == (2, 12)


# ----------------------------------------------------------------------------- Dropout
def test_dropout_statistics():
    p = 0.3
    x = tg.Tensor(np.ones((400, 500)))
    y = nn.Dropout(p, rng=0)(x).data
    dropped = y == 0
    assert abs(dropped.mean() - p) < 0.01  # 200k Bernoulli draws: sd 0.001
    np.testing.assert_allclose(y[~dropped], 1 / (1 - p))  # kept units are scaled up
    assert abs(y.mean() - 1.0) < 0.02  # inverted dropout keeps the expectation


def test_dropout_seed_and_fresh_masks():
    x = tg.Tensor(np.ones((50, 50), dtype=np.float32))
    a, b = nn.Dropout(0.5, rng=7), nn.Dropout(0.5, rng=np.random.default_rng(7))
    m1, m2 = a(x).data, b(x).data
    np.testing.assert_array_equal(m1, m2)  # int seed == Generator from that seed
    assert not np.array_equal(a(x).data, m1)  # a new mask on every call
    assert m1.dtype == np.float32
    assert not np.array_equal(nn.Dropout(0.5, rng=8)(x).data, m1)


def test_dropout_identity_in_eval_and_p0():
    x = tg.Tensor(np.ones((3, 3)), requires_grad=True)
    d = nn.Dropout(0.9, rng=0).eval()
    assert d(x) is x
    assert nn.Dropout(0.0, rng=0)(x) is x
    np.testing.assert_array_equal(nn.Dropout(1.0, rng=0)(x).data, 0)
    with pytest.raises(ValueError):
        nn.Dropout(1.5)


def test_dropout_gradient_flows_through_kept_units_scaled():
    p = 0.25
    rng = np.random.default_rng(3)
    x = tg.Tensor(rng.uniform(1, 2, size=(30, 20)), requires_grad=True)  # positive: y == 0 iff dropped
    y = nn.Dropout(p, rng=1)(x)
    u = rng.standard_normal(y.shape)
    y.backward(u)
    kept = y.data != 0
    assert 0 < kept.mean() < 1
    np.testing.assert_allclose(x.grad.data, u * kept / (1 - p), rtol=1e-15)


# ----------------------------------------------------------------------------- state dict
def test_state_dict_round_trip_via_npz():
    src, dst = Net(), Net()
    for p in dst.parameters():
        p.copy_(0.0)
    ids = [id(p._data) for p in dst.parameters()]
    state = src.state_dict()
    assert all(type(v) is np.ndarray for v in state.values())
    buf = io.BytesIO()
    np.savez(buf, **state)
    buf.seek(0)
    with np.load(buf, allow_pickle=False) as f:
        loaded = {k: f[k] for k in f.files}
    assert dst.load_state_dict(loaded) == ([], [])
    for (n, a), (_, b) in zip(src.named_parameters(), dst.named_parameters()):
        np.testing.assert_array_equal(a.data, b.data, err_msg=n)
    assert [id(p._data) for p in dst.parameters()] == ids  # loaded in place
    x = np.random.default_rng(0).standard_normal((3, 4))
    src.eval(), dst.eval()
    np.testing.assert_array_equal(src(x).data, dst(x).data)


def test_state_dict_returns_copies():
    lin = nn.Linear(2, 2, rng=0)
    state = lin.state_dict()
    state["weight"][...] = 123
    assert not np.any(lin.weight.data == 123)


def test_load_state_dict_missing_and_unexpected_keys():
    lin = nn.Linear(2, 3, rng=0)
    state = lin.state_dict()
    del state["bias"]
    with pytest.raises(KeyError, match=r"missing keys \['bias'\]"):
        lin.load_state_dict(state)
    state = lin.state_dict()
    state["extra"] = np.zeros(1)
    with pytest.raises(KeyError, match=r"unexpected keys \['extra'\]"):
        lin.load_state_dict(state)
    # non-strict: loads what matches and reports the rest
    before = lin.bias.data.copy()
    state = {"weight": np.full((2, 3), 5.0, dtype=np.float32), "extra": np.zeros(1)}
    result = lin.load_state_dict(state, strict=False)
    assert result.missing_keys == ["bias"] and result.unexpected_keys == ["extra"]
    np.testing.assert_array_equal(lin.weight.data, 5.0)
    np.testing.assert_array_equal(lin.bias.data, before)


def test_load_state_dict_shape_and_dtype_errors_and_atomicity():
    lin = nn.Linear(2, 3, rng=0)
    w0 = lin.weight.data.copy()
    state = {"weight": np.ones((2, 3), dtype=np.float32), "bias": np.zeros(4, dtype=np.float32)}
    with pytest.raises(ValueError) as e:
        lin.load_state_dict(state)
    assert "'bias'" in str(e.value) and "(4,)" in str(e.value) and "(3,)" in str(e.value)
    np.testing.assert_array_equal(lin.weight.data, w0)  # nothing written on failure
    state = {"weight": np.ones((2, 3), dtype=np.float64), "bias": np.zeros(3, dtype=np.float32)}
    with pytest.raises(ValueError) as e:
        lin.load_state_dict(state, strict=False)  # shapes/dtypes are checked in either mode
    assert "'weight'" in str(e.value) and "float64" in str(e.value) and "float32" in str(e.value)
    np.testing.assert_array_equal(lin.weight.data, w0)


# ----------------------------------------------------------------------------- init
@pytest.mark.parametrize("name, std, bound", [
    ("kaiming_normal", np.sqrt(2 / 1000), None),
    ("kaiming_uniform", np.sqrt(2 / 1000), np.sqrt(6 / 1000)),
    ("xavier_uniform", np.sqrt(2 / 1500), np.sqrt(6 / 1500)),
])
def test_init_statistics(name, std, bound):
    w = getattr(nn.init, name)((1000, 500), np.random.default_rng(0), np.float64)
    assert w.shape == (1000, 500) and w.dtype == np.float64
    assert abs(w.std() / std - 1) < 0.01  # 500k samples: relative sd of the std ~0.1-0.2%
    assert abs(w.mean()) < 0.01 * std
    if bound is not None:
        assert -bound <= w.min() < -0.99 * bound and 0.99 * bound < w.max() <= bound


def test_init_dtype_seed_and_reference_draws():
    a = nn.init.kaiming_normal((4, 3), np.random.default_rng(5), np.float32)
    b = nn.init.kaiming_normal((4, 3), np.random.default_rng(5), np.float64)
    assert a.dtype == np.float32 and b.dtype == np.float64
    np.testing.assert_array_equal(a, b.astype(np.float32))  # drawn in float64, then cast
    expected = np.random.default_rng(5).standard_normal((4, 3)) * np.sqrt(2.0 / 4)
    np.testing.assert_array_equal(b, expected)
    np.testing.assert_array_equal(nn.init.kaiming_normal((4, 3), 5, np.float64, fan_in=8),
                                  np.random.default_rng(5).standard_normal((4, 3)) * np.sqrt(2.0 / 8))
    np.testing.assert_array_equal(nn.init.zeros((2, 2)), np.zeros((2, 2), dtype=np.float32))
    lin = nn.Linear(4, 3, rng=5, init="xavier_uniform", dtype=np.float64)
    np.testing.assert_array_equal(lin.weight.data, nn.init.xavier_uniform((4, 3), 5, np.float64))
    with pytest.raises(ValueError, match="unknown init"):
        nn.Linear(2, 2, init="orthogonal")


# ----------------------------------------------------------------------------- dtype & gradcheck
def small_net(dtype=np.float64) -> nn.Sequential:
    return nn.Sequential(
        nn.Flatten(), nn.Linear(6, 5, rng=0, dtype=dtype), nn.Tanh(), nn.Linear(5, 4, rng=1, dtype=dtype),
        nn.LeakyReLU(0.1), nn.Linear(4, 3, rng=2, dtype=dtype), nn.Sigmoid(),
    )


def test_float64_module_gives_float64_grads():
    net = small_net(np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 3))
    out = net(x)
    assert out.dtype == np.float64
    out.sum().backward()
    assert all(p.dtype == np.float64 and p.grad.dtype == np.float64 for p in net.parameters())
    net32 = small_net(np.float32)
    net32(x).sum().backward()
    assert all(p.grad.dtype == np.float32 for p in net32.parameters())


def test_gradcheck_sequential_wrt_parameters():
    net = small_net(np.float64)
    for p in net.parameters():  # nonzero biases, so their gradients matter
        p.copy_(p.data + np.random.default_rng(p.size).uniform(-0.5, 0.5, p.shape))
    x = tg.Tensor(np.random.default_rng(1).standard_normal((4, 2, 3)))
    before = [p.data.copy() for p in net.parameters()]

    def f(*params):
        with nn.swap_parameters(net, params):
            return net(x)

    report = gradcheck(f, net.parameters())
    assert report.passed and report.checked == net.num_parameters()
    # swap_parameters put the real parameters back and left them untouched
    assert all(isinstance(p, nn.Parameter) for p in net.parameters())
    for p, b in zip(net.parameters(), before):
        np.testing.assert_array_equal(p.data, b)


def test_gradcheck_catches_a_wrong_gradient():
    """The check above can fail: a layer whose forward and parameters disagree is caught."""

    class Wrong(nn.Module):
        def __init__(self):
            super().__init__()
            self.w = nn.Parameter(np.array([0.3, -0.7]))

        def forward(self, x):  # d/dw of (x*w).sum() is x, but the constant hides a factor
            return (x * tg.Tensor(self.w.data) * self.w).sum()  # w² with one factor detached

    m = Wrong()
    x = tg.Tensor(np.array([1.5, 2.0]))

    def f(*ps):
        with nn.swap_parameters(m, ps):
            return m(x)

    assert not gradcheck(f, m.parameters(), raise_exception=False).passed


def test_swap_parameters_errors():
    lin = nn.Linear(2, 2, rng=0)
    with pytest.raises(ValueError, match="2 parameters"):
        with nn.swap_parameters(lin, [lin.weight]):
            pass
    with pytest.raises(ValueError, match="shape"):
        with nn.swap_parameters(lin, {"weight": tg.Tensor(np.zeros((3, 3)))}):
            pass


def test_registered_attributes_stay_in_step_with_the_registries():
    """Parameters and sub-modules are also plain attributes (fast reads); every way of
    changing them keeps attribute and registry equal."""
    lin = nn.Linear(3, 2, rng=0)
    assert lin.weight is lin._parameters["weight"] and "weight" in vars(lin)
    w = lin.weight
    replacement = tg.Tensor(np.zeros((3, 2), dtype=np.float32), requires_grad=True)
    with nn.swap_parameters(lin, {"weight": replacement}):
        assert lin.weight is replacement and lin._parameters["weight"] is replacement
    assert lin.weight is w and lin._parameters["weight"] is w
    lin.bias = None
    assert lin.bias is None and lin._parameters["bias"] is None
    lin.register_parameter("extra", nn.Parameter(np.ones(2, dtype=np.float32)))
    assert lin.extra is lin._parameters["extra"]
    del lin.extra
    assert "extra" not in lin._parameters
    with pytest.raises(AttributeError):
        lin.extra
    seq = nn.Sequential()
    seq.add_module("head", lin)
    assert seq.head is lin
    seq.head = nn.ReLU()  # a module replaces a module: attribute and registry follow
    assert isinstance(seq.head, nn.ReLU) and seq._modules["head"] is seq.head


