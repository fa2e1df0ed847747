"""Tests for mnist/train.py and mnist/metrics.py, in-process on tiny synthetic data."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_data import make_images

from mnist import metrics
from mnist.checkpoint import CheckpointError, load_checkpoint
from mnist.data import Stats, to_float
from mnist.model import MLP
from mnist.resume import save_trainer
from mnist.train import Data, TrainConfig, Trainer, batch_loss, trainer_from_checkpoint
import tinygrad_np as tg
from tinygrad_np import is_grad_enabled

Tensor = tg.Tensor
traced_step = tg.traced_step


def tiny_data(n_train=300, n_val=60, n_test=100, standardize=False, dtype="float32", seed=0) -> Data:
    images, labels = make_images(n_train + n_val, seed=seed)
    test_images, test_labels = make_images(n_test, seed=seed + 1)
    x, stats = to_float(images, np.dtype(dtype), standardize)
    kw = dict(mean=stats.mean, std=stats.std) if standardize else {}
    xt, _ = to_float(test_images, np.dtype(dtype), standardize, **kw)
    return Data(x[:n_train], labels[:n_train], x[n_train:], labels[n_train:], xt, test_labels, test_images,
                images[n_train:], [str(i) for i in range(10)], (28, 28), stats, "tiny", "memory")


def config(**kw) -> TrainConfig:
    base = dict(hidden=(32,), epochs=2, batch_size=32, seed=0)
    base.update(kw)
    return TrainConfig(**base)


def weights(trainer: Trainer) -> dict[str, np.ndarray]:
    return trainer.model.state_dict()


def assert_same_state(a: Trainer, b: Trainer) -> None:
    for k, v in weights(a).items():
        np.testing.assert_array_equal(v, weights(b)[k], err_msg=k)
    sa, sb = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        np.testing.assert_array_equal(sa[k], sb[k], err_msg=k)
    assert a.loader.rng.bit_generator.state == b.loader.rng.bit_generator.state
    assert a.model_rng.bit_generator.state == b.model_rng.bit_generator.state
    assert a.augmenter.rng.bit_generator.state == b.augmenter.rng.bit_generator.state


# ---------------------------------------------------------------------- config
def test_config_validation_messages():
    for kw, text in [(dict(activation="gelu"), "activation"), (dict(optimizer="lbfgs"), "optimizer"),
                     (dict(dropout=1.0), "dropout"), (dict(lr=-1.0), "learning rate"),
                     (dict(hidden=(0,)), "hidden"), (dict(dtype="float16"), "dtype")]:
        with pytest.raises(ValueError, match=text):
            config(**kw).validate()


@pytest.mark.parametrize("kw", [dict(optimizer="momentum", augment=True), dict(optimizer="adamw", dtype="float64")],
                         ids=["momentum-augment", "adamw-float64"])
def test_jit_training_is_bit_identical_to_eager(kw, monkeypatch):
    """``--jit`` (the step through ``traced_step``): the same weights, optimizer state, history
    metrics and RNG states after two epochs (300 samples / 32: a short last batch, traced too)."""
    steps = []
    monkeypatch.setattr(tg, "traced_step", lambda *a, **k: steps.append(traced_step(*a, **k)) or steps[-1])
    data = tiny_data(dtype=kw.get("dtype", "float32"))
    eager = Trainer(config(**kw), data, log=None)
    traced = Trainer(config(jit=True, **kw), data, log=None)
    eager.fit()
    traced.fit()
    assert [s.traces for s in steps] == [3, 3]  # per epoch: two for batches of 32, one for the last 12
    assert_same_state(eager, traced)
    for a, b in zip(eager.history, traced.history):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert a[key] == b[key], key
    assert TrainConfig.from_dict(traced.config.to_dict()).jit is True


@pytest.mark.parametrize("kw", [dict(optimizer="momentum", augment=True), dict(optimizer="adam", dtype="float64")],
                         ids=["momentum-augment", "adam-float64"])
def test_compiled_training_is_bit_identical_to_eager(kw):
    """``--compile`` (forward, backward and the update through ``tg.compile``): the same weights,
    optimizer state, history metrics and RNG states after two epochs."""
    data = tiny_data(dtype=kw.get("dtype", "float32"))
    eager = Trainer(config(**kw), data, log=None)
    compiled = Trainer(config(compile=True, **kw), data, log=None)
    eager.fit()
    compiled.fit()
    assert_same_state(eager, compiled)
    for a, b in zip(eager.history, compiled.history):
        for key in ("train_loss", "train_accuracy", "val_loss", "val_accuracy"):
            assert a[key] == b[key], key
    assert TrainConfig.from_dict(compiled.config.to_dict()).compile is True


@pytest.mark.parametrize("kw,text", [(dict(dropout=0.2), "compile .* needs the MLP, the ce loss and no dropout"),
                                     (dict(loss="mse"), "compile .* needs the MLP, the ce loss and no dropout"),
                                     (dict(jit=True), "choose one of jit .* and compile")])
def test_compile_refuses_what_it_cannot_compile(kw, text):
    with pytest.raises(ValueError, match=text):
        config(compile=True, **kw).validate()


@pytest.mark.parametrize("kw", [dict(dropout=0.2), dict(loss="mse")])
def test_jit_refuses_what_a_trace_would_freeze(kw):
    with pytest.raises(ValueError, match="jit .* needs the ce loss and no dropout"):
        config(jit=True, **kw).validate()


def test_config_defaults_and_round_trip():
    c = TrainConfig()
    assert c.learning_rate == 1e-3 and c.decay == 0.0
    assert TrainConfig(optimizer="adamw").decay == 0.01 and TrainConfig(optimizer="momentum").learning_rate == 0.05
    d = config(hidden=(), lr=0.3).to_dict()
    assert d["hidden"] == [] and TrainConfig.from_dict({**d, "unknown_future_key": 1}) == config(hidden=(), lr=0.3)


# ---------------------------------------------------------------------- training
def test_training_learns_and_records_history():
    data = tiny_data()
    logs: list[str] = []
    t = Trainer(config(epochs=3), data, log=logs.append)
    t.fit()
    assert t.epoch == 3 and len(t.history) == 3 and len(logs) == 3
    row = t.history[-1]
    assert set(row) >= {"epoch", "lr", "train_loss", "train_accuracy", "val_loss", "val_accuracy", "epoch_seconds",
                        "samples_per_second"}
    assert t.history[0]["lr"] > t.history[-1]["lr"]  # cosine schedule
    assert t.evaluate(data.x_test, data.y_test).accuracy > 0.6  # chance is 0.1
    assert "epoch 3/3" in logs[-1] and "val loss" in logs[-1]


def test_running_metrics_come_from_the_training_forward_passes():
    data = tiny_data()
    t = Trainer(config(epochs=1, optimizer="sgd", lr=1e-12), data, log=None)  # lr ~ 0: weights frozen
    before = t.evaluate(data.x_train, data.y_train)
    row = t.train_epoch()
    assert row["train_accuracy"] == pytest.approx(before.accuracy)
    assert row["train_loss"] == pytest.approx(before.loss, rel=1e-4)


@pytest.mark.parametrize("loss", ["ce", "mse"])
def test_batch_loss_matches_the_models_loss(loss):
    model = MLP([784, 16, 10], rng=0)
    x, y = tiny_data().x_train[:20], tiny_data().y_train[:20]
    expected = model.loss(x, y, loss=loss).data
    np.testing.assert_allclose(batch_loss(model(x), y, loss).data, expected, rtol=1e-6)


def test_same_seed_same_weights_other_seed_different():
    data = tiny_data()
    kw = dict(dropout=0.2, augment=True)
    a, b, c = (Trainer(config(seed=s, **kw), data, log=None) for s in (3, 3, 4))
    for t in (a, b, c):
        t.fit()
    assert_same_state(a, b)
    assert not np.array_equal(weights(a)["layers.0.weight"], weights(c)["layers.0.weight"])


@pytest.mark.parametrize("opt,schedule", [("sgd", "step"), ("momentum", "cosine"), ("adam", "none"),
                                          ("adamw", "cosine")])
def test_resume_is_bitwise_identical(tmp_path, opt, schedule):
    data = tiny_data()
    kw = dict(epochs=3, optimizer=opt, schedule=schedule, dropout=0.1, augment=True, nesterov=opt == "momentum")
    full = Trainer(config(**kw), data, log=None)
    full.fit()
    part = Trainer(config(**kw), data, log=None)
    part.fit(save=lambda t: save_trainer(t, tmp_path / "ck.npz"), stop_after=1)
    assert part.epoch == 1
    resumed = trainer_from_checkpoint(load_checkpoint(tmp_path / "ck.npz"), data, log=None)
    assert resumed.epoch == 1 and len(resumed.history) == 1
    resumed.fit()
    assert_same_state(full, resumed)
    assert [h["val_accuracy"] for h in resumed.history] == [h["val_accuracy"] for h in full.history]


def test_early_stopping_restores_the_best_weights(tmp_path):
    data = tiny_data()
    t = Trainer(config(epochs=30, early_stopping=2, optimizer="sgd", lr=0.5, schedule="none"), data, log=None)
    best_seen = {}

    def track(row):
        if row["epoch"] == t.best_epoch:
            best_seen["w"] = t.model.state_dict()

    t.log = lambda line: track(t.history[-1])
    t.fit(save=lambda t: save_trainer(t, tmp_path / "ck.npz"))
    assert t.stopped_early and t.epoch < 30 and t.bad_epochs == 2
    assert t.best_val_accuracy == max(h["val_accuracy"] for h in t.history)
    for k, v in best_seen["w"].items():
        np.testing.assert_array_equal(t.model.state_dict()[k], v)
    ck = load_checkpoint(tmp_path / "ck.npz")
    assert ck.meta["finished"] and ck.meta["early_stopping"]["stopped"]
    np.testing.assert_array_equal(ck.group("model")["layers.0.weight"], best_seen["w"]["layers.0.weight"])


def test_early_stopping_needs_validation_data():
    data = tiny_data()
    data.x_val, data.y_val = data.x_val[:0], data.y_val[:0]
    with pytest.raises(ValueError, match="validation"):
        Trainer(config(early_stopping=2), data, log=None)
    t = Trainer(config(epochs=1), data, log=None)  # without early stopping no validation is fine
    t.fit()
    assert t.history[0]["val_accuracy"] is None


def test_float64_mse_tanh_no_hidden_layer():
    data = tiny_data(dtype="float64")
    t = Trainer(config(dtype="float64", loss="mse", activation="tanh", hidden=()), data, log=None)
    t.fit()
    assert t.model.sizes == [784, 10]
    assert all(p.dtype == np.float64 for p in t.model.parameters())
    assert np.isfinite(t.history[-1]["train_loss"])


def test_standardized_data_uses_the_background_as_augmentation_fill():
    data = tiny_data(standardize=True)
    t = Trainer(config(standardize=True, augment=True), data, log=None)
    assert t.augmenter.fill == pytest.approx(-data.stats.mean / data.stats.std)


def test_evaluation_restores_mode_and_records_no_graph():
    data = tiny_data()
    t = Trainer(config(dropout=0.5), data, log=None)
    t.model.train()
    r1 = t.evaluate(data.x_test, data.y_test)
    r2 = t.evaluate(data.x_test, data.y_test)
    np.testing.assert_array_equal(r1.predictions, r2.predictions)  # dropout off while evaluating
    assert t.model.training and is_grad_enabled()
    np.testing.assert_allclose(r1.probabilities.sum(axis=1), 1.0)


def test_loading_into_a_different_architecture_names_the_file(tmp_path):
    data = tiny_data()
    save_trainer(Trainer(config(hidden=(32,)), data, log=None), tmp_path / "ck.npz")
    ck = load_checkpoint(tmp_path / "ck.npz")
    ck.config.hidden = (16,)  # the saved configuration no longer describes the saved weights
    with pytest.raises(CheckpointError, match="ck.npz.*layers.0.weight"):
        trainer_from_checkpoint(ck, data, log=None)


def test_shell_style_hyperparameter_changes():
    data = tiny_data()
    t = Trainer(config(epochs=4, schedule="cosine"), data, log=None)
    t.train_epoch()
    t.set_lr(0.01)
    assert t.optimizer.lr == pytest.approx(t.scheduler.lr_at(1)) and t.scheduler.base_lr == 0.01
    t.set_optimizer("momentum")
    assert type(t.optimizer).__name__ == "SGD" and t.optimizer.momentum == 0.9
    t.set_batch_size(7)
    assert t.loader.batch_size == 7
    t.train_epoch()
    assert t.epoch == 2


# ---------------------------------------------------------------------- metrics
def test_metrics():
    y = np.array([0, 0, 1, 1, 2, 2])
    p = np.array([0, 1, 1, 1, 2, 0])
    assert metrics.accuracy(p, y) == pytest.approx(4 / 6)
    cm = metrics.confusion_matrix(y, p, 3)
    np.testing.assert_array_equal(cm, [[1, 1, 0], [0, 2, 0], [1, 0, 1]])
    pc = metrics.per_class(cm)
    np.testing.assert_allclose(pc["precision"], [0.5, 2 / 3, 1.0])
    np.testing.assert_allclose(pc["recall"], [0.5, 1.0, 0.5])
    rep = metrics.classification_report(y, p, ["a", "b", "c"])
    assert rep["per_class"]["b"]["support"] == 2 and rep["confusion_matrix"][2] == [1, 0, 1]
    table = metrics.format_per_class(rep)
    assert "precision" in table and "macro" in table
    assert "true\\pred" in metrics.format_confusion(cm, ["a", "b", "c"])
    # a class never predicted and never present: 0, not NaN
    pc = metrics.per_class(metrics.confusion_matrix(np.array([0]), np.array([0]), 2))
    assert pc["precision"][1] == 0 and pc["recall"][1] == 0


def test_evaluate_logits_and_cross_entropy():
    logits = np.array([[2.0, 0.0], [0.0, 3.0], [1000.0, -1000.0]])
    r = metrics.evaluate_logits(logits, np.array([0, 0, 0]))
    assert r.accuracy == pytest.approx(2 / 3)
    np.testing.assert_array_equal(r.predictions, [0, 1, 0])
    assert np.isfinite(r.loss) and r.loss == pytest.approx(metrics.cross_entropy(logits, np.array([0, 0, 0])))
    t = Tensor(logits)
    from tinygrad_np.nn import functional as F

    assert r.loss == pytest.approx(float(F.cross_entropy(t, np.array([0, 0, 0])).data))
    unlabeled = metrics.evaluate_logits(logits, None)
    assert np.isnan(unlabeled.accuracy) and unlabeled.confidences[2] == pytest.approx(1.0)


def test_load_data_takes_normalization_from_the_training_split(tmp_path):
    from tiny_data import write_idx_dataset

    from mnist.data import read_idx
    from mnist.train import load_data

    write_idx_dataset(tmp_path, n_train=300, n_test=50)
    cfg = config(dataset="mnist", data_dir=str(tmp_path), verify=False, val_size=100, standardize=True)
    data = load_data(cfg)
    train = read_idx(tmp_path / "train-images-idx3-ubyte.gz")[:200] / 255.0
    assert data.stats.mean == pytest.approx(train.mean()) and data.stats.std == pytest.approx(train.std())
    assert data.x_train.shape == (200, 784) and data.x_val.shape == (100, 784) and data.x_test.shape == (50, 784)
    assert data.x_train.dtype == np.float32 and abs(float(data.x_train.mean())) < 1e-4
    # the validation split is the END of the training file
    np.testing.assert_array_equal(data.val_images, read_idx(tmp_path / "train-images-idx3-ubyte.gz")[200:])
    again = load_data(cfg, Stats(0.5, 2.0))  # e.g. the stats saved in a checkpoint
    np.testing.assert_allclose(again.x_test, (data.test_images.reshape(50, -1) / 255.0 - 0.5) / 2.0, rtol=1e-5)
    with pytest.raises(ValueError, match="val_size"):
        load_data(config(dataset="mnist", data_dir=str(tmp_path), verify=False, val_size=300))
