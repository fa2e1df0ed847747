"""Hand-derived NumPy backprop of one convolution + pooling layer: the ground truth for the CNN's autograd.

Plain NumPy only (deliberately no tinygrad_np import), written the way a from-scratch NumPy CNN
layer is usually written: the forward as a sum over the kernel offsets, the backward by the chain
rule, each step with its formula. ``tests/mnist/test_reference_cnn.py`` checks it against finite
differences, and tinygrad_np's ``conv2d -> relu -> max_pool2d`` against it (to 1e-10 in float64).

Layer (x (N, C, H, W), w (O, C, k, k), b (O,), stride s, zero padding p, pooling window m x m with
stride m)::

    xp = x padded with p zeros on each side of H and W
    Z[n,o,y,x'] = Σ_(c,i,j) w[o,c,i,j] · xp[n, c, y·s + i, x'·s + j] + b[o]     (convolution)
    A = max(Z, 0)                                                              (ReLU)
    P[n,o,u,v] = max over the m x m window (u·m .. u·m+m-1, v·m .. v·m+m-1) of A  (max-pool; rows
                 and columns of A past the last whole window are dropped, as PyTorch does)

Backward, for the gradient dP of a loss with respect to P::

    dA[window entries equal to its max] = dP / (number of such entries)   (ties split evenly;
                                                                            everything else 0)
    dZ = dA · [Z > 0]                                                      (ReLU'(0) = 0)
    db[o]       = Σ_(n,y,x') dZ[n,o,y,x']
    dw[o,c,i,j] = Σ_(n,y,x') dZ[n,o,y,x'] · xp[n, c, y·s + i, x'·s + j]
    dxp[n, c, y·s + i, x'·s + j] += Σ_o dZ[n,o,y,x'] · w[o,c,i,j]    for every offset (i, j)
    dx = dxp without its padding
"""
from __future__ import annotations

import numpy as np

__all__ = ["conv_forward", "conv_backward", "pool_forward", "pool_backward", "layer_forward", "layer_backward"]


def _padded(x: np.ndarray, p: int) -> np.ndarray:
    return np.pad(x, ((0, 0), (0, 0), (p, p), (p, p)))


def _offset(xp: np.ndarray, i: int, j: int, s: int, oh: int, ow: int) -> np.ndarray:
    """The entries of the padded image that kernel offset (i, j) meets, one per output pixel: (N, C, OH, OW)."""
    return xp[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s]


def conv_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, s: int = 1, p: int = 0) -> np.ndarray:
    """Z = conv(x, w) + b as a sum over the kernel offsets (module docstring)."""
    n, c, h, wd = x.shape
    o, _, k, _ = w.shape
    oh, ow = (h + 2 * p - k) // s + 1, (wd + 2 * p - k) // s + 1
    xp = _padded(x, p)
    z = np.zeros((n, o, oh, ow), dtype=x.dtype)
    for i in range(k):
        for j in range(k):
            z += np.einsum("ncyx,oc->noyx", _offset(xp, i, j, s, oh, ow), w[:, :, i, j])
    return z + b.reshape(1, o, 1, 1)


def conv_backward(dz: np.ndarray, x: np.ndarray, w: np.ndarray, s: int = 1, p: int = 0
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of the convolution from dZ (module docstring)."""
    _, _, h, wd = x.shape
    k = w.shape[2]
    oh, ow = dz.shape[2:]
    xp = _padded(x, p)
    dxp = np.zeros_like(xp)
    dw = np.zeros_like(w)
    for i in range(k):
        for j in range(k):
            dw[:, :, i, j] = np.einsum("noyx,ncyx->oc", dz, _offset(xp, i, j, s, oh, ow))
            dxp[:, :, i:i + s * (oh - 1) + 1:s, j:j + s * (ow - 1) + 1:s] += np.einsum("noyx,oc->ncyx", dz,
                                                                                       w[:, :, i, j])
    return dxp[:, :, p:p + h, p:p + wd], dw, dz.sum(axis=(0, 2, 3))


def pool_forward(a: np.ndarray, m: int) -> np.ndarray:
    """P = the maximum of each m x m window (stride m; leftover rows and columns dropped)."""
    n, c, h, wd = a.shape
    blocks = a[:, :, :h // m * m, :wd // m * m].reshape(n, c, h // m, m, wd // m, m)
    return blocks.max(axis=(3, 5))


def pool_backward(dp: np.ndarray, a: np.ndarray, m: int) -> np.ndarray:
    """dA: each window's dP shared evenly by the entries equal to the window's maximum."""
    n, c, h, wd = a.shape
    blocks = a[:, :, :h // m * m, :wd // m * m].reshape(n, c, h // m, m, wd // m, m)
    hit = blocks == blocks.max(axis=(3, 5), keepdims=True)
    share = hit / hit.sum(axis=(3, 5), keepdims=True)
    da = np.zeros_like(a)
    da[:, :, :h // m * m, :wd // m * m] = (share * dp[:, :, :, None, :, None]).reshape(n, c, h // m * m, wd // m * m)
    return da


def layer_forward(x: np.ndarray, w: np.ndarray, b: np.ndarray, s: int = 1, p: int = 0, m: int = 2
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """P = maxpool(relu(conv(x, w) + b)) and the cache the backward needs (Z and A)."""
    z = conv_forward(x, w, b, s, p)
    a = np.maximum(z, 0)
    return pool_forward(a, m), {"z": z, "a": a}


def layer_backward(dp: np.ndarray, x: np.ndarray, w: np.ndarray, cache: dict[str, np.ndarray], s: int = 1,
                   p: int = 0, m: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(dx, dw, db) of the whole layer from dP: pool, then ReLU, then the convolution."""
    da = pool_backward(dp, cache["a"], m)
    dz = da * (cache["z"] > 0)
    return conv_backward(dz, x, w, s, p)
