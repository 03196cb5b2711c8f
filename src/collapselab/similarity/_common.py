"""Input handling shared by the similarity measures: numpy or torch features -> float64 (n, d)."""

from __future__ import annotations

from typing import Any

import numpy as np


def as_numpy(value: Any) -> Any:
    """Detach a torch tensor to a CPU numpy array; anything else passes through."""
    if hasattr(value, "detach") and hasattr(value, "cpu"):  # torch.Tensor without importing torch
        return value.detach().cpu().numpy()
    return value


def as_features(name: str, value: Any, *, min_samples: int = 2) -> np.ndarray:
    """A finite float64 feature matrix of shape (n, d); a 1-D input is read as (n, 1).

    Raises ``ValueError`` naming ``name`` when the input is not numeric, not 1-D/2-D, has fewer than
    ``min_samples`` rows, no columns, or NaN/inf entries.
    """
    try:
        x = np.asarray(as_numpy(value), dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"`{name}` must be a numeric array of shape (n, d), "
                         f"got {type(value).__name__}") from None
    if x.ndim == 1:
        x = x[:, None]
    if x.ndim != 2:
        raise ValueError(f"`{name}` must have shape (n, d), got shape {x.shape}; "
                         "flatten per-sample features first")
    if x.shape[0] < min_samples:
        raise ValueError(f"`{name}` needs at least {min_samples} samples (rows), got {x.shape[0]}")
    if x.shape[1] < 1:
        raise ValueError(f"`{name}` has no feature columns")
    if not np.all(np.isfinite(x)):
        raise ValueError(f"`{name}` must be finite (found NaN or inf)")
    return x


def as_feature_pair(feats_a: Any, feats_b: Any, *, min_samples: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Validate two feature matrices over the same n samples (rows paired)."""
    a = as_features("feats_a", feats_a, min_samples=min_samples)
    b = as_features("feats_b", feats_b, min_samples=min_samples)
    if a.shape[0] != b.shape[0]:
        raise ValueError(f"`feats_a` and `feats_b` must have the same number of samples (rows), "
                         f"got {a.shape[0]} and {b.shape[0]}")
    return a, b


def center(x: np.ndarray) -> np.ndarray:
    """Subtract the column means: (n, d) -> (n, d)."""
    return x - x.mean(axis=0, keepdims=True)


def orthonormal_basis(x: np.ndarray, *, rtol: float = 1e-10) -> np.ndarray:
    """An orthonormal basis (n, r) of the column span of x, r = numerical rank (singular values
    above ``rtol`` times the largest). Rank-deficient features (dead ReLUs) are handled here."""
    u, s, _ = np.linalg.svd(x, full_matrices=False)
    if s.size == 0 or s[0] == 0.0:
        return u[:, :0]
    return u[:, s > rtol * s[0]]
