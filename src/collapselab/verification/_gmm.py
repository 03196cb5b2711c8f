"""Gaussian-mixture theory of verified synthetic data (Feng et al. 2024, arXiv 2406.07515, Sec. 4).

Data model [V: `elfirdoussilab1/Synthetic-data`, notes A.2]: labels y in {-1, +1} with equal
probability, features x = y mu + z with z ~ N(0, Sigma). A generator labels x with y'; a verifier keeps
the pair (x, y') or drops it; a linear classifier is retrained on the kept pairs.

For an x-independent pruner that keeps a correct label with probability phi and a wrong one with
probability psi, the kept labels carry noise p' = p psi / (p psi + (1 - p) phi) [D]. The population
least-squares (or logistic) direction on the kept data is (1 - 2 p') Sigma^-1 mu [D], hence the sharp
transition at the breakdown point p* = phi / (phi + psi) [D; matches the follow-up's `eps_crit`].
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_array, check_int, check_real


def _check_mu_sigma(mu, sigma) -> tuple[np.ndarray, np.ndarray]:
    mu = check_array("mu", mu, ndim=1)
    d = mu.shape[0]
    if sigma is None:
        return mu, np.eye(d)
    sigma = check_array("sigma", sigma, ndim=2)
    if sigma.shape != (d, d):
        raise ValueError(f"`sigma` must have shape ({d}, {d}) to match `mu`, got {sigma.shape}")
    if not np.allclose(sigma, sigma.T):
        raise ValueError("`sigma` must be symmetric")
    if np.linalg.eigvalsh(sigma).min() <= 0:
        raise ValueError("`sigma` must be positive definite")
    return mu, sigma


def _check_rates(phi, psi) -> tuple[float, float]:
    phi = check_real("phi", phi, low=0.0, high=1.0)
    psi = check_real("psi", psi, low=0.0, high=1.0)
    if phi + psi == 0:
        raise ValueError("`phi` and `psi` cannot both be 0 (the verifier would keep nothing)")
    return phi, psi


def sample_mixture(n: int, mu, sigma=None, *, rng: SeedLike = None) -> tuple[np.ndarray, np.ndarray]:
    """n draws of the symmetric mixture: y uniform on {-1, +1}, x = y mu + z, z ~ N(0, sigma).

    Returns x of shape (n, d) float64 and y of shape (n,) int64 in {-1, +1}. ``sigma=None`` is I_d.
    """
    n = check_int("n", n, low=0)
    mu, sigma = _check_mu_sigma(mu, sigma)
    rng = as_rng(rng)
    y = np.where(rng.random(n) < 0.5, -1, 1).astype(np.int64)
    z = rng.standard_normal((n, mu.shape[0])) @ np.linalg.cholesky(sigma).T  # (n, d), cov sigma
    return y[:, None] * mu[None, :] + z, y


def bayes_accuracy(mu, sigma=None) -> float:
    """Bayes-optimal accuracy Phi(sqrt(mu' Sigma^-1 mu)) of the symmetric mixture [D]."""
    mu, sigma = _check_mu_sigma(mu, sigma)
    return float(ndtr(np.sqrt(mu @ np.linalg.solve(sigma, mu))))


def linear_accuracy(w, b: float, mu, sigma=None) -> float:
    """Exact accuracy of sign(w.x + b) on the mixture [D]:

    1/2 [Phi((w.mu + b) / s) + Phi((w.mu - b) / s)], s = sqrt(w' Sigma w). A zero ``w`` scores 1/2
    (a constant classifier is right on one class only).
    """
    mu, sigma = _check_mu_sigma(mu, sigma)
    w = check_array("w", w, ndim=1)
    if w.shape != mu.shape:
        raise ValueError(f"`w` must have shape {mu.shape}, got {w.shape}")
    b = check_real("b", b)
    s = float(np.sqrt(w @ sigma @ w))
    if s == 0.0:
        return 0.5
    m = float(w @ mu)
    return float(0.5 * (ndtr((m + b) / s) + ndtr((m - b) / s)))


def kept_label_noise(p: float, phi: float, psi: float) -> float:
    """Label noise among the kept pairs, p' = p psi / (p psi + (1 - p) phi) [D].

    p: the generator's flip probability; phi, psi: keep rates of correct and wrong labels.
    """
    p = check_real("p", p, low=0.0, high=1.0)
    phi, psi = _check_rates(phi, psi)
    kept = p * psi + (1 - p) * phi
    if kept == 0:
        raise ValueError("nothing is kept at this (`p`, `phi`, `psi`): p' is undefined")
    return p * psi / kept


def breakdown_point(phi: float, psi: float) -> float:
    """The breakdown point p* = phi / (phi + psi) (Feng et al. Sec. 4; [D], see module docstring).

    The kept noise p' is below 1/2 iff p < p*. Limits: an oracle (psi = 0) gives p* = 1; no
    selection (phi = psi) gives p* = 1/2; a verifier worse than chance (psi > phi) gives p* < 1/2.
    """
    phi, psi = _check_rates(phi, psi)
    return phi / (phi + psi)


def limit_accuracy(mu, sigma, p: float, phi: float, psi: float) -> float:
    """Accuracy, as N -> infinity, of a linear classifier retrained on pruned synthetic labels [D].

    Phi(sqrt(mu' Sigma^-1 mu)) (Bayes) when p < p*, its complement when p > p*, and 1/2 at p = p*
    (the direction is then pure noise, symmetric in sign). Label flips with probability p independent
    of x; x-independent pruner (phi, psi). Monte Carlo twin:
    :func:`collapselab.verification.limit_accuracy_mc`.
    """
    p = check_real("p", p, low=0.0, high=1.0)
    p_star = breakdown_point(phi, psi)
    bayes = bayes_accuracy(mu, sigma)
    if np.isclose(p, p_star, rtol=0, atol=1e-12):
        return 0.5
    return bayes if p < p_star else 1.0 - bayes
