"""Error of numerical derivatives vs step size h: the V shape of finite differences.

Truncation error falls with h (O(h) forward, O(h²) central, O(h⁴) Richardson) while rounding
error grows like eps_machine/h, so the total is a V with its minimum near

    forward  h* ~ eps^(1/2),  error ~ eps^(1/2)
    central  h* ~ eps^(1/3),  error ~ eps^(2/3)
    Richardson (4·C(h/2) - C(h))/3:  h* ~ eps^(1/5),  error ~ eps^(4/5)

(constants of order one, which depend on f's derivatives, ignored). The complex step
``Im f(x + ih)/h`` has no subtraction, hence no cancellation: its error falls like h² down to
eps and stays there. It needs ``f`` evaluated on complex numbers by an analytic formula.

Functions: ``smooth`` = exp(x)/sqrt(sin³x + cos³x) (the classic example of Squire & Trapp),
``op:NAME`` = uᵀ·op(inputs) as a function of one input entry (derivative from the framework's
backward in float64), ``mlp`` = the MNIST MLP loss as a function of one first-layer weight
(derivative from autograd in float64). The reference derivative is always evaluated in
float64 at the point rounded to the dtype under test, so only the differencing error is measured.
"""
from __future__ import annotations

import argparse
import csv
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np
from matplotlib.figure import Figure

from tinygrad_np import OPS, Tensor, autograd_grad as grad, no_grad

from .cases import has_generator, seeded_case
from . import mlp_check
from .mlp_check import autograd_grads, build_model

DEFAULT_OUT = "runs/experiments/eps-sweep"
METHODS = ("forward", "central", "richardson", "complex")
#: method -> (exponent p of h* ~ eps^p, exponent q of the minimum error ~ eps^q)
THEORY = {"forward": (1 / 2, 1 / 2), "central": (1 / 3, 2 / 3), "richardson": (1 / 5, 4 / 5), "complex": (None, 1.0)}
THEORY_TEXT = {"forward": "sqrt(eps)", "central": "cbrt(eps)", "richardson": "eps^(1/5)", "complex": "tiny"}
COMPLEX_H = 1e-10  # any h << sqrt(eps) works for the complex step; this one is reported
STEPS = 10.0 ** np.arange(-20.0, 0.001, 0.25)

#: ops whose NumPy forward gives a wrong complex step, and why
COMPLEX_INVALID = {
    "abs": "np.abs of a complex number is its modulus (not analytic)",
    "sigmoid": "its forward computes exp(-|a|): np.abs of a complex number is its modulus",
    "var": "np.var of complex input uses |a - mean|^2 (not analytic)",
}
PIECEWISE = ("relu", "leaky_relu", "clip", "maximum", "minimum", "max", "min")


@dataclass
class Problem:
    """A scalar function f(x) to differentiate at ``x0``."""

    name: str
    description: str
    x0: float
    f: Callable[[Any], Any]  # evaluates in the dtype of its (real or complex) NumPy scalar argument
    reference: Callable[[float, Any], float]  # exact derivative in float64 at x, data rounded to a dtype
    complex_skip: str | None = None  # why the complex step is invalid for this function
    note: str = ""


# ----------------------------------------------------------------------------- the functions
def smooth_problem(x0: float | None = None) -> Problem:
    """f(x) = exp(x) / sqrt(sin(x)³ + cos(x)³), plain NumPy (accepts complex input)."""

    def f(x: Any) -> Any:
        return np.exp(x) / np.sqrt(np.sin(x) ** 3 + np.cos(x) ** 3)

    def df(x: float, dtype: Any = np.float64) -> float:
        s, c = np.sin(x), np.cos(x)
        return float(f(x) * (1 - 1.5 * (s * s * c - c * c * s) / (s ** 3 + c ** 3)))

    return Problem("smooth", "f(x) = exp(x)/sqrt(sin(x)^3 + cos(x)^3)", 1.5 if x0 is None else x0, f, df)


def op_problem(name: str, x0: float | None = None, seed: int = 0) -> Problem:
    """φ(t) = uᵀ·op(inputs with one entry set to t), on inputs drawn by ``cases.py``; the entry is
    the one with the largest |∂φ/∂t| (so the relative error is meaningful)."""
    if name not in OPS:
        raise ValueError(f"unknown op {name!r}; the registry has {sorted(OPS)}")
    if not has_generator(name):
        raise ValueError(f"no input generator for op {name!r} (add one to experiments/cases.py)")
    if not callable(getattr(OPS[name], "vjp", None)):
        raise ValueError(f"op {name!r} has no gradient (its results are integers or booleans)")
    case = seeded_case(name, seed, 0)
    inputs = [x.copy() for x in case.inputs]
    with no_grad():
        shape = case.fn(*[Tensor(x) for x in inputs]).shape
    u = np.random.default_rng(seed).standard_normal(shape)

    def gradient(arrays: list[np.ndarray]) -> np.ndarray:
        xs = [Tensor(a, requires_grad=(k == 0)) for k, a in enumerate(arrays)]
        return grad([case.fn(*xs)], [xs[0]], grad_outputs=[Tensor(u)], allow_unused=True)[0].data

    g = gradient(inputs)
    idx = np.unravel_index(int(np.argmax(np.abs(g))), g.shape) if g.ndim else ()
    if x0 is not None:
        inputs[0][idx] = x0

    def f(t: Any) -> Any:
        arrays = [x.astype(np.result_type(t)) for x in inputs]
        arrays[0][idx] = t
        with no_grad():
            y = case.apply(name, *[Tensor(a) for a in arrays]).numpy()
        return np.sum(u * y)  # the projection uᵀy is done in float64 (complex128)

    def df(t: float, dtype: Any = np.float64) -> float:
        arrays = [x.astype(dtype).astype(np.float64) for x in inputs]  # the function f evaluates in dtype
        arrays[0][idx] = t
        return float(gradient(arrays)[idx])

    shapes = ", ".join(str(x.shape) for x in inputs)
    desc = f"phi(t) = u.{name}(inputs {shapes}, input 0 at {tuple(int(i) for i in idx)} = t)"
    skip = COMPLEX_INVALID.get(name)
    note = (f"complex step valid for {name} only off its kinks/ties (NumPy orders complex numbers by real part)"
            if name in PIECEWISE else "")
    return Problem(f"op:{name}", desc, float(inputs[0][idx]), f, df, skip, note)


def mlp_problem(x0: float | None = None, seed: int = 0, activation: str = "relu") -> Problem:
    """The MNIST MLP's mean loss (20-16-10, batch 8, synthetic data) as a function of the
    first-layer weight with the largest gradient; complex step through the framework's forward."""
    prob = mlp_check.make_problem(seed=seed, activation=activation)
    g = autograd_grads(build_model(prob, np.float64), prob)[0]
    idx = np.unravel_index(int(np.argmax(np.abs(g))), g.shape)
    if x0 is not None:
        prob.params[0][idx] = x0
    models: dict[Any, Any] = {}  # dtype -> (model, its W1 as an array of that dtype)

    def f(t: Any) -> Any:
        dt = np.result_type(t)
        if dt not in models:  # one model per dtype; complex ones hold complex parameter arrays
            real = np.float32 if dt in (np.float32, np.complex64) else np.float64
            model = build_model(prob, real)
            for p in model.param_list()[1:]:
                p.data = p.numpy().astype(dt)  # replaced by an array of its own (assigning .data)
            models[dt] = (model, model.param_list()[0].numpy().astype(dt))
        model, w1 = models[dt]
        w = w1.copy()
        w[idx] = t
        model.param_list()[0].data = w  # a fresh array each call, never written afterwards
        with no_grad():
            return model.loss(prob.X.astype(model.dtype), prob.y, prob.loss).numpy()[()]

    def df(t: float, dtype: Any = np.float64) -> float:
        params = [p.astype(dtype).astype(np.float64) for p in prob.params]  # what f's dtype model holds
        params[0][idx] = t
        rounded = replace(prob, params=params, X=prob.X.astype(dtype).astype(np.float64))
        return float(autograd_grads(build_model(rounded, np.float64), rounded)[0][idx])

    skip = ("the sigmoid op's forward uses np.abs (not analytic on complex input)"
            if activation == "sigmoid" else None)
    note = "ReLU MLP: complex step valid only off the kinks" if activation == "relu" else ""
    desc = f"MLP 20-16-10 {activation} loss vs W1{tuple(int(i) for i in idx)}"
    return Problem("mlp", desc, float(prob.params[0][idx]), f, df, skip, note)


def make_problem(function: str, x0: float | None = None, seed: int = 0, activation: str = "relu") -> Problem:
    if function == "smooth":
        return smooth_problem(x0)
    if function.startswith("op:"):
        return op_problem(function[3:], x0, seed)
    if function == "mlp":
        return mlp_problem(x0, seed, activation)
    raise ValueError(f"unknown function {function!r}: use smooth, op:NAME or mlp")


# ----------------------------------------------------------------------------- the sweep
def estimate(problem: Problem, method: str, h: float, dtype: Any) -> float:
    """One numerical derivative of ``problem.f`` at x0 (rounded to ``dtype``) with step h."""
    dt = np.dtype(dtype).type
    x = dt(problem.x0)
    f = problem.f
    if method == "complex":
        ct = np.complex64 if dt is np.float32 else np.complex128
        return float(np.imag(f(ct(x) + ct(1j * h)))) / h

    def central(step: float) -> float:
        s = dt(step)
        return (float(f(x + s)) - float(f(x - s))) / (2 * step)

    if method == "forward":
        return (float(f(x + dt(h))) - float(f(x))) / h
    if method == "central":
        return central(h)
    if method == "richardson":
        return (4 * central(h / 2) - central(h)) / 3
    raise ValueError(f"unknown method {method!r}")


@dataclass
class SweepResult:
    problem: Problem
    rows: list[dict[str, Any]]  # one per (dtype, method, h)
    best: list[dict[str, Any]]  # one per (dtype, method): measured best step vs theory


def sweep(problem: Problem, dtypes: tuple[str, ...] = ("float32", "float64"), steps: np.ndarray = STEPS) -> SweepResult:
    """Evaluate every method at every step in every dtype."""
    rows, best = [], []
    methods = [m for m in METHODS if m != "complex" or problem.complex_skip is None]
    for dtype in dtypes:
        ref = problem.reference(float(np.dtype(dtype).type(problem.x0)), np.dtype(dtype))
        eps = float(np.finfo(dtype).eps)
        for method in methods:
            errs = []
            with np.errstate(all="ignore"):
                for h in steps:
                    d = estimate(problem, method, float(h), dtype)
                    err = abs(d - ref) if np.isfinite(d) else np.inf
                    rel = err / abs(ref) if ref != 0 else err
                    errs.append(rel)
                    rows.append({"function": problem.name, "dtype": dtype, "method": method, "h": float(h),
                                 "estimate": d, "reference": ref, "abs_error": err, "rel_error": rel})
            k = int(np.argmin(errs))
            p, q = THEORY[method]
            th = eps ** p if p else COMPLEX_H
            k_th = int(np.argmin(np.abs(np.log(steps) - np.log(th))))
            best.append({"dtype": dtype, "method": method, "best_h": float(steps[k]), "min_rel_error": errs[k],
                         "theory_h": th, "error_at_theory_h": errs[k_th], "theory_error": eps ** q})
    return SweepResult(problem, rows, best)


def table(result: SweepResult) -> str:
    lines = [f"{'dtype':<8} {'method':<11} {'best h':>9} {'min rel err':>11} | {'theory h*':>19} {'err at h*':>9} "
             f"{'theory err':>10} {'best h/h*':>9}"]
    for b in result.best:
        th = b["theory_h"]
        ratio = f"{b['best_h'] / th:.2g}" if b["method"] != "complex" else "-"
        lines.append(f"{b['dtype']:<8} {b['method']:<11} {b['best_h']:>9.1e} {b['min_rel_error']:>11.1e} | "
                     f"{THEORY_TEXT[b['method']] + '=' + format(th, '.1e'):>19} {b['error_at_theory_h']:>9.1e} "
                     f"{b['theory_error']:>10.1e} {ratio:>9}")
    return "\n".join(lines)


def write_outputs(result: SweepResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    stem = "eps_sweep_" + result.problem.name.replace(":", "_")
    csv_path = out / f"{stem}.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result.rows[0]))
        writer.writeheader()
        writer.writerows(result.rows)
    return [csv_path, plot(result, out / f"{stem}.png")]


def plot(result: SweepResult, path: Path) -> Path:
    """Log-log error vs h, one panel per dtype, theory optima as dotted lines."""
    dtypes = list(dict.fromkeys(r["dtype"] for r in result.rows))
    colors = dict(zip(METHODS, ("tab:blue", "tab:orange", "tab:green", "tab:red")))
    fig = Figure(figsize=(5.2 * len(dtypes), 4), dpi=80)
    axes = fig.subplots(1, len(dtypes), sharey=True, squeeze=False)
    for ax, dtype in zip(axes[0], dtypes):
        eps = float(np.finfo(dtype).eps)
        for method in METHODS:
            pts = [(r["h"], r["rel_error"]) for r in result.rows if r["dtype"] == dtype and r["method"] == method]
            if not pts:
                continue
            h, e = np.array(pts).T
            ax.loglog(h, np.clip(e, 1e-17, 1e3), "-", marker=".", ms=3, lw=1, color=colors[method], label=method)
            p = THEORY[method][0]
            if p:
                ax.axvline(eps ** p, color=colors[method], ls=":", lw=1)
        ax.axhline(eps, color="grey", ls="--", lw=0.8)
        ax.text(1e-19, eps * 2, "eps_machine", fontsize=7, color="grey")
        ax.set_title(f"{dtype} (dotted: theory h* = eps^1/2, eps^1/3, eps^1/5)", fontsize=9)
        ax.set_xlabel("step h")
        ax.set_ylim(1e-17, 1e3)
        ax.grid(alpha=0.3, which="major")
    axes[0, 0].set_ylabel("relative error of f'(x)")
    axes[0, 0].legend(fontsize=8, loc="lower left")
    skip = f"; complex step skipped: {result.problem.complex_skip}" if result.problem.complex_skip else ""
    fig.suptitle(f"{result.problem.description} at x = {result.problem.x0:.4g}{skip}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path


SUMMARY = "finite-difference error vs step size (forward, central, Richardson, complex step): the V shape"
HELP = """Finite-difference error vs step size h (the V shape). For forward differences,
central differences, Richardson extrapolation and the complex step (where the function is
analytic and evaluated on complex numbers; skipped otherwise, with the reason), in float32 and
float64, sweeps h from 1e-20 to 1 and measures the relative error against the exact derivative.
Prints the measured best step and minimum error beside the theory (h* ~ sqrt(eps) forward,
cbrt(eps) central, eps^(1/5) Richardson) and writes a CSV and a log-log PNG to --out.
--function: smooth (exp(x)/sqrt(sin^3 x + cos^3 x), default), op:NAME (a registry op, e.g.
op:tanh; reference = the framework's backward in float64), or mlp (the MNIST MLP loss vs one
first-layer weight; reference = autograd in float64)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--function", default="smooth", help="smooth (default), op:NAME (e.g. op:tanh) or mlp")
    p.add_argument("--x", type=float, default=None,
                   help="the point x (default: 1.5 for smooth, the drawn entry for op:NAME, the weight's value "
                        "for mlp)")
    p.add_argument("--dtype", choices=("both", "float32", "float64"), default="both",
                   help="dtypes to sweep (default both)")
    p.add_argument("--activation", choices=("relu", "tanh", "sigmoid"), default="relu",
                   help="MLP activation (mlp only)")
    p.add_argument("--seed", type=int, default=0, help="seed of the drawn op inputs / MLP (default 0)")


def main(args: argparse.Namespace) -> int:
    problem = make_problem(args.function, args.x, args.seed, args.activation)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    result = sweep(problem, dtypes)
    print(f"{problem.description}, derivative at x = {problem.x0:.6g}")
    if problem.complex_skip:
        print(f"complex step skipped: {problem.complex_skip}")
    if problem.note:
        print(f"note: {problem.note}")
    print(table(result))
    print("theory error ~ eps^(1/2), eps^(2/3), eps^(4/5), eps (constants of order one ignored); eps = machine epsilon "
          f"({', '.join(f'{d}: {np.finfo(d).eps:.1e}' for d in dtypes)})")
    for path in write_outputs(result, Path(args.out)):
        print(f"wrote {path}")
    return 0
