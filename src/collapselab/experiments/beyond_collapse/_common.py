"""Helpers shared by the beyond-collapse experiments: the Gaussian-mixture parameters and mean, and the one
comparison of two selection strategies across seeds that the eigenvalue and summarisation claims use."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import Params, Verdict


class MixtureParams(Params):
    """The Gaussian mixture x = y mu + z (Sigma = I, mu = ||mu|| e_1) of the synthetic-selection experiments."""

    d: int = Field(20, ge=1, description="dimension of the Gaussian mixture")
    mu_norm: float = Field(1.0, gt=0, description="||mu|| (Sigma = I): Bayes accuracy Phi(||mu||)")


def _mu(d: int, norm: float) -> np.ndarray:
    mu = np.zeros(d)
    mu[0] = norm
    return mu


def _common_size(runs: pd.DataFrame, strategies: list[str]) -> int | None:
    """The largest size that every listed strategy reached in every replicate (None if there is none)."""
    reps = set(runs["replicate"])
    common = None
    for s in strategies:
        sub = runs[runs["strategy"] == s]
        if set(sub["replicate"]) != reps or sub.empty:
            return None
        for _, g in sub.groupby("replicate"):
            common = set(g["size"]) if common is None else common & set(g["size"])
    return max(common) if common else None


def compare_over_seeds(runs: pd.DataFrame, a: str, b: str, *, rule: str, resolution: float,
                       value: str, baseline_column: str | None = None, unit: str = "",
                       min_seeds: int = 2) -> Verdict:
    """Strategy ``a`` against strategy ``b`` on ``value`` at the largest size both reached in every
    replicate; or, for ``b == "generator"``, against each replicate's ``baseline_column`` at ``a``'s largest
    size in that replicate (a capped selection, e.g. oracle pruning, may keep a different number per seed).
    Fewer than ``min_seeds`` replicates: INCONCLUSIVE.

    The paired differences a - b across replicates (seeds) feed a t interval:

    * ``rule="beats"``: one-sided test of ``a - b <= 0`` (:func:`collapselab.stats.beats`);
    * ``rule="at_most"``: "a does not beat b", two-sided 95% interval (:func:`collapselab.stats.at_most`,
      margin 0): PASS only when the upper bound is <= 0 and the half-width <= ``resolution``.
    """
    if rule not in ("beats", "at_most"):
        raise ValueError(f"`rule` must be 'beats' or 'at_most', got {rule!r}")
    if b == "generator":  # each seed's largest size of ``a`` (a capped selection may differ by seed)
        sub = runs[runs["strategy"] == a]
        if sub.empty:
            return Verdict.inconclusive(f"strategy {a!r} not run", f"needs strategy {a!r}")
        last = sub.sort_values("size").groupby("replicate").tail(1).set_index("replicate").sort_index()
        va, vb = last[value], last[baseline_column]
        where = f"sizes {'/'.join(str(int(m)) for m in last['size'])}"
    else:
        size = _common_size(runs, [a, b])
        if size is None:
            return Verdict.inconclusive(f"no size reached by {a} and {b} in every seed",
                                        f"needs strategies {a!r} and {b!r} run with a common size")
        at = runs[runs["size"] == size]
        va = at[at["strategy"] == a].set_index("replicate")[value].sort_index()
        vb = at[at["strategy"] == b].set_index("replicate")[value].sort_index()
        where = f"size {int(size)}"
    if len(va) < max(2, min_seeds):
        return Verdict.inconclusive(f"{len(va)} seed(s)", f"needs >= {max(2, min_seeds)} seeds")
    alternative = "greater" if rule == "beats" else "two-sided"
    cmp = stats.paired_difference(va.to_numpy(), vb.to_numpy(), alternative=alternative)
    means = f"{a} {va.mean():.3f} vs {b} {vb.mean():.3f}{unit} at {where}, {len(va)} seeds; {a} - {b} = "
    if rule == "beats":
        return Verdict.of(stats.beats(cmp, resolution=resolution), prefix=means)
    return Verdict.of(stats.at_most(cmp, resolution=resolution), prefix=means)
