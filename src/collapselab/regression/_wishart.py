"""Exact-in-law sufficient statistics of Gaussian samples (the Bartlett decomposition).

For Z (n, d) with i.i.d. N(0, 1) entries and n >= d, ``Z'Z ~ Wishart_d(n, I)`` has the law of ``L L'``
with L lower triangular, ``L_ii^2 ~ chi^2(n - i + 1)`` (i = 1..d) and ``L_ij ~ N(0, 1)`` below the
diagonal (Bartlett 1933). Given ``Z'Z = L L'``, ``Z'e`` for e ~ N(0, s^2 I_n) independent of Z is
Gaussian with covariance ``s^2 L L'``, i.e. it has the law of ``s L z`` with z ~ N(0, I_d). Simulations of
least squares / ridge that only need (X'X, X'y) therefore cost O(d^3) per replicate whatever n is.
Used by the mixture and mitigation simulations of paper 1 (Strong Model Collapse).
"""

from __future__ import annotations

import numpy as np

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_int, check_real


def bartlett_factor(rng: SeedLike, n: int, d: int) -> np.ndarray:
    """Lower-triangular L (d, d) with ``L L' ~ Wishart_d(n, I)`` (needs n >= d).

    rng: a seed or ``np.random.Generator`` (the draws come from it; nothing is seeded globally).
    """
    n = check_int("n", n, low=1)
    d = check_int("d", d, low=1)
    if n < d:
        raise ValueError(f"`n` must be >= `d` = {d} for the Bartlett decomposition, got {n}")
    gen = as_rng(rng)
    L = np.tril(gen.standard_normal((d, d)), -1)
    L[np.diag_indices(d)] = np.sqrt(gen.chisquare(n - np.arange(d)))
    return L


def gaussian_sufficient_stats(rng: SeedLike, n: int, d: int, noise_std: float) -> tuple[np.ndarray, np.ndarray]:
    """(Z'Z, Z'e) for n whitened Gaussian rows Z and noise e ~ N(0, noise_std^2 I_n), exactly in law.

    n >= d: through :func:`bartlett_factor`; 0 < n < d: by drawing the rows; n = 0: zeros.
    Returns W (d, d) and g (d,).
    """
    n = check_int("n", n, low=0)
    d = check_int("d", d, low=1)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    gen = as_rng(rng)
    if n == 0:
        return np.zeros((d, d)), np.zeros(d)
    if n < d:
        Z = gen.standard_normal((n, d))
        return Z.T @ Z, Z.T @ (noise_std * gen.standard_normal(n))
    L = bartlett_factor(gen, n, d)
    return L @ L.T, noise_std * (L @ gen.standard_normal(d))
