"""Buffer planning: which preallocated buffer holds each value of a program, and for how long.

What it buys: a step's intermediates and gradients live in a few buffers allocated once per
input signature, each reused as soon as the value it held is dead; a replayed step allocates
nothing. Measured by ``tests/tools/test_compile.py`` (tracemalloc: the bytes a replay allocates)
and the ``total`` line of the listing (the buffers' bytes against the sum of every value's).

The liveness pass. A value is *live* from the equation that writes it to the last equation that
reads it, or any view of it (a view, e.g. ``W.T`` or ``g.reshape(...)``, owns no memory: it
keeps its *root*, the value whose buffer it views, alive). The outputs (the loss, aux values and
the gradients the update reads) are live to the end. Walking the equations in order:

1. the outputs of equation i get buffers: an output takes over the buffer of an input that
   dies at i when the kernel allows it (``Kernel.inplace``: elementwise ops) and the two have the
   same shape, dtype and layout; otherwise it takes the smallest free buffer big enough, or a
   new one;
2. the kernel's scratch buffers are taken the same way, and given back right after i;
3. the roots whose last use is i are given back (their buffers become free for i + 1, ...).

The optimizer's update runs after the last equation; its scratch buffers come from the same pool.
``listing`` prints the result (``print(step.plan)``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .kernels import Kernel, Slot, describe, lower
from .program import Eqn, Program, Var, short_dtype

ALIGN = 64  # bytes: every buffer starts on a cache line


class Buffer:
    """A block of ``nbytes`` bytes and the values it holds in turn: (value, first eqn, last eqn)."""

    __slots__ = ("index", "nbytes", "holders", "memory")

    def __init__(self, index: int, nbytes: int) -> None:
        self.index, self.nbytes = index, nbytes
        self.holders: list[list[Any]] = []
        self.memory: np.ndarray | None = None

    @property
    def name(self) -> str:
        return f"b{self.index}"

    def allocate(self) -> None:
        raw = np.empty(self.nbytes + ALIGN, dtype=np.uint8)
        offset = (-raw.ctypes.data) % ALIGN
        self.memory = raw[offset:offset + self.nbytes]

    def view(self, shape: tuple[int, ...], dtype: np.dtype, strides: tuple[int, ...]) -> np.ndarray:
        assert self.memory is not None
        return np.ndarray(shape, dtype, buffer=self.memory, offset=0, strides=strides)


class Pool:
    """The free buffers, and the ones made so far."""

    def __init__(self) -> None:
        self.free: list[Buffer] = []
        self.all: list[Buffer] = []

    def take(self, nbytes: int) -> Buffer:
        fits = [b for b in self.free if b.nbytes >= nbytes]
        if fits:
            best = min(fits, key=lambda b: (b.nbytes, b.index))
            self.free.remove(best)
            return best
        buf = Buffer(len(self.all), max(nbytes, 1))
        self.all.append(buf)
        return buf

    def give(self, buf: Buffer) -> None:
        self.free.append(buf)


@dataclass
class Step:
    """One equation of the plan: its kernel (None for a view), scratch (buffer, shape, dtype) and
    what it releases."""

    eqn: Eqn
    kernel: Kernel | None
    scratch: list[tuple[Buffer, tuple[int, ...], np.dtype, str]] = field(default_factory=list)
    frees: list[Var] = field(default_factory=list)
    reuses: dict[int, Var] = field(default_factory=dict)  # output index -> the input whose buffer it took


def _c_strides(shape: tuple[int, ...], itemsize: int) -> tuple[int, ...]:
    strides, acc = [], itemsize
    for n in reversed(shape):
        strides.append(acc)
        acc *= max(n, 1)
    return tuple(reversed(strides))


class Plan:
    """A program with a buffer for every value (see the module docstring). ``update`` is the
    optimizer's fused update (``update.py``) or None; ``update_scratch`` its scratch buffers."""

    def __init__(self, program: Program, update_scratch_bytes: list[int] | None = None) -> None:
        self.program = program
        eqns = program.eqns
        end = len(eqns)
        self.root: dict[int, Var] = {}
        for e in eqns:
            for v in e.ins + e.outs:
                self.root.setdefault(v.id, self._root_of(v))
        for v in program.outputs():
            self.root.setdefault(v.id, self._root_of(v))
        last: dict[int, int] = {}
        for i, e in enumerate(eqns):
            for v in e.ins:
                last[self.root[v.id].id] = i
            for v in e.outs:
                last.setdefault(self.root[v.id].id, i)
        for v in program.outputs():
            last[self.root[v.id].id] = end
        self.last = last

        pool = Pool()
        self.home: dict[int, tuple[Buffer, tuple[int, ...], np.dtype, tuple[int, ...]]] = {}  # value id -> its buffer
        self.steps: list[Step] = []
        for i, e in enumerate(eqns):
            if e.outs[0].view_of is not None:
                step = Step(e, None)
            else:
                kernel = lower(e)
                step = Step(e, kernel)
                taken: set[int] = set()
                for k, o in enumerate(e.outs):
                    source = self._reusable(e, kernel, o, i, taken)
                    if source is not None:
                        buf = self.home[source.id][0]
                        taken.add(source.id)
                        step.reuses[k] = source
                    else:
                        buf = pool.take(o.nbytes)
                    self.home[o.id] = (buf, o.shape, o.dtype, o.strides)
                    buf.holders.append([o, i, last.get(o.id, i)])
                for spec in kernel.scratch:
                    shape, dtype = spec[0], np.dtype(spec[1])
                    nbytes = int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
                    buf = pool.take(nbytes)
                    buf.holders.append([None, i, i])
                    step.scratch.append((buf, shape, dtype, spec[2] if len(spec) > 2 else "C"))
                for buf, *_ in step.scratch:
                    pool.give(buf)
                for r in taken:
                    last[r] = -1  # its buffer lives on in the output
            for v in {self.root[v.id].id: self.root[v.id] for v in e.ins + e.outs}.values():
                if v.kind == "value" and last.get(v.id) == i:
                    step.frees.append(v)
                    pool.give(self.home[v.id][0])
            self.steps.append(step)
        self.update_scratch: list[Buffer] = [pool.take(n) for n in (update_scratch_bytes or [])]
        for buf in self.update_scratch:
            buf.holders.append([None, end, end])
        self.buffers = pool.all
        for buf in self.buffers:
            buf.allocate()

    def _root_of(self, v: Var) -> Var:
        while v.view_of is not None:
            v = v.view_of
        return v

    def _reusable(self, e: Eqn, kernel: Kernel, o: Var, i: int, taken: set[int]) -> Var | None:
        """An input of ``e`` whose buffer output ``o`` may take over, or None."""
        for j in kernel.inplace:
            if j >= len(e.ins):
                continue
            v = e.ins[j]
            if (v.kind == "value" and v.view_of is None and v.id not in taken and self.last.get(v.id) == i
                    and v.shape == o.shape and v.dtype == o.dtype and v.strides == o.strides
                    and sum(x is v for x in e.ins) == 1 and v.id in self.home):
                return v
        return None

    # ------------------------------------------------------------------ arrays
    def array(self, v: Var) -> np.ndarray:
        """The buffer view that holds value ``v`` (a value with a buffer of its own)."""
        buf, shape, dtype, strides = self.home[v.id]
        return buf.view(shape, dtype, strides)

    def scratch_arrays(self, step: Step) -> list[np.ndarray]:
        """The scratch buffers of a step, C-ordered, or Fortran-ordered where the kernel asked."""
        return [buf.view(shape, dtype, _c_strides(shape, dtype.itemsize) if order == "C"
                         else _c_strides(shape[::-1], dtype.itemsize)[::-1])
                for buf, shape, dtype, order in step.scratch]

    @property
    def nbytes(self) -> int:
        return sum(b.nbytes for b in self.buffers)

    def values_nbytes(self) -> int:
        """What the values would take without reuse (every value its own buffer)."""
        return sum(s.eqn.outs[k].nbytes for s in self.steps if s.kernel is not None for k in range(len(s.eqn.outs)))


# ----------------------------------------------------------------------------- the listing
def kib(n: int) -> str:
    return f"{n} B" if n < 1024 else f"{n / 1024:.1f} KiB" if n < 1024 ** 2 else f"{n / 1024 ** 2:.2f} MiB"


def format_params(params: dict[str, Any]) -> str:
    parts = []
    for k, v in params.items():
        if isinstance(v, np.ndarray):
            v = f"<{short_dtype(v.dtype)}{list(v.shape)}>"
        elif isinstance(v, np.dtype):
            v = short_dtype(v)
        parts.append(f"{k}={v}")
    return " ".join(parts)


def names_for(plan: Plan, step: Step, scratch: list[str]):
    e = step.eqn

    def name(slot: Slot) -> str:
        if slot.kind == "i":
            return e.ins[slot.index].name
        if slot.kind == "o":
            return e.outs[slot.index].name
        return scratch[slot.index]

    return name


def listing(plan: Plan, title: str, update_lines: list[str], n_calls: int) -> str:
    """The plan as text: arguments, parameters and constants; each equation with its output's
    type, the buffer it writes (and whose buffer it takes over), the NumPy calls of its kernel and
    the values it frees; then the update and the buffers."""
    p = plan.program
    views = sum(s.kernel is None for s in plan.steps)
    phases = [s.eqn.phase for s in plan.steps]
    lines = [f"{title}: {len(plan.steps)} equations ({phases.count('forward')} forward, {phases.count('backward')} "
             f"backward; {views} of them views), {n_calls} NumPy calls per replay before the update, "
             f"{len(plan.buffers)} buffers of {kib(plan.nbytes)}", ""]
    for v in p.args:
        if v is not None:
            lines.append(f"  arg    {v.name:<5} {v.type:<16} argument {v.source}")
    for k, (t, v) in enumerate(p.params):
        lines.append(f"  param  {v.name:<5} {v.type:<16} parameter {k}")
    used = {v.id for e in p.eqns for v in e.ins}
    for v in p.consts:
        if v.id in used or v in p.outputs():
            lines.append(f"  const  {v.name:<5} {v.type:<16} {const_text(v)}")
    phase = None
    for i, step in enumerate(plan.steps):
        e = step.eqn
        if e.phase != phase:
            phase = e.phase
            lines += ["", f"{phase}:"]
        outs = ", ".join(f"{o.name}:{o.type}" for o in e.outs)
        args = " ".join(v.name for v in e.ins)
        params = format_params(e.params)
        head = f"  {i:>3}  {outs} = {e.name} {args}" + (f"  [{params}]" if params else "")
        lines.append(head)
        if step.kernel is None:
            lines.append(f"         view of {plan.root[e.outs[0].id].name} (no copy, no call)")
        else:
            homes = []
            for k, o in enumerate(e.outs):
                buf = plan.home[o.id][0]
                homes.append(f"{o.name} -> {buf.name}" + (f" (over {step.reuses[k].name}, in place)"
                                                         if k in step.reuses else f" ({kib(o.nbytes)})"))
            lines.append("         " + "; ".join(homes))
            scratch = [f"{buf.name}" for buf, *_ in step.scratch]
            for call in step.kernel.calls:
                if (call.fn is np.copyto and call.args == (Slot("o", 0), Slot("i", 0))
                        and step.reuses.get(0) is e.ins[0]):
                    continue  # (in place: nothing to copy)
                lines.append("         " + describe(call, names_for(plan, step, scratch)))
            if scratch:
                lines.append("         scratch: " + ", ".join(f"{buf.name} {short_dtype(d)}{list(s)}" + (
                    " (column-major)" if order == "F" else "") for buf, s, d, order in step.scratch))
        if step.frees:
            lines.append("         frees " + " ".join(f"{v.name}({plan.home[v.id][0].name})" for v in step.frees))
    lines += ["", *update_lines, "", "buffers:"]
    for buf in plan.buffers:
        n = len(plan.steps)
        held = ", ".join((f"{v.name} {a}-{b if b < n else 'end'}" if v is not None else
                          f"scratch {a}" if a < n else "update scratch") for v, a, b in buf.holders)
        lines.append(f"  {buf.name:<4} {kib(buf.nbytes):>10}  {held}")
    lines.append(f"  total {kib(plan.nbytes)} for {kib(plan.values_nbytes())} of values")
    return "\n".join(lines)


def const_text(v: Var) -> str:
    src = v.source
    arr = src._data if hasattr(src, "_data") else np.asarray(src)
    if arr.size and np.all(arr == arr.flat[0]):
        return f"= {arr.flat[0].item()!r}" + (f" (all {arr.size})" if arr.ndim else "")
    if arr.size <= 4:
        return "= " + np.array2string(arr, precision=8, separator=", ")
    return f"constant ({kib(arr.nbytes)})"
