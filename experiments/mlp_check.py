"""MNIST MLP gradients three ways: autograd vs the hand-derived formulas vs finite differences.

For each parameter tensor ``[W1, b1, ..., WL, bL]`` and each dtype (float32, float64) it
compares tinygrad_np's autograd (``mnist.model.MLP``) with ``mnist.reference.loss_and_grads``
and with central differences of the same loss (every entry of small tensors, a random subset
of big ones). Errors per tensor: max abs, max rel and the norm ratio ``‖a-b‖/(‖a‖+‖b‖)``.

Relative error of an entry: ``|a - b| / max(|b|, 1e-3·max|b|)`` (entries below 0.1% of the
tensor's largest gradient are judged against that level, so a 1e-19 gradient is not "100% off").
"""
from __future__ import annotations

import argparse
import csv
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure

from tinygrad_np import Tensor, no_grad
from tinygrad_np.gradcheck import DEFAULTS

from mnist import reference
from mnist.data import load_dataset
from mnist.model import MLP

DEFAULT_OUT = "runs/experiments/mlp-check"
DTYPES = (np.float32, np.float64)


@dataclass
class MLPProblem:
    """A fixed MLP (float64 master parameters) and batch."""

    sizes: list[int]
    activation: str
    loss: str
    params: list[np.ndarray]
    X: np.ndarray
    y: np.ndarray
    data: str  # "synthetic" or where the MNIST samples came from

    def names(self) -> list[str]:
        return [f"{'Wb'[k % 2]}{k // 2 + 1}" for k in range(len(self.params))]


def load_mnist(batch: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, str] | str:
    """``batch`` random MNIST test images scaled to [0, 1] (never downloads), or the reason it failed."""
    try:
        ds = load_dataset("mnist", download=False)
    except Exception as e:  # noqa: BLE001 - any failure means "not available"
        return f"{type(e).__name__}: {str(e).splitlines()[0]}"
    pick = rng.choice(len(ds.test_images), size=batch, replace=False)
    X = ds.test_images[pick].reshape(batch, -1).astype(np.float64) / 255.0
    return X, ds.test_labels[pick].astype(np.int64), f"MNIST test images from {ds.source}"


def make_problem(sizes: Sequence[int] = (20, 16, 10), batch: int = 8, seed: int = 0, activation: str = "relu",
                 loss: str = "ce", mnist: bool = False) -> MLPProblem:
    """He-initialised weights (``reference.init_params``), small random biases, and a batch of
    standard-normal inputs with random labels (or real MNIST samples with ``mnist=True``)."""
    sizes = [int(s) for s in sizes]
    rng = np.random.default_rng(seed)
    params = reference.init_params(sizes, rng, np.float64)
    for b in params[1::2]:
        b += rng.normal(0.0, 0.1, size=b.shape)  # non-zero biases: every term of the VJP is exercised
    data = "synthetic N(0, 1) inputs, random labels"
    X, y = rng.standard_normal((batch, sizes[0])), rng.integers(0, sizes[-1], size=batch)
    if mnist:
        got = load_mnist(batch, rng)
        if isinstance(got, str):
            print(f"MNIST not available ({got}); using synthetic data. Set MNIST_DIR to the IDX files.")
        elif sizes[0] != got[0].shape[1] or sizes[-1] != 10:
            raise ValueError(f"--mnist needs sizes 784,...,10, got {sizes}")
        else:
            X, y, data = got
    return MLPProblem(sizes, activation, loss, params, X, y, data)


def build_model(problem: MLPProblem, dtype: Any) -> Any:
    """``mnist.model.MLP`` in ``dtype`` holding the problem's parameters."""
    model = MLP(problem.sizes, problem.activation, dtype=dtype, rng=0)
    model.load_reference_params(problem.params)
    return model


def loss_value(model: Any, problem: MLPProblem) -> float:
    with no_grad():
        return float(model.loss(problem.X.astype(model.dtype), problem.y, problem.loss).data)


def autograd_grads(model: Any, problem: MLPProblem) -> list[np.ndarray]:
    for p in model.param_list():
        p.grad = None
    model.loss(problem.X.astype(model.dtype), problem.y, problem.loss).backward()
    return [p.grad.data.copy() for p in model.param_list()]


def reference_grads(problem: MLPProblem, dtype: Any) -> list[np.ndarray]:
    params = [p.astype(dtype) for p in problem.params]
    return reference.loss_and_grads(params, problem.X.astype(dtype), problem.y, problem.activation, problem.loss)[1]


def relu_pattern(model: Any, problem: MLPProblem) -> list[np.ndarray] | None:
    """Which hidden units are active (ReLU models only), from the model's current parameters."""
    if problem.activation != "relu":
        return None
    params = [q.data.astype(np.float64) for q in model.param_list()]
    return [A > 0 for A in reference.forward(params, problem.X, "relu")[1][1:]]


def set_entry(p: Tensor, idx: tuple[int, ...], value: Any) -> None:
    """``p[idx] = value`` in place, through the tensor's one write path (``update_``)."""

    def write(a: np.ndarray) -> None:
        a[idx] = value

    p.update_(write)


def fd_grads(model: Any, problem: MLPProblem, eps: float, max_entries: int,
             rng: np.random.Generator) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Central differences (NaN where an entry was not sampled) and, per entry, whether the
    stencil w ± h straddles a ReLU kink (the activation pattern differs at w - h and w + h).
    The step is the one actually taken in the model's dtype: ``(w + h) - (w - h)``."""
    estimates, kinks = [], []
    for p in model.param_list():
        est, kink = np.full(p.shape, np.nan), np.zeros(p.shape, dtype=bool)
        flat = np.arange(p.size) if p.size <= max_entries else rng.choice(p.size, max_entries, replace=False)
        for j in flat:
            idx = np.unravel_index(int(j), p.shape)
            w = p.data[idx]
            hi, lo = w + p.dtype.type(eps), w - p.dtype.type(eps)
            set_entry(p, idx, hi)
            f_hi, pat_hi = loss_value(model, problem), relu_pattern(model, problem)
            set_entry(p, idx, lo)
            f_lo, pat_lo = loss_value(model, problem), relu_pattern(model, problem)
            set_entry(p, idx, w)
            est[idx] = (f_hi - f_lo) / (float(hi) - float(lo))
            kink[idx] = pat_hi is not None and any((u != v).any() for u, v in zip(pat_hi, pat_lo))
        estimates.append(est)
        kinks.append(kink)
    return estimates, kinks


def rel_errors(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Entrywise ``|a-b| / max(|b|, 1e-3·max|b|)`` (NaN where b is NaN)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = np.nanmax(np.abs(b), initial=0.0)
    floor = max(1e-3 * scale, np.finfo(np.float64).tiny)
    return np.abs(a - b) / np.maximum(np.abs(b), floor)


def compare(a: np.ndarray, b: np.ndarray, skip: np.ndarray | None = None) -> dict[str, float]:
    """max abs, max rel and norm ratio over the entries where ``b`` is known (and not ``skip``)."""
    keep = ~np.isnan(b) if skip is None else ~np.isnan(b) & ~skip
    a, b = np.asarray(a, np.float64)[keep], np.asarray(b, np.float64)[keep]
    denom = np.linalg.norm(a) + np.linalg.norm(b)
    return {"max_abs": float(np.max(np.abs(a - b), initial=0.0)),
            "max_rel": float(np.max(rel_errors(a, b), initial=0.0)),
            "norm": float(np.linalg.norm(a - b) / denom) if denom > 0 else 0.0}


@dataclass
class CheckResult:
    problem: MLPProblem
    rows: list[dict[str, Any]]
    heat: dict[str, list[np.ndarray]] = field(default_factory=dict)  # dtype -> rel error AG vs FD per tensor
    kinks: dict[str, list[np.ndarray]] = field(default_factory=dict)  # dtype -> FD stencil crossed a ReLU kink
    seconds: float = 0.0

    def worst(self, dtype: str, key: str) -> float:
        return max(r[key] for r in self.rows if r["dtype"] == dtype)


def run(sizes: Sequence[int] = (20, 16, 10), batch: int = 8, seed: int = 0, activation: str = "relu",
        loss: str = "ce", mnist: bool = False, fd_entries: int = 400) -> CheckResult:
    """Compare the three gradients for every parameter tensor in float32 and float64."""
    start = time.perf_counter()
    problem = make_problem(sizes, batch, seed, activation, loss, mnist)
    result = CheckResult(problem, [])
    for dtype in DTYPES:
        name = np.dtype(dtype).name
        model = build_model(problem, dtype)
        ag = autograd_grads(model, problem)
        ref = reference_grads(problem, dtype)
        fd, kinks = fd_grads(model, problem, DEFAULTS[np.dtype(dtype)][0], fd_entries, np.random.default_rng(seed))
        result.heat[name] = [rel_errors(a, f) for a, f in zip(ag, fd)]
        result.kinks[name] = kinks
        for tname, a, r, f, k in zip(problem.names(), ag, ref, fd, kinks):
            vs_ref, vs_fd = compare(a, r), compare(a, f, skip=k)
            result.rows.append({"dtype": name, "tensor": tname, "shape": "x".join(map(str, a.shape)),
                                "fd_entries": int(np.sum(~np.isnan(f))), "kinks": int(k.sum()),
                                **{f"ref_{k}": v for k, v in vs_ref.items()},
                                **{f"fd_{k}": v for k, v in vs_fd.items()}})
    result.seconds = time.perf_counter() - start
    return result


def table(result: CheckResult) -> str:
    head = (f"{'dtype':<8} {'tensor':<6} {'shape':<7} {'FD n':>5} {'kinks':>5} | {'AG-REF abs':>10} {'rel':>9} "
            f"{'norm':>9} | {'AG-FD abs':>10} {'rel':>9} {'norm':>9}")
    lines = [head, "-" * len(head)]
    for r in result.rows:
        lines.append(f"{r['dtype']:<8} {r['tensor']:<6} {r['shape']:<7} {r['fd_entries']:>5} {r['kinks']:>5} | "
                     f"{r['ref_max_abs']:>10.2e} {r['ref_max_rel']:>9.2e} {r['ref_norm']:>9.2e} | "
                     f"{r['fd_max_abs']:>10.2e} {r['fd_max_rel']:>9.2e} {r['fd_norm']:>9.2e}")
    return "\n".join(lines)


def write_outputs(result: CheckResult, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    csv_path = out / "mlp_check.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(result.rows[0]))
        writer.writeheader()
        writer.writerows(result.rows)
    return [csv_path, plot(result, out / "mlp_check.png")]


def plot(result: CheckResult, path: Path) -> Path:
    """Heat map of log10 relative error (autograd vs finite differences) per weight matrix."""
    names = result.problem.names()
    weights = [k for k, n in enumerate(names) if n.startswith("W")]
    dtypes = list(result.heat)
    fig = Figure(figsize=(2.6 * len(weights) + 1.2, 2.8 * len(dtypes)), dpi=80, layout="constrained")
    axes = fig.subplots(len(dtypes), len(weights), squeeze=False)
    cmap = colormaps["viridis"].with_extremes(bad="0.85")
    im = None
    for i, dt in enumerate(dtypes):
        for j, k in enumerate(weights):
            err = result.heat[dt][k]
            with np.errstate(divide="ignore"):
                logged = np.log10(np.maximum(err, 1e-17))
            ax = axes[i, j]
            im = ax.imshow(logged, cmap=cmap, vmin=-12, vmax=0, aspect="auto", interpolation="nearest")
            ki, kj = np.nonzero(result.kinks[dt][k])
            if len(ki):
                ax.scatter(kj, ki, marker="x", s=10, color="red", linewidths=0.8)
            ax.set_title(f"{names[k]} {err.shape[0]}x{err.shape[1]} ({dt})", fontsize=8)
            ax.set_xlabel("fan_out", fontsize=7)
            ax.set_ylabel("fan_in", fontsize=7)
            ax.tick_params(labelsize=6)
    p = result.problem
    fig.suptitle(f"log10 rel. error, autograd vs central differences: MLP {'-'.join(map(str, p.sizes))} "
                 f"{p.activation}/{p.loss}\n(grey: not sampled; red x: stencil crosses a ReLU kink)", fontsize=9)
    fig.colorbar(im, ax=axes, shrink=0.8, label="log10 relative error")
    fig.savefig(path)
    return path


SUMMARY = "MNIST MLP gradients: autograd vs hand-derived (mnist/reference.py) vs finite differences"
HELP = """MNIST MLP gradient check. For every parameter tensor [W1, b1, ..., WL, bL] compares
tinygrad_np autograd (mnist.model.MLP) with the hand-derived NumPy gradients (mnist/reference.py)
and with central finite differences of the same loss (all entries of small tensors, a random
subset of large ones), in float32 and float64: max abs error, max rel error and norm ratio
||a-b||/(||a||+||b||) per tensor. Writes mlp_check.csv and a heat map (mlp_check.png) of the
relative error autograd-vs-finite-differences of each weight matrix. Entries whose stencil w±h
crosses a ReLU kink (the activation pattern changes) are counted in the 'kinks' column and left
out of the FD columns (they are marked with a red x in the heat map). Synthetic data by default;
--mnist uses real MNIST test images if found (MNIST_DIR or the cache; never downloads).
Exit status 1 only if float64 autograd disagrees with the reference (rel > 1e-10) or with
finite differences (norm ratio > 1e-6)."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--sizes", default=None,
                   help="layer widths, e.g. 784,32,10 (default 20,16,10; 784,32,10 with --mnist)")
    p.add_argument("--batch", type=int, default=8, help="batch size (default 8)")
    p.add_argument("--seed", type=int, default=0, help="seed for weights, data and FD sampling (default 0)")
    p.add_argument("--activation", choices=("relu", "tanh", "sigmoid"), default="relu")
    p.add_argument("--loss", choices=("ce", "mse"), default="ce")
    p.add_argument("--fd-entries", type=int, default=400,
                   help="finite-difference entries per tensor; smaller tensors are done in full (default 400)")
    p.add_argument("--mnist", action="store_true", help="use real MNIST test samples (found via MNIST_DIR)")


def main(args: argparse.Namespace) -> int:
    sizes = [int(s) for s in (args.sizes or ("784,32,10" if args.mnist else "20,16,10")).split(",")]
    result = run(sizes, args.batch, args.seed, args.activation, args.loss, args.mnist, args.fd_entries)
    p = result.problem
    print(f"MLP {'-'.join(map(str, p.sizes))}, {p.activation}, {p.loss} loss, batch {len(p.y)} ({p.data}); "
          f"FD: central, eps {DEFAULTS[np.dtype(np.float32)][0]:g} (float32) / "
          f"{DEFAULTS[np.dtype(np.float64)][0]:g} (float64)")
    print("AG = autograd, REF = mnist/reference.py, FD = finite differences; rel = |a-b|/max(|b|, 1e-3 max|b|);\n"
          "kinks = FD entries whose stencil w±h crosses a ReLU kink (left out of the AG-FD columns)")
    print(table(result))
    ref64, fd64 = result.worst("float64", "ref_max_rel"), result.worst("float64", "fd_norm")
    ok = ref64 <= 1e-10 and fd64 <= 1e-6
    print(f"\nfloat64: autograd vs reference max rel {ref64:.1e} (limit 1e-10), vs finite differences norm ratio "
          f"{fd64:.1e} (limit 1e-6): {'OK' if ok else 'MISMATCH'}; float32 worst norm ratio vs FD "
          f"{result.worst('float32', 'fd_norm'):.1e}; {result.seconds:.1f} s")
    for path in write_outputs(result, Path(args.out)):
        print(f"wrote {path}")
    return 0 if ok else 1
