"""Data set resolution, download (file:// mirrors, no network), verification and loading."""

from __future__ import annotations

import hashlib
import os
import urllib.error
from pathlib import Path

import numpy as np
import pytest

from mnist.data import sources
from mnist.data.idx import idx_bytes, write_idx
from mnist.data.sources import (
    FILES,
    ChecksumError,
    DatasetNotFoundError,
    IDXError,
    cache_dir,
    cache_root,
    canonical_name,
    download_dataset,
    load_dataset,
    resolve_dataset_dir,
    verify_dataset_dir,
)
from mnist.data.splits import load_any

# Captured before the autouse fixture clears the variables for the other tests.
REAL_DIRS = {"mnist": os.environ.get("MNIST_DIR"), "fashion-mnist": os.environ.get("FASHION_MNIST_DIR")}
REAL_HASHES = {name: dict(table) for name, table in sources.SHA256.items()}


def fake_arrays(seed: int, n_train: int = 12, n_test: int = 5) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        FILES[0]: rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        FILES[1]: rng.integers(0, 10, n_train).astype(np.uint8),
        FILES[2]: rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        FILES[3]: rng.integers(0, 10, n_test).astype(np.uint8),
    }


FAKE = fake_arrays(0)
FAKE_HASHES = {base: hashlib.sha256(idx_bytes(a)).hexdigest() for base, a in FAKE.items()}


def make_dir(folder: Path, arrays=FAKE, gz: bool = True, only=FILES) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for base in only:
        write_idx(folder / (base + (".gz" if gz else "")), arrays[base])
    return folder


@pytest.fixture(autouse=True)
def isolated(tmp_path, monkeypatch):
    """No real env vars, cache or system folders; fake files count as official."""
    for var in ("MNIST_DIR", "FASHION_MNIST_DIR", "XDG_CACHE_HOME"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("TINYGRAD_NP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(
        sources, "SYSTEM_DIRS",
        {"mnist": (tmp_path / "sys/mnist",), "fashion-mnist": (tmp_path / "sys/fashion-mnist",)},
    )
    monkeypatch.setattr(sources, "SHA256", {"mnist": FAKE_HASHES, "fashion-mnist": FAKE_HASHES})


def offline_opener(url, timeout):
    raise urllib.error.URLError("network is unreachable")


# --------------------------------------------------------------------------- names and cache


def test_canonical_name():
    assert canonical_name("MNIST") == "mnist"
    assert canonical_name("Fashion_MNIST") == "fashion-mnist"
    with pytest.raises(ValueError, match="unknown data set 'kmnist'"):
        canonical_name("kmnist")


def test_cache_root_precedence(tmp_path, monkeypatch):
    monkeypatch.delenv("TINYGRAD_NP_CACHE")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_root() == tmp_path / "home/.cache/tinygrad_np"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir("mnist") == tmp_path / "xdg/tinygrad_np/mnist"
    monkeypatch.setenv("TINYGRAD_NP_CACHE", str(tmp_path / "tg"))
    assert cache_dir("fashion-mnist") == tmp_path / "tg/fashion-mnist"


# --------------------------------------------------------------------------- resolution order


def test_explicit_dir_beats_env_and_cache(tmp_path, monkeypatch):
    explicit = make_dir(tmp_path / "explicit")
    monkeypatch.setenv("MNIST_DIR", str(make_dir(tmp_path / "env")))
    make_dir(cache_dir("mnist"))
    assert resolve_dataset_dir("mnist", explicit) == explicit
    assert resolve_dataset_dir("mnist") == tmp_path / "env"


def test_incomplete_explicit_dir_is_an_error_not_a_fallthrough(tmp_path, monkeypatch):
    partial = make_dir(tmp_path / "partial", only=FILES[:2])
    monkeypatch.setenv("MNIST_DIR", str(make_dir(tmp_path / "env")))
    with pytest.raises(DatasetNotFoundError) as exc:
        resolve_dataset_dir("mnist", partial)
    msg = str(exc.value)
    assert str(partial) in msg and "--data-dir" in msg
    assert "t10k-images-idx3-ubyte, t10k-labels-idx1-ubyte" in msg
    assert "missing 2 of the 4" in msg


def test_incomplete_env_dir_names_the_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("FASHION_MNIST_DIR", str(tmp_path / "nowhere"))
    make_dir(cache_dir("fashion-mnist"))  # would be found, but must not be used
    with pytest.raises(DatasetNotFoundError, match="FASHION_MNIST_DIR.*does not exist"):
        resolve_dataset_dir("fashion-mnist")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setenv("FASHION_MNIST_DIR", str(empty))
    with pytest.raises(DatasetNotFoundError, match="missing 4 of the 4"):
        resolve_dataset_dir("fashion-mnist")


def test_cache_then_system_dir(tmp_path):
    system = make_dir(tmp_path / "sys/mnist")
    assert resolve_dataset_dir("mnist", download=False) == system
    cached = make_dir(cache_dir("mnist"), gz=False)
    assert resolve_dataset_dir("mnist", download=False) == cached


def test_dotted_file_names_accepted(tmp_path):
    folder = tmp_path / "kaggle"
    folder.mkdir()
    for base, arr in FAKE.items():
        write_idx(folder / base.replace("-idx", ".idx"), arr)
    assert resolve_dataset_dir("mnist", folder) == folder
    np.testing.assert_array_equal(load_dataset("mnist", folder).test_labels, FAKE[FILES[3]])


def test_nothing_found_without_download_explains_how_to_provide(tmp_path):
    with pytest.raises(DatasetNotFoundError) as exc:
        resolve_dataset_dir("fashion-mnist", download=False)
    msg = str(exc.value)
    for needle in [
        "--data-dir", "FASHION_MNIST_DIR", str(cache_dir("fashion-mnist")),
        "apt-get install dataset-fashion-mnist", "downloading is disabled", *FILES,
    ]:
        assert needle in msg, needle
    assert not cache_dir("fashion-mnist").exists()


# --------------------------------------------------------------------------- download


def make_mirror(folder: Path, arrays=FAKE, only=FILES) -> str:
    make_dir(folder, arrays, gz=True, only=only)
    return folder.as_uri() + "/"


def test_download_falls_through_corrupt_broken_and_missing_mirrors(tmp_path):
    bad = dict(FAKE)
    bad[FILES[0]] = FAKE[FILES[0]].copy()
    bad[FILES[0]][0, 0, 0] ^= 1  # one flipped bit: valid IDX, wrong checksum
    corrupt = make_mirror(tmp_path / "corrupt", bad)  # right for the other three files
    html = tmp_path / "html"
    html.mkdir()
    (html / (FILES[0] + ".gz")).write_bytes(b"<html>404 Not Found</html>")
    sparse = make_mirror(tmp_path / "sparse", only=FILES[1:])  # lacks the train images
    good = make_mirror(tmp_path / "good")
    log: list[str] = []

    dest = download_dataset("mnist", mirrors=[corrupt, html.as_uri(), sparse, good], log=log.append)

    assert dest == cache_dir("mnist")
    assert sorted(p.name for p in dest.iterdir()) == sorted(f + ".gz" for f in FILES)  # no temp files
    verify_dataset_dir(dest, "mnist")
    np.testing.assert_array_equal(load_dataset("mnist", download=False).train_images, FAKE[FILES[0]])
    # train images: corrupt -> checksum, html -> not gzip, sparse -> missing, good -> ok
    assert log[0] == f"downloading {corrupt}{FILES[0]}.gz"
    assert "SHA-256 of the decompressed download" in log[1]
    assert log[2] == f"downloading {html.as_uri()}/{FILES[0]}.gz"
    assert "gzip" in log[3].lower()
    assert log[4] == f"downloading {sparse}{FILES[0]}.gz"
    assert log[5].startswith("  failed:")
    assert log[6] == f"downloading {good}{FILES[0]}.gz"
    # the other files came straight from the first mirror
    assert log[7:] == [f"downloading {corrupt}{f}.gz" for f in FILES[1:]]


def test_download_fetches_only_missing_files(tmp_path):
    make_dir(cache_dir("mnist"), only=FILES[:3])
    requested = []

    def opener(url, timeout):
        requested.append(url)
        return open(tmp_path / "m" / url.rsplit("/", 1)[1], "rb")

    make_dir(tmp_path / "m")
    assert resolve_dataset_dir("mnist", mirrors=["https://example.invalid/"], opener=opener) == cache_dir("mnist")
    assert requested == [f"https://example.invalid/{FILES[3]}.gz"]


def test_offline_raises_with_instructions(tmp_path):
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset("fashion-mnist", mirrors=["https://a.invalid/", "https://b.invalid/"], opener=offline_opener)
    msg = str(exc.value)
    for needle in [
        "--data-dir", "FASHION_MNIST_DIR", str(cache_dir("fashion-mnist")),
        "apt-get install dataset-fashion-mnist", "network is unreachable",
        "https://b.invalid/train-images-idx3-ubyte.gz", *FILES,
    ]:
        assert needle in msg, needle
    assert list(cache_dir("fashion-mnist").iterdir()) == []  # no partial files
    with pytest.raises(DatasetNotFoundError) as exc:
        load_dataset("mnist", opener=offline_opener)  # default mirrors, offline
    assert "MNIST_DIR" in str(exc.value) and "apt-get" not in str(exc.value)
    assert "ossci-datasets.s3.amazonaws.com" in str(exc.value)


def test_all_mirrors_corrupt(tmp_path):
    bad = {k: v + 1 for k, v in FAKE.items()}
    with pytest.raises(DatasetNotFoundError, match="SHA-256"):
        download_dataset("mnist", mirrors=[make_mirror(tmp_path / "bad", bad)], log=None)
    assert list(cache_dir("mnist").iterdir()) == []


# --------------------------------------------------------------------------- verification and loading


def test_verify_dataset_dir_names_tampered_file(tmp_path):
    folder = make_dir(tmp_path / "d")
    verify_dataset_dir(folder, "mnist")
    write_idx(folder / (FILES[3] + ".gz"), FAKE[FILES[3]] + 1)
    with pytest.raises(ChecksumError) as exc:
        verify_dataset_dir(folder, "mnist")
    assert FILES[3] in str(exc.value) and FILES[0] not in str(exc.value)


def test_verify_against_real_hashes_rejects_fakes(tmp_path, monkeypatch):
    monkeypatch.setattr(sources, "SHA256", REAL_HASHES)
    folder = make_dir(tmp_path / "d")
    with pytest.raises(ChecksumError, match="4 file"):
        verify_dataset_dir(folder, "fashion-mnist")
    with pytest.raises(ChecksumError, match="verify=False"):
        load_dataset("mnist", folder)
    assert load_dataset("mnist", folder, verify=False).train_images.shape == (12, 28, 28)


def test_load_dataset_contents(tmp_path):
    folder = make_dir(tmp_path / "d", gz=False)
    d = load_dataset("fashion-mnist", folder)
    assert d.source == folder
    assert d.class_names == [
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ]
    assert d.train_images.dtype == np.uint8 and d.train_images.shape == (12, 28, 28)
    assert d.train_labels.dtype == np.int64 and d.test_labels.dtype == np.int64
    np.testing.assert_array_equal(d.test_images, FAKE[FILES[2]])
    np.testing.assert_array_equal(d.train_labels, FAKE[FILES[1]])
    assert load_dataset("mnist", folder).class_names == [str(i) for i in range(10)]


def test_count_mismatch_names_both_files(tmp_path):
    folder = make_dir(tmp_path / "d")
    write_idx(folder / (FILES[1] + ".gz"), FAKE[FILES[1]][:-1])
    with pytest.raises(IDXError) as exc:
        load_dataset("mnist", folder, verify=False)
    msg = str(exc.value)
    assert "12 images" in msg and "11 labels" in msg
    assert FILES[0] in msg and FILES[1] in msg


def test_label_out_of_range(tmp_path):
    folder = make_dir(tmp_path / "d")
    write_idx(folder / (FILES[3] + ".gz"), np.full(5, 10, np.uint8))
    with pytest.raises(IDXError, match=r"t10k-labels.*range 10\.\.10, expected 0\.\.9"):
        load_dataset("mnist", folder, verify=False)


def test_truncated_file_reported_before_checksum(tmp_path):
    folder = make_dir(tmp_path / "d")
    path = folder / (FILES[0] + ".gz")
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(IDXError, match="gzip") as exc:
        load_dataset("mnist", folder)
    assert str(path) in str(exc.value)


def test_load_any_named_dataset_holds_out_last_examples(tmp_path):
    folder = make_dir(tmp_path / "d")
    s = load_any("mnist", data_dir=folder, val_size=4)
    np.testing.assert_array_equal(s.val_images, FAKE[FILES[0]][-4:])
    np.testing.assert_array_equal(s.train_labels, FAKE[FILES[1]][:-4])
    np.testing.assert_array_equal(s.test_images, FAKE[FILES[2]])
    assert s.name == "mnist" and s.source == folder
    with pytest.raises(ValueError, match="val_size=5000 leaves no training data"):
        load_any("mnist", data_dir=folder)  # default 5000 >= 12


# --------------------------------------------------------------------------- real data (opt-in)


@pytest.mark.parametrize("name", ["mnist", "fashion-mnist"])
def test_real_dataset(name, monkeypatch):
    folder = REAL_DIRS[name]
    if not folder:
        pytest.skip(f"set {sources.ENV_VARS[name]} to a folder with the real {name} files to run this")
    monkeypatch.setattr(sources, "SHA256", REAL_HASHES)
    verify_dataset_dir(folder, name)
    d = load_dataset(name, folder, download=False)
    assert d.train_images.shape == (60000, 28, 28) and d.train_images.dtype == np.uint8
    assert d.test_images.shape == (10000, 28, 28)
    for labels in (d.train_labels, d.test_labels):
        assert labels.min() == 0 and labels.max() == 9
        assert np.bincount(labels).min() > 800  # every class present in quantity
    assert d.train_images.max() == 255 and d.train_images.min() == 0
