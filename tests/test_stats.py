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


def _cmp(diffs):
    return stats.paired_difference(np.asarray(diffs, float), np.zeros(len(diffs)))


def test_beats_rule_pass_fail_inconclusive_and_ties_never_pass():
    assert stats.beats(_cmp([2.1, 1.9, 2.0, 2.2, 1.8]), resolution=1).status == "PASS"
    assert stats.beats(_cmp([0.01, -0.01, 0.0, 0.02, -0.02]), resolution=1).status == "FAIL"
    noisy = stats.beats(_cmp([5.0, -4, 6, -5]), resolution=1)
    assert noisy.status == "INCONCLUSIVE" and "needs" in noisy.needs
    tie = stats.beats(_cmp([0.0, 0.0, 0.0]), resolution=1)
    assert tie.status == "FAIL"  # an exact tie never passes "beats"


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
    two = dict(alternative="two-sided")
    assert stats.at_most(stats.paired_difference([0.0, 0.1, -0.1, 0.05], [0, 0, 0, 0], **two),
                         resolution=0.5, margin=0.3).status == "PASS"
    assert stats.at_most(stats.paired_difference([2.0, 2.1, 1.9, 2.0], [0, 0, 0, 0], **two),
                         resolution=0.5).status == "FAIL"
    assert stats.at_most(stats.paired_difference([3.0, -3, 2, -2.5], [0, 0, 0, 0], **two),
                         resolution=0.5).status == "INCONCLUSIVE"


def test_all_of_is_a_conjunction():
    p, f, i = (stats.Decision("PASS", "ok"), stats.Decision("FAIL", "bad"),
               stats.Decision("INCONCLUSIVE", "wide", "needs ~4x the data"))
    assert stats.all_of([("a", p), ("b", p)]).status == "PASS"
    assert stats.all_of([("a", p), ("b", i), ("c", f)]).status == "FAIL"
    mixed = stats.all_of([("a", p), ("b", i)])
    assert mixed.status == "INCONCLUSIVE" and mixed.needs == "needs ~4x the data"
    with pytest.raises(ValueError):
        stats.all_of([])


def test_more_data_without_a_count():
    c = stats.from_estimate(0.1, 0.2, alternative="greater")
    d = stats.beats(c, resolution=0.05)
    assert d.status == "INCONCLUSIVE" and "about" not in d.needs
