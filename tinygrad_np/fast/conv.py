"""The CNN family's fast paths: conv2d keeps its im2col rows for its weight gradient.

What it buys: the textbook VJP of conv2d's kernels is the op ``conv2d_weight(x, g)``, which copies
x into im2col rows again (for the MNIST CNN's second layer at batch 128, 25,088 x 800 floats,
about a quarter of the layer's backward time outside the GEMMs). Here conv2d's forward keeps the
rows it made on the node, and the VJP multiplies them by g directly: the same arrays into the same
GEMM, so the same bits (``tests/engine/test_fast.py`` compares every lowered rule with its textbook
one). Measured by ``python -m benchmarks.cnn_time`` (with ``TINYGRAD_NP_FAST=0`` for the textbook).
The rows live until the node's backward has run (or the graph is dropped).
"""
from __future__ import annotations

from ..engine import Tensor
from ..ops import conv as C
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
