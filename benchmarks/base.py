"""The contender interface every implementation in ``epoch_time`` follows (see ``contenders``).

Kept free of tinygrad_np and of every peer framework, so a worker process (``worker``) can host
a peer without importing anything else.
"""
from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from .baseline import initial_params

__all__ = ["Contender", "batches", "phase_times", "PHASES"]

#: The phases of a training step that ``epoch_phases`` times (the JSON's ``*_phases_s``):
#: gathering the batch, forward pass with the loss, backward pass, optimizer update.
PHASES = ("data", "forward", "backward", "optimizer")


def batches(order: np.ndarray, batch: int):
    for start in range(0, len(order), batch):
        yield order[start:start + batch]


def phase_times(order: np.ndarray, batch: int, data: Callable, forward: Callable, backward: Callable,
                update: Callable) -> dict[str, float]:
    """Seconds spent in each of ``PHASES`` over the batches of ``order``: per batch,
    ``update(backward(forward(*data(idx))))``, each call timed."""
    t = dict.fromkeys(PHASES, 0.0)
    clock = time.perf_counter
    for idx in batches(order, batch):
        t0 = clock()
        inputs = data(idx)
        t1 = clock()
        out = forward(*inputs)
        t2 = clock()
        grads = backward(out)
        t3 = clock()
        update(grads)
        t4 = clock()
        t["data"] += t1 - t0
        t["forward"] += t2 - t1
        t["backward"] += t3 - t2
        t["optimizer"] += t4 - t3
    return t


class Contender:
    name = "?"
    #: Runs in this process (False: a peer in a worker process, see ``worker.RemoteContender``).
    local = True

    def __init__(self, sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, lr: float = 0.05,
                 seed: int = 0, init: Sequence[np.ndarray] | None = None) -> None:
        self.sizes, self.batch, self.X, self.y, self.lr = list(sizes), batch, X, y, lr
        self.init = [np.array(p, copy=True) for p in init] if init is not None else initial_params(sizes, seed)
        self.reset()

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:  # pragma: no cover - interface
        """Start from ``params`` (reference layout; default the initial weights) on new arrays."""
        raise NotImplementedError

    def rebuild(self) -> None:
        """Carry on from the current weights on freshly allocated arrays: the same training, with
        its memory placement re-drawn (see ``dev/blockrace``)."""
        self.reset(self.weights() or None)

    def run_block(self, part: np.ndarray) -> float:
        """``rebuild()`` (untimed), then one epoch over ``part``: its seconds."""
        self.rebuild()
        t = time.perf_counter()
        self.epoch(part)
        return time.perf_counter() - t

    def epoch(self, order: np.ndarray) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def weights(self) -> list[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray] | None:
        """One batch's gradients at the current weights (reference layout); None if it has none."""
        return None

    def gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch of samples ``idx``: ``np.take`` of inputs and labels, as a DataLoader does."""
        return np.take(self.X, idx, axis=0), np.take(self.y, idx)

    def close(self) -> None:
        """Release what the contender holds outside this object (a worker process)."""
