"""Linear + activation as one op, for ``nn.Sequential`` (the seam ``nn.module.FUSED_PAIRS``).

What it buys: one graph node instead of two per layer (one ``apply``, one backward step), the
activation written over the fresh product instead of into a new array, and in the backward the
activation's VJP computed once for the three inputs. Same values and gradients, bit for bit, as
``Linear`` followed by ``ReLU``/``Tanh``/``Sigmoid`` (``tests/engine/test_fast.py``). Measured by
``python -m benchmarks.dev.ab_versions`` with ``TINYGRAD_NP_FAST=0`` on one side.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from ..batching import composite
from ..engine import LOWERED_VJPS, Function, Tensor, register
from ..nn.layers import Linear, ReLU, Sigmoid, Tanh
from ..nn.module import FUSED_PAIRS
from ..ops.elementwise import ReLU as ReLUOp
from ..ops.elementwise import Sigmoid as SigmoidOp
from ..ops.elementwise import Tanh as TanhOp
from ..ops.linalg import Linear as LinearOp
from .forwards import lowers_forward, zeros_row
from .vjps import linear_vjp, lowers

#: activation name -> its op class (whose VJP reads only g and y)
ACTIVATIONS = {"relu": ReLUOp, "tanh": TanhOp, "sigmoid": SigmoidOp}


@register("linear_act")
class LinearAct(Function):
    """y = act(x @ W + b), act relu, tanh or sigmoid: ``linear`` then the activation, as one op.
    VJP: z̄ = act's VJP of g (from y alone), then linear's VJPs of z̄.   JVP: act's JVP of linear's."""

    @staticmethod
    def forward(x, w, b=None, activation="relu"):
        z = LinearOp.forward(x, w, b)  # a fresh array: the activation goes into it
        if activation == "relu":
            return np.maximum(z, 0, out=z)
        if activation == "tanh":
            return np.tanh(z, out=z)
        if activation == "sigmoid":
            return SigmoidOp.forward(z)
        raise ValueError(f"linear_act: activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")

    @property
    def name(self) -> str:
        """"Linear+ReLU" (etc.) in graphs, traces and errors."""
        act = self.__dict__.get("activation")  # (gone once backward has freed the node)
        return "Linear" if act is None else f"Linear+{ACTIVATIONS[act].__name__}"

    def vjp(self, i, g, y):
        return LinearOp.vjp(self, i, ACTIVATIONS[self.activation].vjp(self, 0, g, y), y)

    batch = classmethod(composite(lambda *xs, activation: Tensor.apply(activation, Tensor.apply("linear", *xs))))

    def jvp(self, i, t, y):
        return ACTIVATIONS[self.activation].jvp(self, 0, LinearOp.jvp(self, i, t, y), y)


@lowers_forward(LinearAct)
def linear_act_forward(fn, x, w, b=None, activation="relu"):
    """The textbook forward with the bias added into the fresh product and ReLU against a row of zeros."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"linear_act: activation must be one of {tuple(ACTIVATIONS)}, got {activation!r}")
    z = LinearOp.forward(x, w)
    if b is not None:
        np.add(z, b, out=z)
    if activation == "relu":
        return np.maximum(z, zeros_row(z), out=z)
    return np.tanh(z, out=z) if activation == "tanh" else SigmoidOp.forward(z)


@lowers(LinearAct)
def linear_act(fn, i, g, y):
    """The fused VJP: the activation's VJP of g once per backward step (cached on the node for
    the other inputs), then linear's lowered VJP."""
    cached = fn.__dict__.get("_act_vjp")
    if cached is None or cached[0] is not g:
        cached = fn._act_vjp = (g, LOWERED_VJPS[ACTIVATIONS[fn.activation]](fn, 0, g, y)._data)
    return Tensor._wrap(linear_vjp(i, fn.inputs[0]._data, fn.inputs[1]._data, cached[1]))


def fused(activation: str):
    """The ``FUSED_PAIRS`` entry for Linear then ``activation``: one ``linear_act`` op."""

    def run(linear: Linear, act: Any, x: Any) -> Tensor:
        if isinstance(x, Tensor) and x.level:  # a transformation's value: the plain modules, their own rules
            return act(linear(x))
        x = linear.prepare(x)
        inputs = (x, linear.weight) if linear.bias is None else (x, linear.weight, linear.bias)
        return Tensor.apply("linear_act", *inputs, activation=activation)

    return run


FUSED_PAIRS[Linear, ReLU] = fused("relu")
FUSED_PAIRS[Linear, Tanh] = fused("tanh")
FUSED_PAIRS[Linear, Sigmoid] = fused("sigmoid")
