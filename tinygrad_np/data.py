"""Minibatch iteration over in-memory NumPy arrays.

Pure NumPy; independent of the rest of tinygrad_np.

Example::

    loader = DataLoader(X_train, y_train, batch_size=128, shuffle=True, rng=0)
    for epoch in range(epochs):
        for xb, yb in loader:
            ...

Reproducibility and checkpoints
-------------------------------
Every ``iter(loader)`` (i.e. every ``for`` loop over it) draws one fresh
permutation from ``loader.rng``, a ``np.random.Generator``. Two loaders built
with the same seed therefore yield identical batches, epoch after epoch. To
checkpoint between epochs, save the generator state and restore it later::

    state = loader.rng.bit_generator.state      # a plain dict (picklable / JSON-able)
    ...
    loader.rng.bit_generator.state = state      # the next epoch repeats exactly

The permutation is drawn when iteration starts, so a state saved mid-epoch
already belongs to the *next* epoch; resuming in the middle of an epoch is
not supported.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

__all__ = ["DataLoader"]


class DataLoader:
    """Iterate over equal-length arrays in minibatches.

    Args:
        *arrays: one or more arrays sharing their first dimension (samples).
        batch_size: samples per batch (>= 1); the last batch may be smaller
            unless ``drop_last``.
        shuffle: draw a new permutation of the samples every epoch. When False
            the batches are contiguous slices, i.e. views of the inputs
            (no copy).
        drop_last: skip the final incomplete batch.
        rng: a ``np.random.Generator`` (used as is, not copied), a seed, or
            None (fresh OS entropy). Exposed as ``self.rng``.

    Iterating yields a tuple with one batch per input array, in input order.
    """

    def __init__(
        self,
        *arrays: np.ndarray,
        batch_size: int = 128,
        shuffle: bool = True,
        drop_last: bool = False,
        rng: np.random.Generator | int | None = None,
    ) -> None:
        if not arrays:
            raise ValueError("DataLoader needs at least one array")
        arrays = tuple(np.asarray(a) for a in arrays)
        for i, a in enumerate(arrays):
            if a.ndim == 0:
                raise ValueError(f"array {i} is 0-dimensional; arrays need a sample axis")
        n = len(arrays[0])
        for i, a in enumerate(arrays[1:], start=1):
            if len(a) != n:
                raise ValueError(
                    f"all arrays must have the same length: array 0 has length {n}, "
                    f"array {i} has length {len(a)}"
                )
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)):
            raise TypeError(f"batch_size must be an int, got {type(batch_size).__name__}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")

        self.arrays: tuple[np.ndarray, ...] = arrays
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.rng: np.random.Generator = np.random.default_rng(rng)
        self._n = n

    @property
    def num_samples(self) -> int:
        """Number of samples (length of every array)."""
        return self._n

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.drop_last:
            return self._n // self.batch_size
        return -(-self._n // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, ...]]:
        # Draw the permutation now (not lazily at the first next()), so the
        # RNG state right before a ``for`` loop determines that epoch.
        order = self.rng.permutation(self._n) if self.shuffle else None
        return self._batches(order)

    def _batches(self, order: np.ndarray | None) -> Iterator[tuple[np.ndarray, ...]]:
        bs, n, arrays = self.batch_size, self._n, self.arrays
        stop = n - n % bs if self.drop_last else n
        if order is None:
            for start in range(0, stop, bs):
                yield tuple(a[start : start + bs] for a in arrays)
        else:
            for start in range(0, stop, bs):
                idx = order[start : start + bs]
                yield tuple(np.take(a, idx, axis=0) for a in arrays)

    def __repr__(self) -> str:
        return (
            f"DataLoader(num_samples={self._n}, arrays={len(self.arrays)}, "
            f"batch_size={self.batch_size}, shuffle={self.shuffle}, "
            f"drop_last={self.drop_last})"
        )
