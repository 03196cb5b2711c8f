"""The GCD task encoding and a tiny transformer trained on it."""

import numpy as np
import pytest
import torch

from collapselab.zipf._gcd import (
    GCDTask,
    accuracy_by_value,
    gcd_test_set,
    known_values,
    predict_gcd,
    sample_pairs,
    train_gcd_model,
)


def test_encoding_round_trip_and_layout():
    task = GCDTask(base=60, max_int=3599)
    assert task.n_digits == 2 and task.vocab_size == 62 and task.seq_len == 8
    x = np.array([1, 59, 60, 3599])
    assert np.array_equal(task.value(task.digits(x)), x)
    seq = task.sequences(np.array([61]), np.array([120]), np.array([1]))
    assert seq.tolist() == [[1, 1, task.sep, 2, 0, task.eq, 0, 1]]
    with pytest.raises(ValueError, match="base"):
        GCDTask(base=1)


def test_test_set_has_the_right_gcds():
    task = GCDTask(10, 999)
    a, b, g = gcd_test_set(task, range(1, 21), 5, rng=0)
    assert np.array_equal(np.gcd(a, b), g)
    assert a.max() <= 999 and b.max() <= 999
    assert set(np.unique(g)) == set(range(1, 21))


def test_tiny_model_trains_deterministically():
    task = GCDTask(10, 99)
    a, b = sample_pairs(task, 400, rng=0)
    kw = dict(epochs=1, d_model=16, n_layers=1, n_heads=2, batch_size=64)
    m1 = train_gcd_model(task, a, b, np.gcd(a, b), generator=3, **kw)
    m2 = train_gcd_model(task, a, b, np.gcd(a, b), generator=3, **kw)
    for p1, p2 in zip(m1.parameters(), m2.parameters()):
        assert torch.equal(p1, p2)
    pred = predict_gcd(m1, task, a[:50], b[:50])
    assert pred.shape == (50,) and pred.min() >= 0 and pred.max() < 100
    acc = accuracy_by_value(pred, np.gcd(a[:50], b[:50]))
    assert all(0 <= v <= 1 for v in acc.values())
    assert known_values({1: 0.9, 2: 0.5, 3: 0.6}) == [1, 3]
