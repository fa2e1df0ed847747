"""Hand-derived NumPy MLP: the ground truth for tinygrad_np's autograd.

Plain NumPy only (deliberately no tinygrad_np import). It is written the way a
from-scratch NumPy MLP is usually written -- vectorized over the batch, explicit
backward pass -- and doubles as the baseline of the speed benchmark.

Model
-----
``params = [W1, b1, W2, b2, ..., WL, bL]`` with ``Wi: (fan_in, fan_out)`` and
``bi: (fan_out,)``. With ``A0 = X`` of shape (B, D)::

    Zi = A(i-1) @ Wi + bi          (B, fan_out)
    Ai = act(Zi)                   hidden layers i = 1 .. L-1
    logits = ZL                    the last layer is linear

Losses (B = batch size, C = number of classes, Y = onehot(y), shape (B, C))::

    ce:   P = softmax(ZL) (row-wise),  loss = -(1/B) sum_n log P[n, y_n]
          computed stably: S = ZL - max_row(ZL), log P = S - log(sum_row(exp S))
    mse:  loss = (1/(B*C)) sum_{n,c} (ZL - Y)[n,c]^2
          i.e. the mean over all B*C entries, like torch's mse_loss(logits, Y);
          note: applied to the raw logits, no softmax.

Backward (chain rule; every dX has the shape of X)::

    ce:   dZL = (P - Y) / B
    mse:  dZL = 2 (ZL - Y) / (B*C)
    for i = L .. 1:
        dWi      = A(i-1)^T @ dZi           (fan_in, B) @ (B, fan_out)
        dbi      = sum over rows of dZi     (fan_out,)
        if i > 1:                           (dA0 = dL/dX is never formed)
            dA(i-1)  = dZi @ Wi^T           (B, fan_out) @ (fan_out, fan_in)
            dZ(i-1)  = dA(i-1) * act'(Z(i-1))   elementwise

    act'(Z):  relu    -> [Z > 0]       (so relu'(0) = 0; computed as A > 0,
                                        which is the same set since A = max(Z, 0))
              tanh    -> 1 - A^2
              sigmoid -> A (1 - A)

dtype discipline: everything is computed in the dtype of the parameters; X is
cast to it once per forward pass (a no-op when it already matches). Scalars
are Python ints/floats so that NumPy 2 (NEP 50) never promotes float32 to
float64.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

__all__ = [
    "ACTIVATIONS",
    "LOSSES",
    "init_params",
    "forward",
    "loss_and_dlogits",
    "backward",
    "loss_and_grads",
    "predict",
    "sgd_step",
    "train_epoch",
]

ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("ce", "mse")


def init_params(
    sizes: Sequence[int], rng: np.random.Generator, dtype=np.float32
) -> list[np.ndarray]:
    """He/Kaiming-normal initialisation for an MLP with layer widths ``sizes``.

    ``sizes = [D, H1, ..., C]`` gives ``len(sizes) - 1`` layers. Each weight is
    drawn as ``W ~ N(0, 2 / fan_in)`` (std ``sqrt(2 / fan_in)``) in float64 with
    ``rng.standard_normal`` and then cast to ``dtype``; every bias is zero.
    Draw order is W1, W2, ..., so the same seed gives the same parameters in
    any dtype (up to rounding).
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"need at least two positive layer sizes, got {sizes}")
    params: list[np.ndarray] = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        W = rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)
        params.append(W.astype(dtype, copy=False))
        params.append(np.zeros(fan_out, dtype=dtype))
    return params


def _check_params(params: Sequence[np.ndarray]) -> int:
    if len(params) < 2 or len(params) % 2:
        raise ValueError(f"params must be [W1, b1, ..., WL, bL]; got {len(params)} arrays")
    return len(params) // 2


def _activate(Z: np.ndarray, activation: str) -> np.ndarray:
    """Apply the hidden activation, reusing ``Z``'s buffer where possible."""
    if activation == "relu":
        return np.maximum(Z, 0, out=Z)
    if activation == "tanh":
        return np.tanh(Z, out=Z)
    if activation == "sigmoid":
        # 1 / (1 + exp(-Z)); exp overflows to inf for very negative Z, which
        # correctly gives 0, so the overflow warning is silenced.
        A = np.negative(Z, out=Z)
        with np.errstate(over="ignore"):
            np.exp(A, out=A)
        A += 1
        return np.reciprocal(A, out=A)
    raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")


def forward(
    params: Sequence[np.ndarray], X: np.ndarray, activation: str = "relu"
) -> tuple[np.ndarray, list[np.ndarray]]:
    """Forward pass.

    Returns ``(logits, cache)`` where ``logits`` has shape (B, C) and
    ``cache = [A0, A1, ..., A(L-1)]`` holds the input of every layer
    (``A0`` is X cast to the parameter dtype); it is all the backward pass needs.
    """
    if activation not in ACTIVATIONS:
        raise ValueError(f"unknown activation {activation!r}; expected one of {ACTIVATIONS}")
    L = _check_params(params)
    A = np.asarray(X, dtype=params[0].dtype)
    cache = [A]
    for i in range(L - 1):
        Z = A @ params[2 * i]
        Z += params[2 * i + 1]
        A = _activate(Z, activation)
        cache.append(A)
    logits = A @ params[-2]
    logits += params[-1]
    return logits, cache


def loss_and_dlogits(logits: np.ndarray, y: np.ndarray, loss: str) -> tuple[float, np.ndarray]:
    """Loss value and its gradient w.r.t. the logits (a fresh array)."""
    B, C = logits.shape
    y = np.asarray(y)
    if y.shape != (B,):
        raise ValueError(f"labels must have shape ({B},), got {y.shape}")
    rows = np.arange(B)
    if loss == "ce":
        S = logits - logits.max(axis=1, keepdims=True)  # shifted logits, max 0
        E = np.exp(S)
        sum_e = E.sum(axis=1, keepdims=True)
        # -log P[n, y_n] = log(sum exp S[n]) - S[n, y_n]
        value = float(np.mean(np.log(sum_e[:, 0]) - S[rows, y]))
        E /= sum_e  # softmax P
        E[rows, y] -= 1
        E /= B  # Python int: no promotion
        return value, E
    if loss == "mse":
        D = logits.copy()
        D[rows, y] -= 1  # logits - onehot
        value = float(np.mean(D * D))
        D *= 2.0 / (B * C)
        return value, D
    raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")


def loss_and_grads(
    params: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    activation: str = "relu",
    loss: str = "ce",
) -> tuple[float, list[np.ndarray]]:
    """Mean loss over the batch and its gradients ``[dW1, db1, ..., dWL, dbL]``.

    Gradients have the layout and dtype of ``params``; ``y`` holds integer
    labels of shape (B,). See the module docstring for the formulas.
    """
    if loss not in LOSSES:
        raise ValueError(f"unknown loss {loss!r}; expected one of {LOSSES}")
    logits, cache = forward(params, X, activation)
    value, dZ = loss_and_dlogits(logits, y, loss)
    return value, backward(params, cache, dZ, activation)


def backward(
    params: Sequence[np.ndarray], cache: Sequence[np.ndarray], dZ: np.ndarray, activation: str = "relu"
) -> list[np.ndarray]:
    """The backward pass: gradients ``[dW1, db1, ..., dWL, dbL]`` from ``forward``'s ``cache``
    and the gradient ``dZ`` of the loss w.r.t. the logits (left unchanged; formulas in the module docstring)."""
    L = len(params) // 2
    grads: list[np.ndarray] = [None] * (2 * L)  # type: ignore[list-item]
    for i in range(L - 1, -1, -1):
        A_prev = cache[i]
        grads[2 * i] = A_prev.T @ dZ
        grads[2 * i + 1] = dZ.sum(axis=0)
        if i == 0:
            break  # no dA0 = dL/dX
        dA = dZ @ params[2 * i].T
        if activation == "relu":
            dA *= A_prev > 0
        elif activation == "tanh":
            dA *= 1 - A_prev * A_prev
        else:  # sigmoid
            dA *= A_prev * (1 - A_prev)
        dZ = dA
    return grads


def predict(params: Sequence[np.ndarray], X: np.ndarray, activation: str = "relu") -> np.ndarray:
    """Predicted class labels, shape (B,)."""
    logits, _ = forward(params, X, activation)
    return logits.argmax(axis=1)


def sgd_step(params: Sequence[np.ndarray], grads: Sequence[np.ndarray], lr: float) -> None:
    """Plain SGD, in place: ``p -= lr * g`` for every parameter."""
    lr = float(lr)  # a NumPy float64 scalar would promote float32 arrays
    for p, g in zip(params, grads, strict=True):
        p -= lr * g


def train_epoch(
    params: Sequence[np.ndarray],
    X: np.ndarray,
    y: np.ndarray,
    batch_size: int,
    lr: float,
    rng_or_order: np.random.Generator | np.ndarray | None = None,
    activation: str = "relu",
    loss: str = "ce",
) -> float:
    """One epoch of minibatch SGD over ``X, y``; updates ``params`` in place.

    ``rng_or_order`` fixes the sample order: an integer index array (normally a
    permutation of ``range(len(X))``) is used as given, so several
    implementations can be fed the exact same batches; a ``np.random.Generator``
    draws ``rng.permutation(len(X))``; ``None`` keeps the stored order. The
    last batch may be smaller than ``batch_size``.

    Returns the mean per-sample loss of the epoch, i.e. the batch losses
    weighted by batch size (each taken before that batch's update).
    """
    batch_size = int(batch_size)
    if batch_size < 1:
        raise ValueError(f"batch_size must be >= 1, got {batch_size}")
    N = len(X)
    if len(y) != N:
        raise ValueError(f"X has {N} samples but y has {len(y)}")
    if isinstance(rng_or_order, np.random.Generator):
        order = rng_or_order.permutation(N)
    elif rng_or_order is None:
        order = None
    else:
        order = np.asarray(rng_or_order)

    n_total = N if order is None else len(order)
    total = 0.0
    for start in range(0, n_total, batch_size):
        if order is None:
            Xb, yb = X[start : start + batch_size], y[start : start + batch_size]
        else:
            idx = order[start : start + batch_size]
            Xb, yb = np.take(X, idx, axis=0), np.take(y, idx, axis=0)
        value, grads = loss_and_grads(params, Xb, yb, activation, loss)
        sgd_step(params, grads, lr)
        total += value * len(yb)
    return total / n_total if n_total else float("nan")
