"""The compiler's program: a training step as a list of equations over typed variables.

A ``Program`` is what ``trace.py`` records and everything after it reads: ``plan.py`` gives its
variables buffers, ``kernels.py`` turns each equation into NumPy calls, ``update.py`` adds the
optimizer's update. It is SSA, like a jaxpr: every variable is written once, by one equation,
and never changes afterwards (which is what makes buffer reuse a question of lifetimes only).

* ``Var``: one array of the step: an argument of the step, a parameter (a Tensor the optimizer
  updates), a constant (a Tensor or array fixed when the step was traced) or a value computed by
  an equation. It knows its shape, dtype and the memory layout its value had when traced.
* ``Eqn``: ``outs = op(*ins, **params)``, ``op`` a registry op (a ``Function`` subclass) or one of
  the compiler's own fused ops (``fusions.py``). A parameter that is an array computed inside the
  step (an index made from an argument) is a ``Ref`` to one of the equation's inputs.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np


class Var:
    """One array of a compiled step (see the module docstring). ``kind`` is "arg", "param",
    "const" or "value"; ``source`` is the argument's position, the parameter or constant Tensor
    (or array), or None for a value. ``strides`` is the layout a buffer for it must have (the one
    NumPy gave the value when traced, so that every op sees the same memory order as in eager)."""

    __slots__ = ("id", "kind", "shape", "dtype", "strides", "source", "name", "view_of")

    def __init__(self, id: int, kind: str, array: np.ndarray, source: Any = None) -> None:
        self.id, self.kind, self.source = id, kind, source
        self.view_of: Var | None = None  # a value that is a view of another variable's memory
        self.shape, self.dtype = array.shape, array.dtype
        self.strides = np.empty_like(array).strides if kind == "value" else array.strides
        self.name = f"%{id}"

    @property
    def nbytes(self) -> int:
        return int(np.prod(self.shape, dtype=np.int64)) * self.dtype.itemsize

    @property
    def type(self) -> str:
        """``f32[128,10]``: the dtype's short name and the shape, as in the listing."""
        return f"{short_dtype(self.dtype)}[{','.join(str(n) for n in self.shape)}]"

    def __repr__(self) -> str:
        return f"{self.name}:{self.type}"


@dataclass(frozen=True)
class Ref:
    """A parameter of an equation that is an array computed in the step: input ``index`` of the
    equation (an index array that is an argument, for instance). Bound to that array at replay."""

    index: int


@dataclass(eq=False)
class Eqn:
    """``outs = op(*ins, **params)``; ``phase`` is "forward" or "backward" (where it was recorded)."""

    op: type
    ins: list[Var]
    outs: list[Var]
    params: dict[str, Any]
    phase: str
    nargs: int | None = None  # the op's own inputs come first; the rest are arrays its params Ref

    @property
    def args(self) -> list[Var]:
        """The op's own inputs (without the arrays its parameters refer to)."""
        return self.ins if self.nargs is None else self.ins[:self.nargs]

    @property
    def name(self) -> str:
        return getattr(self.op, "op_name", self.op.__name__)


@dataclass(eq=False)
class Program:
    """A traced step: ``eqns`` in execution order (the forward, then the engine's backward),
    ``args`` (one Var per array argument, None for the others), ``params`` (Tensor, Var) pairs,
    ``consts``, the ``loss`` and ``aux`` outputs and each parameter's gradient (None: no gradient
    reaches it; a Var of kind "const" when the gradient does not depend on the data)."""

    eqns: list[Eqn]
    args: list[Var | None]
    params: list[tuple[Any, Var]]
    consts: list[Var]
    loss: Var
    aux: list[Var] = field(default_factory=list)
    aux_single: bool = False
    grads: list[Var | None] = field(default_factory=list)
    next_id: int = 0
    keep: list[Var] = field(default_factory=list)  # values the update reads besides the gradients

    def new_value(self, shape: tuple[int, ...], dtype: np.dtype) -> Var:
        """A new variable for a value of the program (C-ordered), e.g. an extra output of a fused op."""
        var = Var(self.next_id, "value", np.empty(shape, dtype))
        self.next_id += 1
        return var

    def outputs(self) -> list[Var]:
        return [self.loss, *self.aux, *[g for g in self.grads if g is not None], *self.keep]

    def signature(self) -> list[tuple]:
        """What two traces of one function must agree on: every equation's op, wiring, parameters
        and output types, and which variables are the outputs."""
        out = []
        for e in self.eqns:
            out.append((e.op, tuple(v.id for v in e.ins), e.params, tuple((v.id, v.shape, v.dtype) for v in e.outs)))
        return out


def short_dtype(dtype: np.dtype) -> str:
    """``f32``, ``f64``, ``i64``, ``b``: NumPy's kind letter and the size in bits."""
    dtype = np.dtype(dtype)
    return "b" if dtype.kind == "b" else f"{dtype.kind}{dtype.itemsize * 8}"


def array_key(a: np.ndarray) -> tuple:
    """What identifies an array's values for the tracer: the same memory, shape, strides and dtype
    (a read-only view ``t.data`` of a traced value has the same key as the value itself)."""
    return (a.__array_interface__["data"][0], a.shape, a.strides, a.dtype.str)
