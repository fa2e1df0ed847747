"""The fast layer: everything in tinygrad_np that exists only for speed, in one place.

The textbook engine (``engine.py``, ``ops/``, ``nn``, ``optim``) computes every result on its
own. This package plugs faster implementations of some of its pieces into named seams; each
gives the same bits as the piece it replaces (tests compare them), and each module opens with
what it buys and the benchmark command that measures it:

* ``forwards`` faster forwards of some registry ops (``engine.LOWERED_FORWARDS``);
* ``vjps``   NumPy VJPs of the hot registry ops, for a plain backward pass (``engine.LOWERED_VJPS``);
* ``fused``  Linear + activation as one op, used by ``nn.Sequential`` (``nn.module.FUSED_PAIRS``);
* ``jit``    ``traced_step``: a training step's forward and backward traced once, replayed;
* ``conv``   conv2d keeps its im2col rows on the node for its weight gradient (CNN family).
* ``compiler`` ``tg.compile``: forward, backward and the optimizer's update as one plan per input
  signature: buffers planned once, every op a NumPy call with ``out=``, fused cross-entropy and
  update (``compiler/__init__.py`` lists its modules, each with what it buys).

One switch turns the seams off: the environment variable ``TINYGRAD_NP_FAST=0`` (read at
import), or ``with tinygrad_np.fast.disabled():`` (this thread). Results stay identical.
"""
from __future__ import annotations

import contextlib
from typing import Iterator

from .. import modes
from . import forwards, vjps  # noqa: F401  (register at the engine's seams)
from . import fused  # noqa: F401, E402  (registers its op and the Sequential pairs; uses the two above)
from . import conv  # noqa: F401, E402  (CNN family: conv2d keeps its im2col rows for its weight gradient)


def enabled() -> bool:
    """True while the fast layer's implementations are used (in this thread)."""
    return modes.state.fast


@contextlib.contextmanager
def switched(on: bool) -> Iterator[None]:
    """Inside the block (this thread) the fast layer is on or off."""
    saved, modes.state.fast = modes.state.fast, bool(on)
    try:
        yield
    finally:
        modes.state.fast = saved


def disabled() -> contextlib.AbstractContextManager[None]:
    """Inside the block (this thread) the textbook engine runs alone: the same results, slower."""
    return switched(False)
