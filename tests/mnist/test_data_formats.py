"""CSV files, image folders, scaling and splits."""

from __future__ import annotations

import os

import numpy as np
import pytest
from PIL import Image

from mnist.data.formats import (
    FormatError,
    read_csv_dataset,
    read_image_folder,
    read_images,
    write_predictions_csv,
)
from mnist.data.splits import Stats, load_any, to_float, train_val_split


def write_csv(path, rows, header=True, labels=True, side=4):
    cols = (["label"] if labels else []) + [f"pixel{i}" for i in range(side * side)]
    lines = [",".join(cols)] if header else []
    lines += [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


def rows_with_labels(n, side=4, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, 10, n)
    pixels = rng.integers(0, 256, (n, side * side))
    return labels, pixels, np.column_stack([labels, pixels])


# --------------------------------------------------------------------------- CSV


def test_csv_with_labels(tmp_path):
    labels, pixels, rows = rows_with_labels(6)
    s = read_csv_dataset(write_csv(tmp_path / "train.csv", rows))
    assert s.images.shape == (6, 4, 4) and s.images.dtype == np.uint8
    np.testing.assert_array_equal(s.images.reshape(6, -1), pixels)
    assert s.labels.dtype == np.int64
    np.testing.assert_array_equal(s.labels, labels)
    assert s.class_names == [str(i) for i in range(labels.max() + 1)]


def test_csv_without_labels_is_a_kaggle_test_file(tmp_path):
    _, pixels, _ = rows_with_labels(3, side=5)
    s = read_csv_dataset(write_csv(tmp_path / "test.csv", pixels, labels=False, side=5))
    assert s.labels is None and s.class_names == []
    np.testing.assert_array_equal(s.images.reshape(3, 25), pixels)


def test_csv_without_header_and_single_row(tmp_path):
    labels, pixels, rows = rows_with_labels(1, side=3)
    s = read_csv_dataset(write_csv(tmp_path / "x.csv", rows, header=False, side=3))
    assert s.images.shape == (1, 3, 3)
    np.testing.assert_array_equal(s.labels, labels)


def test_csv_non_square(tmp_path):
    path = tmp_path / "x.csv"
    path.write_text("label,a,b,c\n1,2,3,4\n")
    with pytest.raises(FormatError, match=r"x\.csv: line 1: 3 pixel columns is not a perfect square"):
        read_csv_dataset(path)


@pytest.mark.parametrize(
    "bad_line, expected",
    [
        ("1," + ",".join(["0"] * 15), r"line 5: expected 17 values, found 16"),
        ("1," + ",".join(["0"] * 15) + ",x", r"line 5, column 17: 'x' is not an integer"),
        ("1," + ",".join(["0"] * 15) + ",2.5", r"line 5, column 17: '2.5' is not an integer"),
        ("1," + ",".join(["0"] * 15) + ",99999999999", r"line 5, column 17: value 99999999999 is out of range"),
        ("1,0,0,256," + ",".join(["0"] * 13), r"line 5: pixel value 256 \(column 4\) is outside 0..255"),
        ("1,0,-1," + ",".join(["0"] * 14), r"line 5: pixel value -1 \(column 3\) is outside 0..255"),
        ("-3," + ",".join(["0"] * 16), r"line 5: negative label -3"),
    ],
)
def test_csv_errors_name_file_and_line(tmp_path, bad_line, expected):
    _, _, rows = rows_with_labels(2)
    path = write_csv(tmp_path / "train.csv", rows)
    with path.open("a") as f:  # a blank line 4 must not shift the reported line numbers
        f.write("\n" + bad_line + "\n" + ",".join(["0"] * 17) + "\n")
    with pytest.raises(FormatError, match=expected) as exc:
        read_csv_dataset(path)
    assert str(path) in str(exc.value)


def test_csv_empty_and_header_only(tmp_path):
    empty = tmp_path / "e.csv"
    empty.write_text("")
    with pytest.raises(FormatError, match="line 1 is empty"):
        read_csv_dataset(empty)
    header_only = write_csv(tmp_path / "h.csv", [])
    with pytest.raises(FormatError, match="no data rows"):
        read_csv_dataset(header_only)
    with pytest.raises(FormatError, match="cannot read"):
        read_csv_dataset(tmp_path / "missing.csv")


def test_write_predictions_csv(tmp_path):
    path = tmp_path / "submission.csv"
    write_predictions_csv(path, np.array([3, 0, 9]))
    assert path.read_text() == "ImageId,Label\n1,3\n2,0\n3,9\n"
    assert os.listdir(tmp_path) == ["submission.csv"]
    with pytest.raises(ValueError, match="1-D integer"):
        write_predictions_csv(path, np.zeros((2, 2), int))
    assert path.read_text() == "ImageId,Label\n1,3\n2,0\n3,9\n"


# --------------------------------------------------------------------------- image folders


def save(path, array):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(array, np.uint8)).save(path)


def test_image_folder_classes_labels_and_resizing(tmp_path):
    root = tmp_path / "imgs"
    save(root / "b_cat/1.png", np.full((6, 8), 100))  # first image: defines the size (6, 8)
    save(root / "b_cat/2.jpg", np.full((12, 16), 200))  # resized; JPEG of a flat image stays flat
    save(root / "a_dog/x.png", np.full((3, 3, 3), [255, 0, 0]))  # RGB -> gray
    (root / "a_dog/notes.txt").write_text("ignored")
    (root / "a_dog/.hidden.png").write_bytes(b"ignored")
    (root / ".git").mkdir()

    s = read_image_folder(root)
    assert s.class_names == ["a_dog", "b_cat"]
    np.testing.assert_array_equal(s.labels, [0, 1, 1])
    assert s.labels.dtype == np.int64
    assert s.images.shape == (3, 3, 3) and s.images.dtype == np.uint8  # a_dog/x.png comes first
    assert np.all(s.images[0] == 76)  # ITU-R 601 luma of pure red
    assert np.all(s.images[1] == 100) and np.all(np.abs(s.images[2].astype(int) - 200) <= 2)

    s = read_image_folder(root, size=(6, 8))
    assert s.images.shape == (3, 6, 8)
    s = read_image_folder(root, size=5, grayscale=False)
    assert s.images.shape == (3, 5, 5, 3)
    assert tuple(s.images[0, 2, 2]) == (255, 0, 0)


def test_image_folder_numeric_classes_sort_numerically(tmp_path):
    for name in ["10", "2", "0"]:
        save(tmp_path / name / "a.png", np.full((4, 4), int(name)))
    s = read_image_folder(tmp_path)
    assert s.class_names == ["0", "2", "10"]
    np.testing.assert_array_equal(s.images[:, 0, 0], [0, 2, 10])


def test_image_folder_errors(tmp_path):
    with pytest.raises(FormatError, match="not a folder"):
        read_image_folder(tmp_path / "none")
    (tmp_path / "train-images-idx3-ubyte.gz").write_bytes(b"")
    with pytest.raises(FormatError, match="no class sub-folders.*IDX folder"):
        read_image_folder(tmp_path)
    (tmp_path / "empty_class").mkdir()
    with pytest.raises(FormatError, match="empty_class: class folder contains no images"):
        read_image_folder(tmp_path)
    bad = tmp_path / "empty_class" / "broken.png"
    bad.write_bytes(b"not a png")
    with pytest.raises(FormatError) as exc:
        read_image_folder(tmp_path)
    assert str(bad) in str(exc.value) and "cannot read image" in str(exc.value)


def test_read_images_loose_files(tmp_path):
    save(tmp_path / "a.png", np.zeros((28, 28)))
    save(tmp_path / "b.png", np.full((56, 56), 255))
    x = read_images([tmp_path / "a.png", str(tmp_path / "b.png")], 28)
    assert x.shape == (2, 28, 28)
    assert x[0].max() == 0 and x[1].min() == 255
    with pytest.raises(FormatError, match="no image files"):
        read_images([])
    with pytest.raises(ValueError, match="positive"):
        read_images([tmp_path / "a.png"], (0, 3))


# --------------------------------------------------------------------------- scaling and splits


def test_to_float_scaling_and_standardizing():
    images = np.array([[[0, 255], [51, 102]], [[255, 255], [0, 0]]], np.uint8)
    x, stats = to_float(images)
    assert x.shape == (2, 4) and x.dtype == np.float32 and stats == Stats(0.0, 1.0)
    np.testing.assert_allclose(x[0], [0, 1, 0.2, 0.4], rtol=1e-6)
    assert to_float(images, dtype=np.float64)[0].dtype == np.float64

    z, stats = to_float(images, standardize=True)
    assert abs(z.mean()) < 1e-6 and abs(z.std() - 1) < 1e-5
    np.testing.assert_allclose(stats.mean, (0 + 1 + 0.2 + 0.4 + 1 + 1) / 8)
    z2, stats2 = to_float(images[:1], standardize=True, mean=stats.mean, std=stats.std)
    assert stats2 == stats
    np.testing.assert_allclose(z2, z[:1], rtol=1e-6)


def test_to_float_rejects_misuse():
    with pytest.raises(TypeError, match="uint8"):
        to_float(np.zeros((2, 3), np.float32))
    with pytest.raises(ValueError, match="standardize=True"):
        to_float(np.zeros((2, 3), np.uint8), mean=0.5)
    with pytest.raises(ValueError, match="std=0"):
        to_float(np.zeros((2, 3), np.uint8), standardize=True)


def test_train_val_split_holds_out_last():
    x, y = np.arange(10) * 10, np.arange(10)
    tx, ty, vx, vy = train_val_split(x, y, 3)
    np.testing.assert_array_equal(vy, [7, 8, 9])
    np.testing.assert_array_equal(tx, x[:7])
    assert len(train_val_split(x, y, 0.2)[3]) == 2
    assert len(train_val_split(x, y, 0)[2]) == 0
    for bad in (10, 11):
        with pytest.raises(ValueError, match="leaves no training data"):
            train_val_split(x, y, bad)
    with pytest.raises(ValueError, match=">= 0"):
        train_val_split(x, y, -1)
    with pytest.raises(ValueError, match="labels"):
        train_val_split(x, y[:5], 1)


def test_load_any_csv_partition_is_deterministic(tmp_path):
    n = 50
    ids = np.arange(n)
    rows = np.column_stack([ids % 10, ids, np.zeros((n, 3), int)])  # pixel0 = example id
    path = write_csv(tmp_path / "train.csv", rows, side=2)
    s = load_any(path, test_size=0.2, val_size=5, seed=1)
    assert (len(s.train_images), len(s.val_images), len(s.test_images)) == (35, 5, 10)
    got = np.concatenate([s.train_images, s.val_images, s.test_images])[:, 0, 0]
    assert sorted(got) == list(range(n))  # a partition: nothing lost or duplicated
    np.testing.assert_array_equal(s.train_labels, s.train_images[:, 0, 0] % 10)
    assert s.name == "train" and s.source == path
    again = load_any(str(path), test_size=0.2, val_size=5, seed=1)
    np.testing.assert_array_equal(again.test_images, s.test_images)
    other = load_any(path, test_size=0.2, val_size=5, seed=2)
    assert not np.array_equal(other.test_images, s.test_images)
    assert len(load_any(path).val_images) == 4  # defaults: 10 % test, 10 % of the rest


def test_load_any_image_folder_and_errors(tmp_path):
    for c in range(3):
        for i in range(4):
            save(tmp_path / "imgs" / f"c{c}" / f"{i}.png", np.full((8, 8), c * 10 + i))
    s = load_any(tmp_path / "imgs", test_size=0.25, val_size=0.0, size=4)
    assert s.train_images.shape == (9, 4, 4) and len(s.test_images) == 3 and len(s.val_images) == 0
    assert s.class_names == ["c0", "c1", "c2"]
    np.testing.assert_array_equal(s.train_labels, s.train_images[:, 0, 0] // 10)

    unlabelled = write_csv(tmp_path / "test.csv", np.zeros((2, 4), int), labels=False, side=2)
    with pytest.raises(FormatError, match="no label column"):
        load_any(unlabelled)
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        load_any(tmp_path / "nothing.csv")
    (tmp_path / "x.txt").write_text("")
    with pytest.raises(FormatError, match="unsupported"):
        load_any(tmp_path / "x.txt")
    with pytest.raises(ValueError, match="test_size"):
        load_any(tmp_path / "imgs", test_size=1.0)
