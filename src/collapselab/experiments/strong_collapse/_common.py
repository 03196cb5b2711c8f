"""Helpers shared by the strong-collapse experiments: the last-decade slope and the random-projection cells
(model-size and pareto share them). Replicates are pooled by :func:`collapselab.stats.pool_replicates` and
compared by :func:`collapselab.stats.pooled_comparison`."""

from __future__ import annotations

import numpy as np
import pandas as pd

from collapselab import stats
from collapselab.core import CellContext
from collapselab.regression import (
    random_projection_mixture_error,
    simulate_random_projection_gap,
    spread_mixture_problem,
    weighted_line_fit,
)


def last_decade_slope(n, mean, se) -> tuple[stats.MCEstimate, int] | None:
    """Log-log slope of the error over the last decade of n (points with n >= n_max / 10), weighted by
    the Monte Carlo standard errors (:func:`~collapselab.regression.weighted_line_fit`); None when that
    decade holds fewer than 2 points or does not span a factor 10."""
    n, mean, se = (np.asarray(v, dtype=float) for v in (n, mean, se))
    keep = n >= n.max() / 10 * (1 - 1e-9)
    if keep.sum() < 2 or n.max() / n[keep].min() < 9.99:
        return None
    fit = weighted_line_fit(n[keep], mean[keep], np.maximum(se[keep], 1e-300), log=True)
    return stats.MCEstimate(fit.slope, fit.slope_se, int(keep.sum())), int(keep.sum())


# ============================================================================ random projections


def rp_cells(p, widths: list[int]) -> list[dict]:
    return [{"d": p.d, "n": p.n, "m": int(m), "p2": float(p2), "c2": float(c2), "lam": p.lam,
             "noise_std": p.noise_std, "spectrum": p.spectrum,
             "exponent": p.exponent if p.spectrum == "power_law" else 0.0, "reps": p.reps, "draws": p.draws}
            for c2 in p.c2s for p2 in p.p2s for m in widths]


def rp_run_cell(cell: dict, ctx: CellContext) -> dict:
    """One width m: paired MC of E_mixed, E_clean, zeta and the semi-analytic theory of each."""
    eigs, w1, w2 = spread_mixture_problem(cell["spectrum"], cell["d"], cell["exponent"], cell["c2"])
    n, m, p2, lam, s = cell["n"], cell["m"], cell["p2"], cell["lam"], cell["noise_std"]
    rng = ctx.rng()
    mixed, clean, gap = simulate_random_projection_gap(eigs, w1, w2, n, p2, m, lam, s, reps=cell["reps"],
                                                       rng=rng)
    seed = int(rng.integers(2**31))  # same S draws for both theory evaluations (paired)
    th_mixed = random_projection_mixture_error(eigs, w1, w2, n, p2, m, lam, s, rng=seed, draws=cell["draws"])
    th_clean = random_projection_mixture_error(eigs, w1, w2, n, 0.0, m, lam, s, rng=seed, draws=cell["draws"])
    return {"error_mixed": mixed.mean, "se_mixed": mixed.se, "error_clean": clean.mean,
            "se_clean": clean.se, "zeta": gap.mean, "se_zeta": gap.se,
            "theory_mixed": th_mixed, "theory_clean": th_clean, "theory_zeta": th_mixed - th_clean}


def rp_summary(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Replicate means and combined SEs of E_mixed, E_clean and zeta, with the theory, per ``keys``."""
    parts = []
    for value, se in (("error_mixed", "se_mixed"), ("error_clean", "se_clean"), ("zeta", "se_zeta")):
        a = stats.pool_replicates(frame, keys, value, se).rename(columns={"mean": value, "se": se}).drop(columns="k")
        parts.append(a.set_index(keys))
    th = frame.groupby(keys)[["theory_mixed", "theory_clean", "theory_zeta"]].mean()
    return pd.concat(parts + [th], axis=1).reset_index()


def rp_cell_cost(cell: dict) -> float:
    """Relative single-thread CPU cost of one replicate of a random-projection cell (:func:`rp_run_cell`):
    reps x (n d m + n m min(n, m) + 1e6) for the paired Monte Carlo (projected features, the ridge solve in
    the smaller of the primal and dual, 1e6 for the per-repetition Python loop) + 2 draws x d m min(d, m) for
    the two semi-analytic theory evaluations, + 2e7 per cell. Constants: single-thread timings of rp_run_cell
    at quick (model-size m = 10 and 400, pareto m = 20 and 400: 3.1e-10 to 4.5e-10 s per unit) and smoke
    (~1.2e-10)."""
    d, n, m, reps, draws = (int(cell[k]) for k in ("d", "n", "m", "reps", "draws"))
    return float(reps * (n * d * m + n * m * min(n, m) + 1e6) + 2 * draws * d * m * min(d, m) + 2e7)
