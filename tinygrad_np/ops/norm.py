"""Standardization over some axes, the core of batch and layer normalization.

``batch_norm`` standardizes each channel over the batch and the spatial axes, ``layer_norm``
each example over its last axes; both then scale and shift with Tensor ops
(``tinygrad_np.nn.functional``). The VJP is the classic one, written with Tensor ops so that it is
differentiable again; the Jacobian ``∂yᵢ/∂xⱼ = (δᵢⱼ - 1/n - yᵢyⱼ/n) / σ`` is symmetric, so the JVP
is the same expression of the tangent.
"""
from __future__ import annotations

import numpy as np

from ..batching import reduction
from ..engine import Function, Tensor, register
from .reduce import normalize_axes


@register("standardize")
class Standardize(Function):
    """y = (x - μ) / σ with μ = mean_axis(x), σ = √(var_axis(x) + eps) (the population variance).
    VJP: x̄ = (g - mean(g) - y · mean(g y)) / σ (means over axis).   JVP: ẏ = (ẋ - mean(ẋ) - y · mean(ẋ y)) / σ."""

    batch = classmethod(reduction)  # the axes shift past the batch axis
    axis, eps = None, 1e-5

    @staticmethod
    def forward(x, axis=None, eps=1e-5):
        axes = normalize_axes(axis, x.ndim, "standardize")
        if not eps >= 0:
            raise ValueError(f"standardize: eps must be >= 0, got {eps}")
        centered = x - np.mean(x, axis=axes, keepdims=True)
        var = np.mean(centered * centered, axis=axes, keepdims=True)
        return centered / np.sqrt(var + eps)

    def sigma(self) -> Tensor:
        """σ = √(var + eps), keepdims shape (recomputed from x: differentiable)."""
        x = self.inputs[0]
        return (x.var(axis=normalize_axes(self.axis, x.ndim, "standardize"), keepdims=True) + self.eps).sqrt()

    def vjp(self, i, g, y):
        axes = normalize_axes(self.axis, y.ndim, "standardize")
        return (g - g.mean(axes, keepdims=True) - y * (g * y).mean(axes, keepdims=True)) / self.sigma()

    jvp = vjp
