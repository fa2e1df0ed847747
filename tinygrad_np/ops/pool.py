"""Pooling over the windows of NCHW images: max_pool2d and avg_pool2d (PyTorch's semantics, no ceil_mode).

Windows are those of ``conv.py``: kernel (kh, kw), stride s (default: the kernel), padding p
(at most half the kernel, as in PyTorch) and, for max_pool2d, dilation d; ``OH = (H + 2p - d(kh-1) - 1)//s + 1``.
Both VJPs spread g back over the windows with ``fold`` (col2im), so they are Tensor ops that
are differentiable again; both JVPs pool the tangent the same way.

**Ties in max_pool2d.** Where several entries of a window equal its maximum, the gradient is
split evenly between them (as this library's ``max`` and ``maximum`` do; PyTorch gives all of it
to the first one in row-major order). Padding never wins: it is -inf.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Function, Tensor, register
from .conv import Pair, _merge_batch, geometry, pair, windows


def pool_geometry(op: str, shape: tuple[int, ...], kernel_size: Any, stride: Any, padding: Any, dilation: Any
                  ) -> tuple[Pair, Pair, Pair, Pair, Pair]:
    """(kernel, stride, padding, dilation, output size) of a pooling op on images of ``shape``, checked:
    padding at most half the kernel, and every window holding at least one pixel of the image."""
    if len(shape) != 4:
        raise ValueError(f"{op}: input must be (N, C, H, W), got shape {tuple(shape)}")
    k = pair(kernel_size, "kernel_size", op, 1)
    geo = geometry(op, shape[2:], k, k if stride is None else stride, padding, dilation)
    k, s, p, d, out = geo
    if p[0] > k[0] // 2 or p[1] > k[1] // 2:
        raise ValueError(f"{op}: padding {p} must be at most half the kernel size {k}")
    for a in (0, 1):
        starts = np.arange(out[a]) * s[a] - p[a]
        hits = (starts[:, None] + np.arange(k[a]) * d[a])
        if not np.all(np.any((hits >= 0) & (hits < shape[2 + a]), axis=1)):
            raise ValueError(f"{op}: with dilation {d} and padding {p} some windows hold only padding "
                             f"(image {shape[2]}x{shape[3]}, kernel {k})")
    return geo


def over_window(v: np.ndarray, combine: np.ufunc) -> np.ndarray:
    """``combine`` (np.maximum, np.add) of a window view's (..., kh, kw) entries, one offset after the other:
    kh·kw elementwise passes over (N, C, OH, OW) slices (a NumPy reduction over the two short last axes of
    such a view runs several times slower)."""
    out = v[..., 0, 0].copy()
    for i in range(v.shape[-2]):
        for j in range(v.shape[-1]):
            if i or j:
                combine(out, v[..., i, j], out=out)
    return out


def window_params(fn: Function) -> dict[str, Any]:
    """The keyword parameters of ``unfold``/``fold`` for the windows of a pooling node."""
    k, s, p, d, _ = pool_geometry(fn.op_name, fn.inputs[0].shape, fn.kernel_size, fn.stride, fn.padding, fn.dilation)
    return {"kernel_size": k, "stride": s, "padding": p, "dilation": d}


def per_window(t: Tensor, kk: int) -> Tensor:
    """``unfold``'s (N, C·kk, L) as (N, C, kk, L): the window's entries on axis 2."""
    return t.reshape(t.shape[0], -1, kk, t.shape[2])


@register("max_pool2d")
class MaxPool2d(Function):
    """y[n,c,p,q] = max_(i,j) x_pad[n, c, p·s + i·d, q·s + j·d]  (x_pad: x padded with -inf).
    VJP: x̄ = fold(g · [window = y] / #{window = y})  (ties split g evenly).
    JVP: ẏ = Σ_(i,j) unfold(ẋ) · [window = y] / #{window = y}."""

    stride, padding, dilation = None, 0, 1

    @staticmethod
    def forward(x, kernel_size, stride=None, padding=0, dilation=1):
        k, s, p, d, out = pool_geometry("max_pool2d", x.shape, kernel_size, stride, padding, dilation)
        xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1])), constant_values=-np.inf) if p[0] or p[1] else x
        return over_window(windows(xp, (2, 3), k, s, d), np.maximum)

    def share(self, y: Tensor) -> Tensor:
        """[window entry = y] / #{window entries = y}, (N, C, kh·kw, L): where each window's maximum is."""
        x = self.inputs[0]
        params = window_params(self)
        kk = params["kernel_size"][0] * params["kernel_size"][1]
        win = per_window(Tensor.apply("unfold", x, **params), kk)  # padding reads as 0 here ...
        real = np.ones((1, 1) + x.shape[2:], dtype=x.dtype)  # ... so only real pixels may match
        real = per_window(Tensor.apply("unfold", Tensor._wrap(real), **params), kk)
        hit = (win == y.reshape(y.shape[0], y.shape[1], 1, -1)).astype(x.dtype) * real
        return hit / hit.sum(axis=2, keepdims=True)

    def vjp(self, i, g, y):
        x = self.inputs[0]
        cols = self.share(y) * g.reshape(g.shape[0], g.shape[1], 1, -1)
        return Tensor.apply("fold", cols.reshape(x.shape[0], -1, cols.shape[3]), output_size=x.shape[2:],
                            **window_params(self))

    def jvp(self, i, t, y):
        params = window_params(self)
        kk = params["kernel_size"][0] * params["kernel_size"][1]
        tangent = per_window(Tensor.apply("unfold", t, **params), kk)
        return (tangent * self.share(y)).sum(axis=2).reshape(y.shape)

    @classmethod
    def batch(cls, values, bdims, params, level):
        return _merge_batch(cls, values, bdims, params)


@register("avg_pool2d")
class AvgPool2d(Function):
    """y[n,c,p,q] = Σ_(i,j) x_pad[n, c, p·s + i·d, q·s + j·d] / m  (x_pad: x padded with zeros;
    m = kh·kw, or with count_include_pad=False the number of real pixels in the window).
    VJP: x̄ = fold(g / m spread over each window).   JVP: ẏ = avg_pool2d(ẋ)."""

    stride, padding, count_include_pad = None, 0, True
    dilation = 1  # (no dilated windows here, as in PyTorch; window_params reads it)

    @staticmethod
    def divisor(x_shape: tuple[int, ...], k: Pair, s: Pair, p: Pair, d: Pair, count_include_pad: bool,
                dtype: np.dtype) -> np.ndarray | int:
        """m: kh·kw, or per window (OH, OW) the number of its entries inside the image."""
        if count_include_pad or (p[0] == 0 and p[1] == 0):
            return k[0] * k[1]
        ones = np.pad(np.ones(x_shape[2:], dtype=dtype), ((p[0], p[0]), (p[1], p[1])))
        return windows(ones, (0, 1), k, s, d).sum(axis=(2, 3))

    @staticmethod
    def forward(x, kernel_size, stride=None, padding=0, count_include_pad=True):
        k, s, p, d, out = pool_geometry("avg_pool2d", x.shape, kernel_size, stride, padding, 1)
        xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p[0] or p[1] else x
        total = over_window(windows(xp, (2, 3), k, s, d), np.add)
        return total / AvgPool2d.divisor(x.shape, k, s, p, d, count_include_pad, x.dtype)

    def vjp(self, i, g, y):
        x = self.inputs[0]
        params = window_params(self)
        k = params["kernel_size"]
        m = AvgPool2d.divisor(x.shape, k, params["stride"], params["padding"], params["dilation"],
                              self.count_include_pad, x.dtype)
        share = (g / m).reshape(g.shape[0], g.shape[1], 1, -1)
        cols = share.expand(g.shape[0], g.shape[1], k[0] * k[1], share.shape[3]).reshape(x.shape[0], -1, share.shape[3])
        return Tensor.apply("fold", cols, output_size=x.shape[2:], **params)

    def jvp(self, i, t, y):
        return Tensor.apply("avg_pool2d", t, kernel_size=self.kernel_size, stride=self.stride, padding=self.padding,
                            count_include_pad=self.count_include_pad)

    @classmethod
    def batch(cls, values, bdims, params, level):
        return _merge_batch(cls, values, bdims, params)
