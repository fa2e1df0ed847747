"""The implementations raced by ``epoch_time``: each trains the same MLP for one epoch of plain
minibatch SGD on softmax cross-entropy (mean), float32, from the same initial weights, in the
same data order.

A contender is built with ``make(sizes, batch, X, y, lr=..., seed=...)``; ``epoch(order)`` runs
one epoch over the sample permutation ``order`` (batches gathered with ``np.take``, as a
DataLoader does). ``reset(params)`` starts again from ``params`` (default: the initial weights);
``rebuild()`` carries on from the current weights on freshly allocated arrays (the harness does
so, untimed, before every block, so no single memory placement decides a result);
``run_block(part)`` is that rebuild followed by the timed epoch over ``part``, and returns the
seconds. ``gradients(xb, yb)`` are one batch's loss gradients at the current weights (no update)
and ``weights()`` the current weights, both in the reference layout ``[W1, b1, ..., WL, bL]``.

This module holds the in-process contenders (NumPy-based: the hand-derived reference,
tinygrad_np eager, traced and compiled, the GEMM-only bound). The optional peers (PyTorch, JAX, HIPS
autograd, MyGrad) are in ``peers``; each runs in a worker process of its own (``worker``).
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .base import PHASES, Contender, batches, phase_times
from .baseline import initial_params, reference
from .report import TRACED
from .tg_api import API, MLPTrainer

__all__ = ["Contender", "HandNumPy", "TinygradNP", "TinygradNPTraced", "TinygradNPCompiled", "TinygradNPCompiledGemm",
           "GemmBound", "batches", "phase_times",
           "epoch_flops", "in_process", "PHASES", "TRACED", "initial_params"]


class TinygradNP(Contender):
    """tinygrad_np's autograd: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU`` +
    ``F.cross_entropy`` + ``backward()`` + ``optim.SGD`` (``tg_api.MLPTrainer``)."""

    name = "tinygrad_np"
    traced = False

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.trainer = MLPTrainer(self.init if params is None else params, self.lr, traced=self.traced)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        return self.trainer.gradients(xb, yb)

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        return self.trainer.step(xb, yb)

    def epoch(self, order: np.ndarray) -> float:
        total = 0.0
        step = self.trainer.step
        for idx in batches(order, self.batch):
            total += step(*self.gather(idx)) * len(idx)
        return total / len(order)

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        """One epoch with the time of each phase measured (``PHASES``; forward includes the loss)."""
        tr = self.trainer

        def backward(loss: Any) -> None:
            tr.opt.zero_grad()
            loss.backward()

        def data(idx: np.ndarray) -> tuple[Any, np.ndarray]:
            xb, yb = self.gather(idx)
            return tr.api.Tensor(xb), yb

        return phase_times(order, self.batch, data, tr.loss, backward, lambda _: tr.opt.step())

    def weights(self) -> list[np.ndarray]:
        return self.trainer.weights()


class TinygradNPTraced(TinygradNP):
    """tinygrad_np with ``tg.traced_step``: the same model, loss, optimizer and gradients, each
    step's forward + backward replayed from a plan (traced on the first two batches of each size).
    A rebuild keeps the model (whose plans hold its parameter Tensors) and gives the parameters
    fresh arrays."""

    name = TRACED
    traced = True

    @staticmethod
    def supported() -> bool:
        return API().has_traced_step

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        if not hasattr(self, "trainer"):
            super().reset(params)
        else:
            self.trainer.set_weights(self.init if params is None else params)

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        raise NotImplementedError("a replay runs the forward and the backward in one call: no split")


class TinygradNPCompiled(TinygradNP):
    """tinygrad_np with ``tg.compile``: forward, backward and the SGD update as one plan per batch
    size, bit for bit the eager step (``options``: ``gemm_accumulate=True`` folds the update into
    the weight-gradient GEMMs instead, a change of rounding). Each batch is gathered into one
    preallocated buffer (``np.take(..., out=)``, the faster of the two data paths measured in
    ``benchmarks/README.md``). A rebuild keeps the model (whose plans hold its parameter Tensors)."""

    name = "tinygrad_np (compiled)"
    options: dict[str, Any] = {}

    @staticmethod
    def supported() -> bool:
        return API().has_compile

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        if not hasattr(self, "trainer"):
            self.trainer = MLPTrainer(self.init if params is None else params, self.lr, compiled=self.options)
            self._buffers: dict[int, tuple[Any, np.ndarray, np.ndarray]] = {}
        else:
            self.trainer.set_weights(self.init if params is None else params)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        self.trainer.opt.zero_grad()
        self.trainer.loss(self.trainer.api.Tensor(xb), yb).backward()
        return [np.array(t.grad.data, copy=True) for t in self.trainer.tensors]

    def epoch(self, order: np.ndarray) -> float:
        if len(order) and (order.min() < 0 or order.max() >= len(self.X)):  # (then mode="clip" never clips)
            raise IndexError(f"sample index out of range for {len(self.X)} samples")
        total = 0.0
        step = self.trainer._compiled
        for idx in batches(order, self.batch):
            bufs = self._buffers.get(len(idx))
            if bufs is None:
                xb = np.empty((len(idx), self.X.shape[1]), self.X.dtype)
                bufs = self._buffers[len(idx)] = (self.trainer.api.Tensor(xb), xb, np.empty(len(idx), self.y.dtype))
            x, xb, yb = bufs
            np.take(self.X, idx, axis=0, out=xb, mode="clip")
            np.take(self.y, idx, out=yb, mode="clip")
            total += step(x, yb).item() * len(idx)
        return total / len(order)

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        raise NotImplementedError("a compiled step runs forward, backward and the update in one call: no split")


class TinygradNPCompiledGemm(TinygradNPCompiled):
    """The compiled step with ``gemm_accumulate=True`` (the update inside BLAS gemm, beta = 1)."""

    name = "tinygrad_np (compiled, gemm-accumulate)"
    options = {"gemm_accumulate": True}


class HandNumPy(Contender):
    """The hand-derived NumPy backprop of ``mnist/reference.py`` (the baseline)."""

    name = "numpy (hand-derived)"

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.ref = reference()
        self.params = [p.copy() for p in (self.init if params is None else params)]

    def epoch(self, order: np.ndarray) -> float:
        return self.ref.train_epoch(self.params, self.X, self.y, self.batch, self.lr, order)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        return self.ref.loss_and_grads([p.copy() for p in self.params], xb, yb)[1]

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        """One epoch with the time of each phase measured, cut where tinygrad_np's are (the same
        steps as ``epoch``: forward + loss, backward, update)."""
        ref = self.ref

        def forward(xb: np.ndarray, yb: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
            logits, cache = ref.forward(self.params, xb)
            return cache, ref.loss_and_dlogits(logits, yb, "ce")[1]

        return phase_times(order, self.batch, self.gather, forward, lambda fwd: ref.backward(self.params, *fwd),
                           lambda grads: ref.sgd_step(self.params, grads, self.lr))

    def weights(self) -> list[np.ndarray]:
        return self.params


class GemmBound(Contender):
    """Only the matrix products of one epoch (forward Z = A W; backward dW = Aᵀ dZ and dA = dZ Wᵀ,
    no dA for the input layer), into preallocated outputs: a lower bound for any implementation."""

    name = "GEMM-only bound"

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.W = [p.copy() for p in (self.init if params is None else params)[::2]]
        self.buffers: dict[int, list[list[np.ndarray]]] = {}
        self._rng = np.random.default_rng(0)
        for b in {self.batch, len(self.X) % self.batch} - {0}:  # made here, outside the timing
            self._buffers(b)

    def rebuild(self) -> None:
        """Fresh copies of the weights and the buffers (same values), outside the timing."""
        self.W = [w.copy() for w in self.W]
        self.buffers = {b: [[a.copy() for a in group] for group in groups] for b, groups in self.buffers.items()}

    def _buffers(self, b: int) -> list[list[np.ndarray]]:
        if b not in self.buffers:
            r, s = self._rng, self.sizes
            A = [r.standard_normal((b, n)).astype(np.float32) for n in s[:-1]]
            Z = [np.empty((b, n), np.float32) for n in s[1:]]
            dZ = [r.standard_normal((b, n)).astype(np.float32) for n in s[1:]]
            dA = [np.empty((b, n), np.float32) for n in s[:-1]]
            dW = [np.empty_like(w) for w in self.W]
            self.buffers[b] = [A, Z, dZ, dA, dW]
        return self.buffers[b]

    def epoch(self, order: np.ndarray) -> float:
        for idx in batches(order, self.batch):
            A, Z, dZ, dA, dW = self._buffers(len(idx))
            for i, w in enumerate(self.W):
                np.matmul(A[i], w, out=Z[i])
            for i in range(len(self.W) - 1, -1, -1):
                np.matmul(A[i].T, dZ[i], out=dW[i])
                if i > 0:
                    np.matmul(dZ[i], self.W[i].T, out=dA[i])
        return float("nan")

    def weights(self) -> list[np.ndarray]:
        return []


def epoch_flops(sizes: Sequence[int], n_samples: int) -> float:
    """FLOPs of one epoch's matrix products: 2·fan_in·fan_out per sample per product; three
    products per layer (forward, dW, dA) except the input layer, which needs no dA."""
    per_sample = sum(2 * a * b * (2 if i == 0 else 3) for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])))
    return float(per_sample * n_samples)


def in_process() -> list[type[Contender]]:
    """The in-process contenders: the baseline first, the traced step when the package has one."""
    out: list[type[Contender]] = [HandNumPy, TinygradNP]
    if TinygradNPTraced.supported():
        out.append(TinygradNPTraced)
    if TinygradNPCompiled.supported():
        out += [TinygradNPCompiled, TinygradNPCompiledGemm]
    out.append(GemmBound)
    return out
