"""The optimizer's update inside the plan: in place on the parameter arrays, no ``.grad`` Tensors.

What it buys: ``opt.step()`` after ``backward()`` reads each gradient from a fresh ``.grad``
Tensor and makes a temporary per term of its rule (``g + λp``, ``d * lr``, ...). Here the rule
reads the gradient straight from the plan's buffer and writes every term into scratch buffers
(or over the gradient itself, when nothing else reads it), then stamps the parameter's write on
the engine's clock (``writes.WRITES``: a graph that saved the parameter refuses it afterwards, as
after ``update_``). Measured by ``python -m benchmarks.epoch_time`` (the compiled rows).

The arithmetic is the optimizer's own, term for term and in the same order (``SGD._update``,
``Adam._update``: the docstrings there state the rules), and it reads the hyperparameters and the
learning rate from the optimizer at every step (schedules keep working), and keeps its state
(momentum buffers, Adam's moments and step counts) in ``optimizer.state`` as ``step()`` does, so
eager and compiled steps can take turns and ``state_dict()`` is unchanged. So the parameters
come out bit for bit as after ``opt.step()``.

Supported: ``optim.SGD`` (plain, momentum, dampening, Nesterov, weight decay), ``optim.Adam`` and
``optim.AdamW`` (also amsgrad), when their ``step``/``_update`` are the library's. Any other
optimizer (a subclass that overrides them, RMSprop, ...) gets ``GenericUpdate``: the gradients
handed over as ``.grad`` Tensors and ``optimizer.step()`` called -- exact, but it allocates.
"""
from __future__ import annotations

import math
from functools import partial
from typing import Any, Callable, Sequence

import numpy as np

from ...engine import Tensor
from ...optim.optimizers import SGD, Adam, Optimizer
from ...writes import WRITES


class Item:
    """One parameter the update writes: its index in the optimizer, the Tensor, the gradient
    array, and whether the gradient's buffer may be written over (nothing else reads it).
    ``s1``, ``s2``: scratch arrays of the gradient's shape, views of the plan's update scratch
    (made on first use if the plan has none: a learning rule changed to need them, e.g. momentum
    set after the step was compiled)."""

    __slots__ = ("index", "param", "data", "grad", "own", "_s1", "_s2")

    def __init__(self, index: int, param: Tensor, grad: np.ndarray, own: bool, scratch: Sequence[np.ndarray]) -> None:
        self.index, self.param, self.data, self.grad, self.own = index, param, param._data, grad, own
        self._s1, self._s2 = (view(s, grad) for s in scratch) if len(scratch) == 2 else (None, None)

    @property
    def s1(self) -> np.ndarray:
        if self._s1 is None:
            self._s1 = np.empty(self.grad.shape, self.grad.dtype)
        return self._s1

    @property
    def s2(self) -> np.ndarray:
        if self._s2 is None:
            self._s2 = np.empty(self.grad.shape, self.grad.dtype)
        return self._s2


def view(flat: np.ndarray, like: np.ndarray) -> np.ndarray:
    """A C-ordered array shaped like ``like`` at the start of a scratch buffer."""
    return np.ndarray(like.shape, like.dtype, buffer=flat, offset=0)


class Update:
    """Base: ``run()`` applies one step of the optimizer to ``items`` (made by ``bind``)."""

    def scratch_count(self, owned: Sequence[bool]) -> int:
        """How many scratch buffers (of the largest parameter's size) the plan should give the update."""
        return 2

    def __init__(self, optimizer: Optimizer, indices: Sequence[int], keep_grads: bool) -> None:
        self.opt, self.indices, self.keep_grads = optimizer, list(indices), keep_grads
        self.items: list[Item] = []

    def bind(self, grads: Sequence[np.ndarray], owned: Sequence[bool], scratch: Sequence[np.ndarray]) -> None:
        params = self.opt.params
        self.items = [Item(i, params[i], g, own and not self.keep_grads, scratch)
                      for i, g, own in zip(self.indices, grads, owned)]

    def run(self) -> None:  # pragma: no cover - interface
        raise NotImplementedError

    def lines(self) -> list[str]:  # pragma: no cover - interface
        raise NotImplementedError


class SGDUpdate(Update):
    """``SGD._update`` on the plan's buffers: d = g + λp; b = μb + (1-τ)d (b = d at first); d = d + μb
    (Nesterov) or b; p = p - ηd. ``gemm_items`` (``gemm_accumulate=True``, plain SGD only): the
    parameters updated as p += (-η)·a @ b by BLAS (``blas.py``), their gradients never formed."""

    def __init__(self, optimizer: Optimizer, indices: Sequence[int], keep_grads: bool,
                 gemm_items: Sequence[Any] = (), route: Any = None) -> None:
        super().__init__(optimizer, indices, keep_grads)
        self.gemm_items, self.route = list(gemm_items), route
        self.gemm_calls: list[tuple[Tensor, Callable[[float], Any]]] = []
        self.plain: list[tuple[Callable[[], Any], Callable[[], Any], Tensor]] = []  # plain SGD's calls,
        self.plain_lr: float | None = None  # prebound for this learning rate

    def bind(self, grads: Sequence[np.ndarray], owned: Sequence[bool], scratch: Sequence[np.ndarray]) -> None:
        super().bind(grads, owned, scratch)
        self.plain_lr = None

    def scratch_count(self, owned: Sequence[bool]) -> int:
        """None for plain SGD over gradient buffers nothing else reads (the common case), else 2;
        a ``gemm_accumulate`` plan without BLAS needs one for the product."""
        o = self.opt
        plain = o.momentum == 0.0 and o.weight_decay == 0.0 and all(owned) and not self.keep_grads
        return 1 if plain and self.gemm_items and self.route is None else 0 if plain else 2
    def bind_plain(self, lr: float) -> None:
        """p = p - η g as two prebound calls per parameter (plain SGD: the common case, made cheap)."""
        self.plain = []
        for it in self.items:
            t = it.grad if it.own else it.s2
            self.plain.append((partial(np.multiply, it.grad, lr, t), partial(np.subtract, it.data, t, it.data),
                               it.param))
        self.plain_lr = lr

    def bind_gemms(self, arrays: Sequence[tuple[np.ndarray, np.ndarray]], scratch: Sequence[np.ndarray]) -> None:
        """The BLAS calls of ``gemm_items`` on these operands (``lambda alpha: p += alpha a @ b``)."""
        self.gemm_calls = []
        for item, (a, b) in zip(self.gemm_items, arrays):
            p = self.opt.params[item.index]
            c = p._data
            fn = None
            if self.route is not None:
                fn = self.route.gemm(a, b, c) if a.ndim == 2 else self.route.gemv(a, b, c)
            if fn is None:  # plain NumPy: the default plan's arithmetic, p -= lr * (a @ b)
                tmp = view(scratch[0], c) if scratch else np.empty(c.shape, c.dtype)
                fn = partial(numpy_accumulate, a, b, tmp, c)
            self.gemm_calls.append((p, fn))

    def run(self) -> None:
        opt = self.opt
        opt.step_count += 1
        lr, mu, wd, damp, nesterov = opt._lr, opt.momentum, opt.weight_decay, opt.dampening, opt.nesterov
        stamp = WRITES.stamp
        if self.gemm_calls:
            if mu != 0.0 or wd != 0.0:
                raise ValueError("compile: gemm_accumulate=True needs plain SGD (momentum=0, weight_decay=0), but "
                                 f"the optimizer now has momentum={mu:g}, weight_decay={wd:g}; compile the step again "
                                 "without gemm_accumulate")
            for p, fn in self.gemm_calls:
                fn(-lr)
                stamp(p)
        if mu == 0.0 and wd == 0.0:
            if lr != self.plain_lr:
                self.bind_plain(lr)
            for scale, subtract, param in self.plain:
                scale()
                subtract()
                stamp(param)
            return
        for it in self.items:
            p, g = it.data, it.grad
            d = g
            if wd != 0.0:  # d = g + λ p
                d = np.add(g, np.multiply(p, wd, out=it.s1), out=it.s1)
            if mu != 0.0:
                state = opt.state[it.index]
                buf = state.get("momentum")
                if buf is None:  # b = d
                    buf = state["momentum"] = np.array(d, copy=True)
                else:  # b = μ b + (1 - τ) d
                    np.multiply(buf, mu, out=buf)
                    np.add(buf, d if damp == 0.0 else np.multiply(d, 1.0 - damp, out=it.s2), out=buf)
                d = np.add(d, np.multiply(buf, mu, out=it.s2), out=it.s2) if nesterov else buf
            # p = p - η d  (over the gradient's own buffer when nothing else needs it)
            t = g if d is g and it.own else it.s2
            np.subtract(p, np.multiply(d, lr, out=t), out=p)
            stamp(it.param)

    def lines(self) -> list[str]:
        o = self.opt
        route = self.route.name if self.route is not None else "numpy"
        gemms = [f"  parameter {it.index}: p += (-lr) * {it.a.name} @ {it.b.name} (BLAS "
                 f"{'gemv' if len(it.a.shape) == 1 else 'gemm'} with beta=1 via {route}; the gradient is never formed)"
                 for it in self.gemm_items]
        rule = "p -= lr * g"
        if o.weight_decay or o.momentum:
            rule = ("d = g + wd * p; " if o.weight_decay else "d = g; ") + (
                "b = mu * b + (1 - dampening) * d; " if o.momentum else "") + (
                "d = d + mu * b; " if o.nesterov else "d = b; " if o.momentum else "") + "p -= lr * d"
        return [f"update: SGD (lr={o.lr:g}, momentum={o.momentum:g}, dampening={o.dampening:g}, "
                f"nesterov={o.nesterov}, weight_decay={o.weight_decay:g}), in place: {rule}",
                *item_lines(self.items), *gemms]


class AdamUpdate(Update):
    """``Adam._update`` (and AdamW's decoupled decay) on the plan's buffers."""

    def run(self) -> None:
        opt = self.opt
        opt.step_count += 1
        b1, b2 = opt.betas
        lr, wd, eps, decoupled, amsgrad = opt.lr, opt.weight_decay, opt.eps, opt.decoupled, opt.amsgrad
        stamp = WRITES.stamp
        for it in self.items:
            p, g, s1, s2 = it.data, it.grad, it.s1, it.s2
            state = opt.state[it.index]
            if "step" not in state:
                state["step"] = np.zeros((), dtype=np.int64)
                state["exp_avg"] = np.zeros_like(p)
                state["exp_avg_sq"] = np.zeros_like(p)
            if amsgrad and "max_exp_avg_sq" not in state:
                state["max_exp_avg_sq"] = np.zeros_like(p)
            state["step"] += 1
            t = int(state["step"])
            m, v = state["exp_avg"], state["exp_avg_sq"]
            d = g
            if wd != 0.0:
                if decoupled:  # p = (1 - η λ) p
                    np.multiply(p, 1.0 - lr * wd, out=p)
                else:  # d = g + λ p
                    d = np.add(g, np.multiply(p, wd, out=s1), out=s1)
            np.multiply(m, b1, out=m)  # m = β₁ m + (1 - β₁) d
            np.add(m, np.multiply(d, 1.0 - b1, out=s2), out=m)
            np.multiply(v, b2, out=v)  # v = β₂ v + (1 - β₂) d²
            np.add(v, np.multiply(np.multiply(d, d, out=s2), 1.0 - b2, out=s2), out=v)
            if amsgrad:  # v̂ = max(v̂, v)
                v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
            bias1, bias2 = 1.0 - b1 ** t, 1.0 - b2 ** t
            denom = np.add(np.divide(np.sqrt(v, out=s2), math.sqrt(bias2), out=s2), eps, out=s2)
            np.subtract(p, np.multiply(np.divide(m, denom, out=s2), lr / bias1, out=s2), out=p)
            stamp(it.param)

    def lines(self) -> list[str]:
        o = self.opt
        name = type(o).__name__
        return [f"update: {name} (lr={o.lr:g}, betas={o.betas}, eps={o.eps:g}, weight_decay={o.weight_decay:g}"
                f"{', amsgrad' if o.amsgrad else ''}), in place: m, v, p per Adam's rule (optimizer.state)",
                *item_lines(self.items)]


class GenericUpdate(Update):
    """Any other optimizer: its own ``step()``, with the gradients handed over as ``.grad``."""

    def scratch_count(self, owned: Sequence[bool]) -> int:
        return 0

    def run(self) -> None:
        params = self.opt.params
        for p in params:
            p.grad = None
        for it in self.items:
            params[it.index].grad = Tensor._wrap(np.array(it.grad, copy=True))
        self.opt.step()
        if not self.keep_grads:
            for p in params:
                p.grad = None

    def lines(self) -> list[str]:
        return [f"update: {type(self.opt).__name__}.step() with the gradients as .grad (not fused: allocates)",
                *item_lines(self.items)]


def numpy_accumulate(a: np.ndarray, b: np.ndarray, tmp: np.ndarray, p: np.ndarray, alpha: float) -> None:
    """p -= lr * (a @ b) with lr = -alpha: the product rounded, scaled and subtracted, as the default plan does."""
    np.subtract(p, np.multiply(np.matmul(a, b, out=tmp), -alpha, out=tmp), out=p)


def item_lines(items: Sequence[Item]) -> list[str]:
    return [f"  parameter {it.index}: {'over its gradient buffer' if it.own else 'scratch buffers'}" for it in items]


def fusable_sgd(optimizer: Optimizer) -> bool:
    cls = type(optimizer)
    return isinstance(optimizer, SGD) and cls.step is Optimizer.step and cls._update is SGD._update


def make_update(optimizer: Optimizer | None, indices: Sequence[int], keep_grads: bool,
                gemm_items: Sequence[Any] = (), route: Any = None) -> Update | None:
    """The update for ``optimizer``'s parameters ``indices`` (those a gradient reaches)."""
    if optimizer is None:
        return None
    cls = type(optimizer)
    if fusable_sgd(optimizer):
        return SGDUpdate(optimizer, indices, keep_grads, gemm_items, route)
    if isinstance(optimizer, Adam) and cls.step is Optimizer.step and cls._update is Adam._update:
        return AdamUpdate(optimizer, indices, keep_grads)
    return GenericUpdate(optimizer, indices, keep_grads)

