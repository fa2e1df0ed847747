"""The MNIST model: a multilayer perceptron built from ``tinygrad_np.nn``.

Same model as ``mnist.reference`` (whose hand-derived gradients it is tested against)::

    Z_i = A_(i-1) @ W_i + b_i,  A_i = act(Z_i)  (hidden layers; optional dropout after act)
    logits = Z_L                                 (last layer linear)
    ce:  loss = mean_n [logsumexp(Z_L[n]) - Z_L[n, y_n]]
    mse: loss = mean_(n,c) (Z_L - onehot(y))²   (on raw logits, over all B·C entries)

Weights are ``(fan_in, fan_out)`` and drawn exactly like ``reference.init_params``, so
``MLP(sizes, rng=np.random.default_rng(s)).param_list()`` equals
``reference.init_params(sizes, np.random.default_rng(s))``.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.nn import functional as F

__all__ = ["MLP", "ACTIVATIONS", "LOSSES", "EVAL_BATCH", "batch_loss", "layer_shapes", "model_logits"]

Tensor = tg.Tensor
EVAL_BATCH = 8192

ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}
LOSSES = ("ce", "mse")


class MLP(nn.Module):
    """``sizes = [D, H_1, ..., C]``: ``len(sizes) - 1`` Linear layers in ``self.layers`` (an
    ``nn.Sequential``: Linear, activation[, Dropout], ..., Linear), so parameters are named
    ``layers.<k>.weight`` / ``layers.<k>.bias``.

    ``rng`` (Generator, int seed or None) draws the weights W_1, W_2, ... in order (Kaiming
    normal, as ``reference.init_params``) and afterwards the dropout masks.
    """

    def __init__(self, sizes: Sequence[int], activation: str = "relu", dropout: float = 0.0, *,
                 dtype: Any = np.float32, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        sizes = [int(s) for s in sizes]
        if len(sizes) < 2 or min(sizes) < 1:
            raise ValueError(f"MLP: need at least two positive layer sizes, got {sizes}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"MLP: unknown activation {activation!r}; expected one of {tuple(ACTIVATIONS)}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"MLP: dropout must be in [0, 1), got {dropout}")
        self.sizes, self.activation, self.dropout = sizes, activation, float(dropout)
        self.dtype = np.dtype(dtype)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        layers: list[nn.Module] = []
        n_layers = len(sizes) - 1
        for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out, dtype=self.dtype, rng=rng, init="kaiming_normal"))
            if k < n_layers - 1:
                layers.append(ACTIVATIONS[activation]())
                if self.dropout > 0.0:
                    layers.append(nn.Dropout(self.dropout, rng=rng))
        self.layers = nn.Sequential(*layers)

    @property
    def linears(self) -> list[nn.Linear]:
        """The Linear layers, first to last."""
        return [m for m in self.layers if isinstance(m, nn.Linear)]

    def forward(self, x: Any) -> Tensor:
        """Logits (B, C) of a batch ``x`` (B, D); arrays are cast to the model's dtype."""
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=self.dtype))
        return self.layers(x)

    def param_list(self) -> list[nn.Parameter]:
        """The parameters in ``mnist.reference``'s layout ``[W_1, b_1, ..., W_L, b_L]``."""
        return [p for lin in self.linears for p in (lin.weight, lin.bias)]

    def load_reference_params(self, params: Sequence[np.ndarray]) -> None:
        """Copy ``[W_1, b_1, ..., W_L, b_L]`` (reference layout) into the parameters, in place;
        values are cast to the model's dtype. Shapes must match."""
        mine = self.param_list()
        if len(params) != len(mine):
            raise ValueError(f"MLP.load_reference_params: {len(params)} arrays given, expected {len(mine)} "
                             f"([W1, b1, ..., W{len(mine) // 2}, b{len(mine) // 2}])")
        arrays = [a.numpy() if isinstance(a, Tensor) else np.asarray(a) for a in params]
        for k, (p, a) in enumerate(zip(mine, arrays)):
            if a.shape != p.shape:
                name = f"{'Wb'[k % 2]}{k // 2 + 1}"
                raise ValueError(f"MLP.load_reference_params: {name} has shape {a.shape}, expected {p.shape}")
        for p, a in zip(mine, arrays):
            p.copy_(a)

    def loss(self, X: Any, y: Any, loss: str = "ce") -> Tensor:
        """Mean loss of the batch: ``"ce"`` softmax cross-entropy on the logits, or ``"mse"``
        ``mean((logits - onehot(y))²)`` over all B·C entries (as ``mnist.reference``)."""
        if loss not in LOSSES:
            raise ValueError(f"MLP.loss: unknown loss {loss!r}; expected one of {LOSSES}")
        return batch_loss(self(X), y.numpy() if isinstance(y, Tensor) else np.asarray(y), loss)

    def predict(self, X: Any, batch_size: int | None = None) -> np.ndarray:
        """Predicted class labels (B,): argmax of the logits, computed in eval mode (no
        dropout) without recording a graph; the previous train/eval mode is restored.
        ``batch_size`` bounds memory for large ``X``."""
        was_training = self.training
        self.eval()
        try:
            with tg.no_grad():
                n = len(X)
                step = n if not batch_size else int(batch_size)
                parts = [self(X[i:i + step]).numpy().argmax(axis=1) for i in range(0, n, max(step, 1))]
        finally:
            self.train(was_training)
        return np.concatenate(parts) if parts else np.zeros(0, dtype=np.int64)

    def extra_repr(self) -> str:
        return f"sizes={self.sizes}, activation={self.activation!r}, dropout={self.dropout}"


def batch_loss(logits: Tensor, labels: np.ndarray, kind: str) -> Tensor:
    """Mean loss of a batch from its (B, C) logits: ``"ce"`` fused softmax cross-entropy, or
    ``"mse"`` ``mean((logits - onehot(y))²)`` over all B·C entries (as ``mnist.reference``)."""
    if kind == "ce":
        return F.cross_entropy(logits, labels)
    if labels.shape != logits.shape[:1]:
        raise ValueError(f"mse loss: labels of shape {labels.shape} do not match logits of shape {logits.shape}")
    diff = logits - F.one_hot(labels, logits.shape[1], dtype=logits.dtype)
    return (diff * diff).mean()


def layer_shapes(sizes: Sequence[int], dropout: float = 0.0) -> dict[str, tuple[int, ...]]:
    """The parameter names and shapes of ``MLP(sizes, dropout=dropout)``, without building it
    (e.g. to check a checkpoint's arrays before allocating a model)."""
    sizes = [int(s) for s in sizes]
    per_hidden = 3 if dropout > 0.0 else 2  # Linear, activation[, Dropout]
    shapes: dict[str, tuple[int, ...]] = {}
    for k, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes[f"layers.{k * per_hidden}.weight"] = (fan_in, fan_out)
        shapes[f"layers.{k * per_hidden}.bias"] = (fan_out,)
    return shapes


def model_logits(model: MLP, x: np.ndarray, batch_size: int = EVAL_BATCH) -> np.ndarray:
    """Logits of ``x`` in eval mode (no dropout), in large batches, without recording a graph."""
    was_training = model.training
    model.eval()
    try:
        with tg.no_grad():
            parts = [model(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        return np.zeros((0, model.sizes[-1]), dtype=model.dtype)
    return np.concatenate(parts)
