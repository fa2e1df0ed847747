"""Function transformations as interpreters: the values a transformation puts in a function.

``tg.grad``, ``tg.jvp`` and ``tg.vmap`` each run the function on *tracers* of their own: a tracer
stands for one value of the function and knows how to run an op on itself (``process``), in
terms of ops on the values below it. ``Tensor.apply`` hands an op whose inputs include tracers
to the tracer of the innermost transformation, the one with the highest ``level``; that tracer
computes the op on the values one level down (which may be tracers of an outer transformation),
and wraps the result. So transformations nest in any order, each only seeing its own level,
as in JAX (autodidax) and functorch:

* ``GradTracer`` (``reverse_mode.py``): a value whose ops are recorded on a tape of its own level;
* ``Dual`` (``forward_mode.py``): a primal and its tangent, carried forward op by op;
* ``Batched`` (``batching.py``): a stack of values along a batch axis, one per example.

A tracer's ``shape``, ``dtype``, ``ndim`` and ``size`` are those of the value it stands for
(one example's, under vmap).
"""
from __future__ import annotations

import contextlib
import itertools
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from . import modes
from .engine import Tensor


class Tracer(Tensor):
    """A value of a function transformation at ``level`` (see the module docstring)."""

    __slots__ = ("level", "_shape", "_dtype")

    @classmethod
    def new(cls, level: int, shape: tuple[int, ...], dtype: np.dtype) -> "Tracer":
        t = cls.__new__(cls)
        t.level, t._shape, t._dtype = level, tuple(shape), np.dtype(dtype)
        t._data = t.grad = t._ctx = t._hooks = None
        t._version = [0]
        t.requires_grad = False
        return t

    shape = property(lambda self: self._shape, doc="The shape of the value this tracer stands for.")
    dtype = property(lambda self: self._dtype)
    ndim = property(lambda self: len(self._shape))
    size = property(lambda self: int(np.prod(self._shape, dtype=np.int64)))

    def process(self, cls: type, inputs: tuple, params: dict) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def own(self, x: Any) -> bool:
        """Is ``x`` a tracer of this tracer's transformation (same kind, same level)?"""
        return type(x) is type(self) and x.level == self.level

    def live(self) -> bool:
        """Is this tracer's transformation still running? A tracer kept past it (on the tape that a
        ``vjp`` function runs later) stands for its value one level down, as a constant."""
        return self.level in modes.state.levels

    @property
    def data(self) -> np.ndarray:
        raise TypeError(f"the values of a {type(self).__name__} inside a transformed function are not concrete "
                        "arrays; return them from the function instead")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(level={self.level}, shape={self.shape}, dtype={self.dtype})"

    def __bool__(self) -> bool:
        raise TypeError(f"Python control flow on a {type(self).__name__}'s value is not supported inside a "
                        "transformed function (use tg.where)")

    def __len__(self) -> int:
        if not self._shape:
            raise TypeError("len() of a 0-d tensor")
        return self._shape[0]


_levels = itertools.count(1)


@contextlib.contextmanager
def new_level() -> Iterator[int]:
    """A level for one run of a transformation: higher than every level made before it, so a
    transformation started inside another is innermost (the running levels: ``modes.state.levels``)."""
    level = next(_levels)
    state = modes.state
    state.levels = state.levels | {level}
    try:
        yield level
    finally:
        state.levels = state.levels - {level}


def flatten(tree: Any) -> tuple[list[Any], Any]:
    """The leaves of nested tuples, lists and dicts (in order), and the structure to rebuild them."""
    if isinstance(tree, (tuple, list)):
        parts = [flatten(x) for x in tree]
        return [leaf for p in parts for leaf in p[0]], (type(tree), [p[1] for p in parts])
    if isinstance(tree, dict):
        parts = [flatten(tree[k]) for k in tree]
        return [leaf for p in parts for leaf in p[0]], (dict, (list(tree), [p[1] for p in parts]))
    return [tree], None


def unflatten(structure: Any, leaves: Sequence[Any]) -> Any:
    """The inverse of ``flatten``."""
    it = iter(leaves)

    def build(s: Any) -> Any:
        if s is None:
            return next(it)
        kind, inner = s
        if kind is dict:
            keys, subs = inner
            return {k: build(sub) for k, sub in zip(keys, subs)}
        return kind(build(sub) for sub in inner)

    return build(structure)


def tree_map(fn: Callable[[Any], Any], tree: Any) -> Any:
    leaves, structure = flatten(tree)
    return unflatten(structure, [fn(x) for x in leaves])


def as_tensor(x: Any) -> Tensor:
    """Tensors (and tracers) as they are; anything else through ``Tensor(x)``."""
    return x if isinstance(x, Tensor) else Tensor(x)
