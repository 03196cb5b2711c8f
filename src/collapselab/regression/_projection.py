"""Random-projection model on the real/synthetic mixture (paper 1, Section 2.2 Eq. 5; model size m).

Model: f(x) = v.(S x) with S (m, d) fixed, i.i.d. N(0, 1/d) entries; v fitted by ridge on z = S x,
``v_hat = argmin (1/n) ||Z v - y||^2 + lam ||v||^2`` (min-norm when lam = 0). Width m plays model size;
psi = m / n, interpolation threshold m = n. Data, labels and test error as in
:mod:`collapselab.regression._mixture`: ``E = E_x (x.(S' v_hat) - x.w1)^2`` (noise floor excluded).

Reduction used by the theory [D, notes §2.3(iii)]. Given S, write Sigma_S = S Sigma S' (m, m) and
theta_k = Sigma_S^+ S Sigma w_k (the best linear predictor of x.w_k from z). For Gaussian x the
residual x.w_k - z.theta_k is Gaussian, independent of z, with variance
A_k = ||w_k||_Sigma^2 - ||theta_k||_{Sigma_S}^2.
So, given S, the problem is *exactly* the mixture ridge problem in the (rank of Sigma_S)-dimensional
eigenbasis of Sigma_S, with targets theta_1, theta_2, label noise ``noise_std^2 + p1 A1 + p2 A2``, and the
test error is that problem's error plus A1.
"""

from __future__ import annotations

import numpy as np

from collapselab._rng import as_rng
from collapselab._validation import check_int
from collapselab.regression._mixture import _check_common, mixture_ridge_error
from collapselab.stats import MCEstimate, mean_se


def _draw_s(rng: np.random.Generator, m: int, d: int) -> np.ndarray:
    return rng.standard_normal((m, d)) / np.sqrt(d)  # (m, d), entries N(0, 1/d)


def projected_problem(eigs, w1, w2, S) -> tuple[np.ndarray, np.ndarray, np.ndarray, float, float]:
    """The m-dimensional problem seen through S: ``(eigs_S, t1, t2, A1, A2)``.

    eigs_S (r,): the positive eigenvalues of Sigma_S = S Sigma S' (r = its rank); t_k: theta_k in that
    eigenbasis; A_k: approximation errors ``||w_k||_Sigma^2 - ||theta_k||_{Sigma_S}^2``.
    """
    sq = np.sqrt(eigs)
    B = S * sq  # (m, d) = S Sigma^{1/2}
    _, sv, vt = np.linalg.svd(B, full_matrices=False)  # B = U diag(sv) Vt
    keep = sv > sv.max() * 1e-10 if sv.size else np.zeros(0, bool)
    sv, vt = sv[keep], vt[keep]
    out = []
    for w in (w1, w2):
        proj = vt @ (sq * w)  # (r,) = Vt Sigma^{1/2} w
        out.append((proj / sv, float(np.sum(eigs * w**2) - proj @ proj)))
    (t1, a1), (t2, a2) = out
    return sv**2, t1, t2, max(a1, 0.0), max(a2, 0.0)


def _check_rp(eigs, w1, w2, n, p2, m, lam, noise_std):
    eigs, w1, w2, p2, lam, noise_std = _check_common(eigs, w1, w2, p2, lam, noise_std)
    n = check_int("n", n, low=1)
    m = check_int("m", m, low=1)
    return eigs, w1, w2, n, p2, m, lam, noise_std


def random_projection_mixture_error(eigs, w1, w2, n: int, p2: float, m: int, lam: float, noise_std: float,
                                    *, rng=None, draws: int = 8) -> float:
    r"""Semi-analytic test error of the random-projection model on the mixture.   [D, notes §2.3(iii)]

    For each of ``draws`` independent draws of S: reduce to the m-dimensional mixture problem (module
    docstring) and evaluate its deterministic equivalent :func:`mixture_ridge_error`, then add A1::

        E(S) = mixture_ridge_error(eig(Sigma_S), theta_1, theta_2, n, p2, lam,
                                   sqrt(noise_std^2 + p1 A1 + p2 A2)) + A1

    and return the average over the draws (semi-analytic: the only randomness left is S; the average
    over S is by Monte Carlo, the average over the n samples is analytic). The same ``rng`` seed gives
    the same S draws, so E_mixed - E_clean computed with one seed is a paired difference.
    lam = 0 and rank(Sigma_S) = n (m = n <= d) gives +inf (interpolation peak).
    Checked against :func:`simulate_random_projection_mixture`.
    """
    eigs, w1, w2, n, p2, m, lam, noise_std = _check_rp(eigs, w1, w2, n, p2, m, lam, noise_std)
    draws = check_int("draws", draws, low=1)
    rng = as_rng(rng)
    vals = []
    for _ in range(draws):
        eigs_s, t1, t2, a1, a2 = projected_problem(eigs, w1, w2, _draw_s(rng, m, eigs.size))
        noise = np.sqrt(noise_std**2 + (1.0 - p2) * a1 + p2 * a2)
        vals.append(mixture_ridge_error(eigs_s, t1, t2, n, p2, lam, noise) + a1)
    return float(np.mean(vals))


def _rp_errors(eigs, w1, w2, n: int, p2s: list[float], m: int, lam: float, noise_std: float, reps: int,
               rng: np.random.Generator) -> np.ndarray:
    """Errors (reps, len(p2s)) from shared draws of S, x and e (only the labels depend on p2)."""
    d = eigs.size
    sq = np.sqrt(eigs)
    delta = w2 - w1
    out = np.empty((reps, len(p2s)))
    for r in range(reps):
        S = _draw_s(rng, m, d)
        X = rng.standard_normal((n, d)) * sq  # (n, d)
        y0 = X @ w1 + noise_std * rng.standard_normal(n)
        shift = X @ delta
        Z = X @ S.T  # (n, m)
        primal = m <= n
        G = Z.T @ Z + n * lam * np.eye(m) if primal else Z @ Z.T + n * lam * np.eye(n)
        for k, p2 in enumerate(p2s):
            n2 = int(round(p2 * n))
            y = y0.copy()
            if n2:
                y[n - n2:] += shift[n - n2:]  # the last n2 samples are synthetic
            rhs = Z.T @ y if primal else y
            sol = np.linalg.lstsq(G, rhs, rcond=None)[0] if lam == 0 else np.linalg.solve(G, rhs)
            v = sol if primal else Z.T @ sol  # min-norm / ridge solution in feature space
            u = S.T @ v - w1
            out[r, k] = float(np.sum(eigs * u**2))
    return out


def simulate_random_projection_mixture(eigs, w1, w2, n: int, p2: float, m: int, lam: float,
                                       noise_std: float, *, reps: int = 100, rng=None) -> MCEstimate:
    """Monte Carlo twin of :func:`random_projection_mixture_error`.

    Each replicate draws S, n Gaussian samples x ~ N(0, Sigma) (the last ``round(p2 n)`` labelled by w2),
    fits v on z = S x by ridge (primal when m <= n, dual otherwise; min-norm at lam = 0) and measures the
    exact population error ``||S' v_hat - w1||_Sigma^2``.
    """
    eigs, w1, w2, n, p2, m, lam, noise_std = _check_rp(eigs, w1, w2, n, p2, m, lam, noise_std)
    reps = check_int("reps", reps, low=2)
    vals = _rp_errors(eigs, w1, w2, n, [p2], m, lam, noise_std, reps, as_rng(rng))[:, 0]
    return mean_se(vals)


def simulate_random_projection_gap(eigs, w1, w2, n: int, p2: float, m: int, lam: float, noise_std: float,
                                   *, reps: int = 100, rng=None) -> tuple[MCEstimate, MCEstimate, MCEstimate]:
    """Paired Monte Carlo of (E_mixed, E_clean, zeta = E_mixed - E_clean) for the random-projection model.

    E_clean trains on n real samples; both fits share S, x and e in every replicate, so the standard
    error of zeta is that of the paired differences (much smaller than of either error).
    Twin of ``random_projection_mixture_error(..p2..) - random_projection_mixture_error(..0..)`` with
    one seed.
    """
    eigs, w1, w2, n, p2, m, lam, noise_std = _check_rp(eigs, w1, w2, n, p2, m, lam, noise_std)
    reps = check_int("reps", reps, low=2)
    vals = _rp_errors(eigs, w1, w2, n, [p2, 0.0], m, lam, noise_std, reps, as_rng(rng))
    cols = (vals[:, 0], vals[:, 1], vals[:, 0] - vals[:, 1])
    return tuple(mean_se(c) for c in cols)
