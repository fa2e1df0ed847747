"""``python -m mnist`` end to end on the trust fixes: Chinese MNIST, CSV test sets and --split all,
labels outside the model's classes, unlabelled data in show, --threads after the command, and a
diverging run's exit status."""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_data import write_chinese_mnist, write_csv_dataset, write_idx_dataset

REPO = Path(__file__).resolve().parents[2]
TINY = ["--no-progress", "--no-plots"]


def run(*args: str, cwd: Path, check: bool = True, input: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    env.update(PYTHONPATH=str(REPO), MNIST_DIR=str(cwd / "no-such-dir"), FASHION_MNIST_DIR=str(cwd / "no-such-dir"))
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        env.pop(var, None)
    proc = subprocess.run([sys.executable, "-m", "mnist", *args], cwd=cwd, capture_output=True, text=True, env=env,
                          timeout=120, input=input)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("trust")
    write_csv_dataset(root / "mnist_train.csv", n=150, side=10, n_classes=3)
    write_csv_dataset(root / "mnist_test.csv", n=40, side=10, n_classes=3, seed=9)
    run("train", "--dataset", "mnist_train.csv", "--test-data", "mnist_test.csv", "--hidden", "16", "--epochs", "2",
        "--val-size", "0", "--out", "csv_run", "--threads", "1", *TINY, cwd=root)
    return root


def test_a_csv_test_file_and_no_validation(work):
    summary = json.loads((work / "csv_run" / "summary.json").read_text())
    assert summary["n_test"] == 40 and summary["n_val"] == 0 and summary["n_train"] == 150
    assert summary["val_accuracy"] is None and "mnist_test.csv" in summary["data_source"]
    out = run("eval", "--checkpoint", "csv_run", cwd=work).stdout  # the run's own test set: the test file
    assert "40 images" in out and f"{100 * summary['test_accuracy']:.2f}%" in out
    out = run("eval", "--checkpoint", "csv_run", "--dataset", "mnist_train.csv", "--split", "all", cwd=work).stdout
    assert "mnist_train.csv (all 150 images), 150 images" in out


def test_eval_show_and_predict_refuse_labels_outside_the_models_classes(work):
    write_csv_dataset(work / "five.csv", n=20, side=10, n_classes=5)
    for command in (["eval", "--checkpoint", "csv_run", "--dataset", "five.csv", "--split", "all"],
                    ["show", "--checkpoint", "csv_run", "--dataset", "five.csv", "--split", "all", "--out", "x.png"],
                    ["predict", "--checkpoint", "csv_run", "five.csv", "--out", "p.csv"],
                    ["eval", "--checkpoint", "csv_run", "--test-data", "five.csv"]):
        proc = run(*command, cwd=work, check=False)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert "five.csv: label " in proc.stderr and "is not a class of the model: expected 0..2" in proc.stderr
        assert "Traceback" not in proc.stderr


def test_show_on_unlabelled_data_shows_predictions_by_file_row(work):
    rows = (work / "mnist_test.csv").read_text().splitlines()
    header = ",".join(f"pixel{i}" for i in range(100))
    (work / "kaggle_test.csv").write_text("\n".join([header] + [r.split(",", 1)[1] for r in rows[1:]]) + "\n")
    out = run("show", "--checkpoint", "csv_run", "--dataset", "kaggle_test.csv", "--start", "35", "--out", "u.png",
              "--one-by-one", cwd=work).stdout
    assert "#35     predicted" in out and "#39" in out and "#40" not in out and "true" not in out
    assert "5 images; grid saved to u.png" in out and "kaggle_test.csv" in out
    proc = run("eval", "--checkpoint", "csv_run", "--dataset", "kaggle_test.csv", cwd=work, check=False)
    assert proc.returncode == 2 and "has no label column; eval needs labels" in proc.stderr


def test_show_indices_are_file_rows(work):
    out = run("show", "--checkpoint", "csv_run", "--dataset", "mnist_train.csv", "--split", "test", "--count", "3",
              "--out", "t.png", cwd=work).stdout  # a held-out share, shuffled: each image by its row in the file
    shown = [int(line.split()[0][1:]) for line in out.splitlines() if line.startswith("#")]
    from mnist.data import load_any

    s = load_any(work / "mnist_train.csv")
    assert shown == s.test_rows[:3].tolist() and shown != [0, 1, 2]


def test_show_one_by_one_waits_for_enter_in_a_terminal(work, capsys):
    from mnist.commands.show import cmd_show

    waits = []
    args = argparse.Namespace(checkpoint=str(work / "csv_run"), dataset=str(work / "mnist_test.csv"), data_dir=None,
                              verify=True, test_data=None, split="all", start=0, count=4, out=str(work / "w.png"),
                              one_by_one=True, no_window=True)
    cmd_show(args, interactive=True, wait=lambda: waits.append(1) or len(waits) < 2)
    assert len(waits) == 2 and capsys.readouterr().out.count("\n\n#") == 2  # stopped after the second image
    cmd_show(args, interactive=False, wait=lambda: waits.append(1) or True)
    assert len(waits) == 2 and capsys.readouterr().out.count("\n\n#") == 4  # a pipe never waits


def test_chinese_mnist_end_to_end(tmp_path):
    csv_path = write_chinese_mnist(tmp_path / "kaggle", suites=2, samples=2, side=24, light=True)
    out = run("train", "--dataset", str(csv_path), "--hidden", "16", "--epochs", "2", "--batch-size", "16", "--out",
              "cm", "--no-progress", cwd=tmp_path).stdout
    assert "24x24, 15 classes, light background" in out
    out = run("eval", "--checkpoint", "cm", cwd=tmp_path).stdout
    assert "七" in out and "亿" in out
    from PIL import Image

    img = np.full((24, 24), 255, np.uint8)
    img[4:20, 11:13] = 0  # a dark stroke on white, like the training images: not inverted
    Image.fromarray(img).save(tmp_path / "one.png")
    assert "(" in run("predict", "--checkpoint", "cm", "one.png", cwd=tmp_path).stdout
    proc = run("train", "--dataset", str(tmp_path / "kaggle" / "data"), "--out", "x", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "chinese_mnist.csv" in proc.stderr


def test_threads_after_the_command_and_a_diverging_run(tmp_path):
    write_idx_dataset(tmp_path / "idx", n_train=200, n_test=40)
    proc = run("train", "--data-dir", "idx", "--no-verify", "--val-size", "50", "--hidden", "16", "--optimizer", "sgd",
               "--lr", "1e12", "--schedule", "none", "--epochs", "2", "--out", "nan", "--threads", "1", *TINY,
               cwd=tmp_path, check=False)
    assert proc.returncode == 3, proc.stderr
    import re

    m = re.search(r"training diverged: the loss is (nan|inf) at epoch (\d), step \d+ .*lower the learning rate",
                  proc.stderr)
    assert m, proc.stderr
    assert "Warning" not in proc.stderr  # the overflow is reported once, as the error
    ckpt = tmp_path / "nan" / "checkpoint.npz"
    if m.group(2) == "1":
        assert "no checkpoint was written" in proc.stderr and not ckpt.exists()
    else:  # the last good epoch's checkpoint is kept, and it is finite
        from mnist.checkpoint import load_checkpoint

        ck = load_checkpoint(ckpt)
        assert ck.epoch == int(m.group(2)) - 1 and f"after epoch {ck.epoch} is in" in proc.stderr
        assert all(np.isfinite(v).all() for v in ck.group("model").values())
    proc = run("train", "--data-dir", "idx", "--threads", "0", cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "--threads: must be >= 1" in proc.stderr


def test_resume_refuses_a_changed_setting_but_accepts_the_same_command(tmp_path):
    write_idx_dataset(tmp_path / "idx", n_train=200, n_test=40)
    base = ["train", "--data-dir", "idx", "--no-verify", "--val-size", "50", "--hidden", "16", *TINY]
    run(*base, "--epochs", "2", "--stop-after", "1", "--out", "r", cwd=tmp_path)
    proc = run("train", "--resume", "r", "--lr", "0.5", *TINY, cwd=tmp_path, check=False)
    assert proc.returncode == 2 and "cannot change --lr 0.5 (saved: None)" in proc.stderr
    out = run(*base, "--epochs", "2", "--resume", "r", cwd=tmp_path).stdout  # the same options again: fine
    assert "resuming" in out and "epoch 2/2" in out
