"""In-place writes, and why a graph never reads values changed behind its back.

Every write the package performs or exposes (``copy_``, ``update_``: what optimizers use,
assigning ``.data``) takes the next tick of one clock and stamps it on the tensor
(``tensor._version``, a one-element list its views share). A node remembers the tick at which
it ran. Backward refuses a node whose inputs or output carry a later stamp, as PyTorch's
version counters do (``check_writes``). Arrays leave a tensor only as read-only views
(``readonly``), so a raw NumPy alias cannot write past the clock.
"""
from __future__ import annotations

import itertools
import threading
from typing import TYPE_CHECKING, Any, Callable

import numpy as np

if TYPE_CHECKING:  # pragma: no cover
    from .engine import Function, Tensor


class WriteClock:
    """When tensors were last written in place. One clock for the process (tensors move between
    threads), ticked under a lock; reading it (``WRITES.last``) is one attribute."""

    def __init__(self) -> None:
        self.last = 0
        self._ticks = itertools.count(1)
        self._lock = threading.Lock()
        self._mine = threading.local()  # this thread's last tick (``last_in_this_thread``)

    def stamp(self, t: "Tensor") -> None:
        self._lock.acquire()
        self.last = self._mine.last = t._version[0] = next(self._ticks)
        self._lock.release()

    def last_in_this_thread(self) -> int:
        """The tick of this thread's last write (0 before its first): it moves only when this thread writes."""
        return getattr(self._mine, "last", 0)


WRITES = WriteClock()


def check_writes(fn: "Function", y: "Tensor") -> None:
    """Refuse to differentiate through tensors written in place after ``fn`` used them."""
    for k, x in enumerate(fn.inputs):
        if x._version[0] > fn.clock:
            raise RuntimeError(f"one of the tensors needed for the gradient of {fn.name} was modified in place "
                               f"after the forward: its input {k} (shape {x.shape}, {x.dtype}) was written after "
                               f"{fn.name} ran (an optimizer step, copy_ or .data assignment before backward?)")
    if y._version[0] > fn.clock:
        raise RuntimeError(f"one of the tensors needed for the gradient of {fn.name} was modified in place after "
                           f"the forward: its output (shape {y.shape}, {y.dtype}) was written after {fn.name} ran")


def readonly(arr: np.ndarray) -> np.ndarray:
    """A read-only view of ``arr`` (what the engine hands out of a tensor's array)."""
    view = arr.view()
    view.setflags(write=False)
    return view


class InPlaceWrites:
    """``Tensor``'s ``.data`` and in-place methods: the only ways values change in place, each one stamped."""

    __slots__ = ()
    _data: np.ndarray
    shape: tuple[int, ...]

    @property
    def data(self) -> np.ndarray:
        """The values: a read-only view of the tensor's array."""
        return readonly(self._data)

    @data.setter
    def data(self, value: Any) -> None:
        """Replace the values (stamped as a write: a graph that saved this tensor refuses it)."""
        arr = np.asarray(value)  # an ndarray is shared, as in ``Tensor(ndarray)``
        self._data = arr if arr.flags.writeable else arr.copy()  # a Tensor's (read-only) values: copied
        WRITES.stamp(self)  # type: ignore[arg-type]

    def copy_(self, src: Any) -> Any:
        """Copy ``src``'s values into this tensor, in place (shape and dtype kept)."""
        arr = np.asarray(src)
        return self.update_(lambda a: np.copyto(a, np.broadcast_to(arr, a.shape), casting="unsafe"))

    def update_(self, update: Callable[[np.ndarray], Any]) -> Any:
        """Run ``update(array)`` on this tensor's array, in place, and stamp the write
        (optimizers: ``p.update_(lambda a: np.subtract(a, lr * g, out=a))``). Not recorded in any
        graph; a graph that saved this tensor before the write refuses it."""
        try:
            update(self._data)
        except ValueError as e:
            if self._data.flags.writeable:
                raise
            raise RuntimeError(f"cannot write into this tensor in place: its array (shape {self.shape}) is "
                               "read-only (e.g. a broadcast view); give it its own array first") from e
        finally:
            WRITES.stamp(self)  # type: ignore[arg-type]
        return self
