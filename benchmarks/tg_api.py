"""The one place the benchmarks reach tinygrad_np, through its public API only.

Everything the harness runs on tinygrad_np goes through an ``API`` made from a package module:
``tg.Tensor``, ``tg.no_grad``, ``tg.nn`` (``Linear``, ``ReLU``, ``Sequential``), ``tg.optim.SGD``,
``tg.nn.functional.cross_entropy`` and, when the package has them, ``tg.traced_step`` and ``tg.compile``. ``API()`` is
the installed ``tinygrad_np``; ``API(module)`` is another copy of the package imported under its
own name (``benchmarks.dev.ab_versions`` races two versions side by side), so the same code
builds and trains the benchmark MLP in any version whose public API this is.

Parameters are only ever given values by assigning a fresh array (``p.data = array``): the
harness never writes into a Tensor's ``.data``.
"""
from __future__ import annotations

from types import ModuleType
from typing import Any, Callable, Sequence

import numpy as np

import tinygrad_np as tg
from tinygrad_np import nn, optim
from tinygrad_np.nn import functional as F

__all__ = ["API", "tg", "nn", "optim", "F", "MLPTrainer"]


class API:
    """The public names of one copy of the tinygrad_np package."""

    def __init__(self, package: ModuleType | None = None) -> None:
        pkg = tg if package is None else package
        self.package = pkg
        self.name = pkg.__name__
        self.version = getattr(pkg, "__version__", "?")
        self.Tensor = pkg.Tensor
        self.no_grad = pkg.no_grad
        self.nn = pkg.nn
        self.optim = pkg.optim
        self.F = pkg.nn.functional
        self.traced_step: Callable[..., Any] | None = getattr(pkg, "traced_step", None)
        self.compile: Callable[..., Any] | None = getattr(pkg, "compile", None)

    @property
    def has_traced_step(self) -> bool:
        return self.traced_step is not None

    @property
    def has_compile(self) -> bool:
        return self.compile is not None


class MLPTrainer:
    """The benchmark MLP in one version of tinygrad_np: ``nn.Sequential`` of ``nn.Linear`` and
    ``nn.ReLU`` (ReLU after every hidden layer), ``F.cross_entropy`` (mean), ``optim.SGD``.

    ``params`` are the initial weights in the reference layout ``[W1, b1, ..., WL, bL]`` (W of
    shape (fan_in, fan_out)); they are copied. ``traced``: each step's forward + backward runs
    through the package's ``traced_step`` (``ValueError`` if it has none).
    """

    def __init__(self, params: Sequence[np.ndarray], lr: float, api: API | None = None,
                 traced: bool = False, compiled: dict[str, Any] | None = None) -> None:
        self.api = api = api or API()
        if traced and not api.has_traced_step:
            raise ValueError(f"{api.name} {api.version} has no traced_step")
        nn_ = api.nn
        layers: list[Any] = []
        for w, b in zip(params[::2], params[1::2]):
            layers += [nn_.Linear(w.shape[0], w.shape[1], rng=0, dtype=w.dtype), nn_.ReLU()]
        self.linears = layers[::2]
        self.model = nn_.Sequential(*layers[:-1])
        self.tensors = [t for lin in self.linears for t in (lin.weight, lin.bias)]
        self.set_weights(params)
        self.opt = api.optim.SGD(self.model.parameters(), lr=lr)
        self.traced = traced
        self._replay = api.traced_step(self.loss) if traced else None
        # ``compiled``: the package's ``compile`` with these options (forward, backward and the update in one plan)
        self._compiled = api.compile(self.loss, optimizer=self.opt, **compiled) if compiled is not None else None

    def loss(self, x: Any, yb: np.ndarray) -> Any:
        return self.api.F.cross_entropy(self.model(x), yb)

    def set_weights(self, params: Sequence[np.ndarray]) -> None:
        """Give every parameter a fresh copy of ``params`` (reference layout): new memory, same
        Tensors (so a traced step's plans stay valid)."""
        if len(params) != len(self.tensors):
            raise ValueError(f"expected {len(self.tensors)} arrays, got {len(params)}")
        for t, value in zip(self.tensors, params):
            t.data = np.array(value, dtype=t.data.dtype, copy=True)

    def weights(self) -> list[np.ndarray]:
        """The current parameter arrays (reference layout; not copies)."""
        return [t.data for t in self.tensors]

    def step(self, xb: np.ndarray, yb: np.ndarray) -> float:
        """One SGD step on the batch; returns its loss (taken before the update)."""
        if self._compiled is not None:
            return self._compiled(self.api.Tensor(xb), yb).item()
        if self._replay is not None:
            self.opt.zero_grad()
            loss = self._replay(self.api.Tensor(xb), yb)
        else:
            loss = self.loss(self.api.Tensor(xb), yb)
            self.opt.zero_grad()
            loss.backward()
        self.opt.step()
        return loss.item()

    def gradients(self, xb: np.ndarray, yb: np.ndarray) -> list[np.ndarray]:
        """The loss gradients of one batch at the current weights, reference layout (no update)."""
        self.opt.zero_grad()
        if self._replay is not None:
            self._replay(self.api.Tensor(xb), yb)
        else:
            self.loss(self.api.Tensor(xb), yb).backward()
        return [np.array(t.grad.data, copy=True) for t in self.tensors]
