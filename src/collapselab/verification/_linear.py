"""Linear classifiers on {-1, +1} labels: ridge least squares and logistic regression, with bias."""

from __future__ import annotations

import numpy as np

from collapselab._validation import check_array, check_choice, check_real

METHODS = ("ridge", "logistic")


def fit_linear_classifier(x, y, *, method: str = "ridge", reg: float = 1e-3) -> tuple[np.ndarray, float]:
    """Fit sign(w.x + b) to labels y in {-1, +1}; returns (w of shape (d,), b).

    ridge: (w, b) = argmin 1/n sum (y_i - w.x_i - b)^2 + reg ||w||^2 (bias not penalised).
    logistic: L2-regularised logistic regression with C = 1 / (reg n) (scikit-learn, lbfgs).
    With no samples, or a single class, returns w = 0 and b = mean(y) (a constant classifier).
    """
    x = check_array("x", x, ndim=2, min_len=0)
    y = check_array("y", y, ndim=1, min_len=0)
    if x.shape[0] != y.shape[0]:
        raise ValueError(f"`x` and `y` must have the same length, got {x.shape[0]} and {y.shape[0]}")
    if not np.all(np.isin(y, (-1.0, 1.0))):
        raise ValueError("`y` must hold labels in {-1, +1}")
    check_choice("method", method, METHODS)
    reg = check_real("reg", reg, low=0.0)
    n, d = x.shape
    if n == 0 or np.all(y == y[0]):
        return np.zeros(d), float(y.mean()) if n else 0.0
    if method == "ridge":
        xm, ym = x.mean(0), y.mean()
        xc = x - xm  # centring removes the (unpenalised) bias from the normal equations
        w = np.linalg.solve(xc.T @ xc / n + reg * np.eye(d), xc.T @ (y - ym) / n)
        return w, float(ym - xm @ w)
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0 / max(reg * n, 1e-12), max_iter=500).fit(x, y)
    return clf.coef_[0].astype(np.float64), float(clf.intercept_[0])
