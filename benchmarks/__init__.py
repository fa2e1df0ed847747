"""Benchmarks of tinygrad_np (see benchmarks/README.md).

User-facing, from the repository root:

    python -m benchmarks.epoch_time     # one training epoch: tinygrad_np, hand NumPy, peers, GEMM bound
    python -m benchmarks.op_overhead    # per-op overhead against the bare NumPy call

Developer tools are in ``benchmarks.dev`` (``ab_versions``, ``engine_floor``, ``anatomy``).
The benchmarks reach tinygrad_np through its public API only, in ``tg_api``; the hand-derived
baseline is ``mnist.reference`` from the project's app package (``baseline``).
"""
