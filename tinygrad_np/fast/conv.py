"""The CNN family's fast paths: conv2d keeps its im2col rows for its weight gradient; max_pool2d's
VJP works on a view of the windows.

What it buys: the textbook VJP of conv2d's kernels is the op ``conv2d_weight(x, g)``, which copies
x into im2col rows again (for the MNIST CNN's second layer at batch 128, 25,088 x 800 floats,
about a quarter of the layer's backward time outside the GEMMs). Here conv2d's forward keeps the
rows it made on the node, and the VJP multiplies them by g directly: the same arrays into the same
GEMM, so the same bits (``tests/engine/test_fast.py`` compares every lowered rule with its textbook
one). Measured by ``python -m benchmarks.cnn_time`` (with ``TINYGRAD_NP_FAST=0`` for the textbook).
The rows live until the node's backward has run (or the graph is dropped). max_pool2d's textbook
VJP unfolds x (a copy), compares, divides and folds with one Tensor op each; the lowered one does
the same arithmetic on a view of the windows and adds each offset's part as it is made.
"""
from __future__ import annotations

import numpy as np

from ..engine import Tensor
from ..ops import conv as C
from ..ops import pool as P
from .forwards import lowers_forward
from .vjps import lowers


@lowers_forward(C.Conv2d)
def conv2d_forward(fn, x, w, b=None, stride=1, padding=0, dilation=1, groups=1):
    """The textbook forward; on a recorded node whose kernels need a gradient it keeps the im2col rows."""
    rows = C.conv_rows(x, w, b, stride, padding, dilation, groups)
    if fn is not None and fn.needs_input_grad[1]:
        fn.rows_ = rows
    return C.conv_from_rows(rows, x.shape[0], w, b, groups)


@lowers(C.Conv2d)
def conv2d_vjp(fn, i, g, y):
    """The kernels' gradient from the kept rows (``conv2d_weight`` without its im2col); the rest textbook."""
    rows = fn.__dict__.get("rows_") if i == 1 else None
    if rows is None:
        return C.Conv2d.vjp(fn, i, g, y)
    k = C.pair(fn.inputs[1].shape[2:], "kernel_size", "conv2d", 1)
    return Tensor._wrap(C.weight_from_rows(rows, g._data, k, fn.groups))


@lowers(P.MaxPool2d)
def max_pool2d_vjp(fn, i, g, y):
    """The textbook VJP (share of each window's maximum, times g, folded back) on the windows' view of x
    instead of an unfolded copy, and each offset's share times g added as it is made: the same values
    added in the same order as ``fold``'s."""
    x = fn.inputs[0]._data
    params = P.window_params(fn)
    k, s, p, d = params["kernel_size"], params["stride"], params["padding"], params["dilation"]
    if s == k and p == (0, 0) and d == (1, 1):
        return Tensor._wrap(tiled_max_pool_vjp(x, y._data, g._data, k))
    xp = np.pad(x, ((0, 0), (0, 0), (p[0], p[0]), (p[1], p[1]))) if p[0] or p[1] else x
    real = np.pad(np.ones(x.shape[2:], dtype=x.dtype), ((p[0], p[0]), (p[1], p[1])))
    win = C.windows(xp, (2, 3), k, s, d)  # (N, C, OH, OW, kh, kw): unfold's values, as a view
    hit = np.equal(win, y._data[..., None, None]).astype(x.dtype) * C.windows(real, (0, 1), k, s, d)
    share = hit / hit.sum(axis=(4, 5), keepdims=True)
    gd = g._data
    n, c, oh, ow = gd.shape
    img = np.zeros((n, c, max(x.shape[2] + 2 * p[0], s[0] * (oh - 1) + d[0] * (k[0] - 1) + 1),
                    max(x.shape[3] + 2 * p[1], s[1] * (ow - 1) + d[1] * (k[1] - 1) + 1)), dtype=share.dtype)
    for a, b, (si, sj) in C.window_slots(k, s, d, (oh, ow)):
        img[:, :, si, sj] += share[:, :, :, :, a, b] * gd
    return Tensor._wrap(img[:, :, p[0]:p[0] + x.shape[2], p[1]:p[1] + x.shape[3]].copy())


def tiled_max_pool_vjp(x: np.ndarray, y: np.ndarray, g: np.ndarray, k: tuple[int, int]) -> np.ndarray:
    """The VJP for windows that tile the image (stride = kernel, no padding, no dilation), one kernel
    offset (a strided slice of x) at a time. Each pixel is in at most one window, so fold's sum there is
    0 + share·g; the share is [x = y] / #{x = y}, so the value is (1 / count)·g + 0 where x is its
    window's maximum, and +0 elsewhere (the textbook's ±0·g + 0). The count is a sum of 0s and 1s: exact
    in any order."""
    oh, ow = y.shape[2:]
    slots = [(slice(a, oh * k[0], k[0]), slice(b, ow * k[1], k[1])) for a in range(k[0]) for b in range(k[1])]
    hits = [np.equal(x[:, :, sa, sb], y) for sa, sb in slots]
    count = np.zeros_like(y)
    for hit in hits:
        count += hit
    value = np.divide(1, count, dtype=x.dtype) * g + 0.0
    out = np.zeros_like(x, dtype=value.dtype)
    for (sa, sb), hit in zip(slots, hits):
        out[:, :, sa, sb] = np.where(hit, value, 0.0)
    return out
