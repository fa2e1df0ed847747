"""Experiments on derivatives: ``python -m experiments NAME --help``.

* ``eps-sweep``  (:mod:`.eps_sweep`): finite-difference error vs step size (the V shape);
* ``mlp-check``  (:mod:`.mlp_check`): MNIST MLP gradients, autograd vs hand-derived vs finite differences;
* ``mutants``    (:mod:`.mutants`): injected wrong VJP, JVP and batching rules, and which check catches each;
* ``taylor``     (:mod:`.taylor`): Taylor-remainder slopes (2 and 3 when right, 1 for a wrong gradient);
* ``fwd-vs-rev`` (:mod:`.fwd_vs_rev`): time and memory of jacfwd, jacrev and looped Jacobians over n and m;
* ``checkpoint`` (:mod:`.checkpointing`): bytes kept for backward with and without ``tg.checkpoint``, and the time.

See docs/experiments.md.
"""
from __future__ import annotations

EXPERIMENTS = ("eps-sweep", "mlp-check", "mutants", "taylor", "fwd-vs-rev", "checkpoint")

__all__ = ["EXPERIMENTS"]
