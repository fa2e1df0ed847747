"""Contractions: ``einsum`` (any subscripts NumPy accepts) and ``diagonal``.

``einsum`` computes ``y[out] = Σ Πₖ xₖ[sₖ]``, the sum running over the letters that are not in
the output. Its rules read the subscripts in one explicit form (``parse_subscripts``: the
ellipses spelled out as letters, an implicit output written out), and then:

* input k's JVP is the same einsum with ẋₖ in xₖ's place (the product is linear in each operand);
* input k's VJP is an einsum of g with the other operands onto xₖ's letters (``vjp_plan``). The
  letters only xₖ has were summed by the forward, so the VJP is constant along them: it is
  broadcast back. A letter repeated in xₖ (``ii``) read only xₖ's diagonal, so the VJP goes
  onto that diagonal (``scatter_add`` at ``diagonal_entries``) and is 0 elsewhere;
* under vmap the batch axis is a fresh letter of the batched operands and of the output.

The composites ``tensordot``, ``dot``, ``inner`` (one einsum), ``outer`` (a product),
``trace`` and ``diag`` (``diagonal``, ``sum``, ``scatter_add``) are Tensor methods built on these.
"""
from __future__ import annotations

import functools
import string
from typing import NamedTuple, Sequence

import numpy as np

from ..batching import front, shift
from ..engine import Function, Tensor, register

#: einsum runs NumPy's contraction path (pairwise tensordots, BLAS) for 3+ operands or more entries
#: than this in all; below it, NumPy's C loop, which skips the path search (~10 µs) but not BLAS.
PATH_SIZE = 4096

#: einsum's labels. ASCII order (A-Z before a-z) is the order of an implicit output, as in NumPy.
LETTERS = string.ascii_letters


class Subscripts(NamedTuple):
    """Einsum subscripts in explicit form: one string of letters per operand, and the output's."""

    inputs: tuple[str, ...]
    output: str

    def __str__(self) -> str:
        return ",".join(self.inputs) + "->" + self.output


@functools.lru_cache(maxsize=1024)
def parse_subscripts(subscripts: str, ndims: tuple[int, ...]) -> Subscripts:
    """NumPy's einsum ``subscripts`` for operands with ``ndims`` dims, in explicit form.

    Each ``...`` becomes letters no subscript uses, one per dim it covers, right-aligned (the
    ellipsis dims of all operands broadcast together, as NumPy's do). Without ``->`` the output
    is the ellipsis dims, then the letters that occur once, in ASCII order. Spaces are ignored.
    """
    text = subscripts.replace(" ", "")
    lhs, arrow, out = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(ndims):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), got {len(ndims)}")
    for term in terms + ([out] if arrow else []):
        bad = [c for c in term.replace("...", "", 1) if c not in LETTERS]
        if bad:
            raise ValueError(f"einsum: invalid subscript {bad[0]!r} in {subscripts!r} "
                             "(letters and one '...' per operand)")
    covered = []  # dims each operand's ellipsis covers
    for k, (term, ndim) in enumerate(zip(terms, ndims)):
        named = len(term.replace("...", "", 1))
        if named > ndim or (named < ndim and "..." not in term):
            raise ValueError(f"einsum: operand {k} has {ndim} dims, subscripts {term!r} name {named}")
        covered.append(ndim - named)
    spare = [c for c in LETTERS if c not in text]
    n_ellipsis = max(covered, default=0)
    if n_ellipsis > len(spare):
        raise ValueError(f"einsum: {subscripts!r} needs more than {len(LETTERS)} letters")
    ellipsis = "".join(spare[:n_ellipsis])
    inputs = tuple(t.replace("...", ellipsis[n_ellipsis - c:], 1) for t, c in zip(terms, covered))
    if not arrow:
        named = "".join(terms)
        output = ellipsis + "".join(sorted(c for c in set(named) if c in LETTERS and named.count(c) == 1))
    elif "..." in out:
        output = out.replace("...", ellipsis, 1)
    elif n_ellipsis:
        raise ValueError(f"einsum: {subscripts!r} has no '...' in its output for the operands' ellipsis dims")
    else:
        output = out
    if len(set(output)) != len(output) or not set(output) <= set("".join(inputs)):
        raise ValueError(f"einsum: output {out!r} repeats a letter or has one no operand has")
    return Subscripts(inputs, output)


def vjp_plan(sub: Subscripts, k: int, shapes: Sequence[tuple[int, ...]]) -> tuple[str, str, str]:
    """Input k's VJP as an einsum: ``(subscripts, kept, letters)``.

    ``letters`` are xₖ's letters, each once, in order of appearance; ``kept`` those that the
    output or another operand also has and that have size > 1 in xₖ; ``subscripts`` contracts g
    (the output's letters) with the other operands onto ``kept``. Along the other letters the
    VJP is constant and is broadcast afterwards: the forward summed them over xₖ alone, or
    broadcast a size-1 axis of xₖ (then the einsum has summed over it already)."""
    mine = sub.inputs[k]
    others = [s for j, s in enumerate(sub.inputs) if j != k]
    elsewhere = set(sub.output).union(*others)
    sizes = dict(zip(mine, shapes[k]))
    letters = "".join(dict.fromkeys(mine))
    kept = "".join(c for c in letters if c in elsewhere and sizes[c] != 1)
    return ",".join([sub.output, *others]) + "->" + kept, kept, letters


def diagonal_entries(mine: str, letters: str, shape: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The entries of an operand with subscripts ``mine`` (a letter repeated) that einsum reads:
    an integer array per axis, its letter's positions laid out on the grid of ``letters``, so
    that ``x[index]`` has one entry per assignment of the letters (``ii``: the diagonal)."""
    sizes = dict(zip(mine, shape))
    index = []
    for c in mine:
        at = letters.index(c)
        index.append(np.arange(sizes[c]).reshape([sizes[c] if p == at else 1 for p in range(len(letters))]))
    return tuple(index)


def fresh_letter(sub: Subscripts) -> str:
    """A letter the subscripts do not use (vmap's batch axis)."""
    used = set("".join(sub.inputs))
    for c in LETTERS:
        if c not in used:
            return c
    raise ValueError(f"einsum: no letter left for vmap's batch axis in {sub}")


@register("einsum")
class Einsum(Function):
    """y[out] = Σ Πₖ xₖ[sₖ] over the letters not in out (NumPy's einsum: '...', implicit output,
    repeated letters).   VJP: x̄ₖ = einsum(g, the other operands) onto xₖ's letters (broadcast
    along the letters only xₖ has, put on the diagonal of a repeated letter).
    JVP: ẏ = Σₖ einsum(x₁..ẋₖ..xₙ)."""

    is_view = True  # with one operand NumPy may return a view ('ij->ji', 'ii->i'); else only conservative

    @staticmethod
    def forward(*operands, subscripts):
        if not isinstance(subscripts, str):
            raise TypeError(f"einsum: subscripts must be a str, got {type(subscripts).__name__}")
        if not operands:
            raise ValueError("einsum: needs at least one operand")
        path = len(operands) > 2 or sum(a.size for a in operands) > PATH_SIZE
        return np.einsum(subscripts, *operands, optimize=path)

    def parsed(self) -> Subscripts:
        return parse_subscripts(self.subscripts, tuple(x.ndim for x in self.inputs))

    def vjp(self, i, g, y):
        sub, shapes = self.parsed(), [x.shape for x in self.inputs]
        plan, kept, letters = vjp_plan(sub, i, shapes)
        others = [x for j, x in enumerate(self.inputs) if j != i]
        r = g if not others and kept == sub.output else Tensor.apply("einsum", g, *others, subscripts=plan)
        sizes = dict(zip(sub.inputs[i], shapes[i]))
        found = iter(r.shape)
        r = r.reshape([next(found) if c in kept else 1 for c in letters]).expand([sizes[c] for c in letters])
        if len(letters) == len(sub.inputs[i]):  # no letter repeats: letters are xᵢ's axes
            return r
        index = diagonal_entries(sub.inputs[i], letters, shapes[i])
        return Tensor.apply("scatter_add", r, index=index, shape=shapes[i])

    def jvp(self, i, t, y):
        operands = list(self.inputs)
        operands[i] = t
        return Tensor.apply("einsum", *operands, subscripts=self.subscripts)

    @classmethod
    def batch(cls, values, bdims, params, level):
        """One einsum of the stacks: the batch axis is a fresh letter of the batched operands and the output."""
        sub = parse_subscripts(params["subscripts"], tuple(v.ndim - (b is not None) for v, b in zip(values, bdims)))
        b = fresh_letter(sub)
        terms = [s if bd is None else b + s for s, bd in zip(sub.inputs, bdims)]
        args = [front(v, bd) for v, bd in zip(values, bdims)]
        return Tensor.apply(cls, *args, subscripts=",".join(terms) + "->" + b + sub.output), 0


def check_two_axes(op: str, ndim: int, axis1: int, axis2: int) -> None:
    """Two distinct axes of a tensor with ``ndim`` >= 2 dims, or a ValueError naming the op."""
    if ndim < 2:
        raise ValueError(f"{op}: needs a tensor with at least 2 dims, got {ndim}")
    for ax in (axis1, axis2):
        if not -ndim <= ax < ndim:
            raise ValueError(f"{op}: axis {ax} is out of range for a tensor with {ndim} dims")
    if axis1 % ndim == axis2 % ndim:
        raise ValueError(f"{op}: axis1 and axis2 are the same axis ({axis1}, {axis2})")


def diagonal_index(shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> tuple[tuple, int]:
    """``(index, at)``: ``a[index]`` holds the entries ``a[..., j, ..., j + offset, ...]`` over
    (axis1, axis2) (integer arrays on those axes), with the diagonal's axis at ``at`` (NumPy puts
    the axis of two separated integer arrays first, of adjacent ones in their place)."""
    ndim = len(shape)
    a1, a2 = axis1 % ndim, axis2 % ndim
    lo1, lo2 = max(-offset, 0), max(offset, 0)
    j = np.arange(max(0, min(shape[a1] - lo1, shape[a2] - lo2)))
    index: list = [slice(None)] * ndim
    index[a1], index[a2] = j + lo1, j + lo2
    return tuple(index), min(a1, a2) if abs(a1 - a2) == 1 else 0


@register("diagonal")
class Diagonal(Function):
    """y[..., j] = a[..., j, ..., j + offset, ...] over (axis1, axis2), a new last axis (np.diagonal).
    VJP: ā = zeros with g on that diagonal.   JVP: ẏ = diagonal(ȧ)."""

    is_view = True

    @staticmethod
    def forward(a, offset=0, axis1=0, axis2=1):
        check_two_axes("diagonal", a.ndim, axis1, axis2)
        return np.diagonal(a, offset, axis1, axis2)

    def vjp(self, i, g, y):
        shape = self.inputs[0].shape
        index, at = diagonal_index(shape, self.offset, self.axis1, self.axis2)
        return Tensor.apply("scatter_add", g.moveaxis(-1, at), index=index, shape=shape)

    def jvp(self, i, t, y):
        return Tensor.apply("diagonal", t, offset=self.offset, axis1=self.axis1, axis2=self.axis2)

    @classmethod
    def batch(cls, values, bdims, params, level):
        v = front(values[0], bdims[0])
        ndim = v.ndim - 1
        check_two_axes("diagonal", ndim, params.get("axis1", 0), params.get("axis2", 1))
        return Tensor.apply(cls, v, offset=params.get("offset", 0), axis1=shift(params.get("axis1", 0), ndim),
                            axis2=shift(params.get("axis2", 1), ndim)), 0
