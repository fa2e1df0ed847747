"""Bug injection: are plausible wrong VJP, JVP and batching rules caught, by the check meant to catch them?

A *mutant* is a subclass of an op's class whose ``vjp(self, i, g, y)`` (or ``jvp(self, i, t, y)``)
is wrong in one designed way: a sign flip, a scale, the upstream gradient or tangent ignored, a
dropped term, a wrong factor, axis or mask, forgotten keepdims, un-broadcasting done wrongly, a
transposed matmul rule, a float32 result, an ndarray instead of a Tensor. A *batching mutant*
overrides the class's ``batch(values, bdims, params, level)`` (the rule ``vmap`` runs,
``tinygrad_np/batching.py``) instead: the result said to be shared or its batch axis misplaced,
the batch axes not moved to the front, a shared input read as a stack of examples, a reduction or
softmax over an axis not shifted past the batch axis, batched inputs not padded to the output's
rank. The op classes and the registry are never touched: the harness applies the subclass itself
(``Tensor.apply`` takes a class), on examples drawn by ``cases.py``, until the mutant is caught or
``max_examples`` pass.

The textbook path. The fast layer's faster rules (``engine.LOWERED_VJPS``/``LOWERED_FORWARDS``)
are keyed by the op's class, so a subclass is never lowered: the harness asserts that the class
is in neither table and that the mutant's own rule ran on every example it counts.

Each mutant says how it must end (``expect``); the possible outcomes are

* ``gradcheck``: a VJP mutant's gradient disagrees with central differences (``tinygrad_np.gradcheck``);
* ``jvpcheck``: a JVP mutant's tangent, from forward mode (``tinygrad_np.jvp``, which runs each
  op's ``jvp`` rule), disagrees with ``(f(x + h t) - f(x - h t)) / 2h`` in float64 (``jvp_check``);
* ``vmapcheck``: a batching mutant's ``tinygrad_np.vmap`` of the op, on a batch of examples made
  from the drawn one (``cases.batch_plan``: batch axes anywhere, some inputs shared), disagrees in
  shape or values with a Python loop of the op over the examples (``vmap_check``);
* ``invariant``: the engine refused the VJP (``engine.conform``'s RuntimeError: not a Tensor, or
  not the input's shape and dtype once un-broadcast), or forward mode refused the tangent (an error
  raised through ``forward_mode.conform_tangent``: not a Tensor, a shape that does not broadcast to
  the output's, a dtype that is neither the output's nor the input's); a mutant designed to raise
  (``raises``: exception type and message) also ends here
  when that exception comes out of its rule (vmap checks nothing a batching rule returns, so a
  batching mutant ends here only that way: an op refusing the shapes the wrong rule gives it);
* ``survived``: every example passed: as designed only for a mutant documented as equivalent on
  the drawn domain, or as a known gap of the library, with the reason;
* ``crashed``: any other exception (an AttributeError or TypeError inside a rule or the harness,
  a rule that never ran): never a catch.

An example only counts if the correct rule passes the same check on it (the baseline), so a catch
is never an artefact of the input. ``python -m experiments mutants`` exits 1 unless every
outcome is one its mutant was designed for.
"""
from __future__ import annotations

import argparse
import csv
import time
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

import tinygrad_np
from tinygrad_np import OPS, Function, Tensor, engine, forward_mode, no_grad
from tinygrad_np.batching import batch_size, front, stacked
from tinygrad_np.engine import unbroadcast
from tinygrad_np.functions import where
from tinygrad_np.gradcheck import DEFAULTS, gradcheck
from tinygrad_np.ops.elementwise import ReLU as ReLUOp
from tinygrad_np.ops.linalg import Linear as LinearOp
from tinygrad_np.ops.reduce import Var as VarOp
from tinygrad_np.ops.reduce import kept_shape, normalize_axes
from tinygrad_np.tracing import new_level

from .cases import Case, batch_plan, has_generator, seeded_case

Rule = Callable[[Any, int, Tensor, Tensor], Any]  # (node, i, g or t, y) -> Tensor | None
DEFAULT_OUT = "runs/experiments/mutants"
MAX_DRAWS_PER_EXAMPLE = 40  # draws allowed per usable example (for mutants restricted by ``applies``)
MODES = ("vjp", "jvp", "batch")
OUTCOMES = ("gradcheck", "jvpcheck", "vmapcheck", "invariant", "survived", "crashed")
CHECK_OF = {"vjp": "gradcheck", "jvp": "jvpcheck", "batch": "vmapcheck"}  # the check meant to catch each mode
H = DEFAULTS[np.dtype(np.float64)][0]  # the JVP check's step, with gradcheck's float64 tolerances
ATOL, RTOL = DEFAULTS[np.dtype(np.float64)][1:]


class HarnessError(RuntimeError):
    """The harness could not run a mutant as designed (e.g. its rule never ran): a crash."""


# ----------------------------------------------------------------------------- the mutants
@dataclass(frozen=True)
class Mutant:
    """A wrong ``mode`` rule ("vjp", "jvp" or "batch") of op ``op``: ``kind`` is the bug family,
    ``rule`` the wrong formula in words, ``wrong(node, i, g_or_t, y)`` the rule itself (a batching
    mutant: ``wrong(cls, values, bdims, params, level) -> (value, bdim)``).

    ``expect``: "fd" (caught by the mode's own check: finite differences for gradcheck and the JVP
    check, vmap against a loop for the batching rules), "invariant"
    (refused for its type, shape or dtype, or raising ``raises``), "survives" (equivalent on the
    drawn domain) or "gap" (survives because the library does not check what it should: a known
    gap, also as designed once the library refuses it); ``reason`` says why for the last two.
    ``applies(case)`` restricts it to the examples it is designed for (e.g. square matrices)."""

    op: str
    mode: str
    kind: str
    rule: str
    wrong: Rule
    expect: str = "fd"
    applies: Callable[[Case], bool] | None = None
    raises: tuple[type[BaseException], str] | None = None
    reason: str = ""

    @property
    def expected(self) -> str:
        """The outcome this mutant must have."""
        if self.expect == "fd":
            return CHECK_OF[self.mode]
        return "survived" if self.expect in ("survives", "gap") else "invariant"

    @property
    def allowed(self) -> tuple[str, ...]:
        """The outcomes that count as designed: the expected one (a known gap: also its fix)."""
        return ("survived", "invariant") if self.expect == "gap" else (self.expected,)

    def make(self) -> type[Function]:
        """The subclass of the op's class with this rule (and a count of the rule's calls)."""
        return subclass(OPS[self.op], f"{OPS[self.op].__name__}_{self.mode}_mutant",
                        {self.mode: _MUTANT_RULES[self.mode], "mutant": self, "calls": 0})


def _mutant_vjp(fn: Any, i: int, g: Tensor, y: Tensor) -> Any:
    cls = type(fn)
    cls.calls += 1
    return cls.mutant.wrong(fn, i, g, y)


def _mutant_jvp(fn: Any, i: int, t: Tensor, y: Tensor) -> Any:
    cls = type(fn)
    cls.calls += 1
    return cls.mutant.wrong(fn, i, t, y)


def _mutant_batch(cls: Any, values: list, bdims: list, params: dict, level: int) -> Any:
    cls.calls += 1
    return cls.mutant.wrong(cls, values, bdims, params, level)


_MUTANT_RULES = {"vjp": _mutant_vjp, "jvp": _mutant_jvp, "batch": classmethod(_mutant_batch)}
RULE_CODES = {f.__code__ for f in (_mutant_vjp, _mutant_jvp, _mutant_batch)}  # raised in a mutant's rule


def subclass(base: type[Function], name: str, body: dict[str, Any]) -> type[Function]:
    """A subclass of ``base``; asserts it is on the textbook path (the fast layer does not lower it)."""
    cls = types.new_class(name, (base,), exec_body=lambda ns: ns.update(body, __module__=__name__))
    assert_textbook(cls)
    return cls


def assert_textbook(cls: type[Function]) -> None:
    """The engine looks lowered rules up by the exact class (``LOWERED_VJPS.get(type(node))``):
    a class in neither table runs its own forward and rules."""
    if cls in engine.LOWERED_VJPS or cls in engine.LOWERED_FORWARDS:
        raise HarnessError(f"{cls.__name__} has a lowered rule: the fast layer would replace the mutant's")


# ----------------------------------------------------------------------------- helpers for rules
def ones_like(t: Tensor) -> Tensor:
    return Tensor(np.ones(t.shape, dtype=t.dtype))


def negated(r: Any) -> Any:
    return None if r is None else -r


def scaled(r: Any, k: float = 2.0) -> Any:
    return None if r is None else r * k


def mean_unbroadcast(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """Un-broadcast by *averaging* the copies instead of summing them (a classic bias bug)."""
    copies = g.size // max(int(np.prod(shape, dtype=int)), 1)
    return unbroadcast(g, shape) / copies


def first_copy(g: Tensor, shape: tuple[int, ...]) -> Tensor:
    """One copy taken along the broadcast axes instead of their sum."""
    lead = g.ndim - len(shape)
    idx = (0,) * lead + tuple(slice(0, 1) if n == 1 and m != 1 else slice(None) for n, m in zip(shape, g.shape[lead:]))
    return g[idx] if idx else g


def rolled(t: Tensor) -> Tensor:
    """``t``'s entries moved one position on (C order), with Tensor ops."""
    if t.size == 0:
        return t
    return t.reshape(-1)[np.roll(np.arange(t.size), 1)].reshape(t.shape)


def zero_share(t: Tensor) -> Tensor:
    return t * 0.0


def ce_scale(f: Any, g: Tensor) -> Tensor:
    """cross_entropy's upstream factor per row: g per row (none), g / N (mean) or g (sum)."""
    if f.reduction == "none":
        return g.reshape(-1, 1)
    return g / f.inputs[0].shape[0] if f.reduction == "mean" else g


def onehot(f: Any) -> Tensor:
    z, labels = f.inputs
    return (labels.reshape(-1, 1) == Tensor(np.arange(z.shape[1]))).astype(z.dtype)


def var_vjp(f: Any, g: Tensor, two: float = 2.0, ddof: bool = True, center: bool = True) -> Tensor:
    a = f.inputs[0]
    centered = a - a.mean(f.axes(), keepdims=True) if center else a
    return f.spread(g) * centered * (two / (f.count() - (f.ddof if ddof else 0)))


def extremum_to_other(f: Any, g: Tensor) -> Tensor:
    """max's g sent to where the minimum is (and min's to the maximum)."""
    a = f.inputs[0]
    other = a.min(f.axes(), keepdims=True) if f.op_name == "max" else a.max(f.axes(), keepdims=True)
    hit = (a == other).astype(g.dtype)
    return f.spread(g) * (hit / hit.sum(f.axes(), keepdims=True))


def assign_scatter(f: Any, g: Tensor) -> Tensor:
    """getitem's VJP by assignment, ``out[index] = g``: of repeated picks only the last one lands."""
    a = f.inputs[0]
    flat = np.arange(a.size).reshape(a.shape)[f.index].reshape(-1)
    last = np.zeros(flat.size, dtype=bool)
    _, first_of_reversed = np.unique(flat[::-1], return_index=True)
    last[flat.size - 1 - first_of_reversed] = True
    return Tensor.apply("scatter_add", g * Tensor(last.reshape(g.shape).astype(g.dtype)), index=f.index, shape=a.shape)


def concat_first_slices(f: Any, i: int, g: Tensor) -> Tensor:
    ax = normalize_axes(f.axis, g.ndim, "concatenate")[0]
    return g[(slice(None),) * ax + (slice(0, f.inputs[i].shape[ax]),)]


def stack_along_0(f: Any, i: int, g: Tensor) -> Tensor:
    return g[i]


# ----------------------------------------------------------------------------- where a mutant applies
def square(case: Case) -> bool:
    """Every input a square matrix (n, n), n > 1: where a transposed matmul rule typechecks."""
    return all(x.ndim == 2 and x.shape[0] == x.shape[1] > 1 for x in case.inputs)


def non_square_2d(case: Case) -> bool:
    """a (n, k) @ b (k, m) with k != m: ``g @ b`` is refused by matmul's shape check."""
    a, b = case.inputs
    return a.ndim == 2 and b.ndim == 2 and b.shape[0] != b.shape[1]


def keepdims_regime(case: Case) -> str:
    """What broadcasting g (the reduced shape) straight to the input's shape does: "correct",
    "silent" (typechecks, wrong axes) or "raises" (expand refuses the shapes)."""
    a = case.inputs[0]
    axes = normalize_axes(case.params.get("axis"), a.ndim, "sum")
    if case.params.get("keepdims"):
        return "correct"
    reduced = tuple(n for k, n in enumerate(a.shape) if k not in axes)
    try:
        if np.broadcast_shapes(reduced, a.shape) != a.shape:
            return "raises"
    except ValueError:
        return "raises"
    g = np.arange(1, int(np.prod(reduced, dtype=int)) + 1, dtype=float).reshape(reduced)
    right = np.broadcast_to(g.reshape(kept_shape(a.shape, axes)), a.shape)
    return "correct" if np.array_equal(np.broadcast_to(g, a.shape), right) else "silent"


def transpose_regime(case: Case) -> str:
    """What transposing g with the permutation instead of its inverse does: "correct" (the
    permutation is its own inverse on this shape), "silent" (right shape, wrong entries) or
    "shape" (a shape the engine refuses). The JVP's mistake the other way round (ȧ transposed with
    the inverse) has the same regimes: it is the transpose of this one."""
    a = case.inputs[0]
    perm = [ax % a.ndim for ax in case.params["axes"]]
    y = np.arange(a.size).reshape(a.shape).transpose(perm)
    wrong, right = y.transpose(perm), y.transpose(np.argsort(perm))
    if wrong.shape != right.shape:
        return "shape"
    return "correct" if np.array_equal(wrong, right) else "silent"


def repeated_index(case: Case) -> bool:
    """An integer-array index that picks some entry more than once."""
    a = case.inputs[0]
    picked = np.arange(a.size).reshape(a.shape)[case.params["index"]].reshape(-1)
    return len(np.unique(picked)) < picked.size


def has_bias(case: Case) -> bool:
    return len(case.inputs) == 3


def equal_sizes_along_axis(case: Case) -> bool:
    """concatenate: more than one input, all of one size along the axis."""
    ax = case.params["axis"] % case.inputs[0].ndim
    return len(case.inputs) > 1 and len({x.shape[ax] for x in case.inputs}) == 1


def several(case: Case) -> bool:
    return len(case.inputs) > 1


def stack_axis0_typechecks(case: Case) -> bool:
    """stack along axis k > 0 where taking slice i along axis 0 instead gives the input's shape."""
    shp, k = case.inputs[0].shape, len(case.inputs)
    ax = case.params["axis"] % (len(shp) + 1)
    stacked = shp[:ax] + (k,) + shp[ax:]
    return ax != 0 and k > 1 and stacked[0] >= k and stacked[1:] == shp


def unweighted(case: Case) -> bool:
    """logsumexp without weights ``b`` (the mutants' rules are written for input a alone)."""
    return len(case.inputs) == 1


def silent_keepdims(case: Case) -> bool:
    return keepdims_regime(case) == "silent"


def reshape_not_broadcast(case: Case) -> bool:
    """reshape where the input's shape does not broadcast to the output's (so that returning g or ȧ
    unreshaped is not merely a broadcast the engine undoes)."""
    a, target = case.inputs[0], np.empty(case.inputs[0].shape).reshape(case.params["shape"]).shape
    try:
        return np.broadcast_shapes(a.shape, target) != target
    except ValueError:
        return True


def mean_over_rows(case: Case) -> bool:
    return case.params.get("reduction") == "mean" and case.inputs[0].shape[0] > 1


def not_keepdims(case: Case) -> bool:
    return not case.params.get("keepdims")


# ----------------------------------------------------------------------------- the catalogue
def generic(name: str, mode: str) -> list[Mutant]:
    """The mutants every op gets: built on the op's own rule ``base.vjp``/``base.jvp``."""
    base = getattr(OPS[name], mode)
    up = "upstream gradient g" if mode == "vjp" else "tangent t"
    out = [Mutant(name, mode, "convention", f"the {mode.upper()} returned as an ndarray (the array convention)",
                  lambda f, i, g, y: base(f, i, g, y).numpy(), expect="invariant"),
           Mutant(name, mode, "dtype", f"the {mode.upper()} cast to float32",
                  lambda f, i, g, y: base(f, i, g, y).astype(np.float32), expect="invariant")]
    if name != "sign":  # sign's derivative is 0: negated, doubled or ones-fed it is still 0
        out = [Mutant(name, mode, "sign", f"the {mode.upper()} negated", lambda f, i, g, y: negated(base(f, i, g, y))),
               Mutant(name, mode, "scale", f"the {mode.upper()} doubled", lambda f, i, g, y: scaled(base(f, i, g, y))),
               Mutant(name, mode, "upstream", f"the {up} replaced by ones",
                      lambda f, i, g, y: base(f, i, ones_like(g), y))] + out
    return out


def _x(f: Any, k: int = 0) -> Tensor:
    return f.inputs[k]


SHAPE_RAISES = (ValueError, "expand: cannot broadcast")

VJP: dict[str, list[tuple]] = {  # op -> [(kind, rule, wrong[, options])]
    "add": [("sign", "b̄ = -g (sub's rule)", lambda f, i, g, y: g if i == 0 else -g),
            ("unbroadcast", "broadcast copies averaged, not summed",
             lambda f, i, g, y: mean_unbroadcast(g, _x(f, i).shape)),
            ("unbroadcast", "one broadcast copy taken, not summed", lambda f, i, g, y: first_copy(g, _x(f, i).shape))],
    "sub": [("sign", "b̄ = +g (minus sign lost)", lambda f, i, g, y: g),
            ("unbroadcast", "broadcast copies averaged, not summed",
             lambda f, i, g, y: mean_unbroadcast(g if i == 0 else -g, _x(f, i).shape))],
    "mul": [("dropped-term", "product rule missing b̄", lambda f, i, g, y: g * _x(f, 1) if i == 0 else None),
            ("wrong-factor", "ā = g·a, b̄ = g·b (own value, not the other)", lambda f, i, g, y: g * _x(f, i)),
            ("unbroadcast", "broadcast copies averaged, not summed",
             lambda f, i, g, y: mean_unbroadcast(g * _x(f, 1 - i), _x(f, i).shape))],
    "div": [("dropped-term", "quotient rule missing b̄", lambda f, i, g, y: g / _x(f, 1) if i == 0 else None),
            ("sign", "b̄ = +g·a/b²", lambda f, i, g, y: g / _x(f, 1) if i == 0 else g * _x(f) / (_x(f, 1) * _x(f, 1))),
            ("wrong-factor", "ā = g·b", lambda f, i, g, y: g * _x(f, 1) if i == 0 else OPS["div"].vjp(f, i, g, y))],
    "pow": [("wrong-factor", "ā = g·b·a^b (exponent not decremented)",
             lambda f, i, g, y: g * _x(f, 1) * y if i == 0 else OPS["pow"].vjp(f, i, g, y)),
            ("dropped-term", "b̄ missing", lambda f, i, g, y: OPS["pow"].vjp(f, i, g, y) if i == 0 else None),
            ("dropped-term", "b̄ = g·y (log a forgotten)",
             lambda f, i, g, y: OPS["pow"].vjp(f, i, g, y) if i == 0 else g * y)],
    "exp": [("dropped-term", "ā = g (y forgotten)", lambda f, i, g, y: g),
            ("wrong-factor", "ā = g·a", lambda f, i, g, y: g * _x(f))],
    "log": [("wrong-factor", "ā = g·a", lambda f, i, g, y: g * _x(f)),
            ("wrong-factor", "ā = g/a²", lambda f, i, g, y: g / (_x(f) * _x(f)))],
    "sqrt": [("scale", "ā = g/y (factor ½ dropped)", lambda f, i, g, y: g / y),
             ("wrong-factor", "ā = g/(2a) (input instead of output)", lambda f, i, g, y: g / (_x(f) * 2))],
    "abs": [("subgradient", "ā = g (sign dropped)", lambda f, i, g, y: g),
            ("subgradient", "ā = g·[a > 0] (ReLU mask)", lambda f, i, g, y: g * (_x(f) > 0))],
    "sign": [("subgradient", "ā = g (straight-through)", lambda f, i, g, y: g),
             ("wrong-factor", "ā = g·sign(a) (abs's rule)", lambda f, i, g, y: g * _x(f).sign())],
    "tanh": [("dropped-term", "ā = g(1 - y) (square dropped)", lambda f, i, g, y: g * (1 - y)),
             ("sign", "ā = g(1 + y²)", lambda f, i, g, y: g * (1 + y * y)),
             ("wrong-factor", "ā = g(1 - a²) (input instead of output)", lambda f, i, g, y: g * (1 - _x(f) * _x(f)))],
    "sigmoid": [("dropped-term", "ā = g·y", lambda f, i, g, y: g * y),
                ("dropped-term", "ā = g(1 - y)", lambda f, i, g, y: g * (1 - y)),
                ("wrong-factor", "ā = g·a(1 - a) (input instead of output)",
                 lambda f, i, g, y: g * _x(f) * (1 - _x(f)))],
    "relu": [("subgradient", "mask inverted: ā = g·[a < 0]", lambda f, i, g, y: g * (_x(f) < 0)),
             ("subgradient", "mask dropped: ā = g", lambda f, i, g, y: g),
             ("subgradient", "ā = g·a (value instead of mask)", lambda f, i, g, y: g * _x(f))],
    "leaky_relu": [("subgradient", "slope dropped (ReLU mask)", lambda f, i, g, y: g * (_x(f) > 0)),
                   ("subgradient", "slope on the positive side",
                    lambda f, i, g, y: where(_x(f) > 0, g * f.negative_slope, g)),
                   ("subgradient", "ā = g·s everywhere", lambda f, i, g, y: g * f.negative_slope)],
    "maximum": [("subgradient", "g sent to the smaller input", lambda f, i, g, y: g * (_x(f, i) < _x(f, 1 - i))),
                ("subgradient", "both inputs get g", lambda f, i, g, y: g),
                ("dropped-term", "b̄ missing", lambda f, i, g, y: OPS["maximum"].vjp(f, i, g, y) if i == 0 else None)],
    "minimum": [("subgradient", "g sent to the larger input", lambda f, i, g, y: g * (_x(f, i) > _x(f, 1 - i))),
                ("subgradient", "both inputs get g", lambda f, i, g, y: g),
                ("dropped-term", "b̄ missing", lambda f, i, g, y: OPS["minimum"].vjp(f, i, g, y) if i == 0 else None)],
    "where": [("subgradient", "condition ignored: ā = b̄ = g", lambda f, i, g, y: g),
              ("subgradient", "condition inverted", lambda f, i, g, y: OPS["where"].vjp(f, 3 - i, g, y)),
              ("dropped-term", "b̄ missing", lambda f, i, g, y: OPS["where"].vjp(f, i, g, y) if i == 1 else None)],
    "clip": [("subgradient", "mask inverted", lambda f, i, g, y: g * (y != _x(f))),
             ("subgradient", "mask dropped: ā = g", lambda f, i, g, y: g)],
    "cast": [],
    "matmul": [("transpose", "ā = g @ b (square matrices)",
                lambda f, i, g, y: g @ _x(f, 1) if i == 0 else OPS["matmul"].vjp(f, i, g, y), {"applies": square}),
               ("transpose", "b̄ = a @ g (square matrices)",
                lambda f, i, g, y: _x(f) @ g if i == 1 else OPS["matmul"].vjp(f, i, g, y), {"applies": square}),
               ("transpose", "ā = g @ b ((n,k)@(k,m), k != m: matmul refuses the shapes)",
                lambda f, i, g, y: g @ _x(f, 1) if i == 0 else OPS["matmul"].vjp(f, i, g, y),
                {"applies": non_square_2d, "expect": "invariant", "raises": (ValueError, "not aligned")}),
               ("dropped-term", "b̄ missing", lambda f, i, g, y: OPS["matmul"].vjp(f, i, g, y) if i == 0 else None)],
    "linear": [("transpose", "x̄ = g @ W (square W)",
                lambda f, i, g, y: g @ _x(f, 1) if i == 0 else LinearOp.vjp(f, i, g, y),
                {"applies": lambda c: c.inputs[1].shape[0] == c.inputs[1].shape[1] > 1}),
               ("dropped-term", "b̄ missing", lambda f, i, g, y: None if i == 2 else LinearOp.vjp(f, i, g, y),
                {"applies": has_bias}),
               ("unbroadcast", "b̄ averaged over the rows, not summed",
                lambda f, i, g, y: g.reshape(-1, g.shape[-1]).mean(axis=0) if i == 2 else LinearOp.vjp(f, i, g, y),
                {"applies": lambda c: has_bias(c) and c.inputs[0].size > c.inputs[0].shape[-1]}),
               ("unbroadcast", "b̄ = g, the sum over the rows left out",
                lambda f, i, g, y: g if i == 2 else LinearOp.vjp(f, i, g, y),
                {"applies": has_bias, "expect": "survives",
                 "reason": "equivalent: the engine sums a VJP back over the axes its input was broadcast along "
                           "(engine.conform), which is the sum over the rows"})],
    "linear_act": [("dropped-term", "activation's derivative dropped (linear's VJP of g)",
                    lambda f, i, g, y: LinearOp.vjp(f, i, g, y)),
                   ("wrong-factor", "ReLU's mask whatever the activation",
                    lambda f, i, g, y: LinearOp.vjp(f, i, ReLUOp.vjp(f, 0, g, y), y),
                    {"applies": lambda c: c.params["activation"] != "relu"})],
    "sum": [("keepdims", "g broadcast without the keepdims reshape (silently wrong axes)",
             lambda f, i, g, y: g.expand(_x(f).shape), {"applies": silent_keepdims}),
            ("keepdims", "g broadcast without the keepdims reshape (expand refuses the shapes)",
             lambda f, i, g, y: g.expand(_x(f).shape),
             {"applies": lambda c: keepdims_regime(c) == "raises", "expect": "invariant", "raises": SHAPE_RAISES}),
            ("scale", "ā = broadcast(g)/n (mean's rule)", lambda f, i, g, y: f.spread(g) / f.count())],
    "mean": [("scale", "/n forgotten", lambda f, i, g, y: f.spread(g)),
             ("keepdims", "g broadcast without the keepdims reshape (silently wrong axes)",
              lambda f, i, g, y: g.expand(_x(f).shape) / f.count(), {"applies": silent_keepdims})],
    "var": [("scale", "factor 2 dropped", lambda f, i, g, y: var_vjp(f, g, two=1.0)),
            ("dropped-term", "ddof ignored (n instead of n - ddof)", lambda f, i, g, y: var_vjp(f, g, ddof=False)),
            ("dropped-term", "mean not subtracted", lambda f, i, g, y: var_vjp(f, g, center=False))],
    "std": [("dropped-term", "var's VJP (the 1/(2y) factor dropped)", lambda f, i, g, y: VarOp.vjp(f, i, g, y)),
            ("scale", "var's VJP of g/y (the ½ dropped)", lambda f, i, g, y: VarOp.vjp(f, i, g / y, y))],
    "max": [("subgradient", "g spread to every element", lambda f, i, g, y: f.spread(g)),
            ("subgradient", "g sent to the arg-min", lambda f, i, g, y: extremum_to_other(f, g)),
            ("keepdims", "g broadcast without the keepdims reshape (silently wrong axes)",
             lambda f, i, g, y: g.expand(_x(f).shape) * f.share(y), {"applies": silent_keepdims})],
    "min": [("subgradient", "g spread to every element", lambda f, i, g, y: f.spread(g)),
            ("subgradient", "g sent to the arg-max", lambda f, i, g, y: extremum_to_other(f, g)),
            ("keepdims", "g broadcast without the keepdims reshape (silently wrong axes)",
             lambda f, i, g, y: g.expand(_x(f).shape) * f.share(y), {"applies": silent_keepdims})],
    "logsumexp": [("dropped-term", "ā = g·exp(a) (y not subtracted)", lambda f, i, g, y: f.spread(g) * _x(f).exp(),
                   {"applies": unweighted}),
                  ("dropped-term", "ā = broadcast(g) (softmax factor dropped)", lambda f, i, g, y: f.spread(g),
                   {"applies": unweighted}),
                  ("keepdims", "g and y broadcast without the keepdims reshape (silently wrong axes)",
                   lambda f, i, g, y: g.expand(_x(f).shape) * (_x(f) - y.expand(_x(f).shape)).exp(),
                   {"applies": lambda c: unweighted(c) and silent_keepdims(c)})],
    "softmax": [("dropped-term", "Σ term dropped: ā = y·g", lambda f, i, g, y: y * g),
                ("dropped-term", "outer y dropped: ā = g - Σ g·y",
                 lambda f, i, g, y: g - (g * y).sum(f.axis, keepdims=True)),
                ("wrong-axis", "Σ over all axes", lambda f, i, g, y: y * (g - (g * y).sum()))],
    "log_softmax": [("dropped-term", "Σ term dropped: ā = g", lambda f, i, g, y: g),
                    ("wrong-factor", "ā = g - y·Σg (y instead of exp y)",
                     lambda f, i, g, y: g - y * g.sum(f.axis, keepdims=True)),
                    ("wrong-axis", "Σ over all axes", lambda f, i, g, y: g - y.exp() * g.sum())],
    "cross_entropy": [("scale", "/N of the mean forgotten", lambda f, i, g, y: f.direction() * g,
                       {"applies": mean_over_rows}),
                      ("dropped-term", "onehot not subtracted",
                       lambda f, i, g, y: _x(f).softmax(axis=1) * ce_scale(f, g)),
                      ("wrong-axis", "softmax over the batch axis",
                       lambda f, i, g, y: (_x(f).softmax(axis=0) - onehot(f)) * ce_scale(f, g))],
    "reshape": [("index", "g reshaped in Fortran order",
                 lambda f, i, g, y: g.transpose().reshape(_x(f).shape[::-1]).transpose()),
                ("shape", "ā = g (the reshape back left out)", lambda f, i, g, y: g,
                 {"applies": reshape_not_broadcast, "expect": "invariant"})],
    "transpose": [("transpose", "same permutation, not its inverse (right shape, wrong entries)",
                   lambda f, i, g, y: g.transpose(f.axes), {"applies": lambda c: transpose_regime(c) == "silent"}),
                  ("transpose", "same permutation, not its inverse (a shape the engine refuses)",
                   lambda f, i, g, y: g.transpose(f.axes),
                   {"applies": lambda c: transpose_regime(c) == "shape", "expect": "invariant"}),
                  ("transpose", "g reshaped, not transposed", lambda f, i, g, y: g.reshape(_x(f).shape))],
    "expand": [("unbroadcast", "copies averaged, not summed", lambda f, i, g, y: mean_unbroadcast(g, _x(f).shape)),
               ("unbroadcast", "one copy taken, not summed", lambda f, i, g, y: first_copy(g, _x(f).shape))],
    "getitem": [("index", "scatter by assignment (repeated picks not summed)", lambda f, i, g, y: assign_scatter(f, g),
                 {"applies": repeated_index}),
                ("index", "gradient scattered one position off",
                 lambda f, i, g, y: rolled(OPS["getitem"].vjp(f, i, g, y)))],
    "scatter_add": [("index", "gathered one position off", lambda f, i, g, y: rolled(g)[f.index])],
    "concatenate": [("index", "every input gets the first slice", lambda f, i, g, y: concat_first_slices(f, i, g),
                     {"applies": several}),
                    ("index", "slices in reverse input order (inputs of one size)",
                     lambda f, i, g, y: OPS["concatenate"].vjp(f, len(f.inputs) - 1 - i, g, y),
                     {"applies": equal_sizes_along_axis})],
    "stack": [("wrong-axis", "slices taken along axis 0", lambda f, i, g, y: stack_along_0(f, i, g),
               {"applies": stack_axis0_typechecks}),
              ("index", "slices in reverse order", lambda f, i, g, y: OPS["stack"].vjp(f, len(f.inputs) - 1 - i, g, y),
               {"applies": several})],
}

JVP: dict[str, list[tuple]] = {  # op -> [(kind, rule, wrong[, options])]
    "add": [("sign", "ẏ = ȧ - ḃ (sub's rule)", lambda f, i, t, y: t if i == 0 else -t)],
    "sub": [("sign", "ẏ = ȧ + ḃ (minus sign lost)", lambda f, i, t, y: t)],
    "mul": [("wrong-factor", "ẏ = ȧ·a + ḃ·b (own value, not the other)", lambda f, i, t, y: t * _x(f, i)),
            ("dropped-term", "a·ḃ term dropped", lambda f, i, t, y: t * _x(f, 1) if i == 0 else zero_share(t))],
    "div": [("sign", "ḃ term with a + sign",
             lambda f, i, t, y: t / _x(f, 1) if i == 0 else t * _x(f) / (_x(f, 1) * _x(f, 1)))],
    "pow": [("wrong-factor", "ȧ·b·a^b (exponent not decremented)",
             lambda f, i, t, y: t * _x(f, 1) * y if i == 0 else OPS["pow"].jvp(f, i, t, y))],
    "exp": [("dropped-term", "ẏ = ȧ (y forgotten)", lambda f, i, t, y: t)],
    "log": [("wrong-factor", "ẏ = ȧ·a", lambda f, i, t, y: t * _x(f))],
    "sqrt": [("scale", "ẏ = ȧ/y (factor ½ dropped)", lambda f, i, t, y: t / y)],
    "abs": [("subgradient", "ẏ = ȧ (sign dropped)", lambda f, i, t, y: t)],
    "sign": [("subgradient", "ẏ = ȧ (straight-through)", lambda f, i, t, y: t)],
    "tanh": [("sign", "ẏ = ȧ(1 + y²)", lambda f, i, t, y: t * (1 + y * y))],
    "sigmoid": [("dropped-term", "ẏ = ȧ·y", lambda f, i, t, y: t * y)],
    "relu": [("subgradient", "mask inverted: ẏ = ȧ·[a < 0]", lambda f, i, t, y: t * (_x(f) < 0))],
    "leaky_relu": [("subgradient", "slope dropped (ReLU mask)", lambda f, i, t, y: t * (_x(f) > 0))],
    "maximum": [("subgradient", "both tangents pass: ẏ = ȧ + ḃ", lambda f, i, t, y: t)],
    "minimum": [("subgradient", "both tangents pass: ẏ = ȧ + ḃ", lambda f, i, t, y: t)],
    "where": [("subgradient", "condition inverted", lambda f, i, t, y: OPS["where"].jvp(f, 3 - i, t, y))],
    "clip": [("subgradient", "mask dropped: ẏ = ȧ", lambda f, i, t, y: t)],
    "cast": [],
    "matmul": [("dropped-term", "a @ ḃ term dropped",
                lambda f, i, t, y: t @ _x(f, 1) if i == 0 else zero_share(_x(f) @ t)),
               ("transpose", "ȧ @ bᵀ (square matrices)", lambda f, i, t, y: t @ _x(f, 1).mT if i == 0 else _x(f) @ t,
                {"applies": square})],
    "linear": [("dropped-term", "x Ẇ term dropped",
                lambda f, i, t, y: zero_share(_x(f) @ t) if i == 1 else LinearOp.jvp(f, i, t, y))],
    "linear_act": [("dropped-term", "activation's derivative dropped (linear's JVP)",
                    lambda f, i, t, y: LinearOp.jvp(f, i, t, y))],
    "sum": [("keepdims", "Σ ȧ with keepdims=True (shape refused)", lambda f, i, t, y: t.sum(f.axis, keepdims=True),
             {"applies": not_keepdims, "expect": "invariant"}),
            ("scale", "mean of ȧ, not its sum", lambda f, i, t, y: t.mean(f.axis, f.keepdims))],
    "mean": [("scale", "/n forgotten", lambda f, i, t, y: t.sum(f.axis, f.keepdims))],
    "var": [("scale", "factor 2 dropped", lambda f, i, t, y: (t * f.slope() * 0.5).sum(f.axis, f.keepdims)),
            ("dropped-term", "mean not subtracted",
             lambda f, i, t, y: (t * _x(f) * (2 / (f.count() - f.ddof))).sum(f.axis, f.keepdims))],
    "std": [("dropped-term", "var's JVP (the 1/(2y) factor dropped)", lambda f, i, t, y: VarOp.jvp(f, i, t, y))],
    "max": [("subgradient", "ẏ = Σ ȧ (every element, not the maximum)", lambda f, i, t, y: t.sum(f.axis, f.keepdims))],
    "min": [("subgradient", "ẏ = Σ ȧ (every element, not the minimum)", lambda f, i, t, y: t.sum(f.axis, f.keepdims))],
    "logsumexp": [("dropped-term", "ẏ = Σ ȧ·exp(a) (y not subtracted)",
                   lambda f, i, t, y: (t * _x(f).exp()).sum(f.axis, f.keepdims), {"applies": unweighted})],
    "softmax": [("dropped-term", "Σ term dropped: ẏ = y·ȧ", lambda f, i, t, y: y * t)],
    "log_softmax": [("dropped-term", "Σ term dropped: ẏ = ȧ", lambda f, i, t, y: t)],
    "cross_entropy": [("dropped-term", "onehot not subtracted",
                       lambda f, i, t, y: _ce_jvp(f, t, _x(f).softmax(axis=1))),
                      ("scale", "/N of the mean forgotten", lambda f, i, t, y: (f.direction() * t).sum(),
                       {"applies": mean_over_rows})],
    "reshape": [("shape", "ẏ = ȧ (the reshape left out)", lambda f, i, t, y: t,
                 {"applies": reshape_not_broadcast, "expect": "invariant"})],
    "transpose": [("transpose", "inverse permutation, not the permutation (right shape, wrong entries)",
                   lambda f, i, t, y: t.transpose(np.argsort([ax % t.ndim for ax in f.axes]).tolist()),
                   {"applies": lambda c: transpose_regime(c) == "silent"}),
                  ("transpose", "inverse permutation, not the permutation (a shape forward mode refuses)",
                   lambda f, i, t, y: t.transpose(np.argsort([ax % t.ndim for ax in f.axes]).tolist()),
                   {"applies": lambda c: transpose_regime(c) == "shape", "expect": "invariant"}),
                  ("transpose", "ȧ reshaped, not transposed", lambda f, i, t, y: t.reshape(y.shape))],
    "expand": [("scale", "broadcast ȧ divided by the number of copies",
                lambda f, i, t, y: t.expand(f.shape) / max(y.size // max(t.size, 1), 1))],
    "getitem": [("index", "ȧ picked one position off", lambda f, i, t, y: rolled(t)[f.index])],
    "scatter_add": [("index", "ȧ scattered one position off",
                     lambda f, i, t, y: rolled(OPS["scatter_add"].jvp(f, i, t, y)))],
    "concatenate": [("index", "every share placed in input 0's slot (inputs of one size)",
                     lambda f, i, t, y: Tensor.apply("scatter_add", t, index=f.slot(0, y.ndim), shape=y.shape),
                     {"applies": equal_sizes_along_axis})],
    "stack": [("index", "every share placed at position 0",
               lambda f, i, t, y: Tensor.apply("scatter_add", t, index=f.slot(0, y.ndim), shape=y.shape),
               {"applies": several})],
}


# ----------------------------------------------------------------------------- batching mutants
def base_batch(name: str) -> Callable[..., tuple[Tensor, Any]]:
    """Op ``name``'s batching rule as a plain function of (cls, values, bdims, params, level): called
    with the mutant's class, so the ops it applies are the mutant's (with the op's own forward)."""
    return OPS[name].batch.__func__


def example_output(case: Case) -> np.ndarray:
    """The op's output on the drawn example (one example: what each row of the batch looks like)."""
    with no_grad():
        return case.fn(*[Tensor(x) for x in case.inputs]).numpy()


def output_has_axes(case: Case) -> bool:
    """One example's output has at least one axis (so the stack has an axis besides the batch axis)."""
    return example_output(case).ndim >= 1


def batch_axis_not_first(case: Case) -> bool:
    """Some batched input has its batch axis somewhere else than first (where forgetting to move
    it matters)."""
    return any(ax not in (None, 0) for ax in batch_plan(case).in_axes)


def shared_fits_batch(case: Case, min_ndim: int = 1) -> bool:
    """A shared differentiable input of at least ``min_ndim`` dims whose leading size is the batch
    size (so it can be read as a stack of examples; concatenate needs them at least 1-D: ``min_ndim=2``)."""
    plan = batch_plan(case)
    return any(case.inputs[i].ndim >= min_ndim and case.inputs[i].shape[0] == plan.size for i in plan.shared())


def read_as_stack(values: list, bdims: list) -> list:
    """``bdims`` with the first unbatched input whose leading size is the batch size said to be
    batched along axis 0 (a rule that takes a missing bdim for 0)."""
    size, out = batch_size(values, bdims), list(bdims)
    for k, (v, d) in enumerate(zip(values, bdims)):
        if d is None and v.ndim and v.shape[0] == size:
            out[k] = 0
            break
    return out


def next_axis(result: tuple[Tensor, Any]) -> tuple[Tensor, Any]:
    """A rule's result with its batch axis said to be the next axis (cyclically)."""
    value, bdim = result
    return value, (0 if bdim is None else bdim + 1) % value.ndim


def unpadded_regime(case: Case) -> str:
    """What broadcasting the batched inputs with their batch axis first but *not* padded to the
    output's rank does: "correct" (every batched input has the output's rank), "silent" (the
    stacks still broadcast: wrong axes against each other) or "raises" (they do not broadcast)."""
    plan = batch_plan(case)
    inputs = case.all_inputs([Tensor(x) for x in case.inputs])
    axes = list(plan.in_axes)
    for pos in sorted(case.constants):
        axes.insert(pos, None)
    rank = max(x.ndim for x in inputs)
    if all(ax is None or x.ndim == rank for x, ax in zip(inputs, axes)):
        return "correct"
    shapes = [((plan.size,) if ax is not None else ()) + x.shape for x, ax in zip(inputs, axes)]
    try:
        np.broadcast_shapes(*shapes)
    except ValueError:
        return "raises"
    return "silent"


def unpadded(cls: Any, values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """elementwise's rule without the size-1 axes after the batch axis."""
    return Tensor.apply(cls, *[front(v, b) if b is not None else v for v, b in zip(values, bdims)], **params), 0


def axis_given_non_negative(case: Case) -> bool:
    """An ``axis`` parameter with a non-negative entry: not shifted past the batch axis, it names
    another axis of the stack (a negative axis still names the same one)."""
    axis = case.params.get("axis")
    axes = () if axis is None else (axis,) if isinstance(axis, (int, np.integer)) else tuple(axis)
    return any(a >= 0 for a in axes)


def unshifted_reduction(cls: Any, values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """reduction's rule with ``axis`` left as the example's axes (not shifted past the batch axis)."""
    return Tensor.apply(cls, front(values[0], bdims[0]), *values[1:], **params), 0


def unshifted_stacked(cls: Any, values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """along_axis's (and concatenate's, stack's) rule with ``axis`` not shifted past the batch axis."""
    size = batch_size(values, bdims)
    return Tensor.apply(cls, *[stacked(v, b, size) for v, b in zip(values, bdims)], **params), 0


def batch_axis_last(cls: Any, values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """transpose's rule that moves the batch axis to the end and still says it is first."""
    v = front(values[0], bdims[0])
    return v.transpose(tuple(a % (v.ndim - 1) + 1 for a in params["axes"]) + (0,)), 0


def ce_mean_over_batch(cls: Any, values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """cross_entropy's rule that averages the losses over the batch instead of over each example's rows."""
    losses, _ = base_batch("cross_entropy")(cls, values, bdims, dict(params, reduction="none"), level)
    return losses.mean(axis=0), 0


def weights_taken_shared(cls: Any, values: list, bdims: list, params: dict, level: int) -> tuple[Tensor, int]:
    """linear's one-GEMM path (the examples as more rows against shared weights) whatever W's and b's bdims."""
    return Tensor.apply(cls, front(values[0], bdims[0]), *values[1:], **params), 0


def several_inputs(name: str) -> bool:
    """Whether op ``name``'s drawn examples ever have more than one differentiable input."""
    return any(len(seeded_case(name, 0, k).inputs) > 1 for k in range(10))


def has_constants(name: str) -> bool:
    return bool(seeded_case(name, 0, 0).constants)


def refused(name: str, wrong: Callable[..., Any], case: Case) -> bool:
    """Does the wrong batching rule ``wrong`` hand one of its ops shapes the op refuses (a ValueError,
    or getitem's IndexError) on this example's batch (``cases.batch_plan``)? It is run once on the
    stacks, outside vmap and outside any check: this only decides which of a mutant's two regimes
    the example is in."""
    plan = batch_plan(case)
    values, bdims = [Tensor(x) for x in plan.stacked], list(plan.in_axes)
    for pos in sorted(case.constants):
        values.insert(pos, Tensor(case.constants[pos]))
        bdims.insert(pos, None)
    with no_grad(), new_level() as level:
        try:
            wrong(textbook(name), values, bdims, dict(case.params), level)
        except REFUSALS:
            return True
    return False


def two_regimes(name: str, kind: str, rule: str, wrong: Callable[..., Any], applies: Callable[[Case], bool]
                ) -> list[Mutant]:
    """A batching mutant in its two regimes: where the wrong rule's ops accept the shapes it gives
    them (a wrong stack: the vmap check must catch it) and where one refuses them (designed to raise
    that ValueError or IndexError). Both are hunted; a regime that no drawn example reaches survives (not designed)."""
    return [Mutant(name, "batch", kind, f"{rule}: ops accept the shapes", wrong,
                   applies=lambda c: applies(c) and not refused(name, wrong, c)),
            Mutant(name, "batch", kind, f"{rule}: an op refuses the shapes", wrong, expect="invariant",
                   raises=(REFUSALS, ""), applies=lambda c: applies(c) and refused(name, wrong, c))]


#: ops whose batching rule, told the wrong batch axes, can hand an op shapes it refuses: the ones that
#: combine several stacks or reshape/scatter them (a unary elementwise op or a reduction never refuses)
BROADCASTING = ("add", "sub", "mul", "div", "pow", "maximum", "minimum", "where", "less", "less_equal", "greater",
                "greater_equal", "equal", "not_equal", "arctan2", "hypot", "logaddexp")  # elementwise, several inputs
JOINS = {"stack": (ValueError, "must have the same shape"), "concatenate": (ValueError, "do not match")}
MOVE_AXIS_REFUSALS = {*BROADCASTING, "matmul", "linear", "linear_act", "reshape", "expand", "getitem", "scatter_add",
                      "concatenate", "stack", "cross_entropy", "logsumexp", "einsum", "conv2d", "conv2d_weight",
                      "conv_transpose2d", "fold"}
#: ops that refuse every shared input read as a stack (its examples lose a dim the op requires)
SHARED_ALWAYS_REFUSED = {"conv2d_weight": (ValueError, "")}
REFUSALS = (ValueError, IndexError)  # how an op refuses shapes or indices that do not fit


def generic_batch(name: str) -> list[Mutant]:
    """The batching mutants every op gets, built on the op's own rule."""
    base = base_batch(name)

    def batch_first(c, v, b, p, lv):
        return base(c, v, [None if d is None else 0 for d in b], p, lv)

    def shared_as_stack(c, v, b, p, lv):
        return base(c, v, read_as_stack(v, b), p, lv)

    out = [Mutant(name, "batch", "out-bdim", "the result said to be shared (out bdim None)",
                  lambda c, v, b, p, lv: (base(c, v, b, p, lv)[0], None)),
           Mutant(name, "batch", "out-bdim", "the result's batch axis said to be the next axis",
                  lambda c, v, b, p, lv: next_axis(base(c, v, b, p, lv)), applies=output_has_axes)]
    move = "the batch axes taken to be first (not moved to the front)"
    if name in MOVE_AXIS_REFUSALS:
        out += two_regimes(name, "move-axis", move, batch_first, batch_axis_not_first)
    else:
        out.append(Mutant(name, "batch", "move-axis", move, batch_first, applies=batch_axis_not_first))
    shared = "a shared input read as a stack (missing bdim taken as 0)"
    if name in BROADCASTING:  # a suffix of a shape that broadcasts broadcasts too: never refused
        out.append(Mutant(name, "batch", "shared-input", shared, shared_as_stack, applies=shared_fits_batch))
    elif name in SHARED_ALWAYS_REFUSED:
        out.append(Mutant(name, "batch", "shared-input", shared, shared_as_stack, applies=shared_fits_batch,
                          expect="invariant", raises=SHARED_ALWAYS_REFUSED[name]))
    elif name in JOINS:  # the input read as a stack has examples of one dim fewer than the others': refused
        out.append(Mutant(name, "batch", "shared-input", shared, shared_as_stack,
                          applies=lambda c: shared_fits_batch(c, min_ndim=2), expect="invariant", raises=JOINS[name]))
    elif several_inputs(name) and not has_constants(name):
        out += two_regimes(name, "shared-input", shared, shared_as_stack, shared_fits_batch)
    return out


BROADCAST_RAISES = (ValueError, "broadcast")
UNPADDED = [("broadcast", "batched inputs not padded to the output's rank (the stacks still broadcast)", unpadded,
             {"applies": lambda c: unpadded_regime(c) == "silent"}),
            ("broadcast", "batched inputs not padded to the output's rank (the stacks do not broadcast)", unpadded,
             {"applies": lambda c: unpadded_regime(c) == "raises", "expect": "invariant", "raises": BROADCAST_RAISES})]
UNSHIFTED_REDUCTION = [("wrong-axis", "the reduced axes not shifted past the batch axis", unshifted_reduction,
                        {"applies": axis_given_non_negative})]
UNSHIFTED_ALONG = [("wrong-axis", "the axis not shifted past the batch axis", unshifted_stacked,
                    {"applies": axis_given_non_negative})]

BATCH: dict[str, list[tuple]] = {  # op -> [(kind, rule, wrong[, options])]
    **{name: UNPADDED for name in BROADCASTING},
    **{name: UNSHIFTED_REDUCTION for name in ("sum", "mean", "var", "std", "max", "min", "logsumexp")},
    "softmax": UNSHIFTED_ALONG, "log_softmax": UNSHIFTED_ALONG,
    "transpose": [("out-bdim", "the batch axis moved to the end, still said to be first", batch_axis_last)],
    "stack": [("wrong-axis", "the new axis not shifted past the batch axis", unshifted_stacked)],
    "concatenate": [("wrong-axis", "the axis not shifted past the batch axis (inputs of one size along it)",
                     unshifted_stacked, {"applies": equal_sizes_along_axis}),
                    ("wrong-axis", "the axis not shifted past the batch axis (inputs of other sizes: refused)",
                     unshifted_stacked, {"applies": lambda c: several(c) and not equal_sizes_along_axis(c),
                                         "expect": "invariant", "raises": (ValueError, "do not match")})],
    "cross_entropy": [("wrong-axis", "the losses averaged over the batch, not over each example's rows",
                       ce_mean_over_batch, {"applies": lambda c: c.params.get("reduction") == "mean"})],
    "linear": [("shared-input", "per-example weights taken as shared (the one-GEMM path whatever W's bdim)",
                weights_taken_shared, {"applies": lambda c: any(ax is not None for ax in batch_plan(c).in_axes[1:]),
                                       "expect": "invariant", "raises": (ValueError, "do not fit")})],
}


def _ce_jvp(f: Any, t: Tensor, direction: Tensor) -> Tensor:
    """cross_entropy's JVP with ``direction`` in place of softmax(z) - onehot(y)."""
    per_row = (direction * t).sum(axis=1)
    return per_row if f.reduction == "none" else per_row.mean() if f.reduction == "mean" else per_row.sum()


def _specific(name: str, mode: str) -> list[Mutant]:
    table = {"vjp": VJP, "jvp": JVP, "batch": BATCH}[mode]
    out = []
    for spec in table.get(name, []):
        kind, rule, wrong = spec[:3]
        out.append(Mutant(name, mode, kind, rule, wrong, **(spec[3] if len(spec) > 3 else {})))
    return out


def has_rule(name: str, mode: str) -> bool:
    """True if registry op ``name`` defines a ``mode`` rule (comparisons and argmax have no VJP or JVP
    rule, but a batching rule)."""
    return callable(getattr(OPS[name], mode, None))


def mutants_for(name: str, modes: Sequence[str] = MODES) -> list[Mutant]:
    """Every mutant of op ``name``: the generic ones plus its specific wrong rules, per mode."""
    return [m for mode in modes if has_rule(name, mode)
            for m in (generic_batch(name) if mode == "batch" else generic(name, mode)) + _specific(name, mode)]


def harmless(name: str, mode: str = "vjp") -> Mutant:
    """A planted "mutant" identical to the correct rule: it survives (tests the failure path)."""
    base = getattr(OPS[name], mode)
    return Mutant(name, mode, "planted", "identical to the correct rule (harmless)",
                  lambda f, i, g, y: base(f, i, g, y))


def crashing(name: str, mode: str = "vjp") -> Mutant:
    """A planted mutant whose rule calls a Tensor method on an ndarray (AttributeError): it crashes."""
    return Mutant(name, mode, "planted", "calls .expand on an ndarray (a crash, not a catch)",
                  lambda f, i, g, y: g.numpy().expand(f.inputs[i].shape))


# ----------------------------------------------------------------------------- the checks
def vjp_check(op: type[Function], case: Case, seed: int) -> str:
    """gradcheck of ``op`` on the example: "" if it passed, else the mismatch in words."""
    report = gradcheck(case.fn_for(op), case.inputs, raise_exception=False, seed=seed)
    if report.passed:
        return ""
    w = report.worst[0]
    return (f"{report.mismatches}/{report.checked} entries off; worst: analytic {w.analytic:.3g} vs numeric "
            f"{w.numeric:.3g}")


def jvp_check(op: type[Function], case: Case, seed: int) -> str:
    """Forward mode on the example: the tangent ``tinygrad_np.jvp`` computes with ``op``'s JVP rule
    (``forward_mode.Dual``), for random tangents t, vs ``(f(x + h t) - f(x - h t)) / 2h`` (float64,
    gradcheck's tolerances), entry by entry: "" if it passed, else the mismatch in words."""
    rng = np.random.default_rng(seed)
    ts = [rng.standard_normal(x.shape) for x in case.inputs]
    fn = case.fn_for(op)
    _, tangent = tinygrad_np.jvp(fn, tuple(Tensor(x) for x in case.inputs), tuple(Tensor(t) for t in ts))
    analytic = np.asarray(tangent, dtype=np.float64)

    def f(sign: float) -> np.ndarray:
        with no_grad():
            return fn(*[Tensor(x + sign * H * t) for x, t in zip(case.inputs, ts)]).numpy()

    numeric = (f(1.0) - f(-1.0)) / (2 * H)
    if analytic.shape != numeric.shape:
        return f"tangent of shape {analytic.shape} for an output of shape {numeric.shape}"
    bad = np.abs(analytic - numeric) > ATOL + RTOL * np.abs(numeric)
    if not bad.any():
        return ""
    k = int(np.argmax(np.where(bad, np.abs(analytic - numeric), -1.0)))
    return (f"{int(bad.sum())}/{bad.size} entries off; worst: analytic {analytic.reshape(-1)[k]:.3g} vs numeric "
            f"{numeric.reshape(-1)[k]:.3g}")


def vmap_check(op: type[Function], case: Case, seed: int) -> str:
    """``tinygrad_np.vmap`` of ``op`` (its batching rule) on the batch ``cases.batch_plan`` makes from the
    example, against a Python loop of ``op`` over the examples, stacked: "" if they agree in shape
    and values (float64: rtol 1e-10, atol 1e-12; the batched ops may sum in another order), else the
    difference in words."""
    plan = batch_plan(case)
    fn = case.fn_for(op)
    with no_grad():
        loop = np.stack([np.asarray(fn(*[Tensor(x) for x in example]).numpy()) for example in plan.examples])
        got = np.asarray(tinygrad_np.vmap(fn, in_axes=plan.in_axes)(*[Tensor(x) for x in plan.stacked]).numpy())
    axes = ", ".join("-" if ax is None else str(ax) for ax in plan.in_axes)
    if got.shape != loop.shape:
        return f"vmap gave shape {got.shape}, the loop over {plan.size} examples {loop.shape} (in_axes {axes})"
    if got.dtype.kind == "f":
        tol = (1e-10, 1e-12) if got.dtype == np.float64 else (1e-5, 1e-6)
        bad = ~np.isclose(got, loop, rtol=tol[0], atol=tol[1], equal_nan=True)
    else:
        bad = got != loop
    if not bad.any():
        return ""
    k = int(np.argmax(bad.reshape(-1)))
    return (f"{int(bad.sum())}/{bad.size} entries off (in_axes {axes}); first: vmap {got.reshape(-1)[k]:.3g} vs "
            f"loop {loop.reshape(-1)[k]:.3g}")


CHECKS = {"vjp": vjp_check, "jvp": jvp_check, "batch": vmap_check}
CONFORM_TANGENT = forward_mode.conform_tangent.__code__  # forward mode's one check of a tangent's shape


def textbook(name: str) -> type[Function]:
    """The op's class as a plain subclass (no rule changed): the baseline runs the same path as the mutants."""
    return subclass(OPS[name], f"{OPS[name].__name__}_textbook", {})


def outcome_of(m: Mutant, op: type[Function], case: Case, seed: int) -> tuple[str, str]:
    """Run the mutant's check on one example: ("", "") if it passed, else (outcome, detail)."""
    op.calls = 0
    try:
        mismatch = CHECKS[m.mode](op, case, seed)
        if op.calls == 0:
            raise HarnessError(f"the mutant's {m.mode} rule never ran (was it replaced by a lowered rule?)")
    except Exception as e:  # noqa: BLE001 - every exception is classified: a catch, or a crash
        return classify(e, m)
    return (CHECK_OF[m.mode], mismatch) if mismatch else ("", "")


def classify(e: BaseException, m: Mutant) -> tuple[str, str]:
    """An exception from a check: "invariant" if it is the engine's refusal of a VJP (a RuntimeError
    raised in ``engine.conform``) or forward mode's refusal of a tangent (raised through
    ``forward_mode.conform_tangent``), or the exception the mutant is designed to raise, out of its
    rule; else "crashed"."""
    frames = _frames(e)
    text = f"{type(e).__name__}: {e}".splitlines()[0]
    if isinstance(e, RuntimeError) and frames and frames[-1].f_code is engine.conform.__code__:
        return "invariant", text
    if isinstance(e, (RuntimeError, ValueError)) and any(f.f_code is CONFORM_TANGENT for f in frames):
        return "invariant", text
    if m.raises and isinstance(e, m.raises[0]) and m.raises[1] in str(e) and any(
            f.f_code in RULE_CODES for f in frames):
        return "invariant", f"raised as designed: {text}"
    where = "in the mutant's rule" if any(f.f_code in RULE_CODES for f in frames) else "outside the mutant's rule"
    last = frames[-1] if frames else None
    at = f" at {Path(last.f_code.co_filename).name}:{last.f_lineno} {last.f_code.co_name}" if last else ""
    return "crashed", f"{text} ({where}{at})"


def _frames(e: BaseException) -> list[types.FrameType]:
    frames, tb = [], e.__traceback__
    while tb is not None:
        frames.append(tb.tb_frame)
        tb = tb.tb_next
    return frames


class Baseline:
    """Whether the correct (textbook) rule passes each check on each drawn example (cached)."""

    def __init__(self) -> None:
        self.ok: dict[tuple, bool] = {}
        self.failures: list[str] = []
        self.classes: dict[str, type[Function]] = {}

    def passes(self, mode: str, case: Case, key: tuple, seed: int) -> bool:
        if (mode, key) not in self.ok:
            if case.name not in self.classes:
                self.classes[case.name] = textbook(case.name)
            op = self.classes[case.name]
            try:
                detail = CHECKS[mode](op, case, seed)
            except Exception as e:  # noqa: BLE001 - a correct rule that raises: the example is unusable
                detail = f"{type(e).__name__}: {e}"
            self.ok[mode, key] = not detail
            if detail:
                self.failures.append(f"{mode} {case.describe()}: {detail}")
        return self.ok[mode, key]


# ----------------------------------------------------------------------------- running
@dataclass
class Outcome:
    """The result for one mutant: ``how`` one of ``OUTCOMES``."""

    mutant: Mutant
    how: str
    examples: int  # usable examples run until it was caught or crashed (or all of them)
    detail: str
    case: str  # the example that caught it

    @property
    def ok(self) -> bool:
        """The outcome the mutant was designed for."""
        return self.how in self.mutant.allowed

    def row(self) -> dict[str, Any]:
        m = self.mutant
        return {"op": m.op, "rule": m.mode, "kind": m.kind, "mutant": m.rule, "outcome": self.how,
                "expected": m.expected, "as_designed": self.ok, "examples": self.examples,
                "detail": self.detail, "reason": m.reason, "case": self.case}


Draw = Callable[[str, int, int], "Case | None"]  # (op, seed, k) -> example k, or None when there are no more


def hunt(m: Mutant, max_examples: int, seed: int, baseline: Baseline, draw: Draw = seeded_case) -> Outcome:
    """Examples ``draw(op, seed, k)`` for k = 0, 1, ... until the mutant is caught (or crashes) or
    ``max_examples`` usable examples pass (usable: the correct rule passes on it and the mutant's
    ``applies`` holds)."""
    try:
        op = m.make()
    except Exception as e:  # noqa: BLE001 - a mutant that cannot be built is a crash of the harness
        return Outcome(m, "crashed", 0, f"building the mutant: {classify(e, m)[1]}", "")
    run = 0
    for k in range(max_examples * MAX_DRAWS_PER_EXAMPLE):
        if run == max_examples:
            break
        case = draw(m.op, seed, k)
        if case is None:
            break
        try:
            usable = (m.applies is None or m.applies(case)) and baseline.passes(m.mode, case, (m.op, k), seed + k)
        except Exception as e:  # noqa: BLE001 - an ``applies`` that raises is a harness crash
            return Outcome(m, "crashed", run, f"choosing examples: {classify(e, m)[1]}", case.describe())
        if not usable:
            continue
        run += 1
        how, detail = outcome_of(m, op, case, seed + k)
        if how:
            return Outcome(m, how, run, detail, case.describe())
    return Outcome(m, "survived", run, f"passed {run} examples" if run else "no usable example drawn", "")


@dataclass
class Result:
    outcomes: list[Outcome]
    uncovered: list[str]  # registry ops with a rule but without an input generator (not tested)
    baseline_failures: list[str]
    seconds: float

    def count(self, how: str, mode: str | None = None) -> int:
        return sum(o.how == how and (mode is None or o.mutant.mode == mode) for o in self.outcomes)

    @property
    def failures(self) -> list[Outcome]:
        """Outcomes other than designed: crashes, survivors, catches by another check."""
        return [o for o in self.outcomes if not o.ok]

    @property
    def crashed(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.how == "crashed"]


def run(ops: Sequence[str] | None = None, *, modes: Sequence[str] = MODES, max_examples: int = 25, seed: int = 0,
        extra: Sequence[Mutant] = (), draw: Draw = seeded_case) -> Result:
    """Hunt every mutant of ``ops`` (default: every registry op with a rule) on the examples
    ``draw`` gives (default: ``cases.seeded_case``), plus the ``extra`` mutants; see the module docstring."""
    start = time.perf_counter()
    names = sorted(n for n in OPS if any(has_rule(n, mode) for mode in modes)) if not ops else list(ops)
    unknown = [n for n in names if n not in OPS]
    if unknown:
        raise ValueError(f"unknown ops {unknown}; the registry has {sorted(OPS)}")
    uncovered = [n for n in names if not has_generator(n)]
    mutants = [m for n in names if has_generator(n) for m in mutants_for(n, modes)] + list(extra)
    baseline = Baseline()
    outcomes = [hunt(m, max_examples, seed, baseline, draw) for m in mutants]
    return Result(outcomes, uncovered, baseline.failures, time.perf_counter() - start)


# ----------------------------------------------------------------------------- reporting
def table(result: Result, width: int = 50) -> str:
    lines = [f"{'op':<13} {'rule':<5} {'kind':<12} {'mutant':<{width}} {'outcome':<9} {'ex':>3}  detail"]
    for o in result.outcomes:
        m = o.mutant
        rule = m.rule if len(m.rule) <= width else m.rule[: width - 1] + "…"
        flag = "" if o.ok else f" (EXPECTED {m.expected.upper()})"
        detail = (o.detail if o.how != "survived" or not m.reason else m.reason)[:100]
        lines.append(f"{m.op:<13} {m.mode:<5} {m.kind:<12} {rule:<{width}} {o.how:<9} {o.examples:>3}  {detail}{flag}")
    return "\n".join(lines)


def summary(result: Result) -> str:
    outs = result.outcomes
    lines = []
    for mode, fd in CHECK_OF.items():
        mine = [o for o in outs if o.mutant.mode == mode]
        if not mine:
            continue
        survived = result.count("survived", mode)
        notes = ", ".join(f"{n} {what}" for n, what in survivor_kinds(mine) if n)
        check = {"vjp": "gradcheck", "jvp": "the JVP check", "batch": "the vmap-vs-loop check"}[mode]
        invariant = {"vjp": "the engine's invariant", "jvp": "forward mode's invariant",
                     "batch": "an op refusing the shapes (as designed)"}[mode]
        n_ops = len({o.mutant.op for o in mine})
        title = "Batching" if mode == "batch" else mode.upper()
        lines.append(f"{title} mutants: {len(mine)} of {n_ops} ops: caught by {check} "
                     f"{result.count(fd, mode)}, by {invariant} {result.count('invariant', mode)}, survived {survived}"
                     f"{f' ({notes})' if notes else ''}, crashed {result.count('crashed', mode)}")
    multi = sum(o.how in ("gradcheck", "jvpcheck", "vmapcheck", "invariant") and o.examples > 1 for o in outs)
    verdict = "every outcome as designed" if not result.failures else f"{len(result.failures)} NOT AS DESIGNED"
    lines.append(f"{verdict}; {multi} needed more than one example; {result.seconds:.1f} s")
    if result.uncovered:
        lines.append(f"WARNING: no input generator (not tested): {', '.join(result.uncovered)}")
    if result.baseline_failures:
        lines.append(f"WARNING: the correct rule failed on {len(result.baseline_failures)} drawn examples (skipped):")
        lines += [f"  {f}" for f in result.baseline_failures[:5]]
    for o in result.failures:
        lines.append(f"{o.how.upper()} (expected {o.mutant.expected}): {o.mutant.op} {o.mutant.mode}: {o.mutant.rule}"
                     f" ({o.detail})")
    return "\n".join(lines)


def write_outputs(result: Result, out: Path) -> list[Path]:
    """mutants.csv, mutants.txt (table and summary) and mutants.png."""
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "mutants.csv"
    with open(csv_path, "w", newline="") as fh:
        rows = [o.row() for o in result.outcomes]
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]) if rows else ["op"])
        writer.writeheader()
        writer.writerows(rows)
    (out / "mutants.txt").write_text(table(result) + "\n\n" + summary(result) + "\n")
    return [csv_path, out / "mutants.txt", plot(result, out / "mutants.png")]


COLORS = {"gradcheck": "tab:blue", "jvpcheck": "tab:cyan", "vmapcheck": "tab:green", "invariant": "tab:orange",
          "survived": "tab:grey", "crashed": "tab:red"}
LABELS = {("gradcheck", "vjp"): "VJP: gradcheck", ("jvpcheck", "jvp"): "JVP: JVP check",
          ("vmapcheck", "batch"): "batching: vmap vs loop",
          ("invariant", "vjp"): "VJP: engine's invariant", ("invariant", "jvp"): "JVP: forward mode's invariant",
          ("invariant", "batch"): "batching: raised as designed"}
MARKERS = {"vjp": "o", "jvp": "^", "batch": "s"}


def survivor_kinds(outcomes: Sequence[Outcome]) -> list[tuple[int, str]]:
    """How many of these survivors are equivalent mutants, known gaps, or neither (failures)."""
    survived = [o for o in outcomes if o.how == "survived"]
    equivalent = sum(o.mutant.expect == "survives" for o in survived)
    gaps = sum(o.mutant.expect == "gap" for o in survived)
    return [(equivalent, "equivalent"), (gaps, "known gaps"), (len(survived) - equivalent - gaps, "NOT AS DESIGNED")]


def plot(result: Result, path: Path) -> Path:
    """Examples until caught per mutant, one row per op; colour: outcome, marker: VJP (o), JVP (^) or
    batching rule (s)."""
    ops = sorted({o.mutant.op for o in result.outcomes}, reverse=True)
    fig = Figure(figsize=(7.5, 0.2 * len(ops) + 1.9), dpi=90)
    ax = fig.subplots()
    rng = np.random.default_rng(0)
    for how in OUTCOMES:
        for mode, marker in MARKERS.items():
            mine = [o for o in result.outcomes if o.how == how and o.mutant.mode == mode]
            if not mine:
                continue
            x = np.array([max(o.examples, 1) for o in mine], dtype=float)
            y = np.array([ops.index(o.mutant.op) for o in mine], dtype=float)
            label = LABELS.get((how, mode), f"{mode.upper()}: {how}") + f" ({len(mine)}"
            if how == "survived":
                label += "".join(f", {n} {what}" for n, what in survivor_kinds(mine) if n)
            ax.scatter(x * np.exp(rng.uniform(-0.08, 0.08, len(x))), y + rng.uniform(-0.25, 0.25, len(y)),
                       s=14, marker=marker, color=COLORS[how], label=label + ")", alpha=0.8)
    ax.set_xscale("log")
    ax.set_yticks(range(len(ops)), ops, fontsize=7)
    ax.set_xlabel("usable examples until caught (log scale; a survivor: the examples it passed)")
    n = {mode: sum(o.mutant.mode == mode for o in result.outcomes) for mode in MODES}
    caught = sum(o.how in ("gradcheck", "jvpcheck", "vmapcheck", "invariant") for o in result.outcomes)
    notes = ", ".join(f"{n} {what}" for n, what in survivor_kinds(result.outcomes) if n)
    ax.set_title(f"Mutant rules ({n['vjp']} VJP, {n['jvp']} JVP, {n['batch']} batching): {caught} caught,\n"
                 f"{result.count('survived')} survived{f' ({notes})' if notes else ''}, "
                 f"{result.count('crashed')} crashed", fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, fontsize=7, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.5 / (0.2 * len(ops) + 1.9), 1, 1))
    fig.savefig(path)
    return path


# ----------------------------------------------------------------------------- CLI
SUMMARY = ("inject wrong VJP, JVP and batching rules into every op: caught by the check meant to catch them? "
           "(exit 1 if not)")
HELP = """Bug injection. For each registry op with a VJP, JVP or batching rule, run plausible WRONG
rules (sign flip, scale, upstream gradient or tangent ignored, dropped term, wrong factor/mask/axis,
forgotten keepdims, un-broadcasting done wrongly, transposed matmul rule, float32 result, an
ndarray instead of a Tensor; for batching rules: the result said to be shared or its batch axis
misplaced, batch axes not moved to the front, a shared input read as a stack, an axis not shifted
past the batch axis, inputs not padded), one at a time, as subclasses of the op's class, on
seeded random valid inputs, until the mutant is caught or --max-examples pass. VJP mutants are
checked by gradcheck and the engine's shape/dtype invariant, JVP mutants by a forward-mode
finite-difference check and its tangent invariant, batching mutants by vmap against a Python loop
over the examples. Outcomes: gradcheck, jvpcheck, vmapcheck, invariant, survived, crashed (any
other exception: never a catch). Prints a table and a summary, writes mutants.csv/.txt/.png to
--out. Exit status 1 unless every mutant ends as designed (a crash or an unexpected survivor fails)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--ops", default="", help="comma-separated ops to test (default: every registry op with a rule)")
    p.add_argument("--rules", default="vjp,jvp,batch",
                   help="which rules to mutate, comma-separated: vjp, jvp, batch (default: all three)")
    p.add_argument("--max-examples", type=int, default=25,
                   help="usable examples per mutant before it survives (default 25)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn examples (default 0)")
    p.add_argument("--plant-harmless", default="", metavar="OPS",
                   help="also plant a harmless VJP 'mutant' (the correct rule) for these ops: it survives, "
                        "exit status 1")
    p.add_argument("--plant-crash", default="", metavar="OPS",
                   help="also plant a VJP mutant that crashes (AttributeError in its rule) for these ops: "
                        "exit status 1")


def main(args: argparse.Namespace) -> int:
    ops = [s for s in args.ops.split(",") if s]
    modes = [s for s in args.rules.split(",") if s]
    if not modes or set(modes) - set(MODES):
        raise SystemExit(f"--rules: expected a comma-separated subset of vjp,jvp,batch, got {args.rules!r}")
    extra = [harmless(s) for s in args.plant_harmless.split(",") if s]
    extra += [crashing(s) for s in args.plant_crash.split(",") if s]
    result = run(ops or None, modes=modes, max_examples=args.max_examples, seed=args.seed, extra=extra)
    print(table(result))
    print()
    print(summary(result))
    for path in write_outputs(result, Path(args.out)):
        print(f"wrote {path}")
    return 1 if result.failures else 0
