"""Normalization layers: ``BatchNorm1d``, ``BatchNorm2d`` (running statistics as buffers) and ``LayerNorm``."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Tensor
from . import functional as F
from .layers import _as_input
from .module import Module, Parameter

__all__ = ["BatchNorm1d", "BatchNorm2d", "LayerNorm"]


class _BatchNorm(Module):
    """Batch normalization of the channels (axis 1): y = (x - μ) / √(σ² + eps) · weight + bias.

    In training mode μ, σ² are the batch's statistics over every axis but 1, and the buffers
    ``running_mean`` / ``running_var`` (start 0 and 1) move towards them as in PyTorch,
    r ← (1 - momentum)·r + momentum·s with the unbiased batch variance (``momentum=None``: the
    cumulative average over ``num_batches_tracked`` batches). In eval mode the running statistics
    are used. ``track_running_stats=False``: no buffers, batch statistics in both modes. ``affine``:
    learnable ``weight`` (ones) and ``bias`` (zeros).
    """

    ndims: tuple[int, ...] = ()

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 track_running_stats: bool = True, *, dtype: Any = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        if num_features < 1:
            raise ValueError(f"{name}: num_features must be >= 1, got {num_features}")
        if momentum is not None and not 0.0 <= momentum <= 1.0:
            raise ValueError(f"{name}: momentum must be in [0, 1] or None, got {momentum}")
        if not eps >= 0:
            raise ValueError(f"{name}: eps must be >= 0, got {eps}")
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{name}: dtype must be a float type, got {dtype}")
        self.num_features, self.eps, self.momentum = int(num_features), float(eps), momentum
        self.affine, self.track_running_stats = bool(affine), bool(track_running_stats)
        self.dtype = dtype
        self.weight = Parameter(np.ones(self.num_features, dtype=dtype)) if affine else None
        self.bias = Parameter(np.zeros(self.num_features, dtype=dtype)) if affine else None
        if self.track_running_stats:
            self.register_buffer("running_mean", np.zeros(self.num_features, dtype=dtype))
            self.register_buffer("running_var", np.ones(self.num_features, dtype=dtype))
            self.register_buffer("num_batches_tracked", np.zeros((), dtype=np.int64))
        else:
            self.running_mean = self.running_var = self.num_batches_tracked = None

    def reset_running_stats(self) -> None:
        """Running mean 0, variance 1, no batches tracked (in place)."""
        if self.track_running_stats:
            self.running_mean.copy_(0.0)
            self.running_var.copy_(1.0)
            self.num_batches_tracked.copy_(0)

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.dtype, self)
        name = type(self).__name__
        if x.ndim not in self.ndims or x.shape[1] != self.num_features:
            raise ValueError(f"{name}: input of shape {x.shape}; expected {' or '.join(map(str, self.ndims))} dims "
                             f"with {self.num_features} channels on axis 1")
        factor = 0.0 if self.momentum is None else self.momentum
        if self.training and self.track_running_stats:
            self.num_batches_tracked.update_(lambda a: np.add(a, 1, out=a))
            if self.momentum is None:
                factor = 1.0 / int(self.num_batches_tracked.item())
        batch_stats = self.training or not self.track_running_stats
        track = self.training and self.track_running_stats
        try:
            return F.batch_norm(x, self.running_mean if track or not batch_stats else None,
                                self.running_var if track or not batch_stats else None, self.weight, self.bias,
                                batch_stats, factor, self.eps)
        except ValueError as e:
            raise ValueError(f"{name}: {e}") from None

    def extra_repr(self) -> str:
        return (f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}, "
                f"track_running_stats={self.track_running_stats}")


class BatchNorm1d(_BatchNorm):
    """Batch normalization of (N, C) or (N, C, L) inputs over N (and L), per channel C (see ``_BatchNorm``)."""

    ndims = (2, 3)


class BatchNorm2d(_BatchNorm):
    """Batch normalization of (N, C, H, W) images over N, H and W, per channel C (see ``_BatchNorm``)."""

    ndims = (4,)


class LayerNorm(Module):
    """y = (x - μ) / √(σ² + eps) · weight + bias, μ and σ² of each example over its last axes, which
    must be ``normalized_shape``; weight (ones) and bias (zeros) of that shape if ``elementwise_affine``."""

    def __init__(self, normalized_shape: Any, eps: float = 1e-5, elementwise_affine: bool = True, bias: bool = True,
                 *, dtype: Any = np.float32) -> None:
        super().__init__()
        shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(
            int(n) for n in normalized_shape)
        if not shape or min(shape) < 1:
            raise ValueError(f"LayerNorm: normalized_shape must be positive sizes, got {normalized_shape!r}")
        self.normalized_shape, self.eps = shape, float(eps)
        self.dtype = np.dtype(dtype)
        self.weight = Parameter(np.ones(shape, dtype=self.dtype)) if elementwise_affine else None
        self.bias = Parameter(np.zeros(shape, dtype=self.dtype)) if elementwise_affine and bias else None

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.dtype, self)
        try:
            return F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from None

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.weight is not None}"
