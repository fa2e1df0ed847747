"""Weight initializers returning ndarrays.

Shapes follow this package's ``(fan_in, fan_out)`` weight layout (``y = x @ W + b``), so by
default ``fan_in = shape[0]`` and ``fan_out = prod(shape[1:])``. Values are drawn in float64
from a ``numpy.random.Generator`` and cast to ``dtype`` at the end, so one seed gives the same
parameters in any dtype (up to rounding). ``kaiming_normal`` draws
``rng.standard_normal(shape) * sqrt(2 / fan_in)``, the usual He initialisation in one Generator call.

Every initializer has the signature ``init(shape, rng=None, dtype=float32, ...)``;
``rng`` is a Generator, an int seed, or None (fresh OS entropy).
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

__all__ = ["kaiming_normal", "kaiming_uniform", "xavier_uniform", "zeros", "INITIALIZERS", "get_initializer"]

RngLike = np.random.Generator | int | None


def _rng(rng: RngLike) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _shape(shape: int | Sequence[int]) -> tuple[int, ...]:
    shape = (int(shape),) if isinstance(shape, (int, np.integer)) else tuple(int(s) for s in shape)
    if not shape or min(shape) < 0:
        raise ValueError(f"init: need a non-empty shape of non-negative sizes, got {shape}")
    return shape


def _fans(shape: tuple[int, ...], fan_in: int | None, fan_out: int | None = None) -> tuple[int, int]:
    fi = shape[0] if fan_in is None else int(fan_in)
    fo = (int(np.prod(shape[1:])) if len(shape) > 1 else shape[0]) if fan_out is None else int(fan_out)
    if fi < 1 or fo < 1:
        raise ValueError(f"init: fan_in and fan_out must be >= 1, got {fi} and {fo} for shape {shape}")
    return fi, fo


def kaiming_normal(shape: int | Sequence[int], rng: RngLike = None, dtype: Any = np.float32,
                   fan_in: int | None = None) -> np.ndarray:
    """He normal: W ~ N(0, 2 / fan_in), i.e. ``standard_normal(shape) * sqrt(2 / fan_in)``."""
    shape = _shape(shape)
    fi, _ = _fans(shape, fan_in)
    return (_rng(rng).standard_normal(shape) * np.sqrt(2.0 / fi)).astype(dtype, copy=False)


def kaiming_uniform(shape: int | Sequence[int], rng: RngLike = None, dtype: Any = np.float32,
                    fan_in: int | None = None) -> np.ndarray:
    """He uniform: W ~ U(-a, a) with a = sqrt(6 / fan_in) (variance a²/3 = 2 / fan_in)."""
    shape = _shape(shape)
    fi, _ = _fans(shape, fan_in)
    bound = np.sqrt(6.0 / fi)
    return _rng(rng).uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def xavier_uniform(shape: int | Sequence[int], rng: RngLike = None, dtype: Any = np.float32,
                   fan_in: int | None = None, fan_out: int | None = None) -> np.ndarray:
    """Glorot uniform: W ~ U(-a, a) with a = sqrt(6 / (fan_in + fan_out)) (variance 2 / (fan_in + fan_out))."""
    shape = _shape(shape)
    fi, fo = _fans(shape, fan_in, fan_out)
    bound = np.sqrt(6.0 / (fi + fo))
    return _rng(rng).uniform(-bound, bound, size=shape).astype(dtype, copy=False)


def zeros(shape: int | Sequence[int], rng: RngLike = None, dtype: Any = np.float32,
          fan_in: int | None = None) -> np.ndarray:
    """All zeros (``rng`` and ``fan_in`` are accepted for a uniform signature and ignored;
    no random numbers are drawn)."""
    return np.zeros(_shape(shape), dtype=dtype)


#: name -> initializer, for ``Linear(..., init="name")``.
INITIALIZERS: dict[str, Callable[..., np.ndarray]] = {
    "kaiming_normal": kaiming_normal,
    "kaiming_uniform": kaiming_uniform,
    "xavier_uniform": xavier_uniform,
    "zeros": zeros,
}


def get_initializer(init: str | Callable[..., np.ndarray]) -> Callable[..., np.ndarray]:
    """An initializer by name (see ``INITIALIZERS``) or a callable ``init(shape, rng, dtype)`` as is."""
    if callable(init):
        return init
    try:
        return INITIALIZERS[init]
    except KeyError:
        raise ValueError(f"unknown init {init!r}; expected one of {sorted(INITIALIZERS)} or a callable") from None
