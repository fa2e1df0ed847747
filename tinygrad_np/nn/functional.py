"""Losses, activations, convolution, pooling and normalization as functions of Tensors
(``tinygrad_np.nn.functional``, alias ``F``)."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..engine import Tensor
from ..functions import where  # noqa: F401  (re-exported for convenience)
from ..ops.nn import REDUCTIONS, check_labels


def labels_tensor(labels: Any, what: str = "labels") -> Tensor:
    """Integer class labels as a Tensor (a Tensor, an ndarray or a list of ints); anything else
    (floats, bools) is refused rather than truncated."""
    t = labels if isinstance(labels, Tensor) else Tensor(np.asarray(labels))
    if t.dtype.kind not in "iu":
        raise TypeError(f"{what} must be integers, got dtype {t.dtype}")
    return t


def cross_entropy(logits: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Softmax cross-entropy of (N, C) logits against integer labels, as one stable op:
    ℓᵢ = logsumexp(zᵢ) - zᵢ[yᵢ]. VJP: (softmax(z) - onehot(y)) / N."""
    return Tensor.apply("cross_entropy", logits, labels_tensor(labels, "cross_entropy: labels"), reduction=reduction)


def nll_loss(log_probs: Tensor, labels: Any, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of (N, C) log-probabilities at integer labels: -logp[i, yᵢ]."""
    y = labels_tensor(labels, "nll_loss: labels").data
    check_labels("nll_loss", log_probs.data, y)
    if reduction not in REDUCTIONS:
        raise ValueError(f"nll_loss: reduction must be one of {REDUCTIONS}, got {reduction!r}")
    picked = -log_probs[np.arange(len(y)), y]
    return picked if reduction == "none" else picked.mean() if reduction == "mean" else picked.sum()


def mse_loss(pred: Tensor, target: Any, reduction: str = "mean") -> Tensor:
    """Mean (or sum) of squared differences (pred - target)²; shapes must match exactly."""
    target = pred._other(target)
    if pred.shape != target.shape:
        raise ValueError(f"mse_loss: pred shape {pred.shape} != target shape {target.shape}")
    sq = (pred - target) ** 2
    return sq if reduction == "none" else sq.mean() if reduction == "mean" else sq.sum()


def one_hot(labels: Any, num_classes: int, dtype: Any = np.float32) -> Tensor:
    """Integer labels (N,) -> (N, num_classes) rows of zeros with a one at the label; a label
    outside [0, num_classes) raises (never wraps around)."""
    y = labels_tensor(labels, "one_hot: labels").data
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"one_hot: labels must lie in [0, {num_classes}), got [{y.min()}, {y.max()}]")
    out = np.zeros((len(y), num_classes), dtype=dtype)
    out[np.arange(len(y)), y] = 1
    return Tensor(out)


def relu(x: Tensor) -> Tensor:
    return x.relu()


def tanh(x: Tensor) -> Tensor:
    return x.tanh()


def sigmoid(x: Tensor) -> Tensor:
    return x.sigmoid()


def leaky_relu(x: Tensor, negative_slope: float = 0.01) -> Tensor:
    return x.leaky_relu(negative_slope)


def softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.softmax(axis)


def log_softmax(x: Tensor, axis: int = -1) -> Tensor:
    return x.log_softmax(axis)


def linear(x: Tensor, weight: Tensor, bias: Tensor | None = None) -> Tensor:
    """x @ W + b with W of shape (in_features, out_features): one op (one graph node)."""
    if bias is None:
        return Tensor.apply("linear", x, weight)
    return Tensor.apply("linear", x, weight, bias)


# ------------------------------------------------------------------ CNN family: convolution, pooling, normalization
def _image(x: Any, op: str, ndim: int = 4) -> tuple[Tensor, bool]:
    """``x`` as a batched Tensor ((N, C, ...) of ``ndim`` dims) and whether it came unbatched (one dim fewer)."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    if x.ndim == ndim - 1:
        return x.reshape((1,) + x.shape), True
    if x.ndim != ndim:
        raise ValueError(f"{op}: input must have {ndim - 1} or {ndim} dims ((C, ...) or (N, C, ...)), "
                         f"got shape {x.shape}")
    return x, False


def _same_padding(x: Tensor, kernel: tuple[int, ...], stride: Any, dilation: Any, op: str) -> tuple[Tensor, Any]:
    """``padding="same"``: pad ``x`` so that the output keeps its spatial size (stride 1; the odd
    pixel of an even total goes to the bottom/right, as PyTorch); returns (x, 0)."""
    n = len(kernel)
    strides = (stride,) * n if isinstance(stride, int) else tuple(stride)
    dils = (dilation,) * n if isinstance(dilation, int) else tuple(dilation)
    if any(s != 1 for s in strides):
        raise ValueError(f"{op}: padding='same' needs stride 1, got stride {stride}")
    totals = [d * (k - 1) for k, d in zip(kernel, dils)]
    widths = ((0, 0), (0, 0)) + tuple((t // 2, t - t // 2) for t in totals)
    return Tensor.apply("pad", x, widths=widths, mode="constant", value=0.0), 0


def _padding(x: Tensor, padding: Any, kernel: tuple[int, ...], stride: Any, dilation: Any, op: str
             ) -> tuple[Tensor, Any]:
    if isinstance(padding, str):
        if padding == "valid":
            return x, 0
        if padding == "same":
            return _same_padding(x, kernel, stride, dilation, op)
        raise ValueError(f"{op}: padding must be an int, a pair, 'valid' or 'same'; got {padding!r}")
    return x, padding


def conv2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """2-D convolution (cross-correlation, as PyTorch's F.conv2d): x (N, C, H, W) or (C, H, W), weight
    (O, C/groups, kh, kw), bias (O,); padding an int, a pair, 'valid' or 'same'. One ``conv2d`` op:
    y[n,o,p,q] = Σ_(c,i,j) x_pad[n, c, p·s + i·d, q·s + j·d] w[o,c,i,j] + b[o]. VJP: conv_transpose2d, conv2d_weight."""
    x, unbatched = _image(x, "conv2d")
    x, padding = _padding(x, padding, weight.shape[2:], stride, dilation, "conv2d")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = Tensor.apply("conv2d", *inputs, stride=stride, padding=padding, dilation=dilation, groups=groups)
    return y.reshape(y.shape[1:]) if unbatched else y


def _one_d(v: Any, what: str, op: str, fill: int) -> tuple[int, int]:
    """A conv1d parameter (an int or a 1-sequence) as conv2d's pair over a height of 1."""
    v = v[0] if isinstance(v, (tuple, list)) and len(v) == 1 else v
    if not isinstance(v, (int, np.integer)):
        raise ValueError(f"{op}: {what} must be an int, got {v!r}")
    return fill, int(v)


def conv1d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
           dilation: Any = 1, groups: int = 1) -> Tensor:
    """1-D convolution (PyTorch's F.conv1d): x (N, C, L) or (C, L), weight (O, C/groups, k), bias (O,):
    y[n,o,p] = Σ_(c,i) x_pad[n, c, p·s + i·d] w[o,c,i] + b[o], as conv2d over images of height 1."""
    x, unbatched = _image(x, "conv1d", ndim=3)
    if weight.ndim != 3:
        raise ValueError(f"conv1d: weight must be (O, C/groups, k), got shape {weight.shape}")
    x, padding = _padding(x, padding, weight.shape[2:], stride, dilation, "conv1d")
    w = weight.reshape(weight.shape[:2] + (1, weight.shape[2]))
    y = conv2d(x.reshape(x.shape[0], x.shape[1], 1, x.shape[2]), w, bias, _one_d(stride, "stride", "conv1d", 1),
               _one_d(padding, "padding", "conv1d", 0), _one_d(dilation, "dilation", "conv1d", 1), groups)
    y = y.reshape(y.shape[0], y.shape[1], y.shape[3])
    return y.reshape(y.shape[1:]) if unbatched else y


def conv_transpose2d(x: Any, weight: Tensor, bias: Tensor | None = None, stride: Any = 1, padding: Any = 0,
                     output_padding: Any = 0, groups: int = 1, dilation: Any = 1) -> Tensor:
    """Transposed convolution (PyTorch's F.conv_transpose2d, same argument order): x (N, C_in, H, W),
    weight (C_in, C_out/groups, kh, kw); the adjoint of conv2d in its input, so
    conv2d(conv_transpose2d(x, w), ·)'s sizes invert. output_padding (< stride) grows the bottom/right."""
    x, unbatched = _image(x, "conv_transpose2d")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    y = Tensor.apply("conv_transpose2d", *inputs, stride=stride, padding=padding, dilation=dilation, groups=groups,
                     output_padding=output_padding)
    return y.reshape(y.shape[1:]) if unbatched else y


def max_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, dilation: Any = 1) -> Tensor:
    """The maximum of each window (PyTorch's F.max_pool2d without ceil_mode; stride defaults to the
    kernel, padding is -inf and at most half the kernel). Ties split the gradient evenly."""
    x, unbatched = _image(x, "max_pool2d")
    y = Tensor.apply("max_pool2d", x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation)
    return y.reshape(y.shape[1:]) if unbatched else y


def avg_pool2d(x: Any, kernel_size: Any, stride: Any = None, padding: Any = 0, count_include_pad: bool = True
               ) -> Tensor:
    """The mean of each window (PyTorch's F.avg_pool2d without ceil_mode): zero padding, counted in the
    divisor unless count_include_pad=False."""
    x, unbatched = _image(x, "avg_pool2d")
    y = Tensor.apply("avg_pool2d", x, kernel_size=kernel_size, stride=stride, padding=padding,
                     count_include_pad=bool(count_include_pad))
    return y.reshape(y.shape[1:]) if unbatched else y


def unfold(x: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """im2col (PyTorch's F.unfold): (N, C, H, W) -> (N, C·kh·kw, OH·OW),
    y[n, (c,i,j), (p,q)] = x_pad[n, c, p·s + i·d, q·s + j·d]."""
    x, _ = _image(x, "unfold")
    return Tensor.apply("unfold", x, kernel_size=kernel_size, dilation=dilation, padding=padding, stride=stride)


def fold(x: Any, output_size: Any, kernel_size: Any, dilation: Any = 1, padding: Any = 0, stride: Any = 1) -> Tensor:
    """col2im (PyTorch's F.fold): (N, C·kh·kw, L) -> (N, C, H, W), each column added back onto the pixels of
    its window (overlaps add up); the adjoint of unfold."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    return Tensor.apply("fold", x, output_size=output_size, kernel_size=kernel_size, dilation=dilation,
                        padding=padding, stride=stride)


#: PyTorch's names of the padding modes -> NumPy's (what the ``pad`` op takes)
PAD_MODES = {"constant": "constant", "reflect": "reflect", "replicate": "edge", "circular": "wrap"}


def pad(x: Any, pad: Any, mode: str = "constant", value: float = 0.0) -> Tensor:
    """PyTorch's F.pad: ``pad = (left, right, top, bottom, ...)`` widths from the last axis backwards;
    mode constant (with ``value``), reflect (mirrored without the edge), replicate or circular."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    widths = [int(w) for w in pad]
    if len(widths) % 2 or len(widths) > 2 * x.ndim:
        raise ValueError(f"pad: needs an even number of widths, at most two per axis ({2 * x.ndim}), got {tuple(pad)}")
    if mode not in PAD_MODES:
        raise ValueError(f"pad: mode must be one of {tuple(PAD_MODES)}, got {mode!r}")
    pairs = [(0, 0)] * x.ndim
    for k in range(len(widths) // 2):
        pairs[x.ndim - 1 - k] = (widths[2 * k], widths[2 * k + 1])
    if mode == "reflect" and any(max(p) >= n for p, n in zip(pairs, x.shape)):
        raise ValueError(f"pad: reflect padding {tuple(pad)} must be smaller than the padded sides of {x.shape}")
    return Tensor.apply("pad", x, widths=tuple(pairs), mode=PAD_MODES[mode], value=float(value))


def _channel_shape(x: Tensor, op: str) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The axes batch_norm averages over (all but the channel axis 1) and the shape (1, C, 1, ...)."""
    if x.ndim < 2:
        raise ValueError(f"{op}: input must be (N, C, ...), got shape {x.shape}")
    return (0,) + tuple(range(2, x.ndim)), (1, x.shape[1]) + (1,) * (x.ndim - 2)


def _as_array(v: Any) -> np.ndarray:
    return v.data if isinstance(v, Tensor) else np.asarray(v)


def update_running_stats(x: Tensor, running_mean: Any, running_var: Any, momentum: float, axes: tuple[int, ...]
                         ) -> None:
    """PyTorch's rule, in place and outside the graph: r ← (1 - m)·r + m·s, with s the batch mean and
    the unbiased (n - 1) batch variance."""
    try:
        data = x.data
    except TypeError:
        raise TypeError("batch_norm: the running statistics cannot be updated inside vmap (they would mix the "
                        "examples); use eval mode, or running_mean=running_var=None") from None
    for buf, unbiased in ((running_mean, None), (running_var, 1)):
        if buf is None:
            continue
        stat = np.mean(data, axis=axes) if unbiased is None else np.var(data, axis=axes, ddof=unbiased)
        value = stat.astype(_as_array(buf).dtype, copy=False)
        if isinstance(buf, Tensor):
            buf.update_(lambda a: (np.multiply(a, 1.0 - momentum, out=a), np.add(a, momentum * value, out=a)))
        else:
            np.multiply(buf, 1.0 - momentum, out=buf)
            np.add(buf, momentum * value, out=buf)


def batch_norm(x: Any, running_mean: Any, running_var: Any, weight: Tensor | None = None, bias: Tensor | None = None,
               training: bool = False, momentum: float = 0.1, eps: float = 1e-5) -> Tensor:
    """Batch normalization (PyTorch's F.batch_norm), per channel (axis 1) of x (N, C, ...):
    y = (x - μ) / √(σ² + eps) · weight + bias. Training: μ, σ² are the batch's (one ``standardize`` op) and
    the running statistics, if given, move towards them (r ← (1 - m)·r + m·s, unbiased variance; in place,
    not differentiated). Eval: μ, σ² are the running statistics (constants)."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    axes, shape = _channel_shape(x, "batch_norm")
    if training:
        n = int(np.prod([x.shape[a] for a in axes]))
        if n < 2:
            raise ValueError(f"batch_norm: training needs more than 1 value per channel, got input of shape {x.shape}")
        y = Tensor.apply("standardize", x, axis=axes, eps=float(eps))
        if running_mean is not None or running_var is not None:
            update_running_stats(x, running_mean, running_var, float(momentum), axes)
    else:
        if running_mean is None or running_var is None:
            raise ValueError("batch_norm: eval mode (training=False) needs running_mean and running_var")
        mean, var = _as_array(running_mean), _as_array(running_var)
        if mean.shape != (x.shape[1],) or var.shape != (x.shape[1],):
            raise ValueError(f"batch_norm: running statistics {mean.shape}, {var.shape} do not fit "
                             f"{x.shape[1]} channels")
        scale = (1.0 / np.sqrt(var + eps)).astype(x.dtype, copy=False).reshape(shape)
        y = (x - mean.astype(x.dtype, copy=False).reshape(shape)) * scale
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y


def layer_norm(x: Any, normalized_shape: Any, weight: Tensor | None = None, bias: Tensor | None = None,
               eps: float = 1e-5) -> Tensor:
    """Layer normalization (PyTorch's F.layer_norm) over the last axes, which must be ``normalized_shape``:
    y = (x - μ) / √(σ² + eps) · weight + bias with μ, σ² of each example (one ``standardize`` op)."""
    x = x if isinstance(x, Tensor) else Tensor(np.asarray(x))
    shape = (int(normalized_shape),) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not shape or x.shape[x.ndim - len(shape):] != shape or len(shape) > x.ndim:
        raise ValueError(f"layer_norm: normalized_shape {shape} is not the trailing shape of input {x.shape}")
    y = Tensor.apply("standardize", x, axis=tuple(range(x.ndim - len(shape), x.ndim)), eps=float(eps))
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y
