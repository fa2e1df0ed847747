"""Untrusted files that would cost a lot of memory or crash the app are refused first, cheaply.

Every hostile file here is built by hand in a few kilobytes (gzip members repeated, zip
directories and .npy headers crafted), and ``tracemalloc`` checks that refusing it allocated
next to nothing.
"""
from __future__ import annotations

import gzip
import io
import json
import os
import subprocess
import sys
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from mnist.checkpoint import CheckpointError, load_checkpoint, save_checkpoint
from mnist.data import FormatError, read_csv_dataset
from mnist.data.atomic import atomic_open
from mnist.data.idx import IDXError, read_idx
from mnist.inference import load_classifier

REPO = Path(__file__).resolve().parents[2]
MiB = 1 << 20


class peak_memory:
    """Peak bytes allocated (tracemalloc, which also sees NumPy's buffers) inside the block."""

    def __enter__(self):
        tracemalloc.start()
        return self

    def __exit__(self, *exc):
        self.peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        return False


def idx_header(shape, code=0x08) -> bytes:
    return bytes([0, 0, code, len(shape)]) + np.asarray(shape, dtype=">u4").tobytes()


# ----------------------------------------------------------------------------- IDX / gzip
def gzip_bomb(path: Path, header: bytes, members: int = 128) -> Path:
    """``header`` followed by ``members`` x 64 MiB of zeros, as that many gzip members (8 GiB of
    data in about 8 MB of file): one 64 MiB member is compressed once and repeated."""
    zeros = gzip.compress(bytes(64 * MiB), compresslevel=9, mtime=0)
    with open(path, "wb") as f:
        f.write(gzip.compress(header, mtime=0))
        for _ in range(members):
            f.write(zeros)
    return path


def test_a_gzip_bomb_whose_header_declares_8_gib_is_refused_after_the_header(tmp_path):
    path = gzip_bomb(tmp_path / "train-images-idx3-ubyte.gz", idx_header([8 * 1024, 1024, 1024]))
    assert path.stat().st_size < 10 * MiB
    with peak_memory() as m, pytest.raises(IDXError, match=r"train-images-idx3-ubyte\.gz: header declares shape "
                                                             r"\(8192, 1024, 1024\) .* more than the"):
        read_idx(path)
    assert m.peak < 2 * MiB


def test_a_gzip_bomb_with_a_modest_header_stops_at_the_declared_size(tmp_path):
    # the header says 60 images of 28x28, the stream inflates to 8 GiB: the trailer (mod 2**32 it says 0)
    # does not match, and even without the trailer check the reader stops one byte past the declared size
    path = gzip_bomb(tmp_path / "bomb.gz", idx_header([60, 28, 28]))
    with peak_memory() as m, pytest.raises(IDXError, match=r"bomb\.gz: "):
        read_idx(path)
    assert m.peak < 2 * MiB
    honest_trailer = tmp_path / "lying.gz"  # same, but the last member's trailer patched to the declared size
    data = bytearray(path.read_bytes())
    data[-4:] = ((16 + 60 * 784) % 2**32).to_bytes(4, "little")
    honest_trailer.write_bytes(bytes(data))
    refused = pytest.raises(IDXError, match=r"lying\.gz: .*(more data than the IDX header declares|gzip)")
    with peak_memory() as m, refused:
        read_idx(honest_trailer)
    assert m.peak < 2 * MiB


def test_a_raw_idx_header_larger_than_its_file_is_refused_before_reading(tmp_path):
    path = tmp_path / "t10k-images-idx3-ubyte"
    path.write_bytes(idx_header([10**5, 1000, 1000]) + bytes(100))
    with peak_memory() as m, pytest.raises(IDXError, match=r"t10k-images-idx3-ubyte: header declares"):
        read_idx(path)
    path.write_bytes(idx_header([3, 28, 28]) + bytes(100))
    with pytest.raises(IDXError, match=r"payload has 100 bytes, header promises 2352"):
        read_idx(path)
    assert m.peak < MiB


# ----------------------------------------------------------------------------- CSV
def test_a_csv_label_of_two_billion_is_refused_naming_line_and_label(tmp_path):
    path = tmp_path / "train.csv"
    path.write_text("label," + ",".join(f"pixel{i}" for i in range(4)) + "\n1,0,0,0,0\n2000000000,0,0,0,0\n")
    with peak_memory() as m, pytest.raises(FormatError, match=r"train\.csv: line 3: label 2000000000 is out of range"):
        read_csv_dataset(path)
    assert m.peak < 2 * MiB  # no list of two billion class names


# ----------------------------------------------------------------------------- checkpoints
META = {"config": {"hidden": [4], "dataset": "x.csv"}, "epoch": 3, "class_names": ["a", "b"], "image_shape": [2, 2],
        "norm": {"mean": 0.0, "std": 1.0}, "history": []}
WEIGHTS = {"layers.0.weight": np.zeros((4, 4), np.float32), "layers.0.bias": np.zeros(4, np.float32),
           "layers.2.weight": np.zeros((4, 2), np.float32), "layers.2.bias": np.zeros(2, np.float32)}


def npy_bytes(header_shape, dtype="<f4", payload=b"\0" * 16) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": tuple(header_shape)})
    return buf.getvalue() + payload


def write_npz(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as zf:
        for name, data in members.items():
            zf.writestr(name + ".npy", data)
    return path


def good_members() -> dict[str, bytes]:
    out = {}
    for k, v in WEIGHTS.items():
        b = io.BytesIO()
        np.lib.format.write_array(b, v)
        out[f"model/{k}"] = b.getvalue()
    for k, v in {**META, "format_version": 1}.items():
        b = io.BytesIO()
        np.lib.format.write_array(b, np.array(json.dumps(v)))
        out[f"meta/{k}"] = b.getvalue()
    return out


def test_the_hand_made_checkpoint_is_valid(tmp_path):
    clf = load_classifier(write_npz(tmp_path / "ok.npz", good_members()))
    assert clf.model.sizes == [4, 4, 2]


def test_an_npy_header_claiming_1e11_elements_is_refused_before_allocating(tmp_path):
    members = good_members()
    members["model/layers.0.weight"] = npy_bytes([10**11])
    path = write_npz(tmp_path / "huge.npz", members)
    with peak_memory() as m, pytest.raises(CheckpointError, match=r"huge\.npz: .*declares shape \(100000000000,\)"):
        load_checkpoint(path)
    assert m.peak < 2 * MiB


def test_a_zip_entry_declaring_4_gib_is_refused(tmp_path):
    path = write_npz(tmp_path / "big.npz", good_members())
    data = bytearray(path.read_bytes())
    central = data.index(b"PK\x01\x02")  # the first central directory record: patch its two sizes
    data[central + 20: central + 28] = (0xFFFFFF00).to_bytes(4, "little") * 2
    path.write_bytes(bytes(data))
    with peak_memory() as m, pytest.raises(CheckpointError, match=r"big\.npz: .*more (data )?than the"):
        load_checkpoint(path)
    assert m.peak < 2 * MiB


def test_a_config_asking_for_hidden_3000000_is_refused_before_the_model_is_built(tmp_path):
    members = good_members()
    config = json.dumps({"hidden": [3000000]}).ljust(40).encode("utf-32-le")
    members["meta/config"] = npy_bytes([], "<U40", payload=config)
    path = write_npz(tmp_path / "wide.npz", members)
    with peak_memory() as m, pytest.raises(CheckpointError, match=r"wide\.npz: invalid checkpoint metadata: hidden"):
        load_classifier(path)
    assert m.peak < 2 * MiB


def test_weights_that_do_not_fit_the_configuration_are_refused_before_allocating(tmp_path):
    members = good_members()
    config = json.dumps({"hidden": [60000]}).ljust(40).encode("utf-32-le")
    members["meta/config"] = npy_bytes([], "<U40", payload=config)
    path = write_npz(tmp_path / "misfit.npz", members)
    with peak_memory() as m, pytest.raises(CheckpointError, match=r"misfit\.npz: checkpoint does not match the model: "
                                                                    r"model/layers\.0\.weight: shape \(4, 4\)"):
        load_classifier(path)
    assert m.peak < 2 * MiB  # an MLP 4-60000-2 would be ~1 MB; 784-60000 would be 188 MB


def _meta_member(value_json: str) -> bytes:
    n = max(1, len(value_json))
    return npy_bytes([], f"<U{n}", payload=value_json.ljust(n).encode("utf-32-le"))


@pytest.mark.parametrize("key, text, message", [
    ("config", json.dumps([1, 2]), "config must be a JSON object, got list"),
    ("config", json.dumps({"hidden": None}), "hidden must be a list of layer sizes"),
    ("config", json.dumps({"hidden": [4], "lr": "fast"}), "lr must be null or a float"),
    ("config", json.dumps({"hidden": [4], "momentum": -1}), "momentum must be in"),
    ("epoch", json.dumps("x"), "epoch must be a count >= 0, got 'x'"),
    ("class_names", json.dumps({"a": 1}), "class_names must be a list of strings"),
    ("class_names", json.dumps(["only"]), "1 classes"),
    ("image_shape", json.dumps([2]), "image_shape must be"),
    ("norm", json.dumps({"mean": 0, "std": 0}), "std > 0"),
    ("history", json.dumps({"epoch": 1}), "history must be a list"),
    ("history", "[" * 100_000 + "]" * 100_000, "nested too deeply"),
])
def test_malformed_metadata_raises_checkpoint_error_naming_the_file(tmp_path, key, text, message):
    members = good_members()
    members[f"meta/{key}"] = _meta_member(text)
    path = write_npz(tmp_path / "bad-meta.npz", members)
    with pytest.raises(CheckpointError) as err:
        load_classifier(path)
    assert "bad-meta.npz" in str(err.value) and message in str(err.value), str(err.value)


def test_the_cli_reports_malformed_metadata_without_a_traceback(tmp_path):
    members = good_members()
    members["meta/epoch"] = _meta_member(json.dumps("x"))
    write_npz(tmp_path / "bad.npz", members)
    for command in (["eval", "--checkpoint", "bad.npz"], ["train", "--resume", "bad.npz"],
                    ["shell", "--checkpoint", "bad.npz"]):
        proc = subprocess.run([sys.executable, "-m", "mnist", *command], cwd=tmp_path, capture_output=True, text=True,
                              input="quit\n", env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
        assert proc.returncode == 2, (command, proc.stdout, proc.stderr)
        assert "bad.npz" in proc.stderr and "epoch must be a count" in proc.stderr and "Traceback" not in proc.stderr


# ----------------------------------------------------------------------------- crashes while saving
CRASH = """
import os, sys
import numpy as np
sys.path.insert(0, {repo!r})
from mnist.checkpoint import save_checkpoint

def crash(f, **entries):  # write half a file, then die without any clean-up
    f.write(b"PK" + bytes(1000)); f.flush(); os._exit(1)

np.savez = crash
save_checkpoint({path!r}, {{"model": {{"w": np.zeros(3)}}}}, {{"epoch": 1}})
"""


def test_a_crash_mid_save_leaves_no_stale_temporary_after_the_next_save(tmp_path):
    path = tmp_path / "checkpoint.npz"
    proc = subprocess.run([sys.executable, "-c", CRASH.format(repo=str(REPO), path=str(path))], capture_output=True)
    assert proc.returncode == 1
    leftovers = [p.name for p in tmp_path.iterdir()]
    assert len(leftovers) == 1 and leftovers[0].startswith(".checkpoint.npz.") and leftovers[0].endswith(".tmp")
    save_checkpoint(path, {"model": {"w": np.ones(3)}}, {"epoch": 2})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.npz"]


def test_a_live_writers_temporary_file_is_left_alone(tmp_path):
    path = tmp_path / "f.txt"
    mine = tmp_path / f".f.txt.{os.getppid()}.abcdefgh.tmp"  # a running process (our parent)
    mine.write_text("in progress")
    with atomic_open(path, "w") as f:
        f.write("done")
    assert mine.exists() and path.read_text() == "done"


def test_zlib_corruption_in_a_gzip_idx_names_the_file(tmp_path):
    data = bytearray(gzip.compress(idx_header([2, 2, 2]) + bytes(8), mtime=0))
    data[12:16] = b"\xff\xff\xff\xff"
    (tmp_path / "x.gz").write_bytes(bytes(data))
    with pytest.raises(IDXError, match=r"x\.gz: "):
        read_idx(tmp_path / "x.gz")
