"""Confidence bounds and the closed-form certificate of a two-class smoothed classifier.

Cohen, Rosenfeld & Kolter (2019), "Certified Adversarial Robustness via Randomized Smoothing",
Theorem 1 and Algorithm CERTIFY. Notation: n_a is the count of the selected class among n noisy
samples, p_a_lower a one-sided (1 - alpha) lower confidence bound on p_a = P(f(x + delta) = c_a),
delta ~ N(0, sigma^2 I); the certified L2 radius is sigma * Phi^{-1}(p_a_lower).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from scipy import stats

from collapselab._validation import check_int, check_real


def clopper_pearson_lower(n_a: int, n: int, alpha: float) -> float:
    """One-sided (1 - alpha) Clopper-Pearson lower bound on a binomial proportion.

    Formula: the largest p with P(Bin(n, p) >= n_a) <= alpha, which is the alpha-quantile of
    Beta(n_a, n - n_a + 1); 0 when n_a = 0.  [V-code: equals Cohen's
    ``proportion_confint(n_a, n, alpha=2 * alpha, method="beta")[0]``, a two-sided interval at level
    2 * alpha whose lower end is a one-sided bound at level alpha.]  Checked against the exact binomial
    tail inversion :func:`clopper_pearson_lower_exact`.
    """
    n = check_int("n", n, low=1)
    n_a = check_int("n_a", n_a, low=0, high=n)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    if n_a == 0:
        return 0.0
    return float(stats.beta.ppf(alpha, n_a, n - n_a + 1))


def _binom_upper_tail(k: int, n: int, p: float) -> float:
    """P(Bin(n, p) >= k) by summing the pmf exactly in log space (no SciPy)."""
    if p <= 0.0:
        return 1.0 if k <= 0 else 0.0
    if p >= 1.0:
        return 1.0
    log_p, log_q = math.log(p), math.log1p(-p)
    lg_n = math.lgamma(n + 1)
    terms = [lg_n - math.lgamma(j + 1) - math.lgamma(n - j + 1) + j * log_p + (n - j) * log_q
             for j in range(k, n + 1)]
    top = max(terms)
    return math.exp(top) * math.fsum(math.exp(t - top) for t in terms)


def clopper_pearson_lower_exact(n_a: int, n: int, alpha: float, *, tol: float = 1e-12) -> float:
    """Twin of :func:`clopper_pearson_lower` by bisection on the exact binomial tail.

    Solves P(Bin(n, p) >= n_a) = alpha for p (the tail is increasing in p). O(n) per evaluation:
    meant for tests and small n.
    """
    n = check_int("n", n, low=1)
    n_a = check_int("n_a", n_a, low=0, high=n)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    if n_a == 0:
        return 0.0
    lo, hi = 0.0, 1.0
    while hi - lo > tol:
        mid = 0.5 * (lo + hi)
        if _binom_upper_tail(n_a, n, mid) > alpha:
            hi = mid
        else:
            lo = mid
    return 0.5 * (lo + hi)


def radius_from_bound(p_a_lower: float, sigma: float) -> float:
    """Certified L2 radius sigma * Phi^{-1}(p_a_lower), or 0.0 (abstain) when p_a_lower <= 1/2.

    Cohen et al. Theorem 1 with p_b_upper = 1 - p_a_lower.  [V-code]
    Limits: p_a_lower -> 1/2 gives 0; p_a_lower -> 1 gives infinity.
    """
    if p_a_lower <= 0.5:
        return 0.0
    return float(sigma * stats.norm.ppf(p_a_lower))


class ExpectedCertificate(NamedTuple):
    mean_radius: float  # E[R * 1{certified class == A}]
    p_certified: float  # P(certified class == A, no abstention)


def expected_certified_radius(p_a: float, sigma: float, n0: int, n: int, alpha: float) -> ExpectedCertificate:
    """Exact mean certified radius of CERTIFY on a two-class base classifier with P(f = A) = p_a.

    Class A is class 0, so ties in the selection step (argmax of the n0 counts) go to A.
    Selection: P_sel = P(Bin(n0, p_a) >= ceil(n0 / 2)).  Estimation, independent of selection:
    K ~ Bin(n, p_a), R(K) = sigma * Phi^{-1}(LB(K)) if LB(K) > 1/2 else 0, LB the one-sided
    Clopper-Pearson bound at level alpha.  A selected B is wrong and counts 0.

        E[R 1{A}] = P_sel * sum_k Bin(k; n, p_a) R(k),   P(certified A) = P_sel * P(LB(K) > 1/2).

    [D: derived here from Cohen et al.'s CERTIFY; checked by :func:`expected_certified_radius_mc`.]
    For a half-space classifier at distance a from x, p_a = Phi(a / sigma) and the radius tends to a
    from below as n grows (Cohen et al. Sec. 3, the linear case is tight).
    """
    p_a = check_real("p_a", p_a, low=0.0, high=1.0)
    sigma = check_real("sigma", sigma, low=0.0, low_open=True)
    n0 = check_int("n0", n0, low=1)
    n = check_int("n", n, low=1)
    alpha = check_real("alpha", alpha, low=0.0, high=1.0, low_open=True, high_open=True)
    p_sel = float(stats.binom.sf(math.ceil(n0 / 2) - 1, n0, p_a))
    k = np.arange(n + 1)
    lower = np.where(k > 0, stats.beta.ppf(alpha, np.maximum(k, 1), n - k + 1), 0.0)
    ok = lower > 0.5
    radius = np.where(ok, sigma * stats.norm.ppf(np.where(ok, lower, 0.75)), 0.0)
    pmf = stats.binom.pmf(k, n, p_a)
    return ExpectedCertificate(p_sel * float(np.sum(pmf * radius)), p_sel * float(np.sum(pmf[ok])))


def binomial_two_sided_pvalue(k: int, n: int) -> float:
    """Two-sided exact binomial test of H0: p = 1/2 (``scipy.stats.binomtest``, the successor of the
    removed ``binom_test``); used by PREDICT to decide abstention."""
    n = check_int("n", n, low=0)
    k = check_int("k", k, low=0, high=n)
    if n == 0:
        return 1.0
    return float(stats.binomtest(k, n, 0.5).pvalue)
