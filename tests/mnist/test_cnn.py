"""``--model cnn``: configuration, training, checkpoints (parameters and batch-norm buffers), resume, the
hostile-file shape checks, and the commands, on tiny synthetic data."""
from __future__ import annotations

import json
import zipfile

import numpy as np
import pytest
from test_cli import TINY, run
from test_train import assert_same_state, tiny_data
from tiny_data import write_idx_dataset

from mnist.checkpoint import CheckpointError, load_checkpoint
from mnist.config import TrainConfig
from mnist.model import CNN, cnn_shapes, parameter_shapes, state_shapes
from mnist.resume import save_trainer
from mnist.train import Trainer, trainer_from_checkpoint


def cnn_config(**kw) -> TrainConfig:
    base = dict(model="cnn", channels=(4, 6), hidden=(16,), epochs=2, batch_size=32, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def test_the_model_decides_the_default_hidden_layers():
    assert TrainConfig().hidden == (512, 256) and TrainConfig(model="cnn").hidden == (128,)
    assert TrainConfig(model="cnn", hidden=(64,)).hidden == (64,)
    assert TrainConfig.from_dict(TrainConfig(model="cnn").to_dict()) == TrainConfig(model="cnn")
    old = TrainConfig().to_dict()
    del old["model"], old["channels"]  # a checkpoint written before the CNN existed
    assert TrainConfig.from_dict(old).model == "mlp"


@pytest.mark.parametrize("kw,text", [(dict(channels=()), "convolution blocks"), (dict(channels=(0,)), "channels"),
                                     (dict(model="rnn"), "model must be one of"),
                                     (dict(jit=True), "jit .* is for the MLP")])
def test_cnn_config_validation(kw, text):
    with pytest.raises(ValueError, match=text):
        cnn_config(**kw).validate()
    with pytest.raises(ValueError, match="channels must be a list"):
        TrainConfig.from_dict({**cnn_config().to_dict(), "channels": None})


def test_the_declared_shapes_are_the_models():
    model = CNN((28, 28), (4, 6), (16,), 10, dropout=0.5, rng=0)
    assert {k: v.shape for k, v in model.state_dict().items()} == cnn_shapes((28, 28), (4, 6), (16,), 10, 0.5)
    cfg = cnn_config(dropout=0.5)
    assert state_shapes(cfg, (28, 28), 10) == cnn_shapes((28, 28), (4, 6), (16,), 10, 0.5)
    assert parameter_shapes(cfg, (28, 28), 10) == [p.shape for p in model.parameters()]
    assert model.state_dict()["features.2.num_batches_tracked"].dtype == np.int64
    with pytest.raises(ValueError, match="too small for 2 2x2 poolings"):
        CNN((3, 28), (4, 6), (16,), 10)


def test_a_cnn_learns_the_tiny_data_and_eval_uses_the_running_statistics():
    data = tiny_data()
    t = Trainer(cnn_config(epochs=3, lr=0.01), data, log=None)
    t.fit()
    assert t.history[-1]["val_accuracy"] > 0.6, t.history  # (chance: 0.1)
    bn = t.model.features[2]
    assert int(bn.num_batches_tracked.item()) == 3 * int(np.ceil(300 / 32))
    assert not np.allclose(bn.running_mean.data, 0) and t.model.training  # evaluation restored the mode
    batch = data.x_test[:40]
    t.model.eval()
    single = np.concatenate([t.model(batch[k:k + 1]).data for k in range(40)])
    np.testing.assert_allclose(t.logits(batch), single, rtol=1e-5, atol=1e-5)  # eval: no batch statistics


def test_cnn_resume_is_bitwise_identical(tmp_path):
    data = tiny_data(n_train=128, n_val=32, n_test=32)
    kw = dict(epochs=2, dropout=0.2, augment=True)
    full = Trainer(cnn_config(**kw), data, log=None)
    full.fit()
    part = Trainer(cnn_config(**kw), data, log=None)
    part.fit(save=lambda t: save_trainer(t, tmp_path / "ck.npz"), stop_after=1)
    with np.load(tmp_path / "ck.npz", allow_pickle=False) as z:
        assert {"model/features.2.running_mean", "model/features.2.running_var",
                "model/features.6.num_batches_tracked"} <= set(z.files)
    resumed = trainer_from_checkpoint(load_checkpoint(tmp_path / "ck.npz"), data, log=None)
    resumed.fit()
    assert_same_state(full, resumed)  # the buffers are in the model's state_dict too


def _rewrite(src, dst, entry: str, value: np.ndarray | None) -> None:
    """Copy a checkpoint, replacing (or with None dropping) one entry."""
    with zipfile.ZipFile(src) as zin, zipfile.ZipFile(dst, "w") as zout:
        for info in zin.infolist():
            if info.filename == entry + ".npy":
                if value is not None:
                    with zout.open(info.filename, "w") as f:
                        np.lib.format.write_array(f, value)
                continue
            zout.writestr(info, zin.read(info.filename))


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A CNN trainer's checkpoint after one epoch, and its data."""
    path = tmp_path_factory.mktemp("cnn-ckpt") / "ok.npz"
    data = tiny_data(n_train=64, n_val=32, n_test=32)
    Trainer(cnn_config(epochs=1), data, log=None).fit(save=lambda tr: save_trainer(tr, path))
    return path, data


@pytest.mark.parametrize("entry,value,text", [
    ("model/features.2.running_var", np.ones(5, dtype=np.float32),
     r"model/features.2.running_var: shape \(5,\) in the file, the model needs \(4,\)"),
    ("model/features.0.weight", np.zeros((4, 1, 3, 3), dtype=np.float32), r"features.0.weight: shape \(4, 1, 3, 3\)"),
    ("model/features.6.running_mean", None, "missing model/features.6.running_mean"),
])
def test_a_checkpoint_whose_cnn_state_does_not_fit_is_refused_before_the_model_is_built(tmp_path, saved, entry,
                                                                                          value, text):
    ok, data = saved
    _rewrite(ok, tmp_path / "bad.npz", entry, value)
    with pytest.raises(CheckpointError, match=text):
        trainer_from_checkpoint(load_checkpoint(tmp_path / "bad.npz"), data, log=None)


def test_a_buffer_of_the_wrong_dtype_is_refused_naming_it(tmp_path, saved):
    ok, data = saved
    _rewrite(ok, tmp_path / "bad.npz", "model/features.2.num_batches_tracked", np.array(1.5))
    with pytest.raises(CheckpointError, match="features.2.num_batches_tracked.*dtype float64"):
        trainer_from_checkpoint(load_checkpoint(tmp_path / "bad.npz"), data, log=None)


@pytest.fixture(scope="module")
def cnn_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("cnn-cli")
    write_idx_dataset(root / "idx", n_train=400, n_test=100)
    run("train", "--data-dir", "idx", *TINY, "--model", "cnn", "--channels", "4,8", "--epochs", "1", "--out", "run",
        "--no-plots", cwd=root)
    return root


def test_the_commands_work_for_a_cnn_checkpoint(cnn_run):
    summary = json.loads((cnn_run / "run" / "summary.json").read_text())
    assert summary["architecture"].startswith("CNN conv5x5 4-8") and summary["sizes"] == [392, 24, 10]
    config = json.loads((cnn_run / "run" / "config.json").read_text())
    assert config["model"] == "cnn" and config["channels"] == [4, 8] and config["hidden"] == [24]
    out = run("eval", "--checkpoint", "run", "--data-dir", "idx", "--no-verify", cwd=cnn_run).stdout
    assert "accuracy:" in out and "confusion matrix" in out
    out = run("predict", "--checkpoint", "run", "idx/t10k-images-idx3-ubyte.gz", "--labels",
              "idx/t10k-labels-idx1-ubyte.gz", cwd=cnn_run).stdout
    assert "accuracy against the labels" in out
    out = run("show", "--checkpoint", "run", "--data-dir", "idx", "--no-verify", "--count", "4", "--out", "g.png",
              "--no-window", cwd=cnn_run).stdout
    assert (cnn_run / "g.png").is_file() and "grid saved" in out
    out = run("train", "--resume", "run", "--epochs", "2", "--data-dir", "idx", "--no-verify", "--no-progress",
              "--no-plots", cwd=cnn_run).stdout
    assert "resuming" in out and "epoch 2/2" in out
    proc = run("train", "--resume", "run", "--channels", "8,8", "--epochs", "3", "--data-dir", "idx", "--no-verify",
               cwd=cnn_run, check=False)
    assert proc.returncode == 2 and "cannot change --channels" in proc.stderr
    out = run("shell", "--checkpoint", "run", "--data-dir", "idx", "--no-verify", cwd=cnn_run,
              input="config\ntest\nquit\n").stdout
    assert "CNN conv5x5 4-8" in out and "accuracy" in out
