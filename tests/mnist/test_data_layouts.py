"""Data layouts and labels: at least two classes, the Kaggle Chinese MNIST layout, a CSV test file,
no validation split, tiny data sets, and labels outside the model's classes."""
from __future__ import annotations

import numpy as np
import pytest
from tiny_data import CHINESE, make_images, write_chinese_mnist, write_csv_dataset, write_idx_dataset

from mnist.data import FormatError, check_labels, load_any, read_chinese_mnist, write_idx
from mnist.dataset import load_data
from mnist.inputs import read_idx_labels, read_inputs
from mnist.train import TrainConfig, Trainer


def write_image_folder(root, classes, per_class=4, side=8):
    from PIL import Image

    for c, name in enumerate(classes):
        (root / name).mkdir(parents=True)
        for k in range(per_class):
            Image.fromarray(np.full((side, side), 40 * c + k, np.uint8)).save(root / name / f"{k}.png")
    return root


# ----------------------------------------------------------------------------- classes
def test_a_single_class_folder_is_refused(tmp_path):
    root = write_image_folder(tmp_path / "one", ["only"])
    with pytest.raises(FormatError, match=r"one: 1 class found \('only'\); a classifier needs at least 2 classes"):
        load_any(root)


def test_a_csv_with_one_label_is_refused(tmp_path):
    path = tmp_path / "zeros.csv"
    path.write_text("label,pixel0,pixel1,pixel2,pixel3\n" + "0,1,2,3,4\n" * 30)
    with pytest.raises(FormatError, match=r"zeros\.csv: 1 class found \('0'\)"):
        load_any(path)


def test_the_kaggle_chinese_mnist_image_folder_alone_is_refused_with_a_hint(tmp_path):
    write_chinese_mnist(tmp_path, suites=1, samples=1, side=16)
    with pytest.raises(FormatError, match=r"1 class found \('data'\).*Kaggle Chinese MNIST.*chinese_mnist\.csv"):
        load_any(tmp_path / "data")


# ----------------------------------------------------------------------------- Chinese MNIST
def test_the_kaggle_chinese_mnist_layout(tmp_path):
    csv_path = write_chinese_mnist(tmp_path, suites=3, samples=2, side=64)
    s = read_chinese_mnist(csv_path)
    assert s.images.shape == (90, 64, 64) and s.images.dtype == np.uint8
    assert s.class_names == [c for _, c in CHINESE] and len(s.class_names) == 15
    # row k of the CSV is input_<suite>_<sample>_<code>.jpg with label code - 1
    lines = csv_path.read_text(encoding="utf-8").splitlines()[1:]
    codes = np.array([int(line.split(",")[2]) for line in lines])
    np.testing.assert_array_equal(s.labels, codes - 1)
    from PIL import Image

    with Image.open(tmp_path / "data" / "data" / "input_2_1_7.jpg") as im:
        np.testing.assert_array_equal(s.images[lines.index("2,1,7,6,六")], np.asarray(im.convert("L")))
    splits = load_any(csv_path, seed=0)  # a held-out share, as for any single-file data set
    assert splits.name == "chinese_mnist" and len(splits.test_images) == 9 and splits.class_names[7] == "七"
    assert sorted(np.concatenate([splits.train_rows, splits.val_rows, splits.test_rows]).tolist()) == list(range(90))


def test_chinese_mnist_errors_name_the_file_and_line(tmp_path):
    csv_path = write_chinese_mnist(tmp_path, suites=1, samples=1, side=16)
    (tmp_path / "data" / "data" / "input_1_1_3.jpg").unlink()
    with pytest.raises(FormatError, match=r"chinese_mnist\.csv: line 4: image .*input_1_1_3\.jpg does not exist"):
        read_chinese_mnist(csv_path)
    csv_path.write_text(csv_path.read_text(encoding="utf-8") + "1,2,1,0,X\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 17: code 1 is value '0' character 'X', but line 2 says"):
        read_chinese_mnist(csv_path, tmp_path / "data" / "data")
    csv_path.write_text("suite_id,sample_id,code,value,character\n1,x,1,0,零\n", encoding="utf-8")
    with pytest.raises(FormatError, match=r"line 2: sample_id 'x' is not a non-negative integer"):
        read_chinese_mnist(csv_path)


def test_chinese_mnist_trains(tmp_path):
    csv_path = write_chinese_mnist(tmp_path, suites=4, samples=2, side=32)
    cfg = TrainConfig(dataset=str(csv_path), hidden=(32,), epochs=6, batch_size=16, val_size=0)
    data = load_data(cfg)
    assert data.image_shape == (32, 32) and len(data.class_names) == 15 and len(data.x_val) == 0
    t = Trainer(cfg, data, log=None)
    t.fit()
    assert t.evaluate(data.x_train, data.y_train).accuracy > 0.5  # chance is 1/15


# ----------------------------------------------------------------------------- test files, splits
def test_a_labelled_csv_can_be_the_test_set(tmp_path):
    train = write_csv_dataset(tmp_path / "mnist_train.csv", n=120, side=10, n_classes=3)
    test = write_csv_dataset(tmp_path / "mnist_test.csv", n=30, side=10, n_classes=3, seed=7)
    s = load_any(train, test_data=test)
    assert len(s.test_images) == 30 and s.test_source == test
    assert len(s.train_images) + len(s.val_images) == 120  # nothing of the training file held out for testing
    np.testing.assert_array_equal(s.test_rows, np.arange(30))
    other = write_csv_dataset(tmp_path / "small_images.csv", n=30, side=8, n_classes=3)
    with pytest.raises(FormatError, match=r"small_images\.csv: images of 8x8 pixels, but the training images"):
        load_any(train, test_data=other)
    five = write_csv_dataset(tmp_path / "five_classes.csv", n=30, side=10, n_classes=5)
    with pytest.raises(FormatError, match=r"five_classes\.csv: label [34] of image #\d+ is not a class of the model: "
                                          r"expected 0\.\.2 \(3 classes\)"):
        load_any(train, test_data=five)


def test_a_named_data_set_with_a_csv_test_file(tmp_path):
    write_idx_dataset(tmp_path / "idx", n_train=200, n_test=20)
    images, labels = make_images(15, seed=3)
    rows = ["label," + ",".join(f"{r}x{c}" for r in range(1, 29) for c in range(1, 29))]  # mnist-in-csv header
    rows += [",".join(map(str, [int(y), *img.ravel()])) for img, y in zip(images, labels)]
    (tmp_path / "mnist_test.csv").write_text("\n".join(rows) + "\n")
    cfg = TrainConfig(data_dir=str(tmp_path / "idx"), verify=False, val_size=50,
                      test_data=str(tmp_path / "mnist_test.csv"))
    data = load_data(cfg)
    assert len(data.x_test) == 15 and "mnist_test.csv" in data.source
    np.testing.assert_array_equal(data.y_test, labels)


def test_val_size_zero_means_no_validation_split(tmp_path):
    write_idx_dataset(tmp_path / "idx", n_train=100, n_test=20)
    data = load_data(TrainConfig(data_dir=str(tmp_path / "idx"), verify=False, val_size=0))
    assert data.x_val.shape == (0, 784) and len(data.x_train) == 100
    csv = write_csv_dataset(tmp_path / "t.csv", n=50, side=10)
    data = load_data(TrainConfig(dataset=str(csv), val_size=0))
    assert data.x_val.shape == (0, 100) and len(data.x_train) == 45
    t = Trainer(TrainConfig(dataset=str(csv), val_size=0, hidden=(8,), epochs=1), data, log=None)
    t.fit()
    assert t.history[0]["val_accuracy"] is None
    with pytest.raises(ValueError, match="early stopping needs a validation split"):
        Trainer(TrainConfig(dataset=str(csv), val_size=0, early_stopping=2), data, log=None)


def test_a_tiny_data_set_is_a_clear_error(tmp_path):
    csv = write_csv_dataset(tmp_path / "four.csv", n=4, side=4, n_classes=2)
    with pytest.raises(FormatError, match=r"four\.csv: 4 examples are too few: the 10% test share is empty"):
        load_any(csv)
    csv = write_csv_dataset(tmp_path / "six.csv", n=6, side=4, n_classes=2)
    with pytest.raises(FormatError, match=r"six\.csv: 5 training examples are too few for a 10% validation share"):
        load_any(csv)
    assert len(load_any(csv, val_size=0).train_images) == 5


# ----------------------------------------------------------------------------- labels
def test_check_labels_names_the_file_the_label_and_the_image():
    check_labels(np.array([0, 2, 1]), 3, "f.csv")
    with pytest.raises(FormatError, match=r"f\.csv: label 3 of image #1 is not a class of the model: expected 0\.\.2"):
        check_labels(np.array([0, 3, 1]), 3, "f.csv")
    with pytest.raises(FormatError, match=r"label -1 of image #12 .*\(2 labels are out of range\)"):
        check_labels(np.array([-1, 9]), 3, "f.csv", rows=np.array([12, 13]))
    with pytest.raises(FormatError, match="labels must be integers"):
        check_labels(np.array([7.9]), 10, "f.csv")


def test_idx_labels_for_predict_are_checked(tmp_path):
    write_idx(tmp_path / "l.idx", np.array([1, 12, 3], np.uint8))
    with pytest.raises(FormatError, match=r"l\.idx: label 12 of image #1 is not a class of the model"):
        read_idx_labels(tmp_path / "l.idx", 3, 10)
    write_idx(tmp_path / "neg.idx", np.array([1, -2], np.int8))
    with pytest.raises(FormatError, match=r"neg\.idx: label -2 of image #1"):
        read_idx_labels(tmp_path / "neg.idx", 2, 10)
    write_idx(tmp_path / "float.idx", np.array([7.9, 1.0], np.float32))
    with pytest.raises(FormatError, match=r"float\.idx: labels must be integers, but the IDX file holds float32"):
        read_idx_labels(tmp_path / "float.idx", 2, 10)
    write_idx(tmp_path / "images.idx", np.zeros((3, 28, 28), np.uint8))
    with pytest.raises(FormatError, match=r"l\.idx: label 12"):
        read_inputs([str(tmp_path / "images.idx")], (28, 28), 10, labels=str(tmp_path / "l.idx"))


@pytest.mark.parametrize("label, message", [("12", r"label 12 of image #1 is not a class of the model"),
                                            ("-1", r"line 3: negative label -1"),
                                            ("7.9", r"line 3, column 1: '7\.9' is not an integer")])
def test_csv_labels_given_to_predict_are_checked(tmp_path, label, message):
    path = tmp_path / "labelled.csv"
    path.write_text("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n"
                    + "\n".join(",".join([y] + ["0"] * 784) for y in ("1", label)) + "\n")
    with pytest.raises(FormatError, match=r"labelled\.csv: " + message):
        read_inputs([str(path)], (28, 28), 10)
