"""The CNN family beyond the generic per-op suites (tests/op_cases.py): max-pool ties and padding, the
padding modes, batch norm's training/eval statistics against PyTorch, buffers through state_dict and
.npz files, train()/eval(), conv1d and the layers against PyTorch, float32 against float64, errors."""
from __future__ import annotations

import io

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import strategies as S
import tinygrad_np as tg
from tinygrad_np import Tensor, nn, optim
from tinygrad_np.nn import functional as F

torch = pytest.importorskip("torch", reason="PyTorch is the reference of these tests")
TF = torch.nn.functional


def _grads(f, *arrays, upstream=None):
    xs = [Tensor(np.asarray(a, dtype=np.float64), requires_grad=True) for a in arrays]
    out = f(*xs)
    out.backward(np.ones(out.shape) if upstream is None else upstream)
    return out, [x.grad.data for x in xs]


# ----------------------------------------------------------------------------- max-pool: ties and padding
def test_max_pool_ties_split_the_gradient_evenly():
    x = np.array([[[[1.0, 3.0, 0.0, 2.0],
                    [3.0, 0.0, 2.0, 2.0]]]])
    y, (g,) = _grads(lambda t: F.max_pool2d(t, 2), x, upstream=np.array([[[[4.0, 6.0]]]]))
    np.testing.assert_array_equal(y.data, [[[[3.0, 2.0]]]])
    np.testing.assert_array_equal(g, [[[[0.0, 2.0, 0.0, 2.0], [2.0, 0.0, 2.0, 2.0]]]])  # 4/2 and 6/3
    # PyTorch gives the whole gradient to the first maximum instead: the documented difference
    t = torch.tensor(x, requires_grad=True)
    TF.max_pool2d(t, 2).backward(torch.tensor([[[[4.0, 6.0]]]], dtype=torch.float64))
    assert t.grad.numpy().sum() == g.sum() and not np.array_equal(t.grad.numpy(), g)


def test_overlapping_windows_add_their_shares_and_padding_never_wins():
    x = -np.arange(1.0, 10.0).reshape(1, 1, 3, 3)  # all negative: the -inf padding must still lose
    y, (g,) = _grads(lambda t: F.max_pool2d(t, 3, stride=1, padding=1), x)
    np.testing.assert_array_equal(y.data[0, 0], [[-1, -1, -2], [-1, -1, -2], [-4, -4, -5]])
    # -1 is the maximum of 4 windows, -2 of 2, -4 of 2, -5 of 1
    np.testing.assert_array_equal(g[0, 0], [[4, 2, 0], [2, 1, 0], [0, 0, 0]])


def test_pooling_refuses_windows_of_padding_only_and_wide_padding():
    with pytest.raises(ValueError, match="max_pool2d: padding .* at most half the kernel"):
        F.max_pool2d(tg.zeros(1, 1, 4, 4), 2, padding=2)
    with pytest.raises(ValueError, match="some windows hold only padding"):
        F.max_pool2d(tg.zeros(1, 1, 1, 1), 2, stride=1, padding=1, dilation=2)


@pytest.mark.parametrize("count_include_pad", [True, False])
def test_avg_pool_divisor_with_padding(count_include_pad):
    x = np.arange(1.0, 5.0).reshape(1, 1, 2, 2)
    u = np.random.default_rng(3).standard_normal((1, 1, 3, 3))
    y, (g,) = _grads(lambda t: F.avg_pool2d(t, 2, stride=1, padding=1, count_include_pad=count_include_pad), x,
                     upstream=u)
    t = torch.tensor(x, requires_grad=True)
    ref = TF.avg_pool2d(t, 2, stride=1, padding=1, count_include_pad=count_include_pad)
    ref.backward(torch.tensor(u))
    np.testing.assert_allclose(y.data, ref.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)


# ----------------------------------------------------------------------------- padding modes
@pytest.mark.parametrize("mode", ["constant", "reflect", "symmetric", "edge", "wrap"])
@given(data=st.data())
@settings(max_examples=6, deadline=None)
def test_tg_pad_is_np_pad_and_its_vjp_adds_the_copies(mode, data):
    shape = data.draw(S.shapes(min_dims=1, max_dims=3, max_side=3))
    x = data.draw(S.arrays(shape))
    widths = tuple((data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))) for _ in shape)
    kw = {"constant_values": 2.5} if mode == "constant" else {}
    y = tg.pad(Tensor(x, requires_grad=True), widths, mode=mode, **kw)
    np.testing.assert_array_equal(y.data, np.pad(x, widths, mode=mode, **kw))
    np.testing.assert_array_equal(np.pad(Tensor(x), widths, mode=mode, **kw).data, y.data)  # np.pad on a Tensor
    assert tg.gradcheck(lambda t: tg.pad(t, widths, mode=mode, **kw), [x])
    u = np.random.default_rng(0).standard_normal(y.shape)
    y.backward(u)
    # the VJP of a gather: every output entry's upstream value lands on the entry it copies
    src = np.pad(np.arange(x.size).reshape(x.shape), widths, mode=mode, **({"constant_values": -1} if kw else {}))
    expected = np.bincount(src[src >= 0].ravel(), weights=u[src >= 0].ravel(), minlength=x.size)
    np.testing.assert_allclose(np.asarray(expected).reshape(x.shape), _pad_grad(x, widths, mode, kw, u), rtol=1e-12)


def _pad_grad(x, widths, mode, kw, u):
    t = Tensor(x, requires_grad=True)
    tg.pad(t, widths, mode=mode, **kw).backward(u)
    return t.grad.data


@pytest.mark.parametrize("mode", ["constant", "reflect", "replicate", "circular"])
def test_F_pad_matches_torch(mode):
    x = np.random.default_rng(1).standard_normal((2, 3, 4, 5))
    pad = (1, 2, 3, 0)
    u = np.random.default_rng(2).standard_normal((2, 3, 7, 8))
    ours, (g,) = _grads(lambda t: F.pad(t, pad, mode=mode, value=0.5), x, upstream=u)
    t = torch.tensor(x, requires_grad=True)
    ref = TF.pad(t, pad, mode=mode, value=0.5) if mode == "constant" else TF.pad(t, pad, mode=mode)
    ref.backward(torch.tensor(u))
    np.testing.assert_array_equal(ours.data, ref.detach().numpy())
    np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-12)


def test_pad_errors_name_the_op():
    with pytest.raises(ValueError, match="pad: reflect padding"):
        F.pad(tg.zeros(1, 1, 2, 2), (2, 0), mode="reflect")
    with pytest.raises(ValueError, match="pad: mode must be one of"):
        tg.pad(tg.zeros(3), 1, mode="mean")
    with pytest.raises(ValueError, match="pad: widths"):
        Tensor.apply("pad", tg.zeros(3), widths=((1, -1),))


# ----------------------------------------------------------------------------- batch norm against PyTorch
def _torch_bn(module: nn.Module, dims: int):
    t = (torch.nn.BatchNorm1d if dims < 4 else torch.nn.BatchNorm2d)(
        module.num_features, eps=module.eps, momentum=module.momentum, affine=module.affine,
        track_running_stats=module.track_running_stats, dtype=torch.float64)
    return t


@pytest.mark.parametrize("momentum", [0.1, 0.5, None])
@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5), (3, 3, 4, 2)])
def test_batch_norm_training_steps_and_eval_match_torch(shape, momentum):
    rng = np.random.default_rng(2)
    ours = (nn.BatchNorm1d if len(shape) < 4 else nn.BatchNorm2d)(3, momentum=momentum, dtype=np.float64)
    theirs = _torch_bn(ours, len(shape))
    w, b = rng.standard_normal(3), rng.standard_normal(3)
    ours.weight.copy_(w), ours.bias.copy_(b)
    with torch.no_grad():
        theirs.weight.copy_(torch.tensor(w)), theirs.bias.copy_(torch.tensor(b))
    for step in range(3):  # training mode: batch statistics, running statistics updated
        x = rng.standard_normal(shape) * (step + 1) + step
        u = rng.standard_normal(shape)
        X, T = Tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        y, ty = ours(X), theirs(T)
        np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
        ours.zero_grad()
        y.backward(u)
        ty.backward(torch.tensor(u))
        np.testing.assert_allclose(X.grad.data, T.grad.numpy(), rtol=1e-9, atol=1e-12)
        np.testing.assert_allclose(ours.weight.grad.data, theirs.weight.grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(ours.bias.grad.data, theirs.bias.grad.numpy(), rtol=1e-10)
        theirs.weight.grad = theirs.bias.grad = None
        np.testing.assert_allclose(ours.running_mean.data, theirs.running_mean.numpy(), rtol=1e-12)
        np.testing.assert_allclose(ours.running_var.data, theirs.running_var.numpy(), rtol=1e-12)
        assert int(ours.num_batches_tracked.item()) == int(theirs.num_batches_tracked) == step + 1
    ours.eval(), theirs.eval()
    x = rng.standard_normal(shape)
    before = ours.running_mean.data.copy()
    y, ty = ours(Tensor(x, requires_grad=True)), theirs(torch.tensor(x))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_array_equal(ours.running_mean.data, before)  # eval mode does not update them
    assert int(ours.num_batches_tracked.item()) == 3


def test_batch_norm_without_running_statistics_uses_the_batch_in_both_modes():
    bn = nn.BatchNorm2d(2, track_running_stats=False, dtype=np.float64)
    assert bn.buffers() == [] and "running_mean" not in bn.state_dict()
    x = np.random.default_rng(3).standard_normal((4, 2, 3, 3))
    y_train = bn(x).data
    bn.eval()
    np.testing.assert_array_equal(bn(x).data, y_train)
    ref = TF.batch_norm(torch.tensor(x), None, None, training=True)
    np.testing.assert_allclose(y_train, ref.numpy(), rtol=1e-10, atol=1e-12)


def test_batch_norm_needs_two_values_per_channel_in_training():
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        nn.BatchNorm1d(3)(np.ones((1, 3), dtype=np.float32))


def test_layer_norm_matches_torch():
    rng = np.random.default_rng(4)
    x, u = rng.standard_normal((3, 4, 5)), rng.standard_normal((3, 4, 5))
    ours = nn.LayerNorm((4, 5), dtype=np.float64)
    ours.weight.copy_(rng.standard_normal((4, 5))), ours.bias.copy_(rng.standard_normal((4, 5)))
    X = Tensor(x, requires_grad=True)
    y = ours(X)
    y.backward(u)
    T = torch.tensor(x, requires_grad=True)
    tw = torch.tensor(ours.weight.data.copy(), requires_grad=True)
    tb = torch.tensor(ours.bias.data.copy(), requires_grad=True)
    ty = TF.layer_norm(T, (4, 5), tw, tb)
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for a, b in ((X.grad, T.grad), (ours.weight.grad, tw.grad), (ours.bias.grad, tb.grad)):
        np.testing.assert_allclose(a.data, b.numpy(), rtol=1e-9, atol=1e-12)


# ----------------------------------------------------------------------------- buffers, state_dict, modes
def _cnn(seed: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=seed), nn.BatchNorm2d(3), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(12, 2, rng=seed + 1))


def test_buffers_are_state_but_not_parameters():
    model = _cnn(0)
    names = list(model.state_dict())
    assert names == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean", "1.running_var",
                     "1.num_batches_tracked", "5.weight", "5.bias"]  # PyTorch's order
    assert [n for n, _ in model.named_buffers()] == ["1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert not any(b.requires_grad for b in model.buffers())
    assert all(id(b) not in {id(p) for p in model.parameters()} for b in model.buffers())
    opt = optim.SGD(model.parameters(), lr=0.1)
    assert len(opt.params) == 6  # the running statistics are no optimizer's business
    bn = model[1]
    bn.running_mean = np.full(3, 7.0, dtype=np.float32)  # a new value: still a buffer
    assert isinstance(bn.running_mean, Tensor) and model.state_dict()["1.running_mean"].tolist() == [7.0] * 3
    bn.register_buffer("scratch", np.zeros(2), persistent=False)
    assert "1.scratch" not in model.state_dict() and "1.scratch" in dict(model.named_buffers())
    with pytest.raises(TypeError, match="buffer 'scratch'"):
        bn.scratch = nn.Parameter(np.zeros(2))
    with pytest.raises(TypeError, match="does not require grad"):
        bn.register_buffer("bad", Tensor(np.zeros(2), requires_grad=True))


def test_buffers_round_trip_through_an_npz_file_without_pickle():
    rng = np.random.default_rng(5)
    model = _cnn(0)
    for _ in range(3):  # move the running statistics
        model(rng.standard_normal((4, 1, 4, 4)).astype(np.float32))
    f = io.BytesIO()
    np.savez(f, **model.state_dict())
    f.seek(0)
    loaded = dict(np.load(f, allow_pickle=False))
    fresh = _cnn(7)
    fresh.load_state_dict(loaded)
    for (name, a), (_, b) in zip(model.state_dict().items(), fresh.state_dict().items()):
        assert a.dtype == b.dtype and np.array_equal(a, b), name
    assert fresh.state_dict()["1.num_batches_tracked"].dtype == np.int64
    model.eval(), fresh.eval()
    x = rng.standard_normal((2, 1, 4, 4)).astype(np.float32)
    np.testing.assert_array_equal(model(x).data, fresh(x).data)
    del loaded["1.running_var"]
    with pytest.raises(KeyError, match=r"missing keys \['1.running_var'\]"):
        fresh.load_state_dict(loaded)
    loaded["1.running_var"] = np.ones(4, dtype=np.float32)
    with pytest.raises(ValueError, match="'1.running_var': shape"):
        fresh.load_state_dict(loaded)


def test_train_and_eval_switch_batch_norm_between_batch_and_running_statistics():
    model = _cnn(0)
    x = np.random.default_rng(6).standard_normal((8, 1, 4, 4)).astype(np.float32) * 3 + 2
    model.train()
    first = model(x).data
    assert int(model[1].num_batches_tracked.item()) == 1
    model.eval()
    assert not model.training and not model[1].training
    with_running = model(x).data  # running statistics (mostly still 0 and 1): another output
    assert not np.allclose(first, with_running)
    assert int(model[1].num_batches_tracked.item()) == 1
    model.train()
    np.testing.assert_allclose(model(x).data, first, rtol=1e-6)  # batch statistics again


# ----------------------------------------------------------------------------- convolutions against PyTorch
@pytest.mark.parametrize("padding", [0, 2, "same", "valid"])
def test_conv1d_matches_torch(padding):
    rng = np.random.default_rng(7)
    x, w, b = rng.standard_normal((2, 4, 9)), rng.standard_normal((6, 2, 4)), rng.standard_normal(6)
    stride, dilation = (1 if padding == "same" else 2), 2
    ts = [torch.tensor(a, requires_grad=True) for a in (x, w, b)]
    ty = TF.conv1d(*ts, stride=stride, padding=padding, dilation=dilation, groups=2)
    u = rng.standard_normal(tuple(ty.shape))
    ty.backward(torch.tensor(u))
    y, grads = _grads(lambda a, c, d: F.conv1d(a, c, d, stride=stride, padding=padding, dilation=dilation, groups=2),
                      x, w, b, upstream=u)
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    for g, t in zip(grads, ts):
        np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.filterwarnings("ignore:Using padding='same' with even kernel lengths")
def test_conv2d_same_padding_with_an_even_kernel_and_an_unbatched_input_match_torch():
    rng = np.random.default_rng(8)
    x, w = rng.standard_normal((3, 5, 6)), rng.standard_normal((2, 3, 4, 3))
    ours = F.conv2d(Tensor(x), Tensor(w), padding="same", dilation=(1, 2))
    theirs = TF.conv2d(torch.tensor(x), torch.tensor(w), padding="same", dilation=(1, 2))
    assert ours.shape == (2, 5, 6)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_layers_match_torch_with_the_same_weights():
    rng = np.random.default_rng(9)
    conv = nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, groups=2, dtype=np.float64, rng=0)
    conv.bias.copy_(rng.standard_normal(6))
    ref = torch.nn.Conv2d(4, 6, (3, 2), stride=(2, 1), padding=1, groups=2, dtype=torch.float64)
    with torch.no_grad():
        ref.weight.copy_(torch.tensor(conv.weight.data.copy())), ref.bias.copy_(torch.tensor(conv.bias.data.copy()))
    assert conv.weight.shape == tuple(ref.weight.shape) == (6, 2, 3, 2)
    assert np.std(conv.weight.data) == pytest.approx(np.sqrt(2 / (2 * 3 * 2)), rel=0.6)  # fan_in = C/G·kh·kw
    x = rng.standard_normal((2, 4, 7, 5))
    u = rng.standard_normal(ref(torch.tensor(x)).shape)
    y = conv(x)
    y.backward(u)
    ty = ref(torch.tensor(x))
    ty.backward(torch.tensor(u))
    np.testing.assert_allclose(y.data, ty.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.weight.grad.data, ref.weight.grad.numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(conv.bias.grad.data, ref.bias.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_conv_transpose2d_inverts_conv2d_sizes_and_matches_torch():
    rng = np.random.default_rng(10)
    x, w = rng.standard_normal((2, 4, 5, 5)), rng.standard_normal((4, 3, 3, 3))
    ours = F.conv_transpose2d(Tensor(x), Tensor(w), stride=2, padding=1, output_padding=1)
    theirs = TF.conv_transpose2d(torch.tensor(x), torch.tensor(w), stride=2, padding=1, output_padding=1)
    assert ours.shape == tuple(theirs.shape) == (2, 3, 10, 10)
    np.testing.assert_allclose(ours.data, theirs.numpy(), rtol=1e-10, atol=1e-12)
    assert F.conv2d(ours, Tensor(w), stride=2, padding=1).shape == x.shape


# ----------------------------------------------------------------------------- float32
def test_float32_stays_float32_and_is_accurate_against_float64():
    rng = np.random.default_rng(11)
    x, w = rng.standard_normal((4, 8, 12, 12)), rng.standard_normal((16, 8, 5, 5)) * 0.1
    u = rng.standard_normal((4, 16, 3, 3))

    def run(dtype):  # (no conv bias: the batch norm after it would give it a zero gradient, all rounding)
        ts = [Tensor(a.astype(dtype), requires_grad=True) for a in (x, w)]
        h = F.conv2d(*ts, padding=2)
        h = F.batch_norm(h, None, None, training=True)
        y = F.avg_pool2d(F.max_pool2d(h.relu(), 2), 2, stride=1, padding=1)
        y = F.max_pool2d(y, 2)
        y.backward(u.astype(dtype))
        return [y] + [t.grad for t in ts]

    single, double = run(np.float32), run(np.float64)
    for s, d in zip(single, double):
        assert s.dtype == np.float32
        scale = np.abs(d.data).max()
        np.testing.assert_allclose(s.data, d.data, atol=2e-5 * scale, rtol=0)


# ----------------------------------------------------------------------------- errors
def test_errors_name_the_op_and_the_shapes():
    with pytest.raises(ValueError, match=r"conv2d: input \(1, 3, 5, 5\) and weight \(2, 2, 3, 3\) do not fit 1"):
        F.conv2d(tg.zeros(1, 3, 5, 5), tg.zeros(2, 2, 3, 3))
    with pytest.raises(ValueError, match="conv2d: a 7x7 kernel .* does not fit an image of 5x5"):
        F.conv2d(tg.zeros(1, 1, 5, 5), tg.zeros(1, 1, 7, 7))
    with pytest.raises(ValueError, match="fold: input must be"):
        F.fold(tg.zeros(1, 5, 4), (3, 3), 2)
    with pytest.raises(ValueError, match="padding='same' needs stride 1"):
        F.conv2d(tg.zeros(1, 1, 5, 5), tg.zeros(1, 1, 3, 3), stride=2, padding="same")
    with pytest.raises(ValueError, match="output_padding .* smaller than the stride"):
        F.conv_transpose2d(tg.zeros(1, 1, 3, 3), tg.zeros(1, 1, 3, 3), stride=1, output_padding=1)
    with pytest.raises(ValueError, match="Conv2d.*conv2d: input"):
        nn.Conv2d(3, 4, 3, rng=0)(np.zeros((1, 2, 5, 5), dtype=np.float32))


def test_vmap_gives_per_example_gradients_of_a_conv_layer():
    """Per-example kernel gradients (vmap over examples of grad) equal a loop over the examples."""
    rng = np.random.default_rng(12)
    xs, w = rng.standard_normal((3, 1, 2, 5, 5)), rng.standard_normal((4, 2, 3, 3))

    def loss(w_, x_):
        return F.max_pool2d(F.conv2d(x_, w_, padding=1).tanh(), 2).sum()

    per_example = tg.vmap(tg.grad(loss), in_axes=(None, 0))(Tensor(w), Tensor(xs))
    for k in range(3):
        np.testing.assert_allclose(per_example.data[k], tg.grad(loss)(Tensor(w), Tensor(xs[k])).data, rtol=1e-12)
