"""Find, download, verify and load the MNIST and Fashion-MNIST IDX data sets.

Folder resolution order (first hit wins, see :func:`resolve_dataset_dir`):

1. an explicit ``data_dir`` (the CLI's ``--data-dir``) -- must be complete;
2. the environment variable (``MNIST_DIR`` / ``FASHION_MNIST_DIR``) -- must be complete;
3. the user cache ``<cache root>/<name>`` (see :func:`cache_root`);
4. well-known system folders (``/usr/share/datasets/<name>``, Debian's layout);
5. a download into the user cache from the public mirrors, SHA-256 checked.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import http.client
import os
import shutil
import sys
import tempfile
import urllib.request
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np

from .idx import IDXError, parse_idx, read_payload

__all__ = [
    "DATASETS",
    "FILES",
    "ChecksumError",
    "Dataset",
    "DatasetNotFoundError",
    "cache_dir",
    "cache_root",
    "canonical_name",
    "dataset_files",
    "download_dataset",
    "load_dataset",
    "missing_files",
    "resolve_dataset_dir",
    "verify_dataset_dir",
]

#: The four standard files (without ``.gz``); each may be stored raw or gzip-compressed.
FILES: tuple[str, ...] = (
    "train-images-idx3-ubyte",
    "train-labels-idx1-ubyte",
    "t10k-images-idx3-ubyte",
    "t10k-labels-idx1-ubyte",
)
DATASETS: tuple[str, ...] = ("mnist", "fashion-mnist")

ENV_VARS: dict[str, str] = {"mnist": "MNIST_DIR", "fashion-mnist": "FASHION_MNIST_DIR"}

MIRRORS: dict[str, tuple[str, ...]] = {
    "mnist": (
        "https://ossci-datasets.s3.amazonaws.com/mnist/",
        "https://storage.googleapis.com/cvdf-datasets/mnist/",
        "http://yann.lecun.com/exdb/mnist/",
    ),
    "fashion-mnist": (
        "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
        "https://github.com/zalandoresearch/fashion-mnist/raw/master/data/fashion/",
    ),
}

#: SHA-256 of the *decompressed* files (compression settings differ between mirrors).
SHA256: dict[str, dict[str, str]] = {
    "mnist": {
        "train-images-idx3-ubyte": "ba891046e6505d7aadcbbe25680a0738ad16aec93bde7f9b65e87a2fc25776db",
        "train-labels-idx1-ubyte": "65a50cbbf4e906d70832878ad85ccda5333a97f0f4c3dd2ef09a8a9eef7101c5",
        "t10k-images-idx3-ubyte": "0fa7898d509279e482958e8ce81c8e77db3f2f8254e26661ceb7762c4d494ce7",
        "t10k-labels-idx1-ubyte": "ff7bcfd416de33731a308c3f266cc351222c34898ecbeaf847f06e48f7ec33f2",
    },
    "fashion-mnist": {
        "train-images-idx3-ubyte": "c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888",
        "train-labels-idx1-ubyte": "bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9",
        "t10k-images-idx3-ubyte": "5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b",
        "t10k-labels-idx1-ubyte": "0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34",
    },
}

SYSTEM_DIRS: dict[str, tuple[Path, ...]] = {
    "mnist": (Path("/usr/share/datasets/mnist"),),
    "fashion-mnist": (Path("/usr/share/datasets/fashion-mnist"),),
}
DEBIAN_PACKAGES: dict[str, str] = {"fashion-mnist": "dataset-fashion-mnist"}

CLASS_NAMES: dict[str, tuple[str, ...]] = {
    "mnist": tuple(str(d) for d in range(10)),
    "fashion-mnist": (
        "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
        "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
    ),
}

#: ``opener(url, timeout)`` returns a readable binary stream usable as a context manager.
Opener = Callable[[str, float], Any]


class DatasetNotFoundError(FileNotFoundError):
    """The data set files could not be found or downloaded; the message says how to provide them."""

    def __str__(self) -> str:  # FileNotFoundError would otherwise print a tuple for 2+ args
        return str(self.args[0]) if self.args else ""


class ChecksumError(ValueError):
    """A file's decompressed SHA-256 does not match the official one."""


# --------------------------------------------------------------------------- names and folders


def canonical_name(name: str) -> str:
    """Normalize a data set name (``"Fashion_MNIST"`` -> ``"fashion-mnist"``); ValueError if unknown."""
    key = name.strip().lower().replace("_", "-")
    if key == "fashion":
        key = "fashion-mnist"
    if key not in DATASETS:
        raise ValueError(f"unknown data set {name!r}; known: {', '.join(DATASETS)}")
    return key


def cache_root() -> Path:
    """``$TINYGRAD_NP_CACHE``, else ``$XDG_CACHE_HOME/tinygrad_np``, else ``~/.cache/tinygrad_np``."""
    if root := os.environ.get("TINYGRAD_NP_CACHE"):
        return Path(root).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "tinygrad_np"


def cache_dir(name: str) -> Path:
    """The user cache folder for data set ``name``."""
    return cache_root() / canonical_name(name)


def _candidates(base: str) -> tuple[str, ...]:
    # Also accept the dotted spelling some archives use (e.g. "train-images.idx3-ubyte").
    dotted = base.replace("-idx", ".idx", 1)
    return (base, base + ".gz", dotted, dotted + ".gz")


def dataset_files(folder: str | os.PathLike[str]) -> dict[str, Path | None]:
    """Map each of :data:`FILES` to the file found in ``folder`` (raw preferred over ``.gz``), or None."""
    folder = Path(folder)
    found: dict[str, Path | None] = {}
    for base in FILES:
        found[base] = next(
            (folder / c for c in _candidates(base) if (folder / c).is_file()), None
        )
    return found


def missing_files(folder: str | os.PathLike[str]) -> list[str]:
    """Names of the standard files that ``folder`` lacks (in raw and ``.gz`` form)."""
    return [base for base, path in dataset_files(folder).items() if path is None]


def _file_list() -> str:
    return "\n".join(f"    {f}.gz  (or uncompressed: {f})" for f in FILES)


def _how_to_provide(name: str, reason: str, failures: Sequence[str] = ()) -> str:
    env = ENV_VARS[name]
    lines = [
        f"The {name} data set is not available: {reason}.",
        "Provide it in one of these ways:",
        "  * pass --data-dir /path/to/folder (CLI) or data_dir=... (Python) naming a folder with the files;",
        f"  * set the environment variable {env}=/path/to/folder;",
        f"  * copy the files into the cache folder {cache_dir(name)} (used automatically);",
    ]
    if pkg := DEBIAN_PACKAGES.get(name):
        lines.append(
            f"  * on Debian/Ubuntu: sudo apt-get install {pkg} (installs to {SYSTEM_DIRS[name][0]});"
        )
    lines.append("  * or connect to the internet and the files are downloaded into the cache folder.")
    lines.append("Files needed (gzip-compressed or raw):")
    lines.append(_file_list())
    lines.append("Public mirrors: " + ", ".join(MIRRORS[name]))
    if failures:
        lines.append("Download attempts that failed:")
        lines.extend(f"  - {f}" for f in failures)
    return "\n".join(lines)


def _require_complete(folder: Path, name: str, origin: str) -> Path:
    if not folder.is_dir():
        raise DatasetNotFoundError(f"{origin}: folder {folder} does not exist (for {name}).")
    if missing := missing_files(folder):
        have = sorted(p.name for p in folder.iterdir() if not p.name.startswith("."))[:10]
        raise DatasetNotFoundError(
            f"{origin}: folder {folder} is missing {len(missing)} of the {len(FILES)} {name} files: "
            + ", ".join(missing)
            + ".\nEach file may be raw or gzip-compressed (.gz). Files needed:\n"
            + _file_list()
            + f"\nThe folder contains: {', '.join(have) or '(nothing)'}"
        )
    return folder


def resolve_dataset_dir(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    mirrors: Sequence[str] | None = None,
    opener: Opener | None = None,
) -> Path:
    """Return a folder holding all four files of data set ``name`` (order: see module docstring).

    An explicit ``data_dir`` or environment variable that lacks files raises
    :class:`DatasetNotFoundError` naming the missing files (no silent fall-through).
    If nothing is found and ``download`` is false or every mirror fails,
    :class:`DatasetNotFoundError` explains how to provide the data.
    """
    name = canonical_name(name)
    if data_dir is not None:
        return _require_complete(Path(data_dir).expanduser(), name, "data_dir (--data-dir)")
    env = ENV_VARS[name]
    if value := os.environ.get(env):
        return _require_complete(Path(value).expanduser(), name, f"environment variable {env}")
    for folder in (cache_dir(name), *SYSTEM_DIRS[name]):
        if folder.is_dir() and not missing_files(folder):
            return folder
    if not download:
        raise DatasetNotFoundError(_how_to_provide(name, "not found, and downloading is disabled"))
    return download_dataset(name, mirrors=mirrors, opener=opener)


# --------------------------------------------------------------------------- download and verification


def _payload_sha256(path: Path) -> str:
    """SHA-256 of the decompressed contents of ``path`` (streamed)."""
    h = hashlib.sha256()
    try:
        with path.open("rb") as raw:
            is_gz = path.suffix == ".gz" or raw.read(2) == b"\x1f\x8b"
            raw.seek(0)
            stream: IO[bytes] = gzip.GzipFile(fileobj=raw) if is_gz else raw
            while chunk := stream.read(1 << 20):
                h.update(chunk)
    except (OSError, EOFError, zlib.error) as e:
        raise IDXError(f"{path}: cannot read (corrupt or truncated gzip?): {e}") from e
    return h.hexdigest()


def _urlopen(url: str, timeout: float) -> Any:
    request = urllib.request.Request(url, headers={"User-Agent": "tinygrad_np-mnist/0.1"})
    return urllib.request.urlopen(request, timeout=timeout)  # noqa: S310 (http/https/file only)


def _stderr(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _download_one(url: str, target: Path, expected: str, opener: Opener, timeout: float) -> None:
    """Fetch ``url`` to a temp file beside ``target``, check the SHA-256, then rename it into place."""
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out, opener(url, timeout) as response:
            shutil.copyfileobj(response, out, 1 << 20)
            out.flush()
            os.fsync(out.fileno())
        with tmp.open("rb") as f:
            head = f.read(16)
        if head[:2] != b"\x1f\x8b":  # e.g. an HTML error page
            raise IDXError(f"response is not gzip data (starts with {head!r})")
        digest = _payload_sha256(tmp)
        if digest != expected:
            raise ChecksumError(
                f"SHA-256 of the decompressed download is {digest}, expected {expected}"
            )
        os.chmod(tmp, 0o644)
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def download_dataset(
    name: str,
    dest: str | os.PathLike[str] | None = None,
    *,
    mirrors: Sequence[str] | None = None,
    opener: Opener | None = None,
    timeout: float = 30.0,
    log: Callable[[str], None] | None = _stderr,
) -> Path:
    """Download the missing files of ``name`` into ``dest`` (default: the cache folder).

    For each file the mirrors are tried in order (``<mirror>/<file>.gz``); a download
    whose decompressed SHA-256 is wrong is deleted and the next mirror is tried.
    ``mirrors`` and ``opener(url, timeout)`` are injectable (tests use ``file://`` URLs).
    Raises :class:`DatasetNotFoundError` listing every failure if a file cannot be fetched.
    """
    name = canonical_name(name)
    dest = Path(dest) if dest is not None else cache_dir(name)
    mirrors = MIRRORS[name] if mirrors is None else tuple(mirrors)
    opener = opener or _urlopen
    try:
        dest.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise DatasetNotFoundError(
            _how_to_provide(name, f"cannot create the download folder {dest}: {e}")
        ) from e
    failures: list[str] = []
    for base in missing_files(dest):
        for mirror in mirrors:
            url = mirror.rstrip("/") + "/" + base + ".gz"
            if log:
                log(f"downloading {url}")
            try:
                _download_one(url, dest / (base + ".gz"), SHA256[name][base], opener, timeout)
                break
            except (OSError, ValueError, EOFError, zlib.error, http.client.HTTPException) as e:
                failures.append(f"{url}: {e}")
                if log:
                    log(f"  failed: {e}")
        else:
            raise DatasetNotFoundError(
                _how_to_provide(name, f"{base} could not be downloaded (offline?)", failures)
            )
    return dest


def verify_dataset_dir(path: str | os.PathLike[str], name: str) -> None:
    """Check the decompressed SHA-256 of all four files in ``path``; raise ChecksumError on mismatch.

    This re-reads every file (about 0.3 s for MNIST). :func:`load_dataset` does not call it:
    it hashes the bytes it has already decompressed instead.
    """
    name = canonical_name(name)
    folder = _require_complete(Path(path), name, "verify_dataset_dir")
    problems = []
    for base, file in dataset_files(folder).items():
        assert file is not None
        digest = _payload_sha256(file)
        if digest != SHA256[name][base]:
            problems.append(f"{file}: SHA-256 {digest}, expected {SHA256[name][base]}")
    if problems:
        raise ChecksumError(
            f"{len(problems)} file(s) in {folder} are not the official {name} files:\n  "
            + "\n  ".join(problems)
        )


# --------------------------------------------------------------------------- loading


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train/test image-classification data set of uint8 images and int64 labels."""

    train_images: np.ndarray  # (N, H, W) uint8
    train_labels: np.ndarray  # (N,) int64
    test_images: np.ndarray  # (M, H, W) uint8
    test_labels: np.ndarray  # (M,) int64
    class_names: list[str]
    source: Path


def _load_checked(path: Path, expected: str | None, name: str) -> np.ndarray:
    payload = read_payload(path)
    array = parse_idx(payload, path)  # structural errors first: they are more specific
    if expected is not None:
        digest = hashlib.sha256(payload).hexdigest()
        if digest != expected:
            hint = (
                "delete it to download it again"
                if path.parent == cache_dir(name)
                else "replace it with the official file"
            )
            raise ChecksumError(
                f"{path}: SHA-256 of the decompressed data is {digest}, expected {expected} "
                f"(the official {name} file); {hint}, or pass verify=False to use it anyway."
            )
    return array


def _check_pair(images: np.ndarray, labels: np.ndarray, img_path: Path, lbl_path: Path,
                n_classes: int) -> np.ndarray:
    if images.ndim != 3 or images.dtype != np.uint8:
        raise IDXError(f"{img_path}: expected uint8 images of shape (N, H, W), got {images.dtype} {images.shape}")
    if labels.ndim != 1:
        raise IDXError(f"{lbl_path}: expected a 1-D label array, got shape {labels.shape}")
    if len(images) != len(labels):
        raise IDXError(
            f"{img_path} has {len(images)} images but {lbl_path} has {len(labels)} labels"
        )
    labels = labels.astype(np.int64)
    if len(labels) and (labels.min() < 0 or labels.max() >= n_classes):
        raise IDXError(
            f"{lbl_path}: labels range {labels.min()}..{labels.max()}, expected 0..{n_classes - 1}"
        )
    return labels


def load_dataset(
    name: str,
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    verify: bool = True,
    mirrors: Sequence[str] | None = None,
    opener: Opener | None = None,
) -> Dataset:
    """Load ``mnist`` or ``fashion-mnist`` (folder found by :func:`resolve_dataset_dir`).

    With ``verify`` (default) each file's decompressed SHA-256 must match the official
    one; the cost is one SHA-256 pass over bytes already in memory (~0.1 s for MNIST).
    Pass ``verify=False`` for other data sets that reuse the MNIST file names (e.g. KMNIST).
    """
    name = canonical_name(name)
    folder = resolve_dataset_dir(name, data_dir, download=download, mirrors=mirrors, opener=opener)
    paths = dataset_files(folder)
    arrays = {}
    for base, path in paths.items():
        assert path is not None  # resolve_dataset_dir guarantees completeness
        arrays[base] = _load_checked(path, SHA256[name][base] if verify else None, name)
    n_classes = len(CLASS_NAMES[name])
    train_labels = _check_pair(arrays[FILES[0]], arrays[FILES[1]], paths[FILES[0]], paths[FILES[1]], n_classes)  # type: ignore[arg-type]
    test_labels = _check_pair(arrays[FILES[2]], arrays[FILES[3]], paths[FILES[2]], paths[FILES[3]], n_classes)  # type: ignore[arg-type]
    if arrays[FILES[0]].shape[1:] != arrays[FILES[2]].shape[1:]:
        raise IDXError(
            f"{paths[FILES[0]]} has images of size {arrays[FILES[0]].shape[1:]} but "
            f"{paths[FILES[2]]} has {arrays[FILES[2]].shape[1:]}"
        )
    return Dataset(
        train_images=arrays[FILES[0]],
        train_labels=train_labels,
        test_images=arrays[FILES[2]],
        test_labels=test_labels,
        class_names=list(CLASS_NAMES[name]),
        source=folder,
    )
