"""Regenerate the guided tour's figures (docs/figures/tour_*.svg).

    python docs/make_figures.py [--out DIR]

* ``tour_graph.svg``: the graph of f = tanh(x·y + x) from chapter 1, every node labelled with
  the norm of its gradient (from ``trace_backward``);
* ``tour_mlp_graph.svg``: the graph of the cross-entropy loss of a 4-8-3 ReLU MLP
  (chapter 3), as autograd records it.

Both are drawn by ``tinygrad_np.viz.render``, which needs Graphviz's ``dot``. The other figures
the tour shows (``eps_sweep_smooth.png``, ``mlp_check.png``, ``mutants.png``) come from
``python -m experiments`` (see docs/experiments.md).
"""
from __future__ import annotations

import argparse
import io
import os
from pathlib import Path

import numpy as np

import tinygrad_np as tg
from tinygrad_np.viz import render, trace_backward

FIGURES = Path(__file__).resolve().parent / "figures"


def small_graph(out: Path) -> Path:
    """Chapter 1: f = tanh(x·y + x) at x = 0.5, y = 0.6 (the same code as the tour)."""
    x = tg.tensor(0.5, dtype=np.float64, requires_grad=True)
    y = tg.tensor(0.6, dtype=np.float64, requires_grad=True)
    p = x * y
    u = p + x
    f = u.tanh()
    names = {"x": x, "y": y, "p": p, "u": u, "f": f}
    records = trace_backward(f, name_map=names, file=io.StringIO())
    return Path(render(f, out / "tour_graph.svg", name_map=names, grads=records))


def mlp_graph(out: Path) -> Path:
    """Chapter 3: loss = cross_entropy(relu(X W1 + b1) W2 + b2, y) for a 4-8-3 MLP, batch 5 (the
    hidden Linear and its ReLU are one fused node)."""
    from mnist.model import MLP

    rng = np.random.default_rng(0)
    X = rng.standard_normal((5, 4))
    labels = rng.integers(0, 3, size=5)
    model = MLP([4, 8, 3], dtype=np.float64, rng=1)
    loss = model.loss(X, labels)
    (W1, b1), (W2, b2) = [(lin.weight, lin.bias) for lin in model.linears]
    Z2 = loss.grad_fn.inputs[0]  # walk back from the loss to name the intermediate tensors
    A1 = Z2.grad_fn.inputs[0]  # relu(X W1 + b1): Linear and ReLU run as one fused op, so no Z1 node
    X_t = A1.grad_fn.inputs[0]
    y_t = loss.grad_fn.inputs[1]  # the labels: an integer input of cross_entropy, not differentiated
    names = {"X": X_t, "W1": W1, "b1": b1, "A1": A1, "W2": W2, "b2": b2, "Z2 (logits)": Z2, "y (labels)": y_t,
             "loss": loss}
    records = trace_backward(loss, name_map=names, file=io.StringIO())
    return Path(render(loss, out / "tour_mlp_graph.svg", name_map=names, grads=records))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIGURES, help=f"output folder (default {FIGURES})")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for make in (small_graph, mlp_graph):
        path = make(args.out)
        print(f"wrote {path} ({os.path.getsize(path):,} bytes)")


if __name__ == "__main__":
    main()
