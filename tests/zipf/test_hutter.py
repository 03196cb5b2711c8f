"""The memoriser's closed forms against their Monte Carlo twins, and the distributions they use."""

import numpy as np
import pytest

from collapselab.zipf import (
    Memorizer,
    expected_error,
    memorizer_chain_error,
    mix,
    resampling_chain,
    resampling_chain_error,
    simulate_memorizer,
    simulate_memorizer_chain,
    simulate_resampling_chain,
    tail_cut,
    tail_mass,
    tail_narrow,
    zipf,
)

Z = 4.5  # per-point bound on |MC - exact| / stderr; with < 100 points the chance of a false alarm is < 1e-3


def assert_mc_close(est, exact):
    mean, se, exact = np.ravel(est.mean), np.ravel(est.se), np.ravel(exact)
    varied = se > 1e-9 * np.abs(mean)
    assert np.all(np.abs(mean - exact)[varied] <= Z * se[varied]), (mean, exact, se)
    # trials that all agree (every head item seen): the exact value sits just above
    assert np.all(np.abs(mean - exact)[~varied] <= 1e-3 * np.maximum(exact[~varied], 1e-12) + 1e-4)


def test_zipf_is_normalised_and_decreasing():
    p = zipf(2.0, 1000)
    assert p.shape == (1000,)
    assert p.sum() == pytest.approx(1.0)
    assert np.all(np.diff(p) < 0)
    assert p[0] / p[1] == pytest.approx(4.0)


@pytest.mark.parametrize("beta, support, match", [(1.0, 10, "beta"), (0.5, 10, "beta"), (2.0, 0, "support"),
                                                  (2.0, 2.5, "support")])
def test_zipf_rejects_bad_arguments(beta, support, match):
    with pytest.raises(ValueError, match=match):
        zipf(beta, support)


def test_tail_cut_and_mass():
    p = zipf(2.0, 500)
    q = tail_cut(p, 10)
    assert q.sum() == pytest.approx(1.0)
    assert np.all(q[10:] == 0)
    assert np.allclose(q[:10], p[:10] / p[:10].sum())
    assert tail_mass(p, 10) == pytest.approx(p[10:].sum())
    with pytest.raises(ValueError, match="k"):
        tail_cut(p, 0)


def test_tail_narrow_maps_zipf_to_zipf():
    p = zipf(2.0, 2000)
    assert np.allclose(tail_narrow(p, 2.0 / 4.0), zipf(4.0, 2000), rtol=1e-10, atol=1e-300)
    assert np.allclose(tail_narrow(p, 1.0), p)
    with pytest.raises(ValueError, match="temperature"):
        tail_narrow(p, 0.0)


def test_mix_is_convex_combination_and_validates():
    p = zipf(2.0, 100)
    q = tail_cut(p, 5)
    assert np.allclose(mix(p, q, 0.3), 0.3 * p + 0.7 * q)
    with pytest.raises(ValueError, match="pi"):
        mix(p, q, 1.5)
    with pytest.raises(ValueError, match="shape"):
        mix(p, zipf(2.0, 50), 0.5)
    with pytest.raises(ValueError, match="sum to 1"):
        mix(p, q * 2, 0.5)


def test_expected_error_direct_sum_and_limits():
    p = zipf(1.5, 300)
    q = tail_cut(p, 20)
    ts = np.array([0, 1, 7, 100, 10**4])
    direct = np.array([np.sum(p * (1 - q) ** t) for t in ts])
    assert np.allclose(expected_error(p, q, ts), direct, rtol=1e-12)
    assert expected_error(p, q, 0) == pytest.approx(1.0)
    assert expected_error(p, q, 1e12) == pytest.approx(tail_mass(p, 20), rel=1e-12)
    assert isinstance(expected_error(p, p, 10), float)
    assert expected_error(p, p, ts.reshape(5, 1)).shape == (5, 1)
    with pytest.raises(ValueError, match="T"):
        expected_error(p, p, -1)


def test_expected_error_clean_constant_beta2():
    # E ~ A^{1/beta} Gamma(1 - 1/beta) / beta * T^{-(1 - 1/beta)}: 0.691 / sqrt(T) for beta = 2 [notes 3.2]
    p = zipf(2.0, 10**6)
    assert expected_error(p, p, 1e4) * 100 == pytest.approx(0.691, rel=0.01)


@pytest.mark.parametrize("beta, kind", [(1.5, "clean"), (2.0, "cut"), (2.0, "narrow"), (3.0, "mix")])
def test_simulate_memorizer_matches_expected_error(beta, kind):
    p = zipf(beta, 2000)
    q = {"clean": p, "cut": tail_cut(p, 10), "narrow": tail_narrow(p, beta / 3.0),
         "mix": mix(p, tail_cut(p, 5), 0.2)}[kind]
    ts = np.array([5, 50, 500, 5000])
    est = simulate_memorizer(p, q, ts, n_trials=200, rng=1)
    assert est.mean.shape == ts.shape and est.n == 200
    assert_mc_close(est, expected_error(p, q, ts))


def test_memorizer_learns_and_abstains():
    m = Memorizer(5).fit([0, 2, 2], [7, 8, 8])
    assert m.predict([0, 1, 2]).tolist() == [7, -1, 8]
    assert m.error(np.full(5, 0.2), np.array([7, 0, 8, 0, 0])) == pytest.approx(0.6)
    with pytest.raises(ValueError, match="x"):
        Memorizer(5).fit([5], [1])


def test_memorizer_chain_exact_properties():
    p = zipf(2.0, 3000)
    ts = np.array([10.0, 1e3, 1e6])
    assert np.allclose(memorizer_chain_error(p, ts, 100, 0), expected_error(p, p, ts))
    grid = memorizer_chain_error(p, ts[None, :], 100, np.arange(6)[:, None])
    assert grid.shape == (6, 3)
    assert np.all(np.diff(grid, axis=0) > 0)  # the error rises with every generation at every T
    # the floor of one generation is the clean error at T0
    assert memorizer_chain_error(p, 1e15, 100, 1) == pytest.approx(expected_error(p, p, 100), rel=1e-9)
    with pytest.raises(ValueError, match="generations"):
        memorizer_chain_error(p, 10, 100, -1)
    with pytest.raises(ValueError, match="T0"):
        memorizer_chain_error(p, 10, 0, 1)


def test_simulate_memorizer_chain_matches():
    p = zipf(2.0, 1000)
    ts, gens = np.array([[50, 500, 5000]]), np.array([[0], [1], [3]])
    est = simulate_memorizer_chain(p, ts, 200, gens, n_trials=150, rng=2)
    assert est.mean.shape == (3, 3)
    assert_mc_close(est, memorizer_chain_error(p, ts, 200, gens))


def test_resampling_chain_loses_items_for_ever():
    p = zipf(2.0, 500)
    qs = resampling_chain(p, 200, [1, 2, 5, 10], rng=3)
    assert qs.shape == (4, 500)
    assert np.allclose(qs.sum(1), 1.0)
    support = qs > 0
    assert np.all(support[1:] <= support[:-1])  # once lost, never back
    assert np.array_equal(resampling_chain(p, 200, 0, rng=0), p)


def test_resampling_chain_error_exact_and_mc():
    p = zipf(2.0, 800)
    # one generation: both chains lose item i with probability (1 - p_i)^T0
    assert resampling_chain_error(p, 1e15, 150, 1) == pytest.approx(memorizer_chain_error(p, 1e15, 150, 1))
    floors = resampling_chain_error(p, 1e15, 150, np.arange(6))
    assert np.all(np.diff(floors) > 0)
    ts, gens = np.array([[20, 200, 20000]]), np.array([[0], [1], [4]])
    est = simulate_resampling_chain(p, ts, 150, gens, n_trials=150, rng=4)
    assert_mc_close(est, resampling_chain_error(p, ts, 150, gens))
