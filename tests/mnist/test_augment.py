"""Tests for mnist/augment.py: exact shifts, rotation geometry, fill, reproducibility."""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mnist.augment import Augmenter, affine_batch


def _shift_reference(img: np.ndarray, dy: int, dx: int, fill: float = 0.0) -> np.ndarray:
    """Shift by padding + slicing: out[y, x] = img[y - dy, x - dx] (fill outside)."""
    h, w = img.shape
    p = max(abs(dy), abs(dx))
    padded = np.pad(img, p, constant_values=fill)
    return padded[p - dy : p - dy + h, p - dx : p - dx + w]


@settings(deadline=None, max_examples=30)
@given(dy=st.integers(-4, 4), dx=st.integers(-4, 4), h=st.integers(3, 12), w=st.integers(3, 12),
       fill=st.sampled_from([0.0, -0.42]))
def test_zero_rotation_is_an_exact_integer_shift(dy, dx, h, w, fill):
    img = np.random.default_rng(h * 100 + w).random((h, w)).astype(np.float32)
    out = affine_batch(img[None], np.zeros(1), np.array([[dy, dx]]), fill=fill)
    np.testing.assert_array_equal(out[0], _shift_reference(img, dy, dx, fill))


def test_quarter_turn_matches_rot90_and_shift_comes_first():
    img = np.random.default_rng(0).random((9, 9)).astype(np.float32)
    out = affine_batch(img[None], np.array([np.pi / 2]), np.zeros((1, 2), dtype=int))
    np.testing.assert_allclose(out[0], np.rot90(img, -1), atol=1e-5)
    out = affine_batch(img[None], np.array([np.pi / 2]), np.array([[2, -1]]))
    np.testing.assert_allclose(out[0], np.rot90(_shift_reference(img, 2, -1), -1), atol=1e-5)


def test_each_image_gets_its_own_transform():
    imgs = np.random.default_rng(1).random((3, 8, 8)).astype(np.float32)
    shifts = np.array([[0, 0], [1, 0], [0, -2]])
    out = affine_batch(imgs, np.zeros(3), shifts)
    for k in range(3):
        np.testing.assert_array_equal(out[k], _shift_reference(imgs[k], *shifts[k]))


def test_small_rotation_keeps_a_centred_blob_mostly_intact():
    img = np.zeros((28, 28), dtype=np.float32)
    img[10:18, 11:17] = 1.0
    out = affine_batch(img[None], np.deg2rad([10.0]), np.zeros((1, 2), dtype=int))[0]
    assert abs(out.sum() - img.sum()) < 0.05 * img.sum()  # bilinear resampling roughly preserves mass
    assert out.min() >= 0 and out.max() <= 1 + 1e-6
    assert not np.array_equal(out, img)


def test_augmenter_shapes_dtypes_and_input_untouched():
    x = np.random.default_rng(2).random((5, 784)).astype(np.float32)
    before = x.copy()
    out = Augmenter(rng=0)(x)
    assert out.shape == x.shape and out.dtype == np.float32
    np.testing.assert_array_equal(x, before)
    x64 = x.astype(np.float64).reshape(5, 28, 28)
    out64 = Augmenter(dtype=np.float64, rng=0)(x64)
    assert out64.shape == (5, 28, 28) and out64.dtype == np.float64


def test_augmenter_is_seeded_and_its_state_can_be_restored():
    x = np.random.default_rng(3).random((16, 784)).astype(np.float32)
    a, b = Augmenter(rng=7), Augmenter(rng=7)
    np.testing.assert_array_equal(a(x), b(x))
    assert not np.array_equal(Augmenter(rng=8)(x), Augmenter(rng=7)(x))
    state = a.rng.bit_generator.state
    first = a(x)
    a.rng.bit_generator.state = state
    np.testing.assert_array_equal(a(x), first)


def test_augmenter_without_motion_is_the_identity_and_fill_is_used():
    x = np.random.default_rng(4).random((4, 100)).astype(np.float32)
    np.testing.assert_array_equal(Augmenter((10, 10), max_shift=0, max_rotation=0, rng=0)(x), x)
    blank = np.full((64, 100), 5.0, dtype=np.float32)
    out = Augmenter((10, 10), max_shift=3, max_rotation=0, fill=-1.0, rng=0)(blank)
    assert set(np.unique(out)) <= {5.0, -1.0} and (out == -1.0).any()


def test_augmenter_reuses_its_frame_for_batches_of_different_sizes():
    aug = Augmenter((6, 6), max_shift=1, max_rotation=5, fill=0.5, rng=0)
    ones = np.ones((10, 36), dtype=np.float32)
    aug(ones)
    small = aug(np.zeros((3, 36), dtype=np.float32))  # a smaller (last) batch
    assert small.shape == (3, 36)
    assert np.all((small >= 0) & (small <= 0.5 + 1e-6))  # no pixels leak from the previous, larger batch


def test_augmenter_rejects_wrong_image_size_and_bad_parameters():
    with pytest.raises(ValueError, match="28x28"):
        Augmenter(rng=0)(np.zeros((2, 100), dtype=np.float32))
    with pytest.raises(ValueError):
        Augmenter(max_shift=-1)
