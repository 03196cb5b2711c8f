"""Offline datasets and loaders for files a user already has. Nothing downloads.

Images are float32 in [0, 1] shaped (N, C, H, W); labels int64. ``load(name, data_dir)`` picks a
dataset by its one name (``DATASETS``; older spellings in ``ALIASES``).
"""

from collapselab.data._by_name import ALIASES, DATASETS, dataset_name, load
from collapselab.data._files import load_cifar10, load_idx_dataset, load_npz, read_idx
from collapselab.data._offline import Splits, load_digits, load_mnist1d, load_mnist_subset, split

__all__ = ["ALIASES", "DATASETS", "Splits", "dataset_name", "load", "load_cifar10", "load_digits",
           "load_idx_dataset", "load_mnist1d", "load_mnist_subset", "load_npz", "read_idx", "split"]
