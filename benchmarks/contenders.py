"""The implementations raced by ``epoch_time``: each trains the same MLP for one epoch of plain
minibatch SGD on softmax cross-entropy, from the same initial weights, in the same data order.

A contender is built with ``make(sizes, batch, X, y, lr)`` and then ``epoch(order)`` runs one
epoch over the sample permutation ``order`` (batches gathered with ``np.take``, as a DataLoader
does). ``reset()`` restores the initial weights so every repetition starts from the same state;
``rebuild()`` carries on from the current weights on freshly allocated arrays (the harness does
so before every block, so no single memory placement decides a result).
"""
from __future__ import annotations

import time
from typing import Any, Callable, Sequence

import numpy as np

import tinygrad_np as tg
from mnist import reference
from mnist.model import MLP
from tinygrad_np.jit import traced_step
from tinygrad_np.optim import SGD

from .report import PHASES, TRACED


def initial_params(sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """He-normal float32 weights shared by every contender (the reference's init)."""
    return reference.init_params(sizes, np.random.default_rng(seed), dtype=np.float32)


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

    def __init__(self, sizes: Sequence[int], batch: int, X: np.ndarray, y: np.ndarray, lr: float = 0.05,
                 seed: int = 0) -> None:
        self.sizes, self.batch, self.X, self.y, self.lr = list(sizes), batch, X, y, lr
        self.init = initial_params(sizes, seed)
        self.reset()

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:  # pragma: no cover - interface
        """Start from ``params`` (reference layout; default the initial weights) on new arrays."""
        raise NotImplementedError

    def rebuild(self) -> None:
        """Carry on from the current weights on freshly allocated arrays: the same training, with
        its memory placement re-drawn (see ``blockrace``)."""
        self.reset(self.weights() or None)

    def epoch(self, order: np.ndarray) -> float:  # pragma: no cover - interface
        raise NotImplementedError

    def weights(self) -> list[np.ndarray]:  # pragma: no cover - interface
        raise NotImplementedError

    def gather(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The batch of samples ``idx``: ``np.take`` of inputs and labels, as a DataLoader does."""
        return np.take(self.X, idx, axis=0), np.take(self.y, idx)


class TinygradNP(Contender):
    """tinygrad_np's autograd: ``MLP`` + ``cross_entropy`` + ``backward`` + ``optim.SGD``."""

    name = "tinygrad_np"

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.model = MLP(self.sizes, rng=0)
        self.model.load_reference_params(self.init if params is None else params)  # (copies)
        self.opt = SGD(self.model.parameters(), lr=self.lr)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        """The loss gradients of one batch at the current weights, in the reference's layout
        ``[dW1, db1, ...]`` (no update)."""
        loss = self.model.loss(tg.Tensor(xb), yb)
        self.opt.zero_grad()
        loss.backward()
        return [p.grad.data.copy() for p in self.model.param_list()]

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        loss = self.model.loss(tg.Tensor(xb), yb)
        self.opt.zero_grad()
        loss.backward()
        self.opt.step()
        return loss.item()

    def epoch(self, order: np.ndarray) -> float:
        total = 0.0
        for idx in batches(order, self.batch):
            total += self.step(*self.gather(idx)) * len(idx)
        return total / len(order)

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        """One epoch with the time of each phase measured (``PHASES``; forward includes the loss)."""
        def backward(loss: tg.Tensor) -> None:
            self.opt.zero_grad()
            loss.backward()

        def data(idx: np.ndarray) -> tuple[tg.Tensor, np.ndarray]:
            xb, yb = self.gather(idx)
            return tg.Tensor(xb), yb

        return phase_times(order, self.batch, data, self.model.loss, backward, lambda _: self.opt.step())

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.model.param_list()]


class TinygradNPTraced(TinygradNP):
    """tinygrad_np with ``jit.traced_step``: the same model, loss, optimizer and gradients, each
    step's forward + backward replayed from a plan (traced on the first two batches of each size)."""

    name = TRACED

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        if not hasattr(self, "train_step"):
            super().reset(params)
            self.train_step = traced_step(self.model.loss)
            return
        # Keep the parameter Tensors the plans hold; give them fresh arrays (a plan reads .data).
        for p, value in zip(self.model.param_list(), self.init if params is None else params):
            p.data = np.array(value, dtype=p.dtype)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        self.opt.zero_grad()
        self.train_step(tg.Tensor(xb), yb)
        return [p.grad.data.copy() for p in self.model.param_list()]

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        self.opt.zero_grad()
        loss = self.train_step(tg.Tensor(xb), yb)
        self.opt.step()
        return loss.item()

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        raise NotImplementedError("a replay runs the forward and the backward in one call: no split")


def reference_step(params: list[np.ndarray], lr: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """One SGD step of the hand-derived reference on ``params`` (updated in place); returns the loss."""
    def step(xb: np.ndarray, yb: np.ndarray) -> float:
        value, grads = reference.loss_and_grads(params, xb, yb)
        reference.sgd_step(params, grads, lr)
        return value
    return step


class HandNumPy(Contender):
    """The hand-derived NumPy backprop of ``mnist/reference.py`` (the baseline)."""

    name = "numpy (hand-derived)"

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.params = [p.copy() for p in (self.init if params is None else params)]

    def epoch(self, order: np.ndarray) -> float:
        return reference.train_epoch(self.params, self.X, self.y, self.batch, self.lr, order)

    def epoch_phases(self, order: np.ndarray) -> dict[str, float]:
        """One epoch with the time of each phase measured, cut where tinygrad_np's are (the same
        steps as ``epoch``: forward + loss, backward, update)."""
        def forward(xb: np.ndarray, yb: np.ndarray) -> tuple[list[np.ndarray], np.ndarray]:
            logits, cache = reference.forward(self.params, xb)
            return cache, reference.loss_and_dlogits(logits, yb, "ce")[1]

        return phase_times(order, self.batch, self.gather, forward, lambda fwd: reference.backward(self.params, *fwd),
                           lambda grads: reference.sgd_step(self.params, grads, self.lr))

    def weights(self) -> list[np.ndarray]:
        return self.params


class Torch(Contender):
    """PyTorch CPU: ``nn.Sequential`` of Linear/ReLU, ``F.cross_entropy``, ``optim.SGD``."""

    name = "pytorch"

    def __init__(self, *args: Any, threads: int | None = None, **kwargs: Any) -> None:
        import torch

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        super().__init__(*args, **kwargs)
        self.Xt = torch.from_numpy(np.ascontiguousarray(self.X))
        self.yt = torch.from_numpy(self.y.astype(np.int64))

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        torch, src = self.torch, self.init if params is None else params
        layers: list[Any] = []
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            lin = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():  # torch stores W as (out, in): the transpose of ours
                lin.weight.copy_(torch.from_numpy(src[2 * i].T.copy()))
                lin.bias.copy_(torch.from_numpy(src[2 * i + 1].copy()))
            layers += [lin, torch.nn.ReLU()]
        self.model = torch.nn.Sequential(*layers[:-1])
        self.opt = torch.optim.SGD(self.model.parameters(), lr=self.lr)

    def epoch(self, order: np.ndarray) -> float:
        torch, F = self.torch, self.torch.nn.functional
        total = 0.0
        order_t = torch.from_numpy(order.astype(np.int64))
        for start in range(0, len(order), self.batch):
            idx = order_t[start:start + self.batch]
            xb, yb = self.Xt.index_select(0, idx), self.yt.index_select(0, idx)
            loss = F.cross_entropy(self.model(xb), yb)
            self.opt.zero_grad(set_to_none=True)
            loss.backward()
            self.opt.step()
            total += loss.item() * len(idx)
        return total / len(order)

    def weights(self) -> list[np.ndarray]:
        out = []
        for m in self.model:
            if hasattr(m, "weight"):
                out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
        return out


class GemmBound(Contender):
    """Only the matrix products of one epoch (forward Z = A W; backward dW = Aᵀ dZ and dA = dZ Wᵀ,
    no dA for the input layer), into preallocated outputs: a lower bound for any implementation."""

    name = "GEMM-only bound"

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        rng = np.random.default_rng(0)
        self.W = [p.copy() for p in (self.init if params is None else params)[::2]]
        self.buffers: dict[int, list[np.ndarray]] = {}
        self._rng = rng
        for b in {self.batch, len(self.X) % self.batch} - {0}:  # made here, outside the timing
            self._buffers(b)

    def rebuild(self) -> None:
        """Fresh copies of the weights and the buffers (same values), outside the timing."""
        self.W = [w.copy() for w in self.W]
        self.buffers = {b: [[a.copy() for a in group] for group in groups] for b, groups in self.buffers.items()}

    def _buffers(self, b: int) -> list[np.ndarray]:
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


def available(include_torch: bool = True) -> list[Callable[..., Contender]]:
    out: list[Callable[..., Contender]] = [HandNumPy, TinygradNP, TinygradNPTraced]
    if include_torch:
        try:
            import torch  # noqa: F401

            out.append(Torch)
        except ImportError:
            pass
    out.append(GemmBound)
    return out
