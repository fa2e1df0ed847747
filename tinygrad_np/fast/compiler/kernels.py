"""Each equation of a program as NumPy calls that write into preallocated buffers (``out=``).

What it buys: the arrays of a step are allocated once, when its plan is made, instead of at
every op of every step (and the freed ones re-filled by NumPy's allocator); an op whose input
dies with it writes over that input (``inplace``); and a kernel is a prebound ``functools.partial``
of a NumPy function, so replaying one costs a C-level call. Measured by
``python -m benchmarks.epoch_time`` (the compiled rows) and ``python -m benchmarks.dev.compile_study``.

Every kernel computes exactly what the op's ``forward`` computes: it calls the same NumPy function
on the same operands, only with ``out=`` (the buffer has the layout NumPy gave the fresh result,
``program.Var.strides``, so even reductions visit memory in the same order); where the forward
makes several calls, the kernel makes the same calls in the same order into scratch buffers.
An op without a kernel here runs its own forward and copies the result into its buffer
(``fallback``: correct, but it allocates), checking the result's shape: an op whose output shape
depends on the data (a boolean mask that is an argument) raises ``TraceError`` there.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import partial
from typing import Any, Callable, NamedTuple

import numpy as np

from ...ops import elementwise as E
from ...ops import linalg as L
from ...ops import nn as N
from ...ops import reduce as R
from ...ops.reduce import normalize_axes
from ..forwards import labels_in_range
from ..jit import TraceError
from .fusions import CrossEntropySoftmax, XentGradFromSoftmax
from .program import Eqn, Ref


class Slot(NamedTuple):
    """An array a call reads or writes: input (``"i"``), output (``"o"``) or scratch (``"s"``)
    ``index``; ``flat``: seen as a 1-D view (``reshape(-1)`` of a contiguous buffer)."""

    kind: str
    index: int
    flat: bool = False


class Lit(NamedTuple):
    """A literal argument with the name the listing shows for it."""

    value: Any
    text: str


def slots(kind: str, n: int = 6) -> list[Slot]:
    return [Slot(kind, k) for k in range(n)]


I0, I1, I2, I3, I4, I5 = slots("i")
O0, O1, O2, O3, O4, O5 = slots("o")
S0, S1, S2, S3, S4, S5 = slots("s")
PARAMS = Slot("p", 0)  # the equation's parameters, Refs bound to their arrays


@dataclass
class Call:
    """``fn(*args)``, args with ``Slot``s for arrays; ``out`` is the position of the argument the
    listing shows as ``out=`` (None: none)."""

    fn: Callable
    args: tuple
    label: str
    out: int | None = None

    @property
    def keyword_out(self) -> bool:
        """Pass the output as ``out=`` (np.maximum/np.minimum refuse it positionally)."""
        return self.out is not None and self.fn in (np.maximum, np.minimum)


@dataclass
class Kernel:
    """The calls of one equation, the scratch buffers they need ((shape, dtype) each, or (shape,
    dtype, "F") for a column-major one; live for the equation only) and the inputs whose buffer the
    output may take over (``inplace``)."""

    calls: list[Call]
    scratch: list[tuple] = field(default_factory=list)
    inplace: tuple[int, ...] = ()
    fallback: bool = False


def bind(kernel: Kernel, eqn: Eqn, ins: list[np.ndarray], outs: list[np.ndarray], scratch: list[np.ndarray],
         changed: set[int] | None = None, previous: list | None = None) -> list[Callable[[], Any] | None]:
    """The kernel's calls as zero-argument callables on these arrays, one per ``kernel.calls``
    (None: a copy made unnecessary by an in-place output). With ``changed`` (input positions
    whose arrays were replaced) and the ``previous`` binding, only the calls that read one of
    those inputs are made again."""
    arrays = {"i": ins, "o": outs, "s": scratch}

    def resolve(a: Any) -> Any:
        if isinstance(a, Slot):
            if a.kind == "p":
                return bound_params(eqn.params, ins)
            arr = arrays[a.kind][a.index]
            if a.flat:
                flat = arr.reshape(-1)
                if not np.shares_memory(flat, arr):
                    raise AssertionError("compile: a flat view of a non-contiguous buffer")  # pragma: no cover
                return flat
            return arr
        if isinstance(a, Lit):
            return a.value
        if isinstance(a, tuple) and a and isinstance(a[0], Slot):
            return tuple(resolve(x) for x in a)
        return a

    calls: list[Callable[[], Any] | None] = []
    for k, c in enumerate(kernel.calls):
        if previous is not None and changed is not None and not reads(c, changed):
            calls.append(previous[k])
            continue
        args = [resolve(a) for a in c.args]
        if c.fn is np.copyto and len(args) == 2 and args[0] is args[1]:
            calls.append(None)  # the output took over the input's buffer: nothing to copy
        elif c.keyword_out:
            calls.append(partial(c.fn, *args[:c.out], out=args[c.out]))
        else:
            calls.append(partial(c.fn, *args))
    return calls


def reads(call: Call, inputs: set[int]) -> bool:
    """Does ``call`` read one of the equation's ``inputs`` (positions), directly or through its parameters?"""
    for a in call.args:
        for x in (a if isinstance(a, tuple) and a and isinstance(a[0], Slot) else (a,)):
            if isinstance(x, Slot) and (x.kind == "p" or x.kind == "i" and x.index in inputs):
                return True
    return False


def bound_params(params: dict[str, Any], ins: list[np.ndarray]) -> dict[str, Any]:
    """An equation's parameters with each ``Ref`` replaced by the input array it names."""

    def sub(v: Any) -> Any:
        if isinstance(v, Ref):
            return ins[v.index]
        if isinstance(v, tuple):
            return tuple(sub(p) for p in v)
        if isinstance(v, list):
            return [sub(p) for p in v]
        return v

    return {k: sub(v) for k, v in params.items()}


def describe(call: Call, names: Callable[[Slot], str]) -> str:
    """``np.add(%6, %3, out=%6)``: one call as the listing shows it."""
    parts = []
    for k, a in enumerate(call.args):
        if isinstance(a, Slot):
            text = "params" if a.kind == "p" else names(a) + (".flat" if a.flat else "")
        elif isinstance(a, Lit):
            text = a.text
        elif isinstance(a, tuple) and a and isinstance(a[0], Slot):
            text = "(" + ", ".join(names(x) for x in a) + ")"
        else:
            text = repr(a)
        parts.append(f"out={text}" if k == call.out else text)
    return f"{call.label}({', '.join(parts)})"


# ----------------------------------------------------------------------------- the kernels
LOWERINGS: dict[type, Callable[[Eqn], Kernel | None]] = {}


def lowers(*classes: type) -> Callable:
    def deco(fn: Callable[[Eqn], Kernel | None]) -> Callable[[Eqn], Kernel | None]:
        for cls in classes:
            LOWERINGS[cls] = fn
        return fn

    return deco


def lower(eqn: Eqn) -> Kernel:
    """The kernel of a (non-view) equation: its op's, else the fallback."""
    rule = LOWERINGS.get(eqn.op)
    kernel = rule(eqn) if rule is not None else None
    return kernel if kernel is not None else fallback(eqn)


def run_forward(forward: Callable, params: dict[str, Any], outs: tuple[np.ndarray, ...], *ins: np.ndarray) -> None:
    """The fallback: the op's own forward, its result(s) copied into the output buffer(s)."""
    result = forward(*ins, **params)
    for out, y in zip(outs, result if isinstance(result, tuple) else (result,)):
        y = np.asarray(y)
        if y.shape != out.shape or y.dtype != out.dtype:
            raise TraceError(f"compile: an op returned shape {y.shape} {y.dtype}, but {out.shape} {out.dtype} when "
                             "traced: its output shape depends on the data (a boolean mask?), which a plan "
                             "cannot replay; call the function eagerly")
        np.copyto(out, y)


def fallback(eqn: Eqn) -> Kernel:
    outs = tuple(Slot("o", k) for k in range(len(eqn.outs)))
    ins = tuple(Slot("i", k) for k in range(len(eqn.args)))
    return Kernel([Call(run_forward, (Lit(eqn.op.forward, f"{eqn.op.__name__}.forward"), PARAMS, outs, *ins),
                        "copy_forward")], fallback=True)


def ufunc_kernel(ufunc: np.ufunc, n_in: int, arithmetic: bool = True) -> Callable[[Eqn], Kernel]:
    """``ufunc(*ins, out)``. NumPy allocates a buffer for a ufunc whose operand is broadcast (other
    than a scalar) or must be converted to another dtype; so such an operand is first copied into
    a scratch buffer of the output's shape with ``np.copyto`` (broadcast and converted as the ufunc
    would: the same values), and an arithmetic ufunc (which computes in its output's dtype) gets
    operands of that dtype."""

    def rule(eqn: Eqn) -> Kernel:
        ins: list[Slot] = [I0, I1][:n_in]
        out = eqn.outs[0]
        calls, scratch = [], []
        for j, v in enumerate(eqn.ins[:n_in]):
            broadcast = v.shape != out.shape and int(np.prod(v.shape)) > 1
            convert = arithmetic and v.dtype != out.dtype and v.dtype.kind in "biuf"
            if broadcast or (convert and v.shape == out.shape):
                dtype = out.dtype if arithmetic else v.dtype
                calls.append(Call(np.copyto, (Slot("s", len(scratch)), ins[j], "unsafe"), "np.copyto"))
                ins[j] = Slot("s", len(scratch))
                scratch.append((out.shape, dtype))
        calls.append(Call(ufunc, (*ins, O0), f"np.{ufunc.__name__}", n_in))
        return Kernel(calls, scratch=scratch, inplace=tuple(
            j for j in range(n_in) if eqn.ins[j].dtype == out.dtype and eqn.ins[j].shape == out.shape))

    return rule


for _cls, _uf in [(E.Add, np.add), (E.Sub, np.subtract), (E.Mul, np.multiply), (E.Div, np.divide),
                  (E.Pow, np.power), (E.Maximum, np.maximum), (E.Minimum, np.minimum)]:
    LOWERINGS[_cls] = ufunc_kernel(_uf, 2)
for _cls, _uf in [(E.Less, np.less), (E.LessEqual, np.less_equal), (E.Greater, np.greater),
                  (E.GreaterEqual, np.greater_equal), (E.Equal, np.equal), (E.NotEqual, np.not_equal)]:
    LOWERINGS[_cls] = ufunc_kernel(_uf, 2, arithmetic=False)
for _cls, _uf in [(E.Neg, np.negative), (E.Exp, np.exp), (E.Log, np.log), (E.Sqrt, np.sqrt), (E.Abs, np.abs),
                  (E.Sign, np.sign), (E.Tanh, np.tanh)]:
    LOWERINGS[_cls] = ufunc_kernel(_uf, 1)


@lowers(E.ReLU)
def relu(eqn: Eqn) -> Kernel:
    """max(a, 0) against an array of zeros of a's shape (made once, read-only): the same values as
    against the scalar, with NumPy's plain binary loop (no broadcasting: faster, and no buffer)."""
    a = eqn.ins[0]
    zeros = np.zeros(a.shape, a.dtype)
    zeros.setflags(write=False)
    return Kernel([Call(np.maximum, (I0, Lit(zeros, "zeros") if a.shape else Lit(0, "0"), O0), "np.maximum", 2)],
                  inplace=(0,))


@lowers(E.Cast)
def cast(eqn: Eqn) -> Kernel:
    """``a.astype(dtype)``: the same conversion, into the buffer."""
    return Kernel([Call(np.copyto, (O0, I0, "unsafe"), "np.copyto")])


@lowers(E.Where)
def where(eqn: Eqn) -> Kernel | None:
    """``np.where(c, a, b)``: b, then a copied over it where c (the same values, converted alike)."""
    if eqn.ins[0].dtype != np.bool_:
        return None
    return Kernel([Call(np.copyto, (O0, I2, "unsafe"), "np.copyto"),
                   Call(np.copyto, (O0, I1, "unsafe", I0), "np.copyto")])


@lowers(E.Sigmoid)
def sigmoid(eqn: Eqn) -> Kernel:
    """``e = exp(-|a|); where(a >= 0, 1, e) / (1 + e)``, call for call."""
    a = eqn.ins[0]
    return Kernel([Call(np.abs, (I0, S0), "np.abs", 1), Call(np.negative, (S0, S0), "np.negative", 1),
                   Call(np.exp, (S0, S0), "np.exp", 1),
                   Call(np.greater_equal, (I0, 0, S1), "np.greater_equal", 2),
                   Call(np.copyto, (S2, S0), "np.copyto"), Call(np.copyto, (S2, 1, "unsafe", S1), "np.copyto"),
                   Call(np.add, (1, S0, S0), "np.add", 2), Call(np.divide, (S2, S0, O0), "np.divide", 2)],
                  scratch=[(a.shape, eqn.outs[0].dtype), (a.shape, np.dtype(bool)), (a.shape, eqn.outs[0].dtype)])


@lowers(L.MatMul)
def matmul(eqn: Eqn) -> Kernel:
    return Kernel([Call(np.matmul, (I0, I1, O0), "np.matmul", 2)])


@lowers(L.Linear)
def linear(eqn: Eqn) -> Kernel:
    """``x @ W`` into the buffer, then ``+ b`` in place (the textbook's ``np.matmul(x, w) + b``), b
    first copied into a row per example (so the addition needs no broadcasting buffer)."""
    calls = [Call(np.matmul, (I0, I1, O0), "np.matmul", 2)]
    if len(eqn.ins) < 3:
        return Kernel(calls)
    out, b = eqn.outs[0], eqn.ins[2]
    if b.dtype != out.dtype or len(out.shape) < 1:
        return Kernel(calls + [Call(np.add, (O0, I2, O0), "np.add", 2)])
    return Kernel(calls + [Call(np.copyto, (S0, I2), "np.copyto"), Call(np.add, (O0, S0, O0), "np.add", 2)],
                  scratch=[(out.shape, out.dtype)])


@lowers(R.Sum)
def sum_(eqn: Eqn) -> Kernel | None:
    a = eqn.ins[0]
    if a.dtype.kind != "f":
        return None
    axes = normalize_axes(eqn.params.get("axis"), len(a.shape), "sum")
    return Kernel([Call(np.add.reduce, (I0, axes, None, O0, bool(eqn.params.get("keepdims", False))),
                        "np.add.reduce", 3)])


@lowers(R.Mean)
def mean(eqn: Eqn) -> Kernel | None:
    """``np.mean`` itself, with ``out=`` (its sum and its division by the count, as in eager)."""
    a = eqn.ins[0]
    if a.dtype.kind != "f":
        return None
    axes = normalize_axes(eqn.params.get("axis"), len(a.shape), "mean")
    return Kernel([Call(np.mean, (I0, axes, None, O0, bool(eqn.params.get("keepdims", False))), "np.mean", 3)])


def check_labels(logits: np.ndarray, labels: np.ndarray) -> None:
    """The textbook's label check (integers in [0, C)), with one reduction when they are fine."""
    if not labels_in_range(logits, labels):
        N.check_labels("cross_entropy", logits, labels)  # raises, with the textbook's message


@lowers(CrossEntropySoftmax)
def cross_entropy_softmax(eqn: Eqn) -> Kernel | None:
    """The loss as ``CrossEntropy.forward`` computes it, the softmax left in the VJP's buffer:
    check the labels; m = rowmax(z); s = z - m (into p's buffer); pick s at the labels; e = exp(s)
    in place; t = Σ_row e (summed along each row, as NumPy sums a C-ordered row); ℓ = log t -
    picked; reduce ℓ; p = e / t in place. The columns m and t are first copied across each row (the
    subtraction and division then need no broadcasting buffer)."""
    z, labels = eqn.ins
    reduction = eqn.params.get("reduction", "mean")
    if z.dtype not in (np.float32, np.float64) or len(z.shape) != 2 or reduction not in N.REDUCTIONS or not (
            labels.dtype.kind == "i" or labels.dtype.kind == "u" and labels.dtype.itemsize < 8):
        return None
    if z.strides != (z.dtype.itemsize * z.shape[1], z.dtype.itemsize):
        return None  # (the flat views below need C-ordered logits)
    n, c = z.shape
    rowbase = Lit(np.arange(n, dtype=np.intp) * c, "rows*C")
    losses = S4 if reduction != "none" else O0
    dt = z.dtype
    scratch = [((n, 1), dt), ((n, c), dt), ((n, 1), dt), ((n,), dt), ((n,), dt)]
    if c <= 32 and n >= 16:  # short rows: the max of a column-major copy (``fast.forwards.row_max``)
        rowmax = [Call(np.copyto, (S5, I0), "np.copyto"),
                  Call(np.maximum.reduce, (S5, 1, None, S0, True), "np.maximum.reduce", 3)]
        scratch.append(((n, c), dt, "F"))
    else:
        rowmax = [Call(np.maximum.reduce, (I0, 1, None, S0, True), "np.maximum.reduce", 3)]
    calls = [Call(check_labels, (I0, I1), "check_labels"), *rowmax,
             Call(np.copyto, (S1, S0), "np.copyto"),
             Call(np.subtract, (I0, S1, O1), "np.subtract", 2),
             Call(np.add, (rowbase, I1, O2), "np.add", 2),
             Call(np.take, (Slot("o", 1, True), O2, None, S3, "clip"), "np.take", 3),
             Call(np.exp, (O1, O1), "np.exp", 1),
             Call(np.add.reduce, (O1, 1, None, S2, True), "np.add.reduce", 3),
             Call(np.log, (Slot("s", 2, True), losses), "np.log", 1),
             Call(np.subtract, (losses, S3, losses), "np.subtract", 2)]
    if reduction == "mean":
        calls += [Call(np.add.reduce, (S4, 0, None, O0), "np.add.reduce", 3),
                  Call(np.true_divide, (O0, n, O0), "np.true_divide", 2)]
    elif reduction == "sum":
        calls.append(Call(np.add.reduce, (S4, 0, None, O0), "np.add.reduce", 3))
    calls += [Call(np.copyto, (S1, S2), "np.copyto"), Call(np.divide, (O1, S1, O1), "np.divide", 2)]
    return Kernel(calls, scratch=scratch)


@lowers(XentGradFromSoftmax)
def xent_grad(eqn: Eqn) -> Kernel | None:
    """p - onehot as ``p[i, yᵢ] - 1`` (take, subtract 1, put back, over the flat label indices),
    then the scale, in place over p's buffer when the softmax dies here."""
    p, flat, scale = eqn.ins
    out = eqn.outs[0]
    if len(p.shape) != 2 or p.strides != out.strides or out.strides[-1] != out.dtype.itemsize:
        return None
    calls = [Call(np.copyto, (O0, I0), "np.copyto"),
             Call(np.take, (Slot("o", 0, True), I1, None, S0, "clip"), "np.take", 3),
             Call(np.subtract, (S0, 1, S0), "np.subtract", 2),
             Call(np.put, (Slot("o", 0, True), I1, S0, "clip"), "np.put"),
             Call(np.multiply, (O0, I2, O0), "np.multiply", 2)]
    scratch = [((p.shape[0],), p.dtype)]
    if scale.shape != out.shape and int(np.prod(scale.shape)) > 1:  # ('none': a column of upstream gradients)
        calls[-1:] = [Call(np.copyto, (S1, I2), "np.copyto"), Call(np.multiply, (O0, S1, O0), "np.multiply", 2)]
        scratch.append((out.shape, out.dtype))
    return Kernel(calls, scratch=scratch, inplace=(0,))
