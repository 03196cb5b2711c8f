"""Loaders for files a user already has: npz arrays, MNIST-style IDX files, CIFAR-10 python batches.

Nothing here downloads. Images come back float32 in [0, 1], shaped (N, C, H, W); labels int64.
"""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np

from collapselab.data._offline import Splits


def _need_file(path: Path, what: str) -> Path:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} not found: {path} (collapselab never downloads data; "
                                f"point it at a file you have)")
    return path


def load_npz(path: str | Path) -> Splits:
    """A user's arrays from an ``.npz`` with keys x_train, y_train, x_test, y_test.

    Images may be (N, H, W) (a channel axis is added) or (N, C, H, W); integer images are divided by
    255. Float images must already be in [0, 1].
    """
    path = _need_file(Path(path), "npz file")
    with np.load(path, allow_pickle=False) as z:
        missing = [k for k in Splits._fields if k not in z.files]
        if missing:
            raise ValueError(f"{path}: missing arrays {missing}; expected keys {list(Splits._fields)}")
        arrays = {k: z[k] for k in Splits._fields}
    out = []
    for key in Splits._fields:
        a = arrays[key]
        if key.startswith("x"):
            a = _as_unit_images(a, f"{path}:{key}")
        else:
            if a.ndim != 1:
                raise ValueError(f"{path}:{key} must be 1-D labels, got shape {a.shape}")
            a = a.astype(np.int64)
        out.append(a)
    splits = Splits(*out)
    for x, y, name in ((splits.x_train, splits.y_train, "train"), (splits.x_test, splits.y_test, "test")):
        if len(x) != len(y):
            raise ValueError(f"{path}: {name} images and labels differ in length ({len(x)} vs {len(y)})")
    return splits


def _as_unit_images(a: np.ndarray, where: str) -> np.ndarray:
    if a.ndim == 3:
        a = a[:, None]
    if a.ndim != 4:
        raise ValueError(f"{where} must be (N, H, W) or (N, C, H, W), got shape {a.shape}")
    if np.issubdtype(a.dtype, np.integer):
        return (a / 255.0).astype(np.float32)
    a = a.astype(np.float32)
    if a.size and (a.min() < 0 or a.max() > 1):
        raise ValueError(f"{where}: float images must be in [0, 1], got range [{a.min()}, {a.max()}]")
    return a


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (MNIST format; gzip allowed): magic 0x0000, dtype code, ndim, big-endian dims."""
    path = _need_file(Path(path), "IDX file")
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        raw = f.read()
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    dtypes = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
    if raw[2] not in dtypes:
        raise ValueError(f"{path}: unknown IDX type code {raw[2]:#x}")
    ndim = raw[3]
    dims = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dt = np.dtype(dtypes[raw[2]])
    expected = int(np.prod(dims)) * dt.itemsize
    body = raw[4 + 4 * ndim:]
    if len(body) != expected:
        raise ValueError(f"{path}: IDX header says {dims} ({expected} bytes) but body has {len(body)}")
    return np.frombuffer(body, dtype=dt).reshape(dims)


def load_idx_dataset(folder: str | Path, *, prefix_train: str = "train", prefix_test: str = "t10k") -> Splits:
    """MNIST or Fashion-MNIST from a folder with the four standard IDX files (``.gz`` or not):
    ``train-images-idx3-ubyte``, ``train-labels-idx1-ubyte``, ``t10k-images-idx3-ubyte``,
    ``t10k-labels-idx1-ubyte``."""
    folder = Path(folder)

    def find(stem: str) -> Path:
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
        raise FileNotFoundError(f"{folder / stem}[.gz] not found (collapselab never downloads data)")

    xs, ys = [], []
    for prefix in (prefix_train, prefix_test):
        x = read_idx(find(f"{prefix}-images-idx3-ubyte"))
        y = read_idx(find(f"{prefix}-labels-idx1-ubyte"))
        if len(x) != len(y):
            raise ValueError(f"{folder}: {prefix} images and labels differ in length")
        xs.append((x / 255.0).astype(np.float32)[:, None])
        ys.append(y.astype(np.int64))
    return Splits(xs[0], ys[0], xs[1], ys[1])


def load_cifar10(folder: str | Path) -> Splits:
    """CIFAR-10 from the python batches a user has (``data_batch_1..5`` and ``test_batch``, as in
    ``cifar-10-batches-py``). Images (N, 3, 32, 32) float32 in [0, 1]."""
    folder = Path(folder)

    def read(name: str) -> tuple[np.ndarray, np.ndarray]:
        path = _need_file(folder / name, "CIFAR-10 batch")
        with open(path, "rb") as f:
            batch = pickle.load(f, encoding="bytes")  # noqa: S301  (the format is a pickle)
        data = batch.get(b"data", batch.get("data"))
        labels = batch.get(b"labels", batch.get("labels"))
        if data is None or labels is None:
            raise ValueError(f"{path} is not a CIFAR-10 python batch (no data/labels)")
        x = np.asarray(data, dtype=np.uint8).reshape(-1, 3, 32, 32)
        return (x / 255.0).astype(np.float32), np.asarray(labels, dtype=np.int64)

    train = [read(f"data_batch_{i}") for i in range(1, 6)]
    x_test, y_test = read("test_batch")
    return Splits(np.concatenate([t[0] for t in train]), np.concatenate([t[1] for t in train]), x_test, y_test)
