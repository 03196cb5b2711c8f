r"""Canonical correlation analysis and its family (SVCCA, PWCCA), and the orthogonal Procrustes distance.

Symbols: X (n, d1), Y (n, d2) paired features, centred by default. With orthonormal bases Q_x (n, r1),
Q_y (n, r2) of their column spans (r = numerical rank), the canonical correlations are the singular
values rho_1 >= ... >= rho_k of Q_x^T Q_y, k = min(r1, r2); rho_i = cos(theta_i), the principal angles
between the spans.   [R: Hotelling 1936; Bjorck & Golub 1973]

* mean squared CCA  R^2_CCA = sum_i rho_i^2 / k   (Kornblith et al. 2019, Eq. 10)    [R]
* mean CCA          rho_bar = sum_i rho_i / k      (Raghu et al. 2017)                 [R]
* SVCCA: keep the top singular directions of each representation explaining ``keep`` of its variance,
  then rho_bar.                                                                         [R: Raghu et al. 2017]
* PWCCA: sum_i alpha_i rho_i / sum_i alpha_i with alpha_i = sum_j |<h_i, x_j>|, where h_i = Q_x p_i
  is the i-th canonical *variate* of X (unit norm, n values) and x_j the j-th (centred) neuron of X.
  The weights come from the variates, not from the coefficient vectors (anatome issue #30).
                                                                                    [R: Morcos et al. 2018]
* Orthogonal Procrustes distance, on centred X, Y scaled to unit Frobenius norm:
  min_R ||X - Y R||_F^2 over R with orthonormal rows/columns = 2 - 2 ||X^T Y||_*   (nuclear norm), in
  [0, 2]; narrower widths are zero-padded.                                        [R: Ding et al. 2021]

Invariances: CCA (R^2_CCA, rho_bar) to every invertible linear map of either representation; SVCCA and
Procrustes to orthogonal maps and isotropic scaling; PWCCA only to permutations, sign flips and
isotropic scaling of the neurons of feats_a (its weights are sums over neurons), any invertible map of
feats_b.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from collapselab._validation import check_int, check_real
from collapselab.similarity._common import as_feature_pair, center, orthonormal_basis


@dataclass(frozen=True)
class CCAResult:
    """Canonical correlations ``rho`` (k,) in decreasing order, their mean square and mean."""

    rho: np.ndarray
    mean_sq: float  # R^2_CCA
    mean: float  # rho_bar


def _prepare(feats_a: Any, feats_b: Any, center_: bool) -> tuple[np.ndarray, np.ndarray]:
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    n, need = a.shape[0], max(a.shape[1], b.shape[1]) + (2 if center_ else 1)
    if n < need:
        raise ValueError(f"CCA needs n >= {need} samples for d1={a.shape[1]}, d2={b.shape[1]} features, "
                         f"got n={n} (`feats_a`/`feats_b`): with n <= d every canonical correlation is "
                         "trivially 1; reduce the width (pooling, SVD) or add samples")
    return (center(a), center(b)) if center_ else (a, b)


def _cca_bases(a: np.ndarray, b: np.ndarray):
    qa, qb = orthonormal_basis(a), orthonormal_basis(b)
    if qa.shape[1] == 0 or qb.shape[1] == 0:
        raise ValueError("a representation is constant (rank 0 after centring); CCA undefined")
    p, rho, _ = np.linalg.svd(qa.T @ qb, full_matrices=False)  # (r1, k), (k,)
    return qa, p, np.clip(rho, 0.0, 1.0)


def _result(rho: np.ndarray) -> CCAResult:
    return CCAResult(rho=rho, mean_sq=float(np.mean(rho**2)), mean=float(np.mean(rho)))


def cca(feats_a: Any, feats_b: Any, *, center: bool = True) -> CCAResult:
    """Canonical correlations of feats_a (n, d1) and feats_b (n, d2) through orthonormal bases (SVD).

    Needs n >= max(d1, d2) + 2 (centred). Rank-deficient features are reduced to their numerical rank.
    ``center=False`` reproduces Kornblith's notebook (no centring). See the module doc.   [R]
    """
    a, b = _prepare(feats_a, feats_b, center)
    _, _, rho = _cca_bases(a, b)
    return _result(rho)


def cca_slow(feats_a: Any, feats_b: Any, *, center: bool = True) -> CCAResult:
    """Reference twin of :func:`cca` from covariances: rho_i^2 are the top k eigenvalues of
    S_aa^{-1} S_ab S_bb^{-1} S_ba, k = min(d1, d2). Needs full-rank features."""
    a, b = _prepare(feats_a, feats_b, center)
    saa, sbb, sab = a.T @ a, b.T @ b, a.T @ b
    m = np.linalg.solve(saa, sab) @ np.linalg.solve(sbb, sab.T)  # (d1, d1)
    k = min(a.shape[1], b.shape[1])
    eig = np.sort(np.clip(np.linalg.eigvals(m).real, 0.0, 1.0))[::-1][:k]
    return _result(np.sqrt(eig))


def svcca(feats_a: Any, feats_b: Any, *, keep: float = 0.99, dims: int | None = None) -> float:
    """SVCCA mean canonical correlation after reducing each representation to its top singular
    directions: the fewest explaining ``keep`` of the variance, or exactly ``dims`` of them.   [R]"""
    keep = check_real("keep", keep, low=0.0, high=1.0, low_open=True)
    a, b = as_feature_pair(feats_a, feats_b, min_samples=3)
    reduced = []
    for x in (center(a), center(b)):
        u, s, _ = np.linalg.svd(x, full_matrices=False)
        if dims is not None:
            k = check_int("dims", dims, low=1, high=min(x.shape))
        else:
            frac = np.cumsum(s**2) / max(np.sum(s**2), np.finfo(float).tiny)
            k = int(np.searchsorted(frac, keep - 1e-12) + 1)
        reduced.append(u[:, :k] * s[:k])  # (n, k) principal components
    return cca(reduced[0], reduced[1], center=False).mean


def pwcca(feats_a: Any, feats_b: Any) -> float:
    """Projection-weighted CCA (Morcos et al. 2018): canonical correlations weighted by how much of
    feats_a's neurons each canonical variate of feats_a accounts for (module doc). Asymmetric; the
    distance of the paper is 1 - pwcca.   [R]"""
    a, b = _prepare(feats_a, feats_b, True)
    qa, p, rho = _cca_bases(a, b)
    variates = qa @ p  # (n, k) canonical variates h_i of feats_a, unit norm
    alpha = np.abs(variates.T @ a).sum(axis=1)  # (k,) sum_j |<h_i, x_j>|
    return float(alpha @ rho / alpha.sum())


def orthogonal_procrustes_distance(feats_a: Any, feats_b: Any) -> float:
    """2 - 2 ||X^T Y||_* for centred, unit-Frobenius-norm X, Y: the squared residual of the best
    orthogonal alignment (module doc), in [0, 2]; 0 iff equal up to rotation and scale.   [R]"""
    a, b = as_feature_pair(feats_a, feats_b)
    a, b = center(a), center(b)
    na, nb = np.linalg.norm(a), np.linalg.norm(b)
    if na == 0.0 or nb == 0.0:
        raise ValueError("a representation is constant; Procrustes distance undefined")
    nuclear = np.linalg.svd((a / na).T @ (b / nb), compute_uv=False).sum()
    return float(max(2.0 - 2.0 * nuclear, 0.0))


def orthogonal_procrustes_distance_slow(feats_a: Any, feats_b: Any) -> float:
    """Reference twin: zero-pad to a common width, solve for the rotation R explicitly
    (R = U V^T from the SVD of Y^T X) and return ||X - Y R||_F^2."""
    a, b = as_feature_pair(feats_a, feats_b)
    a, b = center(a), center(b)
    a, b = a / np.linalg.norm(a), b / np.linalg.norm(b)
    d = max(a.shape[1], b.shape[1])
    a = np.pad(a, ((0, 0), (0, d - a.shape[1])))
    b = np.pad(b, ((0, 0), (0, d - b.shape[1])))
    u, _, vt = np.linalg.svd(b.T @ a)
    r = u @ vt  # (d, d) orthogonal, argmin ||a - b r||
    return float(np.sum((a - b @ r) ** 2))
