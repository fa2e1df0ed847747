"""The shape ops of the op-coverage family beyond the generic suites: tril/triu at the boundary,
split's list of pieces, repeat's and roll's gradients in closed form, writes through a view,
float32, and the errors (each names the op)."""
from __future__ import annotations

import numpy as np
import pytest

import tinygrad_np as tg
from tinygrad_np import Tensor, autograd_grad


def grads_of(fn, x, g):
    t = Tensor(x, requires_grad=True)
    y = fn(t)
    return y, autograd_grad(y, [t], g)[0].data


# ----------------------------------------------------------------------------- tril / triu
@pytest.mark.parametrize("shape", [(3, 4), (4, 3), (3, 3), (2, 3, 4), (1, 1), (3,)])
def test_tril_and_triu_at_every_k_from_all_zero_to_all_kept(shape):
    """For each k: the values are NumPy's; the gradient is g on the kept entries, the diagonal
    j - i = k included, and 0 elsewhere; tril(k) and triu(k + 1) split a (and g) between them."""
    rng = np.random.default_rng(0)
    a = rng.standard_normal(shape)
    rows, cols = (shape[0], shape[0]) if len(shape) == 1 else shape[-2:]
    square = np.broadcast_to(a, (rows, cols)) if len(shape) == 1 else a
    g = rng.standard_normal(square.shape)
    i, j = np.arange(rows)[:, None], np.arange(cols)[None, :]
    for k in range(-rows - 1, cols + 2):
        low, g_low = grads_of(lambda t: tg.tril(t, k), a, g)
        up, g_up = grads_of(lambda t: tg.triu(t, k + 1), a, g)
        np.testing.assert_array_equal(low.data, np.tril(a, k))
        np.testing.assert_array_equal(up.data, np.triu(a, k + 1))
        np.testing.assert_array_equal(low.data + up.data, square)  # every entry in exactly one of them
        kept = np.broadcast_to(j - i <= k, g.shape)
        expected = np.where(kept, g, 0.0)
        if len(shape) == 1:  # the vector was broadcast over the rows: its gradient sums them
            expected = expected.sum(axis=0)
        np.testing.assert_allclose(g_low, expected, rtol=1e-15, atol=0)
        total = g.sum(axis=0) if len(shape) == 1 else g
        np.testing.assert_allclose(g_low + g_up, total, rtol=1e-15, atol=1e-15)
        if k <= -rows:
            assert not np.any(low.data)
        if k >= cols - 1:
            np.testing.assert_array_equal(low.data, square)


# ----------------------------------------------------------------------------- split
def test_split_returns_a_list_of_slices_whose_gradients_meet_in_the_input():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((4, 6))
    t = Tensor(x, requires_grad=True)
    pieces = tg.split(t, [1, 4], axis=1)
    assert isinstance(pieces, list) and len(pieces) == 3
    assert [p.shape for p in pieces] == [(4, 1), (4, 3), (4, 2)]
    assert all(p.grad_fn.name == "GetItem" for p in pieces)
    for p, e in zip(pieces, np.split(x, [1, 4], axis=1)):
        np.testing.assert_array_equal(p.data, e)
    g2 = rng.standard_normal((4, 2))
    ((pieces[0] * 3.0).sum() + (pieces[2] * Tensor(g2)).sum()).backward()  # piece 1 unused
    expected = np.zeros((4, 6))
    expected[:, :1], expected[:, 4:] = 3.0, g2
    np.testing.assert_array_equal(t.grad.data, expected)


def test_array_split_gives_unequal_and_empty_pieces_like_numpy():
    x = np.arange(10.0).reshape(5, 2)
    for sections in (3, 5, 7, [2, 2, 9], [4, 1]):
        ours, theirs = tg.array_split(Tensor(x), sections), np.array_split(x, sections)
        assert [p.shape for p in ours] == [p.shape for p in theirs]
        for p, e in zip(ours, theirs):
            np.testing.assert_array_equal(p.data, e)
    assert [p.shape[0] for p in tg.array_split(Tensor(x), 3)] == [2, 2, 1]  # the first size % n are longer
    pieces = np.split(Tensor(x), 5)  # NumPy's function on a Tensor: our pieces
    assert len(pieces) == 5 and all(isinstance(p, Tensor) for p in pieces)


# ----------------------------------------------------------------------------- repeat, roll, flip, tile
def test_repeat_vjp_sums_each_entrys_copies():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((2, 3))
    y, gx = grads_of(lambda t: t.repeat([2, 0, 3], axis=1), x, g := rng.standard_normal((2, 5)))
    np.testing.assert_array_equal(y.data, np.repeat(x, [2, 0, 3], axis=1))
    np.testing.assert_allclose(gx, np.stack([g[:, 0] + g[:, 1], np.zeros(2), g[:, 2] + g[:, 3] + g[:, 4]], axis=1),
                               rtol=1e-15)
    y, gx = grads_of(lambda t: t.repeat(2), x, g := rng.standard_normal(12))  # axis None: flattened
    np.testing.assert_allclose(gx, (g[0::2] + g[1::2]).reshape(2, 3), rtol=1e-15)


def test_roll_vjp_rolls_back():
    rng = np.random.default_rng(3)
    x, g = rng.standard_normal((3, 4)), rng.standard_normal((3, 4))
    _, gx = grads_of(lambda t: tg.roll(t, (1, 5), axis=(0, 1)), x, g)
    np.testing.assert_array_equal(gx, np.roll(g, (-1, -5), axis=(0, 1)))
    _, gx = grads_of(lambda t: tg.roll(t, -7), x, g)
    np.testing.assert_array_equal(gx, np.roll(g, 7))


def test_tile_with_zero_reps_and_its_gradient():
    x = np.arange(6.0).reshape(2, 3)
    for reps in [(0, 1), (2, 0), 0, (1, 2, 1)]:
        y, gx = grads_of(lambda t: tg.tile(t, reps), x, np.ones(np.tile(x, reps).shape) * 2.5)
        np.testing.assert_array_equal(y.data, np.tile(x, reps))
        copies = int(np.prod(reps))
        np.testing.assert_array_equal(gx, np.full(x.shape, 2.5 * copies))


def test_a_write_through_a_flipped_view_is_seen_by_graphs_that_saved_its_base():
    w = Tensor(np.arange(3.0), requires_grad=True) * 1.0  # a non-leaf: its array is the engine's own
    loss = (w * w).sum()
    w.flip().copy_(np.zeros(3))  # np.flip is a view: this writes into w's array
    np.testing.assert_array_equal(w.data, np.zeros(3))
    with pytest.raises(RuntimeError, match="modified in place"):
        loss.backward()


COMPOSITES_32 = {
    "tensordot": lambda a, b: tg.tensordot(a, b.reshape(3, 2), 1), "dot": lambda a, b: tg.dot(a, b.reshape(3, 2)),
    "inner": lambda a, b: tg.inner(a, b.reshape(2, 3)), "outer": tg.outer, "trace": lambda a, b: tg.trace(a),
    "diag": lambda a, b: tg.diag(b), "split": lambda a, b: tg.split(a, 3, axis=1)[1],
    "array_split": lambda a, b: tg.array_split(b, 4)[0], "tile": lambda a, b: tg.tile(a, (2, 1)),
    "moveaxis": lambda a, b: tg.moveaxis(a, 0, -1), "einsum": lambda a, b: tg.einsum("ij,j->i", a, b[:3]),
    "flip": lambda a, b: tg.flip(a), "roll": lambda a, b: tg.roll(a, 1), "repeat": lambda a, b: tg.repeat(a, 2, 0),
    "tril": lambda a, b: tg.tril(a), "triu": lambda a, b: tg.triu(b), "diagonal": lambda a, b: tg.diagonal(a),
}


@pytest.mark.parametrize("name", sorted(COMPOSITES_32))
def test_float32_stays_float32_forward_and_backward(name):
    rng = np.random.default_rng(4)
    a = Tensor(rng.standard_normal((2, 3)).astype(np.float32), requires_grad=True)
    b = Tensor(rng.standard_normal(6).astype(np.float32), requires_grad=True)
    y = COMPOSITES_32[name](a, b)
    assert y.dtype == np.float32
    (y * Tensor(rng.standard_normal(y.shape).astype(np.float32))).sum().backward()
    for x in (a, b):
        assert x.grad is None or x.grad.dtype == np.float32


# ----------------------------------------------------------------------------- errors
@pytest.mark.parametrize("call, pattern", [
    (lambda: tg.flip(np.ones(3), 1), "flip: axis 1 is out of range"),
    (lambda: tg.flip(np.ones((2, 2)), (0, -2)), "flip: repeated axis"),
    (lambda: tg.roll(np.ones(3), 1, 2), "roll: axis 2 is out of bounds"),
    (lambda: tg.roll(np.ones((2, 3)), (1, 2), (0, 1, 1)), "roll: shape mismatch"),
    (lambda: tg.repeat(np.ones(3), -1), "repeat: negative dimensions"),
    (lambda: tg.repeat(np.ones(3), [1, 2]), r"repeat: operands could not be broadcast.*input shapes \(3,\)"),
    (lambda: tg.repeat(np.ones(3), 1, axis=1), "repeat: axis 1 is out of bounds"),
    (lambda: tg.tril(np.float64(1.0)), "tril: needs at least 1 dim"),
    (lambda: tg.triu(np.float64(1.0)), "triu: needs at least 1 dim"),
    (lambda: tg.tile(np.ones(2), (1, -1)), "tile: reps must be >= 0"),
    (lambda: tg.moveaxis(np.ones((2, 3)), [0, 1], [1]), "moveaxis: source .* differ in length"),
    (lambda: tg.moveaxis(np.ones((2, 3)), [0, 0], [0, 1]), "moveaxis: repeated axis"),
    (lambda: tg.moveaxis(np.ones((2, 3)), 2, 0), "moveaxis: axis 2 is out of range"),
    (lambda: tg.swapaxes(np.ones(3), 0, 1), "swapaxes: axis 1 is out of range"),
    (lambda: tg.split(np.ones(5), 2), "split: axis 0 of length 5 does not split into 2 equal sections"),
    (lambda: tg.array_split(np.ones(5), 0), "array_split: the number of sections must be > 0"),
    (lambda: tg.array_split(np.float64(1.0), 1), "array_split: axis 0 is out of range"),
    (lambda: tg.tensordot(np.ones((2, 3)), np.ones((3, 2)), 3), r"tensordot: axes=3 for shapes \(2, 3\) and \(3, 2\)"),
    (lambda: tg.tensordot(np.ones((2, 3)), np.ones((3, 2)), ([1], [0, 1])), "tensordot: 1 axes of the first"),
    (lambda: tg.tensordot(np.ones((2, 3)), np.ones((3, 2)), ([0], [0])), "tensordot: .* not aligned"),
    (lambda: tg.dot(np.ones((2, 1)), np.ones(3)), r"dot: shapes \(2, 1\) and \(3,\) are not aligned"),  # not broadcast
    (lambda: tg.inner(np.ones(2), np.ones(3)), "inner: .* not aligned"),
])
def test_errors_name_the_function(call, pattern):
    with pytest.raises(ValueError, match=pattern):
        call()
