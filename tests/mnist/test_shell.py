"""The shell keeps the user's work: validated settings, the --lr of shell --checkpoint, no exception
ends it, Ctrl-C rolls back, unsaved work is not lost silently; readline, curves and --help."""
from __future__ import annotations

import io
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from tiny_data import make_images, write_idx_dataset

from mnist.checkpoint import load_checkpoint
from mnist.cli import build_parser
from mnist.data import to_float
from mnist.dataset import Data
from mnist.resume import resume, save_trainer
from mnist.shell import Shell, build_trainer
from mnist.train import TrainConfig, Trainer

REPO = Path(__file__).resolve().parents[2]


def tiny_data() -> Data:
    images, labels = make_images(300, seed=0)
    x, stats = to_float(images)
    return Data(x[:200], labels[:200], x[200:250], labels[200:250], x[250:], labels[250:], images[250:],
                images[200:250], [str(i) for i in range(10)], (28, 28), stats, "tiny", "memory")


@pytest.fixture()
def shell(tmp_path):
    trainer = Trainer(TrainConfig(hidden=(16,), epochs=0, schedule="none", batch_size=32), tiny_data(), log=None)
    out = io.StringIO()
    return Shell(trainer, tmp_path, stdin=io.StringIO(), stdout=out, interactive=False)


def said(shell: Shell) -> str:
    return shell.stdout.getvalue()


@pytest.mark.parametrize("command, message, field", [
    ("set momentum -1", "momentum must be in [0, 1), got -1.0", "momentum"),
    ("set momentum 1.5", "momentum must be in [0, 1)", "momentum"),
    ("set lr inf", "lr must be a finite number, got inf", "lr"),
    ("set lr nan", "lr must be a finite number", "lr"),
    ("set lr -0.1", "learning rate must be > 0", "lr"),
    ("set batch_size 0", "batch_size must be >= 1", "batch_size"),
    ("set weight_decay -1", "weight decay must be >= 0", "weight_decay"),
    ("set loss hinge", "loss must be one of ce, mse", "loss"),
    ("set schedule linear", "schedule must be one of none, step, cosine", "schedule"),
])
def test_set_validates_before_it_stores(shell, tmp_path, command, message, field):
    before = getattr(shell.trainer.config, field)
    shell.execute(command)
    assert f"error: {message}" in said(shell) and shell.failed
    assert getattr(shell.trainer.config, field) == before
    shell.execute("save")
    resume(tmp_path / "checkpoint.npz", data=shell.trainer.data, log=None)  # the saved run can be resumed


def test_set_applies_valid_values(shell):
    shell.execute("set momentum 0.5")
    shell.execute("set optimizer momentum")
    shell.execute("set lr 0.02")
    t = shell.trainer
    assert t.config.momentum == 0.5 and t.optimizer.momentum == 0.5 and t.optimizer.lr == 0.02
    assert "error" not in said(shell)


def test_shell_checkpoint_with_lr_applies_it_and_refuses_architecture_changes(tmp_path):
    write_idx_dataset(tmp_path / "idx", n_train=200, n_test=40)
    base = ["--data-dir", str(tmp_path / "idx"), "--no-verify", "--val-size", "50", "--hidden", "16", "--no-progress"]
    trainer, _ = build_trainer(build_parser().parse_args(["shell", *base, "--epochs", "2", "--schedule", "cosine"]))
    trainer.fit()
    save_trainer(trainer, tmp_path / "run" / "checkpoint.npz")
    args = build_parser().parse_args(["shell", "--checkpoint", str(tmp_path / "run"), "--lr", "0.0123",
                                      "--batch-size", "7", "--no-progress"])
    resumed, origin = build_trainer(args)
    assert resumed.config.lr == 0.0123 and resumed.scheduler.base_lr == 0.0123 and resumed.loader.batch_size == 7
    assert resumed.optimizer.lr == pytest.approx(resumed.scheduler.lr_at(2)) and "epoch 2" in origin
    with pytest.raises(ValueError, match=r"cannot change --hidden \(64,\) \(saved: \(16,\)\)"):
        build_trainer(build_parser().parse_args(["shell", "--checkpoint", str(tmp_path / "run"), "--hidden", "64",
                                                 "--no-progress"]))


def test_no_exception_ends_the_shell(shell, monkeypatch):
    def out_of_memory(*a, **k):
        raise MemoryError

    def bug(*a, **k):
        raise RuntimeError("something unexpected")

    monkeypatch.setattr(shell.trainer, "evaluate", out_of_memory)
    assert shell.execute("test") is True
    monkeypatch.setattr(shell.trainer, "evaluate", bug)
    assert shell.execute("val") is True
    text = said(shell)
    assert "error: out of memory" in text and "error: something unexpected" in text


@pytest.mark.parametrize("command, message", [("misclassified -1", "K must be >= 1, got -1"),
                                              ("misclassified x", "K must be an integer, got 'x'"),
                                              ("show -1", "START must be >= 0, got -1"),
                                              ("show 0 -3", "COUNT must be >= 1, got -3"),
                                              ("train 0", "train N must be >= 1, got 0"),
                                              ("reshuffle -2", "SEED must be >= 0")])
def test_negative_counts_are_refused(shell, command, message):
    shell.execute(command)
    assert f"error: {message}" in said(shell)


def test_ctrl_c_in_train_rolls_back_to_the_last_finished_epoch(shell):
    t = shell.trainer
    inner = t.loader

    class Interrupting:
        def __getattr__(self, name):
            return getattr(inner, name)

        def __iter__(self):
            for k, batch in enumerate(inner):
                if t.epoch == 1 and k == 2:
                    raise KeyboardInterrupt
                yield batch

    shell.execute("train 1")
    after_one = t.model.state_dict()
    t.loader = Interrupting()
    shell.execute("train 2")
    assert "(interrupted during epoch 2: the model is as it was after epoch 1)" in said(shell)
    assert t.epoch == 1 and len(t.history) == 1
    for k, v in after_one.items():
        np.testing.assert_array_equal(t.model.state_dict()[k], v)


def test_leaving_with_unsaved_training_warns_from_a_pipe(shell, capsys):
    shell.stdin = io.StringIO("train 1\n")
    assert shell.run() == 0
    assert "not saved since the last save: epoch 1" in capsys.readouterr().err
    shell.stdin = io.StringIO("save\nquit\n")
    shell.run()
    assert capsys.readouterr().err == ""


def test_leaving_with_unsaved_training_asks_in_a_terminal(shell, tmp_path):
    answers = iter(["c", "maybe", "y"])
    questions: list[str] = []
    shell.interactive = True
    shell.ask = lambda q: questions.append(q) or next(answers)
    shell.execute("train 1")
    assert shell.execute("quit") is True  # cancelled: stays
    assert shell.execute("quit") is False  # "maybe" asks again, "y" saves and leaves
    assert len(questions) == 3 and "Save to" in questions[0]
    assert load_checkpoint(tmp_path / "checkpoint.npz").epoch == 1
    shell.execute("set lr 0.01")
    shell.ask = lambda q: "n"
    assert shell.execute("quit") is False and load_checkpoint(tmp_path / "checkpoint.npz").epoch == 1


def test_curves_after_train_and_on_demand(shell, tmp_path):
    shell.execute("curves")
    assert "error: no epochs yet" in said(shell)
    shell.execute("train 2")
    assert (tmp_path / "curves.png").is_file()
    shell.execute(f"curves {tmp_path / 'mine.png'}")
    assert "curves of 2 epochs saved to" in said(shell) and (tmp_path / "mine.png").stat().st_size > 1000


def test_shell_help_shows_the_shells_defaults():
    text = build_parser()._subparsers._group_actions[0].choices["shell"].format_help()
    flat = " ".join(text.split())
    assert "per-epoch learning-rate schedule (default: none)" in flat
    assert "(default: 0; 'train N' adds N)" in flat
    train_help = " ".join(build_parser()._subparsers._group_actions[0].choices["train"].format_help().split())
    assert "(default: cosine)" in train_help and "--epochs EPOCHS (default: 12)" in train_help


def test_tab_completion(shell):
    import readline

    assert shell.setup_readline()
    complete = readline.get_completer()
    assert complete("tra", 0) == "train " and complete("mis", 0) == "misclassified " and complete("zz", 0) is None


def _read_until(fd: int, text: str, timeout: float = 60.0) -> str:
    out = b""
    end = time.monotonic() + timeout
    while text.encode() not in out:
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {text!r}; got:\n{out.decode(errors='replace')}")
        if select.select([fd], [], [], 0.2)[0]:
            try:
                out += os.read(fd, 65536)
            except OSError:
                break
    return out.decode(errors="replace")


def test_in_a_terminal_readline_edits_recalls_history_and_asks_before_losing_work(tmp_path):
    write_idx_dataset(tmp_path / "idx", n_train=200, n_test=40)
    main, sub = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env.update(PYTHONPATH=str(REPO), TERM="xterm", MPLBACKEND="Agg")
    proc = subprocess.Popen([sys.executable, "-m", "mnist", "shell", "--data-dir", "idx", "--no-verify", "--val-size",
                             "50", "--hidden", "8", "--no-progress", "--out", "out"], cwd=tmp_path, stdin=sub,
                            stdout=sub, stderr=sub, env=env, close_fds=True)
    os.close(sub)
    try:
        _read_until(main, "mnist> ")
        os.write(main, b"conf\t\n")  # tab completes "config"
        assert "optimizer: adam" in _read_until(main, "mnist> ")
        os.write(main, b"\x1b[A\n")  # up arrow: the last command again
        assert "optimizer: adam" in _read_until(main, "mnist> ")
        os.write(main, b"train 1\n")
        _read_until(main, "mnist> ")
        os.write(main, b"quit\n")
        assert "not saved: epoch 1" in _read_until(main, "[c]ancel")
        os.write(main, b"y\n")
        assert proc.wait(timeout=60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(main)
    assert load_checkpoint(tmp_path / "out" / "checkpoint.npz").epoch == 1
