"""The compiler's fused ops: softmax cross-entropy's forward and VJP sharing their passes.

What it buys: the textbook ``CrossEntropy.vjp`` recomputes the softmax of the logits (a max, an
exponential, a sum and a division: the passes the forward has just made) and builds a one-hot
matrix from the labels to subtract (a comparison and a cast); recorded as registry ops, that is
six equations after the forward's own. Here the backward is recorded as one op, ``xent_grad``
(``CompiledCrossEntropy``, the node class the tracer makes for ``cross_entropy``), and
``fuse_cross_entropy`` then pairs it with the forward: the forward kernel leaves the softmax in
the buffer the VJP writes its result into, and the VJP subtracts 1 at each row's label and scales
(two NumPy calls). Measured by ``python -m benchmarks.epoch_time`` (the compiled rows).

Each op's ``forward`` is the textbook arithmetic itself, op for op (the kernels in ``kernels.py``
make the same NumPy calls into preallocated buffers), so the values are the eager engine's bits:

* ``xent_grad(z, y, s) = (softmax(z, axis=1) - onehot(y)) * s``, s the upstream gradient already
  divided by N (``mean``) or reshaped to a column (``none``), as ``CrossEntropy.vjp`` computes it;
* ``cross_entropy_softmax(z, y)`` = (the loss as ``CrossEntropy.forward`` computes it,
  ``softmax(z)`` (the exponentials of the max-shifted logits over their row sums: the very values
  ``Softmax.forward`` returns), the flat index ``i·C + yᵢ`` of each row's label);
* ``xent_grad_from_softmax(p, flat, s) = (p - onehot) * s``, the one-hot subtracted as
  ``p[i, yᵢ] - 1`` (``p - 0`` is ``p``, bit for bit).
"""
from __future__ import annotations

import numpy as np

from ...engine import Function, Tensor
from ...ops.nn import CrossEntropy
from ...ops.reduce import Softmax
from .program import Eqn, Program, Var
from .trace import NODE_CLASSES


class XentGrad(Function):
    """z̄ = (softmax(z) - onehot(y)) · s: cross-entropy's VJP as one op (see the module docstring)."""

    op_name = "xent_grad"

    @staticmethod
    def forward(z, labels, scale):
        onehot = np.equal(labels.reshape(-1, 1), np.arange(z.shape[1])).astype(z.dtype)
        return np.subtract(Softmax.forward(z, axis=1), onehot) * scale

    def vjp(self, i, g, y):  # pragma: no cover - a compiled step takes first derivatives only
        raise NotImplementedError("xent_grad is the compiler's; it is not differentiated again")


class CompiledCrossEntropy(CrossEntropy):
    """``cross_entropy`` with its VJP recorded as one ``xent_grad`` op (the same arithmetic as
    ``CrossEntropy.vjp``: the scale is ``g / N``, ``g`` or ``g`` as a column, as there)."""

    def vjp(self, i, g, y):
        z, labels = self.inputs
        scale = g.reshape(-1, 1) if self.reduction == "none" else g / z.shape[0] if self.reduction == "mean" else g
        return Tensor.apply(XentGrad, z, labels, scale)


CompiledCrossEntropy.__name__ = "CrossEntropy"  # (what errors and graphs call the node)
NODE_CLASSES[CrossEntropy] = CompiledCrossEntropy


class CrossEntropySoftmax(Function):
    """(loss, softmax(z), flat label index): the cross-entropy forward keeping what its VJP needs."""

    op_name = "cross_entropy+softmax"

    @staticmethod
    def forward(z, labels, reduction="mean"):
        loss = CrossEntropy.forward(z, labels, reduction)
        flat = np.arange(len(labels)) * z.shape[1] + labels
        return np.asarray(loss), Softmax.forward(z, axis=1), flat.astype(np.intp)


class XentGradFromSoftmax(Function):
    """(p - onehot(y)) · s from the forward's softmax p and flat label index."""

    op_name = "xent_grad"

    @staticmethod
    def forward(p, flat, scale):
        d = p.copy()
        d.reshape(-1)[flat] -= 1
        return d * scale


def fuse_cross_entropy(program: Program) -> None:
    """Pair each ``xent_grad(z, y, s)`` with the ``cross_entropy(z, y)`` forward of the same logits
    and labels: the forward becomes ``cross_entropy+softmax`` (two more outputs), the VJP
    ``xent_grad(p, flat, s)``."""
    forwards = {}
    for e in program.eqns:
        if e.op is CrossEntropy:
            forwards[(e.ins[0].id, e.ins[1].id)] = e
    for k, e in enumerate(program.eqns):
        if e.op is not XentGrad:
            continue
        fwd = forwards.get((e.ins[0].id, e.ins[1].id))
        if fwd is None:
            continue
        z = e.ins[0]
        if fwd.op is CrossEntropy:
            p: Var = program.new_value(z.shape, z.dtype)
            flat: Var = program.new_value((z.shape[0],), np.dtype(np.intp))
            fwd.op, fwd.outs = CrossEntropySoftmax, [fwd.outs[0], p, flat]
        else:  # (a second VJP of one forward: share its outputs)
            p, flat = fwd.outs[1], fwd.outs[2]
        program.eqns[k] = Eqn(XentGradFromSoftmax, [p, flat, e.ins[2]], e.outs, {}, e.phase)
