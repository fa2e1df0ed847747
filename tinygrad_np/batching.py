"""vmap as a transformation: ``Batched``, a stack of values, one per example, along a batch axis.

``tg.vmap(f)(xs)`` runs ``f`` once, on a ``Batched`` whose ``value`` holds every example along
axis ``bdim``; ``f`` sees one example's shape. Each op runs through its class's batching rule,
``batch(values, bdims, params, level) -> (value, bdim)``: the same op (or a few) on the whole
stack at once, never a Python loop over the examples. The rules here are shared by families of
ops and are correct for each op that names them:

* ``elementwise``: broadcasting ops: each batched input gets its batch axis first and size-1
  axes after it up to the output's rank, so the examples' own axes still broadcast against the
  unbatched inputs;
* ``reduction``: ops with an ``axis`` parameter (None = all axes): the axes shift past the batch axis;
* ``composite(fn)``: an op re-expressed through other ops on the batched values (their rules do it).

Ops with other shapes of parameters (reshape, transpose, indexing, matmul, ...) have their own
rule next to them. An op without a rule raises a TypeError naming it.
"""
from __future__ import annotations

import functools
from typing import Any, Callable, Sequence

from .engine import Function, Tensor
from .tracing import Tracer, as_tensor, flatten, new_level, unflatten

Rule = Callable[..., tuple[Tensor, Any]]


class Batched(Tracer):
    """A value at a vmap level: ``value`` one level down holds every example along axis ``bdim``."""

    __slots__ = ("value", "bdim")

    @classmethod
    def of(cls, level: int, value: Tensor, bdim: int) -> "Batched":
        shape = value.shape[:bdim] + value.shape[bdim + 1:]
        t = cls.new(level, shape, value.dtype)
        t.value, t.bdim = value, bdim
        return t

    def process(self, cls: type[Function], inputs: tuple, params: dict) -> Tensor:
        values = [x.value if self.own(x) else x for x in inputs]
        bdims = [x.bdim if self.own(x) else None for x in inputs]
        rule = getattr(cls, "batch", None)
        if rule is None:
            raise TypeError(f"vmap: the op {getattr(cls, 'op_name', cls.__name__)!r} has no batching rule "
                            "(see tinygrad_np/batching.py); call it outside vmap or give its class a batch rule")
        out, bdim = rule(values, bdims, dict(params), self.level)
        return out if bdim is None else Batched.of(self.level, out, bdim)


# ----------------------------------------------------------------------------- helpers for rules
def front(v: Tensor, bdim: int | None) -> Tensor:
    """``v`` with its batch axis first."""
    if not bdim:
        return v
    axes = list(range(v.ndim))
    axes.insert(0, axes.pop(bdim))
    return v.transpose(*axes)


def batch_size(values: Sequence[Tensor], bdims: Sequence[int | None]) -> int:
    return next(v.shape[b] for v, b in zip(values, bdims) if b is not None)


def stacked(v: Tensor, bdim: int | None, size: int) -> Tensor:
    """``v`` with a leading batch axis: moved there, or (unbatched) the same value for every example."""
    return front(v, bdim) if bdim is not None else v.reshape((1,) + v.shape).expand((size,) + v.shape)


def shift(axis: int | Sequence[int], ndim: int) -> Any:
    """A per-example axis (or tuple of axes, negative ones too) as an axis of the stack (batch first)."""
    if isinstance(axis, (tuple, list)):
        return tuple(a % ndim + 1 for a in axis)
    return axis % ndim + 1


# ----------------------------------------------------------------------------- shared rules
def elementwise(cls: type[Function], values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """Broadcasting ops: batch axes first, padded with size-1 axes to the output's rank."""
    rank = max(v.ndim - (b is not None) for v, b in zip(values, bdims))
    args = []
    for v, b in zip(values, bdims):
        if b is not None:
            v = front(v, b)
            if v.ndim - 1 < rank:
                v = v.reshape(v.shape[:1] + (1,) * (rank - v.ndim + 1) + v.shape[1:])
        args.append(v)
    return Tensor.apply(cls, *args, **params), 0


def reduction(cls: type[Function], values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """Ops over ``axis`` (None: every axis of an example) of input 0: the axes shift past the batch
    axis. Other inputs must be unbatched (they broadcast against an example's trailing axes, which
    the batch axis in front leaves in place); an op with batched other inputs needs its own rule."""
    if any(b is not None for b in bdims[1:]):
        raise NotImplementedError(f"vmap: {getattr(cls, 'op_name', cls.__name__)}'s reduction rule batches "
                                  "input 0 only; this op needs its own batching rule for other batched inputs")
    v = front(values[0], bdims[0])
    ndim = v.ndim - 1
    axis = params.get("axis")
    params["axis"] = tuple(range(1, ndim + 1)) if axis is None else shift(axis, max(ndim, 1))
    return Tensor.apply(cls, v, *values[1:], **params), 0


def along_axis(cls: type[Function], values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """Ops along one ``axis`` of every (batched) input, e.g. softmax: the axis shifts past the batch axis."""
    size = batch_size(values, bdims)
    args = [stacked(v, b, size) for v, b in zip(values, bdims)]
    params["axis"] = shift(params.get("axis", -1), args[0].ndim - 1)
    return Tensor.apply(cls, *args, **params), 0


def composite(fn: Callable[..., Tensor]) -> Rule:
    """A rule that computes the op as ``fn(*inputs, **params)`` of other ops on the batched values."""

    def rule(cls: type[Function], values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, Any]:
        out = fn(*[v if b is None else Batched.of(level, v, b) for v, b in zip(values, bdims)], **params)
        return (out.value, out.bdim) if isinstance(out, Batched) and out.level == level else (out, None)

    return rule


# ----------------------------------------------------------------------------- vmap
def vmap(f: Callable[..., Any], in_axes: Any = 0, out_axes: Any = 0) -> Callable[..., Any]:
    """``f`` mapped over a batch axis: ``vmap(f)(xs)[k] == f(xs[k])`` for every k, computed in one
    pass of batched ops (each op's batching rule, ``batching.py``), not a Python loop.

    ``in_axes``: the batch axis of every argument (an int), or per argument (a tuple; None for an
    argument shared by every example, e.g. the parameters in ``vmap(grad(loss), in_axes=(None, 0, 0))``).
    ``out_axes``: where the batch axis goes in each result (int, or a tuple per result)."""

    @functools.wraps(f)
    def vmapped(*args: Any) -> Any:
        axes = in_axes if isinstance(in_axes, (tuple, list)) else (in_axes,) * len(args)
        if len(axes) != len(args):
            raise ValueError(f"vmap: in_axes has {len(axes)} entries for {len(args)} arguments")
        size = None
        with new_level() as level:
            wrapped = []
            for a, ax in zip(args, axes):
                if ax is None:
                    wrapped.append(a)
                    continue
                leaves, structure = flatten(a)
                new = []
                for x in leaves:
                    x = as_tensor(x)
                    if x.ndim == 0:
                        raise ValueError("vmap: cannot map over an axis of a 0-d argument")
                    k = ax % x.ndim
                    if size is None:
                        size = x.shape[k]
                    elif x.shape[k] != size:
                        raise ValueError(f"vmap: batch axes of different sizes, {size} and {x.shape[k]}")
                    new.append(Batched.of(level, x, k))
                wrapped.append(unflatten(structure, new))
            if size is None:
                raise ValueError("vmap: no argument is mapped (all in_axes are None)")
            out = f(*wrapped)
            leaves, structure = flatten(out)
            o_axes = out_axes if isinstance(out_axes, (tuple, list)) else (out_axes,) * len(leaves)
            results = [_unbatch(y, level, size, ax) for y, ax in zip(leaves, o_axes)]
        return unflatten(structure, results)

    return vmapped


def _unbatch(y: Any, level: int, size: int, out_axis: int) -> Any:
    """One result of a vmapped function as a stack with its batch axis at ``out_axis``."""
    if isinstance(y, Batched) and y.level == level:
        v = front(y.value, y.bdim)
    elif isinstance(y, Tensor):  # the same for every example
        v = y.reshape((1,) + y.shape).expand((size,) + y.shape)
    else:
        return y
    k = out_axis % v.ndim
    if k:
        axes = list(range(1, v.ndim))
        axes.insert(k, 0)
        v = v.transpose(*axes)
    return v

