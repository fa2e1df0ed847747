"""The hand-derived NumPy reference every ratio is taken against, and the shared initial weights.

The reference is ``mnist.reference`` (plain NumPy, no tinygrad_np), which ships in this
project's ``mnist`` app package, not in ``tinygrad_np``. The benchmarks need it: when it cannot
be imported, ``reference()`` raises ``MissingReference`` saying so (the command-line tools turn
it into a one-line error), never a bare ``ModuleNotFoundError``.
"""
from __future__ import annotations

from types import ModuleType
from typing import Callable, Sequence

import numpy as np

__all__ = ["MissingReference", "reference", "initial_params", "reference_step"]

_MODULE = "mnist.reference"


class MissingReference(RuntimeError):
    """``mnist.reference`` (the hand-derived baseline) is not importable."""


def reference() -> ModuleType:
    """The ``mnist.reference`` module."""
    import importlib

    try:
        return importlib.import_module(_MODULE)
    except ModuleNotFoundError as e:
        if e.name not in ("mnist", _MODULE):
            raise  # something *inside* the reference is missing: not ours to reword
        raise MissingReference(
            f"the benchmarks need {_MODULE} (the hand-derived NumPy baseline), part of this project's "
            f"'mnist' app package, which is not importable here ({e}). Run them from a checkout of the "
            "repository, or install the whole project with `pip install -e .` from it.") from None


def initial_params(sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """He-normal float32 weights shared by every contender (the reference's init), in the
    reference layout ``[W1, b1, ..., WL, bL]``."""
    return reference().init_params(sizes, np.random.default_rng(seed), dtype=np.float32)


def reference_step(params: list[np.ndarray], lr: float) -> Callable[[np.ndarray, np.ndarray], float]:
    """One SGD step of the hand-derived reference on ``params`` (updated in place); returns the loss."""
    ref = reference()

    def step(xb: np.ndarray, yb: np.ndarray) -> float:
        value, grads = ref.loss_and_grads(params, xb, yb)
        ref.sgd_step(params, grads, lr)
        return value
    return step
