"""Helpers shared by the Model Collapse Demystified experiments: one Monte Carlo + theory cell, replicate
aggregation (through :func:`collapselab.stats.pool_replicates`) and the relative TOST of the claims."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from collapselab import stats
from collapselab.core import CellContext
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
    """Per group of ``keys``: the pooled replicate mean of the MC errors (``error``) and its standard error
    (``stderr``; :func:`collapselab.stats.pool_replicates`), the theory and ``rel_dev`` = error / theory - 1."""
    out = stats.pool_replicates(frame, keys, "error", "stderr").rename(columns={"mean": "error", "se": "stderr"})
    theory = frame.groupby(keys, sort=True, dropna=False)["theory"].first().to_numpy()
    out.insert(len(keys) + 1, "theory", theory)
    out["rel_dev"] = (out["error"] - out["theory"]) / out["theory"]
    return out.drop(columns="k")


def rel_match(r, error: float, se: float, target: float, margin: float) -> stats.Decision:
    """TOST of error / target - 1 against +-margin, with the pooled standard error (seeds x reps) scaled
    alike (:func:`collapselab.stats.pooled_comparison`)."""
    return stats.matches(stats.pooled_comparison(error / target - 1, se / target, seeds=r.params.seeds,
                                                 reps=r.params.reps), margin=margin)
