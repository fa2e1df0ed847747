"""First-order optimizers: ``SGD`` (momentum, Nesterov), ``Adam``, ``AdamW``, ``RMSprop`` and
``Adagrad``, PyTorch semantics.

Each update is written with NumPy on the parameter's array, in place through ``Tensor.update_``
(no graph; the array keeps its identity and dtype, float32 stays float32 because every scalar
is a Python float; the parameter's version moves on, so a graph that saved it refuses to
backpropagate through it afterwards). Parameters whose ``.grad`` is None are skipped.
Gradients are only read, never written.

``state_dict()`` is flat -- ``{str: np.ndarray}``, scalars as 0-d arrays -- so it can be saved
with ``np.savez`` and loaded with ``allow_pickle=False``::

    lr, step, <hyperparameters>, state.<i>.<buffer>     (i = index into the params list)
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Any, Iterable, Mapping

import numpy as np

from ..nn.module import check_state_keys, raise_key_error
from ..engine import Tensor

__all__ = ["Optimizer", "SGD", "Adam", "AdamW", "RMSprop", "Adagrad"]


class Optimizer:
    """Base class: holds the parameter list, the learning rate ``lr`` (a plain attribute that
    schedules change), per-parameter ``state`` buffers and the number of ``step()`` calls.

    Subclasses implement ``_update(i, p, g, state)`` for one parameter array ``p`` (updated in
    place) with gradient ``g``, and list their hyperparameters in ``hyperparameters`` and their
    per-parameter buffers in ``buffers``.
    """

    hyperparameters: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()
    #: hyperparameters added after the first release, with the value that means "off": a state
    #: dict saved without one loads with that value (which is what the saving optimizer did)
    optional_hyperparameters: dict[str, Any] = {}

    def __init__(self, params: Iterable[Tensor], lr: float) -> None:
        self.params: list[Tensor] = list(params)
        if not self.params:
            raise ValueError(f"{type(self).__name__}: got an empty parameter list")
        seen: set[int] = set()
        for k, p in enumerate(self.params):
            if not isinstance(p, Tensor):
                raise TypeError(f"{type(self).__name__}: parameter {k} is a {type(p).__name__}, not a Tensor")
            if p.dtype.kind != "f":
                raise TypeError(f"{type(self).__name__}: parameter {k} has non-float dtype {p.dtype}")
            if id(p) in seen:
                raise ValueError(f"{type(self).__name__}: parameter {k} appears more than once")
            seen.add(id(p))
        self.lr = lr
        self.step_count: int = 0
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]

    @property
    def lr(self) -> float:
        """Learning rate, always a Python float (a NumPy scalar would promote float32 updates)."""
        return self._lr

    @lr.setter
    def lr(self, value: float) -> None:
        value = float(value)
        if not 0.0 <= value < float("inf"):
            raise ValueError(f"{type(self).__name__}: lr must be a finite number >= 0, got {value}")
        self._lr = value

    # ------------------------------------------------------------------ stepping
    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None."""
        for p in self.params:
            p.grad = None

    def step(self) -> None:
        """Apply one update to every parameter that has a gradient."""
        self.step_count += 1
        for i, p in enumerate(self.params):
            grad = p.grad
            if grad is None:
                continue
            g = grad._data if isinstance(grad, Tensor) else np.asarray(grad)  # (the arrays themselves:
            data = p._data  # the optimizer is part of the library, and writes only through update_)
            if g.shape != data.shape or (g.dtype is not data.dtype and g.dtype != data.dtype):
                raise ValueError(f"{type(self).__name__}: parameter {i} has shape {data.shape} and dtype "
                                 f"{data.dtype} but its grad has shape {g.shape} and dtype {g.dtype}")
            state = self.state[i]
            p.update_(lambda a: self._update(i, a, g, state))

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        raise NotImplementedError  # pragma: no cover

    # ------------------------------------------------------------------ state
    def _buffer_spec(self, name: str, p: np.ndarray) -> tuple[tuple[int, ...], np.dtype]:
        """Shape and dtype of per-parameter buffer ``name`` for parameter array ``p``."""
        return p.shape, p.dtype

    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat ``{key: ndarray}`` copy of everything needed to resume: ``lr`` (float64 0-d),
        ``step`` (int64 0-d), the hyperparameters, and ``state.<i>.<buffer>`` arrays."""
        out: dict[str, np.ndarray] = {
            "lr": np.asarray(self.lr, dtype=np.float64),
            "step": np.asarray(self.step_count, dtype=np.int64),
        }
        for name in self.hyperparameters:
            value = getattr(self, name)
            out[name] = np.asarray(value, dtype=bool if isinstance(value, bool) else np.float64)
        for i, st in enumerate(self.state):
            for name in self._buffer_names(self):
                if name in st:
                    out[f"state.{i}.{name}"] = st[name].copy()
        return out

    def _buffer_names(self, hp: Any) -> tuple[str, ...]:
        """The per-parameter buffers under hyperparameters ``hp`` (an object with them as attributes)."""
        return self.buffers

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore ``state_dict()`` output (hyperparameters and ``lr`` included, as in PyTorch).

        Unknown or missing keys raise ``StateDictKeyError`` (a ``KeyError``), except that a
        hyperparameter added later (``optional_hyperparameters``: SGD's dampening, Adam's amsgrad)
        may be absent and then loads as off; a buffer whose shape or dtype does not match its
        parameter raises ``ValueError``. Nothing changes unless everything checks out. The arrays
        are copied.
        """
        owner = type(self).__name__
        state = {**{k: np.asarray(v) for k, v in self.optional_hyperparameters.items()}, **state}  # given wins
        expected = ["lr", "step", *self.hyperparameters]
        incoming = SimpleNamespace(**{name: state.get(name) for name in self.hyperparameters})
        names = self._buffer_names(incoming)
        buffer_keys: dict[str, tuple[int, str]] = {}
        for key in state:
            parts = key.split(".")
            if len(parts) == 3 and parts[0] == "state" and parts[1].isdigit() and parts[2] in names:
                i = int(parts[1])
                if i < len(self.params):
                    buffer_keys[key] = (i, parts[2])
        for i in sorted({i for i, _ in buffer_keys.values()}):  # a parameter's buffers come together
            expected += [f"state.{i}.{name}" for name in names]
        missing, unexpected = check_state_keys(expected, state)
        raise_key_error(owner, missing, unexpected)

        problems = []
        hp_values: dict[str, Any] = {}
        for name in self.hyperparameters:
            current = getattr(self, name)
            arr = np.asarray(state[name])
            if arr.shape != np.shape(current):
                problems.append(f"{name!r}: shape {arr.shape} given, expected {np.shape(current)}")
                continue
            hp_values[name] = (bool(arr) if isinstance(current, bool) else
                               tuple(float(x) for x in arr) if isinstance(current, tuple) else float(arr))
        for key in ("lr", "step"):
            if np.shape(state[key]) != ():
                problems.append(f"{key!r}: shape {np.shape(state[key])} given, expected ()")
        buffers: list[tuple[int, str, np.ndarray]] = []
        for key, (i, name) in sorted(buffer_keys.items()):
            arr = np.asarray(state[key])
            shape, dtype = self._buffer_spec(name, self.params[i].data)
            if arr.shape != shape:
                problems.append(f"{key!r}: shape {arr.shape} given, expected {shape}")
            elif arr.dtype != dtype:
                problems.append(f"{key!r}: dtype {arr.dtype} given, expected {dtype}")
            buffers.append((i, name, arr))
        if problems:
            raise ValueError(f"{owner}.load_state_dict: " + "; ".join(problems))

        saved = {name: getattr(self, name) for name in ("lr", *self.hyperparameters)}
        try:
            self.lr = float(state["lr"])
            for name, value in hp_values.items():
                setattr(self, name, value)
            self._validate()
        except ValueError as e:
            for name, value in saved.items():
                setattr(self, name, value)
            raise ValueError(f"{owner}.load_state_dict: {e}") from None
        self.step_count = int(state["step"])
        self.state = [{} for _ in self.params]
        for i, name, arr in buffers:
            self.state[i][name] = arr.copy()

    def _validate(self) -> None:
        """Check the hyperparameters (called at construction and after loading)."""

    def __repr__(self) -> str:
        hp = ", ".join(f"{n}={getattr(self, n)!r}" for n in ("lr", *self.hyperparameters))
        return f"{type(self).__name__}({len(self.params)} params, {hp})"


class SGD(Optimizer):
    """Stochastic gradient descent with optional momentum, Nesterov and L2 weight decay
    (PyTorch's ``torch.optim.SGD``). With g the gradient, λ = weight_decay, μ = momentum,
    τ = dampening, η = lr::

        d = g + λ p
        b = d                          (first step)      b = μ b + (1 - τ) d   (later steps)
        d = d + μ b  (nesterov)        d = b             (otherwise, if μ ≠ 0)
        p = p - η d
    """

    hyperparameters = ("momentum", "dampening", "nesterov", "weight_decay")
    optional_hyperparameters = {"dampening": 0.0}
    buffers = ("momentum",)

    def __init__(self, params: Iterable[Tensor], lr: float, momentum: float = 0.0, dampening: float = 0.0,
                 nesterov: bool = False, weight_decay: float = 0.0) -> None:
        super().__init__(params, lr)
        self.momentum, self.dampening = float(momentum), float(dampening)
        self.nesterov, self.weight_decay = bool(nesterov), float(weight_decay)
        self._validate()

    def _validate(self) -> None:
        if self.momentum < 0.0 or self.weight_decay < 0.0:
            raise ValueError(f"SGD: momentum and weight_decay must be >= 0, got {self.momentum}, {self.weight_decay}")
        if self.nesterov and (self.momentum == 0.0 or self.dampening != 0.0):
            raise ValueError("SGD: nesterov=True needs momentum > 0 and dampening 0")

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        mu, wd = self.momentum, self.weight_decay
        d = g + p * wd if wd != 0.0 else g  # d = g + λ p
        if mu != 0.0:
            buf = state.get("momentum")
            if buf is None:  # b = d
                buf = state["momentum"] = np.array(d, copy=True)
            else:  # b = μ b + (1 - τ) d
                buf *= mu
                buf += d if self.dampening == 0.0 else d * (1.0 - self.dampening)
            d = d + buf * mu if self.nesterov else buf  # d = d + μ b  (Nesterov)
        p -= d * self._lr  # p = p - η d


class Adam(Optimizer):
    """Adam (Kingma & Ba) with L2 weight decay added to the gradient, as ``torch.optim.Adam``.
    With t the per-parameter step count (1, 2, ...), (β₁, β₂) = betas, λ = weight_decay::

        d = g + λ p
        m = β₁ m + (1 - β₁) d                  (m, v start at 0)
        v = β₂ v + (1 - β₂) d²
        v̂ = max(v̂, v)  (amsgrad; v̂ starts at 0)   v̂ = v  (otherwise)
        p = p - η / (1 - β₁ᵗ) · m / (√v̂ / √(1 - β₂ᵗ) + ε)
    """

    hyperparameters = ("betas", "eps", "weight_decay", "amsgrad")
    optional_hyperparameters = {"amsgrad": False}
    buffers = ("step", "exp_avg", "exp_avg_sq")
    decoupled = False  # AdamW: decay p directly instead of adding λ p to the gradient

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0, amsgrad: bool = False) -> None:
        super().__init__(params, lr)
        self.betas = (float(betas[0]), float(betas[1]))
        self.eps, self.weight_decay, self.amsgrad = float(eps), float(weight_decay), bool(amsgrad)
        self._validate()

    def _buffer_names(self, hp: Any) -> tuple[str, ...]:
        return self.buffers + (("max_exp_avg_sq",) if bool(hp.amsgrad) else ())

    def _validate(self) -> None:
        name = type(self).__name__
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"{name}: betas must be two numbers in [0, 1), got {self.betas}")
        if self.eps < 0.0 or self.weight_decay < 0.0:
            raise ValueError(f"{name}: eps and weight_decay must be >= 0, got {self.eps}, {self.weight_decay}")

    def _buffer_spec(self, name: str, p: np.ndarray) -> tuple[tuple[int, ...], np.dtype]:
        return ((), np.dtype(np.int64)) if name == "step" else (p.shape, p.dtype)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        b1, b2 = self.betas
        lr, wd = self.lr, self.weight_decay
        if "step" not in state:
            state["step"] = np.zeros((), dtype=np.int64)
            state["exp_avg"] = np.zeros_like(p)
            state["exp_avg_sq"] = np.zeros_like(p)
        if self.amsgrad and "max_exp_avg_sq" not in state:
            state["max_exp_avg_sq"] = np.zeros_like(p)
        state["step"] += 1
        t = int(state["step"])
        m, v = state["exp_avg"], state["exp_avg_sq"]
        d = g
        if wd != 0.0:
            if self.decoupled:  # p = (1 - η λ) p
                p *= 1.0 - lr * wd
            else:  # d = g + λ p
                d = g + p * wd
        m *= b1  # m = β₁ m + (1 - β₁) d
        m += d * (1.0 - b1)
        v *= b2  # v = β₂ v + (1 - β₂) d²
        v += d * d * (1.0 - b2)
        if self.amsgrad:  # v̂ = max(v̂, v)
            v = np.maximum(state["max_exp_avg_sq"], v, out=state["max_exp_avg_sq"])
        bias1, bias2 = 1.0 - b1 ** t, 1.0 - b2 ** t  # Python floats: no promotion
        denom = np.sqrt(v) / math.sqrt(bias2) + self.eps  # √v̂ / √(1 - β₂ᵗ) + ε
        p -= (m / denom) * (lr / bias1)  # p = p - η / (1 - β₁ᵗ) · m / (...)


class AdamW(Adam):
    """Adam with decoupled weight decay (Loshchilov & Hutter), as ``torch.optim.AdamW``::

        p = (1 - η λ) p,  then the Adam update with d = g (no L2 term in the gradient)
    """

    decoupled = True

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2, amsgrad: bool = False) -> None:
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad)


class RMSprop(Optimizer):
    """RMSprop (Hinton), as ``torch.optim.RMSprop``: steps scaled by a running RMS of the gradient.
    With α = alpha, λ = weight_decay, μ = momentum, η = lr (v, m, b start at 0)::

        d = g + λ p
        v = α v + (1 - α) d²
        m = m + (1 - α)(d - m)         (centered: a running mean of d)
        s = √(v - m²) + ε  (centered)   s = √v + ε  (otherwise)
        b = μ b + d / s,  p = p - η b  (μ > 0)      p = p - η d / s  (otherwise)
    """

    hyperparameters = ("alpha", "eps", "weight_decay", "momentum", "centered")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False) -> None:
        super().__init__(params, lr)
        self.alpha, self.eps, self.weight_decay = float(alpha), float(eps), float(weight_decay)
        self.momentum, self.centered = float(momentum), bool(centered)
        self._validate()

    def _buffer_names(self, hp: Any) -> tuple[str, ...]:
        momentum = hp.momentum is not None and float(hp.momentum) > 0.0
        centered = bool(hp.centered)
        return ("square_avg",) + (("momentum_buffer",) if momentum else ()) + (("grad_avg",) if centered else ())

    def _validate(self) -> None:
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"RMSprop: alpha must be in [0, 1], got {self.alpha}")
        if self.eps < 0.0 or self.weight_decay < 0.0 or self.momentum < 0.0:
            raise ValueError(f"RMSprop: eps, weight_decay and momentum must be >= 0, got {self.eps}, "
                             f"{self.weight_decay}, {self.momentum}")

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        alpha, mu, wd = self.alpha, self.momentum, self.weight_decay
        for name in self._buffer_names(self):
            if name not in state:
                state[name] = np.zeros_like(p)
        d = g + p * wd if wd != 0.0 else g  # d = g + λ p
        v = state["square_avg"]
        v *= alpha  # v = α v + (1 - α) d²
        v += d * d * (1.0 - alpha)
        if self.centered:
            m = state["grad_avg"]
            m += (d - m) * (1.0 - alpha)  # m = m + (1 - α)(d - m)
            s = np.sqrt(v - m * m) + self.eps
        else:
            s = np.sqrt(v) + self.eps
        if mu > 0.0:
            b = state["momentum_buffer"]
            b *= mu  # b = μ b + d / s
            b += d / s
            p -= b * self._lr
        else:
            p -= (d / s) * self._lr


class Adagrad(Optimizer):
    """Adagrad (Duchi et al.), as ``torch.optim.Adagrad``: each entry's step shrinks with the sum
    of its squared gradients. With t the per-parameter step count (1, 2, ...), λ = weight_decay,
    the sum starting at initial_accumulator_value::

        d = g + λ p
        η_t = lr / (1 + (t - 1) lr_decay)
        S = S + d²
        p = p - η_t d / (√S + ε)
    """

    hyperparameters = ("lr_decay", "weight_decay", "initial_accumulator_value", "eps")
    buffers = ("step", "sum")

    def __init__(self, params: Iterable[Tensor], lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10) -> None:
        super().__init__(params, lr)
        self.lr_decay, self.weight_decay = float(lr_decay), float(weight_decay)
        self.initial_accumulator_value, self.eps = float(initial_accumulator_value), float(eps)
        self._validate()

    def _validate(self) -> None:
        values = {name: getattr(self, name) for name in self.hyperparameters}
        negative = {name: v for name, v in values.items() if not v >= 0.0}
        if negative:
            got = ", ".join(map(str, negative.values()))
            raise ValueError(f"Adagrad: {', '.join(negative)} must be >= 0, got {got}")

    def _buffer_spec(self, name: str, p: np.ndarray) -> tuple[tuple[int, ...], np.dtype]:
        return ((), np.dtype(np.int64)) if name == "step" else (p.shape, p.dtype)

    def _update(self, i: int, p: np.ndarray, g: np.ndarray, state: dict[str, np.ndarray]) -> None:
        if "step" not in state:
            state["step"] = np.zeros((), dtype=np.int64)
            state["sum"] = np.full_like(p, self.initial_accumulator_value)
        state["step"] += 1
        t = int(state["step"])
        wd = self.weight_decay
        d = g + p * wd if wd != 0.0 else g  # d = g + λ p
        lr_t = self._lr / (1.0 + (t - 1) * self.lr_decay)  # a Python float: no promotion
        total = state["sum"]
        total += d * d  # S = S + d²
        p -= (d / (np.sqrt(total) + self.eps)) * lr_t  # p = p - η_t d / (√S + ε)
