"""Paper 5, "Model Collapse Demystified: The Case of Regression" (Dohmatob, Feng, Kempe; NeurIPS 2024,
arXiv 2402.07712), with the accumulate strategy of Gerstgrasser et al. (arXiv 2404.01413).

Recursive training on own-model labels (``collapselab.regression.recursive_ridge_error`` and its Monte
Carlo twin ``simulate_recursive_ridge``), notes_collapse_theory.md §1 and §5. Every experiment overlays
the theory on the simulation; the claim checks judge the simulation.
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import pandas as pd
from pydantic import Field
from scipy import stats

from collapselab.core import Analysis, CellContext, Claim, Experiment, Params, Results, Verdict, register
from collapselab.core.plotting import colors, new_figure
from collapselab.experiments._papers import DEMYSTIFIED
from collapselab.regression import (
    adaptive_regularization,
    fit_power_law,
    power_law_spectrum,
    recursive_ridge_error,
    simulate_recursive_ridge,
    source_condition,
)

# ============================================================================ shared helpers


def make_problem(spectrum: str, d: int, beta: float = 2.0, r: float = 0.5) -> tuple[np.ndarray, np.ndarray]:
    """(eigs, w0): isotropic Sigma = I with ||w0|| = 1 (w0 = 1/sqrt(d)), or lambda_j = j^{-beta} with the
    source condition lambda_j w0_j^2 = j^{-(1 + 2 beta r)}."""
    if spectrum == "isotropic":
        return np.ones(d), np.full(d, 1.0 / math.sqrt(d))
    eigs = power_law_spectrum(d, beta)
    return eigs, source_condition(eigs, r)


def _as_T(T: int | None) -> float:
    return math.inf if T is None else float(T)


def _mc_and_theory(cell: dict, ctx: CellContext) -> dict:
    """Simulate and evaluate the theory for one parameter point (cell keys as the library's args)."""
    eigs, w0 = make_problem(cell["spectrum"], cell["d"], cell.get("beta", 2.0), cell.get("r", 0.5))
    T = _as_T(cell["T"])
    args = (eigs, w0, T, cell["T0"], cell["n"], cell["lam"], cell["sigma"], cell["sigma0"])
    strategy = cell.get("strategy", "replace")
    mean, se = simulate_recursive_ridge(*args, strategy=strategy, reps=cell["reps"], rng=ctx.rng())
    theory = recursive_ridge_error(*args, strategy=strategy)
    return {"error": mean, "stderr": se, "theory": theory, "w0_norm2": float(np.sum(eigs * w0**2))}


def _aggregate(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Mean over framework replicates of the per-replicate MC means, with the combined standard error."""
    g = frame.groupby(keys, sort=True, dropna=False)
    out = g.agg(error=("error", "mean"), k=("error", "size"), theory=("theory", "first"),
                se2=("stderr", lambda s: float(np.sum(np.asarray(s) ** 2)))).reset_index()
    out["stderr"] = np.sqrt(out["se2"]) / out["k"]
    out["rel_dev"] = (out["error"] - out["theory"]) / out["theory"]
    return out.drop(columns=["se2", "k"])


def _linear_fit(x, y) -> tuple[float, float, float]:
    """(slope, R^2, standard error of the slope) of an ordinary least-squares line."""
    res = stats.linregress(np.asarray(x, float), np.asarray(y, float))
    return float(res.slope), float(res.rvalue**2), float(res.stderr)


# ============================================================================ demystified/generations


class GenerationsParams(Params):
    spectrum: str = Field("isotropic", pattern="^(isotropic|power_law)$", description="Sigma's spectrum")
    d: int = Field(50, ge=2, description="dimension")
    T0: int = Field(150, ge=1, description="rows per fake-data generation (T0 > d + 1 for the linear law)")
    Ts: list[int] = Field([100, 200], description="downstream sample sizes")
    lams: list[float] = Field([0.0, 0.1, 1.0], description="downstream ridge penalties")
    generations: list[int] = Field(list(range(0, 11)), description="generations n")
    sigma: float = Field(1.0, ge=0, description="downstream label noise")
    sigma0: float = Field(1.0, ge=0, description="fake-data label noise")
    reps: int = Field(400, ge=2, description="Monte Carlo chains per cell")


def generations_cells(p: GenerationsParams) -> list[dict]:
    return [{"spectrum": p.spectrum, "d": p.d, "T0": p.T0, "T": T, "lam": lam, "n": n, "sigma": p.sigma,
             "sigma0": p.sigma0, "reps": p.reps} for T in p.Ts for lam in p.lams for n in p.generations]


def generations_analyze(frame: pd.DataFrame, p: GenerationsParams) -> Analysis:
    agg = _aggregate(frame, ["T", "lam", "n"])
    fig, axes = new_figure(len(p.Ts))
    axes = np.ravel(axes)
    rows = []
    for ax, T in zip(axes, sorted(agg["T"].unique())):
        sub = agg[agg["T"] == T]
        for c, lam in zip(colors(len(p.lams)), sorted(sub["lam"].unique())):
            s = sub[sub["lam"] == lam].sort_values("n")
            ax.errorbar(s["n"], s["error"], yerr=2 * s["stderr"], fmt="o", color=c, ms=4,
                        label=f"MC lam={lam:g}")
            ax.plot(s["n"], s["theory"], "--", color=c, label=f"theory lam={lam:g}")
            nan = float("nan")
            slope, r2, slope_se = _linear_fit(s["n"], s["error"]) if len(s) >= 3 else (nan, nan, nan)
            rows.append({"T": T, "lam": lam, "slope": slope, "r2": r2, "slope_se": slope_se})
        ax.set(xlabel="generation n", ylabel="test error E", title=f"T={T}, T0={p.T0}, d={p.d}")
        ax.legend()
    fits = pd.DataFrame(rows)
    fits["slope_theory_lam0"] = p.sigma0**2 * p.d / (p.T0 - p.d - 1) if p.T0 > p.d + 1 else float("nan")
    return Analysis(figures={"error_vs_generations": fig}, tables={"points": agg, "linear_fits": fits})


def _check_linear(r: Results) -> Verdict:
    p = r.params
    fits = r.tables["linear_fits"]
    fits = fits[fits["lam"] == 0.0]
    if fits.empty or len(p.generations) < 3:
        return Verdict.inconclusive("needs lam = 0 and at least 3 generations")
    if p.T0 <= p.d + 1:
        return Verdict.inconclusive(f"T0 = {p.T0} <= d + 1: the linear law needs T0 > d + 1")
    target = p.sigma0**2 * p.d / (p.T0 - p.d - 1)
    rel = (fits["slope"] - target).abs() / target
    ok = bool((fits["r2"] >= 0.98).all() and (rel <= 0.05).all())
    parts = [f"T={int(t)}: R2={r2:.4f}, slope={s:.4f}+-{se:.4f}"
             for t, r2, s, se in zip(fits["T"], fits["r2"], fits["slope"], fits["slope_se"])]
    msg = "; ".join(parts) + f" vs sigma0^2 d/(T0-d-1) = {target:.4f} (max rel. dev. {rel.max():.3f})"
    if (fits["slope_se"] / target).max() > 0.025:
        return Verdict.inconclusive(msg + "; slope s.e. above 2.5%: too few reps to judge 5%")
    return Verdict.check(ok, msg)


def _check_theory(r: Results) -> Verdict:
    pts = r.tables["points"]
    pts = pts[np.isfinite(pts["theory"]) & (pts["theory"] > 0)]
    if pts.empty:
        return Verdict.inconclusive("no finite theory values")
    worst = pts.loc[pts["rel_dev"].abs().idxmax()]
    rel_se = float((pts["stderr"] / pts["error"]).max())
    msg = (f"max |MC/theory - 1| = {abs(worst['rel_dev']):.4f} at T={worst['T']}, lam={worst['lam']}, "
           f"n={worst['n']} over {len(pts)} points (max MC rel. s.e. {rel_se:.4f})")
    if rel_se > 0.02:
        return Verdict.inconclusive(msg + "; too few reps to judge 5%")
    return Verdict.check(pts["rel_dev"].abs().max() <= 0.05, msg)


register(Experiment(
    name="demystified/generations", paper=DEMYSTIFIED,
    description=("Test error of the downstream ridge against the number n of fake-data generations (Sec. 4, "
                 "Thm. 4.1; notes §1.3(i)-(ii)), for several lam and T, isotropic Gaussian data with T0 > d. "
                 "Unregularised: E = sigma^2 d/(T-d-1) + n sigma0^2 d/(T0-d-1), linear in n. Full preset: "
                 "d = 300, T0 = 900, 2000 chains per cell (the paper's d is in the hundreds, [R])."),
    params=GenerationsParams,
    presets={"smoke": {"d": 10, "T0": 30, "Ts": [40], "lams": [0.0, 1.0], "generations": [0, 2, 4],
                       "reps": 20},
             "quick": {"reps": 600},
             "full": {"d": 300, "T0": 900, "Ts": [600, 1200], "generations": list(range(0, 21)),
                      "reps": 2000}},
    cells=generations_cells, run_cell=_mc_and_theory, analyze=generations_analyze,
    claims=[Claim("linear-in-n", "For lam = 0 the error is linear in n (R^2 of a linear fit >= 0.98) with "
                  "slope sigma0^2 d/(T0-d-1) within 5%", _check_linear),
            Claim("theory-matches", "Theory (Thm. 4.1 / its deterministic equivalent) matches simulation "
                  "within 5% at every (T, lam, n)", _check_theory)],
))


# ============================================================================ demystified/ridge-u-curve


class UCurveParams(Params):
    d: int = Field(50, ge=2, description="dimension (isotropic Sigma, ||w0|| = 1)")
    T0: int = Field(150, ge=1, description="rows per fake-data generation")
    T: int = Field(100, ge=1, description="downstream sample size")
    lams: list[float] = Field([float(x) for x in np.round(np.geomspace(1e-2, 1e2, 13), 6)],
                              description="ridge penalties (log grid)")
    generations: list[int] = Field([0, 2, 6], description="generations n")
    sigma: float = Field(1.0, ge=0, description="downstream label noise")
    sigma0: float = Field(1.0, ge=0, description="fake-data label noise")
    reps: int = Field(300, ge=2, description="Monte Carlo chains per cell")


def ucurve_cells(p: UCurveParams) -> list[dict]:
    return [{"spectrum": "isotropic", "d": p.d, "T0": p.T0, "T": p.T, "lam": lam, "n": n, "sigma": p.sigma,
             "sigma0": p.sigma0, "reps": p.reps} for n in p.generations for lam in p.lams]


def _best_lam(lams: np.ndarray, errors: np.ndarray) -> tuple[float, bool]:
    """Minimiser of the error over the grid refined by a parabola in log lam through the 3 points
    around the grid minimum; second value: whether the grid minimum is interior."""
    i = int(np.argmin(errors))
    if i == 0 or i == len(lams) - 1:
        return float(lams[i]), False
    x, y = np.log(lams[i - 1:i + 2]), errors[i - 1:i + 2]
    a, b, _ = np.polyfit(x, y, 2)
    xm = -b / (2 * a) if a > 0 else x[1]
    return float(np.exp(np.clip(xm, x[0], x[2]))), True


def ucurve_analyze(frame: pd.DataFrame, p: UCurveParams) -> Analysis:
    agg = _aggregate(frame, ["n", "lam"])
    fig, ax = new_figure()
    rows = []
    for c, n in zip(colors(len(p.generations)), sorted(agg["n"].unique())):
        s = agg[agg["n"] == n].sort_values("lam")
        lams, err = s["lam"].to_numpy(), s["error"].to_numpy()
        ax.errorbar(lams, err, yerr=2 * s["stderr"], fmt="o", color=c, ms=4, label=f"MC n={n}")
        ax.plot(lams, s["theory"], "--", color=c, label=f"theory n={n}")
        pos = lams > 0
        best, interior = _best_lam(lams[pos], err[pos])
        best_th, _ = _best_lam(lams[pos], s["theory"].to_numpy()[pos])
        rows.append({"n": n, "best_lam": best, "interior_min": interior, "best_lam_theory": best_th,
                     "min_error": float(err[pos].min()), "left_error": float(err[pos][0]),
                     "right_error": float(err[pos][-1])})
    ax.set(xscale="log", xlabel="ridge penalty lam", ylabel="test error E",
           title=f"U-curves, d={p.d}, T={p.T}, T0={p.T0}")
    ax.legend()
    return Analysis(figures={"error_vs_lam": fig}, tables={"points": agg, "best_lam": pd.DataFrame(rows)})


def _check_u_best_lam(r: Results) -> Verdict:
    best = r.tables["best_lam"].sort_values("n")
    if len(best) < 2:
        return Verdict.inconclusive("needs at least two generation counts")
    u_shaped = bool(best["interior_min"].all()
                    and (best["left_error"] > 1.05 * best["min_error"]).all()
                    and (best["right_error"] > 1.05 * best["min_error"]).all())
    lam_seq = best["best_lam"].to_numpy()
    grows = bool(np.all(np.diff(lam_seq) >= 0) and lam_seq[-1] > lam_seq[0])
    desc = ", ".join(f"n={n}: {v:.3g}" for n, v in zip(best["n"], lam_seq))
    return Verdict.check(u_shaped and grows, f"U-shaped (interior min, ends >= 5% above) = {u_shaped}; "
                         f"best lam {desc}")


register(Experiment(
    name="demystified/ridge-u-curve", paper=DEMYSTIFIED,
    description=("Fig. 1a: test error against the ridge penalty lam for several generation counts n "
                 "(isotropic data, T0 > d). The curves are U-shaped and the best lam grows with n, since "
                 "fake data act as extra label noise. Full preset: d = 300, 2000 chains per cell."),
    params=UCurveParams,
    presets={"smoke": {"d": 10, "T0": 30, "T": 20, "lams": [0.01, 0.3, 10.0], "generations": [0, 3],
                       "reps": 20},
             "quick": {},
             "full": {"d": 300, "T0": 900, "T": 600, "generations": [0, 1, 2, 4, 8], "reps": 2000}},
    cells=ucurve_cells, run_cell=_mc_and_theory, analyze=ucurve_analyze,
    claims=[Claim("u-curve-best-lam-grows", "Error against lam is U-shaped for every n and the best lam "
                  "grows with n", _check_u_best_lam)],
))


# ============================================================================ demystified/overparam


class OverparamParams(Params):
    d: int = Field(200, ge=2, description="dimension (isotropic Sigma)")
    T0s: list[int] = Field([50, 100, 150], description="rows per generation, T0 < d")
    generations: list[int] = Field(list(range(0, 9)), description="generations n")
    sigma0: float = Field(0.0, ge=0, description="fake-data label noise (the claim is for 0)")
    reps: int = Field(200, ge=2, description="Monte Carlo chains per cell")


def overparam_cells(p: OverparamParams) -> list[dict]:
    # T = None: the error of generation n itself (the downstream is the population least squares)
    return [{"spectrum": "isotropic", "d": p.d, "T0": T0, "T": None, "lam": 0.0, "n": n, "sigma": 0.0,
             "sigma0": p.sigma0, "reps": p.reps} for T0 in p.T0s for n in p.generations]


def overparam_analyze(frame: pd.DataFrame, p: OverparamParams) -> Analysis:
    agg = _aggregate(frame, ["T0", "n"])
    agg["paper_formula"] = 1.0 - (agg["T0"] / p.d) ** agg["n"]  # E/||w0||^2, ||w0|| = 1
    fig, ax = new_figure()
    for c, T0 in zip(colors(len(p.T0s)), sorted(agg["T0"].unique())):
        s = agg[agg["T0"] == T0].sort_values("n")
        ax.errorbar(s["n"], s["error"], yerr=2 * s["stderr"], fmt="o", color=c, ms=4, label=f"MC T0={T0}")
        ax.plot(s["n"], s["theory"], "-", color=c, alpha=0.5, label=f"theory T0={T0}")
        ax.plot(s["n"], s["paper_formula"], ":", color="k")
    ax.axhline(1.0, color="grey", lw=0.8)
    ax.set(xlabel="generation n", ylabel="E / ||w0||^2",
           title=f"over-parameterised generators, d={p.d}, sigma0={p.sigma0:g} (dotted: 1-(T0/d)^n)")
    ax.legend()
    return Analysis(figures={"collapse_vs_generations": fig}, tables={"points": agg})


def _check_overparam(r: Results) -> Verdict:
    p = r.params
    if p.sigma0 != 0:
        return Verdict.inconclusive(f"the claim is for noise-free generators; sigma0 = {p.sigma0}")
    pts = r.tables["points"]
    pts = pts[(pts["n"] > 0) & (pts["T0"] < p.d)]
    if pts.empty:
        return Verdict.inconclusive("needs n >= 1 and T0 < d")
    rel = (pts["error"] - pts["paper_formula"]).abs() / pts["paper_formula"]
    i = rel.idxmax()
    if (pts["stderr"] / pts["paper_formula"]).max() > 0.02:
        return Verdict.inconclusive(f"max rel. dev. {rel.max():.4f}, but MC rel. s.e. above 2%: too few reps")
    return Verdict.check(rel.max() <= 0.05, f"max |E/||w0||^2 / (1-(T0/d)^n) - 1| = {rel.max():.4f} "
                         f"(T0={pts.loc[i, 'T0']}, n={pts.loc[i, 'n']}) over {len(pts)} points")


register(Experiment(
    name="demystified/overparam", paper=DEMYSTIFIED,
    description=("Catastrophic collapse without noise (abstract; notes §1.3(iii)): generators fit by "
                 "min-norm least squares on T0 < d rows project onto random T0-dimensional subspaces, so the "
                 "generation-n model decays to the null predictor, E/||w0||^2 = 1 - (T0/d)^n exactly for "
                 "isotropic data. Full preset: d = 1000."),
    params=OverparamParams,
    presets={"smoke": {"d": 20, "T0s": [10], "generations": [0, 1, 2], "reps": 20},
             "quick": {},
             "full": {"d": 1000, "T0s": [100, 250, 500, 750, 900], "generations": list(range(0, 16)),
                      "reps": 1000}},
    cells=overparam_cells, run_cell=_mc_and_theory, analyze=overparam_analyze,
    claims=[Claim("exponential-collapse", "With T0 < d and no noise, E/||w0||^2 follows 1 - (T0/d)^n "
                  "within 5% (n >= 1)", _check_overparam)],
))


# ============================================================================ demystified/scaling


class ScalingParams(Params):
    d: int = Field(100, ge=2, description="dimension (lambda_j = j^{-beta})")
    beta: float = Field(2.0, gt=1, description="capacity exponent")
    r: float = Field(0.5, gt=0, description="source exponent")
    T0: int = Field(200, ge=1, description="rows per fake-data generation (> d + 1)")
    Ts: list[int] = Field([100, 162, 264, 428, 695, 1128, 1831, 3000], description="downstream sample sizes")
    generations: list[int] = Field([0, 1, 4, 16], description="generations n")
    sigma: float = Field(1.0, gt=0, description="downstream label noise")
    sigma0: float = Field(1.0, ge=0, description="fake-data label noise")
    reps: int = Field(60, ge=2, description="Monte Carlo chains per cell")


def scaling_cells(p: ScalingParams) -> list[dict]:
    cells = []
    for n in p.generations:
        for mode in (("clean",) if n == 0 else ("clean", "adaptive")):
            for T in p.Ts:
                lam = adaptive_regularization(T, 0 if mode == "clean" else n, p.T0, p.sigma, p.sigma0, p.beta,
                                              p.r, d=p.d)
                cells.append({"spectrum": "power_law", "d": p.d, "beta": p.beta, "r": p.r, "T0": p.T0, "T": T,
                              "lam": lam, "n": n, "mode": mode, "sigma": p.sigma, "sigma0": p.sigma0,
                              "reps": p.reps})
    return cells


def _clean_rate(p) -> float:
    rb = min(p.r, 1.0)
    return -2 * p.beta * rb / (2 * p.beta * rb + 1)


def scaling_analyze(frame: pd.DataFrame, p: ScalingParams) -> Analysis:
    agg = _aggregate(frame, ["n", "mode", "T"])
    fig, ax = new_figure()
    rows = []
    half = max(2, (len(p.Ts) + 1) // 2)
    for c, n in zip(colors(len(p.generations)), sorted(agg["n"].unique())):
        for mode, style in (("clean", "o"), ("adaptive", "s")):
            s = agg[(agg["n"] == n) & (agg["mode"] == mode)].sort_values("T")
            if s.empty:
                continue
            ax.errorbar(s["T"], s["error"], yerr=2 * s["stderr"], fmt=style, color=c, ms=4,
                        mfc="none" if mode == "adaptive" else c, label=f"MC n={n} {mode} lam")
            ax.plot(s["T"], s["theory"], "--" if mode == "clean" else ":", color=c)
            T, err = s["T"].to_numpy(float), s["error"].to_numpy()
            full = fit_power_law(T, err) if len(T) >= 2 else None
            late = fit_power_law(T[-half:], err[-half:]) if len(T) >= 3 else None
            rows.append({"n": n, "mode": mode, "slope": full.slope if full else float("nan"),
                         "slope_ci_low": full.slope_ci[0] if full else float("nan"),
                         "slope_ci_high": full.slope_ci[1] if full else float("nan"),
                         "late_slope": late.slope if late else float("nan"),
                         "error_at_max_T": float(err[-1]), "stderr_at_max_T": float(s["stderr"].iloc[-1]),
                         "max_T": int(T[-1])})
    ax.set(xscale="log", yscale="log", xlabel="downstream sample size T", ylabel="test error E",
           title=f"power law beta={p.beta:g}, r={p.r:g}, d={p.d}, T0={p.T0} (filled: clean-tuned lam)")
    ax.legend(ncol=2)
    return Analysis(figures={"scaling": fig}, tables={"points": agg, "slopes": pd.DataFrame(rows)})


def _check_clean_slope(r: Results) -> Verdict:
    sl = r.tables["slopes"]
    row = sl[(sl["n"] == 0) & (sl["mode"] == "clean")]
    if row.empty or len(r.params.Ts) < 3:
        return Verdict.inconclusive("needs n = 0 and at least 3 sample sizes")
    target = _clean_rate(r.params)
    s = float(row["slope"].iloc[0])
    half = (row["slope_ci_high"].iloc[0] - row["slope_ci_low"].iloc[0]) / 2
    if not half <= 0.1:
        return Verdict.inconclusive(f"slope {s:.3f}, 95% CI half-width {half:.3f} > 0.1: cannot judge 0.05")
    return Verdict.check(abs(s - target) <= 0.05, f"slope {s:.3f} (95% CI {row['slope_ci_low'].iloc[0]:.3f}.."
                         f"{row['slope_ci_high'].iloc[0]:.3f}) vs -2 beta r/(2 beta r + 1) = {target:.3f}")


def _check_flattens(r: Results) -> Verdict:
    sl = r.tables["slopes"]
    rows = sl[(sl["n"] > 0) & (sl["mode"] == "clean")]
    if rows.empty or len(r.params.Ts) < 4:
        return Verdict.inconclusive("needs n > 0 and at least 4 sample sizes")
    bound = _clean_rate(r.params) / 2
    ok = bool((rows["late_slope"] > bound).all())
    desc = ", ".join(f"n={n}: {s:+.3f}" for n, s in zip(rows["n"], rows["late_slope"]))
    return Verdict.check(ok, f"log-log slope over the larger half of T with clean-tuned lam: {desc} "
                         f"(flat/rising means > half the clean rate, {bound:.3f})")


def _check_adaptive(r: Results) -> Verdict:
    sl = r.tables["slopes"]
    clean = sl[(sl["n"] > 0) & (sl["mode"] == "clean")].set_index("n")
    adapt = sl[(sl["n"] > 0) & (sl["mode"] == "adaptive")].set_index("n")
    ns = sorted(set(clean.index) & set(adapt.index))
    if not ns:
        return Verdict.inconclusive("needs n > 0 with both regularisations")
    parts, ok = [], True
    for n in ns:
        ec, ea = clean.loc[n, "error_at_max_T"], adapt.loc[n, "error_at_max_T"]
        z = (ec - ea) / math.hypot(clean.loc[n, "stderr_at_max_T"], adapt.loc[n, "stderr_at_max_T"])
        ok &= bool(z > 2)
        parts.append(f"n={n}: adaptive {ea:.4f} vs clean {ec:.4f} (z={z:.1f})")
    return Verdict.check(ok, f"at T={int(clean['max_T'].iloc[0])}: " + "; ".join(parts)
                         + " (beats = lower by > 2 s.e.)")


register(Experiment(
    name="demystified/scaling", paper=DEMYSTIFIED,
    description=("Sec. 5 / Fig. 1b: power-law spectrum lambda_j = j^{-beta} with source condition r; test "
                 "error against T on log-log for n in {0, 1, 4, 16}, with the clean-tuned lam = "
                 "(sigma^2/T)^{l_crit} and with the adaptive lam = "
                 "(sigma^2/T + n sigma0^2/(T0-d-1))^{l_crit}. Clean data give the rate "
                 "T^{-2 beta r/(2 beta r + 1)}; fake data make the clean-tuned curve flatten then rise. "
                 "Full preset: d = 400, T up to 3e4."),
    params=ScalingParams,
    presets={"smoke": {"d": 20, "T0": 40, "Ts": [40, 80, 160], "generations": [0, 2], "reps": 10},
             "quick": {},
             "full": {"d": 400, "T0": 800, "Ts": [int(x) for x in np.geomspace(400, 30000, 10)],
                      "reps": 200}},
    cells=scaling_cells, run_cell=_mc_and_theory, analyze=scaling_analyze,
    claims=[Claim("clean-rate", "At n = 0 the log-log slope of E against T is -2 beta r/(2 beta r + 1) "
                  "within 0.05", _check_clean_slope),
            Claim("flattens", "With n > 0 and the clean-tuned lam the curve flattens (or rises) at large T",
                  _check_flattens),
            Claim("adaptive-wins", "The adaptive lam beats the clean-tuned one at the largest T",
                  _check_adaptive)],
))


# ============================================================================ demystified/kernel


@lru_cache(maxsize=2)
def _mnist(pool: int, test: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Flattened MNIST subset (float64 in [0, 1]): (x_pool, y_pool one-hot, x_test, y_test one-hot)."""
    from collapselab.data import load_mnist_subset

    s = load_mnist_subset()
    x_tr = s.x_train.reshape(len(s.x_train), -1).astype(np.float64)[:pool]
    x_te = s.x_test.reshape(len(s.x_test), -1).astype(np.float64)[:test]
    eye = np.eye(10)
    return x_tr, eye[s.y_train[:pool]], x_te, eye[s.y_test[:test]]


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    d2 = np.sum(a**2, 1)[:, None] + np.sum(b**2, 1)[None, :] - 2 * a @ b.T
    return np.maximum(d2, 0.0)


class KernelRidge:
    """RBF kernel ridge regression: alpha = (K + m lam I)^{-1} Y, f(x) = k(x, X) alpha, with
    k(x, x') = exp(-gamma ||x - x'||^2) (the kernel analogue of ``(X'X/m + lam)^{-1} X'Y/m``)."""

    def __init__(self, gamma: float, lam: float):
        self.gamma, self.lam = gamma, lam

    def fit(self, x: np.ndarray, y: np.ndarray) -> KernelRidge:
        K = np.exp(-self.gamma * _sqdist(x, x))  # (m, m)
        self.x_, self.alpha_ = x, np.linalg.solve(K + len(x) * self.lam * np.eye(len(x)), y)
        return self

    def predict(self, x: np.ndarray) -> np.ndarray:
        return np.exp(-self.gamma * _sqdist(x, self.x_)) @ self.alpha_  # (k, outputs)


class KernelParams(Params):
    pool: int = Field(4000, ge=10, description="training pool drawn from (MNIST subset train split)")
    test: int = Field(1000, ge=10, description="test images")
    T0: int = Field(1000, ge=2, description="images per fake-data generation")
    T: int = Field(1000, ge=2, description="downstream images")
    lam: float = Field(1e-3, gt=0, description="kernel ridge penalty (per sample)")
    gamma_scale: float = Field(1.0, gt=0, description="gamma = gamma_scale / median squared distance")
    generations: list[int] = Field([0, 1, 2, 4, 8], description="generations n at which the downstream fits")
    sigma: float = Field(0.5, ge=0, description="downstream label noise (per one-hot output)")
    sigma0: float = Field(0.5, ge=0, description="fake-data label noise (per one-hot output)")


def kernel_cells(p: KernelParams) -> list[dict]:
    return [{"pool": p.pool, "test": p.test, "T0": p.T0, "T": p.T, "lam": p.lam, "gamma_scale": p.gamma_scale,
             "generations": sorted(set(p.generations)), "sigma": p.sigma, "sigma0": p.sigma0}]


def kernel_run_cell(cell: dict, ctx: CellContext) -> dict:
    """One chain: generation k fits RBF kernel ridge on T0 pool images labelled by generation k-1 (the
    one-hot truth for k = 1) plus N(0, sigma0^2) noise; at each requested n a downstream model fits T
    images labelled by generation n plus N(0, sigma^2); test MSE against the true one-hot labels."""
    rng = ctx.rng()
    x_pool, y_pool, x_test, y_test = _mnist(cell["pool"], cell["test"])
    probe = x_pool[rng.choice(len(x_pool), min(500, len(x_pool)), replace=False)]
    d2 = _sqdist(probe, probe)
    gamma = cell["gamma_scale"] / float(np.median(d2[np.triu_indices(len(probe), 1)]))

    def labels(model, idx, noise):
        clean = y_pool[idx] if model is None else model.predict(x_pool[idx])
        return clean + noise * rng.standard_normal(clean.shape)

    want = set(cell["generations"])
    model = None  # generation 0: the true labeller
    mse, acc = [], []
    for n in range(max(want) + 1):
        if n > 0:
            idx = rng.choice(len(x_pool), cell["T0"], replace=False)
            model = KernelRidge(gamma, cell["lam"]).fit(x_pool[idx], labels(model, idx, cell["sigma0"]))
        if n in want:
            idx = rng.choice(len(x_pool), cell["T"], replace=False)
            down = KernelRidge(gamma, cell["lam"]).fit(x_pool[idx], labels(model, idx, cell["sigma"]))
            pred = down.predict(x_test)
            mse.append(float(np.mean(np.sum((pred - y_test) ** 2, axis=1))))
            acc.append(float(np.mean(pred.argmax(1) == y_test.argmax(1))))
    return {"n_list": sorted(want), "test_mse": mse, "test_acc": acc}


def kernel_analyze(frame: pd.DataFrame, p: KernelParams) -> Analysis:
    long = frame[["replicate", "n_list", "test_mse", "test_acc"]].explode(["n_list", "test_mse", "test_acc"])
    long = long.rename(columns={"n_list": "n"}).astype({"n": int, "test_mse": float, "test_acc": float})
    g = long.groupby("n")
    agg = g.agg(test_mse=("test_mse", "mean"), mse_sd=("test_mse", "std"), test_acc=("test_acc", "mean"),
                k=("test_mse", "size")).reset_index()
    agg["mse_stderr"] = agg["mse_sd"].fillna(0.0) / np.sqrt(agg["k"])
    fig, axes = new_figure(2)
    axes = np.ravel(axes)
    axes[0].errorbar(agg["n"], agg["test_mse"], yerr=2 * agg["mse_stderr"], fmt="o-")
    axes[0].set(xlabel="generation n", ylabel="test MSE vs true one-hot",
                title="RBF kernel ridge, MNIST subset")
    axes[1].plot(agg["n"], agg["test_acc"], "o-")
    axes[1].set(xlabel="generation n", ylabel="test accuracy")
    return Analysis(figures={"kernel_error_vs_generations": fig}, tables={"points": agg})


def _check_kernel(r: Results) -> Verdict:
    pts = r.tables["points"].sort_values("n")
    if len(pts) < 3 or pts["k"].min() < 2:
        return Verdict.inconclusive("needs at least 3 generation counts and 2 chains (seeds)")
    rho = float(stats.spearmanr(pts["n"], pts["test_mse"]).statistic)
    first, last = pts.iloc[0], pts.iloc[-1]
    spread = math.hypot(last["mse_stderr"], first["mse_stderr"])
    z = (last["test_mse"] - first["test_mse"]) / max(spread, 1e-12)
    ok = rho >= 0.9 and z > 2
    return Verdict.check(ok, f"test MSE {first['test_mse']:.4f} (n={int(first['n'])}) -> "
                         f"{last['test_mse']:.4f} (n={int(last['n'])}), z={z:.1f}; "
                         f"Spearman rho(n, MSE) = {rho:.3f} "
                         "(rises = rho >= 0.9 and last > first by > 2 s.e.)")


register(Experiment(
    name="demystified/kernel", paper=DEMYSTIFIED,
    description=("Appendix: kernel ridge regression (RBF) on the offline 5,000-image MNIST subset, one-hot "
                 "targets; each generation refits on fresh images labelled by the previous generation plus "
                 "Gaussian noise, and a downstream model fits images labelled by generation n. Test error "
                 "against the true labels rises with n. Full preset: 10 chains, 16 generations."),
    params=KernelParams,
    presets={"smoke": {"pool": 300, "test": 100, "T0": 100, "T": 100, "generations": [0, 1, 2]},
             "quick": {"seeds": 3},
             "full": {"seeds": 10, "T0": 2000, "T": 2000, "generations": [0, 1, 2, 4, 8, 16]}},
    cells=kernel_cells, run_cell=kernel_run_cell, analyze=kernel_analyze,
    claims=[Claim("error-rises", "Test error of kernel ridge rises with the number of generations",
                  _check_kernel)],
))


# ============================================================================ demystified/accumulate


class AccumulateParams(Params):
    spectrum: str = Field("isotropic", pattern="^(isotropic|power_law)$", description="Sigma's spectrum")
    d: int = Field(50, ge=2, description="dimension")
    T0: int = Field(100, ge=1, description="rows per generation (> d + 1)")
    generations: list[int] = Field(list(range(1, 11)), description="generations n")
    sigma0: float = Field(1.0, gt=0, description="label noise of every generation")
    reps: int = Field(400, ge=2, description="Monte Carlo chains per cell")


def accumulate_cells(p: AccumulateParams) -> list[dict]:
    # T = None, lam = 0: the error of generation n itself, as in Gerstgrasser et al.
    return [{"spectrum": p.spectrum, "d": p.d, "T0": p.T0, "T": None, "lam": 0.0, "n": n, "sigma": 0.0,
             "sigma0": p.sigma0, "reps": p.reps, "strategy": s}
            for s in ("replace", "accumulate") for n in p.generations]


def _gerstgrasser_bound(p) -> float:
    return p.sigma0**2 * p.d / (p.T0 - p.d - 1) * math.pi**2 / 6


def accumulate_analyze(frame: pd.DataFrame, p: AccumulateParams) -> Analysis:
    agg = _aggregate(frame, ["strategy", "n"])
    fig, ax = new_figure()
    for c, strat in zip(("C3", "C0"), ("replace", "accumulate")):
        s = agg[agg["strategy"] == strat].sort_values("n")
        ax.errorbar(s["n"], s["error"], yerr=2 * s["stderr"], fmt="o", color=c, ms=4, label=f"MC {strat}")
        ax.plot(s["n"], s["theory"], "--", color=c, label=f"theory {strat}")
    if p.T0 > p.d + 1:
        ax.axhline(_gerstgrasser_bound(p), color="k", ls=":", label="sigma0^2 d/(T0-d-1) pi^2/6")
    ax.set(xlabel="generation n", ylabel="E of generation n",
           title=f"replace vs accumulate, d={p.d}, T0={p.T0}, {p.spectrum}")
    ax.legend()
    return Analysis(figures={"replace_vs_accumulate": fig}, tables={"points": agg})


def _check_accumulate(r: Results) -> Verdict:
    p = r.params
    pts = r.tables["points"]
    rep = pts[pts["strategy"] == "replace"].sort_values("n")
    acc = pts[pts["strategy"] == "accumulate"].sort_values("n")
    if len(rep) < 3 or acc.empty:
        return Verdict.inconclusive("needs at least 3 generations")
    if p.T0 <= p.d + 1:
        return Verdict.inconclusive(f"T0 = {p.T0} <= d + 1: the bound needs T0 > d + 1")
    slope, r2, _ = _linear_fit(rep["n"], rep["error"])
    bound = _gerstgrasser_bound(p)
    acc_max = float(acc["error"].max())
    ok = r2 >= 0.98 and acc_max <= bound
    linear_slope = p.sigma0**2 * p.d / (p.T0 - p.d - 1)
    return Verdict.check(ok, f"replace: R2 = {r2:.4f} (linear = R2 >= 0.98), slope {slope:.4f} "
                         f"(sigma0^2 d/(T0-d-1) = {linear_slope:.4f}); accumulate: max E "
                         f"{acc_max:.4f} over n <= {int(acc['n'].max())} vs bound {bound:.4f}")


register(Experiment(
    name="demystified/accumulate", paper=DEMYSTIFIED,
    description=("Replace against accumulate (Gerstgrasser et al. 2404.01413, notes §5), unregularised "
                 "least squares, fresh designs every generation, error of generation n. Replace grows "
                 "linearly, n sigma0^2 d/(T0-d-1); accumulate stays bounded, exactly "
                 "sigma0^2 d sum_k 1/(k (k T0-d-1)) "
                 "<= sigma0^2 d/(T0-d-1) pi^2/6. Full preset: d = 300, T0 = 600, 30 generations."),
    params=AccumulateParams,
    presets={"smoke": {"d": 10, "T0": 20, "generations": [1, 2, 3], "reps": 20},
             "quick": {},
             "full": {"d": 300, "T0": 600, "generations": list(range(1, 31)), "reps": 2000}},
    cells=accumulate_cells, run_cell=_mc_and_theory, analyze=accumulate_analyze,
    claims=[Claim("replace-linear-accumulate-bounded", "Replace grows linearly in n; accumulate stays below "
                  "sigma^2 d/(T-d-1) * pi^2/6 (here sigma = sigma0, T = T0: every generation's own fit)",
                  _check_accumulate)],
))
