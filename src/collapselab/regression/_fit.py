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
