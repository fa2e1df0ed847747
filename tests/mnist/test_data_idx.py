"""IDX reader/writer: round trips, byte layout, and every corruption the reader must name."""

from __future__ import annotations

import gzip
import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from mnist.data.idx import IDXError, atomic_open, idx_bytes, parse_idx, read_idx, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("suffix", ["", ".gz"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_round_trip_files(tmp_path, dtype, suffix):
    rng = np.random.default_rng(0)
    arr = (rng.standard_normal((3, 5, 7)) * 100).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, arr)
    out = read_idx(path)
    assert out.dtype == np.dtype(dtype)  # native byte order
    assert out.dtype.isnative
    np.testing.assert_array_equal(out, arr)
    out[0, 0, 0] = 1  # writable
    if suffix == ".gz":
        assert path.read_bytes()[:2] == b"\x1f\x8b"
    assert sorted(p.name for p in tmp_path.iterdir()) == [path.name]  # no temp files left


def test_exact_byte_layout(tmp_path):
    path = tmp_path / "x"
    write_idx(path, np.array([[1, -2, 3]], dtype=np.int16))
    assert path.read_bytes() == (
        b"\x00\x00\x0b\x02" b"\x00\x00\x00\x01" b"\x00\x00\x00\x03" b"\x00\x01\xff\xfe\x00\x03"
    )
    hand_made = b"\x00\x00\x0c\x01\x00\x00\x00\x02" + np.array([7, -9], ">i4").tobytes()
    np.testing.assert_array_equal(parse_idx(hand_made), np.array([7, -9], np.int32))


def test_gzip_detected_by_content_without_suffix(tmp_path):
    path = tmp_path / "labels-idx1-ubyte"
    path.write_bytes(gzip.compress(idx_bytes(np.arange(10, dtype=np.uint8))))
    np.testing.assert_array_equal(read_idx(path), np.arange(10))


def _write(tmp_path, name, data: bytes):
    p = tmp_path / name
    p.write_bytes(data)
    return p


HEADER_2x3_U8 = b"\x00\x00\x08\x02\x00\x00\x00\x02\x00\x00\x00\x03"


@pytest.mark.parametrize(
    "data, fragment",
    [
        (b"", "too short"),
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01\x00\x00\x00\x00", "bad magic"),
        (b"\x00\x00\x0a\x01\x00\x00\x00\x00", "unknown IDX dtype code 0x0A"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x01", "header declares 3 dimensions"),
        (HEADER_2x3_U8 + b"\x00" * 5, "payload has 5 bytes, header promises 6"),
        (HEADER_2x3_U8 + b"\x00" * 7, "payload has 7 bytes, header promises 6"),
        (b"\x00\x00\x0d\x01\x00\x00\x00\x02" + b"\x00" * 4, "payload has 4 bytes, header promises 8"),
    ],
)
def test_corrupt_files_raise_idx_error_naming_path(tmp_path, data, fragment):
    path = _write(tmp_path, "bad-idx-ubyte", data)
    with pytest.raises(IDXError) as exc:
        read_idx(path)
    assert str(path) in str(exc.value)
    assert fragment in str(exc.value)
    assert isinstance(exc.value, ValueError)


def test_truncated_gzip(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    write_idx(path, np.zeros((10, 28, 28), np.uint8) + np.arange(28, dtype=np.uint8))
    path.write_bytes(path.read_bytes()[:-20])
    with pytest.raises(IDXError, match="gzip") as exc:
        read_idx(path)
    assert str(path) in str(exc.value)


def test_gz_suffix_but_not_gzip(tmp_path):
    path = _write(tmp_path, "x.gz", HEADER_2x3_U8 + bytes(6))
    with pytest.raises(IDXError, match="gzip"):
        read_idx(path)


def test_gzip_of_truncated_payload_reports_sizes(tmp_path):
    header = b"\x00\x00\x08\x03" + np.array([60000, 28, 28], ">u4").tobytes()
    path = _write(tmp_path, "t.gz", gzip.compress(header + bytes(1000)))
    with pytest.raises(IDXError, match=r"t\.gz: payload has 1000 bytes, header promises 47040000"):
        read_idx(path)


def test_missing_file(tmp_path):
    with pytest.raises(IDXError, match="cannot read"):
        read_idx(tmp_path / "nope")


def test_write_rejects_unsupported_dtype_and_leaves_nothing(tmp_path):
    with pytest.raises(TypeError, match="int64"):
        write_idx(tmp_path / "x", np.zeros(3, np.int64))
    assert list(tmp_path.iterdir()) == []


def test_atomic_open_keeps_old_file_on_failure(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_open(path) as f:
            f.write(b"partial")
            raise RuntimeError("boom")
    assert path.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["f"]
    with atomic_open(path) as f:
        f.write(b"new")
    assert path.read_bytes() == b"new"
    assert os.listdir(tmp_path) == ["f"]


@settings(deadline=None)  # example count comes from the conftest profile
@given(
    hnp.arrays(
        dtype=st.sampled_from([np.dtype(d) for d in DTYPES] + [np.dtype(">i4"), np.dtype("<f8")]),
        shape=hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5),
    )
)
def test_round_trip_property(arr):
    out = parse_idx(idx_bytes(arr))
    assert out.shape == arr.shape
    assert out.dtype == arr.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, arr)  # NaNs compare equal here
