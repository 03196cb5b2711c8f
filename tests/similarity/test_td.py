"""Transferred discrepancy: invariances, the unrelated limit, fast vs Gram twins, closed forms vs MC."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from collapselab.similarity import (
    LinearHead,
    LogisticHead,
    cca,
    chance_disagreement,
    chance_disagreement_mc,
    isotropic_td,
    isotropic_td_mc,
    linear_task_td,
    linear_task_td_mc,
    one_vs_rest_tasks,
    random_linear_tasks,
    random_partition_tasks,
    transferred_discrepancy,
)


def feats(seed, n=300, d=8):
    rng = np.random.default_rng(seed)
    z = rng.standard_normal((n, d))
    labels = np.argmax(z[:, :4] + 0.5 * rng.standard_normal((n, 4)), axis=1)  # 4 classes
    return z, labels, rng


@pytest.mark.parametrize("seed", [0, 1])
def test_td_zero_under_invertible_maps_for_linear_heads(seed):
    x, labels, rng = feats(seed)
    y = random_linear_tasks(x, 5, noise=0.5, rng=seed)
    a = rng.standard_normal((8, 8)) + 2 * np.eye(8)
    for other in (x @ a, x @ ortho_group.rvs(8, random_state=seed), 0.01 * x):
        res = transferred_discrepancy(x, other, y, head="linear", reduce=None)
        np.testing.assert_allclose(res.per_task, 0.0, atol=1e-9)
        res = transferred_discrepancy(x, other, labels, task="classification", head="linear")
        assert res.value == 0.0


@pytest.mark.parametrize("head", ["ridge", "logistic"])
def test_td_zero_under_orthogonal_maps_and_scaling(head):
    x, labels, _ = feats(2)
    other = 4.0 * x @ ortho_group.rvs(8, random_state=3) + 1.5
    if head == "ridge":
        y = random_linear_tasks(x, 4, noise=1.0, rng=0)
        res = transferred_discrepancy(x, other, y, head=LinearHead(alpha=0.1), reduce="max")
        assert res.value < 1e-9
    else:
        tasks = np.column_stack([labels, one_vs_rest_tasks(labels)])
        res = transferred_discrepancy(x, other, tasks, task="classification", reduce="max",
                                      head=LogisticHead(tol=1e-9))
        assert res.value == 0.0 and res.prob_value < 1e-4


def test_td_approaches_two_for_independent_representations():
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal((4000, 10)), rng.standard_normal((4000, 10))
    y = np.column_stack([random_linear_tasks(a, 3, rng=1), random_linear_tasks(b, 3, rng=2),
                         rng.standard_normal((4000, 3))])
    res = transferred_discrepancy(a, b, y, reduce=None)
    np.testing.assert_allclose(res.per_task, 2.0, atol=0.15)
    assert res.numerator.shape == (9,)


def test_gram_solver_matches_feature_solver():
    x, _, rng = feats(4, n=150)
    other = x[:, :5] + 0.3 * rng.standard_normal((150, 5))
    y = rng.standard_normal((150, 3))
    for alpha in (0.0, 0.05):
        fast = transferred_discrepancy(x, other, y, head=LinearHead(alpha=alpha), reduce=None)
        slow = transferred_discrepancy(x, other, y, head=LinearHead(alpha=alpha, solver="gram"), reduce=None)
        np.testing.assert_allclose(fast.per_task, slow.per_task, rtol=1e-7)


def test_reductions_and_classification_fields():
    x, labels, rng = feats(5)
    other = x + 1.0 * rng.standard_normal(x.shape)
    tasks = random_partition_tasks(labels, 3, rng=0)
    res = transferred_discrepancy(x, other, tasks, task="classification", reduce=None)
    assert res.per_task.shape == (3,) and np.all((res.per_task >= 0) & (res.per_task <= 1))
    assert res.prob_distance.shape == (3,) and np.all(res.score_a > 0.5)
    mx = transferred_discrepancy(x, other, tasks, task="classification", reduce="max")
    assert mx.value == pytest.approx(res.per_task.max())
    y = rng.standard_normal((300, 4))
    pooled = transferred_discrepancy(x, other, y, reduce="pooled")
    assert pooled.value == pytest.approx(pooled.numerator.sum() / pooled.denominator.sum())
    assert transferred_discrepancy(torch.tensor(x), torch.tensor(other), torch.tensor(y)).value == \
        pytest.approx(transferred_discrepancy(x, other, y).value)


def test_task_families():
    labels = np.repeat(np.arange(6), 5)
    ovr = one_vs_rest_tasks(labels)
    assert ovr.shape == (30, 6) and np.all(ovr.sum(axis=1) == 1)
    parts = random_partition_tasks(labels, 10, rng=0)  # C(6,3)/2 = 10 distinct partitions
    assert parts.shape == (30, 10) and np.all(parts.mean(axis=0) == 0.5)
    keys = {tuple(c) if c[0] == 0 else tuple(1 - c) for c in parts.T}
    assert len(keys) == 10


@pytest.mark.parametrize("shape,noise", [((80, 6, 6), 0.5), ((120, 5, 9), 1.5), ((60, 4, 4), 3.0)])
def test_isotropic_closed_form_matches_monte_carlo(shape, noise):
    n, d1, d2 = shape
    rng = np.random.default_rng(d2)
    a = rng.standard_normal((n, d1))
    b = a @ rng.standard_normal((d1, d2)) + noise * rng.standard_normal((n, d2))
    est = isotropic_td_mc(a, b, n_tasks=400, rng=1)
    closed = isotropic_td(a, b)
    assert abs(est.mean - closed) < 4 * est.se
    if d1 == d2:  # TD_iso = 2 (1 - R^2_CCA)
        assert closed == pytest.approx(2 * (1 - cca(a, b).mean_sq))


@pytest.mark.parametrize("noise", [0.3, 1.0, 3.0])
def test_linear_task_closed_form_matches_monte_carlo(noise):
    rng = np.random.default_rng(11)
    a = rng.standard_normal((90, 7)) * np.linspace(0.2, 2.0, 7)
    b = a[:, :4] @ rng.standard_normal((4, 6)) + noise * rng.standard_normal((90, 6))
    est = linear_task_td_mc(a, b, n_tasks=400, rng=2)
    assert abs(est.mean - linear_task_td(a, b)) < 4 * est.se


def test_errors_name_the_argument():
    x, labels, _ = feats(6, n=40)
    y = np.ones(40)
    with pytest.raises(ValueError, match="targets"):
        transferred_discrepancy(x, x, y[:-1])
    with pytest.raises(ValueError, match="targets"):
        transferred_discrepancy(x, x, y + 0.5, task="classification")
    with pytest.raises(ValueError, match="feats_b"):
        transferred_discrepancy(x, x[:-1], y)
    with pytest.raises(ValueError, match="train_fraction"):
        transferred_discrepancy(x, x, y, train_fraction=1.0)
    with pytest.raises(ValueError, match="test_idx"):
        transferred_discrepancy(x, x, y, train_idx=np.arange(20))
    with pytest.raises(ValueError, match="train_idx"):
        transferred_discrepancy(x, x, y, train_idx=np.arange(1), test_idx=np.arange(5))
    with pytest.raises(ValueError, match="train_idx"):
        transferred_discrepancy(x, x, y, train_idx=np.arange(35, 45), test_idx=np.arange(5))
    with pytest.raises(ValueError, match="head"):
        transferred_discrepancy(x, x, y, head="logistic")
    with pytest.raises(ValueError, match="reduce"):
        transferred_discrepancy(x, x, labels, task="classification", reduce="pooled")
    with pytest.raises(ValueError, match="task"):
        transferred_discrepancy(x, x, y, task="ranking")
    with pytest.raises(ValueError, match="n_tasks"):
        random_partition_tasks(labels, 0)
    with pytest.raises(ValueError, match="head"):
        transferred_discrepancy(x, x, y, head="lasso")
    with pytest.raises(ValueError, match="head"):
        transferred_discrepancy(x, x, y, head=LogisticHead())
    with pytest.raises(ValueError, match="alpha"):
        LinearHead(alpha=-1.0)
    with pytest.raises(ValueError, match="solver"):
        LinearHead(solver="qr")
    with pytest.raises(ValueError, match="C"):
        LogisticHead(C=0.0)


def test_head_configs_and_names():
    x, labels, rng = feats(7)
    other = x + 0.5 * rng.standard_normal(x.shape)
    y = rng.standard_normal((300, 2))
    assert transferred_discrepancy(x, other, y, head="ridge").head == "ridge"
    assert transferred_discrepancy(x, other, y, head=LinearHead(alpha=1e-3)).value == pytest.approx(
        transferred_discrepancy(x, other, y, head="ridge").value)
    res = transferred_discrepancy(x, other, labels, task="classification")
    assert res.head == "logistic" and res.prob_distance is not None
    res = transferred_discrepancy(x, other, labels, task="classification", head=LinearHead())
    assert res.head == "linear" and res.prob_distance is None


@pytest.mark.parametrize("sa,sb,c", [(0.9, 0.8, 2), (0.97, 0.6, 2), (0.9, 0.8, 10), (0.5, 0.3, 4)])
def test_chance_disagreement_matches_monte_carlo(sa, sb, c):
    est = chance_disagreement_mc(sa, sb, n_classes=c, n=200_000, rng=c)
    assert abs(est.mean - float(chance_disagreement(sa, sb, n_classes=c))) < 4 * est.se
    assert chance_disagreement(1.0, 1.0) == 0.0
    np.testing.assert_allclose(chance_disagreement(np.array([0.9, 0.5]), np.array([0.9, 0.5])), [0.18, 0.5])
    with pytest.raises(ValueError, match="score_a"):
        chance_disagreement(1.2, 0.5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_td_and_features_from_cuda_tensors():
    from collapselab.similarity import extract_features, linear_cka

    x, labels, rng = feats(8)
    other = x + 0.5 * rng.standard_normal(x.shape)
    xa, xb = torch.tensor(x, device="cuda"), torch.tensor(other, device="cuda")
    res = transferred_discrepancy(xa, xb, torch.tensor(labels, device="cuda"), task="classification")
    assert res.value == transferred_discrepancy(x, other, labels, task="classification").value
    assert linear_cka(xa, xb) == pytest.approx(linear_cka(x, other))
    model = torch.nn.Sequential(torch.nn.Linear(8, 4), torch.nn.ReLU()).cuda()
    out = extract_features(model, xa.float(), "1", device="cuda")
    assert out["1"].shape == (300, 4) and np.all(out["1"] >= 0)
