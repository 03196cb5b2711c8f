"""Ridge regression on a mixture of real and synthetic labels (paper 1, "Strong Model Collapse").

Setting (notes_collapse_theory.md §2.2), in the eigenbasis of the covariance:

* x ~ N(0, Sigma), Sigma = diag(eigs) (d,); vectors are coefficients in that basis;
* n samples, n2 = round(p2 n) of them synthetic, n1 = n - n2 real;
* real labels y = x.w1 + e, synthetic labels y = x.w2 + e, e ~ N(0, noise_std^2);
* ridge w_hat = argmin (1/n) ||X w - y||^2 + lam ||w||^2; lam = 0 means least squares when n > d and
  the min-norm interpolator X^+ y when n < d;
* test error against the *real* labeller, noise floor excluded: E = (w_hat - w1)' Sigma (w_hat - w1);
* quality of the synthetic labeller c^2 = ||w2 - w1||_Sigma^2 (its own excess test error).

Each closed form here has a Monte Carlo twin with the same arguments plus ``reps`` and ``rng``.
"""

from __future__ import annotations

import numpy as np

from collapselab._rng import as_rng
from collapselab._validation import check_array, check_choice, check_int, check_real
from collapselab.regression._spectrum import check_eigs
from collapselab.regression._wishart import gaussian_sufficient_stats
from collapselab.stats import mean_se

# ----------------------------------------------------------------------------- validation helpers


def _check_vec(name: str, value, d: int) -> np.ndarray:
    arr = check_array(name, value, ndim=1)
    if arr.shape[0] != d:
        raise ValueError(f"`{name}` must have the same length as `eigs` ({d}), got {arr.shape[0]}")
    return arr


def _check_n(n) -> np.ndarray:
    arr = np.asarray(n, dtype=np.float64)
    if arr.ndim > 1 or arr.size == 0:
        raise ValueError(f"`n` must be a positive number or a 1-D array of them, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)) or not np.all(arr > 0):
        raise ValueError(f"`n` must be strictly positive and finite, got {n!r}")
    return arr


def _check_common(eigs, w1, w2, p2, lam, noise_std):
    eigs = check_eigs(eigs)
    w1 = _check_vec("w1", w1, eigs.size)
    w2 = _check_vec("w2", w2, eigs.size)
    p2 = check_real("p2", p2, low=0.0, high=1.0)
    lam = check_real("lam", lam, low=0.0)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    return eigs, w1, w2, p2, lam, noise_std


# ----------------------------------------------------------------------------- isotropic closed form


def isotropic_mixture_error(d: int, n, p2: float, c2: float, noise_std: float):
    r"""Test error of least squares on the mixture, isotropic features, n > d.   [D, notes §2.3(i)]

    ``E = (noise_std^2 + p1 p2 c2) phi / (1 - phi) + p2^2 c2``,  phi = d / n,  p1 = 1 - p2.

    The paper's Corollary 1 gives the leading terms ``sigma^2 d/n + p2^2 c^2`` [V]; the exact
    proportional-limit form above is derived in the notes and checked by
    :func:`simulate_isotropic_mixture`. Limits: p2 = 0 gives the clean ``sigma^2 d/(n-d)``;
    n -> inf leaves the floor ``p2^2 c2`` (strong collapse); n -> d+ diverges. Finite-sample note:
    the exact clean variance is ``sigma^2 d/(n-d-1)``, so the formula is within ~1/(n-d) relative.

    n: a number or an array of numbers, all > d. Returns a float or an array like ``n``.
    """
    d = check_int("d", d, low=1)
    n_arr = _check_n(n)
    if np.any(n_arr <= d):
        raise ValueError(f"`n` must exceed `d` = {d} for the least-squares closed form, got {n!r}")
    p2 = check_real("p2", p2, low=0.0, high=1.0)
    c2 = check_real("c2", c2, low=0.0)
    noise_std = check_real("noise_std", noise_std, low=0.0)
    phi = d / n_arr
    out = (noise_std**2 + (1.0 - p2) * p2 * c2) * phi / (1.0 - phi) + p2**2 * c2
    return float(out) if np.ndim(n) == 0 else out


def isotropic_targets(d: int, c2: float, *, w1_norm: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic (w1, w2) with ||w1|| = w1_norm, ||w2 - w1||^2 = c2, w2 - w1 orthogonal to w1.

    Used by the isotropic twin; for Sigma = I the least-squares error depends on them only through c2.
    """
    d = check_int("d", d, low=1)
    c2 = check_real("c2", c2, low=0.0)
    w1 = np.zeros(d)
    w1[0] = w1_norm
    delta = np.zeros(d)
    delta[1 % d] = np.sqrt(c2)
    if d == 1:  # no room for an orthogonal shift
        delta[0] = np.sqrt(c2)
    return w1, w1 + delta


def simulate_isotropic_mixture(d: int, n, p2: float, c2: float, noise_std: float, *, reps: int = 100,
                               rng=None):
    """Monte Carlo twin of :func:`isotropic_mixture_error` (min-norm least squares, Sigma = I).

    ``n2 = round(p2 n)`` samples are synthetic. Returns an :class:`MCEstimate`, or a list of them
    when ``n`` is an array.
    """
    d = check_int("d", d, low=1)
    c2 = check_real("c2", c2, low=0.0)
    w1, w2 = isotropic_targets(d, c2)
    return simulate_mixture_ridge(np.ones(d), w1, w2, n, p2, 0.0, noise_std, reps=reps, rng=rng)


# ----------------------------------------------------------------------------- general deterministic equiv.


def _kappas(eigs: np.ndarray, lam: float, n: np.ndarray) -> np.ndarray:
    """kappa(lam, n) for every n at once (same root as :func:`effective_regularization`).

    f(kappa) = kappa - lam - kappa df_1(kappa)/n is convex with f' = 1 - df_2/n, and positive to the
    right of the wanted root (f(lam + tr/n) >= 0); Newton started right of the root therefore decreases
    monotonically onto it. Start: the smallest point of a log grid where f >= 0. lam = 0 and n >= d give 0.
    """
    d = eigs.size
    out = np.zeros(n.shape)
    todo = (n < d) if lam == 0 else np.ones(n.shape, bool)
    if not np.any(todo):
        return out
    nn = n[todo]
    trace = float(eigs.sum())
    hi = trace / nn.min() * 1.01
    lo = min(trace / nn.max(), float(eigs.min())) * 1e-10
    grid = lam + np.geomspace(lo, hi, 96)  # (g,)
    df1_grid = np.sum(eigs / (eigs + grid[:, None]), axis=1)  # (g,)
    f_grid = grid[:, None] - lam - grid[:, None] * df1_grid[:, None] / nn  # (g, k)
    first = np.argmax(f_grid >= 0, axis=0)  # smallest grid index with f >= 0 (the top always is)
    kappa = grid[first]
    active = np.ones(kappa.shape, bool)
    for _ in range(100):
        r = eigs / (eigs + kappa[active, None])  # (k_active, d)
        ka, na = kappa[active], nn[active]
        f = ka - lam - ka * r.sum(axis=1) / na
        step = f / (1.0 - np.sum(r**2, axis=1) / na)
        kappa[active] = np.maximum(ka - step, lam + 0.5 * (ka - lam))  # guard: never jump left of lam
        active[active] = step > 1e-13 * ka  # converged (or rounding noise: step <= 0)
        if not np.any(active):
            break
    out[todo] = kappa
    return out


def mixture_ridge_error(eigs, w1, w2, n, p2: float, lam: float, noise_std: float):
    r"""Deterministic equivalent of the mixture ridge test error E.   [D, notes §2.3(ii)]

    With delta = w2 - w1, c2 = ||delta||_Sigma^2, the blended target wbar = w1 + p2 delta, kappa the
    root of ``kappa - lam = kappa df_1(kappa) / n`` (:func:`effective_regularization`),
    ``A = kappa (Sigma + kappa I)^{-1}`` and ``df_2 = tr[Sigma^2 (Sigma + kappa I)^{-2}]``::

        E = ||p2 delta - A wbar||_Sigma^2
            + (wbar' A Sigma A wbar + noise_std^2 + p1 p2 c2) * df_2 / (n - df_2)

    Reading: ridge on the mixture is ridge on the target wbar with the noise inflated by the label
    misspecification p1 p2 c2; the error is measured against w1. Regimes:

    * lam > 0, any n; lam = 0 and n > d (kappa = 0): ``(s^2 + p1 p2 c2) d/(n-d) + p2^2 c2``, which is
      Sigma-free and equals :func:`isotropic_mixture_error`;
    * lam = 0 and n < d: the ridgeless limit (min-norm interpolator), kappa > 0 solves df_1(kappa) = n;
      lam = 0 and n = d: +inf (interpolation peak);
    * p2 = 0: the classical ridge bias + variance; n -> inf at fixed lam > 0: the floor
      ``||p2 delta - lam (Sigma + lam I)^{-1} wbar||_Sigma^2``.

    n may be an array (vectorised). Checked against :func:`simulate_mixture_ridge`.
    """
    eigs, w1, w2, p2, lam, noise_std = _check_common(eigs, w1, w2, p2, lam, noise_std)
    n_arr = np.atleast_1d(_check_n(n))
    delta = w2 - w1
    c2 = float(np.sum(eigs * delta**2))
    wbar = w1 + p2 * delta
    misspec = noise_std**2 + (1.0 - p2) * p2 * c2
    kappa = _kappas(eigs, lam, n_arr)[:, None]  # (k, 1)
    a = kappa / (eigs + kappa)  # (k, d): diagonal of A for each n
    df2 = np.sum((1.0 - a) ** 2, axis=1)  # lambda_j / (lambda_j + kappa) = 1 - a
    mean_term = np.sum(eigs * (p2 * delta - a * wbar) ** 2, axis=1)
    bias_spread = np.sum(eigs * (a * wbar) ** 2, axis=1)
    gap = n_arr - df2
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.where(gap > 1e-12 * n_arr, mean_term + (bias_spread + misspec) * df2 / gap, np.inf)
    return float(out[0]) if np.ndim(n) == 0 else out


# ----------------------------------------------------------------------------- Monte Carlo twin


def _group_stats(rng, n_k: int, d: int, noise_std: float, direct: bool):
    """(W_k, g_k) with W_k = Z_k'Z_k and g_k = Z_k'e_k in whitened coordinates, exact in law."""
    if n_k == 0:
        return np.zeros((d, d)), np.zeros(d)
    if direct or n_k < d:
        Z = rng.standard_normal((n_k, d))
        e = noise_std * rng.standard_normal(n_k)
        return Z.T @ Z, Z.T @ e
    return gaussian_sufficient_stats(rng, n_k, d, noise_std)


def _one_rep(rng, eigs, sq, w1, delta, n1, n2, lam, noise_std, direct) -> float:
    d = eigs.size
    n = n1 + n2
    if n < d:
        # min-norm / ridge through the dual (n x n) in the original coordinates
        Z = rng.standard_normal((n, d))
        X = Z * sq  # (n, d), rows ~ N(0, Sigma)
        resid = noise_std * rng.standard_normal(n)  # y - X w1
        resid[n1:] += X[n1:] @ delta  # synthetic rows
        K = X @ X.T + n * lam * np.eye(n)
        u = X.T @ np.linalg.solve(K, resid) - _ridge_pull(X, K, w1)
        return float(np.sum(eigs * u**2))
    # whitened coordinates v = Sigma^{1/2} (w_hat - w1):
    # (W + n lam Sigma^{-1}) v = W2 Sigma^{1/2} delta + g1 + g2 - n lam Sigma^{-1/2} w1
    W1, g1 = _group_stats(rng, n1, d, noise_std, direct)
    W2, g2 = _group_stats(rng, n2, d, noise_std, direct)
    M = W1 + W2
    rhs = W2 @ (sq * delta) + g1 + g2
    if lam > 0:
        M = M + np.diag(n * lam / eigs)
        rhs = rhs - n * lam * w1 / sq
    v = np.linalg.solve(M, rhs)
    return float(v @ v)


def _ridge_pull(X: np.ndarray, K: np.ndarray, w1: np.ndarray) -> np.ndarray:
    """(I - X'(XX' + n lam)^{-1} X) w1: the part of w1 the (dual) ridge / min-norm fit misses."""
    return w1 - X.T @ np.linalg.solve(K, X @ w1)


def simulate_mixture_ridge(eigs, w1, w2, n, p2: float, lam: float, noise_std: float, *, reps: int = 100,
                           rng=None, method: str = "auto"):
    """Monte Carlo twin of :func:`mixture_ridge_error`: real samples, the real ridge estimator.

    Each replicate draws n Gaussian samples (``n2 = round(p2 n)`` synthetic), fits ridge / min-norm
    least squares and measures ``(w_hat - w1)' Sigma (w_hat - w1)``. ``method="auto"`` uses, for a
    group of n_k >= d samples, its sufficient statistics X'X, X'e drawn through the Bartlett
    decomposition (exactly the same law as drawing the n_k rows; the cost is then independent of n,
    so n = 10^8 is as cheap as n = 10^3); ``method="direct"`` always draws the rows.

    Returns a :class:`collapselab.stats.MCEstimate` (mean, se, n = reps), or a list of them when ``n`` is an array.
    """
    eigs, w1, w2, p2, lam, noise_std = _check_common(eigs, w1, w2, p2, lam, noise_std)
    reps = check_int("reps", reps, low=2)
    method = check_choice("method", method, ("auto", "direct"))
    n_arr = np.atleast_1d(_check_n(n))
    if np.any(n_arr != np.round(n_arr)):
        raise ValueError(f"`n` must be integer-valued for a simulation, got {n!r}")
    rng = as_rng(rng)
    sq = np.sqrt(eigs)
    delta = w2 - w1
    results = []
    for ni in n_arr.astype(np.int64):
        n2 = int(round(p2 * int(ni)))
        n1 = int(ni) - n2
        vals = np.array([_one_rep(rng, eigs, sq, w1, delta, n1, n2, lam, noise_std, method == "direct")
                         for _ in range(reps)])
        results.append(mean_se(vals))
    return results[0] if np.ndim(n) == 0 else results
