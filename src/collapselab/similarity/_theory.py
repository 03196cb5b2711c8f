r"""Closed forms for the transferred discrepancy of linear heads, each with a Monte Carlo twin.

Setting (notes B.3, in-sample): least-squares heads with intercept are fitted and evaluated on the
same n samples, so a head's prediction deviation is P y, with P the orthogonal projection onto the
centred column span of a representation (rank r). For tasks y drawn at random, the pooled TD
sum_y N_y / sum_y D_y (``reduce="pooled"``) converges to E[N] / E[D]:

* isotropic tasks, y ~ N(0, I_n):  E||(P_a - P_b) y||^2 = ||P_a - P_b||_F^2 = r_a + r_b - 2 sum_i rho_i^2
  and E[D] = (r_a + r_b) / 2, so
      TD_iso = 2 - 4 sum_i rho_i^2 / (r_a + r_b)
  with rho_i the canonical correlations. For r_a = r_b = k: TD_iso = 2 (1 - R^2_CCA), an affine function
  of the mean squared CCA. 0 iff the spans coincide, 2 iff they are orthogonal.   [D: notes B.3]
* tasks linear in representation a, y = A_c w with w ~ N(0, I / d_a): P_a y = y, so
      TD_lin(a -> b) = 2 (1 - R^2) / (1 + R^2),   R^2 = ||P_b A_c||_F^2 / ||A_c||_F^2,
  the fraction of a's (variance-weighted) energy that b linearly explains: the route by which
  variance-weighted similarities (CKA-like, not CCA) enter.   [D]

Each ``*_mc`` twin draws ``n_tasks`` tasks, runs :func:`transferred_discrepancy` on them and returns the
pooled ratio with a delta-method standard error (a :class:`collapselab.stats.MCEstimate`, ``n`` = tasks).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_int
from collapselab.similarity._cca import cca
from collapselab.similarity._common import as_feature_pair, center, orthonormal_basis
from collapselab.similarity._td import isotropic_tasks, random_linear_tasks, transferred_discrepancy
from collapselab.stats import MCEstimate


def isotropic_td(feats_a: Any, feats_b: Any) -> float:
    """Closed form of the pooled in-sample TD over isotropic tasks: 2 - 4 sum rho_i^2 / (r_a + r_b).

    feats_a (n, d1), feats_b (n, d2) with n >= max(d1, d2) + 2 (CCA must be non-trivial).   [D]
    """
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    rho = cca(a, b).rho
    r_a, r_b = orthonormal_basis(center(a)).shape[1], orthonormal_basis(center(b)).shape[1]
    return float(2.0 - 4.0 * np.sum(rho**2) / (r_a + r_b))


def _pooled_mc(num: np.ndarray, den: np.ndarray) -> MCEstimate:
    ratio = num.sum() / den.sum()
    t = num.size
    # delta method: Var(sum N / sum D) ~ Var(N - R D) / (T mean(D)^2)
    resid = num - ratio * den
    se = np.std(resid, ddof=1) / (np.sqrt(t) * den.mean()) if t > 1 else float("inf")
    return MCEstimate(float(ratio), float(se), int(t))


def isotropic_td_mc(feats_a: Any, feats_b: Any, *, n_tasks: int = 500, rng: SeedLike = 0) -> MCEstimate:
    """Monte Carlo twin of :func:`isotropic_td`: ``n_tasks`` N(0, I_n) tasks, in-sample linear heads."""
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    n_tasks = check_int("n_tasks", n_tasks, low=2)
    y = isotropic_tasks(a.shape[0], n_tasks, rng=as_rng(rng))
    all_idx = np.arange(a.shape[0])
    res = transferred_discrepancy(a, b, y, head="linear", train_idx=all_idx, test_idx=all_idx, reduce=None)
    return _pooled_mc(res.numerator, res.denominator)


def linear_task_td(feats_a: Any, feats_b: Any) -> float:
    """Closed form of the pooled in-sample TD over tasks linear in feats_a: 2 (1 - R^2) / (1 + R^2),
    R^2 = ||P_b A_c||_F^2 / ||A_c||_F^2. Asymmetric (tasks come from a).   [D]"""
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    ac = center(a)
    qb = orthonormal_basis(center(b))
    total = np.sum(ac**2)
    if total == 0.0:
        raise ValueError("`feats_a` is constant; tasks linear in it are all zero")
    r2 = np.sum((qb.T @ ac) ** 2) / total
    return float(2.0 * (1.0 - r2) / (1.0 + r2))


def linear_task_td_mc(feats_a: Any, feats_b: Any, *, n_tasks: int = 500, rng: SeedLike = 0) -> MCEstimate:
    """Monte Carlo twin of :func:`linear_task_td`: tasks from :func:`random_linear_tasks` on feats_a."""
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    n_tasks = check_int("n_tasks", n_tasks, low=2)
    y = random_linear_tasks(a, n_tasks, rng=as_rng(rng))
    all_idx = np.arange(a.shape[0])
    res = transferred_discrepancy(a, b, y, head="linear", train_idx=all_idx, test_idx=all_idx, reduce=None)
    return _pooled_mc(res.numerator, res.denominator)
