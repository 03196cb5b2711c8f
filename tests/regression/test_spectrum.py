import numpy as np
import pytest

from collapselab.regression import df, effective_regularization, fit_power_law, power_law_spectrum


def test_power_law_and_df():
    e = power_law_spectrum(5, 2.0)
    assert np.allclose(e, [1, 1 / 4, 1 / 9, 1 / 16, 1 / 25])
    assert df(e, 0.0, 1) == pytest.approx(5.0)
    assert df(e, 1e12, 2) < 1e-10
    with pytest.raises(ValueError, match="eigs"):
        df(np.array([1.0, -1.0]), 0.1)
    with pytest.raises(ValueError, match="d"):
        power_law_spectrum(0, 1.0)


@pytest.mark.parametrize("lam, n", [(0.1, 50.0), (1e-3, 20.0), (0.0, 20.0), (0.0, 80.0), (1.0, 5.0)])
def test_effective_regularization_solves_its_equation(lam, n):
    e = power_law_spectrum(60, 1.3)
    k = effective_regularization(e, lam, n)
    if lam == 0 and n >= 60:
        assert k == 0.0
    else:
        assert k - lam == pytest.approx(k * df(e, k, 1) / n, rel=1e-9)


def test_isotropic_kappa_matches_closed_form():
    # Sigma = I, phi = d/n: kappa = [lam + phi - 1 + sqrt((lam + phi - 1)^2 + 4 lam)] / 2 (notes §1.3)
    d, n, lam = 50, 200, 0.3
    phi = d / n
    closed = (lam + phi - 1 + np.sqrt((lam + phi - 1) ** 2 + 4 * lam)) / 2
    assert effective_regularization(np.ones(d), lam, n) == pytest.approx(closed, rel=1e-10)


def test_fit_power_law_recovers_exponent():
    x = np.logspace(1, 4, 12)
    y = 3.0 * x**-0.5 * np.exp(np.random.default_rng(0).normal(0, 0.01, 12))
    fit = fit_power_law(x, y)
    assert fit.slope == pytest.approx(-0.5, abs=0.01) and fit.slope_ci[0] < -0.5 < fit.slope_ci[1]
    assert fit.r2 > 0.99
    with pytest.raises(ValueError, match="positive"):
        fit_power_law(x, -y)
