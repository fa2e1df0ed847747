"""Padding: ``pad`` grows each axis by (before, after) entries, NumPy's ``np.pad`` modes.

Every mode but ``constant`` fills the new entries with copies of entries of x, so the padded
tensor is a gather ``y = x[ix_(src_0, src_1, ...)]`` with one source index vector per axis
(``src_k = np.pad(arange(n_k), widths[k], mode)``, the same rule applied to the positions), and
its VJP is the matching scatter-add. ``constant`` surrounds x with a value: its VJP is the slice
of g where x sits.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..batching import front
from ..engine import Function, Tensor, register

#: NumPy's names of the modes (PyTorch's F.pad: constant, reflect, replicate = edge, circular = wrap)
MODES = ("constant", "reflect", "symmetric", "edge", "wrap")


def check_widths(widths: Any, shape: Sequence[int], mode: str) -> tuple[tuple[int, int], ...]:
    """``widths`` as one (before, after) pair of ints >= 0 per axis; a ValueError naming the op."""
    if mode not in MODES:
        raise ValueError(f"pad: mode must be one of {MODES}, got {mode!r}")
    try:
        pairs = tuple((int(b), int(a)) for b, a in widths)
    except (TypeError, ValueError):
        raise ValueError(f"pad: widths must be one (before, after) pair per axis, got {widths!r}") from None
    if len(pairs) != len(shape) or any(min(p) < 0 for p in pairs):
        raise ValueError(f"pad: widths {widths!r} must be {len(shape)} pairs of ints >= 0 for shape {tuple(shape)}")
    if mode != "constant" and any(n == 0 and max(p) > 0 for n, p in zip(shape, pairs)):
        raise ValueError(f"pad: mode {mode!r} cannot pad an empty axis (shape {tuple(shape)})")
    return pairs


def sources(shape: Sequence[int], widths: Sequence[tuple[int, int]], mode: str) -> tuple[np.ndarray, ...]:
    """For a mode that copies: the open-mesh index into x of every entry of the padded tensor."""
    return np.ix_(*[np.pad(np.arange(n), w, mode=mode) for n, w in zip(shape, widths)])


@register("pad")
class Pad(Function):
    """y = x with widths[k] = (before, after) new entries on axis k: ``value`` (mode constant) or copies
    of entries of x (reflect: mirrored without the edge, symmetric: with it, edge: repeated, wrap: periodic).
    VJP: constant: x̄ = g[the slice where x sits]; else x̄ = scatter_add(g, ix_(sources)) (copies add up).
    JVP: ẏ = pad(ẋ) (with 0 for constant)."""

    mode, value = "constant", 0.0

    @staticmethod
    def forward(x, widths, mode="constant", value=0.0):
        pairs = check_widths(widths, x.shape, mode)
        if mode == "constant":
            return np.pad(x, pairs, mode="constant", constant_values=value)
        return np.pad(x, pairs, mode=mode)

    def vjp(self, i, g, y):
        x = self.inputs[0]
        pairs = check_widths(self.widths, x.shape, self.mode)
        if self.mode == "constant":
            return g[tuple(slice(b, b + n) for (b, _), n in zip(pairs, x.shape))]
        return Tensor.apply("scatter_add", g, index=sources(x.shape, pairs, self.mode), shape=x.shape)

    def jvp(self, i, t, y):
        return Tensor.apply("pad", t, widths=self.widths, mode=self.mode, value=0.0)

    @classmethod
    def batch(cls, values, bdims, params, level):
        """The batch axis is not padded."""
        params["widths"] = ((0, 0),) + tuple(tuple(w) for w in params["widths"])
        return Tensor.apply(cls, front(values[0], bdims[0]), **params), 0
