"""Recursive training on own-model data: the test error of ridge after n generations of fake labels.

Paper: Dohmatob, Feng & Kempe, *Model Collapse Demystified: The Case of Regression* (arXiv 2402.07712),
notes_collapse_theory.md §1; the "accumulate" strategy is Gerstgrasser et al. (arXiv 2404.01413), notes §5.

Setup (everything in the eigenbasis of Sigma = diag(eigs), so w0 is a coefficient vector):

* generation 0 is the true labeller, w_0 = w0;
* generation k fits least squares (the min-norm solution when the system is under-determined) on T0
  fresh rows x ~ N(0, Sigma) labelled by generation k-1 plus N(0, sigma0^2) noise. ``"replace"`` fits on
  generation k's T0 rows only; ``"accumulate"`` fits on all k*T0 rows of generations 1..k, each row
  keeping the label it was given when it was drawn;
* the downstream model fits ridge ``(X'X/T + lam I)^{-1} X'Y/T`` on T fresh rows labelled by generation n
  plus N(0, sigma^2) noise (``T = inf``: the population ridge ``Sigma (Sigma + lam)^{-1} w_n``, so with
  ``lam = 0`` the error of generation n itself);
* test error ``E = E (w_pred - w0)' Sigma (w_pred - w0)`` (noise floor excluded).

Sign symmetry of Gaussian rows makes every moment the theory needs diagonal in the eigenbasis, so the
generation-n model enters only through m = E[w_n] and s = diag E[w_n w_n'] (per coordinate).
"""

from __future__ import annotations

import math

import numpy as np

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_array, check_choice, check_int, check_real
from collapselab.regression._spectrum import check_eigs, effective_regularization

STRATEGIES = ("replace", "accumulate")


# --------------------------------------------------------------------------------------------------
# validation


def _check_common(eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy):
    eigs = check_eigs(eigs)
    w0 = check_array("w0", w0, ndim=1)
    if w0.shape != eigs.shape:
        raise ValueError(f"`w0` must have the same length as `eigs` ({eigs.size}), got {w0.size}")
    T = _check_sample_size("T", T, allow_inf=True)
    T0 = check_int("T0", T0, low=1)
    generations = check_int("generations", generations, low=0)
    lam = check_real("lam", lam, low=0.0)
    sigma = check_real("sigma", sigma, low=0.0)
    sigma0 = check_real("sigma0", sigma0, low=0.0)
    strategy = check_choice("strategy", strategy, STRATEGIES)
    return eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy


def _check_sample_size(name: str, value, *, allow_inf: bool) -> float:
    if isinstance(value, (float, np.floating)) and not isinstance(value, bool):
        if allow_inf and math.isinf(value) and value > 0:
            return math.inf
        if math.isfinite(value) and float(value).is_integer():
            value = int(value)  # 200.0 is a sample size; 200.5 is not
    return float(check_int(name, value, low=1))


def _is_isotropic(eigs: np.ndarray) -> bool:
    return bool(np.all(np.abs(eigs - eigs[0]) <= 1e-12 * eigs[0]))


# --------------------------------------------------------------------------------------------------
# moments of one least-squares fit on N Gaussian rows (exact for isotropic Sigma or N > d)


def _ridgeless_kappa(eigs: np.ndarray, n: float) -> float:
    """kappa_0 with df_1(kappa_0) = n (n < d): the ridgeless effective regularisation."""
    return effective_regularization(eigs, 0.0, n)


def pinv_gram_diag(eigs: np.ndarray, n: int) -> np.ndarray:
    """diag E[(X'X)^+] for X (n, d) with rows N(0, diag(eigs)).   [D]

    * n >= d + 2: ``1 / (eigs (n - d - 1))`` (inverse-Wishart mean, exact).
    * n <= d - 2, isotropic (eigs = c): ``n / (c d (d - n - 1))`` (exact: E tr (XX')^{-1} = n/(c(d-n-1)),
      spread evenly by rotation invariance).
    * n <= d - 2, general spectrum: the ridgeless deterministic equivalent
      ``Sigma (Sigma + k0)^{-2} / (n - df_2(k0) - df_2(k0)/n)`` with df_1(k0) = n. The plain
      equivalent has ``n - df_2`` (asymptotic in n, d); the ``- df_2/n`` finite-size term makes it
      exact in the isotropic case (there ``df_2/n = n/d``) and cut its error against Monte Carlo from
      2-8% to 0-3% for power-law spectra at d = 30..200.
    * d - 1 <= n <= d + 1: infinite (the smallest singular value has no finite inverse moment).
    """
    d = eigs.size
    if n >= d + 2:
        return 1.0 / (eigs * (n - d - 1))
    if n >= d - 1:
        return np.full(d, math.inf)
    if _is_isotropic(eigs):
        return np.full(d, n / (eigs[0] * d * (d - n - 1)))
    k0 = _ridgeless_kappa(eigs, n)
    r = eigs / (eigs + k0)
    df2 = float(np.sum(r**2))
    return eigs / (eigs + k0) ** 2 / (n - df2 - df2 / n)


def _projection_moments(eigs: np.ndarray, n: int, m: np.ndarray, s: np.ndarray):
    """E[P u] and diag E[P u u' P] for P the projection on the row space of X (n, d), given
    m = E[u], s = diag E[u u'] (u independent of X).   [D]

    n >= d: P = I. n < d, isotropic: P is a uniform rank-n projection, E[P_ii] = n/d,
    E[P_ii^2] = n(n+2)/(d(d+2)), E[P_ij^2] = n(d-n)/(d(d-1)(d+2)) (exact). n < d, general: the
    deterministic equivalents E[P] = Sigma(Sigma + k0)^{-1} and
    E[(I-P) A (I-P)] = k0^2 (Sigma+k0)^{-1} A (Sigma+k0)^{-1} + k0^2 tr(A Sigma (Sigma+k0)^{-2})
    Sigma (Sigma+k0)^{-2} / (n - df_2(k0)), with df_1(k0) = n.
    """
    d = eigs.size
    if n >= d:
        return m.copy(), s.copy()
    if _is_isotropic(eigs):
        p = n / d
        k_diag = n * (n + 2) / (d * (d + 2))
        k_off = n * (d - n) / (d * (d - 1) * (d + 2)) if d > 1 else 0.0
        return p * m, (k_diag - k_off) * s + k_off * float(np.sum(s))
    k0 = _ridgeless_kappa(eigs, n)
    p = eigs / (eigs + k0)  # diag E[P]
    h = eigs / (eigs + k0) ** 2  # Sigma (Sigma + k0)^{-2}
    df2 = float(np.sum(p**2))
    # P = I - (I - P): E[P A P] = A - 2 sym(E[I-P] A) + E[(I-P) A (I-P)]; its diagonal is p^2 s + ...
    return p * m, p**2 * s + k0**2 * float(np.sum(h * s)) * h / (n - df2)


def _fit_step(eigs, n, noise_var, m, s):
    """One least-squares (min-norm) fit on n fresh rows labelled by u plus N(0, noise_var): moments."""
    m, s = _projection_moments(eigs, n, m, s)
    if noise_var > 0:
        s = s + noise_var * pinv_gram_diag(eigs, n)
    return m, s


# --------------------------------------------------------------------------------------------------
# the chain of generations


def generation_moments(eigs, w0, T0: int, generations: int, sigma0: float, *,
                       strategy: str = "replace") -> tuple[np.ndarray, np.ndarray]:
    """(E[w_n], diag E[w_n w_n']) of generation n, per eigen-coordinate.   [D]

    Replace: w_k = P_k w_{k-1} + X_k^+ E_k, so m_k = E[P] m_{k-1} and s_k follows
    :func:`_projection_moments` plus ``sigma0^2 diag E[(X'X)^+]``. For T0 > d, P = I: w_n - w0 is a
    sum of n independent zero-mean terms, ``Cov = n sigma0^2 Sigma^{-1}/(T0 - d - 1)``.

    Accumulate: with S_k = sum_{j<=k} X_j'X_j, the normal equations give
    ``S_k w_k = S_k w_{k-1} + X_k' E_k``, i.e. ``w_k = P_(k) w_{k-1} + S_k^+ X_k' E_k`` with nested row
    spaces, hence ``w_n = P_(1) w0 + sum_k S_k^+ X_k' E_k`` (uncorrelated terms). By exchangeability of
    the k batches, ``E[S_k^+ X_k'X_k S_k^+] = E[S_k^+]/k``, so
    ``Cov = sigma0^2 sum_{k=1}^n diag E[S_k^+]/k``, S_k a Wishart on k*T0 rows. For T0 > d + 1 this is
    ``sigma0^2 Sigma^{-1} sum_k 1/(k (k T0 - d - 1))``, exact; it is below Gerstgrasser et al.'s
    fixed-design value ``sigma0^2 Sigma^{-1}/(T0 - d - 1) sum_k 1/k^2 <= pi^2/6 * ...``.
    """
    eigs = check_eigs(eigs)
    w0 = check_array("w0", w0, ndim=1)
    T0 = check_int("T0", T0, low=1)
    generations = check_int("generations", generations, low=0)
    sigma0 = check_real("sigma0", sigma0, low=0.0)
    strategy = check_choice("strategy", strategy, STRATEGIES)
    return _generation_moments(eigs, w0, T0, generations, sigma0, strategy)


def _generation_moments(eigs, w0, T0, generations, sigma0, strategy):
    m, s = w0.copy(), w0**2
    if generations == 0:
        return m, s
    noise_var = sigma0**2
    if strategy == "replace":
        for _ in range(generations):
            m, s = _fit_step(eigs, T0, noise_var, m, s)
        return m, s
    m, s = _projection_moments(eigs, T0, m, s)  # P_(1) w0: later row spaces contain the first
    if noise_var > 0:
        for k in range(1, generations + 1):
            s = s + noise_var * pinv_gram_diag(eigs, k * T0) / k
    return m, s


# --------------------------------------------------------------------------------------------------
# the downstream ridge fit


def _downstream_error(eigs, w0, m, s, T, lam, sigma) -> float:
    """E over the downstream fit of (w_pred - w0)' Sigma (w_pred - w0), given m = E[u], s = diag E[uu'].

    lam = 0: one more least-squares fit (on T rows, noise sigma), exact wherever the chain's step is.
    lam > 0: the ridge deterministic equivalent (notes §1.3(ii)) with kappa = kappa(lam, T):
    ``kappa^2 sum lambda_j s_j/(lambda_j + kappa)^2 / (1 - df_2/T)  +  ||u - w0||_Sigma^2
    - 2 kappa sum lambda_j/(lambda_j + kappa) (s_j - w0_j m_j)  +  sigma^2 df_2/(T - df_2)``.
    With u = w0 + delta, delta ~ (0, c Sigma^{-1}) this is the notes' B + V + Delta_n.
    """
    if lam == 0.0:
        if math.isfinite(T):
            m, s = _fit_step(eigs, int(T), sigma**2, m, s)
        return float(np.sum(eigs * (s - 2 * w0 * m + w0**2)))
    if math.isinf(T):
        kappa, bias_inflation, variance = lam, 1.0, 0.0
    else:
        kappa = effective_regularization(eigs, lam, T)
        df2 = float(np.sum((eigs / (eigs + kappa)) ** 2))
        bias_inflation = 1.0 / (1.0 - df2 / T)
        variance = sigma**2 * df2 / (T - df2)
    shrink = eigs / (eigs + kappa)
    bias = kappa**2 * float(np.sum(eigs * s / (eigs + kappa) ** 2)) * bias_inflation
    distance = float(np.sum(eigs * (s - 2 * w0 * m + w0**2)))
    cross = -2.0 * kappa * float(np.sum(shrink * (s - w0 * m)))
    return bias + distance + cross + variance


def recursive_ridge_error(eigs, w0, T: float, T0: int, generations: int, lam: float, sigma: float,
                          sigma0: float, *, strategy: str = "replace") -> float:
    r"""Test error of the downstream ridge after ``generations`` rounds of fake labels.   [D]

    eigs: (d,) spectrum of Sigma; w0: (d,) true coefficients in Sigma's eigenbasis; T: downstream
    sample size (``math.inf``: the population ridge, so lam = 0 gives the error of generation n
    itself); T0: rows per generation; lam: downstream ridge penalty; sigma, sigma0: label-noise sd of the
    downstream and of the generations; strategy: ``"replace"`` (Dohmatob et al.) or ``"accumulate"``
    (Gerstgrasser et al.). Returns ``E = E (w_pred - w0)' Sigma (w_pred - w0)`` (``inf`` where a
    least-squares step on d-1..d+1 noisy rows makes it infinite).

    Exact (finite d, Gaussian rows) whenever lam = 0 and every fit sees more than d + 1 rows or the
    spectrum is isotropic:

    * replace, T0 > d + 1, T > d + 1: ``sigma^2 d/(T - d - 1) + n sigma0^2 d/(T0 - d - 1)`` (Thm. 4.1's
      unregularised case, linear in n);
    * accumulate, T0 > d + 1: ``sigma^2 d/(T - d - 1) + sigma0^2 d sum_{k<=n} 1/(k (k T0 - d - 1))``,
      bounded by ``sigma0^2 d/(T0 - d - 1) pi^2/6`` (Gerstgrasser et al.'s bound);
    * replace, T0 < d, sigma0 = 0, isotropic, T = inf: ``||w0||^2 c (1 - (T0/d)^n)`` (exponential
      collapse to the null predictor, §1.3(iii); c the common eigenvalue).

    Otherwise it is the random-matrix deterministic equivalent (asymptotic in d, T, T0; lam > 0 uses
    kappa(lam, T) of :func:`effective_regularization`; T0 < d with a general spectrum uses the ridgeless
    equivalents). Checked against :func:`simulate_recursive_ridge` in ``tests/regression``.
    """
    eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy = _check_common(
        eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy)
    m, s = _generation_moments(eigs, w0, T0, generations, sigma0, strategy)
    if not (np.all(np.isfinite(s))):
        return math.inf
    return _downstream_error(eigs, w0, m, s, T, lam, sigma)


# --------------------------------------------------------------------------------------------------
# Monte Carlo twin


def _lstsq(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Batched least squares, min-norm when under-determined. X: (b, N, d), y: (b, N) -> (b, d)."""
    n_rows, d = X.shape[1], X.shape[2]
    Xt = np.swapaxes(X, 1, 2)  # (b, d, N)
    if n_rows >= d:
        return np.linalg.solve(Xt @ X, (Xt @ y[..., None]))[..., 0]
    alpha = np.linalg.solve(X @ Xt, y[..., None])  # (b, N, 1): dual coefficients
    return (Xt @ alpha)[..., 0]


def _ridge(X: np.ndarray, y: np.ndarray, lam: float) -> np.ndarray:
    """Batched ridge (X'X/T + lam I)^{-1} X'y/T, primal or dual. X: (b, T, d), y: (b, T) -> (b, d)."""
    if lam == 0.0:
        return _lstsq(X, y)
    n_rows, d = X.shape[1], X.shape[2]
    Xt = np.swapaxes(X, 1, 2)
    if n_rows >= d:
        A = Xt @ X / n_rows + lam * np.eye(d)
        return np.linalg.solve(A, Xt @ y[..., None] / n_rows)[..., 0]
    A = X @ Xt / n_rows + lam * np.eye(n_rows)
    return (Xt @ np.linalg.solve(A, y[..., None]))[..., 0] / n_rows


def _ridge_from_gram(rng, b, n_rows, sqrt_eigs, u, lam, sigma):
    """Ridge on n_rows >= d Gaussian rows drawn through their sufficient statistics.

    With X = Z Sigma^{1/2}, Z'Z = L L' (Bartlett: L lower triangular, L_ii^2 ~ chi^2(n - i + 1),
    L_ij ~ N(0, 1) below the diagonal) and, given X, X'e ~ N(0, sigma^2 X'X), i.e. sigma Sigma^{1/2} L z.
    So (X'X, X'y) has exactly the law of the explicit draw at O(d^3) instead of O(n d^2) per chain.
    """
    d = sqrt_eigs.size
    L = _bartlett(rng, b, n_rows, d)  # (b, d, d)
    C = sqrt_eigs[None, :, None] * L  # Sigma^{1/2} L: C C' = X'X
    gram = C @ np.swapaxes(C, 1, 2)  # (b, d, d)
    xty = (gram @ u[..., None])[..., 0] + sigma * (C @ rng.standard_normal((b, d, 1)))[..., 0]
    if lam == 0.0:
        return np.linalg.solve(gram, xty[..., None])[..., 0]
    A = gram / n_rows + lam * np.eye(d)
    return np.linalg.solve(A, xty[..., None] / n_rows)[..., 0]


def _draw(rng, b, n_rows, sqrt_eigs):
    return rng.standard_normal((b, n_rows, sqrt_eigs.size)) * sqrt_eigs  # (b, N, d)


def _bartlett(rng, b, n_rows, d):
    """(b, d, d) lower-triangular Bartlett factors L of Z'Z ~ Wishart(n_rows, I_d), n_rows >= d."""
    L = np.tril(rng.standard_normal((b, d, d)), -1)
    dof = n_rows - np.arange(d)  # n, n-1, ..., n-d+1
    L[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(dof, size=(b, d)))
    return L


def _ols_noise_from_gram(rng, b, n_rows, sqrt_eigs, sigma0):
    """(b, d) draws of (X'X)^{-1} X'e for n_rows >= d Gaussian rows X = Z Sigma^{1/2}, e ~ N(0, sigma0^2 I):
    sigma0 Sigma^{-1/2} (L')^{-1} z with L the Bartlett factor of Z'Z and z ~ N(0, I_d)."""
    d = sqrt_eigs.size
    L = np.zeros((b, d, d))
    below = np.tril_indices(d, -1)
    L[:, below[0], below[1]] = rng.standard_normal((b, below[0].size))  # only the d(d-1)/2 used normals
    L[:, np.arange(d), np.arange(d)] = np.sqrt(rng.chisquare(n_rows - np.arange(d), size=(b, d)))
    z = rng.standard_normal((b, d))
    x = np.empty((b, d))
    for i in range(d - 1, -1, -1):  # back substitution L' x = z, vectorised over the b chains
        x[:, i] = (z[:, i] - np.einsum("bj,bj->b", L[:, i + 1:, i], x[:, i + 1:])) / L[:, i, i]
    return sigma0 * x / sqrt_eigs


def _simulate_chunk(rng, b, eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy, fake_gram=False):
    d = eigs.size
    sq = np.sqrt(eigs)
    u = np.tile(w0, (b, 1))  # (b, d): generation 0 is the true labeller
    if strategy == "replace" and fake_gram and T0 >= d:
        for _ in range(generations):  # the refit's error does not depend on u: u' = u + (X'X)^{-1} X'e
            u = u + _ols_noise_from_gram(rng, b, T0, sq, sigma0)
    elif strategy == "replace":
        for _ in range(generations):
            X = _draw(rng, b, T0, sq)
            y = np.einsum("bnd,bd->bn", X, u) + sigma0 * rng.standard_normal((b, T0))
            u = _lstsq(X, y)
    else:
        # keep every generation's rows with the labels they were given; the fit uses all of them
        Xs: list[np.ndarray] = []
        ys: list[np.ndarray] = []
        gram = np.zeros((b, d, d))
        xty = np.zeros((b, d))
        for k in range(1, generations + 1):
            X = _draw(rng, b, T0, sq)
            y = np.einsum("bnd,bd->bn", X, u) + sigma0 * rng.standard_normal((b, T0))
            Xt = np.swapaxes(X, 1, 2)
            gram += Xt @ X
            xty += (Xt @ y[..., None])[..., 0]
            if k * T0 >= d:  # least squares on all k*T0 rows through the normal equations
                Xs.clear()
                ys.clear()
                u = np.linalg.solve(gram, xty[..., None])[..., 0]
            else:  # under-determined: min-norm interpolation of all rows so far
                Xs.append(X)
                ys.append(y)
                u = _lstsq(np.concatenate(Xs, axis=1), np.concatenate(ys, axis=1))
    if math.isinf(T):
        w_pred = eigs / (eigs + lam) * u  # population ridge Sigma (Sigma + lam)^{-1} u
    elif T >= 4 * d:  # large downstream samples: draw (X'X, X'y) directly, same law
        w_pred = _ridge_from_gram(rng, b, int(T), sq, u, lam, sigma)
    else:
        n_rows = int(T)
        X = _draw(rng, b, n_rows, sq)
        y = np.einsum("bnd,bd->bn", X, u) + sigma * rng.standard_normal((b, n_rows))
        w_pred = _ridge(X, y, lam)
    diff = w_pred - w0
    return np.sum(eigs * diff**2, axis=1)  # (b,)


def simulate_recursive_ridge(eigs, w0, T: float, T0: int, generations: int, lam: float, sigma: float,
                             sigma0: float, *, strategy: str = "replace", reps: int = 1000,
                             rng: SeedLike = None, fake_gram: bool = False) -> tuple[float, float]:
    """Monte Carlo twin of :func:`recursive_ridge_error`: (mean, standard error) over ``reps`` chains.

    Runs the procedure itself: each generation draws T0 fresh Gaussian rows, labels them with the
    previous generation plus N(0, sigma0^2) noise and fits least squares (min-norm when
    under-determined; ``"accumulate"`` fits on all rows drawn so far); the downstream ridge fits T fresh
    rows (``T = inf``: population ridge). Same arguments as :func:`recursive_ridge_error`, plus
    ``reps`` and ``rng`` (seed or ``np.random.Generator``). Batched over repetitions; a downstream
    sample T >= 4d is drawn through its sufficient statistics (X'X Wishart by Bartlett, X'e given X'X
    Gaussian), which has exactly the law of the explicit draw.

    ``fake_gram=True`` draws each "replace" generation with T0 >= d through its sufficient statistics
    too: the least-squares refit is u' = u + (X'X)^{-1} X'e with X'e | X ~ N(0, sigma0^2 X'X); with
    X'X = C C', C = Sigma^{1/2} L (Bartlett), (X'X)^{-1} X'e ~ N(0, sigma0^2 (C C')^{-1}) has the law of
    sigma0 (C')^{-1} z = sigma0 Sigma^{-1/2} (L')^{-1} z, z ~ N(0, I_d). Same law as the
    explicit draw at O(d^3) instead of O(T0 d^2) per chain and generation, but a different random stream
    (results differ draw by draw; default False keeps the explicit draw).
    """
    eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy = _check_common(
        eigs, w0, T, T0, generations, lam, sigma, sigma0, strategy)
    reps = check_int("reps", reps, low=2)
    fake_gram = bool(fake_gram)
    gen = as_rng(rng)
    d = eigs.size
    down_rows = T if math.isfinite(T) and T < 4 * d else d
    rows = int(max(T0 + (d if strategy == "accumulate" else 0), down_rows, d))
    chunk = int(max(1, min(reps, 2_000_000 // (rows * d + d * d))))
    errors = np.empty(reps)
    for start in range(0, reps, chunk):
        b = min(chunk, reps - start)
        errors[start:start + b] = _simulate_chunk(gen, b, eigs, w0, T, T0, generations, lam, sigma,
                                                  sigma0, strategy, fake_gram)
    return float(errors.mean()), float(errors.std(ddof=1) / math.sqrt(reps))
