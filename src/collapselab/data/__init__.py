"""Offline datasets and loaders for files a user already has. Nothing downloads.

Images are float32 in [0, 1] shaped (N, C, H, W); labels int64.
"""

from collapselab.data._files import load_cifar10, load_idx_dataset, load_npz, read_idx
from collapselab.data._offline import Splits, load_digits, load_mnist1d, load_mnist_subset, split

__all__ = ["Splits", "load_cifar10", "load_digits", "load_idx_dataset", "load_mnist1d", "load_mnist_subset",
           "load_npz", "read_idx", "split"]
