"""Data loading for the MNIST app (pure NumPy + stdlib; Pillow only for image folders).

Typical use::

    from mnist.data import load_any, to_float
    s = load_any("mnist", data_dir=None)          # or "fashion-mnist", "train.csv", "my_images/", "chinese_mnist.csv"
    x_train, stats = to_float(s.train_images, standardize=True)
    x_val, _ = to_float(s.val_images, standardize=True, mean=stats.mean, std=stats.std)

See docs/data.md for how data sets are found and downloaded.
"""

from .atomic import atomic_open
from .chinese import is_chinese_mnist_csv, read_chinese_mnist
from .files import read_source
from .formats import (
    MAX_CLASSES,
    FormatError,
    ImageSet,
    read_csv_dataset,
    read_image_folder,
    read_images,
    write_predictions_csv,
)
from .idx import IDXError, read_idx, write_idx
from .sources import (
    DATASETS,
    FILES,
    ChecksumError,
    Dataset,
    DatasetNotFoundError,
    cache_dir,
    cache_root,
    download_dataset,
    load_dataset,
    resolve_dataset_dir,
    verify_dataset_dir,
)
from .splits import Splits, Stats, check_classes, check_labels, load_any, to_float, train_val_split

__all__ = [
    "DATASETS",
    "MAX_CLASSES",
    "atomic_open",
    "check_classes",
    "check_labels",
    "is_chinese_mnist_csv",
    "read_chinese_mnist",
    "read_source",
    "FILES",
    "ChecksumError",
    "Dataset",
    "DatasetNotFoundError",
    "FormatError",
    "IDXError",
    "ImageSet",
    "Splits",
    "Stats",
    "cache_dir",
    "cache_root",
    "download_dataset",
    "load_any",
    "load_dataset",
    "read_csv_dataset",
    "read_idx",
    "read_image_folder",
    "read_images",
    "resolve_dataset_dir",
    "to_float",
    "train_val_split",
    "verify_dataset_dir",
    "write_idx",
    "write_predictions_csv",
]
