"""The GCD task encoding and a tiny transformer trained on it."""

import numpy as np
import pytest
import torch

from collapselab.zipf._gcd import (
    GCDLearner,
    GCDTask,
    accuracy_by_value,
    gcd_test_set,
    known_values,
    mixed_pairs,
    predict_gcd,
    sample_pairs,
    synthesize_pairs,
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


def test_learner_online_training_and_tail_cut_data():
    task = GCDTask(10, 99)
    kw = dict(d_model=16, n_layers=1, n_heads=2, batch_size=32)
    learner = GCDLearner(task, generator=1, **kw)
    a, b = sample_pairs(task, 320, rng=0)
    loss = learner.train(a, b, np.gcd(a, b))
    assert np.isfinite(loss) and learner.steps_ == 10 and learner.samples_ == 320
    other = GCDLearner(task, generator=1, **kw)
    other.train(a, b, np.gcd(a, b))
    assert all(torch.equal(p, q) for p, q in zip(learner.model.parameters(), other.model.parameters()))
    # tail-cut AI data: only answers 1..k are emitted, and they are the teacher's answers
    ta, tb = sample_pairs(task, 2000, rng=5)
    for _ in range(3):
        learner.train(ta, tb, np.gcd(ta, tb))  # a teacher that answers 1 on most pairs
    sa, sb, sl, drawn = synthesize_pairs(learner.model, task, 50, rng=2, top_k=3, chunk=256)
    assert sa.shape == sb.shape == sl.shape == (50,) and drawn >= 50
    assert np.all((sl >= 1) & (sl <= 3))
    assert np.array_equal(sl, predict_gcd(learner.model, task, sa, sb))
    # the cached greedy decode gives the digits of re-running the prefix at every step
    full = learner.model.generate(torch.as_tensor(task.prompts(ta, tb)), task.n_digits)[:, task.prompt_len:]
    assert np.array_equal(predict_gcd(learner.model, task, ta, tb), task.value(full.clamp_max(task.base - 1)))
    # the rounds label about 1.1 x needed / kept fraction pairs, not whole chunks
    _, _, _, drawn = synthesize_pairs(learner.model, task, 1000, rng=4, top_k=3)
    kept = np.mean((predict_gcd(learner.model, task, ta, tb) >= 1) & (predict_gcd(learner.model, task, ta, tb) <= 3))
    assert 1000 <= drawn <= 1.5 * 1000 / kept + 64
    ma, mb, ml, clean = mixed_pairs(task, learner.model, 200, 0.5, rng=3, top_k=3)
    assert ma.shape == (200,) and 50 < clean.sum() < 150
    assert np.array_equal(ml[clean], np.gcd(ma, mb)[clean]) and np.all(ml[~clean] <= 3)
    with pytest.raises(ValueError, match="pi"):
        mixed_pairs(task, learner.model, 10, 1.5)
    with pytest.raises(ValueError, match="top_k"):
        synthesize_pairs(learner.model, task, 10, top_k=0)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_learner_on_cuda():
    task = GCDTask(10, 99)
    learner = GCDLearner(task, d_model=16, n_layers=1, n_heads=2, batch_size=32, generator=0, device="cuda")
    a, b = sample_pairs(task, 64, rng=0)
    learner.train(a, b, np.gcd(a, b))
    assert next(learner.model.parameters()).device.type == "cuda"
    assert learner.predict(a, b).shape == (64,)
