"""Problem instances of the experiments and the weighted line fit."""

import numpy as np
import pytest

from collapselab.regression import mixture_problem, recursive_problem, spread_mixture_problem, weighted_line_fit


@pytest.mark.parametrize("spectrum", ["isotropic", "power_law"])
def test_mixture_problems_have_quality_c2(spectrum):
    for make in (mixture_problem, spread_mixture_problem):
        eigs, w1, w2 = make(spectrum, 40, 1.5, 0.3)
        assert np.sum(eigs * (w2 - w1) ** 2) == pytest.approx(0.3)
    eigs, w1, _ = mixture_problem("power_law", 40, 1.5, 0.3)
    assert np.sum(eigs * w1**2) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="`spectrum`"):
        mixture_problem("flat", 4, 1.0, 0.1)


def test_recursive_problem():
    eigs, w0 = recursive_problem("isotropic", 10)
    assert np.sum(w0**2) == pytest.approx(1.0) and np.all(eigs == 1)
    eigs, w0 = recursive_problem("power_law", 10, 2.0, 0.5)
    assert np.allclose(eigs * w0**2, np.arange(1, 11) ** -3.0)  # j^{-(1 + 2 beta r)}


def test_weighted_line_fit_slope_se_and_lack_of_fit():
    # Monte Carlo twin of the SE formula: the spread of fitted slopes over noisy draws
    rng = np.random.default_rng(0)
    x, se = np.arange(1.0, 9.0), np.linspace(0.1, 0.4, 8)
    fits = [weighted_line_fit(x, 2 * x + 1 + se * rng.standard_normal(8), se) for _ in range(2000)]
    slopes = np.array([f.slope for f in fits])
    assert slopes.mean() == pytest.approx(2.0, abs=0.01)
    assert slopes.std() == pytest.approx(fits[0].slope_se, rel=0.1)
    assert np.mean([f.lof_pvalue < 0.05 for f in fits]) == pytest.approx(0.05, abs=0.02)
    curved = weighted_line_fit(x, x**2, np.full(8, 0.1))
    assert curved.lof_pvalue < 1e-6
    power = weighted_line_fit([10, 100, 1000], [1.0, 0.1, 0.01], [0.01, 0.001, 0.0001], log=True)
    assert power.slope == pytest.approx(-1.0)
