"""Mitigations of strong collapse (paper 1, Section 5): weighted ERM and iterative mixing (Monte Carlo).

Same setting as :mod:`collapselab.regression._mixture` (x ~ N(0, diag(eigs)), real labels x.w1 + e,
synthetic x.w2 + e, error ``||w_hat - w1||_Sigma^2``). Both simulations draw the sufficient statistics
(X'X, X'e) of each group through the Bartlett decomposition, exactly in law, so their cost does not grow
with n; every group must therefore hold at least d samples.

* Weighted ERM (Jain et al. 2024; paper Corollary 2) [V claim]:
  ``w_a = argmin (1/n) [sum_real (x.w - y)^2 + a sum_synth (x.w - y)^2] + lam ||w||^2``;
  the best weight a -> 0 as n grows (asymptotically, discard synthetic data).
* Iterative mixing (Ferbach et al. 2024; paper Corollary 3, Fig. 10) [V claim]: a fixed real half
  (n1 = n/2 samples) and, at each of T iterations, n2 = n - n1 fresh inputs labelled by the current model
  (x.w_{t-1} + e), starting from the synthetic labeller w_0 = w2; least squares on the union gives w_t.
"""

from __future__ import annotations

import numpy as np

from collapselab._rng import as_rng
from collapselab._validation import check_array, check_int
from collapselab.regression._mixture import _check_common
from collapselab.regression._wishart import gaussian_sufficient_stats
from collapselab.stats import MCEstimate, mean_se


def _stats(rng: np.random.Generator, n_k: int, d: int, noise_std: float) -> tuple[np.ndarray, np.ndarray]:
    return gaussian_sufficient_stats(rng, n_k, d, noise_std)  # Z'Z, Z'e in law (whitened coordinates)


def _mc(vals: np.ndarray) -> MCEstimate:
    return mean_se(vals)


def simulate_weighted_mixture(eigs, w1, w2, n: int, p2: float, weights, lam: float, noise_std: float, *,
                              reps: int = 100, rng=None) -> list[MCEstimate]:
    """Monte Carlo test error of weighted ERM for each synthetic weight a in ``weights`` (paired draws).

    In whitened coordinates v = Sigma^{1/2}(w_a - w1):
    ``(W1 + a W2 + n lam Sigma^{-1}) v = a W2 Sigma^{1/2} delta + g1 + a g2 - n lam Sigma^{-1/2} w1``,
    W_k = Z_k'Z_k, g_k = Z_k'e_k. All weights share every draw, so differences between weights (and the
    arg-min) carry little Monte Carlo noise. Needs n1 >= d and n2 >= d (n2 = round(p2 n)).
    """
    eigs, w1, w2, p2, lam, noise_std = _check_common(eigs, w1, w2, p2, lam, noise_std)
    n = check_int("n", n, low=1)
    weights = check_array("weights", weights, ndim=1, nonnegative=True)
    reps = check_int("reps", reps, low=2)
    d = eigs.size
    n2 = int(round(p2 * n))
    n1 = n - n2
    if min(n1, n2) < d:
        raise ValueError(f"`n` = {n} with `p2` = {p2} gives groups of {n1} and {n2} samples; "
                         f"each needs >= d = {d}")
    rng = as_rng(rng)
    sq = np.sqrt(eigs)
    ridge = np.diag(n * lam / eigs) if lam > 0 else 0.0
    pull = n * lam * w1 / sq if lam > 0 else 0.0
    out = np.empty((reps, weights.size))
    for r in range(reps):
        W1, g1 = _stats(rng, n1, d, noise_std)
        W2, g2 = _stats(rng, n2, d, noise_std)
        h = W2 @ (sq * (w2 - w1))
        for k, a in enumerate(weights):
            v = np.linalg.solve(W1 + a * W2 + ridge, a * h + g1 + a * g2 - pull)
            out[r, k] = v @ v
    return [_mc(out[:, k]) for k in range(weights.size)]


def simulate_iterative_mixing(eigs, w1, w2, n: int, iterations: int, noise_std: float, *, reps: int = 100,
                              rng=None) -> tuple[MCEstimate, MCEstimate, MCEstimate]:
    """Monte Carlo of iterative mixing against training on the real half alone (paired draws).

    Returns (E_iterative, E_real_half, E_iterative - E_real_half). Whitened recursion with the real
    half's statistics (W1, g1) fixed and fresh synthetic statistics (W2_t, g2_t) at each iteration:
    ``v_t = (W1 + W2_t)^{-1} (W2_t v_{t-1} + g1 + g2_t)``, v_0 = Sigma^{1/2}(w2 - w1); the real-half
    estimator is ``v_R = W1^{-1} g1`` (least squares on the same n1 = n // 2 real samples).
    """
    eigs, w1, w2, _, _, noise_std = _check_common(eigs, w1, w2, 0.0, 0.0, noise_std)
    n = check_int("n", n, low=1)
    iterations = check_int("iterations", iterations, low=1)
    reps = check_int("reps", reps, low=2)
    d = eigs.size
    n1 = n // 2
    n2 = n - n1
    if n1 < d:
        raise ValueError(f"`n` = {n} gives a real half of {n1} samples; it needs >= d = {d}")
    rng = as_rng(rng)
    v0 = np.sqrt(eigs) * (w2 - w1)
    out = np.empty((reps, 2))
    for r in range(reps):
        W1, g1 = _stats(rng, n1, d, noise_std)
        v = v0
        for _ in range(iterations):
            W2, g2 = _stats(rng, n2, d, noise_std)
            v = np.linalg.solve(W1 + W2, W2 @ v + g1 + g2)
        vr = np.linalg.solve(W1, g1)
        out[r] = v @ v, vr @ vr
    return _mc(out[:, 0]), _mc(out[:, 1]), _mc(out[:, 0] - out[:, 1])
