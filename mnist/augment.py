"""Random training-time augmentation: small shifts and rotations of image batches.

Pure, vectorized NumPy. Every image of a batch gets its own random whole-pixel shift
and rotation angle, applied as one inverse affine map with bilinear resampling: the
image is copied into a frame of ``fill`` pixels, and each output pixel is a blend of
the four frame pixels around its source point (four ``np.take`` gathers for the whole
batch). With zero rotation the result is an exact integer shift.

:class:`Augmenter` precomputes the sampling grid for rotation angles in 0.25° steps
and reuses its frame buffer, so a 128 x 784 batch costs about 2 ms. All its
randomness comes from ``Augmenter.rng``, so a seeded augmenter is reproducible and its
state can be checkpointed via ``augmenter.rng.bit_generator.state``.
"""
from __future__ import annotations

import numpy as np

__all__ = ["Augmenter", "affine_batch"]

ANGLE_STEP = 0.25  # degrees between the precomputed rotation angles of an Augmenter


def _grid(angles: np.ndarray, h: int, w: int, dtype: np.dtype) -> tuple[np.ndarray, ...]:
    """Source points of a rotation about the image centre, one row per angle:
    ``(y0, x0, wy, wx)`` = integer top-left neighbour and fractional offsets, (K, H*W)."""
    cy, cx = (h - 1) / 2, (w - 1) / 2
    yy, xx = np.mgrid[0:h, 0:w]
    v = (yy.ravel() - cy)[None, :]
    u = (xx.ravel() - cx)[None, :]
    cos, sin = np.cos(angles)[:, None], np.sin(angles)[:, None]
    sx = cos * u + sin * v + cx  # inverse map, computed in float64
    sy = cos * v - sin * u + cy
    x0, y0 = np.floor(sx), np.floor(sy)
    wy, wx = (sy - y0).astype(dtype), (sx - x0).astype(dtype)
    return y0.astype(np.intp), x0.astype(np.intp), wy, wx


def _reach(y0: np.ndarray, x0: np.ndarray, h: int, w: int) -> int:
    """How far (pixels) the source points and their neighbours stick out of the image."""
    if y0.size == 0:
        return 0
    return max(0, -int(x0.min()), -int(y0.min()), int(x0.max()) + 2 - w, int(y0.max()) + 2 - h)


def _blend(flat: np.ndarray, idx: np.ndarray, wp: int, wy: np.ndarray, wx: np.ndarray) -> np.ndarray:
    """Bilinear blend of the 4 pixels at flat indices idx, idx+1, idx+wp, idx+wp+1 (idx is clobbered)."""
    top = flat.take(idx)
    idx += 1
    right = flat.take(idx)
    idx += wp
    bottom_right = flat.take(idx)
    idx -= 1
    bottom = flat.take(idx)
    right -= top
    right *= wx
    top += right  # top row blended
    bottom_right -= bottom
    bottom_right *= wx
    bottom += bottom_right  # bottom row blended
    bottom -= top
    bottom *= wy
    top += bottom
    return top


def _offsets(n: int, shifts: np.ndarray, pad: int, hp: int, wp: int) -> np.ndarray:
    """Flat index offset of image i in the padded batch, including its shift (dy, dx)."""
    return np.arange(n) * (hp * wp) + (pad - shifts[:, 0]) * wp + (pad - shifts[:, 1])


def affine_batch(
    images: np.ndarray, angles: np.ndarray, shifts: np.ndarray, fill: float = 0.0
) -> np.ndarray:
    """Shift image ``i`` by ``shifts[i] = (dy, dx)`` whole pixels, then rotate it by
    ``angles[i]`` radians about the image centre, with bilinear resampling.

    ``images`` is (B, H, W); the result has the same shape (float dtype). Pixels that
    come from outside the image are ``fill``.
    """
    images = np.asarray(images)
    b, h, w = images.shape
    dtype = images.dtype if images.dtype.kind == "f" else np.dtype(np.float32)
    shifts = np.asarray(shifts, dtype=np.intp).reshape(b, 2)
    y0, x0, wy, wx = _grid(np.asarray(angles, dtype=np.float64).reshape(b), h, w, dtype)
    pad = _reach(y0, x0, h, w) + int(np.abs(shifts).max(initial=0)) + 1
    hp, wp = h + 2 * pad, w + 2 * pad
    padded = np.full((b, hp, wp), fill, dtype=dtype)
    padded[:, pad : pad + h, pad : pad + w] = images
    idx = y0 * wp + x0 + _offsets(b, shifts, pad, hp, wp)[:, None]
    return _blend(padded.reshape(-1), idx, wp, wy, wx).reshape(b, h, w)


class Augmenter:
    """Random shifts of up to ``max_shift`` pixels (each axis) and rotations of up to
    ``max_rotation`` degrees, drawn independently per image (angles in 0.25° steps).

    Call it on a batch of flattened ``(B, H*W)`` or ``(B, H, W)`` float images; a new
    array of the same shape and dtype is returned (the input is not modified). ``fill``
    is the value of a blank pixel: 0 for [0, 1] inputs, ``-mean/std`` if standardized.
    """

    def __init__(
        self,
        image_shape: tuple[int, int] = (28, 28),
        max_shift: int = 2,
        max_rotation: float = 10.0,
        *,
        fill: float = 0.0,
        dtype: type | np.dtype = np.float32,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        if max_shift < 0 or max_rotation < 0:
            raise ValueError("max_shift and max_rotation must be >= 0")
        self.image_shape = h, w = int(image_shape[0]), int(image_shape[1])
        self.max_shift = int(max_shift)
        self.max_rotation = float(max_rotation)
        self.fill = float(fill)
        self.dtype = np.dtype(dtype)
        self.rng: np.random.Generator = np.random.default_rng(rng)
        steps = int(round(self.max_rotation / ANGLE_STEP))
        self.angles = np.deg2rad(np.linspace(-steps * ANGLE_STEP, steps * ANGLE_STEP, 2 * steps + 1))
        y0, x0, self._wy, self._wx = _grid(self.angles, h, w, self.dtype)
        self.pad = _reach(y0, x0, h, w) + self.max_shift + 1
        self._hp, self._wp = h + 2 * self.pad, w + 2 * self.pad
        self._base = y0 * self._wp + x0  # (K, H*W) flat source index for each angle
        self._padded = np.empty((0, self._hp, self._wp), dtype=self.dtype)

    def _frame(self, n: int) -> np.ndarray:
        """A reusable (n, Hp, Wp) buffer whose border holds ``fill``."""
        if len(self._padded) < n:
            self._padded = np.full((n, self._hp, self._wp), self.fill, dtype=self.dtype)
        return self._padded[:n]

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        n = len(batch)
        h, w = self.image_shape
        if batch.size != n * h * w:
            raise ValueError(f"Augmenter expects images of {h}x{w} pixels, got batch shape {batch.shape}")
        shifts = self.rng.integers(-self.max_shift, self.max_shift + 1, size=(n, 2))
        which = self.rng.integers(0, len(self.angles), size=n)
        frame = self._frame(n)
        p = self.pad
        frame[:, p : p + h, p : p + w] = batch.reshape(n, h, w)
        idx = self._base.take(which, axis=0)
        idx += _offsets(n, shifts, p, self._hp, self._wp)[:, None]
        out = _blend(frame.reshape(-1), idx, self._wp, self._wy.take(which, axis=0), self._wx.take(which, axis=0))
        return out.reshape(batch.shape).astype(batch.dtype, copy=False)

    def __repr__(self) -> str:
        return (
            f"Augmenter(image_shape={self.image_shape}, max_shift={self.max_shift}, "
            f"max_rotation={self.max_rotation}, fill={self.fill})"
        )
