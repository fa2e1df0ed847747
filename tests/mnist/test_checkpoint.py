"""Tests for mnist/checkpoint.py: round trip without pickle, atomic writes, clear errors."""
from __future__ import annotations

import json

import numpy as np
import pytest

from mnist import checkpoint as C
from mnist.checkpoint import CheckpointError, load_checkpoint, save_checkpoint

META = {"config": {"hidden": [4]}, "epoch": 3, "class_names": ["a", "b"], "image_shape": [2, 2],
        "norm": {"mean": 0.0, "std": 1.0}, "history": [{"epoch": 1, "val_accuracy": None}]}


def _arrays():
    return {"model": {"layers.0.weight": np.arange(8, dtype=np.float32).reshape(4, 2),
                      "layers.0.bias": np.zeros(2, dtype=np.float32)},
            "optim": {"lr": np.asarray(0.1), "step": np.asarray(7, dtype=np.int64)},
            "rng": {"loader": C.rng_state(np.random.default_rng(5))}}


def test_round_trip_without_pickle(tmp_path):
    path = save_checkpoint(tmp_path / "ck.npz", _arrays(), META)
    with np.load(path, allow_pickle=False) as npz:  # plain ndarrays only
        assert "model/layers.0.weight" in npz.files and "meta/config" in npz.files
        assert npz["meta/epoch"].dtype.kind == "U"
    ck = load_checkpoint(path)
    np.testing.assert_array_equal(ck.group("model")["layers.0.weight"], _arrays()["model"]["layers.0.weight"])
    assert ck.group("optim")["step"] == 7
    assert ck.meta["epoch"] == 3 and ck.meta["class_names"] == ["a", "b"] and ck.meta["history"] == META["history"]
    assert ck.meta["format_version"] == C.FORMAT_VERSION
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]  # no temporary files left


def test_a_run_directory_means_its_checkpoint(tmp_path):
    save_checkpoint(tmp_path / "checkpoint.npz", _arrays(), META)
    assert load_checkpoint(tmp_path).path == tmp_path / "checkpoint.npz"


def test_rng_state_round_trip_continues_the_stream():
    rng = np.random.default_rng(11)
    rng.random(3)
    saved = C.rng_state(rng)
    expected = rng.random(5)
    other = np.random.default_rng(0)
    C.set_rng_state(other, saved)
    np.testing.assert_array_equal(other.random(5), expected)
    assert json.loads(str(saved[()]))["bit_generator"] == "PCG64"


def test_failed_write_leaves_the_old_file_and_no_temporary(tmp_path, monkeypatch):
    path = save_checkpoint(tmp_path / "ck.npz", _arrays(), META)
    before = path.read_bytes()

    def boom(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(np, "savez", boom)
    with pytest.raises(RuntimeError):
        save_checkpoint(path, _arrays(), {**META, "epoch": 4})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["ck.npz"]


def test_missing_file_is_a_clear_error(tmp_path):
    with pytest.raises(CheckpointError, match="nope.npz: no such checkpoint"):
        load_checkpoint(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"", b"not a zip at all", None])
def test_corrupt_file_is_a_clear_error_naming_it(tmp_path, content):
    path = tmp_path / "bad.npz"
    if content is None:  # a truncated real checkpoint
        save_checkpoint(path, _arrays(), META)
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    else:
        path.write_bytes(content)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path)
    assert str(path) in str(err.value)


def test_pickled_entries_are_refused(tmp_path):
    path = tmp_path / "pickled.npz"
    np.savez(path, **{"model/w": np.array([{"a": 1}], dtype=object)})
    with pytest.raises(CheckpointError, match="pickled.npz"):
        load_checkpoint(path)
    with pytest.raises(TypeError, match="object array"):
        save_checkpoint(tmp_path / "x.npz", {"model": {"w": np.array([None], dtype=object)}}, META)


def test_foreign_npz_and_missing_entries_are_named(tmp_path):
    np.savez(tmp_path / "foreign.npz", weights=np.zeros(3))
    with pytest.raises(CheckpointError, match="foreign.npz.*unexpected entry 'weights'"):
        load_checkpoint(tmp_path / "foreign.npz")
    meta = {k: v for k, v in META.items() if k != "history"}
    save_checkpoint(tmp_path / "partial.npz", {"optim": {"lr": np.asarray(0.1)}}, meta)
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(tmp_path / "partial.npz")
    assert "partial.npz" in str(err.value) and "model/*" in str(err.value) and "meta/history" in str(err.value)


def test_bad_json_and_future_versions_are_refused(tmp_path):
    path = tmp_path / "j.npz"
    np.savez(path, **{"model/w": np.zeros(2), "meta/config": np.array("{not json")})
    with pytest.raises(CheckpointError, match="j.npz"):
        load_checkpoint(path)
    save_checkpoint(path, _arrays(), META)
    with np.load(path) as ck:
        entries = {k: ck[k] for k in ck.files}
    entries["meta/format_version"] = np.array("99")
    np.savez(path, **entries)
    with pytest.raises(CheckpointError, match="version 99"):
        load_checkpoint(path)


def test_check_shapes_names_the_file_and_the_keys(tmp_path):
    ck = load_checkpoint(save_checkpoint(tmp_path / "ck.npz", _arrays(), META))
    ck.check_shapes("model", {"layers.0.weight": np.zeros((4, 2)), "layers.0.bias": np.zeros(2)})
    with pytest.raises(CheckpointError) as err:
        ck.check_shapes("model", {"layers.0.weight": np.zeros((5, 2)), "layers.2.bias": np.zeros(2)})
    text = str(err.value)
    assert "ck.npz" in text and "model/layers.2.bias" in text and "(4, 2)" in text and "(5, 2)" in text
