"""The statistics every claim uses, written once: estimates with standard errors, paired and unpaired
differences with confidence intervals, proportions, slopes, rank correlation, equivalence, Holm.

Built on :mod:`scipy.stats` (t tests, ``bootstrap``, ``binomtest``, ``spearmanr``). Every comparison is a
:class:`Comparison` (estimate, standard error, confidence interval, p-value of the declared one-sided or
two-sided test); the three *decision rules* turn one into a :class:`Decision`:

* :func:`beats` -- "A beats B": PASS only when the one-sided test rejects ``effect <= 0`` (so a tie never
  passes); FAIL when it does not and the interval is narrow enough to have seen an effect of the declared
  ``resolution``; otherwise INCONCLUSIVE, saying how much more data would make it judgeable.
* :func:`matches` -- "A matches B": two one-sided tests (TOST) against a declared margin.
* :func:`at_most` -- "A does not beat B": PASS only when the interval rules out an advantage above the
  margin; never by default when the data are too noisy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
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


# ============================================================================ comparisons


@dataclass(frozen=True)
class Comparison:
    """An effect (e.g. a difference A - B) with its standard error, confidence interval and test.

    ``low``/``high`` is the ``level`` interval matching ``alternative`` (one-sided: one bound infinite);
    ``pvalue`` tests ``effect <= null`` (greater), ``effect >= null`` (less) or ``effect == null``.
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


def _t_comparison(est: float, se: float, df: float, n: int, alternative: str, level: float, method: str,
                  null: float = 0.0) -> Comparison:
    _check_alternative(alternative)
    _check_level(level)
    if not math.isfinite(se) or se <= 0 or df <= 0:
        if se == 0 and math.isfinite(est):  # no spread: the interval is the point
            p = 0.0 if ((alternative == "greater" and est > null) or (alternative == "less" and est < null)
                        or (alternative == "two-sided" and est != null)) else 1.0
            return Comparison(est, 0.0, est, est, p, n, alternative, level, method, null)
        return Comparison(est, math.inf, -math.inf, math.inf, 1.0, n, alternative, level, method, null)
    tstat = (est - null) / se
    dist = _st.t(df) if math.isfinite(df) else _st.norm()
    if alternative == "greater":
        p, q = float(dist.sf(tstat)), float(dist.ppf(level))
        lo, hi = est - q * se, math.inf
    elif alternative == "less":
        p, q = float(dist.cdf(tstat)), float(dist.ppf(level))
        lo, hi = -math.inf, est + q * se
    else:
        p, q = float(2 * dist.sf(abs(tstat))), float(dist.ppf(0.5 + level / 2))
        lo, hi = est - q * se, est + q * se
    return Comparison(float(est), float(se), float(lo), float(hi), p, n, alternative, level, method, null)


def from_estimate(estimate: float, se: float, df: float | None = None, *, n: int = 0,
                  alternative: Alternative = "greater", level: float = 0.95, null: float = 0.0) -> Comparison:
    """A t (``df`` given) or normal (``df`` None) test and interval from an estimate and its standard error."""
    return _t_comparison(float(estimate), float(se), math.inf if df is None else float(df), n, alternative,
                         level, "t" if df is not None else "normal", null)


def paired_difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
                      alternative: Alternative = "greater", level: float = 0.95,
                      method: Literal["t", "bootstrap"] = "t", rng: np.random.Generator | int | None = None,
                      n_resamples: int = 4999) -> Comparison:
    """Mean of the paired differences a_i - b_i with a one-sample t test (``method="t"``) or a percentile
    bootstrap interval over pairs (``method="bootstrap"``, p-value from the t test)."""
    a, b = _finite(a, "a"), _finite(b, "b")
    if a.shape != b.shape:
        raise ValueError(f"`a` and `b` must be paired (same length), got {a.size} and {b.size}")
    d = a - b
    if d.size < 2:
        raise ValueError("a paired difference needs at least 2 pairs")
    est = mean_se(d)
    cmp = _t_comparison(est.mean, est.se, d.size - 1, d.size, alternative, level, "paired t")
    if method == "t":
        return cmp
    if method != "bootstrap":
        raise ValueError(f"`method` must be 't' or 'bootstrap', got {method!r}")
    if np.all(d == d[0]):
        return Comparison(cmp.estimate, 0.0, d[0], d[0], cmp.pvalue, d.size, alternative, level, "bootstrap")
    res = _st.bootstrap((d,), np.mean, confidence_level=level, n_resamples=n_resamples, method="percentile",
                        alternative=alternative, random_state=rng)
    lo, hi = float(res.confidence_interval.low), float(res.confidence_interval.high)
    return Comparison(cmp.estimate, float(res.standard_error), lo, hi, cmp.pvalue, d.size, alternative, level,
                      "paired bootstrap")


def difference(a: Sequence[float] | np.ndarray, b: Sequence[float] | np.ndarray, *,
               alternative: Alternative = "greater", level: float = 0.95) -> Comparison:
    """mean(a) - mean(b) for independent samples: Welch's t test and interval."""
    a, b = _finite(a, "a"), _finite(b, "b")
    if a.size < 2 or b.size < 2:
        raise ValueError("an unpaired difference needs at least 2 values on each side")
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    se = math.sqrt(va + vb)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1)) if se > 0 else math.inf
    return _t_comparison(float(a.mean() - b.mean()), se, df, a.size + b.size, alternative, level, "Welch t")


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
    return Comparison(d, se, lo, hi, float(p), n1 + n2, alternative, level, "Newcombe/z")


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
                      "Spearman, bootstrap")


def equivalence(effect: Comparison | Sequence[float] | np.ndarray, margin: float, *,
                alpha: float = 0.05) -> Comparison:
    """Two one-sided tests (TOST) of |effect| < margin.

    ``effect`` is a :class:`Comparison` (its estimate, se and degrees of freedom n - 1) or raw samples of
    the effect (e.g. paired differences). Returns the (1 - 2 alpha) two-sided interval and, as ``pvalue``,
    the larger of the two one-sided p-values: reject non-equivalence when it is below alpha.
    """
    if not margin > 0:
        raise ValueError(f"`margin` must be > 0, got {margin!r}")
    if isinstance(effect, Comparison):
        est, se, n = effect.estimate, effect.se, effect.n
        df = n - 1 if "t" in effect.method and n > 1 else math.inf
    else:
        d = _finite(effect, "effect")
        e = mean_se(d)
        est, se, n, df = e.mean, e.se, e.n, d.size - 1
    lo_test = _t_comparison(est, se, df, n, "greater", 1 - alpha, "TOST", null=-margin)
    hi_test = _t_comparison(est, se, df, n, "less", 1 - alpha, "TOST", null=margin)
    return Comparison(est, se, lo_test.low, hi_test.high, max(lo_test.pvalue, hi_test.pvalue), n,
                      "two-sided", 1 - 2 * alpha, "TOST", margin)


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


def _more_data(cmp: Comparison, target: float) -> str:
    factor = (cmp.halfwidth / target) ** 2 if target > 0 else math.inf
    if not math.isfinite(factor):
        return "needs more replicates (the interval is unbounded)"
    k = max(2, math.ceil(factor))
    return f"needs ~{k}x the data" + (f" (about {k * cmp.n} pairs/replicates)" if cmp.n > 0 else "")


def beats(cmp: Comparison, *, resolution: float, alpha: float = 0.05) -> Decision:
    """"A beats B" for ``cmp`` = A - B: PASS iff the one-sided test rejects ``effect <= 0`` at ``alpha``
    (CI low bound > 0; a tie never passes); FAIL when it does not and the interval half-width is at most
    ``resolution`` (the data could have shown an effect of that size); else INCONCLUSIVE."""
    if not resolution > 0:
        raise ValueError(f"`resolution` must be > 0, got {resolution!r}")
    text = cmp.text()
    if cmp.pvalue < alpha and cmp.low > 0:
        return Decision("PASS", text)
    if cmp.halfwidth <= resolution:
        return Decision("FAIL", text)
    return Decision("INCONCLUSIVE", text + f"; half-width {cmp.halfwidth:.3g} > resolution {resolution:g}",
                    _more_data(cmp, resolution))


def matches(cmp: Comparison, *, margin: float, alpha: float = 0.05) -> Decision:
    """"A matches B" (``cmp`` = A - B or the raw effect): PASS iff TOST rejects non-equivalence at
    ``margin``; FAIL when the TOST interval (1 - 2 alpha) lies wholly outside [-margin, margin] (the effect
    exceeds the margin significantly, as :func:`at_most` FAILs), or when |estimate| > margin and the
    half-width is at most ``margin``; else INCONCLUSIVE."""
    eq = cmp if cmp.method == "TOST" and cmp.null == margin else equivalence(cmp, margin, alpha=alpha)
    text = eq.text() + f", margin +-{margin:g}"
    if eq.pvalue < alpha:
        return Decision("PASS", text)
    if eq.low > margin or eq.high < -margin or (abs(eq.estimate) > margin and eq.halfwidth <= margin):
        return Decision("FAIL", text)
    room = margin - abs(eq.estimate)  # the half-width that would fit the interval inside the margin
    return Decision("INCONCLUSIVE", text, _more_data(eq, room if room > 0 else margin))


def at_most(cmp: Comparison, *, resolution: float, margin: float = 0.0, alpha: float = 0.05) -> Decision:
    """"A does not beat B by more than ``margin``" (``cmp`` = A - B, two-sided or 'less' interval):
    PASS iff the upper bound is at most ``margin`` and the half-width at most ``resolution``; FAIL iff the
    lower bound exceeds ``margin`` (A significantly beats B by more than the margin); else INCONCLUSIVE --
    never a PASS by default when the data are too noisy."""
    if not resolution > 0:
        raise ValueError(f"`resolution` must be > 0, got {resolution!r}")
    text = cmp.text()
    if math.isfinite(cmp.low) and cmp.low > margin:
        return Decision("FAIL", text)
    if cmp.high <= margin and cmp.halfwidth <= resolution:
        return Decision("PASS", text)
    return Decision("INCONCLUSIVE", text, _more_data(cmp, resolution))


def all_of(decisions: Sequence[tuple[str, Decision]]) -> Decision:
    """A conjunction of labelled decisions ("every point matches", "A and B"): PASS iff every part
    PASSes; FAIL iff some part FAILs (one definite failure falsifies the conjunction); else INCONCLUSIVE
    with the first undecided part's ``needs``. The text lists the FAILs, then the INCONCLUSIVEs, then the
    PASSes, each as ``label: text``."""
    if not decisions:
        raise ValueError("`decisions` is empty")
    order = {"FAIL": 0, "INCONCLUSIVE": 1, "PASS": 2}
    parts = sorted(decisions, key=lambda ld: order[ld[1].status])
    text = "; ".join(f"{label}: {d.status} {d.text}" if len(decisions) > 1 else f"{label}: {d.text}"
                     for label, d in parts)
    statuses = {d.status for _, d in decisions}
    if "FAIL" in statuses:
        return Decision("FAIL", text)
    if statuses == {"PASS"}:
        return Decision("PASS", text)
    needs = next(d.needs for _, d in parts if d.status == "INCONCLUSIVE")
    return Decision("INCONCLUSIVE", text, needs)
