"""Command-line options shared by ``python -m mnist`` and its shell, and ``config_from_args``.

:func:`add_train_options` defines the options of a run; their defaults are SUPPRESSed so that
:func:`config_from_args` knows which ones were given explicitly, and the help text shows the
defaults of the command it is for (``train`` and ``shell`` differ: a shell starts with no
schedule and no planned epochs).
"""
from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from .config import ACTIVATIONS, DEFAULT_HIDDEN, DEFAULT_LR, DTYPES, LOSSES, MODELS, OPTIMIZERS, SCHEDULES, TrainConfig
from .data.sources import canonical_name
from .threads import DEFAULT_THREADS

__all__ = [
    "SHELL_DEFAULTS", "TRAIN_DEFAULTS", "add_data_options", "add_threads_option", "add_train_options",
    "config_from_args", "explicit_options", "finite_float", "nonnegative_int", "parse_hidden", "parse_size",
    "positive_int",
]

TRAIN_DEFAULTS = TrainConfig()
#: a new model in the shell: open-ended training, no schedule unless asked for
SHELL_DEFAULTS = TrainConfig(schedule="none", epochs=0)


# ---------------------------------------------------------------------- argument types
def parse_hidden(text: str) -> tuple[int, ...]:
    """``"128,64"`` -> (128, 64); ``""`` -> () (no hidden layer)."""
    parts = [p for p in text.replace(" ", ",").split(",") if p.strip()]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated layer sizes such as 256,128, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def parse_size(text: str) -> int | float:
    """A count (``5000``) or a fraction in [0, 1) (``0.1``)."""
    try:
        value = int(text)
    except ValueError:
        pass
    else:
        if value < 0:
            raise argparse.ArgumentTypeError(f"a count must be >= 0, got {text!r}")
        return value
    try:
        fraction = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {text!r}") from None
    if not 0 <= fraction < 1:
        raise argparse.ArgumentTypeError(f"a fraction must be in [0, 1), got {text!r}")
    return fraction


def positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def nonnegative_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


def finite_float(text: str) -> float:
    """A finite number (``inf`` and ``nan`` are refused)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"must be a finite number, got {text}")
    return value


# ---------------------------------------------------------------------- option groups
def add_threads_option(p: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """``--threads N`` (applied by ``python -m mnist`` before NumPy loads; here for --help and parsing)."""
    p.add_argument("--threads", type=positive_int, metavar="N", default=argparse.SUPPRESS if suppress else None,
                   help=f"BLAS threads, before or after the command (default: {DEFAULT_THREADS}, or "
                        "$OPENBLAS_NUM_THREADS / $OMP_NUM_THREADS if set)")


def add_data_options(p: argparse.ArgumentParser, *, suppress: bool = False,
                     defaults: TrainConfig = TRAIN_DEFAULTS) -> None:
    """--dataset, --data-dir, --no-verify, --test-data."""
    d = argparse.SUPPRESS if suppress else None
    p.add_argument("--dataset", default=d, metavar="NAME|PATH",
                   help="mnist, fashion-mnist, a labelled .csv file (Kaggle pixel CSV, or the Chinese MNIST "
                        "chinese_mnist.csv with its images beside it) or an image folder (one sub-folder per class)"
                        + (f" (default: {defaults.dataset})" if suppress
                           else " (default: the one the model was trained on)"))
    p.add_argument("--data-dir", default=d, metavar="DIR",
                   help="folder with the IDX files of mnist/fashion-mnist (default: $MNIST_DIR / $FASHION_MNIST_DIR, "
                        "the cache, or a download)")
    p.add_argument("--no-verify", dest="verify", action="store_false", default=argparse.SUPPRESS if suppress else True,
                   help="do not check the official SHA-256 of the IDX files (for other data in the MNIST format)")
    p.add_argument("--test-data", default=d, metavar="FILE",
                   help="a labelled CSV file (e.g. Kaggle's mnist_test.csv) that is the test set "
                        "(default: the data set's own test set, or a held-out 10%% of a CSV file / image folder)")


def add_train_options(p: argparse.ArgumentParser, defaults: TrainConfig = TRAIN_DEFAULTS) -> None:
    """The options of ``train`` that define a run (also accepted by ``shell``), with the help
    text showing ``defaults``. Defaults are SUPPRESSed (see :func:`config_from_args`)."""
    s = argparse.SUPPRESS
    d = defaults
    add_data_options(p, suppress=True, defaults=d)
    g = p.add_argument_group("model")
    g.add_argument("--model", choices=MODELS, default=s,
                   help=f"mlp: fully connected layers on the pixels; cnn: convolution blocks (5x5 conv, 2x2 max-pool, "
                        f"batch norm, ReLU) before them (default: {d.model})")
    g.add_argument("--hidden", type=parse_hidden, default=s, metavar="SIZES",
                   help="hidden (fully connected) layer sizes, e.g. 512,256 (\"\" = none; default: "
                        + "; ".join(f"{m} {','.join(map(str, h))}" for m, h in DEFAULT_HIDDEN.items()) + ")")
    g.add_argument("--channels", type=parse_hidden, default=s, metavar="WIDTHS",
                   help=f"--model cnn: output channels of each convolution block (default: "
                        f"{','.join(map(str, d.channels))})")
    g.add_argument("--activation", choices=ACTIVATIONS, default=s, help=f"(default: {d.activation})")
    g.add_argument("--dropout", type=finite_float, default=s, metavar="P",
                   help=f"dropout after each hidden layer (default: {d.dropout})")
    g.add_argument("--dtype", choices=DTYPES, default=s, help=f"(default: {d.dtype})")
    g = p.add_argument_group("optimization")
    g.add_argument("--loss", choices=LOSSES, default=s, help=f"cross-entropy or mean squared error (default: {d.loss})")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=s,
                   help=f"momentum = SGD with momentum 0.9 (default: {d.optimizer})")
    g.add_argument("--lr", type=finite_float, default=s,
                   help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    g.add_argument("--momentum", type=finite_float, default=s,
                   help=f"for --optimizer momentum, in [0, 1) (default: {d.momentum})")
    g.add_argument("--nesterov", action="store_true", default=s, help="Nesterov momentum")
    g.add_argument("--weight-decay", type=finite_float, default=s, metavar="WD",
                   help="L2 penalty (adamw: decoupled; default: 0, adamw 0.01)")
    g.add_argument("--schedule", choices=SCHEDULES, default=s,
                   help=f"per-epoch learning-rate schedule (default: {d.schedule})")
    g.add_argument("--step-size", type=positive_int, default=s, metavar="EPOCHS",
                   help="--schedule step: epochs between decays (default: epochs/3)")
    g.add_argument("--gamma", type=finite_float, default=s, help=f"--schedule step: decay factor (default: {d.gamma})")
    g.add_argument("--warmup", type=nonnegative_int, default=s, metavar="EPOCHS",
                   help=f"--schedule cosine: linear warm-up epochs (default: {d.warmup})")
    g.add_argument("--batch-size", type=positive_int, default=s, help=f"(default: {d.batch_size})")
    g.add_argument("--jit", action="store_true", default=s,
                   help="trace the training step once and replay it (tinygrad_np.traced_step): the same "
                        "results bit for bit, less Python per step; needs --loss ce and no dropout")
    g.add_argument("--compile", action="store_true", default=s,
                   help="compile the training step (tinygrad_np.compile: forward, backward and the optimizer's "
                        "update as one program with preallocated buffers): the same results bit for bit, "
                        "faster; needs the MLP, --loss ce and no dropout")
    epochs_help = (f"(default: {d.epochs})" if d.epochs
                   else "epochs the schedule is planned over (default: 0; 'train N' adds N)")
    g.add_argument("--epochs", type=nonnegative_int, default=s, help=epochs_help)
    g.add_argument("--early-stopping", type=nonnegative_int, default=s, metavar="PATIENCE",
                   help="stop when validation accuracy has not improved for PATIENCE epochs and restore "
                        "the best weights (default: 0 = off)")
    g = p.add_argument_group("data handling")
    g.add_argument("--val-size", type=parse_size, default=s, metavar="N|FRACTION",
                   help="validation examples held out from the END of the training set (default: 5000; "
                        "10%% for CSV files and image folders; 0 = no validation). The test set is never used "
                        "for tuning.")
    g.add_argument("--augment", action="store_true", default=s,
                   help=f"random shifts (up to {d.max_shift} px) and rotations (up to {d.max_rotation:g} deg)")
    g.add_argument("--max-shift", type=nonnegative_int, default=s, metavar="PX",
                   help=f"--augment: largest shift per axis (default: {d.max_shift})")
    g.add_argument("--max-rotation", type=finite_float, default=s, metavar="DEG",
                   help=f"--augment: largest rotation (default: {d.max_rotation:g})")
    g.add_argument("--standardize", action="store_true", default=s,
                   help="subtract the training mean and divide by its std (stats saved in the checkpoint)")
    g.add_argument("--image-size", type=positive_int, default=s, metavar="PX",
                   help="resize the images of an image folder to PX x PX (default: the first image's size)")
    g.add_argument("--seed", type=nonnegative_int, default=s, help=f"(default: {d.seed})")


def _absolute_if_path(text: str) -> str:
    return str(Path(text).expanduser().absolute()) if Path(text).expanduser().exists() else text


def explicit_options(args: argparse.Namespace) -> dict[str, Any]:
    """The TrainConfig fields given on the command line (data paths made absolute)."""
    names = TrainConfig().to_dict()
    given = {k: v for k, v in vars(args).items() if k in names}
    if given.get("data_dir") is not None:
        given["data_dir"] = str(Path(given["data_dir"]).expanduser().absolute())
    if given.get("test_data") is not None:
        given["test_data"] = _absolute_if_path(given["test_data"])
    if "dataset" in given:
        try:
            canonical_name(given["dataset"])
        except ValueError:
            given["dataset"] = _absolute_if_path(given["dataset"])
    return given


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """A validated TrainConfig from the explicitly given options on top of ``base`` (default: the
    defaults). Data paths given on the command line are made absolute, so that checkpoints work
    from any working directory."""
    values = (base or TrainConfig()).to_dict()
    given = explicit_options(args)
    if "model" in given and "hidden" not in given and given["model"] != values.get("model"):
        values.pop("hidden")  # the new model's own hidden layers
    values.update(given)
    return TrainConfig.from_dict(values)
