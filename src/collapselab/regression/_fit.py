"""Power-law fits on log-log data (shared by the scaling-law experiments of several papers)."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import stats

from collapselab._validation import check_array, check_real


class PowerLawFit(NamedTuple):
    slope: float  # b in y ~ a x^b
    intercept: float  # log a
    slope_ci: tuple[float, float]  # confidence interval of the slope
    r2: float  # coefficient of determination of the log-log fit


def fit_power_law(x, y, *, confidence: float = 0.95) -> PowerLawFit:
    """Least-squares fit of ``log y = intercept + slope * log x``, with a t-based CI on the slope.

    x, y: positive arrays of the same length (at least 3 points for a confidence interval).
    """
    x = check_array("x", x, ndim=1, positive=True, min_len=2)
    y = check_array("y", y, ndim=1, positive=True, min_len=2)
    if x.shape != y.shape:
        raise ValueError(f"`x` and `y` must have the same shape, got {x.shape} and {y.shape}")
    confidence = check_real("confidence", confidence, low=0.0, high=1.0, low_open=True, high_open=True)
    lx, ly = np.log(x), np.log(y)
    res = stats.linregress(lx, ly)
    k = x.size
    if k > 2:
        half = stats.t.ppf(0.5 + confidence / 2, k - 2) * res.stderr
    else:
        half = float("inf")
    return PowerLawFit(float(res.slope), float(res.intercept),
                       (float(res.slope - half), float(res.slope + half)), float(res.rvalue**2))


class LineFit(NamedTuple):
    slope: float
    slope_se: float  # from the known standard errors of y (inverse-variance weights)
    intercept: float
    chi2: float  # sum of squared standardised residuals
    dof: int  # points - 2
    lof_pvalue: float  # P(chi2_dof >= chi2): small values reject the straight line (lack of fit)


def weighted_line_fit(x, y, y_se, *, log: bool = False) -> LineFit:
    """Weighted least-squares line ``y = intercept + slope x`` with known standard errors ``y_se``.

    Weights ``1 / y_se^2``; ``slope_se = (sum_i w_i (x_i - xbar_w)^2)^{-1/2}`` is exact when the errors are
    independent Gaussian with the given SEs (Monte Carlo means of independent cells). ``chi2`` of the
    standardised residuals on ``points - 2`` degrees of freedom tests the straight line (lack of fit).
    ``log=True`` fits ``log y`` on ``log x`` with the delta-method SEs ``y_se / y`` (a power law
    ``y ~ x^slope``). x, y, y_se: 1-D, same length >= 2, y_se > 0 (and x, y > 0 when ``log``).
    """
    x = check_array("x", x, ndim=1, positive=log, min_len=2)
    y = check_array("y", y, ndim=1, positive=log, min_len=2)
    y_se = check_array("y_se", y_se, ndim=1, positive=True, min_len=2)
    if not x.shape == y.shape == y_se.shape:
        raise ValueError(f"`x`, `y`, `y_se` must have the same shape, got {x.shape}, {y.shape}, {y_se.shape}")
    if np.ptp(x) == 0:
        raise ValueError("`x` needs at least two distinct values")
    if log:
        x, y, y_se = np.log(x), np.log(y), y_se / y
    w = 1.0 / y_se**2
    xbar, ybar = np.sum(w * x) / w.sum(), np.sum(w * y) / w.sum()
    sxx = float(np.sum(w * (x - xbar) ** 2))
    slope = float(np.sum(w * (x - xbar) * (y - ybar)) / sxx)
    intercept = float(ybar - slope * xbar)
    chi2 = float(np.sum(w * (y - intercept - slope * x) ** 2))
    dof = x.size - 2
    lof = float(stats.chi2.sf(chi2, dof)) if dof > 0 else 1.0
    return LineFit(slope, float(1.0 / np.sqrt(sxx)), intercept, chi2, dof, lof)
