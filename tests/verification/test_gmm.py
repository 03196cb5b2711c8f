"""Gaussian-mixture theory against its Monte Carlo twins (tolerances from the standard errors)."""

import numpy as np
import pytest

from collapselab.verification import (
    LabelFlipGenerator,
    LinearGenerator,
    LinearVerifier,
    RandomPruner,
    bayes_accuracy,
    breakdown_point,
    estimate_breakdown_point,
    kept_label_noise,
    limit_accuracy,
    limit_accuracy_mc,
    linear_accuracy,
    linear_verifier_limit_accuracy,
    linear_verifier_limit_accuracy_mc,
    sample_mixture,
    simulate_selection,
)

MU = np.array([1.0, 0.0, 0.0, 0.0, 0.0])


def test_breakdown_point_values_and_limits():
    assert breakdown_point(0.9, 0.3) == pytest.approx(0.75)
    assert breakdown_point(1.0, 0.0) == 1.0  # oracle rescues any p < 1
    assert breakdown_point(0.4, 0.4) == 0.5  # no selection
    assert breakdown_point(0.2, 0.6) < 0.5  # worse than chance


@pytest.mark.parametrize("phi,psi", [(0.9, 0.3), (0.5, 0.5), (1.0, 0.2)])
def test_kept_noise_below_half_iff_below_breakdown(phi, psi):
    p_star = breakdown_point(phi, psi)
    for p in np.linspace(0.01, 0.99, 25):
        assert (kept_label_noise(p, phi, psi) < 0.5) == (p < p_star) or np.isclose(p, p_star)


def test_kept_noise_matches_simulation():
    out = simulate_selection(MU, None, generator=LabelFlipGenerator(0.4), verifier=RandomPruner(0.8, 0.3),
                             strategy="prune", n=40_000, rng=0)
    theory = kept_label_noise(0.4, 0.8, 0.3)
    se = np.sqrt(theory * (1 - theory) / out.n_kept)
    assert abs(out.kept_noise - theory) < 4 * se
    expected_kept = 40_000 * (0.4 * 0.3 + 0.6 * 0.8)
    assert abs(out.n_kept - expected_kept) < 4 * np.sqrt(40_000 * 0.6 * 0.4)


@pytest.mark.parametrize("phi,psi,p", [(0.9, 0.3, 0.2), (0.9, 0.3, 0.95), (1.0, 0.0, 0.6), (0.3, 0.6, 0.1)])
def test_limit_accuracy_matches_large_n_simulation(phi, psi, p):
    # Finite-N bias: the direction error angle^2 ~ d / (N_kept (1 - 2p')^2) costs about
    # phi(||mu||) ||mu|| angle^2 / 2 < 0.004 here (d=5, N_kept >= 1e4, |1 - 2p'| >= 0.3); allow 0.005.
    est = limit_accuracy_mc(MU, None, p, phi, psi, n=40_000, n_trials=4, rng=1)
    assert abs(est.mean - limit_accuracy(MU, None, p, phi, psi)) < 4 * est.se + 0.005


@pytest.mark.parametrize("phi,psi", [(0.9, 0.3), (0.6, 0.4), (1.0, 0.5), (0.3, 0.6)])
def test_breakdown_point_is_where_simulation_crosses_half(phi, psi):
    """At p* the kept labels are independent of x, so the mean accuracy is exactly 1/2; 0.08 on either
    side, finite-N accuracy is already on the predicted side."""
    p_star = breakdown_point(phi, psi)
    at = limit_accuracy_mc(MU, None, p_star, phi, psi, n=4_000, n_trials=30, rng=2)
    assert abs(at.mean - 0.5) < 4 * at.se
    below = limit_accuracy_mc(MU, None, p_star - 0.08, phi, psi, n=20_000, n_trials=3, rng=3)
    above = limit_accuracy_mc(MU, None, p_star + 0.08, phi, psi, n=20_000, n_trials=3, rng=4)
    assert below.mean - 4 * below.se > 0.5 > above.mean + 4 * above.se


def test_bayes_and_linear_accuracy_match_samples():
    rng = np.random.default_rng(5)
    sigma = np.array([[1.0, 0.3], [0.3, 0.5]])
    mu = np.array([0.6, -0.2])
    x, y = sample_mixture(100_000, mu, sigma, rng=rng)
    assert abs(np.mean(y == 1) - 0.5) < 4 * 0.5 / np.sqrt(len(y))
    w = np.linalg.solve(sigma, mu)
    for b in (0.0, 0.4):
        acc = np.mean(np.where(x @ w + b >= 0, 1, -1) == y)
        th = linear_accuracy(w, b, mu, sigma)
        assert abs(acc - th) < 4 * np.sqrt(th * (1 - th) / len(y))
    assert linear_accuracy(w, 0.0, mu, sigma) == pytest.approx(bayes_accuracy(mu, sigma))
    assert linear_accuracy(np.zeros(2), 0.3, mu, sigma) == 0.5


def test_linear_generator_error_is_exact():
    gen = LinearGenerator.from_real_samples(6, MU, rng=7)
    x, y = sample_mixture(100_000, MU, rng=8)
    err = np.mean(gen.label(x) != y)
    p = gen.error(MU)
    assert abs(err - p) < 4 * np.sqrt(p * (1 - p) / len(y))


def test_label_flip_rate():
    y = np.ones(50_000, dtype=np.int64)
    flips = np.mean(LabelFlipGenerator(0.3).label(None, y_true=y, rng=0) != y)
    assert abs(flips - 0.3) < 4 * np.sqrt(0.21 / 50_000)


@pytest.mark.parametrize("verifier", [RandomPruner(0.8, 0.3),
                                      LinearVerifier(np.array([0.6, 0.8, 0, 0, 0]), 0.2)])
def test_estimate_breakdown_point_matches_keep_rates(verifier):
    x, y = sample_mixture(60_000, MU, rng=9)
    y_syn = LabelFlipGenerator(0.4).label(x, y_true=y, rng=10)
    est = estimate_breakdown_point(verifier, x, y, y_syn, rng=11)
    phi, psi = verifier.keep_rates(MU)
    assert abs(est.phi - phi) < 4 * np.sqrt(phi * (1 - phi) / est.n_correct)
    assert abs(est.psi - psi) < 4 * np.sqrt(psi * (1 - psi) / est.n_wrong)
    assert est.p_star == pytest.approx(est.phi / (est.phi + est.psi))


@pytest.mark.parametrize("p,angle,tau", [(0.3, 0.4, 0.0), (0.7, 1.2, -0.5), (0.9, 0.0, 0.5)])
def test_linear_verifier_limit_matches_simulation(p, angle, tau):
    w = np.array([np.cos(angle), np.sin(angle), 0, 0, 0])
    est = linear_verifier_limit_accuracy_mc(MU, None, p, w, tau, n=40_000, n_trials=3, rng=12)
    assert abs(est.mean - linear_verifier_limit_accuracy(MU, None, p, w, tau)) < 4 * est.se + 0.005


def test_linear_verifier_escapes_the_xindependent_prediction():
    """A perfect-direction verifier makes every kept label agree with sign(mu.x): no collapse at p > p*."""
    w = MU.copy()
    phi, psi = LinearVerifier(w, 0.0).keep_rates(MU)
    assert 0.9 > breakdown_point(phi, psi)
    assert linear_verifier_limit_accuracy(MU, None, 0.9, w, 0.0) == pytest.approx(bayes_accuracy(MU))


def test_strategies_none_and_oracle():
    gen = LabelFlipGenerator(0.8)
    none = simulate_selection(MU, None, generator=gen, strategy="none", n=20_000, rng=0)
    oracle = simulate_selection(MU, None, generator=gen, strategy="oracle", n=20_000, rng=0)
    assert none.accuracy < 0.5 < oracle.accuracy
    assert oracle.kept_noise == 0.0
    bok = simulate_selection(MU, None, generator=LabelFlipGenerator(0.8), verifier=LinearVerifier(MU),
                             strategy="best-of-k", n=5_000, rng=0)
    assert bok.n_kept == 5_000 and bok.accuracy > 0.8


def test_errors_name_the_argument():
    with pytest.raises(ValueError, match="phi"):
        breakdown_point(1.5, 0.1)
    with pytest.raises(ValueError, match="both be 0"):
        breakdown_point(0.0, 0.0)
    with pytest.raises(ValueError, match="p"):
        limit_accuracy(MU, None, -0.1, 0.9, 0.3)
    with pytest.raises(ValueError, match="sigma"):
        bayes_accuracy(MU, np.eye(3))
    with pytest.raises(ValueError, match="sigma"):
        bayes_accuracy(MU[:2], np.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="y_true"):
        RandomPruner(0.5, 0.5).accept(None, np.ones(3, dtype=int))
    with pytest.raises(ValueError, match="verifier"):
        simulate_selection(MU, None, generator=LabelFlipGenerator(0.1), strategy="prune", n=10)
    with pytest.raises(ValueError, match="n"):
        simulate_selection(MU, None, generator=LabelFlipGenerator(0.1), strategy="none", n=0)
    with pytest.raises(ValueError, match="w_v"):
        linear_verifier_limit_accuracy(MU, None, 0.2, np.ones(3))
