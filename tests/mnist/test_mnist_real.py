"""One epoch on the real MNIST data set must reach >= 95 % test accuracy.

The data are found like everywhere else in the app (``MNIST_DIR``, the user cache, system
folders) but never downloaded: without the files the test is skipped, saying why.
"""
from __future__ import annotations

import time

import pytest

from mnist.data import DatasetNotFoundError
from mnist.train import TrainConfig, Trainer, load_data


@pytest.fixture(scope="module")
def mnist_config():
    cfg = TrainConfig(hidden=(128,), epochs=1, optimizer="adam", lr=3e-3, batch_size=128, seed=0)
    try:
        data = load_data(cfg, download=False)
    except DatasetNotFoundError as e:
        pytest.skip(f"MNIST not available (set MNIST_DIR to a folder with the IDX files): {str(e).splitlines()[0]}")
    return cfg, data


def test_one_epoch_reaches_95_percent(mnist_config):
    cfg, data = mnist_config
    assert (len(data.x_train), len(data.x_val), len(data.x_test)) == (55000, 5000, 10000)
    trainer = Trainer(cfg, data, log=None)
    t0 = time.perf_counter()
    trainer.fit()
    seconds = time.perf_counter() - t0
    test = trainer.evaluate(data.x_test, data.y_test)
    print(f"MNIST, 1 epoch of 784-128-10: test accuracy {100 * test.accuracy:.2f}% in {seconds:.1f} s")
    assert test.accuracy >= 0.95
    assert trainer.history[0]["val_accuracy"] >= 0.95
