"""A base class for the tests' throwaway ops (right and deliberately wrong rules).

The engine asks an op for one input's VJP at a time (``vjp(i, g, y)``); a throwaway op is
easier to read with all of them at once, so these ops write ``vjps(g, y)`` returning a tuple
(one entry per input) and this base picks entry ``i``.
"""
from __future__ import annotations

from tinygrad_np import Function


class AllAtOnce(Function):
    """A Function whose ``vjps(g, y)`` returns every input's VJP (``vjp`` picks one)."""

    def vjps(self, g, y):  # pragma: no cover - overridden
        raise NotImplementedError

    def vjp(self, i, g, y):
        return self.vjps(g, y)[i]
