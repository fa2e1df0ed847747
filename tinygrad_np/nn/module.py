"""``Parameter``, ``Module`` and ``Sequential``: the bookkeeping layer over Tensors.

A ``Module`` registers every ``Parameter`` and sub-``Module`` assigned to one of its
attributes, in assignment order. ``named_parameters()`` walks the tree depth first (a
module's own parameters, then its children's), so names and order are deterministic::

    model = Sequential(Linear(2, 3), ReLU(), Linear(3, 1))
    [n for n, _ in model.named_parameters()]  # ['0.weight', '0.bias', '2.weight', '2.bias']

``state_dict()`` / ``load_state_dict()`` move parameter values in and out as plain
``np.ndarray`` copies (so a checkpoint is an ``.npz`` away); loading copies *into* the
existing arrays, so optimizers holding the parameters keep working.

**Buffers** are a module's tensors that are state but not trained (BatchNorm's running mean and
variance): ``register_buffer(name, value)`` registers one, ``named_buffers()`` walks them like the
parameters, ``state_dict()`` holds them after each module's parameters (PyTorch's order) unless
registered with ``persistent=False``, and optimizers never see them (``parameters()`` does not
list them). A module changes its buffers in place (``buffer.update_(...)``), outside any graph.
"""
from __future__ import annotations

import contextlib
from typing import Any, Callable, Iterator, Mapping, NamedTuple, Sequence

import numpy as np

from .. import modes
from ..engine import Tensor, as_array

__all__ = [
    "Parameter", "Module", "Sequential", "IncompatibleKeys", "StateDictKeyError", "swap_parameters",
]


class Parameter(Tensor):
    """A leaf Tensor that a ``Module`` registers as trainable (``requires_grad=True``).

    ``Parameter(data, dtype=None)``: Python numbers/lists become float32 (or ``dtype``); a
    float ndarray keeps its dtype and is used as is (not copied); integer arrays become float32.
    """

    __slots__ = ()

    def __init__(self, data: Any, dtype: Any = None) -> None:
        arr = as_array(data, dtype)
        if dtype is None and arr.dtype.kind != "f":
            arr = arr.astype(np.float32)
        super().__init__(arr, requires_grad=True)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class StateDictKeyError(KeyError):
    """Missing or unexpected keys in a state dict (a ``KeyError`` whose message prints plainly)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


def check_state_keys(expected: Sequence[str], given: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """(missing, unexpected) key lists: missing in ``expected`` order, unexpected sorted."""
    exp = set(expected)
    missing = [k for k in expected if k not in given]
    unexpected = sorted(k for k in given if k not in exp)
    return missing, unexpected


def raise_key_error(owner: str, missing: list[str], unexpected: list[str]) -> None:
    """Raise ``StateDictKeyError`` naming every missing and unexpected key (if there are any)."""
    parts = []
    if missing:
        parts.append(f"missing keys {missing}")
    if unexpected:
        parts.append(f"unexpected keys {unexpected}")
    if parts:
        raise StateDictKeyError(f"{owner}.load_state_dict: " + "; ".join(parts))


def check_state_values(owner: str, pairs: Sequence[tuple[str, np.ndarray, Any]]) -> list[np.ndarray]:
    """Validate ``(key, target_array, given_value)`` triples: same shape and dtype.

    Returns the given values as ndarrays; raises one ``ValueError`` listing every mismatch
    (key, expected and given shape or dtype).
    """
    problems, values = [], []
    for key, target, value in pairs:
        arr = value.data if isinstance(value, Tensor) else np.asarray(value)
        if arr.shape != target.shape:
            problems.append(f"{key!r}: shape {arr.shape} given, expected {target.shape}")
        elif arr.dtype != target.dtype:
            problems.append(f"{key!r}: dtype {arr.dtype} given, expected {target.dtype}")
        values.append(arr)
    if problems:
        raise ValueError(f"{owner}.load_state_dict: " + "; ".join(problems))
    return values


class Module:
    """Base class of layers and models.

    Subclasses call ``super().__init__()`` first, assign ``Parameter`` s and sub-``Module`` s
    to attributes (they are registered automatically) and implement ``forward``;
    ``module(x)`` calls ``module.forward(x)``.
    """

    training: bool

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", {})
        object.__setattr__(self, "_modules", {})
        object.__setattr__(self, "_buffers", {})
        object.__setattr__(self, "_non_persistent", set())
        object.__setattr__(self, "training", True)

    # ------------------------------------------------------------------ registration
    # Registered parameters and sub-modules live in the registries (``_parameters``,
    # ``_modules``: names in registration order) *and* in the instance ``__dict__``, so reading
    # ``self.weight`` is a plain attribute lookup (about 10x faster than a ``__getattr__`` hook,
    # which this class therefore does not need).
    # Every write goes through the methods below, which keep the two in step.
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params: dict[str, Parameter | None] | None = d.get("_parameters")
        modules: dict[str, Module | None] | None = d.get("_modules")
        buffers: dict[str, Tensor | None] | None = d.get("_buffers")
        if isinstance(value, (Parameter, Module)):
            if params is None or modules is None:
                raise AttributeError(
                    f"cannot assign {type(value).__name__} {name!r} before Module.__init__() "
                    f"(call super().__init__() first in {type(self).__name__}.__init__)"
                )
            if buffers is not None and name in buffers:
                raise TypeError(f"cannot assign {type(value).__name__} to buffer {name!r} of "
                                f"{type(self).__name__} (use a Tensor, an ndarray or None)")
            if isinstance(value, Parameter):
                modules.pop(name, None)
                params[name] = value
            else:
                params.pop(name, None)
                modules[name] = value
            d[name] = value
            return
        if params is not None and name in params:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to parameter {name!r} of "
                                f"{type(self).__name__} (use nn.Parameter or None)")
            params[name] = d[name] = None
            return
        if modules is not None and name in modules:
            if value is not None:
                raise TypeError(f"cannot assign {type(value).__name__} to sub-module {name!r} of "
                                f"{type(self).__name__} (use an nn.Module or None)")
            modules[name] = d[name] = None
            return
        if buffers is not None and name in buffers:  # a new value for a buffer: it stays one
            buffers[name] = d[name] = _buffer_value(self, name, value)
            return
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        d = self.__dict__
        if name in d.get("_parameters", ()):
            del d["_parameters"][name]
            d.pop(name, None)
        elif name in d.get("_modules", ()):
            del d["_modules"][name]
            d.pop(name, None)
        elif name in d.get("_buffers", ()):
            del d["_buffers"][name]
            d["_non_persistent"].discard(name)
            d.pop(name, None)
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules) | set(self._buffers))

    def register_parameter(self, name: str, param: Parameter | None) -> None:
        """Register ``param`` (or an empty slot, ``None``) under ``name``."""
        if param is not None and not isinstance(param, Parameter):
            raise TypeError(f"register_parameter: {name!r} must be an nn.Parameter or None, "
                            f"got {type(param).__name__}")
        self._modules.pop(name, None)
        self._parameters[name] = self.__dict__[name] = param

    def register_buffer(self, name: str, value: Any, persistent: bool = True) -> None:
        """Register ``value`` (a Tensor, an array, or None for an empty slot) as buffer ``name``: state
        that is not a parameter. ``persistent=False`` keeps it out of ``state_dict()``."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"register_buffer: the name must be a non-empty string without '.', got {name!r}")
        if name in self._parameters or name in self._modules:
            raise KeyError(f"register_buffer: {name!r} is already a parameter or sub-module of {type(self).__name__}")
        if isinstance(value, (Parameter, Module)):
            raise TypeError(f"register_buffer: {name!r} must be a Tensor, an ndarray or None, "
                            f"got {type(value).__name__}")
        self._buffers[name] = self.__dict__[name] = _buffer_value(self, name, value)
        if persistent:
            self._non_persistent.discard(name)
        else:
            self._non_persistent.add(name)

    def add_module(self, name: str, module: "Module | None") -> None:
        """Register ``module`` (or an empty slot, ``None``) under ``name``."""
        if module is not None and not isinstance(module, Module):
            raise TypeError(f"add_module: {name!r} must be an nn.Module or None, got {type(module).__name__}")
        self._parameters.pop(name, None)
        self._modules[name] = self.__dict__[name] = module

    # ------------------------------------------------------------------ traversal
    def named_children(self) -> list[tuple[str, "Module"]]:
        """Direct sub-modules with their attribute names, in registration order."""
        return [(n, m) for n, m in self._modules.items() if m is not None]

    def children(self) -> list["Module"]:
        return [m for _, m in self.named_children()]

    def named_modules(self, prefix: str = "") -> list[tuple[str, "Module"]]:
        """Every module in the tree, ``self`` first (named ``prefix``), depth first, each once."""
        out: list[tuple[str, Module]] = []
        seen: set[int] = set()

        def visit(m: Module, name: str) -> None:
            if id(m) in seen:
                return
            seen.add(id(m))
            out.append((name, m))
            for child_name, child in m.named_children():
                visit(child, f"{name}.{child_name}" if name else child_name)

        visit(self, prefix)
        return out

    def modules(self) -> list["Module"]:
        return [m for _, m in self.named_modules()]

    def named_parameters(self, prefix: str = "", remove_duplicate: bool = True) -> list[tuple[str, Parameter]]:
        """``(dotted name, parameter)`` pairs: a module's own parameters in registration order,
        then its children's, depth first. A parameter shared by several modules is listed once
        (under its first name) unless ``remove_duplicate=False``."""
        out: list[tuple[str, Parameter]] = []
        seen: set[int] = set()

        def visit(m: Module, name: str, path: tuple[int, ...]) -> None:
            for pname, p in m._parameters.items():
                if p is None or (remove_duplicate and id(p) in seen):
                    continue
                seen.add(id(p))
                out.append((f"{name}.{pname}" if name else pname, p))
            for child_name, child in m.named_children():
                if id(child) in path:  # a cycle: never recurse forever
                    continue
                if remove_duplicate and id(child) in visited:
                    continue
                visited.add(id(child))
                visit(child, f"{name}.{child_name}" if name else child_name, path + (id(child),))

        visited: set[int] = {id(self)}
        visit(self, prefix, (id(self),))
        return out

    def parameters(self) -> list[Parameter]:
        """All parameters, each once, in ``named_parameters()`` order."""
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "", remove_duplicate: bool = True) -> list[tuple[str, Tensor]]:
        """``(dotted name, buffer)`` pairs, in the order of ``named_parameters`` (each module's own, then
        its children's, depth first); a buffer shared by several modules is listed once unless
        ``remove_duplicate=False``."""
        return [(n, t) for n, t, _ in self._named_state(prefix, remove_duplicate) if not isinstance(t, Parameter)]

    def buffers(self) -> list[Tensor]:
        """All buffers, each once, in ``named_buffers()`` order."""
        return [t for _, t in self.named_buffers()]

    def _named_state(self, prefix: str = "", remove_duplicate: bool = False) -> list[tuple[str, Tensor, bool]]:
        """``(dotted name, tensor, persistent)`` for every parameter and buffer: per module its parameters,
        then its buffers, then its children's, depth first (PyTorch's state_dict order)."""
        out: list[tuple[str, Tensor, bool]] = []
        seen: set[int] = set()
        visited: set[int] = {id(self)}

        def visit(m: Module, name: str, path: tuple[int, ...]) -> None:
            own = [(k, p, True) for k, p in m._parameters.items()]
            own += [(k, b, k not in m._non_persistent) for k, b in m._buffers.items()]
            for key, t, persistent in own:
                if t is None or (remove_duplicate and id(t) in seen):
                    continue
                seen.add(id(t))
                out.append((f"{name}.{key}" if name else key, t, persistent))
            for child_name, child in m.named_children():
                if id(child) in path or (remove_duplicate and id(child) in visited):
                    continue
                visited.add(id(child))
                visit(child, f"{name}.{child_name}" if name else child_name, path + (id(child),))

        visit(self, prefix, (id(self),))
        return out

    def num_parameters(self) -> int:
        """Total number of scalar parameters (entries of all parameter arrays)."""
        return int(sum(p.size for p in self.parameters()))

    # ------------------------------------------------------------------ modes & grads
    def train(self, mode: bool = True) -> "Module":
        """Set ``training`` on this module and every sub-module (Dropout and BatchNorm read it); returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> "Module":
        """``train(False)``: Dropout becomes the identity, BatchNorm uses its running statistics."""
        return self.train(False)

    def zero_grad(self) -> None:
        """Set every parameter's ``.grad`` to None (gradients accumulate across backward calls)."""
        for p in self.parameters():
            p.grad = None

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, np.ndarray]:
        """``{dotted name: copy of the array}`` for every parameter slot and persistent buffer (each module's
        parameters, then its buffers, then its children's)."""
        return {name: t.data.copy() for name, t, persistent in self._named_state() if persistent}

    def load_state_dict(self, state: Mapping[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy ``state``'s arrays into the parameters and persistent buffers, in place (array identity is kept).

        With ``strict`` (default) the keys must match ``state_dict()``'s exactly, else a
        ``StateDictKeyError`` (a ``KeyError``) lists the missing and unexpected keys. Shapes and
        dtypes must match exactly in either mode, else a ``ValueError`` names each key with both
        shapes/dtypes. Everything is checked before anything is written.
        """
        owner = type(self).__name__
        named = [(n, t) for n, t, persistent in self._named_state() if persistent]
        missing, unexpected = check_state_keys([n for n, _ in named], state)
        if strict:
            raise_key_error(owner, missing, unexpected)
        present = [(n, p) for n, p in named if n in state]
        values = check_state_values(owner, [(n, p.data, state[n]) for n, p in present])
        for (_, p), v in zip(present, values):
            p.copy_(v)
        return IncompatibleKeys(missing, unexpected)

    # ------------------------------------------------------------------ calling & printing
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        raise NotImplementedError(f"{type(self).__name__} has no forward()")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    def extra_repr(self) -> str:
        """The text inside the parentheses of this module's one-line repr."""
        return ""

    def __repr__(self) -> str:
        children = self.named_children()
        if not children:
            return f"{type(self).__name__}({self.extra_repr()})"
        lines = [f"{type(self).__name__}("]
        if self.extra_repr():
            lines.append("  " + self.extra_repr())
        for name, child in children:
            body = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {body}")
        lines.append(")")
        return "\n".join(lines)


def _buffer_value(module: Module, name: str, value: Any) -> Tensor | None:
    """A buffer's value as a Tensor that does not require grad (arrays are wrapped, not copied)."""
    if value is None:
        return None
    if isinstance(value, Tensor):
        if value.requires_grad:
            raise TypeError(f"buffer {name!r} of {type(module).__name__}: a buffer does not require grad "
                            "(pass value.detach(), or register a Parameter)")
        return value
    return Tensor(np.asarray(value))


#: The fast layer's seam: (type of module A, type of module B) -> ``fused(a, b, x)`` computing
#: ``b(a(x))`` as one op, with the same values and gradients. ``tinygrad_np.fast`` fills it (Linear
#: then ReLU, Tanh or Sigmoid); it is used while ``modes.state.fast`` is on. Exact types: a subclass
#: that overrides ``forward`` is never fused by accident.
FUSED_PAIRS: dict[tuple[type, type], Callable[[Any, Any, Any], Any]] = {}


class Sequential(Module):
    """Chain of modules: ``forward(x) = m_k(... m_2(m_1(x)))``. Children are named "0", "1", ...

    Indexable (an int gives the module, a slice a new ``Sequential`` sharing the modules),
    ``len()`` and iterable.
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        for i, m in enumerate(modules):
            if not isinstance(m, Module):
                raise TypeError(f"Sequential: argument {i} is a {type(m).__name__}, not an nn.Module")
            self.add_module(str(i), m)

    def _list(self) -> list[Module]:
        return [m for m in self._modules.values() if m is not None]

    def __len__(self) -> int:
        return len(self._list())

    def __iter__(self) -> Iterator[Module]:
        return iter(self._list())

    def __getitem__(self, index: int | slice) -> "Module":
        mods = self._list()
        if isinstance(index, slice):
            return Sequential(*mods[index])
        return mods[index]

    def append(self, module: Module) -> "Sequential":
        """Add ``module`` at the end (named ``str(len(self))``); returns self."""
        self.add_module(str(len(self._modules)), module)
        return self

    def forward(self, x: Any) -> Any:
        """The modules in turn (with the fast layer on, a pair in ``FUSED_PAIRS`` runs as one op)."""
        modules = self._list()
        i, n = 0, len(modules)
        fast = modes.state.fast
        while i < n:
            m = modules[i]
            fused = FUSED_PAIRS.get((type(m), type(modules[i + 1]))) if fast and i + 1 < n else None
            if fused is None:
                x = m(x)
                i += 1
            else:
                x = fused(m, modules[i + 1], x)
                i += 2
        return x


@contextlib.contextmanager
def swap_parameters(module: Module, tensors: Sequence[Tensor] | Mapping[str, Tensor]) -> Iterator[Module]:
    """Temporarily make ``module`` compute with ``tensors`` instead of its parameters.

    ``tensors`` is a sequence in ``parameters()`` order or a mapping from the names of
    ``named_parameters()``; any Tensor (e.g. a plain leaf that requires grad) will do. Every
    slot holding a replaced parameter (shared ones too) is swapped, and all are restored on
    exit. This makes a module a function of its parameters, e.g. for ``gradcheck``::

        def loss_fn(*ps):
            with swap_parameters(model, ps):
                return model(x).sum()
    """
    named = module.named_parameters()
    if isinstance(tensors, Mapping):
        unknown = sorted(set(tensors) - {n for n, _ in named})
        if unknown:
            raise KeyError(f"swap_parameters: no parameters named {unknown}")
        replace = {id(p): tensors[n] for n, p in named if n in tensors}
    else:
        tensors = list(tensors)
        if len(tensors) != len(named):
            raise ValueError(f"swap_parameters: {len(tensors)} tensors given for {len(named)} parameters")
        replace = {id(p): t for (_, p), t in zip(named, tensors)}
    for (name, p) in named:
        t = replace.get(id(p))
        if t is not None and t.shape != p.shape:
            raise ValueError(f"swap_parameters: {name!r} has shape {p.shape}, replacement has shape {t.shape}")
    saved: list[tuple[Module, str, Parameter]] = []

    def put(m: Module, name: str, t: Any) -> None:  # the registry and the attribute, in step
        m._parameters[name] = m.__dict__[name] = t

    try:
        for m in module.modules():
            for name, p in list(m._parameters.items()):
                if p is not None and id(p) in replace:
                    saved.append((m, name, p))
                    put(m, name, replace[id(p)])
        yield module
    finally:
        for m, name, p in reversed(saved):
            put(m, name, p)
