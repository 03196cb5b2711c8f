"""Kernel ridge regression and random-features ridge (papers 1 and 5, their MNIST experiments).

* :class:`KernelRidge`: RBF kernel ridge in representer form, ``alpha = (K + m lam I)^{-1} Y``,
  ``f(x) = k(x, X) alpha``, ``k(x, x') = exp(-gamma ||x - x'||^2)``; the kernel analogue of the linear
  ridge ``(X'X/m + lam)^{-1} X'Y/m`` (Model Collapse Demystified, App. C and D.2: ``(G + lam T I)^{-1} Y``).
* :func:`random_features_ridge`: ridge on random ReLU features ``relu(x W + b)`` of width m (the
  random-feature model of Strong Model Collapse, Sec. 4.1).
"""

from __future__ import annotations

import numpy as np

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_array, check_int, check_real


def squared_distances(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pairwise ``||a_i - b_j||^2`` (n_a, n_b), clipped at 0 against rounding."""
    a = check_array("a", a, ndim=2)
    b = check_array("b", b, ndim=2)
    if a.shape[1] != b.shape[1]:
        raise ValueError(f"`a` and `b` must have the same number of columns, got {a.shape[1]} and {b.shape[1]}")
    d2 = np.sum(a**2, 1)[:, None] + np.sum(b**2, 1)[None, :] - 2 * a @ b.T
    return np.maximum(d2, 0.0)


class KernelRidge:
    """RBF kernel ridge: ``alpha = (K + m lam I)^{-1} Y``, ``f(x) = exp(-gamma ||x - X||^2) alpha``.

    gamma > 0: RBF bandwidth; lam > 0: ridge penalty per sample (m = number of training points).
    """

    def __init__(self, gamma: float, lam: float):
        self.gamma = check_real("gamma", gamma, low=0.0, low_open=True)
        self.lam = check_real("lam", lam, low=0.0, low_open=True)

    def fit(self, x: np.ndarray, y: np.ndarray) -> KernelRidge:
        """x (m, p), y (m,) or (m, k)."""
        x = check_array("x", x, ndim=2)
        y = np.asarray(y, dtype=np.float64)
        if y.shape[0] != x.shape[0]:
            raise ValueError(f"`y` must have {x.shape[0]} rows like `x`, got {y.shape[0]}")
        K = np.exp(-self.gamma * squared_distances(x, x))  # (m, m)
        self.x_, self.alpha_ = x, np.linalg.solve(K + len(x) * self.lam * np.eye(len(x)), y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        if not hasattr(self, "alpha_"):
            raise ValueError("KernelRidge.predict called before fit")
        return np.exp(-self.gamma * squared_distances(x, self.x_)) @ self.alpha_  # (k, outputs)


def median_heuristic_gamma(x: np.ndarray, scale: float = 1.0) -> float:
    """``gamma = scale / median ||x_i - x_j||^2`` over the pairs i < j of ``x`` (p >= 2 rows)."""
    x = check_array("x", x, ndim=2)
    if x.shape[0] < 2:
        raise ValueError(f"`x` needs at least 2 rows, got {x.shape[0]}")
    scale = check_real("scale", scale, low=0.0, low_open=True)
    d2 = squared_distances(x, x)
    return scale / float(np.median(d2[np.triu_indices(len(x), 1)]))


def random_features_ridge(x: np.ndarray, targets: np.ndarray, x_test: np.ndarray, width: int, lam: float, *,
                          rng: SeedLike = None, offset: float = 0.1) -> np.ndarray:
    """Predictions on ``x_test`` of ridge on random ReLU features, fitted to ``targets``.

    Features ``phi(x) = relu(x W + b)``, W (p, m) with N(0, 1/p) entries, b ~ U(-1/2, 1/2)^m (drawn from
    ``rng`` in that order); readout ``V = argmin (1/n)||phi(X) V - (T - offset)||^2 + lam ||V||^2``
    (primal when m <= n, dual otherwise); prediction ``phi(x_test) V + offset`` (offset centres one-hot
    targets: 0.1 = 1/10 classes). x (n, p), targets (n, k), x_test (t, p); returns (t, k).
    """
    x = check_array("x", x, ndim=2)
    x_test = check_array("x_test", x_test, ndim=2)
    targets = np.asarray(targets, dtype=np.float64)
    if targets.ndim != 2 or targets.shape[0] != x.shape[0]:
        raise ValueError(f"`targets` must be ({x.shape[0]}, k), got shape {targets.shape}")
    width = check_int("width", width, low=1)
    lam = check_real("lam", lam, low=0.0, low_open=True)
    gen = as_rng(rng)
    n, p = x.shape
    W = gen.standard_normal((p, width)) / np.sqrt(p)  # (p, m)
    b = gen.uniform(-0.5, 0.5, width)

    def feats(a: np.ndarray) -> np.ndarray:
        return np.maximum(a @ W + b, 0.0)  # (N, m)

    F = feats(x)
    T = targets - offset
    if width <= n:
        V = np.linalg.solve(F.T @ F + n * lam * np.eye(width), F.T @ T)
    else:
        V = F.T @ np.linalg.solve(F @ F.T + n * lam * np.eye(n), T)
    return feats(x_test) @ V + offset
