"""recursive_ridge_error (theory) against simulate_recursive_ridge (Monte Carlo), exact cases, errors."""

import math

import numpy as np
import pytest

from collapselab.regression import (
    effective_regularization,
    generation_moments,
    pinv_gram_diag,
    power_law_spectrum,
    recursive_ridge_error,
    simulate_recursive_ridge,
    source_condition,
)


def problem(kind: str, d: int):
    if kind == "iso":
        return np.ones(d), np.full(d, 1.0 / math.sqrt(d))
    eigs = power_law_spectrum(d, 1.5)
    return eigs, source_condition(eigs, 1.0)


# (spectrum, d, strategy, lam, T0, T, n, sigma, sigma0, reps): isotropic and power law, lam in {0, 0.1, 1},
# n up to 6, T0 < d and T0 > d, both strategies, finite and infinite downstream T.
POINTS = [
    ("iso", 20, "replace", 0.0, 40, 60, 3, 0.5, 1.0, 4000),
    ("iso", 20, "replace", 0.1, 10, 40, 4, 0.5, 0.5, 4000),
    ("iso", 20, "replace", 1.0, 60, 30, 6, 0.5, 1.0, 4000),
    ("iso", 40, "replace", 0.0, 20, math.inf, 5, 0.5, 0.0, 1000),
    ("iso", 20, "accumulate", 0.0, 30, math.inf, 6, 0.5, 1.0, 4000),
    ("iso", 20, "accumulate", 0.1, 8, 40, 4, 0.5, 0.5, 4000),
    ("pl", 40, "replace", 0.1, 80, 120, 3, 0.5, 1.0, 4000),
    ("pl", 40, "replace", 1.0, 20, 80, 2, 0.5, 0.5, 4000),
    ("pl", 40, "accumulate", 1.0, 60, 80, 5, 0.5, 1.0, 4000),
    ("pl", 40, "replace", 0.0, 100, 60, 4, 0.5, 1.0, 4000),
]


# the first point runs in the fast tier; the rest are slow (each is seconds of Monte Carlo)
_TIERED = [POINTS[0]] + [pytest.param(*pt, marks=pytest.mark.slow) for pt in POINTS[1:]]


@pytest.mark.parametrize("kind,d,strategy,lam,T0,T,n,sigma,sigma0,reps", _TIERED)
def test_theory_matches_monte_carlo(kind, d, strategy, lam, T0, T, n, sigma, sigma0, reps):
    eigs, w0 = problem(kind, d)
    theory = recursive_ridge_error(eigs, w0, T, T0, n, lam, sigma, sigma0, strategy=strategy)
    mean, se = simulate_recursive_ridge(eigs, w0, T, T0, n, lam, sigma, sigma0, strategy=strategy, reps=reps,
                                        rng=123)
    # the 5% tolerance is at least 4 standard errors, so a pass is not luck and a 5% bias cannot hide
    assert se / mean < 0.0125
    assert abs(mean - theory) / theory < 0.05


@pytest.mark.parametrize("kind", ["iso", "pl"])
def test_unregularised_replace_is_linear_in_n(kind):
    d, T, T0, sigma, sigma0 = 20, 50, 35, 0.7, 1.3
    eigs, w0 = problem(kind, d)
    for n in range(6):
        exact = sigma**2 * d / (T - d - 1) + n * sigma0**2 * d / (T0 - d - 1)
        value = recursive_ridge_error(eigs, w0, T, T0, n, 0.0, sigma, sigma0)
        assert value == pytest.approx(exact, rel=1e-12)


def test_unregularised_accumulate_closed_form_and_pi2_bound():
    d, T0, sigma0 = 20, 30, 1.0
    eigs, w0 = problem("pl", d)
    bound = sigma0**2 * d / (T0 - d - 1) * math.pi**2 / 6
    for n in range(1, 30):
        exact = sigma0**2 * d * sum(1.0 / (k * (k * T0 - d - 1)) for k in range(1, n + 1))
        value = recursive_ridge_error(eigs, w0, math.inf, T0, n, 0.0, 0.0, sigma0, strategy="accumulate")
        assert value == pytest.approx(exact, rel=1e-12)
        assert value < bound
    assert recursive_ridge_error(eigs, w0, math.inf, T0, 29, 0.0, 0.0, sigma0) > 10 * bound  # replace


def test_overparameterised_noise_free_collapse_is_exponential():
    d, T0 = 50, 20
    eigs, w0 = np.full(d, 2.0), np.linspace(-1, 1, d)
    norm2 = float(np.sum(eigs * w0**2))
    for n in range(8):
        value = recursive_ridge_error(eigs, w0, math.inf, T0, n, 0.0, 0.0, 0.0)
        assert value == pytest.approx(norm2 * (1 - (T0 / d) ** n), rel=1e-12, abs=1e-14)
    # accumulate: later row spaces contain the first, so the collapse stops after one projection
    acc = recursive_ridge_error(eigs, w0, math.inf, T0, 7, 0.0, 0.0, 0.0, strategy="accumulate")
    assert acc == pytest.approx(norm2 * (1 - T0 / d), rel=1e-12)


def test_ridge_equals_notes_formula_for_replace_with_t0_above_d():
    """notes §1.3(ii): B + V + Delta_n, written out independently."""
    d, T, T0, lam, sigma, sigma0, n = 30, 80, 70, 0.3, 0.8, 1.1, 4
    eigs, w0 = problem("pl", d)
    k = effective_regularization(eigs, lam, T)
    df2 = float(np.sum((eigs / (eigs + k)) ** 2))
    bias = k**2 * float(np.sum(eigs * w0**2 / (eigs + k) ** 2)) / (1 - df2 / T)
    var = sigma**2 * df2 / (T - df2)
    delta = n * sigma0**2 / (T0 - d - 1) * (df2 + k**2 * float(np.sum(1 / (eigs + k) ** 2)) * df2 / (T - df2))
    value = recursive_ridge_error(eigs, w0, T, T0, n, lam, sigma, sigma0)
    assert value == pytest.approx(bias + var + delta, rel=1e-10)


def test_error_grows_with_generations_and_is_infinite_in_the_singular_window():
    eigs, w0 = problem("iso", 20)
    values = [recursive_ridge_error(eigs, w0, 50, 40, n, 0.1, 0.5, 0.5) for n in range(5)]
    assert np.all(np.diff(values) > 0)
    for T0 in (19, 20, 21):
        assert math.isinf(recursive_ridge_error(eigs, w0, 50, T0, 1, 0.1, 0.5, 0.5))
        assert math.isfinite(recursive_ridge_error(eigs, w0, 50, T0, 1, 0.1, 0.5, 0.0))


def test_pinv_gram_diag_exact_cases():
    eigs = np.array([3.0, 2.0, 1.0, 0.5])
    assert pinv_gram_diag(eigs, 10) == pytest.approx(1 / (eigs * 5))
    iso = np.full(10, 2.0)
    assert pinv_gram_diag(iso, 4) == pytest.approx(np.full(10, 4 / (2.0 * 10 * 5)))
    assert np.all(np.isinf(pinv_gram_diag(iso, 9)))


def test_generation_moments_mean_unbiased_for_t0_above_d():
    eigs, w0 = problem("pl", 10)
    m, s = generation_moments(eigs, w0, 30, 3, 1.0)
    assert m == pytest.approx(w0)
    assert s == pytest.approx(w0**2 + 3 / (eigs * 19))


def test_simulation_is_reproducible_and_uses_rng():
    eigs, w0 = problem("iso", 8)
    a = simulate_recursive_ridge(eigs, w0, 20, 16, 2, 0.1, 0.5, 0.5, reps=10, rng=7)
    b = simulate_recursive_ridge(eigs, w0, 20, 16, 2, 0.1, 0.5, 0.5, reps=10, rng=np.random.default_rng(7))
    c = simulate_recursive_ridge(eigs, w0, 20, 16, 2, 0.1, 0.5, 0.5, reps=10, rng=8)
    assert a == b and a != c


def test_large_downstream_sample_uses_sufficient_statistics_consistently():
    eigs, w0 = problem("pl", 10)
    theory = recursive_ridge_error(eigs, w0, 200, 30, 1, 0.05, 1.0, 0.5)
    mean, se = simulate_recursive_ridge(eigs, w0, 200, 30, 1, 0.05, 1.0, 0.5, reps=3000, rng=1)
    assert se / mean < 0.0125 and abs(mean - theory) / theory < 0.05


@pytest.mark.parametrize("kwargs,name", [
    ({"eigs": [1.0, -1.0]}, "eigs"),
    ({"w0": [1.0, 2.0, 3.0]}, "w0"),
    ({"T": 2.5}, "T"),
    ({"T": 0}, "T"),
    ({"T0": 0}, "T0"),
    ({"generations": -1}, "generations"),
    ({"lam": -0.1}, "lam"),
    ({"sigma": -1.0}, "sigma"),
    ({"sigma0": float("nan")}, "sigma0"),
    ({"strategy": "mix"}, "strategy"),
])
def test_errors_name_the_argument(kwargs, name):
    args = {"eigs": [1.0, 1.0], "w0": [1.0, 0.0], "T": 10, "T0": 10, "generations": 1, "lam": 0.1,
            "sigma": 1.0, "sigma0": 1.0, "strategy": "replace"}
    args.update(kwargs)
    strategy = args.pop("strategy")
    with pytest.raises(ValueError, match=name):
        recursive_ridge_error(**args, strategy=strategy)
    with pytest.raises(ValueError, match=name):
        simulate_recursive_ridge(**args, strategy=strategy, reps=2, rng=0)


def test_reps_validated():
    with pytest.raises(ValueError, match="reps"):
        simulate_recursive_ridge([1.0], [1.0], 10, 10, 1, 0.1, 1.0, 1.0, reps=1)


@pytest.mark.parametrize("kind", ["iso", "pl"])
def test_fake_gram_draw_has_the_explicit_law(kind):
    """fake_gram=True (the refit's error drawn through the Bartlett factor of X'X) matches the exact
    unregularised error sigma^2 d/(T - d - 1) + n sigma0^2 d/(T0 - d - 1) within 4 standard errors; the
    same draw with sigma0 scaled by 1.1 (a 21% larger fake-data term) is rejected, so the check can fail."""
    d, T, T0, n, sigma, sigma0 = 20, 50, 35, 3, 0.7, 1.3
    eigs, w0 = problem(kind, d)
    exact = sigma**2 * d / (T - d - 1) + n * sigma0**2 * d / (T0 - d - 1)
    mean, se = simulate_recursive_ridge(eigs, w0, T, T0, n, 0.0, sigma, sigma0, reps=6000, rng=5, fake_gram=True)
    assert abs(mean - exact) < 4 * se
    wrong, wse = simulate_recursive_ridge(eigs, w0, T, T0, n, 0.0, sigma, 1.1 * sigma0, reps=6000, rng=5,
                                          fake_gram=True)
    assert abs(wrong - exact) > 4 * wse
    # T0 < d falls back to the explicit (min-norm) draw: bitwise the default
    a = simulate_recursive_ridge(eigs, w0, 40, 10, 2, 0.1, sigma, sigma0, reps=10, rng=3, fake_gram=True)
    b = simulate_recursive_ridge(eigs, w0, 40, 10, 2, 0.1, sigma, sigma0, reps=10, rng=3)
    assert a == b
