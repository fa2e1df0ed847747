"""Forward or reverse mode for a Jacobian? Time and memory over a grid of input and output sizes.

For f: Rⁿ → Rᵐ, f(x) = W₂ tanh(W₁ x + b₁) (a hidden layer of ``--hidden`` units, float64), the
Jacobian J = W₂ diag(1 - a²) W₁ (m × n) is computed five ways:

* ``jacfwd``: forward mode, one JVP per input entry, all n of them in one pass (``vmap`` over the
  identity basis of tangents): the tangent pass multiplies an n × n basis through the first layer,
  work ∝ h·n·(n + m);
* ``jacrev``: reverse mode, one VJP per output entry, all m in one pass (``vmap`` over the
  cotangent basis): work ∝ h·m·(m + n), and the graph of f kept for the backward pass;
* ``loop-fwd`` / ``loop-rev``: the same one column (``tg.jvp``) or one row (a ``tg.vjp`` function)
  at a time in a Python loop: n or m passes, each paying the per-op Python overhead again;
* ``closed-form``: the formula in NumPy (the check of the other four, and the floor).

So forward mode wins for tall Jacobians (n < m), reverse mode for wide ones (n > m), and the two
cost about the same when square; the vectorised passes beat the loops by about the number of
passes they replace, until the arrays are large enough for the arithmetic to dominate.

Time: the methods of one grid point take turns in blocks (``experiments.timing.race``), and each
is reported as the median of its per-block ratio to ``jacrev`` in the same run. Memory: the peak of
NumPy's traced allocations during one call (``tracemalloc``), the Jacobian itself included.
"""
from __future__ import annotations

import argparse
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

import tinygrad_np as tg
from tinygrad_np import Tensor

from . import timing

DEFAULT_OUT = "runs/experiments/fwd-vs-rev"
METHODS = ("jacfwd", "jacrev", "loop-fwd", "loop-rev", "closed-form")
SIZES = (4, 16, 64, 256)
QUICK_SIZES = (2, 8)


@dataclass
class Problem:
    """f(x) = W₂ tanh(W₁ x + b₁) at x, and its closed-form Jacobian."""

    n: int
    m: int
    w1: np.ndarray
    b1: np.ndarray
    w2: np.ndarray
    x: np.ndarray

    @classmethod
    def draw(cls, n: int, m: int, hidden: int, seed: int = 0) -> "Problem":
        rng = np.random.default_rng([seed, n, m])
        return cls(n, m, rng.standard_normal((hidden, n)) / np.sqrt(n), rng.standard_normal(hidden) * 0.1,
                   rng.standard_normal((m, hidden)) / np.sqrt(hidden), rng.standard_normal(n))

    def f(self) -> Callable[[Tensor], Tensor]:
        w1, b1, w2 = Tensor(self.w1), Tensor(self.b1), Tensor(self.w2)
        return lambda v: w2 @ (w1 @ v + b1).tanh()

    def closed_form(self) -> np.ndarray:
        a = np.tanh(self.w1 @ self.x + self.b1)
        return self.w2 @ ((1 - a * a)[:, None] * self.w1)


def method_call(problem: Problem, method: str) -> Callable[[], Any]:
    """A fresh call computing ``problem``'s Jacobian by ``method`` (returns it as an (m, n) array)."""
    f, x = problem.f(), Tensor(problem.x.copy())
    if method == "jacfwd":
        return lambda: tg.jacfwd(f)(x).numpy()
    if method == "jacrev":
        return lambda: tg.jacrev(f)(x).numpy()
    if method == "loop-fwd":
        basis = [Tensor(e) for e in np.eye(problem.n)]
        return lambda: np.stack([tg.jvp(f, (x,), (e,))[1].numpy() for e in basis], axis=1)
    if method == "loop-rev":
        basis = [Tensor(e) for e in np.eye(problem.m)]

        def rows() -> np.ndarray:
            _, vjp_fn = tg.vjp(f, x)
            return np.stack([vjp_fn(e)[0].numpy() for e in basis])
        return rows
    if method == "closed-form":
        fresh = Problem(problem.n, problem.m, problem.w1.copy(), problem.b1.copy(), problem.w2.copy(), problem.x.copy())
        return fresh.closed_form
    raise ValueError(f"unknown method {method!r}")


def measure(problem: Problem, blocks: int, calls: int, seed: int, clock: str = "wall") -> list[dict[str, Any]]:
    """One grid point: every method's time (paired ratio to jacrev), peak memory and error."""
    expected = problem.closed_form()
    times = timing.race([(m, (lambda m=m: method_call(problem, m))) for m in METHODS], blocks=blocks, calls=calls,
                        seed=seed, clock=clock)
    stats = timing.paired(times, "jacrev")
    rows = []
    for method in METHODS:
        call = method_call(problem, method)
        J = call()
        rows.append({"n": problem.n, "m": problem.m, "method": method, "median_ms": stats[method]["median_s"] * 1e3,
                     "ratio_to_jacrev": stats[method]["ratio"], "ratio_q1": stats[method]["ratio_q1"],
                     "ratio_q3": stats[method]["ratio_q3"], "peak_bytes": timing.peak_bytes(call),
                     "max_abs_error": float(np.max(np.abs(J - expected))) if J.shape == expected.shape
                     else float("inf")})
    return rows


def run(sizes: Sequence[int] = SIZES, hidden: int = 64, blocks: int = 5, calls: int = 1, seed: int = 0,
        clock: str = "wall") -> list[dict[str, Any]]:
    rows = []
    for n in sizes:
        for m in sizes:
            rows += measure(Problem.draw(n, m, hidden, seed), blocks, calls, seed, clock)
    return rows


# ----------------------------------------------------------------------------- outputs
def pick(rows: Sequence[dict], n: int, m: int, method: str) -> dict:
    return next(r for r in rows if r["n"] == n and r["m"] == m and r["method"] == method)


def table(rows: Sequence[dict]) -> str:
    sizes = sorted({r["n"] for r in rows})
    lines = [f"{'n':>5} {'m':>5} {'shape':<6} {'jacrev ms':>9} {'jacfwd':>7} {'loop-fwd':>8} {'loop-rev':>8} "
             f"{'closed':>7} | {'peak fwd/rev':>12} {'max error':>9}"]
    for n in sizes:
        for m in sizes:
            rev = pick(rows, n, m, "jacrev")
            shape = "tall" if n < m else "wide" if n > m else "square"
            r = {k: pick(rows, n, m, k) for k in METHODS}
            err = max(x["max_abs_error"] for x in r.values())
            lines.append(f"{n:>5} {m:>5} {shape:<6} {rev['median_ms']:>9.3f} {r['jacfwd']['ratio_to_jacrev']:>7.2f} "
                         f"{r['loop-fwd']['ratio_to_jacrev']:>8.2f} {r['loop-rev']['ratio_to_jacrev']:>8.2f} "
                         f"{r['closed-form']['ratio_to_jacrev']:>7.3f} | "
                         f"{r['jacfwd']['peak_bytes'] / max(rev['peak_bytes'], 1):>12.2f} {err:>9.1e}")
    return "\n".join(lines)


def summary(rows: Sequence[dict]) -> dict[str, Any]:
    """Who wins where: jacfwd vs jacrev on the tall, wide and square points; vectorised vs looped."""
    points = sorted({(r["n"], r["m"]) for r in rows})
    out: dict[str, Any] = {}
    for shape, keep in (("tall", lambda n, m: n < m), ("wide", lambda n, m: n > m), ("square", lambda n, m: n == m)):
        mine = [pick(rows, n, m, "jacfwd")["ratio_to_jacrev"] for n, m in points if keep(n, m)]
        if mine:
            out[shape] = {"points": len(mine), "jacfwd_faster": sum(r < 1 for r in mine),
                          "median_jacfwd_over_jacrev": float(np.median(mine))}
    out["max_abs_error"] = max(r["max_abs_error"] for r in rows)
    return out


def write_outputs(rows: Sequence[dict], settings: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "fwd_vs_rev.json", out / "fwd_vs_rev.csv"
    json_path.write_text(json.dumps({"settings": settings, "summary": summary(rows), "rows": list(rows)}, indent=2))
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return [json_path, csv_path, plot(rows, out / "fwd_vs_rev.png")]


def _heat(ax: Any, fig: Figure, sizes: list[int], values: np.ndarray, title: str) -> None:
    lim = max(float(np.max(np.abs(np.log2(values)))), 1.0)
    im = ax.imshow(np.log2(values), origin="lower", cmap="coolwarm", vmin=-lim, vmax=lim)
    for i in range(len(sizes)):
        for j in range(len(sizes)):
            ax.text(j, i, f"{values[i, j]:.2g}", ha="center", va="center", fontsize=7)
    ax.plot([-0.5, len(sizes) - 0.5], [-0.5, len(sizes) - 0.5], color="k", lw=0.6, ls=":")
    ax.set_xticks(range(len(sizes)), sizes)
    ax.set_yticks(range(len(sizes)), sizes)
    ax.set_xlabel("m (outputs)")
    ax.set_ylabel("n (inputs)")
    ax.set_title(title, fontsize=9)
    fig.colorbar(im, ax=ax, shrink=0.8, label="log2")


def plot(rows: Sequence[dict], path: Path) -> Path:
    """Time and memory ratio jacfwd/jacrev over (n, m) (blue: forward mode cheaper), and one slice."""
    sizes = sorted({r["n"] for r in rows})
    ratio = np.array([[pick(rows, n, m, "jacfwd")["ratio_to_jacrev"] for m in sizes] for n in sizes])
    memory = np.array([[pick(rows, n, m, "jacfwd")["peak_bytes"] / max(pick(rows, n, m, "jacrev")["peak_bytes"], 1)
                        for m in sizes] for n in sizes])
    fig = Figure(figsize=(13.5, 4.0), dpi=90)
    a1, a2, a3 = fig.subplots(1, 3)
    _heat(a1, fig, sizes, ratio, "time jacfwd / jacrev (same-run ratio)")
    _heat(a2, fig, sizes, memory, "peak memory jacfwd / jacrev (tracemalloc)")
    m = sizes[len(sizes) // 2]
    for method, style in zip(METHODS, ("o-", "s-", "o--", "s--", "k:")):
        t = [pick(rows, n, m, method)["median_ms"] for n in sizes]
        a3.loglog(sizes, t, style, ms=4, lw=1, label=method)
    a3.axvline(m, color="grey", lw=0.8, ls=":")
    a3.set_xlabel("n (inputs)")
    a3.set_ylabel("ms per Jacobian (median)")
    a3.set_title(f"m = {m} outputs: forward mode wins left of n = m", fontsize=9)
    a3.grid(alpha=0.3, which="both")
    a3.legend(fontsize=7)
    fig.suptitle("Jacobian of f(x) = W2 tanh(W1 x + b1): forward vs reverse mode, vectorised vs looped", fontsize=10)
    fig.tight_layout()
    fig.savefig(path)
    return path


SUMMARY = "time and memory of jacfwd vs jacrev vs looped JVPs/VJPs for f: R^n -> R^m over a grid of n, m"
HELP = """Forward vs reverse mode for Jacobians. For f(x) = W2 tanh(W1 x + b1), R^n -> R^m (float64,
--hidden units), over a grid of n and m (tall, square and wide Jacobians): jacfwd and jacrev
(vectorised over the basis with vmap), a Python loop of n JVPs, a loop of m VJPs, and the closed
form. Time: the methods of each point take turns in blocks, reported as the median per-block
ratio to jacrev in the same run. Memory: tracemalloc's peak during one call. Every Jacobian is
checked against the closed form. Prints a table, writes fwd_vs_rev.json, .csv and .png to --out.
Exit status 1 if a Jacobian is off by more than 1e-10."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--sizes", default=",".join(map(str, SIZES)),
                   help="comma-separated sizes used for both n and m (default %(default)s)")
    p.add_argument("--hidden", type=int, default=64, help="hidden units (default 64)")
    p.add_argument("--blocks", type=int, default=5, help="timed blocks per grid point (default 5)")
    p.add_argument("--calls", type=int, default=1, help="timed calls per block (default 1)")
    p.add_argument("--quick", action="store_true", help=f"smoke test: sizes {QUICK_SIZES}, 2 blocks")
    p.add_argument("--seed", type=int, default=0, help="seed of the weights and x (default 0)")
    timing.add_threads_argument(p)


def main(args: argparse.Namespace) -> int:
    timing.apply_threads(args.threads)
    sizes = list(QUICK_SIZES) if args.quick else [int(s) for s in args.sizes.split(",") if s]
    blocks = 2 if args.quick else args.blocks
    rows = run(sizes, args.hidden, blocks, args.calls, args.seed, args.clock)
    print(f"f(x) = W2 tanh(W1 x + b1), hidden {args.hidden}, float64; times ({args.clock} clock): median of per-block "
          f"ratios to jacrev ({blocks} blocks of {args.calls} call{'s' if args.calls > 1 else ''})")
    print(table(rows))
    s = summary(rows)
    for shape in ("tall", "square", "wide"):
        if shape in s:
            print(f"{shape} (n {'<' if shape == 'tall' else '>' if shape == 'wide' else '='} m): jacfwd faster at "
                  f"{s[shape]['jacfwd_faster']} of {s[shape]['points']} points, median jacfwd/jacrev "
                  f"{s[shape]['median_jacfwd_over_jacrev']:.2f}")
    settings = {"sizes": sizes, "hidden": args.hidden, "blocks": blocks, "calls": args.calls, "seed": args.seed,
                "dtype": "float64", "threads": args.threads, "clock": args.clock}
    for path in write_outputs(rows, settings, Path(args.out)):
        print(f"wrote {path}")
    return 0 if s["max_abs_error"] <= 1e-10 else 1
