"""Per-op overhead: each registry op on tiny tensors vs the bare NumPy call, in microseconds.

    python -m benchmarks.op_overhead [--quick] [--out benchmarks/results]

For every op in the package's op registry (``tg.OPS``; each op needs a case here): the NumPy
call alone, the op under ``no_grad`` (wrapping
only), the op while recording a graph, and forward + backward. On 4-element tensors the array
work is negligible, so the differences are the framework's Python overhead per op. Ops whose
results cannot be differentiated (comparisons, argmax) have no forward + backward time.
"""
from __future__ import annotations

import argparse
import json
import sys
import timeit
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .report import atomic_write_text, overhead_markdown
from .tg_api import F, tg

a = np.array([[0.5, 1.5], [2.5, 3.5]], dtype=np.float32)
b = np.array([[1.25, 0.75], [0.5, 2.0]], dtype=np.float32)
labels = np.array([0, 1])
cond = a > 1
idx = np.array([1, 0, 1])
unit = a / 4
U = tg.Tensor(unit, requires_grad=True)

# op name -> (NumPy call on arrays, tinygrad_np call on tensors A, B)
CASES: dict[str, tuple[Callable[[], Any], Callable[[Any, Any], Any]]] = {
    "add": (lambda: a + b, lambda A, B: A + B),
    "sub": (lambda: a - b, lambda A, B: A - B),
    "mul": (lambda: a * b, lambda A, B: A * B),
    "div": (lambda: a / b, lambda A, B: A / B),
    "pow": (lambda: a ** b, lambda A, B: A ** B),
    "neg": (lambda: -a, lambda A, B: -A),
    "exp": (lambda: np.exp(a), lambda A, B: A.exp()),
    "log": (lambda: np.log(a), lambda A, B: A.log()),
    "sqrt": (lambda: np.sqrt(a), lambda A, B: A.sqrt()),
    "abs": (lambda: np.abs(a), lambda A, B: A.abs()),
    "tanh": (lambda: np.tanh(a), lambda A, B: A.tanh()),
    "sigmoid": (lambda: 1 / (1 + np.exp(-a)), lambda A, B: A.sigmoid()),
    "relu": (lambda: np.maximum(a, 0), lambda A, B: A.relu()),
    "leaky_relu": (lambda: np.where(a > 0, a, 0.01 * a), lambda A, B: A.leaky_relu()),
    "maximum": (lambda: np.maximum(a, b), lambda A, B: tg.maximum(A, B)),
    "minimum": (lambda: np.minimum(a, b), lambda A, B: tg.minimum(A, B)),
    "where": (lambda: np.where(cond, a, b), lambda A, B: tg.where(cond, A, B)),
    "clip": (lambda: np.clip(a, 1, 3), lambda A, B: A.clip(1, 3)),
    "matmul": (lambda: a @ b, lambda A, B: A @ B),
    "linear": (lambda: a @ b + b[0], lambda A, B: F.linear(A, B, B[0])),
    "sum": (lambda: a.sum(axis=0), lambda A, B: A.sum(axis=0)),
    "mean": (lambda: a.mean(axis=0), lambda A, B: A.mean(axis=0)),
    "var": (lambda: a.var(axis=0), lambda A, B: A.var(axis=0)),
    "max": (lambda: a.max(axis=0), lambda A, B: A.max(axis=0)),
    "min": (lambda: a.min(axis=0), lambda A, B: A.min(axis=0)),
    "logsumexp": (lambda: np.log(np.exp(a).sum(axis=1)), lambda A, B: A.logsumexp(axis=1)),
    "softmax": (lambda: np.exp(a) / np.exp(a).sum(axis=1, keepdims=True), lambda A, B: A.softmax(axis=1)),
    "log_softmax": (lambda: a - np.log(np.exp(a).sum(axis=1, keepdims=True)), lambda A, B: A.log_softmax(axis=1)),
    "reshape": (lambda: a.reshape(4), lambda A, B: A.reshape(4)),
    "transpose": (lambda: a.T, lambda A, B: A.T),
    "expand": (lambda: np.broadcast_to(a[:1], (2, 2)), lambda A, B: A[:1].expand(2, 2)),
    "getitem": (lambda: a[idx], lambda A, B: A[idx]),
    "scatter_add": (lambda: np.add.at(np.zeros((2, 2), np.float32), idx, a[[0, 1, 0]]),
                    lambda A, B: tg.Tensor.apply("scatter_add", A[[0, 1, 0]], index=idx, shape=(2, 2))),
    "concatenate": (lambda: np.concatenate([a, b]), lambda A, B: tg.concatenate([A, B])),
    "stack": (lambda: np.stack([a, b]), lambda A, B: tg.stack([A, B])),
    "cross_entropy": (lambda: (np.log(np.exp(a).sum(axis=1)) - a[[0, 1], labels]).mean(),
                      lambda A, B: F.cross_entropy(A, labels)),
    "linear_act": (lambda: np.maximum(a @ b + b[0], 0),
                   lambda A, B: tg.Tensor.apply("linear_act", A, B, B[0], activation="relu")),
    "sign": (lambda: np.sign(a), lambda A, B: A.sign()),
    "std": (lambda: a.std(axis=0), lambda A, B: A.std(axis=0)),
    "cast": (lambda: a.astype(np.float64), lambda A, B: A.astype(np.float64)),
    # not differentiable (integer or boolean results): no forward+backward column
    "argmax": (lambda: a.argmax(axis=0), lambda A, B: A.argmax(axis=0)),
    "argmin": (lambda: a.argmin(axis=0), lambda A, B: A.argmin(axis=0)),
    "equal": (lambda: a == b, lambda A, B: A == B),
    "not_equal": (lambda: a != b, lambda A, B: A != B),
    "less": (lambda: a < b, lambda A, B: A < B),
    "less_equal": (lambda: a <= b, lambda A, B: A <= B),
    "greater": (lambda: a > b, lambda A, B: A > B),
    "greater_equal": (lambda: a >= b, lambda A, B: A >= B),
    # contractions and shape ops (op coverage)
    "einsum": (lambda: np.einsum("ij,jk->ik", a, b), lambda A, B: tg.einsum("ij,jk->ik", A, B)),
    "diagonal": (lambda: np.diagonal(a), lambda A, B: A.diagonal()),
    "flip": (lambda: np.flip(a, 0), lambda A, B: A.flip(0)),
    "roll": (lambda: np.roll(a, 1, 1), lambda A, B: A.roll(1, 1)),
    "repeat": (lambda: np.repeat(a, 2, 0), lambda A, B: A.repeat(2, 0)),
    "tril": (lambda: np.tril(a), lambda A, B: A.tril()),
    "triu": (lambda: np.triu(a), lambda A, B: A.triu()),
    # op coverage: more elementwise ops, products, scans, norms (arcsin/arccos on U = a / 4, inside [-1, 1])
    "sin": (lambda: np.sin(a), lambda A, B: A.sin()),
    "cos": (lambda: np.cos(a), lambda A, B: A.cos()),
    "tan": (lambda: np.tan(a), lambda A, B: A.tan()),
    "sinh": (lambda: np.sinh(a), lambda A, B: A.sinh()),
    "cosh": (lambda: np.cosh(a), lambda A, B: A.cosh()),
    "arcsin": (lambda: np.arcsin(unit), lambda A, B: U.arcsin()),
    "arccos": (lambda: np.arccos(unit), lambda A, B: U.arccos()),
    "arctan": (lambda: np.arctan(a), lambda A, B: A.arctan()),
    "arctan2": (lambda: np.arctan2(a, b), lambda A, B: A.arctan2(B)),
    "square": (lambda: np.square(a), lambda A, B: A.square()),
    "log1p": (lambda: np.log1p(a), lambda A, B: A.log1p()),
    "expm1": (lambda: np.expm1(a), lambda A, B: A.expm1()),
    "log2": (lambda: np.log2(a), lambda A, B: A.log2()),
    "log10": (lambda: np.log10(a), lambda A, B: A.log10()),
    "exp2": (lambda: np.exp2(a), lambda A, B: A.exp2()),
    "logaddexp": (lambda: np.logaddexp(a, b), lambda A, B: A.logaddexp(B)),
    "softplus": (lambda: np.logaddexp(a, 0), lambda A, B: A.softplus()),
    "gelu": (lambda: a * 0.5 * (1 + np.tanh(0.7978845608 * (a + 0.044715 * a ** 3))), lambda A, B: A.gelu("tanh")),
    "silu": (lambda: a / (1 + np.exp(-a)), lambda A, B: A.silu()),
    "mish": (lambda: a * np.tanh(np.logaddexp(a, 0)), lambda A, B: A.mish()),
    "elu": (lambda: np.where(a > 0, a, np.expm1(a)), lambda A, B: A.elu()),
    "relu6": (lambda: np.clip(a, 0, 6), lambda A, B: A.relu6()),
    "hardswish": (lambda: a * np.clip(a + 3, 0, 6) / 6, lambda A, B: A.hardswish()),
    "erf": (lambda: tg.ops.special.erf(a), lambda A, B: A.erf()),
    "erfc": (lambda: tg.ops.special.erfc(a), lambda A, B: A.erfc()),
    "hypot": (lambda: np.hypot(a, b), lambda A, B: A.hypot(B)),
    "prod": (lambda: a.prod(axis=0), lambda A, B: A.prod(axis=0)),
    "cumsum": (lambda: a.cumsum(axis=1), lambda A, B: A.cumsum(axis=1)),
    "cumprod": (lambda: a.cumprod(axis=1), lambda A, B: A.cumprod(axis=1)),
    "norm": (lambda: np.linalg.norm(a, axis=1), lambda A, B: A.norm(axis=1)),
    # the CNN family, on a as a 1x1x2x2 image (b as a 2x2 kernel)
    "conv2d": (lambda: (a * b).sum().reshape(1, 1, 1, 1),
               lambda A, B: F.conv2d(A.reshape(1, 1, 2, 2), B.reshape(1, 1, 2, 2))),
    "conv_transpose2d": (lambda: (a[0, 0] * b).reshape(1, 1, 2, 2),
                         lambda A, B: F.conv_transpose2d(A[:1, :1].reshape(1, 1, 1, 1), B.reshape(1, 1, 2, 2))),
    "conv2d_weight": (lambda: (a * b[0, 0]).reshape(1, 1, 2, 2), lambda A, B: tg.Tensor.apply(
        "conv2d_weight", A.reshape(1, 1, 2, 2), B[:1, :1].reshape(1, 1, 1, 1), kernel_size=(2, 2))),
    "unfold": (lambda: a.reshape(1, 1, 4), lambda A, B: F.unfold(A.reshape(1, 1, 2, 2), 1)),
    "fold": (lambda: a.reshape(1, 1, 2, 2), lambda A, B: F.fold(A.reshape(1, 1, 4), (2, 2), 1)),
    "max_pool2d": (lambda: a.max().reshape(1, 1, 1, 1), lambda A, B: F.max_pool2d(A.reshape(1, 1, 2, 2), 2)),
    "avg_pool2d": (lambda: a.mean().reshape(1, 1, 1, 1), lambda A, B: F.avg_pool2d(A.reshape(1, 1, 2, 2), 2)),
    "pad": (lambda: np.pad(a, 1), lambda A, B: tg.pad(A, 1)),
    "standardize": (lambda: (a - a.mean(axis=1, keepdims=True)) / np.sqrt(a.var(axis=1, keepdims=True) + 1e-5),
                    lambda A, B: tg.Tensor.apply("standardize", A, axis=1)),
}


def _us(f: Callable[[], Any], number: int) -> float:
    return min(timeit.repeat(f, number=number, repeat=5)) / number * 1e6


def measure(number: int = 2000) -> list[dict[str, Any]]:
    missing = set(getattr(tg, "OPS", ())) - set(CASES)
    if missing:
        raise RuntimeError(f"op_overhead has no case for ops {sorted(missing)}")
    A, B = tg.Tensor(a), tg.Tensor(b)
    Ar, Br = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    rows = []
    for name in sorted(CASES):
        np_call, tg_call = CASES[name]

        def no_grad() -> Any:
            with tg.no_grad():
                return tg_call(A, B)

        def fwd_bwd() -> None:
            out = tg_call(Ar, Br)
            out.backward(np.ones(out.shape, dtype=out.dtype))

        differentiable = bool(getattr(tg_call(Ar, Br), "requires_grad", False))
        rows.append({
            "op": name,
            "numpy_us": _us(np_call, number),
            "no_grad_us": _us(no_grad, number),
            "recording_us": _us(lambda: tg_call(Ar, Br), number),
            "fwd_bwd_us": _us(fwd_bwd, max(number // 4, 1)) if differentiable else None,
        })
    return rows


def main(argv: Sequence[str] | None = None) -> list[dict[str, Any]]:
    p = argparse.ArgumentParser(prog="python -m benchmarks.op_overhead", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer timing loops (a smoke test)")
    p.add_argument("--out", type=Path, default=Path("benchmarks/results"))
    args = p.parse_args(argv)
    rows = measure(number=50 if args.quick else 2000)
    md = overhead_markdown(rows)
    print(md)
    args.out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(args.out / "op_overhead.json", json.dumps({"benchmark": "op_overhead", "rows": rows}, indent=2))
    atomic_write_text(args.out / "op_overhead.md", md)
    print(f"wrote {args.out / 'op_overhead.json'} and .md", file=sys.stderr)
    return rows


if __name__ == "__main__":
    main()
