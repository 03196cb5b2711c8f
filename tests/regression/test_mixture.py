"""Theory vs Monte Carlo for the mixture ridge model (paper 1, notes §2.3) and input validation.

Tolerance: 5% relative, and every point checks that its Monte Carlo standard error is at most 1.5% of
the mean, so a 5% deviation is > 3 standard errors: the tolerance is meaningful, not loose.
"""

import numpy as np
import pytest

from collapselab.regression import (
    MCEstimate,
    isotropic_mixture_error,
    isotropic_targets,
    mixture_ridge_error,
    power_law_spectrum,
    simulate_isotropic_mixture,
    simulate_mixture_ridge,
)

D = 200


def _problem(spectrum: str, c2: float = 0.5):
    if spectrum == "isotropic":
        w1, w2 = isotropic_targets(D, c2)
        return np.ones(D), w1, w2
    eigs = power_law_spectrum(D, 1.5)
    j = np.arange(1, D + 1)
    w1 = np.sqrt(j**-1.5 / np.sum(j**-1.5) / eigs)
    return eigs, w1, w1 + np.where(j % 2 == 0, 1.0, -1.0) * w1 * np.sqrt(c2)


# (spectrum, n, p2, lam): n < d and n > d, lam in {0, 1e-3, 1e-1}, p2 in {0, 0.05, 0.5}
POINTS = [
    ("isotropic", 100, 0.0, 0.0),
    ("isotropic", 100, 0.5, 1e-3),
    ("isotropic", 400, 0.05, 0.0),
    ("isotropic", 400, 0.5, 1e-1),
    ("power_law", 100, 0.05, 0.0),
    ("power_law", 100, 0.5, 1e-1),
    ("power_law", 60, 0.0, 1e-3),
    ("power_law", 400, 0.5, 1e-3),
    ("power_law", 600, 0.5, 0.0),
]


# the first point runs in the fast tier; the rest are slow (each is seconds of Monte Carlo)
_TIERED = [POINTS[0]] + [pytest.param(*pt, marks=pytest.mark.slow) for pt in POINTS[1:]]


@pytest.mark.parametrize(("spectrum", "n", "p2", "lam"), _TIERED)
def test_deterministic_equivalent_matches_monte_carlo(spectrum, n, p2, lam):
    eigs, w1, w2 = _problem(spectrum)
    mc = simulate_mixture_ridge(eigs, w1, w2, n, p2, lam, 0.5, reps=300, rng=1)
    theory = mixture_ridge_error(eigs, w1, w2, n, p2, lam, 0.5)
    assert mc.se <= 0.015 * mc.mean
    assert abs(mc.mean / theory - 1) <= 0.05, (mc, theory)


@pytest.mark.parametrize(("n", "p2"), [(300, 0.1), (1000, 0.5), (100_000, 0.01)])
def test_isotropic_closed_form_matches_monte_carlo(n, p2):
    mc = simulate_isotropic_mixture(100, n, p2, 1.0, 1.0, reps=300, rng=2)
    theory = isotropic_mixture_error(100, n, p2, 1.0, 1.0)
    assert mc.se <= 0.015 * mc.mean
    assert abs(mc.mean / theory - 1) <= 0.05, (mc, theory)


def test_isotropic_closed_form_is_the_general_theory_at_lam0():
    ns = np.array([150.0, 400.0, 1e6])
    w1, w2 = isotropic_targets(100, 2.0)
    general = mixture_ridge_error(np.ones(100), w1, w2, ns, 0.3, 0.0, 0.7)
    closed = isotropic_mixture_error(100, ns, 0.3, 2.0, 0.7)
    np.testing.assert_allclose(general, closed, rtol=1e-10)
    # n -> infinity leaves the floor p2^2 c^2
    assert isotropic_mixture_error(100, 1e12, 0.3, 2.0, 0.7) == pytest.approx(0.09 * 2.0, rel=1e-6)


def test_sufficient_statistics_sampler_has_the_law_of_direct_sampling():
    eigs, w1, w2 = _problem("power_law")
    eigs, w1, w2 = eigs[:30], w1[:30], w2[:30]
    a = simulate_mixture_ridge(eigs, w1, w2, 90, 0.5, 1e-3, 0.5, reps=600, rng=3)
    b = simulate_mixture_ridge(eigs, w1, w2, 90, 0.5, 1e-3, 0.5, reps=600, rng=4, method="direct")
    assert abs(a.mean - b.mean) < 4 * np.hypot(a.se, b.se)


def test_interpolation_peak_and_vectorised_n():
    w1, w2 = isotropic_targets(50, 1.0)
    out = mixture_ridge_error(np.ones(50), w1, w2, [25, 50, 100], 0.1, 0.0, 1.0)
    assert out.shape == (3,) and np.isinf(out[1]) and np.all(np.isfinite(out[[0, 2]]))
    # ridge removes the peak
    assert np.isfinite(mixture_ridge_error(np.ones(50), w1, w2, 50, 0.1, 1e-2, 1.0))
    res = simulate_isotropic_mixture(20, [40, 80], 0.5, 1.0, 1.0, reps=5, rng=0)
    assert isinstance(res, list) and all(isinstance(r, MCEstimate) for r in res)


def test_validation_names_the_argument():
    eigs, w1, w2 = np.ones(5), np.zeros(5), np.ones(5)
    with pytest.raises(ValueError, match="eigs"):
        mixture_ridge_error([1.0, -1.0, 1.0, 1.0, 1.0], w1, w2, 10, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="w1"):
        mixture_ridge_error(eigs, np.zeros(4), w2, 10, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="w2"):
        mixture_ridge_error(eigs, w1, np.zeros(6), 10, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="p2"):
        mixture_ridge_error(eigs, w1, w2, 10, 1.5, 0.0, 1.0)
    with pytest.raises(ValueError, match="`n`"):
        mixture_ridge_error(eigs, w1, w2, 0, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="lam"):
        mixture_ridge_error(eigs, w1, w2, 10, 0.1, -1.0, 1.0)
    with pytest.raises(ValueError, match="noise_std"):
        simulate_mixture_ridge(eigs, w1, w2, 10, 0.1, 0.0, -1.0)
    with pytest.raises(ValueError, match="reps"):
        simulate_mixture_ridge(eigs, w1, w2, 10, 0.1, 0.0, 1.0, reps=1)
    with pytest.raises(ValueError, match="`n`"):
        simulate_mixture_ridge(eigs, w1, w2, 10.5, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="method"):
        simulate_mixture_ridge(eigs, w1, w2, 10, 0.1, 0.0, 1.0, method="fast")
    with pytest.raises(ValueError, match="`n`"):
        isotropic_mixture_error(10, 10, 0.1, 1.0, 1.0)
    with pytest.raises(ValueError, match="c2"):
        isotropic_mixture_error(10, 20, 0.1, -1.0, 1.0)
