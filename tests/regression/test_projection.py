"""Random-projection model (paper 1, §2.2 Eq. 5): semi-analytic theory vs Monte Carlo, validation.

Tolerance 5% relative; each point also checks that the Monte Carlo standard error is <= 1.5% of the
mean (a 5% deviation is then > 3 standard errors). The theory averages over 30 draws of S.
"""

import numpy as np
import pytest

from collapselab.regression import (
    power_law_spectrum,
    projected_problem,
    random_projection_mixture_error,
    simulate_random_projection_mixture,
)

D, N = 200, 100


def _problem(spectrum: str):
    j = np.arange(1, D + 1)
    signs = np.where(j % 2 == 0, 1.0, -1.0)
    if spectrum == "isotropic":
        eigs = np.ones(D)
        w1 = np.ones(D) / np.sqrt(D)
        return eigs, w1, w1 + signs / np.sqrt(D)
    eigs = power_law_spectrum(D, 1.5)
    w1 = np.sqrt(j**-1.5 / np.sum(j**-1.5) / eigs)
    return eigs, w1, w1 + signs * w1


# m < n, m ~ n (lam > 0), m > n; both spectra; p2 in {0, 0.05, 0.5}
POINTS = [
    ("isotropic", 40, 0.5, 0.0),
    ("isotropic", 100, 0.05, 1e-1),
    ("isotropic", 300, 0.0, 1e-3),
    ("power_law", 100, 0.5, 1e-2),
    ("power_law", 90, 0.05, 1e-3),
    ("power_law", 300, 0.5, 0.0),
]


# the first point runs in the fast tier; the rest are slow (each is seconds of Monte Carlo)
_TIERED = [POINTS[0]] + [pytest.param(*pt, marks=pytest.mark.slow) for pt in POINTS[1:]]


@pytest.mark.parametrize(("spectrum", "m", "p2", "lam"), _TIERED)
def test_semi_analytic_theory_matches_monte_carlo(spectrum, m, p2, lam):
    eigs, w1, w2 = _problem(spectrum)
    mc = simulate_random_projection_mixture(eigs, w1, w2, N, p2, m, lam, 0.5, reps=300, rng=5)
    theory = random_projection_mixture_error(eigs, w1, w2, N, p2, m, lam, 0.5, rng=6, draws=30)
    assert mc.se <= 0.015 * mc.mean
    assert abs(mc.mean / theory - 1) <= 0.05, (mc, theory)


def test_projected_problem_is_consistent():
    rng = np.random.default_rng(0)
    eigs, w1, w2 = _problem("power_law")
    for m in (50, 400):  # rank m, then rank d
        S = rng.standard_normal((m, D)) / np.sqrt(D)
        eigs_s, t1, t2, a1, a2 = projected_problem(eigs, w1, w2, S)
        assert eigs_s.size == min(m, D) and np.all(eigs_s > 0)
        # ||theta||_{Sigma_S}^2 + A = ||w||_Sigma^2 (Pythagoras of the best linear predictor)
        assert np.sum(eigs_s * t1**2) + a1 == pytest.approx(np.sum(eigs * w1**2), rel=1e-9)
        assert a2 >= 0 and (m < D or a1 < 1e-8)


def test_validation_names_the_argument():
    eigs, w1, w2 = _problem("isotropic")
    with pytest.raises(ValueError, match="`m`"):
        random_projection_mixture_error(eigs, w1, w2, N, 0.1, 0, 0.0, 1.0)
    with pytest.raises(ValueError, match="`n`"):
        simulate_random_projection_mixture(eigs, w1, w2, 0, 0.1, 10, 0.0, 1.0)
    with pytest.raises(ValueError, match="draws"):
        random_projection_mixture_error(eigs, w1, w2, N, 0.1, 10, 0.0, 1.0, draws=0)
    with pytest.raises(ValueError, match="p2"):
        simulate_random_projection_mixture(eigs, w1, w2, N, -0.1, 10, 0.0, 1.0)
    with pytest.raises(ValueError, match="w2"):
        random_projection_mixture_error(eigs, w1, w2[:-1], N, 0.1, 10, 0.0, 1.0)
