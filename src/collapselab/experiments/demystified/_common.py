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
    """Simulate and evaluate the theory for one parameter point (cell keys as the library's args; an
    optional ``fake_gram`` draws the fake-data refits through their sufficient statistics, same law)."""
    eigs, w0 = recursive_problem(cell["spectrum"], cell["d"], cell.get("beta", 2.0), cell.get("r", 0.5))
    args = (eigs, w0, as_T(cell["T"]), cell["T0"], cell["n"], cell["lam"], cell["sigma"], cell["sigma0"])
    strategy = cell.get("strategy", "replace")
    mean, se = simulate_recursive_ridge(*args, strategy=strategy, reps=cell["reps"], rng=ctx.rng(),
                                        fake_gram=bool(cell.get("fake_gram", False)))
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


CELL_OVERHEAD = 2.5e6  # ~1 ms per cell (theory, bookkeeping) in the units below
_CHAIN_OVERHEAD = 2e4  # per chain and generation / downstream fit: numpy call overhead at small d


def recursive_cell_cost(cell: dict) -> float:
    """Relative single-thread CPU cost of one replicate of an :func:`mc_and_theory` cell (units ~ 0.4 ns).

    reps x (n x G + D) + CELL_OVERHEAD, with per generation (T0 fresh rows, d features)
    G = T0 d^2 (the explicit refit's Gram; accumulate and min-norm alike) or 30 d^2 when ``fake_gram`` draws a
    T0 >= d refit through its Bartlett factor, and for the downstream fit D = T d^2 (T < 4d, explicit rows),
    d^3 (T >= 4d, sufficient statistics) or d (T = None: population ridge); each term plus 2e4 per chain for
    numpy call overhead. Constants from single-thread timings of ``simulate_recursive_ridge`` at 400 reps,
    d in {20, 100}, T0 = 2d, n in {0, 4, 8, 16}: 0.18 s (n = 0, d = 100), 3.2 s (n = 16 explicit), 0.94 s
    (n = 16 fake_gram), 1.5 s (accumulate, n = 8); seconds per unit 2.4e-10 to 1.7e-9 across them (within 2x
    of 4e-10 for d = 100, the quick presets' size).
    """
    d, T0, n, reps = int(cell["d"]), int(cell["T0"]), int(cell["n"]), int(cell["reps"])
    T = cell.get("T")
    fake = bool(cell.get("fake_gram", False)) and cell.get("strategy", "replace") == "replace" and T0 >= d
    gen = (30 * d * d if fake else T0 * d * d) + _CHAIN_OVERHEAD
    if T is None or not math.isfinite(float(T)):
        down = d
    else:
        down = float(T) * d * d if float(T) < 4 * d else float(d) ** 3
    return float(reps * (n * gen + down + _CHAIN_OVERHEAD) + CELL_OVERHEAD)
