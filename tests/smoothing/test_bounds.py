import math

import numpy as np
import pytest
from scipy import stats

from collapselab.smoothing import (
    binomial_two_sided_pvalue,
    clopper_pearson_lower,
    clopper_pearson_lower_exact,
    expected_certified_radius,
    expected_certified_radius_mc,
    radius_from_bound,
)
from collapselab.smoothing._bounds import _binom_upper_tail


@pytest.mark.parametrize("n_a,n,alpha", [(1, 10, 0.05), (5, 10, 0.01), (90, 100, 0.001), (480, 500, 0.001),
                                         (999, 1000, 0.001), (1000, 1000, 0.001), (37, 40, 0.2)])
def test_clopper_pearson_matches_exact_binomial(n_a, n, alpha):
    lower = clopper_pearson_lower(n_a, n, alpha)
    assert lower == pytest.approx(clopper_pearson_lower_exact(n_a, n, alpha), abs=1e-9)
    # the defining property: P(Bin(n, lower) >= n_a) = alpha
    assert _binom_upper_tail(n_a, n, lower) == pytest.approx(alpha, rel=1e-6)


def test_clopper_pearson_edge_cases():
    assert clopper_pearson_lower(0, 10, 0.05) == 0.0
    assert clopper_pearson_lower(1000, 1000, 0.001) == pytest.approx(0.001 ** (1 / 1000), rel=1e-12)


@pytest.mark.parametrize("p", [0.3, 0.9])
def test_clopper_pearson_coverage(p):
    # P(lower <= p) >= 1 - alpha; Monte Carlo with 4000 binomial draws, 4 standard errors of slack
    rng = np.random.default_rng(0)
    n, alpha, trials = 50, 0.1, 4000
    k = rng.binomial(n, p, size=trials)
    lower = np.where(k > 0, stats.beta.ppf(alpha, np.maximum(k, 1), n - k + 1), 0.0)
    cover = np.mean(lower <= p)
    assert cover >= 1 - alpha - 4 * math.sqrt(alpha * (1 - alpha) / trials)


def test_two_sided_pvalue_against_exact_tails():
    for k, n in [(30, 50), (12, 40), (25, 50), (0, 7)]:
        lo = 1 - _binom_upper_tail(k + 1, n, 0.5)  # P(X <= k)
        hi = _binom_upper_tail(k, n, 0.5)  # P(X >= k)
        assert binomial_two_sided_pvalue(k, n) == pytest.approx(min(1.0, 2 * min(lo, hi)), rel=1e-9)


def test_radius_from_bound():
    assert radius_from_bound(0.5, 1.0) == 0.0
    assert radius_from_bound(0.3, 1.0) == 0.0
    assert radius_from_bound(stats.norm.cdf(1.0), 0.25) == pytest.approx(0.25)


@pytest.mark.parametrize("p_a,sigma", [(0.6, 0.5), (0.8, 0.25), (0.97, 1.0)])
def test_expected_radius_matches_monte_carlo(p_a, sigma):
    exact = expected_certified_radius(p_a, sigma, 101, 500, 0.01)
    radius, certified = expected_certified_radius_mc(p_a, sigma, 101, 500, 0.01, n_trials=150, generator=1)
    assert abs(radius.mean - exact.mean_radius) < 4 * radius.se + 1e-9
    assert abs(certified.mean - exact.p_certified) < 4 * certified.se + 0.02


def test_expected_radius_below_distance_and_increasing_in_n():
    sigma, a = 0.5, 0.5
    p_a = float(stats.norm.cdf(a / sigma))
    radii = [expected_certified_radius(p_a, sigma, 100, n, 0.001).mean_radius for n in (100, 1000, 100_000)]
    assert radii[0] < radii[1] < radii[2] < a
    assert a - radii[2] < 0.02


def test_bounds_validate_arguments():
    with pytest.raises(ValueError, match="n_a"):
        clopper_pearson_lower(11, 10, 0.05)
    with pytest.raises(ValueError, match="alpha"):
        clopper_pearson_lower(5, 10, 0.0)
    with pytest.raises(ValueError, match="sigma"):
        expected_certified_radius(0.7, -1.0, 10, 10, 0.01)
    with pytest.raises(ValueError, match="p_a"):
        expected_certified_radius_mc(1.0, 1.0, 10, 10, 0.01)
