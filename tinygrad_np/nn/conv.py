"""Convolution and pooling layers: ``Conv1d``, ``Conv2d``, ``MaxPool2d``, ``AvgPool2d`` (NCHW, PyTorch's
weight layout ``(out_channels, in_channels/groups, kh, kw)``)."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..engine import Tensor
from . import functional as F
from . import init as _init
from .layers import RngLike, _as_input, _rng, _t
from .module import Module, Parameter

__all__ = ["Conv1d", "Conv2d", "MaxPool2d", "AvgPool2d"]


def _sizes(value: Any, n: int, what: str, owner: str, low: int) -> tuple[int, ...]:
    v = (value,) * n if isinstance(value, (int, np.integer)) else tuple(value)
    if len(v) != n or not all(isinstance(k, (int, np.integer)) and k >= low for k in v):
        raise ValueError(f"{owner}: {what} must be an int >= {low} or {n} of them, got {value!r}")
    return tuple(int(k) for k in v)


class _ConvNd(Module):
    """The shared part of Conv1d and Conv2d: checked sizes, the kernels and the bias."""

    dims = 2

    def __init__(self, in_channels: int, out_channels: int, kernel_size: Any, stride: Any = 1, padding: Any = 0,
                 dilation: Any = 1, groups: int = 1, bias: bool = True, *, dtype: Any = np.float32,
                 rng: RngLike = None, init: str | Callable[..., np.ndarray] = "kaiming_normal") -> None:
        super().__init__()
        name, n = type(self).__name__, self.dims
        if in_channels < 1 or out_channels < 1 or groups < 1 or in_channels % groups or out_channels % groups:
            raise ValueError(f"{name}: in_channels={in_channels} and out_channels={out_channels} must be >= 1 and "
                             f"divisible by groups={groups}")
        self.in_channels, self.out_channels, self.groups = int(in_channels), int(out_channels), int(groups)
        self.kernel_size = _sizes(kernel_size, n, "kernel_size", name, 1)
        self.stride = _sizes(stride, n, "stride", name, 1)
        self.padding = padding if isinstance(padding, str) else _sizes(padding, n, "padding", name, 0)
        self.dilation = _sizes(dilation, n, "dilation", name, 1)
        dtype = np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"{name}: dtype must be a float type, got {dtype}")
        shape = (self.out_channels, self.in_channels // self.groups) + self.kernel_size
        fan_in = int(np.prod(shape[1:]))
        if callable(init):
            w = np.asarray(init(shape, _rng(rng), dtype))
        else:
            kwargs = {"fan_in": fan_in} if init != "xavier_uniform" else \
                {"fan_in": fan_in, "fan_out": self.out_channels // self.groups * int(np.prod(self.kernel_size))}
            w = np.asarray(_init.get_initializer(init)(shape, _rng(rng), dtype, **kwargs))
        if w.shape != shape:
            raise ValueError(f"{name}: init returned shape {w.shape}, expected {shape}")
        self.weight = Parameter(w.astype(dtype, copy=False))
        self.bias = Parameter(np.zeros(self.out_channels, dtype=dtype)) if bias else None

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, groups={self.groups}, "
                f"bias={self.bias is not None}, dtype={self.weight.dtype}")


class Conv2d(_ConvNd):
    """y = conv2d(x, W) + b over x (N, C_in, H, W) or (C_in, H, W): W (C_out, C_in/groups, kh, kw) drawn by
    ``init`` (default Kaiming normal, N(0, 2/fan_in) with fan_in = C_in/groups·kh·kw), b (C_out,) starting
    at zero. ``padding``: an int, a pair, 'valid' or 'same'."""

    dims = 2

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.weight.dtype, self)
        try:
            return F.conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from None


class Conv1d(_ConvNd):
    """y = conv1d(x, W) + b over x (N, C_in, L) or (C_in, L): W (C_out, C_in/groups, k), b (C_out,);
    initialized as Conv2d."""

    dims = 1

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x, self.weight.dtype, self)
        try:
            return F.conv1d(x, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        except ValueError as e:
            raise ValueError(f"{self!r}: {e}") from None


class MaxPool2d(Module):
    """The maximum of each kh x kw window (stride defaults to the kernel; padding -inf, at most half the
    kernel). Ties share the gradient evenly."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding, self.dilation = kernel_size, stride, padding, dilation

    def forward(self, x: Any) -> Tensor:
        return F.max_pool2d(_t(x), self.kernel_size, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, dilation={self.dilation}"


class AvgPool2d(Module):
    """The mean of each kh x kw window (stride defaults to the kernel; zero padding, counted in the divisor
    unless count_include_pad=False)."""

    def __init__(self, kernel_size: Any, stride: Any = None, padding: Any = 0, count_include_pad: bool = True) -> None:
        super().__init__()
        self.kernel_size, self.stride, self.padding = kernel_size, stride, padding
        self.count_include_pad = bool(count_include_pad)

    def forward(self, x: Any) -> Tensor:
        return F.avg_pool2d(_t(x), self.kernel_size, self.stride, self.padding, self.count_include_pad)

    def extra_repr(self) -> str:
        return (f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}, "
                f"count_include_pad={self.count_include_pad}")
