"""``python -m mnist shell``: an interactive session around one :class:`~mnist.train.Trainer`.

The data are loaded once; then commands are read one per line from stdin (a terminal or a
pipe -- no readline needed), e.g.::

    printf 'train 2\\ntest\\nset lr 0.0005\\ntrain 1\\nmisclassified\\nsave\\nquit\\n' | python -m mnist shell

Type ``help`` for the commands. A failing command prints ``error: ...`` and the session
goes on; when reading from a pipe the exit status is 1 if any command failed.
"""
from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

import numpy as np

from .train import OPTIMIZERS, SCHEDULES, Trainer

__all__ = ["Shell", "run_shell"]

SETTABLE = {
    "lr": "learning rate (the schedule continues from the current epoch)",
    "batch_size": "minibatch size",
    "optimizer": f"one of {', '.join(OPTIMIZERS)} (fresh optimizer state)",
    "momentum": "momentum of --optimizer momentum",
    "weight_decay": "weight decay (rebuilds the optimizer)",
    "schedule": f"one of {', '.join(SCHEDULES)}",
    "loss": "ce or mse",
    "augment": "on or off",
}


class Shell:
    """Reads commands from ``stdin`` and writes results to ``stdout``."""

    def __init__(self, trainer: Trainer, out_dir: Path, *, stdin: IO[str] | None = None,
                 stdout: IO[str] | None = None, interactive: bool | None = None) -> None:
        self.trainer = trainer
        self.out_dir = Path(out_dir)
        self.stdin = stdin or sys.stdin
        self.stdout = stdout or sys.stdout
        self.interactive = self.stdin.isatty() if interactive is None else interactive
        self.failed = False
        self.commands: dict[str, tuple[Callable[[list[str]], bool | None], str, str]] = {
            "help": (self.do_help, "[COMMAND]", "list the commands, or explain one"),
            "train": (self.do_train, "[N]", "train N more epochs (default 1)"),
            "test": (self.do_test, "", "loss and accuracy on the test set"),
            "val": (self.do_val, "", "loss and accuracy on the validation set"),
            "report": (self.do_report, "[test|val]", "per-class precision/recall and the confusion matrix"),
            "set": (self.do_set, "KEY VALUE", "change a hyperparameter: " + ", ".join(SETTABLE)),
            "config": (self.do_config, "", "show the current settings"),
            "history": (self.do_history, "", "per-epoch metrics so far"),
            "reshuffle": (self.do_reshuffle, "[SEED]", "re-seed the shuffling of the training data"),
            "reload": (self.do_reload, "[DATASET]", "reload the data from disk (optionally another data set)"),
            "misclassified": (self.do_misclassified, "[K] [FILE]", "save a grid of up to K (40) misclassified test images"),
            "show": (self.do_show, "[START] [COUNT] [FILE]", "save a grid of test images with predictions"),
            "save": (self.do_save, "[PATH]", "save a checkpoint (default: OUT/checkpoint.npz)"),
            "quit": (self.do_quit, "", "leave (also: exit, Ctrl-D)"),
        }
        self.aliases = {"exit": "quit", "q": "quit", "?": "help", "eval": "test"}

    # ------------------------------------------------------------------ loop
    def print(self, *parts: Any) -> None:
        print(*parts, file=self.stdout, flush=True)

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
            self.print("type 'help' for the commands, 'quit' to leave")
        while True:
            try:
                line = self._read()
            except KeyboardInterrupt:
                self.print("\n(interrupted; type 'quit' to leave)")
                continue
            if line is None:
                break
            if not self.execute(line):
                break
        return 1 if self.failed and not self.interactive else 0

    def execute(self, line: str) -> bool:
        """Run one command line; False means "leave the shell"."""
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
        except (ValueError, OSError, KeyError, TypeError, IndexError) as e:
            return self._error(str(e.args[0]) if isinstance(e, KeyError) and e.args else str(e))

    def _error(self, message: str) -> bool:
        self.failed = True
        self.print(f"error: {message}")
        return True

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
        n = int(args[0]) if args else 1
        if n < 1:
            raise ValueError("train N needs N >= 1")
        t = self.trainer
        target = t.epoch + n
        if target > t.config.epochs:  # extend the run; a schedule is re-planned over the new length
            t.config.epochs = target
            t._rebuild_scheduler()
        for _ in range(n):
            t.train_epoch()
        t.stopped_early = False  # early stopping does not apply to interactive training

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
        from .metrics import classification_report, format_confusion, format_per_class

        split = args[0] if args else "test"
        x, y, _ = self.trainer.data.split(split)
        r = self.trainer.evaluate(x, y)
        rep = classification_report(y, r.predictions, self.trainer.data.class_names)
        self.print(f"{split}: accuracy {100 * rep['accuracy']:.2f}%")
        self.print(format_per_class(rep))
        self.print(format_confusion(np.asarray(rep["confusion_matrix"]), self.trainer.data.class_names))

    def do_set(self, args: list[str]) -> None:
        if len(args) != 2:
            raise ValueError("usage: set KEY VALUE (keys: " + ", ".join(SETTABLE) + ")")
        key, value = args[0].lower().replace("-", "_"), args[1]
        t = self.trainer
        if key == "lr":
            t.set_lr(float(value))
        elif key in ("batch_size", "batch"):
            t.set_batch_size(int(value))
        elif key == "optimizer":
            if value not in OPTIMIZERS:
                raise ValueError(f"optimizer must be one of {', '.join(OPTIMIZERS)}")
            t.set_optimizer(value)
            key = "optimizer (lr)"
        elif key in ("momentum", "weight_decay"):
            setattr(t.config, key, float(value))
            t.set_optimizer(t.config.optimizer, t.config.lr)
        elif key == "schedule":
            t.set_schedule(value)
        elif key == "loss":
            if value not in ("ce", "mse"):
                raise ValueError("loss must be ce or mse")
            t.config.loss = value
        elif key == "augment":
            if value.lower() not in ("on", "off", "true", "false", "1", "0", "yes", "no"):
                raise ValueError("augment must be on or off")
            t.config.augment = value.lower() in ("on", "true", "1", "yes")
        else:
            raise ValueError(f"cannot set {args[0]!r}; settable: {', '.join(SETTABLE)}")
        self.print(f"{key} = {self._setting(key)}")

    def _setting(self, key: str) -> Any:
        c = self.trainer.config
        return {"lr": self._lr_text(), "batch": c.batch_size,
                "weight_decay": c.decay, "optimizer (lr)": f"{c.optimizer} ({self.trainer.optimizer.lr:g})",
                }.get(key, getattr(c, key, None))

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
        self.print(f"model: MLP {'-'.join(map(str, t.model.sizes))} {c.activation}, dropout {c.dropout:g}, {c.dtype}")
        self.print(f"optimizer: {c.optimizer}, lr {t.optimizer.lr:g} (base {c.learning_rate:g}), momentum "
                   f"{c.momentum:g}, weight decay {c.decay:g}; schedule {c.schedule}; batch size {c.batch_size}")
        self.print(f"loss {c.loss}; augment {'on' if c.augment else 'off'}; epochs done {t.epoch}; output folder {self.out_dir}")

    def do_history(self, args: list[str]) -> None:
        if not self.trainer.history:
            self.print("(no epochs yet)")
        for row in self.trainer.history:
            self.print(self.trainer._summary_line(row))

    def do_reshuffle(self, args: list[str]) -> None:
        seed = int(args[0]) if args else None
        self.trainer.loader.rng = np.random.default_rng(seed)
        self.print(f"training data will be shuffled with a new generator (seed {seed if seed is not None else 'random'})")

    def do_reload(self, args: list[str]) -> None:
        from .train import load_data

        t = self.trainer
        if args:
            t.config.dataset = args[0]
            t.config.data_dir = args[1] if len(args) > 1 else None
        data = load_data(t.config, t.data.stats)
        t.set_data(data)
        self.print(f"reloaded {data.name}: {len(data.x_train):,} train / {len(data.x_val):,} val / "
                   f"{len(data.x_test):,} test images from {data.source}")

    def do_misclassified(self, args: list[str]) -> None:
        from .plots import plot_predictions

        k = int(args[0]) if args else 40
        path = Path(args[1]) if len(args) > 1 else self.out_dir / f"misclassified-epoch{self.trainer.epoch}.png"
        d = self.trainer.data
        r = self.trainer.evaluate(d.x_test, d.y_test)
        wrong = np.flatnonzero(r.predictions != d.y_test)
        pick = wrong[np.argsort(-r.confidences[wrong], kind="stable")][:k]
        plot_predictions(d.test_images[pick], d.y_test[pick], r.predictions[pick], r.confidences[pick], d.class_names,
                         path, indices=pick.tolist(),
                         suptitle=f"{len(wrong)} misclassified test images (most confident first)")
        self.print(f"{len(wrong):,} of {len(d.y_test):,} test images misclassified; saved {len(pick)} to {path}")

    def do_show(self, args: list[str]) -> None:
        from .plots import plot_predictions

        start = int(args[0]) if args else 0
        count = int(args[1]) if len(args) > 1 else 30
        path = Path(args[2]) if len(args) > 2 else self.out_dir / f"show-{start}.png"
        d = self.trainer.data
        idx = np.arange(start, min(start + count, len(d.y_test)))
        if len(idx) == 0:
            raise ValueError(f"start {start} is beyond the {len(d.y_test)} test images")
        r = self.trainer.evaluate(d.x_test[idx], d.y_test[idx])
        plot_predictions(d.test_images[idx], d.y_test[idx], r.predictions, r.confidences, d.class_names, path,
                         indices=idx.tolist())
        self.print(f"test images {idx[0]}..{idx[-1]}: accuracy {100 * r.accuracy:.1f}%; saved to {path}")

    def do_save(self, args: list[str]) -> None:
        from .report import write_history

        path = Path(args[0]) if args else self.out_dir / "checkpoint.npz"
        self.trainer.save(path)
        if not args:
            write_history(self.out_dir, self.trainer.history)
        self.print(f"saved checkpoint (epoch {self.trainer.epoch}) to {path}")

    def do_quit(self, args: list[str]) -> bool:
        return False


def run_shell(args: argparse.Namespace) -> int:
    """Build the trainer from ``--checkpoint`` or the train options, then run the shell."""
    import datetime as dt

    from .checkpoint import load_checkpoint
    from .cli import config_from_args
    from .train import TrainConfig, load_data, stats_from_meta, trainer_from_checkpoint

    progress = not args.no_progress and sys.stdout.isatty()
    if args.checkpoint:
        ckpt = load_checkpoint(args.checkpoint)
        config = config_from_args(args, TrainConfig.from_dict(ckpt.meta["config"]))
        data = load_data(config, stats_from_meta(ckpt.meta))
        trainer = trainer_from_checkpoint(ckpt, data, progress=progress)
        trainer.config = config
        origin = f"checkpoint {ckpt.path} (epoch {trainer.epoch})"
    else:
        base = TrainConfig(schedule="none", epochs=0)  # open-ended training: no schedule unless asked for
        config = config_from_args(args, base)
        data = load_data(config)
        trainer = Trainer(config, data, progress=progress)
        origin = f"a new model (MLP {'-'.join(map(str, trainer.model.sizes))})"
    out_dir = Path(args.out) if args.out else Path("runs") / f"shell-{dt.datetime.now():%Y%m%d-%H%M%S}"
    out_dir.mkdir(parents=True, exist_ok=True)
    print(f"loaded {data.name}: {len(data.x_train):,} train / {len(data.x_val):,} val / {len(data.x_test):,} test "
          f"images; starting from {origin}; output folder {out_dir}", flush=True)
    return Shell(trainer, out_dir).run()
