"""Taylor remainders: the log-log slopes that tell a right derivative from a wrong one.

For φ(h) = ⟨u, f(x + h v)⟩ (random u, v), a right gradient makes the first-order remainder
``|φ(h) - φ(0) - h φ'(0)|`` fall like h² (slope 2 on a log-log plot) and a right Hessian-vector
product makes the second-order one, with ``h²/2 φ''(0)`` also removed, fall like h³ (slope 3).
A wrong gradient leaves an O(h) term: slope 1. A wrong second derivative leaves O(h²): slope 2.
φ'(0) comes from reverse mode (``vjp``), φ''(0) from ``hvp`` (forward over reverse); the test
itself is ``tinygrad_np.gradcheck.taylor_test``, run here on

* ``smooth``: f(x) = Σ tanh(A x)·log(1 + x²) + Σ eˣ/(1 + x²), x ∈ R⁶ (matmul, tanh, log, exp, div);
* ``mlp``: the MNIST MLP's loss (``mnist.model.MLP``, 20-16-10, tanh, cross-entropy, batch 8,
  float64; ``experiments.mlp_check``'s problem) as a function of all its parameters;
* ``mutant-vjp``: ``smooth`` with tanh's VJP replaced by the mutant ā = g(1 - y) (the square
  dropped; from ``experiments.mutants``): expected slopes 1 and 1;
* ``mutant-jvp``: ``smooth`` with tanh's JVP replaced by the mutant ẏ = ȧ(1 + y²): the gradient
  is right (slope 2), the Hessian-vector product, which runs tanh's JVP, is not (slope 2, not 3).

Steps: 17 from 10^-0.5 to 10^-4.5, divided by √(number of parameters) for the MLP (v has 506
standard normal entries, so a step h moves the parameters by about h·√506). Slopes are fitted
over the steps whose remainder stands clear of rounding (above 1e4 machine epsilons of |φ(0)|,
``taylor_test``'s floor). The run exits 1 unless every fitted slope is within
0.3 of what it is expected to be.
"""
from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from tinygrad_np import Function, Tensor, nn
from tinygrad_np.gradcheck import TaylorReport, taylor_test

from mnist.model import MLP

from . import mlp_check, mutants

DEFAULT_OUT = "runs/experiments/taylor"
STEPS = np.logspace(-0.5, -4.5, 17)
TOLERANCE = 0.3
FUNCTIONS = ("smooth", "mlp", "mutant-vjp", "mutant-jvp")


@dataclass
class Problem:
    name: str
    description: str
    fn: Callable[..., Tensor]
    inputs: list[np.ndarray]
    expected: tuple[float, float]  # the slopes of the first- and second-order remainders
    steps: np.ndarray = field(default_factory=lambda: STEPS.copy())


def composite(x: Tensor, a: Tensor, tanh: str | type[Function] = "tanh") -> Tensor:
    """Σ tanh(A x)·log(1 + x²) + Σ eˣ/(1 + x²), with ``tanh`` the op (or a mutant of its class) applied."""
    t = Tensor.apply(tanh, a @ x)
    return (t * (1 + x * x).log()).sum() + (x.exp() / (1 + x * x)).sum()


def mutant_of(mode: str, rule: str) -> type[Function]:
    """The tanh mutant of ``experiments.mutants`` whose rule is ``rule``."""
    (m,) = [m for m in mutants.mutants_for("tanh", [mode]) if m.rule == rule]
    return m.make()


def smooth_problems(seed: int) -> list[Problem]:
    rng = np.random.default_rng(seed)
    a, x = Tensor(rng.standard_normal((6, 6)) * 0.5), rng.standard_normal(6)
    wrong_vjp = mutant_of("vjp", "ā = g(1 - y) (square dropped)")
    wrong_jvp = mutant_of("jvp", "ẏ = ȧ(1 + y²)")
    desc = "f(x) = Σ tanh(Ax)·log(1+x²) + Σ eˣ/(1+x²), x in R^6"
    return [Problem("smooth", desc, lambda v: composite(v, a), [x], (2.0, 3.0)),
            Problem("mutant-vjp", "the same, tanh's VJP ā = g(1 - y) (square dropped)",
                    lambda v: composite(v, a, wrong_vjp), [x], (1.0, 1.0)),
            Problem("mutant-jvp", "the same, tanh's JVP ẏ = ȧ(1 + y²)",
                    lambda v: composite(v, a, wrong_jvp), [x], (2.0, 2.0))]


def mlp_problem(seed: int) -> Problem:
    """The MNIST MLP's mean loss as a function of its parameters (``nn.swap_parameters``)."""
    prob = mlp_check.make_problem(seed=seed, activation="tanh")
    model = MLP(prob.sizes, activation="tanh", dtype=np.float64)
    X = Tensor(prob.X)

    def loss(*params: Tensor) -> Tensor:
        with nn.swap_parameters(model, params):
            return model.loss(X, prob.y)

    sizes = "-".join(map(str, prob.sizes))
    n = sum(p.size for p in prob.params)
    return Problem("mlp", f"MNIST MLP {sizes} (tanh) loss vs all {n} parameters", loss, [p.copy() for p in prob.params],
                   (2.0, 3.0), STEPS / np.sqrt(n))  # v has n standard normal entries: |h v| ~ h √n


def make_problems(names: Sequence[str] = FUNCTIONS, seed: int = 0) -> list[Problem]:
    unknown = sorted(set(names) - set(FUNCTIONS))
    if unknown:
        raise ValueError(f"unknown functions {unknown}; choose from {', '.join(FUNCTIONS)}")
    every = {p.name: p for p in smooth_problems(seed)}
    if "mlp" in names:
        every["mlp"] = mlp_problem(seed)
    return [every[n] for n in names]


@dataclass
class Run:
    problem: Problem
    report: TaylorReport

    @property
    def as_expected(self) -> bool:
        first, second = self.problem.expected
        return bool(abs(self.report.slope_first - first) <= TOLERANCE
                    and abs(self.report.slope_second - second) <= TOLERANCE)


def run(names: Sequence[str] = FUNCTIONS, seed: int = 0) -> list[Run]:
    return [Run(p, taylor_test(p.fn, p.inputs, steps=p.steps, seed=seed)) for p in make_problems(names, seed)]


# ----------------------------------------------------------------------------- outputs
def table(runs: Sequence[Run]) -> str:
    lines = [f"{'function':<11} {'slope r1':>8} {'expect':>6} {'slope r2':>8} {'expect':>6}  {'taylor_test':<11} "
             "as expected  description"]
    for r in runs:
        e1, e2 = r.problem.expected
        lines.append(f"{r.problem.name:<11} {r.report.slope_first:>8.2f} {e1:>6.0f} {r.report.slope_second:>8.2f} "
                     f"{e2:>6.0f}  {'passed' if r.report.passed else 'FAILED':<11} "
                     f"{'yes' if r.as_expected else 'NO':<11}  "
                     f"{r.problem.description}")
    return "\n".join(lines)


def write_outputs(runs: Sequence[Run], out: Path) -> list[Path]:
    """taylor.json (per function: steps, remainders, slopes, verdicts), taylor.csv, taylor.png."""
    out.mkdir(parents=True, exist_ok=True)
    data = [{"function": r.problem.name, "description": r.problem.description,
             "expected_slopes": list(r.problem.expected), "slope_first": r.report.slope_first,
             "slope_second": r.report.slope_second, "taylor_test_passed": r.report.passed,
             "as_expected": r.as_expected, "steps": r.report.steps.tolist(), "first": r.report.first.tolist(),
             "second": r.report.second.tolist()} for r in runs]
    json_path, csv_path = out / "taylor.json", out / "taylor.csv"
    json_path.write_text(json.dumps({"tolerance": TOLERANCE, "functions": data}, indent=2))
    with open(csv_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["function", "h", "first_order_remainder", "second_order_remainder"])
        for r in runs:
            for h, a, b in zip(r.report.steps, r.report.first, r.report.second):
                writer.writerow([r.problem.name, f"{h:.6e}", f"{a:.6e}", f"{b:.6e}"])
    return [json_path, csv_path, plot(runs, out / "taylor.png")]


def plot(runs: Sequence[Run], path: Path) -> Path:
    """One log-log panel per function: both remainders against h, with h^k guides through the
    smallest step above the floor, and the fitted slopes."""
    fig = Figure(figsize=(3.3 * len(runs), 3.5), dpi=90)
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    for ax, r in zip(axes, runs):
        h, rep = r.report.steps, r.report
        for values, color, label, slope in ((rep.first, "tab:blue", "|r1| (gradient)", rep.slope_first),
                                            (rep.second, "tab:orange", "|r2| (+ Hessian term)", rep.slope_second)):
            ax.loglog(h, np.maximum(values, 1e-300), "o-", ms=3, lw=1, color=color,
                      label=f"{label}: slope {slope:.2f}")
        for k, values in ((r.problem.expected[0], rep.first), (r.problem.expected[1], rep.second)):
            ref = values[len(h) // 3]
            ax.loglog(h, ref * (h / h[len(h) // 3]) ** k, ":", color="grey", lw=0.8)
        e1, e2 = r.problem.expected
        ax.set_title(f"{r.problem.name}: expect {e1:.0f} and {e2:.0f}", fontsize=9)
        ax.set_xlabel("step h")
        ax.set_ylim(1e-16, 1e1)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    axes[0].set_ylabel("|remainder|")
    fig.suptitle("r1 = φ(h) - φ(0) - hφ'(0) and r2 = r1 - h²φ''(0)/2 for φ(h) = <u, f(x + hv)>; "
                 "dotted: h^k with the expected slopes k", fontsize=9)
    fig.tight_layout()
    fig.savefig(path)
    return path


SUMMARY = "Taylor-remainder slopes (2 for a right gradient, 3 with the Hessian term; 1 for a wrong one), plotted"
HELP = """Taylor remainders. For phi(h) = <u, f(x + h v)>, the first-order remainder
|phi(h) - phi(0) - h phi'(0)| falls like h^2 when the gradient is right (log-log slope 2), and
with h^2/2 phi''(0) also removed like h^3 when the Hessian-vector product is right (slope 3); a
wrong gradient gives slope 1. Runs tinygrad_np.gradcheck.taylor_test on a smooth composite, the
MNIST MLP loss (tanh, float64) and two mutants of tanh (a wrong VJP: slopes 1 and 1; a wrong
JVP, used by the Hessian-vector product: slopes 2 and 2), prints the fitted slopes, and writes
taylor.json, taylor.csv and taylor.png to --out. Exit status 1 unless every fitted slope is
within 0.3 of the expected one."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--functions", default=",".join(FUNCTIONS),
                   help=f"comma-separated, of {', '.join(FUNCTIONS)} (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed of x, A, u and v (default 0)")


def main(args: argparse.Namespace) -> int:
    names = [s for s in args.functions.split(",") if s]
    try:
        runs = run(names, seed=args.seed)
    except ValueError as e:
        raise SystemExit(f"taylor: {e}") from None
    print(table(runs))
    for path in write_outputs(runs, Path(args.out)):
        print(f"wrote {path}")
    bad = [r.problem.name for r in runs if not r.as_expected]
    print("every slope as expected" if not bad else f"NOT AS EXPECTED: {', '.join(bad)}")
    return 1 if bad else 0
