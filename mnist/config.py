"""``TrainConfig``: everything that defines a training run, validated.

A configuration comes from the command line (:mod:`mnist.options`), from Python, or from a
checkpoint's ``meta/config`` entry -- an untrusted file. :meth:`TrainConfig.from_dict` therefore
checks the type of every field and :meth:`TrainConfig.validate` every value (finite numbers,
sizes within bounds) before anything is allocated; both raise ``ValueError`` naming the field.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

__all__ = [
    "ACTIVATIONS", "DEFAULT_HIDDEN", "DEFAULT_LR", "DEFAULT_WEIGHT_DECAY", "DTYPES", "LOSSES", "MAX_CHANNELS",
    "MAX_CONV_LAYERS", "MAX_LAYERS", "MAX_WIDTH", "MODELS", "OPTIMIZERS", "SCHEDULES", "TrainConfig",
]

OPTIMIZERS = ("sgd", "momentum", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine")
ACTIVATIONS = ("relu", "tanh", "sigmoid")
LOSSES = ("ce", "mse")
DTYPES = ("float32", "float64")
MODELS = ("mlp", "cnn")
#: the hidden (fully connected) layers of each model when none are given
DEFAULT_HIDDEN = {"mlp": (512, 256), "cnn": (128,)}
DEFAULT_LR = {"sgd": 0.1, "momentum": 0.05, "adam": 1e-3, "adamw": 1e-3}
DEFAULT_WEIGHT_DECAY = {"sgd": 0.0, "momentum": 0.0, "adam": 0.0, "adamw": 1e-2}
#: largest hidden layer width and number of hidden layers a configuration may ask for
MAX_WIDTH = 65_536
MAX_LAYERS = 64
#: largest convolution width and number of convolution blocks (``--model cnn``)
MAX_CHANNELS = 1024
MAX_CONV_LAYERS = 8

# field name -> the JSON types it may have (None allowed where listed); bool is never an int here
_STR, _BOOL, _INT, _FLOAT = "str", "bool", "int", "float"
_TYPES: dict[str, tuple[str, bool]] = {
    "dataset": (_STR, False), "data_dir": (_STR, True), "test_data": (_STR, True), "verify": (_BOOL, False),
    "activation": (_STR, False), "loss": (_STR, False), "optimizer": (_STR, False), "lr": (_FLOAT, True),
    "momentum": (_FLOAT, False), "nesterov": (_BOOL, False), "weight_decay": (_FLOAT, True),
    "schedule": (_STR, False), "step_size": (_INT, True), "gamma": (_FLOAT, False), "warmup": (_INT, False),
    "batch_size": (_INT, False), "epochs": (_INT, False), "dropout": (_FLOAT, False), "augment": (_BOOL, False),
    "max_shift": (_INT, False), "max_rotation": (_FLOAT, False), "early_stopping": (_INT, False),
    "seed": (_INT, False), "dtype": (_STR, False), "standardize": (_BOOL, False), "image_size": (_INT, True),
    "jit": (_BOOL, False), "compile": (_BOOL, False), "model": (_STR, False),
}


class _ModelDefault(tuple):
    """The ``hidden`` a configuration gets when none is given: the model's own (``DEFAULT_HIDDEN``)."""


_MODEL_DEFAULT = _ModelDefault()


def _type_ok(value: Any, kind: str) -> bool:
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _INT:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass
class TrainConfig:
    """Everything that defines a training run (saved as ``config.json`` and in checkpoints).

    ``lr`` / ``weight_decay`` None mean "the optimizer's default" (:data:`DEFAULT_LR`);
    ``val_size`` None means 5000 for mnist / fashion-mnist and 10 % for CSV files and image
    folders (an int is a count, a float in [0, 1) a fraction). ``test_data`` is a labelled
    file (CSV or IDX images) used as the test set instead of a held-out share.
    """

    dataset: str = "mnist"
    data_dir: str | None = None
    verify: bool = True
    hidden: tuple[int, ...] = _MODEL_DEFAULT
    activation: str = "relu"
    loss: str = "ce"
    optimizer: str = "adam"
    lr: float | None = None
    momentum: float = 0.9
    nesterov: bool = False
    weight_decay: float | None = None
    schedule: str = "cosine"
    step_size: int | None = None
    gamma: float = 0.1
    warmup: int = 0
    batch_size: int = 128
    epochs: int = 12
    dropout: float = 0.0
    augment: bool = False
    max_shift: int = 2
    max_rotation: float = 10.0
    early_stopping: int = 0
    val_size: int | float | None = None
    test_data: str | None = None
    seed: int = 0
    dtype: str = "float32"
    standardize: bool = False
    image_size: int | None = None
    jit: bool = False
    compile: bool = False
    model: str = "mlp"
    channels: tuple[int, ...] = (32, 64)

    def __post_init__(self) -> None:
        if self.hidden is _MODEL_DEFAULT:
            self.hidden = DEFAULT_HIDDEN.get(self.model, DEFAULT_HIDDEN["mlp"])
        for name in ("hidden", "channels"):
            value = getattr(self, name)
            if isinstance(value, (list, tuple)) and all(_type_ok(h, _INT) for h in value):
                setattr(self, name, tuple(int(h) for h in value))

    @property
    def learning_rate(self) -> float:
        """``lr``, or the optimizer's default learning rate."""
        return DEFAULT_LR.get(self.optimizer, math.nan) if self.lr is None else float(self.lr)

    @property
    def decay(self) -> float:
        """``weight_decay``, or the optimizer's default."""
        return DEFAULT_WEIGHT_DECAY.get(self.optimizer, 0.0) if self.weight_decay is None else float(self.weight_decay)

    def validate(self) -> "TrainConfig":
        """Raise ValueError with a readable message for any invalid setting; returns self."""
        for name, (kind, nullable) in _TYPES.items():
            value = getattr(self, name)
            if not ((nullable and value is None) or _type_ok(value, kind)):
                raise ValueError(f"{name} must be {'null or ' if nullable else ''}a{'n' if kind == _INT else ''} "
                                 f"{kind}, got {value!r}")
        if not isinstance(self.hidden, tuple) or not all(_type_ok(h, _INT) for h in self.hidden):
            raise ValueError(f"hidden must be a list of layer sizes (integers), got {self.hidden!r}")
        if not isinstance(self.channels, tuple) or not all(_type_ok(c, _INT) for c in self.channels):
            raise ValueError(f"channels must be a list of convolution widths (integers), got {self.channels!r}")
        if not (self.val_size is None or _type_ok(self.val_size, _FLOAT)):
            raise ValueError(f"val_size must be null, a count or a fraction, got {self.val_size!r}")
        choices = [("activation", ACTIVATIONS), ("loss", LOSSES), ("optimizer", OPTIMIZERS),
                   ("schedule", SCHEDULES), ("dtype", DTYPES), ("model", MODELS)]
        for name, allowed in choices:
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {', '.join(allowed)}; got {getattr(self, name)!r}")
        floats = ["momentum", "gamma", "dropout", "max_rotation", "learning_rate", "decay"]
        for name in floats:
            if not math.isfinite(getattr(self, name)):
                raise ValueError(f"{name.replace('learning_rate', 'learning rate').replace('decay', 'weight decay')} "
                                 f"must be a finite number, got {getattr(self, name)}")
        val = self.val_size
        checks = [
            (len(self.hidden) <= MAX_LAYERS, f"at most {MAX_LAYERS} hidden layers, got {len(self.hidden)}"),
            (all(1 <= h <= MAX_WIDTH for h in self.hidden),
             f"hidden layer sizes must be in 1..{MAX_WIDTH}, got {list(self.hidden)}"),
            (1 <= len(self.channels) <= MAX_CONV_LAYERS,
             f"channels: 1 to {MAX_CONV_LAYERS} convolution blocks, got {len(self.channels)}"),
            (all(1 <= c <= MAX_CHANNELS for c in self.channels),
             f"convolution widths (channels) must be in 1..{MAX_CHANNELS}, got {list(self.channels)}"),
            (self.batch_size >= 1, f"batch size must be >= 1, got {self.batch_size}"),
            (self.epochs >= 0, f"epochs must be >= 0, got {self.epochs}"),
            (0.0 <= self.dropout < 1.0, f"dropout must be in [0, 1), got {self.dropout}"),
            (self.learning_rate > 0, f"learning rate must be > 0, got {self.learning_rate}"),
            (self.decay >= 0, f"weight decay must be >= 0, got {self.decay}"),
            (0 <= self.momentum < 1, f"momentum must be in [0, 1), got {self.momentum}"),
            (self.gamma > 0, f"gamma must be > 0, got {self.gamma}"),
            (self.early_stopping >= 0, f"early-stopping patience must be >= 0, got {self.early_stopping}"),
            (self.warmup >= 0, f"warmup epochs must be >= 0, got {self.warmup}"),
            (self.step_size is None or self.step_size >= 1, f"step size must be >= 1, got {self.step_size}"),
            (self.max_shift >= 0 and self.max_rotation >= 0, "augmentation shift/rotation must be >= 0"),
            (self.image_size is None or 1 <= self.image_size <= 1024,
             f"image size must be in 1..1024, got {self.image_size}"),
            (val is None or (isinstance(val, int) and val >= 0) or (isinstance(val, float) and 0 <= val < 1),
             f"val_size must be a count >= 0 or a fraction in [0, 1), got {val}"),
            (0 <= self.seed < 2**63, f"seed must be in 0..2**63-1, got {self.seed}"),
            (not self.jit or (self.loss == "ce" and self.dropout == 0.0),
             "jit (a traced training step) needs the ce loss and no dropout: the mse loss's one-hot targets "
             "and dropout's masks are made with NumPy inside the step, which a trace would freeze"),
            (not self.jit or self.model == "mlp",
             "jit (a traced training step) is for the MLP: the CNN's batch norm updates its running statistics "
             "outside the graph, which a replayed trace would skip"),
            (not (self.jit and self.compile), "choose one of jit (a traced step) and compile (a compiled step)"),
            (not self.compile or (self.loss == "ce" and self.dropout == 0.0 and self.model == "mlp"),
             "compile (a compiled training step: tinygrad_np.compile) needs the MLP, the ce loss and no dropout: the "
             "mse loss's one-hot targets and dropout's masks are made with NumPy inside the step, which a trace "
             "would freeze"),
        ]
        for ok, message in checks:
            if not ok:
                raise ValueError(message)
        return self

    def updated(self, **changes: Any) -> "TrainConfig":
        """A validated copy with ``changes`` applied (self is left as it was if they are invalid)."""
        return replace(self, **changes).validate()

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["hidden"] = list(self.hidden)
        d["channels"] = list(self.channels)
        return d

    @classmethod
    def from_dict(cls, d: Any) -> "TrainConfig":
        """Build from ``to_dict()`` output and validate it; unknown keys are ignored (forward
        compatible). Raises ValueError naming the field for a wrong type or value."""
        if not isinstance(d, dict):
            raise ValueError(f"a configuration must be a JSON object, got {type(d).__name__}")
        names = {f.name for f in fields(cls)}
        values = {k: v for k, v in d.items() if k in names}
        for name, what in (("hidden", "layer sizes"), ("channels", "convolution widths")):
            if name in values:
                h = values[name]
                if not isinstance(h, (list, tuple)) or not all(_type_ok(x, _INT) for x in h):
                    raise ValueError(f"{name} must be a list of {what} (integers), got {h!r}")
        return cls(**values).validate()
