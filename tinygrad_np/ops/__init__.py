"""The differentiable ops, one small ``Function`` class per op, grouped by family.

Importing this package fills ``tinygrad_np.engine.OPS``: the one registry of ops that tests,
docs and experiments enumerate.
"""
from ..engine import OPS
from . import elementwise, linalg, movement, nn, reduce  # noqa: F401  (registers the ops)
from . import contract  # noqa: F401, E402  (einsum, diagonal)
from . import conv, norm, pad, pool  # noqa: F401  (CNN family: convolutions, normalization, padding, pooling)

__all__ = ["OPS"]
