"""Checkpoints as plain ``.npz`` archives: written atomically, read with bounds and without pickle.

Layout: every entry is an ndarray named ``group/name``:

* ``model/<param>``, ``best/<param>``   -- weights (``best`` only with early stopping);
* ``optim/<key>``, ``sched/<key>``      -- flat optimizer / scheduler state dicts;
* ``rng/<name>``                        -- a generator's ``bit_generator.state`` as JSON text;
* ``meta/<key>``                        -- JSON text (config, epoch, history, class names,
                                           normalization stats, image shape, ...).

JSON text is stored as a 0-d unicode array, so loading never needs pickle.

A checkpoint is untrusted input. :func:`load_checkpoint` reads only the zip directory, the
``.npy`` header of every entry and the (size-limited) ``meta`` entries; it checks that every
entry's declared shape fits the bytes the archive really holds for it, and validates the
metadata (types, ranges, the configuration) before anything else is read. Arrays are read by
:meth:`Checkpoint.group`, after the caller has compared their declared shapes with the ones
its model needs (:meth:`Checkpoint.check_shapes`). Every error is a :class:`CheckpointError`
naming the file.
"""
from __future__ import annotations

import json
import math
import os
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from .config import TrainConfig
from .data.atomic import atomic_open
from .data.formats import MAX_CLASSES, MAX_SIDE

__all__ = [
    "FORMAT_VERSION",
    "MAX_META_BYTES",
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
#: largest ``meta/*`` or ``rng/*`` entry (JSON text) that is read
MAX_META_BYTES = 64 << 20
MAX_ENTRIES = 10_000
MAX_HEADER_BYTES = 10_000  # an .npy header (numpy's own limit)
MAX_DEFLATE_RATIO = 1100  # deflate cannot inflate more than ~1032:1


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


@dataclass(frozen=True)
class Entry:
    """One array of the archive as its ``.npy`` header declares it (checked against the archive)."""

    member: str  # the zip member name, e.g. "model/layers.0.weight.npy"
    shape: tuple[int, ...]
    dtype: np.dtype
    fortran_order: bool
    offset: int  # bytes of the .npy header before the data

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass
class Checkpoint:
    """A validated checkpoint: decoded ``meta``, its ``config``, and the declared arrays by group."""

    path: Path
    meta: dict[str, Any] = field(default_factory=dict)
    entries: dict[str, dict[str, Entry]] = field(default_factory=dict)
    config: TrainConfig | None = None
    _cache: dict[str, dict[str, np.ndarray]] = field(default_factory=dict, repr=False)

    def has_group(self, name: str) -> bool:
        return bool(self.entries.get(name))

    def shapes(self, group: str) -> dict[str, tuple[int, ...]]:
        """The declared shapes of a group's arrays (nothing is read)."""
        return {k: e.shape for k, e in self.entries.get(group, {}).items()}

    def check_shapes(self, group: str, expected: Mapping[str, Any]) -> None:
        """Raise :class:`CheckpointError` naming the file unless ``group`` has exactly the keys
        of ``expected`` (arrays or shapes) with the same shapes. Reads no array data."""
        have = self.shapes(group)
        want = {k: tuple(v) if isinstance(v, (tuple, list)) else tuple(np.shape(v)) for k, v in expected.items()}
        missing = [k for k in want if k not in have]
        extra = sorted(k for k in have if k not in want)
        wrong = [f"{group}/{k}: shape {have[k]} in the file, the model needs {v}"
                 for k, v in want.items() if k in have and have[k] != v]
        problems = []
        if missing:
            problems.append("missing " + ", ".join(f"{group}/{k}" for k in missing))
        if extra:
            problems.append("unexpected " + ", ".join(f"{group}/{k}" for k in extra))
        problems.extend(wrong)
        if problems:
            raise CheckpointError(f"{self.path}: checkpoint does not match the model: " + "; ".join(problems))

    def group(self, name: str, expected: Mapping[str, Any] | None = None) -> dict[str, np.ndarray]:
        """The arrays of one group (empty dict if absent), read from the file on first use;
        with ``expected``, :meth:`check_shapes` runs first."""
        if expected is not None:
            self.check_shapes(name, expected)
        if name not in self._cache:
            entries = self.entries.get(name, {})
            try:
                with zipfile.ZipFile(self.path) as zf:
                    self._cache[name] = {k: _read_array(zf, e) for k, e in entries.items()}
            except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
                raise CheckpointError(f"{self.path}: cannot read the {name} entries ({type(e).__name__}: {e})") from e
        return self._cache[name]

    @property
    def epoch(self) -> int:
        return int(self.meta["epoch"])


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


# ----------------------------------------------------------------------------- reading
def _read_header(zf: zipfile.ZipFile, info: zipfile.ZipInfo, archive_size: int) -> Entry:
    """The checked ``.npy`` header of one member."""
    name = info.filename
    if info.compress_type == zipfile.ZIP_STORED:
        if info.file_size != info.compress_size or info.compress_size > archive_size:
            raise ValueError(f"entry {name} declares {info.file_size:,} bytes, more than the archive holds")
    elif info.file_size > MAX_DEFLATE_RATIO * info.compress_size + 1024 or info.compress_size > archive_size:
        raise ValueError(f"entry {name} declares {info.file_size:,} bytes, more than its {info.compress_size:,} "
                         "compressed bytes can hold")
    with zf.open(info) as f:
        version = np.lib.format.read_magic(f)
        if version == (1, 0):
            shape, fortran, dtype = np.lib.format.read_array_header_1_0(f, max_header_size=MAX_HEADER_BYTES)
        elif version in ((2, 0), (3, 0)):
            shape, fortran, dtype = np.lib.format.read_array_header_2_0(f, max_header_size=MAX_HEADER_BYTES)
        else:
            raise ValueError(f"entry {name}: unsupported .npy version {version}")
        offset = f.tell()
    if dtype.hasobject:
        raise ValueError(f"entry {name} holds pickled Python objects (refused: checkpoints are read without pickle)")
    entry = Entry(name, tuple(int(s) for s in shape), dtype, bool(fortran), offset)
    if offset + entry.nbytes != info.file_size:
        raise ValueError(f"entry {name}: its header declares shape {entry.shape} of {dtype} ({entry.nbytes:,} bytes), "
                         f"but the entry holds {info.file_size - offset:,} bytes")
    return entry


def _read_array(zf: zipfile.ZipFile, entry: Entry) -> np.ndarray:
    with zf.open(entry.member) as f:
        f.read(entry.offset)
        data = f.read(entry.nbytes)
    if len(data) != entry.nbytes:
        raise ValueError(f"entry {entry.member} is truncated")
    arr = np.frombuffer(data, dtype=entry.dtype)
    order = "F" if entry.fortran_order else "C"
    return arr.reshape(entry.shape, order=order).copy()


def _read_json(zf: zipfile.ZipFile, entry: Entry) -> Any:
    if entry.shape != () or entry.dtype.kind != "U":
        raise ValueError(f"entry {entry.member} must be JSON text (a 0-d unicode array), "
                         f"got {entry.dtype} {entry.shape}")
    if entry.nbytes > MAX_META_BYTES:
        raise ValueError(f"entry {entry.member} is {entry.nbytes:,} bytes, more than the {MAX_META_BYTES:,} accepted")
    text = str(_read_array(zf, entry)[()])
    try:
        return json.loads(text)
    except RecursionError:
        raise ValueError(f"entry {entry.member}: JSON nested too deeply") from None
    except json.JSONDecodeError as e:
        raise ValueError(f"entry {entry.member} is not valid JSON ({e})") from None


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Open and validate a checkpoint written by :func:`save_checkpoint` (a ``.npz`` file or a
    run folder holding ``checkpoint.npz``); array data are read later by :meth:`Checkpoint.group`.

    Raises :class:`CheckpointError` naming the file when it does not exist, is not a valid
    ``.npz`` archive, holds pickled objects, declares entries larger than the archive, lacks the
    ``model`` group or a required meta entry, or has malformed metadata.
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
        archive_size = path.stat().st_size
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            if len(infos) > MAX_ENTRIES:
                raise CheckpointError(f"{path}: {len(infos):,} entries, more than a checkpoint has")
            if sum(i.compress_size for i in infos) > archive_size:
                raise CheckpointError(f"{path}: the zip directory declares more data than the file holds (corrupt?)")
            for info in infos:
                key = info.filename[:-4] if info.filename.endswith(".npy") else info.filename
                group, sep, name = key.partition("/")
                if not sep or not name:
                    raise CheckpointError(f"{path}: unexpected entry {key!r} (not a tinygrad_np MNIST checkpoint)")
                ckpt.entries.setdefault(group, {})[name] = _read_header(zf, info, archive_size)
            for name, entry in ckpt.entries.get("meta", {}).items():
                ckpt.meta[name] = _read_json(zf, entry)
            for name, entry in ckpt.entries.get("rng", {}).items():
                if entry.nbytes > MAX_META_BYTES or entry.dtype.kind != "U":
                    raise CheckpointError(f"{path}: entry rng/{name} is not a generator state (JSON text)")
    except CheckpointError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zipfile.LargeZipFile) as e:
        raise CheckpointError(f"{path}: not a valid checkpoint file ({type(e).__name__}: {e})") from e
    missing = [f"meta/{k}" for k in REQUIRED_META if k not in ckpt.meta]
    if not ckpt.has_group("model"):
        missing.insert(0, "model/*")
    if missing:
        raise CheckpointError(f"{path}: incomplete checkpoint, missing {', '.join(missing)}")
    version = ckpt.meta.get("format_version")
    if version != FORMAT_VERSION:
        raise CheckpointError(f"{path}: checkpoint format version {version!r}, this program reads {FORMAT_VERSION}")
    try:
        _validate_meta(ckpt.meta)
        ckpt.config = TrainConfig.from_dict(ckpt.meta["config"])
    except ValueError as e:
        raise CheckpointError(f"{path}: invalid checkpoint metadata: {e}") from e
    return ckpt


# ----------------------------------------------------------------------------- metadata
def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_number(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)


def _need(ok: bool, message: str) -> None:
    if not ok:
        raise ValueError(message)


def _validate_meta(meta: dict[str, Any]) -> None:
    """ValueError naming the key of the first malformed ``meta`` entry."""
    _need(isinstance(meta["config"], dict), f"config must be a JSON object, got {type(meta['config']).__name__}")
    _need(_is_int(meta["epoch"]) and meta["epoch"] >= 0, f"epoch must be a count >= 0, got {meta['epoch']!r}")
    names = meta["class_names"]
    _need(isinstance(names, list) and all(isinstance(n, str) for n in names),
          f"class_names must be a list of strings, got {str(names)[:80]}")
    _need(2 <= len(names) <= MAX_CLASSES, f"class_names: {len(names)} classes (expected 2..{MAX_CLASSES})")
    shape = meta["image_shape"]
    _need(isinstance(shape, list) and len(shape) == 2 and all(_is_int(s) and 1 <= s <= MAX_SIDE for s in shape),
          f"image_shape must be [height, width] with sides in 1..{MAX_SIDE}, got {str(shape)[:80]}")
    norm = meta["norm"]
    _need(isinstance(norm, dict), f"norm must be a JSON object, got {type(norm).__name__}")
    _need(_is_number(norm.get("mean")) and _is_number(norm.get("std")) and norm["std"] > 0,
          f"norm must hold a finite mean and a std > 0, got {str(norm)[:80]}")
    history = meta["history"]
    _need(isinstance(history, list) and all(isinstance(h, dict) for h in history),
          "history must be a list of JSON objects (one per epoch)")
    for h in history:
        _need(all(v is None or isinstance(v, (int, float, str)) for v in h.values()),
              "history rows must hold numbers (or null)")
    es = meta.get("early_stopping", {})
    _need(isinstance(es, dict), "early_stopping must be a JSON object")
    for key in ("best_epoch", "bad_epochs"):
        _need(_is_int(es.get(key, 0)) and es.get(key, 0) >= 0, f"early_stopping.{key} must be a count >= 0")
    best = es.get("best_val_accuracy")
    _need(best is None or _is_number(best), "early_stopping.best_val_accuracy must be a number or null")
    _need(isinstance(es.get("stopped", False), bool), "early_stopping.stopped must be true or false")
    commands = meta.get("commands", [])
    _need(isinstance(commands, list) and all(isinstance(c, str) for c in commands),
          "commands must be a list of strings")
    background = meta.get("background", {"level": 0})
    _need(isinstance(background, dict) and _is_number(background.get("level")) and 0 <= background["level"] <= 255,
          f"background must be {{\"level\": 0..255}}, got {str(background)[:80]}")
    _need(isinstance(meta.get("finished", False), bool), "finished must be true or false")
    dataset = meta.get("dataset", {})
    _need(isinstance(dataset, dict), "dataset must be a JSON object")


def atomic_write_text(path: str | os.PathLike[str], text: str) -> None:
    """Write a text file atomically (UTF-8)."""
    with atomic_open(path, "w", encoding="utf-8", newline="") as f:
        f.write(text)
