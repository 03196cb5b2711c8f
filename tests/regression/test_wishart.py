"""Bartlett factors and Gaussian sufficient statistics: law checks against explicit row draws."""

import numpy as np
import pytest

from collapselab.regression import bartlett_factor, gaussian_sufficient_stats


def test_bartlett_wishart_moments():
    # E[L L'] = n I and Var[(L L')_11] = 2 n for Wishart_d(n, I); 4000 draws: SE of the mean ~ sqrt(2n/4000)
    rng = np.random.default_rng(0)
    n, d, draws = 30, 4, 4000
    W = np.array([(lambda L: L @ L.T)(bartlett_factor(rng, n, d)) for _ in range(draws)])
    assert np.allclose(W.mean(axis=0), n * np.eye(d), atol=5 * np.sqrt(2 * n / draws))
    assert W[:, 0, 0].var() == pytest.approx(2 * n, rel=0.15)
    assert np.all(np.triu(bartlett_factor(rng, n, d), 1) == 0)


def test_sufficient_stats_match_explicit_rows():
    # (Z'Z, Z'e) through Bartlett against explicit rows: same mean and spread of g = Z'e (var s^2 n per entry)
    rng = np.random.default_rng(1)
    n, d, s, draws = 40, 3, 0.5, 3000
    bart = np.array([gaussian_sufficient_stats(rng, n, d, s)[1] for _ in range(draws)])
    rows = np.array([gaussian_sufficient_stats(rng, d - 1, d, s)[1] for _ in range(10)])  # n < d path runs
    assert rows.shape == (10, d)
    assert np.allclose(bart.mean(axis=0), 0, atol=5 * s * np.sqrt(n / draws))
    assert bart[:, 0].var() == pytest.approx(s**2 * n, rel=0.15)
    W, g = gaussian_sufficient_stats(rng, 0, d, s)
    assert not W.any() and not g.any()


@pytest.mark.parametrize("bad", [{"n": 2, "d": 3}, {"n": 0, "d": 1}])
def test_bartlett_validation(bad):
    with pytest.raises(ValueError, match="`n`"):
        bartlett_factor(0, **bad)
