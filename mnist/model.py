"""The MNIST models, built from ``tinygrad_np.nn``: a multilayer perceptron (``MLP``) and a
convolutional network (``CNN``); ``build_model`` makes the one a configuration names.

Same model as ``mnist.reference`` (whose hand-derived gradients it is tested against)::

    Z_i = A_(i-1) @ W_i + b_i,  A_i = act(Z_i)  (hidden layers; optional dropout after act)
    logits = Z_L                                 (last layer linear)
    ce:  loss = mean_n [logsumexp(Z_L[n]) - Z_L[n, y_n]]
    mse: loss = mean_(n,c) (Z_L - onehot(y))²   (on raw logits, over all B·C entries)

Weights are ``(fan_in, fan_out)`` and drawn exactly like ``reference.init_params``, so
``MLP(sizes, rng=np.random.default_rng(s)).param_list()`` equals
``reference.init_params(sizes, np.random.default_rng(s))``.

The CNN: per entry ``c`` of ``channels`` a block ``Conv2d(5x5, c, padding 2, no bias) → MaxPool2d(2)
→ BatchNorm2d(c) → ReLU`` (pooling before the normalization: the same function class as the usual
order, on a quarter of the values), then ``Flatten`` and the MLP's hidden layers and output layer
on the ``c_last · (H / 2^k) · (W / 2^k)`` features. The batch norms' running statistics are buffers:
they are in ``state_dict()`` and so in checkpoints.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

import tinygrad_np as tg
from tinygrad_np import nn
from tinygrad_np.nn import functional as F

__all__ = ["MLP", "CNN", "ACTIVATIONS", "LOSSES", "EVAL_BATCH", "KERNEL", "batch_loss", "build_model", "cnn_shapes",
           "layer_shapes", "model_logits", "parameter_shapes", "state_shapes"]

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

    eval_batch = EVAL_BATCH  # images per forward pass in evaluation

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
    def num_classes(self) -> int:
        return self.sizes[-1]

    def describe(self) -> str:
        """One line: ``MLP 784-512-256-10 relu``."""
        return f"MLP {'-'.join(map(str, self.sizes))} {self.activation}"

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


KERNEL = 5  # the CNN's convolutions: 5x5, padding 2 (the image size is kept until the pooling)


class CNN(nn.Module):
    """Convolution blocks (see the module docstring), then ``hidden`` fully connected layers and the
    output layer. Input: a batch of images ``(B, H·W)`` (the app's flattened pixels), ``(B, H, W)`` or
    ``(B, 1, H, W)``; output: logits ``(B, classes)``. ``rng`` draws the kernels and weights in order
    (Kaiming normal), and afterwards the dropout masks (after each hidden activation)."""

    eval_batch = 500  # images per forward pass in evaluation (the im2col rows grow with it: 25 floats per pixel)

    def __init__(self, image_shape: Sequence[int], channels: Sequence[int], hidden: Sequence[int], classes: int,
                 activation: str = "relu", dropout: float = 0.0, *, dtype: Any = np.float32,
                 rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        h, w = (int(s) for s in image_shape)
        channels, hidden = [int(c) for c in channels], [int(k) for k in hidden]
        if not channels or min(channels) < 1 or min(hidden, default=1) < 1 or classes < 2:
            raise ValueError(f"CNN: need convolution widths >= 1, hidden sizes >= 1 and >= 2 classes, got "
                             f"channels {channels}, hidden {hidden}, {classes} classes")
        if activation not in ACTIVATIONS:
            raise ValueError(f"CNN: unknown activation {activation!r}; expected one of {tuple(ACTIVATIONS)}")
        if min(h, w) >> len(channels) < 1:
            raise ValueError(f"CNN: {h}x{w} images are too small for {len(channels)} 2x2 poolings "
                             f"(each side must be at least {2 ** len(channels)})")
        self.image_shape, self.channels, self.hidden = (h, w), channels, hidden
        self.activation, self.dropout, self.dtype = activation, float(dropout), np.dtype(dtype)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        blocks: list[nn.Module] = []
        for c_in, c_out in zip([1] + channels[:-1], channels):
            blocks += [nn.Conv2d(c_in, c_out, KERNEL, padding=KERNEL // 2, bias=False, dtype=self.dtype, rng=rng),
                       nn.MaxPool2d(2), nn.BatchNorm2d(c_out, dtype=self.dtype), ACTIVATIONS[activation]()]
        self.features = nn.Sequential(*blocks)
        sizes = [channels[-1] * (h >> len(channels)) * (w >> len(channels)), *hidden, int(classes)]
        self.head = MLP(sizes, activation, dropout, dtype=self.dtype, rng=rng)

    @property
    def num_classes(self) -> int:
        return self.head.sizes[-1]

    def describe(self) -> str:
        """One line: ``CNN conv5x5 32-64 (max-pool, batch norm) + MLP 3136-128-10 relu``."""
        return (f"CNN conv{KERNEL}x{KERNEL} {'-'.join(map(str, self.channels))} (2x2 max-pool, batch norm) "
                f"+ {self.head.describe()}")

    def forward(self, x: Any) -> Tensor:
        """Logits (B, C) of a batch of images; arrays are cast to the model's dtype."""
        if not isinstance(x, Tensor):
            x = Tensor(np.asarray(x, dtype=self.dtype))
        x = x.reshape(x.shape[0], 1, *self.image_shape)
        return self.head(self.features(x).flatten(1))

    def extra_repr(self) -> str:
        return (f"image_shape={self.image_shape}, channels={self.channels}, hidden={self.hidden}, "
                f"activation={self.activation!r}, dropout={self.dropout}")


Model = MLP | CNN


def cnn_shapes(image_shape: Sequence[int], channels: Sequence[int], hidden: Sequence[int], classes: int,
               dropout: float = 0.0) -> dict[str, tuple[int, ...]]:
    """The state (parameters and buffers) names and shapes of ``CNN(...)``, without building it."""
    h, w = (int(s) for s in image_shape)
    shapes: dict[str, tuple[int, ...]] = {}
    for k, (c_in, c_out) in enumerate(zip([1, *channels[:-1]], channels)):
        shapes[f"features.{4 * k}.weight"] = (c_out, c_in, KERNEL, KERNEL)
        for name in ("weight", "bias", "running_mean", "running_var"):
            shapes[f"features.{4 * k + 2}.{name}"] = (c_out,)
        shapes[f"features.{4 * k + 2}.num_batches_tracked"] = ()
    features = channels[-1] * (h >> len(channels)) * (w >> len(channels))
    for name, shape in layer_shapes([features, *hidden, classes], dropout).items():
        shapes[f"head.{name}"] = shape
    return shapes


def state_shapes(config: Any, image_shape: Sequence[int], classes: int) -> dict[str, tuple[int, ...]]:
    """The ``state_dict()`` names and shapes of the model that ``config`` (a TrainConfig) describes."""
    h, w = (int(s) for s in image_shape)
    if config.model == "cnn":
        return cnn_shapes((h, w), config.channels, config.hidden, classes, config.dropout)
    return layer_shapes([h * w, *config.hidden, classes], config.dropout)


def parameter_shapes(config: Any, image_shape: Sequence[int], classes: int) -> list[tuple[int, ...]]:
    """The shapes of that model's ``parameters()``, in order (what optimizer state is indexed by)."""
    shapes = state_shapes(config, image_shape, classes)
    buffers = ("running_mean", "running_var", "num_batches_tracked")
    return [s for name, s in shapes.items() if name.rpartition(".")[2] not in buffers]


def build_model(config: Any, image_shape: Sequence[int], classes: int,
                rng: np.random.Generator | int | None = None) -> Model:
    """The model a configuration (a TrainConfig) names, for images of ``image_shape`` and ``classes`` classes."""
    h, w = (int(s) for s in image_shape)
    dtype = np.dtype(config.dtype)
    if config.model == "cnn":
        return CNN((h, w), config.channels, config.hidden, classes, config.activation, config.dropout, dtype=dtype,
                   rng=rng)
    return MLP([h * w, *config.hidden, classes], config.activation, config.dropout, dtype=dtype, rng=rng)


def model_logits(model: Model, x: np.ndarray, batch_size: int | None = None) -> np.ndarray:
    """Logits of ``x`` in eval mode (no dropout; batch norm's running statistics), in batches of
    ``batch_size`` (default: the model's ``eval_batch``), without recording a graph."""
    batch_size = batch_size or model.eval_batch
    was_training = model.training
    model.eval()
    try:
        with tg.no_grad():
            parts = [model(x[i : i + batch_size]).numpy() for i in range(0, len(x), batch_size)]
    finally:
        model.train(was_training)
    if not parts:
        return np.zeros((0, model.num_classes), dtype=model.dtype)
    return np.concatenate(parts)
