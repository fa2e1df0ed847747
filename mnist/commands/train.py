"""``python -m mnist train``: train a model (or continue one) and write its run directory."""
from __future__ import annotations

import argparse
import datetime as _dt
import shlex
import sys
import time
from pathlib import Path
from typing import Any

from ..checkpoint import CheckpointError, load_checkpoint
from ..config import TrainConfig
from ..dataset import load_data
from ..options import config_from_args, explicit_options
from ..report import PLOTS, write_history, write_json, write_plots
from ..resume import RESUME_OPTIONS, resume, save_trainer
from ..trainer import Trainer, TrainingDiverged
from .common import PROG, command_line, pct, progress_enabled

__all__ = ["cmd_train"]


def _default_run_dir(config: TrainConfig) -> Path:
    name = Path(config.dataset).stem or "data"
    return Path("runs") / f"{name}-{_dt.datetime.now():%Y%m%d-%H%M%S}"


def _checkpoint_path(run: str) -> Path:
    path = Path(run)
    return path / "checkpoint.npz" if path.is_dir() or not path.suffix else path


def cmd_train(args: argparse.Namespace) -> int:
    """Train (``--resume``: continue) a run; returns the exit status."""
    t_start = time.perf_counter()
    command = command_line(args.argv)
    progress = progress_enabled(args)
    if args.resume:
        ckpt = load_checkpoint(_checkpoint_path(args.resume))
        run_dir = ckpt.path.parent
        if args.out and Path(args.out).resolve() != run_dir.resolve():
            raise ValueError(f"--out {args.out} with --resume {args.resume}: a resumed run stays in {run_dir}")
        trainer = resume(ckpt, explicit_options(args), allowed=RESUME_OPTIONS, progress=progress)
        commands = trainer.extra_meta.get("commands", []) + [command]
        print(f"resuming {run_dir} after epoch {trainer.epoch} of {trainer.config.epochs}")
    else:
        config = config_from_args(args)
        run_dir = Path(args.out) if args.out else _default_run_dir(config)
        if (run_dir / "checkpoint.npz").exists():
            raise ValueError(f"{run_dir} already holds a run (checkpoint.npz); continue it with --resume {run_dir} "
                             "or choose another --out")
        data = load_data(config)
        trainer = Trainer(config, data, progress=progress)
        commands = [command]
    run_dir.mkdir(parents=True, exist_ok=True)
    trainer.extra_meta = {"commands": commands}
    _print_header(trainer, run_dir)
    write_json(run_dir / "config.json", _config_json(trainer, commands))
    ckpt_path = run_dir / "checkpoint.npz"
    continue_with = f"continue with: {PROG} train --resume {shlex.quote(str(run_dir))}"
    try:
        trainer.fit(save=lambda t: save_trainer(t, ckpt_path), stop_after=args.stop_after)
    except KeyboardInterrupt:
        write_history(run_dir, trainer.history)
        print(f"\ninterrupted in epoch {trainer.epoch + 1}; the last checkpoint ({_last_saved_epoch(ckpt_path)}) "
              f"is in {ckpt_path}\n"
              f"{continue_with}", file=sys.stderr)
        return 130
    except TrainingDiverged as e:
        write_history(run_dir, trainer.history)
        saved = _last_saved_epoch(ckpt_path)
        print(f"{PROG} train: error: {e}\n"
              + (f"the checkpoint after {saved} is in {ckpt_path}" if saved != "none" else
                 "no checkpoint was written"), file=sys.stderr)
        return 3
    write_history(run_dir, trainer.history)
    if not trainer.finished:
        print(f"stopped after epoch {trainer.epoch} of {trainer.config.epochs}; checkpoint: {ckpt_path}\n"
              f"{continue_with}")
        return 0
    _finish_run(trainer, run_dir, commands, t_start, plots=not args.no_plots)
    return 0


def _last_saved_epoch(path: Path) -> str:
    if not path.exists():
        return "none"
    try:
        return f"epoch {load_checkpoint(path).epoch}"
    except CheckpointError:
        return "unreadable"


def _config_json(trainer: Trainer, commands: list[str]) -> dict[str, Any]:
    cfg = trainer.config
    d = cfg.to_dict()
    d.update(lr=cfg.learning_rate, weight_decay=cfg.decay, sizes=_sizes(trainer.model),
             architecture=trainer.model.describe(), parameters=trainer.model.num_parameters(), command=commands[-1])
    return d


def _sizes(model: Any) -> list[int]:
    """The fully connected layers' sizes (the CNN's: those after its convolutions)."""
    return list(model.sizes if hasattr(model, "sizes") else model.head.sizes)


def _print_header(trainer: Trainer, run_dir: Path) -> None:
    cfg, data, model = trainer.config, trainer.data, trainer.model
    h, w = data.image_shape
    print(f"data: {data.name}: {len(data.x_train):,} train / {len(data.x_val):,} val / {len(data.x_test):,} test "
          f"images ({h}x{w}, {len(data.class_names)} classes, {'light' if data.background > 127.5 else 'dark'} "
          f"background) from {data.source}")
    schedule = "no schedule" if cfg.schedule == "none" else f"{cfg.schedule} schedule"
    extras = [f"dropout {cfg.dropout:g}"] if cfg.dropout else []
    extras += ["augmentation"] if cfg.augment else []
    extras += ["standardized"] if cfg.standardize else []
    extras += [f"early stopping (patience {cfg.early_stopping})"] if cfg.early_stopping else []
    extras += ["no validation"] if len(data.x_val) == 0 else []
    print(f"model: {model.describe()}, {model.num_parameters():,} parameters, "
          f"{cfg.dtype}; {cfg.loss} loss, {cfg.optimizer} lr {cfg.learning_rate:g}, {schedule}, "
          f"batch {cfg.batch_size}, "
          f"{cfg.epochs} epochs, seed {cfg.seed}" + ("; " + ", ".join(extras) if extras else ""))
    print(f"run directory: {run_dir}", flush=True)


def _finish_run(trainer: Trainer, run_dir: Path, commands: list[str], t_start: float, *, plots: bool = True) -> None:
    data = trainer.data
    if trainer.config.early_stopping and trainer.best_epoch and trainer.best_epoch != trainer.epoch:
        print(f"restored the best weights (epoch {trainer.best_epoch}, val accuracy "
              f"{pct(trainer.best_val_accuracy)})")
    test = trainer.evaluate(data.x_test, data.y_test)
    val = trainer.evaluate(data.x_val, data.y_val) if len(data.x_val) else None
    files = ["summary.json", "history.json", "history.csv", "config.json", "checkpoint.npz"]
    if plots and len(data.y_test):
        write_plots(run_dir, trainer.history, data.test_images, data.y_test, test, data.class_names,
                    seed=trainer.config.seed, rows=data.rows("test"))
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
        "sizes": _sizes(trainer.model),
        "architecture": trainer.model.describe(),
        "parameters": trainer.model.num_parameters(),
        "run_dir": str(run_dir),
        "checkpoint": str(run_dir / "checkpoint.npz"),
        "files": files,
    }
    write_json(run_dir / "summary.json", summary)
    print(f"test accuracy {pct(test.accuracy)} (loss {test.loss:.4f})"
          + (f", val accuracy {pct(val.accuracy)}" if val else ", no validation split")
          + f"; {trainer.epoch} epochs, training {train_seconds:.1f} s, total {summary['total_seconds']:.1f} s")
    print(f"outputs in {run_dir}/: {', '.join(files)}")
