"""Input checks, sampling and Monte Carlo aggregation shared by the Zipf models (memoriser, bigram)."""

from __future__ import annotations

import numpy as np

from collapselab._validation import check_array, check_int
from collapselab.stats import MCEstimate


def check_prob(name: str, p) -> np.ndarray:
    """A 1-D non-negative vector summing to 1 (to 1e-6)."""
    p = check_array(name, p, ndim=1, nonnegative=True)
    total = float(p.sum())
    if abs(total - 1.0) > 1e-6:
        raise ValueError(f"`{name}` must sum to 1, got {total!r}")
    return p


def check_counts(name: str, t) -> tuple[np.ndarray, bool]:
    """Sample sizes: a non-negative scalar or array; returns (array, was_scalar)."""
    arr = check_array(name, t, nonnegative=True, min_len=0)
    return arr, arr.ndim == 0


def check_trials(n_trials: int) -> int:
    """Monte Carlo trials: an int >= 2 (a standard error needs two)."""
    return check_int("n_trials", n_trials, low=2)


class Sampler:
    """Draws i.i.d. indices from a probability vector by inverting its CDF (zero-mass items never drawn)."""

    def __init__(self, q: np.ndarray):
        self.cdf = np.cumsum(q)
        self.n = q.size

    def __call__(self, size: int, rng: np.random.Generator) -> np.ndarray:
        u = rng.random(size) * self.cdf[-1]
        return np.minimum(np.searchsorted(self.cdf, u, side="right"), self.n - 1)


def mc_estimate(samples, shape: tuple, scalar: bool) -> MCEstimate:
    """Mean and standard error over trials of ``samples`` (n_trials, points), reshaped to ``shape``:
    :class:`collapselab.stats.MCEstimate` with array fields (floats when ``scalar``)."""
    arr = np.asarray(samples, dtype=float)
    mean = arr.mean(0).reshape(shape)
    se = (arr.std(0, ddof=1) / np.sqrt(arr.shape[0])).reshape(shape)
    if scalar:
        return MCEstimate(float(mean), float(se), arr.shape[0])
    return MCEstimate(mean, se, arr.shape[0])
