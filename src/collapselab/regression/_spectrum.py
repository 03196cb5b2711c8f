"""Spectral helpers shared by the regression theory (papers 1 and 5).

Notation (notes_collapse_theory.md §1.3): Sigma has eigenvalues ``eigs`` (lambda_j);
``df_m(kappa) = tr[Sigma^m (Sigma + kappa I)^{-m}] = sum_j lambda_j^m / (lambda_j + kappa)^m``;
the effective regularisation kappa(lam, n) is the root of ``kappa - lam = kappa * df_1(kappa) / n``.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import brentq

from collapselab._validation import check_array, check_int, check_real


def check_eigs(eigs) -> np.ndarray:
    """Validate a spectrum: 1-D, finite, strictly positive."""
    return check_array("eigs", eigs, ndim=1, positive=True)


def power_law_spectrum(d: int, exponent: float, *, scale: float = 1.0) -> np.ndarray:
    """Eigenvalues ``scale * j^{-exponent}`` for j = 1..d (capacity condition, exponent = beta).

    ``exponent = 0`` gives the isotropic spectrum.
    """
    d = check_int("d", d, low=1)
    exponent = check_real("exponent", exponent, low=0.0)
    scale = check_real("scale", scale, low=0.0, low_open=True)
    return scale * np.arange(1, d + 1, dtype=np.float64) ** (-exponent)


def df(eigs, kappa: float, order: int = 1) -> float:
    """Degrees of freedom ``df_m(kappa) = sum_j lambda_j^m / (lambda_j + kappa)^m``.

    Limits: kappa = 0 gives d; kappa -> inf gives 0.
    """
    eigs = check_eigs(eigs)
    kappa = check_real("kappa", kappa, low=0.0)
    order = check_int("order", order, low=1)
    return float(np.sum((eigs / (eigs + kappa)) ** order))


def effective_regularization(eigs, lam: float, n: float) -> float:
    """kappa(lam, n): the root of ``kappa - lam = kappa * df_1(kappa) / n``.   [D, notes §1.3(ii)]

    * lam > 0: the unique root in [lam, lam + tr(Sigma)/n].
    * lam = 0, n > d: kappa = 0 (least squares).
    * lam = 0, n <= d: the ridgeless limit, the positive root of ``df_1(kappa) = n``
      (min-norm interpolation; n = d gives kappa = 0 and a diverging error).
    """
    eigs = check_eigs(eigs)
    lam = check_real("lam", lam, low=0.0)
    n = check_real("n", n, low=0.0, low_open=True)
    d = eigs.size
    trace = float(eigs.sum())
    if lam == 0.0:
        if n >= d:
            return 0.0

        def g(log_k: float) -> float:
            return float(np.sum(eigs / (eigs + np.exp(log_k)))) - n

        lo = np.log(eigs.min() * 1e-12)
        hi = np.log(trace / n) + 1.0
        return float(np.exp(brentq(g, lo, hi, xtol=1e-14, rtol=1e-13)))

    def f(k: float) -> float:
        return k - lam - k * float(np.sum(eigs / (eigs + k))) / n

    return float(brentq(f, lam, lam + trace / n + 1e-300, xtol=1e-300, rtol=1e-13))
