"""Gradient-checking experiments: ``python -m experiments NAME --help``.

* ``eps-sweep``  (:mod:`.eps_sweep`): finite-difference error vs step size (the V shape);
* ``mlp-check``  (:mod:`.mlp_check`): MNIST MLP gradients, autograd vs hand-derived vs finite differences;
* ``mutants``    (:mod:`.mutants`): injected wrong VJP and JVP rules, and which check catches each.

See docs/experiments.md.
"""
from __future__ import annotations

EXPERIMENTS = ("eps-sweep", "mlp-check", "mutants")

__all__ = ["EXPERIMENTS"]
