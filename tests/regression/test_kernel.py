"""Kernel ridge and random-features ridge against independent oracles."""

import numpy as np
import pytest

from collapselab.regression import KernelRidge, median_heuristic_gamma, random_features_ridge, squared_distances


def test_kernel_ridge_matches_sklearn():
    sk = pytest.importorskip("sklearn.kernel_ridge")
    rng = np.random.default_rng(0)
    x, y, xt = rng.standard_normal((40, 5)), rng.standard_normal((40, 2)), rng.standard_normal((7, 5))
    gamma, lam = median_heuristic_gamma(x), 1e-2
    ours = KernelRidge(gamma, lam).fit(x, y).predict(xt)
    ref = sk.KernelRidge(alpha=len(x) * lam, kernel="rbf", gamma=gamma).fit(x, y).predict(xt)
    assert np.allclose(ours, ref, atol=1e-8)


def test_squared_distances_and_gamma():
    a = np.array([[0.0, 0.0], [3.0, 4.0]])
    assert np.allclose(squared_distances(a, a), [[0, 25], [25, 0]])
    assert median_heuristic_gamma(a, 2.0) == pytest.approx(2 / 25)
    with pytest.raises(ValueError, match="`b`"):
        squared_distances(a, np.ones((2, 3)))


def test_random_features_dual_equals_primal():
    # width > n takes the dual route; the primal formula with the same features must agree
    rng = np.random.default_rng(0)
    x, xt = rng.standard_normal((20, 6)), rng.standard_normal((5, 6))
    t = np.eye(3)[rng.integers(0, 3, 20)]
    out = random_features_ridge(x, t, xt, 50, 1e-2, rng=3)
    g = np.random.default_rng(3)
    W, b = g.standard_normal((6, 50)) / np.sqrt(6), g.uniform(-0.5, 0.5, 50)
    F, Ft = np.maximum(x @ W + b, 0), np.maximum(xt @ W + b, 0)
    V = np.linalg.solve(F.T @ F + 20 * 1e-2 * np.eye(50), F.T @ (t - 0.1))
    assert np.allclose(out, Ft @ V + 0.1, atol=1e-8)
    with pytest.raises(ValueError, match="`targets`"):
        random_features_ridge(x, t[:5], xt, 10, 0.1)
