"""Summaries of a certification run: certified accuracy at radii and average certified radius.

A run is one record per test input: the true ``label``, the certified class ``predict`` (ABSTAIN = -1)
and the certified L2 ``radius`` (0 on abstention), as in Cohen et al.'s certify TSV.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

from collapselab._validation import check_array


def _columns(results) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if isinstance(results, Mapping) or hasattr(results, "columns"):
        missing = [k for k in ("label", "predict", "radius") if k not in results]
        if missing:
            raise ValueError(f"`results` lacks columns {missing}; it needs label, predict and radius")
        label, pred, radius = (np.asarray(results[k]) for k in ("label", "predict", "radius"))
    else:
        arr = check_array("results", results, ndim=2, dtype=np.float64)
        if arr.shape[1] != 3:
            raise ValueError(f"`results` rows must be (label, predict, radius), got shape {arr.shape}")
        label, pred, radius = arr[:, 0], arr[:, 1], arr[:, 2]
    radius = check_array("results['radius']", radius, ndim=1, nonnegative=True)
    if not (len(label) == len(pred) == len(radius)):
        raise ValueError("`results` columns label, predict and radius must have equal lengths")
    return label.astype(np.int64), pred.astype(np.int64), radius


def certified_accuracy(results, radii: Sequence[float] | float) -> np.ndarray:
    """Fraction of inputs whose certified class is the true label with radius >= r, for each r.

    CA(r) = (1/N) sum_j 1{predict_j = label_j and radius_j >= r}  (Cohen et al. Sec. 4).  [V-code]
    CA(0) is the smoothed classifier's clean accuracy (abstentions count as errors).
    """
    label, pred, radius = _columns(results)
    r = check_array("radii", np.atleast_1d(radii), ndim=1, nonnegative=True)
    correct = pred == label
    return (correct[None, :] & (radius[None, :] >= r[:, None])).mean(axis=1)


def average_certified_radius(results) -> float:
    """ACR = (1/N) sum_j radius_j * 1{predict_j = label_j}  (Zhai et al. 2020, MACER; used by SWEEN).

    Equals the area under the certified-accuracy curve: ACR = integral_0^inf CA(r) dr.  [V-code]
    """
    label, pred, radius = _columns(results)
    return float(np.mean(np.where(pred == label, radius, 0.0)))
