"""The Tensor class: constructor dtype rules, properties, conversions, creation helpers,
function forms and scalars on either side of operators."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given

import strategies as S
import tinygrad_np as tg
from tinygrad_np import Tensor


# ----------------------------------------------------------------------------- constructor
@pytest.mark.parametrize("data", [1.5, [1.0, 2.0, 3.0], [[1.0, 2.0]], (0.5, 1)])
def test_python_floats_become_float32(data):
    t = Tensor(data)
    assert t.dtype == np.float32
    np.testing.assert_array_equal(t.data, np.asarray(data, dtype=np.float32))
    assert tg.tensor(data).dtype == np.float32


@pytest.mark.parametrize("data", [3, [0, 1, 2], [[1, 2]]])
def test_python_ints_become_int64_like_torch_tensor(data):
    """tg.tensor([0, 1, 2]) can index and label, as torch.tensor's int64."""
    assert tg.tensor(data).dtype == np.int64 and Tensor(data).dtype == np.int64
    assert tg.tensor([True, False]).dtype == np.bool_


@pytest.mark.parametrize("dtype", [np.float64, np.float32, np.float16, np.int64, np.int32, np.uint8])
def test_ndarray_keeps_its_dtype(dtype):
    arr = np.arange(6).reshape(2, 3).astype(dtype)
    t = Tensor(arr)
    assert t.dtype == dtype
    np.testing.assert_array_equal(t.data, arr)


def test_explicit_dtype_wins():
    assert Tensor([1, 2], dtype=np.float64).dtype == np.float64
    assert Tensor(np.ones(2), dtype=np.float32).dtype == np.float32
    assert Tensor([1, 2], dtype=np.int64).dtype == np.int64


def test_int_tensors_cannot_require_grad():
    with pytest.raises(TypeError):
        Tensor(np.arange(3), requires_grad=True)
    with pytest.raises(TypeError):
        Tensor([1, 2], dtype=np.int32, requires_grad=True)
    t = Tensor(np.arange(3))
    assert not t.requires_grad


def test_float64_ndarray_can_require_grad():
    t = Tensor(np.ones(3), requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad is None and t.grad_fn is None


def test_tensor_of_a_tensor_copies_no_graph():
    x = Tensor(np.ones(2), requires_grad=True)
    y = Tensor(x * 2.0)
    assert y.is_leaf and not y.requires_grad
    np.testing.assert_array_equal(y.data, [2.0, 2.0])


# ----------------------------------------------------------------------------- properties and conversions
@given(S.arrays(S.shapes()))
def test_properties(arr):
    t = Tensor(arr)
    assert t.shape == arr.shape
    assert t.ndim == arr.ndim
    assert t.size == arr.size
    assert t.dtype == arr.dtype
    if arr.ndim:
        assert len(t) == len(arr)
    assert t.is_leaf and t.grad_fn is None


def test_numpy_shares_memory_read_only_and_item_tolist():
    arr = np.array([[1.0, 2.0], [3.0, 4.0]])
    t = Tensor(arr)
    assert np.shares_memory(t.numpy(), arr) and np.shares_memory(t.data, arr)
    for out in (t.numpy(), t.data, np.asarray(t)):
        with pytest.raises(ValueError, match="read-only"):
            out[0, 0] = 0.0
    assert arr[0, 0] == 1.0
    assert Tensor(np.array(2.5)).item() == 2.5
    assert isinstance(Tensor(np.array([7.0])).item(), float)
    assert t.tolist() == [[1.0, 2.0], [3.0, 4.0]]
    with pytest.raises(ValueError):
        t.item()


def test_array_protocol():
    t = Tensor(np.array([1.0, 2.0]))
    np.testing.assert_array_equal(np.asarray(t), [1.0, 2.0])
    assert np.asarray(t).dtype == np.float64
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    np.testing.assert_array_equal(np.exp(np.asarray(t)), np.exp([1.0, 2.0]))


def test_ndarray_on_the_left_uses_the_tensor_operator():
    t = Tensor(np.array([1.0, 2.0]), requires_grad=True)
    y = np.array([10.0, 20.0]) + t
    assert isinstance(y, Tensor) and y.grad_fn is not None
    y.sum().backward()
    np.testing.assert_array_equal(t.grad.data, [1.0, 1.0])


def test_repr():
    r = repr(Tensor([1.0, 2.0]))
    assert r.startswith("Tensor(") and "1." in r and "2." in r and "float32" in r
    assert "requires_grad=True" in repr(Tensor([1.0], requires_grad=True))
    y = Tensor([1.0], requires_grad=True) * 2.0
    assert "grad_fn=<Mul>" in repr(y)
    big = repr(Tensor(np.zeros(1000)))
    assert "..." in big and len(big) < 300


def test_astype_is_differentiable_between_floats_and_bool():
    t = Tensor(np.array([1.5, 2.5]), requires_grad=True)
    c = t.astype(np.float32)
    assert c.dtype == np.float32 and c.requires_grad  # the VJP casts back
    (c * c).sum().backward()
    assert t.grad.dtype == np.float64
    np.testing.assert_array_equal(t.grad.data, [3.0, 5.0])
    i = t.astype(np.int64)  # an integer cast is a constant
    assert i.dtype == np.int64 and not i.requires_grad
    assert bool(Tensor(np.array(1.0))) and not bool(Tensor(np.array(0.0)))


# ----------------------------------------------------------------------------- creation helpers
@pytest.mark.parametrize("dtype", [None, np.float64, np.float32])
def test_zeros_ones_full_eye_arange(dtype):
    expected = np.float32 if dtype is None else dtype
    cases = [
        (tg.zeros(2, 3, dtype=dtype), np.zeros((2, 3))),
        (tg.zeros((2, 3), dtype=dtype), np.zeros((2, 3))),
        (tg.ones(4, dtype=dtype), np.ones(4)),
        (tg.full((2, 2), 7.5, dtype=dtype), np.full((2, 2), 7.5)),
        (tg.full(3, -1.0, dtype=dtype), np.full(3, -1.0)),
        (tg.eye(3, dtype=dtype), np.eye(3)),
        (tg.eye(2, 3, dtype=dtype), np.eye(2, 3)),
        (tg.arange(5, dtype=dtype), np.arange(5)),
        (tg.arange(1, 2, 0.25, dtype=dtype), np.arange(1, 2, 0.25)),
    ]
    for t, ref in cases:
        assert t.dtype == expected
        np.testing.assert_array_equal(t.data, ref.astype(expected))
        assert not t.requires_grad
    assert tg.zeros(2, requires_grad=True).requires_grad


@pytest.mark.parametrize("make", [tg.rand, tg.randn])
def test_random_helpers_are_seeded(make):
    a = make(3, 4, rng=np.random.default_rng(123))
    b = make(3, 4, rng=np.random.default_rng(123))
    c = make(3, 4, rng=np.random.default_rng(124))
    np.testing.assert_array_equal(a.data, b.data)
    assert not np.array_equal(a.data, c.data)
    np.testing.assert_array_equal(make((3, 4), rng=123).data, a.data)  # an int seed is a Generator seed
    assert a.shape == (3, 4) and a.dtype == np.float32
    assert make(2, rng=0, dtype=np.float64).dtype == np.float64
    gen = np.random.default_rng(5)
    first, second = make(4, rng=gen), make(4, rng=gen)  # a shared Generator advances
    assert not np.array_equal(first.data, second.data)


def test_rand_is_uniform_and_randn_is_normal():
    u = tg.rand(10_000, rng=0, dtype=np.float64).data
    assert u.min() >= 0.0 and u.max() < 1.0 and abs(u.mean() - 0.5) < 0.02
    n = tg.randn(10_000, rng=0, dtype=np.float64).data
    assert abs(n.mean()) < 0.05 and abs(n.std() - 1.0) < 0.05


def test_like_helpers_follow_shape_and_dtype():
    base = Tensor(np.ones((2, 3), dtype=np.float64))
    for t in (tg.zeros_like(base), tg.ones_like(base), tg.full_like(base, 3.0),
              tg.rand_like(base, rng=0), tg.randn_like(base, rng=0)):
        assert t.shape == (2, 3) and t.dtype == np.float64
    np.testing.assert_array_equal(tg.zeros_like(base).data, 0.0)
    np.testing.assert_array_equal(tg.ones_like(base).data, 1.0)
    np.testing.assert_array_equal(tg.full_like(base, 3.0).data, 3.0)
    np.testing.assert_array_equal(tg.rand_like(base, rng=7).data, tg.rand_like(base, rng=7).data)
    assert tg.zeros_like(base, dtype=np.float32).dtype == np.float32
    assert tg.ones_like(base, requires_grad=True).requires_grad
    f32 = Tensor(np.ones(2, dtype=np.float32))
    assert tg.randn_like(f32, rng=0).dtype == np.float32


# ----------------------------------------------------------------------------- function forms
def test_function_forms_match_methods():
    x = Tensor(np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]]))
    pos = Tensor(np.abs(x.data) + 0.1)
    for name in ("exp", "tanh", "sigmoid", "relu", "abs", "neg", "softmax", "log_softmax", "flatten"):
        np.testing.assert_allclose(getattr(tg, name)(x).data, getattr(x, name)().data)
    for name in ("log", "sqrt"):
        np.testing.assert_allclose(getattr(tg, name)(pos).data, getattr(pos, name)().data)
    np.testing.assert_allclose(tg.sum(x, axis=0).data, x.data.sum(axis=0))
    np.testing.assert_allclose(tg.mean(x, axis=1, keepdims=True).data, x.data.mean(axis=1, keepdims=True))
    np.testing.assert_allclose(tg.max(x).data, x.data.max())
    np.testing.assert_allclose(tg.var(x, ddof=1).data, x.data.var(ddof=1))
    np.testing.assert_allclose(tg.std(x).data, x.data.std())
    np.testing.assert_allclose(tg.exp(x.data).data, np.exp(x.data))  # arrays are accepted
    np.testing.assert_allclose(tg.add(x, 1.0).data, x.data + 1.0)
    np.testing.assert_allclose(tg.mul(x, x).data, x.data * x.data)
    np.testing.assert_allclose(tg.maximum(x, 0.0).data, np.maximum(x.data, 0.0))
    np.testing.assert_allclose(tg.clip(x, -0.5, 0.5).data, np.clip(x.data, -0.5, 0.5))
    np.testing.assert_allclose(tg.matmul(x, x.T).data, x.data @ x.data.T)
    np.testing.assert_allclose(tg.reshape(x, (3, 2)).data, x.data.reshape(3, 2))
    np.testing.assert_allclose(tg.transpose(x).data, x.data.T)
    np.testing.assert_allclose(tg.logsumexp(x, axis=1).data, np.log(np.exp(x.data).sum(axis=1)))
    np.testing.assert_array_equal(tg.argmax(x, axis=1).data, x.data.argmax(axis=1))


def test_function_forms_are_differentiable():
    x = Tensor(np.array([0.5, -1.0]), requires_grad=True)
    tg.sum(tg.exp(x)).backward()
    np.testing.assert_allclose(x.grad.data, np.exp([0.5, -1.0]))


# ----------------------------------------------------------------------------- scalars on either side
OPERATORS = {
    "x + s": (lambda x, s: x + s, lambda x, s: x + s, lambda x, s: np.ones_like(x)),
    "s + x": (lambda x, s: s + x, lambda x, s: s + x, lambda x, s: np.ones_like(x)),
    "x - s": (lambda x, s: x - s, lambda x, s: x - s, lambda x, s: np.ones_like(x)),
    "s - x": (lambda x, s: s - x, lambda x, s: s - x, lambda x, s: -np.ones_like(x)),
    "x * s": (lambda x, s: x * s, lambda x, s: x * s, lambda x, s: np.full_like(x, s)),
    "s * x": (lambda x, s: s * x, lambda x, s: s * x, lambda x, s: np.full_like(x, s)),
    "x / s": (lambda x, s: x / s, lambda x, s: x / s, lambda x, s: np.full_like(x, 1 / s)),
    "s / x": (lambda x, s: s / x, lambda x, s: s / x, lambda x, s: -s / x**2),
    "x ** s": (lambda x, s: x ** s, lambda x, s: x ** s, lambda x, s: s * x ** (s - 1)),
    "s ** x": (lambda x, s: s ** x, lambda x, s: s ** x, lambda x, s: s ** x * np.log(s)),
    "-x": (lambda x, s: -x, lambda x, s: -x, lambda x, s: -np.ones_like(x)),
    "abs(x)": (lambda x, s: abs(x), lambda x, s: np.abs(x), lambda x, s: np.sign(x)),
}


@pytest.mark.parametrize("op", sorted(OPERATORS))
@pytest.mark.parametrize("scalar", [2, 1.5, np.float64(0.75)])
def test_scalar_on_either_side(op, scalar):
    ours, ref, dref = OPERATORS[op]
    xv = np.array([0.5, 1.25, 2.0])
    x = Tensor(xv, requires_grad=True)
    y = ours(x, scalar)
    assert isinstance(y, Tensor) and y.dtype == np.float64
    np.testing.assert_allclose(y.data, ref(xv, scalar), rtol=1e-12)
    y.sum().backward()
    np.testing.assert_allclose(x.grad.data, dref(xv, scalar), rtol=1e-12)


def test_matmul_with_arrays_on_either_side():
    x = Tensor(np.array([[1.0, 2.0], [3.0, 4.0]]), requires_grad=True)
    m = np.array([[0.0, 1.0], [1.0, 0.0]])
    np.testing.assert_array_equal((x @ m).data, x.data @ m)
    left = m @ x
    assert isinstance(left, Tensor)
    np.testing.assert_array_equal(left.data, m @ x.data)
    left.sum().backward()
    np.testing.assert_array_equal(x.grad.data, m.T @ np.ones((2, 2)))


def test_shape_helpers():
    x = Tensor(np.arange(24.0).reshape(2, 3, 4))
    assert x.reshape(6, 4).shape == (6, 4) and x.reshape((4, -1)).shape == (4, 6)
    assert x.view(24).shape == (24,)
    assert x.transpose().shape == (4, 3, 2) and x.transpose(1, 0, 2).shape == (3, 2, 4)
    assert x.T.shape == (4, 3, 2) and x.mT.shape == (2, 4, 3)
    assert x.swapaxes(0, 2).shape == (4, 3, 2)
    assert x.unsqueeze(1).shape == (2, 1, 3, 4)
    assert x.unsqueeze(1).squeeze(1).shape == (2, 3, 4)
    assert Tensor(np.ones((1, 3, 1))).squeeze().shape == (3,)
    assert x.flatten().shape == (24,) and x.flatten(1).shape == (2, 12)
    assert x.expand(5, 2, 3, 4).shape == (5, 2, 3, 4)
    np.testing.assert_array_equal(x[1, :, ::2].data, x.data[1, :, ::2])
    np.testing.assert_array_equal(x[[0, 0, 1]].data, x.data[[0, 0, 1]])
    np.testing.assert_array_equal(x[Tensor(np.array([1]))].data, x.data[[1]])


def test_constant_arrays_take_the_tensors_float_dtype():
    """float32 stays float32 even against a float64 ndarray constant (no silent promotion)."""
    x = tg.tensor([1.0, 2.0, 3.0], requires_grad=True)
    mask = np.array([True, False, True])
    for y in (x * np.ones(3), np.ones(3) + x, x / np.full(3, 2.0), tg.where(mask, x, np.zeros(3))):
        assert y.dtype == np.float32
        y.sum().backward()
        assert x.grad.dtype == np.float32
    x64 = tg.tensor(np.ones(2), requires_grad=True)
    assert (x64 * np.ones(2, dtype=np.float32)).dtype == np.float64
