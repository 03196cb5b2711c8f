"""source_condition and adaptive_regularization (Model Collapse Demystified, §5)."""

import math

import numpy as np
import pytest

from collapselab.regression import (
    adaptive_regularization,
    critical_exponent,
    power_law_spectrum,
    recursive_ridge_error,
    source_condition,
)


@pytest.mark.parametrize("beta,r", [(1.5, 0.5), (2.0, 1.0), (3.0, 0.25)])
def test_source_condition_is_the_power_law_profile(beta, r):
    eigs = power_law_spectrum(50, beta)
    w0 = source_condition(eigs, r)
    j = np.arange(1, 51)
    assert eigs * w0**2 == pytest.approx(j ** -(1 + 2 * beta * r), rel=1e-12)


def test_source_condition_ranks_unsorted_eigs():
    eigs = np.array([0.25, 1.0, 0.5])
    w0 = source_condition(eigs, 0.5)  # lambda w0^2 = lambda / rank
    assert eigs * w0**2 == pytest.approx(eigs / np.array([3, 1, 2]))


def test_adaptive_regularization_limits():
    beta, r = 2.0, 0.5
    ell = critical_exponent(beta, r)
    assert ell == pytest.approx(beta / (1 + 2 * beta * r))
    assert critical_exponent(2.0, 3.0) == pytest.approx(2.0 / 5.0)  # saturation r_ = min(r, 1)
    for T in (100, 1000):
        assert adaptive_regularization(T, 0, 200, 1.0, 1.0, beta, r) == pytest.approx(T ** -ell)
    lams = [adaptive_regularization(1000, n, 200, 1.0, 1.0, beta, r, d=100) for n in range(4)]
    assert np.all(np.diff(lams) > 0)
    plateau = (1.0 / 99) ** ell
    far = adaptive_regularization(10**9, 1, 200, 1.0, 1.0, beta, r, d=100)
    assert far == pytest.approx(plateau, rel=1e-5)
    assert adaptive_regularization(1000, 1, 200, 1.0, 1.0, beta, r) < lams[1]  # T0 >> d form: n/T0


def test_adaptive_lam_beats_clean_lam_in_theory_at_large_T():
    d, T0, beta, r = 100, 200, 2.0, 0.5
    eigs = power_law_spectrum(d, beta)
    w0 = source_condition(eigs, r)
    T = 3000
    for n in (1, 4):
        clean = adaptive_regularization(T, 0, T0, 1.0, 1.0, beta, r)
        adapt = adaptive_regularization(T, n, T0, 1.0, 1.0, beta, r, d=d)
        e_clean = recursive_ridge_error(eigs, w0, T, T0, n, clean, 1.0, 1.0)
        e_adapt = recursive_ridge_error(eigs, w0, T, T0, n, adapt, 1.0, 1.0)
        assert e_adapt < e_clean


@pytest.mark.parametrize("call,name", [
    (lambda: source_condition([1.0, 0.0], 0.5), "eigs"),
    (lambda: source_condition([1.0], 0.0), "r"),
    (lambda: adaptive_regularization(0, 1, 10, 1, 1, 2, 0.5), "T"),
    (lambda: adaptive_regularization(10, -1, 10, 1, 1, 2, 0.5), "generations"),
    (lambda: adaptive_regularization(10, 1, 10, 1, 1, 1.0, 0.5), "beta"),
    (lambda: adaptive_regularization(10, 1, 10, 1, 1, 2, -0.5), "r"),
    (lambda: adaptive_regularization(10, 1, 10, -1, 1, 2, 0.5), "sigma"),
    (lambda: adaptive_regularization(10, 1, 10, 1, 1, 2, 0.5, d=9), "T0"),
    (lambda: adaptive_regularization(10, 0, 10, 0.0, 1, 2, 0.5), "sigma"),
])
def test_errors_name_the_argument(call, name):
    with pytest.raises(ValueError, match=name):
        call()


def test_finite():
    assert math.isfinite(adaptive_regularization(10, 3, 50, 1.0, 0.5, 1.5, 2.0, d=10))
