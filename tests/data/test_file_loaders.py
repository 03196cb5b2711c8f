"""The IDX and CIFAR-10 loaders of collapselab.data (used by the `full` presets), on small files."""

import gzip
import pickle

import numpy as np
import pytest

from collapselab.data import load_cifar10, load_idx_dataset, read_idx


def _idx_bytes(arr: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, arr.ndim]) + b"".join(int(n).to_bytes(4, "big") for n in arr.shape)
    return header + arr.astype(np.uint8).tobytes()


def _write_mnist(folder, rng, n_train=7, n_test=3, gz=False):
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {
        "train-images-idx3-ubyte": rng.integers(0, 256, (n_train, 28, 28)),
        "train-labels-idx1-ubyte": rng.integers(0, 10, n_train),
        "t10k-images-idx3-ubyte": rng.integers(0, 256, (n_test, 28, 28)),
        "t10k-labels-idx1-ubyte": rng.integers(0, 10, n_test),
    }
    for name, arr in arrays.items():
        data = _idx_bytes(arr)
        if gz:
            (folder / (name + ".gz")).write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_idx_dataset_roundtrip(tmp_path, gz):
    rng = np.random.default_rng(0)
    arrays = _write_mnist(tmp_path / "mnist", rng, gz=gz)
    d = load_idx_dataset(tmp_path / "mnist")
    assert d.x_train.shape == (7, 1, 28, 28) and d.x_test.shape == (3, 1, 28, 28)
    assert d.x_train.dtype == np.float32 and d.y_train.dtype == np.int64
    np.testing.assert_allclose(d.x_train[:, 0] * 255, arrays["train-images-idx3-ubyte"], atol=1e-3)
    np.testing.assert_array_equal(d.y_test, arrays["t10k-labels-idx1-ubyte"])


def test_read_idx_rejects_bad_files(tmp_path):
    bad = tmp_path / "bad"
    bad.write_bytes(b"\x01\x02\x08\x01" + (3).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="magic"):
        read_idx(bad)
    short = tmp_path / "short"
    short.write_bytes(bytes([0, 0, 0x08, 1]) + (5).to_bytes(4, "big") + b"abc")
    with pytest.raises(ValueError, match="body"):
        read_idx(short)
    with pytest.raises(FileNotFoundError):
        load_idx_dataset(tmp_path / "nothing")


def test_cifar10_batches(tmp_path):
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    raw = {}
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        data = rng.integers(0, 256, (4, 3072), dtype=np.uint8)
        labels = rng.integers(0, 10, 4).tolist()
        raw[name] = (data, labels)
        with open(folder / name, "wb") as f:
            pickle.dump({b"data": data, b"labels": labels}, f)
    d = load_cifar10(folder)
    assert d.x_train.shape == (20, 3, 32, 32) and d.x_test.shape == (4, 3, 32, 32)
    np.testing.assert_allclose(d.x_test.reshape(4, -1) * 255, raw["test_batch"][0], atol=1e-3)
    np.testing.assert_array_equal(d.y_train[:4], raw["data_batch_1"][1])
    (folder / "test_batch").unlink()
    with pytest.raises(FileNotFoundError):
        load_cifar10(folder)
