"""Command line interface: ``python -m mnist {train,eval,predict,show,shell} ...``.

Run ``python -m mnist COMMAND --help`` for the options of each command; docs/mnist.md
has the full reference and measured results. This module builds the parser and dispatches;
the commands live in :mod:`mnist.commands` and :mod:`mnist.shell`, the shared options in
:mod:`mnist.options`.
"""
from __future__ import annotations

import argparse
import os
import sys

from .commands.common import PROG
from .commands.evaluate import cmd_eval
from .commands.predict import cmd_predict
from .commands.show import cmd_show
from .commands.train import cmd_train
from .options import (
    SHELL_DEFAULTS, add_data_options, add_threads_option, add_train_options, nonnegative_int, positive_int,
)
from .shell import cmd_shell

__all__ = ["build_parser", "main"]

SPLITS = ("test", "val", "train", "all")


def build_parser() -> argparse.ArgumentParser:
    """The parser of ``python -m mnist``."""
    parser = argparse.ArgumentParser(
        prog=PROG, description="Train and use MLP and CNN classifiers for MNIST-like data with tinygrad_np.",
        epilog="Run '%(prog)s COMMAND --help' for the options of a command.")
    add_threads_option(parser)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("train", help="train a model and write a run directory",
                       description="Train an MLP or a CNN; writes checkpoint, history, summary and plots to the run "
                                   "directory.")
    add_train_options(p)
    g = p.add_argument_group("run")
    g.add_argument("--out", metavar="RUN_DIR", help="run directory (default: runs/<dataset>-<date>-<time>)")
    g.add_argument("--resume", metavar="RUN_DIR", help="continue the run in RUN_DIR from its last checkpoint")
    g.add_argument("--stop-after", type=positive_int, metavar="N",
                   help="stop after N epochs of this invocation (as if interrupted; continue with --resume)")
    g.add_argument("--no-progress", action="store_true",
                   help="no progress bar (also off when stdout is not a terminal)")
    g.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    add_threads_option(g, suppress=True)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser("eval", help="accuracy, per-class precision/recall and confusion matrix",
                       description="Evaluate a checkpoint on a data split, or on a whole labelled file (--split all).")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint .npz or run directory")
    add_data_options(p)
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="(default: test; all = every image of a CSV file or image folder, in file order)")
    p.add_argument("--json", metavar="FILE", help="also write the metrics as JSON")
    add_threads_option(p, suppress=True)
    p.set_defaults(func=cmd_eval)

    p = sub.add_parser("predict", help="classify IDX, CSV or image files",
                       description="Predict labels for a CSV file (writes a Kaggle ImageId,Label CSV), an IDX images "
                                   "file, or PNG/JPG files and folders (prints label and confidence per file).")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint .npz or run directory")
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="a .csv file, an IDX images file, or image files/folders")
    p.add_argument("--out", metavar="FILE", help="write predictions as CSV (default for CSV input: predictions.csv)")
    p.add_argument("--labels", metavar="IDX", help="IDX labels file for IDX input (prints the accuracy)")
    p.add_argument("--invert", choices=("auto", "yes", "no"), default="auto",
                   help="invert image files (auto: when an image's background is light and the model's training "
                        "images had dark ones, or the other way round)")
    p.add_argument("--limit", type=nonnegative_int, default=20, metavar="N",
                   help="print at most N predictions for CSV/IDX input (default: 20)")
    add_threads_option(p, suppress=True)
    p.set_defaults(func=cmd_predict)

    p = sub.add_parser("show", help="save (and display) a grid of images with predictions",
                       description="Images from a data split with true (when known) and predicted labels; saved as "
                                   "PNG and opened in a window when a display is available. #N is the image's "
                                   "position in its file.")
    p.add_argument("--checkpoint", required=True, metavar="PATH", help="checkpoint .npz or run directory")
    add_data_options(p)
    p.add_argument("--split", choices=SPLITS, default="test",
                   help="(default: test; all = every image of a CSV file or image folder; an unlabelled CSV is "
                        "always shown whole)")
    p.add_argument("--start", type=nonnegative_int, default=0, metavar="N",
                   help="first image of the split (default: 0)")
    p.add_argument("--count", type=positive_int, default=30, metavar="K", help="number of images (default: 30)")
    p.add_argument("--out", default="show.png", metavar="FILE", help="PNG file (default: show.png)")
    p.add_argument("--one-by-one", action="store_true",
                   help="also go through the images one at a time (text rendering; waits for Enter in a terminal; "
                        "a window each with a display)")
    p.add_argument("--no-window", action="store_true", help="never open a window")
    add_threads_option(p, suppress=True)
    p.set_defaults(func=cmd_show)

    p = sub.add_parser("shell", help="interactive session (reads commands from stdin)",
                       description="Load the data once, then train/test/tune interactively. Commands are read one "
                                   "per line from stdin, so the shell can be scripted with a pipe. Type 'help'. "
                                   "The defaults below are the shell's: a new model has no schedule and no planned "
                                   "epochs ('train N' trains N more).")
    p.add_argument("--checkpoint", metavar="PATH",
                   help="start from this checkpoint (else: a new model from the options); hyperparameters given "
                        "with it (--lr, --batch-size, --optimizer, ...) are applied")
    add_train_options(p, SHELL_DEFAULTS)
    p.add_argument("--out", metavar="DIR", help="where 'save' and plots go (default: runs/shell-<date>-<time>)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_threads_option(p, suppress=True)
    p.set_defaults(func=cmd_shell)
    return parser


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
    except (ValueError, OSError, KeyError, MemoryError) as e:
        if os.environ.get("MNIST_DEBUG"):
            raise
        message = e.args[0] if isinstance(e, KeyError) and e.args else (e or type(e).__name__)
        print(f"{PROG} {args.command}: error: {message}", file=sys.stderr)
        return 2
