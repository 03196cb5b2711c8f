"""The tailed bigram model and Hutter++: exact expected TV against simulation."""

import numpy as np
import pytest

from collapselab.zipf import HutterPlusPlus, TailedBigram, hutter_pp_error, simulate_hutter_pp


def test_bigram_conditionals_and_sampling():
    m = TailedBigram(2.0, 7, 9, rng=0)
    P = m.conditional(np.arange(7))
    assert P.shape == (7, 9) and np.allclose(P.sum(1), 1.0)
    assert np.allclose(np.sort(P, axis=1)[:, ::-1], m.token_probs_)
    Q = m.conditional(np.arange(7), top_k=3)
    assert np.all((Q > 0).sum(1) == 3)
    ctx, tok = m.sample(2000, rng=1, top_k=3)
    assert np.all(m.rank_of_[ctx, tok] < 3)
    with pytest.raises(ValueError, match="beta"):
        TailedBigram(1.0, 5, 5)


def test_hutter_pp_error_matches_dense_tv():
    m = TailedBigram(2.0, 12, 15, rng=0)
    h = HutterPlusPlus(12, 15).fit(*m.sample(300, rng=2))
    P_hat = h.predict_proba(np.arange(12))
    assert np.allclose(P_hat.sum(1), 1.0)
    dense = m.context_probs_ @ (0.5 * np.abs(P_hat - m.conditional(np.arange(12))).sum(1))
    assert h.error(m) == pytest.approx(dense, rel=1e-12)


@pytest.mark.parametrize("T", [20, 300, 5000])  # 180 pairs: counted by sorting when 180 > 8 T (T = 20), dense above
def test_hutter_pp_counts_are_the_sorted_distinct_pairs(T):
    m = TailedBigram(1.5, 12, 15, rng=0)
    ctx, tok = m.sample(T, rng=3)
    h = HutterPlusPlus(12, 15).fit(ctx, tok)
    keys, counts = np.unique(ctx * 15 + tok, return_counts=True)
    np.testing.assert_array_equal(h.pairs_, np.stack([keys // 15, keys % 15], axis=1))
    np.testing.assert_array_equal(h.pair_counts_, counts)
    np.testing.assert_array_equal(h.context_counts_, np.bincount(ctx, minlength=12))


@pytest.mark.parametrize("top_k", [None, 4])
def test_hutter_pp_exact_matches_monte_carlo(top_k):
    m = TailedBigram(2.5, 20, 25, rng=0)
    ts = np.array([5, 50, 500, 3000])
    exact = hutter_pp_error(m, ts, top_k=top_k, n_exact=200)  # beyond 200: the interpolated branch
    est = simulate_hutter_pp(m, ts, top_k=top_k, n_trials=200, rng=5)
    assert np.all(np.abs(est.mean - exact) <= 4.5 * est.se)
    assert hutter_pp_error(m, 0) == pytest.approx(0.5 * np.abs(1 / 25 - m.token_probs_).sum())


def test_hutter_pp_floor_is_lost_token_mass():
    m = TailedBigram(3.0, 10, 30, rng=0)
    lost = m.token_probs_[5:].sum()
    assert hutter_pp_error(m, 1e9, top_k=5) == pytest.approx(lost, rel=0.01)
    with pytest.raises(ValueError, match="model"):
        hutter_pp_error("not a model", 10)
