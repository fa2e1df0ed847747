"""Tests for tinygrad_np/data.py (DataLoader)."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tinygrad_np.data import DataLoader


def _data(n, d=3):
    X = np.arange(n * d, dtype=np.float32).reshape(n, d)
    y = np.arange(n)  # y[i] == i identifies the sample
    return X, y


def _epoch(loader):
    return [tuple(b.copy() for b in batch) for batch in loader]


@settings(deadline=None)
@given(
    n=st.integers(0, 60),
    batch_size=st.integers(1, 70),
    shuffle=st.booleans(),
    drop_last=st.booleans(),
    seed=st.integers(0, 2**32 - 1),
)
def test_each_sample_once_and_len(n, batch_size, shuffle, drop_last, seed):
    X, y = _data(n)
    loader = DataLoader(X, y, batch_size=batch_size, shuffle=shuffle, drop_last=drop_last, rng=seed)
    for _ in range(2):  # two epochs
        batches = list(loader)
        assert len(batches) == len(loader)
        sizes = [len(yb) for _, yb in batches]
        assert all(s == batch_size for s in sizes[:-1])
        if drop_last:
            assert len(loader) == n // batch_size
            assert all(s == batch_size for s in sizes)
        else:
            assert len(loader) == -(-n // batch_size)
        seen = np.concatenate([yb for _, yb in batches]) if batches else np.array([], int)
        expected = n - n % batch_size if drop_last else n
        assert len(seen) == expected
        assert len(np.unique(seen)) == expected  # no duplicates
        if not drop_last:
            np.testing.assert_array_equal(np.sort(seen), np.arange(n))
        for xb, yb in batches:  # arrays stay aligned
            np.testing.assert_array_equal(xb, X[yb])


def test_drop_last_drops_only_the_tail():
    X, y = _data(10)
    loader = DataLoader(X, y, batch_size=4, shuffle=False, drop_last=True)
    assert len(loader) == 2
    assert [yb.tolist() for _, yb in loader] == [[0, 1, 2, 3], [4, 5, 6, 7]]
    assert len(DataLoader(X, batch_size=4, drop_last=False)) == 3
    assert len(DataLoader(X, batch_size=10, drop_last=True)) == 1
    assert len(DataLoader(X, batch_size=11, drop_last=True)) == 0
    assert list(DataLoader(X, batch_size=11, drop_last=True, rng=0)) == []


def test_same_seed_same_batches_different_seed_differs():
    X, y = _data(100)
    a = DataLoader(X, y, batch_size=16, rng=123)
    b = DataLoader(X, y, batch_size=16, rng=123)
    c = DataLoader(X, y, batch_size=16, rng=124)
    for _ in range(3):
        ea, eb, ec = _epoch(a), _epoch(b), _epoch(c)
        for (xa, ya), (xb, yb) in zip(ea, eb):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)
        assert not np.array_equal(np.concatenate([t[1] for t in ea]), np.concatenate([t[1] for t in ec]))


def test_new_permutation_each_epoch():
    _, y = _data(100)
    loader = DataLoader(y, batch_size=100, rng=0)
    (e1,), (e2,) = next(iter(loader)), next(iter(loader))
    assert not np.array_equal(e1, e2)


def test_generator_is_used_not_copied():
    g = np.random.default_rng(5)
    loader = DataLoader(np.arange(10), batch_size=3, rng=g)
    assert loader.rng is g


def test_restore_rng_state_reproduces_next_epoch():
    X, y = _data(50)
    loader = DataLoader(X, y, batch_size=8, rng=7)
    _epoch(loader)  # epoch 0
    state = loader.rng.bit_generator.state
    state = pickle.loads(pickle.dumps(state))  # as a checkpoint would store it
    epoch1 = _epoch(loader)
    _epoch(loader)  # epoch 2 advances the RNG further
    loader.rng.bit_generator.state = state
    again = _epoch(loader)
    # a fresh loader restored from the checkpoint also reproduces it
    fresh = DataLoader(X, y, batch_size=8, rng=999)
    fresh.rng.bit_generator.state = state
    again_fresh = _epoch(fresh)
    for e in (again, again_fresh):
        assert len(e) == len(epoch1)
        for (xa, ya), (xb, yb) in zip(epoch1, e):
            np.testing.assert_array_equal(xa, xb)
            np.testing.assert_array_equal(ya, yb)


def test_permutation_drawn_when_iteration_starts():
    loader = DataLoader(np.arange(20), batch_size=5, rng=3)
    state = loader.rng.bit_generator.state
    it = iter(loader)  # the epoch's permutation is drawn here
    assert loader.rng.bit_generator.state != state
    expected = np.random.default_rng(3).permutation(20)
    np.testing.assert_array_equal(np.concatenate([b for (b,) in it]), expected)


def test_no_shuffle_in_order_views():
    X, y = _data(11)
    rng = np.random.default_rng(0)
    state = rng.bit_generator.state
    loader = DataLoader(X, y, batch_size=4, shuffle=False, rng=rng)
    batches = list(loader)
    assert [yb.tolist() for _, yb in batches] == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9, 10]]
    for xb, yb in batches:
        assert np.shares_memory(xb, X) and np.shares_memory(yb, y)  # views, no copy
        assert not xb.flags.owndata and not yb.flags.owndata
    assert rng.bit_generator.state == state  # no randomness consumed


def test_shuffled_batches_are_copies():
    X, y = _data(12)
    xb, yb = next(iter(DataLoader(X, y, batch_size=4, rng=0)))
    assert not np.shares_memory(xb, X)
    assert xb.dtype == X.dtype and yb.dtype == y.dtype


def test_single_and_many_arrays():
    a, b, c = np.arange(9), np.arange(9) * 2, np.ones((9, 2, 2))
    for batch in DataLoader(a, b, c, batch_size=4, rng=1):
        assert len(batch) == 3
        np.testing.assert_array_equal(batch[1], 2 * batch[0])
        assert batch[2].shape[1:] == (2, 2)
    (only,) = next(iter(DataLoader(a, batch_size=9, shuffle=False)))
    np.testing.assert_array_equal(only, a)


def test_mismatched_lengths_raise_with_both_lengths():
    with pytest.raises(ValueError) as exc:
        DataLoader(np.zeros((10, 2)), np.zeros(9), batch_size=4)
    assert "10" in str(exc.value) and "9" in str(exc.value)


@pytest.mark.parametrize("bs", [0, -1])
def test_bad_batch_size_raises(bs):
    with pytest.raises(ValueError):
        DataLoader(np.zeros(5), batch_size=bs)


def test_other_bad_arguments():
    with pytest.raises(ValueError):
        DataLoader(batch_size=4)
    with pytest.raises(ValueError):
        DataLoader(np.float32(3.0))
    with pytest.raises(TypeError):
        DataLoader(np.zeros(5), batch_size=2.5)
