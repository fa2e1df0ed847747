"""End-to-end tests of ``python -m mnist`` (run as subprocesses) on tiny synthetic data sets."""
from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from tiny_data import write_csv_dataset, write_idx_dataset, write_image_folder

REPO = Path(__file__).resolve().parents[2]
TINY = ["--no-verify", "--hidden", "24", "--val-size", "100", "--batch-size", "64", "--no-progress"]


def run(*args: str, cwd: Path, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY", "MPLBACKEND")}
    env.update(PYTHONPATH=os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]), OPENBLAS_NUM_THREADS="1",
               OMP_NUM_THREADS="1", MNIST_DIR=str(cwd / "no-such-dir"), FASHION_MNIST_DIR=str(cwd / "no-such-dir"))
    proc = subprocess.run([sys.executable, "-m", "mnist", *args], cwd=cwd, input=input, capture_output=True,
                          text=True, env=env, timeout=120)
    if check and proc.returncode != 0:
        raise AssertionError(f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}")
    return proc


def weights(path: Path) -> dict[str, np.ndarray]:
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k.split("/")[0] in ("model", "optim", "rng", "sched", "best")}


def assert_png(path: Path) -> None:
    from PIL import Image

    assert path.is_file(), path
    with Image.open(path) as im:
        im.verify()
        assert im.format == "PNG"


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("cli")
    write_idx_dataset(root / "idx", n_train=500, n_test=120)
    return root


@pytest.fixture(scope="module")
def run_dir(work) -> Path:
    """One trained run (2 epochs, with plots) shared by the eval/predict/show tests."""
    run("train", "--data-dir", "idx", *TINY, "--epochs", "2", "--out", "run", cwd=work)
    return work / "run"


def test_train_writes_every_output(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    for key in ("test_accuracy", "val_accuracy", "epochs", "train_seconds", "command"):
        assert key in summary, key
    assert 0 <= summary["test_accuracy"] <= 1 and summary["epochs"] == 2
    assert summary["command"].startswith("python -m mnist train") and "--out run" in summary["command"]
    history = json.loads((run_dir / "history.json").read_text())
    assert [h["epoch"] for h in history] == [1, 2] and history[1]["val_accuracy"] is not None
    with open(run_dir / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 2 and {"epoch", "train_loss", "train_accuracy", "val_loss", "val_accuracy",
                               "epoch_seconds"} <= set(rows[0])
    config = json.loads((run_dir / "config.json").read_text())
    assert config["hidden"] == [24] and config["optimizer"] == "adam" and config["lr"] == 1e-3
    for png in ("curves.png", "misclassified.png", "confusion_matrix.png", "correct.png"):
        assert_png(run_dir / png)
    with np.load(run_dir / "checkpoint.npz", allow_pickle=False) as z:
        groups = {k.split("/")[0] for k in z.files}
        assert {"model", "optim", "sched", "rng", "meta"} <= groups
        assert {"rng/loader", "rng/model", "rng/augment", "meta/config", "meta/norm", "meta/history",
                "meta/class_names", "meta/epoch"} <= set(z.files)
        assert json.loads(str(z["meta/epoch"])) == 2
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_train_prints_epoch_lines_and_a_final_summary(run_dir, work):
    out = run("train", "--data-dir", "idx", *TINY, "--epochs", "1", "--hidden", "", "--out", "flat", "--no-plots",
              cwd=work).stdout
    assert "epoch 1/1" in out and "train loss" in out and "val loss" in out
    assert "test accuracy" in out and "outputs in flat" in out and "MLP 784-10 " in out
    assert "\r" not in out  # no progress bar when stdout is not a terminal


def test_eval_prints_metrics_and_writes_json(run_dir, work):
    out = run("eval", "--checkpoint", "run", "--json", "eval.json", cwd=work).stdout
    assert "accuracy:" in out and "precision" in out and "recall" in out and "true\\pred" in out
    report = json.loads((work / "eval.json").read_text())
    summary = json.loads((run_dir / "summary.json").read_text())
    assert report["accuracy"] == pytest.approx(summary["test_accuracy"])
    assert np.array(report["confusion_matrix"]).sum() == 120 and set(report["per_class"]) == set("0123456789")
    (work / "elsewhere").mkdir(exist_ok=True)  # data paths in the checkpoint are absolute
    out2 = run("eval", "--checkpoint", "../run", "--split", "val", cwd=work / "elsewhere").stdout
    assert "val split" in out2 and "100 images" in out2


def test_predict_idx_csv_and_png(run_dir, work):
    out = run("predict", "--checkpoint", "run/checkpoint.npz", "idx/t10k-images-idx3-ubyte.gz", "--labels",
              "idx/t10k-labels-idx1-ubyte.gz", "--out", "idx_pred.csv", cwd=work).stdout
    assert "120 images" in out and "accuracy against the labels" in out
    summary = json.loads((run_dir / "summary.json").read_text())
    assert f"{100 * summary['test_accuracy']:.2f}%" in out

    from tiny_data import make_images

    images, _ = make_images(7, seed=5)
    lines = ["," .join(f"pixel{i}" for i in range(784))] + [",".join(map(str, im.ravel())) for im in images]
    (work / "kaggle_test.csv").write_text("\n".join(lines) + "\n")
    run("predict", "--checkpoint", "run", "kaggle_test.csv", "--out", "submission.csv", cwd=work)
    with open(work / "submission.csv", newline="") as f:
        rows = list(csv.reader(f))
    assert rows[0] == ["ImageId", "Label"] and [r[0] for r in rows[1:]] == [str(i) for i in range(1, 8)]
    assert all(0 <= int(r[1]) <= 9 for r in rows[1:])

    from PIL import Image

    Image.fromarray(images[0]).save(work / "digit.png")
    Image.fromarray(np.kron(255 - images[1], np.ones((2, 2), dtype=np.uint8))).save(work / "big_inverted.png")
    out = run("predict", "--checkpoint", "run", "digit.png", "big_inverted.png", "--out", "png_pred.csv",
              cwd=work).stdout
    assert "digit.png" in out and "big_inverted.png" in out and "%)" in out
    with open(work / "png_pred.csv", newline="") as f:
        assert next(csv.reader(f)) == ["file", "label", "class_name", "confidence"]


def test_show_saves_a_grid(run_dir, work):
    out = run("show", "--checkpoint", "run", "--start", "10", "--count", "6", "--out", "grid.png", "--one-by-one",
              cwd=work).stdout
    assert "#10" in out and "#15" in out and "#16" not in out and "grid saved to grid.png" in out
    assert "@@" in out or "##" in out  # text rendering of the images
    assert_png(work / "grid.png")
    bad = run("show", "--checkpoint", "run", "--start", "5000", cwd=work, check=False)
    assert bad.returncode == 2 and "beyond" in bad.stderr


def test_shell_is_scriptable_from_stdin(work):
    script = "help\ntrain 1\ntest\nset lr 0.01\nset batch_size 32\nset optimizer momentum\ntrain 1\nval\n" \
             "misclassified 8 mis.png\nsave\nquit\nthis is never read\n"
    proc = run("shell", "--data-dir", "idx", *TINY, "--out", "shell_out", cwd=work, input=script)
    out = proc.stdout
    assert "train N" in out and "epoch 1/1" in out and "epoch 2/2" in out
    assert "test: accuracy" in out and "val: accuracy" in out and "lr = 0.01" in out
    assert "saved checkpoint (epoch 2)" in out and "never read" not in out.split("mnist> quit")[1]
    assert (work / "shell_out" / "checkpoint.npz").is_file()
    assert_png(work / "mis.png")
    # from a checkpoint; a bad command is reported and makes the exit status 1
    proc = run("shell", "--checkpoint", "shell_out/checkpoint.npz", "--out", "shell2", "--no-progress", cwd=work,
               input="test\nfrobnicate\ntrain 1\n", check=False)
    assert proc.returncode == 1 and "error: unknown command 'frobnicate'" in proc.stdout
    assert "epoch 3/3" in proc.stdout  # continues after epoch 2


def test_shell_set_lr_explains_a_schedule_that_has_run_out(work):
    script = "train 1\nset lr 0.002\ntrain 1\nquit\n"
    proc = run("shell", "--data-dir", "idx", *TINY, "--epochs", "1", "--schedule", "cosine", "--out", "shell_lr",
               cwd=work, input=script)
    line = next(text for text in proc.stdout.splitlines() if "lr = " in text)
    assert "lr = 0 (base 0.002): the cosine schedule sets the lr per epoch" in line
    assert "at epoch 1 of 1" in line and "`train N` re-plans it" in line
    assert "epoch 2/2" in proc.stdout  # and training goes on with a re-planned schedule


def test_resume_gives_bitwise_identical_weights_and_same_seed_is_deterministic(work):
    args = ["train", "--data-dir", "idx", *TINY, "--dropout", "0.2", "--augment", "--optimizer", "momentum",
            "--no-plots"]
    run(*args, "--epochs", "2", "--out", "full", cwd=work)
    run(*args, "--epochs", "2", "--out", "full_again", cwd=work)
    run(*args, "--epochs", "1", "--out", "part", cwd=work)  # an "interrupted" shorter run
    out = run("train", "--resume", "part", "--epochs", "2", "--no-progress", "--no-plots", cwd=work).stdout
    assert "resuming" in out and "epoch 2/2" in out and "epoch 1/2" not in out
    run(*args, "--epochs", "2", "--stop-after", "1", "--out", "stopped", cwd=work)
    assert not (work / "stopped" / "summary.json").exists()
    run("train", "--resume", "stopped", "--no-progress", "--no-plots", cwd=work)
    full = weights(work / "full" / "checkpoint.npz")
    for other in ("full_again", "part", "stopped"):
        got = weights(work / other / "checkpoint.npz")
        assert got.keys() == full.keys()
        for k in full:
            np.testing.assert_array_equal(got[k], full[k], err_msg=f"{other}: {k}")
    assert json.loads((work / "part" / "summary.json").read_text())["epochs"] == 2


def test_csv_and_image_folder_data_sets(work):
    write_csv_dataset(work / "train.csv", n=200, side=10)
    out = run("train", "--dataset", "train.csv", "--hidden", "16", "--epochs", "2", "--no-progress", "--no-plots",
              "--out", "csv_run", cwd=work).stdout
    assert "10x10" in out and "3 classes" in out
    write_image_folder(work / "shapes", per_class=20, side=12)
    out = run("train", "--dataset", "shapes", "--hidden", "16", "--epochs", "2", "--batch-size", "16",
              "--no-progress", "--out", "img_run", cwd=work).stdout
    assert "12x12" in out
    summary = json.loads((work / "img_run" / "summary.json").read_text())
    assert summary["n_test"] == 6 and (work / "img_run" / "misclassified.png").is_file()
    out = run("predict", "--checkpoint", "img_run", "shapes/cross", cwd=work).stdout
    assert out.count("shapes/cross/") == 20 and any(c in out for c in ("circle", "cross", "square"))
    out = run("eval", "--checkpoint", "img_run", cwd=work).stdout
    assert "circle" in out and "square" in out


def test_clear_errors(work, run_dir):
    proc = run("train", "--data-dir", "idx", "--no-verify", "--val-size", "100000", "--out", "x", cwd=work, check=False)
    assert proc.returncode == 2 and "val_size=100000 leaves no training data" in proc.stderr
    assert "Traceback" not in proc.stderr
    (work / "corrupt.npz").write_bytes((run_dir / "checkpoint.npz").read_bytes()[:500])
    for command in ("eval", "show"):
        proc = run(command, "--checkpoint", "corrupt.npz", cwd=work, check=False)
        assert proc.returncode == 2 and "corrupt.npz" in proc.stderr and "Traceback" not in proc.stderr
    proc = run("train", "--resume", "nowhere", cwd=work, check=False)
    assert proc.returncode == 2 and "nowhere" in proc.stderr
    proc = run("train", "--data-dir", "idx", *TINY, "--out", "run", cwd=work, check=False)
    assert proc.returncode == 2 and "--resume" in proc.stderr  # refuses to overwrite a run
    proc = run("train", "--data-dir", "missing", "--no-progress", cwd=work, check=False)
    assert proc.returncode == 2 and "missing" in proc.stderr
    proc = run("train", "--hidden", "12,x", cwd=work, check=False)
    assert proc.returncode == 2 and "layer sizes" in proc.stderr


def test_importing_mnist_is_light(work):
    code = ("import sys, mnist, mnist.cli, mnist.train; "
            "print('matplotlib' in sys.modules, 'tqdm' in sys.modules)")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=work,
                          env={**os.environ, "PYTHONPATH": str(REPO)})
    assert proc.stdout.split() == ["False", "False"]
