"""Convolutions over NCHW images with PyTorch's semantics and weight layout, as im2col + one GEMM.

Shapes: x (N, C, H, W) images; w (O, C/G, kh, kw) kernels for G groups; stride s, padding p
(zeros) and dilation d per spatial axis; the output's sides are ``OH = (H + 2p - d(kh-1) - 1)//s + 1``
and ``OW`` likewise.

**im2col.** Copy every output pixel's receptive field into a row,
``cols[(n, p, q), (i, j, c)] = xpad[n, c, p·s + i·d, q·s + j·d]`` (a ``sliding_window_view`` of
the padded image, then one copy), and the convolution is a matrix product,
``y[(n, p, q), o] = Σ_(i,j,c) cols[(n, p, q), (i, j, c)] · w[o, c, i, j] + b[o]``: one GEMM per
group. The channel is the innermost column index, so the copy moves runs of C neighbouring values
of a channels-last image, and the GEMM's result is channels-last (N, OH, OW, O); the op returns
its NCHW view (the same values with channels-last strides; NumPy's elementwise ops keep them, so
the next convolution's copy is cheap too).

**col2im.** im2col copies each input pixel into every row whose window covers it, so its VJP
adds each row's gradient back onto the pixels it was copied from: a scatter-add. The gradient of
the columns is ``g · wᵀ``; col2im computes it one kernel offset (i, j) at a time, one GEMM
``g · w[:, :, i, j]ᵀ`` of shape (N·OH·OW, C) per offset, added at once into the strided slice of the
image that offset reads (kh·kw vectorized adds of whole slices, no loop over pixels). Each block is
added while it is still in cache: on the MNIST CNN's second layer this takes about the time of the
one big GEMM alone, and half the time of forming all the columns first and adding them afterwards.

The three convolution ops are each other's VJPs, as ``getitem`` and ``scatter_add`` are, and each
is bilinear, so its JVP is itself with one input replaced by its tangent:

* ``conv2d(x, w)``: y = x ⋆ w;
* ``conv_transpose2d(g, w)``: col2im(g · w), the adjoint of conv2d in x,
  ⟨g, conv2d(x, w)⟩ = ⟨conv_transpose2d(g, w), x⟩;
* ``conv2d_weight(x, g)``: im2col(x)ᵀ g, the adjoint of conv2d in w, ⟨g, conv2d(x, w)⟩ = ⟨conv2d_weight(x, g), w⟩.

``unfold`` and ``fold`` are im2col and col2im themselves in PyTorch's layout (``F.unfold``,
``F.fold``: (N, C·kh·kw, OH·OW) with columns (c, i, j)), each the other's VJP; the pooling ops'
VJPs are written with them.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..batching import front, stacked
from ..engine import Function, Tensor, register

Pair = tuple[int, int]


# ----------------------------------------------------------------------------- geometry
def pair(value: Any, what: str, op: str, low: int = 0) -> Pair:
    """An int or a pair of ints as a pair (height, width), each >= ``low``; a ValueError naming the op."""
    v = (value, value) if isinstance(value, (int, np.integer)) else tuple(value)
    if len(v) != 2 or not all(isinstance(k, (int, np.integer)) for k in v) or min(v) < low:
        raise ValueError(f"{op}: {what} must be an int >= {low} or a pair of them, got {value!r}")
    return int(v[0]), int(v[1])


def out_size(n: int, k: int, s: int, p: int, d: int) -> int:
    """Windows along one axis: ``(n + 2p - d(k-1) - 1) // s + 1`` (may be <= 0: no window fits)."""
    return (n + 2 * p - d * (k - 1) - 1) // s + 1


def geometry(op: str, size: Sequence[int], kernel: Any, stride: Any, padding: Any, dilation: Any
             ) -> tuple[Pair, Pair, Pair, Pair, Pair]:
    """(kernel, stride, padding, dilation, output size) as pairs; a ValueError naming the op when
    no window fits into the padded image."""
    k, s = pair(kernel, "kernel_size", op, 1), pair(stride, "stride", op, 1)
    p, d = pair(padding, "padding", op), pair(dilation, "dilation", op, 1)
    out = (out_size(size[0], k[0], s[0], p[0], d[0]), out_size(size[1], k[1], s[1], p[1], d[1]))
    if min(out) < 1:
        raise ValueError(f"{op}: a {k[0]}x{k[1]} kernel (dilation {d}) does not fit an image of {size[0]}x{size[1]} "
                         f"with padding {p}")
    return k, s, p, d, out


def windows(xp: np.ndarray, axes: tuple[int, int], k: Pair, s: Pair, d: Pair) -> np.ndarray:
    """A view of every window of the (already padded) ``xp`` along ``axes``: the window position
    replaces those axes, and two new last axes (kh, kw) index inside a window."""
    span = (d[0] * (k[0] - 1) + 1, d[1] * (k[1] - 1) + 1)
    v = sliding_window_view(xp, span, axis=axes)
    index = [slice(None)] * xp.ndim + [slice(None, None, d[0]), slice(None, None, d[1])]
    index[axes[0]], index[axes[1]] = slice(None, None, s[0]), slice(None, None, s[1])
    return v[tuple(index)]


def window_slots(k: Pair, s: Pair, d: Pair, out: Pair) -> list[tuple[int, int, tuple[slice, slice]]]:
    """For each kernel offset (i, j): the strided slice of the padded image its entries come from."""
    return [(i, j, (slice(i * d[0], i * d[0] + s[0] * (out[0] - 1) + 1, s[0]),
                    slice(j * d[1], j * d[1] + s[1] * (out[1] - 1) + 1, s[1])))
            for i in range(k[0]) for j in range(k[1])]


def im2col(x: np.ndarray, groups: int, k: Pair, s: Pair, p: Pair, d: Pair) -> np.ndarray:
    """The rows of a convolution: (N·OH·OW, G, kh·kw·C/G), entry ``xpad[n, c, p·s + i·d, q·s + j·d]``
    at row (n, p, q), group c // (C/G), column (i, j, c % (C/G))."""
    n, c = x.shape[:2]
    xp = x.transpose(0, 2, 3, 1)  # channels last (a free view when x is stored so)
    if p[0] or p[1]:
        xp = np.pad(xp, ((0, 0), (p[0], p[0]), (p[1], p[1]), (0, 0)))
    v = windows(xp, (1, 2), k, s, d)  # (N, OH, OW, C, kh, kw)
    oh, ow = v.shape[1:3]
    v = v.reshape(n, oh, ow, groups, c // groups, k[0], k[1]).transpose(0, 1, 2, 3, 5, 6, 4)
    return v.reshape(n * oh * ow, groups, k[0] * k[1] * (c // groups))  # the one copy


def col2im_gemm(g: np.ndarray, w: np.ndarray, groups: int, size: Pair, k: Pair, s: Pair, p: Pair, d: Pair
                ) -> np.ndarray:
    """col2im(g · wᵀ) for g (N, O, OH, OW) and w (O, C/G, kh, kw): per kernel offset (i, j), the GEMM
    g · w[:, :, i, j] added into the strided slice of the padded image it covers; returns the (N, C, H, W)
    image of ``size`` (H, W), an NCHW view of a channels-last array."""
    n, o, oh, ow = g.shape
    cg = w.shape[1]
    rows = g.transpose(0, 2, 3, 1).reshape(-1, groups, o // groups).transpose(1, 0, 2)  # (G, N·OH·OW, O/G)
    kernels = w.reshape(groups, o // groups, cg, k[0], k[1])
    img = np.zeros((n, max(size[0] + 2 * p[0], s[0] * (oh - 1) + d[0] * (k[0] - 1) + 1),
                    max(size[1] + 2 * p[1], s[1] * (ow - 1) + d[1] * (k[1] - 1) + 1), groups, cg),
                   dtype=np.result_type(g, w))
    for i, j, (si, sj) in window_slots(k, s, d, (oh, ow)):
        block = np.matmul(rows, kernels[:, :, :, i, j])  # (G, N·OH·OW, C/G): the columns of offset (i, j)
        img[:, si, sj] += block.transpose(1, 0, 2).reshape(n, oh, ow, groups, cg)
    crop = img[:, p[0]:p[0] + size[0], p[1]:p[1] + size[1]]
    return crop.reshape(n, size[0], size[1], groups * cg).transpose(0, 3, 1, 2)


def grouped_weight(w: np.ndarray, groups: int) -> np.ndarray:
    """Kernels (O, C/G, kh, kw) as the GEMM's right operand per group: (G, kh·kw·C/G, O/G), rows (i, j, c)."""
    o, cg, kh, kw = w.shape
    per_group = w.reshape(groups, o // groups, cg, kh, kw).transpose(0, 3, 4, 2, 1)
    return per_group.reshape(groups, kh * kw * cg, o // groups)


def check_conv(op: str, x: np.ndarray, w: np.ndarray, b: np.ndarray | None, groups: int) -> None:
    """x (N, C, H, W), w (O, C/G, kh, kw) with O divisible by G, b (O,) or None; a ValueError naming the op."""
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be an int >= 1, got {groups!r}")
    if x.ndim != 4 or w.ndim != 4:
        raise ValueError(f"{op}: input must be (N, C, H, W) and weight (O, C/groups, kh, kw), "
                         f"got {x.shape} and {w.shape}")
    if x.shape[1] % groups or w.shape[0] % groups or w.shape[1] * groups != x.shape[1]:
        raise ValueError(f"{op}: input {x.shape} and weight {w.shape} do not fit {groups} group(s) (expected "
                         "input channels = weight.shape[1]·groups, weight.shape[0] divisible by groups)")
    if b is not None and b.shape != (w.shape[0],):
        raise ValueError(f"{op}: bias {b.shape} does not fit weight {w.shape} (expected ({w.shape[0]},))")


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Any, padding: Any, dilation: Any,
                 groups: int, op: str = "conv2d") -> np.ndarray:
    """y = x ⋆ w + b by im2col and one GEMM per group (the module docstring)."""
    return conv_from_rows(conv_rows(x, w, b, stride, padding, dilation, groups, op), x.shape[0], w, b, groups)


def conv_rows(x: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Any, padding: Any, dilation: Any,
              groups: int, op: str = "conv2d") -> np.ndarray:
    """The checked im2col rows (N·OH, OW, G, kh·kw·C/G) of a convolution of x with w."""
    check_conv(op, x, w, b, groups)
    k, s, p, d, out = geometry(op, x.shape[2:], w.shape[2:], stride, padding, dilation)
    rows = im2col(x, groups, k, s, p, d)  # (N·OH·OW, G, K)
    return rows.reshape(x.shape[0] * out[0], out[1], groups, rows.shape[2])


def conv_from_rows(rows: np.ndarray, n: int, w: np.ndarray, b: np.ndarray | None, groups: int) -> np.ndarray:
    """y = rows · w + b, one GEMM per group, as the NCHW view of the channels-last result."""
    oh, ow, o = rows.shape[0] // n, rows.shape[1], w.shape[0]
    flat = rows.reshape(-1, groups, rows.shape[3])
    y = np.matmul(flat.transpose(1, 0, 2), grouped_weight(w, groups))  # (G, N·OH·OW, O/G)
    y = y.transpose(1, 0, 2).reshape(n, oh, ow, o)  # channels last (a free reshape for G = 1)
    if b is not None:
        y += b
    return y.transpose(0, 3, 1, 2)


def transpose_forward(g: np.ndarray, w: np.ndarray, b: np.ndarray | None, stride: Any, padding: Any,
                      dilation: Any, groups: int, output_padding: Any, op: str = "conv_transpose2d") -> np.ndarray:
    """x = col2im(g · w) + b: each input pixel of g spreads w times its value over a window of the output."""
    if not isinstance(groups, (int, np.integer)) or groups < 1:
        raise ValueError(f"{op}: groups must be an int >= 1, got {groups!r}")
    if g.ndim != 4 or w.ndim != 4 or g.shape[1] != w.shape[0] or w.shape[0] % groups:
        raise ValueError(f"{op}: input (N, C_in, H, W) and weight (C_in, C_out/groups, kh, kw) with C_in divisible "
                         f"by groups={groups} expected, got {g.shape} and {w.shape}")
    cg = w.shape[1]
    if b is not None and b.shape != (cg * groups,):
        raise ValueError(f"{op}: bias {b.shape} does not fit weight {w.shape} (expected ({cg * groups},))")
    k, s = pair(w.shape[2:], "kernel_size", op, 1), pair(stride, "stride", op, 1)
    p, d = pair(padding, "padding", op), pair(dilation, "dilation", op, 1)
    op_ = pair(output_padding, "output_padding", op)
    if op_[0] >= s[0] or op_[1] >= s[1]:  # (PyTorch also allows < dilation; then conv2d would not invert the size)
        raise ValueError(f"{op}: output_padding {op_} must be smaller than the stride {s}")
    size = tuple((g.shape[2 + a] - 1) * s[a] - 2 * p[a] + d[a] * (k[a] - 1) + op_[a] + 1 for a in (0, 1))
    if min(size) < 1:
        raise ValueError(f"{op}: input {g.shape} with kernel {k}, stride {s}, padding {p} gives an empty output")
    x = col2im_gemm(g, w, groups, size, k, s, p, d)
    if b is not None:
        x = x + b.reshape(-1, 1, 1)
    return x


def weight_forward(x: np.ndarray, g: np.ndarray, kernel_size: Any, stride: Any, padding: Any, dilation: Any,
                   groups: int, op: str = "conv2d_weight") -> np.ndarray:
    """w = im2col(x)ᵀ g per group: the correlation of the images with the output gradients."""
    k = pair(kernel_size, "kernel_size", op, 1)
    if x.ndim != 4 or g.ndim != 4 or x.shape[0] != g.shape[0]:
        raise ValueError(f"{op}: input (N, C, H, W) and grad_output (N, O, OH, OW) must share N, "
                         f"got {x.shape} and {g.shape}")
    if not isinstance(groups, (int, np.integer)) or groups < 1 or x.shape[1] % groups or g.shape[1] % groups:
        raise ValueError(f"{op}: input {x.shape} and grad_output {g.shape} do not fit {groups!r} group(s)")
    k, s, p, d, out = geometry(op, x.shape[2:], k, stride, padding, dilation)
    if tuple(g.shape[2:]) != out:
        raise ValueError(f"{op}: grad_output {g.shape} does not fit the convolution of {x.shape} with a {k} kernel "
                         f"(stride {s}, padding {p}, dilation {d}: outputs {out})")
    return weight_from_rows(im2col(x, groups, k, s, p, d), g, k, groups)


def weight_from_rows(rows: np.ndarray, g: np.ndarray, k: Pair, groups: int) -> np.ndarray:
    """w = rowsᵀ g per group, from the im2col rows (N·OH·OW, G, kh·kw·C/G) and g (N, O, OH, OW)."""
    rows = rows.reshape(-1, groups, rows.shape[-1])
    o, cg = g.shape[1], rows.shape[2] // (k[0] * k[1])
    gr = g.transpose(0, 2, 3, 1).reshape(-1, groups, o // groups)  # (N·OH·OW, G, O/G)
    wg = np.matmul(gr.transpose(1, 2, 0), rows.transpose(1, 0, 2))  # (G, O/G, kh·kw·C/G)
    return wg.reshape(o, k[0], k[1], cg).transpose(0, 3, 1, 2).copy()


def conv_params(fn: Function) -> dict[str, Any]:
    return {"stride": fn.stride, "padding": fn.padding, "dilation": fn.dilation, "groups": fn.groups}


def output_padding_for(size: Sequence[int], out: Sequence[int], kernel: Pair, stride: Any, padding: Any,
                       dilation: Any) -> Pair:
    """The ``output_padding`` that makes conv_transpose2d of an (OH, OW) map give back (H, W)."""
    s, p = pair(stride, "stride", "conv2d", 1), pair(padding, "padding", "conv2d")
    d = pair(dilation, "dilation", "conv2d", 1)
    return tuple(size[a] - ((out[a] - 1) * s[a] - 2 * p[a] + d[a] * (kernel[a] - 1) + 1) for a in (0, 1))


# ----------------------------------------------------------------------------- the ops
@register("conv2d")
class Conv2d(Function):
    """y[n,o,p,q] = Σ_(c,i,j) x_pad[n, g·C/G + c, p·s + i·d, q·s + j·d] w[o,c,i,j] + b[o]  (g the group of o).
    VJP: x̄ = conv_transpose2d(g, w), w̄ = conv2d_weight(x, g), b̄ = Σ_(n,p,q) g.
    JVP: ẏ = conv2d(ẋ, w) + conv2d(x, ẇ) + ḃ."""

    stride, padding, dilation, groups = 1, 0, 1, 1  # the defaults, for calls that leave them out

    @staticmethod
    def forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
        return conv_forward(x, w, b, stride, padding, dilation, groups)

    def vjp(self, i, g, y):
        x, w = self.inputs[:2]
        if i == 0:
            out_pad = output_padding_for(x.shape[2:], g.shape[2:], w.shape[2:], self.stride, self.padding,
                                         self.dilation)
            return Tensor.apply("conv_transpose2d", g, w, output_padding=out_pad, **conv_params(self))
        if i == 1:
            return Tensor.apply("conv2d_weight", x, g, kernel_size=w.shape[2:], **conv_params(self))
        return g.sum(axis=(0, 2, 3))

    def jvp(self, i, t, y):
        x, w = self.inputs[:2]
        if i == 2:
            return t.reshape(-1, 1, 1)
        return Tensor.apply("conv2d", t if i == 0 else x, t if i == 1 else w, **conv_params(self))

    @classmethod
    def batch(cls, values, bdims, params, level):
        """Batched images against shared kernels: the examples are more images (one op, N·B of them).
        Per-example kernels: the examples become groups (x (N, B·C, H, W), w (B·O, C/G, kh, kw), B·G groups)."""
        x, w = values[:2]
        size = next(v.shape[b] for v, b in zip(values, bdims) if b is not None)
        groups = params.get("groups", 1)
        bias = values[2] if len(values) > 2 else None
        bb = bdims[2] if len(values) > 2 else None
        if bdims[1] is None and bb is None:
            xs = front(x, bdims[0])
            y = Tensor.apply(cls, xs.reshape((-1,) + xs.shape[2:]), *values[1:], **params)
            return y.reshape((size, -1) + y.shape[1:]), 0
        y = _as_groups(cls, stacked(x, bdims[0], size), stacked(w, bdims[1], size), params, groups)
        if bias is not None:
            y = y + stacked(bias, bb, size).reshape(size, 1, -1, 1, 1)
        return y, 0


def _as_groups(cls: type[Function], xs: Tensor, ws: Tensor, params: dict, groups: int) -> Tensor:
    """B stacked convolutions as one with B·G groups: xs (B, N, C, H, W), ws (B, O, ...) -> (B, N, O', ...)."""
    b, n = xs.shape[:2]
    x = xs.transpose(1, 0, 2, 3, 4).reshape((n, -1) + xs.shape[3:])
    w = ws.reshape((-1,) + ws.shape[2:])
    y = Tensor.apply(cls, x, w, **{**params, "groups": groups * b})
    return y.reshape((n, b, -1) + y.shape[2:]).transpose(1, 0, 2, 3, 4)


@register("conv_transpose2d")
class ConvTranspose2d(Function):
    """y = col2im(x · w) + b: each pixel of x (N, O, H, W) adds x[n,o,p,q]·w[o,c,i,j] at
    (p·s + i·d - pad, q·s + j·d - pad) of channel g·C/G + c of y (the adjoint of conv2d in its input;
    w (O, C/G, kh, kw) is conv2d's weight, PyTorch's (in, out/groups, kh, kw) of conv_transpose2d).
    VJP: x̄ = conv2d(ȳ, w), w̄ = conv2d_weight(ȳ, x), b̄ = Σ ȳ.   JVP: ẏ = conv_transpose2d(ẋ, w) + (x, ẇ) + ḃ.
    ``output_padding`` (< stride) adds rows and columns at the bottom and right, to reach a size conv2d maps
    onto the same input size."""

    stride, padding, dilation, groups, output_padding = 1, 0, 1, 1, 0

    @staticmethod
    def forward(x, w, b=None, stride=1, padding=0, dilation=1, groups=1, output_padding=0):
        return transpose_forward(x, w, b, stride, padding, dilation, groups, output_padding)

    def vjp(self, i, g, y):
        x, w = self.inputs[:2]
        if i == 0:
            return Tensor.apply("conv2d", g, w, **conv_params(self))
        if i == 1:
            return Tensor.apply("conv2d_weight", g, x, kernel_size=w.shape[2:], **conv_params(self))
        return g.sum(axis=(0, 2, 3))

    def jvp(self, i, t, y):
        x, w = self.inputs[:2]
        if i == 2:
            return t.reshape(-1, 1, 1)
        return Tensor.apply("conv_transpose2d", t if i == 0 else x, t if i == 1 else w,
                            output_padding=self.output_padding, **conv_params(self))

    @classmethod
    def batch(cls, values, bdims, params, level):
        """As conv2d's rule: batched inputs are more images; per-example kernels become groups."""
        return Conv2d.batch.__func__(cls, values, bdims, params, level)


@register("conv2d_weight")
class Conv2dWeight(Function):
    """w[o,c,i,j] = Σ_(n,p,q) g[n,o,p,q] x_pad[n, g·C/G + c, p·s + i·d, q·s + j·d]: conv2d's weight
    gradient, im2col(x)ᵀ g (PyTorch's torch.nn.grad.conv2d_weight).
    VJP: x̄ = conv_transpose2d(g, w̄), ḡ = conv2d(x, w̄).   JVP: ẇ = conv2d_weight(ẋ, g) + conv2d_weight(x, ġ)."""

    stride, padding, dilation, groups = 1, 0, 1, 1

    @staticmethod
    def forward(x, g, kernel_size, stride=1, padding=0, dilation=1, groups=1):
        return weight_forward(x, g, kernel_size, stride, padding, dilation, groups)

    def vjp(self, i, u, y):
        x, g = self.inputs
        if i == 0:
            out_pad = output_padding_for(x.shape[2:], g.shape[2:], u.shape[2:], self.stride, self.padding,
                                         self.dilation)
            return Tensor.apply("conv_transpose2d", g, u, output_padding=out_pad, **conv_params(self))
        return Tensor.apply("conv2d", x, u, **conv_params(self))

    def jvp(self, i, t, y):
        x, g = self.inputs
        return Tensor.apply("conv2d_weight", t if i == 0 else x, t if i == 1 else g, kernel_size=self.kernel_size,
                            **conv_params(self))

    @classmethod
    def batch(cls, values, bdims, params, level):
        """Per-example weight gradients as one op: the examples become groups (both inputs stacked)."""
        size = next(v.shape[b] for v, b in zip(values, bdims) if b is not None)
        xs, gs = stacked(values[0], bdims[0], size), stacked(values[1], bdims[1], size)
        n, groups = xs.shape[1], params.get("groups", 1)
        x = xs.transpose(1, 0, 2, 3, 4).reshape((n, -1) + xs.shape[3:])
        g = gs.transpose(1, 0, 2, 3, 4).reshape((n, -1) + gs.shape[3:])
        w = Tensor.apply(cls, x, g, **{**params, "groups": groups * size})
        return w.reshape((size, -1) + w.shape[1:]), 0


# ----------------------------------------------------------------------------- im2col / col2im, PyTorch's layout
def unfold_forward(x: np.ndarray, kernel_size: Any, dilation: Any, padding: Any, stride: Any) -> np.ndarray:
    if x.ndim != 4:
        raise ValueError(f"unfold: input must be (N, C, H, W), got shape {x.shape}")
    k, s, p, d, out = geometry("unfold", x.shape[2:], kernel_size, stride, padding, dilation)
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p[0] or p[1] else x
    v = windows(xp, (2, 3), k, s, d)  # (N, C, OH, OW, kh, kw)
    n, c = x.shape[:2]
    return v.transpose(0, 1, 4, 5, 2, 3).reshape(n, c * k[0] * k[1], out[0] * out[1])


def fold_forward(cols: np.ndarray, output_size: Any, kernel_size: Any, dilation: Any, padding: Any,
                 stride: Any) -> np.ndarray:
    size = pair(output_size, "output_size", "fold", 1)
    k, s, p, d, out = geometry("fold", size, kernel_size, stride, padding, dilation)
    if cols.ndim != 3 or cols.shape[1] % (k[0] * k[1]) or cols.shape[2] != out[0] * out[1]:
        raise ValueError(f"fold: input must be (N, C·{k[0]}·{k[1]}, {out[0] * out[1]}) for output size {size}, "
                         f"got {cols.shape}")
    n, c = cols.shape[0], cols.shape[1] // (k[0] * k[1])
    r = cols.reshape(n, c, k[0], k[1], out[0], out[1])
    img = np.zeros((n, c, max(size[0] + 2 * p[0], s[0] * (out[0] - 1) + d[0] * (k[0] - 1) + 1),
                    max(size[1] + 2 * p[1], s[1] * (out[1] - 1) + d[1] * (k[1] - 1) + 1)), dtype=cols.dtype)
    for i, j, (si, sj) in window_slots(k, s, d, out):
        img[:, :, si, sj] += r[:, :, i, j]
    return img[:, :, p[0]:p[0] + size[0], p[1]:p[1] + size[1]].copy()


def _merge_batch(cls: type[Function], values: list, bdims: list, params: dict) -> tuple[Tensor, int]:
    """An op on (N, ...) run on a stack: the examples' N axes merged into one, split again after."""
    v = front(values[0], bdims[0])
    y = Tensor.apply(cls, v.reshape((-1,) + v.shape[2:]), **params)
    return y.reshape((v.shape[0], -1) + y.shape[1:]), 0


@register("unfold")
class Unfold(Function):
    """y[n, (c, i, j), (p, q)] = x_pad[n, c, p·s + i·d, q·s + j·d]  (im2col; PyTorch's F.unfold layout).
    VJP: x̄ = fold(g) (col2im: each copy's gradient added back onto its pixel).   JVP: ẏ = unfold(ẋ)."""

    dilation, padding, stride = 1, 0, 1

    @staticmethod
    def forward(x, kernel_size, dilation=1, padding=0, stride=1):
        return unfold_forward(x, kernel_size, dilation, padding, stride)

    def params_(self) -> dict[str, Any]:
        return {"kernel_size": self.kernel_size, "dilation": self.dilation, "padding": self.padding,
                "stride": self.stride}

    def vjp(self, i, g, y):
        return Tensor.apply("fold", g, output_size=self.inputs[0].shape[2:], **self.params_())

    def jvp(self, i, t, y):
        return Tensor.apply("unfold", t, **self.params_())

    @classmethod
    def batch(cls, values, bdims, params, level):
        return _merge_batch(cls, values, bdims, params)


@register("fold")
class Fold(Function):
    """y[n, c, h, w] = Σ over the windows (p, q) and offsets (i, j) that cover pixel (h, w) of
    x[n, (c, i, j), (p, q)]  (col2im; PyTorch's F.fold).   VJP: x̄ = unfold(g).   JVP: ẏ = fold(ẋ)."""

    dilation, padding, stride = 1, 0, 1

    @staticmethod
    def forward(x, output_size, kernel_size, dilation=1, padding=0, stride=1):
        return fold_forward(x, output_size, kernel_size, dilation, padding, stride)

    def vjp(self, i, g, y):
        return Tensor.apply("unfold", g, kernel_size=self.kernel_size, dilation=self.dilation,
                            padding=self.padding, stride=self.stride)

    def jvp(self, i, t, y):
        return Tensor.apply("fold", t, output_size=self.output_size, kernel_size=self.kernel_size,
                            dilation=self.dilation, padding=self.padding, stride=self.stride)

    @classmethod
    def batch(cls, values, bdims, params, level):
        return _merge_batch(cls, values, bdims, params)
