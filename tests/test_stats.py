"""collapselab.stats: estimates, comparisons and the three decision rules (each can PASS, FAIL and be
INCONCLUSIVE), checked against scipy and against simulation where a closed form is involved."""

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats as st

from collapselab import stats


def test_mean_se_and_ci_match_scipy():
    x = np.array([1.0, 2.0, 4.0, 7.0])
    e = stats.mean_se(x)
    assert e.mean == pytest.approx(3.5) and e.se == pytest.approx(st.sem(x)) and e.n == 4
    lo, hi = e.ci(0.9)
    ref = st.t.interval(0.9, 3, loc=3.5, scale=st.sem(x))
    assert (lo, hi) == pytest.approx(ref)
    assert stats.mean_se([5.0]).se == math.inf
    with pytest.raises(ValueError, match="values"):
        stats.mean_se([1.0, float("nan")])


def test_grouped_mean_se():
    f = pd.DataFrame({"g": [0, 0, 1, 1, 1], "v": [1.0, 3.0, 2.0, 2.0, 5.0]})
    out = stats.grouped_mean_se(f, "g", "v")
    assert out["mean"].tolist() == pytest.approx([2.0, 3.0]) and out["n"].tolist() == [2, 3]
    assert out["se"].tolist() == pytest.approx([st.sem([1, 3]), st.sem([2, 2, 5])])
    with pytest.raises(ValueError, match="nope"):
        stats.grouped_mean_se(f, "g", "nope")
    assert list(stats.grouped_mean_se(f.rename(columns={"g": "n"}), "n", "v").columns) == ["n", "mean", "count",
                                                                                          "se"]


def test_paired_difference_matches_scipy_ttest():
    rng = np.random.default_rng(0)
    a, b = rng.normal(1, 1, 12), rng.normal(0.5, 1, 12)
    c = stats.paired_difference(a, b, alternative="greater")
    ref = st.ttest_rel(a, b, alternative="greater")
    assert c.pvalue == pytest.approx(ref.pvalue) and c.estimate == pytest.approx((a - b).mean())
    assert c.high == math.inf and c.low < c.estimate
    two = stats.paired_difference(a, b, alternative="two-sided")
    assert two.pvalue == pytest.approx(st.ttest_rel(a, b).pvalue)
    boot = stats.paired_difference(a, b, method="bootstrap", rng=1, alternative="two-sided")
    assert boot.low < boot.estimate < boot.high and abs(boot.halfwidth - two.halfwidth) < 0.5 * two.halfwidth
    with pytest.raises(ValueError, match="paired"):
        stats.paired_difference([1, 2], [1, 2, 3])


def test_welch_difference_matches_scipy():
    a, b = np.array([5.0, 6, 7, 8, 9]), np.array([1.0, 2, 2, 3])
    c = stats.difference(a, b, alternative="two-sided")
    assert c.pvalue == pytest.approx(st.ttest_ind(a, b, equal_var=False).pvalue)


def test_proportions():
    lo, hi = stats.proportion_ci(8, 10)
    assert lo < 0.8 < hi and (lo, hi) == pytest.approx((0.490, 0.943), abs=1e-3)  # Wilson
    elo, ehi = stats.proportion_ci(8, 10, method="exact")
    assert elo < lo  # Clopper-Pearson is wider
    c = stats.two_proportions(90, 100, 70, 100)
    assert c.estimate == pytest.approx(0.2) and c.low > 0 and c.pvalue < 0.01
    tie = stats.two_proportions(50, 100, 50, 100)
    assert tie.estimate == 0 and tie.pvalue == pytest.approx(0.5)
    with pytest.raises(ValueError):
        stats.proportion_ci(11, 10)


def test_two_proportions_interval_covers_by_simulation():
    """Newcombe's one-sided 95% lower bound covers p1 - p2 in about 95% of simulated experiments."""
    rng = np.random.default_rng(3)
    p1, p2, n = 0.6, 0.5, 200
    cover = [stats.two_proportions(rng.binomial(n, p1), n, rng.binomial(n, p2), n).low <= p1 - p2
             for _ in range(400)]
    assert 0.92 <= np.mean(cover) <= 0.98  # 400 draws: +-2.7 standard errors around 0.95


def test_slopes():
    x = np.array([10, 20, 40, 80, 160.0])
    e = stats.loglog_slope(x, 3 * x**-0.5)
    assert e.mean == pytest.approx(-0.5) and e.se < 1e-6
    rng = np.random.default_rng(0)
    frame = pd.DataFrame([{"replicate": r, "n": n, "err": n**-1.0 * np.exp(rng.normal(0, 0.05))}
                          for r in range(6) for n in x])
    s = stats.replicate_slopes(frame, "n", "err")
    assert s.n == 6 and abs(s.mean + 1) < 4 * s.se + 0.02


def test_spearman_and_equivalence_and_holm():
    x = np.arange(20.0)
    c = stats.spearman(x, x + np.random.default_rng(0).normal(0, 2, 20), rng=0)
    assert c.estimate > 0.8 and c.low > 0.5
    eq = stats.equivalence(np.random.default_rng(1).normal(0, 0.01, 30), margin=0.05)
    assert eq.pvalue < 0.05 and -0.05 < eq.low < eq.high < 0.05
    assert stats.holm([0.01, 0.04, 0.03], alpha=0.05) == [True, False, False]
    assert stats.holm([0.01, 0.02, 0.03], alpha=0.05) == [True, True, True]


def _cmp(diffs, **kw):
    """Differences against 0 by the paired t (the rules' own logic, apart from the small-sample rule)."""
    return stats.paired_difference(np.asarray(diffs, float), np.zeros(len(diffs)), method="t", **kw)


def test_beats_rule_pass_fail_inconclusive_and_ties_never_pass():
    assert stats.beats(_cmp([2.1, 1.9, 2.0, 2.2, 1.8]), resolution=1).status == "PASS"
    assert stats.beats(_cmp([0.01, -0.01, 0.0, 0.02, -0.02]), resolution=1).status == "FAIL"
    noisy = stats.beats(_cmp([5.0, -4, 6, -5]), resolution=1)
    assert noisy.status == "INCONCLUSIVE" and "needs" in noisy.needs
    tie = stats.beats(_cmp([0.0, 0.0, 0.0, 0.0, 0.0, 0.0]), resolution=1)
    assert tie.status == "FAIL"  # an exact tie never passes "beats"


def test_beats_fails_a_significant_reversal_however_wide():
    # B beats A on every seed, but the interval is wider than the resolution: the data show A does not beat B
    rev = stats.beats(stats.paired_difference([-0.3, -0.05, -0.6, -0.1, -0.4, -0.2], [0] * 6), resolution=0.05)
    assert rev.status == "FAIL" and "reversed" in rev.text
    assert stats.beats(stats.from_estimate(-0.5, 0.2, df=5), resolution=0.05).status == "FAIL"
    # on the wrong side of 0 but not significantly: undecided, as before
    mixed = stats.beats(stats.paired_difference([-0.3, 0.4, -0.6, 0.1, -0.4, 0.2], [0] * 6), resolution=0.05)
    assert mixed.status == "INCONCLUSIVE" and "reversed" not in mixed.text


def test_matches_rule():
    assert stats.matches(_cmp([0.01, -0.01, 0.0, 0.02, -0.02]), margin=0.1).status == "PASS"
    assert stats.matches(_cmp([1.0, 1.01, 0.99, 1.02, 0.98]), margin=0.1).status == "FAIL"
    assert stats.matches(_cmp([0.5, -0.5, 0.4, -0.4]), margin=0.1).status == "INCONCLUSIVE"
    # wide, but wholly beyond the margin: the effect exceeds it significantly (as at_most FAILs)
    wide = _cmp([2.0, 1.0, 3.0])
    assert wide.halfwidth > 0.25 and stats.matches(wide, margin=0.25).status == "FAIL"
    assert stats.matches(_cmp([-2.0, -1.0, -3.0]), margin=0.25).status == "FAIL"
    # wide and straddling the margin: still undecided
    assert stats.matches(_cmp([0.6, -0.2, 1.4]), margin=0.25).status == "INCONCLUSIVE"


def test_at_most_rule_never_passes_by_default():
    two = dict(alternative="two-sided", method="t")
    assert stats.at_most(stats.paired_difference([0.0, 0.1, -0.1, 0.05], [0, 0, 0, 0], **two),
                         resolution=0.5, margin=0.3).status == "PASS"
    assert stats.at_most(stats.paired_difference([2.0, 2.1, 1.9, 2.0], [0, 0, 0, 0], **two),
                         resolution=0.5).status == "FAIL"
    assert stats.at_most(stats.paired_difference([3.0, -3, 2, -2.5], [0, 0, 0, 0], **two),
                         resolution=0.5).status == "INCONCLUSIVE"


def test_more_data_without_a_count():
    c = stats.from_estimate(0.1, 0.2, alternative="greater")
    d = stats.beats(c, resolution=0.05)
    assert d.status == "INCONCLUSIVE" and "about" not in d.needs


# ============================================================================ exact small-sample statistics


def test_zero_discordance_is_never_a_point_interval():
    """150 identical 0/1 outcomes: the exact bound is the discordance rate's upper Clopper-Pearson bound
    (at alpha / 2 each side, Bonferroni), about 2.4 points, so a 1-point equivalence cannot PASS."""
    c = stats.paired_difference(np.zeros(150), np.zeros(150))
    assert c.exact == "binary" and c.low < -0.02 and c.pvalue == 1.0
    assert stats.matches(c, margin=0.01).status != "PASS"
    eq = stats.equivalence(c, 0.01)
    assert eq.high == pytest.approx(1 - 0.025 ** (1 / 150)) and eq.low == pytest.approx(-eq.high)
    assert stats.at_most(stats.paired_difference(np.ones(150), np.ones(150), alternative="two-sided"),
                         margin=0.01, resolution=0.05).status == "INCONCLUSIVE"


def test_binary_pvalue_is_twice_mcnemar_exact_and_agrees_with_the_bound():
    rng = np.random.default_rng(5)
    for _ in range(10):
        a, b = rng.integers(0, 2, 60), rng.integers(0, 2, 60)
        c = stats.paired_difference(a, b)
        k, m = int(np.sum(a > b)), int(np.sum(a != b))
        ref = min(1.0, 2 * st.binomtest(k, m, 0.5, alternative="greater").pvalue) if m else 1.0
        assert c.pvalue == pytest.approx(ref, rel=1e-6, abs=1e-12)
        assert (c.low > 0) == (c.pvalue < 0.05)


def test_binary_equivalence_keeps_its_level_by_simulation():
    """At a true 1-point one-way difference on 150 paired outcomes, the exact TOST at a 1-point margin
    passes at most ~5% of the time (the t rule with its point interval passed ~22%)."""
    rng = np.random.default_rng(11)
    passes = []
    for _ in range(400):
        flip = rng.random(150) < 0.01  # b = 1 where a = 0: p10 - p01 = -0.01
        a = (rng.random(150) < 0.8).astype(float)
        b = np.where(flip, 1.0, a)
        a = np.where(flip, 0.0, a)
        passes.append(stats.matches(stats.paired_difference(a, b), margin=0.01).status == "PASS")
    assert np.mean(passes) <= 0.05


def test_binary_interval_covers_by_simulation():
    """The exact one-sided 95% lower bound of p10 - p01 covers it in at least ~95% of experiments."""
    rng = np.random.default_rng(3)
    p10, p01, n = 0.15, 0.08, 150
    cover = []
    for _ in range(400):
        u = rng.random(n)
        a, b = (u < p10).astype(float), ((u >= p10) & (u < p10 + p01)).astype(float)
        cover.append(stats.paired_difference(a, b).low <= p10 - p01)
    assert np.mean(cover) >= 0.93  # exact but conservative (Bonferroni): at least 95% up to 400-draw noise


def test_sign_flip_pvalue_matches_scipy_permutation_test():
    rng = np.random.default_rng(2)
    for n in (5, 7, 9):
        d = rng.integers(-2, 5, n).astype(float)
        for alt in ("greater", "less", "two-sided"):
            c = stats.paired_difference(d, np.zeros(n), alternative=alt, binary=False)
            ref = st.permutation_test((d,), np.mean, permutation_type="samples", alternative=alt,
                                      n_resamples=np.inf, vectorized=True)
            assert c.exact == "sign-flip" and c.pvalue == pytest.approx(ref.pvalue)


def test_sign_flip_on_four_of_five_counts_does_not_pass():
    """tale-of-tails/gcd unlearn: [1, 1, 1, 1, 0] has an exact sign-flip p of 1/16 (t says 0.008)."""
    c = stats.paired_difference([1, 1, 1, 1, 0], [0, 0, 0, 0, 0], binary=False)
    assert c.pvalue == pytest.approx(0.0625) and c.low == 0.0
    assert stats.beats(c, resolution=0.5).status != "PASS"
    assert stats.beats(stats.paired_difference([1, 1, 1, 1, 0], [0, 0, 0, 0, 0]), resolution=0.5).status != "PASS"
    three = stats.beats(stats.paired_difference([2.0, 1.5, 3.1], [0, 0, 0]), resolution=0.5)
    assert three.status == "INCONCLUSIVE" and "needs >= 5 replicates" in three.needs  # 1/8 > 0.05 always


def test_sign_flip_interval_inverts_the_test():
    """PASS by the interval iff the exact p < alpha, one-sided, two-sided and in the TOST."""
    rng = np.random.default_rng(4)
    for _ in range(60):
        n = int(rng.integers(5, 11))
        d = np.round(rng.normal(0.4, 1, n), 2)
        one = stats.paired_difference(d, np.zeros(n))
        assert (one.low > 0) == (one.pvalue < 0.05)
        two = stats.paired_difference(d, np.zeros(n), alternative="two-sided")
        assert (two.low > 0 or two.high < 0) == (two.pvalue < 0.05)
        eq = stats.equivalence(one, 0.8)
        assert (-0.8 < eq.low and eq.high < 0.8) == (eq.pvalue < 0.05)


def test_sign_flip_interval_covers_by_simulation():
    """With 8 symmetric differences the one-sided 95% bound covers the mean in 1 - 12/256 = 95.3%."""
    rng = np.random.default_rng(8)
    cover = [stats.paired_difference(rng.normal(0.3, 1, 8), np.zeros(8)).low <= 0.3 for _ in range(400)]
    assert 0.92 <= np.mean(cover) <= 0.985


def test_declared_rule_depends_on_the_design_not_the_outcome():
    rng = np.random.default_rng(0)
    assert stats.paired_difference(rng.normal(size=10), rng.normal(size=10)).exact == "sign-flip"
    assert stats.paired_difference(rng.normal(size=14), rng.normal(size=14)).exact == ""  # paired t
    assert stats.paired_difference(rng.integers(0, 9, 14), rng.integers(0, 9, 14)).exact == "sign-flip"
    assert stats.paired_difference(rng.integers(0, 9, 30), rng.integers(0, 9, 30)).df == 29
    assert stats.paired_difference(rng.integers(0, 2, 30), rng.integers(0, 2, 30)).exact == "binary"
    assert stats.paired_difference([1, 0, 1], [0, 0, 1], binary=False).exact == "sign-flip"
    assert stats.paired_difference(rng.normal(size=6), rng.normal(size=6), method="t").exact == ""
    with pytest.raises(ValueError, match="binary"):
        stats.paired_difference([2, 0, 1], [0, 0, 1], binary=True)
    with pytest.raises(ValueError, match="exact"):
        stats.paired_difference(rng.normal(size=25), np.zeros(25), method="exact")


def test_degrees_of_freedom_are_explicit():
    assert stats.from_estimate(1.0, 0.5).df == math.inf
    assert stats.from_estimate(1.0, 0.5, df=4).df == 4
    # a method name with a "t" in it no longer makes the TOST Student-t: df decides
    named = stats.Comparison(0.0, 0.1, -math.inf, math.inf, 1.0, 5, "two-sided", 0.95, "paired bootstrap",
                             df=math.inf)
    eq = stats.equivalence(named, margin=1.0, alpha=0.05)
    assert eq.high == pytest.approx(0.1 * st.norm.ppf(0.95)) and eq.df == math.inf
    t4 = stats.equivalence(stats.from_estimate(0.0, 0.1, df=4), margin=1.0)
    assert t4.high == pytest.approx(0.1 * st.t.ppf(0.95, 4))
    w = stats.difference([5.0, 6, 7, 8, 9], [1.0, 2, 2, 3])
    ref = st.ttest_ind([5.0, 6, 7, 8, 9], [1.0, 2, 2, 3], equal_var=False)
    assert w.df == pytest.approx(ref.df)
    assert stats.pooled_comparison(0.1, 0.05, 5).df == 4  # SE across 5 seeds: t with 4 df
    assert stats.pooled_comparison(0.1, 0.05, 5, 100).df == 495 and stats.pooled_comparison(0.1, 0.05, 5, 100).n == 500
    with pytest.raises(ValueError, match="seeds"):
        stats.pooled_comparison(0.1, 0.05, 0)


def test_pool_replicates():
    f = pd.DataFrame({"g": [0, 0, 1], "v": [1.0, 3.0, 2.0], "s": [0.3, 0.4, 0.2]})
    out = stats.pool_replicates(f, ["g"], "v", "s")
    assert out["mean"].tolist() == pytest.approx([2.0, 2.0]) and out["k"].tolist() == [2, 1]
    assert out["se"].tolist() == pytest.approx([0.25, 0.2])  # sqrt(0.09 + 0.16) / 2
    with pytest.raises(ValueError, match="nope"):
        stats.pool_replicates(f, ["g"], "nope", "s")


def test_needs_advice_reads_the_distance_to_the_margin():
    # at_most: 0.538 against a 0.5 ceiling (ood-auroc-falls): more data can only FAIL it
    over = stats.at_most(stats.from_estimate(0.538, 0.06, alternative="two-sided", null=0.5), margin=0.5,
                         resolution=0.1)
    assert over.status == "INCONCLUSIVE" and over.needs.startswith("more data would FAIL this")
    assert stats.at_most(stats.from_estimate(0.7, 0.06, alternative="two-sided"), margin=0.5,
                         resolution=0.1).status == "FAIL"  # the interval lies above the ceiling
    under = stats.at_most(stats.from_estimate(0.3, 0.2, alternative="two-sided"), margin=0.5, resolution=0.1)
    assert under.status == "INCONCLUSIVE" and "to PASS" in under.needs and "FAIL" not in under.needs
    # beats: an estimate on the wrong side of 0 cannot PASS with more data
    wrong = stats.beats(stats.from_estimate(-0.1, 0.2), resolution=0.1)
    assert wrong.status == "INCONCLUSIVE" and wrong.needs.startswith("more data would not PASS this")
    # beats sizes the data to decide at the estimate, not only at the resolution (lm-scaling: ~1.5x, not 10x)
    near = stats.beats(stats.from_estimate(0.3, 0.2), resolution=0.05)
    assert "needs ~2x" in near.needs  # (0.329 / 0.3)^2 = 1.2 -> at least 2x
    # matches: |estimate| beyond the margin with a wide interval
    out = stats.matches(stats.from_estimate(0.3, 0.2, alternative="two-sided"), margin=0.2)
    assert out.status == "INCONCLUSIVE" and out.needs.startswith("more data would FAIL this")


def test_auroc_against_its_declared_null():
    c = stats.from_estimate(0.538, 0.05, alternative="two-sided", null=0.5, n=400)
    assert c.pvalue == pytest.approx(2 * st.norm.sf(0.038 / 0.05)) and c.n == 400 and "n=400" in c.text()
