"""Layers: ``Linear``, activations, ``Dropout``, ``Flatten``, ``Identity``."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..engine import Tensor
from . import functional as F
from . import init as _init
from .module import Module, Parameter

__all__ = ["Linear", "ReLU", "Tanh", "Sigmoid", "LeakyReLU", "Dropout", "Flatten", "Identity"]

RngLike = np.random.Generator | int | None


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _t(x: Any) -> Tensor:
    """Arrays and numbers become (constant) Tensors; Tensors pass through."""
    return x if isinstance(x, Tensor) else Tensor(x)


def _as_input(x: Any, dtype: np.dtype, where: Module) -> Tensor:
    """``x`` as a Tensor of ``dtype``. Constants (arrays, or Tensors that do not require grad)
    are cast to the parameters' dtype; a differentiable input of another dtype is an
    error (a cast would cut it off the graph)."""
    if not isinstance(x, Tensor):
        return Tensor(np.asarray(x, dtype=dtype))
    if x.dtype != dtype:
        if x.requires_grad:
            raise TypeError(f"{where!r}: input dtype {x.dtype} does not match the parameters' dtype {dtype}")
        return x.astype(dtype)
    return x


class Linear(Module):
    """Affine map ``y = x @ W + b``.

    ``weight`` has shape ``(in_features, out_features)`` -- the layout of ``y = x @ W``
    and the *transpose* of PyTorch's ``(out_features, in_features)`` -- so no transpose is needed
    in forward. ``bias`` has shape ``(out_features,)`` and starts at zero. ``init`` names the
    weight initializer (see ``nn.init``; default Kaiming-normal, N(0, 2/in_features)) or is a
    callable ``init(shape, rng, dtype)``. ``rng``: a Generator, an int seed or None.

    ``x`` may have any number of leading (batch) dims; its last dim must be ``in_features``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True, *, dtype: Any = np.float32,
                 rng: RngLike = None, init: str | Callable[..., np.ndarray] = "kaiming_normal") -> None:
        super().__init__()
        if in_features < 1 or out_features < 1:
            raise ValueError(f"Linear: sizes must be >= 1, got in_features={in_features}, out_features={out_features}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear: dtype must be a float type, got {dtype}")
        initializer = _init.get_initializer(init)
        w = np.asarray(initializer((self.in_features, self.out_features), _rng(rng), dtype))
        if w.shape != (self.in_features, self.out_features):
            raise ValueError(f"Linear: init returned shape {w.shape}, expected {(self.in_features, self.out_features)}")
        self.weight = Parameter(w.astype(dtype, copy=False))
        self.bias = Parameter(np.zeros(self.out_features, dtype=dtype)) if bias else None

    def prepare(self, x: Any) -> Tensor:
        """``x`` as this layer's input: a Tensor of the weight's dtype (see ``_as_input``)."""
        return _as_input(x, self.weight.dtype, self)

    def forward(self, x: Any) -> Tensor:
        """``x @ W + b`` (one op; it checks the shapes)."""
        x = self.prepare(x)
        try:
            return F.linear(x, self.weight, self.bias)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from None

    def extra_repr(self) -> str:
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, dtype={self.weight.dtype}")


class ReLU(Module):
    """y = max(x, 0)   (ReLU'(0) = 0)."""

    def forward(self, x: Any) -> Tensor:
        return _t(x).relu()


class Tanh(Module):
    """y = tanh(x)."""

    def forward(self, x: Any) -> Tensor:
        return _t(x).tanh()


class Sigmoid(Module):
    """y = 1 / (1 + exp(-x))."""

    def forward(self, x: Any) -> Tensor:
        return _t(x).sigmoid()


class LeakyReLU(Module):
    """y = x if x > 0 else negative_slope · x."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return _t(x).leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Dropout(Module):
    """Inverted dropout. In training mode ``y = x · m / (1 - p)`` with a fresh mask
    ``m_ij ~ Bernoulli(1 - p)`` per call, so E[y] = x; the mask is a constant, so the gradient
    is ``x̄ = ȳ · m / (1 - p)``. The identity in eval mode or when p = 0 (p = 1 zeroes everything).

    ``rng``: a Generator (used as is, so sharing one makes the masks reproducible), an int
    seed, or None. The mask is drawn as ``rng.random(x.shape) >= p``.
    """

    def __init__(self, p: float = 0.5, rng: RngLike = None) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"Dropout: p must be in [0, 1], got {p}")
        self.p = float(p)
        self.rng = _rng(rng)

    def forward(self, x: Any) -> Tensor:
        if not self.training or self.p == 0.0:
            return x
        x = _t(x)
        keep = self.rng.random(x.shape) >= self.p
        scale = 0.0 if self.p == 1.0 else 1.0 / (1.0 - self.p)
        mask = keep.astype(x.dtype)
        mask *= scale  # Python float: stays in x's dtype
        return x * Tensor(mask)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class Flatten(Module):
    """Merge dims ``start_dim..end_dim`` into one (default: everything but the batch dim)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: Any) -> Tensor:
        return _t(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"


class Identity(Module):
    """y = x."""

    def forward(self, x: Any) -> Any:
        return x
