"""The trainer never lies: a diverging loss stops training, Ctrl-C rolls an epoch back, the
background polarity is kept with the model, and slow multi-threaded epochs are flagged."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_data import make_images

from mnist import threads
from mnist.checkpoint import load_checkpoint
from mnist.data import to_float
from mnist.dataset import Data, background_level, looks_light
from mnist.inference import load_classifier
from mnist.inputs import read_inputs
from mnist.resume import save_trainer, trainer_from_checkpoint
from mnist.train import TrainConfig, Trainer, TrainingDiverged


def tiny_data(light=False, n_train=200, n_val=40, n_test=40) -> Data:
    images, labels = make_images(n_train + n_val + n_test, seed=0)
    if light:
        images = 255 - images
    x, stats = to_float(images)
    a, b = n_train, n_train + n_val
    return Data(x[:a], labels[:a], x[a:b], labels[a:b], x[b:], labels[b:], images[b:], images[a:b],
                [str(i) for i in range(10)], (28, 28), stats, "tiny", "memory", background_level(images[:a]))


def config(**kw) -> TrainConfig:
    return TrainConfig(**{**dict(hidden=(16,), epochs=3, batch_size=32, seed=0), **kw})


def assert_same(a: Trainer, b: Trainer) -> None:
    for k, v in a.model.state_dict().items():
        np.testing.assert_array_equal(v, b.model.state_dict()[k], err_msg=k)
    oa, ob = a.optimizer.state_dict(), b.optimizer.state_dict()
    assert oa.keys() == ob.keys() and all(np.array_equal(oa[k], ob[k]) for k in oa)
    assert a.loader.rng.bit_generator.state == b.loader.rng.bit_generator.state
    assert a.history == b.history or [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]


# ----------------------------------------------------------------------------- NaN / Inf
@pytest.mark.parametrize("jit", [False, True])
def test_a_nan_loss_stops_training_naming_epoch_and_step_and_keeps_the_last_epoch(jit):
    data = tiny_data()
    t = Trainer(config(jit=jit), data, log=None)
    t.fit(epochs=1)
    before = t.model.state_dict()
    data.x_train[7] = np.nan  # one poisoned image: its batch's loss is NaN
    with pytest.raises(TrainingDiverged, match=r"the loss is nan at epoch 2, step \d+ .*lower the learning rate"):
        t.train_epoch()
    assert t.epoch == 1 and len(t.history) == 1
    for k, v in before.items():
        np.testing.assert_array_equal(t.model.state_dict()[k], v)


@pytest.mark.filterwarnings("ignore:overflow:RuntimeWarning", "ignore:invalid value:RuntimeWarning")
def test_an_exploding_learning_rate_is_caught_before_a_nan_checkpoint(tmp_path):
    t = Trainer(config(optimizer="sgd", lr=1e12, schedule="none"), tiny_data(), log=None)
    with pytest.raises(TrainingDiverged, match=r"epoch 1, step \d+ \(learning rate 1e\+12\)"):
        t.fit(save=lambda tr: save_trainer(tr, tmp_path / "ck.npz"))
    assert not (tmp_path / "ck.npz").exists()
    assert all(np.isfinite(v).all() for v in t.model.state_dict().values())


# ----------------------------------------------------------------------------- Ctrl-C
class InterruptAfter:
    """A loader that raises KeyboardInterrupt after ``n`` batches of epoch ``epoch``."""

    def __init__(self, trainer: Trainer, epoch: int, n: int) -> None:
        self.inner, self.trainer, self.epoch, self.n = trainer.loader, trainer, epoch, n

    def __getattr__(self, name):
        return getattr(self.inner, name)

    def __iter__(self):
        for k, batch in enumerate(self.inner, start=1):
            if self.trainer.epoch + 1 == self.epoch and k > self.n:
                raise KeyboardInterrupt
            yield batch


@pytest.mark.parametrize("kw", [dict(), dict(dropout=0.2, augment=True, optimizer="momentum")])
def test_ctrl_c_mid_epoch_rolls_back_and_training_continues_bit_for_bit(kw):
    data = tiny_data()
    full = Trainer(config(**kw), data, log=None)
    full.fit()
    t = Trainer(config(**kw), data, log=None)
    t.fit(epochs=1)
    after_one = t.snapshot()
    t.loader = InterruptAfter(t, epoch=2, n=3)
    with pytest.raises(KeyboardInterrupt):
        t.train_epoch()
    assert t.epoch == 1 and len(t.history) == 1
    restored = t.snapshot()
    for k in after_one.model:
        np.testing.assert_array_equal(restored.model[k], after_one.model[k])
    assert restored.rng == after_one.rng and restored.optimizer.keys() == after_one.optimizer.keys()
    t.loader = t.loader.inner
    t.fit()
    assert_same(t, full)


# ----------------------------------------------------------------------------- background polarity
def test_the_background_level_is_measured_saved_and_used_to_pad(tmp_path):
    dark, light = tiny_data(), tiny_data(light=True)
    assert dark.background < 60 and light.background > 200
    t = Trainer(config(augment=True, epochs=1), light, log=None)
    assert t.augmenter.fill == pytest.approx(light.background / 255)  # not 0: the paper is white
    padded = t.augmenter(np.full((1, 784), light.fill, np.float32))
    np.testing.assert_allclose(padded, light.fill, rtol=1e-6)  # shifting a blank page leaves it blank
    t.fit()
    save_trainer(t, tmp_path / "ck.npz")
    assert load_checkpoint(tmp_path / "ck.npz").meta["background"]["level"] == light.background
    clf = load_classifier(tmp_path / "ck.npz")
    assert clf.light_background
    assert trainer_from_checkpoint(tmp_path / "ck.npz", light, log=None).data.background == light.background


def test_invert_auto_follows_the_models_background(tmp_path):
    from PIL import Image

    digit = np.zeros((28, 28), np.uint8)
    digit[6:22, 12:16] = 255  # a "1"
    Image.fromarray(digit).save(tmp_path / "dark.png")  # a light stroke on black, like MNIST
    Image.fromarray(255 - digit).save(tmp_path / "light.png")  # a dark stroke on white paper
    files = [str(tmp_path / "dark.png"), str(tmp_path / "light.png")]
    for light_model in (False, True):
        got = read_inputs(files, (28, 28), 10, "auto", light_background=light_model).images
        assert (looks_light(got) == light_model).all()  # every input now looks like the training data
    as_is = read_inputs(files, (28, 28), 10, "no").images
    np.testing.assert_array_equal(read_inputs(files, (28, 28), 10, "auto", light_background=True).images[1], as_is[1])


# ----------------------------------------------------------------------------- threads
def test_threads_option_anywhere_and_the_default():
    assert threads.threads_from_argv(["train", "--epochs", "2", "--threads", "2"]) == 2
    assert threads.threads_from_argv(["--threads=3", "eval"]) == 3
    assert threads.threads_from_argv(["predict", "--", "--threads", "2"]) is None
    env: dict[str, str] = {}
    assert threads.apply_threads(["train"], env) == threads.DEFAULT_THREADS
    assert env["OPENBLAS_NUM_THREADS"] == str(threads.DEFAULT_THREADS)
    env = {"OMP_NUM_THREADS": "2"}
    assert threads.apply_threads(["train"], env) is None and "OPENBLAS_NUM_THREADS" not in env  # the user's choice
    assert threads.apply_threads(["train", "--threads", "2"], env) == 2 and env["OPENBLAS_NUM_THREADS"] == "2"
    assert threads.blas_threads({"OPENBLAS_NUM_THREADS": "4"}) == 4


def test_the_oversubscription_hint():
    hint = threads.oversubscription_hint
    assert hint(1000.0, 5000.0, threads=1, cpus=2, load=6.0) is None  # one thread is never oversubscribed
    assert hint(4000.0, 5000.0, threads=2, cpus=2, load=6.0) is None  # not slow
    assert hint(1000.0, 5000.0, threads=2, cpus=2, load=2.1) is None  # slow, but nothing else is running
    text = hint(1000.0, 5000.0, threads=2, cpus=2, load=4.2)
    assert "under half the run's best" in text and "try --threads 1" in text
    assert "4 BLAS threads on 2 CPUs" in hint(5000.0, None, threads=4, cpus=2, load=None)


def test_the_epoch_line_carries_the_hint(monkeypatch):
    import mnist.trainer

    lines: list[str] = []
    t = Trainer(config(epochs=2), tiny_data(), log=lines.append)
    monkeypatch.setattr(mnist.trainer, "blas_threads", lambda: 8)
    monkeypatch.setattr(mnist.trainer, "cpu_count", lambda: 2)
    t.fit()
    assert all("[slow? 8 BLAS threads on 2 CPUs: try --threads 2]" in line for line in lines)
    monkeypatch.setattr(mnist.trainer, "blas_threads", lambda: 1)
    t.set_epochs(3)
    t.fit()
    assert "slow?" not in lines[-1]
