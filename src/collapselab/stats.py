"""The statistics every claim uses, written once: estimates with standard errors, paired and unpaired
differences with confidence intervals, proportions, slopes, rank correlation, equivalence, Holm.

Built on :mod:`scipy.stats` (t tests, ``bootstrap``, ``binomtest``, ``beta``, ``spearmanr``). Every comparison
is a :class:`Comparison` (estimate, standard error, confidence interval, p-value of the declared one-sided or
two-sided test, and its degrees of freedom ``df``). Paired data follow a declared rule
(:func:`paired_difference`): exact bounds from the discordant counts for 0/1 outcomes, the exact sign-flip
test for n <= 10 pairs or small integer-valued samples, the paired t otherwise; the interval always inverts
the test, and zero variance never yields a point interval there. The three *decision rules* turn a
comparison into a :class:`Decision`, whose advice reads the distance between the estimate and the margin:

* :func:`beats` -- "A beats B": PASS only when the one-sided test rejects ``effect <= 0`` (so a tie never
  passes); FAIL when it does not and the interval is narrow enough to have seen an effect of the declared
  ``resolution``, or when B significantly beats A; otherwise INCONCLUSIVE, saying how much more data would
  make it judgeable.
* :func:`matches` -- "A matches B": two one-sided tests (TOST) against a declared margin.
* :func:`at_most` -- "A does not beat B": PASS only when the interval rules out an advantage above the
  margin; never by default when the data are too noisy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Literal

import numpy as np
import pandas as pd
from scipy import stats as _st

Alternative = Literal["greater", "less", "two-sided"]
_ALTERNATIVES = ("greater", "less", "two-sided")


def _check_level(level: float) -> None:
    if not 0.0 < level < 1.0:
        raise ValueError(f"`level` must be in (0, 1), got {level!r}")


def _check_alternative(alternative: str) -> None:
    if alternative not in _ALTERNATIVES:
        raise ValueError(f"`alternative` must be one of {_ALTERNATIVES}, got {alternative!r}")


def _finite(values: Sequence[float] | np.ndarray, name: str) -> np.ndarray:
    x = np.asarray(values, dtype=float).ravel()
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` holds non-finite values")
    return x


# ============================================================================ estimates


@dataclass(frozen=True)
class MCEstimate:
    """A Monte Carlo (or replicate) estimate: ``mean`` with standard error ``se`` over ``n`` replicates.

    The one estimate type of the project; ``ci`` uses Student's t with ``n - 1`` degrees of freedom.
    """

    mean: float
    se: float
    n: int

    @property
    def rel_se(self) -> float:
        """se / |mean| (inf when the mean is 0)."""
        return self.se / abs(self.mean) if self.mean else math.inf

    def ci(self, level: float = 0.95) -> tuple[float, float]:
        _check_level(level)
        if self.n < 2 or not math.isfinite(self.se):
            return (-math.inf, math.inf)
        q = _st.t.ppf(0.5 + level / 2, self.n - 1)
        return (self.mean - q * self.se, self.mean + q * self.se)

    def __str__(self) -> str:
        return f"{self.mean:.4g} +- {self.se:.2g} (n={self.n})"


def mean_se(values: Sequence[float] | np.ndarray) -> MCEstimate:
    """Mean and standard error s / sqrt(n) (sample standard deviation, ddof = 1) of finite values."""
    x = _finite(values, "values")
    if x.size == 0:
        raise ValueError("`values` is empty")
    se = float(x.std(ddof=1) / math.sqrt(x.size)) if x.size > 1 else math.inf
    return MCEstimate(float(x.mean()), se, int(x.size))


def grouped_mean_se(frame: pd.DataFrame, by: str | list[str], column: str) -> pd.DataFrame:
    """Per group of ``by``: columns ``mean``, ``se`` and ``n`` (the count; named ``count`` when a group key
    is itself called ``n``) of ``column``; se = inf for a group of one."""
    keys = [by] if isinstance(by, str) else list(by)
    for k in [*keys, column]:
        if k not in frame.columns:
            raise ValueError(f"column {k!r} not in the frame (columns: {list(frame.columns)})")
    clash = {"mean", "se", "_sd"} & set(keys)
    if clash:
        raise ValueError(f"group keys may not be called {sorted(clash)}")
    count = "count" if "n" in keys else "n"
    g = frame.groupby(keys, sort=True, dropna=False)[column]
    out = g.agg(mean="mean", _sd="std", _count="size").reset_index().rename(columns={"_count": count})
    out["se"] = np.where(out[count] > 1, out["_sd"] / np.sqrt(out[count]), np.inf)
    return out.drop(columns="_sd")


def pool_replicates(frame: pd.DataFrame, by: list[str], value: str, se: str) -> pd.DataFrame:
    """Per group of ``by``: the mean over independent replicates of their Monte Carlo means ``value``
    (``mean``), the number of replicates ``k`` and the pooled standard error of that mean,
    sqrt(sum_i se_i^2) / k (``se``), from each replicate's own standard error ``se``. Compare it with
    :func:`pooled_comparison` (Student's t on the pooled degrees of freedom)."""
    keys = list(by)
    for k in [*keys, value, se]:
        if k not in frame.columns:
            raise ValueError(f"column {k!r} not in the frame (columns: {list(frame.columns)})")
    g = frame.groupby(keys, sort=True, dropna=False)
    out = g.agg(mean=(value, "mean"), k=(value, "size"),
                se2=(se, lambda s: float(np.sum(np.asarray(s) ** 2)))).reset_index()
    out["se"] = np.sqrt(out["se2"]) / out["k"]
    return out.drop(columns=["se2"])


# ============================================================================ comparisons

SIGN_FLIP_MAX_N = 10
"""The declared small-sample rule of :func:`paired_difference`: up to this many pairs, any differences get the
exact sign-flip test (the t test's normality cannot be checked on so few)."""
SIGN_FLIP_MAX_N_INTEGER = 16
"""Integer-valued differences (counts, steps) get the exact sign-flip test up to this many pairs
(2^16 sign patterns enumerated)."""
_EXACT_MAX_N = 20  # the largest n whose 2^n sign patterns are enumerated on request (method="exact")


@dataclass(frozen=True)
class Comparison:
    """An effect (e.g. a difference A - B) with its standard error, confidence interval and test.

    ``low``/``high`` is the ``level`` interval matching ``alternative`` (one-sided: one bound infinite);
    ``pvalue`` tests ``effect <= null`` (greater), ``effect >= null`` (less) or ``effect == null``
    (two-sided: twice the smaller one-sided p-value, capped at 1).

    ``df`` is the degrees of freedom of the Student-t pivot (estimate - effect) / se behind the interval
    (``inf``: normal); every constructor states it. ``exact`` names an exact method whose bounds and
    p-values are recomputed from ``sample`` (the paired differences) at any level or null: ``"sign-flip"``
    or ``"binary"`` (see :func:`paired_difference`); ``df`` is then ``nan``.
    """

    estimate: float
    se: float
    low: float
    high: float
    pvalue: float
    n: int
    alternative: str = "greater"
    level: float = 0.95
    method: str = "t"
    null: float = 0.0
    df: float = field(kw_only=True)
    exact: Literal["", "sign-flip", "binary"] = field(default="", kw_only=True)
    sample: tuple[float, ...] = field(default=(), kw_only=True, repr=False, compare=False)

    @property
    def halfwidth(self) -> float:
        """Distance from the estimate to the informative bound(s) of the interval."""
        if self.alternative == "greater":
            return self.estimate - self.low
        if self.alternative == "less":
            return self.high - self.estimate
        return (self.high - self.low) / 2

    def text(self, unit: str = "", digits: int = 3) -> str:
        f = f"{{:.{digits}g}}"
        lo, hi = (f.format(v) for v in (self.low, self.high))
        return (f"{f.format(self.estimate)}{unit} [{lo}, {hi}] ({self.level:.0%} CI, {self.method}, "
                f"n={self.n}), p={self.pvalue:.3g}")


# ---------------------------------------------------------------------------- one-sided bounds and p-values
# ``conf`` is the one-sided confidence of a bound: effect >= bound ("low") or effect <= bound ("high") holds
# with probability >= conf. Every interval and every test below is built from these, so a rule that reads
# the p-value and one that reads the interval agree.


def _pivot_bound(est: float, se: float, df: float, conf: float, side: str) -> float:
    if not math.isfinite(se) or se < 0 or not df > 0:
        return -math.inf if side == "low" else math.inf
    if se == 0:
        return est  # an SE declared to be 0 (a deterministic quantity): the interval is the point
    q = float((_st.t(df) if math.isfinite(df) else _st.norm()).ppf(conf))
    return est - q * se if side == "low" else est + q * se


def _pivot_p(est: float, se: float, df: float, null: float, alternative: str) -> float:
    if not math.isfinite(se) or se < 0 or not df > 0:
        return 1.0
    if se == 0 and math.isfinite(est):
        return 0.0 if ((alternative == "greater" and est > null) or (alternative == "less" and est < null)
                       or (alternative == "two-sided" and est != null)) else 1.0
    tstat = (est - null) / se
    dist = _st.t(df) if math.isfinite(df) else _st.norm()
    if alternative == "greater":
        return float(dist.sf(tstat))
    if alternative == "less":
        return float(dist.cdf(tstat))
    return float(2 * dist.sf(abs(tstat)))


def _subset_means(d: np.ndarray) -> np.ndarray:
    """The 2^n - 1 means of the nonempty subsets of ``d``, sorted (Hartigan's subset means)."""
    masks = (np.arange(1, 2**d.size)[:, None] >> np.arange(d.size)) & 1
    return np.sort(masks @ d / masks.sum(axis=1))


def _flip_bound(d: np.ndarray, conf: float, side: str) -> float:
    """Inversion of the exact sign-flip test of the mean: flipping the signs of the subset F of d - theta
    lowers the sum iff mean_F(d) > theta, so p(theta) = (1 + #{F: mean_F <= theta}) / 2^n for "effect <=
    theta"; the set of theta not rejected at error e = 1 - conf is [m_(k), inf) with k = floor(e 2^n) and
    m_(1) <= m_(2) <= ... the subset means (unbounded when k = 0)."""
    k = math.floor((1 - conf) * 2**d.size + 1e-9)
    if k < 1:
        return -math.inf if side == "low" else math.inf
    m = _subset_means(d)
    return float(m[k - 1] if side == "low" else m[-k])


def _flip_p(d: np.ndarray, null: float, alternative: str) -> float:
    """The exact sign-flip p-value of ``effect <= null`` (greater) or ``>= null`` (less): all 2^n sign
    patterns of d - null, the identity included (as ``scipy.stats.permutation_test`` counts them)."""
    if alternative == "two-sided":
        return min(1.0, 2 * min(_flip_p(d, null, "greater"), _flip_p(d, null, "less")))
    m = _subset_means(d)
    tol = 1e-12 * max(1.0, float(np.abs(d).max()), abs(null))
    hits = np.sum(m <= null + tol) if alternative == "greater" else np.sum(m >= null - tol)
    return float((1 + hits) / 2**d.size)


def _cp(k: int, n: int, err: float, side: str) -> float:
    """One-sided Clopper-Pearson bound (error ``err``) of a binomial proportion k / n; [0, 1] when n = 0."""
    if side == "low":
        return 0.0 if k == 0 else float(_st.beta.ppf(err, k, n - k + 1))
    return 1.0 if k == n else float(_st.beta.ppf(1 - err, k + 1, n - k))


def _binary_bound(d: np.ndarray, conf: float, side: str) -> float:
    """Exact bound of p10 - p01 for paired 0/1 outcomes (d = a - b in {-1, 0, 1}), from b = #(d = 1) and
    c = #(d = -1). Write p10 - p01 = psi (2 pi - 1) with psi = p10 + p01 (the discordance rate; m = b + c
    of n is Binomial(n, psi)) and pi = p10 / psi (given m, b is Binomial(m, pi): McNemar's conditional
    model). Clopper-Pearson bounds for psi and pi, each at error e / 2 (Bonferroni), hold together with
    probability >= 1 - e, and psi (2 pi - 1) is bounded over them: exact (conservative) coverage. No
    discordant pair gives pi in [0, 1], so the bound is +-psi_upper, never a point."""
    b, c, err = int(np.sum(d > 0)), int(np.sum(d < 0)), (1 - conf) / 2
    m = b + c
    if side == "low":
        g = 2 * _cp(b, m, err, "low") - 1
        return g * _cp(m, d.size, err, "low" if g >= 0 else "high")
    h = 2 * _cp(b, m, err, "high") - 1
    return h * _cp(m, d.size, err, "high" if h >= 0 else "low")


def _binary_p(d: np.ndarray, null: float, alternative: str) -> float:
    """The p-value that inverts :func:`_binary_bound`: the smallest error e whose bound excludes ``null``
    (bisection on log e; the bound is monotone in e). At null 0 it is twice McNemar's exact one-sided p."""
    if alternative == "two-sided":
        return min(1.0, 2 * min(_binary_p(d, null, "greater"), _binary_p(d, null, "less")))
    side = "low" if alternative == "greater" else "high"

    def excluded(e: float) -> bool:
        bound = _binary_bound(d, 1 - e, side)
        return bound > null if side == "low" else bound < null

    if not excluded(1.0 - 1e-12):
        return 1.0
    lo, hi = -16.0, 0.0  # log10 of the error
    if excluded(10**lo):
        return 10**lo
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (lo, mid) if excluded(10**mid) else (mid, hi)
    return float(10**hi)


def _bound(cmp: Comparison, conf: float, side: str) -> float:
    if cmp.exact == "sign-flip":
        return _flip_bound(np.asarray(cmp.sample), conf, side)
    if cmp.exact == "binary":
        return _binary_bound(np.asarray(cmp.sample), conf, side)
    return _pivot_bound(cmp.estimate, cmp.se, cmp.df, conf, side)


def _pvalue(cmp: Comparison, null: float, alternative: str) -> float:
    if cmp.exact == "sign-flip":
        return _flip_p(np.asarray(cmp.sample), null, alternative)
    if cmp.exact == "binary":
        return _binary_p(np.asarray(cmp.sample), null, alternative)
    return _pivot_p(cmp.estimate, cmp.se, cmp.df, null, alternative)


def _build(est: float, se: float, n: int, alternative: str, level: float, method: str, *, df: float,
           null: float = 0.0, exact: str = "", sample: tuple[float, ...] = ()) -> Comparison:
    """The comparison with the ``level`` interval for ``alternative`` and the p-value at ``null``."""
    _check_alternative(alternative)
    _check_level(level)
    c = Comparison(float(est), float(se), -math.inf, math.inf, 1.0, n, alternative, level, method, null, df=df,
                   exact=exact, sample=sample)
    conf = level if alternative != "two-sided" else 0.5 + level / 2
    lo = _bound(c, conf, "low") if alternative != "less" else -math.inf
    hi = _bound(c, conf, "high") if alternative != "greater" else math.inf
    return replace(c, low=float(lo), high=float(hi), pvalue=_pvalue(c, null, alternative))


def from_estimate(estimate: float, se: float, df: float | None = None, *, n: int = 0,
                  alternative: Alternative = "greater", level: float = 0.95, null: float = 0.0) -> Comparison:
    """A Student-t (``df`` given) or normal (``df`` None: the SE is known, e.g. from many Monte Carlo
    draws) test and interval from an estimate and its standard error. An SE from k seeds needs
    ``df = k - 1`` (or :func:`pooled_comparison`). se = 0 is a deterministic quantity: a point interval."""
    return _build(estimate, se, n, alternative, level, "t" if df is not None else "normal",
                  df=math.inf if df is None else float(df), null=null)


def pooled_comparison(estimate: float, se: float, seeds: int, reps: int = 1, *,
                      alternative: Alternative = "greater", level: float = 0.95, null: float = 0.0) -> Comparison:
    """A comparison from an estimate whose standard error comes from ``seeds`` independent replicates, each
    the mean of ``reps`` Monte Carlo draws (as :func:`pool_replicates` pools them): Student's t with
    seeds * (reps - 1) degrees of freedom (the pooled within-replicate variance) when reps > 1, else
    seeds - 1 (the SE is the spread across seeds); ``n`` = seeds * reps, the count the needs advice scales."""
    if seeds < 1 or reps < 1:
        raise ValueError(f"`seeds` and `reps` must be >= 1, got {seeds} and {reps}")
    df = seeds * (reps - 1) if reps > 1 else seeds - 1
    return _build(estimate, se, int(seeds * reps), alternative, level, "t", df=float(df), null=null)


def _is_binary(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.all((a == 0) | (a == 1)) and np.all((b == 0) | (b == 1)))


def _exact_kind(a: np.ndarray, b: np.ndarray, d: np.ndarray, binary: bool | None) -> str:
    """The declared rule of :func:`paired_difference` (``method="auto"``): by the data kind and n only."""
    if binary is None:
        binary = _is_binary(a, b)
    if binary:
        return "binary"
    integer = bool(np.all(d == np.round(d)))
    return "sign-flip" if d.size <= SIGN_FLIP_MAX_N or (integer and d.size <= SIGN_FLIP_MAX_N_INTEGER) else ""


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                      alternative: Alternative = "greater", level: float = 0.95,
                      method: Literal["auto", "t", "exact", "bootstrap"] = "auto", binary: bool | None = None,
                      rng: np.random.Generator | int | None = None, n_resamples: int = 4999) -> Comparison:
    """Mean of the paired differences d_i = a_i - b_i with a test and interval chosen by a declared rule
    (``method="auto"``), from the design and the kind of data, never from the outcome:

    1. binary outcomes (every a_i, b_i in {0, 1}, or ``binary=True``): the exact interval of p10 - p01 from
       the discordant counts (Clopper-Pearson on the discordance rate and, given it, McNemar's binomial of
       b among b + c; Bonferroni; see :func:`_binary_bound`); the p-value inverts it (at 0: twice McNemar's
       exact one-sided p). No discordant pair gives +-(upper bound of the discordance rate), never a point.
    2. n <= :data:`SIGN_FLIP_MAX_N` pairs, or integer-valued differences and n <= :data:`SIGN_FLIP_MAX_N_INTEGER`:
       the exact sign-flip permutation test of the mean (all 2^n sign patterns, as
       ``scipy.stats.permutation_test`` with ``permutation_type="samples"``), and the interval that inverts
       it (Hartigan's subset means), so PASS by the interval implies the exact p < alpha. It needs n >= 5
       to reject at one-sided 0.05 (n >= 6 two-sided): fewer pairs give an unbounded interval.
    3. otherwise the paired t test and interval (n - 1 degrees of freedom).

    ``method="exact"`` forces rule 1 or 2 (by the data kind; n <= 20), ``"t"`` the t test and
    ``"bootstrap"`` a percentile bootstrap interval over pairs (p-value from the t test). ``binary=False``
    turns rule 1 off; ``binary=True`` requires 0/1 data.
    """
    a, b = _finite(a, "a"), _finite(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must be paired (same length), got {a.size} and {b.size}")
    d = a - b
    if d.size < 2:
        raise ValueError("a paired difference needs at least 2 pairs")
    if binary and not _is_binary(a, b):
        raise ValueError("`binary=True` needs every value of `a` and `b` in {0, 1}")
    if method not in ("auto", "t", "exact", "bootstrap"):
        raise ValueError(f"`method` must be 'auto', 't', 'exact' or 'bootstrap', got {method!r}")
    est = mean_se(d)
    exact = _exact_kind(a, b, d, binary) if method in ("auto", "exact") else ""
    if method == "exact" and not exact:
        if d.size > _EXACT_MAX_N:
            raise ValueError(f"`method='exact'` enumerates 2^n sign patterns: n <= {_EXACT_MAX_N}, got {d.size}")
        exact = "sign-flip"
    if exact:
        label = "exact McNemar/Clopper-Pearson" if exact == "binary" else "exact sign-flip"
        return _build(est.mean, est.se, d.size, alternative, level, label, df=math.nan, exact=exact,
                      sample=tuple(d.tolist()))
    cmp = _build(est.mean, est.se, d.size, alternative, level, "paired t", df=d.size - 1)
    if method != "bootstrap":
        return cmp
    if np.all(d == d[0]):
        return replace(cmp, se=0.0, low=d[0], high=d[0], method="bootstrap")
    res = _st.bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples, method="percentile",
                        alternative=alternative, random_state=rng)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return replace(cmp, se=float(res.standard_error), low=lo, high=hi, method="paired bootstrap")


def difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
               alternative: Alternative = "greater", level: float = 0.95) -> Comparison:
    """mean(a) - mean(b) for independent samples: Welch's t test and interval (Welch-Satterthwaite df)."""
    a, b = _finite(a, "a"), _finite(b, "b")
    if a.size < 2 or b.size < 2:
        raise ValueError("an unpaired difference needs at least 2 values on each side")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else math.inf
    return _build(float(a.mean() - b.mean()), se, a.size + b.size, alternative, level, "Welch t", df=df)


def proportion_ci(k: int, n: int, *, level: float = 0.95,
                  method: Literal["wilson", "exact"] = "wilson") -> tuple[float, float]:
    """Two-sided interval for a binomial proportion k / n: Wilson score or Clopper-Pearson ("exact")."""
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"need 0 <= k <= n and n >= 1, got k={k}, n={n}")
    _check_level(level)
    ci = _st.binomtest(int(k), int(n)).proportion_ci(confidence_level=level,
                                                     method="wilson" if method == "wilson" else "exact")
    return float(ci.low), float(ci.high)


def two_proportions(k1: int, n1: int, k2: int, n2: int, *, alternative: Alternative = "greater",
                    level: float = 0.95) -> Comparison:
    """p1 - p2 for two independent binomial samples: Newcombe's hybrid score interval (from Wilson
    intervals) and the pooled two-proportion z test."""
    _check_alternative(alternative)
    two_level = level if alternative == "two-sided" else 2 * level - 1
    l1, u1 = proportion_ci(k1, n1, level=two_level)
    l2, u2 = proportion_ci(k2, n2, level=two_level)
    p1, p2 = k1 / n1, k2 / n2
    d = p1 - p2
    lo = d - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    hi = d + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    pool = (k1 + k2) / (n1 + n2)
    se0 = math.sqrt(pool * (1 - pool) * (1 / n1 + 1 / n2))
    if se0 == 0:
        p = 1.0 if d == 0 else 0.0
    else:
        z = d / se0
        p = {"greater": _st.norm.sf(z), "less": _st.norm.cdf(z), "two-sided": 2 * _st.norm.sf(abs(z))}[alternative]
    if alternative == "greater":
        hi = math.inf
    elif alternative == "less":
        lo = -math.inf
    se = math.sqrt(p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2)
    return Comparison(d, se, lo, hi, float(p), n1 + n2, alternative, level, "Newcombe/z",
                      df=math.inf)


# ============================================================================ slopes and correlation


def loglog_slope(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray) -> MCEstimate:
    """OLS slope of log y on log x with its standard error (``n`` = number of points; df = n - 2)."""
    x, y = _finite(x, "x"), _finite(y, "y")
    if x.size != y.size or x.size < 3:
        raise ValueError(f"need >= 3 paired points, got {x.size} x and {y.size} y")
    if np.any(x <= 0) or np.any(y <= 0):
        raise ValueError("log-log slope needs positive x and y")
    res = _st.linregress(np.log(x), np.log(y))
    return MCEstimate(float(res.slope), float(res.stderr), int(x.size))


def replicate_slopes(frame: pd.DataFrame, x: str, y: str, replicate: str = "replicate",
                     log: bool = True) -> MCEstimate:
    """Slope of y on x (log-log when ``log``) fitted separately in each replicate; mean and standard error
    across replicates (``n`` = number of replicates). The honest SE of a slope when replicates are
    independent runs: it includes the run-to-run variation that a pooled fit's OLS error ignores."""
    for k in (x, y, replicate):
        if k not in frame.columns:
            raise ValueError(f"column {k!r} not in the frame")
    slopes = []
    for _, g in frame.groupby(replicate):
        xs, ys = g[x].to_numpy(float), g[y].to_numpy(float)
        if len(np.unique(xs)) < 2:
            continue
        if log:
            xs, ys = np.log(xs), np.log(ys)
        slopes.append(float(np.polyfit(xs, ys, 1)[0]))
    if not slopes:
        raise ValueError("no replicate has two distinct x values")
    return mean_se(slopes)


def spearman(x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray, *, level: float = 0.95,
             n_resamples: int = 2000, rng: np.random.Generator | int | None = None,
             alternative: Alternative = "greater") -> Comparison:
    """Spearman's rho with a percentile bootstrap interval over (x, y) pairs; p-value from ``spearmanr``."""
    x, y = _finite(x, "x"), _finite(y, "y")
    if x.size != y.size or x.size < 4:
        raise ValueError(f"need >= 4 paired points, got {x.size} and {y.size}")
    _check_alternative(alternative)
    res = _st.spearmanr(x, y, alternative=alternative)
    rho = float(res.statistic) if np.isfinite(res.statistic) else 0.0

    def stat(i: np.ndarray) -> float:
        r = _st.spearmanr(x[i], y[i]).statistic
        return float(r) if np.isfinite(r) else 0.0

    gen = np.random.default_rng(rng)
    boots = np.array([stat(gen.integers(0, x.size, x.size)) for _ in range(n_resamples)])
    if alternative == "greater":
        lo, hi = float(np.quantile(boots, 1 - level)), math.inf
    elif alternative == "less":
        lo, hi = -math.inf, float(np.quantile(boots, level))
    else:
        lo, hi = (float(v) for v in np.quantile(boots, [(1 - level) / 2, (1 + level) / 2]))
    p = float(res.pvalue) if np.isfinite(res.pvalue) else 1.0
    return Comparison(rho, float(boots.std(ddof=1)), lo, hi, p, int(x.size), alternative, level,
                      "Spearman, bootstrap", df=float(x.size - 1))  # df: the TOST on the bootstrap SE


def equivalence(effect: Comparison | Sequence[float] | np.ndarray, margin: float, *,
                alpha: float = 0.05) -> Comparison:
    """Two one-sided tests (TOST) of |effect| < margin.

    ``effect`` is a :class:`Comparison` or raw samples of the effect (e.g. paired differences, compared
    with 0 by :func:`paired_difference`'s declared rule). The bounds come from the comparison's own method:
    Student's t with its ``df`` (``inf``: normal) on its estimate and se, or its exact test recomputed from
    its sample. Returns the one-sided (1 - alpha) bounds as the (1 - 2 alpha) two-sided interval and, as
    ``pvalue``, the larger of the two one-sided p-values (at -margin and +margin): reject non-equivalence
    when it is below alpha, which is when the interval lies inside (-margin, margin).
    """
    if not margin > 0:
        raise ValueError(f"`margin` must be > 0, got {margin!r}")
    if not 0 < alpha < 0.5:
        raise ValueError(f"`alpha` must be in (0, 0.5), got {alpha!r}")
    cmp = effect if isinstance(effect, Comparison) else paired_difference(
        _finite(effect, "effect"), np.zeros(np.size(effect)), alternative="two-sided")
    lo, hi = _bound(cmp, 1 - alpha, "low"), _bound(cmp, 1 - alpha, "high")
    p = max(_pvalue(cmp, -margin, "greater"), _pvalue(cmp, margin, "less"))
    method = "TOST" if not cmp.exact else f"TOST, {cmp.method}"
    return Comparison(cmp.estimate, cmp.se, float(lo), float(hi), p, cmp.n, "two-sided", 1 - 2 * alpha, method,
                      margin, df=cmp.df, exact=cmp.exact, sample=cmp.sample)


def holm(pvalues: Sequence[float], alpha: float = 0.05) -> list[bool]:
    """Holm's step-down correction: which of the hypotheses are rejected at family-wise level alpha."""
    p = np.asarray(pvalues, dtype=float)
    order = np.argsort(p)
    reject = np.zeros(p.size, dtype=bool)
    for rank, i in enumerate(order):
        if p[i] > alpha / (p.size - rank):
            break
        reject[i] = True
    return reject.tolist()


# ============================================================================ decisions


@dataclass(frozen=True)
class Decision:
    """The outcome of a decision rule: a status, the measured figure in words and, when INCONCLUSIVE,
    what would make it judgeable."""

    status: Literal["PASS", "FAIL", "INCONCLUSIVE"]
    text: str
    needs: str = ""


def _more_data(cmp: Comparison, target: float, goal: str = "") -> str:
    """How much more data would bring the half-width down to ``target`` (half-widths scale as 1/sqrt(n))."""
    if not math.isfinite(cmp.halfwidth) and cmp.exact == "sign-flip":
        err = (1 - cmp.level) / (2 if cmp.alternative == "two-sided" else 1)
        need = math.ceil(math.log2(1 / err) - 1e-9)
        return f"needs >= {need} replicates (the exact sign-flip test cannot reach the level with {cmp.n})"
    factor = (cmp.halfwidth / target) ** 2 if target > 0 else math.inf
    if not math.isfinite(factor):
        return "needs more replicates (the interval is unbounded)"
    k = max(2, math.ceil(factor))
    return (f"needs ~{k}x the data" + (f" (about {k * cmp.n} pairs/replicates)" if cmp.n > 0 else "")
            + (f" {goal}" if goal else ""))


def beats(cmp: Comparison, *, resolution: float, alpha: float = 0.05) -> Decision:
    """"A beats B" for ``cmp`` = A - B: PASS iff the one-sided test rejects ``effect <= 0`` at ``alpha``
    (CI low bound > 0; a tie never passes); FAIL when it does not and either the interval half-width is at
    most ``resolution`` (the data could have shown an effect of that size) or the reverse one-sided test
    rejects ``effect >= null`` at ``alpha`` (B significantly beats A, however wide the interval); else
    INCONCLUSIVE. The advice reads the estimate: on the wrong side of 0 more data would not PASS this (it
    sizes the data to FAIL); else it sizes the data to decide either way if the estimate holds (half-width
    below max(estimate, resolution))."""
    if not resolution > 0:
        raise ValueError(f"`resolution` must be > 0, got {resolution!r}")
    text = cmp.text()
    if cmp.pvalue < alpha and cmp.low > 0:
        return Decision("PASS", text)
    if cmp.halfwidth <= resolution:
        return Decision("FAIL", text)
    reverse = _pvalue(cmp, cmp.null, "less")
    if cmp.estimate < cmp.null and reverse < alpha:
        return Decision("FAIL", text + f"; reversed: effect < {cmp.null:g} at p={reverse:.3g}")
    text += f"; half-width {cmp.halfwidth:.3g} > resolution {resolution:g}"
    if cmp.estimate <= 0:
        return Decision("INCONCLUSIVE", text, "more data would not PASS this (the estimate is not above 0); "
                        + _more_data(cmp, resolution, "to FAIL it"))
    return Decision("INCONCLUSIVE", text, _more_data(cmp, max(cmp.estimate, resolution),
                                                     "to decide (if the estimate holds)"))


def matches(cmp: Comparison, *, margin: float, alpha: float = 0.05) -> Decision:
    """"A matches B" (``cmp`` = A - B or the raw effect): PASS iff TOST rejects non-equivalence at
    ``margin``; FAIL when the TOST interval (1 - 2 alpha) lies wholly outside [-margin, margin] (the effect
    exceeds the margin significantly, as :func:`at_most` FAILs), or when |estimate| > margin and the
    half-width is at most ``margin``; else INCONCLUSIVE. With |estimate| > margin more data would FAIL
    this (the advice says so and sizes it); inside, it sizes the half-width that fits the margin."""
    reuse = cmp.method.startswith("TOST") and cmp.null == margin and cmp.level == 1 - 2 * alpha
    eq = cmp if reuse else equivalence(cmp, margin, alpha=alpha)
    text = eq.text() + f", margin +-{margin:g}"
    if eq.pvalue < alpha:
        return Decision("PASS", text)
    if eq.low > margin or eq.high < -margin or (abs(eq.estimate) > margin and eq.halfwidth <= margin):
        return Decision("FAIL", text)
    out = abs(eq.estimate) - margin
    if out > 0:
        return Decision("INCONCLUSIVE", text, f"more data would FAIL this (|estimate| {abs(eq.estimate):.3g} > "
                        f"margin {margin:g}); " + _more_data(eq, max(out, margin), "to show it"))
    if out == 0:
        return Decision("INCONCLUSIVE", text, f"more data would not PASS this (|estimate| equals {margin:g})")
    return Decision("INCONCLUSIVE", text, _more_data(eq, -out, "to PASS (if the estimate holds)"))


def at_most(cmp: Comparison, *, resolution: float, margin: float = 0.0, alpha: float = 0.05) -> Decision:
    """"A does not beat B by more than ``margin``" (``cmp`` = A - B, two-sided or 'less' interval):
    PASS iff the upper bound is at most ``margin`` and the half-width at most ``resolution``; FAIL iff the
    lower bound exceeds ``margin`` (A significantly beats B by more than the margin); else INCONCLUSIVE --
    never a PASS by default when the data are too noisy. With the estimate at or above ``margin`` more data
    can only FAIL it (if the estimate holds): the advice says so and sizes the data that would show it
    (half-width below estimate - margin); below, it sizes the half-width that would PASS
    (min(margin - estimate, resolution))."""
    if not resolution > 0:
        raise ValueError(f"`resolution` must be > 0, got {resolution!r}")
    text = cmp.text()
    if math.isfinite(cmp.low) and cmp.low > margin:
        return Decision("FAIL", text)
    if cmp.high <= margin and cmp.halfwidth <= resolution:
        return Decision("PASS", text)
    if cmp.estimate > margin:
        return Decision("INCONCLUSIVE", text, f"more data would FAIL this (the estimate {cmp.estimate:.3g} is "
                        f"above {margin:g}); " + _more_data(cmp, cmp.estimate - margin, "to show it"))
    if cmp.estimate == margin:
        return Decision("INCONCLUSIVE", text, f"more data would not PASS this (the estimate equals {margin:g})")
    return Decision("INCONCLUSIVE", text, _more_data(cmp, min(margin - cmp.estimate, resolution),
                                                     "to PASS (if the estimate holds)"))
