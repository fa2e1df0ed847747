"""Read and write IDX files (the MNIST container format), raw or gzip-compressed.

IDX layout: two zero bytes, a dtype code, the number of dimensions, one
big-endian uint32 per dimension, then the big-endian payload.

Reading is bounded: the header is read (and decompressed) first, and the size it
declares is checked -- against :data:`MAX_IDX_BYTES`, against the file's own size
(raw files) or the gzip trailer (compressed files) -- before the payload is
decompressed into a buffer of exactly that size. A gzip bomb or a lying header is
refused with an :class:`IDXError` naming the file, without spending the memory.
"""

from __future__ import annotations

import gzip
import math
import os
import struct
import zlib
from pathlib import Path
from typing import IO

import numpy as np

from .atomic import atomic_open

__all__ = ["IDXError", "MAX_IDX_BYTES", "read_idx", "write_idx", "read_payload", "parse_idx", "atomic_open"]

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
#: Largest decompressed IDX file (header + payload) that is read: 1 GiB (MNIST's largest is 47 MB).
MAX_IDX_BYTES = 1 << 30
_CHUNK = 1 << 20


class IDXError(ValueError):
    """A file is not a valid IDX file; the message names the file and the problem."""


def _check_header(head: bytes, name: str | os.PathLike[str]) -> tuple[int, tuple[int, ...], np.dtype]:
    """``(header length, shape, dtype)`` of the IDX header at the start of ``head``."""
    if len(head) < 4:
        raise IDXError(f"{name}: file has {len(head)} bytes, too short for an IDX header")
    if head[0] != 0 or head[1] != 0:
        raise IDXError(
            f"{name}: bad magic number 0x{head[:4].hex()} (an IDX file starts with two zero bytes)"
        )
    code, ndim = head[2], head[3]
    if code not in IDX_DTYPES:
        known = ", ".join(f"0x{c:02X}" for c in IDX_DTYPES)
        raise IDXError(f"{name}: unknown IDX dtype code 0x{code:02X} (known: {known})")
    header_len = 4 + 4 * ndim
    if len(head) < header_len:
        raise IDXError(
            f"{name}: header declares {ndim} dimensions but the file ends after {len(head)} bytes"
        )
    shape = struct.unpack(f">{ndim}I", head[4:header_len])
    return header_len, shape, IDX_DTYPES[code]


def _declared_size(head: bytes, name: str | os.PathLike[str], max_bytes: int) -> int:
    """Total bytes (header + payload) the header declares; IDXError if above ``max_bytes``."""
    header_len, shape, dtype = _check_header(head, name)
    total = header_len + math.prod(shape) * dtype.itemsize  # Python ints: no overflow
    if total > max_bytes:
        raise IDXError(
            f"{name}: header declares shape {shape} of {dtype.name} ({total:,} bytes), more than the "
            f"{max_bytes:,} bytes this reader accepts (a corrupt header or not an MNIST-like file?)"
        )
    return total


def read_payload(path: str | os.PathLike[str], max_bytes: int = MAX_IDX_BYTES) -> bytes | bytearray:
    """Return the file's IDX bytes, decompressed if it is gzip (``.gz`` suffix or gzip magic).

    The header is read first; the size it declares must be at most ``max_bytes`` and must
    match the file (raw: the file size; gzip: the trailer's size and the decompressed stream).
    Raises :class:`IDXError` naming the file otherwise, or for an unreadable or corrupt gzip file.
    """
    path = Path(path)
    try:
        with open(path, "rb") as raw:
            magic = raw.read(2)
            raw.seek(0)
            if path.suffix == ".gz" or magic == _GZIP_MAGIC:
                return _read_gzip(raw, path, max_bytes)
            head = raw.read(4)
            head += raw.read(4 * head[3]) if len(head) == 4 else b""
            total = _declared_size(head, path, max_bytes)
            size = os.fstat(raw.fileno()).st_size
            if size != total:
                _, shape, dtype = _check_header(head, path)
                raise IDXError(
                    f"{path}: payload has {size - len(head)} bytes, header promises {total - len(head)} "
                    f"(shape {shape}, dtype {dtype.name})"
                )
            return head + raw.read(total - len(head))
    except OSError as e:
        raise IDXError(f"{path}: cannot read file: {e.strerror or e}") from e


def _read_gzip(raw: IO[bytes], path: Path, max_bytes: int) -> bytearray:
    size = os.fstat(raw.fileno()).st_size
    trailer = None
    if size >= 18:  # smallest gzip member: 10-byte header, 8-byte trailer
        raw.seek(size - 4)
        trailer = struct.unpack("<I", raw.read(4))[0]  # decompressed size mod 2**32
        raw.seek(0)
    try:
        with gzip.GzipFile(fileobj=raw, mode="rb") as gz:
            head = gz.read(4)
            head += gz.read(4 * head[3]) if len(head) == 4 else b""
            total = _declared_size(head, path, max_bytes)
            if trailer is not None and trailer != total % 2**32:
                header_len, shape, dtype = _check_header(head, path)
                if total < 2**32 and trailer >= header_len:
                    raise IDXError(
                        f"{path}: payload has {trailer - header_len} bytes, header promises {total - header_len} "
                        f"(shape {shape}, dtype {dtype.name}; the payload size is the gzip trailer's)"
                    )
                raise IDXError(
                    f"{path}: the IDX header declares {total:,} bytes but the gzip trailer says the data "
                    f"inflate to {trailer:,} (mod 2**32) bytes: corrupt, truncated or not one IDX file"
                )
            buf = bytearray(total)
            buf[: len(head)] = head
            view = memoryview(buf)
            done = len(head)
            while done < total:
                n = gz.readinto(view[done : min(total, done + _CHUNK)])
                if not n:
                    _, shape, dtype = _check_header(head, path)
                    raise IDXError(
                        f"{path}: payload has {done - len(head)} bytes, header promises {total - len(head)} "
                        f"(shape {shape}, dtype {dtype.name})"
                    )
                done += n
            if gz.read(1):
                raise IDXError(f"{path}: more data than the IDX header declares ({total:,} bytes)")
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise IDXError(f"{path}: corrupt or truncated gzip data: {e}") from e
    return buf


def parse_idx(data: bytes | bytearray, name: str | os.PathLike[str] = "<bytes>") -> np.ndarray:
    """Parse decompressed IDX bytes into a native-byte-order array (``name`` is used in errors)."""
    header_len, shape, dtype = _check_header(bytes(data[:4 + 4 * data[3]]) if len(data) >= 4 else bytes(data), name)
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
