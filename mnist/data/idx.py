"""Read and write IDX files (the MNIST container format), raw or gzip-compressed.

IDX layout: two zero bytes, a dtype code, the number of dimensions, one
big-endian uint32 per dimension, then the big-endian payload.

This module also holds :func:`atomic_open`, used by every writer in
``mnist.data`` so that a crash never leaves a half-written file behind.
"""

from __future__ import annotations

import contextlib
import gzip
import math
import os
import tempfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

import numpy as np

__all__ = ["IDXError", "read_idx", "write_idx", "read_payload", "atomic_open"]

#: IDX dtype code -> big-endian NumPy dtype.
IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(">u1"),
    0x09: np.dtype(">i1"),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
_CODE_FOR_DTYPE = {dt.newbyteorder("="): code for code, dt in IDX_DTYPES.items()}

_GZIP_MAGIC = b"\x1f\x8b"
_UMASK = os.umask(0)
os.umask(_UMASK)


class IDXError(ValueError):
    """A file is not a valid IDX file; the message names the file and the problem."""


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike[str], mode: str = "wb", **kwargs: Any) -> Iterator[IO[Any]]:
    """Open a temporary file next to ``path``; on success move it onto ``path``.

    The file appears complete or not at all (``os.replace`` is atomic on one
    file system). On any exception the temporary file is deleted.
    """
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, mode, **kwargs) as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; use normal permissions
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_payload(path: str | os.PathLike[str]) -> bytes:
    """Return the file's bytes, decompressed if it is gzip (``.gz`` suffix or gzip magic).

    Raises :class:`IDXError` for an unreadable or corrupt/truncated gzip file.
    """
    path = Path(path)
    try:
        data = path.read_bytes()
    except OSError as e:
        raise IDXError(f"{path}: cannot read file: {e.strerror or e}") from e
    if path.suffix == ".gz" or data[:2] == _GZIP_MAGIC:
        try:
            data = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXError(f"{path}: corrupt or truncated gzip data: {e}") from e
    return data


def parse_idx(data: bytes, name: str | os.PathLike[str] = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX bytes into a native-byte-order array (``name`` is used in errors)."""
    if len(data) < 4:
        raise IDXError(f"{name}: file has {len(data)} bytes, too short for an IDX header")
    if data[0] != 0 or data[1] != 0:
        raise IDXError(
            f"{name}: bad magic number 0x{data[:4].hex()} (an IDX file starts with two zero bytes)"
        )
    code, ndim = data[2], data[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise IDXError(
            f"{name}: header declares {ndim} dimensions but the file ends after {len(data)} bytes"
        )
    shape = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = IDX_DTYPES[code]
    expected = math.prod(shape) * dtype.itemsize  # Python ints: no overflow on absurd dims
    actual = len(data) - header_len
    if actual != expected:
        raise IDXError(
            f"{name}: payload has {actual} bytes, header promises {expected} "
            f"(shape {shape}, dtype {dtype.name})"
        )
    arr = np.frombuffer(data, dtype=dtype, offset=header_len).reshape(shape)
    return arr.astype(dtype.newbyteorder("="))  # copy: writable, native byte order


def read_idx(path: str | os.PathLike[str]) -> np.ndarray:
    """Read an IDX file (raw or ``.gz``) into a writable native-byte-order array.

    Raises :class:`IDXError` naming ``path`` when the file is missing, corrupt or truncated.
    """
    return parse_idx(read_payload(path), path)


def idx_bytes(array: np.ndarray) -> bytes:
    """Encode ``array`` as uncompressed IDX bytes."""
    array = np.asarray(array)
    native = array.dtype.newbyteorder("=")
    if native not in _CODE_FOR_DTYPE:
        supported = ", ".join(sorted(d.name for d in _CODE_FOR_DTYPE))
        raise TypeError(f"IDX cannot store dtype {array.dtype}; supported: {supported}")
    if array.ndim > 255 or any(d >= 2**32 for d in array.shape):
        raise ValueError(f"shape {array.shape} does not fit an IDX header")
    code = _CODE_FOR_DTYPE[native]
    header = bytes([0, 0, code, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    return header + np.ascontiguousarray(array, dtype=IDX_DTYPES[code]).tobytes()


def write_idx(path: str | os.PathLike[str], array: np.ndarray) -> None:
    """Write ``array`` as an IDX file, atomically; a ``.gz`` suffix means gzip-compressed."""
    path = Path(path)
    data = idx_bytes(array)
    with atomic_open(path) as f:
        if path.suffix == ".gz":
            with gzip.GzipFile(filename="", mode="wb", fileobj=f, mtime=0) as gz:
                gz.write(data)
        else:
            f.write(data)
