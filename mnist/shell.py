"""``python -m mnist shell``: an interactive session around one :class:`~mnist.trainer.Trainer`.

The data are loaded once; then commands are read one per line from stdin -- a terminal (with
readline line editing, history and tab completion) or a pipe -- e.g.::

    printf 'train 2\\ntest\\nset lr 0.0005\\ntrain 1\\nmisclassified\\nsave\\nquit\\n' | python -m mnist shell

Type ``help`` for the commands. A failing command -- whatever went wrong, also running out of
memory -- prints ``error: ...`` and the session goes on; when reading from a pipe the exit status
is 1 if any command failed. ``set`` validates a value before it is stored. Ctrl-C during
``train`` rolls the model back to the end of the last finished epoch. Leaving with training or
settings that were not saved asks first (in a terminal) or warns (from a pipe).
"""
from __future__ import annotations

import argparse
import datetime as dt
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .config import OPTIMIZERS, SCHEDULES, TrainConfig
from .dataset import load_data
from .metrics import classification_report, format_confusion, format_per_class
from .options import SHELL_DEFAULTS, config_from_args, explicit_options
from .report import write_history
from .resume import SHELL_RESUME_OPTIONS, resume, save_trainer
from .trainer import Trainer

__all__ = ["SETTABLE", "Shell", "cmd_shell", "run_shell"]

SETTABLE = {
    "lr": "learning rate > 0 (the schedule continues from the current epoch)",
    "batch_size": "minibatch size >= 1",
    "optimizer": f"one of {', '.join(OPTIMIZERS)} (fresh optimizer state)",
    "momentum": "momentum of --optimizer momentum, in [0, 1) (fresh optimizer state)",
    "weight_decay": "weight decay >= 0 (fresh optimizer state)",
    "schedule": f"one of {', '.join(SCHEDULES)}",
    "loss": "ce or mse",
    "augment": "on or off",
}
_ON, _OFF = ("on", "true", "1", "yes"), ("off", "false", "0", "no")


def _int_arg(text: str, what: str, minimum: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"{what} must be an integer, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"{what} must be >= {minimum}, got {value}")
    return value


def _float_arg(text: str, what: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{what} must be a number, got {text!r}") from None
    if not math.isfinite(value):
        raise ValueError(f"{what} must be a finite number, got {text}")
    return value


class Shell:
    """Reads commands from ``stdin`` and writes results to ``stdout``."""

    def __init__(self, trainer: Trainer, out_dir: Path, *, stdin: IO[str] | None = None,
                 stdout: IO[str] | None = None, interactive: bool | None = None,
                 ask: Callable[[str], str] | None = None) -> None:
        self.trainer = trainer
        self.out_dir = Path(out_dir)
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        self.ask = ask or input
        self.failed = False
        self.unsaved: list[str] = []  # what happened since the last save
        self.commands: dict[str, tuple[Callable[[list[str]], bool | None], str, str]] = {
            "help": (self.do_help, "[COMMAND]", "list the commands, or explain one"),
            "train": (self.do_train, "[N]", "train N more epochs (default 1); then rewrites OUT/curves.png"),
            "test": (self.do_test, "", "loss and accuracy on the test set"),
            "val": (self.do_val, "", "loss and accuracy on the validation set"),
            "report": (self.do_report, "[test|val]", "per-class precision/recall and the confusion matrix"),
            "set": (self.do_set, "KEY VALUE", "change a hyperparameter: " + ", ".join(SETTABLE)),
            "config": (self.do_config, "", "show the current settings"),
            "history": (self.do_history, "", "per-epoch metrics so far"),
            "curves": (self.do_curves, "[FILE]",
                       "save (and show) the loss and accuracy curves (default OUT/curves.png)"),
            "reshuffle": (self.do_reshuffle, "[SEED]", "re-seed the shuffling of the training data"),
            "reload": (self.do_reload, "[DATASET [DIR]]", "reload the data from disk (optionally another data set)"),
            "misclassified": (self.do_misclassified, "[K] [FILE]",
                              "save a grid of up to K (40) misclassified test images"),
            "show": (self.do_show, "[START] [COUNT] [FILE]", "save a grid of test images with predictions"),
            "save": (self.do_save, "[PATH]", "save a checkpoint (default: OUT/checkpoint.npz)"),
            "quit": (self.do_quit, "", "leave (also: exit, Ctrl-D); asks first if there is unsaved training"),
        }
        self.aliases = {"exit": "quit", "q": "quit", "?": "help", "eval": "test"}

    # ------------------------------------------------------------------ loop
    def print(self, *parts: Any) -> None:
        print(*parts, file=self.stdout, flush=True)

    def setup_readline(self) -> bool:
        """Line editing, history and tab completion of commands and ``set`` keys (terminals only)."""
        try:
            import readline
        except ImportError:  # pragma: no cover - e.g. Windows without pyreadline
            return False
        words = sorted([*self.commands, *self.aliases])

        def complete(text: str, state: int) -> str | None:
            line = readline.get_line_buffer().lstrip()
            pool = list(SETTABLE) if line.startswith("set ") else words
            matches = [w + " " for w in pool if w.startswith(text)]
            return matches[state] if state < len(matches) else None

        readline.set_completer(complete)
        readline.set_completer_delims(" \t")
        readline.parse_and_bind("tab: complete")
        return True

    def _read(self) -> str | None:
        if self.interactive:
            try:
                return input("mnist> ")
            except EOFError:
                self.print()
                return None
        line = self.stdin.readline()
        return None if line == "" else line

    def run(self) -> int:
        """Process commands until ``quit`` or end of input; returns the exit status."""
        if self.interactive:
            self.setup_readline()
            self.print("type 'help' for the commands, 'quit' to leave")
        while True:
            try:
                line = self._read()
            except KeyboardInterrupt:
                self.print("\n(interrupted; type 'quit' to leave)")
                continue
            if line is None:
                if self._may_leave():
                    break
                continue
            if not self.execute(line):
                break
        return 1 if self.failed and not self.interactive else 0

    def execute(self, line: str) -> bool:
        """Run one command line; False means "leave the shell". No exception escapes."""
        line = line.strip()
        if not line or line.startswith("#"):
            return True
        if not self.interactive:
            self.print(f"mnist> {line}")
        try:
            words = shlex.split(line)
        except ValueError as e:
            return self._error(str(e))
        name, args = words[0].lower(), words[1:]
        name = self.aliases.get(name, name)
        if name not in self.commands:
            return self._error(f"unknown command {words[0]!r}; type 'help'")
        try:
            return self.commands[name][0](args) is not False
        except KeyboardInterrupt:
            self.print("(interrupted)")
            return True
        except MemoryError:
            return self._error("out of memory (try a smaller batch size, model or data set)")
        except Exception as e:  # noqa: BLE001 - the shell keeps the user's work whatever happened
            text = str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e)
            return self._error(text or type(e).__name__)

    def _error(self, message: str) -> bool:
        self.failed = True
        self.print(f"error: {message}")
        return True

    def _may_leave(self) -> bool:
        """True if the shell may end now: nothing unsaved, or the user agreed (or, from a pipe, was warned)."""
        if not self.unsaved:
            return True
        what = ", ".join(self.unsaved)
        target = self.out_dir / "checkpoint.npz"
        if not self.interactive:
            print(f"warning: not saved since the last save: {what} (a 'save' before 'quit' keeps them)",
                  file=sys.stderr, flush=True)
            return True
        while True:
            try:
                answer = self.ask(f"not saved: {what}. Save to {target} before leaving? [y]es/[n]o/[c]ancel ")
            except (EOFError, KeyboardInterrupt):
                self.print()
                answer = "c"
            answer = answer.strip().lower()[:1]
            if answer == "y":
                self.do_save([])
                return True
            if answer == "n":
                return True
            if answer == "c":
                return False

    # ------------------------------------------------------------------ commands
    def do_help(self, args: list[str]) -> None:
        if args:
            name = self.aliases.get(args[0], args[0])
            if name not in self.commands:
                raise ValueError(f"unknown command {args[0]!r}")
            _, usage, text = self.commands[name]
            self.print(f"{name} {usage}".rstrip() + f"\n    {text}")
            if name == "set":
                for key, what in SETTABLE.items():
                    self.print(f"    {key:<13} {what}")
            return
        width = max(len(f"{n} {u}") for n, (_, u, _) in self.commands.items())
        for name, (_, usage, text) in self.commands.items():
            self.print(f"  {f'{name} {usage}'.rstrip():<{width}}  {text}")

    def do_train(self, args: list[str]) -> None:
        n = _int_arg(args[0], "train N", 1) if args else 1
        t = self.trainer
        target = t.epoch + n
        if target > t.config.epochs:  # extend the run; a schedule is re-planned over the new length
            t.set_epochs(target)
        done = 0
        try:
            for _ in range(n):
                t.train_epoch()
                done += 1
                self.unsaved.append(f"epoch {t.epoch}")
        except KeyboardInterrupt:
            self.print(f"(interrupted during epoch {t.epoch + 1}: the model is as it was after epoch {t.epoch})")
        finally:
            t.stopped_early = False  # early stopping does not apply to interactive training
            if done:
                self._write_curves(self.out_dir / "curves.png")

    def _write_curves(self, path: Path) -> Path | None:
        from .plots import plot_curves

        if not self.trainer.history:
            return None
        return plot_curves(self.trainer.history, path)

    def do_curves(self, args: list[str]) -> None:
        from .plots import display_available, show_png

        path = self._write_curves(Path(args[0]) if args else self.out_dir / "curves.png")
        if path is None:
            raise ValueError("no epochs yet: 'train N' first")
        self.print(f"loss and accuracy curves of {len(self.trainer.history)} epochs saved to {path}")
        if display_available():
            show_png(path, "mnist curves")

    def _evaluate(self, split: str) -> None:
        x, y, _ = self.trainer.data.split(split)
        if len(y) == 0:
            raise ValueError(f"the {split} split is empty")
        r = self.trainer.evaluate(x, y)
        correct = int(np.sum(r.predictions == y))
        self.print(f"{split}: accuracy {100 * r.accuracy:.2f}% ({correct:,}/{len(y):,}), loss {r.loss:.4f} "
                   f"(after {self.trainer.epoch} epochs)")

    def do_test(self, args: list[str]) -> None:
        self._evaluate("test")

    def do_val(self, args: list[str]) -> None:
        self._evaluate("val")

    def do_report(self, args: list[str]) -> None:
        split = args[0] if args else "test"
        x, y, _ = self.trainer.data.split(split)
        if len(y) == 0:
            raise ValueError(f"the {split} split is empty")
        r = self.trainer.evaluate(x, y)
        rep = classification_report(y, r.predictions, self.trainer.data.class_names)
        self.print(f"{split}: accuracy {100 * rep['accuracy']:.2f}%")
        self.print(format_per_class(rep))
        self.print(format_confusion(np.asarray(rep["confusion_matrix"]), self.trainer.data.class_names))

    def do_set(self, args: list[str]) -> None:
        if len(args) != 2:
            raise ValueError("usage: set KEY VALUE (keys: " + ", ".join(SETTABLE) + ")")
        key, value = args[0].lower().replace("-", "_"), args[1]
        key = "batch_size" if key == "batch" else key
        t = self.trainer
        if key == "lr":
            t.set_lr(_float_arg(value, "lr"))
        elif key == "batch_size":
            t.set_batch_size(_int_arg(value, "batch_size", 1))
        elif key == "optimizer":
            if value not in OPTIMIZERS:
                raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}, got {value!r}")
            t.set_optimizer(value)
        elif key in ("momentum", "weight_decay"):
            t.set_hyperparameter(key, _float_arg(value, key))
        elif key == "schedule":
            if value not in SCHEDULES:
                raise ValueError(f"schedule must be one of {', '.join(SCHEDULES)}, got {value!r}")
            t.set_schedule(value)
        elif key == "loss":
            t.update_config(loss=value)
        elif key == "augment":
            if value.lower() not in _ON + _OFF:
                raise ValueError(f"augment must be on or off, got {value!r}")
            t.update_config(augment=value.lower() in _ON)
        else:
            raise ValueError(f"cannot set {args[0]!r}; settable: {', '.join(SETTABLE)}")
        self.unsaved.append(f"set {key}")
        self.print(f"{key} = {self._setting(key)}")

    def _setting(self, key: str) -> Any:
        c = self.trainer.config
        return {"lr": self._lr_text(), "weight_decay": c.decay,
                "optimizer": f"{c.optimizer} (lr {self.trainer.optimizer.lr:g})",
                "augment": "on" if c.augment else "off"}.get(key, getattr(c, key, None))

    def _lr_text(self) -> str:
        """The optimizer's lr now and the base lr; when a schedule makes them differ, why."""
        t, c = self.trainer, self.trainer.config
        now, base = t.optimizer.lr, c.learning_rate
        text = f"{now:g} (base {base:g})"
        if t.scheduler is not None and now != base:
            text += f": the {c.schedule} schedule sets the lr per epoch, now at epoch {t.epoch} of {c.epochs}"
            if t.epoch >= c.epochs:
                text += "; it has run out, and `train N` re-plans it from the base over the longer run"
        return text

    def do_config(self, args: list[str]) -> None:
        t, c = self.trainer, self.trainer.config
        self.print(f"data: {t.data.name} ({len(t.data.x_train):,} train / {len(t.data.x_val):,} val / "
                   f"{len(t.data.x_test):,} test) from {t.data.source}")
        self.print(f"model: {t.model.describe()}, dropout {c.dropout:g}, {c.dtype}")
        self.print(f"optimizer: {c.optimizer}, lr {t.optimizer.lr:g} (base {c.learning_rate:g}), momentum "
                   f"{c.momentum:g}, weight decay {c.decay:g}; schedule {c.schedule}; batch size {c.batch_size}")
        self.print(f"loss {c.loss}; augment {'on' if c.augment else 'off'}; epochs done {t.epoch}; "
                   f"output folder {self.out_dir}")

    def do_history(self, args: list[str]) -> None:
        if not self.trainer.history:
            self.print("(no epochs yet)")
        for row in self.trainer.history:
            self.print(self.trainer.summary_line(row))

    def do_reshuffle(self, args: list[str]) -> None:
        seed = _int_arg(args[0], "SEED", 0) if args else None
        self.trainer.loader.rng = np.random.default_rng(seed)
        self.unsaved.append("reshuffle")
        shown = seed if seed is not None else "random"
        self.print(f"training data will be shuffled with a new generator (seed {shown})")

    def do_reload(self, args: list[str]) -> None:
        t = self.trainer
        config = t.config
        if args:
            config = config.updated(dataset=args[0], data_dir=args[1] if len(args) > 1 else None)
        data = load_data(config, t.data.stats)
        t.set_data(data)
        t.config = config
        self.print(f"reloaded {data.name}: {len(data.x_train):,} train / {len(data.x_val):,} val / "
                   f"{len(data.x_test):,} test images from {data.source}")

    def do_misclassified(self, args: list[str]) -> None:
        from .plots import plot_predictions

        k = _int_arg(args[0], "K", 1) if args else 40
        path = Path(args[1]) if len(args) > 1 else self.out_dir / f"misclassified-epoch{self.trainer.epoch}.png"
        d = self.trainer.data
        r = self.trainer.evaluate(d.x_test, d.y_test)
        wrong = np.flatnonzero(r.predictions != d.y_test)
        pick = wrong[np.argsort(-r.confidences[wrong], kind="stable")][:k]
        plot_predictions(d.test_images[pick], d.y_test[pick], r.predictions[pick], r.confidences[pick], d.class_names,
                         path, indices=d.rows("test")[pick].tolist(),
                         suptitle=f"{len(wrong)} misclassified test images (most confident first)")
        self.print(f"{len(wrong):,} of {len(d.y_test):,} test images misclassified; saved {len(pick)} to {path}")

    def do_show(self, args: list[str]) -> None:
        from .plots import plot_predictions

        start = _int_arg(args[0], "START", 0) if args else 0
        count = _int_arg(args[1], "COUNT", 1) if len(args) > 1 else 30
        path = Path(args[2]) if len(args) > 2 else self.out_dir / f"show-{start}.png"
        d = self.trainer.data
        idx = np.arange(start, min(start + count, len(d.y_test)))
        if len(idx) == 0:
            raise ValueError(f"START {start} is beyond the {len(d.y_test)} test images")
        r = self.trainer.evaluate(d.x_test[idx], d.y_test[idx])
        plot_predictions(d.test_images[idx], d.y_test[idx], r.predictions, r.confidences, d.class_names, path,
                         indices=d.rows("test")[idx].tolist())
        self.print(f"test images {idx[0]}..{idx[-1]}: accuracy {100 * r.accuracy:.1f}%; saved to {path}")

    def do_save(self, args: list[str]) -> None:
        path = Path(args[0]) if args else self.out_dir / "checkpoint.npz"
        save_trainer(self.trainer, path)
        if not args:
            write_history(self.out_dir, self.trainer.history)
        self.unsaved.clear()
        self.print(f"saved checkpoint (epoch {self.trainer.epoch}) to {path}")

    def do_quit(self, args: list[str]) -> bool:
        return not self._may_leave()


def build_trainer(args: argparse.Namespace) -> tuple[Trainer, str]:
    """The shell's trainer from ``--checkpoint`` (with the given hyperparameters applied) or the
    train options, and a description of where it came from."""
    progress = not args.no_progress and sys.stdout.isatty()
    if args.checkpoint:
        trainer = resume(args.checkpoint, explicit_options(args), allowed=SHELL_RESUME_OPTIONS, progress=progress)
        return trainer, f"checkpoint {args.checkpoint} (epoch {trainer.epoch})"
    config: TrainConfig = config_from_args(args, SHELL_DEFAULTS)
    trainer = Trainer(config, load_data(config), progress=progress)
    return trainer, f"a new model ({trainer.model.describe()})"


def run_shell(args: argparse.Namespace) -> int:
    """Build the trainer, then run the shell; returns the exit status."""
    trainer, origin = build_trainer(args)
    out_dir = Path(args.out) if args.out else Path("runs") / f"shell-{dt.datetime.now():%Y%m%d-%H%M%S}"
    out_dir.mkdir(parents=True, exist_ok=True)
    d = trainer.data
    print(f"loaded {d.name}: {len(d.x_train):,} train / {len(d.x_val):,} val / {len(d.x_test):,} test "
          f"images; starting from {origin}; output folder {out_dir}", flush=True)
    c = trainer.config
    print(f"settings: {c.optimizer} lr {trainer.optimizer.lr:g}, batch {c.batch_size}, schedule {c.schedule}, "
          f"loss {c.loss}, augment {'on' if c.augment else 'off'}", flush=True)
    return Shell(trainer, out_dir).run()


def cmd_shell(args: argparse.Namespace) -> int:
    """``python -m mnist shell``."""
    return run_shell(args)
