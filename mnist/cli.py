"""Command line interface: ``python -m mnist {train,eval,predict,show,shell} ...``.

Run ``python -m mnist COMMAND --help`` for the options of each command; docs/mnist.md
has the full reference and measured results.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import os
import shlex
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

from .checkpoint import CheckpointError, load_checkpoint
from .train import ACTIVATIONS, DEFAULT_LR, LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig

__all__ = ["main", "build_parser", "add_train_options", "config_from_args"]

PROG = "python -m mnist"
DEFAULTS = TrainConfig()
#: options that may be given together with --resume (everything else comes from the checkpoint)
RESUME_OPTIONS = {"epochs", "early_stopping", "data_dir", "verify"}


# ---------------------------------------------------------------------- argument types
def parse_hidden(text: str) -> tuple[int, ...]:
    """``"128,64"`` -> (128, 64); ``""`` -> () (no hidden layer)."""
    parts = [p for p in text.replace(" ", ",").split(",") if p.strip()]
    try:
        sizes = tuple(int(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected comma-separated layer sizes such as 256,128, got {text!r}") from None
    if any(s < 1 for s in sizes):
        raise argparse.ArgumentTypeError(f"layer sizes must be >= 1, got {text!r}")
    return sizes


def parse_size(text: str) -> int | float:
    """A count (``5000``) or a fraction in [0, 1) (``0.1``)."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a count or a fraction, got {text!r}") from None
    if not 0 <= value < 1:
        raise argparse.ArgumentTypeError(f"a fraction must be in [0, 1), got {text!r}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {text}")
    return value


def _nonnegative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {text}")
    return value


# ---------------------------------------------------------------------- parser
def add_data_options(p: argparse.ArgumentParser, *, suppress: bool = False) -> None:
    """--dataset, --data-dir, --no-verify."""
    d = argparse.SUPPRESS if suppress else None
    p.add_argument("--dataset", default=d, metavar="NAME|PATH",
                   help=f"mnist, fashion-mnist, a labelled .csv file or an image folder (one sub-folder per class)"
                        f"{' (default: ' + DEFAULTS.dataset + ')' if suppress else ' (default: the one the model was trained on)'}")
    p.add_argument("--data-dir", default=d, metavar="DIR",
                   help="folder with the IDX files of mnist/fashion-mnist (default: $MNIST_DIR / $FASHION_MNIST_DIR, "
                        "the cache, or a download)")
    p.add_argument("--no-verify", dest="verify", action="store_false", default=argparse.SUPPRESS if suppress else True,
                   help="do not check the official SHA-256 of the IDX files (for other data in the MNIST format)")


def add_train_options(p: argparse.ArgumentParser) -> None:
    """The options of ``train`` that define a run (also accepted by ``shell``). Defaults are
    SUPPRESSed so that :func:`config_from_args` knows which ones were given explicitly."""
    s = argparse.SUPPRESS
    d = DEFAULTS
    add_data_options(p, suppress=True)
    g = p.add_argument_group("model")
    g.add_argument("--hidden", type=parse_hidden, default=s, metavar="SIZES",
                   help=f"hidden layer sizes, e.g. 512,256 (\"\" = no hidden layer; default: "
                        f"{','.join(map(str, d.hidden))})")
    g.add_argument("--activation", choices=ACTIVATIONS, default=s, help=f"(default: {d.activation})")
    g.add_argument("--dropout", type=float, default=s, metavar="P", help=f"dropout after each hidden layer (default: {d.dropout})")
    g.add_argument("--dtype", choices=("float32", "float64"), default=s, help=f"(default: {d.dtype})")
    g = p.add_argument_group("optimization")
    g.add_argument("--loss", choices=LOSSES, default=s, help=f"cross-entropy or mean squared error (default: {d.loss})")
    g.add_argument("--optimizer", choices=OPTIMIZERS, default=s,
                   help=f"momentum = SGD with momentum 0.9 (default: {d.optimizer})")
    g.add_argument("--lr", type=float, default=s,
                   help="learning rate (default: " + ", ".join(f"{k} {v:g}" for k, v in DEFAULT_LR.items()) + ")")
    g.add_argument("--momentum", type=float, default=s, help=f"for --optimizer momentum (default: {d.momentum})")
    g.add_argument("--nesterov", action="store_true", default=s, help="Nesterov momentum")
    g.add_argument("--weight-decay", type=float, default=s, metavar="WD",
                   help="L2 penalty (adamw: decoupled; default: 0, adamw 0.01)")
    g.add_argument("--schedule", choices=SCHEDULES, default=s, help=f"per-epoch learning-rate schedule (default: {d.schedule})")
    g.add_argument("--step-size", type=_positive_int, default=s, metavar="EPOCHS",
                   help="--schedule step: epochs between decays (default: epochs/3)")
    g.add_argument("--gamma", type=float, default=s, help=f"--schedule step: decay factor (default: {d.gamma})")
    g.add_argument("--warmup", type=_nonnegative_int, default=s, metavar="EPOCHS",
                   help=f"--schedule cosine: linear warm-up epochs (default: {d.warmup})")
    g.add_argument("--batch-size", type=_positive_int, default=s, help=f"(default: {d.batch_size})")
    g.add_argument("--jit", action="store_true", default=s,
                   help="trace the training step once and replay it (tinygrad_np.traced_step): the same "
                        "results bit for bit, less Python per step; needs --loss ce and no dropout")
    g.add_argument("--epochs", type=_nonnegative_int, default=s, help=f"(default: {d.epochs})")
    g.add_argument("--early-stopping", type=_nonnegative_int, default=s, metavar="PATIENCE",
                   help="stop when validation accuracy has not improved for PATIENCE epochs and restore "
                        "the best weights (default: 0 = off)")
    g = p.add_argument_group("data handling")
    g.add_argument("--val-size", type=parse_size, default=s, metavar="N|FRACTION",
                   help="validation examples held out from the END of the training set (default: 5000; "
                        "10%% for CSV files and image folders). The test set is never used for tuning.")
    g.add_argument("--augment", action="store_true", default=s,
                   help=f"random shifts (up to {d.max_shift} px) and rotations (up to {d.max_rotation:g} deg)")
    g.add_argument("--max-shift", type=_nonnegative_int, default=s, metavar="PX",
                   help=f"--augment: largest shift per axis (default: {d.max_shift})")
    g.add_argument("--max-rotation", type=float, default=s, metavar="DEG",
                   help=f"--augment: largest rotation (default: {d.max_rotation:g})")
    g.add_argument("--standardize", action="store_true", default=s,
                   help="subtract the training mean and divide by its std (stats saved in the checkpoint)")
    g.add_argument("--image-size", type=_positive_int, default=s, metavar="PX",
                   help="resize the images of an image folder to PX x PX (default: the first image's size)")
    g.add_argument("--seed", type=int, default=s, help=f"(default: {d.seed})")


def config_from_args(args: argparse.Namespace, base: TrainConfig | None = None) -> TrainConfig:
    """A TrainConfig from the explicitly given options on top of ``base`` (default: the defaults).

    Data paths given on the command line are made absolute, so that checkpoints work from
    any working directory.
    """
    from .data.sources import canonical_name

    values = (base or TrainConfig()).to_dict()
    for name in values:
        if name in vars(args):
            values[name] = getattr(args, name)
    if "data_dir" in vars(args) and args.data_dir is not None:
        values["data_dir"] = str(Path(args.data_dir).expanduser().absolute())
    if "dataset" in vars(args):
        try:
            canonical_name(args.dataset)
        except ValueError:
            if Path(args.dataset).expanduser().exists():
                values["dataset"] = str(Path(args.dataset).expanduser().absolute())
    return TrainConfig.from_dict(values).validate()


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=PROG, description="Train and use MLP classifiers for MNIST-like data with tinygrad_np.",
        epilog="Run '%(prog)s COMMAND --help' for the options of a command.")
    parser.add_argument("--threads", type=_positive_int, metavar="N",
                        help="BLAS threads (must come before the command; default: the BLAS default)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train an MLP; writes checkpoint, history, summary and plots to the run directory.")
    add_train_options(p)
    g = p.add_argument_group("run")
    g.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/<dataset>-<date>-<time>)")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    g.add_argument("--stop-after", type=_positive_int, metavar="N",
                   help="stop after N epochs of this invocation (as if interrupted; continue with --resume)")
    g.add_argument("--no-progress", action="store_true", help="no progress bar (also off when stdout is not a terminal)")
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy, per-class precision/recall and confusion matrix",
                       description="Evaluate a checkpoint on a data split.")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint .npz or run directory")
    add_data_options(p)
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="(default: test)")
    p.add_argument("--json", metavar="FILE", help="also write the metrics as JSON")
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify IDX, CSV or image files",
                       description="Predict labels for a CSV file (writes a Kaggle ImageId,Label CSV), an IDX images "
                                   "file, or PNG/JPG files and folders (prints label and confidence per file).")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint .npz or run directory")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="a .csv file, an IDX images file, or image files/folders")
    p.add_argument("--out", metavar="FILE", help="write predictions as CSV (default for CSV input: predictions.csv)")
    p.add_argument("--labels", metavar="IDX", help="IDX labels file for IDX input (prints the accuracy)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="invert image files (auto: when the border is light, i.e. dark ink on white)")
    p.add_argument("--limit", type=_nonnegative_int, default=20, metavar="N",
                   help="print at most N predictions for CSV/IDX input (default: 20)")
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("show", help="save (and display) a grid of images with predictions",
                       description="Images from a data split with true and predicted labels; saved as PNG and "
                                   "opened in a window when a display is available.")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint .npz or run directory")
    add_data_options(p)
    p.add_argument("--split", choices=("test", "val", "train"), default="test", help="(default: test)")
    p.add_argument("--start", type=_nonnegative_int, default=0, metavar="N", help="first image index (default: 0)")
    p.add_argument("--count", type=_positive_int, default=30, metavar="K", help="number of images (default: 30)")
    p.add_argument("--out", default="show.png", metavar="FILE", help="PNG file (default: show.png)")
    p.add_argument("--one-by-one", action="store_true",
                   help="also go through the images one at a time (text rendering; a window each with a display)")
    p.add_argument("--no-window", action="store_true", help="never open a window")
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("shell", help="interactive session (reads commands from stdin)",
                       description="Load the data once, then train/test/tune interactively. Commands are read one "
                                   "per line from stdin, so the shell can be scripted with a pipe. Type 'help'.")
    p.add_argument("--checkpoint", metavar="PATH", help="start from this checkpoint (else: a new model from the options)")
    add_train_options(p)
    p.add_argument("--out", metavar="DIR", help="where 'save' and plots go (default: runs/shell-<date>-<time>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_shell)
    return parser


# ---------------------------------------------------------------------- helpers
def _command_line(argv: list[str]) -> str:
    return " ".join(shlex.quote(a) for a in ["python", "-m", "mnist", *argv])


def _progress_enabled(args: argparse.Namespace) -> bool:
    return not getattr(args, "no_progress", False) and sys.stdout.isatty()


def _default_run_dir(config: TrainConfig, prefix: str | None = None) -> Path:
    name = prefix or Path(config.dataset).stem or "data"
    return Path("runs") / f"{name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"


def _split_arrays(clf: Any, args: argparse.Namespace) -> tuple[np.ndarray, np.ndarray, str]:
    """uint8 images and labels of ``args.split`` of the data set named by args (or the checkpoint's)."""
    from .data import load_any

    cfg = clf.config
    dataset = args.dataset or cfg.dataset
    same = args.dataset is None
    data_dir = args.data_dir if args.data_dir is not None else (cfg.data_dir if same else None)
    verify = args.verify and (cfg.verify or not same)
    splits = load_any(dataset, data_dir=data_dir, verify=verify, val_size=cfg.val_size, seed=cfg.seed,
                      size=clf.image_shape if Path(dataset).is_dir() else None)
    images = {"test": splits.test_images, "val": splits.val_images, "train": splits.train_images}[args.split]
    labels = {"test": splits.test_labels, "val": splits.val_labels, "train": splits.train_labels}[args.split]
    return images, labels.astype(np.int64), f"{splits.name} {args.split} split ({splits.source})"


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%"


# ---------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from .report import write_history, write_json
    from .train import Trainer, check_data_fits, load_data, stats_from_meta

    t_start = time.perf_counter()
    command = _command_line(args.argv)
    if args.resume:
        run_dir = Path(args.resume)
        ckpt = load_checkpoint(run_dir / "checkpoint.npz" if run_dir.is_dir() or not run_dir.suffix else run_dir)
        run_dir = ckpt.path.parent
        ignored = sorted(k for k in vars(args) if k in TrainConfig().to_dict() and k not in RESUME_OPTIONS)
        if ignored or args.out:
            names = ", ".join("--" + k.replace("_", "-") for k in ignored + (["out"] if args.out else []))
            print(f"note: {names} ignored with --resume (the run's saved configuration is used)", file=sys.stderr)
        saved = TrainConfig.from_dict(ckpt.meta["config"])
        config = config_from_args(argparse.Namespace(**{k: v for k, v in vars(args).items() if k in RESUME_OPTIONS}),
                                  saved)
        data = load_data(config, stats_from_meta(ckpt.meta))
        check_data_fits(ckpt, data)
        trainer = Trainer(config, data, progress=_progress_enabled(args))
        trainer.load_state(ckpt)
        commands = list(ckpt.meta.get("commands", [])) + [command]
        print(f"resuming {run_dir} after epoch {trainer.epoch} of {config.epochs}")
    else:
        config = config_from_args(args)
        run_dir = Path(args.out) if args.out else _default_run_dir(config)
        if (run_dir / "checkpoint.npz").exists():
            raise ValueError(f"{run_dir} already holds a run (checkpoint.npz); continue it with --resume {run_dir} "
                             "or choose another --out")
        data = load_data(config)
        trainer = Trainer(config, data, progress=_progress_enabled(args))
        commands = [command]
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer.extra_meta = {"commands": commands}
    _print_header(trainer, run_dir)
    write_json(run_dir / "config.json", _config_json(trainer, commands))
    ckpt_path = run_dir / "checkpoint.npz"
    try:
        trainer.fit(checkpoint_path=ckpt_path, stop_after=args.stop_after)
    except KeyboardInterrupt:
        write_history(run_dir, trainer.history)
        print(f"\ninterrupted; the checkpoint after epoch {_last_saved_epoch(ckpt_path)} is in {ckpt_path}\n"
              f"continue with: {PROG} train --resume {shlex.quote(str(run_dir))}", file=sys.stderr)
        return 130
    write_history(run_dir, trainer.history)
    if not trainer.finished:
        print(f"stopped after epoch {trainer.epoch} of {config.epochs}; checkpoint: {ckpt_path}\n"
              f"continue with: {PROG} train --resume {shlex.quote(str(run_dir))}")
        return 0
    _finish_run(trainer, run_dir, commands, t_start, plots=not args.no_plots)
    return 0


def _last_saved_epoch(path: Path) -> str:
    try:
        return str(load_checkpoint(path).meta["epoch"])
    except CheckpointError:
        return "?"


def _config_json(trainer: Any, commands: list[str]) -> dict[str, Any]:
    cfg = trainer.config
    d = cfg.to_dict()
    d.update(lr=cfg.learning_rate, weight_decay=cfg.decay, sizes=trainer.model.sizes,
             parameters=trainer.model.num_parameters(), command=commands[-1])
    return d


def _print_header(trainer: Any, run_dir: Path) -> None:
    cfg, data, model = trainer.config, trainer.data, trainer.model
    h, w = data.image_shape
    print(f"data: {data.name}: {len(data.x_train):,} train / {len(data.x_val):,} val / {len(data.x_test):,} test "
          f"images ({h}x{w}, {len(data.class_names)} classes) from {data.source}")
    schedule = "no schedule" if cfg.schedule == "none" else f"{cfg.schedule} schedule"
    extras = [f"dropout {cfg.dropout:g}"] if cfg.dropout else []
    extras += ["augmentation"] if cfg.augment else []
    extras += ["standardized"] if cfg.standardize else []
    extras += [f"early stopping (patience {cfg.early_stopping})"] if cfg.early_stopping else []
    print(f"model: MLP {'-'.join(map(str, model.sizes))} {cfg.activation}, {model.num_parameters():,} parameters, "
          f"{cfg.dtype}; {cfg.loss} loss, {cfg.optimizer} lr {cfg.learning_rate:g}, {schedule}, batch {cfg.batch_size}, "
          f"{cfg.epochs} epochs, seed {cfg.seed}" + ("; " + ", ".join(extras) if extras else ""))
    print(f"run directory: {run_dir}", flush=True)


def _finish_run(trainer: Any, run_dir: Path, commands: list[str], t_start: float, *, plots: bool = True) -> None:
    from .report import PLOTS, write_json, write_plots

    data = trainer.data
    if trainer.config.early_stopping and trainer.best_epoch and trainer.best_epoch != trainer.epoch:
        print(f"restored the best weights (epoch {trainer.best_epoch}, val accuracy "
              f"{_pct(trainer.best_val_accuracy)})")
    test = trainer.evaluate(data.x_test, data.y_test)
    val = trainer.evaluate(data.x_val, data.y_val) if len(data.x_val) else None
    files = ["summary.json", "history.json", "history.csv", "config.json", "checkpoint.npz"]
    if plots and len(data.y_test):
        write_plots(run_dir, trainer.history, data.test_images, data.y_test, test, data.class_names, seed=trainer.config.seed)
        files += list(PLOTS.values())
    train_seconds = float(sum(h["epoch_seconds"] for h in trainer.history))
    summary = {
        "test_accuracy": test.accuracy,
        "test_loss": test.loss,
        "val_accuracy": val.accuracy if val else None,
        "val_loss": val.loss if val else None,
        "best_val_accuracy": trainer.best_val_accuracy if trainer.best_epoch else None,
        "best_epoch": trainer.best_epoch or None,
        "epochs": trainer.epoch,
        "stopped_early": trainer.stopped_early,
        "train_seconds": train_seconds,
        "total_seconds": time.perf_counter() - t_start,
        "command": commands[-1],
        "commands": commands,
        "dataset": data.name,
        "data_source": data.source,
        "n_train": len(data.x_train), "n_val": len(data.x_val), "n_test": len(data.x_test),
        "sizes": trainer.model.sizes,
        "parameters": trainer.model.num_parameters(),
        "run_dir": str(run_dir),
        "checkpoint": str(run_dir / "checkpoint.npz"),
        "files": files,
    }
    write_json(run_dir / "summary.json", summary)
    print(f"test accuracy {_pct(test.accuracy)} (loss {test.loss:.4f})"
          + (f", val accuracy {_pct(val.accuracy)}" if val else "")
          + f"; {trainer.epoch} epochs, training {train_seconds:.1f} s, total {summary['total_seconds']:.1f} s")
    print(f"outputs in {run_dir}/: {', '.join(files)}")


# ---------------------------------------------------------------------- eval
def cmd_eval(args: argparse.Namespace) -> int:
    from .inference import load_classifier
    from .metrics import classification_report, format_confusion, format_per_class
    from .report import write_json

    clf = load_classifier(args.checkpoint)
    images, labels, what = _split_arrays(clf, args)
    result = clf.classify(images, labels)
    report = classification_report(labels, result.predictions, clf.class_names)
    print(f"checkpoint: {clf.path} (epoch {clf.epoch})")
    print(f"data: {what}, {len(labels):,} images")
    correct = int(np.sum(result.predictions == labels))
    print(f"accuracy: {_pct(result.accuracy)} ({correct:,}/{len(labels):,})  loss: {result.loss:.4f}\n")
    print(format_per_class(report))
    print("\nconfusion matrix (rows: true class, columns: predicted class):")
    print(format_confusion(np.asarray(report["confusion_matrix"]), clf.class_names))
    if args.json:
        report.update(loss=result.loss, checkpoint=str(clf.path), data=what, split=args.split)
        write_json(args.json, report)
        print(f"\nwrote {args.json}")
    return 0


# ---------------------------------------------------------------------- predict
def cmd_predict(args: argparse.Namespace) -> int:
    from .data import write_predictions_csv
    from .inference import load_classifier, read_inputs

    clf = load_classifier(args.checkpoint)
    inputs = read_inputs(args.inputs, clf.image_shape, args.invert, args.labels)
    result = clf.classify(inputs.images, inputs.labels)
    names = clf.class_names
    pred, conf = result.predictions, result.confidences
    if inputs.kind == "images":
        width = max(len(n) for n in inputs.names)
        for name, p, c in zip(inputs.names, pred, conf):
            print(f"{name:<{width}}  {names[p]}  ({100 * c:.1f}%)")
        if args.out:
            from .checkpoint import atomic_write_text

            rows = ["file,label,class_name,confidence"]
            rows += [f"{_csv_field(n)},{int(p)},{_csv_field(names[p])},{c:.6f}" for n, p, c in zip(inputs.names, pred, conf)]
            atomic_write_text(args.out, "\n".join(rows) + "\n")
            print(f"wrote {args.out}")
        return 0
    out = args.out or ("predictions.csv" if inputs.kind == "csv" else None)
    shown = min(args.limit, len(pred))
    for i in range(shown):
        print(f"{inputs.names[i]:>6}  {names[pred[i]]}  ({100 * conf[i]:.1f}%)")
    if shown < len(pred):
        print(f"... ({len(pred) - shown:,} more)")
    counts = Counter(int(p) for p in pred)
    print(f"{len(pred):,} images; predicted classes: " + ", ".join(f"{names[k]}: {counts[k]}" for k in sorted(counts)))
    if inputs.labels is not None:
        print(f"accuracy against the labels: {_pct(result.accuracy)}")
    if out:
        write_predictions_csv(out, pred.astype(np.int64))
        print(f"wrote {len(pred):,} predictions to {out} (ImageId,Label)")
    return 0


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"' if any(c in text for c in ',"\n') else text


# ---------------------------------------------------------------------- show
def cmd_show(args: argparse.Namespace) -> int:
    from . import plots
    from .inference import ascii_image, load_classifier

    clf = load_classifier(args.checkpoint)
    images, labels, what = _split_arrays(clf, args)
    if args.start >= len(images):
        raise ValueError(f"--start {args.start} is beyond the {len(images):,} images of the {args.split} split")
    idx = np.arange(args.start, min(args.start + args.count, len(images)))
    result = clf.classify(images[idx], labels[idx])
    names = clf.class_names
    pred, conf = result.predictions, result.confidences
    path = plots.plot_predictions(images[idx], labels[idx], pred, conf, names, args.out, indices=idx.tolist(),
                                  suptitle=f"{what}: images {idx[0]}..{idx[-1]} (true->predicted)")
    for i, p, c in zip(idx, pred, conf):
        mark = "" if p == labels[i] else "   <-- wrong"
        print(f"#{i:<6} true {names[labels[i]]:<12} predicted {names[p]:<12} ({100 * c:5.1f}%){mark}")
    print(f"accuracy on these {len(idx)}: {_pct(result.accuracy)}; grid saved to {path}")
    window = not args.no_window and plots.display_available()
    if args.one_by_one:
        for k, i in enumerate(idx):
            print(f"\n#{i}: true {names[labels[i]]}, predicted {names[pred[k]]} ({100 * conf[k]:.1f}%)")
            print(ascii_image(images[i]))
            if window:
                single = Path(args.out).with_name(f"{Path(args.out).stem}-{i}.png")
                plots.plot_predictions(images[i : i + 1], labels[i : i + 1], pred[k : k + 1], conf[k : k + 1], names,
                                       single, indices=[int(i)], ncols=1)
                plots.show_png(single, f"#{i}")
    elif window:
        plots.show_png(path, "mnist show")
    return 0


# ---------------------------------------------------------------------- shell
def cmd_shell(args: argparse.Namespace) -> int:
    from .shell import run_shell

    return run_shell(args)


# ---------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    """Entry point of ``python -m mnist``; returns the exit status."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    args = parser.parse_args(argv)
    args.argv = argv
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    except (ValueError, OSError, KeyError) as e:
        if os.environ.get("MNIST_DEBUG"):
            raise
        message = e.args[0] if isinstance(e, KeyError) and e.args else e
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
