"""The optional peers: the benchmark's training step written idiomatically in other frameworks.

Every peer trains the same MLP as the in-process contenders (``contenders``): 784-H-...-10,
ReLU after every hidden layer, float32, softmax cross-entropy averaged over the batch, plain
SGD ``p ← p - lr·∇p``, from the initial weights it is given, on the batches of the order it
is given (gathered from the whole training set by index, as the other contenders do).

* ``pytorch``: ``nn.Sequential`` of ``nn.Linear``/``nn.ReLU``, ``F.cross_entropy``,
  ``loss.backward()``, ``optim.SGD``; ``torch.set_num_threads`` = NumPy's BLAS thread count.
* ``jax (jit)``: one ``jax.jit``-compiled step function ``(params, X, y, idx) -> (params, loss)``
  gathering the batch, taking ``jax.value_and_grad`` of the loss and returning the updated
  parameters (``donate_argnums`` lets XLA update them in place); the data live on the device;
  a block ends with ``block_until_ready``. One compilation per batch shape, in the warm-up.
* ``autograd (HIPS)``: ``autograd.grad`` of a loss written with ``autograd.numpy`` over a list
  of NumPy arrays (``logsumexp`` with the max shifted out, the labels as a one-hot matrix).
* ``mygrad``: ``mygrad`` Tensors, ``mygrad.nnet.softmax_crossentropy``, ``loss.backward()``,
  the update ``p -= lr * p.grad`` under ``mygrad.no_autodiff``.

A peer is never imported by the harness process: ``epoch_time`` runs each in a worker process
of its own (``worker``), so no framework's thread pool shares a process with another contender.
``installed()`` tells which are importable without importing them.
"""
from __future__ import annotations

import importlib.util
from typing import Any, Sequence

import numpy as np

from .base import Contender, batches

__all__ = ["Torch", "Jax", "HipsAutograd", "MyGrad", "PEERS", "installed", "by_name"]


class Torch(Contender):
    """PyTorch CPU: ``nn.Sequential`` of Linear/ReLU, ``F.cross_entropy``, ``optim.SGD``."""

    name = "pytorch"
    module = "torch"

    def __init__(self, *args: Any, threads: int | None = None, **kwargs: Any) -> None:
        import torch

        self.torch = torch
        if threads:
            torch.set_num_threads(threads)
        super().__init__(*args, **kwargs)
        self.Xt = torch.from_numpy(np.ascontiguousarray(self.X))
        self.yt = torch.from_numpy(self.y.astype(np.int64))

    @staticmethod
    def version() -> str:
        import torch

        return torch.__version__

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        torch, src = self.torch, self.init if params is None else params
        layers: list[Any] = []
        for i, (n_in, n_out) in enumerate(zip(self.sizes[:-1], self.sizes[1:])):
            lin = torch.nn.Linear(n_in, n_out)
            with torch.no_grad():  # torch stores W as (out, in): the transpose of ours
                lin.weight.copy_(torch.from_numpy(np.array(src[2 * i].T)))
                lin.bias.copy_(torch.from_numpy(np.array(src[2 * i + 1])))
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

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        torch = self.torch
        self.opt.zero_grad(set_to_none=True)
        logits = self.model(torch.from_numpy(xb))
        torch.nn.functional.cross_entropy(logits, torch.from_numpy(yb.astype(np.int64))).backward()
        return [t for m in self.model if hasattr(m, "weight")
                for t in (m.weight.grad.numpy().T.copy(), m.bias.grad.numpy().copy())]

    def weights(self) -> list[np.ndarray]:
        out = []
        for m in self.model:
            if hasattr(m, "weight"):
                out += [m.weight.detach().numpy().T, m.bias.detach().numpy()]
        return out


class Jax(Contender):
    """JAX on CPU: a ``jax.jit``-compiled SGD step over device-resident data."""

    name = "jax (jit)"
    module = "jax"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import jax
        import jax.numpy as jnp

        self.jax, self.jnp = jax, jnp

        def loss_fn(params: list[tuple[Any, Any]], xb: Any, yb: Any) -> Any:
            h = xb
            for w, b in params[:-1]:
                h = jax.nn.relu(h @ w + b)
            w, b = params[-1]
            logits = h @ w + b
            logp = jax.nn.log_softmax(logits, axis=-1)
            return -jnp.mean(jnp.take_along_axis(logp, yb[:, None], axis=1))

        def step(params: list[tuple[Any, Any]], X: Any, y: Any, idx: Any) -> tuple[Any, Any]:
            loss, grads = jax.value_and_grad(loss_fn)(params, X[idx], y[idx])
            return jax.tree_util.tree_map(lambda p, g: p - lr * g, params, grads), loss

        super().__init__(*args, **kwargs)
        lr = np.float32(self.lr)
        self.loss_fn = loss_fn
        self.step = jax.jit(step, donate_argnums=0)
        self.grad_fn = jax.jit(jax.grad(loss_fn))
        self.Xd, self.yd = jnp.asarray(self.X), jnp.asarray(self.y.astype(np.int32))

    @staticmethod
    def version() -> str:
        import jax

        return jax.__version__

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        src = self.init if params is None else params
        self.params = [(self.jnp.array(w), self.jnp.array(b)) for w, b in zip(src[::2], src[1::2])]  # new buffers

    def epoch(self, order: np.ndarray) -> float:
        params, losses = self.params, []
        order32 = order.astype(np.int32)
        for idx in batches(order32, self.batch):
            params, loss = self.step(params, self.Xd, self.yd, idx)
            losses.append(loss * len(idx))
        self.params = params
        self.jax.block_until_ready(params)
        return float(sum(float(v) for v in losses)) / len(order)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        grads = self.grad_fn(self.params, self.jnp.asarray(xb), self.jnp.asarray(yb.astype(np.int32)))
        return [np.asarray(t) for wb in grads for t in wb]

    def weights(self) -> list[np.ndarray]:
        return [np.asarray(t) for wb in self.params for t in wb]


class HipsAutograd(Contender):
    """HIPS autograd: ``autograd.grad`` of a loss over a list of NumPy arrays."""

    name = "autograd (HIPS)"
    module = "autograd"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import autograd
        import autograd.numpy as anp

        def loss_fn(params: list[np.ndarray], xb: np.ndarray, onehot: np.ndarray) -> Any:
            h = xb
            for w, b in zip(params[:-2:2], params[1:-2:2]):
                h = anp.maximum(anp.dot(h, w) + b, 0.0)
            logits = anp.dot(h, params[-2]) + params[-1]
            m = anp.max(logits, axis=1, keepdims=True)
            shifted = logits - m
            logp = shifted - anp.log(anp.sum(anp.exp(shifted), axis=1, keepdims=True))
            return -anp.sum(logp * onehot) / len(xb)

        self.loss_fn = loss_fn
        self.grad_fn = autograd.grad(loss_fn)
        self.value_and_grad = autograd.value_and_grad(loss_fn)
        super().__init__(*args, **kwargs)
        self.eye = np.eye(self.sizes[-1], dtype=np.float32)

    @staticmethod
    def version() -> str:
        from importlib.metadata import version

        return version("autograd")

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.params = [np.array(p, copy=True) for p in (self.init if params is None else params)]

    def epoch(self, order: np.ndarray) -> float:
        total, lr = 0.0, float(self.lr)
        for idx in batches(order, self.batch):
            xb, yb = self.gather(idx)
            loss, grads = self.value_and_grad(self.params, xb, self.eye[yb])
            self.params = [p - lr * g for p, g in zip(self.params, grads)]
            total += float(loss) * len(idx)
        return total / len(order)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        return [np.asarray(g) for g in self.grad_fn(self.params, xb, self.eye[yb])]

    def weights(self) -> list[np.ndarray]:
        return self.params


class MyGrad(Contender):
    """MyGrad: its Tensors, ``softmax_crossentropy``, ``backward()``, in-place SGD under ``no_autodiff``."""

    name = "mygrad"
    module = "mygrad"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        import mygrad as mg
        from mygrad.nnet import relu, softmax_crossentropy

        self.mg, self.relu, self.xent = mg, relu, softmax_crossentropy
        super().__init__(*args, **kwargs)

    @staticmethod
    def version() -> str:
        import mygrad

        return mygrad.__version__

    def reset(self, params: Sequence[np.ndarray] | None = None) -> None:
        self.params = [self.mg.tensor(np.array(p, copy=True)) for p in (self.init if params is None else params)]

    def loss(self, xb: np.ndarray, yb: np.ndarray) -> Any:
        mg, P = self.mg, self.params
        h = xb
        for w, b in zip(P[:-2:2], P[1:-2:2]):
            h = self.relu(mg.matmul(h, w) + b)
        return self.xent(mg.matmul(h, P[-2]) + P[-1], yb)

    def epoch(self, order: np.ndarray) -> float:
        total, lr, mg = 0.0, float(self.lr), self.mg
        for idx in batches(order, self.batch):
            loss = self.loss(*self.gather(idx))
            loss.backward()
            with mg.no_autodiff:
                for p in self.params:
                    p -= lr * p.grad
            total += loss.item() * len(idx)
        return total / len(order)

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        self.loss(xb, yb).backward()
        return [np.array(p.grad, copy=True) for p in self.params]

    def weights(self) -> list[np.ndarray]:
        return [p.data for p in self.params]


#: Every peer, in the order they are reported.
PEERS: tuple[type[Contender], ...] = (Torch, Jax, HipsAutograd, MyGrad)
#: Short names for ``--peers``.
SHORT = {"torch": Torch, "pytorch": Torch, "jax": Jax, "autograd": HipsAutograd, "mygrad": MyGrad}


def installed(peer: type[Contender]) -> bool:
    """Whether ``peer``'s framework is importable (found without importing it)."""
    try:
        return importlib.util.find_spec(peer.module) is not None  # type: ignore[attr-defined]
    except (ImportError, ValueError):
        return False


def by_name(name: str) -> type[Contender]:
    """A peer by its contender name or short name (``torch``, ``jax``, ``autograd``, ``mygrad``)."""
    for p in PEERS:
        if name == p.name:
            return p
    try:
        return SHORT[name]
    except KeyError:
        raise ValueError(f"unknown peer {name!r}; expected one of {sorted(SHORT)}") from None
