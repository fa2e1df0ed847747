"""The engine's modes: grad mode, anomaly mode and gradient watchers, each thread its own.

As in PyTorch, every thread starts with grad mode on and anomaly mode off, and a ``no_grad()``
block in one thread (an evaluator) never turns off graph recording in another (a trainer).
The state lives in one ``threading.local``; nothing else in the package is mutable global state.

    with no_grad(): ...                 ops record no graph (inference, parameter updates)
    with enable_grad(): ...             recording back on inside a no_grad block
    with set_grad_enabled(flag): ...    either, from a flag
    with detect_anomaly(): ...          the first NaN/Inf in a forward or backward raises AnomalyError
    with watch_gradients(fn): ...       fn(event) sees every gradient backward computes (viz.trace_backward)
    with watch_ops(fn): ...             fn(op, inputs, params, output) sees every op run (fast.jit's traces)
"""
from __future__ import annotations

import contextlib
import os
import threading
import traceback
from typing import Any, Callable, Iterator

import numpy as np


class _State(threading.local):
    """Per-thread modes; the class attributes are each new thread's starting values."""

    grad_enabled = True  # ops record a graph
    anomaly = False  # ops check for NaN/Inf and remember where they were created
    watchers: tuple[Callable[[Any], None], ...] = ()  # see watch_gradients
    op_watchers: tuple[Callable[..., None], ...] = ()  # see watch_ops
    levels: frozenset = frozenset()  # the levels of the function transformations running (tracing.py)
    #: use what the fast layer (``tinygrad_np.fast``) registered at the engine's seams; off with
    #: TINYGRAD_NP_FAST=0 or ``tinygrad_np.fast.disabled()``: the same results, the textbook code
    fast = os.environ.get("TINYGRAD_NP_FAST", "1") != "0"


state = _State()


def is_grad_enabled() -> bool:
    """True when new ops record a graph for backward (in this thread)."""
    return state.grad_enabled


class set_grad_enabled(contextlib.ContextDecorator):
    """Context manager / decorator that turns graph recording on or off inside its block."""

    def __init__(self, mode: bool) -> None:
        self.mode = bool(mode)
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(state.grad_enabled)
        state.grad_enabled = self.mode

    def __exit__(self, *exc: object) -> None:
        state.grad_enabled = self._saved.pop()


class no_grad(set_grad_enabled):
    """``with no_grad():`` or ``@no_grad()``: ops inside record no graph (inference, updates)."""

    def __init__(self) -> None:
        super().__init__(False)


class enable_grad(set_grad_enabled):
    """Re-enable graph recording inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)


class AnomalyError(FloatingPointError):
    """Raised inside ``detect_anomaly()`` at the first op whose output or gradient is not finite."""


class detect_anomaly(contextlib.ContextDecorator):
    """Inside this block every op remembers the user code line that created it, and the first
    forward output or backward gradient containing NaN/Inf raises ``AnomalyError`` naming the
    op, the shapes and that line. Slower: use it to debug, not to train."""

    def __init__(self) -> None:
        self._saved: list[bool] = []

    def __enter__(self) -> None:
        self._saved.append(state.anomaly)
        state.anomaly = True

    def __exit__(self, *exc: object) -> None:
        state.anomaly = self._saved.pop()


@contextlib.contextmanager
def anomaly_paused() -> Iterator[None]:
    """Anomaly checks off inside (a VJP's own inner ops are checked as the VJP's result)."""
    saved, state.anomaly = state.anomaly, False
    try:
        yield
    finally:
        state.anomaly = saved


def check_finite(what: str, t: Any, shapes: str, where: str) -> None:
    """In anomaly mode: raise AnomalyError if ``t`` has a NaN or Inf, naming the op and where it was made."""
    a = np.asarray(t)
    if a.dtype.kind in "fc" and not np.all(np.isfinite(a)):
        bad = "NaN" if np.isnan(a).any() else "Inf"
        raise AnomalyError(f"{what} contains {bad} ({shapes}); the op was created at {where}")


def checked_vjp(rule: Callable, fn: Any, i: int, g: Any, y: Any) -> Any:
    """In anomaly mode: node ``fn``'s VJP with its own inner ops unchecked, then checked and blamed on ``fn``."""
    with anomaly_paused():
        raw = rule(fn, i, g, y)
    check_finite(f"{fn.name} backward gradient for input {i}", raw,
                 f"input shape {fn.inputs[i].shape}, upstream gradient shape {g.shape}",
                 getattr(fn, "created_at", "<unknown>"))
    return raw


class GradientEvent:
    """What ``watch_gradients`` watchers see of one backward step: the node's output ``tensor``,
    its upstream gradient ``grad``, and ``vjps`` as ``engine.backward_step`` returns them."""

    def __init__(self, tensor: Any, grad: Any, vjps: list) -> None:
        self.tensor, self.grad, self.vjps = tensor, grad, vjps


@contextlib.contextmanager
def watch_gradients(fn: Callable[[Any], None]) -> Iterator[None]:
    """Call ``fn(event)`` for every step of every backward pass run inside the block (this thread).

    ``event`` is a ``GradientEvent``: the node, the gradient that reached it and
    each input's VJP before and after it was brought to the input's shape and dtype."""
    saved = state.watchers
    state.watchers = saved + (fn,)
    try:
        yield
    finally:
        state.watchers = saved


@contextlib.contextmanager
def watch_ops(fn: Callable[..., None]) -> Iterator[None]:
    """Call ``fn(op class, inputs, params, output)`` for every op ``Tensor.apply`` runs on plain
    tensors inside the block (this thread), recorded or not (comparisons too): a trace of the
    forward computation (``fast.jit`` builds its plans from it)."""
    saved = state.op_watchers
    state.op_watchers = saved + (fn,)
    try:
        yield
    finally:
        state.op_watchers = saved


_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))


def user_code_line() -> str:
    """'file:line in function: source' of the innermost stack frame outside tinygrad_np."""
    for frame in reversed(traceback.extract_stack()):
        if not os.path.abspath(frame.filename).startswith(_PACKAGE_DIR):
            return f"{frame.filename}:{frame.lineno} in {frame.name}: {frame.line}"
    return "<unknown>"
