import gzip
import pickle

import numpy as np
import pytest

from collapselab.data import (
    Splits,
    load_cifar10,
    load_digits,
    load_idx_dataset,
    load_mnist1d,
    load_mnist_subset,
    load_npz,
    read_idx,
)


def _check(s: Splits, hw: tuple[int, int], n_total: int | None = None):
    for x, y in ((s.x_train, s.y_train), (s.x_test, s.y_test)):
        assert x.dtype == np.float32 and y.dtype == np.int64
        assert x.ndim == 4 and x.shape[1] == 1 and x.shape[2:] == hw and len(x) == len(y)
        assert 0.0 <= x.min() and x.max() <= 1.0
    if n_total:
        assert len(s.y_train) + len(s.y_test) == n_total
    assert s.num_classes == 10


def test_offline_loaders_shapes_and_determinism():
    d = load_digits()
    _check(d, (8, 8), 1797)
    m = load_mnist_subset()
    _check(m, (28, 28), 5000)
    assert np.array_equal(load_mnist_subset().y_test, m.y_test)
    assert not np.array_equal(load_mnist_subset(seed=1).y_test, m.y_test)
    state = np.random.get_state()[1].copy()
    o = load_mnist1d(num_samples=400)
    assert np.array_equal(np.random.get_state()[1], state)  # the generator's global seeding is undone
    _check(o, (1, 40), 400)


@pytest.mark.parametrize("load", [load_mnist_subset, lambda: load_mnist1d(num_samples=400)])
def test_parsed_data_is_kept_but_every_call_gets_fresh_arrays(load):
    a = load()
    a.x_train[:] = -1.0  # a caller that writes into its arrays
    a.y_test[:] = -1
    b = load()
    assert b.x_train.min() >= 0.0 and b.y_test.min() >= 0  # the kept copy is untouched
    assert b.x_train.flags.writeable and not np.shares_memory(a.x_train, b.x_train)


def test_npz_roundtrip_and_errors(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (6, 5, 5), dtype=np.uint8)
    np.savez(tmp_path / "a.npz", x_train=x, y_train=np.arange(6), x_test=x[:2], y_test=np.arange(2))
    s = load_npz(tmp_path / "a.npz")
    assert s.x_train.shape == (6, 1, 5, 5) and np.allclose(s.x_train[:, 0] * 255, x)
    np.savez(tmp_path / "b.npz", x_train=x)
    with pytest.raises(ValueError, match="missing arrays"):
        load_npz(tmp_path / "b.npz")
    np.savez(tmp_path / "c.npz", x_train=x * 2.0, y_train=np.arange(6), x_test=x[:2] * 1.0, y_test=np.arange(2))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        load_npz(tmp_path / "c.npz")
    with pytest.raises(FileNotFoundError, match="never downloads"):
        load_npz(tmp_path / "missing.npz")


def _write_idx(path, arr: np.ndarray, code: int = 0x08, compress=False):
    head = bytes([0, 0, code, arr.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in arr.shape)
    data = head + arr.astype(">u1").tobytes()
    (gzip.open if compress else open)(path, "wb").write(data)


def test_idx_files(tmp_path):
    rng = np.random.default_rng(1)
    imgs = rng.integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, 7, dtype=np.uint8)
    _write_idx(tmp_path / "train-images-idx3-ubyte", imgs)
    _write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    _write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", imgs[:3], compress=True)
    _write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels[:3], compress=True)
    assert np.array_equal(read_idx(tmp_path / "train-images-idx3-ubyte"), imgs)
    s = load_idx_dataset(tmp_path)
    assert s.x_train.shape == (7, 1, 28, 28) and np.array_equal(s.y_test, labels[:3].astype(np.int64))
    (tmp_path / "bad").write_bytes(b"\x01\x02\x08\x01")
    with pytest.raises(ValueError, match="magic"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 1]) + (10).to_bytes(4, "big") + b"\x00" * 3)
    with pytest.raises(ValueError, match="body"):
        read_idx(tmp_path / "short")


def test_cifar_batches(tmp_path):
    rng = np.random.default_rng(2)
    for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
        batch = {b"data": rng.integers(0, 256, (4, 3072), dtype=np.uint8), b"labels": list(range(4))}
        (tmp_path / name).write_bytes(pickle.dumps(batch))
    s = load_cifar10(tmp_path)
    assert s.x_train.shape == (20, 3, 32, 32) and s.x_test.shape == (4, 3, 32, 32)
    assert s.x_train.dtype == np.float32 and s.x_train.max() <= 1.0
    (tmp_path / "test_batch").unlink()
    with pytest.raises(FileNotFoundError, match="test_batch"):
        load_cifar10(tmp_path)
