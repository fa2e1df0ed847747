"""Training in Python: the names a script needs, gathered from the modules that define them.

::

    from mnist.train import TrainConfig, Trainer, load_data
    cfg = TrainConfig(hidden=(128,), epochs=1)
    data = load_data(cfg)
    trainer = Trainer(cfg, data)
    trainer.fit()
    print(trainer.evaluate(data.x_test, data.y_test).accuracy)

The pieces: :mod:`mnist.config` (``TrainConfig``), :mod:`mnist.dataset` (``load_data``, ``Data``),
:mod:`mnist.trainer` (``Trainer``, the epoch loop) and :mod:`mnist.resume` (checkpoints of a
trainer: ``save_trainer``, ``resume``, ``trainer_from_checkpoint``). No module of the app imports
this one.
"""
from __future__ import annotations

from .config import ACTIVATIONS, DEFAULT_LR, LOSSES, OPTIMIZERS, SCHEDULES, TrainConfig
from .dataset import Data, load_data
from .model import EVAL_BATCH, batch_loss, model_logits
from .resume import check_data_fits, resume, save_trainer, stats_from_meta, trainer_from_checkpoint
from .trainer import Trainer, TrainerState, TrainingDiverged, build_optimizer, build_scheduler

__all__ = [
    "ACTIVATIONS", "DEFAULT_LR", "EVAL_BATCH", "LOSSES", "OPTIMIZERS", "SCHEDULES",
    "Data", "TrainConfig", "Trainer", "TrainerState", "TrainingDiverged", "batch_loss", "build_optimizer",
    "build_scheduler", "check_data_fits", "load_data", "model_logits", "resume", "save_trainer",
    "stats_from_meta", "trainer_from_checkpoint",
]
