"""The differentiable ops, one small ``Function`` class per op, grouped by family.

Importing this package fills ``tinygrad_np.autograd.OPS``: the one registry of ops that
tests, docs and experiments enumerate.
"""
from . import elementwise, linalg, movement, nn, reduce  # noqa: F401  (registers the ops)
from ..autograd import OPS

__all__ = ["OPS"]
