"""Bug injection: does gradcheck catch plausible wrong backward rules?

For every op in ``OPS`` a set of *mutants* (wrong VJPs: sign flip, dropped term, missing
un-broadcast, transposed matmul gradient, forgotten keepdims, scaled by 2, upstream gradient
ignored, wrong mask/subgradient, wrong axis, wrong dtype, ...) is swapped in, one at a time,
and examples drawn by ``cases.py`` are checked until the mutant is caught or ``max_examples``
pass. The op classes are never edited: a mutant is a subclass with an overridden
``backward``, installed in ``OPS[name]`` by a context manager that restores it in ``finally``.

"Caught" means running backward + gradcheck on the example failed, in one of three ways:

* ``gradcheck``: the analytic VJP disagrees with central differences (a mismatch);
* ``engine``: the engine's invariant (a gradient has its input's shape and dtype) raised;
* ``raised``: the wrong VJP crashed inside backward (e.g. ``expand``/``matmul`` refused the
  shapes, as a transposed rule does for non-square matrices).

An example only counts if the *correct* rule passes gradcheck on it (baseline), so a catch
is never an artefact of the input. The command exits 1 if any mutant survives.
"""
from __future__ import annotations

import argparse
import contextlib
import csv
import random
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

import numpy as np

from tinygrad_np import OPS, Function
from tinygrad_np.gradcheck import gradcheck
from tinygrad_np import Tensor
from .cases import Case, has_generator, seeded_case

VJP = Callable[[Any, Tensor, Tensor], tuple]  # backward(self, g, out) of a mutant
DEFAULT_OUT = "runs/experiments/mutants"
MAX_DRAWS_PER_EXAMPLE = 40  # draws allowed per usable example (for mutants restricted by ``applies``)


@dataclass(frozen=True)
class Mutant:
    """A wrong backward rule for op ``op``: ``kind`` is the bug family, ``rule`` the formula."""

    op: str
    kind: str
    rule: str
    backward: VJP | None  # None: the correct rule (a planted harmless "mutant")
    applies: Callable[[Case], bool] | None = None  # restrict to examples where the rule typechecks

    def make(self, base: type[Function]) -> type[Function]:
        """A subclass of ``base`` with this backward; it records the forward's params in ``_p``."""

        def forward(fn: Any, *arrays: np.ndarray, **params: Any) -> np.ndarray:
            fn._p = params
            return base.forward(fn, *arrays, **params)

        body: dict[str, Any] = {"forward": forward}
        if self.backward is not None:
            body["backward"] = self.backward
        return type(f"{base.__name__}_mutant", (base,), body)


@contextlib.contextmanager
def swapped(name: str, cls: type[Function]) -> Iterator[None]:
    """Install ``cls`` as ``OPS[name]`` inside the block; always restore the original."""
    original = OPS[name]
    OPS[name] = cls
    try:
        yield
    finally:
        OPS[name] = original


# ----------------------------------------------------------------------------- small helpers
def c(arr: Any, like: Tensor) -> Tensor:
    """A constant tensor with ``like``'s dtype."""
    return Tensor._from_op(np.asarray(arr, dtype=like.dtype), None)


def inputs(fn: Any) -> list[Tensor]:
    return list(fn.inputs)


def red_axes(fn: Any, ndim: int) -> tuple[int, ...]:
    axis = fn._p.get("axis")
    if axis is None:
        return tuple(range(ndim))
    return tuple(sorted(a % ndim for a in ((axis,) if isinstance(axis, int) else axis)))


def kshape(shape: tuple[int, ...], axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(1 if i in axes else n for i, n in enumerate(shape))


def expand_back(fn: Any, g: Tensor) -> Tensor:
    """Correct spreading of a reduction's g: keepdims-reshape, then broadcast."""
    a = fn.inputs[0]
    return g.reshape(kshape(a.shape, red_axes(fn, a.ndim))).expand(a.shape)


def n_reduced(fn: Any) -> int:
    a = fn.inputs[0]
    return int(np.prod([a.shape[i] for i in red_axes(fn, a.ndim)], dtype=int))


def mean_unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Un-broadcast by *averaging* the copies instead of summing them (a classic bias bug)."""
    copies = g.size // max(int(np.prod(shape, dtype=int)), 1)
    return unbroadcast(g, shape) / copies


def need(fn: Any, i: int, value: Callable[[], Tensor]) -> Tensor | None:
    return value() if fn.needs_input_grad[i] else None


def binary_masks(fn: Any, pick: Callable[[np.ndarray, np.ndarray], np.ndarray]) -> tuple[Tensor, Tensor]:
    a, b = inputs(fn)
    ab, bb = np.broadcast_arrays(a.data, b.data)
    return c(pick(ab, bb), a), c(pick(bb, ab), b)


# ----------------------------------------------------------------------------- generic mutants
def sign_flip(base: type[Function]) -> VJP:
    def backward(fn, g, out):
        return tuple(None if x is None else -x for x in base.backward(fn, g, out))
    return backward


def scaled(base: type[Function], k: float = 2.0) -> VJP:
    def backward(fn, g, out):
        return tuple(None if x is None else x * k for x in base.backward(fn, g, out))
    return backward


def upstream_ignored(base: type[Function]) -> VJP:
    def backward(fn, g, out):
        return base.backward(fn, c(np.ones(g.shape), g), out)
    return backward


def wrong_dtype(base: type[Function]) -> VJP:
    def backward(fn, g, out):
        return tuple(None if x is None else x.astype(np.float32) for x in base.backward(fn, g, out))
    return backward


def drop_input(base: type[Function], k: int) -> VJP:
    def backward(fn, g, out):
        grads = list(base.backward(fn, g, out))
        grads[k] = None
        return tuple(grads)
    return backward


GENERIC: list[tuple[str, str, Callable[[type[Function]], VJP]]] = [
    ("sign", "every VJP negated", sign_flip),
    ("scale", "every VJP doubled", scaled),
    ("upstream", "g replaced by ones (upstream ignored)", upstream_ignored),
]
DTYPE_OPS = ("exp", "matmul", "sum", "getitem", "linear")  # also get a float32-gradient mutant


# ----------------------------------------------------------------------------- op-specific rules
def _matmul_vjp(fn: Any, g: Tensor, ta: bool = True, tb: bool = True, drop_b: bool = False) -> tuple:
    """matmul VJP with switches: ``ta=False`` gives ā = g @ b, ``tb=False`` gives b̄ = a @ g."""
    a, b = inputs(fn)
    a2 = a.reshape(1, -1) if a.ndim == 1 else a
    b2 = b.reshape(-1, 1) if b.ndim == 1 else b
    batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    g = g.reshape(batch + (a2.shape[-2], b2.shape[-1]))
    ga = g @ (b2.mT if ta else b2)
    gb = (a2.mT if tb else a2) @ g
    ga = ga.squeeze(-2) if a.ndim == 1 else ga
    gb = gb.squeeze(-1) if b.ndim == 1 else gb
    return need(fn, 0, lambda: ga), None if drop_b else need(fn, 1, lambda: gb)


def _linear_vjp(fn: Any, g: Tensor, tw: bool = True, bias: str = "sum") -> tuple:
    x, w = fn.inputs[0], fn.inputs[1]
    g2, x2 = g.reshape(-1, g.shape[-1]), x.reshape(-1, x.shape[-1])
    grads = [g @ (w.T if tw else w), x2.T @ g2]
    if len(fn.inputs) > 2:
        grads.append(None if bias == "none" else g2.sum(axis=0) if bias == "sum" else g2.mean(axis=0))
    return tuple(gr if n else None for gr, n in zip(grads, fn.needs_input_grad))


def _extremum(fn: Any, g: Tensor, out: Tensor, mode: str) -> tuple:
    a = fn.inputs[0]
    axes = red_axes(fn, a.ndim)
    target = out.data.reshape(kshape(a.shape, axes))
    if mode == "other":  # arg-min for max, arg-max for min
        target = (np.min if type(fn).op_name == "max" else np.max)(a.data, axis=axes, keepdims=True)
    hit = a.data == target
    share = c(hit / hit.sum(axis=axes, keepdims=True), a)
    if mode == "all":
        return (expand_back(fn, g),)
    if mode == "keepdims":
        return (g.expand(a.shape) * share,)
    return (expand_back(fn, g) * share,)


def _var_vjp(fn: Any, g: Tensor, two: float = 2.0, ddof: bool = True, center: bool = True) -> tuple:
    a = fn.inputs[0]
    axes = red_axes(fn, a.ndim)
    centered = a - a.mean(axis=axes, keepdims=True) if center else a
    denom = n_reduced(fn) - (fn._p.get("ddof", 0) if ddof else 0)
    return (expand_back(fn, g) * centered * (two / denom),)


def _first_copy(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Take one copy along the broadcast axes instead of summing them."""
    lead = g.ndim - len(shape)
    idx = (0,) * lead + tuple(slice(0, 1) if n == 1 and m != 1 else slice(None)
                              for n, m in zip(shape, g.shape[lead:]))
    return g[idx]


def _cross_entropy(fn: Any, g: Tensor, divide: bool = True, onehot: bool = True, axis: int = 1) -> tuple:
    z = fn.inputs[0]
    labels, reduction = fn._p["labels"], fn._p.get("reduction", "mean")
    hot = np.zeros(z.shape)
    hot[np.arange(len(labels)), labels] = 1
    scale = g.reshape(-1, 1) if reduction == "none" else g
    if reduction == "mean" and divide:
        scale = scale / len(labels)
    p = z.softmax(axis=axis)
    return (((p - c(hot, z)) if onehot else p) * scale,)


def _scatter(g: Tensor, fn: Any) -> Tensor:
    return Tensor.apply("scatter_add", g, index=fn._p["index"], shape=fn.inputs[0].shape)


def _assign_scatter(g: Tensor, fn: Any) -> Tensor:
    out = np.zeros(fn.inputs[0].shape)
    out[fn._p["index"]] = g.data  # assignment: a repeated index keeps only the last value
    return c(out, g)


def _concat(fn: Any, g: Tensor, mode: str) -> tuple:
    axis = fn._p.get("axis", 0) % g.ndim
    sizes = [x.shape[axis] for x in fn.inputs]
    if mode == "reversed":
        sizes = sizes[::-1]
    bounds = np.cumsum([0] + sizes).tolist()
    lead = (slice(None),) * axis
    parts = [g[lead + (slice(lo, hi),)] for lo, hi in zip(bounds[:-1], bounds[1:])]
    if mode == "first":
        parts = [g[lead + (slice(0, n),)] for n in sizes]
    return tuple(parts)


def _stack(fn: Any, g: Tensor, mode: str) -> tuple:
    axis = fn._p.get("axis", 0) % g.ndim
    k = len(fn.inputs)
    if mode == "axis0":
        return tuple(g[i] for i in range(k))
    lead = (slice(None),) * axis
    return tuple(g[lead + (k - 1 - i,)] for i in range(k))


def _a(fn: Any) -> Tensor:
    return fn.inputs[0]


def _square_rows(case: Case) -> bool:
    """A square matrix reduced over its last axis without keepdims: the forgotten-keepdims VJP
    broadcasts g along the wrong axis without any shape error."""
    (a,), p = case.inputs, case.params
    return a.ndim == 2 and a.shape[0] == a.shape[1] > 1 and p.get("axis") in (1, -1) and not p.get("keepdims")


def _square(case: Case) -> bool:
    """Both operands square matrices: where a transposed matmul VJP still typechecks."""
    return all(x.ndim == 2 and x.shape[0] == x.shape[1] > 1 for x in case.inputs)


SPECIFIC: dict[str, list[tuple]] = {  # op -> [(kind, rule, backward[, applies])]
    "add": [("sign", "b̄ = -g (rule copied from sub)", lambda f, g, o: (g, -g)),
            ("unbroadcast", "broadcast copies averaged, not summed", lambda f, g, o: tuple(
                mean_unbroadcast(g, x.shape) for x in inputs(f))),
            ("unbroadcast", "un-broadcast always over axis 0 (wrong axis)", lambda f, g, o: tuple(
                g.sum(axis=0, keepdims=True) if g.ndim else g for _ in inputs(f)))],
    "sub": [("sign", "b̄ = +g (minus sign lost)", lambda f, g, o: (g, g)),
            ("unbroadcast", "broadcast copies averaged, not summed", lambda f, g, o: (
                mean_unbroadcast(g, f.inputs[0].shape), -mean_unbroadcast(g, f.inputs[1].shape)))],
    "mul": [("dropped-term", "product rule missing b̄", lambda f, g, o: (g * f.inputs[1], None)),
            ("wrong-factor", "ā = g·a, b̄ = g·b (own value, not the other)", lambda f, g, o: (
                g * f.inputs[0], g * f.inputs[1])),
            ("unbroadcast", "broadcast copies averaged, not summed", lambda f, g, o: (
                mean_unbroadcast(g * f.inputs[1], f.inputs[0].shape),
                mean_unbroadcast(g * f.inputs[0], f.inputs[1].shape)))],
    "div": [("dropped-term", "quotient rule missing b̄", lambda f, g, o: (g / f.inputs[1], None)),
            ("sign", "b̄ = +g·a/b²", lambda f, g, o: (g / f.inputs[1], g * f.inputs[0] / (f.inputs[1] * f.inputs[1]))),
            ("wrong-factor", "ā = g·b", lambda f, g, o: (g * f.inputs[1], -g * f.inputs[0] / (f.inputs[1] * f.inputs[1])))],
    "pow": [("wrong-factor", "ā = g·b·a^b (exponent not decremented)", lambda f, g, o: (
                g * f.inputs[1] * o, g * o * f.inputs[0].log())),
            ("dropped-term", "b̄ missing", lambda f, g, o: (g * f.inputs[1] * f.inputs[0] ** (f.inputs[1] - 1), None)),
            ("dropped-term", "b̄ = g·y (log a forgotten)", lambda f, g, o: (
                g * f.inputs[1] * f.inputs[0] ** (f.inputs[1] - 1), g * o))],
    "exp": [("dropped-term", "ā = g (y forgotten)", lambda f, g, o: (g,)),
            ("wrong-factor", "ā = g·a", lambda f, g, o: (g * _a(f),))],
    "log": [("wrong-factor", "ā = g·a", lambda f, g, o: (g * _a(f),)),
            ("wrong-factor", "ā = g/a²", lambda f, g, o: (g / (_a(f) * _a(f)),))],
    "sqrt": [("scale", "ā = g/y (factor ½ dropped)", lambda f, g, o: (g / o,)),
             ("wrong-factor", "ā = g/(2a) (input instead of output)", lambda f, g, o: (g / (_a(f) * 2),))],
    "abs": [("subgradient", "ā = g (sign dropped)", lambda f, g, o: (g,)),
            ("subgradient", "ā = g·[a > 0] (ReLU mask)", lambda f, g, o: (g * c(_a(f).data > 0, g),))],
    "tanh": [("dropped-term", "ā = g(1 - y) (square dropped)", lambda f, g, o: (g * (1 - o),)),
             ("sign", "ā = g(1 + y²)", lambda f, g, o: (g * (1 + o * o),)),
             ("wrong-factor", "ā = g(1 - a²) (input instead of output)", lambda f, g, o: (g * (1 - _a(f) * _a(f)),))],
    "sigmoid": [("dropped-term", "ā = g·y", lambda f, g, o: (g * o,)),
                ("dropped-term", "ā = g(1 - y)", lambda f, g, o: (g * (1 - o),)),
                ("wrong-factor", "ā = g·a(1 - a) (input instead of output)", lambda f, g, o: (g * _a(f) * (1 - _a(f)),))],
    "relu": [("subgradient", "mask inverted: ā = g·[a < 0]", lambda f, g, o: (g * c(_a(f).data < 0, g),)),
             ("subgradient", "mask dropped: ā = g", lambda f, g, o: (g,)),
             ("subgradient", "ā = g·a (value instead of mask)", lambda f, g, o: (g * _a(f),))],
    "leaky_relu": [("subgradient", "slope dropped (ReLU mask)", lambda f, g, o: (g * c(_a(f).data > 0, g),)),
                   ("subgradient", "slope on the positive side", lambda f, g, o: (
                       g * c(np.where(_a(f).data > 0, f._p.get("negative_slope", 0.01), 1.0), g),)),
                   ("subgradient", "ā = g·s everywhere", lambda f, g, o: (g * f._p.get("negative_slope", 0.01),))],
    "maximum": [("subgradient", "g sent to the smaller input", lambda f, g, o: tuple(
                    g * m for m in binary_masks(f, np.less))),
                ("subgradient", "both inputs get g", lambda f, g, o: (g, g))],
    "minimum": [("subgradient", "g sent to the larger input", lambda f, g, o: tuple(
                    g * m for m in binary_masks(f, np.greater))),
                ("subgradient", "both inputs get g", lambda f, g, o: (g, g))],
    "where": [("subgradient", "cond ignored: ā = b̄ = g", lambda f, g, o: (g, g)),
              ("subgradient", "cond inverted", lambda f, g, o: (g * c(~f._p["cond"], g), g * c(f._p["cond"], g)))],
    "clip": [("subgradient", "mask inverted", lambda f, g, o: (g * c(o.data != _a(f).data, g),)),
             ("subgradient", "mask dropped: ā = g", lambda f, g, o: (g,))],
    "matmul": [("transpose", "ā = g @ b (square matrices)", lambda f, g, o: _matmul_vjp(f, g, ta=False), _square),
               ("transpose", "b̄ = a @ g (square matrices)", lambda f, g, o: _matmul_vjp(f, g, tb=False), _square),
               ("transpose", "ā = g @ b (any shapes)", lambda f, g, o: _matmul_vjp(f, g, ta=False)),
               ("dropped-term", "b̄ missing", lambda f, g, o: _matmul_vjp(f, g, drop_b=True))],
    "linear": [("transpose", "x̄ = g @ W (square W)", lambda f, g, o: _linear_vjp(f, g, tw=False),
                lambda case: case.inputs[1].shape[0] == case.inputs[1].shape[1]),
               ("dropped-term", "b̄ missing", lambda f, g, o: _linear_vjp(f, g, bias="none")),
               ("unbroadcast", "b̄ averaged over rows, not summed", lambda f, g, o: _linear_vjp(f, g, bias="mean"))],
    "sum": [("keepdims", "g broadcast without keepdims (wrong axis)", lambda f, g, o: (g.expand(_a(f).shape),)),
            ("keepdims", "no keepdims, (n,n) over axis 1: silent", lambda f, g, o: (g.expand(_a(f).shape),),
             _square_rows),
            ("scale", "ā = broadcast(g)/n (mean's rule)", lambda f, g, o: (expand_back(f, g) / n_reduced(f),))],
    "mean": [("scale", "/n forgotten", lambda f, g, o: (expand_back(f, g),)),
             ("keepdims", "g broadcast without keepdims (wrong axis)", lambda f, g, o: (
                 g.expand(_a(f).shape) / n_reduced(f),))],
    "var": [("scale", "factor 2 dropped", lambda f, g, o: _var_vjp(f, g, two=1.0)),
            ("dropped-term", "ddof ignored (n instead of n - ddof)", lambda f, g, o: _var_vjp(f, g, ddof=False)),
            ("dropped-term", "mean not subtracted", lambda f, g, o: _var_vjp(f, g, center=False))],
    "max": [("subgradient", "g spread to every element", lambda f, g, o: _extremum(f, g, o, "all")),
            ("subgradient", "g sent to the arg-min", lambda f, g, o: _extremum(f, g, o, "other")),
            ("keepdims", "g broadcast without keepdims (wrong axis)", lambda f, g, o: _extremum(f, g, o, "keepdims"))],
    "min": [("subgradient", "g spread to every element", lambda f, g, o: _extremum(f, g, o, "all")),
            ("subgradient", "g sent to the arg-max", lambda f, g, o: _extremum(f, g, o, "other")),
            ("keepdims", "g broadcast without keepdims (wrong axis)", lambda f, g, o: _extremum(f, g, o, "keepdims"))],
    "logsumexp": [("dropped-term", "ā = g·exp(a) (y not subtracted)", lambda f, g, o: (expand_back(f, g) * _a(f).exp(),)),
                  ("dropped-term", "ā = broadcast(g) (softmax factor dropped)", lambda f, g, o: (expand_back(f, g),)),
                  ("keepdims", "g and y broadcast without keepdims", lambda f, g, o: (
                      g.expand(_a(f).shape) * (_a(f) - o.reshape(kshape(_a(f).shape, red_axes(f, _a(f).ndim)))).exp(),))],
    "softmax": [("dropped-term", "Σ term dropped: ā = y·g", lambda f, g, o: (o * g,)),
                ("dropped-term", "outer y dropped: ā = g - Σ g·y", lambda f, g, o: (
                    g - (g * o).sum(axis=f._p.get("axis", -1), keepdims=True),)),
                ("wrong-axis", "Σ over all axes", lambda f, g, o: (o * (g - (g * o).sum()),))],
    "log_softmax": [("dropped-term", "Σ term dropped: ā = g", lambda f, g, o: (g,)),
                    ("wrong-factor", "ā = g - y·Σg (y instead of exp y)", lambda f, g, o: (
                        g - o * g.sum(axis=f._p.get("axis", -1), keepdims=True),)),
                    ("wrong-axis", "Σ over all axes", lambda f, g, o: (g - o.exp() * g.sum(),))],
    "cross_entropy": [("scale", "/N of the mean forgotten", lambda f, g, o: _cross_entropy(f, g, divide=False)),
                      ("dropped-term", "onehot not subtracted", lambda f, g, o: _cross_entropy(f, g, onehot=False)),
                      ("wrong-axis", "softmax over the batch axis", lambda f, g, o: _cross_entropy(f, g, axis=0))],
    "reshape": [("index", "g reshaped in Fortran order", lambda f, g, o: (
        c(np.reshape(g.data, _a(f).shape, order="F"), g),))],
    "transpose": [("transpose", "same permutation, not its inverse", lambda f, g, o: (
                      Tensor.apply("transpose", g, axes=tuple(f._p["axes"])),)),
                  ("transpose", "g reshaped, not transposed", lambda f, g, o: (g.reshape(_a(f).shape),))],
    "expand": [("unbroadcast", "copies averaged, not summed", lambda f, g, o: (mean_unbroadcast(g, _a(f).shape),)),
               ("unbroadcast", "one copy taken, not summed", lambda f, g, o: (_first_copy(g, _a(f).shape),))],
    "getitem": [("index", "scatter by assignment (repeats not summed)", lambda f, g, o: (
                    _assign_scatter(g, f),)),
                ("index", "gradient scattered one position off", lambda f, g, o: (
                    c(np.roll(_scatter(g, f).data, 1), g),))],
    "scatter_add": [("index", "gathered one position off", lambda f, g, o: (
        c(np.roll(g.data, 1), g)[f._p["index"]],))],
    "concatenate": [("index", "every input gets the first slice", lambda f, g, o: _concat(f, g, "first")),
                    ("index", "slice bounds in reverse order", lambda f, g, o: _concat(f, g, "reversed"))],
    "stack": [("wrong-axis", "slices taken along axis 0", lambda f, g, o: _stack(f, g, "axis0")),
              ("index", "slices in reverse order", lambda f, g, o: _stack(f, g, "reversed"))],
}
MULTI_INPUT_DROP = ("sub", "maximum", "minimum", "where")  # also get "second input's VJP missing"


def mutants_for(name: str) -> list[Mutant]:
    """Every mutant of op ``name``: the generic ones plus its specific wrong rules."""
    base = OPS[name]
    out = [Mutant(name, kind, rule, make(base)) for kind, rule, make in GENERIC]
    if name in DTYPE_OPS:
        out.append(Mutant(name, "dtype", "VJPs cast to float32", wrong_dtype(base)))
    if name in MULTI_INPUT_DROP:
        out.append(Mutant(name, "dropped-term", "second input's VJP missing", drop_input(base, 1)))
    out += [Mutant(name, *spec) for spec in SPECIFIC.get(name, [])]
    return out


def harmless(name: str) -> Mutant:
    """A planted "mutant" identical to the correct rule: it must survive (tests the exit path)."""
    return Mutant(name, "planted", "identical to the correct rule (harmless)", None)


# ----------------------------------------------------------------------------- running
@dataclass
class Outcome:
    """The result for one mutant."""

    mutant: Mutant
    caught: bool
    examples: int  # examples run until caught (or all of them)
    how: str  # "gradcheck", "engine", "raised" or "" (survived)
    detail: str
    case: str  # the example that caught it

    def row(self) -> dict[str, Any]:
        m = self.mutant
        return {"op": m.op, "kind": m.kind, "mutant": m.rule, "caught": self.caught,
                "examples": self.examples, "how": self.how, "detail": self.detail, "case": self.case}


def check(case: Case, seed: int) -> tuple[str, str]:
    """Backward + gradcheck on one example: ("", "") if it passed, else (how, detail)."""
    try:
        report = gradcheck(case.fn, case.inputs, raise_exception=False, seed=seed)
    except RuntimeError as e:
        if "returned a gradient of" in str(e):
            return "engine", str(e).split(" for an input")[0]
        return "raised", f"{type(e).__name__}: {e}"
    except Exception as e:  # noqa: BLE001 - any crash of a wrong VJP is a catch
        return "raised", f"{type(e).__name__}: {e}"
    if report.passed:
        return "", ""
    w = report.worst[0]
    return "gradcheck", (f"{report.mismatches}/{report.checked} entries off; worst: analytic {w.analytic:.3g} "
                         f"vs numeric {w.numeric:.3g}")


class Baseline:
    """Caches whether the correct rule passes gradcheck on each drawn example."""

    def __init__(self) -> None:
        self.ok: dict[tuple[str, int], bool] = {}
        self.failures: list[str] = []

    def passes(self, case: Case, key: tuple[str, int], seed: int) -> bool:
        if key not in self.ok:
            how, detail = check(case, seed)
            self.ok[key] = not how
            if how:
                self.failures.append(f"{case.describe()}: {how} {detail}")
        return self.ok[key]


def hunt_builtin(m: Mutant, max_examples: int, seed: int, baseline: Baseline) -> Outcome:
    """Seeded draws from ``cases.py`` until the mutant is caught or ``max_examples`` usable
    examples pass (usable: the correct rule passes on it and the mutant's ``applies`` holds)."""
    cls = m.make(OPS[m.op])
    run = 0
    for k in range(max_examples * MAX_DRAWS_PER_EXAMPLE):
        if run == max_examples:
            break
        case = seeded_case(m.op, seed, k)
        if (m.applies and not m.applies(case)) or not baseline.passes(case, (m.op, k), seed + k):
            continue
        run += 1
        with swapped(m.op, cls):
            how, detail = check(case, seed + k)
        if how:
            return Outcome(m, True, run, how, detail, case.describe())
    return Outcome(m, False, run, "", f"passed {run} examples", "")


def hunt_hypothesis(m: Mutant, max_examples: int, seed: int) -> Outcome:
    """Like ``hunt_builtin`` but drawing from ``tests/op_cases.py`` with ``hypothesis.find``
    (generate phase only: no shrinking, so the count is the number of examples tried)."""
    from hypothesis import HealthCheck, Phase, find, settings
    from hypothesis.errors import NoSuchExample, Unsatisfiable

    def to_case(sample: Any) -> Case:
        return Case(m.op, [np.asarray(x) for x in sample.inputs], dict(sample.params))

    strategy = _op_cases()[m.op].strategy
    if m.applies:
        strategy = strategy.filter(lambda sample: m.applies(to_case(sample)))
    cls = m.make(OPS[m.op])
    seen = {"run": 0}
    found: dict[str, Any] = {}

    def caught(sample: Any) -> bool:
        case = to_case(sample)
        if check(case, seed)[0]:  # the correct rule fails here: not a usable example
            return False
        seen["run"] += 1
        with swapped(m.op, cls):
            how, detail = check(case, seed)
        if how and not found:  # hypothesis replays the failing example once more at the end
            found.update(how=how, detail=detail, case=case.describe(), run=seen["run"])
        return bool(how)

    cfg = settings(max_examples=max_examples, phases=[Phase.generate], database=None, deadline=None, derandomize=False,
                   suppress_health_check=list(HealthCheck))
    try:
        find(strategy, caught, settings=cfg, random=random.Random(seed))
    except (NoSuchExample, Unsatisfiable):
        return Outcome(m, False, seen["run"], "", f"passed {seen['run']} examples", "")
    return Outcome(m, True, found["run"], found["how"], found["detail"], found["case"])


def _op_cases() -> dict[str, Any]:
    tests = Path(__file__).resolve().parents[2] / "tests"
    if str(tests) not in sys.path:
        sys.path.insert(0, str(tests))
    from op_cases import OP_CASES  # type: ignore[import-not-found]

    return OP_CASES


@dataclass
class Result:
    outcomes: list[Outcome]
    uncovered: list[str]  # registry ops without a generator (not tested)
    baseline_failures: list[str]
    seconds: float

    @property
    def survivors(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.caught]


def run(ops: Sequence[str] | None = None, *, max_examples: int = 25, seed: int = 0, source: str = "builtin",
        plant_harmless: Sequence[str] = (), extra: Sequence[Mutant] = ()) -> Result:
    """Hunt every mutant of ``ops`` (default: the whole registry); see the module docstring."""
    start = time.perf_counter()
    names = sorted(OPS) if not ops else list(ops)
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown ops {unknown}; the registry has {sorted(OPS)}")
    available = set(_op_cases()) if source == "hypothesis" else {n for n in names if has_generator(n)}
    uncovered = [n for n in names if n not in available]
    mutants = [m for n in names if n in available for m in mutants_for(n)]
    mutants += [harmless(n) for n in plant_harmless] + list(extra)
    baseline = Baseline()
    outcomes = []
    for m in mutants:
        if source == "hypothesis":
            outcomes.append(hunt_hypothesis(m, max_examples, seed))
        else:
            outcomes.append(hunt_builtin(m, max_examples, seed, baseline))
    return Result(outcomes, uncovered, baseline.failures, time.perf_counter() - start)


# ----------------------------------------------------------------------------- reporting
def table(result: Result, width: int = 44) -> str:
    lines = [f"{'op':<13} {'kind':<12} {'mutant':<{width}} {'caught':<6} {'ex':>3}  how"]
    for o in result.outcomes:
        m = o.mutant
        rule = m.rule if len(m.rule) <= width else m.rule[: width - 1] + "…"
        how = f"{o.how}: {o.detail}" if o.caught else "SURVIVED"
        lines.append(f"{m.op:<13} {m.kind:<12} {rule:<{width}} {'yes' if o.caught else 'NO':<6} {o.examples:>3}  {how[:90]}")
    return "\n".join(lines)


def summary(result: Result) -> str:
    outs = result.outcomes
    n_ops = len({o.mutant.op for o in outs})
    by_how = {h: sum(o.how == h for o in outs) for h in ("gradcheck", "engine", "raised")}
    multi = sum(o.caught and o.examples > 1 for o in outs)
    lines = [f"{len(outs)} mutants of {n_ops} ops: {len(outs) - len(result.survivors)} caught "
             f"(gradcheck {by_how['gradcheck']}, engine invariant {by_how['engine']}, VJP raised {by_how['raised']}), "
             f"{len(result.survivors)} survived; {multi} needed more than one example; {result.seconds:.1f} s"]
    if result.uncovered:
        lines.append(f"WARNING: no input generator (not tested): {', '.join(result.uncovered)}")
    if result.baseline_failures:
        lines.append(f"WARNING: the correct rule failed on {len(result.baseline_failures)} drawn examples (skipped):")
        lines += [f"  {f}" for f in result.baseline_failures[:5]]
    for o in result.survivors:
        lines.append(f"SURVIVED: {o.mutant.op}: {o.mutant.rule} ({o.detail})")
    return "\n".join(lines)


def write_outputs(result: Result, out: Path) -> list[Path]:
    """mutants.csv and mutants.png (examples needed per mutant, coloured by how it was caught)."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "mutants.csv"
    with open(csv_path, "w", newline="") as fh:
        rows = [o.row() for o in result.outcomes]
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["op"])
        writer.writeheader()
        writer.writerows(rows)
    (out / "mutants.txt").write_text(table(result) + "\n\n" + summary(result) + "\n")
    return [csv_path, out / "mutants.txt", plot(result, out / "mutants.png")]


def plot(result: Result, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ops = sorted({o.mutant.op for o in result.outcomes}, reverse=True)
    colors = {"gradcheck": "tab:blue", "engine": "tab:orange", "raised": "tab:green", "": "tab:red"}
    labels = {"gradcheck": "gradcheck mismatch", "engine": "engine shape/dtype invariant",
              "raised": "wrong VJP raised", "": "SURVIVED"}
    fig, ax = plt.subplots(figsize=(7, 0.2 * len(ops) + 1.2), dpi=90)
    rng = np.random.default_rng(0)
    for how, color in colors.items():
        pts = [(o.examples, ops.index(o.mutant.op)) for o in result.outcomes if o.how == how]
        if pts:
            x, y = np.array(pts, dtype=float).T
            ax.scatter(x * np.exp(rng.uniform(-0.08, 0.08, len(x))), y + rng.uniform(-0.25, 0.25, len(y)),
                       s=14, color=color, label=f"{labels[how]} ({len(x)})", alpha=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(ops)), ops, fontsize=7)
    ax.set_xlabel("examples until caught (log scale)")
    ax.set_title(f"Mutant backward rules: {len(result.outcomes) - len(result.survivors)}/{len(result.outcomes)} caught",
                 fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)
    return path


# ----------------------------------------------------------------------------- CLI
SUMMARY = "inject wrong backward rules into every op; does gradcheck catch them? (exit 1 if one survives)"
HELP = """Bug injection. For each op in the registry, swap in plausible WRONG backward rules
(sign flip, dropped term, missing/averaged un-broadcast, transposed matmul gradient, forgotten
keepdims, scaled by 2, upstream gradient ignored, wrong mask/subgradient, wrong axis, float32
gradient), one at a time, and run gradcheck on random valid inputs until the mutant is caught
or --max-examples pass. Prints a table (op, mutant, caught?, examples needed, how caught) and
writes mutants.csv/.txt/.png to --out. Exit status 1 if any mutant survives."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--ops", default="", help="comma-separated ops to test (default: every registered op)")
    p.add_argument("--max-examples", type=int, default=25, help="examples per mutant before it survives (default 25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn examples (default 0)")
    p.add_argument("--source", choices=("builtin", "hypothesis"), default="builtin",
                   help="input generator: the experiment's own seeded generators (default) or the "
                        "hypothesis strategies of tests/op_cases.py")
    p.add_argument("--plant-harmless", default="", metavar="OPS",
                   help="also plant a harmless 'mutant' (identical to the correct rule) for these ops; "
                        "it survives, so the exit status becomes 1")


def main(args: argparse.Namespace) -> int:
    ops = [s for s in args.ops.split(",") if s]
    planted = [s for s in args.plant_harmless.split(",") if s]
    result = run(ops or None, max_examples=args.max_examples, seed=args.seed, source=args.source,
                 plant_harmless=planted)
    print(table(result))
    print()
    print(summary(result))
    for path in write_outputs(result, Path(args.out)):
        print(f"wrote {path}")
    return 1 if result.survivors else 0
