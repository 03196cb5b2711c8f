"""strong-collapse/pareto: the paper's Figure 1 Pareto diagram with the random-projection model."""

from __future__ import annotations

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import Claim, Experiment, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import STRONG_COLLAPSE
from collapselab.experiments.strong_collapse._common import rp_cell_cost, rp_cells, rp_run_cell, rp_summary
from collapselab.experiments.strong_collapse.model_size import ModelSizeParams

THEORY_MARGIN = 0.15  # |sum zeta / sum theory_zeta - 1|: the theory averages only `draws` draws of S
ORDER_RESOLUTION = 0.5  # half-width of the rank-correlation interval that could have shown an ordering
_MARKERS = ["s", "D", "*", "^", "v", "o"]


class ParetoParams(ModelSizeParams):
    widths: list[int] = Field([20, 50, 80, 150, 400], description="widths m (points along each curve)")


def cells(p: ParetoParams) -> list[dict]:
    return rp_cells(p, sorted(set(p.widths)))


def _stratified_spearman(s: pd.DataFrame, zeta: np.ndarray) -> np.ndarray:
    """Mean over (p2, m) strata of Spearman's rho between c^2 and zeta, for each row of ``zeta``
    (draws, points); strata with fewer than 2 qualities are skipped (NaN when none is left)."""
    zeta = np.atleast_2d(zeta)
    rhos = []
    for idx in s.groupby(["p2", "m"]).indices.values():
        k = len(idx)
        if k < 2:
            continue
        rc = np.argsort(np.argsort(s["c2"].to_numpy()[idx]))  # ranks of the (distinct) qualities
        rz = np.argsort(np.argsort(zeta[:, idx], axis=1), axis=1)
        rhos.append(1.0 - 6.0 * np.sum((rz - rc) ** 2, axis=1) / (k * (k * k - 1)))
    return np.mean(rhos, axis=0) if rhos else np.full(zeta.shape[0], np.nan)


def _quality_order(s: pd.DataFrame, resamples: int = 2000) -> pd.DataFrame:
    """Stratified Spearman rho(c^2, zeta) and its parametric-bootstrap distribution (zeta ~ N(mean, se^2)
    per point, fixed seed): estimate, SE, one-sided 95% lower bound and the bootstrap P(rho <= 0)."""
    s = s[s["p2"] > 0].reset_index(drop=True)
    z, se = s["zeta"].to_numpy(), s["se_zeta"].to_numpy()
    rho = float(_stratified_spearman(s, z)[0])
    rng = np.random.default_rng(0)
    boot = _stratified_spearman(s, z + se * rng.standard_normal((resamples, z.size)))
    strata = int((s.groupby(["p2", "m"]).size() >= 2).sum())
    return pd.DataFrame([{"rho": rho, "se": float(np.std(boot, ddof=1)), "low": float(np.quantile(boot, 0.05)),
                          "p_nonpositive": float(np.mean(boot <= 0)), "strata": strata}])


def summarize(frame: pd.DataFrame, p: ParetoParams) -> dict[str, pd.DataFrame]:
    """``summary``: E_mixed, E_clean, zeta (MC, SE) and theory per (p2, c2, m); ``quality_order``: the
    stratified rank correlation between quality c^2 and the gap zeta."""
    s = rp_summary(frame, ["p2", "c2", "m"])
    return {"summary": s, "quality_order": _quality_order(s)}


def plot(tables: dict[str, pd.DataFrame], p: ParetoParams) -> dict:
    s = tables["summary"]
    fig, ax = new_figure()
    c2s, p2s = sorted(s["c2"].unique()), sorted(s["p2"].unique())
    cols = dict(zip(p2s, colors(len(p2s))))
    for c2, mk in zip(c2s, _MARKERS):
        for p2 in p2s:
            g = s[(s["c2"] == c2) & (s["p2"] == p2)].sort_values("m")
            ax.plot(g["error_clean"], g["error_mixed"], "-", color=cols[p2], lw=0.7, alpha=0.6)
            ax.scatter(g["error_clean"], g["error_mixed"], marker=mk, color=cols[p2], s=30,
                       label=f"$c^2$={c2:g}, $p_2$={p2:g}")
    lo = float(min(s["error_clean"].min(), s["error_mixed"].min()))
    hi = float(max(s["error_clean"].max(), s["error_mixed"].max()))
    ax.plot([lo, hi], [lo, hi], "k--", lw=0.8, label="y = x (synthetic data harmless)")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("test error, real data only (n real)")
    ax.set_ylabel("test error, mixture (n2 = p2 n synthetic)")
    ax.set_title(f"Pareto diagram (Fig. 1): d={p.d}, n={p.n}, widths m={sorted(set(p.widths))}\n"
                 "marker: quality $c^2$ (square = best), colour: $p_2$", fontsize=9)
    ax.legend(fontsize=6, ncol=2)
    return {"pareto": fig}


def _check_above_diagonal(r: Results) -> Verdict:
    rep = (r.params.seeds, r.params.reps)  # the replicates behind each standard error
    s = r.tables["summary"]
    s = s[s["p2"] > 0]
    below_p = [stats.pooled_comparison(z, se, *rep, alternative="less").pvalue
               for z, se in zip(s["zeta"], s["se_zeta"])]
    below = int(sum(stats.holm(below_p)))
    none_below = stats.Decision("FAIL" if below else "PASS", f"{below}/{len(s)} points significantly below "
                                "(one-sided z, Holm over points, alpha 0.05)")
    pooled_se = float(np.sqrt(np.sum(s["se_zeta"] ** 2)) / len(s))
    pooled = stats.pooled_comparison(float(s["zeta"].mean()), pooled_se, *rep)
    th = float(s["theory_zeta"].mean())
    ratio = stats.pooled_comparison(float(s["zeta"].mean()) / th - 1, pooled_se / th, *rep, alternative="two-sided")
    return Verdict.all_of([("none below", none_below),
                    ("pooled mean zeta > 0", stats.beats(pooled, resolution=0.1 * abs(th))),
                    ("mean zeta / mean theory_zeta - 1", stats.matches(ratio, margin=THEORY_MARGIN))])


def _check_quality_order(r: Results) -> Verdict:
    q = r.tables["quality_order"].iloc[0]
    if not q["strata"] or not np.isfinite(q["rho"]):
        return Verdict.inconclusive("no (p2, m) with two qualities", "needs at least two qualities c^2")
    cmp = stats.Comparison(float(q["rho"]), float(q["se"]), float(q["low"]), np.inf, float(q["p_nonpositive"]),
                           int(q["strata"]), "greater", 0.95, "stratified Spearman, parametric bootstrap",
                           df=np.inf)  # the bootstrap's own bound and p-value; no t pivot
    return Verdict.of(stats.beats(cmp, resolution=ORDER_RESOLUTION), "rho(c^2, zeta) within (p2, m): ")


register(Experiment(
    cell_cost=rp_cell_cost,
    name="strong-collapse/pareto",
    paper=STRONG_COLLAPSE,
    description=(
        "The paper's Figure 1 Pareto diagram with the random-projection model: x = test error with real "
        "data only (n real samples), y = test error with the mixture (n samples, a fraction p2 synthetic), "
        "marker = synthetic quality c^2, colour = p2, points along widths m. Above the diagonal, synthetic "
        "data hurt. quick: d = 200, n = 100; full: d = 1000, n = 500 (the paper's n)."),
    params=ParetoParams,
    presets={
        "smoke": {"d": 40, "n": 20, "widths": [5, 30], "p2s": [0.2], "c2s": [0.05, 1.0], "reps": 5,
                  "draws": 1},
        "quick": {"widths": [20, 50, 80, 150, 400], "p2s": [0.05, 0.2, 0.5], "c2s": [0.02, 0.25, 1.0],
                  "reps": 40, "draws": 2, "seeds": 2},
        "full": {"d": 1000, "n": 500, "widths": [50, 150, 300, 450, 700, 1000, 2000],
                 "p2s": [0.02, 0.05, 0.1, 0.2, 0.5], "c2s": [0.01, 0.05, 0.25, 1.0], "reps": 200, "draws": 8,
                 "seeds": 5},
    },
    cells=cells, run_cell=rp_run_cell, summarize=summarize, plot=plot, main_figure="pareto",
    claims=[
        Claim("mixture-worse", "At fixed n, replacing real by synthetic samples never lowers the test error "
              "(the points lie on or above the diagonal), and it raises it by the gap zeta the theory gives",
              _check_above_diagonal, source="Fig. 1; Sec. 3, Thm. 1 (zeta >= 0)", kind="paper",
              test="(a) no point significantly below the diagonal: one-sided z tests of zeta < 0, Holm over "
                   "points, alpha 0.05; (b) pooled one-sided z test of mean zeta > 0 over all points, alpha "
                   "0.05 (FAIL when the half-width <= 10% of mean theory_zeta); (c) TOST of mean zeta / mean "
                   "theory_zeta - 1 against +-0.15, alpha 0.05. PASS iff (a), (b) and (c) pass"),
        Claim("quality-order", "Worse synthetic data (larger c^2) cause a larger gap E_mixed - E_clean",
              _check_quality_order, source="Fig. 1; Sec. 2, Def. 1 (smaller c^2 is better)", kind="paper",
              test="Spearman rho between c^2 and zeta within each (p2, m), averaged over strata; one-sided 95% "
                   "parametric-bootstrap interval (zeta ~ N(mean, SE^2), 2000 draws, seed 0). PASS iff the "
                   "lower bound > 0; FAIL iff not and the half-width <= 0.5; else INCONCLUSIVE"),
    ],
))
