"""Power-law (capacity and source) conditions and the adaptive ridge penalty of Model Collapse Demystified.

Paper: Dohmatob, Feng & Kempe, arXiv 2402.07712, §5 (notes_collapse_theory.md §1.3(iv)).
Capacity: lambda_j ~ j^{-beta} (beta > 1); source: lambda_j <w0, v_j>^2 ~ j^{-(1 + 2 beta r)};
r_ = min(r, 1) (saturation of ridge).
"""

from __future__ import annotations

import numpy as np

from collapselab._validation import check_int, check_real
from collapselab.regression._spectrum import check_eigs


def source_condition(eigs, r: float) -> np.ndarray:
    """w0 (in Sigma's eigenbasis) with ``lambda_j w0_j^2 = j^{-1} lambda_j^{2r}``.   [R: notes §1.3(iv)]

    j is the rank of lambda_j (1 = largest). For a power-law spectrum ``lambda_j = j^{-beta}``
    (:func:`power_law_spectrum` with scale 1) this is exactly ``lambda_j w0_j^2 = j^{-(1 + 2 beta r)}``,
    the source condition of §5; for another spectrum it keeps the same form in lambda_j. Coefficients
    are positive (the theory depends on w0 only through w0_j^2). r = 1/2 gives
    ``w0_j^2 = j^{-1}`` in Sigma-norm units.
    """
    eigs = check_eigs(eigs)
    r = check_real("r", r, low=0.0, low_open=True)
    ranks = np.empty(eigs.size)
    ranks[np.argsort(-eigs, kind="stable")] = np.arange(1, eigs.size + 1)
    return np.sqrt(eigs ** (2.0 * r - 1.0) / ranks)


def critical_exponent(beta: float, r: float) -> float:
    """l_crit = beta / (1 + 2 beta r_), r_ = min(r, 1): the clean-data optimal lam = T^{-l_crit}.

    The clean error then decays as T^{-2 beta r_ / (2 beta r_ + 1)}.   [D: notes §1.3(iv)]
    """
    beta = check_real("beta", beta, low=1.0, low_open=True)
    r = check_real("r", r, low=0.0, low_open=True)
    r_ = min(r, 1.0)
    return beta / (1.0 + 2.0 * beta * r_)


def adaptive_regularization(T: int, generations: int, T0: int, sigma: float, sigma0: float, beta: float,
                            r: float, *, d: int | None = None) -> float:
    r"""The ridge penalty that is rate-optimal with n generations of fake data.   [D: notes §1.3(iv)]

    With df_2(kappa) ~ kappa^{-1/beta} and bias ~ kappa^{2 r_}, the test error of
    :func:`recursive_ridge_error` behaves as
    ``kappa^{2 r_} + (sigma^2/T + n sigma0^2/(T0 - d - 1)) kappa^{-1/beta}``, minimised at

        lam* = (sigma^2/T + n sigma0^2/(T0 - d - 1))^{beta/(2 beta r_ + 1)},

    with error ~ (sigma^2/T + n sigma0^2/(T0 - d - 1))^{2 beta r_/(2 beta r_ + 1)}: the clean rate
    while T < sigma^2 (T0 - d - 1)/(n sigma0^2), then a plateau. n = 0 gives the clean-tuned
    ``(sigma^2/T)^{l_crit}`` (``T^{-l_crit}`` for sigma = 1). ``d`` (when given) is the dimension of the
    generators' least squares, which needs T0 > d + 1; without it the T0 >> d form
    ``n sigma0^2/T0`` is used. The constant in front is 1 (rates only; the paper's Theorem 5.1 states
    the exponent).
    """
    T = check_int("T", T, low=1)
    generations = check_int("generations", generations, low=0)
    T0 = check_int("T0", T0, low=1)
    sigma = check_real("sigma", sigma, low=0.0)
    sigma0 = check_real("sigma0", sigma0, low=0.0)
    ell = critical_exponent(beta, r)
    if d is None:
        denom = float(T0)
    else:
        d = check_int("d", d, low=1)
        if T0 <= d + 1:
            raise ValueError(f"`T0` must exceed d + 1 = {d + 1} for the fake-data variance, got {T0}")
        denom = float(T0 - d - 1)
    noise = sigma**2 / T + generations * sigma0**2 / denom
    if noise <= 0:
        raise ValueError("`sigma` and `sigma0` are both 0 (or n = 0 with sigma = 0): no noise, lam* = 0")
    return float(noise**ell)
