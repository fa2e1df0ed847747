"""What the function transformations cost: forward mode, Jacobians and per-example gradients.

    python -m benchmarks.transforms                 # every section (a few minutes)
    python -m benchmarks.transforms --threads 1     # BLAS on one thread (a shared 2-core machine)
    python -m benchmarks.transforms --quick         # a smoke test on small sizes (seconds)
    python -m benchmarks.transforms --sections jvp,per-example

Sections (each a race of its own; ratios are to the section's baseline, marked *):

* ``jvp``: one Jacobian-vector product of a 256x256 tanh layer ``tanh(x W + b)`` (x of 256 rows;
  tangents for x, W and b: three products where the primal has one; and a tangent for x only: two)
  by ``tg.jvp`` against the primal*, one VJP (``tg.vjp`` and its ``vjp_fn``), a forward +
  ``backward()`` on the tape, ``linearize``'s ``f_jvp`` and the same JVPs written by hand in NumPy;
* ``jvp-mlp``: the same for the logits of the MNIST MLP 784-128-64-10 (ReLU) at batch 128, the
  tangent a direction in parameter space;
* ``jacobian``: the Jacobian of ``g(x) = tanh(W x + b)``, R^256 -> R^256: ``jacrev`` and ``jacfwd``
  (vectorised over the basis with ``vmap``), a Python loop of 256 VJPs, a loop of 256 JVPs and the
  closed form ``(1 - y²) ⊙ W`` in NumPy, against one VJP*;
* ``hessian``: the Hessian of ``h(x) = logsumexp(W x)``, R^256 -> R: ``hessian`` (``jacfwd`` of
  ``jacrev``), a loop of 256 ``hvp``s and the closed form ``Wᵀ(diag p - p pᵀ)W``, against one gradient*;
* ``per-example``: the per-example gradients ``vmap(grad(loss), in_axes=(None, 0, 0))`` of the MNIST
  MLP (784-128-64-10, ReLU, cross-entropy, float32) at batch 128 against a Python loop of ``tg.grad``
  over the examples*, with one batched backward of the mean loss and, in bare NumPy, the products
  that dominate the vmapped backward (the 128 outer products ``xᵢᵀ ḡᵢ`` of W1's per-example
  gradients, as the stacked matmul vmap issues and as a broadcast product).

Every contender's result is checked against the others' in the same run (``agreement``: max
relative difference to the section's reference result), so the race is between equal computations.

Method (``dev.blockrace``'s): in each section the contenders take turns in blocks of ``calls``
calls (the first untimed), in a random order per block, block 0 a warm-up, every contender rebuilt
on fresh input arrays before each block; reported per contender: the median seconds per call and
the median of the paired per-block ratios to the baseline, with the interquartile range, on two
clocks: this process's CPU time (with ``--threads 1`` the only thread working for the call, and
not advanced while another process holds the core, so a shared machine does not inflate it) and
elapsed time; and the share of the machine other processes kept busy during the section.
Outputs: a Markdown table on stdout,
``transforms.json`` and ``transforms.md`` in ``--out`` (default ``benchmarks/results``).
"""
from __future__ import annotations

import argparse
import ctypes
import glob
import json
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .data import load_data
from .machine import _OPENBLAS, cpu_snapshot, machine_info, other_load
from .report import atomic_write_text
from .tg_api import F, tg

__all__ = ["SECTIONS", "Section", "Contender", "main", "race", "mlp_params", "mlp_loss", "mlp_logits",
           "per_example_vmap", "per_example_loop", "set_blas_threads"]

SECTIONS = ("jvp", "jvp-mlp", "jacobian", "hessian", "per-example")
TARGET_PER_EXAMPLE = 0.2  # the target: vmap(grad) in at most a fifth of the loop's time at batch 128


@dataclass
class Contender:
    """One way to compute a section's result: ``build()`` makes fresh inputs and returns the call to time."""

    name: str
    build: Callable[[], Callable[[], Any]]
    result: Callable[[Any], np.ndarray] = np.asarray  # the call's return value as the array compared


@dataclass
class Section:
    name: str
    title: str
    baseline: str
    contenders: list[Contender]
    calls: int  # calls per block (the first untimed)
    blocks: int
    #: what is compared: (contender, reference contender, None or a map of the reference's return value
    #: to what the contender computes); default: every contender against the baseline's result
    checks: list[tuple[str, str, Callable[[Any], Any] | None]] = field(default_factory=list)
    notes: dict[str, Any] = field(default_factory=dict)

    def all_checks(self) -> list[tuple[str, str, Callable[[Any], Any] | None]]:
        return self.checks or [(c.name, self.baseline, None) for c in self.contenders if c.name != self.baseline]


# ----------------------------------------------------------------------------- BLAS threads
def set_blas_threads(n: int) -> bool:
    """Set the thread count of the OpenBLAS NumPy bundles (as threadpoolctl does); False if NumPy
    uses another BLAS."""
    here = os.path.dirname(np.__file__)
    dirs = [os.path.join(here, "..", "numpy.libs"), os.path.join(here, ".dylibs"), here]
    for pattern, prefix, suffix in _OPENBLAS:
        for path in sorted(p for d in dirs for p in glob.glob(os.path.join(d, pattern))):
            try:
                setter = getattr(ctypes.CDLL(path), f"{prefix}set_num_threads{suffix}")
            except (OSError, AttributeError):
                continue
            setter(int(n))
            return True
    return False


# ----------------------------------------------------------------------------- the functions timed
def tanh_layer(x: Any, w: Any, b: Any) -> Any:
    return (x @ w + b).tanh()


def mlp_params(sizes: Sequence[int], dtype: Any = np.float32, seed: int = 0) -> list[np.ndarray]:
    """He-normal weights (fan_in, fan_out) and small random biases, ``[W1, b1, ..., WL, bL]``."""
    rng = np.random.default_rng(seed)
    out = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        out += [(rng.standard_normal((fan_in, fan_out)) * np.sqrt(2.0 / fan_in)).astype(dtype),
                (rng.standard_normal(fan_out) * 0.1).astype(dtype)]
    return out


def mlp_logits(params: Sequence[Any], x: Any) -> Any:
    """The MNIST MLP (ReLU after every hidden layer) written with tinygrad_np ops: logits of ``x``
    (one example (D,) or a batch (B, D))."""
    h = x
    for k in range(0, len(params) - 2, 2):
        h = F.linear(h, params[k], params[k + 1]).relu()
    return F.linear(h, params[-2], params[-1])


def mlp_loss(params: Sequence[Any], x: Any, y: Any) -> Any:
    """Softmax cross-entropy of one example ``x`` (D,) with label ``y`` (a 0-d integer)."""
    return F.cross_entropy(mlp_logits(params, x).reshape(1, -1), y.reshape(1))


def batch_loss(params: Sequence[Any], X: Any, y: np.ndarray) -> Any:
    """The mean loss of a batch (what one training step differentiates)."""
    return F.cross_entropy(mlp_logits(params, X), y)


def per_example_vmap(params: Sequence[Any], X: Any, y: Any) -> list[Any]:
    """Per-example gradients in one pass: ``vmap(grad(mlp_loss), in_axes=(None, 0, 0))``."""
    return tg.vmap(tg.grad(mlp_loss), in_axes=(None, 0, 0))(list(params), tg.Tensor(X), tg.Tensor(y))


def per_example_loop(params: Sequence[Any], X: np.ndarray, y: np.ndarray) -> list[np.ndarray]:
    """Per-example gradients by a Python loop of ``tg.grad`` over the examples, stacked."""
    g = tg.grad(mlp_loss)
    rows = [g(list(params), tg.Tensor(X[i]), tg.Tensor(y[i])) for i in range(len(X))]
    return [np.stack([r[k].numpy() for r in rows]) for k in range(len(params))]


def _flat(arrays: Any) -> np.ndarray:
    """Tensors, arrays, or nested lists/tuples of them, as one flat float64 vector."""
    if isinstance(arrays, (list, tuple)):
        return np.concatenate([_flat(a) for a in arrays]) if arrays else np.zeros(0)
    return np.asarray(arrays.numpy() if hasattr(arrays, "numpy") else arrays, dtype=np.float64).ravel()


# ----------------------------------------------------------------------------- sections
def jvp_section(n: int, calls: int, blocks: int, seed: int) -> Section:
    rng = np.random.default_rng(seed)
    x0 = rng.standard_normal((n, n)).astype(np.float32)
    w0 = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    b0 = rng.standard_normal(n).astype(np.float32)
    tx, tw, tb = (rng.standard_normal(a.shape).astype(np.float32) for a in (x0, w0, b0))
    u0 = rng.standard_normal((n, n)).astype(np.float32)

    def fresh() -> list[Any]:
        return [tg.Tensor(a.copy()) for a in (x0, w0, b0, tx, tw, tb, u0)]

    def primal() -> Callable[[], Any]:
        x, w, b = fresh()[:3]

        def call() -> Any:
            with tg.no_grad():
                return tanh_layer(x, w, b)
        return call

    def numpy_primal() -> Callable[[], Any]:
        x, w, b = (a.copy() for a in (x0, w0, b0))
        return lambda: np.tanh(x @ w + b)

    def numpy_jvp() -> Callable[[], Any]:
        x, w, b, dx, dw, db = (a.copy() for a in (x0, w0, b0, tx, tw, tb))

        def call() -> Any:
            y = np.tanh(x @ w + b)
            return y, (dx @ w + x @ dw + db) * (1 - y * y)
        return call

    def jvp() -> Callable[[], Any]:
        x, w, b, dx, dw, db, _ = fresh()
        return lambda: tg.jvp(tanh_layer, (x, w, b), (dx, dw, db))

    def numpy_jvp_x() -> Callable[[], Any]:
        x, w, b, dx = (a.copy() for a in (x0, w0, b0, tx))

        def call() -> Any:
            y = np.tanh(x @ w + b)
            return y, (dx @ w) * (1 - y * y)
        return call

    def jvp_x() -> Callable[[], Any]:
        x, w, b, dx = fresh()[:4]
        return lambda: tg.jvp(lambda v: tanh_layer(v, w, b), (x,), (dx,))

    def vjp() -> Callable[[], Any]:
        x, w, b, _, _, _, u = fresh()

        def call() -> Any:
            _, vjp_fn = tg.vjp(tanh_layer, x, w, b)
            return vjp_fn(u)
        return call

    def backward() -> Callable[[], Any]:
        arrays = [a.copy() for a in (x0, w0, b0)]
        u = u0.copy()

        def call() -> Any:
            x, w, b = (tg.Tensor(a, requires_grad=True) for a in arrays)
            tanh_layer(x, w, b).backward(u)
            return x.grad, w.grad, b.grad
        return call

    def linearized() -> Callable[[], Any]:
        x, w, b, dx, dw, db, _ = fresh()
        _, f_jvp = tg.linearize(tanh_layer, x, w, b)
        return lambda: f_jvp(dx, dw, db)

    contenders = [
        Contender("primal tanh(x W + b)", primal),
        Contender("numpy: the primal", numpy_primal),
        Contender("numpy: primal + hand-written JVP", numpy_jvp, lambda r: r[1]),
        Contender("tg.jvp", jvp, lambda r: _flat(r[1])),
        Contender("numpy: primal + hand-written JVP, tangent for x only", numpy_jvp_x, lambda r: r[1]),
        Contender("tg.jvp, tangent for x only", jvp_x, lambda r: _flat(r[1])),
        Contender("tg.vjp + vjp_fn(u)", vjp, _flat),
        Contender("forward + backward() on the tape", backward, _flat),
        Contender("linearize's f_jvp(t) (transposed VJP)", linearized, _flat),
    ]
    hand, vjp_name = "numpy: primal + hand-written JVP", "tg.vjp + vjp_fn(u)"
    checks = [("numpy: the primal", "primal tanh(x W + b)", None), ("tg.jvp", hand, None),
              ("tg.jvp, tangent for x only", "numpy: primal + hand-written JVP, tangent for x only", None),
              ("linearize's f_jvp(t) (transposed VJP)", hand, None),
              ("forward + backward() on the tape", vjp_name, None),
              (vjp_name, hand, lambda r: _numpy_vjp(x0, w0, b0, u0))]
    return Section("jvp", f"JVP of a {n}x{n} tanh layer (x: {n} rows; tangents for x, W, b), float32",
                   "primal tanh(x W + b)", contenders, calls, blocks, checks)


def _numpy_vjp(x: np.ndarray, w: np.ndarray, b: np.ndarray, u: np.ndarray) -> np.ndarray:
    """The tanh layer's VJP by hand: z̄ = u (1 - y²), x̄ = z̄ Wᵀ, W̄ = xᵀ z̄, b̄ = Σ z̄ (flat, in that order)."""
    y = np.tanh(x @ w + b)
    gz = u * (1 - y * y)
    return _flat([gz @ w.T, x.T @ gz, gz.sum(axis=0)])


def jvp_mlp_section(sizes: Sequence[int], batch: int, calls: int, blocks: int, seed: int) -> Section:
    rng = np.random.default_rng(seed)
    p0 = mlp_params(sizes, np.float32, seed)
    t0 = [rng.standard_normal(p.shape).astype(np.float32) for p in p0]
    X0 = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    u0 = rng.standard_normal((batch, sizes[-1])).astype(np.float32)

    X = tg.Tensor(X0)

    def logits(*params: Any) -> Any:
        return mlp_logits(params, X)

    def primal() -> Callable[[], Any]:
        ps = [tg.Tensor(p.copy()) for p in p0]

        def call() -> Any:
            with tg.no_grad():
                return logits(*ps)
        return call

    def jvp() -> Callable[[], Any]:
        ps, ts = [tg.Tensor(p.copy()) for p in p0], [tg.Tensor(t.copy()) for t in t0]
        return lambda: tg.jvp(logits, tuple(ps), tuple(ts))

    def vjp() -> Callable[[], Any]:
        ps, u = [tg.Tensor(p.copy()) for p in p0], tg.Tensor(u0.copy())

        def call() -> Any:
            _, vjp_fn = tg.vjp(logits, *ps)
            return vjp_fn(u)
        return call

    def backward() -> Callable[[], Any]:
        arrays, u = [p.copy() for p in p0], u0.copy()

        def call() -> Any:
            ps = [tg.Tensor(a, requires_grad=True) for a in arrays]
            logits(*ps).backward(u)
            return [p.grad for p in ps]
        return call

    def numpy_jvp() -> Callable[[], Any]:
        ps, ts, x = [p.copy() for p in p0], [t.copy() for t in t0], X0.copy()

        def call() -> Any:
            h, dh = x, np.zeros_like(x)
            for k in range(0, len(ps), 2):
                z, dz = h @ ps[k] + ps[k + 1], dh @ ps[k] + h @ ts[k] + ts[k + 1]
                if k + 2 < len(ps):
                    mask = z > 0
                    h, dh = z * mask, dz * mask
                else:
                    h, dh = z, dz
            return h, dh
        return call

    arch = "-".join(map(str, sizes))
    return Section("jvp-mlp", f"JVP of the MLP {arch} (ReLU) logits at batch {batch}, tangent in parameter space, "
                   "float32", "primal logits", [
                       Contender("primal logits", primal),
                       Contender("numpy: primal + hand-written JVP", numpy_jvp, lambda r: r[1]),
                       Contender("tg.jvp", jvp, lambda r: _flat(r[1])),
                       Contender("tg.vjp + vjp_fn(u)", vjp, _flat),
                       Contender("forward + backward() on the tape", backward, _flat),
                   ], calls, blocks,
                   [("tg.jvp", "numpy: primal + hand-written JVP", None),
                    ("forward + backward() on the tape", "tg.vjp + vjp_fn(u)", None)])


def jacobian_section(n: int, calls: int, blocks: int, seed: int) -> Section:
    rng = np.random.default_rng(seed)
    w0 = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    b0, x0 = rng.standard_normal(n).astype(np.float32), rng.standard_normal(n).astype(np.float32)
    u0 = rng.standard_normal(n).astype(np.float32)

    def parts() -> tuple[Any, Any, Any]:
        return tg.Tensor(w0.copy()), tg.Tensor(b0.copy()), tg.Tensor(x0.copy())

    def one_vjp() -> Callable[[], Any]:
        w, b, x = parts()
        u = tg.Tensor(u0.copy())

        def call() -> Any:
            _, vjp_fn = tg.vjp(lambda v: (w @ v + b).tanh(), x)
            return vjp_fn(u)
        return call

    def closed_form() -> Callable[[], Any]:
        w, b, x = w0.copy(), b0.copy(), x0.copy()

        def call() -> Any:
            y = np.tanh(w @ x + b)
            return (1 - y * y)[:, None] * w
        return call

    def jacrev() -> Callable[[], Any]:
        w, b, x = parts()
        return lambda: tg.jacrev(lambda v: (w @ v + b).tanh())(x)

    def jacfwd() -> Callable[[], Any]:
        w, b, x = parts()
        return lambda: tg.jacfwd(lambda v: (w @ v + b).tanh())(x)

    def vjp_loop() -> Callable[[], Any]:
        w, b, x = parts()
        basis = [tg.Tensor(row) for row in np.eye(n, dtype=np.float32)]

        def call() -> Any:
            _, vjp_fn = tg.vjp(lambda v: (w @ v + b).tanh(), x)
            return np.stack([vjp_fn(e)[0].numpy() for e in basis])
        return call

    def jvp_loop() -> Callable[[], Any]:
        w, b, x = parts()
        basis = [tg.Tensor(row) for row in np.eye(n, dtype=np.float32)]
        f = lambda v: (w @ v + b).tanh()  # noqa: E731
        return lambda: np.stack([tg.jvp(f, (x,), (e,))[1].numpy() for e in basis], axis=1)

    return Section("jacobian", f"Jacobian of g(x) = tanh(W x + b), R^{n} -> R^{n}, float32", "one VJP", [
        Contender("one VJP", one_vjp, _flat),
        Contender("closed form (1 - y²) ⊙ W (numpy)", closed_form),
        Contender("jacrev (vmap over the cotangent basis)", jacrev),
        Contender("jacfwd (vmap over the tangent basis)", jacfwd),
        Contender(f"loop of {n} VJPs", vjp_loop),
        Contender(f"loop of {n} JVPs", jvp_loop),
    ], calls, blocks, [(name, "closed form (1 - y²) ⊙ W (numpy)", None) for name in
                       ("jacrev (vmap over the cotangent basis)", "jacfwd (vmap over the tangent basis)",
                        f"loop of {n} VJPs", f"loop of {n} JVPs")] +
        [("one VJP", "closed form (1 - y²) ⊙ W (numpy)", lambda J: u0 @ J)])


def hessian_section(n: int, calls: int, blocks: int, seed: int) -> Section:
    rng = np.random.default_rng(seed)
    w0 = (rng.standard_normal((n, n)) / np.sqrt(n)).astype(np.float32)
    x0 = rng.standard_normal(n).astype(np.float32)

    def parts() -> tuple[Any, Any]:
        return tg.Tensor(w0.copy()), tg.Tensor(x0.copy())

    def gradient() -> Callable[[], Any]:
        w, x = parts()
        return lambda: tg.grad(lambda v: (w @ v).logsumexp())(x)

    def closed_form() -> Callable[[], Any]:
        w, x = w0.copy(), x0.copy()

        def call() -> Any:
            z = w @ x
            p = np.exp(z - z.max())
            p /= p.sum()
            return w.T @ ((np.diag(p) - np.outer(p, p)) @ w)
        return call

    def hessian() -> Callable[[], Any]:
        w, x = parts()
        return lambda: tg.hessian(lambda v: (w @ v).logsumexp())(x)

    def hvp_loop() -> Callable[[], Any]:
        w, x = parts()
        basis = [tg.Tensor(row) for row in np.eye(n, dtype=np.float32)]
        f = lambda v: (w @ v).logsumexp()  # noqa: E731
        return lambda: np.stack([tg.hvp(f, x, e).numpy() for e in basis])

    return Section("hessian", f"Hessian of h(x) = logsumexp(W x), R^{n} -> R, float32", "one gradient", [
        Contender("one gradient", gradient, _flat),
        Contender("closed form Wᵀ(diag p - p pᵀ)W (numpy)", closed_form),
        Contender("hessian (jacfwd of jacrev, vectorised)", hessian),
        Contender(f"loop of {n} hvps (forward over reverse)", hvp_loop),
    ], calls, blocks, [(name, "closed form Wᵀ(diag p - p pᵀ)W (numpy)", None) for name in
                       ("hessian (jacfwd of jacrev, vectorised)", f"loop of {n} hvps (forward over reverse)")] +
        [("one gradient", "closed form Wᵀ(diag p - p pᵀ)W (numpy)", lambda H: _softmax_grad(w0, x0))])


def _softmax_grad(w: np.ndarray, x: np.ndarray) -> np.ndarray:
    """∇ logsumexp(W x) = Wᵀ softmax(W x)."""
    z = w @ x
    p = np.exp(z - z.max())
    return w.T @ (p / p.sum())


def per_example_section(sizes: Sequence[int], batch: int, calls: int, blocks: int, seed: int, data: str
                        ) -> Section:
    X0, y0, kind = load_data(data, batch, seed)
    X0 = X0[:, :sizes[0]] if X0.shape[1] >= sizes[0] else np.resize(X0, (batch, sizes[0]))
    y0 = (y0 % sizes[-1]).astype(np.int64)
    p0 = mlp_params(sizes, np.float32, seed)
    g0 = np.random.default_rng(seed).standard_normal((batch, sizes[1])).astype(np.float32)

    def vmapped() -> Callable[[], Any]:
        ps = [tg.Tensor(p.copy()) for p in p0]
        X, y = X0.copy(), y0.copy()
        return lambda: per_example_vmap(ps, X, y)

    def loop() -> Callable[[], Any]:
        ps = [tg.Tensor(p.copy()) for p in p0]
        X, y = X0.copy(), y0.copy()
        return lambda: per_example_loop(ps, X, y)


    def batched() -> Callable[[], Any]:
        arrays, X, y = [p.copy() for p in p0], tg.Tensor(X0.copy()), y0.copy()

        def call() -> Any:
            ps = [tg.Tensor(a, requires_grad=True) for a in arrays]
            batch_loss(ps, X, y).backward()
            return [p.grad for p in ps]
        return call

    def outer_matmul() -> Callable[[], Any]:
        a, g = X0.copy()[:, :, None], g0.copy()[:, None, :]
        return lambda: np.matmul(a, g)

    def outer_broadcast() -> Callable[[], Any]:
        a, g = X0.copy()[:, :, None], g0.copy()[:, None, :]
        return lambda: a * g

    arch = "-".join(map(str, sizes))
    loop_name = f"loop of {batch} tg.grad"
    outer = f"numpy: W1's {batch} outer products as a stacked matmul ({batch},{sizes[0]},1)@({batch},1,{sizes[1]})"
    return Section("per-example", f"per-example gradients of the MLP {arch} (ReLU, cross-entropy) at batch {batch}, "
                   f"float32, {kind} data", loop_name, [
                       Contender(loop_name, loop, _flat),
                       Contender("vmap(grad(loss), in_axes=(None, 0, 0))", vmapped, _flat),
                       Contender("one batched backward (mean loss)", batched, _flat),
                       Contender(outer, outer_matmul),
                       Contender("numpy: the same as a broadcast product", outer_broadcast),
                   ], calls, blocks,
                   [("vmap(grad(loss), in_axes=(None, 0, 0))", loop_name, None),
                    ("one batched backward (mean loss)", loop_name,
                     lambda stacks: _flat([s.mean(axis=0) for s in stacks])),
                    (outer, "numpy: the same as a broadcast product", None)],
                   notes={"target_ratio": TARGET_PER_EXAMPLE, "data": kind})


# ----------------------------------------------------------------------------- running a section
def agreement(section: Section) -> dict[str, float]:
    """Every check of the section (``Section.checks``): max |a - b| / max |b| of the contender's
    result a and its reference's b (inf if their shapes differ)."""
    by_name = {c.name: c for c in section.contenders}
    raw = {c.name: c.build()() for c in section.contenders}
    out: dict[str, float] = {}
    for name, ref_name, ref_map in section.all_checks():
        got = np.asarray(by_name[name].result(raw[name]), dtype=np.float64).ravel()
        ref = ref_map(raw[ref_name]) if ref_map is not None else by_name[ref_name].result(raw[ref_name])
        ref = np.asarray(ref, dtype=np.float64).ravel()
        out[name] = float(np.max(np.abs(got - ref), initial=0.0) / max(np.max(np.abs(ref), initial=0.0), 1e-30)) \
            if got.shape == ref.shape else float("inf")
    return out


def turns(section: Section, seed: int = 0) -> dict[str, dict[str, list[float]]]:
    """The block race of ``dev.blockrace``, for calls without data: in every block each contender is
    rebuilt (``build()``: fresh inputs), called once untimed, then ``calls - 1`` times timed, the
    contenders in a random order per block, block 0 a warm-up. Seconds per call, per block, on both
    clocks: elapsed (``wall``) and this process's CPU time (``cpu``)."""
    rng = np.random.default_rng(seed)
    times = {c.name: {"wall": [], "cpu": []} for c in section.contenders}
    for blk in range(section.blocks + 1):
        for i in rng.permutation(len(section.contenders)):
            c = section.contenders[i]
            call = c.build()
            call()
            wall, cpu = time.perf_counter(), time.process_time()
            for _ in range(section.calls - 1):
                call()
            if blk:
                times[c.name]["wall"].append((time.perf_counter() - wall) / (section.calls - 1))
                times[c.name]["cpu"].append((time.process_time() - cpu) / (section.calls - 1))
    return times


def race(section: Section, seed: int = 0) -> dict[str, Any]:
    """Time the section's contenders in turns (``turns``); the paired ratios to its baseline on
    both clocks, and what each contender's result agrees with."""
    before = cpu_snapshot()
    times = turns(section, seed)
    load = other_load(before, cpu_snapshot())
    rows = {}
    for name, ts in times.items():
        row: dict[str, Any] = {"median_s": statistics.median(ts["wall"]), "median_cpu_s": statistics.median(ts["cpu"])}
        for clock in ("wall", "cpu"):
            r = np.array(ts[clock]) / np.maximum(np.array(times[section.baseline][clock]), 1e-12)
            key = "ratio" if clock == "wall" else "ratio_cpu"
            row[key] = float(np.median(r))
            row[f"{key}_iqr"] = [float(np.percentile(r, 25)), float(np.percentile(r, 75))]
        rows[name] = row
    return {"section": section.name, "title": section.title, "baseline": section.baseline, "calls": section.calls,
            "blocks": section.blocks, "other_cpu_load": load, "contenders": rows, "agreement": agreement(section),
            "notes": section.notes}


def sections(names: Sequence[str], quick: bool, seed: int, data: str) -> list[Section]:
    """The sections to run: full sizes (256, 784-128-64-10 at batch 128), or small ones with ``quick``."""
    n, sizes, batch = (16, (24, 12, 8, 10), 8) if quick else (256, (784, 128, 64, 10), 128)
    few = quick
    make = {
        "jvp": lambda: jvp_section(n, 3 if few else 21, 2 if few else 40, seed),
        "jvp-mlp": lambda: jvp_mlp_section(sizes, batch, 3 if few else 11, 2 if few else 40, seed),
        "jacobian": lambda: jacobian_section(n, 2 if few else 3, 2 if few else 15, seed),
        "hessian": lambda: hessian_section(n, 2 if few else 2, 2 if few else 12, seed),
        "per-example": lambda: per_example_section(sizes, batch, 2, 2 if few else 15, seed,
                                                   "synthetic" if few else data),
    }
    return [make[name]() for name in names]


# ----------------------------------------------------------------------------- report
def markdown(report: dict[str, Any]) -> str:
    lines = []
    for s in report["sections"]:
        load = s["other_cpu_load"]
        lines += [f"### {s['section']}: {s['title']}", "",
                  f"{s['blocks']} blocks of {s['calls'] - 1} timed calls"
                  + (f"; other processes kept {load:.0%} of the machine busy" if load is not None else ""), "",
                  f"| contender | CPU ms per call | × {s['baseline']}, CPU time (IQR) | wall ms | × wall (IQR) | "
                  "agreement |", "|---|---:|---:|---:|---:|---:|"]
        for name, c in s["contenders"].items():
            agree = s["agreement"].get(name)
            lines.append(f"| {name}{' *' if name == s['baseline'] else ''} | {c['median_cpu_s'] * 1e3:.3f} | "
                         f"{c['ratio_cpu']:.2f} ({c['ratio_cpu_iqr'][0]:.2f}-{c['ratio_cpu_iqr'][1]:.2f}) | "
                         f"{c['median_s'] * 1e3:.3f} | "
                         f"{c['ratio']:.2f} ({c['ratio_iqr'][0]:.2f}-{c['ratio_iqr'][1]:.2f}) | "
                         f"{'-' if agree is None else f'{agree:.1e}'} |")
        if s["section"] == "per-example":
            c = s["contenders"]["vmap(grad(loss), in_axes=(None, 0, 0))"]
            verdict = "meets" if max(c["ratio_cpu"], c["ratio"]) <= TARGET_PER_EXAMPLE else "misses"
            lines += ["", f"vmap(grad) / loop = {c['ratio_cpu']:.2f} (CPU time), {c['ratio']:.2f} (wall): {verdict} "
                      f"the target of {TARGET_PER_EXAMPLE:.2f}."]
        lines.append("")
    lines.append("agreement: max |a - b| / max |b| of the row's result a and what it is checked against b (the same "
                 "derivative by another route; - : the row is only a reference for others).")
    return "\n".join(lines) + "\n"


def main(argv: Sequence[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.transforms", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--sections", default=",".join(SECTIONS), help="comma-separated, of: " + ", ".join(SECTIONS))
    p.add_argument("--threads", type=int, default=None, help="BLAS threads (default: as NumPy starts)")
    p.add_argument("--data", choices=("auto", "mnist", "synthetic"), default="auto",
                   help="per-example inputs: MNIST images if found (default), else synthetic")
    p.add_argument("--quick", action="store_true", help="smoke test: small sizes, 2 blocks per section")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="results directory")
    args = p.parse_args(argv)
    names = [s for s in args.sections.split(",") if s]
    unknown = sorted(set(names) - set(SECTIONS))
    if unknown:
        p.error(f"unknown sections {unknown}; choose from {', '.join(SECTIONS)}")
    if args.threads is not None and not set_blas_threads(args.threads):
        print("(--threads: NumPy's BLAS is not an OpenBLAS bundle; its thread count is unchanged)", file=sys.stderr)
    info = machine_info()
    results = []
    for section in sections(names, args.quick, args.seed, args.data):
        print(f"  {section.name} ...", file=sys.stderr, flush=True)
        results.append(race(section, args.seed))
    report = {"benchmark": "transforms",
              "command": "python -m benchmarks.transforms " + " ".join(sys.argv[1:] if argv is None else argv),
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": info,
              "settings": {"quick": args.quick, "threads": args.threads, "seed": args.seed}, "sections": results}
    md = markdown(report)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "transforms.json", json.dumps(report, indent=2))
    atomic_write_text(args.out / "transforms.md", md)
    print(f"wrote {args.out / 'transforms.json'} and .md", file=sys.stderr)
    return report


if __name__ == "__main__":
    main()
