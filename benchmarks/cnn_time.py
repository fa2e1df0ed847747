"""One training step of the MNIST CNN: tinygrad_np beside PyTorch CPU, and each side's GEMM-only bound.

    python -m benchmarks.cnn_time [--quick] [--batch 128] [--steps 5] [--rounds 5] [--out benchmarks/results]

The model is the app's ``--model cnn`` (``mnist.model.CNN``: conv 5x5 32 -> 2x2 max-pool -> batch
norm -> ReLU -> conv 5x5 64 -> pool -> batch norm -> ReLU -> FC 128 -> 10, no dropout), and one step
is ``loss = cross_entropy(model(x), y); zero_grad; backward; Adam step``. The contenders, each in
this process, take turns round by round (so a busy spell of the machine falls on all of them):

* ``tinygrad_np``: the library as shipped (its fast layer on);
* ``tinygrad_np (textbook)``: the same with ``tinygrad_np.fast.disabled()`` (the same bits, slower);
* ``PyTorch``: the same network in ``torch.nn`` (oneDNN convolutions), the same initial weights
  (copied from the tinygrad_np model), the same batches in the same order, the same number of
  threads as NumPy's BLAS has (set ``OPENBLAS_NUM_THREADS`` to choose it);
* ``GEMM bound (NumPy)`` / ``GEMM bound (PyTorch)``: only the matrix products of one step, on
  ready-made matrices of the im2col shapes: per convolution the forward rows x kernels, the kernel
  gradient rowsᵀ x g and (not for the first layer, whose input needs no gradient) the input
  gradient g x kernels; per dense layer its three products. np.matmul (OpenBLAS) and torch.matmul
  (MKL) respectively: how close each side comes to its own BLAS.

The report gives the median time per step of each contender over the rounds, the ratio to
PyTorch and to the contender's own GEMM bound, and the load average seen during the rounds (other
processes on the machine slow every contender; compare only numbers taken together). ``--quick``
runs a small batch for a few steps (the smoke test). No tests depend on the timings.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

from mnist.model import CNN

from .machine import blas_info, cpu_model
from .report import atomic_write_text
from .tg_api import F, optim, tg

CHANNELS, HIDDEN, CLASSES, SIDE, KERNEL = (32, 64), (128,), 10, 28, 5


def tinygrad_model(seed: int = 0, dtype: Any = np.float32) -> CNN:
    return CNN((SIDE, SIDE), CHANNELS, HIDDEN, CLASSES, dtype=dtype, rng=seed)


def torch_model(model: CNN, torch: Any, dtype: Any = None) -> Any:
    """The same network in torch.nn with ``model``'s weights (dense weights transposed: (out, in))."""
    tnn = torch.nn
    layers: list[Any] = []
    c_in = 1
    for c in CHANNELS:
        layers += [tnn.Conv2d(c_in, c, KERNEL, padding=KERNEL // 2, bias=False), tnn.MaxPool2d(2),
                   tnn.BatchNorm2d(c), tnn.ReLU()]
        c_in = c
    sizes = model.head.sizes
    layers.append(tnn.Flatten())
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(tnn.Linear(a, b))
        if k < len(sizes) - 2:
            layers.append(tnn.ReLU())
    net = tnn.Sequential(*layers).to(dtype or torch.float32)
    ours = model.state_dict()
    convs = [m for m in net if isinstance(m, tnn.Conv2d)]
    norms = [m for m in net if isinstance(m, tnn.BatchNorm2d)]
    dense = [m for m in net if isinstance(m, tnn.Linear)]
    with torch.no_grad():
        for k, (conv, norm) in enumerate(zip(convs, norms)):
            conv.weight.copy_(torch.from_numpy(ours[f"features.{4 * k}.weight"]))
            norm.weight.copy_(torch.from_numpy(ours[f"features.{4 * k + 2}.weight"]))
            norm.bias.copy_(torch.from_numpy(ours[f"features.{4 * k + 2}.bias"]))
        for lin, tg_lin in zip(dense, model.head.linears):
            lin.weight.copy_(torch.from_numpy(tg_lin.weight.data.T.copy()))
            lin.bias.copy_(torch.from_numpy(tg_lin.bias.data.copy()))
    return net


def batches(n: int, batch: int, seed: int = 1, dtype: Any = np.float32) -> list[tuple[np.ndarray, np.ndarray]]:
    """``n`` batches of MNIST-shaped images (values in [0, 1]) and labels, the same for every contender."""
    rng = np.random.default_rng(seed)
    return [(rng.random((batch, SIDE * SIDE)).astype(dtype), rng.integers(0, CLASSES, batch)) for _ in range(n)]


def tinygrad_step(model: CNN, lr: float = 1e-3) -> Callable[[np.ndarray, np.ndarray], float]:
    opt = optim.Adam(model.parameters(), lr=lr)

    def step(x: np.ndarray, y: np.ndarray) -> float:
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def torch_step(net: Any, torch: Any, lr: float = 1e-3) -> Callable[[np.ndarray, np.ndarray], float]:
    opt = torch.optim.Adam(net.parameters(), lr=lr)

    def step(x: np.ndarray, y: np.ndarray) -> float:
        xb = torch.from_numpy(x).reshape(-1, 1, SIDE, SIDE)
        loss = torch.nn.functional.cross_entropy(net(xb), torch.from_numpy(y))
        opt.zero_grad()
        loss.backward()
        opt.step()
        return float(loss.item())

    return step


def gemm_shapes(batch: int) -> list[tuple[str, int, int, int]]:
    """(what, M, K, N) of every matrix product of one training step (im2col shapes for the convolutions)."""
    shapes, c_in, side = [], 1, SIDE
    for k, c in enumerate(CHANNELS):
        rows, cols = batch * side * side, KERNEL * KERNEL * c_in  # stride 1, padding 2: the image size
        shapes += [(f"conv{k + 1} forward", rows, cols, c), (f"conv{k + 1} kernel grad", c, rows, cols)]
        if k:
            shapes.append((f"conv{k + 1} input grad", rows, c, cols))
        c_in, side = c, side // 2
    sizes = [CHANNELS[-1] * side * side, *HIDDEN, CLASSES]
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        shapes += [(f"fc{k + 1} forward", batch, a, b), (f"fc{k + 1} weight grad", a, batch, b)]
        shapes.append((f"fc{k + 1} input grad", batch, b, a))
    return shapes


def gemm_step(shapes: list[tuple[str, int, int, int]], matmul: Callable[[Any, Any], Any],
              make: Callable[[tuple[int, int]], Any]) -> Callable[[np.ndarray, np.ndarray], float]:
    operands = [(make((m, k)), make((k, n))) for _, m, k, n in shapes]

    def step(x: np.ndarray, y: np.ndarray) -> float:
        for a, b in operands:
            matmul(a, b)
        return 0.0

    return step


def contenders(batch: int, torch: Any | None) -> dict[str, Callable[[np.ndarray, np.ndarray], float]]:
    """Each contender's step function (PyTorch's and its GEMM bound only where torch is installed)."""
    rng = np.random.default_rng(2)
    shapes = gemm_shapes(batch)
    out: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {}
    fast = tinygrad_step(tinygrad_model())
    out["tinygrad_np"] = fast
    textbook = tinygrad_step(tinygrad_model())

    def textbook_step(x: np.ndarray, y: np.ndarray) -> float:
        with tg.fast.disabled():
            return textbook(x, y)

    out["tinygrad_np (textbook)"] = textbook_step
    if torch is not None:
        out["PyTorch"] = torch_step(torch_model(tinygrad_model(), torch), torch)
    out["GEMM bound (NumPy)"] = gemm_step(shapes, np.matmul, lambda s: rng.standard_normal(s).astype(np.float32))
    if torch is not None:
        out["GEMM bound (PyTorch)"] = gemm_step(shapes, torch.matmul, lambda s: torch.randn(*s))
    return out


def measure(batch: int = 128, steps: int = 5, rounds: int = 5, warmup: int = 2, log: Callable[[str], None] = print
            ) -> dict[str, Any]:
    """Median seconds per step of each contender; the contenders take turns, ``steps`` steps each per round."""
    try:
        import torch
    except ImportError:  # the PyTorch rows are then missing (noted in the report)
        torch = None
    threads = blas_info().get("threads") or 1
    if torch is not None:
        torch.set_num_threads(int(threads))
    runs = contenders(batch, torch)
    data = batches(warmup + steps * rounds, batch)
    times: dict[str, list[float]] = {name: [] for name in runs}
    for name, step in runs.items():
        for x, y in data[:warmup]:
            step(x, y)
    loads = []
    names = list(runs)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        part = data[warmup + r * steps: warmup + (r + 1) * steps]
        for name in order:
            t0 = time.perf_counter()
            for x, y in part:
                runs[name](x, y)
            times[name].append((time.perf_counter() - t0) / steps)
        loads.append(os.getloadavg()[0])
        log(f"round {r + 1}/{rounds}: " + ", ".join(f"{n} {1e3 * times[n][-1]:.1f} ms" for n in names)
            + f" (load {loads[-1]:.2f})")
    med = {name: float(np.median(ts)) for name, ts in times.items()}
    rows = []
    for name in names:
        bound = med.get("GEMM bound (PyTorch)" if name == "PyTorch" else "GEMM bound (NumPy)")
        rows.append({"contender": name, "ms_per_step": 1e3 * med[name], "all_ms": [1e3 * t for t in times[name]],
                     "vs_pytorch": med[name] / med["PyTorch"] if "PyTorch" in med else None,
                     "vs_own_gemm_bound": med[name] / bound if bound and "bound" not in name else None})
    gflop = sum(2 * m * k * n for _, m, k, n in gemm_shapes(batch)) / 1e9
    return {"batch": batch, "steps_per_round": steps, "rounds": rounds, "blas_threads": threads,
            "torch_threads": torch.get_num_threads() if torch is not None else None,
            "torch": getattr(torch, "__version__", None), "numpy": np.__version__, "cpu": cpu_model(),
            "cpu_count": os.cpu_count(), "load_average": {"min": min(loads), "max": max(loads)},
            "gemm_gflop_per_step": gflop, "gemm_shapes": gemm_shapes(batch), "rows": rows}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# MNIST CNN: one training step at batch {report['batch']}", "",
             f"{report['cpu']} ({report['cpu_count']} CPUs), NumPy {report['numpy']} with "
             f"{report['blas_threads']} BLAS thread(s), PyTorch {report['torch']} with {report['torch_threads']} "
             f"thread(s); median of {report['rounds']} rounds of {report['steps_per_round']} steps; load average "
             f"{report['load_average']['min']:.2f}-{report['load_average']['max']:.2f} during the rounds; "
             f"the GEMMs of a step: {report['gemm_gflop_per_step']:.2f} GFLOP.", "",
             "| contender | ms per step | vs PyTorch | vs its GEMM bound |", "|---|---|---|---|"]
    for r in report["rows"]:
        vs = "" if r["vs_pytorch"] is None else f"{r['vs_pytorch']:.2f}x"
        own = "" if r["vs_own_gemm_bound"] is None else f"{r['vs_own_gemm_bound']:.2f}x"
        lines.append(f"| {r['contender']} | {r['ms_per_step']:.1f} | {vs} | {own} |")
    lines += ["", "Reproduce: `python -m benchmarks.cnn_time` (`OPENBLAS_NUM_THREADS=N` for N threads on both sides)."]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> dict[str, Any]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.cnn_time", description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="batch 8, one round of one step (a smoke test)")
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--steps", type=int, default=5, help="steps per contender per round")
    p.add_argument("--rounds", type=int, default=5)
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"), help="folder for cnn_time.json and .md")
    args = p.parse_args(argv)
    if args.quick:
        args.batch, args.steps, args.rounds = 8, 1, 1
    report = measure(args.batch, args.steps, args.rounds, warmup=1 if args.quick else 2)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "cnn_time.json", json.dumps(report, indent=1))
    atomic_write_text(args.out / "cnn_time.md", markdown(report))
    print(markdown(report))
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
