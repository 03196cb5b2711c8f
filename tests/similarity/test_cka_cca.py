"""CKA, the CCA family and Procrustes: reference values, fast vs slow twins, invariances, errors."""

import numpy as np
import pytest
import torch
from scipy.stats import ortho_group

from collapselab.similarity import (
    cca,
    cca_slow,
    debiased_cka,
    linear_cka,
    linear_cka_gram,
    orthogonal_procrustes_distance,
    orthogonal_procrustes_distance_slow,
    pwcca,
    rbf_cka,
    svcca,
)


def kornblith_pair():
    # Kornblith's notebook: np.random.seed(1337); X = randn(100, 10); Y = randn(100, 10) + X
    rs = np.random.RandomState(1337)
    x = rs.randn(100, 10)
    return x, rs.randn(100, 10) + x


def pair(seed, n=60, d1=6, d2=8):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((n, d1))
    y = x @ rng.standard_normal((d1, d2)) + 0.8 * rng.standard_normal((n, d2))
    return x, y


def test_reference_values_from_kornblith_notebook():
    x, y = kornblith_pair()
    assert linear_cka(x, y) == pytest.approx(0.55761, abs=5e-6)
    assert rbf_cka(x, y, threshold=0.5) == pytest.approx(0.65483, abs=5e-6)
    assert debiased_cka(x, y) == pytest.approx(0.51346, abs=5e-6)
    assert cca(x, y, center=False).mean_sq == pytest.approx(0.54312, abs=5e-6)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_fast_forms_match_slow_twins(seed):
    x, y = pair(seed)
    assert linear_cka(x, y) == pytest.approx(linear_cka_gram(x, y), rel=1e-10)
    assert debiased_cka(x, y) == pytest.approx(linear_cka_gram(x, y, debiased=True), rel=1e-10)
    np.testing.assert_allclose(cca(x, y).rho, cca_slow(x, y).rho, atol=1e-9)
    assert orthogonal_procrustes_distance(x, y) == pytest.approx(
        orthogonal_procrustes_distance_slow(x, y), abs=1e-10)


@pytest.mark.parametrize("seed", [0, 1])
def test_invariances(seed):
    x, y = pair(seed)
    rng = np.random.default_rng(seed + 10)
    q = ortho_group.rvs(x.shape[1], random_state=seed)
    a = rng.standard_normal((x.shape[1], x.shape[1])) + 3 * np.eye(x.shape[1])  # invertible
    xq, xs, xa = x @ q, 3.7 * x + 2.0, x @ a
    for f in (linear_cka, debiased_cka, rbf_cka, orthogonal_procrustes_distance):
        assert f(xq, y) == pytest.approx(f(x, y), abs=1e-9)
        assert f(xs, y) == pytest.approx(f(x, y), abs=1e-9)
    for f in (lambda u, v: cca(u, v).mean_sq, lambda u, v: cca(u, v).mean):
        assert f(xa, y) == pytest.approx(f(x, y), abs=1e-9)  # CCA: any invertible linear map
    # PWCCA weighs neurons: invariant to permuting/flipping/scaling them, not to rotations
    perm = x[:, ::-1] * np.array([1, -1, 1, 1, -1, 1]) * 2.5
    assert pwcca(perm, y) == pytest.approx(pwcca(x, y), abs=1e-9)
    assert abs(pwcca(xq, y) - pwcca(x, y)) > 1e-4
    assert svcca(xq, y) == pytest.approx(svcca(x, y), abs=1e-9)
    # CKA is NOT invariant to a general invertible map
    assert abs(linear_cka(xa, y) - linear_cka(x, y)) > 1e-3


def test_identity_and_extremes():
    x, _ = pair(3)
    assert linear_cka(x, x) == pytest.approx(1.0)
    assert cca(x, x).mean_sq == pytest.approx(1.0)
    assert orthogonal_procrustes_distance(x, 5 * x) == pytest.approx(0.0, abs=1e-12)
    assert svcca(x, x) == pytest.approx(1.0)
    assert pwcca(x, x) == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    u, v = rng.standard_normal((4000, 5)), rng.standard_normal((4000, 5))
    assert linear_cka(u, v) < 0.01 and cca(u, v).mean_sq < 0.01


def test_rank_deficient_features_reduce_to_rank():
    x, y = pair(4)
    dead = np.hstack([x, np.zeros((x.shape[0], 3)), x[:, :1]])  # dead and duplicated units
    np.testing.assert_allclose(cca(dead, y).rho, cca(x, y).rho, atol=1e-9)


@pytest.mark.parametrize("loud_signal", [True, False])
def test_pwcca_weights_from_variates(loud_signal):
    # one neuron of x carries y (rho_1 ~ 1), three are unrelated noise. The weight of a canonical variate
    # is how much of x's neurons it accounts for: a loud signal neuron lifts PWCCA above the mean CCA,
    # a quiet one (loud noise neurons) pulls it below.
    rng = np.random.default_rng(5)
    y = rng.standard_normal((500, 3))
    scale_signal, scale_noise = (10.0, 1.0) if loud_signal else (1.0, 10.0)
    x = np.hstack([scale_signal * (y[:, :1] + 0.1 * rng.standard_normal((500, 1))),
                   scale_noise * rng.standard_normal((500, 3))])
    res = cca(x, y)
    if loud_signal:
        assert res.mean < pwcca(x, y) < res.rho[0]
    else:
        assert pwcca(x, y) < res.mean
    # explicit weights: variates h_i = X_c a_i for the CCA coefficient vectors a_i
    xc, yc = x - x.mean(0), y - y.mean(0)
    sxx, syy, sxy = xc.T @ xc, yc.T @ yc, xc.T @ yc
    vals, vecs = np.linalg.eig(np.linalg.solve(sxx, sxy) @ np.linalg.solve(syy, sxy.T))
    order = np.argsort(-vals.real)[:3]
    h = xc @ vecs.real[:, order]
    h /= np.linalg.norm(h, axis=0)
    alpha = np.abs(h.T @ xc).sum(axis=1)
    assert pwcca(x, y) == pytest.approx(alpha @ np.sqrt(vals.real[order]) / alpha.sum(), rel=1e-8)


def test_torch_inputs_match_numpy():
    x, y = pair(6)
    assert linear_cka(torch.tensor(x), torch.tensor(y)) == pytest.approx(linear_cka(x, y))


def test_errors_name_the_argument():
    x, y = pair(7)
    with pytest.raises(ValueError, match="feats_a"):
        linear_cka(x[:-1], y)
    with pytest.raises(ValueError, match="feats_b"):
        linear_cka(x, np.where(np.arange(y.size).reshape(y.shape) == 0, np.nan, y))
    with pytest.raises(ValueError, match="feats_a"):
        linear_cka(x[:1], y[:1])
    with pytest.raises(ValueError, match="CCA needs n"):
        cca(x[:7], y[:7])
    with pytest.raises(ValueError, match="threshold"):
        rbf_cka(x, y, threshold=0)
    with pytest.raises(ValueError, match="keep"):
        svcca(x, y, keep=1.5)
    with pytest.raises(ValueError, match="feats_a"):
        linear_cka(np.zeros((5, 2, 2)), y[:5])
