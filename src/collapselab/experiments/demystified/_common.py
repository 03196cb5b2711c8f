"""Helpers shared by the Model Collapse Demystified experiments: one Monte Carlo + theory cell, replicate
aggregation and the decision glue of the claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from collapselab import stats
from collapselab.core import CellContext, Verdict
from collapselab.regression import recursive_problem, recursive_ridge_error, simulate_recursive_ridge


def as_T(T: int | None) -> float:
    """A cell's downstream sample size; None (JSON for infinity) is the population ridge."""
    return math.inf if T is None else float(T)


def mc_and_theory(cell: dict, ctx: CellContext) -> dict:
    """Simulate and evaluate the theory for one parameter point (cell keys as the library's args)."""
    eigs, w0 = recursive_problem(cell["spectrum"], cell["d"], cell.get("beta", 2.0), cell.get("r", 0.5))
    args = (eigs, w0, as_T(cell["T"]), cell["T0"], cell["n"], cell["lam"], cell["sigma"], cell["sigma0"])
    strategy = cell.get("strategy", "replace")
    mean, se = simulate_recursive_ridge(*args, strategy=strategy, reps=cell["reps"], rng=ctx.rng())
    theory = recursive_ridge_error(*args, strategy=strategy)
    return {"error": mean, "stderr": se, "theory": theory, "w0_norm2": float(np.sum(eigs * w0**2))}


def aggregate(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean over framework replicates of the per-replicate MC means (``error``), the combined standard
    error ``sqrt(sum se_i^2) / k`` (``stderr``), the theory and ``rel_dev`` = error / theory - 1."""
    g = frame.groupby(keys, sort=True, dropna=False)
    out = g.agg(error=("error", "mean"), k=("error", "size"), theory=("theory", "first"),
                se2=("stderr", lambda s: float(np.sum(np.asarray(s) ** 2)))).reset_index()
    out["stderr"] = np.sqrt(out["se2"]) / out["k"]
    out["rel_dev"] = (out["error"] - out["theory"]) / out["theory"]
    return out.drop(columns=["se2", "k"])


def rel_match(r, error: float, se: float, target: float, margin: float) -> stats.Decision:
    """TOST of error / target - 1 against +-margin, with the MC standard error scaled alike."""
    return stats.matches(mc_estimate(r, error / target - 1, se / target), margin=margin)


verdict = Verdict.all_of  # a conjunction of labelled decisions, as one verdict


def mc_estimate(r, estimate: float, se: float, **kw) -> stats.Comparison:
    """:func:`collapselab.stats.from_estimate` (normal interval) with ``n`` = the Monte Carlo replicates
    behind the estimate (``reps`` x seeds, or seeds), so that "needs ~kx the data" counts them."""
    n = int(getattr(r.params, "reps", 1) * r.params.seeds)
    return stats.from_estimate(estimate, se, n=n, **kw)
