"""Finite-difference checks of the gradients that backward computes.

What is compared. For a random upstream gradient ``u`` (never all-ones) the analytic VJP
``a = uᵀJ`` from one backward pass is compared, entry by entry, with the numeric
``n_j = (u·f(x + ε e_j) - u·f(x - ε e_j)) / 2ε`` (central) or ``(u·f(x + ε e_j) - u·f(x)) / ε``
(forward). Each entry passes when ``|a - n| <= atol + rtol·|n|``; the report also gives the
norm ratio ``‖a - n‖ / (‖a‖ + ‖n‖)``.

Modes: ``full`` probes every input entry (the default when no input has more than 256
entries), ``sample`` a random subset that covers every input, and ``fast`` a single random
direction ``v`` per input: it compares ``uᵀJv`` (as in PyTorch's fast mode).

Kinks. Where the one-sided differences ``(f(x+ε)-f(x))/ε`` and ``(f(x)-f(x-ε))/ε`` disagree,
the function is not differentiable at that point. Such an entry is flagged ``kink`` rather
than ``mismatch`` when the analytic value lies between the two one-sided slopes (a valid
subgradient); kinks are reported but do not fail the check.
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from .autograd import grad as autograd_grad
from .engine import Tensor
from .functional import hvp, jvp, vjp, vmap
from .modes import enable_grad, no_grad

DEFAULTS = {  # dtype -> (eps, atol, rtol); float64 as in PyTorch's gradcheck
    np.dtype(np.float64): (1e-6, 1e-5, 1e-3),
    np.dtype(np.float32): (5e-3, 1e-4, 1e-2),
}
FULL_MODE_LIMIT = 256
SAMPLE_SIZE = 64


class GradcheckError(AssertionError):
    """Raised by a failed check with ``raise_exception=True``; ``.report`` has the details."""

    def __init__(self, report: "GradcheckReport") -> None:
        super().__init__(str(report))
        self.report = report


@dataclass
class Entry:
    """One compared value: input number, index into it, x, analytic, numeric, allowed error, flag."""

    input: int
    index: tuple[int, ...]
    x: float
    analytic: float
    numeric: float
    allowed: float
    flag: str  # "ok", "mismatch" or "kink"

    @property
    def error(self) -> float:
        return abs(self.analytic - self.numeric)


@dataclass
class GradcheckReport:
    """The result of a check; truthy iff it passed. ``print(report)`` shows a table."""

    passed: bool
    method: str
    mode: str
    dtype: str
    eps: float
    atol: float
    rtol: float
    checked: int
    max_abs_error: float
    max_rel_error: float
    norm_ratio: float
    mismatches: int
    kinks: list[Entry] = field(default_factory=list)
    worst: list[Entry] = field(default_factory=list)

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        head = (
            f"gradcheck {'PASSED' if self.passed else 'FAILED'}: {self.checked} values ({self.mode} mode, "
            f"{self.method} differences, {self.dtype}, eps={self.eps:g}, atol={self.atol:g}, rtol={self.rtol:g})\n"
            f"  max abs error {self.max_abs_error:.3e}, max rel error {self.max_rel_error:.3e}, "
            f"norm ratio {self.norm_ratio:.3e}, mismatches {self.mismatches}, kinks {len(self.kinks)}\n"
        )
        rows = self.worst + [k for k in self.kinks if k not in self.worst]
        if not rows:
            return head
        lines = [f"  {'input':>5} {'index':<14} {'x':>12} {'analytic':>13} {'numeric':>13} {'|a-n|':>10} "
                 f"{'allowed':>10}  flag"]
        for e in rows:
            lines.append(f"  {e.input:>5} {str(e.index):<14} {e.x:>12.5g} {e.analytic:>13.6g} {e.numeric:>13.6g} "
                         f"{e.error:>10.3e} {e.allowed:>10.3e}  {e.flag}")
        return head + "\n".join(lines) + "\n"


def _as_inputs(inputs: Any) -> list[Tensor]:
    inputs = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
    out = []
    for x in inputs:
        if isinstance(x, Tensor):
            out.append(x)
        else:
            arr = np.asarray(x)
            out.append(Tensor(arr, requires_grad=arr.dtype.kind == "f"))
    return out


def _flat_output(y: Any) -> np.ndarray:
    ys = y if isinstance(y, (list, tuple)) else [y]
    return np.concatenate([np.asarray(t.data if isinstance(t, Tensor) else t, dtype=np.float64).ravel() for t in ys])


def _outputs(y: Any) -> list[Tensor]:
    return list(y) if isinstance(y, (list, tuple)) else [y]


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    *,
    eps: float | None = None,
    atol: float | None = None,
    rtol: float | None = None,
    method: str = "central",
    mode: str | None = None,
    raise_exception: bool = True,
    seed: int = 0,
    nsamples: int = SAMPLE_SIZE,
    ad: str = "reverse",
) -> GradcheckReport:
    """Compare ``fn``'s derivatives with finite differences.

    ``inputs``: Tensors (those with ``requires_grad`` are checked) or arrays (float ones are
    checked). ``fn`` returns a Tensor or a tuple of Tensors of any shape. Tolerance defaults
    depend on the dtype (float64: eps 1e-6, atol 1e-5, rtol 1e-3). Returns a report that is
    truthy iff the check passed; raises ``GradcheckError`` on failure if ``raise_exception``.

    ``ad="reverse"`` (default) checks the VJPs (one backward pass, ``uᵀJ``); ``ad="forward"``
    checks the JVPs (forward mode, ``uᵀ(J d)`` for each probed direction d, all in one pass).
    """
    if method not in ("central", "forward"):
        raise ValueError(f"gradcheck: method must be 'central' or 'forward', got {method!r}")
    if ad not in ("reverse", "forward"):
        raise ValueError(f"gradcheck: ad must be 'reverse' or 'forward', got {ad!r}")
    xs = _as_inputs(inputs)
    diff = [i for i, x in enumerate(xs) if x.requires_grad]
    if not diff:
        raise ValueError("gradcheck: no input requires grad")
    dtype = xs[diff[0]].dtype
    d_eps, d_atol, d_rtol = DEFAULTS.get(np.dtype(dtype), DEFAULTS[np.dtype(np.float32)])
    eps, atol, rtol = eps or d_eps, d_atol if atol is None else atol, d_rtol if rtol is None else rtol
    if dtype != np.float64:
        warnings.warn(f"gradcheck in {dtype} is only a smoke test: finite differences need float64 "
                      "to be accurate", stacklevel=2)
    if mode is None:
        mode = "full" if all(xs[i].size <= FULL_MODE_LIMIT for i in diff) else "sample"
    if mode not in ("full", "sample", "fast"):
        raise ValueError(f"gradcheck: mode must be 'full', 'sample' or 'fast', got {mode!r}")
    rng = np.random.default_rng(seed)

    # Analytic side: one backward pass with a random upstream gradient u.
    leaves = [Tensor(x.data.copy(), requires_grad=True) if i in diff else x for i, x in enumerate(xs)]
    outs = _outputs(fn(*leaves))
    us = [_random_upstream(rng, o.shape) for o in outs]
    u_flat = np.concatenate([u.ravel() for u in us]) if us else np.zeros(0)
    live = [(o, u) for o, u in zip(outs, us) if o.requires_grad]
    if live:
        grads = autograd_grad([o for o, _ in live], [leaves[i] for i in diff],
                              grad_outputs=[Tensor(u.astype(o.dtype)) for o, u in live], allow_unused=True)
    else:
        grads = [Tensor(np.zeros_like(leaves[i].data)) for i in diff]
    analytic = {i: g.data.astype(np.float64) for i, g in zip(diff, grads)}

    # Numeric side: perturb working copies of the inputs in place (Tensors sharing writable arrays).
    bufs = {i: xs[i].data.copy() for i in diff}
    work = [Tensor(bufs[i]) if i in diff else x for i, x in enumerate(xs)]

    def phi() -> float:
        with no_grad():
            return float(np.dot(u_flat, _flat_output(fn(*work))))

    f0 = phi()
    entries: list[Entry] = []
    for i in diff:
        data = bufs[i]
        if mode == "fast":
            directions, labels = rng.standard_normal((1,) + data.shape), [()]
        else:
            flat_ids = np.arange(data.size)
            if mode == "sample" and data.size > nsamples:
                flat_ids = np.sort(rng.choice(data.size, size=nsamples, replace=False))
            directions = np.zeros((len(flat_ids), data.size))
            directions[np.arange(len(flat_ids)), flat_ids] = 1.0
            directions = directions.reshape((len(flat_ids),) + data.shape)
            labels = [tuple(int(k) for k in np.unravel_index(int(j), data.shape)) for j in flat_ids]
        if ad == "reverse":  # the entries of Jᵀu (fast mode: its product with the one direction)
            values = [float(np.sum(analytic[i] * directions[0]))] if mode == "fast" else \
                [float(analytic[i][label]) for label in labels]
        else:
            values = _forward_mode_values(fn, xs, i, directions, us)
        for direction, label, value in zip(directions, labels, values):
            entries.append(_probe(phi, f0, data, direction, eps, method, atol, rtol, i, label, value))
    return _report(entries, method, mode, str(dtype), eps, atol, rtol, raise_exception)


def _forward_mode_values(fn: Callable[..., Any], xs: list[Tensor], i: int, directions: np.ndarray,
                         us: list[np.ndarray]) -> list[float]:
    """``uᵀ(J d)`` for each direction ``d`` of input ``i``, by forward mode: one ``jvp`` of ``fn``,
    mapped over the directions with ``vmap`` (a single pass)."""
    primals = tuple(Tensor(x.data) for x in xs)
    weights = [Tensor(u) for u in us]

    def projected(d: Tensor) -> Tensor:
        tangents = tuple(d.astype(p.dtype) if k == i else Tensor(np.zeros(p.shape, p.dtype))
                         for k, p in enumerate(primals))
        _, ts = jvp(lambda *a: tuple(_outputs(fn(*a))), primals, tangents)
        total = None
        for t, u in zip(ts, weights):
            term = (t.astype(np.float64) * u).sum()
            total = term if total is None else total + term
        return total

    return [float(v) for v in vmap(projected)(Tensor(directions)).data]


def _random_upstream(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Standard normal upstream gradient: never all-ones, so a VJP that ignores g is caught."""
    return rng.standard_normal(shape)


def _probe(phi, f0, data, direction, eps, method, atol, rtol, i, index, analytic) -> Entry:
    """Finite differences of phi along ``direction`` (an in-place perturbation of ``data``)."""
    base = data.copy()
    step = (direction * eps).astype(data.dtype)
    data += step
    f_plus = phi()
    data[...] = base
    data -= step
    f_minus = phi()
    data[...] = base
    h = eps
    d_plus, d_minus = (f_plus - f0) / h, (f0 - f_minus) / h
    numeric = (f_plus - f_minus) / (2 * h) if method == "central" else d_plus
    allowed = atol + rtol * abs(numeric)
    # A kink is where the one-sided slopes disagree, whether or not the analytic value happens
    # to match their average (|x| at 0: slopes -1 and 1, central difference and subgradient 0).
    lo, hi = min(d_plus, d_minus), max(d_plus, d_minus)
    one_sided_disagree = hi - lo > 10 * (atol + rtol * max(abs(hi), abs(lo)))
    flag = "ok"
    if one_sided_disagree:
        flag = "kink" if lo - allowed <= analytic <= hi + allowed else "mismatch"
    elif abs(analytic - numeric) > allowed:
        flag = "mismatch"
    x = float(base[index]) if index else float("nan")
    return Entry(i, index, x, analytic, numeric, allowed, flag)


def _report(entries, method, mode, dtype, eps, atol, rtol, raise_exception) -> GradcheckReport:
    a = np.array([e.analytic for e in entries])
    n = np.array([e.numeric for e in entries])
    err = np.abs(a - n)
    rel = err / np.maximum(np.abs(n), atol)  # relative error, on the scale of the tolerance near 0
    denom = np.linalg.norm(a) + np.linalg.norm(n)
    norm_ratio = float(np.linalg.norm(a - n) / denom) if denom > 0 else 0.0
    mismatches = [e for e in entries if e.flag == "mismatch"]
    ranked = sorted((e for e in entries if e.flag != "kink"), key=lambda e: e.error / e.allowed, reverse=True)
    report = GradcheckReport(
        passed=not mismatches, method=method, mode=mode, dtype=dtype, eps=eps, atol=atol, rtol=rtol,
        checked=len(entries), max_abs_error=float(err.max(initial=0.0)), max_rel_error=float(rel.max(initial=0.0)),
        norm_ratio=norm_ratio, mismatches=len(mismatches), kinks=[e for e in entries if e.flag == "kink"],
        worst=ranked[:5],
    )
    if not report.passed and raise_exception:
        raise GradcheckError(report)
    return report


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    *,
    seed: int = 0,
    check_grad_outputs: bool = True,
    raise_exception: bool = True,
    **kwargs: Any,
) -> GradcheckReport:
    """Check second derivatives against finite differences, like ``torch.autograd.gradgradcheck``.

    The VJP ``(x, v) -> vᵀJ(x)`` of ``fn``, built by backward with ``create_graph=True`` for a
    fixed random ``v`` (standard normal: never all-ones), is itself checked with ``gradcheck``
    (with its own random upstream ``u``):

    * w.r.t. ``x``: ``uᵀ ∂(vᵀJ)/∂x``, the second derivatives of ``fn`` contracted with v and u.
      Catches VJPs that are right to first order but treat a differentiable tensor as a
      constant (e.g. ``g * Tensor(out.data)`` instead of ``g * out`` for exp);
    * w.r.t. ``v`` (``check_grad_outputs``, default True, as in PyTorch): must be ``J u``.
      Catches VJPs whose graph in ``g`` is wrong (e.g. ``g`` detached), which breaks the
      double-VJP trick behind ``jvp`` and ``hvp``.

    ``inputs`` and the keyword arguments are as for ``gradcheck``. In the report, inputs
    ``0..n-1`` are ``fn``'s inputs and ``n..`` the ``v`` of each output of ``fn``.
    """
    xs = _as_inputs(inputs)
    n = len(xs)
    diff = [i for i, x in enumerate(xs) if x.requires_grad]
    if not diff:
        raise ValueError("gradgradcheck: no input requires grad")
    rng = np.random.default_rng(seed + 1)
    with no_grad():
        outs = _outputs(fn(*xs))
    vs = [Tensor(_random_upstream(rng, o.shape).astype(o.dtype), requires_grad=check_grad_outputs)
          for o in outs]

    def first_derivative(*args: Tensor) -> tuple[Tensor, ...]:
        """vᵀJ at args[:n] (v = args[n:] if checked, else the fixed vs), as a graph."""
        # The numeric pass calls this under no_grad with constant inputs: the first
        # derivative still needs a graph, so make those inputs leaves and record.
        x_args = tuple(Tensor(a.data, requires_grad=True) if i in diff and not a.requires_grad else a
                       for i, a in enumerate(args[:n]))
        v_args = args[n:] if check_grad_outputs else vs
        with enable_grad():
            ys = _outputs(fn(*x_args))
            live = [(y, v) for y, v in zip(ys, v_args) if y.requires_grad]
            if not live:  # fn does not depend on its inputs: vᵀJ = 0
                return tuple(Tensor(np.zeros_like(x_args[i].data)) for i in diff)
            return autograd_grad([y for y, _ in live], [x_args[i] for i in diff],
                                 grad_outputs=[v for _, v in live], create_graph=True, allow_unused=True)

    report = gradcheck(first_derivative, xs + (vs if check_grad_outputs else []), seed=seed,
                       raise_exception=False, **kwargs)
    if not report.passed and raise_exception:
        error = GradcheckError(report)
        error.args = (f"gradgradcheck: the derivatives of vᵀJ (inputs 0..{n - 1} are fn's inputs, "
                      f"{n}.. the grad_outputs v) do not match finite differences\n{report}",)
        raise error
    return report


# ----------------------------------------------------------------------------- Taylor remainders
@dataclass
class TaylorReport:
    """The remainders of ``u·f`` along a direction, their fitted log-log slopes, and the verdict.

    ``first[k] = |φ(hₖ) - φ(0) - hₖ φ'(0)|`` must fall like h² (slope 2) if the first derivative is
    right; ``second[k]``, which also removes ``hₖ²/2 φ''(0)``, like h³ (slope 3) if the second is.
    φ(h) = ⟨u, f(x + h v)⟩ for random u and v; φ'(0) from reverse mode, φ''(0) from ``hvp``."""

    steps: np.ndarray
    first: np.ndarray
    second: np.ndarray
    slope_first: float
    slope_second: float
    passed: bool

    def __bool__(self) -> bool:
        return self.passed

    def __str__(self) -> str:
        rows = "\n".join(f"  {h:10.3e} {a:12.4e} {b:12.4e}" for h, a, b in zip(self.steps, self.first, self.second))
        return (f"taylor test {'PASSED' if self.passed else 'FAILED'}: slope of the first-order remainder "
                f"{self.slope_first:.2f} (expect 2), of the second-order one {self.slope_second:.2f} (expect 3)\n"
                f"  {'h':>10} {'|r1(h)|':>12} {'|r2(h)|':>12}\n{rows}")


def taylor_test(fn: Callable[..., Any], inputs: Any, *, steps: np.ndarray | None = None, seed: int = 0,
                tolerance: float = 0.3) -> TaylorReport:
    """The Taylor-remainder test of ``fn``'s first and second derivatives (float64 inputs).

    Slopes are fitted over the steps where the remainder stands clear of rounding (above
    1e4 machine epsilons of |φ(0)|); the test passes when they are within ``tolerance`` of 2 and 3.
    """
    xs = [x for x in _as_inputs(inputs)]
    rng = np.random.default_rng(seed)
    steps = np.logspace(-1, -4, 10) if steps is None else np.asarray(steps, dtype=np.float64)
    primals = tuple(Tensor(x.data.astype(np.float64)) for x in xs)
    with no_grad():
        outs = _outputs(fn(*primals))
    us = [Tensor(_random_upstream(rng, o.shape)) for o in outs]
    vs = tuple(Tensor(rng.standard_normal(p.shape)) for p in primals)

    def phi(*args: Tensor) -> Tensor:
        total = None
        for y, u in zip(_outputs(fn(*args)), us):
            term = (y * u).sum()
            total = term if total is None else total + term
        return total

    _, vjp_fn = vjp(phi, *primals)
    slope = sum(float(np.sum(g.data * v.data)) for g, v in zip(vjp_fn(Tensor(np.array(1.0))), vs))
    hv = hvp(phi, primals, vs)
    curvature = sum(float(np.sum(h.data * v.data)) for h, v in zip(hv, vs))
    with no_grad():
        f0 = float(phi(*primals).data)
        values = np.array([float(phi(*[Tensor(p.data + h * v.data) for p, v in zip(primals, vs)]).data)
                           for h in steps])
    first = np.abs(values - f0 - steps * slope)
    second = np.abs(values - f0 - steps * slope - 0.5 * steps ** 2 * curvature)
    floor = 1e4 * np.finfo(np.float64).eps * max(abs(f0), 1.0)
    slope_first, slope_second = _fitted_slope(steps, first, floor), _fitted_slope(steps, second, floor)
    passed = abs(slope_first - 2) <= tolerance and (abs(slope_second - 3) <= tolerance or np.all(second <= floor))
    return TaylorReport(steps, first, second, slope_first, slope_second, bool(passed))


def _fitted_slope(steps: np.ndarray, remainders: np.ndarray, floor: float) -> float:
    """The least-squares slope of log r against log h, over the points above ``floor``."""
    keep = remainders > floor
    if keep.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(steps[keep]), np.log(remainders[keep]), 1)[0])
