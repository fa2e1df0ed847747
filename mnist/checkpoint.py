"""Checkpoints as plain ``.npz`` archives: written atomically, read with ``allow_pickle=False``.

Layout: every entry is an ndarray named ``group/name``:

* ``model/<param>``, ``best/<param>``   -- weights (``best`` only with early stopping);
* ``optim/<key>``, ``sched/<key>``      -- flat optimizer / scheduler state dicts;
* ``rng/<name>``                        -- a generator's ``bit_generator.state`` as JSON text;
* ``meta/<key>``                        -- JSON text (config, epoch, history, class names,
                                           normalization stats, image shape, ...).

JSON text is stored as a 0-d unicode array, so loading never needs pickle.
"""
from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .data.idx import atomic_open

__all__ = [
    "FORMAT_VERSION",
    "REQUIRED_META",
    "Checkpoint",
    "CheckpointError",
    "atomic_write_text",
    "json_array",
    "load_checkpoint",
    "rng_state",
    "save_checkpoint",
    "set_rng_state",
]

FORMAT_VERSION = 1
#: ``meta`` entries every checkpoint must have.
REQUIRED_META = ("format_version", "config", "epoch", "class_names", "image_shape", "norm", "history")


class CheckpointError(ValueError):
    """A checkpoint file is missing, unreadable, incomplete or does not fit the model."""


def json_array(value: Any) -> np.ndarray:
    """``value`` as JSON text in a 0-d unicode array (storable with ``allow_pickle=False``)."""
    return np.array(json.dumps(value))


def rng_state(rng: np.random.Generator) -> np.ndarray:
    """A generator's full state (``bit_generator.state``) as a JSON-text array."""
    return json_array(rng.bit_generator.state)


def set_rng_state(rng: np.random.Generator, state: np.ndarray | str | Mapping[str, Any]) -> None:
    """Restore a state saved by :func:`rng_state` into ``rng`` (in place)."""
    if isinstance(state, np.ndarray):
        state = str(state[()])
    rng.bit_generator.state = json.loads(state) if isinstance(state, str) else dict(state)


@dataclass
class Checkpoint:
    """The groups of a checkpoint: ``arrays[group][name] -> ndarray``; ``meta`` already decoded."""

    path: Path
    arrays: dict[str, dict[str, np.ndarray]] = field(default_factory=dict)
    meta: dict[str, Any] = field(default_factory=dict)

    def group(self, name: str) -> dict[str, np.ndarray]:
        """The entries of one group (empty dict if absent)."""
        return self.arrays.get(name, {})

    def check_shapes(self, group: str, expected: Mapping[str, np.ndarray]) -> None:
        """Raise :class:`CheckpointError` naming the file unless ``group`` has exactly the keys
        of ``expected`` with the same shapes."""
        have = self.group(group)
        missing = [k for k in expected if k not in have]
        extra = sorted(k for k in have if k not in expected)
        wrong = [
            f"{group}/{k}: shape {have[k].shape} in the file, the model needs {np.shape(v)}"
            for k, v in expected.items()
            if k in have and have[k].shape != np.shape(v)
        ]
        problems = []
        if missing:
            problems.append("missing " + ", ".join(f"{group}/{k}" for k in missing))
        if extra:
            problems.append("unexpected " + ", ".join(f"{group}/{k}" for k in extra))
        problems.extend(wrong)
        if problems:
            raise CheckpointError(f"{self.path}: checkpoint does not match the model: " + "; ".join(problems))


def save_checkpoint(
    path: str | os.PathLike[str],
    arrays: Mapping[str, Mapping[str, np.ndarray]],
    meta: Mapping[str, Any],
) -> Path:
    """Write ``arrays`` (group -> name -> ndarray) and ``meta`` (JSON-able values) to ``path``
    atomically (temporary file in the same folder, then ``os.replace``)."""
    path = Path(path)
    entries: dict[str, np.ndarray] = {}
    for group, items in arrays.items():
        for name, value in items.items():
            arr = np.asarray(value)
            if arr.dtype == object:
                raise TypeError(f"checkpoint entry {group}/{name} is an object array (not storable without pickle)")
            entries[f"{group}/{name}"] = arr
    entries["meta/format_version"] = json_array(FORMAT_VERSION)
    for key, value in meta.items():
        entries[f"meta/{key}"] = json_array(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_open(path, "wb") as f:
        np.savez(f, **entries)
    return path


def load_checkpoint(path: str | os.PathLike[str], required_meta: Iterable[str] = REQUIRED_META) -> Checkpoint:
    """Read and validate a checkpoint written by :func:`save_checkpoint`.

    Raises :class:`CheckpointError` naming the file when it does not exist, is not a valid
    ``.npz`` archive, holds pickled objects, or lacks the ``model`` group or a required meta entry.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "checkpoint.npz"
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    if not zipfile.is_zipfile(path):
        raise CheckpointError(f"{path}: not a checkpoint (.npz) file: not a zip archive (truncated or corrupt?)")
    ckpt = Checkpoint(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            for key in npz.files:
                group, sep, name = key.partition("/")
                if not sep:
                    raise CheckpointError(f"{path}: unexpected entry {key!r} (not a tinygrad_np MNIST checkpoint)")
                value = npz[key]
                if group == "meta":
                    ckpt.meta[name] = json.loads(str(value[()]))
                else:
                    ckpt.arrays.setdefault(group, {})[name] = value
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, json.JSONDecodeError) as e:
        raise CheckpointError(f"{path}: not a valid checkpoint file ({type(e).__name__}: {e})") from e
    missing = [f"meta/{k}" for k in required_meta if k not in ckpt.meta]
    if not ckpt.group("model"):
        missing.insert(0, "model/*")
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {', '.join(missing)}")
    version = ckpt.meta.get("format_version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version}, this program reads {FORMAT_VERSION}")
    return ckpt


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
