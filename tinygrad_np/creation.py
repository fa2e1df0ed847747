"""Creating tensors: ``tensor`` (copies), ``from_numpy`` (shares), ``zeros``, ``ones``, ``full``,
``arange``, ``eye``, seeded ``rand`` / ``randn``, and the ``*_like`` forms.

Default dtypes follow PyTorch: Python floats become float32, Python ints int64 (``tg.tensor([0, 1])``
can index and label), bools bool; an ndarray keeps its dtype. ``zeros``, ``ones``, ``full``,
``eye``, ``rand`` and ``randn`` are float32 unless ``dtype`` says otherwise.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .engine import Tensor
from .tensor_methods import _shape_arg

DEFAULT_DTYPE = np.dtype(np.float32)
RngLike = np.random.Generator | int | None


def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A new Tensor holding a *copy* of ``data`` (as ``torch.tensor``), so later writes to the
    caller's array cannot change it behind a graph's back."""
    arr = data.data if isinstance(data, Tensor) else data
    t = Tensor(np.array(arr, dtype=dtype, copy=True) if isinstance(arr, np.ndarray) else arr, dtype=dtype)
    return t.requires_grad_(True) if requires_grad else t


def from_numpy(array: np.ndarray, requires_grad: bool = False) -> Tensor:
    """A Tensor *sharing* ``array``'s memory (as ``torch.from_numpy``; so does ``Tensor(array)``):
    the Tensor cannot write into it, but writes through ``array`` itself change the Tensor, and
    no version counter sees them. Use ``tensor`` for a safe copy."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"from_numpy: expected an ndarray, got {type(array).__name__}")
    return Tensor(array, requires_grad=requires_grad)


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _make(arr: np.ndarray, dtype: Any, requires_grad: bool) -> Tensor:
    return Tensor(arr.astype(dtype or DEFAULT_DTYPE, copy=False), requires_grad=requires_grad)


def zeros(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.zeros(_shape_arg(shape), dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def ones(*shape: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.ones(_shape_arg(shape), dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def full(shape: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    shape = _shape_arg((shape,) if isinstance(shape, int) else tuple(shape))
    return _make(np.full(shape, fill_value, dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, dtype: Any = None,
           requires_grad: bool = False) -> Tensor:
    """Evenly spaced values; float32 unless ``dtype`` is given."""
    return _make(np.arange(start, stop, step) if stop is not None else np.arange(start), dtype, requires_grad)


def eye(n: int, m: int | None = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return _make(np.eye(n, m, dtype=dtype or DEFAULT_DTYPE), dtype, requires_grad)


def rand(*shape: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Uniform [0, 1) samples from a seeded ``numpy.random.Generator`` (or an int seed)."""
    return _make(_rng(rng).random(_shape_arg(shape)), dtype, requires_grad)


def randn(*shape: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    """Standard normal samples from a seeded ``numpy.random.Generator`` (or an int seed)."""
    return _make(_rng(rng).standard_normal(_shape_arg(shape)), dtype, requires_grad)


def zeros_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.zeros_like(np.asarray(t), dtype=dtype), requires_grad=requires_grad)


def ones_like(t: Any, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.ones_like(np.asarray(t), dtype=dtype), requires_grad=requires_grad)


def full_like(t: Any, fill_value: float, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    return Tensor(np.full_like(np.asarray(t), fill_value, dtype=dtype), requires_grad=requires_grad)


def rand_like(t: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = np.asarray(t)
    return rand(a.shape, rng=rng, dtype=dtype or a.dtype, requires_grad=requires_grad)


def randn_like(t: Any, rng: RngLike = None, dtype: Any = None, requires_grad: bool = False) -> Tensor:
    a = np.asarray(t)
    return randn(a.shape, rng=rng, dtype=dtype or a.dtype, requires_grad=requires_grad)
