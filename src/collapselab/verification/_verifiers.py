"""Verifiers for synthetic labels: keep (accept) a pair (x, y') or drop it.

* :class:`RandomPruner` (x-independent): keeps a correct label with probability phi and a wrong one
  with probability psi (Feng et al. Sec. 4; the follow-up writes rho for psi) [V: notes A.2].
* :class:`LinearVerifier`: keeps (x, y') iff y' (w_v.x) > tau; its score y' (w_v.x) also ranks
  candidates for best-of-k [R: v2's linear verifier, reconstructed, notes A.2].

:func:`estimate_breakdown_point` measures phi and psi on labelled data and returns
p* = phi / (phi + psi) [D].
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy.special import ndtr

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_array, check_real
from collapselab.verification._gmm import _check_mu_sigma, _check_rates


def _labels(name: str, y) -> np.ndarray:
    y = check_array(name, y, ndim=1, min_len=0, dtype=np.int64)
    if not np.all(np.isin(y, (-1, 1))):
        raise ValueError(f"`{name}` must hold labels in {{-1, +1}}")
    return y


class RandomPruner:
    """Keeps a correct label with probability ``phi`` and a wrong one with probability ``psi``.

    phi = 1, psi = 0 is the oracle; phi = psi keeps at random (no selection).
    """

    def __init__(self, phi: float, psi: float):
        self.phi, self.psi = _check_rates(phi, psi)

    def accept(self, x, y_synth, *, y_true=None, rng: SeedLike = None) -> np.ndarray:
        """Boolean keep mask (n,); needs ``y_true`` (its decisions depend only on correctness)."""
        if y_true is None:
            raise ValueError("`y_true` is required: a random pruner keeps by correctness only")
        y_synth, y_true = _labels("y_synth", y_synth), _labels("y_true", y_true)
        if y_synth.shape != y_true.shape:
            raise ValueError("`y_synth` and `y_true` must have the same length")
        rate = np.where(y_synth == y_true, self.phi, self.psi)
        return as_rng(rng).random(y_true.shape[0]) < rate

    def keep_rates(self, mu=None, sigma=None) -> tuple[float, float]:
        return self.phi, self.psi


class LinearVerifier:
    """Keeps (x, y') iff y' (w_v.x) > tau; ``score`` is y' (w_v.x) (higher is more trusted)."""

    def __init__(self, w, tau: float = 0.0):
        self.w_ = check_array("w", w, ndim=1)
        self.tau = check_real("tau", tau)

    def score(self, x, y_synth) -> np.ndarray:
        x = check_array("x", x, ndim=2, min_len=0)
        if x.shape[1] != self.w_.shape[0]:
            raise ValueError(f"`x` must have {self.w_.shape[0]} columns, got {x.shape[1]}")
        y_synth = _labels("y_synth", y_synth)
        return y_synth * (x @ self.w_)

    def accept(self, x, y_synth, *, y_true=None, rng: SeedLike = None) -> np.ndarray:
        return self.score(x, y_synth) > self.tau

    def keep_rates(self, mu, sigma=None) -> tuple[float, float]:
        """(phi, psi) under label flips independent of x [D]: with m = w_v.mu, s^2 = w_v' Sigma w_v,
        phi = Phi((m - tau) / s), psi = Phi((-m - tau) / s)."""
        mu, sigma = _check_mu_sigma(mu, sigma)
        s = float(np.sqrt(self.w_ @ sigma @ self.w_))
        m = float(self.w_ @ mu)
        return float(ndtr((m - self.tau) / s)), float(ndtr((-m - self.tau) / s))


class BreakdownEstimate(NamedTuple):
    p_star: float  # phi_hat / (phi_hat + psi_hat)
    phi: float  # measured keep rate of correct labels
    psi: float  # measured keep rate of wrong labels
    n_correct: int
    n_wrong: int


def estimate_breakdown_point(verifier, x, y_true, y_synth, *, rng: SeedLike = None) -> BreakdownEstimate:
    """Measure phi = P(keep | y' = y) and psi = P(keep | y' != y) on labelled data and return
    p* = phi / (phi + psi) [D]. A rate with no labelled example of its kind is NaN (and so is p*).

    x: (n, d); y_true, y_synth: (n,) in {-1, +1}; ``verifier`` has ``accept(x, y', y_true=, rng=)``.
    """
    y_true, y_synth = _labels("y_true", y_true), _labels("y_synth", y_synth)
    if y_true.shape != y_synth.shape:
        raise ValueError("`y_true` and `y_synth` must have the same length")
    keep = np.asarray(verifier.accept(x, y_synth, y_true=y_true, rng=as_rng(rng)), dtype=bool)
    correct = y_synth == y_true
    nc, nw = int(correct.sum()), int((~correct).sum())
    phi = float(keep[correct].mean()) if nc else float("nan")
    psi = float(keep[~correct].mean()) if nw else float("nan")
    p_star = phi / (phi + psi) if (phi + psi) > 0 else float("nan")
    return BreakdownEstimate(p_star, phi, psi, nc, nw)
