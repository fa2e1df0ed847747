"""``tg.checkpoint``: the memory a graph keeps for backward, traded for a second forward pass.

``saved_bytes(roots)`` is what the graph behind ``roots`` keeps for the backward pass: the
arrays of every node's inputs and output, each array counted once. ``tg.checkpoint(fn, *args)``
records ``fn`` as one node that keeps only its arguments and output; the backward pass runs
``fn`` again (its VJP taken then), so only one segment's intermediates exist at a time.

Two studies, each forward + backward with and without checkpoints, with the gradients compared:

* the MNIST MLP (``mnist.model.MLP``, 784-128-64-10, ReLU, batch 128, float32): as it trains (the
  fast layer fuses each Linear + ReLU into one node), on textbook ops (``tg.fast.disabled()``:
  separate linear and relu nodes), and with each layer in a checkpoint;
* a chain of n tanh layers h ← tanh(h W) (one shared W, width 64, batch 16, float64) for
  n up to 1000: plain (2n arrays kept: each product and each tanh) against √n checkpoints
  (segments of round(√n) layers: about √n boundary arrays kept, one segment recomputed at a time).
  The bytes beyond W are fitted against n on a log-log scale: slope 1 plain, about ½ with √n
  checkpoints (ceil(n / round(√n)) segment outputs, and the input).

Also measured: the peak of NumPy's traced allocations over forward + backward (``tracemalloc``),
and the time of forward + backward, both ways taking turns in blocks (``experiments.timing``;
the paired ratio checkpointed / plain). A tensor the checkpointed function uses must be one of
its arguments: a gradient flows to ``checkpoint``'s arguments only.
"""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

import tinygrad_np as tg
from tinygrad_np import Tensor
from tinygrad_np.custom import saved_bytes
from tinygrad_np.nn import functional as F

from mnist.model import MLP

from . import timing

DEFAULT_OUT = "runs/experiments/checkpoint"
DEPTHS = (10, 30, 100, 300, 1000)
QUICK_DEPTHS = (4, 16)
WIDTH, ROWS = 64, 16


# ----------------------------------------------------------------------------- the chain
def chain(h: Tensor, w: Tensor, n: int) -> Tensor:
    for _ in range(n):
        h = (h @ w).tanh()
    return h


def segments(n: int) -> list[int]:
    """n layers cut into segments of round(√n) layers (the last one shorter if it does not divide)."""
    k = max(1, round(np.sqrt(n)))
    return [min(k, n - s) for s in range(0, n, k)]


def chain_loss(x: Tensor, w: Tensor, n: int, checkpointed: bool) -> Tensor:
    h = x
    if not checkpointed:
        return chain(h, w, n).sum()
    for k in segments(n):
        h = tg.checkpoint(lambda a, b, k=k: chain(a, b, k), h, w)
    return h.sum()


def chain_arrays(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """x (16, 64) and an orthogonal W (64, 64): the activations neither vanish nor blow up."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((WIDTH, WIDTH)))
    return rng.standard_normal((ROWS, WIDTH)), q * 1.2


def chain_run(n: int, checkpointed: bool, x0: np.ndarray, w0: np.ndarray) -> tuple[int, np.ndarray]:
    """Forward, the bytes the graph keeps, backward: (saved bytes, W's gradient)."""
    w = Tensor(w0.copy(), requires_grad=True)
    loss = chain_loss(Tensor(x0.copy()), w, n, checkpointed)
    kept = saved_bytes([loss])
    loss.backward()
    return kept, w.grad.numpy()


def forward_backward(make_loss: Callable[[], tuple[Tensor, list[Tensor]]]) -> Callable[[], Any]:
    """A call doing one forward + backward (what is timed and traced)."""
    def call() -> Any:
        loss, params = make_loss()
        loss.backward()
        return [p.grad for p in params]
    return call


def chain_study(depths: Sequence[int], blocks: int, seed: int, clock: str = "wall") -> list[dict[str, Any]]:
    x0, w0 = chain_arrays(seed)
    rows = []
    for n in depths:
        (plain_bytes, g_plain), (ck_bytes, g_ck) = chain_run(n, False, x0, w0), chain_run(n, True, x0, w0)

        def make(checkpointed: bool, n: int = n) -> Callable[[], Any]:
            def build() -> Callable[[], Any]:
                x, w = Tensor(x0.copy()), Tensor(w0.copy(), requires_grad=True)
                return forward_backward(lambda: (chain_loss(x, w, n, checkpointed), [w]))
            return build

        times = timing.paired(timing.race([("plain", make(False)), ("checkpointed", make(True))], blocks=blocks,
                                          calls=1, seed=seed, clock=clock), "plain")
        rows.append({"n": n, "segments": len(segments(n)), "segment_length": segments(n)[0], "weight_bytes": w0.nbytes,
                     "plain_saved_bytes": plain_bytes, "checkpointed_saved_bytes": ck_bytes,
                     "plain_peak_bytes": timing.peak_bytes(make(False)()),
                     "checkpointed_peak_bytes": timing.peak_bytes(make(True)()),
                     "plain_ms": times["plain"]["median_s"] * 1e3,
                     "checkpointed_ms": times["checkpointed"]["median_s"] * 1e3,
                     "time_ratio": times["checkpointed"]["ratio"],
                     "time_ratio_iqr": [times["checkpointed"]["ratio_q1"], times["checkpointed"]["ratio_q3"]],
                     "grad_max_rel_diff": float(np.max(np.abs(g_ck - g_plain)) / np.max(np.abs(g_plain)))})
    return rows


def fitted_slope(ns: Sequence[int], values: Sequence[float]) -> float:
    """Least-squares slope of log(values) against log(n)."""
    return float(np.polyfit(np.log(ns), np.log(values), 1)[0]) if len(ns) > 1 else float("nan")


# ----------------------------------------------------------------------------- the MNIST MLP
def mlp_setup(batch: int, seed: int, sizes: Sequence[int] = (784, 128, 64, 10)
              ) -> tuple[MLP, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    model = MLP(list(sizes), rng=seed)
    return model, rng.random((batch, sizes[0]), dtype=np.float32), rng.integers(0, sizes[-1], batch)


def checkpointed_logits(model: MLP, x: Tensor) -> Tensor:
    """The MLP's forward with every layer (Linear, then ReLU unless last) in a checkpoint; the
    layer's weight and bias are passed as arguments, so their gradients flow."""
    linears = model.linears
    h = x
    for k, lin in enumerate(linears):
        last = k == len(linears) - 1
        h = tg.checkpoint(lambda a, w, b, last=last: F.linear(a, w, b) if last else F.linear(a, w, b).relu(),
                          h, lin.weight, lin.bias)
    return h


MLP_WAYS = ("as trained (fused Linear+ReLU nodes)", "textbook ops (fast layer off)", "checkpoint each layer")


def mlp_forward_backward(model: MLP, X: np.ndarray, y: np.ndarray, way: str) -> tuple[int, list[np.ndarray]]:
    """One forward + backward of the MLP's mean loss, one of ``MLP_WAYS``: (the bytes the graph kept
    before backward, the parameters' gradients)."""
    model.zero_grad()
    with tg.fast.switched(way != MLP_WAYS[1]):
        x = Tensor(X)
        loss = F.cross_entropy(checkpointed_logits(model, x), y) if way == MLP_WAYS[2] else model.loss(x, y)
        kept = saved_bytes([loss])
        loss.backward()
    return kept, [p.grad.numpy() for p in model.param_list()]


def mlp_study(batch: int, blocks: int, seed: int, clock: str = "wall") -> list[dict[str, Any]]:
    model, X, y = mlp_setup(batch, seed)
    weights = sum(p.numpy().nbytes for p in model.param_list())
    runs = {way: mlp_forward_backward(model, X, y, way) for way in MLP_WAYS}
    reference = runs[MLP_WAYS[0]][1]

    def build(way: str) -> Callable[[], Callable[[], Any]]:
        return lambda: (lambda: mlp_forward_backward(model, X, y, way))

    times = timing.paired(timing.race([(way, build(way)) for way in MLP_WAYS], blocks=blocks, calls=3, seed=seed,
                                      clock=clock), MLP_WAYS[0])
    rows = []
    for way, (kept, grads) in runs.items():
        rows.append({"way": way, "saved_bytes": kept, "weights_bytes": weights, "input_bytes": X.nbytes,
                     "activation_bytes": kept - weights - X.nbytes, "peak_bytes": timing.peak_bytes(build(way)()),
                     "ms": times[way]["median_s"] * 1e3, "time_ratio": times[way]["ratio"],
                     "grad_max_rel_diff": max(float(np.max(np.abs(a - b)) / np.max(np.abs(b)))
                                              for a, b in zip(grads, reference))})
    return rows


# ----------------------------------------------------------------------------- outputs
def _mib(n: float) -> str:
    return f"{n / 2**20:.2f}"


def table(chain_rows: Sequence[dict], mlp_rows: Sequence[dict], batch: int) -> str:
    lines = [f"MNIST MLP 784-128-64-10, ReLU, batch {batch}, float32 (forward + backward; weights "
             f"{_mib(mlp_rows[0]['weights_bytes'])} MiB and input {_mib(mlp_rows[0]['input_bytes'])} MiB kept by all):",
             f"  {'':<38} {'saved MiB':>9} {'activations':>11} {'peak MiB':>8} {'time ×':>6} {'grad diff':>9}"]
    for r in mlp_rows:
        lines.append(f"  {r['way']:<38} {_mib(r['saved_bytes']):>9} {_mib(r['activation_bytes']):>11} "
                     f"{_mib(r['peak_bytes']):>8} {r['time_ratio']:>6.2f} {r['grad_max_rel_diff']:>9.1e}")
    lines += ["", f"chain of n tanh layers (width {WIDTH}, batch {ROWS}, float64, one shared W), "
              "plain vs √n checkpoints:",
              f"  {'n':>5} {'segments':>8} {'saved MiB plain':>15} {'ckpt':>7} {'peak MiB plain':>14} {'ckpt':>7} "
              f"{'time ckpt/plain':>15} {'grad diff':>9}"]
    for r in chain_rows:
        lines.append(f"  {r['n']:>5} {r['segments']:>8} {_mib(r['plain_saved_bytes']):>15} "
                     f"{_mib(r['checkpointed_saved_bytes']):>7} {_mib(r['plain_peak_bytes']):>14} "
                     f"{_mib(r['checkpointed_peak_bytes']):>7} {r['time_ratio']:>15.2f} {r['grad_max_rel_diff']:>9.1e}")
    s = slopes(chain_rows)
    lines.append(f"  fitted log-log slope against n of the saved bytes beyond W: plain {s['plain_saved']:.2f}, "
                 f"√n checkpoints {s['checkpointed_saved']:.2f} "
                 f"(peak: {s['plain_peak']:.2f} and {s['checkpointed_peak']:.2f})")
    return "\n".join(lines)


def slopes(chain_rows: Sequence[dict]) -> dict[str, float]:
    """Log-log slopes against n of the saved bytes beyond the weight W (kept whatever n: what grows
    with depth is the activations) and of the traced peaks."""
    ns = [r["n"] for r in chain_rows]
    return {f"{way}_{what}": fitted_slope(ns, [r[f"{way}_{what}_bytes"] - (r["weight_bytes"] if what == "saved" else 0)
                                               for r in chain_rows])
            for way in ("plain", "checkpointed") for what in ("saved", "peak")}


def write_outputs(chain_rows: Sequence[dict], mlp_rows: Sequence[dict], settings: dict, out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "checkpoint.json", out / "checkpoint.csv"
    json_path.write_text(json.dumps({"settings": settings, "mlp": list(mlp_rows), "chain": list(chain_rows),
                                     "chain_slopes": slopes(chain_rows)}, indent=2))
    with open(csv_path, "w", newline="") as fh:
        fields = [k for k in chain_rows[0] if k != "time_ratio_iqr"]
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(chain_rows)
    return [json_path, csv_path, plot(chain_rows, mlp_rows, out / "checkpoint.png")]


def plot(chain_rows: Sequence[dict], mlp_rows: Sequence[dict], path: Path) -> Path:
    ns = np.array([r["n"] for r in chain_rows], dtype=float)
    s = slopes(chain_rows)
    fig = Figure(figsize=(13, 3.9), dpi=90)
    a1, a2, a3 = fig.subplots(1, 3)
    for key, label, style in (("plain_saved", "plain, saved", "o-"),
                              ("checkpointed_saved", "√n checkpoints, saved", "s-"),
                              ("plain_peak", "plain, peak", "o:"), ("checkpointed_peak", "√n checkpoints, peak", "s:")):
        a1.loglog(ns, [r[f"{key}_bytes"] / 2**20 for r in chain_rows], style, ms=4, lw=1,
                  label=f"{label} (slope {s[key]:.2f})")
    a1.set_xlabel("layers n")
    a1.set_ylabel("MiB")
    a1.set_title("chain of n tanh layers: bytes kept for backward", fontsize=9)
    a1.grid(alpha=0.3, which="both")
    a1.legend(fontsize=7)
    a2.semilogx(ns, [r["time_ratio"] for r in chain_rows], "o-", ms=4)
    a2.fill_between(ns, [r["time_ratio_iqr"][0] for r in chain_rows], [r["time_ratio_iqr"][1] for r in chain_rows],
                    alpha=0.2)
    a2.axhline(1.0, color="grey", lw=0.8)
    a2.set_xlabel("layers n")
    a2.set_ylabel("time checkpointed / plain")
    a2.set_title("forward + backward time (paired ratio, quartiles shaded)", fontsize=9)
    a2.grid(alpha=0.3)
    y = np.arange(len(mlp_rows))
    a3.barh(y, [r["activation_bytes"] / 2**20 for r in mlp_rows], color="tab:orange", label="activations")
    a3.barh(y, [(r["weights_bytes"] + r["input_bytes"]) / 2**20 for r in mlp_rows],
            left=[r["activation_bytes"] / 2**20 for r in mlp_rows], color="tab:grey", label="weights + input")
    a3.set_yticks(y, [f"{r['way']}\n×{r['time_ratio']:.2f} time" for r in mlp_rows], fontsize=7)
    a3.set_xlabel("MiB kept for backward")
    a3.set_title("MNIST MLP 784-128-64-10, batch 128", fontsize=9)
    a3.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path)
    return path


SUMMARY = "bytes kept for backward (engine.saved_bytes) with and without tg.checkpoint, and the time it costs"
HELP = """tg.checkpoint: memory traded for a second forward pass. Reports engine.saved_bytes (the
arrays the graph keeps for backward), tracemalloc's peak over forward + backward, and the time
(plain and checkpointed taking turns in blocks; the paired ratio), for the MNIST MLP
(784-128-64-10, batch 128: as trained, on textbook ops, and with each layer checkpointed) and for
chains of n tanh layers plain vs with sqrt(n) checkpoints (n up to 1000), with the log-log slope
of bytes against n. Gradients are compared with the plain run's. Prints a table, writes
checkpoint.json, checkpoint.csv and checkpoint.png to --out. Exit status 1 if a gradient differs
from the plain run's by more than 1e-9 (chain, float64) or 1e-5 (MLP, float32), relative to its
largest entry, or if the slope with sqrt(n) checkpoints is not below 0.75."""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    p.add_argument("--depths", default=",".join(map(str, DEPTHS)), help="chain lengths (default %(default)s)")
    p.add_argument("--batch", type=int, default=128, help="MLP batch size (default 128)")
    p.add_argument("--blocks", type=int, default=7, help="timed blocks per comparison (default 7)")
    p.add_argument("--quick", action="store_true", help=f"smoke test: depths {QUICK_DEPTHS}, batch 8, 2 blocks")
    p.add_argument("--seed", type=int, default=0)
    timing.add_threads_argument(p)


def main(args: argparse.Namespace) -> int:
    timing.apply_threads(args.threads)
    depths = list(QUICK_DEPTHS) if args.quick else [int(s) for s in args.depths.split(",") if s]
    batch, blocks = (8, 2) if args.quick else (args.batch, args.blocks)
    mlp_rows = mlp_study(batch, blocks, args.seed, args.clock)
    chain_rows = chain_study(depths, blocks, args.seed, args.clock)
    print(table(chain_rows, mlp_rows, batch))
    settings = {"depths": depths, "batch": batch, "blocks": blocks, "seed": args.seed, "width": WIDTH, "rows": ROWS,
                "threads": args.threads, "clock": args.clock}
    for path in write_outputs(chain_rows, mlp_rows, settings, Path(args.out)):
        print(f"wrote {path}")
    worst = max(r["grad_max_rel_diff"] for r in [*chain_rows, *mlp_rows])
    float32_ok = all(r["grad_max_rel_diff"] <= 1e-5 for r in mlp_rows)
    ok = max(r["grad_max_rel_diff"] for r in chain_rows) <= 1e-9 and float32_ok and \
        (len(depths) < 2 or slopes(chain_rows)["checkpointed_saved"] < 0.75)
    print(f"gradients agree (worst relative difference {worst:.1e}) and the bytes grow as expected" if ok else
          f"NOT AS EXPECTED (worst gradient difference {worst:.1e})")
    return 0 if ok else 1
