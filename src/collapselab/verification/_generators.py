"""Synthetic-label generators for the Gaussian mixture (Feng et al. Sec. 4).

* :class:`LabelFlipGenerator`: y' = -y with probability p, independently of x (the theory's model).
* :class:`LinearGenerator`: y' = sign(w_g.x + b_g), a linear classifier fitted on a few real samples;
  its error p = 1 - accuracy is known in closed form (:func:`linear_accuracy`). Its mistakes depend on
  x (they sit near its decision boundary): the "realistic" generator of the issue.
"""

from __future__ import annotations

import numpy as np

from collapselab._rng import SeedLike, as_rng
from collapselab._validation import check_array, check_int, check_real
from collapselab.verification._gmm import linear_accuracy, sample_mixture
from collapselab.verification._linear import fit_linear_classifier


class LabelFlipGenerator:
    """Returns the true label flipped with probability ``p`` (independent of x)."""

    def __init__(self, p: float):
        self.p = check_real("p", p, low=0.0, high=1.0)

    def label(self, x, *, y_true=None, rng: SeedLike = None) -> np.ndarray:
        """y' of shape (n,) in {-1, +1}; needs ``y_true`` (n,)."""
        if y_true is None:
            raise ValueError("`y_true` is required: a label-flip generator corrupts the true labels")
        y_true = check_array("y_true", y_true, ndim=1, min_len=0, dtype=np.int64)
        flip = as_rng(rng).random(y_true.shape[0]) < self.p
        return np.where(flip, -y_true, y_true)

    def error(self, mu=None, sigma=None) -> float:
        return self.p


class LinearGenerator:
    """y' = sign(w_g.x + b_g) (ties to +1); ``fit`` learns (w_g, b_g) from labelled data."""

    def __init__(self, w, b: float = 0.0):
        self.w_ = check_array("w", w, ndim=1)
        self.b_ = check_real("b", b)

    @classmethod
    def fit(cls, x, y, *, method: str = "ridge", reg: float = 1e-3) -> LinearGenerator:
        w, b = fit_linear_classifier(x, y, method=method, reg=reg)
        return cls(w, b)

    @classmethod
    def from_real_samples(cls, n_real: int, mu, sigma=None, *, reg: float = 1e-3,
                          rng: SeedLike = None) -> LinearGenerator:
        """Fit on ``n_real`` fresh draws of the mixture (few samples: an imperfect generator)."""
        n_real = check_int("n_real", n_real, low=1)
        x, y = sample_mixture(n_real, mu, sigma, rng=rng)
        return cls.fit(x, y, reg=reg)

    def label(self, x, *, y_true=None, rng: SeedLike = None) -> np.ndarray:
        x = check_array("x", x, ndim=2, min_len=0)
        return np.where(x @ self.w_ + self.b_ >= 0, 1, -1).astype(np.int64)

    def error(self, mu, sigma=None) -> float:
        """Exact error p = 1 - accuracy on the mixture."""
        return 1.0 - linear_accuracy(self.w_, self.b_, mu, sigma)
