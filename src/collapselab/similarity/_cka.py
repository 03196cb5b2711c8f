r"""Centered kernel alignment (Kornblith et al. 2019), fast feature-space forms and Gram-matrix twins.

Symbols: X (n, d1) and Y (n, d2) hold paired features of n samples; H = I - 11^T/n centres;
K = X X^T, L = Y Y^T are Gram matrices (n, n).

* HSIC (biased): tr(K H L H) / (n-1)^2. For linear kernels and centred features
  tr(KHLH) = ||Y^T X||_F^2, so linear CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F)
  costs O(n d1 d2) instead of O(n^2 (d1 + d2)).   [R: Kornblith et al. 2019, Eq. 5-6]
* CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) in [0, 1]; invariant to orthogonal maps and
  isotropic scaling of either representation, not to general invertible linear maps.
* Debiased CKA replaces HSIC by its unbiased U-statistic (Song et al. 2012), with K~ = K - diag(K):
  HSIC_u = [tr(K~ L~) + (1^T K~ 1)(1^T L~ 1)/((n-1)(n-2)) - 2/(n-2) 1^T K~ L~ 1] / (n(n-3)).
  In feature space (centred X, row norms r_i = ||x_i||^2, s_i = ||y_i||^2):
  n(n-3) HSIC_u = ||Y^T X||_F^2 - n/(n-2) r.s + ||X||_F^2 ||Y||_F^2 / ((n-1)(n-2)).   [D: derived
  from the U-statistic, tested against the Gram form]
* RBF CKA: K_ij = exp(-||x_i - x_j||^2 / (2 sigma^2)), sigma = threshold x median pairwise distance
  (median over all n^2 entries of the distance matrix, as in Kornblith's notebook).   [R]
"""

from __future__ import annotations

from typing import Any

import numpy as np

from collapselab._validation import check_real
from collapselab.similarity._common import as_feature_pair, as_features, center

# ----------------------------------------------------------------------------------------------------------
# Gram-matrix forms (the slow references; O(n^2) memory)


def gram_linear(x: Any) -> np.ndarray:
    """Linear-kernel Gram matrix K = X X^T of features x (n, d) -> (n, n)."""
    x = as_features("x", x)
    return x @ x.T


def gram_rbf(x: Any, threshold: float = 1.0) -> np.ndarray:
    """RBF Gram matrix exp(-||x_i - x_j||^2 / (2 sigma^2)), sigma = threshold * median distance."""
    x = as_features("x", x)
    threshold = check_real("threshold", threshold, low=0.0, low_open=True)
    sq_norms = np.einsum("ij,ij->i", x, x)
    sq_dists = np.maximum(sq_norms[:, None] + sq_norms[None, :] - 2.0 * (x @ x.T), 0.0)  # (n, n)
    sq_median = np.median(sq_dists)
    if sq_median <= 0.0:
        raise ValueError("`x` has median pairwise distance 0 (duplicated rows?); RBF bandwidth undefined")
    return np.exp(-sq_dists / (2.0 * threshold**2 * sq_median))


def _check_gram(name: str, gram: Any) -> np.ndarray:
    g = np.asarray(gram, dtype=np.float64)
    if g.ndim != 2 or g.shape[0] != g.shape[1]:
        raise ValueError(f"`{name}` must be a square (n, n) Gram matrix, got shape {g.shape}")
    if not np.all(np.isfinite(g)):
        raise ValueError(f"`{name}` must be finite (found NaN or inf)")
    return g


def center_gram(gram: Any) -> np.ndarray:
    """H K H: subtract row and column means and add back the grand mean, in O(n^2) (no n^3 product)."""
    k = _check_gram("gram", gram)
    kc = k - k.mean(axis=0, keepdims=True)
    kc -= kc.mean(axis=1, keepdims=True)
    return kc


def _unbiased_terms(k: np.ndarray, l_: np.ndarray) -> float:
    n = k.shape[0]
    kt = k - np.diag(np.diag(k))  # K~: zero diagonal
    lt = l_ - np.diag(np.diag(l_))
    one_k, one_l = kt.sum(axis=0), lt.sum(axis=0)  # 1^T K~, 1^T L~
    value = np.vdot(kt, lt) + kt.sum() * lt.sum() / ((n - 1) * (n - 2)) - 2.0 / (n - 2) * (one_k @ one_l)
    return float(value / (n * (n - 3)))


def hsic_gram(gram_a: Any, gram_b: Any, *, debiased: bool = False) -> float:
    """HSIC from Gram matrices: biased tr(KHLH)/(n-1)^2, or the unbiased U-statistic HSIC_u."""
    k, l_ = _check_gram("gram_a", gram_a), _check_gram("gram_b", gram_b)
    n = k.shape[0]
    if l_.shape != k.shape:
        raise ValueError(f"`gram_a` and `gram_b` must have the same shape, got {k.shape} and {l_.shape}")
    if not debiased:
        return float(np.vdot(center_gram(k), l_) / (n - 1) ** 2)  # tr(HKH L)
    if n < 4:
        raise ValueError(f"debiased HSIC needs n >= 4 samples, got {n}")
    return _unbiased_terms(k, l_)


def cka_from_grams(gram_a: Any, gram_b: Any, *, debiased: bool = False) -> float:
    """CKA(K, L) = HSIC(K, L) / sqrt(HSIC(K, K) HSIC(L, L)) from two (n, n) Gram matrices."""
    if debiased:
        kl = hsic_gram(gram_a, gram_b, debiased=True)
        kk = hsic_gram(gram_a, gram_a, debiased=True)
        ll = hsic_gram(gram_b, gram_b, debiased=True)
    else:  # centre each Gram matrix once: <HKH, HLH> = tr(KHLH)
        k, l_ = _check_gram("gram_a", gram_a), _check_gram("gram_b", gram_b)
        if l_.shape != k.shape:
            raise ValueError(f"`gram_a` and `gram_b` must have the same shape, got {k.shape} and {l_.shape}")
        kc, lc = center_gram(k), center_gram(l_)
        kl, kk, ll = np.vdot(kc, lc), np.vdot(kc, kc), np.vdot(lc, lc)
    if kk <= 0.0 or ll <= 0.0:
        raise ValueError("a Gram matrix has non-positive self-HSIC (constant features?); CKA undefined")
    return float(kl / np.sqrt(kk * ll))


def linear_cka_gram(feats_a: Any, feats_b: Any, *, debiased: bool = False) -> float:
    """Slow reference: linear (or debiased linear) CKA through the (n, n) Gram matrices."""
    a, b = as_feature_pair(feats_a, feats_b, min_samples=4 if debiased else 2)
    a, b = center(a), center(b)
    return cka_from_grams(a @ a.T, b @ b.T, debiased=debiased)


# ----------------------------------------------------------------------------------------------------------
# Feature-space forms (fast; O(n d^2) time, O(d^2) extra memory)


def _hsic_features(x: np.ndarray, y: np.ndarray, *, debiased: bool) -> float:
    """n(n-3) HSIC_u (debiased) or tr(KHLH) (biased) for centred x (n, d1), y (n, d2); see module doc."""
    cross = np.sum((y.T @ x) ** 2)  # ||Y^T X||_F^2 = tr(K L)
    if not debiased:
        return float(cross)
    n = x.shape[0]
    r, s = np.einsum("ij,ij->i", x, x), np.einsum("ij,ij->i", y, y)  # row norms, diag(K), diag(L)
    return float(cross - n / (n - 2.0) * (r @ s) + r.sum() * s.sum() / ((n - 1.0) * (n - 2.0)))


def _cka_features(feats_a: Any, feats_b: Any, *, debiased: bool) -> float:
    a, b = as_feature_pair(feats_a, feats_b, min_samples=4 if debiased else 2)
    a, b = center(a), center(b)
    ab = _hsic_features(a, b, debiased=debiased)
    aa = _hsic_features(a, a, debiased=debiased)
    bb = _hsic_features(b, b, debiased=debiased)
    if aa <= 0.0 or bb <= 0.0:
        raise ValueError("a representation has zero variance (constant features); CKA undefined")
    return float(ab / np.sqrt(aa * bb))


def linear_cka(feats_a: Any, feats_b: Any) -> float:
    """Linear CKA = ||Y^T X||_F^2 / (||X^T X||_F ||Y^T Y||_F) on centred features, in [0, 1].

    feats_a (n, d1), feats_b (n, d2), numpy or torch. 1 means equal up to an orthogonal map and
    isotropic scaling. Feature-space form; ``linear_cka_gram`` is its O(n^2) reference twin.   [R]
    """
    return _cka_features(feats_a, feats_b, debiased=False)


def debiased_cka(feats_a: Any, feats_b: Any) -> float:
    """Linear CKA with the unbiased HSIC estimator (module doc); can be slightly negative. n >= 4.

    Feature-space form; ``linear_cka_gram(..., debiased=True)`` is its Gram twin.   [R, D]
    """
    return _cka_features(feats_a, feats_b, debiased=True)


def rbf_cka(feats_a: Any, feats_b: Any, *, threshold: float = 1.0, debiased: bool = False) -> float:
    """CKA with RBF kernels, bandwidth = ``threshold`` x median pairwise distance (per representation).

    Gram-matrix only (O(n^2) memory). Invariant to orthogonal maps, isotropic scaling and translation. [R]
    """
    a, b = as_feature_pair(feats_a, feats_b, min_samples=4 if debiased else 2)
    return cka_from_grams(gram_rbf(a, threshold), gram_rbf(b, threshold), debiased=debiased)
