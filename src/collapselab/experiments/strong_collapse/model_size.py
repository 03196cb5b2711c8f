"""strong-collapse/model-size: the collapse gap zeta against the width of the random-projection model
(paper Sec. 2 Eq. 5, Sec. 3.2 Theorem 2)."""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd
from pydantic import Field

from collapselab import stats
from collapselab.core import Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import STRONG_COLLAPSE
from collapselab.experiments.strong_collapse._common import rp_cell_cost, rp_cells, rp_run_cell, rp_summary

PEAK_BAND = (0.8, 1.25)  # "near the interpolation threshold psi = m/n = 1"
MIN_SEEDS_PEAK = 5  # replicates needed for a bootstrap interval of the peak location


class ModelSizeParams(Params):
    d: int = Field(200, ge=2, description="input dimension d")
    n: int = Field(100, ge=2, description="total training samples n")
    psis: list[float] = Field([0.2, 0.5, 0.9, 1.0, 1.1, 2.0, 4.0], description="widths psi = m/n")
    p2s: list[float] = Field([0.2], description="synthetic fractions p2 (> 0)")
    c2s: list[float] = Field([1.0], description="synthetic qualities c^2 = ||w2 - w1||_Sigma^2")
    lam: float = Field(1e-3, ge=0, description="ridge lam on the features")
    noise_std: float = Field(0.5, ge=0, description="label noise std")
    spectrum: Literal["isotropic", "power_law"] = Field("isotropic", description="spectrum of Sigma")
    exponent: float = Field(1.5, ge=0, description="power-law exponent (spectrum=power_law)")
    reps: int = Field(50, ge=2, description="MC replicates per cell (fresh S, x, e each)")
    draws: int = Field(4, ge=1, description="draws of S averaged by the semi-analytic theory")


def cells(p: ModelSizeParams) -> list[dict]:
    return rp_cells(p, sorted({max(1, int(round(psi * p.n))) for psi in p.psis}))


def _peaks(frame: pd.DataFrame, n: int, resamples: int = 2000) -> pd.DataFrame:
    """Per (p2, c2): the psi maximising the replicate-mean zeta and a 95% percentile-bootstrap interval
    of that argmax over resampled framework replicates (NaN with fewer than MIN_SEEDS_PEAK replicates)."""
    rng = np.random.default_rng(0)  # fixed: summarize is deterministic
    rows = []
    for (p2, c2), g in frame[frame["p2"] > 0].groupby(["p2", "c2"]):
        z = g.pivot_table(index="replicate", columns="m", values="zeta")  # (replicates, widths)
        psi = z.columns.to_numpy(float) / n
        k = len(z)
        row = {"p2": p2, "c2": c2, "peak_psi": float(psi[np.argmax(z.mean(axis=0).to_numpy())]), "replicates": k,
               "peak_low": np.nan, "peak_high": np.nan}
        if k >= MIN_SEEDS_PEAK:
            idx = rng.integers(0, k, size=(resamples, k))
            boot = psi[np.argmax(z.to_numpy()[idx].mean(axis=1), axis=1)]
            row["peak_low"], row["peak_high"] = (float(v) for v in np.quantile(boot, [0.025, 0.975]))
        rows.append(row)
    return pd.DataFrame(rows)


def summarize(frame: pd.DataFrame, p: ModelSizeParams) -> dict[str, pd.DataFrame]:
    """``summary``: zeta, E_mixed, E_clean (MC and theory) per (p2, c2, m); ``peak``: the argmax of zeta
    with its bootstrap interval over replicates."""
    s = rp_summary(frame, ["p2", "c2", "m"])
    s["psi"] = s["m"] / p.n
    return {"summary": s, "peak": _peaks(frame, p.n)}


def plot(tables: dict[str, pd.DataFrame], p: ModelSizeParams) -> dict:
    s = tables["summary"]
    fig, axes = new_figure(2)
    axes = np.asarray(axes).ravel()
    combos = sorted({(a, b) for a, b in zip(s["p2"], s["c2"])})
    for (p2, c2), col in zip(combos, colors(len(combos))):
        g = s[(s["p2"] == p2) & (s["c2"] == c2)].sort_values("psi")
        lab = f"$p_2$={p2:g}, $c^2$={c2:g}"
        axes[0].errorbar(g["psi"], g["zeta"], yerr=g["se_zeta"], fmt="o", ms=4, color=col, capsize=2, label=lab)
        axes[0].plot(g["psi"], g["theory_zeta"], "-", color=col, lw=1)
        axes[1].errorbar(g["psi"], g["error_mixed"], yerr=g["se_mixed"], fmt="o", ms=4, color=col, capsize=2,
                         label=f"mixed, {lab}")
        axes[1].plot(g["psi"], g["theory_mixed"], "-", color=col, lw=1)
    g0 = s[(s["p2"] == combos[0][0]) & (s["c2"] == combos[0][1])].sort_values("psi")
    axes[1].errorbar(g0["psi"], g0["error_clean"], yerr=g0["se_clean"], fmt="s", ms=4, color="k", capsize=2,
                     label="clean (p2 = 0)")
    axes[1].plot(g0["psi"], g0["theory_clean"], "k-", lw=1)
    for ax in axes:
        ax.axvline(1.0, color="grey", ls=":", lw=0.8)
        ax.set_xscale("log")
        ax.set_xlabel(r"$\psi = m/n$")
    axes[0].axhline(0.0, color="grey", lw=0.6)
    axes[0].set_ylabel(r"$\zeta = E_{mixed} - E_{clean}$")
    axes[1].set_yscale("log")
    axes[1].set_ylabel("test error")
    axes[0].set_title(f"Random projections: d={p.d}, n={p.n}, $\\lambda$={p.lam:g} (lines: theory)", fontsize=9)
    axes[0].legend()
    axes[1].legend()
    return {"zeta_vs_psi": fig}


def _groups(r: Results):
    s = r.tables["summary"]
    return [(f"p2={k[0]:g},c2={k[1]:g}", g.sort_values("psi")) for k, g in s[s["p2"] > 0].groupby(["p2", "c2"])]


def _at(g: pd.DataFrame, psi: float) -> pd.Series | None:
    i = (g["psi"] - psi).abs().idxmin()
    return g.loc[i] if abs(g.loc[i, "psi"] - psi) <= 0.05 * psi + 1e-12 else None


def _gap(r: Results, a: pd.Series, b: pd.Series) -> stats.Comparison:
    """zeta(a) - zeta(b) of two independent cells, t interval (pooled replicate df) from the MC SEs."""
    rep = (r.params.seeds, r.params.reps)  # the replicates behind each standard error
    return stats.pooled_comparison(a["zeta"] - b["zeta"], float(np.hypot(a["se_zeta"], b["se_zeta"])), *rep)


def _check_grows(r: Results) -> Verdict:
    parts = []
    for label, g in _groups(r):
        a, b = _at(g, 0.2), _at(g, 0.9)
        if a is None or b is None:
            return Verdict.inconclusive("psi = 0.2 or 0.9 missing", "needs psi = 0.2 and psi = 0.9 in the grid")
        parts.append((label, stats.beats(_gap(r, b, a), resolution=0.1 * abs(b["zeta"]) + 1e-12)))
    return Verdict.all_of(parts, "zeta(0.9) - zeta(0.2): ")


def _check_peak(r: Results) -> Verdict:
    parts = []
    lo_band, hi_band = PEAK_BAND
    for _, x in r.tables["peak"].iterrows():
        label = f"p2={x['p2']:g},c2={x['c2']:g}: argmax psi {x['peak_psi']:.2f}"
        if not np.isfinite(x["peak_low"]):
            parts.append((label, stats.Decision("INCONCLUSIVE", f"{int(x['replicates'])} replicates",
                                                f"needs >= {MIN_SEEDS_PEAK} seeds for the bootstrap interval")))
            continue
        text = f"95% bootstrap interval [{x['peak_low']:.2f}, {x['peak_high']:.2f}] vs band {PEAK_BAND}"
        inside = lo_band <= x["peak_low"] and x["peak_high"] <= hi_band
        outside = x["peak_high"] < lo_band or x["peak_low"] > hi_band
        status = "PASS" if inside else "FAIL" if outside else "INCONCLUSIVE"
        parts.append((label, stats.Decision(status, text, "" if status != "INCONCLUSIVE" else
                                            "needs more seeds or a finer psi grid near 1")))
    if not parts:
        return Verdict.inconclusive("no p2 > 0", "needs p2 > 0")
    return Verdict.all_of(parts)


def _check_falls(r: Results) -> Verdict:
    parts = []
    for label, g in _groups(r):
        top, last = g.loc[g["zeta"].idxmax()], g.iloc[-1]
        if last["psi"] < 2.0:
            return Verdict.inconclusive("largest psi < 2", "needs psi >= 2 in the grid")
        parts.append((f"{label} (peak psi {top['psi']:.2g} -> psi {last['psi']:.2g})",
                      stats.beats(_gap(r, top, last), resolution=0.1 * abs(top["zeta"]) + 1e-12)))
    return Verdict.all_of(parts, "zeta(peak) - zeta(largest psi): ")


def _check_positive(r: Results) -> Verdict:
    rep = (r.params.seeds, r.params.reps)  # the replicates behind each standard error
    parts = []
    for label, g in _groups(r):
        x = _at(g, 4.0)
        if x is None:
            return Verdict.inconclusive("psi = 4 missing", "needs psi = 4 in the grid")
        parts.append((label, stats.beats(stats.pooled_comparison(x["zeta"], x["se_zeta"], *rep),
                                         resolution=0.05 * x["error_clean"])))
    return Verdict.all_of(parts, "zeta(psi=4): ")


register(Experiment(
    cell_cost=rp_cell_cost,
    name="strong-collapse/model-size",
    paper=STRONG_COLLAPSE,
    description=(
        "Model size and collapse (paper Sec. 2 Eq. 5, Sec. 3.2 Theorem 2): the random-projection model "
        "f(x) = v.(Sx), S (m x d) with N(0, 1/d) entries, v by ridge on Sx, trained on n samples of which "
        "a fraction p2 is synthetic. zeta(psi) = E_mixed - E_clean against psi = m/n, Monte Carlo "
        "(paired: the clean and mixed fits share S, x, e) against the semi-analytic theory (exact "
        "reduction to an m-dim mixture ridge problem given S, deterministic equivalent, averaged over "
        "draws of S). quick: d = 200, n = 100, 5 seeds; full: d = 1000, n = 500 (the paper's n)."),
    params=ModelSizeParams,
    presets={
        "smoke": {"d": 40, "n": 20, "psis": [0.2, 0.9, 1.0, 2.0, 4.0], "reps": 5, "draws": 1, "seeds": 1},
        "quick": {"psis": [0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0, 4.0],
                  "p2s": [0.1, 0.3], "c2s": [0.25, 1.0], "reps": 60, "draws": 4, "seeds": 5},
        "full": {"d": 1000, "n": 500,
                 "psis": [0.1, 0.2, 0.35, 0.5, 0.65, 0.8, 0.9, 0.95, 1.0, 1.05, 1.1, 1.25, 1.5, 2.0, 3.0,
                          4.0],
                 "p2s": [0.05, 0.1, 0.2, 0.5], "c2s": [0.1, 0.25, 1.0], "reps": 200, "draws": 16, "seeds": 10},
    },
    cells=cells, run_cell=rp_run_cell, summarize=summarize, plot=plot, main_figure="zeta_vs_psi",
    claims=[
        Claim("grows", "Below the interpolation threshold larger models amplify collapse: zeta(psi=0.9) > "
              "zeta(psi=0.2) for every p2, c^2", _check_grows, source="Abstract; Sec. 3.2, Thm. 2",
              kind="paper", test="per (p2, c^2), one-sided z test of zeta(0.9) - zeta(0.2) > 0 with the MC SEs, "
                                 "alpha 0.05; FAIL when not significant with CI half-width <= 10% of zeta(0.9); "
                                 "PASS iff every (p2, c^2) passes"),
        Claim("peak", "zeta peaks near the interpolation threshold m = n: the argmax psi lies in [0.8, 1.25]",
              _check_peak, source="Sec. 3.2, Thm. 2 (double-descent-like peak at m = n)", kind="paper",
              test="per (p2, c^2), 95% percentile-bootstrap interval of the argmax psi of the replicate-mean "
                   "zeta, resampling the framework replicates (>= 5 seeds): PASS iff inside [0.8, 1.25], FAIL "
                   "iff disjoint from it, else INCONCLUSIVE"),
        Claim("falls", "Beyond the threshold larger models mitigate collapse: zeta(largest psi >= 2) < peak",
              _check_falls, source="Abstract; Sec. 3.2, Thm. 2", kind="paper",
              test="per (p2, c^2), one-sided z test of zeta(peak) - zeta(psi_max) > 0 with the MC SEs, alpha "
                   "0.05; FAIL when not significant with CI half-width <= 10% of the peak"),
        Claim("positive", "Larger models mitigate but do not prevent collapse: zeta > 0 at psi = 4",
              _check_positive, source="Abstract; Sec. 3.2, Thm. 2", kind="paper",
              test="per (p2, c^2), one-sided z test of zeta(psi=4) > 0 with the MC SE, alpha 0.05; FAIL when "
                   "not significant with CI half-width <= 5% of E_clean(psi=4)"),
    ],
))
