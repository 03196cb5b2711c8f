"""Zipf laws and the synthetic distributions of "A Tale of Tails" (Dohmatob et al., 2024, Sec. 2-3).

All distributions are float64 probability vectors over ranks 1..N (index 0 holds rank 1).
"""

from __future__ import annotations

import numpy as np

from collapselab._validation import check_int, check_real
from collapselab.zipf._common import check_prob


def zipf(beta: float, support: int) -> np.ndarray:
    r"""Zipf law p_i = i^{-beta} / sum_{j<=N} j^{-beta} on ranks i = 1..N (N = ``support``).

    beta > 1 is the paper's setting (p is then summable on the infinite support, and
    A = 1/zeta(beta) is the limit of the normaliser as N -> inf).   [V, Tale of Tails Sec. 2]
    Returns an array of shape (support,).
    """
    beta = check_real("beta", beta, low=1.0, low_open=True)
    n = check_int("support", support, low=1)
    w = np.arange(1, n + 1, dtype=np.float64) ** -beta
    return w / w.sum()


def tail_mass(p, k: int) -> float:
    r"""Probability mass beyond rank k: sum_{i>k} p_i (the tail-cut floor, Thm 2.1).   [V]

    For p = Zipf(beta) on an infinite support this is ~ A k^{1-beta} / (beta - 1).
    """
    p = check_prob("p", p)
    k = check_int("k", k, low=0)
    return float(p[k:].sum())


def tail_cut(p, k: int) -> np.ndarray:
    r"""Tail cutting (top-k): q_i = p_i 1[i <= k] / sum_{j<=k} p_j.   [V, Tale of Tails Thm 2.1]

    The synthetic distribution of a generator that keeps only the k most frequent items.
    ``k`` >= support returns a copy of p.
    """
    p = check_prob("p", p)
    k = check_int("k", k, low=1)
    q = p.copy()
    q[k:] = 0.0
    total = q.sum()
    if total <= 0:
        raise ValueError(f"`k`={k} keeps no probability mass of `p`")
    return q / total


def tail_narrow(p, temperature: float) -> np.ndarray:
    r"""Tail narrowing by a sampling temperature: q_i = p_i^{1/tau} / sum_j p_j^{1/tau}.

    For p = Zipf(beta), tau = beta / beta' gives q = Zipf(beta'); tau < 1 (beta' > beta) thins the
    tail, the paper's "tail narrowing" (Sec. 2).   [V mechanism]
    Computed in log space, so tiny p_i cannot underflow before the normalisation.
    """
    p = check_prob("p", p)
    tau = check_real("temperature", temperature, low=0.0, low_open=True)
    q = np.zeros_like(p)
    pos = p > 0
    logq = np.log(p[pos]) / tau
    logq -= logq.max()
    w = np.exp(logq)
    q[pos] = w / w.sum()
    return q


def mix(p, q, pi: float) -> np.ndarray:
    r"""Mixture of real and synthetic data: pi * p + (1 - pi) * q (Sec. 3, Thm 3.2).   [V]"""
    p = check_prob("p", p)
    q = check_prob("q", q)
    if p.shape != q.shape:
        raise ValueError(f"`p` and `q` must have the same shape, got {p.shape} and {q.shape}")
    pi = check_real("pi", pi, low=0.0, high=1.0)
    return pi * p + (1.0 - pi) * q
